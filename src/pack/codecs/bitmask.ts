/**
 * `bitmask`: a non-zero mask then the signs; (1 + p) bits/trit for a non-zero fraction p
 * (1.67 at 33% zeros). Its two planes compress well under an outer compressor when zeros cluster.
 *
 * Layout:
 *   mask:  n bits, bit i (LSB first within each byte) = 1 if trit i ≠ 0; ceil(n / 8) bytes
 *   signs: one bit per non-zero trit in order, 1 = negative; ceil(nnz / 8) bytes
 * Unused high bits of each plane's last byte are 0. Size: ceil(n/8) + ceil(nnz/8) bytes.
 */
import {type TritCodec, type TritDecodeOptions, type TritCounts, checkCount, corrupt} from './types.js'
import {InputError} from '../../errors.js'

const NAME = 'bitmask'

/** POPCOUNT[b] = number of set bits of byte b. */
const POPCOUNT = new Uint8Array(256)
for (let b = 1; b < 256; b++) POPCOUNT[b] = (b & 1) + POPCOUNT[b >> 1]

export function encode(trits: Int8Array): Uint8Array {
  const n = trits.length
  let nnz = 0
  for (let i = 0; i < n; i++) {
    const t = trits[i]
    if (t === 1 || t === -1) nnz++
    else if (t !== 0) throw new InputError(`trit ${i} is ${t}, expected -1, 0 or 1`)
  }
  const maskBytes = Math.ceil(n / 8)
  const out = new Uint8Array(maskBytes + Math.ceil(nnz / 8))
  for (let i = 0, s = 0; i < n; i++) {
    const t = trits[i]
    if (t === 0) continue
    out[i >> 3] |= 1 << (i & 7)
    if (t < 0) out[maskBytes + (s >> 3)] |= 1 << (s & 7)
    s++
  }
  return out
}

export function decode(bytes: Uint8Array, n: number, opts: TritDecodeOptions = {}): Int8Array {
  checkCount(n, opts)
  const maskBytes = Math.ceil(n / 8)
  if (bytes.length < maskBytes) throw corrupt(NAME, `${bytes.length} bytes, expected at least ${maskBytes}`)
  const tail = n & 7
  if (tail !== 0 && bytes[maskBytes - 1] >> tail !== 0) throw corrupt(NAME, 'mask has bits set beyond the last trit')
  let nnz = 0
  for (let k = 0; k < maskBytes; k++) nnz += POPCOUNT[bytes[k]]
  const expected = maskBytes + Math.ceil(nnz / 8)
  if (bytes.length !== expected) throw corrupt(NAME, `${bytes.length} bytes, expected ${expected} for ${nnz} non-zero trits`)
  const signTail = nnz & 7
  if (signTail !== 0 && bytes[expected - 1] >> signTail !== 0) throw corrupt(NAME, 'signs have bits set beyond the last non-zero trit')
  const out = new Int8Array(n)
  for (let k = 0, s = 0; k < maskBytes; k++) {
    let m = bytes[k]
    while (m !== 0) {
      const bit = 31 - Math.clz32(m & -m)
      m &= m - 1
      out[8 * k + bit] = (bytes[maskBytes + (s >> 3)] >> (s & 7)) & 1 ? -1 : 1
      s++
    }
  }
  return out
}

export function sizeBytes(n: number, counts?: TritCounts): number {
  if (counts === undefined) throw new InputError('bitmask size needs the trit counts')
  return Math.ceil(n / 8) + Math.ceil((counts.neg + counts.pos) / 8)
}

export const bitmask: TritCodec = {name: NAME, summary: 'n mask bits (1 = non-zero) then 1 sign bit per non-zero (1 = negative), 1+p bits/trit', encode, decode, sizeBytes}
