/**
 * The official Parameter Golf shard format, byte for byte:
 *
 *   offset 0     256 × int32 little-endian header: [0] = 20240520 (magic), [1] = 1 (version),
 *                [2] = token count N, [3..255] = 0
 *   offset 1024  N × uint16 little-endian token ids
 *
 * File size is exactly 1024 + 2·N. Names are `fineweb_{train|val}_NNNNNN.bin` (6-digit index);
 * readers take the files of a split in sorted order (the official `sorted(glob(...))`).
 *
 * CaseOps datasets add byte sidecars `fineweb_val_bytes_NNNNNN.bin` beside the validation shards:
 * the same format, each uint16 the original UTF-8 byte count of the validation token at that
 * position (see src/data/stream.ts `loadValidationByteCounts`). They are not tokens: the
 * validation listing leaves them out, as the records' `fineweb_val_[0-9]*.bin` pattern does.
 */
import {closeSync, fstatSync, readdirSync, readSync} from 'node:fs'
import {endianness} from 'node:os'
import {join} from 'node:path'
import {describeFsError, InputError} from '../errors.js'
import {writeFileAtomicSync} from '../io/atomic.js'
import {openInputFile} from '../io/read.js'

export const SHARD_MAGIC = 20240520
export const SHARD_VERSION = 1
export const HEADER_INTS = 256
export const HEADER_BYTES = HEADER_INTS * 4
/** Tokens per shard written by the official exporters. */
export const DEFAULT_SHARD_TOKENS = 100_000_000

export type Split = 'train' | 'val'

/** Uint16Array views of file bytes are only valid on a little-endian host; decode otherwise. */
const LITTLE_ENDIAN_HOST = endianness() === 'LE'

export interface ShardHeader {
  /** Header word [1]. */
  version: number
  /** Header word [2]: number of uint16 tokens after the header. */
  tokenCount: number
  /** Size of the file on disk, which equals 1024 + 2·tokenCount. */
  fileBytes: number
}

function openForRead(path: string): number {
  return openInputFile(path, 'shard').fd
}

function readFully(fd: number, target: Uint8Array, position: number, path: string): void {
  let off = 0
  while (off < target.byteLength) {
    const n = readSync(fd, target, off, target.byteLength - off, position + off)
    if (n === 0) throw new InputError(`shard ${path}: short read at byte ${position + off}`)
    off += n
  }
}

function checkHeader(path: string, header: Uint8Array, fileBytes: number): ShardHeader {
  const view = new DataView(header.buffer, header.byteOffset, header.byteLength)
  const magic = view.getInt32(0, true)
  if (magic !== SHARD_MAGIC) throw new InputError(`shard ${path}: wrong magic ${magic} (expected ${SHARD_MAGIC}); not a shard file`)
  const version = view.getInt32(4, true)
  if (version !== SHARD_VERSION) throw new InputError(`shard ${path}: unsupported version ${version} (expected ${SHARD_VERSION})`)
  const tokenCount = view.getInt32(8, true)
  if (tokenCount < 0) throw new InputError(`shard ${path}: negative token count ${tokenCount} in header`)
  const expected = HEADER_BYTES + 2 * tokenCount
  if (fileBytes !== expected) {
    throw new InputError(`shard ${path}: header says ${tokenCount} tokens (${expected} bytes) but file has ${fileBytes} bytes`)
  }
  return {version, tokenCount, fileBytes}
}

function headerFromFd(fd: number, path: string): ShardHeader {
  const fileBytes = fstatSync(fd).size
  if (fileBytes < HEADER_BYTES) {
    throw new InputError(`shard ${path}: too short for the ${HEADER_BYTES}-byte header (file has ${fileBytes} bytes)`)
  }
  const header = new Uint8Array(HEADER_BYTES)
  readFully(fd, header, 0, path)
  return checkHeader(path, header, fileBytes)
}

/** Read and validate a shard's header (magic, version, size) without reading its tokens. */
export function readShardHeader(path: string): ShardHeader {
  const fd = openForRead(path)
  try {
    return headerFromFd(fd, path)
  } finally {
    closeSync(fd)
  }
}

/** Index and value of the first id ≥ vocabSize, or -1. */
function firstOutOfVocab(tokens: Uint16Array, vocabSize: number): number {
  if (vocabSize > 0xffff) return -1
  for (let i = 0; i < tokens.length; i++) if (tokens[i] >= vocabSize) return i
  return -1
}

