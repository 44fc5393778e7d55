/**
 * `golf pack --compare`: the same prepared weights packed every published way and ours, so the
 * table compares encodings, never different quantizations.
 */
import {encodeBf16, encodeF16, quantizeInt8PerRow} from '../quant/float-formats.js'
import {dequantizeTernary} from '../quant/ternary-host.js'
import {type ArtifactTensorInput, writeArtifact, u16le} from './artifact.js'
import {type TritCodecName, bestTritCodec, encodeTrits} from './codecs/index.js'
import {type CompressName, compress, hasXzBinary} from './compress.js'
import {packPrepared, type PackResult, type PreparedModel} from './pack-model.js'

export interface CompareRow {
  method: string
  codec: TritCodecName | 'auto' | 'int8_row'
  compress: CompressName | 'auto'
  /** The ternary tensors' payload (trits + scales) compressed alone with this method's compressor. */
  ternary_bytes: number | null
  /** The whole artifact packed this way. */
  artifact_bytes: number | null
  /** 8 × ternary_bytes / ternary params. */
  bits_per_param: number | null
  /** artifact_bytes − the smallest artifact_bytes of the table. */
  delta_vs_best: number | null
  /** Why a row has no figures (e.g. the xz program is missing). */
  note?: string
}

interface Method {
  method: string
  codec: TritCodecName | 'auto' | 'int8_row'
  compress: CompressName | 'auto'
}

/**
 * The published packings and ours. "xz" is the xz container at preset 9e (what Python's
 * `lzma.compress` writes); "zlib-9" is DEFLATE level 9 (golf stores it raw: the 6 bytes of zlib
 * header and Adler-32 that `zlib.compress` adds are not counted); int8 per row stores each
 * ternary tensor's q·d as int8 with one fp16 scale per row, as the official baseline does.
 */
export const COMPARE_METHODS: readonly Method[] = [
  {method: 'base-3 + LZMA (xz -9e)', codec: 'base3', compress: 'xz'},
  {method: 'bitmask + LZMA (xz -9e)', codec: 'bitmask', compress: 'xz'},
  {method: '2-bit + zlib-9', codec: '2bit', compress: 'deflate'},
  {method: 'int8 per row + zlib-9', codec: 'int8_row', compress: 'deflate'},
  {method: 'entropy, no outer compression', codec: 'entropy', compress: 'none'},
  {method: 'golf: auto codec + auto compress', codec: 'auto', compress: 'auto'},
]

/** The ternary tensors as `int8_row` float tensors (their q·d). */
function asInt8Rows(tensors: ArtifactTensorInput[]): ArtifactTensorInput[] {
  return tensors.map((t) => {
    if (t.kind !== 'ternary') return t
    const shape = t.shape as [number, number]
    return {name: t.name, shape: t.shape, kind: 'float', dtype: 'int8_row', data: dequantizeTernary(t.trits, t.scales, shape, t.groupSize)}
  })
}

/** Pack `prepared` with every method of COMPARE_METHODS (see there). */
export function comparePacking(prepared: PreparedModel, opts: {methods?: readonly Method[]} = {}): CompareRow[] {
  const ternaryParams = prepared.tensors.reduce((a, t) => a + (t.kind === 'ternary' ? t.trits.length : 0), 0)
  const rows: CompareRow[] = []
  for (const m of opts.methods ?? COMPARE_METHODS) {
    const row: CompareRow = {...m, ternary_bytes: null, artifact_bytes: null, bits_per_param: null, delta_vs_best: null}
    if (m.compress === 'xz' && !hasXzBinary()) {
      row.note = 'the xz program is not installed'
      rows.push(row)
      continue
    }
    let packed: PackResult
    let payload: Uint8Array[]
    if (m.codec === 'int8_row') {
      const tensors = asInt8Rows(prepared.tensors)
      const {bytes} = writeArtifact({model: prepared.model, quant: {...prepared.quant, compare: 'int8_row'}, tensors, compress: m.compress})
      packed = {bytes} as PackResult
      payload = []
      for (const t of tensors) {
        if (t.kind !== 'float' || t.dtype !== 'int8_row' || !prepared.tensors.some((p) => p.name === t.name && p.kind === 'ternary')) continue
        const [rows_, cols] = [t.shape[0], t.shape[1]]
        const {q, scales} = quantizeInt8PerRow(t.data, rows_, cols, 'fp16')
        payload.push(new Uint8Array(q.buffer, q.byteOffset, q.length), u16le(encodeF16(scales)))
      }
    } else {
      packed = packPrepared(prepared, {codec: m.codec, compress: m.compress})
      payload = []
      for (const t of prepared.tensors) {
        if (t.kind !== 'ternary') continue
        const codec = m.codec === 'auto' ? bestTritCodec(t.trits).codec : m.codec
        payload.push(encodeTrits(codec, t.trits), t.scaleFormat === 'fp32' ? new Uint8Array(Float32Array.from(t.scales).buffer) : u16le(t.scaleFormat === 'fp16' ? encodeF16(t.scales) : encodeBf16(t.scales)))
      }
      if (m.compress === 'auto') row.compress = packed.report.compress
    }
    const joined = Buffer.concat(payload)
    const name: CompressName = row.compress === 'auto' ? 'none' : row.compress
    row.ternary_bytes = ternaryParams === 0 ? 0 : compress(name, joined).length
    row.artifact_bytes = packed.bytes.length
    row.bits_per_param = ternaryParams === 0 ? 0 : (8 * row.ternary_bytes) / ternaryParams
    rows.push(row)
  }
  const best = Math.min(...rows.map((r) => r.artifact_bytes ?? Infinity))
  for (const r of rows) if (r.artifact_bytes !== null) r.delta_vs_best = r.artifact_bytes - best
  return rows
}
