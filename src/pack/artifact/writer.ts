/**
 * Writing artifacts: tensors in, the exact bytes of the file out (see format.ts for the layout),
 * with a report of where the bytes went. Deterministic: the same input always gives the same bytes.
 */
import {crc32} from 'node:zlib'

import {InputError} from '../../errors.js'
import {decodeBf16, decodeE4m3, decodeF16, dequantizeFp8PerRow, encodeBf16, encodeE4m3, encodeF16, f32ToF16Bits, quantizeFp8PerRow, quantizeInt8PerRow} from '../../quant/float-formats.js'
import {SCALE_FORMATS} from '../../quant/ternary-host.js'
import {
  TRIT_CODEC_NAMES,
  type TritCodecName,
  bestTritCodec,
  countTrits,
  encodeTrits,
  isTritCodecName,
  tritEntropyBits,
} from '../codecs/index.js'
import {COMPRESS_NAMES, type CompressName, autoCompressCandidates, compress, isCompressName} from '../compress.js'
import {
  ARTIFACT_MAGIC,
  ARTIFACT_VERSION,
  type ArtifactInput,
  type ArtifactManifest,
  type ArtifactTensorInput,
  COMPRESS_IDS,
  COMPRESS_ID_OFFSET,
  FLOAT_DTYPES,
  MAX_RANK,
  type ManifestTensor,
  type PackReport,
  type PackReportTensor,
  elementCount,
  f32le,
  matrixOf,
  u16le,
} from './format.js'
import {encodeScales, scaleGroups} from './scales.js'
import {DEFAULT_ARTIFACT_LIMITS} from './limits.js'

/** JSON with object keys sorted at every level: the same value always gives the same text. */
export function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical)
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {}
    for (const key of Object.keys(value).sort()) out[key] = canonical((value as Record<string, unknown>)[key])
    return out
  }
  return value
}

function checkTensorInput(t: ArtifactTensorInput, seen: Set<string>): void {
  if (typeof t.name !== 'string' || t.name === '') throw new InputError('a tensor has an empty name')
  if (seen.has(t.name)) throw new InputError(`tensor "${t.name}" appears twice`)
  seen.add(t.name)
  if (!Array.isArray(t.shape) || !t.shape.every((d) => Number.isInteger(d) && d >= 0)) {
    throw new InputError(`tensor "${t.name}": shape must be non-negative integers, got ${JSON.stringify(t.shape)}`)
  }
  // The reader refuses more (manifest.ts); writing what cannot be read back helps no one.
  if (t.shape.length > MAX_RANK) throw new InputError(`tensor "${t.name}": shape has ${t.shape.length} dimensions, at most ${MAX_RANK} are supported`)
  const n = elementCount(t.shape)
  if (t.kind === 'ternary') {
    if (t.trits.length !== n) throw new InputError(`tensor "${t.name}": ${t.trits.length} trits do not fill shape [${t.shape.join(', ')}]`)
    if (!SCALE_FORMATS.includes(t.scaleFormat)) throw new InputError(`tensor "${t.name}": unknown scale format "${t.scaleFormat}" (expected ${SCALE_FORMATS.join(', ')})`)
    if (t.codec !== 'auto' && !isTritCodecName(t.codec)) throw new InputError(`tensor "${t.name}": unknown trit codec "${t.codec}" (expected one of ${TRIT_CODEC_NAMES.join(', ')}, auto)`)
    const {numGroups} = scaleGroups(t.shape, t.groupSize)
    if (t.scales.length !== numGroups) throw new InputError(`tensor "${t.name}": ${t.scales.length} scales given, groups of ${String(t.groupSize)} need ${numGroups}`)
  } else if (t.kind === 'float') {
    if (t.data.length !== n) throw new InputError(`tensor "${t.name}": ${t.data.length} values do not fill shape [${t.shape.join(', ')}]`)
    if (!(FLOAT_DTYPES as readonly string[]).includes(t.dtype)) throw new InputError(`tensor "${t.name}": unknown dtype "${t.dtype}" (expected one of ${FLOAT_DTYPES.join(', ')})`)
  } else {
    throw new InputError(`tensor "${(t as {name: string}).name}": kind must be ternary or float`)
  }
}

