/**
 * The artifact: one file holding everything needed to rebuild a model — what counts under the
 * 16,000,000-byte cap next to the code. Reading verifies the checksum BEFORE decompressing or
 * decoding anything, so an altered or truncated file fails with one line, never a wrong model.
 *
 * File layout (little-endian, no alignment: every byte counts and nothing here needs it):
 *   offset  size  field
 *   0       4     magic "GOLF"
 *   4       2     format version, u16 (ARTIFACT_VERSION)
 *   6       1     outer compression id: 0 none, 1 deflate, 2 brotli, 3 lzma, 4 xz
 *   7       …     the body, compressed as one stream
 *   end−4   4     CRC-32 (IEEE, as zlib/PNG) of bytes [0, end−4), u32
 * Body (before compression):
 *   0       4     manifest length m, u32
 *   4       m     manifest, UTF-8 JSON (field order fixed; keys of `model`/`quant` sorted)
 *   4+m     …     tensor payloads in manifest order, back to back; manifest offsets count
 *                 from here
 *
 * Decisions:
 * - The manifest is compressed together with the payloads: one outer stream, so its JSON keys
 *   cost a few hundred bytes, not kilobytes, and there is only one compressor header.
 * - CRC-32, not a cryptographic hash: it guards against accidents (a flipped byte, a truncated
 *   copy), detecting every burst of ≤ 32 bits and all else with probability 1 − 2^-32; a SHA-256
 *   would cost 28 more bytes under the cap and protects against nothing we face.
 * - Total overhead outside the compressed body: 11 bytes.
 * - Per-tensor payloads: ternary → trit codec bytes (`offset`/`length`) then scales
 *   (`scales_offset`/`scales_length`) as raw fp32/fp16/bf16 bits; float → `f32` 4 bytes,
 *   `f16`/`bf16` 2 bytes, `e4m3` 1 byte per value; `int8_row` → int8 values, scales = one fp16
 *   per row. A tensor of shape [..., cols] is a matrix of prod(shape[:-1]) rows × cols.
 * The same input always gives the same bytes.
 */
import {crc32} from 'node:zlib'

import {InputError} from '../errors.js'
import {
  bf16BitsToF32,
  decodeBf16,
  decodeE4m3,
  decodeF16,
  encodeBf16,
  encodeE4m3,
  encodeF16,
  f16BitsToF32,
  f32ToF16Bits,
  quantizeInt8PerRow,
} from '../quant/float-formats.js'
import {dequantizeTernary as hostDequantize, type GroupSize, type ScaleFormat} from '../quant/ternary-host.js'
import {
  TRIT_CODEC_NAMES,
  type TritCodecName,
  bestTritCodec,
  countTrits,
  decodeTrits,
  encodeTrits,
  isTritCodecName,
  tritEntropyBits,
} from './codecs/index.js'
import {COMPRESS_NAMES, type CompressName, autoCompressCandidates, compress, decompress, isCompressName} from './compress.js'

export const ARTIFACT_MAGIC = 'GOLF'
export const ARTIFACT_VERSION = 1
/** Bytes outside the compressed body: magic, version, compression id, CRC. */
export const ARTIFACT_OVERHEAD = 11

export type {GroupSize, ScaleFormat}
export const FLOAT_DTYPES = ['f32', 'f16', 'bf16', 'e4m3', 'int8_row'] as const
export type FloatDtype = (typeof FLOAT_DTYPES)[number]

export type ArtifactTensorInput =
  | {
      name: string
      shape: number[]
      kind: 'ternary'
      trits: Int8Array
      scales: Float32Array
      scaleFormat: ScaleFormat
      groupSize: GroupSize
      codec: TritCodecName | 'auto'
    }
  | {name: string; shape: number[]; kind: 'float'; data: Float32Array; dtype: FloatDtype}

export interface ArtifactInput {
  model: object
  quant: object
  tensors: ArtifactTensorInput[]
  compress: CompressName | 'auto'
}

export interface ManifestTensor {
  name: string
  shape: number[]
  kind: 'ternary' | 'float'
  codec: TritCodecName | FloatDtype
  scale_format?: ScaleFormat
  group_size?: GroupSize
  offset: number
  length: number
  scales_offset?: number
  scales_length?: number
}

export interface ArtifactManifest {
  format: 'golf-artifact'
  version: number
  model: Record<string, unknown>
  quant: Record<string, unknown>
  tensors: ManifestTensor[]
  compress: CompressName
}

