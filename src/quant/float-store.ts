/**
 * Float tensors stored at reduced precision, simulated in training.
 *
 * Non-ternary tensors (embeddings, gains, mixes) are stored in an artifact as fp16, bf16 or fp8
 * (or kept fp32). When the training forward pass uses exactly the stored values, the model
 * rebuilt from the artifact computes the same logits as the model training evaluated: the
 * roundtrip gap is 0 for every tensor, not only the ternary ones. `floatStoreSTE` is that
 * forward value with a straight-through gradient, the float counterpart of `ternaryWeightSTE`.
 *
 * Rounding is IEEE round-to-nearest-even to the format, on device (no readback), for every
 * finite float32 value:
 *   fp16  |x| ≥ 2^-14: 11 significant bits (Veltkamp split, see quant/ternary.ts), magnitudes
 *         past 65504 saturate to ±65504; |x| < 2^-14: the subnormal grid, multiples of 2^-24
 *         (round(x·2^24)/2^24 — exact in float32, and tf.round is half-to-even);
 *   bf16  8 significant bits; float32 subnormals (|x| < 2^-126) flush to 0, magnitudes past
 *         bf16's largest finite value saturate.
 *   e4m3, e5m2  fp8 with one fp16 scale per row, so each row uses the format's whole range (an
 *         fp8 value alone reaches only 2^-9..448 for e4m3): the tensor is viewed as a matrix
 *         [prod(shape[:-1]), shape[-1]] (a 1-D tensor is one row: one scale per tensor), and
 *         row r stores s_r = fp16(max(max|w_r| / fmax, 2^-14)) (fmax = 448 or 57344; fp16
 *         rounding clamped to [2^-14, 65504]) and codes fp8(w / s_r) (float32 division, RNE,
 *         saturating; `roundToFp8` in quant/ternary.ts); the value is fp8 · s_r, exact in
 *         float32. This is computed in the same order as the host encoder the packer and the
 *         artifact reader use (`quantizeFp8PerRow` / `dequantizeFp8PerRow`,
 *         src/quant/float-formats.ts), so the values are the same bit for bit.
 * Zero stays +0 and signs are kept. Bits per weight as stored: 16 (fp16, bf16), 32 (fp32),
 * 8 + 16 / row length (e4m3, e5m2).
 */
import * as tf from '@tensorflow/tfjs-core'

import {InputError} from '../errors.js'
import {FLOAT_STORE_FORMATS, FP8_INFO, type FloatStoreFormat, type Fp8Format} from './float-formats.js'
import {roundSignificand, roundToFp8, roundToScaleFormat} from './ternary.js'

export {FLOAT_STORE_FORMATS, type FloatStoreFormat}

function isFp8(fmt: FloatStoreFormat): fmt is Fp8Format {
  return fmt === 'e4m3' || fmt === 'e5m2'
}

/** Row length of a tensor's matrix view (see the module doc): its last dimension, 1 for a scalar. */
function rowLength(shape: readonly number[]): number {
  return shape.length === 0 ? 1 : shape[shape.length - 1]
}

/** x stored as fp8 with one fp16 scale per row (see the module doc); a new tensor. */
function roundToFp8PerRow(x: tf.Tensor, fmt: Fp8Format): tf.Tensor {
  if (x.size === 0) return x.clone()
  return tf.tidy(() => {
    const cols = rowLength(x.shape)
    const m = tf.reshape(x.dtype === 'float32' ? x : tf.cast(x, 'float32'), [x.size / cols, cols])
    const amax = tf.max(tf.abs(m), 1, true) // (rows, 1)
    const s = roundToScaleFormat(tf.maximum(tf.div(amax, FP8_INFO[fmt].maxFinite), 2 ** -14), 'fp16') // (rows, 1)
    return tf.reshape(tf.mul(roundToFp8(tf.div(m, s), fmt), s), x.shape)
  })
}

const FP16_MIN_NORMAL = 2 ** -14
const FP16_MAX = 65504
const BF16_MIN_NORMAL = 2 ** -126
const BF16_MAX = (2 - 2 ** -7) * 2 ** 127

/** x rounded to the nearest value of `fmt` (see the module doc); a new tensor. */
export function roundToFloatFormat(x: tf.Tensor, fmt: FloatStoreFormat): tf.Tensor {
  if (fmt === 'fp32') return x.clone()
  if (isFp8(fmt)) return roundToFp8PerRow(x, fmt)
  if (fmt !== 'fp16' && fmt !== 'bf16') throw new InputError(`unknown float storage format '${String(fmt)}' (${FLOAT_STORE_FORMATS.join(', ')})`)
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
 * kernel launches per forward pass instead of ~450. fp8 rounds per row: tensors of the same row
 * length are stacked into one matrix, one chain per row length (rows are independent, so again
 * every value is the one of its own tensor).
 */
export function floatStoreSTEMany(ws: readonly tf.Tensor[], fmt: FloatStoreFormat): tf.Tensor[] {
  if (fmt === 'fp32') return [...ws]
  if (isFp8(fmt)) return floatStoreSTEByRows(ws, fmt)
  // a 1-way split has no working gradient in tfjs
  if (ws.length <= 1) return ws.map((w) => floatStoreSTE(w, fmt))
  const stored = floatStoreSTE(tf.concat(ws.map((w) => tf.reshape(w, [w.size]))), fmt)
  return tf.split(stored, ws.map((w) => w.size)).map((part, i) => tf.reshape(part, ws[i].shape))
}

/** `floatStoreSTEMany` for the per-row fp8 formats: one chain per row length. */
function floatStoreSTEByRows(ws: readonly tf.Tensor[], fmt: Fp8Format): tf.Tensor[] {
  const out: tf.Tensor[] = [...ws]
  const byCols = new Map<number, number[]>()
  ws.forEach((w, i) => {
    if (w.size === 0) return // nothing stored
    const cols = rowLength(w.shape)
    byCols.set(cols, [...(byCols.get(cols) ?? []), i])
  })
  for (const [cols, idx] of byCols) {
    // a 1-way split has no working gradient in tfjs
    if (idx.length === 1) {
      out[idx[0]] = floatStoreSTE(ws[idx[0]], fmt)
      continue
    }
    const rows = idx.map((i) => ws[i].size / cols)
    const stored = floatStoreSTE(tf.concat(idx.map((i, k) => tf.reshape(ws[i], [rows[k], cols]))), fmt) // (Σ rows, cols)
    tf.split(stored, rows).forEach((part, k) => (out[idx[k]] = tf.reshape(part, ws[idx[k]].shape)))
  }
  return out
}
