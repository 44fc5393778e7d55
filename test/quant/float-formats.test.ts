import {describe, expect, it} from 'vitest'

import {
  bf16BitsToF32,
  decodeBf16,
  decodeE4m3,
  decodeF16,
  dequantizeInt8PerRow,
  e4m3BitsToF32,
  encodeBf16,
  encodeE4m3,
  encodeF16,
  f16BitsToF32,
  f32ToBf16Bits,
  f32ToE4m3Bits,
  f32ToF16Bits,
  quantizeInt8PerRow,
} from '../../src/quant/float-formats.js'
import {xorshift32} from '../helpers/random.js'

/** Deterministic 32-bit words (xorshift32) so failures reproduce. */
const rng = xorshift32

/**
 * Reference RNE: nearest among all finite non-negative codes of a format (sorted by value),
 * ties to the even code. Independent of the bit-twiddling encoders.
 */
function makeReference(codes: number[], decode: (c: number) => number) {
  const vals = codes.map(decode)
  return (x: number): number => {
    const a = Math.abs(x)
    let lo = 0
    let hi = vals.length - 1
    while (hi - lo > 1) {
      const mid = (lo + hi) >> 1
      if (vals[mid] <= a) lo = mid
      else hi = mid
    }
    const dl = a - vals[lo]
    const dh = vals[hi] - a
    if (a <= vals[lo]) return codes[lo]
    if (a >= vals[hi]) return codes[hi]
    if (dl < dh) return codes[lo]
    if (dh < dl) return codes[hi]
    return (codes[lo] & 1) === 0 ? codes[lo] : codes[hi]
  }
}

describe('fp16', () => {
  it('every one of the 65,536 bit patterns decodes and re-encodes to itself (NaN stays NaN)', () => {
    for (let h = 0; h < 65536; h++) {
      const v = f16BitsToF32(h)
      const back = f32ToF16Bits(v)
      if (Number.isNaN(v)) {
        expect(back).toBe(0x7e00) // a JS NaN carries no sign or payload
      } else if (back !== h) {
        expect.fail(`fp16 0x${h.toString(16)} → ${v} → 0x${back.toString(16)}`)
      }
    }
  })

  it('decodes landmarks exactly', () => {
    expect(f16BitsToF32(0x3c00)).toBe(1)
    expect(f16BitsToF32(0x7bff)).toBe(65504)
    expect(f16BitsToF32(0x0400)).toBe(2 ** -14)
    expect(f16BitsToF32(0x0001)).toBe(2 ** -24)
    expect(f16BitsToF32(0x7c00)).toBe(Infinity)
    expect(f16BitsToF32(0xfc00)).toBe(-Infinity)
    expect(Object.is(f16BitsToF32(0x8000), -0)).toBe(true)
    expect(f16BitsToF32(0xc000)).toBe(-2)
  })

  it('rounds ties to even, overflows to inf, keeps subnormals', () => {
    expect(f32ToF16Bits(1 + 2 ** -11)).toBe(0x3c00) // tie between 1 and 1+2^-10 → even (1)
    expect(f32ToF16Bits(1 + 3 * 2 ** -11)).toBe(0x3c02) // tie → even (1+2^-9)
    expect(f32ToF16Bits(1 + 2 ** -11 + 2 ** -20)).toBe(0x3c01) // just above the tie
    expect(f32ToF16Bits(65504)).toBe(0x7bff)
    expect(f32ToF16Bits(65519.99)).toBe(0x7bff)
    expect(f32ToF16Bits(65520)).toBe(0x7c00) // tie with 2^16 → even → inf
    expect(f32ToF16Bits(1e10)).toBe(0x7c00)
    expect(f32ToF16Bits(-1e10)).toBe(0xfc00)
    expect(f32ToF16Bits(2 ** -25)).toBe(0x0000) // tie between 0 and the smallest subnormal → 0
    expect(f32ToF16Bits(2 ** -25 + 2 ** -40)).toBe(0x0001)
    expect(f32ToF16Bits(3 * 2 ** -25)).toBe(0x0002) // tie between 1 and 2 units → 2
    expect(f32ToF16Bits(2 ** -14 - 2 ** -25)).toBe(0x0400) // tie 0x3ff/0x400 → 0x400 (even)
    expect(f32ToF16Bits(-0)).toBe(0x8000)
    expect(f32ToF16Bits(1e-30)).toBe(0x0000)
    expect(f32ToF16Bits(NaN)).toBe(0x7e00)
    expect(f32ToF16Bits(Infinity)).toBe(0x7c00)
  })

  it('matches a brute-force nearest-even reference on random float32 and on every midpoint', () => {
    const codes = Array.from({length: 0x7c01}, (_, i) => i) // 0 .. +inf
    const ref = makeReference(codes, f16BitsToF32)
    for (let h = 0; h < 0x7bff; h++) {
      const mid = (f16BitsToF32(h) + f16BitsToF32(h + 1)) / 2
      expect(Math.fround(mid)).toBe(mid)
      const got = f32ToF16Bits(mid)
      if (got !== ref(mid)) expect.fail(`midpoint ${mid}: 0x${got.toString(16)} vs 0x${ref(mid).toString(16)}`)
      if (f32ToF16Bits(-mid) !== (ref(mid) | 0x8000)) expect.fail(`midpoint -${mid}`)
    }
    const next = rng(12345)
    const f = new Float32Array(1)
    const u = new Uint32Array(f.buffer)
    for (let i = 0; i < 200_000; i++) {
      // exponents around the fp16 range: [2^-26, 2^17)
      u[0] = ((next() % (17 + 26)) + 127 - 26) << 23 | (next() & 0x7fffff)
      const x = f[0]
      const want = x >= 65520 ? 0x7c00 : ref(x)
      const got = f32ToF16Bits(x)
      if (got !== want) expect.fail(`${x}: 0x${got.toString(16)} vs 0x${want.toString(16)}`)
    }
  })

  it('array versions agree with the scalar ones', () => {
    const x = new Float32Array([0, -0, 1, -2.5, 65504, 1e-7, 3.14159, 1e9])
    const h = encodeF16(x)
    expect(Array.from(h)).toEqual(Array.from(x, (v) => f32ToF16Bits(v)))
    expect(Array.from(decodeF16(h))).toEqual(Array.from(h, (b) => f16BitsToF32(b)))
  })
})