export interface PackReportTensor {
  name: string
  kind: 'ternary' | 'float'
  codec: TritCodecName | FloatDtype
  params: number
  /** Payload + scales, BEFORE outer compression. */
  bytes: number
  bits_per_param: number
  /** Fraction of zero trits (ternary) or of values stored as exactly 0 (float). */
  zero_frac: number
}

export interface PackReport {
  /** Size of the whole file, after outer compression: what counts under the cap. */
  artifact_bytes: number
  /** The trit codec asked for ('auto' or a name); each tensor says which it got. */
  codec: TritCodecName | 'auto'
  /** The outer compression used (the winner when 'auto' was asked for). */
  compress: CompressName
  /** Body before compression: manifest + payloads + 4. */
  body_bytes: number
  manifest_bytes: number
  /** Ternary tensors, BEFORE outer compression: trits + scales. */
  ternary: {params: number; bytes: number; scale_bytes: number; bits_per_param: number; entropy_bits_per_param: number}
  tensors: PackReportTensor[]
}

export interface ReadTensor {
  shape: number[]
  kind: 'ternary' | 'float'
  trits?: Int8Array
  scales?: Float32Array
  /** Dequantized values (ternary: q × d exactly; float: the stored values as float32). */
  data?: Float32Array
}

const COMPRESS_IDS: Record<CompressName, number> = {none: 0, deflate: 1, brotli: 2, lzma: 3, xz: 4}

// --- Shapes, groups, dequantization ----------------------------------------------------------

function count(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1)
}

/** A tensor of shape [..., cols] as a matrix: rows = prod(shape[:-1]) (1 for a scalar). */
function matrix(shape: number[]): [number, number] {
  if (shape.length === 0) return [1, 1]
  const cols = shape[shape.length - 1]
  return [cols === 0 ? 0 : count(shape) / cols, cols]
}

/**
 * How many scales a ternary tensor has and which one element i uses. Same layout as the
 * quantizer (src/quant/ternary-host.ts `groupLayout`, which takes 2-D shapes of positive size only): groups of `groupSize` consecutive elements of one row;
 * 'row' = one group per row; 'tensor' = one group. The group size must divide the row length.
 */
export function scaleGroups(shape: number[], groupSize: GroupSize): {numGroups: number; groupLen: number; groupsPerRow: number} {
  const [rows, cols] = matrix(shape)
  if (groupSize === 'tensor') return {numGroups: 1, groupLen: rows * cols, groupsPerRow: 1}
  if (groupSize === 'row') return {numGroups: rows, groupLen: cols, groupsPerRow: 1}
  if (!Number.isInteger(groupSize) || groupSize < 1) throw new InputError(`group size must be a positive integer, 'row' or 'tensor', got ${String(groupSize)}`)
  if (cols % groupSize !== 0) throw new InputError(`group size ${groupSize} does not divide the row length ${cols} of shape [${shape.join(', ')}]`)
  return {numGroups: rows * (cols / groupSize), groupLen: groupSize, groupsPerRow: cols / groupSize}
}

/**
 * out[i] = trits[i] × scale of i's group, exactly (q ∈ {−1, 0, +1}: no rounding; 0 stays +0):
 * the quantizer's host-side `dequantizeTernary` (src/quant/ternary-host.ts) on the tensor's
 * matrix view, plus the manifest-level cases it does not take (N-D shapes, empty tensors).
 */
export function dequantizeTernary(trits: Int8Array, scales: Float32Array, shape: number[], groupSize: GroupSize): Float32Array {
  const {numGroups} = scaleGroups(shape, groupSize)
  const n = count(shape)
  if (trits.length !== n) throw new InputError(`${trits.length} trits do not fill shape [${shape.join(', ')}]`)
  if (scales.length !== numGroups) throw new InputError(`${scales.length} scales given, shape [${shape.join(', ')}] in groups of ${String(groupSize)} needs ${numGroups}`)
  if (n === 0) return new Float32Array(0)
  return hostDequantize(trits, scales, matrix(shape), groupSize)
}

// --- Writing ---------------------------------------------------------------------------------

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

/** Little-endian bytes of 16-bit words (fp16/bf16 bit patterns). */
export function u16le(values: Uint16Array): Uint8Array {
  const out = new Uint8Array(2 * values.length)
  const view = new DataView(out.buffer)
  for (let i = 0; i < values.length; i++) view.setUint16(2 * i, values[i], true)
  return out
}

