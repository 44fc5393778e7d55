/**
 * Autoregressive next-token objective over a (B·T + 1)-token chunk laid out as the official
 * loader does: x = chunk[:-1].view(B, T), y = chunk[1:].view(B, T), causal attention, the plain
 * mean of the cross-entropy (the official training loss).
 */
import * as tf from '@tensorflow/tfjs-core'

import {CAUSAL} from '../model/attention.js'
import {type GPT} from '../model/gpt.js'
import {batchLoss, type TokenBatch} from './batch.js'

/** The AR batch of B rows of T tokens from B·T + 1 consecutive tokens. */
export function arTokenBatch(chunk: Uint16Array | Int32Array, B: number, T: number): TokenBatch {
  const n = B * T
  if (chunk.length < n + 1) throw new Error(`arBatch: need ${n + 1} tokens for B=${B}, T=${T}, got ${chunk.length}`)
  const inputs = new Int32Array(n)
  const targets = new Int32Array(n)
  for (let i = 0; i < n; i++) {
    inputs[i] = chunk[i]
    targets[i] = chunk[i + 1]
  }
  return {B, T, inputs, targets, weights: null, attention: CAUSAL, suppress: null}
}

/** Inputs and targets (B, T) int32 from B·T + 1 consecutive tokens. */
export function arBatch(chunk: Uint16Array | Int32Array, B: number, T: number): {inputs: tf.Tensor2D; targets: tf.Tensor2D} {
  const b = arTokenBatch(chunk, B, T)
  return {inputs: tf.tensor2d(b.inputs, [B, T], 'int32'), targets: tf.tensor2d(b.targets, [B, T], 'int32')}
}

/** Mean next-token cross-entropy (nats) of the model on the chunk (+ optional z-loss). */
export function arLoss(model: GPT, batchTokens: Uint16Array | Int32Array, B: number, T: number, opts: {zLoss?: number} = {}): tf.Scalar {
  return batchLoss(model, arTokenBatch(batchTokens, B, T), opts.zLoss ?? 0)
}
