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
 */
import {BIDIRECTIONAL} from '../model/gpt.js'
import type {TokenBatch} from './batch.js'
import {antitheticTimes, lossWeight, maskProbability} from './schedule.js'
import type {DiffusionObjective, ObjectiveConfig} from './types.js'

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

/** The training interval of t: the clipped one when set, else [sampling_eps, 1]. */
export function trainInterval(cfg: ObjectiveConfig): [number, number] {
  return cfg.train_interval ?? [cfg.sampling_eps, 1]
}

/** MDLM for a model with `modelVocab` ids ([MASK] = the last). */
export function mdlmObjective(config: ObjectiveConfig, modelVocab: number): DiffusionObjective {
  const maskId = modelVocab - 1
  return {
    config,
    diffusion: true,
    maskId,
    chunkTokens: (B, T) => B * T,
    blockSize: (T) => T,
    trainBatch(chunk, B, T, rand): TokenBatch {
      const n = B * T
      if (chunk.length < n) throw new Error(`mdlm batch: need ${n} tokens for B=${B}, T=${T}, got ${chunk.length}`)
      const [lo, hi] = trainInterval(config)
      const times = antitheticTimes(B, rand, lo, hi) // one t per sequence
      const {masked, weights} = drawMask(n, (i) => times[Math.floor(i / T)], config, rand)
      const x0 = chunk.subarray(0, n)
      return {B, T, inputs: applyMask(x0, masked, maskId), targets: Int32Array.from(x0), weights, attention: BIDIRECTIONAL, suppress: maskId}
    },
    denoiseBatch(x0, masked, B, T): TokenBatch {
      return {B, T, inputs: applyMask(x0, masked, maskId), targets: Int32Array.from(x0), weights: null, attention: BIDIRECTIONAL, suppress: maskId}
    },
  }
}
