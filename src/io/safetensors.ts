/**
 * The safetensors format (Hugging Face), read and written byte-compatibly with the reference
 * implementation that `safetensors.torch.save_file` uses:
 *
 *   bytes 0..8      N, the header length, u64 little-endian
 *   bytes 8..8+N    UTF-8 JSON: {"__metadata__": {str: str}, "<name>": {"dtype": "F32",
 *                   "shape": [2, 3], "data_offsets": [begin, end]}, ...}, padded with spaces
 *                   (0x20) to a multiple of 8 so the data starts 8-byte aligned
 *   bytes 8+N..     the tensors' data, little-endian, row-major, back to back; offsets are
 *                   relative to the start of this region
 *
 * Writer (deterministic, as the reference): tensors ordered by dtype alignment, largest first
 * (I64, F64, F32, I32, BF16, F16, I8, U8 — the reference's dtype order), then by name
 * (bytewise); compact JSON with `__metadata__` first (its keys sorted), then the tensors in data
 * order, each as {"dtype","shape","data_offsets"}; the file is written atomically.
 *
 * Reader: validates the header length, the JSON, every dtype, shape and offset (each tensor's
 * bytes = elements × dtype size, the tensors tile the data region exactly: no gap, no overlap,
 * nothing out of range or left over) and reports problems as InputError naming the file.
 * Every check runs before any tensor is copied, and each tensor's size is checked against the
 * bytes the file actually has, so the reader never allocates more than the file's own size (plus
 * a header of at most 100 MB, as the reference); the file read itself is bounded by Node's 2 GiB.
 * F16/BF16 data is returned as raw bits (Uint16Array), F8_E4M3 as raw bytes; `toFloat32`
 * converts any tensor to Float32Array.
 */

import {InputError} from '../errors.js'
import {writeFileAtomicSync} from './atomic.js'
import {oneLine, readInputFile} from './read.js'
import {bf16BitsToF32, e4m3BitsToF32, f16BitsToF32} from '../quant/float-formats.js'

export type SafetensorsDtype =
  | 'BOOL' | 'U8' | 'I8' | 'F8_E4M3' | 'I16' | 'U16' | 'F16' | 'BF16' | 'I32' | 'U32' | 'F32' | 'F64' | 'I64' | 'U64'

export type SafetensorsData =
  | Uint8Array
  | Int8Array
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array
  | Float32Array
  | Float64Array
  | BigInt64Array
  | BigUint64Array

export interface SafeTensor {
  dtype: SafetensorsDtype
  shape: number[]
  /** F16/BF16: raw bits (Uint16Array); F8_E4M3 and BOOL: raw bytes (Uint8Array). */
  data: SafetensorsData
}

export interface SafetensorsFile {
  tensors: Map<string, SafeTensor>
  metadata: Record<string, string>
}

interface DtypeInfo {
  size: number
  /** Position in the reference implementation's dtype order (higher = written first). */
  rank: number
  make: (buf: ArrayBuffer) => SafetensorsData
  is: (d: SafetensorsData) => boolean
}

const DTYPES: Record<SafetensorsDtype, DtypeInfo> = {
  BOOL: {size: 1, rank: 0, make: (b) => new Uint8Array(b), is: (d) => d instanceof Uint8Array},
  U8: {size: 1, rank: 1, make: (b) => new Uint8Array(b), is: (d) => d instanceof Uint8Array},
  I8: {size: 1, rank: 2, make: (b) => new Int8Array(b), is: (d) => d instanceof Int8Array},
  F8_E4M3: {size: 1, rank: 4, make: (b) => new Uint8Array(b), is: (d) => d instanceof Uint8Array},
  I16: {size: 2, rank: 5, make: (b) => new Int16Array(b), is: (d) => d instanceof Int16Array},
  U16: {size: 2, rank: 6, make: (b) => new Uint16Array(b), is: (d) => d instanceof Uint16Array},
  F16: {size: 2, rank: 7, make: (b) => new Uint16Array(b), is: (d) => d instanceof Uint16Array},
  BF16: {size: 2, rank: 8, make: (b) => new Uint16Array(b), is: (d) => d instanceof Uint16Array},
  I32: {size: 4, rank: 9, make: (b) => new Int32Array(b), is: (d) => d instanceof Int32Array},
  U32: {size: 4, rank: 10, make: (b) => new Uint32Array(b), is: (d) => d instanceof Uint32Array},
  F32: {size: 4, rank: 11, make: (b) => new Float32Array(b), is: (d) => d instanceof Float32Array},
  F64: {size: 8, rank: 12, make: (b) => new Float64Array(b), is: (d) => d instanceof Float64Array},
  I64: {size: 8, rank: 13, make: (b) => new BigInt64Array(b), is: (d) => d instanceof BigInt64Array},
  U64: {size: 8, rank: 14, make: (b) => new BigUint64Array(b), is: (d) => d instanceof BigUint64Array},
}

