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
 *   fp8 e5m2               s eeeee mm                   bias 15, 3 significant bits, subnormals
 *                          m·2^-16, max ±57344 (0x7b/0xfb), inf 0x7c/0xfc, NaN 0x7d-0x7f;
 *                          encoding SATURATES as e4m3fn's does: above 57344 (inf too) gives
 *                          ±57344, NaN gives 0x7e | sign (quiet, fp16's NaN's top byte)
 *                          (both fp8 formats: OCP 8-bit Floating Point Specification (OFP8)
 *                          rev. 1.0, 2023; saturation is its optional "satfinite" conversion)
 *   e8m0                   eeeeeeee                     2^(b - 127), b = 0..254, 255 = NaN: the
 *                          shared scale of the OCP Microscaling (MX) Formats spec v1.0
 *   int8 per row           q = clamp(round(w / d), -127, 127) with d = max|row| / 127 stored
 *                          in fp16 or fp32 (round is half to even, like torch.round)
 *   fp8 per row            code = fp8(w / s) with s = max|row| / fp8 max, stored in fp16
 *                          (see `quantizeFp8PerRow`): 8 bits per value + 16 per row
 *   e4m3 scales            a tensor's ternary scales as e4m3 codes × one power of two
 *                          (see `roundScalesE4m3`): 8 bits per group + 8 per tensor
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

/**
 * Float32 value → the bits of a saturating fp8 format (sign, then `mantBits` mantissa bits under
 * exponent `bias`): RNE, anything beyond the largest finite code `maxCode` (inf too) saturates to
 * it, NaN → `nanCode` | sign.
 */
function saturatingFp8Bits(x: number, mantBits: number, bias: number, maxCode: number, nanCode: number): number {
  const b = f32Bits(x)
  const sign = (b >>> 24) & 0x80
  const mag = b & 0x7fffffff
  if (mag > 0x7f800000) return sign | nanCode
  if (mag === 0x7f800000) return sign | maxCode
  const code = roundMagnitude(mag, mantBits, bias)
  return sign | (code > maxCode ? maxCode : code)
}

