/**
 * A step's gradients: the one routine the single-threaded loop, every thread of the gradient
 * pool, and the benchmark use.
 */
import * as tf from '@tensorflow/tfjs-core'

import type {GPT} from '../model/gpt.js'
import {arLoss} from '../objective/ar.js'

/**
 * Σ over `parts` of weight · ∇(mean loss of the part's B×T batch), and Σ of the weighted
 * losses. Each part holds B·T + 1 tokens laid out as the official loader does. Weight 1 adds no
 * op (the single-threaded path's bits do not depend on it). The caller disposes the grads.
 */
export function sumGrads(model: GPT, parts: Uint16Array[], B: number, T: number, zLoss: number, weight = 1): {lossSum: number; grads: Map<string, tf.Tensor>} {
  const vars = [...model.params.values()]
  let acc: Map<string, tf.Tensor> | null = null
  let lossSum = 0
  for (const part of parts) {
    const f = () => (weight === 1 ? arLoss(model, part, B, T, {zLoss}) : (tf.mul(arLoss(model, part, B, T, {zLoss}), weight) as tf.Scalar))
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

/** One optimizer step's gradients on one thread: the mean over `chunks` micro-batches of (B, T). */
export function accumulateGrads(model: GPT, chunks: Uint16Array[], B: number, T: number, zLoss: number): {loss: number; grads: Map<string, tf.Tensor>} {
  const {lossSum, grads} = sumGrads(model, chunks, B, T, zLoss)
  if (chunks.length > 1) {
    for (const [k, g] of grads) {
      grads.set(k, tf.div(g, chunks.length))
      g.dispose()
    }
  }
  return {loss: lossSum / chunks.length, grads}
}

/**
 * One thread's share of a step: rows r0..r1 of every micro-batch, weighted rows/B, so that the
 * shares of all threads sum to `accumulateGrads`' mean (up to float summation order) once the
 * pool divides by the micro-batch count. Null for an empty share.
 */
export function shareGrads(model: GPT, chunks: Uint16Array[], B: number, T: number, zLoss: number, rows: [number, number]): {loss: number; grads: Map<string, tf.Tensor>} | null {
  const [r0, r1] = rows
  const n = r1 - r0
  if (n <= 0) return null
  // rows r0..r1 of x = chunk[:-1].view(B, T) and of y = chunk[1:].view(B, T)
  const parts = chunks.map((chunk) => chunk.subarray(r0 * T, r1 * T + 1))
  const {lossSum, grads} = sumGrads(model, parts, n, T, zLoss, n / B)
  return {loss: lossSum, grads}
}

export function disposeMap(m: Map<string, tf.Tensor>): void {
  for (const t of m.values()) t.dispose()
}
