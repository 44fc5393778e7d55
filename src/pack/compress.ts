/**
 * Outer compression of an artifact body: one byte stream in, one out, deterministic.
 *
 *   none     the bytes as they are
 *   deflate  raw DEFLATE (no zlib header or Adler-32: the container has its own CRC), pako level 9,
 *            memLevel 9, 32 KiB window
 *   brotli   node:zlib, quality 11, 16 MiB window (lgwin 24, what every brotli decoder accepts),
 *            size hint = input length
 *   lzma     .lzma ("LZMA alone": 13-byte header with the uncompressed size, then the range-coded
 *            stream) by LZMA-JS (the pure-JS `lzma` package), preset 6 (LZMA_JS_LEVEL). Pure JS
 *            runs everywhere but is slow: ~6 s per MB on these machines at any preset (a 1 MiB
 *            random buffer: preset 1 3.2 s, 6 6.0 s, 9 6.7 s), so 6 is the default for speed.
 *   xz       .xz container by the system `xz` binary (XZ Utils): `xz -9e -T1 -c`, i.e. preset 9
 *            extreme, one thread (one block: the same bytes on every machine), CRC-64 check —
 *            what Python's `lzma.compress(data, preset=9 | lzma.PRESET_EXTREME)` writes, the
 *            method published entries use. When `xz` is not installed, compressing or
 *            decompressing xz is an InputError saying so (nothing else needs it).
 * `auto` (see `autoCompressCandidates`) tries none, deflate and brotli, and adds lzma and xz only
 * for bodies under AUTO_LZMA_MAX_BYTES (2,000,000): LZMA-JS would take minutes on a 16 MB body,
 * and on entropy-coded trits (what golf stores) neither LZMA flavour beats brotli anyway. Ties
 * go to the earlier name in COMPRESS_NAMES.
 *
 * (The earlier @napi-rs/lzma 1.4 encoder wrote literals only — no match finder — and is no
 * longer used.)
 *
 * Decompression is bounded: `decompress(name, data, {maxBytes})` never produces (or holds) more
 * than `maxBytes` of output (default DEFAULT_MAX_DECOMPRESSED_BYTES, 1 GiB), and refuses with
 * `DecompressedTooLargeError` as soon as the stream would pass it — a few bytes of brotli or
 * LZMA can claim a gigabyte of zeros. How each format is held to the cap:
 *   deflate  pako's streaming `Inflate`, output counted chunk by chunk (64 KiB), aborted past it
 *   brotli   node:zlib's `maxOutputLength`
 *   lzma     LZMA-JS cannot be stopped midway, so the size the .lzma header declares is checked
 *            first (LZMA-JS stops at it); a stream of undeclared size is refused. LZMA-JS holds
 *            its output as a JS array (~30 bytes of memory per output byte), so it is also never
 *            asked for more than LZMA_JS_MAX_OUTPUT_BYTES (64 MiB), whatever the cap
 *   xz       the binary's stdout is read with `maxBuffer` = the cap (xz is killed past it) and
 *            its decoder memory limited to XZ_MEMLIMIT (a preset-9 stream needs 65 MiB)
 */
import {spawnSync} from 'node:child_process'
import {createRequire} from 'node:module'
import pako from 'pako'
import {brotliCompressSync, brotliDecompressSync, constants} from 'node:zlib'

import {InputError} from '../errors.js'
import {oneLine} from '../io/read.js'
import {concatArrays} from '../util/concat.js'

export const COMPRESS_NAMES = ['none', 'deflate', 'brotli', 'lzma', 'xz'] as const
export type CompressName = (typeof COMPRESS_NAMES)[number]

export function isCompressName(name: string): name is CompressName {
  return (COMPRESS_NAMES as readonly string[]).includes(name)
}

/** LZMA-JS preset for `lzma` (1–9; see the module doc for why 6). */
export const LZMA_JS_LEVEL = 6
/** `auto` tries lzma and xz only on bodies smaller than this. */
export const AUTO_LZMA_MAX_BYTES = 2_000_000

/** Output cap of `decompress` when the caller gives none: 1 GiB. */
export const DEFAULT_MAX_DECOMPRESSED_BYTES = 2 ** 30
/** LZMA-JS never decodes more than this (64 MiB ≈ 2 GB of JS memory; see the module doc). */
export const LZMA_JS_MAX_OUTPUT_BYTES = 64 * 2 ** 20
/** Decoder memory limit passed to `xz -d`: preset 9 (64 MiB dictionary) needs 65 MiB. */
export const XZ_MEMLIMIT = '256MiB'

/** The stream would decompress to more than `cap` bytes; nothing past the cap was kept. */
export class DecompressedTooLargeError extends InputError {
  constructor(
    readonly compress: CompressName,
    readonly cap: number,
    /** What the stream itself declares (lzma header), when known. */
    readonly declared?: number,
  ) {
    super(`the ${compress} stream decompresses to ${declared === undefined ? 'more than' : declared + ' bytes, more than'} ${cap} bytes`)
    this.name = 'DecompressedTooLargeError'
  }
}

