/**
 * Validation scoring: val_loss (mean next-token cross-entropy in nats) and val_bpb over a token
 * stream, two ways.
 *
 * - `chunked` is the official evaluation: the stream is cut into non-overlapping windows of T
 *   tokens, x = tokens[iT .. iT+T), y = tokens[iT+1 .. iT+T+1), for i < floor((N−1)/T); every
 *   target is scored once, with the context its window gives it (0 to T−1 tokens).
 * - `sliding` scores every target of the stream with a long left context: windows of T tokens
 *   start every `stride` tokens; the first window scores all its targets, each later one only
 *   its last `stride` (the ones no earlier window scored); a final window aligned to the end of
 *   the stream scores the remainder. Every target except those of the first window sees at
 *   least T − stride tokens of context. GOLF.md: lowers BPB by ~0.02–0.03 at T = 1024.
 *
 * Bytes come from the official table through `metric/bpb.ts` (the previous token of a target is
 * the token before it in the stream), or from the dataset's byte sidecars when the table is bound
 * to them (CaseOps; src/data/stream.ts), and sums are float64 on the host.
 */
import * as tf from '@tensorflow/tfjs-core'

import {BpbAccumulator, countTargetBytes, type BpbResult} from '../metric/bpb.js'
import type {ByteTable} from '../tokenizer/types.js'

/** What evaluation needs from a model: per-position next-token losses for (B, T) int32 inputs. */
export interface ScoringModel {
  lossPerToken(inputs: tf.Tensor2D, targets: tf.Tensor2D): tf.Tensor2D
}

export interface EvalOptions {
  seqLen: number
  /** Windows per forward pass. */
  batchSeqs: number
  /** Called after each batch with the number of targets scored so far and the total. */
  onProgress?: (done: number, total: number) => void
}

export interface EvalResult extends BpbResult {
  mode: 'chunked' | 'sliding'
  seq_len: number
  stride: number | null
}

/** One window: inputs start at `start`; targets at stream positions start+1 .. start+T; score those ≥ `scoreFrom`. */
export interface Window {
  start: number
  scoreFrom: number
}

function chunkedWindows(n: number, T: number): Window[] {
  const count = Math.floor((n - 1) / T)
  return Array.from({length: count}, (_, i) => ({start: i * T, scoreFrom: i * T + 1}))
}

function slidingWindows(n: number, T: number, stride: number): Window[] {
  const last = n - 1 // last target position
  if (last < T) return []
  const out: Window[] = []
  let scoredUpTo = 0 // target positions ≤ scoredUpTo are done
  for (let s = 0; scoredUpTo < last; s += stride) {
    const start = Math.min(s, last - T) // the final window is aligned to the end of the stream
    out.push({start, scoreFrom: scoredUpTo + 1})
    scoredUpTo = start + T
  }
  return out
}

/**
 * The losses (B·T) of a batch of B windows of T tokens, inputs x and targets y (B, T) row-major:
 * loss[i·T + t] is the nll of target t of window i. Offsets before `context` (every window's
 * first scored target offset, when the batches keep one per batch) are not read.
 */
export type WindowScorer = (x: Int32Array, y: Int32Array, B: number, context: number) => Float32Array

/** A model's full forward pass as a WindowScorer: every target of every window. */
function forwardScorer(model: ScoringModel, T: number): WindowScorer {
  return (x, y, B) => {
    const nll = tf.tidy(() => model.lossPerToken(tf.tensor2d(x, [B, T], 'int32'), tf.tensor2d(y, [B, T], 'int32')))
    const losses = nll.dataSync() as Float32Array
    nll.dispose()
    return losses
  }
}

/** Context tokens of a window: inputs before its first scored target's. */
function contextOf(w: Window): number {
  return w.scoreFrom - 1 - w.start
}

/**
 * Batches of at most batchSeqs consecutive windows; `sameContext`: a batch also never mixes
 * windows of different context lengths (a KV cache holds one length for all its rows).
 */
function batchesOf(windows: Window[], batchSeqs: number, sameContext: boolean): Window[][] {
  const out: Window[][] = []
  for (const w of windows) {
    const last = out.at(-1)
    if (last && last.length < batchSeqs && (!sameContext || contextOf(last[0]) === contextOf(w))) last.push(w)
    else out.push([w])
  }
  return out
}

/** Score windows in batches; losses summed in float64, bytes by the official table. */
function scoreWindows(score: WindowScorer, tokens: Uint16Array, table: ByteTable, windows: Window[], opts: EvalOptions, sameContext = false): BpbResult {
  const T = opts.seqLen
  const acc = new BpbAccumulator()
  const total = windows.reduce((a, w) => a + (w.start + T - w.scoreFrom + 1), 0)
  let done = 0
  for (const batch of batchesOf(windows, opts.batchSeqs, sameContext)) {
    const B = batch.length
    const x = new Int32Array(B * T)
    const y = new Int32Array(B * T)
    batch.forEach((w, i) => {
      for (let t = 0; t < T; t++) {
        x[i * T + t] = tokens[w.start + t]
        y[i * T + t] = tokens[w.start + t + 1]
      }
    })
    const losses = score(x, y, B, contextOf(batch[0]))
    batch.forEach((w, i) => {
      // target at stream position p sits at window offset p - start - 1
      let lossSum = 0
      for (let p = w.scoreFrom; p <= w.start + T; p++) lossSum += losses[i * T + (p - w.start - 1)]
      const n = w.start + T - w.scoreFrom + 1
      acc.add(lossSum, n, countTargetBytes(table, tokens, w.scoreFrom, w.start + T + 1))
      done += n
    })
    opts.onProgress?.(done, total)
  }
  return acc.result()
}

/** The official non-overlapping evaluation. */
export function evaluateChunked(model: ScoringModel, tokens: Uint16Array, table: ByteTable, opts: EvalOptions): EvalResult {
  if (tokens.length < opts.seqLen + 1) throw new Error(`evaluation needs at least seq_len + 1 = ${opts.seqLen + 1} validation tokens, got ${tokens.length}`)
  return {...scoreWindows(forwardScorer(model, opts.seqLen), tokens, table, chunkedWindows(tokens.length, opts.seqLen), opts), mode: 'chunked', seq_len: opts.seqLen, stride: null}
}

/** Sliding-window evaluation with the given stride (1 ≤ stride ≤ seq_len). */
export function evaluateSliding(model: ScoringModel, tokens: Uint16Array, table: ByteTable, opts: EvalOptions & {stride: number}): EvalResult {
  return scoreSliding(forwardScorer(model, opts.seqLen), tokens, table, opts, false)
}

/**
 * The sliding-window windows scored by `score`: the bookkeeping of evaluateSliding, shared by
 * the KV-cached evaluator (src/eval/kv-sliding.ts), which asks for `sameContext` batches.
 */
export function scoreSliding(score: WindowScorer, tokens: Uint16Array, table: ByteTable, opts: EvalOptions & {stride: number}, sameContext: boolean): EvalResult {
  if (!(opts.stride >= 1 && opts.stride <= opts.seqLen)) throw new Error(`sliding stride must be in [1, ${opts.seqLen}], got ${opts.stride}`)
  if (tokens.length < opts.seqLen + 1) throw new Error(`evaluation needs at least seq_len + 1 = ${opts.seqLen + 1} validation tokens, got ${tokens.length}`)
  return {
    ...scoreWindows(score, tokens, table, slidingWindows(tokens.length, opts.seqLen, opts.stride), opts, sameContext),
    mode: 'sliding',
    seq_len: opts.seqLen,
    stride: opts.stride,
  }
}

export const _internal = {chunkedWindows, slidingWindows}
