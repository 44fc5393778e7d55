import * as tf from '@tensorflow/tfjs-core'
import '@tensorflow/tfjs-backend-cpu'
import {beforeAll, describe, expect, it} from 'vitest'

import {_internal, evaluateChunked, evaluateSliding, type ScoringModel} from '../../src/eval/evaluate.js'
import {Byte260Tokenizer} from '../../src/tokenizer/byte260.js'

beforeAll(async () => {
  await tf.setBackend('cpu')
})

/** A model whose loss for a target is a known function of (target id, context length). */
function fakeModel(calls: Array<[number, number]>): ScoringModel {
  return {
    lossPerToken(inputs, targets) {
      const [B, T] = inputs.shape
      calls.push([B, T])
      const y = targets.dataSync()
      const out = new Float32Array(B * T)
      for (let i = 0; i < B * T; i++) out[i] = (y[i] % 7) / 4 + 1 / (1 + (i % T)) // context length = i % T
      return tf.tensor2d(out, [B, T])
    },
  }
}

describe('evaluation windows', () => {
  it('chunked windows are the official non-overlapping ones', () => {
    expect(_internal.chunkedWindows(10, 4)).toEqual([
      {start: 0, scoreFrom: 1},
      {start: 4, scoreFrom: 5},
    ])
  })

  it('sliding windows score every target exactly once, ending on the last token', () => {
    for (const [n, T, S] of [[100, 16, 4], [101, 16, 16], [17, 16, 3], [1000, 64, 7], [65, 64, 64]]) {
      const seen = new Uint8Array(n)
      for (const w of _internal.slidingWindows(n, T, S)) {
        expect(w.start).toBeGreaterThanOrEqual(0)
        expect(w.start + T).toBeLessThanOrEqual(n - 1)
        for (let p = w.scoreFrom; p <= w.start + T; p++) seen[p]++
        // every scored target beyond the first window has at least T - S tokens of context
        if (w.start > 0) expect(w.scoreFrom - 1 - w.start).toBeGreaterThanOrEqual(Math.min(T - S, T - 1) - (w.start + T === n - 1 ? T : 0))
      }
      expect(seen[0]).toBe(0)
      for (let p = 1; p < n; p++) expect(seen[p], `n=${n} T=${T} S=${S} p=${p}`).toBe(1)
    }
  })
})

describe('val_loss and val_bpb', () => {
  const table = new Byte260Tokenizer().byteTable()
  const tokens = Uint16Array.from([1, ...Array.from(new TextEncoder().encode('hello world, this is golf.'), (b) => b + 4)]) // 27 tokens

  it('chunked: exact float64 arithmetic over the scored targets', () => {
    const calls: Array<[number, number]> = []
    const r = evaluateChunked(fakeModel(calls), tokens, table, {seqLen: 8, batchSeqs: 2})
    // 26 targets → 3 windows of 8 targets (positions 1..24)
    let loss = 0
    for (let w = 0; w < 3; w++) for (let t = 0; t < 8; t++) loss += Math.fround((tokens[w * 8 + t + 1] % 7) / 4 + 1 / (1 + t))
    expect(r.tokens).toBe(24)
    expect(r.bytes).toBe(24) // byte260: every byte target is 1 byte
    expect(r.val_loss).toBe(loss / 24)
    expect(r.val_bpb).toBe((loss / 24 / Math.LN2) * (24 / 24))
    expect(calls).toEqual([[2, 8], [1, 8]])
  })

  it('sliding: all targets, later ones with the longer context', () => {
    const r = evaluateSliding(fakeModel([]), tokens, table, {seqLen: 8, batchSeqs: 4, stride: 4})
    expect(r.tokens).toBe(26)
    expect(r.bytes).toBe(26)
    expect(r.mode).toBe('sliding')
    const chunked = evaluateChunked(fakeModel([]), tokens, table, {seqLen: 8, batchSeqs: 4})
    // the fake loss falls with context, so sliding (more context) scores lower per token
    expect(r.val_loss).toBeLessThan(chunked.val_loss + 0.2)
  })

  it('rejects too few tokens and a bad stride', () => {
    expect(() => evaluateChunked(fakeModel([]), tokens.slice(0, 5), table, {seqLen: 8, batchSeqs: 1})).toThrow(/at least seq_len \+ 1 = 9/)
    expect(() => evaluateSliding(fakeModel([]), tokens, table, {seqLen: 8, batchSeqs: 1, stride: 9})).toThrow(/stride must be in \[1, 8\]/)
  })
})