/** Stored bytes of a float tensor (its scales too, for the row-scaled dtypes), and the values it will read back as. */
export function encodeFloat(t: Extract<ArtifactTensorInput, {kind: 'float'}>): {data: Uint8Array; scales?: Uint8Array; stored: ArrayLike<number>} {
  switch (t.dtype) {
    case 'f32':
      return {data: f32le(t.data), stored: t.data}
    case 'f16': {
      const bits = encodeF16(t.data)
      return {data: u16le(bits), stored: decodeF16(bits)}
    }
    case 'bf16': {
      const bits = encodeBf16(t.data)
      return {data: u16le(bits), stored: decodeBf16(bits)}
    }
    case 'e4m3': {
      const bits = encodeE4m3(t.data)
      return {data: bits, stored: decodeE4m3(bits)}
    }
    case 'int8_row': {
      const [rows, cols] = matrixOf(t.shape)
      const {q, scales} = quantizeInt8PerRow(t.data, rows, cols, 'fp16')
      const bits = new Uint16Array(scales.length)
      for (let i = 0; i < scales.length; i++) bits[i] = f32ToF16Bits(scales[i])
      return {data: new Uint8Array(q.buffer, q.byteOffset, q.length), scales: u16le(bits), stored: q}
    }
    case 'e4m3_row':
    case 'e5m2_row': {
      const fmt = t.dtype === 'e4m3_row' ? 'e4m3' : 'e5m2'
      const [rows, cols] = matrixOf(t.shape)
      const {codes, scales} = quantizeFp8PerRow(t.data, rows, cols, fmt)
      return {data: codes, scales: u16le(encodeF16(scales)), stored: dequantizeFp8PerRow(codes, scales, rows, cols, fmt)}
    }
  }
}

/** Build the artifact bytes and a report of where the bytes went. */
/**
 * Refuse to write what the reader (with its default limits, as the counted code reads) would
 * refuse to decode: a tensor over maxTensorElements, or all of them over maxTotalElements.
 */
function checkReadable(tensors: ArtifactInput['tensors']): void {
  const {maxTensorElements, maxTotalElements} = DEFAULT_ARTIFACT_LIMITS
  let total = 0
  for (const t of tensors) {
    const n = elementCount(t.shape)
    if (n > maxTensorElements) throw new InputError(`tensor ${t.name} has ${n.toLocaleString('en-US')} elements: an artifact reader accepts at most ${maxTensorElements.toLocaleString('en-US')} per tensor`)
    total += n
  }
  if (total > maxTotalElements) throw new InputError(`the tensors have ${total.toLocaleString('en-US')} elements together: an artifact reader accepts at most ${maxTotalElements.toLocaleString('en-US')}`)
}

