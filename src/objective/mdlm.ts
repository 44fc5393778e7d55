/**
 * MDLM: masked diffusion language models (Sahoo et al. 2024, "Simple and Effective Masked
 * Diffusion Language Models"; reference code kuleshov-group/mdlm, `diffusion.py`).
 *
 * Forward process (§3.1): every token of x_0 independently becomes [MASK] with probability
 * 1 − α_t (log-linear schedule, src/objective/schedule.ts). The network sees x_t with
 * bidirectional attention and predicts x_0 at every position under the SUBS parameterization
 * (§3.2.1): the [MASK] logit is −∞ (zero masking probability) and visible tokens are carried
 * over (they contribute nothing to the loss). Training minimises the continuous-time NELBO
 * (eq. 10):
 *   L = E_t E_{x_t} [ (−α'_t / (1 − α_t)) Σ_{ℓ: x_t^ℓ = [MASK]} −log p_θ(x_0^ℓ | x_t) ]
 * with one antithetic t per sequence (`_sample_t`), averaged over all B·T positions as the
 * reference does. Time conditioning is off, as the reference's default.
 *
 * Shifted (`objective.shift`, see ObjectiveConfig): a row of T targets is read as an AR model
 * reads it, the clean stream token before the row then the targets but the last, each masked or
 * not; output j predicts target j. Rows then take B·T + 1 stream tokens, as AR's do.
 */
import {BIDIRECTIONAL} from '../model/attention.js'
import type {TokenBatch} from './batch.js'
import {permutation} from '../util/random.js'
import {antitheticTimes, lossWeight, maskProbability, maskUniformSubset} from './schedule.js'
import type {DiffusionObjective, ObjectiveConfig} from './types.js'

/**
 * The model input of noisy rows (B, T) of targets x0 under `masked`, blocks of `bs` targets:
 * unshifted, x_t itself (input j = target j); shifted, input j = target j − 1 (hidden when
 * masked), except at the start of a block, where it is clean: the token before row r
 * (`before[r]`) or the last target of the previous block, which block diffusion conditions on.
 */
export function noisyInputs(x0: ArrayLike<number>, masked: Uint8Array, B: number, T: number, bs: number, maskId: number, before: ArrayLike<number> | null): Int32Array {
  if (before === null) return applyMask(x0, masked, maskId)
  if (before.length < B) throw new Error(`shifted rows: need the token before each of ${B} rows, got ${before.length}`)
  const out = new Int32Array(B * T)
  for (let r = 0; r < B; r++) {
    const o = r * T
    out[o] = before[r]
    for (let j = 1; j < T; j++) out[o + j] = j % bs !== 0 && masked[o + j - 1] ? maskId : x0[o + j - 1]
  }
  return out
}

/** The clean inputs of rows (B, T) of targets x0: x0 itself, or shifted [before[r], x0[r][0..T−2]]. */
export function cleanInputs(x0: ArrayLike<number>, B: number, T: number, before: ArrayLike<number> | null): Int32Array {
  return noisyInputs(x0, new Uint8Array(B * T), B, T, T, 0, before)
}

/**
 * The targets (B, T) of a training chunk and, shifted, the token before each row: unshifted,
 * rows are chunk[rT, rT + T); shifted, targets chunk[rT + 1, rT + T] after chunk[rT] (B·T + 1
 * tokens, the AR layout).
 */
export function chunkRows(chunk: Uint16Array, B: number, T: number, shift: boolean, what: string): {x0: Int32Array; before: Int32Array | null} {
  const need = B * T + (shift ? 1 : 0)
  if (chunk.length < need) throw new Error(`${what} batch: need ${need} tokens for B=${B}, T=${T}, got ${chunk.length}`)
  if (!shift) return {x0: Int32Array.from(chunk.subarray(0, B * T)), before: null}
  const before = new Int32Array(B)
  for (let r = 0; r < B; r++) before[r] = chunk[r * T]
  return {x0: Int32Array.from(chunk.subarray(1, B * T + 1)), before}
}

/** The `before` tokens a shifted objective needs (their count is checked by noisyInputs); null when unshifted. */
export function beforeTokens(shift: boolean, before: Int32Array | null | undefined, B: number): Int32Array | null {
  if (!shift) return null
  if (!before) throw new Error(`a shifted diffusion objective needs the stream token before each of its ${B} rows`)
  return before
}

/** x_t: ids of x0 with `masked` positions replaced by maskId. */
export function applyMask(x0: ArrayLike<number>, masked: Uint8Array, maskId: number): Int32Array {
  const out = new Int32Array(x0.length)
  for (let i = 0; i < out.length; i++) out[i] = masked[i] ? maskId : x0[i]
  return out
}

