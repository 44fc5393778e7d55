/**
 * The activation quantizers (src/quant/activations.ts): hand-computed values of each one, the
 * device and host definitions bit for bit, the straight-through gradients against finite
 * differences of their surrogate, and the settings parser's errors. A model using them is
 * tested in test/model/activations.test.ts.
 */
import '@tensorflow/tfjs-backend-cpu'
import * as tf from '@tensorflow/tfjs-core'
import {beforeAll, describe, expect, it} from 'vitest'

import {registerAllGradients} from '../../src/backend/gradients.js'
import {initBackend} from '../../src/backend/index.js'
import {ACTIVATION_PRESETS, describeSites, keptPerRow, parseSite, parseSites, quantizeActivationRows, quantizeActivations, type SiteQuant} from '../../src/quant/activations.js'

const f = Math.fround
const INT8: SiteQuant = {bits: 8, keep: 1}
const INT4: SiteQuant = {bits: 4, keep: 1}

beforeAll(async () => {
  await tf.setBackend('cpu')
  await registerAllGradients()
})

function onDevice(x: number[], width: number, site: SiteQuant): Float32Array {
  return tf.tidy(() => quantizeActivations(tf.tensor2d(x, [x.length / width, width]), site).dataSync() as Float32Array)
}

/** Values k/1024, |k| ≤ 4096: any 64 of them sum exactly in float32, so means agree to the bit. */
function dyadic(n: number, seed: number): number[] {
  let s = seed >>> 0
  return Array.from({length: n}, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0
    return ((s % 8193) - 4096) / 1024
  })
}

describe('hand-computed values', () => {
  it('8-bit absmax: s = 127 / max|x|, round half to even, divide back', () => {
    // max |x| = 1, s = 127: x·s = 63.5 → 64 (the even neighbour), −127, 31.75 → 32, 12.7 → 13
    const want = [64 / 127, -1, 32 / 127, 13 / 127].map(f)
    expect(Array.from(onDevice([0.5, -1, 0.25, 0.1], 4, INT8))).toEqual(want)
    expect(Array.from(quantizeActivationRows(Float32Array.from([0.5, -1, 0.25, 0.1]), 4, INT8))).toEqual(want)
  })

  it('4-bit absmean: s = √7 / mean|x|, clipped to [−8, 7]', () => {
    const s7 = f(Math.sqrt(7))
    // mean |x| = 1, s = √7: x·s = 2.65, −5.29, 1.32, 1.32 → 3, −5, 1, 1
    expect(Array.from(onDevice([1, -2, 0.5, 0.5], 4, INT4))).toEqual([3, -5, 1, 1].map((q) => f(q / s7)))
    // mean |x| = 2.575, s = √7/2.575 = 1.0275: 10·s = 10.27 clips to 7; −0.1·s rounds to −0
    const s = f(s7 / f(2.575))
    const got = onDevice([10, 0.1, 0.1, -0.1], 4, INT4)
    expect(got[0]).toBe(f(7 / s))
    expect(Array.from(got.subarray(1)).map(Math.abs)).toEqual([0, 0, 0])
  })

  it('a zero row stays zero (the 1e-5 floor, no NaN)', () => {
    for (const site of [INT8, INT4, {bits: 8 as const, keep: 0.5}]) expect(Array.from(onDevice([0, 0, 0, 0], 4, site)).map(Math.abs)).toEqual([0, 0, 0, 0])
  })

  it('top-K keeps the largest |x| of each row, then 8-bit over what is kept', () => {
    // keep 0.5 of 4 → K = 2: −0.9 and 0.5 survive; max |x| = 0.9, s = 127/0.9
    const s = f(127 / f(0.9))
    const want = [0, f(-127 / s), 0, f(Math.round(f(f(0.5) * s)) / s)]
    expect(Array.from(onDevice([0.3, -0.9, 0.1, 0.5], 4, {bits: 8, keep: 0.5}))).toEqual(want)
    // float after sparsification: the kept values unchanged
    expect(Array.from(onDevice([0.3, -0.9, 0.1, 0.5, 1, 2, 3, -4], 4, {bits: null, keep: 0.5}))).toEqual([0, -0.9, 0, 0.5, 0, 0, 3, -4].map(f))
  })

  it('entries tied with the K-th largest are all kept', () => {
    expect(Array.from(onDevice([1, -1, 1, 0.5], 4, {bits: null, keep: 0.25}))).toEqual([1, -1, 1, 0])
  })

  it('K = max(1, round(keep · width))', () => {
    expect(keptPerRow(0.5, 5)).toBe(3) // round(2.5) in JS rounds up
    expect(keptPerRow(0.01, 8)).toBe(1)
    expect(keptPerRow(1, 8)).toBe(8)
  })
})