/**
 * Read a whole shard into a Uint16Array (the tokens are read straight into an aligned buffer:
 * no copy on a little-endian host). With `vocabSize`, every id is checked to be below it.
 * Throws InputError with one line naming the file on any format problem.
 */
export function readShard(path: string, opts: {vocabSize?: number} = {}): Uint16Array {
  const fd = openForRead(path)
  let tokens: Uint16Array
  try {
    // The header's count was checked against the file's size (exactly 1024 + 2·N bytes), so what
    // is allocated here is what the file holds, never what a header merely claims.
    const {tokenCount} = headerFromFd(fd, path)
    tokens = new Uint16Array(tokenCount)
    readFully(fd, new Uint8Array(tokens.buffer), HEADER_BYTES, path)
  } finally {
    closeSync(fd)
  }
  if (!LITTLE_ENDIAN_HOST) {
    const view = new DataView(tokens.buffer)
    for (let i = 0; i < tokens.length; i++) tokens[i] = view.getUint16(2 * i, true)
  }
  if (opts.vocabSize !== undefined) {
    const at = firstOutOfVocab(tokens, opts.vocabSize)
    if (at >= 0) throw new InputError(`shard ${path}: token id ${tokens[at]} at position ${at} is out of range for vocab size ${opts.vocabSize}`)
  }
  return tokens
}

/** Tokens per piece a {@link ShardStreamReader} reads at a time: 4 Mi tokens, 8 MiB. */
export const STREAM_CHUNK_TOKENS = 1 << 22

/** One piece of a split's token stream; `tokens` is reused by the next piece. */
export interface StreamChunk {
  /** Index of the shard in the reader's file list. */
  file: number
  /** Position of `tokens[0]` in that shard. */
  pos: number
  /** Position of `tokens[0]` in the whole stream (the shards back to back). */
  start: number
  tokens: Uint16Array
}

/**
 * The shards of one split read as one token stream, a bounded piece at a time, for scans of data
 * larger than memory (the official FineWeb download is 80 train shards of 100,000,000 tokens):
 * `chunks()` walks the stream in order, `read()` fetches any span by its stream position. Every
 * shard's header is checked when the reader is made, so a bad file is named before any work.
 * Call `close()` when done (it closes the files `read()` keeps open).
 */
export class ShardStreamReader {
  readonly files: readonly string[]
  /** Tokens in each shard. */
  readonly counts: readonly number[]
  /** Stream position of each shard's first token. */
  readonly starts: readonly number[]
  /** Tokens in all shards. */
  readonly tokens: number
  private readonly open = new Map<number, number>()

  constructor(files: readonly string[]) {
    this.files = [...files]
    const counts: number[] = []
    const starts: number[] = []
    let total = 0
    for (const path of this.files) {
      starts.push(total)
      const {tokenCount} = readShardHeader(path)
      counts.push(tokenCount)
      total += tokenCount
    }
    this.counts = counts
    this.starts = starts
    this.tokens = total
  }

