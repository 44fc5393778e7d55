/**
 * The KV-cache quantizer (KIVI) and the quantized cache of GPT.forwardCached (cpu backend):
 * hand-computed groups, the error bound on random data, fp16 storage, the exact residual, the
 * cache's independence from how its tokens arrived, and the analytic bytes per token.
 */
import '@tensorflow/tfjs-backend-cpu'
import * as tf from '@tensorflow/tfjs-core'
import {beforeAll, describe, expect, it} from 'vitest'

import {InputError} from '../../src/errors.js'
import {DEFAULT_MODEL_CONFIG, type ModelConfig} from '../../src/model/config.js'
import {GPT} from '../../src/model/gpt.js'
import {type CachedWithin, type KVCache} from '../../src/model/kv-cache.js'
import {f16BitsToF32, f32ToF16Bits} from '../../src/quant/float-formats.js'
import {checkKVQuant, describeKV, fullKVBytesPerToken, kvBytesPerToken, kvQuantConfig, kvReport, quantizedPrefix, quantizeKeys, quantizeValues, type KVQuantConfig} from '../../src/quant/kv-cache.js'
import {loadRandomWeights, uniformValues} from '../helpers/random.js'

beforeAll(async () => {
  await tf.setBackend('cpu')
})

const kivi = (bits: 2 | 3 | 4, group: number, residual = 0): KVQuantConfig => ({bits, group, residual})
const FP16: KVQuantConfig = {bits: 16, group: 1, residual: 0}

/** x (B, KV, T, Dh) given as [token][channel] rows of one head. */
function head(rows: number[][]): tf.Tensor4D {
  return tf.tensor4d(rows.flat(), [1, 1, rows.length, rows[0].length])
}

function host(t: tf.Tensor): Float32Array {
  return t.dataSync() as Float32Array
}

/** The same float32 bit patterns (±0 and NaN payloads told apart). */
function bitsEqual(a: tf.Tensor, b: tf.Tensor): boolean {
  const bytes = (x: Float32Array) => Buffer.from(x.buffer, x.byteOffset, x.byteLength) // a slice may be a view
  return bytes(host(a)).equals(bytes(host(b)))
}

describe('quantizeKeys / quantizeValues: hand-computed groups', () => {
  it('2 bits: keys per channel over G tokens (s = (max − min)/3, round half to even)', () => {
    // channel 0: min −1, max 2, s = 1: (x + 1) = 0, 1.25, 1.5, 3 → q 0, 1, 2, 3
    // channel 1: min 0, max 3, s = 1: q 0, 0 (0.5 → even), 2 (2.5 → even), 3
    // channel 2: constant: every value is the minimum (no NaN)
    const k = head([
      [-1, 0, 5],
      [0.25, 0.5, 5],
      [0.5, 2.5, 5],
      [2, 3, 5],
    ])
    const got = quantizeKeys(k, kivi(2, 4))
    expect(Array.from(host(got))).toEqual([-1, 0, 5, 0, 0, 5, 1, 2, 5, 2, 3, 5])
    tf.dispose([k, got])
  })

  it('3 bits: keys per channel (s = (max − min)/7)', () => {
    // channel 0: min 0, max 7, s = 1: q 0, 4 (3.5 → even), 7, 1 (1.25)
    // channel 1: min −1, max 2.5, s = 0.5: (x + 1)/0.5 = 0, 7, 2.5, 0.5 → q 0, 7, 2, 0
    const k = head([
      [0, -1],
      [3.5, 2.5],
      [7, 0.25],
      [1.25, -0.75],
    ])
    const got = quantizeKeys(k, kivi(3, 4))
    expect(Array.from(host(got))).toEqual([0, -1, 4, 2.5, 7, 0, 1, -1])
    tf.dispose([k, got])
  })

  it('two key groups along time are quantized apart', () => {
    const k = head([[0], [3], [10], [10.75]]) // groups of 2 tokens: [0, 3] and [10, 10.75]
    const got = quantizeKeys(k, kivi(2, 2))
    expect(Array.from(host(got))).toEqual([0, 3, 10, 10.75])
    const odd = head([[0], [1], [3]])
    expect(() => quantizeKeys(odd, kivi(2, 2))).toThrow('not whole groups of 2')
    tf.dispose([k, got, odd])
  })

  it('values per token over G channels, at 2 and 3 bits', () => {
    // token 0, 2 bits: [0, 1.25, 2.5, 3] → s = 1, q 0, 1, 2 (2.5 → even), 3
    // token 1, 2 bits: groups of 2 channels: [1, 4] exact (min and max), [−2, −2] constant
    const v2 = head([[0, 1.25, 2.5, 3]])
    expect(Array.from(host(quantizeValues(v2, kivi(2, 4))))).toEqual([0, 1, 2, 3])
    const v2b = head([[1, 4, -2, -2]])
    expect(Array.from(host(quantizeValues(v2b, kivi(2, 2))))).toEqual([1, 4, -2, -2])
    // 3 bits: [0, 1, 7, 3.5] → s = 1, q 0, 1, 7, 4 (3.5 → even); [−1, 0.25, 2.5, −0.75] → s = 0.5,
    // (x + 1)/0.5 = 0, 2.5, 7, 0.5 → q 0, 2, 7, 0
    const v3 = head([
      [0, 1, 7, 3.5],
      [-1, 0.25, 2.5, -0.75],
    ])
    expect(Array.from(host(quantizeValues(v3, kivi(3, 4))))).toEqual([0, 1, 7, 4, -1, 0, 2.5, -1])
    tf.dispose([v2, v2b, v3])
  })
})

