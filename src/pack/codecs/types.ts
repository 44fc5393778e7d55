/**
 * What every trit codec shares. A trit tensor is an `Int8Array` of −1/0/+1 in row-major order;
 * its length n is not stored by the codecs (the artifact manifest knows the shape), so
 * `decode(bytes, n)` is told n and rejects bytes that do not hold exactly n trits.
 *
 * n comes from a file (the manifest's shape), so every decoder checks it BEFORE allocating: against
 * `maxTrits` (default DEFAULT_MAX_TRITS, 2^28), and against what the bytes can hold where the codec
 * bounds it — base3 exactly ceil(n/5) bytes, 2bit ceil(n/4), bitmask at least ceil(n/8). The
 * entropy coder has no such bound (a context whose one symbol has frequency 4096/4096 costs zero
 * bytes per trit: an all-zero tensor of any size is a few header bytes), so for it the cap is all
 * there is.
 */
import {InputError} from '../../errors.js'

export interface TritCounts {
  /** Number of −1, 0 and +1 trits. */
  neg: number
  zero: number
  pos: number
}

/** Largest trit count a decoder accepts unless told otherwise: 2^28 (256 MiB of Int8Array). */
export const DEFAULT_MAX_TRITS = 2 ** 28

export interface TritDecodeOptions {
  /** Refuse n above this before allocating (default DEFAULT_MAX_TRITS). */
  maxTrits?: number
}

export interface TritCodec {
  readonly name: string
  /** Exact layout and rate, one line (for `golf inspect` and reports). */
  readonly summary: string
  encode(trits: Int8Array): Uint8Array
  decode(bytes: Uint8Array, n: number, opts?: TritDecodeOptions): Int8Array
  /**
   * Size in bytes of `encode` for n trits: exact for fixed-rate codecs (counts unused), a tight
   * estimate from the counts for the entropy coder (what a budget predictor needs).
   */
  sizeBytes(n: number, counts?: TritCounts): number
}

/** Counts of −1/0/+1; throws if any value is not a trit (so encoders can trust their input). */
export function countTrits(trits: Int8Array): TritCounts {
  // Branch-free: random trits defeat the branch predictor. sum = pos − neg, nonzero = pos + neg.
  let sum = 0
  let nonzero = 0
  let bad = 0
  for (let i = 0; i < trits.length; i++) {
    const t = trits[i]
    const d = t + 1
    sum += t
    nonzero += t & 1
    bad |= (d & ~3) | (d & (d >> 1)) // d ∉ {0, 1, 2}
  }
  if (bad !== 0) {
    const i = trits.findIndex((t) => t < -1 || t > 1)
    throw new InputError(`trit ${i} is ${trits[i]}, expected -1, 0 or 1`)
  }
  return {neg: (nonzero - sum) / 2, zero: trits.length - nonzero, pos: (nonzero + sum) / 2}
}

/** Empirical order-0 entropy in bits per trit (0 for an empty tensor). */
export function tritEntropyBits(counts: TritCounts): number {
  const n = counts.neg + counts.zero + counts.pos
  if (n === 0) return 0
  let h = 0
  for (const c of [counts.neg, counts.zero, counts.pos]) if (c > 0) h -= (c / n) * Math.log2(c / n)
  return h
}

/** The error every decoder throws for bytes that cannot be n trits of its format. */
export function corrupt(codec: string, what: string): InputError {
  return new InputError(`${codec} trit stream is corrupt: ${what}`)
}

export function checkLength(codec: string, bytes: Uint8Array, expected: number): void {
  if (bytes.length !== expected) throw corrupt(codec, `${bytes.length} bytes, expected ${expected}`)
}

export function checkCount(n: number, opts: TritDecodeOptions = {}): void {
  if (!Number.isSafeInteger(n) || n < 0) throw new InputError(`trit count ${n} is not a non-negative integer`)
  const max = opts.maxTrits ?? DEFAULT_MAX_TRITS
  if (n > max) throw new InputError(`trit count ${n} is over the limit of ${max}`)
}
