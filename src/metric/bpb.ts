/**
 * Bits per byte, the challenge's score, as `eval_val` in the official `train_gpt.py` computes
 * it: val_loss = mean next-token cross-entropy in nats; val_bpb = (val_loss / ln 2) ×
 * (target tokens / target bytes), every sum in float64. Target bytes come from the official
 * byte table (see `ByteTable`). Pure arithmetic: no tfjs, no tokenizer code.
 */
import type { ByteTable } from '../tokenizer/types.js'

/**
 * Bytes the official metric credits to `targetId` when it follows `prevId`:
 * baseBytes[t] + 1 if t has a leading `▁` and the previous token is not a boundary.
 */
export function targetBytes(table: ByteTable, prevId: number, targetId: number): number {
  return table.baseBytes[targetId] + (table.hasLeadingSpace[targetId] && !table.isBoundary[prevId] ? 1 : 0)
}

/**
 * Sum of `targetBytes(tokens[i-1], tokens[i])` for i in [start, end): the bytes of the targets
 * tokens[start..end) (a sequence's targets are tokens[1..], each predicted from its left).
 */
export function countTargetBytes(
  table: ByteTable,
  tokens: ArrayLike<number>,
  start = 1,
  end: number = tokens.length,
): number {
  if (start < 1) throw new RangeError(`countTargetBytes: start must be ≥ 1 (a target needs a previous token), got ${start}`)
  if (end > tokens.length) throw new RangeError(`countTargetBytes: end ${end} is past the ${tokens.length} tokens`)
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
