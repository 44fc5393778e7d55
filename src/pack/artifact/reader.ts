/**
 * Reading artifacts, bounded: the checksum first, then the outer decompression with an output
 * cap, then the manifest checked against the body and the limits (limits.ts), and only then the
 * tensors, each decoder told how many elements it may produce. A file that passes none of these
 * is refused with one InputError line naming it; nothing of a size taken from the file is
 * allocated before that size has been checked.
 */
import {crc32} from 'node:zlib'

import {InputError} from '../../errors.js'
import {oneLine, readInputFile} from '../../io/read.js'
import {decodeBf16, decodeE4m3, decodeF16, dequantizeFp8PerRow} from '../../quant/float-formats.js'
import {SCALE_FORMATS, scaleBytesOf} from '../../quant/ternary-host.js'
import {decodeTrits, isTritCodecName} from '../codecs/index.js'
import {type CompressName, DecompressedTooLargeError, decompress} from '../compress.js'
import {
  ARTIFACT_MAGIC,
  ARTIFACT_OVERHEAD,
  ARTIFACT_VERSION,
  type ArtifactManifest,
  BYTES_PER_VALUE,
  type ReadTensor,
  compressionOfId,
  elementCount,
  matrixOf,
  readF32le,
  readU16le,
  COMPRESS_ID_OFFSET,
} from './format.js'
import {type ArtifactLimits, bodyCap, DEFAULT_ARTIFACT_LIMITS, describeBodyCap, resolveArtifactLimits} from './limits.js'
import {parseManifest, quoteName} from './manifest.js'
import {decodeScales, dequantizeTernary, scaleGroups} from './scales.js'

export interface ReadArtifactOptions {
  /** Names the file in error messages (default 'artifact'). */
  source?: string
  /** Limits on what the file may make the reader allocate; unset keys keep DEFAULT_ARTIFACT_LIMITS. */
  limits?: Partial<ArtifactLimits>
}

/**
 * Read an artifact file a user named, refusing in one line naming it anything but a regular file
 * (a FIFO, /dev/zero) and a file larger than any artifact can be: the decompressed body may be at
 * most maxBodyBytes, so no valid artifact file is larger.
 */
export function readArtifactFile(path: string): Uint8Array {
  return new Uint8Array(readInputFile(path, 'artifact', {maxBytes: DEFAULT_ARTIFACT_LIMITS.maxBodyBytes}))
}

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
  const id = bytes[COMPRESS_ID_OFFSET]
  const compress = compressionOfId(id)
  if (compress === undefined) throw new InputError(`${source}: unknown compression id ${id}`)
  return {version, compress, body: bytes.subarray(COMPRESS_ID_OFFSET + 1, bytes.length - 4)}
}

/** Checksum first, then the outer decompression, capped (limits.ts): the manifest and payloads. */
function openBody(bytes: Uint8Array, source: string, limits: ArtifactLimits): {compress: CompressName; body: Uint8Array} {
  const {compress, body: packed} = verifyArtifact(bytes, source)
  const cap = bodyCap(packed.length, limits)
  try {
    return {compress, body: decompress(compress, packed, {maxBytes: cap})}
  } catch (err) {
    if (err instanceof DecompressedTooLargeError) {
      // LZMA-JS has a lower ceiling of its own (compress.ts); say which cap was hit.
      const why = err.cap < cap ? `cap: the lzma decoder's ${err.cap}` : describeBodyCap(packed.length, limits)
      const declared = err.declared === undefined ? '' : ` (its header declares ${err.declared})`
      throw new InputError(`${source}: body decompresses to more than ${err.cap} bytes${declared} (${why})`)
    }
    throw new InputError(`${source}: ${(err as Error).message}`)
  }
}

/** Verify an artifact and read its manifest only (no tensor is decoded). */
export function readArtifactManifest(bytes: Uint8Array, opts: ReadArtifactOptions = {}): {manifest: ArtifactManifest; compress: CompressName; bodyBytes: number} {
  const source = opts.source ?? 'artifact'
  const limits = resolveArtifactLimits(opts.limits)
  const {compress, body} = openBody(bytes, source, limits)
  return {manifest: parseManifest(body, compress, source, limits).manifest, compress, bodyBytes: body.length}
}

/**
 * Verify and decode an artifact. `source` names the file in error messages. With
 * `dequantize: false`, ternary tensors come back as trits + scales only (no float copy).
 * `checkManifest` runs on the checked manifest before any tensor is decoded (a caller's own
 * checks, e.g. the tensor table against the model config, refuse the file before its tensors
 * are allocated). Also returns the compression and the decompressed body size (what
 * `golf inspect` shows).
 */