function f32le(values: Float32Array): Uint8Array {
  const out = new Uint8Array(4 * values.length)
  const view = new DataView(out.buffer)
  for (let i = 0; i < values.length; i++) view.setFloat32(4 * i, values[i], true)
  return out
}

/** Scales as stored bits; each must be exactly representable in the format. */
function encodeScales(name: string, scales: Float32Array, fmt: ScaleFormat): Uint8Array {
  if (fmt === 'fp32') return f32le(scales)
  const bits = fmt === 'fp16' ? encodeF16(scales) : encodeBf16(scales)
  const back = fmt === 'fp16' ? f16BitsToF32 : bf16BitsToF32
  for (let i = 0; i < scales.length; i++) {
    if (back(bits[i]) !== scales[i]) throw new InputError(`tensor "${name}": scale ${i} (${scales[i]}) is not exactly representable in ${fmt}`)
  }
  return u16le(bits)
}

function checkTensorInput(t: ArtifactTensorInput, seen: Set<string>): void {
  if (typeof t.name !== 'string' || t.name === '') throw new InputError('a tensor has an empty name')
  if (seen.has(t.name)) throw new InputError(`tensor "${t.name}" appears twice`)
  seen.add(t.name)
  if (!Array.isArray(t.shape) || !t.shape.every((d) => Number.isInteger(d) && d >= 0)) {
    throw new InputError(`tensor "${t.name}": shape must be non-negative integers, got ${JSON.stringify(t.shape)}`)
  }
  const n = count(t.shape)
  if (t.kind === 'ternary') {
    if (t.trits.length !== n) throw new InputError(`tensor "${t.name}": ${t.trits.length} trits do not fill shape [${t.shape.join(', ')}]`)
    if (!['fp32', 'fp16', 'bf16'].includes(t.scaleFormat)) throw new InputError(`tensor "${t.name}": unknown scale format "${t.scaleFormat}" (expected fp32, fp16, bf16)`)
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

/** Stored bytes of a float tensor, and the values it will read back as (to count zeros). */
function encodeFloat(t: Extract<ArtifactTensorInput, {kind: 'float'}>): {data: Uint8Array; scales?: Uint8Array; stored: ArrayLike<number>} {
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
      const [rows, cols] = matrix(t.shape)
      const {q, scales} = quantizeInt8PerRow(t.data, rows, cols, 'fp16')
      const bits = new Uint16Array(scales.length)
      for (let i = 0; i < scales.length; i++) bits[i] = f32ToF16Bits(scales[i])
      return {data: new Uint8Array(q.buffer, q.byteOffset, q.length), scales: u16le(bits), stored: q}
    }
  }
}

