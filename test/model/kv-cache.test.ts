/**
 * GPT.forwardCached against the full forward on tiny models (cpu backend): the cached view of
 * each attention layout must give the logits the full forward gives the same positions.
 */
import '@tensorflow/tfjs-backend-cpu'
import * as tf from '@tensorflow/tfjs-core'
import {beforeAll, describe, expect, it} from 'vitest'

import {registerAllGradients} from '../../src/backend/gradients.js'
import {DEFAULT_MODEL_CONFIG, type ModelConfig} from '../../src/model/config.js'
import {BIDIRECTIONAL} from '../../src/model/attention.js'
import {GPT} from '../../src/model/gpt.js'
import {cachedPattern, type KVCache} from '../../src/model/kv-cache.js'
import type {TernaryConfig} from '../../src/quant/ternary.js'
import {loadRandomWeights, uniformValues} from '../helpers/random.js'

const TERNARY: TernaryConfig = {groupSize: 'row', scaleFormat: 'fp32', zeroCorrection: true}
const PATTERNS = ['blocks.*.attn.*.weight', 'blocks.*.mlp.*.weight']
// every feature that touches the layer loop: U-Net skips, resid_mix with x0, depth recurrence
const cfg: ModelConfig = {...DEFAULT_MODEL_CONFIG, vocab_size: 13, model_dim: 16, num_heads: 4, num_kv_heads: 2, unique_blocks: 2, loops: 2, unet_skips: true, x0_mix: true}
const TOL = 1e-5

beforeAll(async () => {
  await tf.setBackend('cpu')
  await registerAllGradients()
})

/** Random weights everywhere: zero-init projections, resid_mix = [1, 0] and unit skips would hide attention, x0 and the skips. */
function model(opts: {quant?: boolean; seed?: number} = {}): GPT {
  const m = new GPT(cfg, {seed: 1, ternary: {patterns: PATTERNS, config: TERNARY}})
  loadRandomWeights(m, opts.seed ?? 7, 0.5)
  m.quantActive = opts.quant ?? false
  return m
}

function ids(n: number, seed: number, V = cfg.vocab_size - 1): number[] {
  return Array.from(uniformValues(n, seed, 1), (r) => Math.floor(((r + 1) / 2) * V))
}

function t2(rows: number[][]): tf.Tensor2D {
  return tf.tensor2d(rows, [rows.length, rows[0].length], 'int32')
}

/** max |a − b|. */
function maxDiff(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0])
}

/** Rows [t0, t1) of (B, T, V) logits. */
function rowsOf(x: tf.Tensor3D, t0: number, t1: number): tf.Tensor3D {
  return tf.slice(x, [0, t0, 0], [-1, t1 - t0, -1])
}

function cached(m: GPT, cache: KVCache, rows: number[][], within: Parameters<GPT['forwardCached']>[2]['within'], commit: boolean, suppress: number | null = null): tf.Tensor3D {
  return tf.tidy(() => m.forwardCached(t2(rows), cache, {within, commit, suppress}))
}

describe('cachedPattern', () => {
  it('lets new queries see the whole cache, then causal / block-causal among themselves', () => {
    expect(cachedPattern(2, 1, 'causal')).toBeNull()
    expect(cachedPattern(2, 3, 'bidirectional')).toBeNull()
    expect(Array.from(cachedPattern(1, 3, 'causal')!)).toEqual([1, 1, 0, 0, 1, 1, 1, 0, 1, 1, 1, 1])
    expect(Array.from(cachedPattern(1, 4, {blockCausal: 2})!)).toEqual([1, 1, 1, 0, 0, 1, 1, 1, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1])
    expect(() => cachedPattern(0, 3, {blockCausal: 2})).toThrow('must divide the 3 new tokens')
  })
})

