/**
 * The artifact format: layout, constants and types shared by the writer and the reader.
 *
 * The artifact is one file holding everything needed to rebuild a model — what counts under the
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
 *   would cost 28 more bytes under the cap and protects against nothing we face. It does NOT
 *   guard against intent: anyone can write a file with a valid CRC, which is why the reader
 *   bounds every size it takes from the file (see limits.ts).
 * - Total overhead outside the compressed body: 11 bytes.
 * - Per-tensor payloads, exactly (n = element count; a tensor of shape [..., cols] is a matrix of
 *   rows = prod(shape[:-1]) × cols, a scalar 1 × 1, so a 1-D tensor is one row; G = groups):
 *     ternary     trit codec bytes (`offset`/`length`), then the scales (`scales_offset`/
 *                 `scales_length`), one per group in row-major group order, as `scale_format`:
 *                   fp32       4·G bytes, float32 LE
 *                   fp16/bf16  2·G bytes, the 16-bit patterns LE
 *                   e4m3       1 + G bytes: byte 0 = the tensor's base as e8m0, b (P =
 *                              2^(b − 127); 255, e8m0's NaN, is refused), then G fp8 e4m3fn
 *                              codes; scale g = e4m3(code_g) · P, exact in float32
 *     float       `codec` names the dtype:
 *                   f32 4·n bytes LE; f16/bf16 2·n bytes LE; e4m3 n bytes (fp8 e4m3fn, no scale)
 *                   int8_row   n int8 values, then scales = rows fp16 (2·rows bytes LE):
 *                              value = q · d_row
 *                   e4m3_row,  n fp8 codes (e4m3fn / e5m2, row-major), then scales = rows fp16
 *                   e5m2_row   (2·rows bytes LE): value = fp8(code) · s_row, exact in float32
 *                              (src/quant/float-formats.ts `quantizeFp8PerRow`)
 * The same input always gives the same bytes.
 */
import type {FloatStoreFormat} from '../../quant/float-formats.js'
import type {GroupSize, ScaleFormat} from '../../quant/ternary-host.js'
import type {TritCodecName} from '../codecs/index.js'
import {COMPRESS_NAMES, type CompressName} from '../compress.js'

export const ARTIFACT_MAGIC = 'GOLF'
export const ARTIFACT_VERSION = 1
/** Bytes outside the compressed body: magic, version, compression id, CRC. */
export const ARTIFACT_OVERHEAD = 11
/** Most dimensions a tensor shape may have (no model golf writes goes past 4). */
export const MAX_RANK = 32

export type {GroupSize, ScaleFormat}
export const FLOAT_DTYPES = ['f32', 'f16', 'bf16', 'e4m3', 'int8_row', 'e4m3_row', 'e5m2_row'] as const
export type FloatDtype = (typeof FLOAT_DTYPES)[number]
/** Float dtypes that store one fp16 scale per row beside the values. */
export const ROW_SCALED_DTYPES = ['int8_row', 'e4m3_row', 'e5m2_row'] as const
export type RowScaledDtype = (typeof ROW_SCALED_DTYPES)[number]

export function isRowScaledDtype(d: unknown): d is RowScaledDtype {
  return (ROW_SCALED_DTYPES as readonly unknown[]).includes(d)
}

/** The dtype a golf run's float tensors are stored as, for each `quant.float_format`. */
export const FLOAT_DTYPE_OF_FORMAT: Record<FloatStoreFormat, FloatDtype> = {fp32: 'f32', fp16: 'f16', bf16: 'bf16', e4m3: 'e4m3_row', e5m2: 'e5m2_row'}

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
  /** What `auto` may choose among (default: every outer compression it tries). */
  autoAmong?: readonly CompressName[]
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

/** Offset of the header byte that names the outer compression (see the layout above). */
export const COMPRESS_ID_OFFSET = 6

/** The outer compression an artifact's header names, or undefined (not an artifact, unknown id); no checksum check. */
export function artifactCompression(bytes: Uint8Array): CompressName | undefined {
  if (bytes.length <= COMPRESS_ID_OFFSET || new TextDecoder().decode(bytes.subarray(0, 4)) !== ARTIFACT_MAGIC) return undefined
  return compressionOfId(bytes[COMPRESS_ID_OFFSET])
}

/** Header byte COMPRESS_ID_OFFSET for each outer compression. */
export const COMPRESS_IDS: Record<CompressName, number> = {none: 0, deflate: 1, brotli: 2, lzma: 3, xz: 4}

/** The compression a header id stands for, or undefined. */
export function compressionOfId(id: number): CompressName | undefined {
  return COMPRESS_NAMES.find((name) => COMPRESS_IDS[name] === id)
}

/** Bytes per stored value of the fixed-width float dtypes (row-scaled ones: 1 per value + 2 per row). */
export const BYTES_PER_VALUE: Record<Exclude<FloatDtype, RowScaledDtype>, number> = {f32: 4, f16: 2, bf16: 2, e4m3: 1}

// --- Shapes ----------------------------------------------------------------------------------

/** Number of elements of a shape (1 for a scalar). */
export function elementCount(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1)
}

/** A tensor of shape [..., cols] as a matrix: rows = prod(shape[:-1]) (1 for a scalar). */
export function matrixOf(shape: number[]): [number, number] {
  if (shape.length === 0) return [1, 1]
  const cols = shape[shape.length - 1]
  return [cols === 0 ? 0 : elementCount(shape) / cols, cols]
}

// --- Little-endian words ---------------------------------------------------------------------

/** Little-endian bytes of 16-bit words (fp16/bf16 bit patterns). */
export function u16le(values: Uint16Array): Uint8Array {
  const out = new Uint8Array(2 * values.length)
  const view = new DataView(out.buffer)
  for (let i = 0; i < values.length; i++) view.setUint16(2 * i, values[i], true)
  return out
}

/** Little-endian bytes of float32 values. */
export function f32le(values: Float32Array): Uint8Array {
  const out = new Uint8Array(4 * values.length)
  const view = new DataView(out.buffer)
  for (let i = 0; i < values.length; i++) view.setFloat32(4 * i, values[i], true)
  return out
}

/** 16-bit words from little-endian bytes (an odd last byte is ignored). */
export function readU16le(b: Uint8Array): Uint16Array {
  const out = new Uint16Array(b.length >> 1)
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength)
  for (let i = 0; i < out.length; i++) out[i] = v.getUint16(2 * i, true)
  return out
}

/** float32 values from little-endian bytes (a partial last word is ignored). */
export function readF32le(b: Uint8Array): Float32Array {
  const out = new Float32Array(b.length >> 2)
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength)
  for (let i = 0; i < out.length; i++) out[i] = v.getFloat32(4 * i, true)
  return out
}