describe('device (cpu and wasm) and host agree bit for bit', () => {
  for (const [name, site] of [
    ['int8', INT8],
    ['int4', INT4],
    ['top50%+int8', {bits: 8, keep: 0.5}],
    ['top30%+int4', {bits: 4, keep: 0.3}],
  ] as const) {
    it(name, async () => {
      const x = dyadic(64 * 9, name.length)
      const host = quantizeActivationRows(Float32Array.from(x), 64, site)
      expect(onDevice(x, 64, site)).toEqual(host)
      await initBackend('wasm', {quiet: true})
      try {
        expect(onDevice(x, 64, site)).toEqual(host)
      } finally {
        await tf.setBackend('cpu')
      }
    })
  }

  it('8-bit keeps every value within s/2 of the input, 4-bit within s/2 where not clipped', () => {
    const x = Float32Array.from(dyadic(64 * 4, 7))
    for (const site of [INT8, INT4]) {
      const q = quantizeActivationRows(x, 64, site)
      for (let r = 0; r < 4; r++) {
        const row = x.subarray(r * 64, (r + 1) * 64)
        const stat = site.bits === 8 ? Math.max(...Array.from(row, Math.abs)) : Array.from(row, Math.abs).reduce((a, b) => a + b) / 64
        const step = site.bits === 8 ? stat / 127 : stat / Math.sqrt(7)
        for (let i = 0; i < 64; i++) {
          const clipped = site.bits === 4 && (row[i] / step > 7.5 || row[i] / step < -8.5)
          if (!clipped) expect(Math.abs(q[r * 64 + i] - row[i])).toBeLessThanOrEqual(step / 2 + 1e-6)
        }
      }
    }
  })
})

describe('straight-through gradients', () => {
  // loss(x) = Σ (x̂ W)² · c: its gradient with respect to x, through the STE, is the gradient of
  // loss at the surrogate s(x') = x̂ + mask ⊙ (x' − x), whose slope is the estimator's
  // (mask = 1 without sparsification). Central differences of loss∘s in float64.
  const N = 3
  const Wd = 8
  const x = dyadic(N * Wd, 3)
  const W = dyadic(Wd * 5, 11).map((v) => v / 4)
  const c = dyadic(N * 5, 5).map((v) => v / 4)
  const lossOf = (xh: ArrayLike<number>): number => {
    let sum = 0
    for (let r = 0; r < N; r++) {
      for (let o = 0; o < 5; o++) {
        let y = 0
        for (let i = 0; i < Wd; i++) y += xh[r * Wd + i] * W[i * 5 + o]
        sum += y * y * c[r * 5 + o]
      }
    }
    return sum
  }
  for (const site of [INT8, INT4, {bits: 8 as const, keep: 0.5}, {bits: null, keep: 0.25}] as SiteQuant[]) {
    it(`${describeSites({attn_in: site, attn_out: site, ffn_in: site, ffn_down: site})}`, () => {
      const grad = tf.tidy(() => {
        const g = tf.grad((t: tf.Tensor) => {
          const y = tf.matMul(quantizeActivations(t as tf.Tensor2D, site), tf.tensor2d(W, [Wd, 5]))
          return tf.sum(tf.mul(tf.square(y), tf.tensor2d(c, [N, 5])))
        })
        return g(tf.tensor2d(x, [N, Wd])).dataSync() as Float32Array
      })
      const xh = quantizeActivationRows(Float32Array.from(x), Wd, site)
      const mask = site.keep < 1 ? Array.from(xh, (v, i) => (v !== 0 || quantizeActivationRows(Float32Array.from(x), Wd, {bits: null, keep: site.keep})[i] !== 0 ? 1 : 0)) : x.map(() => 1)
      const h = 1e-4
      for (let i = 0; i < x.length; i++) {
        const at = (d: number) => lossOf(Array.from(xh, (v, j) => v + (j === i ? mask[j] * d : 0)))
        const fd = (at(h) - at(-h)) / (2 * h)
        expect(grad[i]).toBeCloseTo(fd, 3)
      }
      if (site.keep < 1) expect(mask.some((m) => m === 0)).toBe(true) // the dropped entries get no gradient, and there are some
    })
  }
})

describe('settings', () => {
  it('presets: a4.8 is 4-bit on the inputs, sparsified 8-bit on the attention output, 8-bit on the FFN down input', () => {
    expect(parseSites('a4.8', 'x')).toEqual({attn_in: INT4, attn_out: {bits: 8, keep: 0.5}, ffn_in: INT4, ffn_down: INT8})
    expect(describeSites(parseSites('a8', 'x'))).toBe('a8')
    expect(describeSites(ACTIVATION_PRESETS.float)).toBe('float')
  })

  it('a map names some sites; the others stay float', () => {
    const a = parseSites({ffn_down: 'int8', attn_out: {bits: 4, keep: 0.55}}, 'x')
    expect(a).toEqual({attn_in: {bits: null, keep: 1}, attn_out: {bits: 4, keep: 0.55}, ffn_in: {bits: null, keep: 1}, ffn_down: INT8})
    expect(describeSites(a)).toBe('attn_in:float attn_out:top55%+int4 ffn_in:float ffn_down:int8')
  })

  it('bad settings give one line naming the key', () => {
    expect(() => parseSites('a2', 'activations[0].sites')).toThrow(/^activations\[0\]\.sites must be a preset \(float, a8, a4, a4\.8\)/)
    expect(() => parseSites({attn: 'int8'}, 'st')).toThrow('st: unknown site "attn" (known: attn_in, attn_out, ffn_in, ffn_down)')
    expect(() => parseSite({bits: 3}, 'st.ffn_in')).toThrow('st.ffn_in.bits must be 8, 4 or null (float), got 3')
    expect(() => parseSite({bits: 8, keep: 0}, 'st.ffn_in')).toThrow('st.ffn_in.keep must be a fraction in (0, 1], got 0')
    expect(() => parseSite('int16', 'st.ffn_in')).toThrow('st.ffn_in must be float, int8, int4 or {bits, keep}, got "int16"')
  })
})
