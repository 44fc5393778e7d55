/**
 * The `count` training estimator of diffusion objectives (`objective.train_estimator: count`):
 * per block, n masked tokens with n uniform on 1..b (stratified over the batch's blocks), a
 * uniform subset, weight b/n. It estimates the same continuous-time NELBO as the papers' `time`
 * estimator (t uniform, mask with probability t, weight 1/t), checked here against the exact
 * expectation by enumeration, with a weight of at most b: its variance is lower. Block size 1 is
 * then the AR loss exactly. cpu backend, tiny random models.
 */
import '@tensorflow/tfjs-backend-cpu'
import * as tf from '@tensorflow/tfjs-core'
import {beforeAll, describe, expect, it} from 'vitest'

import {registerAllGradients} from '../../src/backend/gradients.js'
import {exactPatternWeight} from '../../src/eval/elbo.js'
import {arTokenBatch} from '../../src/objective/ar.js'
import {batchLoss} from '../../src/objective/batch.js'
import {bd3lmObjective} from '../../src/objective/bd3lm.js'
import {drawCountMask, drawTrainingNoise, mdlmObjective} from '../../src/objective/mdlm.js'
import {DEFAULT_OBJECTIVE, type ObjectiveConfig} from '../../src/objective/types.js'
import {loadRecipe} from '../../src/recipe/recipe.js'
import {mulberry32} from '../../src/util/random.js'
import {buildGPT, randomizeWeights, tinyConfig} from '../helpers/tiny-gpt.js'

beforeAll(async () => {
  await tf.setBackend('cpu')
  await registerAllGradients()
})

const V = 10
const COUNT: Partial<ObjectiveConfig> = {train_estimator: 'count'}
const bd3 = (block: number, over: Partial<ObjectiveConfig> = {}): ObjectiveConfig => ({...DEFAULT_OBJECTIVE, kind: 'bd3lm', block_size: block, ...over})

function stream(n: number, seed: number): Uint16Array {
  const r = mulberry32(seed)
  return Uint16Array.from({length: n}, () => Math.floor(r() * (V - 1)))
}

/** Masked positions and weight of each block of `bs`: n = |masked| ≥ 1, weight bs/n there, 0 elsewhere. */
function blockCounts(masked: Uint8Array, weights: Float32Array, bs: number): number[] {
  const counts: number[] = []
  for (let k = 0; k < masked.length / bs; k++) {
    let n = 0
    for (let j = 0; j < bs; j++) n += masked[k * bs + j]
    expect(n, `block ${k}`).toBeGreaterThanOrEqual(1)
    for (let j = 0; j < bs; j++) expect(weights[k * bs + j], `block ${k}, position ${j}`).toBe(masked[k * bs + j] ? Math.fround(bs / n) : 0)
    counts.push(n)
  }
  return counts
}

describe('drawCountMask', () => {
  it('every block masks 1..b tokens at weight b/n, and each count comes equally often (stratified)', () => {
    for (const [blocks, bs] of [[64, 4], [12, 4], [8, 16], [5, 1]]) {
      const {masked, weights} = drawCountMask(blocks, bs, mulberry32(blocks + bs))
      const counts = blockCounts(masked, weights, bs)
      const hist = Array.from({length: bs}, (_, n) => counts.filter((c) => c === n + 1).length)
      for (const h of hist) expect(Math.abs(h - blocks / bs), `blocks ${blocks}, b ${bs}: ${hist}`).toBeLessThanOrEqual(1)
    }
  })

  it('a block\'s count does not depend on its place in the batch', () => {
    // over many draws, the first and the last block of a batch each see every count about as often
    const first = new Array(4).fill(0)
    const last = new Array(4).fill(0)
    const rand = mulberry32(5)
    for (let d = 0; d < 4000; d++) {
      const {masked} = drawCountMask(16, 4, rand)
      first[masked.subarray(0, 4).reduce((a, b) => a + b, 0) - 1]++
      last[masked.subarray(60, 64).reduce((a, b) => a + b, 0) - 1]++
    }
    for (const h of [...first, ...last]) expect(Math.abs(h - 1000), `${first} / ${last}`).toBeLessThan(120)
  })

  it('estimates the continuous-time NELBO without bias, with less variance than the time estimator', () => {
    // a toy "loss" of masked token ℓ under mask pattern P that depends on what else is masked,
    // as a network's does; its exact NELBO_∞ = Σ_P B(|P|, b−|P|+1)·Σ_{ℓ∈P} f(P, ℓ) by enumeration
    const b = 4
    const f = (P: number, l: number) => 0.3 + l * 0.7 + 1.9 * popcount(P & ~(1 << l)) + (P & 1 ? 0.5 : 0)
    let exact = 0
    for (let P = 1; P < 1 << b; P++) {
      for (let l = 0; l < b; l++) if (P & (1 << l)) exact += exactPatternWeight(popcount(P), b, 0) * f(P, l)
    }
    const estimate = (cfg: ObjectiveConfig) => {
      const blocks = 64
      const rand = mulberry32(17)
      const draws: number[] = []
      for (let d = 0; d < 400; d++) {
        const {masked, weights} = drawTrainingNoise(cfg, blocks * b, b, rand)
        for (let k = 0; k < blocks; k++) {
          let P = 0
          for (let l = 0; l < b; l++) if (masked[k * b + l]) P |= 1 << l
          let e = 0
          for (let l = 0; l < b; l++) if (P & (1 << l)) e += weights[k * b + l] * f(P, l)
          draws.push(e)
        }
      }
      const mean = draws.reduce((a, c) => a + c, 0) / draws.length
      const variance = draws.reduce((a, c) => a + (c - mean) ** 2, 0) / (draws.length - 1)
      return {mean, variance, se: Math.sqrt(variance / draws.length)}
    }
    const count = estimate(bd3(b, COUNT))
    const time = estimate(bd3(b, {noise_eps: 0, sampling_eps: 1e-6}))
    // stratification makes the draws of one batch dependent, so allow 4 naive standard errors
    expect(Math.abs(count.mean - exact), `count ${count.mean} vs exact ${exact}`).toBeLessThan(4 * count.se)
    expect(Math.abs(time.mean - exact), `time ${time.mean} vs exact ${exact}`).toBeLessThan(4 * time.se)
    expect(count.variance).toBeLessThan(time.variance / 2)
  })
})

