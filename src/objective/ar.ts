/**
 * Autoregressive next-token objective over a (B·T + 1)-token chunk laid out as the official
 * loader does: x = chunk[:-1].view(B, T), y = chunk[1:].view(B, T).
 *
 * Next wave (MDLM / block diffusion) sits beside this file and needs from the model only
 * `forward(tokens, {causal: false})` (bidirectional attention) and a mask token id inside
 * `vocab_size` (the embedding may be larger than the data vocabulary).
 */
import * as tf from '@tensorflow/tfjs-core'

import type {GPT} from '../model/gpt.js'

/** Inputs and targets (B, T) int32 from B·T + 1 consecutive tokens. */
export function arBatch(chunk: Uint16Array | Int32Array, B: number, T: number): {inputs: tf.Tensor2D; targets: tf.Tensor2D} {
  const n = B * T
  if (chunk.length < n + 1) throw new Error(`arBatch: need ${n + 1} tokens for B=${B}, T=${T}, got ${chunk.length}`)
  const x = new Int32Array(n)
  const y = new Int32Array(n)
  for (let i = 0; i < n; i++) {
    x[i] = chunk[i]
    y[i] = chunk[i + 1]
  }
  return {inputs: tf.tensor2d(x, [B, T], 'int32'), targets: tf.tensor2d(y, [B, T], 'int32')}
}

/** Mean next-token cross-entropy (nats) of the model on the chunk (+ optional z-loss). */
export function arLoss(model: GPT, batchTokens: Uint16Array | Int32Array, B: number, T: number, opts: {zLoss?: number} = {}): tf.Scalar {
  return tf.tidy(() => {
    const {inputs, targets} = arBatch(batchTokens, B, T)
    return model.loss(inputs, targets, {zLoss: opts.zLoss})
  })
}
