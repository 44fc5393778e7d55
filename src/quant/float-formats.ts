/**
 * Bit-exact float storage formats, pure JS (Node 20 has no Float16Array): every encoder takes a
 * float32 value (a JS number is first rounded to float32 with Math.fround) and rounds to nearest,
 * ties to even (IEEE RNE), working on the float32 bit pattern.
 *
 *   fp16 (IEEE binary16)   s eeeee mmmmmmmmmm           bias 15, 11 significant bits,
 *                          subnormals m·2^-24, max 65504, inf 0x7c00, NaN 0x7e00 (quiet)
 *   bf16 (bfloat16)        s eeeeeeee mmmmmmm           the top 16 bits of a float32: bias 127,
 *                          8 significant bits, same range as float32, NaN kept quiet
 *   fp8 e4m3fn             s eeee mmm                   bias 7, 4 significant bits, subnormals
 *                          m·2^-9, max ±448 (0x7e/0xfe), no inf, NaN 0x7f/0xff; encoding
 *                          SATURATES: anything above 448 in magnitude (inf too) gives ±448
 *   int8 per row           q = clamp(round(w / d), -127, 127) with d = max|row| / 127 stored
 *                          in fp16 or fp32 (round is half to even, like torch.round)
 */
import {InputError} from '../errors.js'

const scratchF32 = new Float32Array(1)
const scratchU32 = new Uint32Array(scratchF32.buffer)

/** The float32 bit pattern of x (after Math.fround). */
export function f32Bits(x: number): number {
  scratchF32[0] = x
  return scratchU32[0]
}

/** The float32 value with bit pattern `bits`. */
export function bitsToF32(bits: number): number {
  scratchU32[0] = bits >>> 0
  return scratchF32[0]
}

/**
 * Round a finite, non-zero-exponent-agnostic float32 magnitude (bits without the sign) to a
 * minifloat with `mantBits` stored mantissa bits and exponent `bias`, RNE, subnormals included.
 * Returns the unsigned code (exponent << mantBits | mantissa); a carry can run past the largest
 * exponent, the caller decides what overflow means. `magBits` must not be inf/NaN.
 */
function roundMagnitude(magBits: number, mantBits: number, bias: number): number {
  const exp = magBits >>> 23
  const mant = magBits & 0x7fffff
  const drop = 23 - mantBits // mantissa bits dropped for a normal result
  const e = exp - 127 + bias // target biased exponent
  if (e >= 1) {
    const base = (e << mantBits) | (mant >>> drop)
    const rem = mant & ((1 << drop) - 1)
    const half = 1 << (drop - 1)
    return rem > half || (rem === half && (base & 1) === 1) ? base + 1 : base
  }
  // Subnormal (or zero) target: value = m · 2^(exp - 150), unit 2^(1 - bias - mantBits).
  const m = exp === 0 ? mant : mant | 0x800000
  const shift = (exp === 0 ? 1 : exp) - 127 + bias - 1 // ≤ -1 here; value / unit = m · 2^(shift - drop)
  const s = drop - shift
  if (s > 24) return 0 // below half the smallest subnormal
  const base = Math.floor(m / 2 ** s)
  const rem = m - base * 2 ** s
  const half = 2 ** (s - 1)
  return rem > half || (rem === half && (base & 1) === 1) ? base + 1 : base
}

// --- fp16 ------------------------------------------------------------------------------------

/** Float32 value → IEEE binary16 bits (RNE; overflow to ±inf; subnormals; NaN → quiet 0x7e00|sign). */
export function f32ToF16Bits(x: number): number {
  const b = f32Bits(x)
  const sign = (b >>> 16) & 0x8000
  const mag = b & 0x7fffffff
  if (mag >= 0x7f800000) return mag > 0x7f800000 ? sign | 0x7e00 : sign | 0x7c00
  const code = roundMagnitude(mag, 10, 15)
  return sign | (code >= 0x7c00 ? 0x7c00 : code)
}

/** IEEE binary16 bits → the value (exact as a float32/JS number). */
export function f16BitsToF32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1
  const exp = (h >>> 10) & 0x1f
  const mant = h & 0x3ff
  if (exp === 0) return sign * mant * 2 ** -24
  if (exp === 31) return mant === 0 ? sign * Infinity : NaN
  return sign * (1024 + mant) * 2 ** (exp - 25)
}

// --- bf16 ------------------------------------------------------------------------------------

/** Float32 value → bfloat16 bits (RNE on the low 16 bits; overflow to ±inf; NaN stays a quiet NaN). */
export function f32ToBf16Bits(x: number): number {
  const b = f32Bits(x)
  if ((b & 0x7fffffff) > 0x7f800000) return (b >>> 16) | 0x0040
  const lsb = (b >>> 16) & 1
  return Math.floor((b + 0x7fff + lsb) / 65536) & 0xffff
}

/** bfloat16 bits → the value. */
export function bf16BitsToF32(h: number): number {
  return bitsToF32((h & 0xffff) << 16)
}

// --- fp8 e4m3fn ------------------------------------------------------------------------------