/** Build the artifact bytes and a report of where the bytes went. */
export function writeArtifact(input: ArtifactInput): {bytes: Uint8Array; report: PackReport} {
  const want = input.compress
  if (want !== 'auto' && !isCompressName(want)) throw new InputError(`unknown compression "${want as string}" (expected one of ${COMPRESS_NAMES.join(', ')}, auto)`)
  for (const [key, value] of [['model', input.model], ['quant', input.quant]] as const) {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new InputError(`artifact ${key} must be a JSON object`)
  }
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
    const n = count(t.shape)
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
  for (const name of want === 'auto' ? autoCompressCandidates(4 + offset) : [want]) {
    const {manifest, body} = build(name)
    const packed = compress(name, body)
    if (chosen === undefined || packed.length < chosen.packed.length) chosen = {compress: name, packed, manifest, body}
  }
  const {packed, manifest, body} = chosen!

  const bytes = new Uint8Array(7 + packed.length + 4)
  const view = new DataView(bytes.buffer)
  bytes.set(new TextEncoder().encode(ARTIFACT_MAGIC), 0)
  view.setUint16(4, ARTIFACT_VERSION, true)
  bytes[6] = COMPRESS_IDS[chosen!.compress]
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

// --- Reading ---------------------------------------------------------------------------------

/**
 * Check magic, version and checksum (in that order, before anything is decompressed) and
 * return the compression and the compressed body. Every failure is one InputError line naming
 * `source`.
 */
export function verifyArtifact(bytes: Uint8Array, source = 'artifact'): {version: number; compress: CompressName; body: Uint8Array} {
  if (bytes.length >= 4 && new TextDecoder().decode(bytes.subarray(0, 4)) !== ARTIFACT_MAGIC) {
    throw new InputError(`${source}: not a golf artifact (bad magic)`)
  }
  if (bytes.length < ARTIFACT_OVERHEAD) throw new InputError(`${source}: checksum mismatch (file altered or truncated)`)
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const version = view.getUint16(4, true)
  if (version !== ARTIFACT_VERSION) throw new InputError(`${source}: unsupported artifact version ${version} (this golf reads version ${ARTIFACT_VERSION})`)
  const stored = view.getUint32(bytes.length - 4, true)
  if (crc32(bytes.subarray(0, bytes.length - 4)) !== stored) throw new InputError(`${source}: checksum mismatch (file altered or truncated)`)
  const id = bytes[6]
  const compress = COMPRESS_NAMES.find((name) => COMPRESS_IDS[name] === id)
  if (compress === undefined) throw new InputError(`${source}: unknown compression id ${id}`)
  return {version, compress, body: bytes.subarray(7, bytes.length - 4)}
}

function corruptManifest(source: string, what: string): InputError {
  return new InputError(`${source}: corrupt manifest: ${what}`)
}

function parseManifest(body: Uint8Array, compress: CompressName, source: string): {manifest: ArtifactManifest; payload: Uint8Array} {
  if (body.length < 4) throw corruptManifest(source, 'body shorter than 4 bytes')
  const m = new DataView(body.buffer, body.byteOffset, body.byteLength).getUint32(0, true)
  if (4 + m > body.length) throw corruptManifest(source, `manifest length ${m} runs past the body`)
  let manifest: ArtifactManifest
  try {
    manifest = JSON.parse(new TextDecoder('utf-8', {fatal: true}).decode(body.subarray(4, 4 + m))) as ArtifactManifest
  } catch (err) {
    throw corruptManifest(source, (err as Error).message)
  }
  if (manifest?.format !== 'golf-artifact') throw corruptManifest(source, 'format is not "golf-artifact"')
  if (manifest.compress !== compress) throw corruptManifest(source, `says compression ${String(manifest.compress)}, header says ${compress}`)
  if (!Array.isArray(manifest.tensors)) throw corruptManifest(source, 'tensors is not a list')
  const payload = body.subarray(4 + m)
  const inside = (name: string, off: unknown, len: unknown): void => {
    if (!Number.isInteger(off) || !Number.isInteger(len) || (off as number) < 0 || (len as number) < 0 || (off as number) + (len as number) > payload.length) {
      throw corruptManifest(source, `tensor "${name}" bytes ${String(off)}+${String(len)} lie outside the ${payload.length}-byte payload`)
    }
  }
  for (const t of manifest.tensors) {
    if (typeof t?.name !== 'string' || !Array.isArray(t.shape) || !t.shape.every((d) => Number.isInteger(d) && d >= 0)) {
      throw corruptManifest(source, `tensor entry ${JSON.stringify(t)?.slice(0, 80)} has no valid name/shape`)
    }
    inside(t.name, t.offset, t.length)
    if (t.scales_offset !== undefined || t.kind === 'ternary' || t.codec === 'int8_row') inside(`${t.name}" scales "`, t.scales_offset, t.scales_length)
  }
  return {manifest, payload}
}

function view16(b: Uint8Array): Uint16Array {
  const out = new Uint16Array(b.length >> 1)
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength)
  for (let i = 0; i < out.length; i++) out[i] = v.getUint16(2 * i, true)
  return out
}

function viewF32(b: Uint8Array): Float32Array {
  const out = new Float32Array(b.length >> 2)
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength)
  for (let i = 0; i < out.length; i++) out[i] = v.getFloat32(4 * i, true)
  return out
}

function decodeScales(b: Uint8Array, fmt: ScaleFormat): Float32Array {
  if (fmt === 'fp32') return viewF32(b)
  return fmt === 'fp16' ? decodeF16(view16(b)) : decodeBf16(view16(b))
}

const BYTES_PER_VALUE: Record<Exclude<FloatDtype, 'int8_row'>, number> = {f32: 4, f16: 2, bf16: 2, e4m3: 1}
const SCALE_BYTES: Record<ScaleFormat, number> = {fp32: 4, fp16: 2, bf16: 2}

