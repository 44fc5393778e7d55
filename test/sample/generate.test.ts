/** The KV-cached AR sampler against the uncached reference loop it replaced. */
import '@tensorflow/tfjs-backend-cpu'
import * as tf from '@tensorflow/tfjs-core'
import {beforeAll, describe, expect, it} from 'vitest'

import {registerAllGradients} from '../../src/backend/gradients.js'
import {InputError} from '../../src/errors.js'
import type {GPT} from '../../src/model/gpt.js'
import {DEFAULT_OBJECTIVE, objectiveFor} from '../../src/objective/index.js'
import {generate} from '../../src/sample/generate.js'
import {samplerFor} from '../../src/sample/index.js'
import {pickToken, type PickOptions} from '../../src/sample/pick.js'
import {mulberry32} from '../../src/util/random.js'
import {BANNED, BOS, randomModel} from './models.js'

beforeAll(async () => {
  await tf.setBackend('cpu')
  await registerAllGradients()
})

/** The sampler before the cache: rerun the whole window (the last seqLen tokens) per token. */
function uncached(model: GPT, context: number[], n: number, seqLen: number, pick: PickOptions, seed: number): number[] {
  const rand = mulberry32(seed)
  const ids = [...context]
  for (let i = 0; i < n; i++) {
    const window = ids.slice(-seqLen)
    const last = tf.tidy(() => tf.reshape(tf.slice(model.forward(tf.tensor2d(window, [1, window.length], 'int32')), [0, window.length - 1, 0], [1, 1, -1]), [-1]))
    ids.push(pickToken(last.dataSync() as Float32Array, pick, rand))
    last.dispose()
  }
  return ids.slice(context.length)
}

const context = [BOS, 5, 9, 3, 7]

describe('generate (KV cache)', () => {
  for (const quant of [false, true]) {
    it(`greedy output equals the uncached sampler's, before and after the window slides${quant ? ' (ternary)' : ''}`, () => {
      const m = randomModel(3, quant)
      const pick = {temperature: 0, topK: null, banned: BANNED}
      for (const seqLen of [64, 8]) {
        const out = generate(m, context, {...pick, tokens: 24, seqLen, seed: 1})
        expect(out.tokens, `seqLen ${seqLen}`).toEqual(uncached(m, context, 24, seqLen, pick, 1))
        expect(new Set(out.tokens).size).toBeGreaterThan(1) // not one id repeated, which any window would give
        expect(out.networkCalls).toBe(24) // one prefill, then one pass per further token
        expect(out.steps).toBeNull()
      }
      m.dispose()
    })
  }

  it('samples the same ids as the uncached sampler at temperature 1 with top-k, under the same seed', () => {
    const m = randomModel(5)
    const pick = {temperature: 1, topK: 6, banned: BANNED}
    const a = generate(m, context, {...pick, tokens: 30, seqLen: 16, seed: 9}).tokens
    expect(a).toEqual(uncached(m, context, 30, 16, pick, 9))
    expect(generate(m, context, {...pick, tokens: 30, seqLen: 16, seed: 10}).tokens).not.toEqual(a)
    m.dispose()
  })

  it('a context longer than seqLen keeps its last seqLen tokens, as the uncached window', () => {
    const m = randomModel(4)
    const long = [BOS, ...Array.from({length: 20}, (_, i) => 2 + ((i * 5) % 10))]
    const pick = {temperature: 0, topK: null, banned: BANNED}
    expect(generate(m, long, {...pick, tokens: 6, seqLen: 8, seed: 1}).tokens).toEqual(uncached(m, long, 6, 8, pick, 1))
    m.dispose()
  })

  it('leaks no tensor', () => {
    const m = randomModel(3, true)
    const opts = {temperature: 0.8, topK: null, banned: BANNED, tokens: 12, seqLen: 8, seed: 1}
    generate(m, context, opts)
    const before = tf.memory().numTensors
    generate(m, context, opts)
    expect(tf.memory().numTensors).toBe(before)
    m.dispose()
  })

  it('samplerFor(ar) decodes with it and refuses --steps', () => {
    const m = randomModel(3)
    const sampler = samplerFor(objectiveFor(DEFAULT_OBJECTIVE, m.cfg.vocab_size))
    const opts = {temperature: 0, topK: null, banned: BANNED, tokens: 5, seqLen: 16, seed: 1}
    expect(sampler.sample(m, context, {...opts, steps: null}).tokens).toEqual(generate(m, context, opts).tokens)
    expect(() => sampler.sample(m, context, {...opts, steps: 4})).toThrow(InputError)
    expect(() => sampler.sample(m, context, {...opts, steps: 4})).toThrow('--steps is for diffusion objectives')
    expect(() => sampler.sample(m, context, {...opts, tokens: 0, steps: null})).toThrow('--tokens must be a positive integer, got 0')
    m.dispose()
  })
})
