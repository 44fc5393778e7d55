/**
 * The diffusion bound: the negative ELBO of a masked or block diffusion model on validation
 * windows, in nats per target token and bits per byte of the official table. An UPPER BOUND on
 * the model's negative log-likelihood, never a likelihood.
 *
 * The process scored is the absorbing process with α_t = 1 − t (every token masked at t = 1,
 * none at t = 0), so the bound has no prior and no reconstruction term. With T denoising steps
 * on the grid t_i = i/T the discrete-time NELBO of a block of tokens x (MDLM §3.2.3; a BD3-LM
 * block, given the clean blocks before it, Arriola et al. eq. 8) is
 *   NELBO_T(x) = Σ_{i=1..T} (α_{i−1} − α_i)/(1 − α_i) · E_{x_{t_i}} Σ_{ℓ masked} −log p_θ(x^ℓ | x_{t_i})
 *              = Σ_{i=1..T} (1/i) · E_{x_{t_i}} Σ_{ℓ masked} −log p_θ(x^ℓ | x_{t_i}),
 * exact for the SUBS parameterization (the reverse step unmasks a token with probability
 * (α_s − α_t)/(1 − α_t) and never re-masks). T → ∞ gives the continuous-time NELBO
 * ∫_0^1 (1/t) E Σ_masked −log p dt (MDLM eq. 10), which it bounds from above. The bound of a
 * window is the sum over its blocks (MDLM: one block, the whole window).
 *
 * Two estimators:
 * - `mc` (default): per block one time, stratified over every block of the evaluation
 *   (antithetic, as the reference's `_sample_t`), snapped up to the grid t_i = ⌈tT⌉/T; each
 *   token masked with probability t_i; the estimate (1/t_i)·Σ_masked nll is unbiased for
 *   NELBO_T (its weight is at most T). For T = ∞ that estimator has infinite variance (a token
 *   masked with probability t weighs 1/t: E[w²] = ∫dt/t), so continuous time is estimated
 *   through the identity NELBO_∞ = Σ_{n=1..b} (1/n)·E_{|M|=n} Σ_{ℓ∈M} nll (a block of b
 *   tokens; B(n, b−n+1)·C(b, n) = 1/n): draw the number of masked tokens n uniformly
 *   (stratified) and a uniform subset of that size, estimate (b/n)·Σ_masked nll, whose weight is
 *   at most b. Seeded: the same seed gives the same number on every backend that computes the
 *   same logits, whatever the batch size.
 * - `exact`: the expectation over masks computed by enumeration, for blocks of at most
 *   EXACT_MAX_BLOCK tokens: one forward per mask pattern P (every block masked by P at once:
 *   blocks are independent given x_0), weighted by Σ_i (1/i)·t_i^|P|·(1 − t_i)^(b−|P|) (or the
 *   Beta integral B(|P|, b − |P| + 1) for T = ∞). No Monte-Carlo error.
 */
import type {DiffusionObjective} from '../objective/types.js'
import type {ByteTable} from '../tokenizer/types.js'
import {maskUniformSubset} from '../objective/schedule.js'
import {mulberry32, namedRandom, permutation} from '../util/random.js'
import {diffusionResult, diffusionWindows, scoreRows, type DenoiseRow, type DenoisingScorer, type DiffusionEvalResult} from './denoise.js'


/** Largest block the exact estimator enumerates (2^12 forward passes per window). */
export const EXACT_MAX_BLOCK = 12

export interface ElboOptions {
  seqLen: number
  batchSeqs: number
  /** Denoising steps T of the discrete-time bound; 0 = the continuous-time limit. */
  steps: number
  /** Monte-Carlo draws per window (mc only). */
  samples?: number
  seed?: number
  estimator?: 'mc' | 'exact'
  onProgress?: (done: number, total: number) => void
}

/** Σ_{i=1..T} (1/i)·t_i^n·(1 − t_i)^(b−n), t_i = i/T; T = 0: B(n, b − n + 1). n ≥ 1. */
export function exactPatternWeight(n: number, b: number, steps: number): number {
  if (n < 1) return 0
  if (steps === 0) {
    // B(n, m) = (n−1)!(m−1)!/(n+m−1)! with m = b − n + 1, as a product to stay in range
    let w = 1 / n
    for (let k = 1; k <= b - n; k++) w *= k / (n + k)
    return w
  }
  let w = 0
  for (let i = 1; i <= steps; i++) {
    const t = i / steps
    w += (1 / i) * Math.pow(t, n) * Math.pow(1 - t, b - n)
  }
  return w
}