/** Checksum first, then the outer decompression: the body holding the manifest and payloads. */
function openBody(bytes: Uint8Array, source: string): {compress: CompressName; body: Uint8Array} {
  const {compress, body: packed} = verifyArtifact(bytes, source)
  try {
    return {compress, body: decompress(compress, packed)}
  } catch (err) {
    throw new InputError(`${source}: ${(err as Error).message}`)
  }
}

/** Verify an artifact and read its manifest only (no tensor is decoded). */
export function readArtifactManifest(bytes: Uint8Array, opts: {source?: string} = {}): {manifest: ArtifactManifest; compress: CompressName; bodyBytes: number} {
  const source = opts.source ?? 'artifact'
  const {compress, body} = openBody(bytes, source)
  return {manifest: parseManifest(body, compress, source).manifest, compress, bodyBytes: body.length}
}

/**
 * Verify and decode an artifact. `source` names the file in error messages. With
 * `dequantize: false`, ternary tensors come back as trits + scales only (no float copy).
 */
export function readArtifact(
  bytes: Uint8Array,
  opts: {source?: string; dequantize?: boolean} = {},
): {manifest: ArtifactManifest; tensors: Map<string, ReadTensor>} {
  const source = opts.source ?? 'artifact'
  const {compress, body} = openBody(bytes, source)
  const {manifest, payload} = parseManifest(body, compress, source)
  const tensors = new Map<string, ReadTensor>()
  const fail = (name: string, what: string): InputError => new InputError(`${source}: tensor "${name}": ${what}`)
  for (const t of manifest.tensors) {
    if (tensors.has(t.name)) throw corruptManifest(source, `tensor "${t.name}" appears twice`)
    const n = count(t.shape)
    const data = payload.subarray(t.offset, t.offset + t.length)
    try {
      if (t.kind === 'ternary') {
        if (!isTritCodecName(t.codec)) throw fail(t.name, `unknown trit codec "${t.codec}"`)
        const fmt = t.scale_format
        if (fmt !== 'fp32' && fmt !== 'fp16' && fmt !== 'bf16') throw fail(t.name, `unknown scale format "${String(fmt)}"`)
        const {numGroups} = scaleGroups(t.shape, t.group_size ?? 'tensor')
        if (t.scales_length !== numGroups * SCALE_BYTES[fmt]) throw fail(t.name, `${t.scales_length} scale bytes, expected ${numGroups * SCALE_BYTES[fmt]}`)
        const trits = decodeTrits(t.codec, data, n)
        const scales = decodeScales(payload.subarray(t.scales_offset!, t.scales_offset! + t.scales_length!), fmt)
        const out: ReadTensor = {shape: t.shape, kind: 'ternary', trits, scales}
        if (opts.dequantize !== false) out.data = dequantizeTernary(trits, scales, t.shape, t.group_size ?? 'tensor')
        tensors.set(t.name, out)
      } else if (t.kind === 'float') {
        let values: Float32Array
        if (t.codec === 'int8_row') {
          const [rows, cols] = matrix(t.shape)
          if (t.length !== n || t.scales_length !== 2 * rows) throw fail(t.name, `int8_row sizes ${t.length}+${String(t.scales_length)}, expected ${n}+${2 * rows}`)
          const q = new Int8Array(data.buffer, data.byteOffset, n)
          const d = decodeF16(view16(payload.subarray(t.scales_offset!, t.scales_offset! + t.scales_length!)))
          values = new Float32Array(n)
          for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) values[r * cols + c] = q[r * cols + c] * d[r]
        } else if (Object.hasOwn(BYTES_PER_VALUE, t.codec)) {
          const dtype = t.codec as keyof typeof BYTES_PER_VALUE
          if (t.length !== n * BYTES_PER_VALUE[dtype]) throw fail(t.name, `${t.length} bytes, ${dtype} × ${n} needs ${n * BYTES_PER_VALUE[dtype]}`)
          values = dtype === 'f32' ? viewF32(data) : dtype === 'e4m3' ? decodeE4m3(data.slice()) : dtype === 'f16' ? decodeF16(view16(data)) : decodeBf16(view16(data))
        } else {
          throw fail(t.name, `unknown float dtype "${t.codec}"`)
        }
        tensors.set(t.name, {shape: t.shape, kind: 'float', data: values})
      } else {
        throw fail(t.name, `unknown kind "${String(t.kind)}"`)
      }
    } catch (err) {
      if (err instanceof InputError && !err.message.startsWith(`${source}:`)) throw fail(t.name, err.message)
      throw err
    }
  }
  return {manifest, tensors}
}