describe('quantizeKeys / quantizeValues: error bound on random data', () => {
  // |x̂ − x| ≤ s/2 in exact arithmetic. float32: s, x − mn, (x − mn)/s, q·s and q·s + mn are
  // each one correctly rounded operation (relative error ≤ u = 2^-24), and round() never
  // clamps (t ≤ L(1 + 3u) < L + 1/2), so |x̂ − x| ≤ s/2 + u·(2.01·(x − mn) + L·s + |x̂|) ≤
  // s/2 + u·(4.1·(mx − mn) + |mn|): the slack below, 8u·(mx − mn + |mn|), covers it.
  const B = 2
  const KV = 3
  const T = 24
  const Dh = 12
  const G = 4
  const x = uniformValues(B * KV * T * Dh, 5, 3)
  for (let i = 0; i < x.length; i += 7) x[i] *= 40 // outliers, as real keys have
  const at = (b: number, h: number, t: number, c: number) => ((b * KV + h) * T + t) * Dh + c

  /** Check every element against its group's bound; `members` lists the group of element (b, h, t, c). */
  function checkBound(got: Float32Array, bits: number, members: (b: number, h: number, t: number, c: number) => number[]): number {
    const L = 2 ** bits - 1
    let worst = 0
    for (let b = 0; b < B; b++)
      for (let h = 0; h < KV; h++)
        for (let t = 0; t < T; t++)
          for (let c = 0; c < Dh; c++) {
            const g = members(b, h, t, c).map((i) => x[i])
            const mn = Math.min(...g)
            const mx = Math.max(...g)
            const s = Math.fround(Math.fround(mx - mn) / L)
            const i = at(b, h, t, c)
            const err = Math.abs(got[i] - x[i])
            const bound = s / 2 + 2 ** -21 * (mx - mn + Math.abs(mn))
            if (err > bound) throw new Error(`element (${b}, ${h}, ${t}, ${c}): |x̂ − x| = ${err} > ${bound}`)
            worst = Math.max(worst, err / (s / 2))
          }
    return worst
  }

  for (const bits of [2, 3, 4] as const) {
    it(`${bits} bits: keys per channel, values per token, every element within s/2`, () => {
      const t = tf.tensor4d(x, [B, KV, T, Dh])
      const keys = host(quantizeKeys(t, kivi(bits, G)))
      const values = host(quantizeValues(t, kivi(bits, G)))
      const keyGroup = (b: number, h: number, tt: number, c: number) => Array.from({length: G}, (_, j) => at(b, h, Math.floor(tt / G) * G + j, c))
      const valueGroup = (b: number, h: number, tt: number, c: number) => Array.from({length: G}, (_, j) => at(b, h, tt, Math.floor(c / G) * G + j))
      // the bound is tight: some element is close to half a step off
      expect(checkBound(keys, bits, keyGroup)).toBeGreaterThan(0.9)
      expect(checkBound(values, bits, valueGroup)).toBeGreaterThan(0.9)
      // and the other grouping is not what was computed
      expect(() => checkBound(keys, bits, valueGroup)).toThrow()
      t.dispose()
    })
  }

  it('bits 16 is fp16 rounding exactly (RNE, subnormals included)', () => {
    const v = Float32Array.from(uniformValues(4000, 9, 1), (r, i) => r * 2 ** ((i % 40) - 28)) // 2^-28 .. 2^11
    const t = tf.tensor4d(v, [1, 2, 100, 20])
    const want = Array.from(v, (a) => f16BitsToF32(f32ToF16Bits(a)) || 0) // a value rounding to zero is stored as +0 (float-store)
    expect(Array.from(host(quantizeKeys(t, FP16)))).toEqual(want)
    expect(Array.from(host(quantizeValues(t, FP16)))).toEqual(want)
    t.dispose()
  })
})