function* mcRows(count: number, T: number, bs: number, K: number, steps: number, seed: number): Generator<DenoiseRow> {
  const nBlocks = T / bs
  const G = count * K * nBlocks
  const rand = mulberry32(seed)
  const u0 = rand()
  const perm = permutation(G, rand) // which stratum each draw gets
  for (let w = 0; w < count; w++) {
    for (let k = 0; k < K; k++) {
      const maskRand = namedRandom(seed, `elbo:${w}:${k}`)
      const masked = new Uint8Array(T)
      const coef = new Float64Array(T)
      for (let j = 0; j < nBlocks; j++) {
        const g = (w * K + k) * nBlocks + j
        const s = (u0 + perm[g]) / G // [0, 1), one stratum of width 1/G each
        if (steps > 0) {
          const t = Math.ceil((1 - s) * steps) / steps // the grid time t_i ∈ {1/T, …, 1}
          for (let l = j * bs; l < (j + 1) * bs; l++) {
            if (maskRand() < t) {
              masked[l] = 1
              coef[l] = 1 / t
            }
          }
        } else {
          // continuous time: n masked tokens, n uniform on 1..b, a uniform subset of that size
          const n = 1 + Math.floor(s * bs)
          maskUniformSubset(masked, coef, j * bs, bs, n, bs / n, maskRand)
        }
      }
      yield {window: w, slot: k, masked, coef}
    }
  }
}

function* exactRows(count: number, T: number, bs: number, steps: number): Generator<DenoiseRow> {
  const weights = Array.from({length: bs + 1}, (_, n) => exactPatternWeight(n, bs, steps))
  for (let w = 0; w < count; w++) {
    for (let P = 1; P < 1 << bs; P++) {
      const masked = new Uint8Array(T)
      const coef = new Float64Array(T)
      let n = 0
      for (let l = 0; l < bs; l++) if (P & (1 << l)) n++
      for (let l = 0; l < T; l++) {
        if (P & (1 << (l % bs))) {
          masked[l] = 1
          coef[l] = weights[n]
        }
      }
      yield {window: w, slot: 0, masked, coef}
    }
  }
}

/** The negative ELBO of `scorer` on the validation windows (see the module doc). */
export function evaluateElbo(scorer: DenoisingScorer, objective: DiffusionObjective, tokens: Uint16Array, table: ByteTable, opts: ElboOptions): DiffusionEvalResult {
  const T = opts.seqLen
  const w = diffusionWindows(tokens, T)
  const bs = objective.blockSize(T)
  const estimator = opts.estimator ?? 'mc'
  const seed = opts.seed ?? 0
  const K = estimator === 'exact' ? 1 : Math.max(1, opts.samples ?? 1)
  if (!Number.isInteger(opts.steps) || opts.steps < 0) throw new Error(`ELBO steps must be an integer >= 0 (0 = continuous time), got ${opts.steps}`)
  if (estimator === 'exact' && bs > EXACT_MAX_BLOCK) throw new Error(`the exact ELBO enumerates 2^${bs} mask patterns per window; it is for blocks of at most ${EXACT_MAX_BLOCK} tokens (use the Monte-Carlo estimator)`)
  const rows = estimator === 'exact' ? exactRows(w.count, T, bs, opts.steps) : mcRows(w.count, T, bs, K, opts.steps, seed)
  const totalRows = w.count * (estimator === 'exact' ? (1 << bs) - 1 : K)
  const sums = scoreRows(scorer, objective, w, rows, {batchSeqs: opts.batchSeqs, slots: K, totalRows, onProgress: opts.onProgress})

  // per-window estimates (mean over draws), their total, and the Monte-Carlo error of the total
  let total = 0
  let within = 0
  const perWindow = new Float64Array(w.count)
  for (let i = 0; i < w.count; i++) {
    let mean = 0
    for (let k = 0; k < K; k++) mean += sums[i * K + k] / K
    perWindow[i] = mean
    total += mean
    if (K > 1) {
      let ss = 0
      for (let k = 0; k < K; k++) ss += (sums[i * K + k] - mean) ** 2
      within += ss / (K - 1) / K // variance of the window's mean
    }
  }
  let seTotal = 0
  let seMethod: DiffusionEvalResult['se_method'] = 'none'
  if (estimator === 'mc' && K > 1) {
    seTotal = Math.sqrt(within)
    seMethod = 'within-window'
  } else if (estimator === 'mc' && w.count > 1) {
    // one draw per window: the spread between windows includes the texts' own differences, so
    // this overstates the Monte-Carlo error (a conservative figure)
    const mean = total / w.count
    let ss = 0
    for (const e of perWindow) ss += (e - mean) ** 2
    seTotal = Math.sqrt((ss / (w.count - 1)) * w.count)
    seMethod = 'between-window'
  }
  return diffusionResult(table, w, total, seTotal, {mode: 'elbo', bound: true, block_size: bs, elbo_steps: opts.steps, estimator, samples: K, seed, se_method: seMethod})
}
