import * as tf from '@tensorflow/tfjs-core'
import '@tensorflow/tfjs-backend-cpu'
import '@tensorflow/tfjs-backend-wasm'
import '@tensorflow/tfjs-core/dist/register_all_gradients.js'
import {beforeAll, describe, expect, it} from 'vitest'

import {floatStoreSTE, floatStoreSTEMany, roundToFloatFormat} from '../../src/quant/float-store.js'
import {FP8_INFO, bf16BitsToF32, dequantizeFp8PerRow, f16BitsToF32, f32ToBf16Bits, f32ToF16Bits, fp8BitsToF32, f32ToFp8Bits, quantizeFp8PerRow} from '../../src/quant/float-formats.js'
import {roundToFp8} from '../../src/quant/ternary.js'
import {xorshift32} from '../helpers/random.js'
import {withFloat32Neighbours} from '../helpers/float32.js'

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

// --- fp8 -------------------------------------------------------------------------------------

const FP8_MAX_CODE = {e4m3: 0x7e, e5m2: 0x7b} as const

function f32Bits(a: Float32Array): Uint32Array {
  return new Uint32Array(a.buffer, a.byteOffset, a.length)
}

/** Every fp8 value, every midpoint and the float32 values either side, both signs, plus saturation and tiny values. */
function fp8Probes(fmt: 'e4m3' | 'e5m2'): Float32Array {
  const out: number[] = []
  const around = withFloat32Neighbours
  for (let c = 0; c <= FP8_MAX_CODE[fmt]; c++) {
    const a = fp8BitsToF32(c, fmt)
    out.push(a)
    if (c < FP8_MAX_CODE[fmt]) out.push(...around((a + fp8BitsToF32(c + 1, fmt)) / 2))
  }
  const max = FP8_INFO[fmt].maxFinite
  out.push(max * 1.03, max * 1.07, max * 1.5, 2 * max, 1e30, 3e38, 1e-30, 1e-40)
  return Float32Array.from([...out, ...out.map((v) => -v)])
}

/** Host: decoded fp8 of x, saturating, +0 for zero (the device's contract). */
function hostFp8(x: number, fmt: 'e4m3' | 'e5m2'): number {
  const v = fp8BitsToF32(f32ToFp8Bits(x, fmt), fmt)
  return v === 0 ? 0 : v
}

/** Float32 matrices with rows of every kind: ordinary, zero, tiny, huge, -0 and ties. */
function fp8Matrix(rows: number, cols: number, seed: number): Float32Array {
  const next = xorshift32(seed)
  const w = new Float32Array(rows * cols)
  for (let r = 0; r < rows; r++) {
    const kind = (r + seed) % 6
    const mag = kind === 0 ? 0 : kind === 1 ? 2 ** -22 : kind === 2 ? 3e9 : 2 ** ((next() % 30) - 15)
    for (let c = 0; c < cols; c++) {
      const u = next() / 2 ** 32
      w[r * cols + c] = kind === 5 && c % 4 === 0 ? -0 : Math.fround((2 * u - 1) * mag * (c % 5 === 0 ? 1 : u * u))
    }
  }
  return w
}

for (const backend of ['cpu', 'wasm'] as const) {
  describe(`fp8 storage on the ${backend} backend`, () => {
    beforeAll(async () => {
      expect(await tf.setBackend(backend)).toBe(true)
      await tf.ready()
    })

    for (const fmt of ['e4m3', 'e5m2'] as const) {
      it(`roundToFp8 ${fmt}: nearest-even on every value and midpoint (and either side), saturating, subnormals kept`, () => {
        const xs = fp8Probes(fmt)
        const got = tf.tidy(() => roundToFp8(tf.tensor1d(xs), fmt)).dataSync() as Float32Array
        let bad = 0
        for (let i = 0; i < xs.length; i++) {
          if (!Object.is(got[i], hostFp8(xs[i], fmt)) && bad++ < 5) console.error(fmt, xs[i], got[i], hostFp8(xs[i], fmt))
        }
        expect(bad).toBe(0)
      })

      it(`roundToFloatFormat ${fmt}: per row, bit for bit the host encoder's decoded values (what the artifact reader gives)`, () => {
        for (const shape of [[60, 33], [7, 256], [768], [1], [], [3, 4, 10]] as number[][]) {
          const n = shape.reduce((a, b) => a * b, 1)
          const cols = shape.length === 0 ? 1 : shape[shape.length - 1]
          const w = fp8Matrix(n / cols, cols, n + cols)
          const got = tf.tidy(() => roundToFloatFormat(tf.tensor(w, shape), fmt)).dataSync() as Float32Array
          const {codes, scales} = quantizeFp8PerRow(w, n / cols, cols, fmt)
          const want = dequantizeFp8PerRow(codes, scales, n / cols, cols, fmt)
          const i = f32Bits(got).findIndex((b, k) => b !== f32Bits(want)[k])
          if (i >= 0) expect.fail(`[${shape.join(', ')}] element ${i}: device ${got[i]}, host ${want[i]} (w ${w[i]})`)
        }
      })
    }

    it('floatStoreSTEMany (fp8) equals floatStoreSTE of each tensor, bit for bit; gradients pass straight through', () => {
      const shapes = [[4, 16], [16], [2, 16], [3, 8], [], [5, 16], [8]]
      const ws = shapes.map((sh, i) => tf.tensor(fp8Matrix(sh.reduce((a, b) => a * b, 1) / (sh.length ? sh[sh.length - 1] : 1), sh.length ? sh[sh.length - 1] : 1, 40 + i), sh))
      for (const fmt of ['e4m3', 'e5m2'] as const) {
        const many = floatStoreSTEMany(ws, fmt)
        many.forEach((t, i) => {
          expect(t.shape).toEqual(ws[i].shape)
          const one = floatStoreSTE(ws[i], fmt)
          expect(Array.from(f32Bits(t.dataSync() as Float32Array))).toEqual(Array.from(f32Bits(one.dataSync() as Float32Array)))
        })
        const cs = ws.map((w, i) => tf.fill(w.shape, i + 2))
        const gs = tf.grads((...xs: tf.Tensor[]) => tf.addN(floatStoreSTEMany(xs, fmt).map((t, i) => tf.sum(tf.mul(t, cs[i])))))(ws)
        gs.forEach((g, i) => expect(Array.from(g.dataSync())).toEqual(new Array(ws[i].size).fill(i + 2)))
      }
      const step = () => tf.tidy(() => tf.grads((...xs: tf.Tensor[]) => tf.addN(floatStoreSTEMany(xs, 'e4m3').map((t) => tf.sum(t))))(ws)).forEach((g) => g.dispose())
      step()
      const before = tf.memory().numTensors
      step()
      step()
      expect(tf.memory().numTensors).toBe(before)
    })
  })
}
