import * as tf from '@tensorflow/tfjs-core'
import '@tensorflow/tfjs-backend-cpu'
import '@tensorflow/tfjs-backend-wasm'
import '@tensorflow/tfjs-core/dist/register_all_gradients.js'
import {beforeAll, describe, expect, it} from 'vitest'

import {InputError} from '../../src/errors.js'
import {E4M3_MIN_SUBNORMAL, bf16BitsToF32, decodeBf16, decodeF16, decodeScalesE4m3, e4m3BitsToF32, encodeBf16, encodeF16, encodeScalesE4m3, roundScalesE4m3, roundToFormatJs} from '../../src/quant/float-formats.js'
import {
  type GroupSize,
  type ScaleFormat,
  type TernaryConfig,
  DEFAULT_TERNARY,
  TERNARY_EPS,
  dequantizeTernary,
  groupLayout,
  roundToScaleFormat,
  ternarize,
  ternaryQToInt8,
  ternaryStats,
  ternaryWeightSTE,
} from '../../src/quant/ternary.js'
import {xorshift32} from '../helpers/random.js'
import {withFloat32Neighbours} from '../helpers/float32.js'

/** Uniform numbers in [0, 1) from the shared xorshift32 stream. */
function xorshift(seed: number): () => number {
  const next = xorshift32(seed)
  return () => next() / 2 ** 32
}

/** Roughly gaussian float32 weights with a per-row magnitude spread, plus some exact zeros. */
function randomWeights(rows: number, cols: number, seed: number): Float32Array {
  const r = xorshift(seed)
  const w = new Float32Array(rows * cols)
  for (let i = 0; i < w.length; i++) {
    const g = r() + r() + r() + r() - 2
    const rowScale = 2 ** (Math.floor(i / cols) % 7 - 5)
    w[i] = r() < 0.02 ? 0 : g * rowScale
  }
  return w
}

function bytes(a: Float32Array): Buffer {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength)
}

/** Bit-for-bit equality of two float32 arrays, failing with the first differing element. */
function expectSameBits(got: Float32Array, want: Float32Array, what: string): void {
  expect(got.length).toBe(want.length)
  if (bytes(got).equals(bytes(want))) return
  const a = new Uint32Array(got.buffer, got.byteOffset, got.length)
  const b = new Uint32Array(want.buffer, want.byteOffset, want.length)
  const i = a.findIndex((v, k) => v !== b[k])
  expect.fail(`${what}: element ${i} is ${got[i]} (0x${a[i].toString(16)}), want ${want[i]} (0x${b[i].toString(16)})`)
}

/** Stored scales the way the packer stores them: encoded to the format's bits and decoded back. */
function storeAndLoad(scales: Float32Array, fmt: ScaleFormat): Float32Array {
  if (fmt === 'fp16') return decodeF16(encodeF16(scales))
  if (fmt === 'bf16') return decodeBf16(encodeBf16(scales))
  if (fmt === 'e4m3') {
    const {base, codes} = encodeScalesE4m3(scales)
    return decodeScalesE4m3(base, codes)
  }
  return Float32Array.from(scales)
}

async function run(w: number[][], cfg: TernaryConfig) {
  const wt = tf.tensor2d(w)
  const {q, scales, deq} = ternarize(wt, cfg)
  const out = {
    q: Array.from(await q.data()),
    scales: await scales.array(),
    deq: Array.from(await deq.data()),
    scalesShape: scales.shape,
  }
  tf.dispose([wt, q, scales, deq])
  return out
}

describe('groupLayout', () => {
  it('splits rows into groups along the input dimension', () => {
    expect(groupLayout([3, 256], 128)).toEqual({groupsPerRow: 2, groupLen: 128, numGroups: 6})
    expect(groupLayout([3, 256], 'row')).toEqual({groupsPerRow: 1, groupLen: 256, numGroups: 3})
    expect(groupLayout([3, 256], 'tensor')).toEqual({groupsPerRow: 1, groupLen: 768, numGroups: 1})
  })

  it('throws InputError naming the sizes when the group does not divide the input dimension', () => {
    expect(() => groupLayout([4, 100], 64)).toThrow(InputError)
    expect(() => groupLayout([4, 100], 64)).toThrow('ternary: group size 64 does not divide the input dimension 100 of a [4, 100] weight')
    expect(() => groupLayout([4, 100], 0)).toThrow(/group size must be a positive integer/)
    expect(() => groupLayout([4, 100], 2.5)).toThrow(/group size must be a positive integer/)
  })
})