describe('kvQuantConfig, checkKVQuant, quantizedPrefix', () => {
  it('defaults, fp16, and one-line refusals naming the flag', () => {
    expect(kvQuantConfig({})).toBeNull()
    expect(kvQuantConfig({bits: 2})).toEqual({bits: 2, group: 32, residual: 32})
    expect(kvQuantConfig({bits: 4, group: 8, residual: 0})).toEqual({bits: 4, group: 8, residual: 0})
    expect(kvQuantConfig({bits: 16})).toEqual(FP16)
    const refusals: Array<[Parameters<typeof kvQuantConfig>[0], string]> = [
      [{bits: 5}, '--kv-bits must be 2, 3, 4 or 16 (fp16), got 5'],
      [{bits: 8}, '--kv-bits must be 2, 3, 4 or 16 (fp16), got 8'],
      [{bits: 2, group: 0}, '--kv-group must be a positive integer, got 0'],
      [{bits: 2, residual: -1}, '--kv-residual must be an integer >= 0, got -1'],
      [{group: 16}, '--kv-group needs --kv-bits 2, 3 or 4'],
      [{bits: 16, residual: 4}, '--kv-residual applies to 2-, 3- and 4-bit caches; --kv-bits 16 stores every key and value as fp16'],
    ]
    for (const [flags, message] of refusals) {
      expect(() => kvQuantConfig(flags)).toThrow(InputError)
      expect(() => kvQuantConfig(flags)).toThrow(message)
    }
    expect(() => checkKVQuant(kivi(2, 32), 16)).toThrow('--kv-group 32 must divide the head dimension 16 (values are quantized in groups of G channels of one head); try --kv-group 16')
    expect(() => checkKVQuant(kivi(2, 6), 16)).toThrow('try --kv-group 2')
    expect(() => checkKVQuant(kivi(2, 8), 16)).not.toThrow()
    expect(() => checkKVQuant(FP16, 6)).not.toThrow()
  })

  it('the quantized prefix is whole groups, leaving at least R tokens exact', () => {
    const c = kivi(2, 4, 3)
    expect([0, 3, 6, 7, 10, 11, 100].map((P) => quantizedPrefix(P, c))).toEqual([0, 0, 0, 4, 4, 8, 96])
    for (let P = 0; P < 60; P++) {
      const Q = quantizedPrefix(P, c)
      expect(Q % 4).toBe(0)
      expect(P - Q).toBeGreaterThanOrEqual(Math.min(P, 3))
      expect(P - Q).toBeLessThan(3 + 4)
    }
    expect(quantizedPrefix(17, FP16)).toBe(17)
  })
})

describe('kvBytesPerToken', () => {
  it('counts codes, fp16 scales and zeros, and the residual at fp16 (by hand)', () => {
    const dims = {L: 4, KV: 2, Dh: 16}
    // 40 tokens, G = R = 8: Q = 32 quantized. Per quantized token and KV head: keys 16·2/8 = 4
    // bytes of codes + 4·16/8 = 8 of scale/zero, values the same: 24; per exact token 4·16 = 64.
    // Total 4·2·(32·24 + 8·64) = 10,240 bytes: 256 per token; fp16: 4·4·2·16 = 512.
    expect(kvBytesPerToken(kivi(2, 8, 8), dims, 40)).toBe(256)
    // 3 bits: codes 16·3/8 = 6 bytes, 28 per quantized token: 4·2·(32·28 + 512)/40 = 281.6
    expect(kvBytesPerToken(kivi(3, 8, 8), dims, 40)).toBeCloseTo(281.6, 10)
    expect(fullKVBytesPerToken(dims)).toBe(512)
    expect(kvBytesPerToken(null, dims, 40)).toBe(512)
    expect(kvBytesPerToken(FP16, dims, 40)).toBe(512)
    // a cache shorter than R + G holds no quantized token
    expect(kvBytesPerToken(kivi(2, 8, 8), dims, 15)).toBe(512)
    expect(describeKV(kvReport(kivi(2, 8, 8), dims, 40))).toBe('KV cache 2-bit KIVI (G 8, R 8): 256 bytes/token vs 512 in fp16 (2.00× smaller)')
    expect(kvReport(FP16, dims, 40)).toEqual({bits: 16, group: 1, residual: 0, bytes_per_token: 512, full_bytes_per_token: 512})
  })
})