describe('GPT.forwardCached', () => {
  for (const quant of [false, true]) {
    it(`causal: a prefix, then one token at a time, equals the full causal forward${quant ? ' (ternary, quantActive)' : ''}`, () => {
      const m = model({quant})
      const rows = [ids(11, 1), ids(11, 2)]
      const full = m.forward(t2(rows)) // (2, 11, V)
      const cache = m.newKVCache()
      const pre = cached(m, cache, rows.map((r) => r.slice(0, 4)), 'causal', true)
      expect(cache.length).toBe(4)
      expect(maxDiff(pre, rowsOf(full, 0, 4))).toBeLessThan(TOL)
      for (let t = 4; t < 11; t++) {
        const one = cached(m, cache, rows.map((r) => [r[t]]), 'causal', true)
        expect(maxDiff(one, rowsOf(full, t, t + 1)), `position ${t}`).toBeLessThan(TOL)
        one.dispose()
      }
      expect(cache.length).toBe(11)
      tf.dispose([full, pre])
      cache.dispose()
      m.dispose()
    })
  }

  it('causal prefill beyond two attention tiles (the tiled full path) matches too', () => {
    const m = model()
    const rows = [ids(300, 3)]
    const full = m.forward(t2(rows))
    const cache = m.newKVCache()
    const pre = cached(m, cache, [rows[0].slice(0, 299)], 'causal', true)
    const last = cached(m, cache, [[rows[0][299]]], 'causal', false)
    expect(maxDiff(pre, rowsOf(full, 0, 299))).toBeLessThan(TOL)
    expect(maxDiff(last, rowsOf(full, 299, 300))).toBeLessThan(TOL)
    tf.dispose([full, pre, last])
    cache.dispose()
    m.dispose()
  })

  it('an empty cache, bidirectional, is the MDLM forward', () => {
    const m = model({quant: true})
    const mask = cfg.vocab_size - 1
    const rows = [ids(9, 4).map((id, i) => (i % 3 === 1 ? mask : id))]
    const full = m.forward(t2(rows), {attention: BIDIRECTIONAL, suppress: mask})
    const cache = m.newKVCache()
    const got = cached(m, cache, rows, 'bidirectional', false, mask)
    expect(cache.length).toBe(0)
    expect(maxDiff(got, full)).toBeLessThan(TOL)
    tf.dispose([full, got])
    cache.dispose()
    m.dispose()
  })

  for (const quant of [false, true]) {
    it(`block diffusion: a noisy block over the cached clean blocks is training's x_t output${quant ? ' (ternary, quantActive)' : ''}`, () => {
      const m = model({quant, seed: 11})
      const bs = 4
      const n = 12
      const mask = cfg.vocab_size - 1
      const x0 = ids(n, 5)
      const xt = x0.map((id, i) => ([0, 3, 5, 6, 7, 9, 10].includes(i) ? mask : id))
      const full = m.forward(t2([[...xt, ...x0]]), {attention: {kind: 'block-diffusion', block: bs}, suppress: mask}) // (1, n, V): the x_t half
      // clean blocks < b prefilled in one block-causal call, or committed one block at a time
      for (const prefill of ['one call', 'per block'] as const) {
        for (let b = 0; b < n / bs; b++) {
          const cache = m.newKVCache()
          if (b > 0 && prefill === 'one call') cached(m, cache, [x0.slice(0, b * bs)], {blockCausal: bs}, true).dispose()
          if (prefill === 'per block') for (let c = 0; c < b; c++) cached(m, cache, [x0.slice(c * bs, (c + 1) * bs)], 'bidirectional', true).dispose()
          expect(cache.length).toBe(b * bs)
          const noisy = cached(m, cache, [xt.slice(b * bs, (b + 1) * bs)], 'bidirectional', false, mask)
          expect(maxDiff(noisy, rowsOf(full, b * bs, (b + 1) * bs)), `block ${b}, ${prefill}`).toBeLessThan(TOL)
          expect(cache.length).toBe(b * bs) // not committed
          noisy.dispose()
          cache.dispose()
        }
      }
      full.dispose()
      m.dispose()
    })
  }

  it('the full causal forward is NOT what a noisy block sees (the test can tell the views apart)', () => {
    const m = model({seed: 11})
    const x0 = ids(8, 6)
    const cache = m.newKVCache()
    cached(m, cache, [x0.slice(0, 4)], 'bidirectional', true).dispose()
    const block = cached(m, cache, [x0.slice(4)], 'bidirectional', false)
    const causal = m.forward(t2([x0]))
    expect(maxDiff(block, rowsOf(causal, 4, 8))).toBeGreaterThan(1e-3)
    tf.dispose([block, causal])
    cache.dispose()
    m.dispose()
  })

  it('commit: false leaves the cache as it was; reset empties it', () => {
    const m = model()
    const rows = [ids(6, 7)]
    const cache = m.newKVCache()
    cached(m, cache, [rows[0].slice(0, 3)], 'causal', true).dispose()
    const a = cached(m, cache, [rows[0].slice(3)], 'causal', false)
    cached(m, cache, [[1, 2]], 'causal', false).dispose() // a different probe in between
    const b = cached(m, cache, [rows[0].slice(3)], 'causal', false)
    expect(maxDiff(a, b)).toBe(0)
    expect(cache.length).toBe(3)
    cache.reset()
    expect(cache.length).toBe(0)
    const fresh = cached(m, cache, rows, 'causal', true)
    const full = m.forward(t2(rows))
    expect(maxDiff(fresh, full)).toBeLessThan(TOL)
    tf.dispose([a, b, fresh, full])
    cache.dispose()
    m.dispose()
  })

  for (const quant of [null, {bits: 3, group: 4, residual: 2} as const]) {
    it(`commitCached leaves the cache bit for bit as a committing forwardCached does, without logits${quant ? ' (3-bit cache)' : ''}`, () => {
      const m = model({quant: true})
      const row = ids(12, 9)
      const steps: Array<[number, number, Parameters<GPT['commitCached']>[2]]> = [
        [0, 4, 'causal'],
        [4, 8, {blockCausal: 2}],
        [8, 11, 'bidirectional'],
      ]
      const [a, b] = [m.newKVCache({quant}), m.newKVCache({quant})]
      for (const [t0, t1, within] of steps) {
        cached(m, a, [row.slice(t0, t1)], within, true).dispose()
        const before = tf.memory().numTensors
        tf.tidy(() => m.commitCached(t2([row.slice(t0, t1)]), b, within))
        expect(tf.memory().numTensors - before, 'it holds only what it replaced').toBe(0 + (t0 === 0 ? 2 * cfg.unique_blocks * cfg.loops : 0))
        expect(b.length).toBe(t1)
        for (let j = 0; j < cfg.unique_blocks * cfg.loops; j++) {
          const [ea, eb] = [a.entry(j)!, b.entry(j)!]
          expect(Array.from(eb.k.dataSync()), `application ${j} keys after ${t1}`).toEqual(Array.from(ea.k.dataSync()))
          expect(Array.from(eb.v.dataSync()), `application ${j} values after ${t1}`).toEqual(Array.from(ea.v.dataSync()))
        }
      }
      const [pa, pb] = [cached(m, a, [[row[11]]], 'causal', false), cached(m, b, [[row[11]]], 'causal', false)]
      expect(maxDiff(pa, pb)).toBe(0)
      tf.dispose([pa, pb])
      a.dispose()
      b.dispose()
      m.dispose()
    })
  }

  it('leaks nothing: a disposed cache (and its ternary weights) frees every tensor', () => {
    const m = model({quant: true})
    const mask = cfg.vocab_size - 1
    const warm = m.newKVCache()
    cached(m, warm, [[1, 2, 3]], 'bidirectional', true, mask).dispose() // the suppress row is the model's, built once
    warm.dispose()
    const before = tf.memory().numTensors
    const cache = m.newKVCache()
    expect(tf.memory().numTensors).toBeGreaterThan(before) // q·d of the ternary matrices
    cached(m, cache, [[1, 2, 3, 4]], {blockCausal: 2}, true).dispose()
    const held = tf.memory().numTensors
    for (let i = 0; i < 3; i++) cached(m, cache, [[5, 6]], 'bidirectional', false, mask).dispose()
    expect(tf.memory().numTensors).toBe(held) // uncommitted steps keep nothing
    cached(m, cache, [[7]], 'causal', true).dispose()
    expect(tf.memory().numTensors).toBe(held) // committing replaces each entry, never stacks them
    cache.reset()
    cache.dispose()
    cache.dispose() // idempotent
    expect(tf.memory().numTensors).toBe(before)
    m.dispose()
  })

  it('rejects a cache of another model, a disposed cache, a different batch and float tokens', () => {
    const m = model()
    const other = model()
    const foreign = other.newKVCache()
    expect(() => m.forwardCached(t2([[1]]), foreign, {within: 'causal', commit: false})).toThrow('made by another model')
    const cache = m.newKVCache()
    cached(m, cache, [[1, 2]], 'causal', true).dispose()
    expect(() => m.forwardCached(t2([[1], [2]]), cache, {within: 'causal', commit: false})).toThrow('the cache holds 1 rows, got 2')
    expect(() => m.forwardCached(tf.tensor2d([[1]]), cache, {within: 'causal', commit: false})).toThrow('must be int32')
    cache.dispose()
    expect(() => m.forwardCached(t2([[1]]), cache, {within: 'causal', commit: false})).toThrow('was disposed')
    foreign.dispose()
    other.dispose()
    m.dispose()
  })
})
