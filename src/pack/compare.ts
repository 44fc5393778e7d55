/**
 * `golf pack --compare`: the same prepared weights packed every published way and ours, so the
 * table compares encodings, never different quantizations (`comparePacking`); and beside it what
 * other storage formats of the scales and float tensors would save or cost (`compareStorage`).
 */
import {encodeF16, quantizeInt8PerRow, roundScalesE4m3, roundToFormatJs} from '../quant/float-formats.js'
import {dequantizeTernary, type ScaleFormat} from '../quant/ternary-host.js'
import {type ArtifactTensorInput, type FloatDtype, writeArtifact, u16le} from './artifact.js'
import {encodeScales} from './artifact/scales.js'
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
        payload.push(encodeTrits(codec, t.trits), encodeScales(t.name, t.scales, t.scaleFormat))
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

// --- Storage formats -------------------------------------------------------------------------

export interface StorageRow {
  /** 'as trained', or what this row stores differently. */
  variant: string
  scale_format: ScaleFormat | null
  float_dtype: FloatDtype | null
  /** Stored bytes of the ternary scales / the float tensors, before outer compression. */
  scale_bytes: number
  float_bytes: number
  artifact_bytes: number
  /** artifact_bytes − the as-trained artifact's (negative: bytes saved). */
  delta_vs_trained: number
}

/** Scales stored again in `fmt`, rounded from the stored values (host references of the device rounding). */
function reroundScales(scales: Float32Array, fmt: ScaleFormat): Float32Array {
  if (fmt === 'e4m3') return roundScalesE4m3(scales)
  if (fmt === 'fp32') return Float32Array.from(scales)
  const [lo, hi] = fmt === 'fp16' ? [2 ** -14, 65504] : [2 ** -126, (2 - 2 ** -7) * 2 ** 127]
  return Float32Array.from(scales, (d) => roundToFormatJs(Math.min(Math.max(d, lo), hi), fmt))
}

/**
 * `golf pack --compare`'s second table: what the same model would take with its ternary scales
 * or its float tensors stored in another format (fp16/bf16/e4m3 scales; f16/bf16/e4m3_row
 * floats), each packed with the auto codec and `compress`. The other formats are rounded from
 * this model's stored values, so these rows measure bytes only: a run trained with that format
 * simulates it and would have slightly different weights.
 */
export function compareStorage(prepared: PreparedModel, compress: CompressName): StorageRow[] {
  const ternary = prepared.tensors.filter((t) => t.kind === 'ternary')
  const floats = prepared.tensors.filter((t) => t.kind === 'float')
  const trainedScale = ternary[0]?.scaleFormat ?? null
  const trainedFloat = floats[0]?.dtype ?? null
  const pack = (variant: string, tensors: ArtifactTensorInput[]): Omit<StorageRow, 'delta_vs_trained'> => {
    const {bytes, report} = writeArtifact({model: prepared.model, quant: prepared.quant, tensors, compress})
    const floatBytes = report.tensors.filter((r) => r.kind === 'float').reduce((a, r) => a + r.bytes, 0)
    const t = tensors.find((x) => x.kind === 'ternary')
    const f = tensors.find((x) => x.kind === 'float')
    return {variant, scale_format: t?.kind === 'ternary' ? t.scaleFormat : null, float_dtype: f?.kind === 'float' ? f.dtype : null, scale_bytes: report.ternary.scale_bytes, float_bytes: floatBytes, artifact_bytes: bytes.length}
  }
  const rows = [pack('as trained', prepared.tensors)]
  if (trainedScale !== null) {
    for (const fmt of ['fp16', 'bf16', 'e4m3'] as const) {
      if (fmt === trainedScale) continue
      rows.push(pack(`scales ${fmt}`, prepared.tensors.map((t) => (t.kind === 'ternary' ? {...t, scaleFormat: fmt, scales: reroundScales(t.scales, fmt)} : t))))
    }
  }
  if (trainedFloat !== null) {
    for (const dtype of ['f16', 'bf16', 'e4m3_row'] as const) {
      if (dtype === trainedFloat || floats.some((t) => t.kind === 'float' && t.dtype !== trainedFloat)) continue
      rows.push(pack(`floats ${dtype}`, prepared.tensors.map((t) => (t.kind === 'float' ? {...t, dtype} : t))))
    }
  }
  const base = rows[0].artifact_bytes
  return rows.map((r) => ({...r, delta_vs_trained: r.artifact_bytes - base}))
}
