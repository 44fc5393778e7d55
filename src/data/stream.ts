/**
 * The training token stream, as the official `TokenStream` in `train_gpt.py`: shards are read
 * in order, one at a time, and the stream wraps around to the first shard after the last.
 * Its position `{file, pos}` is plain JSON, so a resumed run continues bit for bit.
 */
import {basename, join} from 'node:path'
import {InputError} from '../errors.js'
import {withStreamBytes, type StreamByteTable} from '../metric/bpb.js'
import type {ByteTable} from '../tokenizer/types.js'
import {concatArrays} from '../util/concat.js'
import {listByteSidecars, listShards, readShard, readShardHeader} from './shard.js'

export interface StreamState {
  /** Index into the stream's file list of the shard being read. */
  file: number
  /** Next token to hand out within that shard. */
  pos: number
}

export class TokenStream {
  readonly files: readonly string[]
  private readonly vocabSize?: number
  private fileIdx = 0
  private pos = 0
  private tokens: Uint16Array | null = null

  constructor(files: readonly string[], opts: {vocabSize?: number} = {}) {
    if (files.length === 0) throw new InputError('token stream: no shard files given')
    this.files = [...files]
    this.vocabSize = opts.vocabSize
  }

  /** The next `n` tokens (a fresh array), crossing shard ends and wrapping to the first shard. */
  take(n: number): Uint16Array {
    if (!Number.isInteger(n) || n < 0) throw new RangeError(`take(n): n must be a non-negative integer, got ${n}`)
    const out = new Uint16Array(n)
    let filled = 0
    let emptyInARow = 0
    while (filled < n) {
      const tokens = this.current()
      const avail = tokens.length - this.pos
      if (avail <= 0) {
        if (tokens.length === 0 && ++emptyInARow >= this.files.length) {
          throw new InputError(`token stream: all ${this.files.length} shard(s) are empty`)
        }
        this.advance()
        continue
      }
      emptyInARow = 0
      const k = Math.min(n - filled, avail)
      out.set(tokens.subarray(this.pos, this.pos + k), filled)
      this.pos += k
      filled += k
    }
    return out
  }

  /** The position of the next token, to save with a checkpoint. */
  state(): StreamState {
    return {file: this.fileIdx, pos: this.pos}
  }

  /** Continue from a position returned by {@link state} (on the same file list). */
  restore(state: StreamState): void {
    const {file, pos} = state
    if (!Number.isInteger(file) || file < 0 || file >= this.files.length) {
      throw new InputError(`token stream: saved shard index ${file} is out of range (${this.files.length} shard(s))`)
    }
    if (!Number.isInteger(pos) || pos < 0) throw new InputError(`token stream: saved position ${pos} is not a non-negative integer`)
    const tokens = file === this.fileIdx && this.tokens ? this.tokens : readShard(this.files[file], {vocabSize: this.vocabSize})
    if (pos > tokens.length) {
      throw new InputError(`token stream: saved position ${pos} is past the end of ${this.files[file]} (${tokens.length} tokens)`)
    }
    this.fileIdx = file
    this.tokens = tokens
    this.pos = pos
  }

  private current(): Uint16Array {
    if (!this.tokens) this.tokens = readShard(this.files[this.fileIdx], {vocabSize: this.vocabSize})
    return this.tokens
  }

  private advance(): void {
    this.fileIdx = (this.fileIdx + 1) % this.files.length
    // A single shard is simply rewound; otherwise only one shard is held in memory.
    if (this.files.length > 1) this.tokens = null
    this.pos = 0
  }
}

/**
 * All validation tokens of a dataset folder: every `fineweb_val_*.bin` in sorted order but the
 * byte sidecars (`fineweb_val_bytes_*.bin`), concatenated (the official `load_validation_tokens`,
 * before its trim to whole sequences).
 * `maxTokens` keeps only the first tokens (and reads no more shards than needed).
 */
export function loadValidationTokens(dir: string, opts: {vocabSize?: number; maxTokens?: number} = {}): Uint16Array {
  const files = listShards(dir, 'val')
  if (files.length === 0) throw new InputError(`no validation shards (fineweb_val_*.bin) in ${dir}`)
  const max = opts.maxTokens ?? Infinity
  if (!(max >= 0)) throw new RangeError(`maxTokens must be non-negative, got ${opts.maxTokens}`)
  const parts: Uint16Array[] = []
  let total = 0
  for (const file of files) {
    if (total >= max) break
    const tokens = readShard(file, {vocabSize: opts.vocabSize})
    const keep = Math.min(tokens.length, max - total)
    parts.push(keep === tokens.length ? tokens : tokens.subarray(0, keep))
    total += keep
  }
  return parts.length === 1 ? parts[0] : concatArrays(parts, (n) => new Uint16Array(n))
}

/**
 * How much of the validation split an evaluation read — recorded as `val_coverage` in every
 * result that carries a score (summary.json, golf eval --json, the roundtrip, submission.json).
 * The official score reads all of it (openai/parameter-golf README: "Validation always runs on
 * the full `fineweb_val_*` split"); a recipe's `eval.val_tokens` (or `--val-tokens`) reads only
 * the first tokens: a partial figure, not the official metric, labelled so wherever it appears
 * (src/eval/coverage.ts).
 */
export interface ValCoverage {
  /** Tokens read: the whole split, or its first `maxTokens`. */
  read_tokens: number
  /** Tokens in the whole validation split (every `fineweb_val_*.bin`). */
  split_tokens: number
  /** read_tokens < split_tokens. */
  partial: boolean
}

