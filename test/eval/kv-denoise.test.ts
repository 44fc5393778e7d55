/**
 * Block diffusion scored through a KV cache of clean blocks (src/eval/kv-denoise.ts) on a tiny
 * random model (cpu backend): unquantized, the per-position NLLs of gptScorer's one
 * block-diffusion pass on the rows the ELBO and the chain rule produce; quantized, what the
 * sampler's cache shows a noisy block, whatever the batching, and more damage at fewer bits.
 */
import '@tensorflow/tfjs-backend-cpu'
import * as tf from '@tensorflow/tfjs-core'
import {beforeAll, describe, expect, it} from 'vitest'

import {initBackend} from '../../src/backend/index.js'
import {evaluateChain} from '../../src/eval/chain.js'
import {diffusionWindows, gptScorer, windowBatch, type DenoisingScorer} from '../../src/eval/denoise.js'
import {evaluateElbo} from '../../src/eval/elbo.js'
import {cachedScorer} from '../../src/eval/kv-denoise.js'
import {kvScoreModes, scoreModel} from '../../src/eval/score.js'
import {DEFAULT_MODEL_CONFIG, type ModelConfig} from '../../src/model/config.js'
import {crossEntropyRows, GPT} from '../../src/model/gpt.js'
import {objectiveFor} from '../../src/objective/index.js'
import {DEFAULT_OBJECTIVE, type DiffusionObjective, type ObjectiveConfig} from '../../src/objective/types.js'
import type {KVQuantConfig} from '../../src/quant/kv-cache.js'
import {Byte260Tokenizer} from '../../src/tokenizer/byte260.js'
import {mulberry32} from '../../src/util/random.js'
import {loadRandomWeights} from '../helpers/random.js'

beforeAll(async () => {
  await tf.setBackend('cpu')
})

// byte260 ids + [MASK]; Dh = 8, 4 layer applications with U-Net skips and x0 mix, GQA
const cfg: ModelConfig = {...DEFAULT_MODEL_CONFIG, vocab_size: 261, model_dim: 16, num_heads: 2, num_kv_heads: 1, unique_blocks: 2, loops: 2, unet_skips: true, x0_mix: true}
const tok = new Byte260Tokenizer()
const table = tok.byteTable()
const text = 'The jury further said in term-end presentments that the City Executive Committee, which had over-all charge of the election, deserves the praise and thanks of the City of Atlanta for the manner in which the election was conducted.'
const tokens = Uint16Array.from([tok.bosId, ...tok.encode(text)]) // 7 windows of 32
const T = 32

function model(seed = 3): GPT {
  const m = new GPT(cfg, {seed: 1, ternary: {patterns: [], config: {groupSize: 'row', scaleFormat: 'fp32', zeroCorrection: true}}})
  loadRandomWeights(m, seed, 0.5)
  return m
}

function bd3(block: number, shift: boolean): DiffusionObjective {
  const c: ObjectiveConfig = {...DEFAULT_OBJECTIVE, kind: 'bd3lm', block_size: block, shift}
  return objectiveFor(c, cfg.vocab_size) as DiffusionObjective
}

const kivi = (bits: 2 | 3 | 4, group = 4, residual = 4): KVQuantConfig => ({bits, group, residual})

/** A scorer that keeps a copy of every batch's NLLs. */
function recording(s: DenoisingScorer): {scorer: DenoisingScorer; calls: Float32Array[]} {
  const calls: Float32Array[] = []
  return {scorer: {nll: (b) => {
    const out = s.nll(b)
    calls.push(Float32Array.from(out))
    return out
  }}, calls}
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length)
  let m = 0
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]))
  return m
}

