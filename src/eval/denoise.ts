/**
 * The machinery the diffusion scores share (src/eval/elbo.ts, src/eval/chain.ts): validation
 * windows, denoising rows and their batched scoring.
 *
 * Windows are the official chunked evaluation's targets: window i holds stream positions
 * [1 + iT, 1 + (i+1)T) for i < floor((N − 1)/T), so an AR model and a diffusion model are
 * scored on exactly the same tokens and bytes (the first token, a BOS, is never a target; a
 * target's bytes depend on the token before it in the stream, as in the official table).
 * A diffusion model scores a window as a clean sequence x_0 without context before it, or, when
 * shifted, with the one stream token before it that the AR evaluation's window reads too.
 *
 * A row is one forward pass over one window with some positions masked; its contribution to
 * the window's score is Σ_ℓ coef_ℓ · (−log p_θ(x_0^ℓ | x_t)) over the output positions. Every
 * estimator (Monte-Carlo ELBO, exact ELBO, chain rule) is a choice of rows and coefficients.
 */
import {bitsPerByte, countTargetBytes, type BpbResult} from '../metric/bpb.js'
import type {GPT} from '../model/gpt.js'
import {batchNll, type TokenBatch} from '../objective/batch.js'
import type {DiffusionObjective} from '../objective/types.js'
import type {ByteTable} from '../tokenizer/types.js'

/** What diffusion evaluation needs of a model: cross-entropy of each output position of a batch. */
export interface DenoisingScorer {
  nll(batch: TokenBatch): Float32Array
}

/** A GPT as a scorer. */
export function gptScorer(model: GPT): DenoisingScorer {
  return {nll: (b) => batchNll(model, b)}
}

export interface Windows {
  T: number
  count: number
  /** Stream position of window i's first token. */
  start(i: number): number
  tokens: Uint16Array
}

export function diffusionWindows(tokens: Uint16Array, T: number): Windows {
  const count = Math.floor((tokens.length - 1) / T)
  if (count < 1) throw new Error(`evaluation needs at least seq_len + 1 = ${T + 1} validation tokens, got ${tokens.length}`)
  return {T, count, start: (i) => 1 + i * T, tokens}
}

/** The result of a diffusion score (ELBO or chain rule). */
export interface DiffusionEvalResult extends BpbResult {
  mode: 'elbo' | 'chain'
  /** True: val_loss / val_bpb are upper bounds on the NLL (ELBO); false: exact likelihoods. */
  bound: boolean
  seq_len: number
  block_size: number
  /** ELBO: denoising steps (0 = continuous time); chain: null. */
  elbo_steps: number | null
  estimator: 'mc' | 'exact' | 'chain'
  samples: number
  seed: number
  /** Monte-Carlo standard error of val_bpb (0 when the estimator has none). */
  val_bpb_se: number
  /** How the standard error was estimated. */
  se_method: 'none' | 'within-window' | 'between-window'
}

/**
 * A diffusion result from the total nats over the windows and its standard error (nats):
 * val_loss per target token, val_bpb by the official byte count, both in float64.
 */
export function diffusionResult(table: ByteTable, w: Windows, totalNats: number, seNats: number, fields: Omit<DiffusionEvalResult, keyof BpbResult | 'seq_len' | 'val_bpb_se'>): DiffusionEvalResult {
  const {tokens, bytes} = windowTotals(table, w)
  const val_loss = totalNats / tokens
  return {val_loss, val_bpb: bitsPerByte(val_loss, tokens, bytes), tokens, bytes, seq_len: w.T, ...fields, val_bpb_se: seNats / Math.LN2 / bytes}
}

/** Target tokens and bytes of the first `count` windows (the official table, or the byte sidecars it is bound to). */
export function windowTotals(table: ByteTable, w: Windows): {tokens: number; bytes: number} {
  const end = 1 + w.count * w.T
  return {tokens: w.count * w.T, bytes: countTargetBytes(table, w.tokens, 1, end)}
}

/**
 * The denoising batch of windows `windows` (one row each) with targets hidden where `masked`
 * (B·T) is 1. A shifted objective also reads the stream token before each window, which exists
 * (windows start at stream position 1) and is the first input of the official chunked
 * evaluation's window too.
 */
export function windowBatch(objective: DiffusionObjective, w: Windows, windows: readonly number[], masked: Uint8Array): TokenBatch {
  const T = w.T
  const B = windows.length
  const x0 = new Int32Array(B * T)
  const before = objective.contextTokens > 0 ? new Int32Array(B) : null
  windows.forEach((win, b) => {
    const s = w.start(win)
    for (let l = 0; l < T; l++) x0[b * T + l] = w.tokens[s + l]
    if (before) before[b] = w.tokens[s - 1]
  })
  return objective.denoiseBatch(x0, masked, B, T, before)
}

/** One forward pass: window `window`, positions with masked[ℓ] = 1 hidden, nll weighted by coef. */
export interface DenoiseRow {
  window: number
  /** Which accumulator (e.g. the Monte-Carlo draw) the contribution goes to. */
  slot: number
  masked: Uint8Array
  coef: Float64Array
}

/**
 * Score rows in batches of `batchSeqs`; returns Σ coef·nll per (window, slot) in float64, as
 * sums[window * slots + slot]. Rows come from a generator so plans of any size stream.
 */
export function scoreRows(
  scorer: DenoisingScorer,
  objective: DiffusionObjective,
  w: Windows,
  rows: Iterable<DenoiseRow>,
  opts: {batchSeqs: number; slots: number; totalRows: number; onProgress?: (done: number, total: number) => void},
): Float64Array {
  const T = w.T
  const sums = new Float64Array(w.count * opts.slots)
  let done = 0
  let batch: DenoiseRow[] = []
  const flush = () => {
    const B = batch.length
    if (B === 0) return
    const masked = new Uint8Array(B * T)
    batch.forEach((r, b) => masked.set(r.masked, b * T))
    const nll = scorer.nll(windowBatch(objective, w, batch.map((r) => r.window), masked))
    batch.forEach((r, b) => {
      let acc = 0
      for (let l = 0; l < T; l++) if (r.coef[l] !== 0) acc += r.coef[l] * nll[b * T + l]
      sums[r.window * opts.slots + r.slot] += acc
    })
    done += B
    opts.onProgress?.(done, opts.totalRows)
    batch = []
  }
  for (const r of rows) {
    batch.push(r)
    if (batch.length === opts.batchSeqs) flush()
  }
  flush()
  return sums
}