/** Float32 value → fp8 e4m3fn bits (RNE, saturating to ±448 (inf too), NaN → 0x7f | sign). */
export function f32ToE4m3Bits(x: number): number {
  return saturatingFp8Bits(x, 3, 7, 0x7e, 0x7f)
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

// --- fp8 e5m2 --------------------------------------------------------------------------------

/** Float32 value → fp8 e5m2 bits (RNE, saturating to ±57344 (inf too), NaN → 0x7e | sign). */
export function f32ToE5m2Bits(x: number): number {
  return saturatingFp8Bits(x, 2, 15, 0x7b, 0x7e)
}

/** fp8 e5m2 bits → the value (0x7c is inf, 0x7d-0x7f NaN, as fp16's top byte). */
export function e5m2BitsToF32(h: number): number {
  const sign = h & 0x80 ? -1 : 1
  const exp = (h >>> 2) & 0x1f
  const mant = h & 0x3
  if (exp === 31) return mant === 0 ? sign * Infinity : NaN
  if (exp === 0) return sign * mant * 2 ** -16
  return sign * (4 + mant) * 2 ** (exp - 17)
}

// --- fp8, by name ----------------------------------------------------------------------------

export type Fp8Format = 'e4m3' | 'e5m2'
export const FP8_FORMATS: readonly Fp8Format[] = ['e4m3', 'e5m2']

/**
 * Formats a float tensor can be stored (and simulated in training) in; the fp8 ones carry a
 * scale per row (src/quant/float-store.ts).
 */
export type FloatStoreFormat = 'fp32' | 'fp16' | 'bf16' | Fp8Format
export const FLOAT_STORE_FORMATS: readonly FloatStoreFormat[] = ['fp32', 'fp16', 'bf16', 'e4m3', 'e5m2']

/** What the on-device rounding needs to know of an fp8 format (all values exact in float32). */
export interface Fp8Info {
  /** Significant bits including the implicit leading one. */
  bits: number
  minNormal: number
  /** The subnormal spacing: the smallest positive value. */
  minSubnormal: number
  maxFinite: number
}

export const FP8_INFO: Record<Fp8Format, Fp8Info> = {
  e4m3: {bits: 4, minNormal: 2 ** -6, minSubnormal: 2 ** -9, maxFinite: 448},
  e5m2: {bits: 3, minNormal: 2 ** -14, minSubnormal: 2 ** -16, maxFinite: 57344},
}

export function f32ToFp8Bits(x: number, fmt: Fp8Format): number {
  return fmt === 'e4m3' ? f32ToE4m3Bits(x) : f32ToE5m2Bits(x)
}

export function fp8BitsToF32(h: number, fmt: Fp8Format): number {
  return fmt === 'e4m3' ? e4m3BitsToF32(h) : e5m2BitsToF32(h)
}

// --- e8m0 ------------------------------------------------------------------------------------

/** e8m0 bits → 2^(b - 127); 255 is NaN. */
export function e8m0BitsToF32(b: number): number {
  return b === 255 ? NaN : 2 ** ((b & 0xff) - 127)
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

export function encodeFp8(x: Float32Array, fmt: Fp8Format): Uint8Array {
  const out = new Uint8Array(x.length)
  const enc = fmt === 'e4m3' ? f32ToE4m3Bits : f32ToE5m2Bits
  for (let i = 0; i < x.length; i++) out[i] = enc(x[i])
  return out
}

export function decodeFp8(h: Uint8Array, fmt: Fp8Format): Float32Array {
  const out = new Float32Array(h.length)
  const dec = fmt === 'e4m3' ? e4m3BitsToF32 : e5m2BitsToF32
  for (let i = 0; i < h.length; i++) out[i] = dec(h[i])
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

// --- fp8 per row -----------------------------------------------------------------------------

/** fp16's smallest normal and largest finite value: the range an fp16 scale is clamped to. */
const F16_MIN_NORMAL = 2 ** -14
const F16_MAX = 65504

/**
 * The stored scale of an fp8 row whose largest magnitude is `amax`: s = amax / fp8 max (float32
 * division), clamped to fp16's normal range [2^-14, 65504] and rounded to fp16 (RNE). A row of
 * zeros gets 2^-14 (never 0: no division by zero); past 65504 the row's codes saturate.
 */
export function fp8RowScale(amax: number, fmt: Fp8Format): number {
  const x = Math.fround(amax / FP8_INFO[fmt].maxFinite)
  return f16BitsToF32(f32ToF16Bits(Math.min(Math.max(x, F16_MIN_NORMAL), F16_MAX)))
}

/**
 * FP8 with one fp16 scale per row, as records store their embeddings: for each row r of the
 * [rows, cols] matrix, s_r = fp8RowScale(max |w[r, ·]|) and code = fp8(w / s_r) (float32
 * division, RNE, saturating); the stored value is fp8(code) · s_r, exact in float32 (≤ 15
 * significant bits, far from float32's limits). A 1-D tensor is one row: one scale per tensor.
 * A code that rounds to −0 is stored as +0, as the on-device simulation gives +0. NaN values are
 * skipped by the row maximum and stored as NaN codes. Values stored this way store again to the
 * same codes and scales (the tests check it): the packer re-quantizes the values training used.
 */
export function quantizeFp8PerRow(w: Float32Array, rows: number, cols: number, fmt: Fp8Format): {codes: Uint8Array; scales: Float32Array} {
  if (w.length !== rows * cols) throw new InputError(`${fmt} per row: ${w.length} values do not fill a [${rows}, ${cols}] matrix`)
  const enc = fmt === 'e4m3' ? f32ToE4m3Bits : f32ToE5m2Bits
  const codes = new Uint8Array(w.length)
  const scales = new Float32Array(rows)
  for (let r = 0; r < rows; r++) {
    const o = r * cols
    let amax = 0
    for (let c = 0; c < cols; c++) {
      const a = Math.abs(w[o + c])
      if (a > amax) amax = a
    }
    const s = fp8RowScale(amax, fmt)
    scales[r] = s
    for (let c = 0; c < cols; c++) {
      const code = enc(Math.fround(w[o + c] / s))
      codes[o + c] = code === 0x80 ? 0 : code
    }
  }
  return {codes, scales}
}

/** w[r, c] = fp8(codes[r, c]) · scales[r], exactly. */
export function dequantizeFp8PerRow(codes: Uint8Array, scales: Float32Array, rows: number, cols: number, fmt: Fp8Format): Float32Array {
  if (codes.length !== rows * cols || scales.length !== rows) {
    throw new InputError(`${fmt} per row: ${codes.length} codes and ${scales.length} scales do not make a [${rows}, ${cols}] matrix`)
  }
  const dec = fmt === 'e4m3' ? e4m3BitsToF32 : e5m2BitsToF32
  const out = new Float32Array(codes.length)
  for (let r = 0; r < rows; r++) {
    const s = scales[r]
    for (let c = 0; c < cols; c++) out[r * cols + c] = dec(codes[r * cols + c]) * s
  }
  return out
}

// --- e4m3 scales (8-bit ternary scales) ------------------------------------------------------

/** The smallest e4m3 scale code's value (0x01): a stored scale is never 0. */
export const E4M3_MIN_SUBNORMAL = 2 ** -9

/**
 * The exponent e of a tensor's e4m3 scale base 2^e: the smallest e with max ≤ 448 · 2^e, so the
 * largest scale maps into (224, 448], e4m3's top binade, and none saturates. Clamped to e8m0's
 * range [-127, 127]; 0 when max is 0 (or not a positive number).
 */
export function e4m3ScaleExponent(max: number): number {
  if (!(max > 0)) return 0
  if (max === Infinity) return 127
  let e = Math.ceil(Math.log2(max / 448))
  // Math.log2 may be off by an ulp: settle e with exact comparisons (448 · 2^e is exact)
  while (max > 448 * 2 ** e) e++
  while (max <= 224 * 2 ** e) e--
  return Math.min(Math.max(e, -127), 127) | 0 // | 0: never -0
}

/**
 * A tensor's ternary scales stored in 8 bits each, the host reference of the on-device rounding
 * (`roundToScaleFormat(d, 'e4m3')`, src/quant/ternary.ts): with P = 2^e4m3ScaleExponent(max d),
 * d_stored = max(e4m3(d / P), 2^-9) · P (float32 division, exact here since P is a power of two;
 * e4m3 RNE, saturating; the smallest code so that no scale is 0). The base is a power of two,
 * like the shared e8m0 scale of the OCP MX formats, so every stored scale is exactly a code times
 * the base and the base can be found again from the stored values; e4m3 block scales under a
 * per-tensor scale are NVIDIA's NVFP4 layout. Takes positive scales.
 */
export function roundScalesE4m3(d: Float32Array): Float32Array {
  let max = 0
  for (let i = 0; i < d.length; i++) if (d[i] > max) max = d[i]
  const p = 2 ** e4m3ScaleExponent(max)
  const out = new Float32Array(d.length)
  for (let i = 0; i < d.length; i++) out[i] = Math.max(e4m3BitsToF32(f32ToE4m3Bits(Math.fround(d[i] / p))), E4M3_MIN_SUBNORMAL) * p
  return out
}

/**
 * Stored e4m3 scales → the e8m0 byte of their base and one e4m3 code each. The base is found
 * from the largest value (as `roundScalesE4m3` chose it; when that largest code is 224 exactly
 * the base comes out one binade lower with codes doubled: the same values). The caller checks
 * that the codes decode to the values (`decodeScalesE4m3`): values that are not a code times a
 * power of two do not.
 */
export function encodeScalesE4m3(scales: Float32Array): {base: number; codes: Uint8Array} {
  let max = 0
  for (let i = 0; i < scales.length; i++) {
    const a = Math.abs(scales[i])
    if (a > max || Number.isNaN(a)) max = Number.isNaN(a) ? Infinity : a
  }
  const e = e4m3ScaleExponent(max)
  const p = 2 ** e
  const codes = new Uint8Array(scales.length)
  for (let i = 0; i < scales.length; i++) codes[i] = f32ToE4m3Bits(Math.fround(scales[i] / p))
  return {base: e + 127, codes}
}

/** e4m3 scale codes and their e8m0 base → the scales: e4m3(code) · 2^(base − 127), exactly. */
export function decodeScalesE4m3(base: number, codes: Uint8Array): Float32Array {
  const p = e8m0BitsToF32(base)
  const out = new Float32Array(codes.length)
  for (let i = 0; i < codes.length; i++) out[i] = e4m3BitsToF32(codes[i]) * p
  return out
}