  /** The shard holding stream position `at` (0 ≤ at < tokens), and the position inside it. */
  locate(at: number): {file: number; pos: number} {
    if (!(at >= 0 && at < this.tokens)) throw new RangeError(`stream position ${at} is outside 0..${this.tokens - 1}`)
    let lo = 0
    let hi = this.files.length - 1
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1
      if (this.starts[mid] <= at) lo = mid
      else hi = mid - 1
    }
    // empty shards share their start with the next one: skip to the one that holds tokens
    while (this.counts[lo] === 0) lo++
    return {file: lo, pos: at - this.starts[lo]}
  }

  /** The stream in order, `chunkTokens` at a time (less at each shard's end); one buffer, reused. */
  *chunks(chunkTokens = STREAM_CHUNK_TOKENS): Generator<StreamChunk> {
    if (!Number.isInteger(chunkTokens) || chunkTokens < 1) throw new RangeError(`chunk size must be a positive integer, got ${chunkTokens}`)
    const buf = new Uint16Array(Math.max(1, Math.min(chunkTokens, Math.max(...this.counts, 1))))
    for (let file = 0; file < this.files.length; file++) {
      const path = this.files[file]
      const count = this.counts[file]
      if (count === 0) continue
      const fd = openForRead(path)
      try {
        for (let pos = 0; pos < count; pos += buf.length) {
          const n = Math.min(buf.length, count - pos)
          const tokens = buf.subarray(0, n)
          readFully(fd, new Uint8Array(tokens.buffer, 0, 2 * n), HEADER_BYTES + 2 * pos, path)
          decodeLittleEndian(tokens)
          yield {file, pos, start: this.starts[file] + pos, tokens}
        }
      } finally {
        closeSync(fd)
      }
    }
  }

  /** Fill `out` with the stream's tokens from position `start` on (across shard ends). */
  read(start: number, out: Uint16Array): Uint16Array {
    if (out.length === 0) return out
    if (!(start >= 0 && start + out.length <= this.tokens)) throw new RangeError(`span ${start}+${out.length} is outside the stream of ${this.tokens} tokens`)
    let {file, pos} = this.locate(start)
    let filled = 0
    while (filled < out.length) {
      const n = Math.min(out.length - filled, this.counts[file] - pos)
      if (n > 0) {
        const part = out.subarray(filled, filled + n)
        readFully(this.fd(file), new Uint8Array(part.buffer, part.byteOffset, 2 * n), HEADER_BYTES + 2 * pos, this.files[file])
        decodeLittleEndian(part)
        filled += n
      }
      file++
      pos = 0
    }
    return out
  }

  close(): void {
    for (const fd of this.open.values()) closeSync(fd)
    this.open.clear()
  }

  private fd(file: number): number {
    let fd = this.open.get(file)
    if (fd === undefined) {
      fd = openForRead(this.files[file])
      this.open.set(file, fd)
    }
    return fd
  }
}

/** Token ids read straight from a file are little-endian: swap them in place on a big-endian host. */
function decodeLittleEndian(tokens: Uint16Array): void {
  if (LITTLE_ENDIAN_HOST) return
  const view = new DataView(tokens.buffer, tokens.byteOffset, tokens.byteLength)
  for (let i = 0; i < tokens.length; i++) tokens[i] = view.getUint16(2 * i, true)
}

/** The exact bytes of a shard holding `tokens`. */
export function encodeShard(tokens: Uint16Array): Uint8Array[] {
  if (tokens.length > 0x7fffffff) throw new RangeError(`shard too large: ${tokens.length} tokens`)
  const header = new Uint8Array(HEADER_BYTES)
  const view = new DataView(header.buffer)
  view.setInt32(0, SHARD_MAGIC, true)
  view.setInt32(4, SHARD_VERSION, true)
  view.setInt32(8, tokens.length, true)
  let body: Uint8Array
  if (LITTLE_ENDIAN_HOST) {
    body = new Uint8Array(tokens.buffer, tokens.byteOffset, tokens.byteLength)
  } else {
    body = new Uint8Array(tokens.length * 2)
    const bv = new DataView(body.buffer)
    for (let i = 0; i < tokens.length; i++) bv.setUint16(2 * i, tokens[i], true)
  }
  return [header, body]
}

/** Write a shard atomically (temporary file, then rename). */
export function writeShard(path: string, tokens: Uint16Array): void {
  writeFileAtomicSync(path, encodeShard(tokens))
}

/** `fineweb_train_000000.bin` for ('train', 0). */
export function shardFileName(split: Split, index: number): string {
  if (!Number.isInteger(index) || index < 0) throw new RangeError(`bad shard index ${index}`)
  return `fineweb_${split}_${String(index).padStart(6, '0')}.bin`
}

/** File names in `dir` that start with `prefix` and end in `.bin`, sorted by code point, as full paths. */
function listBin(dir: string, prefix: string, exclude?: string): string[] {
  let names: string[]
  try {
    names = readdirSync(dir)
  } catch (err) {
    throw describeFsError(err, dir, 'dataset folder')
  }
  return names
    .filter((n) => n.startsWith(prefix) && n.endsWith('.bin') && n.length > prefix.length + 4 && !(exclude && n.startsWith(exclude)))
    .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
    .map((n) => join(dir, n))
}

/** Name prefix of the validation byte sidecars (`fineweb_val_bytes_NNNNNN.bin`). */
export const BYTE_SIDECAR_PREFIX = 'fineweb_val_bytes_'