describe('ternaryStats and host helpers', () => {
  it('counts trits and gives entropy in bits per weight', () => {
    const s = ternaryStats(new Int8Array([0, 0, 1, -1]))
    expect(s).toEqual({zeros: 2, plus: 1, minus: 1, entropyBits: 1.5})
    expect(ternaryStats(new Int8Array([1, 1, 1])).entropyBits).toBe(0)
    expect(ternaryStats(new Int8Array(0))).toEqual({zeros: 0, plus: 0, minus: 0, entropyBits: 0})
    expect(() => ternaryStats(new Int8Array([0, 2]))).toThrow('ternary: trit array holds 2 at index 1, expected -1, 0 or 1')
  })

  it('dequantizeTernary rejects counts that do not match the shape', () => {
    expect(() => dequantizeTernary(new Int8Array(8), new Float32Array(3), [2, 4], 4)).toThrow(
      'ternary: 3 scales given, a [2, 4] weight in groups of 4 needs 2',
    )
    expect(() => ternaryQToInt8(new Float32Array([0, 0.5]))).toThrow(/q holds 0.5 at index 1/)
  })
})

for (const backend of ['cpu', 'wasm'] as const) {
  describe(`ternary quantizer on the ${backend} backend`, () => {
    beforeAll(async () => {
      expect(await tf.setBackend(backend)).toBe(true)
      await tf.ready()
    })

    // row 0: group [0.5, -0.125, 0.0625, -1]: mean|w| = 0.421875, half 0.2109375 → q [1, 0, 0, -1],
    //        zero-corrected d = (0.5 + 1) / 2 = 0.75; group [0, 0, 0, 0]: s = eps, q = 0.
    // row 1: group [0.25 ×4]: s = 0.25 → q all 1, d = 0.25; group [2, -1, 0.5, -0.5]: s = 1,
    //        |0.5| = s/2 exactly → 0 (round half to even) → q [1, -1, 0, 0], d = 1.5.
    const W = [
      [0.5, -0.125, 0.0625, -1, 0, 0, 0, 0],
      [0.25, 0.25, 0.25, 0.25, 2, -1, 0.5, -0.5],
    ]
    const Q = [1, 0, 0, -1, 0, 0, 0, 0, 1, 1, 1, 1, 1, -1, 0, 0]

    it('group 4 with zero correction, fp16 scales: hand-computed q, scales, deq', async () => {
      const r = await run(W, {groupSize: 4, scaleFormat: 'fp16', zeroCorrection: true})
      expect(r.q).toEqual(Q)
      expect(r.scalesShape).toEqual([2, 2])
      expect(r.scales).toEqual([[0.75, TERNARY_EPS], [0.25, 1.5]])
      expect(r.deq).toEqual([0.75, 0, 0, -0.75, 0, 0, 0, 0, 0.25, 0.25, 0.25, 0.25, 1.5, -1.5, 0, 0])
      // zeros are +0, never -0 (bytes must match the host rebuild)
      expect(r.deq.every((v) => !Object.is(v, -0))).toBe(true)
      expect(r.q.every((v) => !Object.is(v, -0))).toBe(true)
    })

    it('group 4 without zero correction uses the absmean itself', async () => {
      const r = await run(W, {groupSize: 4, scaleFormat: 'fp32', zeroCorrection: false})
      expect(r.q).toEqual(Q)
      expect(r.scales).toEqual([[0.421875, TERNARY_EPS], [0.25, 1]])
    })

    it("'row' groups: one scale per row, rounded to fp16 or bf16", async () => {
      // row 0: mean = 1.6875/8 = 0.2109375, half 0.10546875 → q [1, -1, 0, -1, 0, 0, 0, 0],
      // d = 1.625 / 3 = 0.5416… → fp16 1109·2^-11 = 0.54150390625, bf16 139·2^-8 = 0.54296875.
      // row 1: mean = 5/8 = 0.625, half 0.3125 → q [0, 0, 0, 0, 1, -1, 1, -1], d = 4/4 = 1.
      const q = [1, -1, 0, -1, 0, 0, 0, 0, 0, 0, 0, 0, 1, -1, 1, -1]
      const f16 = await run(W, {groupSize: 'row', scaleFormat: 'fp16', zeroCorrection: true})
      expect(f16.q).toEqual(q)
      expect(f16.scales).toEqual([[0.54150390625], [1]])
      const bf16 = await run(W, {groupSize: 'row', scaleFormat: 'bf16', zeroCorrection: true})
      expect(bf16.scales).toEqual([[0.54296875], [1]])
      const plain = await run(W, {groupSize: 'row', scaleFormat: 'fp16', zeroCorrection: false})
      expect(plain.scales).toEqual([[0.2109375], [0.625]])
    })

    it("'tensor' group: one [1, 1] scale for the whole matrix", async () => {
      // mean = 7.1875/16 = 0.44921875, half 0.224609375 → nonzero: 0.5, -1, 0.25 ×4, 2, -1, 0.5, -0.5
      // d = (0.5 + 1 + 1 + 2 + 1 + 0.5 + 0.5) / 10 = 0.65 → fp16 1331·2^-11 = 0.64990234375
      const r = await run(W, {groupSize: 'tensor', scaleFormat: 'fp16', zeroCorrection: true})
      expect(r.scalesShape).toEqual([1, 1])
      expect(r.q).toEqual([1, 0, 0, -1, 0, 0, 0, 0, 1, 1, 1, 1, 1, -1, 1, -1])
      expect(r.scales).toEqual([[0.64990234375]])
    })

    it('an all-zero matrix gets q = 0, scale eps, deq +0', async () => {
      const r = await run([[0, 0, 0, 0]], {groupSize: 4, scaleFormat: 'bf16', zeroCorrection: true})
      expect(r.q).toEqual([0, 0, 0, 0])
      expect(r.scales).toEqual([[TERNARY_EPS]])
      expect(bytes(new Float32Array(r.deq))).toEqual(Buffer.alloc(16))
    })

    it('rejects a group size that does not divide the input dimension', () => {
      const w = tf.zeros([2, 6]) as tf.Tensor2D
      expect(() => ternarize(w, {...DEFAULT_TERNARY, groupSize: 4})).toThrow(/group size 4 does not divide the input dimension 6/)
      w.dispose()
    })

    const groupSizes: GroupSize[] = [4, 32, 128, 'row', 'tensor']
    const formats: ScaleFormat[] = ['fp16', 'bf16', 'fp32', 'e4m3']
    it('deq equals q · d rebuilt on the host from stored trits and stored scale bits, bit for bit', async () => {
      const rows = 48
      const cols = 256
      const data = randomWeights(rows, cols, 2024)
      const w = tf.tensor2d(data, [rows, cols])
      let n = 0
      for (const groupSize of groupSizes) {
        for (const scaleFormat of formats) {
          for (const zeroCorrection of [true, false]) {
            const cfg = {groupSize, scaleFormat, zeroCorrection}
            const {q, scales, deq} = ternarize(w, cfg)
            const qi = ternaryQToInt8(await q.data())
            const sc = (await scales.data()) as Float32Array
            const stored = storeAndLoad(sc, scaleFormat)
            // the scales are exactly representable: encode → decode is the identity
            const what = `${String(groupSize)}/${scaleFormat}/zc=${zeroCorrection}`
            expectSameBits(stored, sc, `${what} scales`)
            const rebuilt = dequantizeTernary(qi, stored, [rows, cols], groupSize)
            const got = (await deq.data()) as Float32Array
            expectSameBits(rebuilt, got, `${what} deq`)
            // and the quantizer actually quantized: a sane share of zeros, scales ≥ eps
            const st = ternaryStats(qi)
            expect(st.zeros).toBeGreaterThan(0.1 * qi.length)
            expect(st.zeros).toBeLessThan(0.6 * qi.length)
            expect(Math.min(...sc)).toBeGreaterThanOrEqual(scaleFormat === 'e4m3' ? Number.MIN_VALUE : TERNARY_EPS)
            tf.dispose([q, scales, deq])
            n++
          }
        }
      }
      expect(n).toBe(40)
      w.dispose()
    })

    it('scales match a host reference of the definition (q exactly, d to fp32 rounding)', async () => {
      const rows = 16
      const cols = 64
      const data = randomWeights(rows, cols, 7)
      const w = tf.tensor2d(data, [rows, cols])
      const {q, scales, deq} = ternarize(w, {groupSize: 16, scaleFormat: 'fp32', zeroCorrection: true})
      const qi = ternaryQToInt8(await q.data())
      const sc = await scales.data()
      for (let g = 0; g < rows * 4; g++) {
        const o = Math.floor(g / 4) * cols + (g % 4) * 16
        const grp = Array.from(data.subarray(o, o + 16))
        const s = Math.max(grp.reduce((a, v) => a + Math.abs(v), 0) / 16, TERNARY_EPS)
        let sum = 0
        let count = 0
        grp.forEach((v, i) => {
          // skip values within float32 rounding of the threshold
          if (Math.abs(Math.abs(v) - s / 2) > 1e-6 * s) expect(qi[o + i]).toBe(Math.abs(v) > s / 2 ? Math.sign(v) : 0)
          if (qi[o + i] !== 0) {
            sum += Math.abs(v)
            count++
          }
        })
        const d = count > 0 ? sum / count : s
        expect(Math.abs(sc[g] - d)).toBeLessThanOrEqual(1e-5 * d)
      }
      tf.dispose([w, q, scales, deq])
    })

    it('is deterministic: two calls give identical bytes', async () => {
      const w = tf.tensor2d(randomWeights(32, 128, 5), [32, 128])
      const a = ternarize(w, DEFAULT_TERNARY)
      const b = ternarize(w, DEFAULT_TERNARY)
      for (const k of ['q', 'scales', 'deq'] as const) {
        expectSameBits((await a[k].data()) as Float32Array, (await b[k].data()) as Float32Array, k)
      }
      tf.dispose([w, a.q, a.scales, a.deq, b.q, b.scales, b.deq])
    })

    it('STE: forward is ternarize().deq, gradient is the upstream gradient, nothing leaks', async () => {
      const rows = 8
      const cols = 32
      const w = tf.variable(tf.tensor2d(randomWeights(rows, cols, 11), [rows, cols]))
      const c = tf.tensor2d(randomWeights(rows, cols, 12), [rows, cols])
      const cfg: TernaryConfig = {groupSize: 8, scaleFormat: 'fp16', zeroCorrection: true}

      const fwd = ternaryWeightSTE(w, cfg)
      const ref = ternarize(w, cfg)
      expectSameBits((await fwd.data()) as Float32Array, (await ref.deq.data()) as Float32Array, 'STE forward')
      tf.dispose([fwd, ref.q, ref.scales, ref.deq])

      const before = tf.memory().numTensors
      const g = tf.tidy(() => tf.grad((x: tf.Tensor) => tf.sum(tf.mul(ternaryWeightSTE(x as tf.Tensor2D, cfg), c)))(w))
      expect(tf.memory().numTensors).toBe(before + 1)
      expectSameBits((await g.data()) as Float32Array, (await c.data()) as Float32Array, 'STE gradient')
      g.dispose()

      // through variableGrads, as a training step uses it, twice (no growth across steps)
      for (let step = 0; step < 2; step++) {
        const n0 = tf.memory().numTensors
        tf.tidy(() => {
          const {value, grads} = tf.variableGrads(() => tf.sum(tf.mul(ternaryWeightSTE(w, cfg), c)) as tf.Scalar, [w])
          const gw = grads[w.name]
          expect(gw.shape).toEqual([rows, cols])
          expectSameBits(gw.dataSync() as Float32Array, c.dataSync() as Float32Array, 'variableGrads')
          tf.dispose([value, gw])
        })
        expect(tf.memory().numTensors).toBe(n0)
      }
      tf.dispose([w, c])
    })

    // 250,000 random values × 2 formats × 2 backends = 1e6 checked in all.
    it('roundToScaleFormat gives the nearest-even stored value on random values and every midpoint', async () => {
      const r = xorshift(backend === 'cpu' ? 31337 : 4242)
      const n = 250_000
      const f = new Float32Array(n)
      const u = new Uint32Array(f.buffer)
      for (const fmt of ['fp16', 'bf16'] as const) {
        const [lo, hi] = fmt === 'fp16' ? [113, 142] : [1, 254] // float32 biased exponents in range
        for (let i = 0; i < n; i++) u[i] = ((lo + Math.floor(r() * (hi - lo + 1))) << 23) | Math.floor(r() * 0x800000)
        await expectRoundsLikeHost(f, fmt)
        // every midpoint between consecutive normal values of the format (exact ties)
        const codes = fmt === 'fp16' ? [0x0400, 0x7bff] : [0x0080, 0x7f7f]
        const mids = new Float32Array(codes[1] - codes[0])
        for (let h = codes[0]; h < codes[1]; h++) {
          const a = fmt === 'fp16' ? decodeF16(new Uint16Array([h, h + 1])) : decodeBf16(new Uint16Array([h, h + 1]))
          mids[h - codes[0]] = (a[0] + a[1]) / 2
          expect(Math.fround(mids[h - codes[0]])).toBe(mids[h - codes[0]])
        }
        await expectRoundsLikeHost(mids, fmt)
        await expectRoundsLikeHost(mids.map((v) => -v), fmt)
      }
    }, 30_000)

    it('roundToScaleFormat clamps into the normal range and keeps 0 and signs', async () => {
      const x = tf.tensor1d([0, 1e-30, 2 ** -15, 1e5, -1e5, -3, 7e38 / 3, 1, 0.1])
      const f16 = await roundToScaleFormat(x, 'fp16').data()
      expect(Array.from(f16)).toEqual([0, 2 ** -14, 2 ** -14, 65504, -65504, -3, 65504, 1, 0.0999755859375])
      const bf16 = await roundToScaleFormat(x, 'bf16').data()
      // 1e-30 is a normal bf16 number: rounded, not clamped; 7e38/3 ≈ 1.3714 · 2^127 → 1.375 · 2^127
      const bf16Want = [0, 0x0da2, 0x3800, 0x47c3, 0xc7c3, 0xc040, 0x7f30, 0x3f80, 0x3dcd]
      expect(Array.from(bf16)).toEqual(bf16Want.map((h) => bf16BitsToF32(h)))
      expect(roundToFormatJs(1e-30, 'bf16')).toBe(bf16BitsToF32(0x0da2))
      const t = tf.tensor1d([1e-39, -1e-39])
      const tiny = roundToScaleFormat(t, 'bf16')
      expect(Array.from(await tiny.data())).toEqual([2 ** -126, -(2 ** -126)])
      tf.dispose([t, tiny])
      const f32 = await roundToScaleFormat(x, 'fp32').data()
      expect(Array.from(f32)).toEqual(Array.from(await x.data()))
      x.dispose()
    })
  })
}