function asBytes(b: Uint8Array): Uint8Array {
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength)
}

// --- LZMA-JS (lzma alone) ----------------------------------------------------------------------

interface LzmaJs {
  compress(data: Uint8Array, mode: number): number[]
  /** Returns a string when the output happens to decode as (its idea of) UTF-8. */
  decompress(data: Uint8Array): number[] | Uint8Array | string
}

let lzmaJs: LzmaJs | undefined
function loadLzmaJs(): LzmaJs {
  lzmaJs ??= createRequire(import.meta.url)('lzma') as LzmaJs
  return lzmaJs
}

/**
 * LZMA-JS's decompress returns a string when the bytes look like UTF-8 (its own decoder: 1–3
 * byte sequences, overlong forms accepted). Encode it back the way its encoder does; the result
 * is the original exactly when its length equals the size in the .lzma header (an overlong
 * sequence re-encodes shorter), otherwise we refuse rather than guess.
 */
function lzmaJsStringToBytes(s: string): Uint8Array {
  const out: number[] = []
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c >= 1 && c <= 0x7f) out.push(c)
    else if (c <= 0x7ff) out.push(0xc0 | ((c >> 6) & 0x1f), 0x80 | (c & 0x3f))
    else out.push(0xe0 | ((c >> 12) & 0x0f), 0x80 | ((c >> 6) & 0x3f), 0x80 | (c & 0x3f))
  }
  return Uint8Array.from(out)
}

/** The uncompressed size in a .lzma header (bytes 5..12, u64 LE); undefined when unknown (all ones). */
function lzmaDeclaredSize(view: DataView): number | undefined {
  const lo = view.getUint32(5, true)
  const hi = view.getUint32(9, true)
  if (lo === 0xffffffff && hi === 0xffffffff) return undefined
  return lo + 2 ** 32 * hi
}

function lzmaDecompress(data: Uint8Array, maxBytes: number): Uint8Array {
  if (data.length < 13) throw new Error('truncated input (shorter than the 13-byte .lzma header)')
  const size = lzmaDeclaredSize(new DataView(data.buffer, data.byteOffset, data.byteLength))
  // Checked before LZMA-JS runs: it decodes up to the declared size, or without end when none is
  // declared (it also treats a declared 0 as "unknown"), and cannot be interrupted.
  if (size === undefined) throw new Error('the .lzma header does not declare the uncompressed size (golf always writes it)')
  const cap = Math.min(maxBytes, LZMA_JS_MAX_OUTPUT_BYTES)
  if (size > cap) throw new DecompressedTooLargeError('lzma', cap, size)
  if (size === 0) return new Uint8Array(0)
  const raw = loadLzmaJs().decompress(data)
  const out = typeof raw === 'string' ? lzmaJsStringToBytes(raw) : raw instanceof Uint8Array ? raw : Uint8Array.from(raw)
  if (out.length !== size) throw new Error(`decoded ${out.length} bytes, the header says ${size}`)
  return out
}

// --- xz binary -------------------------------------------------------------------------------

let xzAvailable: boolean | undefined
/** Is the `xz` program (XZ Utils) on PATH? Checked once per process. */
export function hasXzBinary(): boolean {
  xzAvailable ??= spawnSync('xz', ['--version'], {stdio: 'ignore'}).status === 0
  return xzAvailable
}

/** Run xz on `data`; its output past `maxBuffer` bytes kills it and is refused (`onTooLarge`). */
function runXz(args: string[], data: Uint8Array, what: string, maxBuffer = 2 ** 31 - 1, onTooLarge?: () => Error): Uint8Array {
  if (!hasXzBinary()) {
    throw new InputError(`${what} needs the xz program (XZ Utils), which is not installed: install xz-utils or use --compress brotli, deflate or lzma`)
  }
  const out = spawnSync('xz', args, {input: data, maxBuffer})
  if (out.error) {
    if ((out.error as NodeJS.ErrnoException).code === 'ENOBUFS' && onTooLarge) throw onTooLarge()
    throw new InputError(`${what}: running xz failed: ${out.error.message}`)
  }
  if (out.status !== 0) throw new Error(out.stderr.toString('utf8').trim().split('\n')[0] || `xz exited with ${out.status}`)
  return asBytes(out.stdout)
}

/** What `auto` tries for a body of `size` bytes (see the module doc). */
export function autoCompressCandidates(size: number): CompressName[] {
  const small = size < AUTO_LZMA_MAX_BYTES
  return COMPRESS_NAMES.filter((n) => (n === 'lzma' ? small : n === 'xz' ? small && hasXzBinary() : true))
}