// ---------------------------------------------------------------------------------------------
// The quantized cache of GPT.forwardCached

// U-Net skips, x0 mix, depth recurrence (4 layer applications), GQA; Dh = 8
const cfg: ModelConfig = {...DEFAULT_MODEL_CONFIG, vocab_size: 13, model_dim: 16, num_heads: 2, num_kv_heads: 1, unique_blocks: 2, loops: 2, unet_skips: true, x0_mix: true}
const L = 4

function model(seed = 3): GPT {
  const m = new GPT(cfg, {seed: 1, ternary: {patterns: [], config: {groupSize: 'row', scaleFormat: 'fp32', zeroCorrection: true}}})
  loadRandomWeights(m, seed, 0.6)
  return m
}

function ids(n: number, seed: number): number[] {
  return Array.from(uniformValues(n, seed, 1), (r) => Math.floor(((r + 1) / 2) * (cfg.vocab_size - 1)))
}

/** Feed `row` in calls of the given sizes (committing), as `within`; returns the last call's logits. */
function feed(m: GPT, cache: KVCache, row: number[], sizes: number[], within: (n: number) => CachedWithin = () => 'causal'): tf.Tensor3D {
  let at = 0
  let last: tf.Tensor3D | null = null
  for (const n of sizes) {
    last?.dispose()
    last = tf.tidy(() => m.forwardCached(tf.tensor2d([row.slice(at, at + n)], [1, n], 'int32'), cache, {within: within(n), commit: true}))
    at += n
  }
  expect(at).toBe(row.length)
  return last!
}

function entries(cache: KVCache): tf.Tensor[] {
  return Array.from({length: L}, (_, j) => [cache.entry(j)!.k, cache.entry(j)!.v]).flat()
}

