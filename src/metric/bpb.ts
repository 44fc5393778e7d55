/**
 * Bits per byte, the challenge's score, as `eval_val` in the official `train_gpt.py` computes
 * it: val_loss = mean next-token cross-entropy in nats; val_bpb = (val_loss / ln 2) ×
 * (target tokens / target bytes), every sum in float64. Target bytes come from the official
 * byte table (see `ByteTable`), or, for a dataset with byte sidecars, from the sidecar's count
 * of each target position (see `StreamBytes`). Pure arithmetic: no tfjs, no tokenizer code.
 */
import type { ByteTable } from '../tokenizer/types.js'

/**
 * A validation stream's own byte counts: `bytes[p]` is the original UTF-8 byte count of the text
 * behind `tokens[p]`, from the byte sidecars `fineweb_val_bytes_*.bin` of a CaseOps dataset
 * (openai/parameter-golf records/track_10min_16mb/2026-04-23_SP8192_CaseOps…,
 * `prepare_caseops_data.py`). CaseOps writes private-use case symbols into the text before it is
 * tokenized, so the table cannot say how many original bytes a token stands for; the records'
 * `eval_val` sums the sidecar's count of every target position instead (`load_validation_token_bytes`).
 */
export interface StreamBytes {
  /** The token stream the counts are aligned with, position for position. */
  readonly tokens: Uint16Array
  readonly bytes: Uint16Array
}

/**
 * A byte table as a dataset's validation targets are counted with. `stream`: the targets' bytes
 * are the stream's counts (`withStreamBytes`), for those tokens and views of them only.
 * `sidecars`: the dataset has byte sidecars (these files), so the table alone must not count its
 * targets: it throws until bound to the validation stream's counts.
 */
export interface StreamByteTable extends ByteTable {
  readonly stream?: StreamBytes
  readonly sidecars?: readonly string[]
}

/** `table`, marked as belonging to a dataset whose validation bytes are in the byte sidecars `files`. */
export function requireStreamBytes(table: ByteTable, files: readonly string[]): StreamByteTable {
  return { ...table, sidecars: [...files] }
}

/**
 * `table` bound to a stream's per-position byte counts: `countTargetBytes` then sums `bytes` over
 * the target positions of `tokens` (or of a subarray of it, at the subarray's place in the stream).
 */
export function withStreamBytes(table: StreamByteTable, tokens: Uint16Array, bytes: Uint16Array): StreamByteTable {
  if (bytes.length !== tokens.length) throw new RangeError(`withStreamBytes: ${bytes.length} byte counts for ${tokens.length} tokens`)
  const { stream: _stream, sidecars: _sidecars, ...lut } = table
  return { ...lut, stream: { tokens, bytes } }
}

/** Where `tokens` starts in the stream: it must be the stream's own array or a view of its memory. */
function streamOffset(stream: Uint16Array, tokens: ArrayLike<number>): number {
  if (tokens === stream) return 0
  if (tokens instanceof Uint16Array && tokens.buffer === stream.buffer) {
    const at = (tokens.byteOffset - stream.byteOffset) / 2
    if (at >= 0 && at + tokens.length <= stream.length) return at
  }
  throw new Error('countTargetBytes: the byte counts are aligned with another token array; pass the validation stream they were loaded with, or a subarray of it')
}

/**
 * Bytes the official metric credits to `targetId` when it follows `prevId`:
 * baseBytes[t] + 1 if t has a leading `▁` and the previous token is not a boundary.
 * A table of stream counts has no per-id answer: use `countTargetBytes`.
 */
export function targetBytes(table: StreamByteTable, prevId: number, targetId: number): number {
  if (table.stream || table.sidecars) throw new Error('targetBytes: this dataset counts bytes per stream position (byte sidecars); use countTargetBytes')
  return table.baseBytes[targetId] + (table.hasLeadingSpace[targetId] && !table.isBoundary[prevId] ? 1 : 0)
}

/**
 * The bytes of the targets tokens[start..end) (a sequence's targets are tokens[1..], each
 * predicted from its left): Σ `targetBytes(tokens[i-1], tokens[i])` by the table, or, for a
 * table bound to a stream (`withStreamBytes`), Σ of the stream's counts at those positions.
 */
export function countTargetBytes(
  table: StreamByteTable,
  tokens: ArrayLike<number>,
  start = 1,
  end: number = tokens.length,
): number {
  if (start < 1) throw new RangeError(`countTargetBytes: start must be ≥ 1 (a target needs a previous token), got ${start}`)
  if (end > tokens.length) throw new RangeError(`countTargetBytes: end ${end} is past the ${tokens.length} tokens`)
  const { stream, sidecars } = table
  if (stream) {
    const at = streamOffset(stream.tokens, tokens)
    const bytes = stream.bytes
    let sum = 0
    for (let i = at + start; i < at + end; i++) sum += bytes[i]
    return sum
  }
  if (sidecars) {
    throw new Error(`countTargetBytes: the dataset's validation bytes are in its byte sidecars (${sidecars.length} file(s)); count with the byte table loadValidationSlice returns`)
  }
  const { baseBytes, hasLeadingSpace, isBoundary } = table
  let sum = 0
  for (let i = start; i < end; i++) {
    const t = tokens[i]
    sum += baseBytes[t] + (hasLeadingSpace[t] && !isBoundary[tokens[i - 1]] ? 1 : 0)
  }
  return sum
}

/** (val_loss / ln 2) × (tokens / bytes). */
export function bitsPerByte(valLossNats: number, tokens: number, bytes: number): number {
  if (!(bytes > 0)) throw new Error(`bitsPerByte: byte count must be positive, got ${bytes}`)
  return (valLossNats / Math.LN2) * (tokens / bytes)
}

export interface BpbResult {
  /** Mean cross-entropy per target token, nats. */
  val_loss: number
  val_bpb: number
  tokens: number
  bytes: number
}

/** Float64 sums of loss, target tokens and target bytes over evaluation batches. */
export class BpbAccumulator {
  private lossSum = 0
  private tokenSum = 0
  private byteSum = 0

  /** `lossSumNats`: the summed (not mean) cross-entropy of `targetTokens` targets. */
  add(lossSumNats: number, targetTokens: number, targetBytes: number): void {
    this.lossSum += lossSumNats
    this.tokenSum += targetTokens
    this.byteSum += targetBytes
  }

  get tokens(): number {
    return this.tokenSum
  }

  get bytes(): number {
    return this.byteSum
  }

  get lossSumNats(): number {
    return this.lossSum
  }

  result(): BpbResult {
    if (!(this.byteSum > 0)) throw new Error(`BpbAccumulator: no target bytes counted (tokens ${this.tokenSum})`)
    const val_loss = this.lossSum / this.tokenSum
    return { val_loss, val_bpb: bitsPerByte(val_loss, this.tokenSum, this.byteSum), tokens: this.tokenSum, bytes: this.byteSum }
  }
}
