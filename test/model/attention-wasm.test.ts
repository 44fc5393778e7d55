/**
 * Tiled causal attention on the wasm backend (with the kernel adapter, which runs the tiles'
 * slices, splits, concats and per-entry products): forward and gradients equal the full path's
 * within float32 rounding. Own file: tfjs keeps one engine per process.
 */
import * as tf from '@tensorflow/tfjs-core'
import {beforeAll, describe, expect, it} from 'vitest'

import {initBackend} from '../../src/backend/index.js'
import {attention, causalMask, type CausalMask} from '../../src/model/attention.js'
import {xorshift32} from '../helpers/random.js'

beforeAll(async () => {
  await initBackend('wasm', {quiet: true})
})

function uniform(n: number, seed: number, scale = 1): Float32Array {
  const next = xorshift32(seed)
  return Float32Array.from({length: n}, () => (next() / 4294967296 * 2 - 1) * scale)
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  let m = 0
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]))
  return m
}

describe('causal attention tiles on wasm', () => {
  it.each([
    {B: 2, H: 4, KV: 2, T: 40, Dh: 16, block: 16}, // GQA g=2, T not a multiple: 16, 16, 8 rows
    {B: 2, H: 2, KV: 2, T: 64, Dh: 32, block: 32},
  ])('tiled = full, forward and gradients w.r.t. q, k, v: B=$B H=$H KV=$KV T=$T Dh=$Dh tiles of $block', ({B, H, KV, T, Dh, block}) => {
    expect(tf.getBackend()).toBe('wasm')
    const run = (mask: CausalMask) =>
      tf.tidy(() => {
        const q = tf.tensor4d(uniform(B * H * T * Dh, 1, 2), [B, H, T, Dh])
        const k = tf.tensor4d(uniform(B * KV * T * Dh, 2), [B, KV, T, Dh])
        const v = tf.tensor4d(uniform(B * KV * T * Dh, 3), [B, KV, T, Dh])
        const dy = tf.tensor4d(uniform(B * H * T * Dh, 4), [B, H, T, Dh])
        const f = (a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) => tf.sum(tf.mul(attention(a as tf.Tensor4D, b as tf.Tensor4D, c as tf.Tensor4D, mask), dy))
        return [attention(q, k, v, mask), ...tf.grads(f)([q, k, v])].map((t) => Float32Array.from(t.dataSync() as Float32Array))
      })
    const [fullMask, tiledMask] = [causalMask(T, T), causalMask(T, block)]
    expect(tiledMask.tiles.length).toBe(Math.ceil(T / block))
    const full = run(fullMask)
    const tiled = run(tiledMask)
    ;['y', 'dq', 'dk', 'dv'].forEach((name, i) => {
      const scale = maxAbsDiff(full[i], new Float32Array(full[i].length))
      expect(scale, name).toBeGreaterThan(0.1)
      expect(maxAbsDiff(tiled[i], full[i]), name).toBeLessThanOrEqual(1e-6 * scale)
    })
    tf.dispose([...fullMask.tiles, ...tiledMask.tiles])
  })
})
