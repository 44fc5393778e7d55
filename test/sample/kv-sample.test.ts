/** The samplers over a quantized KV cache (`kv`): AR and BD3-LM take it, MDLM refuses it. */
import '@tensorflow/tfjs-backend-cpu'
import * as tf from '@tensorflow/tfjs-core'
import {beforeAll, describe, expect, it} from 'vitest'

import {registerAllGradients} from '../../src/backend/gradients.js'
import {InputError} from '../../src/errors.js'
import type {GPT} from '../../src/model/gpt.js'
import {DEFAULT_OBJECTIVE, objectiveFor} from '../../src/objective/index.js'
import type {KVQuantConfig} from '../../src/quant/kv-cache.js'
import {generate} from '../../src/sample/generate.js'
import {samplerFor} from '../../src/sample/index.js'
import {pickToken} from '../../src/sample/pick.js'
import {mulberry32} from '../../src/util/random.js'
import {BANNED, BOS, randomModel, TINY} from './models.js'

beforeAll(async () => {
  await tf.setBackend('cpu')
  await registerAllGradients()
})

const KV: KVQuantConfig = {bits: 2, group: 2, residual: 2} // TINY: Dh = 4
const pick = {temperature: 0, topK: null, banned: BANNED}

/** Record the quant option of every cache the model makes. */
function spyCaches(m: GPT): Array<KVQuantConfig | null> {
  const seen: Array<KVQuantConfig | null> = []
  const original = m.newKVCache.bind(m)
  m.newKVCache = (opts = {}) => {
    seen.push(opts.quant ?? null)
    return original(opts)
  }
  return seen
}

/** Greedy decoding fed one token at a time (no prefill) through a cache quantized as `kv`. */
function tokenByToken(m: GPT, context: number[], n: number, kv: KVQuantConfig): number[] {
  const cache = m.newKVCache({quant: kv})
  const rand = mulberry32(1)
  const ids = [...context]
  let logits: Float32Array | null = null
  for (const id of context) {
    const last = tf.tidy(() => tf.reshape(m.forwardCached(tf.tensor2d([[id]], [1, 1], 'int32'), cache, {within: 'causal', commit: true}), [-1]))
    logits = Float32Array.from(last.dataSync() as Float32Array)
    last.dispose()
  }
  for (let i = 0; i < n; i++) {
    const id = pickToken(logits!, pick, rand)
    ids.push(id)
    const last = tf.tidy(() => tf.reshape(m.forwardCached(tf.tensor2d([[id]], [1, 1], 'int32'), cache, {within: 'causal', commit: true}), [-1]))
    logits = Float32Array.from(last.dataSync() as Float32Array)
    last.dispose()
  }
  cache.dispose()
  return ids.slice(context.length)
}

describe('samplers with a quantized KV cache', () => {
  it('AR: the cache is quantized; prefill + decoding give what one token at a time gives', () => {
    const m = randomModel(3)
    const seen = spyCaches(m)
    const context = [BOS, 5, 9, 3, 7, 2, 8, 4, 6, 10, 3]
    const out = generate(m, context, {...pick, tokens: 16, seqLen: 64, seed: 1, kv: KV})
    expect(seen).toEqual([KV])
    expect(out.tokens).toEqual(tokenByToken(m, context, 16, KV))
    // a window that slides re-prefills: the same rule holds from the new window start
    const slid = generate(m, context, {...pick, tokens: 16, seqLen: 8, seed: 1, kv: KV})
    expect(slid.tokens).toHaveLength(16)
    expect(seen).toEqual([KV, KV, KV]) // generate, the reference, generate again
    m.dispose()
  })

  it('BD3-LM: the cache of clean blocks is quantized', () => {
    const m = randomModel(5)
    const seen = spyCaches(m)
    const bd3 = samplerFor(objectiveFor({...DEFAULT_OBJECTIVE, kind: 'bd3lm', block_size: 4}, TINY.vocab_size))
    const out = bd3.sample(m, [BOS, 5, 9, 3, 7, 2], {...pick, temperature: 1, tokens: 12, seqLen: 16, seed: 2, steps: 4, kv: KV})
    expect(out.tokens).toHaveLength(12)
    expect(seen.length).toBeGreaterThan(0)
    for (const q of seen) expect(q).toEqual(KV)
    m.dispose()
  })

  it('MDLM refuses, in one line', () => {
    const m = randomModel(5)
    const mdlm = samplerFor(objectiveFor({...DEFAULT_OBJECTIVE, kind: 'mdlm'}, TINY.vocab_size))
    const run = () => mdlm.sample(m, [BOS, 5], {...pick, tokens: 4, seqLen: 16, seed: 1, steps: 4, kv: KV})
    expect(run).toThrow(InputError)
    expect(run).toThrow(/^--kv-bits: mdlm denoises its whole sequence of 16 as one bidirectional block; there is no cache of clean blocks to quantize$/)
    expect(mdlm.sample(m, [BOS, 5], {...pick, tokens: 4, seqLen: 16, seed: 1, steps: 4, kv: null}).tokens).toHaveLength(4)
    m.dispose()
  })
})