/** Device rounding must equal host RNE (float-formats) for every element, and be representable. */
async function expectRoundsLikeHost(x: Float32Array, fmt: 'fp16' | 'bf16'): Promise<void> {
  const t = tf.tensor1d(x)
  const y = roundToScaleFormat(t, fmt)
  const got = (await y.data()) as Float32Array
  tf.dispose([t, y])
  const stored = fmt === 'fp16' ? decodeF16(encodeF16(got)) : decodeBf16(encodeBf16(got))
  const [minNormal, maxFinite] = fmt === 'fp16' ? [2 ** -14, 65504] : [2 ** -126, bf16BitsToF32(0x7f7f)]
  const want = (v: number) => Math.sign(v) * roundToFormatJs(Math.min(Math.max(Math.abs(v), minNormal), maxFinite), fmt)
  let bad = -1
  for (let i = 0; i < x.length; i++) {
    if (stored[i] !== got[i] || got[i] !== want(x[i])) {
      bad = i
      break
    }
  }
  if (bad >= 0) {
    expect.fail(`${fmt}: x = ${x[bad]} → device ${got[bad]}, host RNE ${want(x[bad])}`)
  }
}

for (const backend of ['cpu', 'wasm'] as const) {
  describe(`8-bit (e4m3) scales on the ${backend} backend`, () => {
    beforeAll(async () => {
      expect(await tf.setBackend(backend)).toBe(true)
      await tf.ready()
    })

    it('the zero correction is kept: e4m3 scales are the fp32 scales of the same weights, rounded (host reference), same trits', async () => {
      const rows = 48
      const cols = 256
      const w = tf.tensor2d(randomWeights(rows, cols, 99), [rows, cols])
      for (const groupSize of [32, 128, 'row', 'tensor'] as GroupSize[]) {
        for (const zeroCorrection of [true, false]) {
          const f = ternarize(w, {groupSize, scaleFormat: 'fp32', zeroCorrection})
          const e = ternarize(w, {groupSize, scaleFormat: 'e4m3', zeroCorrection})
          expectSameBits((await e.q.data()) as Float32Array, (await f.q.data()) as Float32Array, 'q')
          const want = roundScalesE4m3((await f.scales.data()) as Float32Array)
          expectSameBits((await e.scales.data()) as Float32Array, want, `${String(groupSize)}/zc=${zeroCorrection} scales`)
          tf.dispose([f.q, f.scales, f.deq, e.q, e.scales, e.deq])
        }
      }
      w.dispose()
    })

    it('roundToScaleFormat e4m3: every code × base, every midpoint (ties to even) and either side, as the host rounds them', async () => {
      const around = withFloat32Neighbours
      const probes: number[] = []
      for (let c = 1; c <= 0x7e; c++) {
        probes.push(e4m3BitsToF32(c))
        if (c < 0x7e) probes.push(...around((e4m3BitsToF32(c) + e4m3BitsToF32(c + 1)) / 2))
      }
      probes.push(2 ** -10, 2 ** -12, 1e-5) // below the smallest code: clamped to it
      for (const k of [-22, -9, 0, 7, 40]) {
        for (const top of [448, 447.9, 300, 224.5]) {
          const p = 2 ** k
          const d = Float32Array.from([top * p, ...probes.filter((x) => x <= top).map((x) => x * p)])
          const t = tf.tensor1d(d)
          const y = roundToScaleFormat(t, 'e4m3')
          const got = (await y.data()) as Float32Array
          tf.dispose([t, y])
          expectSameBits(got, roundScalesE4m3(d), `2^${k}, max ${top}`)
          for (const v of got) expect(v).toBeGreaterThanOrEqual(E4M3_MIN_SUBNORMAL * 2 ** (encodeScalesE4m3(got).base - 127))
        }
      }
    })

    it('random scale sets of every spread, 2-D and 3-D, equal the host bit for bit', async () => {
      const r = xorshift(backend === 'cpu' ? 5 : 6)
      for (const spread of [0, 1, 4, 12, 30]) {
        const d = Float32Array.from({length: 3000}, () => Math.max(Math.fround(2 ** (spread * r() - 10) * (1 + r())), TERNARY_EPS))
        const t = tf.tensor3d(d, [30, 100, 1])
        const y = roundToScaleFormat(t, 'e4m3')
        expectSameBits((await y.data()) as Float32Array, roundScalesE4m3(d), `spread 2^${spread}`)
        tf.dispose([t, y])
      }
    })
  })
}
