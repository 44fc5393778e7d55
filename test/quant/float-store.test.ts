import * as tf from '@tensorflow/tfjs-core'
import '@tensorflow/tfjs-backend-cpu'
import '@tensorflow/tfjs-core/dist/register_all_gradients.js'
import {beforeAll, describe, expect, it} from 'vitest'

import {floatStoreSTE, floatStoreSTEMany, roundToFloatFormat} from '../../src/quant/float-store.js'
import {bf16BitsToF32, f16BitsToF32, f32ToBf16Bits, f32ToF16Bits} from '../../src/quant/float-formats.js'

beforeAll(async () => {
  await tf.setBackend('cpu')
})

/** Host reference: IEEE RNE into the format, saturating at its largest finite value. */
function hostFp16(x: number): number {
  const y = f16BitsToF32(f32ToF16Bits(x))
  return Number.isFinite(y) ? y : Math.sign(x) * 65504
}
function hostBf16(x: number): number {
  if (Math.abs(x) < 2 ** -126) return 0
  const y = bf16BitsToF32(f32ToBf16Bits(x))
  return Number.isFinite(y) ? y : Math.sign(x) * (2 - 2 ** -7) * 2 ** 127
}

function values(): Float32Array {
  let s = 42
  const rand = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32)
  const out: number[] = [0, -0, 1, -1, 65504, 65519, 65520, 1e6, -1e6, 2 ** -14, 2 ** -15, 2 ** -24, 2 ** -25, 3 * 2 ** -26, 1e-30, -1e-39]
  // every fp16 value and every midpoint between neighbours (ties), both signs
  for (let h = 0; h < 0x7bff; h++) { // finite values only: inf/NaN inputs are out of contract
    const a = f16BitsToF32(h)
    const b = f16BitsToF32(h + 1)
    out.push(a, -a, (a + b) / 2, -(a + b) / 2)
  }
  for (let i = 0; i < 100_000; i++) out.push((rand() - 0.5) * 2 ** (rand() * 40 - 28))
  return Float32Array.from(out)
}

describe('float storage rounding (roundToFloatFormat)', () => {
  const xs = values()

  for (const [fmt, host] of [
    ['fp16', hostFp16],
    ['bf16', hostBf16],
  ] as const) {
    it(`${fmt}: equals IEEE round-to-nearest-even on every value, ties and subnormals included`, () => {
      const got = tf.tidy(() => roundToFloatFormat(tf.tensor1d(xs), fmt)).dataSync() as Float32Array
      let bad = 0
      for (let i = 0; i < xs.length; i++) {
        const want = host(xs[i]) + 0 // +0: the device returns +0 for zero
        if (!Object.is(got[i], want === 0 ? 0 : want)) {
          if (bad++ < 5) console.error(fmt, xs[i], got[i], want)
        }
      }
      expect(bad).toBe(0)
    })
  }

  it('fp32 is the identity; the STE passes gradients straight through', () => {
    const w = tf.tensor1d([0.1, -2.5, 3e-6])
    expect(Array.from(roundToFloatFormat(w, 'fp32').dataSync())).toEqual(Array.from(w.dataSync()))
    const c = tf.tensor1d([1, 2, 3])
    const g = tf.grad((x: tf.Tensor) => tf.sum(tf.mul(floatStoreSTE(x, 'fp16'), c)))(w)
    expect(Array.from(g.dataSync())).toEqual([1, 2, 3])
    const step = () => tf.tidy(() => tf.grad((x: tf.Tensor) => tf.sum(floatStoreSTE(x, 'bf16')))(w)).dispose()
    step() // the engine caches a few constants on first use
    const before = tf.memory().numTensors
    step()
    step()
    expect(tf.memory().numTensors).toBe(before)
  })

  it('floatStoreSTEMany equals floatStoreSTE of each tensor, bit for bit, with straight-through gradients per tensor', () => {
    const ws = [tf.tensor2d([[0.1, -2.5e-6], [7e4, 3.3333]]), tf.tensor1d([1e-9, -0.7, 65519.9]), tf.tensor3d([[[0.4999], [123.456]]])]
    for (const fmt of ['fp16', 'bf16', 'fp32'] as const) {
      const many = floatStoreSTEMany(ws, fmt)
      many.forEach((t, i) => {
        expect(t.shape).toEqual(ws[i].shape)
        const one = floatStoreSTE(ws[i], fmt)
        expect(new Uint32Array(t.dataSync().slice().buffer)).toEqual(new Uint32Array(one.dataSync().slice().buffer))
      })
    }
    const cs = ws.map((w, i) => tf.fill(w.shape, i + 2))
    const gs = tf.grads((...xs: tf.Tensor[]) => tf.addN(floatStoreSTEMany(xs, 'fp16').map((t, i) => tf.sum(tf.mul(t, cs[i])))))(ws)
    gs.forEach((g, i) => expect(Array.from(g.dataSync())).toEqual(new Array(ws[i].size).fill(i + 2)))
    expect(floatStoreSTEMany([ws[1]], 'bf16')[0].shape).toEqual([3])
  })
})
