/**
 * The ternary quantizer's host side: pure TypeScript, no tfjs, so the packer, the artifact
 * reader and the counted code's rebuild path can use it without loading a backend. The
 * quantizer itself (on device) is `src/quant/ternary.ts`, which re-exports everything here.
 *
 * Layout (shared with the quantizer): a weight is 2-D `[out, in]`; a group is `groupSize`
 * consecutive elements of one row; `'row'` = one group per row; `'tensor'` = one group. Groups
 * never straddle rows, so with `groupLen` elements per group, element i (row-major) uses scale
 * floor(i / groupLen) — for every group size, 'tensor' included.
 */
import {InputError} from '../errors.js'

export type GroupSize = number | 'row' | 'tensor'
export type ScaleFormat = 'fp32' | 'fp16' | 'bf16' | 'e4m3'
export const SCALE_FORMATS: readonly ScaleFormat[] = ['fp32', 'fp16', 'bf16', 'e4m3']

/**
 * Bytes a tensor's `numGroups` scales take as stored: 4 (fp32) or 2 (fp16, bf16) each; e4m3:
 * one byte each plus one e8m0 byte for the tensor's base (src/pack/artifact/format.ts).
 */
export function scaleBytesOf(fmt: ScaleFormat, numGroups: number): number {
  if (fmt === 'e4m3') return 1 + numGroups
  return numGroups * (fmt === 'fp32' ? 4 : 2)
}

/**
 * How a `[out, in]` matrix splits into groups. Throws InputError when `in` is not divisible by a
 * numeric group size or the group size is not a positive integer.
 */
export function groupLayout(
  shape: [number, number],
  g: GroupSize,
): {groupsPerRow: number; groupLen: number; numGroups: number} {
  const [rows, cols] = shape
  if (!Number.isInteger(rows) || !Number.isInteger(cols) || rows < 1 || cols < 1) {
    throw new InputError(`ternary: weight shape must be two positive integers, got [${shape.join(', ')}]`)
  }
  if (g === 'row') return {groupsPerRow: 1, groupLen: cols, numGroups: rows}
  if (g === 'tensor') return {groupsPerRow: 1, groupLen: rows * cols, numGroups: 1}
  if (typeof g !== 'number' || !Number.isInteger(g) || g < 1) {
    throw new InputError(`ternary: group size must be a positive integer, 'row' or 'tensor', got ${String(g)}`)
  }
  if (cols % g !== 0) {
    throw new InputError(
      `ternary: group size ${g} does not divide the input dimension ${cols} of a [${rows}, ${cols}] weight`,
    )
  }
  return {groupsPerRow: cols / g, groupLen: g, numGroups: rows * (cols / g)}
}

/**
 * Counts of a trit array and its empirical entropy in bits PER WEIGHT
 * (−Σ p·log2 p over the three symbols; 0 for an empty array). Throws InputError on a value
 * outside {-1, 0, +1}.
 */
export function ternaryStats(q: Int8Array): {zeros: number; plus: number; minus: number; entropyBits: number} {
  let zeros = 0
  let plus = 0
  let minus = 0
  for (let i = 0; i < q.length; i++) {
    const v = q[i]
    if (v === 0) zeros++
    else if (v === 1) plus++
    else if (v === -1) minus++
    else throw new InputError(`ternary: trit array holds ${v} at index ${i}, expected -1, 0 or 1`)
  }
  const n = q.length
  let entropyBits = 0
  for (const c of [zeros, plus, minus]) {
    if (c > 0) {
      const p = c / n
      entropyBits -= p * Math.log2(p)
    }
  }
  return {zeros, plus, minus, entropyBits}
}

/**
 * Trits read back from device (`await q.data()`, float32 in {-1, 0, +1}) as an Int8Array.
 * Throws InputError on any other value.
 */
export function ternaryQToInt8(q: Float32Array | ArrayLike<number>): Int8Array {
  const out = new Int8Array(q.length)
  for (let i = 0; i < q.length; i++) {
    const v = q[i]
    if (v !== 0 && v !== 1 && v !== -1) throw new InputError(`ternary: q holds ${v} at index ${i}, expected -1, 0 or 1`)
    out[i] = v
  }
  return out
}

/**
 * Rebuild the dequantized weight on the host from stored trits and stored scales:
 * out[r, c] = q[r, c] · scales[group of (r, c)], row-major `[out, in]`. Bit-identical to
 * `ternarize(...).deq` when `scales` holds the stored values (decoded from fp16/bf16 bits):
 * q ∈ {-1, 0, +1}, so the product is exact; it is written without a multiply so 0 stays +0.
 */
export function dequantizeTernary(
  q: Int8Array,
  scales: Float32Array,
  shape: [number, number],
  groupSize: GroupSize,
): Float32Array {
  const [rows, cols] = shape
  const {groupLen, numGroups} = groupLayout(shape, groupSize)
  if (q.length !== rows * cols) {
    throw new InputError(`ternary: ${q.length} trits do not fill a [${rows}, ${cols}] weight`)
  }
  if (scales.length !== numGroups) {
    throw new InputError(`ternary: ${scales.length} scales given, a [${rows}, ${cols}] weight in groups of ${String(groupSize)} needs ${numGroups}`)
  }
  const out = new Float32Array(rows * cols)
  for (let g = 0, i = 0; g < numGroups; g++) {
    const d = scales[g]
    const end = i + groupLen
    for (; i < end; i++) {
      const t = q[i]
      out[i] = t === 0 ? 0 : t > 0 ? d : -d
    }
  }
  return out
}