/** Float32 value → fp8 e4m3fn bits (RNE, saturating to ±448 (inf too), NaN → 0x7f | sign). */
export function f32ToE4m3Bits(x: number): number {
  const b = f32Bits(x)
  const sign = (b >>> 24) & 0x80
  const mag = b & 0x7fffffff
  if (mag > 0x7f800000) return sign | 0x7f
  if (mag === 0x7f800000) return sign | 0x7e
  const code = roundMagnitude(mag, 3, 7)
  return sign | (code > 0x7e ? 0x7e : code)
}

/** fp8 e4m3fn bits → the value. */
export function e4m3BitsToF32(h: number): number {
  const sign = h & 0x80 ? -1 : 1
  const exp = (h >>> 3) & 0xf
  const mant = h & 0x7
  if (exp === 15 && mant === 7) return NaN
  if (exp === 0) return sign * mant * 2 ** -9
  return sign * (8 + mant) * 2 ** (exp - 10)
}

// --- Arrays ----------------------------------------------------------------------------------

export function encodeF16(x: Float32Array): Uint16Array {
  const out = new Uint16Array(x.length)
  for (let i = 0; i < x.length; i++) out[i] = f32ToF16Bits(x[i])
  return out
}

export function decodeF16(h: Uint16Array): Float32Array {
  const out = new Float32Array(h.length)
  for (let i = 0; i < h.length; i++) out[i] = f16BitsToF32(h[i])
  return out
}

export function encodeBf16(x: Float32Array): Uint16Array {
  const out = new Uint16Array(x.length)
  for (let i = 0; i < x.length; i++) out[i] = f32ToBf16Bits(x[i])
  return out
}

export function decodeBf16(h: Uint16Array): Float32Array {
  const bits = new Uint32Array(h.length)
  for (let i = 0; i < h.length; i++) bits[i] = h[i] << 16
  return new Float32Array(bits.buffer)
}

export function encodeE4m3(x: Float32Array): Uint8Array {
  const out = new Uint8Array(x.length)
  for (let i = 0; i < x.length; i++) out[i] = f32ToE4m3Bits(x[i])
  return out
}

export function decodeE4m3(h: Uint8Array): Float32Array {
  const out = new Float32Array(h.length)
  for (let i = 0; i < h.length; i++) out[i] = e4m3BitsToF32(h[i])
  return out
}

/** x rounded to the nearest fp16 / bf16 value (as a number), or unchanged float32 for 'fp32'. */
export function roundToFormatJs(x: number, fmt: 'fp32' | 'fp16' | 'bf16'): number {
  if (fmt === 'fp16') return f16BitsToF32(f32ToF16Bits(x))
  if (fmt === 'bf16') return bf16BitsToF32(f32ToBf16Bits(x))
  return Math.fround(x)
}

// --- int8 per row ----------------------------------------------------------------------------

/** Round half to even (torch.round). */
function roundHalfEven(x: number): number {
  const r = Math.round(x)
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r
}

/**
 * Symmetric per-row int8: d = max|row| / 127 (float32), rounded to `scaleFormat`;
 * q = clamp(round(w / d), -127, 127) with w / d in float32 and round half to even. A row of
 * zeros (or a scale that rounds to 0) gets d = 0 and q = 0; an fp16 scale that would overflow
 * is clamped to 65504. Returns the stored values: q and the scales as float32.
 */
export function quantizeInt8PerRow(
  w: Float32Array,
  rows: number,
  cols: number,
  scaleFormat: 'fp16' | 'fp32',
): {q: Int8Array; scales: Float32Array} {
  if (w.length !== rows * cols) {
    throw new InputError(`int8: ${w.length} values do not fill a [${rows}, ${cols}] matrix`)
  }
  const q = new Int8Array(w.length)
  const scales = new Float32Array(rows)
  for (let r = 0; r < rows; r++) {
    const o = r * cols
    let max = 0
    for (let c = 0; c < cols; c++) max = Math.max(max, Math.abs(w[o + c]))
    let d = roundToFormatJs(Math.fround(max / 127), scaleFormat)
    if (d === Infinity) d = 65504
    scales[r] = d
    if (!(d > 0)) continue
    for (let c = 0; c < cols; c++) {
      const v = roundHalfEven(Math.fround(w[o + c] / d))
      q[o + c] = v > 127 ? 127 : v < -127 ? -127 : v
    }
  }
  return {q, scales}
}

/** w[r, c] = q[r, c] · scales[r] in float32. */
export function dequantizeInt8PerRow(q: Int8Array, scales: Float32Array, rows: number, cols: number): Float32Array {
  if (q.length !== rows * cols || scales.length !== rows) {
    throw new InputError(`int8: ${q.length} values and ${scales.length} scales do not make a [${rows}, ${cols}] matrix`)
  }
  const out = new Float32Array(q.length)
  for (let r = 0; r < rows; r++) {
    const d = scales[r]
    for (let c = 0; c < cols; c++) out[r * cols + c] = q[r * cols + c] * d
  }
  return out
}