describe('GPT.newKVCache({quant})', () => {
  const row = ids(23, 1)
  const configs: Array<[string, KVQuantConfig]> = [
    ['2-bit, G 4, R 4', kivi(2, 4, 4)],
    ['3-bit, G 8, R 0', kivi(3, 8, 0)],
    ['4-bit, G 2, R 5', kivi(4, 2, 5)],
    ['fp16', FP16],
  ]

  for (const [name, quant] of configs) {
    it(`${name}: one commit of 23 tokens, 23 commits of one and uneven calls give bit-identical caches and logits`, () => {
      const m = model()
      const make = (sizes: number[]) => {
        const cache = m.newKVCache({quant})
        feed(m, cache, row, sizes).dispose()
        const next = tf.tidy(() => m.forwardCached(tf.tensor2d([[5]], [1, 1], 'int32'), cache, {within: 'causal', commit: false}))
        return {cache, next}
      }
      const one = make([23])
      const each = make(Array(23).fill(1))
      const uneven = make([5, 1, 9, 8])
      for (const other of [each, uneven]) {
        expect(other.cache.length).toBe(23)
        entries(one.cache).forEach((t, i) => expect(bitsEqual(t, entries(other.cache)[i]), `entry ${i}`).toBe(true))
        expect(bitsEqual(one.next, other.next)).toBe(true)
      }
      // and the quantization is really there: the unquantized cache differs
      const plain = m.newKVCache()
      feed(m, plain, row, [23]).dispose()
      expect(bitsEqual(entries(plain)[0], entries(one.cache)[0])).toBe(false)
      for (const c of [one, each, uneven]) {
        c.cache.dispose()
        c.next.dispose()
      }
      plain.dispose()
      m.dispose()
    })
  }

  it('block-causal clean blocks in one call equal the blocks committed one by one (BD3-LM), bit for bit', () => {
    const m = model()
    const quant = kivi(2, 4, 2)
    const row24 = ids(24, 2)
    const a = m.newKVCache({quant})
    feed(m, a, row24, [24], () => ({blockCausal: 4})).dispose()
    const b = m.newKVCache({quant})
    feed(m, b, row24, Array(6).fill(4), () => 'bidirectional').dispose()
    entries(a).forEach((t, i) => expect(bitsEqual(t, entries(b)[i]), `entry ${i}`).toBe(true))
    a.dispose()
    b.dispose()
    m.dispose()
  })

  it('holds the exact residual and KIVI groups of the exact keys and values (application 0)', () => {
    // application 0's keys and values depend on the tokens only, so the unquantized cache has
    // exactly the values the quantized one started from
    const m = model()
    const quant = kivi(2, 4, 3)
    const P = 23
    const Q = quantizedPrefix(P, quant) // 20
    const plain = m.newKVCache()
    feed(m, plain, row, [P]).dispose()
    const cache = m.newKVCache({quant})
    feed(m, cache, row, [7, 16]).dispose()
    const exact = plain.entry(0)!
    const held = cache.entry(0)!
    const span = (t: tf.Tensor4D, t0: number, t1: number) => tf.slice(t, [0, 0, t0, 0], [-1, -1, t1 - t0, -1]) as tf.Tensor4D
    tf.tidy(() => {
      expect(bitsEqual(span(held.k, Q, P), span(exact.k, Q, P))).toBe(true) // the R + 0..G−1 recent tokens
      expect(bitsEqual(span(held.v, Q, P), span(exact.v, Q, P))).toBe(true)
      expect(bitsEqual(span(held.k, 0, Q), quantizeKeys(span(exact.k, 0, Q), quant))).toBe(true)
      expect(bitsEqual(span(held.v, 0, Q), quantizeValues(span(exact.v, 0, Q), quant))).toBe(true)
      expect(bitsEqual(span(held.k, 0, Q), span(exact.k, 0, Q))).toBe(false)
    })
    // fp16: every stored value is an fp16 value
    const half = m.newKVCache({quant: FP16})
    feed(m, half, row, [P]).dispose()
    for (const t of entries(half)) for (const a of host(t)) expect(f16BitsToF32(f32ToF16Bits(a))).toBe(a)
    plain.dispose()
    cache.dispose()
    half.dispose()
    m.dispose()
  })

  it('the logits move less at 4 bits than at 3, at 3 than at 2; fp16 barely moves them', () => {
    const m = model()
    const long = ids(64, 4)
    const plain = m.newKVCache()
    const exact = feed(m, plain, long, [64])
    const meanErr = (quant: KVQuantConfig) => {
      const cache = m.newKVCache({quant})
      const got = feed(m, cache, long, [64])
      const e = tf.tidy(() => tf.mean(tf.abs(tf.sub(got, exact))).dataSync()[0])
      tf.dispose([got])
      cache.dispose()
      return e
    }
    const e = {2: meanErr(kivi(2, 8, 8)), 3: meanErr(kivi(3, 8, 8)), 4: meanErr(kivi(4, 8, 8)), 16: meanErr(FP16)}
    expect(e[2]).toBeGreaterThan(e[3])
    expect(e[3]).toBeGreaterThan(e[4])
    expect(e[4]).toBeGreaterThan(e[16])
    expect(e[16]).toBeGreaterThan(0)
    expect(e[16]).toBeLessThan(1e-2)
    exact.dispose()
    plain.dispose()
    m.dispose()
  })

  it('refuses a group that does not divide the head dimension, in one line', () => {
    const m = model()
    expect(() => m.newKVCache({quant: kivi(2, 32, 32)})).toThrow(InputError)
    expect(() => m.newKVCache({quant: kivi(2, 32, 32)})).toThrow(/^--kv-group 32 must divide the head dimension 8 .*; try --kv-group 8$/)
    m.dispose()
  })

  it('leaks nothing: quantized commits replace each entry, uncommitted calls keep nothing', () => {
    const m = model()
    const cache = m.newKVCache({quant: kivi(2, 4, 2)})
    const before = tf.memory().numTensors
    feed(m, cache, row.slice(0, 9), [9]).dispose()
    const held = tf.memory().numTensors
    expect(held).toBe(before + 2 * L)
    for (let i = 0; i < 3; i++) tf.tidy(() => m.forwardCached(tf.tensor2d([[1, 2, 3, 4, 5, 6]], [1, 6], 'int32'), cache, {within: 'causal', commit: false})).dispose()
    expect(tf.memory().numTensors).toBe(held)
    feed(m, cache, row.slice(9), [3, 11]).dispose()
    expect(tf.memory().numTensors).toBe(held)
    cache.dispose()
    expect(tf.memory().numTensors).toBe(before)
    m.dispose()
  })
})