export function writeArtifact(input: ArtifactInput): {bytes: Uint8Array; report: PackReport} {
  const want = input.compress
  if (want !== 'auto' && !isCompressName(want)) throw new InputError(`unknown compression "${want as string}" (expected one of ${COMPRESS_NAMES.join(', ')}, auto)`)
  for (const [key, value] of [['model', input.model], ['quant', input.quant]] as const) {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new InputError(`artifact ${key} must be a JSON object`)
  }
  checkReadable(input.tensors)
  const seen = new Set<string>()
  for (const t of input.tensors) checkTensorInput(t, seen)

  const chunks: Uint8Array[] = []
  let offset = 0
  const push = (b: Uint8Array): number => {
    chunks.push(b)
    const at = offset
    offset += b.length
    return at
  }
  const entries: ManifestTensor[] = []
  const rows: PackReportTensor[] = []
  const tern = {params: 0, bytes: 0, scale_bytes: 0, entropyBits: 0}
  const codecsAsked = new Set<string>()

  for (const t of input.tensors) {
    const n = elementCount(t.shape)
    if (t.kind === 'ternary') {
      codecsAsked.add(t.codec)
      const counts = countTrits(t.trits)
      const coded = t.codec === 'auto' ? bestTritCodec(t.trits) : {codec: t.codec, bytes: encodeTrits(t.codec, t.trits)}
      const scales = encodeScales(t.name, t.scales, t.scaleFormat)
      const at = push(coded.bytes)
      const scalesAt = push(scales)
      entries.push({
        name: t.name,
        shape: [...t.shape],
        kind: 'ternary',
        codec: coded.codec,
        scale_format: t.scaleFormat,
        group_size: t.groupSize,
        offset: at,
        length: coded.bytes.length,
        scales_offset: scalesAt,
        scales_length: scales.length,
      })
      const bytes = coded.bytes.length + scales.length
      rows.push({name: t.name, kind: 'ternary', codec: coded.codec, params: n, bytes, bits_per_param: n === 0 ? 0 : (8 * bytes) / n, zero_frac: n === 0 ? 0 : counts.zero / n})
      tern.params += n
      tern.bytes += bytes
      tern.scale_bytes += scales.length
      tern.entropyBits += n * tritEntropyBits(counts)
    } else {
      const enc = encodeFloat(t)
      const at = push(enc.data)
      const entry: ManifestTensor = {name: t.name, shape: [...t.shape], kind: 'float', codec: t.dtype, offset: at, length: enc.data.length}
      if (enc.scales) {
        entry.scales_offset = push(enc.scales)
        entry.scales_length = enc.scales.length
      }
      entries.push(entry)
      let zeros = 0
      for (let i = 0; i < enc.stored.length; i++) if (enc.stored[i] === 0) zeros++
      const bytes = enc.data.length + (enc.scales?.length ?? 0)
      rows.push({name: t.name, kind: 'float', codec: t.dtype, params: n, bytes, bits_per_param: n === 0 ? 0 : (8 * bytes) / n, zero_frac: n === 0 ? 0 : zeros / n})
    }
  }

  const build = (name: CompressName): {manifest: Uint8Array; body: Uint8Array} => {
    const manifest: ArtifactManifest = {
      format: 'golf-artifact',
      version: ARTIFACT_VERSION,
      model: canonical(input.model) as Record<string, unknown>,
      quant: canonical(input.quant) as Record<string, unknown>,
      tensors: entries,
      compress: name,
    }
    const json = new TextEncoder().encode(JSON.stringify(manifest))
    const body = new Uint8Array(4 + json.length + offset)
    new DataView(body.buffer).setUint32(0, json.length, true)
    body.set(json, 4)
    let p = 4 + json.length
    for (const c of chunks) {
      body.set(c, p)
      p += c.length
    }
    return {manifest: json, body}
  }

  // The manifest names the compression, so each candidate compresses its own body.
  let chosen: {compress: CompressName; packed: Uint8Array; manifest: Uint8Array; body: Uint8Array} | undefined
  const candidates = want === 'auto' ? autoCompressCandidates(4 + offset).filter((n) => !input.autoAmong || input.autoAmong.includes(n)) : [want]
  if (candidates.length === 0) throw new InputError(`compression auto among ${(input.autoAmong ?? []).join(', ') || 'nothing'}: none of them is available for a body of ${4 + offset} bytes`)
  for (const name of candidates) {
    const {manifest, body} = build(name)
    const packed = compress(name, body)
    if (chosen === undefined || packed.length < chosen.packed.length) chosen = {compress: name, packed, manifest, body}
  }
  const {packed, manifest, body} = chosen!

  const bytes = new Uint8Array(7 + packed.length + 4)
  const view = new DataView(bytes.buffer)
  bytes.set(new TextEncoder().encode(ARTIFACT_MAGIC), 0)
  view.setUint16(4, ARTIFACT_VERSION, true)
  bytes[COMPRESS_ID_OFFSET] = COMPRESS_IDS[chosen!.compress]
  bytes.set(packed, 7)
  view.setUint32(bytes.length - 4, crc32(bytes.subarray(0, bytes.length - 4)), true)

  const codec = codecsAsked.size === 1 ? ([...codecsAsked][0] as TritCodecName | 'auto') : 'auto'
  const report: PackReport = {
    artifact_bytes: bytes.length,
    codec,
    compress: chosen!.compress,
    body_bytes: body.length,
    manifest_bytes: manifest.length,
    ternary: {
      params: tern.params,
      bytes: tern.bytes,
      scale_bytes: tern.scale_bytes,
      bits_per_param: tern.params === 0 ? 0 : (8 * tern.bytes) / tern.params,
      entropy_bits_per_param: tern.params === 0 ? 0 : tern.entropyBits / tern.params,
    },
    tensors: rows,
  }
  return {bytes, report}
}