/**
 * Noise for n positions, position i at time `timeOf(i)`: masked with probability 1 − α_t, and
 * the NELBO weight of each position (dσ/expm1(σ) where masked, 0 where visible: SUBS carries
 * visible tokens over).
 */
export function drawMask(n: number, timeOf: (i: number) => number, cfg: ObjectiveConfig, rand: () => number): {masked: Uint8Array; weights: Float32Array} {
  const masked = new Uint8Array(n)
  const weights = new Float32Array(n)
  const s = {eps: cfg.noise_eps}
  for (let i = 0; i < n; i++) {
    const t = timeOf(i)
    if (rand() < maskProbability(s, t)) {
      masked[i] = 1
      weights[i] = lossWeight(s, t)
    }
  }
  return {masked, weights}
}

/**
 * The `count` estimator's noise for `blocks` blocks of `bs` consecutive positions: block k masks
 * n_k tokens, a uniform subset of its bs, each weighted bs/n_k (see ObjectiveConfig.train_estimator).
 * The n_k are stratified over the blocks as the ELBO's draws are (src/eval/elbo.ts): one offset
 * u, then block k takes stratum π(k) of a uniform permutation π, s_k = (u + π(k))/blocks and
 * n_k = 1 + ⌊bs·s_k⌋, so every n in 1..bs comes equally often (up to one) and a block's place in
 * the batch says nothing about its n. Draws: u, π, then each block's subset.
 */
export function drawCountMask(blocks: number, bs: number, rand: () => number): {masked: Uint8Array; weights: Float32Array} {
  const u = rand()
  const strata = permutation(blocks, rand)
  const masked = new Uint8Array(blocks * bs)
  const weights = new Float32Array(blocks * bs)
  for (let k = 0; k < blocks; k++) {
    const n = 1 + Math.floor((bs * (u + strata[k])) / blocks)
    maskUniformSubset(masked, weights, k * bs, bs, n, bs / n, rand)
  }
  return {masked, weights}
}

/**
 * The training noise of B·T positions in blocks of `bs` (one time, or one count, per block) under
 * the objective's estimator: `time` draws antithetic times over the blocks (in the clipped
 * interval when set) and masks each token with probability 1 − α_t; `count` draws the number of
 * masked tokens per block (drawCountMask).
 */
export function drawTrainingNoise(cfg: ObjectiveConfig, positions: number, bs: number, rand: () => number): {masked: Uint8Array; weights: Float32Array} {
  const blocks = positions / bs
  if (cfg.train_estimator === 'count') return drawCountMask(blocks, bs, rand)
  const [lo, hi] = trainInterval(cfg)
  const times = antitheticTimes(blocks, rand, lo, hi)
  return drawMask(positions, (i) => times[Math.floor(i / bs)], cfg, rand)
}

/** The training interval of t: the clipped one when set, else [sampling_eps, 1]. */
export function trainInterval(cfg: ObjectiveConfig): [number, number] {
  return cfg.train_interval ?? [cfg.sampling_eps, 1]
}

/** MDLM for a model with `modelVocab` ids ([MASK] = the last). */
export function mdlmObjective(config: ObjectiveConfig, modelVocab: number): DiffusionObjective {
  const maskId = modelVocab - 1
  const shift = config.shift === true
  const batch = (x0: Int32Array, masked: Uint8Array, weights: Float32Array | null, B: number, T: number, before: Int32Array | null): TokenBatch => ({
    B,
    T,
    inputs: noisyInputs(x0, masked, B, T, T, maskId, before),
    targets: x0,
    weights,
    attention: BIDIRECTIONAL,
    suppress: maskId,
  })
  return {
    config,
    diffusion: true,
    maskId,
    contextTokens: shift ? 1 : 0,
    chunkTokens: (B, T) => B * T + (shift ? 1 : 0),
    blockSize: (T) => T,
    trainBatch(chunk, B, T, rand): TokenBatch {
      const {x0, before} = chunkRows(chunk, B, T, shift, 'mdlm')
      const {masked, weights} = drawTrainingNoise(config, B * T, T, rand) // one t (or count) per sequence
      return batch(x0, masked, weights, B, T, before)
    },
    denoiseBatch(x0, masked, B, T, before): TokenBatch {
      return batch(Int32Array.from(x0.subarray(0, B * T)), masked, null, B, T, beforeTokens(shift, before, B))
    },
  }
}