export function readArtifact(
  bytes: Uint8Array,
  opts: ReadArtifactOptions & {dequantize?: boolean; checkManifest?: (manifest: ArtifactManifest) => void} = {},
): {manifest: ArtifactManifest; tensors: Map<string, ReadTensor>; compress: CompressName; bodyBytes: number} {
  const source = opts.source ?? 'artifact'
  const limits = resolveArtifactLimits(opts.limits)
  const {compress, body} = openBody(bytes, source, limits)
  const {manifest, payload} = parseManifest(body, compress, source, limits)
  opts.checkManifest?.(manifest)
  const tensors = new Map<string, ReadTensor>()
  for (const t of manifest.tensors) {
    // oneLine: field values end up in messages (a group size of "\n" must not break the line).
    const fail = (what: string): InputError => new InputError(`${source}: tensor ${quoteName(t.name)}: ${oneLine(what)}`)
    // parseManifest checked: n ≤ maxTensorElements, the total ≤ maxTotalElements, and every
    // offset/length (data and scales) inside the payload.
    const n = elementCount(t.shape)
    const data = payload.subarray(t.offset, t.offset + t.length)
    const scaleBytes = (): Uint8Array => payload.subarray(t.scales_offset!, t.scales_offset! + t.scales_length!)
    try {
      if (t.kind === 'ternary') {
        if (!isTritCodecName(t.codec)) throw fail(`unknown trit codec ${quoteName(String(t.codec))}`)
        const fmt = t.scale_format
        if (fmt === undefined || !SCALE_FORMATS.includes(fmt)) throw fail(`unknown scale format ${quoteName(String(fmt))}`)
        const groupSize = t.group_size ?? 'tensor'
        const {numGroups} = scaleGroups(t.shape, groupSize)
        if (t.scales_length !== scaleBytesOf(fmt, numGroups)) throw fail(`${t.scales_length} scale bytes, expected ${scaleBytesOf(fmt, numGroups)}`)
        // The codec checks the byte count against n (base3/2bit exactly, bitmask at least) and
        // n against the cap before it allocates; the entropy coder has only the cap.
        const trits = decodeTrits(t.codec, data, n, {maxTrits: limits.maxTensorElements})
        const scales = decodeScales(scaleBytes(), fmt)
        const out: ReadTensor = {shape: t.shape, kind: 'ternary', trits, scales}
        if (opts.dequantize !== false) out.data = dequantizeTernary(trits, scales, t.shape, groupSize)
        tensors.set(t.name, out)
      } else if (t.kind === 'float') {
        let values: Float32Array
        if (t.codec === 'int8_row') {
          const [rows, cols] = matrixOf(t.shape)
          if (t.length !== n || t.scales_length !== 2 * rows) throw fail(`int8_row sizes ${t.length}+${String(t.scales_length)}, expected ${n}+${2 * rows}`)
          const q = new Int8Array(data.buffer, data.byteOffset, n)
          const d = decodeF16(readU16le(scaleBytes()))
          values = new Float32Array(n)
          for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) values[r * cols + c] = q[r * cols + c] * d[r]
        } else if (t.codec === 'e4m3_row' || t.codec === 'e5m2_row') {
          const [rows, cols] = matrixOf(t.shape)
          if (t.length !== n || t.scales_length !== 2 * rows) throw fail(`${t.codec} sizes ${t.length}+${String(t.scales_length)}, expected ${n}+${2 * rows}`)
          values = dequantizeFp8PerRow(data, decodeF16(readU16le(scaleBytes())), rows, cols, t.codec === 'e4m3_row' ? 'e4m3' : 'e5m2')
        } else if (typeof t.codec === 'string' && Object.hasOwn(BYTES_PER_VALUE, t.codec)) {
          const dtype = t.codec as keyof typeof BYTES_PER_VALUE
          if (t.length !== n * BYTES_PER_VALUE[dtype]) throw fail(`${t.length} bytes, ${dtype} × ${n} needs ${n * BYTES_PER_VALUE[dtype]}`)
          values = dtype === 'f32' ? readF32le(data) : dtype === 'e4m3' ? decodeE4m3(data.slice()) : dtype === 'f16' ? decodeF16(readU16le(data)) : decodeBf16(readU16le(data))
        } else {
          throw fail(`unknown float dtype ${quoteName(String(t.codec))}`)
        }
        tensors.set(t.name, {shape: t.shape, kind: 'float', data: values})
      } else {
        throw fail(`unknown kind ${quoteName(String(t.kind))}`)
      }
    } catch (err) {
      if (err instanceof InputError && !err.message.startsWith(`${source}:`)) throw fail(err.message)
      throw err
    }
  }
  return {manifest, tensors, compress, bodyBytes: body.length}
}