describe('cachedScorer, unquantized: gptScorer rearranged', () => {
  const m = model()
  for (const shift of [false, true]) {
    for (const bs of [4, 8]) {
      for (const mode of ['elbo', 'chain'] as const) {
        it(`${mode}, block ${bs}${shift ? ', shifted' : ''}: the same per-position NLLs on every batch of 3 rows (and the same score)`, () => {
          const obj = bd3(bs, shift)
          const run = (s: DenoisingScorer) =>
            mode === 'elbo'
              ? evaluateElbo(s, obj, tokens, table, {seqLen: T, batchSeqs: 3, steps: 8, samples: 2, seed: 5})
              : evaluateChain(s, obj, tokens, table, {seqLen: T, batchSeqs: 3, order: 'random', seed: 2})
          const full = recording(gptScorer(m))
          const cached = cachedScorer(m, null)
          const viaCache = recording(cached)
          const a = run(full.scorer)
          const b = run(viaCache.scorer)
          cached.dispose()
          expect(viaCache.calls.length).toBe(full.calls.length)
          const windows = diffusionWindows(tokens, T).count
          expect(full.calls.length).toBe(Math.ceil((windows * (mode === 'elbo' ? 2 : bs)) / 3)) // 2 draws or bs rows per window, in batches of 3
          let worst = 0
          full.calls.forEach((nll, i) => (worst = Math.max(worst, maxAbsDiff(nll, viaCache.calls[i]))))
          expect(worst).toBeLessThan(1e-5)
          expect(Math.abs(b.val_loss / a.val_loss - 1)).toBeLessThan(1e-6)
          expect([b.tokens, b.bytes, b.mode, b.bound, b.block_size]).toEqual([a.tokens, a.bytes, a.mode, a.bound, a.block_size])
        })
      }
    }
  }
})

describe('cachedScorer, quantized', () => {
  it("each noisy block reads what the sampler's cache of the clean blocks before it shows it", () => {
    // the reference, one row and one block at a time: the clean blocks < b prefilled block-causally
    // in one call (as diffusionSample's prefill), then the noisy block over them
    const m = model()
    const obj = bd3(4, true)
    const kv = kivi(2, 4, 2)
    const w = diffusionWindows(tokens, T)
    const rand = mulberry32(9)
    const masked = Uint8Array.from({length: 3 * T}, () => (rand() < 0.5 ? 1 : 0))
    const batch = windowBatch(obj, w, [0, 2, 4], masked)
    const scorer = cachedScorer(m, kv)
    const got = scorer.nll(batch)
    scorer.dispose()
    let worst = 0
    for (let r = 0; r < 3; r++) {
      const row = batch.inputs.subarray(r * 2 * T, (r + 1) * 2 * T)
      for (let s = 0; s < T; s += 4) {
        const cache = m.newKVCache({quant: kv})
        if (s > 0) tf.tidy(() => m.forwardCached(tf.tensor2d(row.slice(T, T + s), [1, s], 'int32'), cache, {within: {blockCausal: 4}, commit: true})).dispose()
        const nll = tf.tidy(() => {
          const logits = m.forwardCached(tf.tensor2d(row.slice(s, s + 4), [1, 4], 'int32'), cache, {within: 'bidirectional', commit: false, suppress: batch.suppress})
          return crossEntropyRows(tf.reshape(logits, [4, -1]) as tf.Tensor2D, tf.tensor1d(batch.targets.slice(r * T + s, r * T + s + 4), 'int32')).nll
        })
        const want = nll.dataSync() as Float32Array
        for (let j = 0; j < 4; j++) worst = Math.max(worst, Math.abs(got[r * T + s + j] - want[j]))
        nll.dispose()
        cache.dispose()
      }
    }
    expect(worst).toBe(0)
    // and the quantization is there: the float32 cache scores otherwise
    const plain = cachedScorer(m, null)
    expect(maxAbsDiff(plain.nll(batch), got)).toBeGreaterThan(1e-3)
    plain.dispose()
    m.dispose()
  })

  it('moves the NLLs a little at fp16, more at each bit fewer; the ELBO more at 2 bits than at 4', () => {
    // random models of a few seeds, the same seeded masks. Per position, |Δ nll| orders with
    // the step size on every model; the ELBO's errors partly cancel over positions, so its
    // movement is compared as the mean over the models
    const obj = bd3(4, true)
    const few = tokens.subarray(0, 4 * T + 1) // 4 windows
    const moved = {16: 0, 4: 0, 2: 0}
    for (const seed of [3, 11, 29]) {
      const m = model(seed)
      const run = (s: DenoisingScorer) => {
        const r = recording(s)
        return {loss: evaluateElbo(r.scorer, obj, few, table, {seqLen: T, batchSeqs: 4, steps: 16, samples: 2, seed: 7}).val_loss, calls: r.calls}
      }
      const exact = run(gptScorer(m))
      const err = {} as Record<16 | 4 | 3 | 2, number> // mean |Δ nll| over every scored position
      for (const [bits, kv] of [[16, {bits: 16, group: 1, residual: 0}], [4, kivi(4, 8, 4)], [3, kivi(3, 8, 4)], [2, kivi(2, 8, 4)]] as const) {
        const scorer = cachedScorer(m, kv)
        const q = run(scorer)
        scorer.dispose()
        let sum = 0
        let count = 0
        q.calls.forEach((nll, i) => nll.forEach((x, j) => ((sum += Math.abs(x - exact.calls[i][j])), count++)))
        err[bits] = sum / count
        if (bits !== 3) moved[bits] += Math.abs(q.loss - exact.loss) / exact.loss / 3
      }
      expect(err[16], `seed ${seed}`).toBeLessThan(1e-3)
      expect(err[4], `seed ${seed}`).toBeGreaterThan(10 * err[16])
      expect(err[3], `seed ${seed}`).toBeGreaterThan(err[4])
      expect(err[2], `seed ${seed}`).toBeGreaterThan(2 * err[3])
      m.dispose()
    }
    expect(moved[16]).toBeLessThan(1e-4)
    expect(moved[4]).toBeLessThan(0.01)
    expect(moved[2]).toBeGreaterThan(3 * moved[4])
    expect(moved[4]).toBeGreaterThan(moved[16])
  })

  for (const backend of ['cpu', 'wasm'] as const) {
    it(`does not depend on the batching, bit for bit (${backend})`, async () => {
      await initBackend(backend, {quiet: true})
      const m = model()
      try {
        for (const [mode, obj] of [['elbo', bd3(4, true)], ['chain', bd3(8, false)]] as const) {
          const score = (batchSeqs: number) => scoreModel(m, obj, tokens.subarray(0, 5 * T + 1), table, {mode, seqLen: T, batchSeqs, elboSteps: 8, seed: 3, kv: kivi(3)}).val_loss
          const one = score(1)
          expect(score(3), `${mode}, batch 3`).toBe(one)
          expect(score(64), `${mode}, batch 64`).toBe(one)
        }
      } finally {
        m.dispose()
        await tf.setBackend('cpu')
      }
    }, 60_000)
  }
})