/** The reference reader refuses headers above 100 MB; so do we. */
const MAX_HEADER_BYTES = 100_000_000

function isDtype(s: unknown): s is SafetensorsDtype {
  return typeof s === 'string' && Object.hasOwn(DTYPES, s)
}

function numel(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1)
}

function validShape(shape: unknown): shape is number[] {
  return Array.isArray(shape) && shape.every((d) => Number.isSafeInteger(d) && d >= 0)
}

// --- Writing ---------------------------------------------------------------------------------

/**
 * Serialize tensors and string metadata to safetensors bytes (see the file header for the
 * order). Throws InputError when a tensor's data does not match its dtype or shape.
 */
export function encodeSafetensors(
  tensors: ReadonlyMap<string, SafeTensor> | Readonly<Record<string, SafeTensor>>,
  metadata?: Readonly<Record<string, string>>,
): Uint8Array {
  const entries: Array<[string, SafeTensor]> = tensors instanceof Map ? [...tensors] : Object.entries(tensors)
  for (const [name, t] of entries) {
    if (name === '__metadata__') throw new InputError(`safetensors: "__metadata__" cannot be a tensor name`)
    if (!isDtype(t.dtype)) throw new InputError(`safetensors: tensor ${name} has unknown dtype ${JSON.stringify(t.dtype)}`)
    const info = DTYPES[t.dtype]
    if (!info.is(t.data)) throw new InputError(`safetensors: tensor ${name} is ${t.dtype} but its data is a ${t.data.constructor.name}`)
    if (!validShape(t.shape)) throw new InputError(`safetensors: tensor ${name} has an invalid shape ${JSON.stringify(t.shape)}`)
    if (numel(t.shape) !== t.data.length) {
      throw new InputError(`safetensors: tensor ${name} has shape [${t.shape.join(', ')}] but ${t.data.length} elements`)
    }
  }
  entries.sort(([an, a], [bn, b]) => DTYPES[b.dtype].rank - DTYPES[a.dtype].rank || Buffer.compare(Buffer.from(an), Buffer.from(bn)))

  // The JSON is assembled by hand: a JS object would move integer-like names ("0", "12") first.
  const parts: string[] = []
  if (metadata !== undefined) {
    const meta: string[] = []
    for (const k of Object.keys(metadata).sort()) {
      const v = metadata[k]
      if (typeof v !== 'string') throw new InputError(`safetensors: metadata value of ${k} must be a string`)
      meta.push(`${JSON.stringify(k)}:${JSON.stringify(v)}`)
    }
    parts.push(`"__metadata__":{${meta.join(',')}}`)
  }
  let offset = 0
  for (const [name, t] of entries) {
    const n = t.data.byteLength
    parts.push(`${JSON.stringify(name)}:{"dtype":"${t.dtype}","shape":[${t.shape.join(',')}],"data_offsets":[${offset},${offset + n}]}`)
    offset += n
  }
  const json = Buffer.from(`{${parts.join(',')}}`, 'utf8')
  const headerLen = Math.ceil(json.length / 8) * 8
  const out = new Uint8Array(8 + headerLen + offset)
  const view = new DataView(out.buffer)
  view.setBigUint64(0, BigInt(headerLen), true)
  out.set(json, 8)
  out.fill(0x20, 8 + json.length, 8 + headerLen)
  let pos = 8 + headerLen
  for (const [, t] of entries) {
    out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), pos)
    pos += t.data.byteLength
  }
  return out
}

/** Write a safetensors file atomically (temp file + rename); see `encodeSafetensors`. */
export function writeSafetensors(
  path: string,
  tensors: ReadonlyMap<string, SafeTensor> | Readonly<Record<string, SafeTensor>>,
  metadata?: Readonly<Record<string, string>>,
): void {
  writeFileAtomicSync(path, encodeSafetensors(tensors, metadata))
}

// --- Reading ---------------------------------------------------------------------------------

/**
 * Parse safetensors bytes. `source` names the file in error messages. Tensor data is copied
 * into fresh, aligned typed arrays.
 */
