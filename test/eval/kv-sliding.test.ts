/**
 * Sliding-window evaluation through the KV cache (src/eval/kv-sliding.ts) on a tiny random
 * model (cpu backend): unquantized it is evaluateSliding; quantized, every scored target reads
 * what token-by-token decoding from its window's start shows it, whatever the batching.
 */
import '@tensorflow/tfjs-backend-cpu'
import * as tf from '@tensorflow/tfjs-core'
import {beforeAll, describe, expect, it} from 'vitest'

import {_internal, evaluateSliding} from '../../src/eval/evaluate.js'
import {evaluateSlidingCached} from '../../src/eval/kv-sliding.js'
import {scoreModel} from '../../src/eval/score.js'
import {bitsPerByte, countTargetBytes} from '../../src/metric/bpb.js'
import {DEFAULT_MODEL_CONFIG, type ModelConfig} from '../../src/model/config.js'
import {crossEntropyRows, GPT} from '../../src/model/gpt.js'
import {DEFAULT_OBJECTIVE, objectiveFor} from '../../src/objective/index.js'
import type {KVQuantConfig} from '../../src/quant/kv-cache.js'
import {Byte260Tokenizer} from '../../src/tokenizer/byte260.js'
import {loadRandomWeights} from '../helpers/random.js'

beforeAll(async () => {
  await tf.setBackend('cpu')
})

// byte260 ids; Dh = 8, 4 layer applications with U-Net skips and x0 mix
const cfg: ModelConfig = {...DEFAULT_MODEL_CONFIG, vocab_size: 260, model_dim: 16, num_heads: 2, num_kv_heads: 1, unique_blocks: 2, loops: 2, unet_skips: true, x0_mix: true}
const tok = new Byte260Tokenizer()
const table = tok.byteTable()
const text = 'The jury further said in term-end presentments that the City Executive Committee, which had over-all charge of the election, deserves the praise and thanks of the City of Atlanta for the manner in which the election was conducted.'
const tokens = Uint16Array.from([tok.bosId, ...tok.encode(text)])

function model(seed = 3): GPT {
  const m = new GPT(cfg, {seed: 1, ternary: {patterns: [], config: {groupSize: 'row', scaleFormat: 'fp32', zeroCorrection: true}}})
  loadRandomWeights(m, seed, 0.5)
  return m
}

const kivi = (bits: 2 | 3 | 4, group = 4, residual = 4): KVQuantConfig => ({bits, group, residual})

