/**
 * The training token stream, as the official `TokenStream` in `train_gpt.py`: shards are read
 * in order, one at a time, and the stream wraps around to the first shard after the last.
 * Its position `{file, pos}` is plain JSON, so a resumed run continues bit for bit.
 */
import {InputError} from '../errors.js'
import {concatArrays} from '../util/concat.js'
import {listShards, readShard, readShardHeader} from './shard.js'

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
 * All validation tokens of a dataset folder: every `fineweb_val_*.bin` in sorted order,
 * concatenated (the official `load_validation_tokens`, before its trim to whole sequences).
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

/** {@link loadValidationTokens}, with how much of the split the tokens are. */
export function loadValidationSlice(dir: string, opts: {vocabSize?: number; maxTokens?: number | null} = {}): {tokens: Uint16Array; coverage: ValCoverage} {
  const tokens = loadValidationTokens(dir, {vocabSize: opts.vocabSize, maxTokens: opts.maxTokens ?? undefined})
  const split = countValidationTokens(dir)
  return {tokens, coverage: {read_tokens: tokens.length, split_tokens: split, partial: tokens.length < split}}
}
