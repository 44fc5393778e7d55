import {describe, expect, it} from 'vitest'

import {
  E4M3_MIN_SUBNORMAL,
  FP8_INFO,
  type Fp8Format,
  bf16BitsToF32,
  decodeBf16,
  decodeE4m3,
  decodeF16,
  decodeFp8,
  decodeScalesE4m3,
  dequantizeFp8PerRow,
  dequantizeInt8PerRow,
  e4m3BitsToF32,
  e4m3ScaleExponent,
  e5m2BitsToF32,
  e8m0BitsToF32,
  encodeBf16,
  encodeE4m3,
  encodeF16,
  encodeFp8,
  encodeScalesE4m3,
  f16BitsToF32,
  f32ToBf16Bits,
  f32ToE4m3Bits,
  f32ToE5m2Bits,
  f32ToF16Bits,
  f32ToFp8Bits,
  fp8BitsToF32,
  fp8RowScale,
  quantizeFp8PerRow,
  quantizeInt8PerRow,
  roundScalesE4m3,
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

// --- fp8: e4m3fn and e5m2, every code and every midpoint -------------------------------------

/** The float32 neighbours of x (x finite, non-zero magnitude below float32 max). */
function f32Neighbours(x: number): [number, number] {
  const f = new Float32Array([x])
  const u = new Uint32Array(f.buffer)
  const up = new Float32Array(new Uint32Array([u[0] + 1]).buffer)[0]
  const down = new Float32Array(new Uint32Array([u[0] - 1]).buffer)[0]
  return x > 0 ? [down, up] : [up, down]
}

/** Largest finite positive code of each fp8 format. */
const FP8_MAX_CODE: Record<Fp8Format, number> = {e4m3: 0x7e, e5m2: 0x7b}

/**
 * Every value an fp8 format can round to, every midpoint between neighbours and the float32
 * values either side of each: the points where a rounding rule can go wrong. Both signs.
 */
function fp8Probes(fmt: Fp8Format): number[] {
  const out: number[] = []
  for (let c = 0; c <= FP8_MAX_CODE[fmt]; c++) {
    const a = fp8BitsToF32(c, fmt)
    out.push(a, -a)
    if (c === FP8_MAX_CODE[fmt]) break
    const mid = (a + fp8BitsToF32(c + 1, fmt)) / 2
    expect(Math.fround(mid)).toBe(mid) // every fp8 midpoint is a float32
    for (const v of [mid, ...f32Neighbours(mid)]) out.push(v, -v)
  }
  return out
}

for (const fmt of ['e4m3', 'e5m2'] as const) {
  describe(`fp8 ${fmt}: exhaustive against nearest-even`, () => {
    const {maxFinite} = FP8_INFO[fmt]
    const ref = makeReference(
      Array.from({length: FP8_MAX_CODE[fmt] + 1}, (_, i) => i),
      (c) => fp8BitsToF32(c, fmt),
    )
    /** Nearest-even of the finite codes, saturating past the largest: the encoders' contract. */
    const want = (x: number): number => (x < 0 || Object.is(x, -0) ? 0x80 : 0) | (Math.abs(x) >= maxFinite ? FP8_MAX_CODE[fmt] : ref(x))

    it('every code value, every midpoint (ties to even) and the float32 values either side of each', () => {
      let checked = 0
      for (const x of fp8Probes(fmt)) {
        const got = f32ToFp8Bits(x, fmt)
        if (got !== want(x)) expect.fail(`${fmt}(${x}) = 0x${got.toString(16)}, want 0x${want(x).toString(16)}`)
        checked++
      }
      expect(checked).toBe(fmt === 'e4m3' ? 2 * (127 + 3 * 126) : 2 * (124 + 3 * 123))
    })

    it('all 256 codes decode and re-encode to themselves (NaN to the quiet NaN; e5m2 inf saturates)', () => {
      for (let h = 0; h < 256; h++) {
        const v = fp8BitsToF32(h, fmt)
        const back = f32ToFp8Bits(v, fmt)
        if (Number.isNaN(v)) expect(back).toBe(fmt === 'e4m3' ? 0x7f : 0x7e)
        else if (!Number.isFinite(v)) expect(back).toBe((h & 0x80) | 0x7b)
        else expect(back).toBe(h)
      }
    })

    it('saturates past the largest finite value, inf too; NaN stays NaN; subnormals are kept', () => {
      const {minNormal, minSubnormal} = FP8_INFO[fmt]
      const top = FP8_MAX_CODE[fmt]
      for (const x of [maxFinite, maxFinite * 1.0001, maxFinite * 1.25, 2 * maxFinite, 1e30, 3.4e38, Infinity]) {
        expect(f32ToFp8Bits(x, fmt)).toBe(top)
        expect(f32ToFp8Bits(-x, fmt)).toBe(0x80 | top)
      }
      expect(Number.isNaN(fp8BitsToF32(f32ToFp8Bits(NaN, fmt), fmt))).toBe(true)
      expect(fp8BitsToF32(0x01, fmt)).toBe(minSubnormal)
      expect(fp8BitsToF32(fmt === 'e4m3' ? 0x08 : 0x04, fmt)).toBe(minNormal)
      expect(f32ToFp8Bits(minSubnormal / 2, fmt)).toBe(0x00) // tie 0 / smallest → 0 (even)
      expect(f32ToFp8Bits(minSubnormal * 1.5, fmt)).toBe(0x02) // tie 1 / 2 units → 2 (even)
      expect(f32ToFp8Bits(minSubnormal / 2 + minSubnormal * 2 ** -10, fmt)).toBe(0x01)
      expect(f32ToFp8Bits(1e-30, fmt)).toBe(0x00)
      expect(f32ToFp8Bits(-0, fmt)).toBe(0x80)
    })

    it('array versions agree with the scalar ones', () => {
      const x = new Float32Array([0, -0, 1, -2.5, 1e-3, 3.14159, 1e9, 300])
      const h = encodeFp8(x, fmt)
      expect(Array.from(h)).toEqual(Array.from(x, (v) => f32ToFp8Bits(v, fmt)))
      expect(Array.from(decodeFp8(h, fmt))).toEqual(Array.from(h, (b) => fp8BitsToF32(b, fmt)))
    })
  })
}

describe('fp8 e5m2 landmarks', () => {
  it('decodes as the top byte of an fp16', () => {
    for (let h = 0; h < 256; h++) {
      const a = e5m2BitsToF32(h)
      const b = f16BitsToF32(h << 8)
      if (Number.isNaN(b)) expect(Number.isNaN(a)).toBe(true)
      else expect(Object.is(a, b)).toBe(true)
    }
    expect(e5m2BitsToF32(0x7b)).toBe(57344)
    expect(e5m2BitsToF32(0x7c)).toBe(Infinity)
    expect(f32ToE5m2Bits(61440)).toBe(0x7b) // tie 57344 / 65536 saturates (IEEE would give inf)
  })
})

describe('e8m0', () => {
  it('is 2^(b - 127), 255 is NaN', () => {
    expect(e8m0BitsToF32(127)).toBe(1)
    expect(e8m0BitsToF32(0)).toBe(2 ** -127)
    expect(e8m0BitsToF32(254)).toBe(2 ** 127)
    expect(Number.isNaN(e8m0BitsToF32(255))).toBe(true)
  })
})

// --- fp8 per row -----------------------------------------------------------------------------

/** Rows of every kind: ordinary, zero, tiny (scale clamped up), huge (clamped down), mixed signs, -0. */
function fp8TestMatrix(rows: number, cols: number, seed: number): Float32Array {
  const next = rng(seed)
  const w = new Float32Array(rows * cols)
  for (let r = 0; r < rows; r++) {
    const kind = r % 6
    const mag = kind === 0 ? 0 : kind === 1 ? 2 ** -20 : kind === 2 ? 1e9 : 2 ** ((next() % 24) - 12)
    for (let c = 0; c < cols; c++) {
      const u = next() / 2 ** 32
      w[r * cols + c] = kind === 5 && c % 3 === 0 ? -0 : Math.fround((2 * u - 1) * mag * (c % 7 === 0 ? 1 : u))
    }
  }
  return w
}

for (const fmt of ['e4m3', 'e5m2'] as const) {
  describe(`${fmt} per row (fp16 scales)`, () => {
    const fmax = FP8_INFO[fmt].maxFinite

    it('a hand-computed row: s = fp16(max / fmax), codes fp8(w / s), values exact', () => {
      const w = Float32Array.of(fmax, 1, -0.5, 0, 0, 0, 0, 0)
      const {codes, scales} = quantizeFp8PerRow(w, 2, 4, fmt)
      expect(Array.from(scales)).toEqual([1, 2 ** -14]) // a zero row: the smallest fp16 normal, never 0
      expect(Array.from(codes)).toEqual([f32ToFp8Bits(fmax, fmt), f32ToFp8Bits(1, fmt), f32ToFp8Bits(-0.5, fmt), 0, 0, 0, 0, 0])
      expect(Array.from(dequantizeFp8PerRow(codes, scales, 2, 4, fmt))).toEqual([fmax, 1, -0.5, 0, 0, 0, 0, 0])
    })

    it('scales: fp16 of max / fmax, clamped to [2^-14, 65504]', () => {
      expect(fp8RowScale(30, fmt)).toBe(f16BitsToF32(f32ToF16Bits(Math.fround(30 / fmax))))
      expect(fp8RowScale(0, fmt)).toBe(2 ** -14)
      expect(fp8RowScale(1e-9, fmt)).toBe(2 ** -14)
      expect(fp8RowScale(1e30, fmt)).toBe(65504)
      expect(fp8RowScale(Infinity, fmt)).toBe(65504)
    })

    it('stores -0 and values rounding to zero as +0, NaN as a NaN code', () => {
      const w = Float32Array.of(-0, -1e-30, 1, NaN)
      const {codes} = quantizeFp8PerRow(w, 1, 4, fmt)
      expect(codes[0]).toBe(0)
      expect(codes[1]).toBe(0)
      expect(Number.isNaN(fp8BitsToF32(codes[3], fmt))).toBe(true)
      expect(Object.is(dequantizeFp8PerRow(codes, Float32Array.of(1), 1, 4, fmt)[1], 0)).toBe(true)
    })

    it('stored values store again to the same codes and scales (the packer re-quantizes what training used)', () => {
      for (const [rows, cols] of [[60, 16], [12, 257], [1, 1000], [1, 1]] as const) {
        const w = fp8TestMatrix(rows, cols, rows * 1000 + cols)
        const a = quantizeFp8PerRow(w, rows, cols, fmt)
        const v = dequantizeFp8PerRow(a.codes, a.scales, rows, cols, fmt)
        const b = quantizeFp8PerRow(v, rows, cols, fmt)
        expect(Array.from(b.scales)).toEqual(Array.from(a.scales))
        expect(Buffer.from(b.codes).equals(Buffer.from(a.codes))).toBe(true)
        const back = dequantizeFp8PerRow(b.codes, b.scales, rows, cols, fmt)
        expect(Buffer.from(back.buffer).equals(Buffer.from(v.buffer))).toBe(true)
        // every value is fp8(code) · s exactly: no float32 rounding in the product
        for (let i = 0; i < v.length; i++) {
          const exact = fp8BitsToF32(a.codes[i], fmt) * a.scales[Math.floor(i / cols)]
          if (v[i] !== exact) expect.fail(`value ${i}: ${v[i]} vs exact ${exact}`)
        }
      }
    })

    it('each value is within half an fp8 step of w (rows that need no clamping)', () => {
      const w = Float32Array.from({length: 64}, (_, i) => Math.fround(Math.sin(i) * 0.1))
      const {codes, scales} = quantizeFp8PerRow(w, 4, 16, fmt)
      const v = dequantizeFp8PerRow(codes, scales, 4, 16, fmt)
      const rel = fmt === 'e4m3' ? 2 ** -4 : 2 ** -3
      for (let i = 0; i < 64; i++) expect(Math.abs(v[i] - w[i])).toBeLessThanOrEqual(Math.max(Math.abs(w[i]) * rel, FP8_INFO[fmt].minSubnormal * scales[i >> 4]))
    })

    it('rejects a matrix shape that does not match the data', () => {
      expect(() => quantizeFp8PerRow(new Float32Array(5), 2, 3, fmt)).toThrow(/5 values do not fill a \[2, 3\] matrix/)
      expect(() => dequantizeFp8PerRow(new Uint8Array(6), new Float32Array(1), 2, 3, fmt)).toThrow(/do not make a \[2, 3\] matrix/)
    })
  })
}

// --- e4m3 scales -----------------------------------------------------------------------------

describe('e4m3 scales under a power-of-two base', () => {
  it('the base: the smallest 2^e with max ≤ 448 · 2^e', () => {
    const next = rng(2024)
    const f = new Float32Array(1)
    const u = new Uint32Array(f.buffer)
    for (let i = 0; i < 20_000; i++) {
      u[0] = (((next() % 200) + 20) << 23) | (next() & 0x7fffff)
      const max = f[0]
      const e = e4m3ScaleExponent(max)
      if (!(max <= 448 * 2 ** e && max > 224 * 2 ** e)) expect.fail(`max ${max}: e = ${e}`)
    }
    for (const k of [-20, -1, 0, 3, 60]) {
      expect(e4m3ScaleExponent(448 * 2 ** k)).toBe(k) // exactly 448 · 2^k: that power
      expect(e4m3ScaleExponent(Math.fround(448 * 2 ** k * (1 + 2 ** -23)))).toBe(k + 1)
      expect(e4m3ScaleExponent(224 * 2 ** k)).toBe(k - 1)
    }
    expect(e4m3ScaleExponent(0)).toBe(0)
  })

  it('every code × base and every midpoint (ties to even) round as nearest-even, clamped to the smallest code', () => {
    const codes = Array.from({length: 0x7f}, (_, i) => i)
    const ref = makeReference(codes, e4m3BitsToF32)
    for (const k of [-20, -3, 0, 5]) {
      const p = 2 ** k
      // the largest scale is 448·P, which fixes the base at P; the probes are codes and midpoints × P
      const probes = fp8Probes('e4m3').filter((x) => x > 0)
      const d = Float32Array.from([448 * p, ...probes.map((x) => x * p)])
      const stored = roundScalesE4m3(d)
      for (let i = 0; i < d.length; i++) {
        const want = Math.max(e4m3BitsToF32(ref(d[i] / p)), E4M3_MIN_SUBNORMAL) * p
        if (stored[i] !== want) expect.fail(`P = 2^${k}: ${d[i]} → ${stored[i]}, want ${want}`)
      }
    }
  })

  it('stored scales encode to one base byte and codes that decode back exactly, also when the top code is 224', () => {
    const next = rng(7)
    for (const spread of [1.01, 3, 1000, 1e6]) {
      const d = Float32Array.from({length: 500}, () => Math.fround(0.01 * (1 + (spread - 1) * (next() / 2 ** 32))))
      const stored = roundScalesE4m3(d)
      const {base, codes} = encodeScalesE4m3(stored)
      expect(Array.from(decodeScalesE4m3(base, codes))).toEqual(Array.from(stored))
      const max = Math.max(...stored)
      expect(max / 2 ** (base - 127)).toBeGreaterThan(224)
      expect(max / 2 ** (base - 127)).toBeLessThanOrEqual(448)
      for (const v of stored) expect(v).toBeGreaterThanOrEqual(E4M3_MIN_SUBNORMAL * 2 ** (base - 127))
    }
    // the largest scale rounds to code 224 (max/P in (224, 240)): the base comes out one lower, same values
    const d = Float32Array.of(230, 100, 3)
    const stored = roundScalesE4m3(d)
    expect(Array.from(stored)).toEqual([224, 96, 3]) // 100: the tie 96 / 104 goes to the even code
    const {base, codes} = encodeScalesE4m3(stored)
    expect(base).toBe(127 - 1)
    expect(codes[0]).toBe(f32ToE4m3Bits(448))
    expect(Array.from(decodeScalesE4m3(base, codes))).toEqual([224, 96, 3])
  })

  it('decodes every code under any base exactly', () => {
    for (const base of [0, 100, 127, 150, 254]) {
      const codes = Uint8Array.from({length: 256}, (_, i) => i)
      const got = decodeScalesE4m3(base, codes)
      for (let c = 0; c < 256; c++) {
        const want = Math.fround(e4m3BitsToF32(c) * 2 ** (base - 127))
        if (!Object.is(got[c], want) && !(Number.isNaN(got[c]) && Number.isNaN(want))) expect.fail(`base ${base} code ${c}: ${got[c]} vs ${want}`)
      }
    }
  })
})
