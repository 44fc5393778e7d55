/**
 * A step's gradients: the one routine the single-threaded loop, every thread of the gradient
 * pool, and the benchmark use. Batches come from the objective (src/objective): AR, MDLM and
 * BD3-LM differ only in the TokenBatch they build.
 */
import * as tf from '@tensorflow/tfjs-core'

import type {GPT} from '../model/gpt.js'
import {batchLoss, sliceRows, type TokenBatch} from '../objective/batch.js'

/**
 * Σ over `parts` of weight · ∇(loss of the part), and Σ of the weighted losses. Weight 1 adds
 * no op (the single-threaded path's bits do not depend on it). The caller disposes the grads.
 */
export function sumGrads(model: GPT, parts: TokenBatch[], zLoss: number, weight = 1): {lossSum: number; grads: Map<string, tf.Tensor>} {
  const vars = [...model.params.values()]
  let acc: Map<string, tf.Tensor> | null = null
  let lossSum = 0
  for (const part of parts) {
    const f = () => (weight === 1 ? batchLoss(model, part, zLoss) : (tf.mul(batchLoss(model, part, zLoss), weight) as tf.Scalar))
    const {value, grads} = tf.variableGrads(f, vars)
    lossSum += (value.dataSync() as Float32Array)[0]
    value.dispose()
    const named = model.gradsByParam(grads)
    if (acc === null) acc = named
    else {
      for (const [k, g] of named) {
        const prev = acc.get(k)
        acc.set(k, prev ? tf.add(prev, g) : g)
        if (prev) {
          prev.dispose()
          g.dispose()
        }
      }
    }
  }
  return {lossSum, grads: acc ?? new Map()}
}

/** One optimizer step's gradients on one thread: the mean over the micro-batches. */
export function accumulateGrads(model: GPT, batches: TokenBatch[], zLoss: number): {loss: number; grads: Map<string, tf.Tensor>} {
  const {lossSum, grads} = sumGrads(model, batches, zLoss)
  if (batches.length > 1) {
    for (const [k, g] of grads) {
      grads.set(k, tf.div(g, batches.length))
      g.dispose()
    }
  }
  return {loss: lossSum / batches.length, grads}
}

/**
 * One thread's share of a step: rows r0..r1 of every micro-batch, weighted rows/B (B = the
 * whole batch's rows, default the batches' own), so that the shares of all threads sum to
 * `accumulateGrads`' mean (up to float summation order) once the pool divides by the
 * micro-batch count. Null for an empty share.
 */
export function shareGrads(model: GPT, batches: TokenBatch[], zLoss: number, rows: [number, number], B = batches[0]?.B ?? 0): {loss: number; grads: Map<string, tf.Tensor>} | null {
  const [r0, r1] = rows
  const n = r1 - r0
  if (n <= 0 || batches.length === 0) return null
  const parts = batches.map((b) => sliceRows(b, r0, r1))
  const {lossSum, grads} = sumGrads(model, parts, zLoss, n / B)
  return {loss: lossSum, grads}
}

export function disposeMap(m: Map<string, tf.Tensor>): void {
  for (const t of m.values()) t.dispose()
}
