/**
 * THE ternary quantizer: one definition shared by the training forward pass (through
 * `ternaryWeightSTE`) and by the packer (through `ternarize`), so the weight a model trains
 * against is, bit for bit, the weight rebuilt from what is stored: q × d_stored.
 *
 * Layout. Weights are 2-D `[out, in]` (PyTorch layout, y = x · Wᵀ). A group is `groupSize`
 * consecutive elements of one row (contiguous in row-major memory); `'row'` makes each row one
 * group, `'tensor'` makes the whole matrix one group.
 *
 * Definition, per group of weights w:
 *   s        = max(mean |w|, EPS)                      (BitNet b1.58 absmean; EPS = 2^-14)
 *   q        = clip(round(w / s), -1, 1)
 *            = sign(w) if |w| > s/2, else 0            (round is half-to-even, as tf.round, so
 *                                                       |w| = s/2 exactly gives 0; we evaluate the
 *                                                       exact comparison |w| > s/2, no division)
 *   d        = zeroCorrection ? Σ_{q≠0} |w| / #{q≠0}   (least-squares scale for fixed q;
 *                                                       s when the group is all zero)
 *                              : s
 *   d_stored = roundToScaleFormat(max(d, EPS), scaleFormat)   (all of a tensor's d at once)
 *   deq      = q · d_stored                            (exact in float32: q ∈ {-1, 0, +1};
 *                                                       zeros are +0, never -0)
 *
 * EPS = 2^-14 is fp16's smallest normal number, so every stored scale is a normal value in
 * fp32, fp16 and bf16. The 8-bit format 'e4m3' stores each d as an fp8 e4m3fn code times one
 * power of two per tensor, P = the smallest 2^e with max d ≤ 448 · P (the largest scale lands in
 * e4m3's top binade): d_stored = max(e4m3(d / P), 2^-9) · P. The zero correction is the same in
 * every format: only the stored precision of d changes.
 *
 * Bits per weight as stored: log2(3) ≈ 1.585 for the trits (base-3 packing; 2 with 2-bit
 * codes) plus scaleBits / groupLen for the scales (fp16/bf16: 16, fp32: 32, e4m3: 8 plus 8 per
 * tensor), e.g. groups of 128 with fp16 scales: 1.585 + 0.125 = 1.710 bits per weight; with
 * e4m3 scales 1.585 + 0.0625 = 1.648.
 *
 * Everything here runs on device in plain tfjs ops (no readback). The host-side helpers
 * (`groupLayout`, `ternaryStats`, `ternaryQToInt8`, `dequantizeTernary`) live in
 * `ternary-host.ts` (no tfjs) and are re-exported here.
 */
import * as tf from '@tensorflow/tfjs-core'

import {InputError} from '../errors.js'
import {E4M3_MIN_SUBNORMAL, FP8_INFO, type Fp8Format} from './float-formats.js'
import {groupLayout, type GroupSize, type ScaleFormat} from './ternary-host.js'

export {SCALE_FORMATS, dequantizeTernary, groupLayout, scaleBytesOf, ternaryQToInt8, ternaryStats, type GroupSize, type ScaleFormat} from './ternary-host.js'

export interface TernaryConfig {
  groupSize: GroupSize
  scaleFormat: ScaleFormat
  zeroCorrection: boolean
}

/** Groups of 128 with fp16 scales: 1.71 bits per weight; zero correction narrows the roundtrip gap. */
export const DEFAULT_TERNARY: TernaryConfig = {groupSize: 128, scaleFormat: 'fp16', zeroCorrection: true}

/** Smallest scale: 2^-14, fp16's smallest normal, so stored scales are normal in every format. */
export const TERNARY_EPS = 2 ** -14

// --- Stored-scale rounding on device -------------------------------------------------------

interface FloatFormatInfo {
  /** Significant bits including the implicit leading one. */
  bits: number
  minNormal: number
  maxFinite: number
}

