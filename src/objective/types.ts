/**
 * What the trainer, the evaluator and the sampler ask of an objective (they never test its
 * name): how many stream tokens a micro-batch takes, the training batch (with its noise), and
 * for diffusion objectives the denoising view that evaluation and sampling score.
 */
import type {TokenBatch} from './batch.js'

export type ObjectiveKind = 'ar' | 'mdlm' | 'bd3lm'

/**
 * What a diffusion model's reported score is (the recipe's eval.score): its negative ELBO, an
 * upper bound, or its chain-rule likelihood (left-to-right unmasking inside each block).
 */
export const DIFFUSION_SCORES = ['elbo', 'chain'] as const
export type DiffusionScore = (typeof DIFFUSION_SCORES)[number]

/** How a diffusion objective draws its training noise (see ObjectiveConfig.train_estimator). */
export type TrainEstimator = 'time' | 'count'

/** The recipe's `objective` section. */
export interface ObjectiveConfig {
  /** ar: next-token prediction; mdlm: masked diffusion; bd3lm: block diffusion. */
  kind: ObjectiveKind
  /** bd3lm: tokens per block (must divide train.seq_len); null for ar/mdlm. */
  block_size: number | null
  /** ε of the log-linear schedule: 1 − ε of the tokens are masked at t = 1 (MDLM: 1e-3). */
  noise_eps: number
  /** Training times t are drawn in [sampling_eps, 1] (MDLM: 1e-3). */
  sampling_eps: number
  /**
   * Clipped training interval [lo, hi] for t (BD3-LM's variance reduction); null = the full
   * [sampling_eps, 1]. Only training uses it: every reported number uses the full process.
   */
  train_interval: [number, number] | null
  /**
   * How training draws the noise of a block (b tokens: bd3lm's block, mdlm's whole sequence).
   * - `time` (absent = time; the papers'): t ~ U[sampling_eps, 1] (or train_interval), each token
   *   masked with probability 1 − α_t, masked tokens weighted 1/t (MDLM eq. 10).
   * - `count`: the number n of masked tokens uniform in 1..b, a uniform subset of that size,
   *   masked tokens weighted b/n. The same continuous-time NELBO in expectation (for α_t = 1 − t:
   *   NELBO = Σ_n (1/n)·E_{|M|=n} Σ_{ℓ∈M} nll, the identity src/eval/elbo.ts estimates T = ∞
   *   with; the order-agnostic loss of ARDM, Hoogeboom et al. 2022, and of RADD, Ou et al.
   *   2025), but a weight of at most b instead of 1/sampling_eps, and no block drawn with nothing
   *   masked. Block size 1 is then exactly the AR loss. Training only: scores use the full process.
   */
  train_estimator?: TrainEstimator
  /**
   * Diffusion only: predict each target from the position before it, as an autoregressive model
   * does (the "shift operation" of AR-to-diffusion adaptation: Gong et al. 2025, DiffuLLaMA;
   * Ye et al. 2025, Dream 7B). Row r reads the stream token before its first target, clean, and
   * input position j holds target j − 1 (masked or not); output j predicts target j. A visible
   * target then reaches the prediction of the next one through the residual stream, as in an AR
   * model, instead of only through attention: from scratch, unshifted models spend hundreds of
   * steps at the unigram plateau learning that attention (measured in bench:diffusion). The
   * bound is unchanged in kind: every prediction is still a function of x_t (and of the clean
   * token before the row, which the official chunked evaluation gives an AR model too). Absent
   * in runs and artifacts from before it existed, which read as false (the papers' layout).
   */
  shift?: boolean
  /**
   * bd3lm only: false trains with the clean half [x_0] detached. Its forward runs first with
   * nothing recorded, and the noisy half attends to its keys and values as constants. A step
   * then skips the clean half's backward pass (measured: 15% off a step, bench:train's reference
   * shape). The loss is the same
   * number; its gradient leaves out what flows through the clean context's keys and values.
   * Absent = true, the joint pass of the paper. Training only: scores are the same either way.
   */
  clean_gradient?: boolean
}

export const DEFAULT_OBJECTIVE: ObjectiveConfig = {
  kind: 'ar', // the official baseline and every record so far
  block_size: null,
  noise_eps: 1e-3, // the MDLM / BD3-LM reference LogLinearNoise
  sampling_eps: 1e-3, // the reference `sampling_eps`
  train_interval: null,
  // shift absent = false: MDLM and BD3-LM as published (golf's diffusion recipes turn it on);
  // left out so autoregressive recipes and runs resolve exactly as before it existed
}

/**
 * Ids the model embeds for a data vocabulary: diffusion appends one [MASK] id after the data
 * ids (MDLM §3: the mask is an extra category), so [MASK] = dataVocab.
 */
export function modelVocabFor(kind: ObjectiveKind, dataVocab: number): number {
  return kind === 'ar' ? dataVocab : dataVocab + 1
}

/** An objective, bound to a model with a given number of ids (see `objectiveFor`). */
export interface Objective {
  readonly config: ObjectiveConfig
  /** True for diffusion objectives: their scores are upper bounds (NELBO), not likelihoods. */
  readonly diffusion: boolean
  /** Stream tokens one micro-batch of B rows × T takes. */
  chunkTokens(B: number, T: number): number
  /** The training batch of a chunk; `rand` draws its noise (deterministic under a seed). */
  trainBatch(chunk: Uint16Array, B: number, T: number, rand: () => number): TokenBatch
}

/** A diffusion objective: the denoising view that the ELBO, the chain rule and sampling use. */
export interface DiffusionObjective extends Objective {
  readonly diffusion: true
  /** The [MASK] id: the model's last id. */
  readonly maskId: number
  /** Tokens per denoising block at sequence length T (MDLM: the whole sequence). */
  blockSize(T: number): number
  /**
   * Stream tokens before a row's first target that the model reads (clean): 1 when shifted
   * (`config.shift`), else 0.
   */
  readonly contextTokens: 0 | 1
  /**
   * The model input that predicts clean rows x0 (B, T) from their noisy version, where
   * `masked[i]` = 1 hides target x0[i]; targets are x0, weights null. `before[r]` is the stream
   * token before row r's first target (required when contextTokens is 1, else ignored).
   */
  denoiseBatch(x0: Int32Array, masked: Uint8Array, B: number, T: number, before?: Int32Array | null): TokenBatch
}

export function isDiffusion(o: Objective): o is DiffusionObjective {
  return o.diffusion
}