function popcount(x: number): number {
  let n = 0
  for (; x; x &= x - 1) n++
  return n
}

describe('the objectives under the count estimator', () => {
  it('bd3lm: one count per block of the batch; mdlm: one count per sequence', () => {
    const B = 4
    const T = 32
    const chunk = stream(B * T + 1, 3)
    const d = bd3lmObjective(bd3(4, {...COUNT, shift: true}), V).trainBatch(chunk, B, T, mulberry32(1))
    const masked = Uint8Array.from({length: B * T}, (_, i) => (d.weights![i] > 0 ? 1 : 0))
    expect(blockCounts(masked, d.weights!, 4).length).toBe((B * T) / 4)
    const m = mdlmObjective({...DEFAULT_OBJECTIVE, kind: 'mdlm', ...COUNT}, V).trainBatch(chunk.subarray(0, B * T), B, T, mulberry32(2))
    const mm = Uint8Array.from({length: B * T}, (_, i) => (m.weights![i] > 0 ? 1 : 0))
    const counts = blockCounts(mm, m.weights!, T)
    // 4 sequences: one count in each quarter of 1..32
    expect(counts.map((n) => Math.floor((n - 1) / 8)).sort()).toEqual([0, 1, 2, 3])
    for (let i = 0; i < B * T; i++) expect(m.inputs[i]).toBe(mm[i] ? V - 1 : chunk[i])
  })

  it('block size 1, shifted: every target masked at weight 1, so the training loss is the AR loss', () => {
    const model = buildGPT(tinyConfig(V), 4)
    randomizeWeights(model, 9, 0.4)
    const B = 3
    const T = 8
    const chunk = stream(B * T + 1, 8)
    const d = bd3lmObjective(bd3(1, {...COUNT, shift: true}), V).trainBatch(chunk, B, T, mulberry32(6))
    expect(Array.from(d.weights!)).toEqual(new Array(B * T).fill(1))
    const diffusion = batchLoss(model, d)
    const ar = batchLoss(model, {...arTokenBatch(chunk, B, T), suppress: V - 1})
    expect(Math.abs(diffusion.dataSync()[0] - ar.dataSync()[0])).toBeLessThan(1e-6)
    tf.dispose([diffusion, ar])
    model.dispose()
  })

  it('the recipe key: diffusion only, and not with a clipped time interval', () => {
    // golf's diffusion recipes train on it; absent (runs from before it) reads as time
    for (const r of ['mdlm-tiny-cpu', 'bd3lm-tiny-cpu', 'mdlm-11l-512d', 'ternary-bd3lm', 'ternary-bd3lm-a4.8', 'ternary-bd3lm-a4.8-tiny-cpu']) expect(loadRecipe(r).objective.train_estimator, r).toBe('count')
    expect(loadRecipe('bd3lm-tiny-cpu', ['objective.train_estimator=time', 'objective.train_interval=[0.3, 0.8]']).objective.train_interval).toEqual([0.3, 0.8])
    expect(() => loadRecipe('tiny-cpu', ['objective.train_estimator=count'])).toThrow('objective.train_estimator is for mdlm and bd3lm')
    expect(() => loadRecipe('bd3lm-tiny-cpu', ['objective.train_interval=[0.3, 0.8]'])).toThrow('objective.train_interval [0.3, 0.8] clips the time t of train_estimator time, and this objective\'s estimator is count (it draws the number of masked tokens, no t): add objective.train_estimator=time to train on a clipped interval')
    expect(() => loadRecipe('bd3lm-tiny-cpu', ['objective.train_estimator=sometimes'])).toThrow('train_estimator')
  })
})