describe('scoreModel and kvScoreModes', () => {
  it('routes elbo and chain + kv through the cached scorer; MDLM and AR chunked are refused', () => {
    const m = model()
    const obj = bd3(4, true)
    const few = tokens.subarray(0, 3 * T + 1) // 3 windows
    const opts = {seqLen: T, batchSeqs: 2, seed: 1}
    const elbo = scoreModel(m, obj, few, table, {...opts, mode: 'elbo', elboSteps: 8, kv: kivi(2)})
    const direct = cachedScorer(m, kivi(2))
    expect(elbo.val_loss).toBe(evaluateElbo(direct, obj, few, table, {...opts, steps: 8}).val_loss)
    expect(scoreModel(m, obj, few, table, {...opts, mode: 'chain', kv: kivi(2)}).val_loss).toBe(evaluateChain(direct, obj, few, table, opts).val_loss)
    direct.dispose()
    const mdlm = objectiveFor({...DEFAULT_OBJECTIVE, kind: 'mdlm'}, cfg.vocab_size)
    expect(() => scoreModel(m, mdlm, tokens, table, {...opts, mode: 'elbo', kv: kivi(2)})).toThrow('a quantized KV cache needs clean blocks to cache: mdlm denoises the whole sequence of 32 as one block')
    const ar = objectiveFor(DEFAULT_OBJECTIVE, cfg.vocab_size)
    expect(() => scoreModel(m, ar, tokens, table, {...opts, mode: 'chunked', kv: kivi(2)})).toThrow('a quantized KV cache applies to sliding evaluation only, not chunked')
    expect(kvScoreModes(obj, T)).toEqual(['elbo', 'chain'])
    expect(kvScoreModes(mdlm, T)).toEqual([])
    expect(kvScoreModes(bd3(T, false), T)).toEqual([])
    expect(kvScoreModes(ar, T)).toEqual(['sliding'])
    // a non-block-diffusion batch is not the cached scorer's
    const s = cachedScorer(m, null)
    const w = diffusionWindows(tokens, T)
    expect(() => s.nll(windowBatch(mdlm as DiffusionObjective, w, [0], new Uint8Array(T)))).toThrow('scores block-diffusion batches')
    s.dispose()
    m.dispose()
  })

  it('leaks nothing', () => {
    const m = model()
    const obj = bd3(4, false)
    const run = () => scoreModel(m, obj, tokens.subarray(0, 3 * T + 1), table, {mode: 'chain', seqLen: T, batchSeqs: 5, kv: kivi(2)})
    run()
    const before = tf.memory().numTensors
    run()
    expect(tf.memory().numTensors).toBe(before)
    m.dispose()
  })
})