const FORMAT_INFO: Record<'fp16' | 'bf16', FloatFormatInfo> = {
  fp16: {bits: 11, minNormal: 2 ** -14, maxFinite: 65504},
  // bf16 max finite: 0x7f7f = (2 - 2^-7) · 2^127.
  bf16: {bits: 8, minNormal: 2 ** -126, maxFinite: (2 - 2 ** -7) * 2 ** 127},
}

/**
 * Round float32 x to `bits` significant bits by Veltkamp splitting, on device:
 *   σ = 2^(24 - bits) + 1,  c = σ·x,  hi = c - (c - x).
 * In binary floating point with round-to-nearest-even arithmetic, hi is x rounded to nearest
 * with ties to EVEN (Boldo 2006, the formal proof of Veltkamp/Dekker): exactly IEEE RNE to
 * `bits` bits; the tests check every midpoint of the fp16 and bf16 normal ranges. Needs σ·x
 * finite and x normal (callers clamp first). On IEEE float32 backends (cpu, wasm) every op is
 * correctly rounded and the result is exact; GPU backends that fuse the multiply-subtract or do
 * not follow IEEE float32 may differ.
 */
export function roundSignificand(x: tf.Tensor, bits: number): tf.Tensor {
  return tf.tidy(() => {
    const c = tf.mul(x, tf.scalar(2 ** (24 - bits) + 1, 'float32'))
    return tf.sub(c, tf.sub(c, x))
  })
}

/**
 * Round float32 x to the nearest value of an fp8 format (FP8_INFO: e4m3fn or e5m2), on device:
 * IEEE round-to-nearest-even with subnormals, and magnitudes past the largest finite value
 * SATURATE to it, exactly as the host encoders (`f32ToE4m3Bits`, `f32ToE5m2Bits`) do:
 *   |x| ≥ minNormal: `bits` significant bits (`roundSignificand`), then min(·, maxFinite)
 *                    (|x| is first clamped to 2·maxFinite, which saturates anyway, so σ·x
 *                    stays finite);
 *   |x| < minNormal: round(|x| / minSubnormal) · minSubnormal (exact scalings by powers of two;
 *                    tf.round is half-to-even).
 * The sign is kept and a value that rounds to zero is +0. inf/NaN inputs are not supported.
 */
export function roundToFp8(x: tf.Tensor, fmt: Fp8Format): tf.Tensor {
  const info = FP8_INFO[fmt]
  if (info === undefined) throw new InputError(`unknown fp8 format '${String(fmt)}' (e4m3, e5m2)`)
  return tf.tidy(() => {
    const xf = x.dtype === 'float32' ? x : tf.cast(x, 'float32')
    const mag = tf.abs(xf)
    const normal = tf.minimum(roundSignificand(tf.clipByValue(mag, info.minNormal, 2 * info.maxFinite), info.bits), info.maxFinite)
    const sub = tf.mul(tf.round(tf.mul(mag, 1 / info.minSubnormal)), info.minSubnormal)
    const rounded = tf.where(tf.less(mag, info.minNormal), sub, normal)
    const zero = tf.zerosLike(xf)
    const signed = tf.where(tf.less(xf, zero), tf.neg(rounded), rounded)
    return tf.where(tf.equal(rounded, zero), zero, signed)
  })
}

/** 2^(i − 127) for i = 0..254, each exact in float32 (2^-127 is a float32 subnormal). */
const POW2 = Float32Array.from({length: 255}, (_, i) => 2 ** (i - 127))

/**
 * A tensor's scales as 'e4m3' stores them (see the file header), on device: P = the smallest
 * power of two with max ≤ 448 · P, found from log2 and settled with exact comparisons (448 · P
 * and 224 · P are exact), P taken from a table of exact powers of two (tf.pow need not be
 * exact); then max(e4m3(x / P), 2^-9) · P, every step exact or RNE in float32. The host
 * reference is `roundScalesE4m3` (src/quant/float-formats.ts). Takes positive scales.
 */
