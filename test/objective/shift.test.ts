/**
 * Shifted diffusion objectives (`objective.shift`): each target is predicted from the position
 * before it, as an AR model does. The exact input layout, what each output can and cannot see
 * (a masked target never leaks), block size 1 = the AR model exactly, and the scores of the
 * block-1 case = the official chunked AR evaluation. cpu backend, tiny random models.
 */
import '@tensorflow/tfjs-backend-cpu'
import * as tf from '@tensorflow/tfjs-core'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {registerAllGradients} from '../../src/backend/gradients.js'
import {evaluateChain} from '../../src/eval/chain.js'
import {gptScorer} from '../../src/eval/denoise.js'
import {evaluateElbo} from '../../src/eval/elbo.js'
import type {GPT} from '../../src/model/gpt.js'
import {arTokenBatch} from '../../src/objective/ar.js'
import {batchNll} from '../../src/objective/batch.js'
import {objectiveFor} from '../../src/objective/index.js'
import {noisyInputs} from '../../src/objective/mdlm.js'
import {DEFAULT_OBJECTIVE, isDiffusion, type DiffusionObjective, type ObjectiveConfig} from '../../src/objective/types.js'
import {loadRecipe} from '../../src/recipe/recipe.js'
import type {ByteTable} from '../../src/tokenizer/types.js'
import {mulberry32} from '../../src/util/random.js'
import {buildGPT, randomizeWeights, tinyConfig} from '../helpers/tiny-gpt.js'

beforeAll(async () => {
  await tf.setBackend('cpu')
  await registerAllGradients()
})

const V = 10 // data ids 0..8, [MASK] = 9
const M = V - 1
const shifted = (over: Partial<ObjectiveConfig>): DiffusionObjective => {
  const o = objectiveFor({...DEFAULT_OBJECTIVE, shift: true, ...over} as ObjectiveConfig, V)
  if (!isDiffusion(o)) throw new Error('expected a diffusion objective')
  return o
}
const MDLM = () => shifted({kind: 'mdlm'})
const BD3 = (block: number) => shifted({kind: 'bd3lm', block_size: block})

function stream(n: number, seed: number): Uint16Array {
  const r = mulberry32(seed)
  return Uint16Array.from({length: n}, () => Math.floor(r() * (V - 1)))
}

describe('the recipe key', () => {
  it('golf\'s diffusion recipes are shifted; absent means unshifted; an ar recipe refuses it', () => {
    for (const r of ['mdlm-tiny-cpu', 'bd3lm-tiny-cpu', 'mdlm-11l-512d', 'ternary-bd3lm']) expect(loadRecipe(r).objective.shift, r).toBe(true)
    expect(loadRecipe('mdlm-tiny-cpu', ['objective.shift=false']).objective.shift).toBe(false)
    expect(objectiveFor({...DEFAULT_OBJECTIVE, kind: 'mdlm'}, V).chunkTokens(2, 8)).toBe(16) // a run from before the key
    expect(() => loadRecipe('tiny-cpu', ['objective.shift=true'])).toThrow('objective.shift is for mdlm and bd3lm')
  })
})

describe('shifted inputs', () => {
  it('input j = target j − 1 (masked or not), a block starts with the clean token before it', () => {
    const x0 = [11, 12, 13, 14, 21, 22, 23, 24]
    const masked = Uint8Array.from([1, 0, 1, 1, 1, 1, 0, 0])
    // MDLM (one block of 4 per row): [before, t0, t1, t2]
    expect(Array.from(noisyInputs(x0, masked, 2, 4, 4, 99, [10, 20]))).toEqual([10, 99, 12, 99, 20, 99, 99, 23])
    // blocks of 2: position 2 starts a block, so it holds target 1 clean whatever its mask
    expect(Array.from(noisyInputs(x0, masked, 2, 4, 2, 99, [10, 20]))).toEqual([10, 99, 12, 99, 20, 99, 22, 23])
    // unshifted: x_t itself
    expect(Array.from(noisyInputs(x0, masked, 2, 4, 4, 99, null))).toEqual([99, 12, 99, 99, 99, 99, 23, 24])
  })

  it('training takes B·T + 1 tokens in the AR layout: targets chunk[1..], inputs read from chunk[0..]', () => {
    const B = 3
    const T = 8
    for (const obj of [MDLM(), BD3(4)]) {
      expect(obj.chunkTokens(B, T)).toBe(B * T + 1)
      expect(obj.contextTokens).toBe(1)
      const chunk = stream(B * T + 1, 3)
      const b = obj.trainBatch(chunk, B, T, mulberry32(9))
      expect(Array.from(b.targets)).toEqual(Array.from(chunk.subarray(1, B * T + 1)))
      const Tin = b.T // T for MDLM, 2T for BD3 ([x_t ‖ x_0])
      const bs = obj.blockSize(T)
      for (let r = 0; r < B; r++) {
        for (let j = 0; j < T; j++) {
          const input = b.inputs[r * Tin + j]
          const clean = chunk[r * T + j]
          const hidden = j % bs !== 0 && b.weights![r * T + j - 1] > 0 // target j − 1 masked
          expect(input, `row ${r}, input ${j}`).toBe(hidden ? M : clean)
          if (Tin === 2 * T) expect(b.inputs[r * Tin + T + j], `clean half, row ${r}, ${j}`).toBe(clean)
        }
      }
      expect(() => obj.trainBatch(chunk.subarray(0, B * T), B, T, mulberry32(9))).toThrow(`need ${B * T + 1} tokens`)
    }
  })

  it('refuses a denoising batch without the token before each row', () => {
    expect(() => MDLM().denoiseBatch(new Int32Array(8), new Uint8Array(8), 1, 8)).toThrow('the stream token before each of its 1 rows')
  })
})

