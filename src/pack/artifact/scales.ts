/**
 * Scales of ternary tensors: which group each element belongs to, how scales are stored, and
 * dequantization (q × d, exactly).
 */
import {InputError} from '../../errors.js'
import {bf16BitsToF32, decodeBf16, decodeF16, decodeScalesE4m3, encodeBf16, encodeF16, encodeScalesE4m3, f16BitsToF32} from '../../quant/float-formats.js'
import {dequantizeTernary as hostDequantize, type GroupSize, type ScaleFormat} from '../../quant/ternary-host.js'
import {elementCount, f32le, matrixOf, readF32le, readU16le, u16le} from './format.js'

/**
 * How many scales a ternary tensor has and which one element i uses. Same layout as the
 * quantizer (src/quant/ternary-host.ts `groupLayout`, which takes 2-D shapes of positive size only): groups of `groupSize` consecutive elements of one row;
 * 'row' = one group per row; 'tensor' = one group. The group size must divide the row length.
 */
export function scaleGroups(shape: number[], groupSize: GroupSize): {numGroups: number; groupLen: number; groupsPerRow: number} {
  const [rows, cols] = matrixOf(shape)
  if (groupSize === 'tensor') return {numGroups: 1, groupLen: rows * cols, groupsPerRow: 1}
  if (groupSize === 'row') return {numGroups: rows, groupLen: cols, groupsPerRow: 1}
  if (!Number.isInteger(groupSize) || groupSize < 1) throw new InputError(`group size must be a positive integer, 'row' or 'tensor', got ${String(groupSize)}`)
  if (cols % groupSize !== 0) throw new InputError(`group size ${groupSize} does not divide the row length ${cols} of shape [${shape.join(', ')}]`)
  return {numGroups: rows * (cols / groupSize), groupLen: groupSize, groupsPerRow: cols / groupSize}
}

/**
 * out[i] = trits[i] × scale of i's group, exactly (q ∈ {−1, 0, +1}: no rounding; 0 stays +0):
 * the quantizer's host-side `dequantizeTernary` (src/quant/ternary-host.ts) on the tensor's
 * matrix view, plus the manifest-level cases it does not take (N-D shapes, empty tensors).
 */
export function dequantizeTernary(trits: Int8Array, scales: Float32Array, shape: number[], groupSize: GroupSize): Float32Array {
  const {numGroups} = scaleGroups(shape, groupSize)
  const n = elementCount(shape)
  if (trits.length !== n) throw new InputError(`${trits.length} trits do not fill shape [${shape.join(', ')}]`)
  if (scales.length !== numGroups) throw new InputError(`${scales.length} scales given, shape [${shape.join(', ')}] in groups of ${String(groupSize)} needs ${numGroups}`)
  if (n === 0) return new Float32Array(0)
  return hostDequantize(trits, scales, matrixOf(shape), groupSize)
}

/**
 * Scales as stored bits (format.ts); each must be exactly representable in the format (for
 * e4m3: all of the tensor's scales are codes times one power of two).
 */
export function encodeScales(name: string, scales: Float32Array, fmt: ScaleFormat): Uint8Array {
  if (fmt === 'fp32') return f32le(scales)
  if (fmt === 'e4m3') {
    const {base, codes} = encodeScalesE4m3(scales)
    const back = decodeScalesE4m3(base, codes)
    for (let i = 0; i < scales.length; i++) {
      if (back[i] !== scales[i]) throw new InputError(`tensor "${name}": scale ${i} (${scales[i]}) is not exactly an e4m3 code times the tensor's power-of-two base 2^${base - 127}`)
    }
    const out = new Uint8Array(1 + codes.length)
    out[0] = base
    out.set(codes, 1)
    return out
  }
  const bits = fmt === 'fp16' ? encodeF16(scales) : encodeBf16(scales)
  const back = fmt === 'fp16' ? f16BitsToF32 : bf16BitsToF32
  for (let i = 0; i < scales.length; i++) {
    if (back(bits[i]) !== scales[i]) throw new InputError(`tensor "${name}": scale ${i} (${scales[i]}) is not exactly representable in ${fmt}`)
  }
  return u16le(bits)
}

/**
 * Stored scale bits back to float32 (the caller has checked the byte count: for e4m3 at least
 * the base byte). Throws InputError on an e4m3 base of 255 (e8m0's NaN).
 */
export function decodeScales(b: Uint8Array, fmt: ScaleFormat): Float32Array {
  if (fmt === 'fp32') return readF32le(b)
  if (fmt === 'e4m3') {
    if (b.length < 1) throw new InputError('e4m3 scales: no base byte')
    if (b[0] === 255) throw new InputError('e4m3 scales: base byte 255 (e8m0 NaN)')
    return decodeScalesE4m3(b[0], b.subarray(1))
  }
  return fmt === 'fp16' ? decodeF16(readU16le(b)) : decodeBf16(readU16le(b))
}