/**
 * The shards of one split in `dir`, as full paths: every `fineweb_{split}_*.bin` in sorted
 * (code point) order, like the official `sorted(glob.glob(pattern))`, except the validation byte
 * sidecars (`fineweb_val_bytes_*.bin`), which hold byte counts, not tokens. Missing dir → InputError.
 */
export function listShards(dir: string, split: Split): string[] {
  return listBin(dir, `fineweb_${split}_`, BYTE_SIDECAR_PREFIX)
}

/** The validation byte sidecars in `dir` (`fineweb_val_bytes_*.bin`), sorted, as full paths; [] when none. */
export function listByteSidecars(dir: string): string[] {
  return listBin(dir, BYTE_SIDECAR_PREFIX)
}

/** Is this file name a validation byte sidecar (`fineweb_val_bytes_*.bin`)? */
export function isByteSidecar(fileName: string): boolean {
  return /(?:^|[\\/])fineweb_val_bytes_[^\\/]*\.bin$/.test(fileName)
}

/** The split a shard file name belongs to, or null if it is not an official shard name (a byte sidecar is not a shard of tokens). */
export function splitOfShard(fileName: string): Split | null {
  if (isByteSidecar(fileName)) return null
  const m = /(?:^|[\\/])fineweb_(train|val)_[^\\/]*\.bin$/.exec(fileName)
  return m ? (m[1] as Split) : null
}

export interface ShardWriterResult {
  split: Split
  /** Full paths of the shards written, in order. */
  files: string[]
  docs: number
  tokens: number
}

/**
 * Writes the documents of one split as consecutive shards of exactly `shardTokens` tokens
 * (the last one shorter). Like the official exporter, a document that does not fit in the
 * current shard continues in the next one: shard boundaries ignore document boundaries.
 */
export class ShardWriter {
  readonly dir: string
  readonly split: Split
  readonly shardTokens: number
  private buf: Uint16Array
  private fill = 0
  private readonly files: string[] = []
  private docs = 0
  private tokens = 0
  private closed = false

  constructor(dir: string, split: Split, opts: {shardTokens?: number} = {}) {
    const shardTokens = opts.shardTokens ?? DEFAULT_SHARD_TOKENS
    if (!Number.isInteger(shardTokens) || shardTokens < 1 || shardTokens > 0x7fffffff) {
      throw new InputError(`shard tokens must be a positive integer below 2^31, got ${shardTokens}`)
    }
    this.dir = dir
    this.split = split
    this.shardTokens = shardTokens
    // Grow on demand: a small corpus should not allocate a 200 MB buffer.
    this.buf = new Uint16Array(Math.min(shardTokens, 1 << 16))
  }

  /** Append one document (already including its BOS). Ids must fit in uint16. */
  add(doc: ArrayLike<number>): void {
    if (this.closed) throw new Error('ShardWriter is closed')
    this.docs += 1
    this.tokens += doc.length
    let pos = 0
    while (pos < doc.length) {
      const take = Math.min(this.shardTokens - this.fill, doc.length - pos)
      this.reserve(this.fill + take)
      if (doc instanceof Uint16Array) {
        this.buf.set(doc.subarray(pos, pos + take), this.fill)
      } else for (let i = 0; i < take; i++) {
        const id = doc[pos + i]
        if (!(id >= 0 && id <= 0xffff) || !Number.isInteger(id)) throw new RangeError(`token id ${id} does not fit in uint16`)
        this.buf[this.fill + i] = id
      }
      this.fill += take
      pos += take
      if (this.fill === this.shardTokens) this.flush()
    }
  }

  /** Write the last partial shard and return what was written. */
  close(): ShardWriterResult {
    if (!this.closed) {
      this.flush()
      this.closed = true
    }
    return {split: this.split, files: [...this.files], docs: this.docs, tokens: this.tokens}
  }

  private reserve(n: number): void {
    if (n <= this.buf.length) return
    let size = this.buf.length
    while (size < n) size = Math.min(this.shardTokens, size * 2)
    const grown = new Uint16Array(size)
    grown.set(this.buf.subarray(0, this.fill))
    this.buf = grown
  }

  private flush(): void {
    if (this.fill === 0) return
    const path = join(this.dir, shardFileName(this.split, this.files.length))
    writeShard(path, this.buf.subarray(0, this.fill))
    this.files.push(path)
    this.fill = 0
  }
}

