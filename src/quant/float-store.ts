/**
 * Float tensors stored at reduced precision, simulated in training.
 *
 * Non-ternary tensors (embeddings, gains, mixes) are stored in an artifact as fp16 or bf16 (or
 * kept fp32). When the training forward pass uses exactly the stored values, the model rebuilt
 * from the artifact computes the same logits as the model training evaluated: the roundtrip
 * gap is 0 for every tensor, not only the ternary ones. `floatStoreSTE` is that forward value
 * with a straight-through gradient, the float counterpart of `ternaryWeightSTE`.
 *
 * Rounding is IEEE round-to-nearest-even to the format, on device (no readback), for every
 * finite float32 value:
 *   fp16  |x| ≥ 2^-14: 11 significant bits (Veltkamp split, see quant/ternary.ts), magnitudes
 *         past 65504 saturate to ±65504; |x| < 2^-14: the subnormal grid, multiples of 2^-24
 *         (round(x·2^24)/2^24 — exact in float32, and tf.round is half-to-even);
 *   bf16  8 significant bits; float32 subnormals (|x| < 2^-126) flush to 0, magnitudes past
 *         bf16's largest finite value saturate.
 * Zero stays +0 and signs are kept. Bits per weight as stored: 16 (fp16, bf16), 32 (fp32).
 */
import * as tf from '@tensorflow/tfjs-core'

import {InputError} from '../errors.js'
import {roundSignificand} from './ternary.js'

export type FloatStoreFormat = 'fp32' | 'fp16' | 'bf16'
export const FLOAT_STORE_FORMATS: readonly FloatStoreFormat[] = ['fp32', 'fp16', 'bf16']

const FP16_MIN_NORMAL = 2 ** -14
const FP16_MAX = 65504
const BF16_MIN_NORMAL = 2 ** -126
const BF16_MAX = (2 - 2 ** -7) * 2 ** 127

/** x rounded to the nearest value of `fmt` (see the module doc); a new tensor. */
export function roundToFloatFormat(x: tf.Tensor, fmt: FloatStoreFormat): tf.Tensor {
  if (fmt === 'fp32') return x.clone()
  if (fmt !== 'fp16' && fmt !== 'bf16') throw new InputError(`unknown float storage format '${String(fmt)}' (fp32, fp16, bf16)`)
  return tf.tidy(() => {
    const xf = x.dtype === 'float32' ? x : tf.cast(x, 'float32')
    const mag = tf.abs(xf)
    let rounded: tf.Tensor
    if (fmt === 'fp16') {
      const normal = tf.minimum(roundSignificand(tf.maximum(mag, FP16_MIN_NORMAL), 11), FP16_MAX)
      const sub = tf.div(tf.round(tf.mul(mag, 2 ** 24)), 2 ** 24)
      rounded = tf.where(tf.less(mag, FP16_MIN_NORMAL), sub, normal)
    } else {
      // σ·x overflows float32 above ~2^111: round those at a power-of-two offset (exact).
      const big = tf.greater(mag, 2 ** 100)
      const safe = tf.where(big, tf.mul(mag, 2 ** -64), tf.maximum(mag, BF16_MIN_NORMAL))
      const r = roundSignificand(safe, 8)
      rounded = tf.minimum(tf.where(big, tf.mul(r, 2 ** 64), r), BF16_MAX)
      rounded = tf.where(tf.less(mag, BF16_MIN_NORMAL), tf.zerosLike(mag), rounded)
    }
    const zero = tf.zerosLike(xf)
    const signed = tf.where(tf.less(xf, zero), tf.neg(rounded), rounded)
    return tf.where(tf.equal(rounded, zero), zero, signed)
  })
}

/** Forward value: w as stored in `fmt`; gradient: straight through. */
export function floatStoreSTE<T extends tf.Tensor>(w: T, fmt: FloatStoreFormat): T {
  if (fmt === 'fp32') return w
  const ste = tf.customGrad((...inputs: Array<tf.Tensor | tf.GradSaveFunc>) => ({
    value: roundToFloatFormat(inputs[0] as tf.Tensor, fmt),
    // dy.clone(): returning dy itself would alias the engine's gradient tensor
    gradFunc: (dy: tf.Tensor) => dy.clone(),
  }))
  return ste(w) as T
}

/**
 * `floatStoreSTE` of several tensors as one: their values are concatenated, rounded by one
 * chain of ops and split back. Rounding is element-wise, so every value is the same as
 * `floatStoreSTE` of its own tensor gives; a model's ~20 small float tensors then cost ~25
 * kernel launches per forward pass instead of ~450.
 */
export function floatStoreSTEMany(ws: readonly tf.Tensor[], fmt: FloatStoreFormat): tf.Tensor[] {
  if (fmt === 'fp32') return [...ws]
  // a 1-way split has no working gradient in tfjs
  if (ws.length <= 1) return ws.map((w) => floatStoreSTE(w, fmt))
  const stored = floatStoreSTE(tf.concat(ws.map((w) => tf.reshape(w, [w.size]))), fmt)
  return tf.split(stored, ws.map((w) => w.size)).map((part, i) => tf.reshape(part, ws[i].shape))
}