describe('evaluateSlidingCached', () => {
  it('unquantized: the val_loss and val_bpb of evaluateSliding (windows, targets, bytes alike)', () => {
    const m = model()
    for (const [T, stride, batchSeqs] of [[32, 8, 3], [32, 32, 2], [24, 5, 4], [48, 48, 1]]) {
      const opts = {seqLen: T, stride, batchSeqs}
      const full = evaluateSliding(m, tokens, table, opts)
      const cached = evaluateSlidingCached(m, tokens, table, {...opts, kv: null})
      expect(cached.tokens, `T ${T} stride ${stride}`).toBe(tokens.length - 1)
      expect([cached.tokens, cached.bytes, cached.mode, cached.seq_len, cached.stride]).toEqual([full.tokens, full.bytes, full.mode, full.seq_len, full.stride])
      expect(Math.abs(cached.val_loss / full.val_loss - 1), `T ${T} stride ${stride}`).toBeLessThan(1e-6)
      expect(Math.abs(cached.val_bpb / full.val_bpb - 1)).toBeLessThan(1e-6)
    }
    m.dispose()
  })

  it('quantized: each target scores what token-by-token decoding from its window start gives it', () => {
    const m = model()
    const T = 32
    const stride = 12
    const kv = kivi(2)
    // the reference: every window decoded one token at a time through a fresh quantized cache
    let nats = 0
    for (const w of _internal.slidingWindows(tokens.length, T, stride)) {
      const cache = m.newKVCache({quant: kv})
      for (let t = 0; t < T; t++) {
        const p = w.start + t + 1 // target position
        const nll = tf.tidy(() => {
          const logits = m.forwardCached(tf.tensor2d([[tokens[w.start + t]]], [1, 1], 'int32'), cache, {within: 'causal', commit: true})
          return crossEntropyRows(tf.reshape(logits, [1, -1]) as tf.Tensor2D, tf.tensor1d([tokens[p]], 'int32')).nll
        })
        if (p >= w.scoreFrom) nats += nll.dataSync()[0]
        nll.dispose()
      }
      cache.dispose()
    }
    const n = tokens.length - 1
    const loss = nats / n
    for (const batchSeqs of [1, 4]) {
      const r = evaluateSlidingCached(m, tokens, table, {seqLen: T, stride, batchSeqs, kv})
      expect(r.val_loss, `batch ${batchSeqs}`).toBeCloseTo(loss, 12)
      expect(r.val_bpb).toBeCloseTo(bitsPerByte(loss, n, countTargetBytes(table, tokens, 1, tokens.length)), 12)
    }
    m.dispose()
  })

  it('does not depend on the batching, bit for bit', () => {
    const m = model()
    const score = (batchSeqs: number) => evaluateSlidingCached(m, tokens, table, {seqLen: 32, stride: 8, batchSeqs, kv: kivi(3)}).val_loss
    const one = score(1)
    expect(score(3)).toBe(one)
    expect(score(64)).toBe(one)
    m.dispose()
  })

  it('moves the loss a little at fp16 and 4 bits, more at 2 bits', () => {
    // random models of a few seeds: the mean |Δ val_loss| orders with the step size
    const deltas = {16: 0, 4: 0, 2: 0}
    for (const seed of [3, 11, 29]) {
      const m = model(seed)
      const opts = {seqLen: 48, stride: 16, batchSeqs: 4}
      const exact = evaluateSliding(m, tokens, table, opts).val_loss
      const loss = (kv: KVQuantConfig) => evaluateSlidingCached(m, tokens, table, {...opts, kv}).val_loss
      deltas[16] += Math.abs(loss({bits: 16, group: 1, residual: 0}) - exact) / exact / 3
      deltas[4] += Math.abs(loss(kivi(4, 8, 8)) - exact) / exact / 3
      deltas[2] += Math.abs(loss(kivi(2, 8, 8)) - exact) / exact / 3
      m.dispose()
    }
    expect(deltas[16]).toBeLessThan(1e-3)
    expect(deltas[4]).toBeLessThan(0.02)
    expect(deltas[2]).toBeGreaterThan(3 * deltas[4])
    expect(deltas[4]).toBeGreaterThan(deltas[16])
  })

  it('scoreModel routes sliding + kv through the cache, and refuses kv elsewhere', () => {
    const m = model()
    const ar = objectiveFor(DEFAULT_OBJECTIVE, cfg.vocab_size)
    const opts = {seqLen: 32, batchSeqs: 2, stride: 8}
    const viaScore = scoreModel(m, ar, tokens, table, {...opts, mode: 'sliding', kv: kivi(2)})
    expect(viaScore.val_loss).toBe(evaluateSlidingCached(m, tokens, table, {...opts, kv: kivi(2)}).val_loss)
    expect(() => scoreModel(m, ar, tokens, table, {...opts, mode: 'chunked', kv: kivi(2)})).toThrow('sliding evaluation only')
    m.dispose()
  })

  it('leaks nothing', () => {
    const m = model()
    evaluateSlidingCached(m, tokens, table, {seqLen: 32, stride: 8, batchSeqs: 3, kv: kivi(2)})
    const before = tf.memory().numTensors
    evaluateSlidingCached(m, tokens, table, {seqLen: 32, stride: 8, batchSeqs: 3, kv: kivi(2)})
    expect(tf.memory().numTensors).toBe(before)
    m.dispose()
  })
})