export function decodeSafetensors(bytes: Uint8Array, source = 'safetensors data'): SafetensorsFile {
  // One line however the file is made: names and JSON errors are escaped and cut (oneLine).
  const bad = (what: string) => new InputError(`${source}: not a valid safetensors file: ${oneLine(what)}`)
  if (bytes.length < 8) throw bad(`${bytes.length} bytes, too short for the 8-byte header length`)
  const n = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true)
  if (n > BigInt(MAX_HEADER_BYTES)) throw bad(`header length ${n} is over the ${MAX_HEADER_BYTES}-byte limit`)
  const headerLen = Number(n)
  if (8 + headerLen > bytes.length) throw bad(`header length ${headerLen} runs past the end of the file (${bytes.length} bytes)`)
  let parsed: unknown
  try {
    parsed = JSON.parse(new TextDecoder('utf-8', {fatal: true}).decode(bytes.subarray(8, 8 + headerLen)))
  } catch (err) {
    throw bad(`header is not UTF-8 JSON (${(err as Error).message})`)
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw bad('header is not a JSON object')

  const dataStart = 8 + headerLen
  const dataLen = bytes.length - dataStart
  const metadata: Record<string, string> = {}
  const infos: Array<{name: string; dtype: SafetensorsDtype; shape: number[]; begin: number; end: number}> = []
  for (const [name, value] of Object.entries(parsed as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (value === null || typeof value !== 'object' || Array.isArray(value)) throw bad('__metadata__ is not an object')
      for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
        if (typeof v !== 'string') throw bad(`__metadata__ value of ${k} is not a string`)
        // Defined, not assigned: a key "__proto__" would otherwise set the prototype, not a key.
        Object.defineProperty(metadata, k, {value: v, enumerable: true, writable: true, configurable: true})
      }
      continue
    }
    const t = value as {dtype?: unknown; shape?: unknown; data_offsets?: unknown} | null
    if (t === null || typeof t !== 'object') throw bad(`tensor ${name} is not an object`)
    if (!isDtype(t.dtype)) throw bad(`tensor ${name} has unknown dtype ${JSON.stringify(t.dtype)}`)
    if (!validShape(t.shape)) throw bad(`tensor ${name} has an invalid shape ${JSON.stringify(t.shape)}`)
    const off = t.data_offsets
    if (!Array.isArray(off) || off.length !== 2 || !off.every((x) => Number.isSafeInteger(x) && x >= 0)) {
      throw bad(`tensor ${name} has invalid data_offsets ${JSON.stringify(off)}`)
    }
    const [begin, end] = off as [number, number]
    if (end < begin || end > dataLen) {
      throw bad(`tensor ${name} data_offsets [${begin}, ${end}] are out of range (data is ${dataLen} bytes)`)
    }
    const want = numel(t.shape) * DTYPES[t.dtype].size
    if (end - begin !== want) {
      throw bad(`tensor ${name} has ${end - begin} bytes but ${t.dtype} [${t.shape.join(', ')}] needs ${want}`)
    }
    infos.push({name, dtype: t.dtype, shape: t.shape, begin, end})
  }
  // The tensors must tile the data region: sorted by offset, each starts where the last ended.
  const byOffset = [...infos].sort((a, b) => a.begin - b.begin || a.end - b.end)
  let pos = 0
  for (const t of byOffset) {
    if (t.begin < pos) throw bad(`tensor ${t.name} data_offsets [${t.begin}, ${t.end}] overlap another tensor`)
    if (t.begin > pos) throw bad(`gap in the data region before tensor ${t.name} (bytes ${pos}..${t.begin} belong to no tensor)`)
    pos = t.end
  }
  if (pos !== dataLen) throw bad(`${dataLen - pos} bytes after the last tensor belong to no tensor`)

  const tensors = new Map<string, SafeTensor>()
  for (const t of infos) {
    const copy = new ArrayBuffer(t.end - t.begin)
    new Uint8Array(copy).set(bytes.subarray(dataStart + t.begin, dataStart + t.end))
    tensors.set(t.name, {dtype: t.dtype, shape: t.shape, data: DTYPES[t.dtype].make(copy)})
  }
  return {tensors, metadata}
}

/** Read and validate a safetensors file (InputError naming the file on any problem). */
export function readSafetensors(path: string): SafetensorsFile {
  return decodeSafetensors(readInputFile(path, 'safetensors file'), path)
}

/**
 * Any tensor's values as Float32Array: F32 as is (a copy), F16/BF16/F8_E4M3 decoded from their
 * bits, F64 and integers rounded to float32 (64-bit integers through a JS number), BOOL as 0/1.
 */
export function toFloat32(t: SafeTensor): Float32Array {
  const d = t.data
  switch (t.dtype) {
    case 'F32':
      return Float32Array.from(d as Float32Array)
    case 'F16':
      return Float32Array.from(d as Uint16Array, (h) => f16BitsToF32(h))
    case 'BF16':
      return Float32Array.from(d as Uint16Array, (h) => bf16BitsToF32(h))
    case 'F8_E4M3':
      return Float32Array.from(d as Uint8Array, (h) => e4m3BitsToF32(h))
    case 'I64':
    case 'U64':
      return Float32Array.from(d as BigInt64Array, (v) => Number(v))
    case 'BOOL':
      return Float32Array.from(d as Uint8Array, (v) => (v !== 0 ? 1 : 0))
    default:
      return Float32Array.from(d as Float64Array)
  }
}