describe('bf16', () => {
  it('every one of the 65,536 bit patterns decodes and re-encodes to itself (NaN stays NaN)', () => {
    for (let h = 0; h < 65536; h++) {
      const v = bf16BitsToF32(h)
      const back = f32ToBf16Bits(v)
      if (Number.isNaN(v)) {
        expect(Number.isNaN(bf16BitsToF32(back))).toBe(true)
      } else if (back !== h) {
        expect.fail(`bf16 0x${h.toString(16)} → ${v} → 0x${back.toString(16)}`)
      }
    }
  })

  it('rounds ties to even and overflows to inf', () => {
    expect(f32ToBf16Bits(1)).toBe(0x3f80)
    expect(f32ToBf16Bits(1 + 2 ** -8)).toBe(0x3f80) // tie → even
    expect(f32ToBf16Bits(1 + 3 * 2 ** -8)).toBe(0x3f82) // tie → even
    expect(f32ToBf16Bits(1 + 2 ** -8 + 2 ** -20)).toBe(0x3f81)
    expect(f32ToBf16Bits(3.4028234663852886e38)).toBe(0x7f80) // f32 max rounds up to inf
    expect(f32ToBf16Bits(-3.4028234663852886e38)).toBe(0xff80)
    expect(f32ToBf16Bits(Infinity)).toBe(0x7f80)
    expect(Number.isNaN(bf16BitsToF32(f32ToBf16Bits(NaN)))).toBe(true)
    expect(f32ToBf16Bits(-0)).toBe(0x8000)
  })

  it('matches a brute-force nearest-even reference on random float32', () => {
    const codes = Array.from({length: 0x7f80}, (_, i) => i) // 0 .. max finite
    const ref = makeReference(codes, bf16BitsToF32)
    const next = rng(777)
    const f = new Float32Array(1)
    const u = new Uint32Array(f.buffer)
    for (let i = 0; i < 200_000; i++) {
      u[0] = (next() % 0x7f7f0000) >>> 0
      const x = f[0]
      const got = f32ToBf16Bits(x)
      if (got !== ref(x)) expect.fail(`${x}: 0x${got.toString(16)} vs 0x${ref(x).toString(16)}`)
    }
  })

  it('array versions agree with the scalar ones', () => {
    const x = new Float32Array([0, -0, 1, -2.5, 1e30, 1e-30, 3.14159])
    const h = encodeBf16(x)
    expect(Array.from(h)).toEqual(Array.from(x, (v) => f32ToBf16Bits(v)))
    expect(Array.from(decodeBf16(h))).toEqual(Array.from(h, (b) => bf16BitsToF32(b)))
  })
})