export function compress(name: CompressName, data: Uint8Array): Uint8Array {
  switch (name) {
    case 'none':
      return data
    case 'deflate':
      return pako.deflateRaw(data, {level: 9, memLevel: 9, windowBits: 15})
    case 'brotli':
      return asBytes(
        brotliCompressSync(data, {
          params: {
            [constants.BROTLI_PARAM_QUALITY]: 11,
            [constants.BROTLI_PARAM_LGWIN]: 24,
            [constants.BROTLI_PARAM_MODE]: constants.BROTLI_MODE_GENERIC,
            [constants.BROTLI_PARAM_SIZE_HINT]: data.length,
          },
        }),
      )
    case 'lzma':
      return Uint8Array.from(loadLzmaJs().compress(data, LZMA_JS_LEVEL))
    case 'xz':
      return runXz(['-9e', '-T1', '-c', '--format=xz', '--check=crc64'], data, 'compression xz')
    default:
      throw new InputError(`unknown compression "${name as string}" (expected one of ${COMPRESS_NAMES.join(', ')}, auto)`)
  }
}

/** Every compression in `candidates` (default: what `auto` tries), keeping the smallest output. */
export function compressBest(data: Uint8Array, candidates: readonly CompressName[] = autoCompressCandidates(data.length)): {compress: CompressName; bytes: Uint8Array} {
  let best: {compress: CompressName; bytes: Uint8Array} | undefined
  for (const name of candidates) {
    const bytes = compress(name, data)
    if (best === undefined || bytes.length < best.bytes.length) best = {compress: name, bytes}
  }
  if (best === undefined) throw new InputError('no compression to choose from')
  return best
}

/** zlib status codes as pako reports them, for the one-line error (pako's own table is internal). */
const ZLIB_MESSAGES: Record<number, string> = {2: 'need dictionary', [-2]: 'stream error', [-3]: 'data error', [-4]: 'insufficient memory', [-5]: 'buffer error'}

/** Raw inflate with pako, counting the output as it comes and stopping past `maxBytes`. */
function inflateRawCapped(data: Uint8Array, maxBytes: number): Uint8Array {
  const inflator = new pako.Inflate({raw: true})
  const chunks: Uint8Array[] = []
  let total = 0
  inflator.onData = (data) => {
    const chunk = data as Uint8Array // raw output (no `to: 'string'`) is always a Uint8Array
    total += chunk.length
    // Thrown from inside push(): the stream stops here, before the next chunk is produced.
    if (total > maxBytes) throw new DecompressedTooLargeError('deflate', maxBytes)
    chunks.push(chunk)
  }
  inflator.push(data, true)
  if (inflator.err) throw new Error(inflator.msg || ZLIB_MESSAGES[inflator.err] || `zlib error ${inflator.err}`)
  return concatArrays(chunks, (n) => new Uint8Array(n))
}

/**
 * Inverse of `compress`; a stream that does not decode is an InputError naming the format, and
 * one that would decode to more than `maxBytes` (default DEFAULT_MAX_DECOMPRESSED_BYTES) is a
 * `DecompressedTooLargeError`, raised before more than the cap (plus one 64 KiB deflate chunk) is
 * held in memory.
 */
export function decompress(name: CompressName, data: Uint8Array, opts: {maxBytes?: number} = {}): Uint8Array {
  const maxBytes = opts.maxBytes ?? DEFAULT_MAX_DECOMPRESSED_BYTES
  if (!Number.isSafeInteger(maxBytes) || maxBytes < 0) throw new InputError(`decompression cap must be a non-negative integer, got ${maxBytes}`)
  let out: Uint8Array
  try {
    switch (name) {
      case 'none':
        out = data
        break
      case 'deflate':
        out = inflateRawCapped(data, maxBytes)
        break
      case 'brotli':
        // maxOutputLength must be ≥ 1; a cap of 0 is enforced by the length check below.
        out = asBytes(brotliDecompressSync(data, {maxOutputLength: Math.max(1, maxBytes)}))
        break
      case 'lzma':
        out = lzmaDecompress(data, maxBytes)
        break
      case 'xz':
        out = runXz(['-d', '-c', '--format=xz', `--memlimit=${XZ_MEMLIMIT}`], data, 'decompressing xz', maxBytes, () => new DecompressedTooLargeError('xz', maxBytes))
        break
      default:
        throw new InputError(`unknown compression "${name as string}"`)
    }
  } catch (err) {
    if (err instanceof InputError) throw err
    if ((err as NodeJS.ErrnoException)?.code === 'ERR_BUFFER_TOO_LARGE') throw new DecompressedTooLargeError(name, maxBytes)
    throw new InputError(`cannot decompress the ${name} stream: ${oneLine((err as Error)?.message ?? String(err))}`)
  }
  if (out.length > maxBytes) throw new DecompressedTooLargeError(name, maxBytes)
  return out
}