describe('what a shifted output sees', () => {
  let model: GPT
  beforeAll(() => {
    model = buildGPT(tinyConfig(V), 4)
    randomizeWeights(model, 17, 0.5)
  })
  afterAll(() => model.dispose())

  const T = 8
  const x0 = Int32Array.from([3, 1, 4, 1, 5, 2, 6, 5])
  const masked = Uint8Array.from([0, 1, 1, 0, 1, 0, 0, 1])
  const nll = (obj: DiffusionObjective, x: Int32Array, m: Uint8Array, before: number) => batchNll(model, obj.denoiseBatch(x, m, 1, T, Int32Array.of(before)))

  it('a masked target\'s value reaches no output of its block or before; the last target is never read; the token before the row is', () => {
    for (const obj of [MDLM(), BD3(2), BD3(4)]) {
      const base = nll(obj, x0, masked, 7)
      const target = (at: number, v: number) => {
        const y = Int32Array.from(x0)
        y[at] = v
        return y
      }
      // targets 1, 2, 4 and 7 are hidden: changing one changes no other output of its block or an
      // earlier one (later blocks condition on it clean, as block diffusion does)
      const bs = obj.blockSize(T)
      for (const at of [1, 2, 4, 7]) {
        const other = nll(obj, target(at, (x0[at] + 3) % (V - 1)), masked, 7)
        const end = (Math.floor(at / bs) + 1) * bs
        for (let k = 0; k < end; k++) if (k !== at) expect(other[k], `${obj.config.kind}/${bs}: target ${at} leaked into output ${k}`).toBe(base[k])
      }
      // the last target, even visible, is no input
      const visibleLast = Uint8Array.from(masked)
      visibleLast[7] = 0
      const a = nll(obj, x0, visibleLast, 7)
      const b = nll(obj, target(7, 8), visibleLast, 7)
      for (let k = 0; k < T - 1; k++) expect(b[k]).toBe(a[k])
      // the clean token before the row is read: it changes the first prediction
      expect(nll(obj, x0, masked, 0)[0]).not.toBe(base[0])
    }
  })
})

describe('block size 1, shifted, is the autoregressive model', () => {
  const T = 8
  let model: GPT
  const tokens = (() => {
    const s = stream(1 + 4 * T + 3, 5)
    s[0] = 0 // BOS
    return s
  })()
  const table: ByteTable = {vocabSize: V, baseBytes: new Int32Array(V).fill(1), hasLeadingSpace: new Uint8Array(V), isBoundary: new Uint8Array(V)}
  table.baseBytes[0] = 0
  table.isBoundary[0] = 1

  beforeAll(() => {
    model = buildGPT(tinyConfig(V), 7)
    randomizeWeights(model, 51, 0.4)
  })
  afterAll(() => model.dispose())

  /** The official chunked AR score of the same model, causal, on the same windows (nats). */
  function arNll(): {perToken: Float32Array; total: number} {
    const B = Math.floor((tokens.length - 1) / T)
    const perToken = batchNll(model, {...arTokenBatch(tokens, B, T), suppress: M}) // SUBS, as the diffusion view
    return {perToken, total: perToken.reduce((a, b) => a + b, 0)}
  }

  it('every output equals the causal forward of the same inputs (any mask: no input is ever hidden)', () => {
    const obj = BD3(1)
    const B = 4
    const ar = arNll().perToken
    const x0 = Int32Array.from(tokens.subarray(1, 1 + B * T))
    const before = Int32Array.from({length: B}, (_, r) => tokens[r * T])
    const r = mulberry32(2)
    const masked = Uint8Array.from({length: B * T}, () => (r() < 0.5 ? 1 : 0))
    const nll = batchNll(model, obj.denoiseBatch(x0, masked, B, T, before))
    for (let i = 0; i < B * T; i++) expect(Math.abs(nll[i] - ar[i]), `position ${i}`).toBeLessThan(1e-5)
  })

  it('its exact ELBO (any T) and its chain NLL equal the official chunked AR score', () => {
    const obj = BD3(1)
    const {total} = arNll()
    const scorer = gptScorer(model)
    const chain = evaluateChain(scorer, obj, tokens, table, {seqLen: T, batchSeqs: 3})
    expect(chain.tokens).toBe(4 * T)
    expect(Math.abs(chain.val_loss * chain.tokens - total) / total).toBeLessThan(1e-5)
    for (const steps of [1, 7, 0]) {
      const e = evaluateElbo(scorer, obj, tokens, table, {seqLen: T, steps, estimator: 'exact', samples: 1, seed: 0, batchSeqs: 5})
      expect(e.bound).toBe(true)
      expect(Math.abs(e.val_loss * e.tokens - total) / total, `T = ${steps}`).toBeLessThan(1e-5)
    }
  })
})