function roundScalesE4m3(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const xf = x.dtype === 'float32' ? x : tf.cast(x, 'float32')
    const max = tf.max(xf)
    const e = tf.ceil(tf.div(tf.log(tf.div(max, 448)), Math.LN2))
    let p: tf.Tensor = tf.gather(tf.tensor1d(POW2, 'float32'), tf.cast(tf.clipByValue(tf.reshape(tf.add(e, 127), [1]), 1, 254), 'int32')) // (1,)
    p = tf.where(tf.greater(max, tf.mul(p, 448)), tf.mul(p, 2), p)
    p = tf.where(tf.lessEqual(max, tf.mul(p, 224)), tf.mul(p, 0.5), p)
    const codes = tf.maximum(roundToFp8(tf.div(xf, p), 'e4m3'), E4M3_MIN_SUBNORMAL)
    return tf.mul(codes, p)
  })
}

/**
 * Round x (float32, on device, no readback) to the nearest value of the scale format, ties to
 * even (Veltkamp splitting, see `roundSignificand`), after clamping the magnitude into the format's normal range:
 *   'fp32': x unchanged (a copy);
 *   'fp16': |x| clamped to [2^-14, 65504], then rounded to 11 significant bits;
 *   'bf16': |x| clamped to [2^-126, (2 - 2^-7)·2^127], then rounded to 8 significant bits;
 *   'e4m3': x is ALL the scales of one tensor (positive): one e4m3 code each under a shared
 *           power of two (see `roundScalesE4m3` and the file header); no scale becomes 0.
 * For fp32/fp16/bf16: zero stays +0 and the sign is kept (scales are positive; the sign is for
 * completeness). Magnitudes below the smallest normal become the smallest normal (subnormals
 * are never produced), inf/NaN inputs are not supported. The result is exactly representable in
 * the format and equals what IEEE round-to-nearest-even gives for in-range values.
 */
export function roundToScaleFormat(x: tf.Tensor, fmt: ScaleFormat): tf.Tensor {
  if (fmt === 'fp32') return x.clone()
  if (fmt === 'e4m3') return roundScalesE4m3(x)
  const info = FORMAT_INFO[fmt]
  if (info === undefined) throw new InputError(`ternary: unknown scale format '${String(fmt)}' (fp32, fp16, bf16, e4m3)`)
  return tf.tidy(() => {
    const xf = x.dtype === 'float32' ? x : tf.cast(x, 'float32')
    const mag = tf.clipByValue(tf.abs(xf), info.minNormal, info.maxFinite)
    let rounded: tf.Tensor
    if (fmt === 'bf16') {
      // σ·x overflows float32 for |x| above ~2^111: round those at a power-of-two offset
      // (exact) and scale back.
      const big = tf.greater(mag, tf.scalar(2 ** 100, 'float32'))
      const down = tf.scalar(2 ** -64, 'float32')
      const up = tf.scalar(2 ** 64, 'float32')
      const safe = tf.where(big, tf.mul(mag, down), mag)
      const r = roundSignificand(safe, info.bits)
      rounded = tf.where(big, tf.mul(r, up), r)
    } else {
      rounded = roundSignificand(mag, info.bits)
    }
    // sign(x) · rounded, with +0 for x = 0 (a where, not a multiply, so no -0 appears).
    const zero = tf.zerosLike(xf)
    const signed = tf.where(tf.less(xf, zero), tf.neg(rounded), rounded)
    return tf.where(tf.equal(xf, zero), zero, signed)
  })
}

// --- The quantizer ---------------------------------------------------------------------------

/** w `[out, in]` viewed as groups `[numRowsOfGroups, groupsPerRow, groupLen]`. */
function groupedView(w: tf.Tensor2D, g: GroupSize): {grouped: tf.Tensor3D; groupsPerRow: number; rows: number} {
  const [rows, cols] = w.shape
  const layout = groupLayout([rows, cols], g)
  if (g === 'tensor') return {grouped: tf.reshape(w, [1, 1, rows * cols]), groupsPerRow: 1, rows: 1}
  return {grouped: tf.reshape(w, [rows, layout.groupsPerRow, layout.groupLen]), groupsPerRow: layout.groupsPerRow, rows}
}

