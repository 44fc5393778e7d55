/**
 * A training or scoring batch on the host, in the one shape every objective produces and the
 * model consumes: what the network reads, which tokens it must predict where, how each
 * prediction is weighted, and who attends to whom. Plain typed arrays, so a batch can be cut
 * into row shares and posted to a worker thread as it is.
 *
 *   AR     inputs x = chunk[:-1], targets y = chunk[1:], weights null (plain mean), causal
 *   MDLM   inputs x_t (masked ids), targets x_0, weights 1/t on masked positions, bidirectional
 *   BD3-LM inputs [x_t ‖ x_0], targets x_0, weights 1/t_block on masked positions, block-diffusion
 */
import * as tf from '@tensorflow/tfjs-core'

import {type AttentionLayout} from '../model/attention.js'
import {outputLength, type GPT} from '../model/gpt.js'

export interface TokenBatch {
  /** Rows. */
  B: number
  /** Input tokens per row. */
  T: number
  /** (B, T) int32 model input. */
  inputs: Int32Array
  /** (B, Tout) ids to predict; Tout = T, or T/2 under block diffusion. */
  targets: Int32Array
  /** (B, Tout) weight of each position's cross-entropy in the mean; null = all 1. */
  weights: Float32Array | null
  attention: AttentionLayout
  /** Id whose logit is −∞ (the [MASK] id under SUBS), or null. */
  suppress: number | null
}

/** Output positions per row. */
export function batchOutputs(b: TokenBatch): number {
  return outputLength(b.T, b.attention)
}

/** Rows [r0, r1) of a batch (views, no copies). */
export function sliceRows(b: TokenBatch, r0: number, r1: number): TokenBatch {
  const To = batchOutputs(b)
  return {
    ...b,
    B: r1 - r0,
    inputs: b.inputs.subarray(r0 * b.T, r1 * b.T),
    targets: b.targets.subarray(r0 * To, r1 * To),
    weights: b.weights ? b.weights.subarray(r0 * To, r1 * To) : null,
  }
}

/** The batch's training loss: mean over positions of weight · cross-entropy (+ z-loss). */
export function batchLoss(model: GPT, b: TokenBatch, zLoss = 0): tf.Scalar {
  return tf.tidy(() => {
    const To = batchOutputs(b)
    const inputs = tf.tensor2d(b.inputs, [b.B, b.T], 'int32')
    const targets = tf.tensor2d(b.targets, [b.B, To], 'int32')
    const weights = b.weights ? tf.tensor2d(b.weights, [b.B, To], 'float32') : null
    return model.loss(inputs, targets, {attention: b.attention, suppress: b.suppress, zLoss, weights})
  })
}

/** Cross-entropy (nats) of every output position, (B·Tout) on the host; weights ignored. */
export function batchNll(model: GPT, b: TokenBatch): Float32Array {
  const nll = tf.tidy(() => {
    const To = batchOutputs(b)
    return model.lossPerToken(tf.tensor2d(b.inputs, [b.B, b.T], 'int32'), tf.tensor2d(b.targets, [b.B, To], 'int32'), {attention: b.attention, suppress: b.suppress})
  })
  const out = nll.dataSync() as Float32Array
  nll.dispose()
  return out
}
