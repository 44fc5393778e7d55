/**
 * `base3`: five trits per byte, 1.6 bits/trit (log2 3 = 1.585 is the limit for uniform trits).
 *
 * Layout: trits are taken in groups of five; digit d_i = trit_i + 1 ∈ {0,1,2};
 *   byte = d_0 + 3·d_1 + 9·d_2 + 27·d_3 + 81·d_4   (the FIRST trit is the least significant digit)
 * so every byte is 0..242. The last byte holds the remaining 1–4 trits (its unused high digits
 * are 0, i.e. the byte is < 3^r). Size: ceil(n / 5) bytes, exactly.
 * Decoding reads a 243-entry table of five trits per byte value; bytes ≥ 243, or a last byte
 * with digits beyond the remaining trits, are rejected.
 */
import {type TritCodec, type TritDecodeOptions, checkCount, checkLength, corrupt} from './types.js'
import {InputError} from '../../errors.js'

const NAME = 'base3'

/** TABLE[5·b + i] = trit i of byte b, for b in 0..242. */
const TABLE = (() => {
  const t = new Int8Array(243 * 5)
  for (let b = 0; b < 243; b++) {
    let v = b
    for (let i = 0; i < 5; i++) {
      t[5 * b + i] = (v % 3) - 1
      v = Math.floor(v / 3)
    }
  }
  return t
})()

function digit(trits: Int8Array, i: number): number {
  const d = trits[i] + 1
  if (d < 0 || d > 2) throw new InputError(`trit ${i} is ${trits[i]}, expected -1, 0 or 1`)
  return d
}

export function encode(trits: Int8Array): Uint8Array {
  const n = trits.length
  const out = new Uint8Array(Math.ceil(n / 5))
  const full = Math.floor(n / 5)
  for (let k = 0, i = 0; k < full; k++, i += 5) {
    out[k] =
      digit(trits, i) + 3 * digit(trits, i + 1) + 9 * digit(trits, i + 2) + 27 * digit(trits, i + 3) + 81 * digit(trits, i + 4)
  }
  if (full * 5 < n) {
    let b = 0
    for (let i = n - 1; i >= full * 5; i--) b = 3 * b + digit(trits, i)
    out[full] = b
  }
  return out
}

export function decode(bytes: Uint8Array, n: number, opts: TritDecodeOptions = {}): Int8Array {
  checkCount(n, opts)
  checkLength(NAME, bytes, Math.ceil(n / 5))
  const out = new Int8Array(n)
  const full = Math.floor(n / 5)
  for (let k = 0, i = 0; k < full; k++, i += 5) {
    const b = bytes[k]
    if (b >= 243) throw corrupt(NAME, `byte ${k} is ${b} (> 242)`)
    const j = 5 * b
    out[i] = TABLE[j]
    out[i + 1] = TABLE[j + 1]
    out[i + 2] = TABLE[j + 2]
    out[i + 3] = TABLE[j + 3]
    out[i + 4] = TABLE[j + 4]
  }
  const rest = n - full * 5
  if (rest > 0) {
    const b = bytes[full]
    if (b >= 3 ** rest) throw corrupt(NAME, `last byte is ${b}, expected < ${3 ** rest} for ${rest} trits`)
    for (let i = 0; i < rest; i++) out[full * 5 + i] = TABLE[5 * b + i]
  }
  return out
}

export function sizeBytes(n: number): number {
  return Math.ceil(n / 5)
}

export const base3: TritCodec = {name: NAME, summary: '5 trits/byte, Σ(t+1)·3^i, 1.6 bits/trit', encode, decode, sizeBytes}
