/**
 * Every sampler on a model whose logits are the same fixed distribution at every position:
 * the ids it emits must follow that distribution (renormalized over the ids it may emit),
 * and the diffusion samplers must reveal positions on the schedule's clock.
 */
import '@tensorflow/tfjs-backend-cpu'
import * as tf from '@tensorflow/tfjs-core'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {registerAllGradients} from '../../src/backend/gradients.js'
import type {GPT} from '../../src/model/gpt.js'
import {DEFAULT_OBJECTIVE, objectiveFor, type ObjectiveConfig} from '../../src/objective/index.js'
import {samplerFor} from '../../src/sample/index.js'
import {fixedDistributionModel} from './models.js'

// ids: 0 = BOS (banned), 1..4 data, 5 = [MASK] of the diffusion objectives (banned for AR)
const P = [0.5, 0.1, 0.2, 0.3, 0.4, 0.3]
const ALLOWED = [1, 2, 3, 4]
let model: GPT

beforeAll(async () => {
  await tf.setBackend('cpu')
  await registerAllGradients()
  model = fixedDistributionModel(P)
})
afterAll(() => model.dispose())

/** Pearson's χ² of the counts of ALLOWED ids against expected probabilities q. */
function chiSquare(ids: number[], q: number[]): number {
  const n = ids.length
  return ALLOWED.reduce((sum, id, j) => {
    const observed = ids.filter((x) => x === id).length
    return sum + (observed - n * q[j]) ** 2 / (n * q[j])
  }, 0)
}

const normalized = (w: number[]) => w.map((x) => x / w.reduce((a, b) => a + b, 0))
const EXPECTED = normalized(ALLOWED.map((i) => P[i])) // [0.1, 0.2, 0.3, 0.4]
const UNIFORM = [0.25, 0.25, 0.25, 0.25]
// χ² with 3 degrees of freedom exceeds 16.27 with probability 0.001
const CHI2_3DOF_999 = 16.27

// (name, objective, seqLen, denoising steps): few network calls per draw, the cpu backend is slow
const objectives: [string, ObjectiveConfig, number, number | null][] = [
  ['ar', DEFAULT_OBJECTIVE, 512, null],
  ['mdlm', {...DEFAULT_OBJECTIVE, kind: 'mdlm'}, 64, 4],
  ['bd3lm', {...DEFAULT_OBJECTIVE, kind: 'bd3lm', block_size: 16}, 1024, 4],
]

describe('samplers draw from the model distribution', () => {
  for (const [name, cfg, seqLen, steps] of objectives) {
    it(`${name}: χ² of ~1000 draws against p is small, against uniform large`, () => {
      const objective = objectiveFor(cfg, model.cfg.vocab_size)
      const sampler = samplerFor(objective)
      const banned = name === 'ar' ? [0, 5] : [0] // diffusion bans its [MASK] itself
      const perRun = name === 'mdlm' ? seqLen - 1 : 500 // MDLM: its one sequence
      const ids: number[] = []
      for (let seed = 1; ids.length < 1000; seed++) {
        ids.push(...sampler.sample(model, [0], {tokens: perRun, temperature: 1, topK: null, seqLen, seed, banned, steps}).tokens)
      }
      expect(ids.every((id) => ALLOWED.includes(id))).toBe(true)
      expect(chiSquare(ids, EXPECTED)).toBeLessThan(CHI2_3DOF_999)
      expect(chiSquare(ids, UNIFORM)).toBeGreaterThan(100) // the bound can tell distributions apart
    })
  }

  it('temperature and top-k reshape it as pickToken does (p^(1/τ), the k most likely)', () => {
    const sampler = samplerFor(objectiveFor({...DEFAULT_OBJECTIVE, kind: 'mdlm'}, model.cfg.vocab_size))
    const draw = (temperature: number, topK: number | null) => {
      const ids: number[] = []
      for (let seed = 1; ids.length < 1000; seed++) ids.push(...sampler.sample(model, [0], {tokens: 63, temperature, topK, seqLen: 64, seed, banned: [0], steps: 4}).tokens)
      return ids
    }
    expect(chiSquare(draw(0.5, null), normalized(EXPECTED.map((q) => q * q)))).toBeLessThan(CHI2_3DOF_999)
    const top2 = draw(1, 2)
    expect(top2.every((id) => id === 3 || id === 4)).toBe(true) // 0 (p = 0.5) is banned, 5 is [MASK]
    expect(chiSquare(top2, [1e-9, 1e-9, 3 / 7, 4 / 7])).toBeLessThan(CHI2_3DOF_999)
  })
})

describe('diffusion samplers reveal positions on the schedule', () => {
  it('MDLM: going from t = k/T to (k−1)/T unmasks a masked position with probability 1/k, so after step j a fraction 1 − j/T is still masked', () => {
    const sampler = samplerFor(objectiveFor({...DEFAULT_OBJECTIVE, kind: 'mdlm'}, model.cfg.vocab_size))
    const T = 4
    const N = 63 // seqLen 64 after the BOS: every step changes something, so pass j sees x_t after step j − 1
    const runs = 10
    const fractions: number[][] = [] // fractions[j][run]: masked fraction seen by pass j
    let pass = 0
    const original = model.forwardCached.bind(model)
    model.forwardCached = (tokens, cache, opts) => {
      const masked = Array.from(tokens.dataSync()).filter((id) => id === 5).length
      fractions[pass] = [...(fractions[pass] ?? []), masked / N]
      pass++
      return original(tokens, cache, opts)
    }
    try {
      for (let seed = 1; seed <= runs; seed++) {
        pass = 0
        sampler.sample(model, [0], {tokens: N, temperature: 1, topK: null, seqLen: 64, seed, banned: [0], steps: T})
        expect(pass).toBe(T)
      }
    } finally {
      model.forwardCached = original
    }
    // one run's fraction has sd ≤ √(¼/63) ≈ 0.063, the mean of 10 ≤ 0.02
    fractions.forEach((f, j) => expect(Math.abs(f.reduce((a, b) => a + b, 0) / runs - (1 - j / T)), `pass ${j}`).toBeLessThan(0.06))
  })
})