/** Tokens in a dataset's whole validation split, from the shard headers (no tokens are read). */
export function countValidationTokens(dir: string): number {
  const files = listShards(dir, 'val')
  if (files.length === 0) throw new InputError(`no validation shards (fineweb_val_*.bin) in ${dir}`)
  return files.reduce((n, f) => n + readShardHeader(f).tokenCount, 0)
}

/**
 * The most bytes a byte sidecar may give one token: 2,048 = 512 × 4. SentencePiece's trainer
 * refuses pieces longer than 512 characters (`max_sentencepiece_length` must be in [1, 512],
 * trainer_interface.cc), a character is at most 4 bytes of UTF-8, and the CaseOps writer counts a
 * token's original bytes over the characters of its piece (`prepare_caseops_data.py` `_byte_counts`).
 * A larger count is not a byte count of these tokens (a token shard taken for a sidecar, say).
 */
export const MAX_TOKEN_BYTES = 2048

/** One line naming the sidecar files: the file itself when there is one. */
function sidecarName(dir: string, files: readonly string[]): string {
  return files.length === 1 ? files[0] : `${join(dir, 'fineweb_val_bytes_*.bin')} (${files.length} files)`
}

/**
 * The byte sidecars' counts for the validation tokens `tokens` (the split's first tokens.length,
 * as {@link loadValidationTokens} returns them), aligned position for position, or null when the
 * dataset has no sidecars: the official `load_validation_token_bytes` (every
 * `fineweb_val_bytes_*.bin` in sorted order, concatenated, cut to the tokens). Checked before
 * use, each failure an InputError of one line naming the file: every sidecar's header (magic,
 * version, size, by the shard reader, before anything is allocated); one count per token of
 * the whole validation split, at least; every count used at most MAX_TOKEN_BYTES; and, with
 * `bosId`, 0 bytes at every BOS (the writer gives a document's BOS no bytes: a count there says
 * the sidecar is not aligned with the tokens).
 */
export function loadValidationByteCounts(dir: string, tokens: Uint16Array, opts: {bosId?: number} = {}): Uint16Array | null {
  const files = listByteSidecars(dir)
  if (files.length === 0) return null
  const counts = files.map((f) => readShardHeader(f).tokenCount)
  const have = counts.reduce((a, b) => a + b, 0)
  const need = countValidationTokens(dir)
  if (have < need) {
    throw new InputError(`byte sidecar ${sidecarName(dir, files)}: ${have} byte counts for the ${need} validation tokens; it needs one count per validation token`)
  }
  const out = new Uint16Array(tokens.length)
  let filled = 0
  for (let f = 0; f < files.length && filled < out.length; f++) {
    if (counts[f] === 0) continue
    const part = readShard(files[f])
    const n = Math.min(part.length, out.length - filled)
    for (let i = 0; i < n; i++) {
      const v = part[i]
      if (v > MAX_TOKEN_BYTES) {
        throw new InputError(`byte sidecar ${files[f]}: position ${i} gives a token ${v} bytes, more than any token holds (at most ${MAX_TOKEN_BYTES}: 512 characters of 4 UTF-8 bytes); not a byte sidecar of ${basename(dir)}'s validation tokens`)
      }
      if (v !== 0 && tokens[filled + i] === opts.bosId) {
        throw new InputError(`byte sidecar ${files[f]}: position ${i} is a document's BOS but is given ${v} bytes; the counts are not aligned with the validation tokens`)
      }
    }
    out.set(n === part.length ? part : part.subarray(0, n), filled)
    filled += n
  }
  return out
}

export interface ValidationSliceOptions {
  vocabSize?: number
  maxTokens?: number | null
  /** The dataset's byte table (from openDataset): the slice then says how to count its targets' bytes. */
  table?: ByteTable
  /** The dataset's BOS id: byte sidecars are checked to give every BOS 0 bytes. */
  bosId?: number
}

export interface ValidationSlice {
  tokens: Uint16Array
  coverage: ValCoverage
  /** The byte sidecars the targets' bytes come from (full paths), [] when the dataset has none. */
  byteSidecars: string[]
  /** Their counts, aligned with `tokens` (see loadValidationByteCounts), or null. */
  tokenBytes: Uint16Array | null
}

/**
 * {@link loadValidationTokens}, with how much of the split the tokens are and, when the dataset
 * has byte sidecars, their counts for the tokens. With `table`, also `byteTable`: what every
 * score of these tokens counts bytes with — `table` itself, or, with sidecars, `table` bound to
 * the counts of these tokens (src/metric/bpb.ts `withStreamBytes`).
 */
export function loadValidationSlice(dir: string, opts: ValidationSliceOptions & {table: ByteTable}): ValidationSlice & {byteTable: StreamByteTable}
export function loadValidationSlice(dir: string, opts?: ValidationSliceOptions): ValidationSlice
export function loadValidationSlice(dir: string, opts: ValidationSliceOptions = {}): ValidationSlice & {byteTable?: StreamByteTable} {
  const tokens = loadValidationTokens(dir, {vocabSize: opts.vocabSize, maxTokens: opts.maxTokens ?? undefined})
  const split = countValidationTokens(dir)
  const tokenBytes = loadValidationByteCounts(dir, tokens, {bosId: opts.bosId})
  const slice: ValidationSlice = {
    tokens,
    coverage: {read_tokens: tokens.length, split_tokens: split, partial: tokens.length < split},
    byteSidecars: tokenBytes ? listByteSidecars(dir) : [],
    tokenBytes,
  }
  if (!opts.table) return slice
  return {...slice, byteTable: tokenBytes ? withStreamBytes(opts.table, tokens, tokenBytes) : opts.table}
}
