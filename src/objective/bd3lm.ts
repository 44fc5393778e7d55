/**
 * BD3-LM: block diffusion language models (Arriola et al. 2025, "Block Diffusion:
 * Interpolating Between Autoregressive and Diffusion Language Models"; reference code
 * kuleshov-group/bd3lms).
 *
 * The sequence is cut into blocks of `block_size` tokens; the likelihood factorises
 * autoregressively over blocks and each block is a masked diffusion given the clean blocks
 * before it (eq. 3). Training (§3.2, "vectorized training") runs ONE forward pass over the
 * concatenation [x_t ‖ x_0] (2T tokens) under the block-diffusion attention mask
 * (`blockDiffusionMask` in src/model/attention.ts): noisy block b sees itself and clean blocks < b,
 * the clean copy is block-causal, and only the x_t half is scored. Every block has its own t
 * (antithetic over all blocks of the batch), in the clipped interval `train_interval` when set
 * (§5, clipped schedules lower the variance of training); the loss weight is MDLM's
 * dσ/expm1(σ) = 1/t, so with block_size = T this is MDLM with a clean copy appended. With
 * `train_estimator: count` a block draws its number of masked tokens instead (weight b/n, see
 * drawCountMask): the same NELBO with bounded weights, and block size 1 is then the AR loss.
 *
 * Shifted (`objective.shift`): both halves hold the row's inputs as an AR model reads them (the
 * token before the row, then the targets but the last); in the x_t half a block's first input is
 * the previous block's last target, clean, and its other inputs are its own targets but the last,
 * masked or not (`noisyInputs`). Block size 1 is then exactly the AR model.
 *
 * `clean_gradient: false` trains with the x_0 half detached (see ObjectiveConfig): the same
 * loss, a cheaper step.
 */
import type {AttentionLayout} from '../model/attention.js'
import type {TokenBatch} from './batch.js'
import {beforeTokens, chunkRows, cleanInputs, drawTrainingNoise, noisyInputs} from './mdlm.js'
import type {DiffusionObjective, ObjectiveConfig} from './types.js'

/** Rows of [x_t ‖ x_0]: (B, 2T) from x_t (B, T) and x_0 (B, T). */
export function concatNoisyClean(xt: Int32Array, x0: ArrayLike<number>, B: number, T: number): Int32Array {
  const out = new Int32Array(2 * B * T)
  for (let r = 0; r < B; r++) {
    for (let i = 0; i < T; i++) {
      out[r * 2 * T + i] = xt[r * T + i]
      out[r * 2 * T + T + i] = x0[r * T + i]
    }
  }
  return out
}

/** BD3-LM with blocks of `config.block_size` for a model with `modelVocab` ids ([MASK] = the last). */
export function bd3lmObjective(config: ObjectiveConfig, modelVocab: number): DiffusionObjective {
  const maskId = modelVocab - 1
  const bs = config.block_size
  if (bs === null || !Number.isInteger(bs) || bs < 1) throw new Error(`bd3lm needs objective.block_size, a positive integer, got ${bs}`)
  const layout: AttentionLayout = {kind: 'block-diffusion', block: bs}
  // training may detach the clean half (objective.clean_gradient: false); scoring never needs to
  const trainLayout: AttentionLayout = config.clean_gradient === false ? {...layout, cleanGradient: false} : layout
  const checkT = (T: number) => {
    if (T % bs !== 0) throw new Error(`bd3lm: block size ${bs} must divide the sequence length ${T}`)
  }
  const shift = config.shift === true
  const batch = (x0: Int32Array, masked: Uint8Array, weights: Float32Array | null, B: number, T: number, before: Int32Array | null, attention = layout): TokenBatch => ({
    B,
    T: 2 * T,
    inputs: concatNoisyClean(noisyInputs(x0, masked, B, T, bs, maskId, before), cleanInputs(x0, B, T, before), B, T),
    targets: x0,
    weights,
    attention,
    suppress: maskId,
  })
  return {
    config,
    diffusion: true,
    maskId,
    contextTokens: shift ? 1 : 0,
    chunkTokens: (B, T) => B * T + (shift ? 1 : 0),
    blockSize: () => bs,
    trainBatch(chunk, B, T, rand): TokenBatch {
      checkT(T)
      const {x0, before} = chunkRows(chunk, B, T, shift, 'bd3lm')
      const {masked, weights} = drawTrainingNoise(config, B * T, bs, rand) // one t (or count) per block, over every block of the batch
      return batch(x0, masked, weights, B, T, before, trainLayout)
    },
    denoiseBatch(x0, masked, B, T, before): TokenBatch {
      checkT(T)
      return batch(Int32Array.from(x0.subarray(0, B * T)), masked, null, B, T, beforeTokens(shift, before, B))
    },
  }
}