describe('fp8 e4m3fn', () => {
  it('every one of the 256 bit patterns decodes and re-encodes to itself (NaN 0x7f/0xff)', () => {
    for (let h = 0; h < 256; h++) {
      const v = e4m3BitsToF32(h)
      if ((h & 0x7f) === 0x7f) {
        expect(Number.isNaN(v)).toBe(true)
        expect(f32ToE4m3Bits(v)).toBe(0x7f) // a JS NaN carries no sign
        continue
      }
      expect(f32ToE4m3Bits(v)).toBe(h)
    }
  })

  it('decodes landmarks, rounds ties to even, saturates to ±448', () => {
    expect(e4m3BitsToF32(0x7e)).toBe(448)
    expect(e4m3BitsToF32(0xfe)).toBe(-448)
    expect(e4m3BitsToF32(0x08)).toBe(2 ** -6)
    expect(e4m3BitsToF32(0x01)).toBe(2 ** -9)
    expect(e4m3BitsToF32(0x38)).toBe(1)
    expect(f32ToE4m3Bits(1.0625)).toBe(0x38) // tie 1 / 1.125 → 1 (even)
    expect(f32ToE4m3Bits(1.1875)).toBe(0x3a) // tie 1.125 / 1.25 → 1.25 (even)
    expect(f32ToE4m3Bits(449)).toBe(0x7e)
    expect(f32ToE4m3Bits(480)).toBe(0x7e)
    expect(f32ToE4m3Bits(1e20)).toBe(0x7e)
    expect(f32ToE4m3Bits(Infinity)).toBe(0x7e)
    expect(f32ToE4m3Bits(-Infinity)).toBe(0xfe)
    expect(f32ToE4m3Bits(NaN)).toBe(0x7f)
    expect(f32ToE4m3Bits(2 ** -10)).toBe(0x00) // tie 0 / 2^-9 → 0
    expect(f32ToE4m3Bits(3 * 2 ** -10)).toBe(0x02) // tie 1 / 2 units → 2
    expect(f32ToE4m3Bits(-(2 ** -10) - 2 ** -20)).toBe(0x81)
  })

  it('matches a brute-force nearest-even reference on random values in range', () => {
    const codes = Array.from({length: 0x7f}, (_, i) => i) // 0 .. 448
    const ref = makeReference(codes, e4m3BitsToF32)
    const next = rng(99)
    for (let i = 0; i < 100_000; i++) {
      const x = Math.fround(((next() / 2 ** 32) * 2 - 1) * 2 ** ((next() % 20) - 11))
      const want = ref(x) | (x < 0 ? 0x80 : 0)
      const got = f32ToE4m3Bits(x)
      if (got !== want && !(x === 0 || Object.is(x, -0))) expect.fail(`${x}: 0x${got.toString(16)} vs 0x${want.toString(16)}`)
    }
    const x = new Float32Array([0.3, -7, 300])
    expect(Array.from(decodeE4m3(encodeE4m3(x)))).toEqual([0.3125, -7, 288])
  })
})

describe('int8 per row', () => {
  it('quantizes symmetric per row with fp32 scales and rounds half to even', () => {
    // row 0: max 127 → d = 1; 2.5 → 2 (even), -3.5 → -4, 0.5 → 0
    // row 1: all zero → d = 0, q = 0
    const w = new Float32Array([127, 2.5, -3.5, 0.5, 0, 0, 0, 0])
    const {q, scales} = quantizeInt8PerRow(w, 2, 4, 'fp32')
    expect(Array.from(scales)).toEqual([1, 0])
    expect(Array.from(q)).toEqual([127, 2, -4, 0, 0, 0, 0, 0])
    expect(Array.from(dequantizeInt8PerRow(q, scales, 2, 4))).toEqual([127, 2, -4, 0, 0, 0, 0, 0])
  })

  it('stores fp16 scales and quantizes against the stored scale', () => {
    const w = new Float32Array([0.1, -0.05, 0.025, 0.3])
    const {q, scales} = quantizeInt8PerRow(w, 1, 4, 'fp16')
    const d = f16BitsToF32(f32ToF16Bits(Math.fround(0.3 / 127)))
    expect(scales[0]).toBe(Math.fround(d))
    expect(Array.from(q)).toEqual([0.1, -0.05, 0.025, 0.3].map((v) => Math.round(Math.fround(Math.fround(v) / scales[0]))))
    const back = dequantizeInt8PerRow(q, scales, 1, 4)
    for (let i = 0; i < 4; i++) expect(Math.abs(back[i] - w[i])).toBeLessThanOrEqual(scales[0] / 2 + 1e-9)
    expect(Math.abs(q[3])).toBeLessThanOrEqual(127)
  })

  it('rejects a matrix shape that does not match the data', () => {
    expect(() => quantizeInt8PerRow(new Float32Array(5), 2, 3, 'fp32')).toThrow(/5 values do not fill a \[2, 3\] matrix/)
  })
})