/**
 * Quantize a `[out, in]` weight to trits and per-group scales (see the file header).
 * Returns q: float32 values in {-1, 0, +1}, shape `[out, in]`; scales: `[out, groupsPerRow]`
 * (`'tensor'`: `[1, 1]`) holding exactly the stored values (representable in `scaleFormat`);
 * deq = q · scale, broadcast per group, `[out, in]`. The caller owns (and disposes) all three.
 */
export function ternarize(w: tf.Tensor2D, cfg: TernaryConfig): {q: tf.Tensor2D; scales: tf.Tensor2D; deq: tf.Tensor2D} {
  if (w.rank !== 2) throw new InputError(`ternary: weight must be 2-D [out, in], got shape [${w.shape.join(', ')}]`)
  return tf.tidy(() => {
    const [out, inDim] = w.shape
    const wf = w.dtype === 'float32' ? w : tf.cast(w, 'float32')
    const {grouped, groupsPerRow, rows} = groupedView(wf as tf.Tensor2D, cfg.groupSize)
    const eps = tf.scalar(TERNARY_EPS, 'float32')
    const absW = tf.abs(grouped) // (R, G, L)
    const s = tf.maximum(tf.mean(absW, 2, true), eps) // (R, G, 1)
    // |w| > s/2 tested as step(|w| − s/2) (step(x) = 1 for x > 0, else 0): exact, since IEEE
    // subtraction gives 0 only for equal operands. Arithmetic, not tf.greater/tf.sign: on wasm
    // comparisons and sign run ~10× slower than arithmetic, ~100× when broadcasting.
    const half = tf.mul(s, tf.scalar(0.5, 'float32')) // (R, G, 1)
    const nonzero = tf.step(tf.sub(absW, half)) // (R, G, L) 0/1
    // q = [w > s/2] − [−w > s/2]: w − s/2 and −w − s/2 are |w| − s/2 exactly on their side of 0,
    // and 0 − 0 = +0, so zeros are +0 (bytes match the host rebuild).
    const q = tf.sub(tf.mul(nonzero, tf.step(grouped)), tf.mul(nonzero, tf.step(tf.neg(grouped))))
    let d: tf.Tensor = s
    if (cfg.zeroCorrection) {
      const count = tf.sum(nonzero, 2, true) // (R, G, 1)
      const sumAbs = tf.sum(tf.mul(absW, nonzero), 2, true)
      const ls = tf.div(sumAbs, tf.maximum(count, tf.scalar(1, 'float32')))
      d = tf.where(tf.greater(count, tf.scalar(0, 'float32')), ls, s)
    }
    const dStored = roundToScaleFormat(tf.maximum(d, eps), cfg.scaleFormat) // (R, G, 1)
    const deq = tf.mul(q, dStored)
    return {
      q: tf.reshape(q, [out, inDim]) as tf.Tensor2D,
      scales: tf.reshape(dStored, [rows, groupsPerRow]) as tf.Tensor2D,
      deq: tf.reshape(deq, [out, inDim]) as tf.Tensor2D,
    }
  })
}

/**
 * The weight the model multiplies by in training: forward value = ternarize(w, cfg).deq, gradient
 * with respect to w = the incoming gradient unchanged (straight-through estimator). Leaks no
 * tensors; the caller owns the result.
 */
export function ternaryWeightSTE(w: tf.Tensor2D, cfg: TernaryConfig): tf.Tensor2D {
  const ste = tf.customGrad((...inputs: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const {q, scales, deq} = ternarize(inputs[0] as tf.Tensor2D, cfg)
    q.dispose()
    scales.dispose()
    // dy.clone(), never dy itself: the engine disposes gradients it hands out, and returning
    // the same tensor object would alias (and double count) it.
    return {value: deq as tf.Tensor, gradFunc: (dy: tf.Tensor) => dy.clone()}
  })
  return ste(w) as tf.Tensor2D
}
