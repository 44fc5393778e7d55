/**
 * `2bit`: four trits per byte, 2 bits/trit; fastest to unpack, wasteful without outer compression.
 *
 * Layout: trit i of each group of four sits in bits 2i..2i+1 (LSB first):
 *   0 → 00, +1 → 01, −1 → 10; 11 is invalid and rejected.
 * The last byte holds the remaining 1–3 trits, its unused bit pairs 00. Size: ceil(n / 4) bytes.
 * Decoding reads a 256-entry table of four trits per byte value.
 */
import {type TritCodec, type TritDecodeOptions, checkCount, checkLength, corrupt} from './types.js'
import {InputError} from '../../errors.js'

const NAME = '2bit'

/** CODE[t + 1] = the two bits of trit t. */
const CODE = [0b10, 0b00, 0b01]
/** TABLE[4·b + i] = trit i of byte b; VALID[b] = 0 if b has a 11 pair. */
const TABLE = new Int8Array(256 * 4)
const VALID = new Uint8Array(256)
for (let b = 0; b < 256; b++) {
  let ok = 1
  for (let i = 0; i < 4; i++) {
    const p = (b >> (2 * i)) & 3
    if (p === 3) ok = 0
    TABLE[4 * b + i] = p === 1 ? 1 : p === 2 ? -1 : 0
  }
  VALID[b] = ok
}

function code(trits: Int8Array, i: number): number {
  const c = CODE[trits[i] + 1]
  if (c === undefined) throw new InputError(`trit ${i} is ${trits[i]}, expected -1, 0 or 1`)
  return c
}

export function encode(trits: Int8Array): Uint8Array {
  const n = trits.length
  const out = new Uint8Array(Math.ceil(n / 4))
  for (let i = 0; i < n; i++) out[i >> 2] |= code(trits, i) << (2 * (i & 3))
  return out
}

export function decode(bytes: Uint8Array, n: number, opts: TritDecodeOptions = {}): Int8Array {
  checkCount(n, opts)
  checkLength(NAME, bytes, Math.ceil(n / 4))
  const out = new Int8Array(n)
  const full = n >> 2
  for (let k = 0, i = 0; k < full; k++, i += 4) {
    const b = bytes[k]
    if (VALID[b] === 0) throw corrupt(NAME, `byte ${k} has the invalid code 11`)
    const j = 4 * b
    out[i] = TABLE[j]
    out[i + 1] = TABLE[j + 1]
    out[i + 2] = TABLE[j + 2]
    out[i + 3] = TABLE[j + 3]
  }
  const rest = n - 4 * full
  if (rest > 0) {
    const b = bytes[full]
    if (VALID[b] === 0) throw corrupt(NAME, `byte ${full} has the invalid code 11`)
    if (b >> (2 * rest) !== 0) throw corrupt(NAME, `last byte ${b} has bits set beyond trit ${n - 1}`)
    for (let i = 0; i < rest; i++) out[4 * full + i] = TABLE[4 * b + i]
  }
  return out
}

export function sizeBytes(n: number): number {
  return Math.ceil(n / 4)
}

export const twoBit: TritCodec = {name: NAME, summary: '4 trits/byte, 2 bits LSB-first (0→00 +1→01 −1→10), 2 bits/trit', encode, decode, sizeBytes}
