/**
 * The trit codecs by name, and `auto`: the smallest encoding of a given tensor.
 *
 * | codec   | bits/trit                  | notes                                       |
 * | ------- | -------------------------- | ------------------------------------------- |
 * | base3   | 1.6                        | 5 trits/byte; what published entries ship   |
 * | 2bit    | 2                          | 4 trits/byte; fastest, needs outer compress |
 * | bitmask | 1 + non-zero fraction      | mask plane + sign plane                     |
 * | entropy | ≈ empirical entropy        | rANS, order-0 or zero-window context        |
 */
import {InputError} from '../../errors.js'
import {twoBit} from './2bit.js'
import {base3} from './base3.js'
import {bitmask} from './bitmask.js'
import {entropy} from './entropy.js'
import {type TritCodec, type TritCounts, type TritDecodeOptions, countTrits} from './types.js'

export {type TritCodec, type TritCounts, type TritDecodeOptions, DEFAULT_MAX_TRITS, countTrits, tritEntropyBits} from './types.js'

export const TRIT_CODECS = {base3, '2bit': twoBit, bitmask, entropy} as const satisfies Record<string, TritCodec>
export type TritCodecName = keyof typeof TRIT_CODECS
export const TRIT_CODEC_NAMES = Object.keys(TRIT_CODECS) as TritCodecName[]

export function isTritCodecName(name: string): name is TritCodecName {
  return Object.hasOwn(TRIT_CODECS, name)
}

function codec(name: string): TritCodec {
  if (!isTritCodecName(name)) throw new InputError(`unknown trit codec "${name}" (expected one of ${TRIT_CODEC_NAMES.join(', ')}, auto)`)
  return TRIT_CODECS[name]
}

export function encodeTrits(name: TritCodecName, trits: Int8Array): Uint8Array {
  return codec(name).encode(trits)
}

/** n trits from `bytes`; n is checked against `opts.maxTrits` (default 2^28) before allocating. */
export function decodeTrits(name: TritCodecName, bytes: Uint8Array, n: number, opts: TritDecodeOptions = {}): Int8Array {
  return codec(name).decode(bytes, n, opts)
}

/** Size of each codec's encoding of a tensor with these counts (exact, entropy estimated). */
export function tritCodecSizes(n: number, counts: TritCounts): Record<TritCodecName, number> {
  return {
    base3: base3.sizeBytes(n),
    '2bit': twoBit.sizeBytes(n),
    bitmask: bitmask.sizeBytes(n, counts),
    entropy: entropy.sizeBytes(n, counts),
  }
}

/**
 * `auto`: the codec whose encoding of these trits is smallest, with that encoding. The fixed-rate
 * codecs are sized exactly; the entropy coder is run (its size depends on the context model).
 * Ties go to the simpler codec (base3, then 2bit, bitmask, entropy).
 */
export function bestTritCodec(trits: Int8Array): {codec: TritCodecName; bytes: Uint8Array} {
  const counts = countTrits(trits)
  const sizes = tritCodecSizes(trits.length, counts)
  let best: TritCodecName = 'base3'
  for (const name of ['2bit', 'bitmask'] as const) if (sizes[name] < sizes[best]) best = name
  const coded = entropy.encode(trits)
  if (coded.length < sizes[best]) return {codec: 'entropy', bytes: coded}
  return {codec: best, bytes: TRIT_CODECS[best].encode(trits)}
}
