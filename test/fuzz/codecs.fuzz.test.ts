/**
 * Fuzzing the trit decoders on their own: random bytes with random trit counts, mutated valid
 * streams, and the counts a hostile manifest can claim. Each decode returns exactly n valid trits
 * with n ≤ the maxTrits it was given, or refuses with one InputError line; the fixed-rate codecs
 * must also refuse any byte count other than the one n needs.
 */
import fc from 'fast-check'
import {describe, expect, it} from 'vitest'

import {TRIT_CODEC_NAMES, type TritCodecName, decodeTrits, encodeTrits} from '../../src/pack/codecs/index.js'
import {randomTrits, rowTrits} from '../pack/trits.js'
import {decodesOrRefuses, mutate, mutationsArb, runs} from './helpers.js'

const MAX_TRITS = 1 << 14

function decodeBounded(codec: TritCodecName, bytes: Uint8Array, n: number, maxTrits = MAX_TRITS): Int8Array | undefined {
  const out = decodesOrRefuses(`codec ${codec}`, () => decodeTrits(codec, bytes, n, {maxTrits}))
  if (out === undefined) return undefined
  expect(out.length).toBe(n)
  expect(n).toBeLessThanOrEqual(maxTrits)
  for (let i = 0; i < out.length; i++) if (out[i] < -1 || out[i] > 1) throw new Error(`${codec}: trit ${i} is ${out[i]}`)
  // What the codecs can represent per payload byte: base3 exactly 5, 2bit exactly 4, bitmask ≤ 8.
  if (codec === 'base3') expect(bytes.length).toBe(Math.ceil(n / 5))
  if (codec === '2bit') expect(bytes.length).toBe(Math.ceil(n / 4))
  if (codec === 'bitmask') expect(bytes.length).toBeGreaterThanOrEqual(Math.ceil(n / 8))
  return out
}

/** Valid encodings of varied tensors: i.i.d., all zero, row-varying zero rates (entropy's context model). */
const samples: Array<{trits: Int8Array; bytes: Record<TritCodecName, Uint8Array>}> = [
  randomTrits(0, 0.3, 1),
  randomTrits(7, 0.3, 2),
  randomTrits(300, 0.3, 3),
  new Int8Array(500),
  randomTrits(400, 0.95, 4),
  rowTrits(40, 128, 0.05, 0.9, 5),
].map((trits) => ({trits, bytes: Object.fromEntries(TRIT_CODEC_NAMES.map((c) => [c, encodeTrits(c, trits)])) as Record<TritCodecName, Uint8Array>}))

describe('fuzz: trit codecs', () => {
  for (const codec of TRIT_CODEC_NAMES) {
    it(`${codec}: random bytes, random n`, () => {
      fc.assert(
        fc.property(fc.uint8Array({maxLength: 400}), fc.oneof(fc.integer({min: 0, max: 3000}), fc.constantFrom(-1, 0.5, 2 ** 31, 2 ** 53, Infinity, NaN)), (bytes, n) => {
          decodeBounded(codec, bytes, n)
        }),
        {numRuns: runs(500)},
      )
    })

    it(`${codec}: mutated valid streams, n as encoded or nearby`, () => {
      fc.assert(
        fc.property(fc.nat({max: samples.length - 1}), mutationsArb, fc.integer({min: -3, max: 3}), (i, muts, dn) => {
          const {trits, bytes} = samples[i]
          decodeBounded(codec, mutate(bytes[codec], muts), Math.max(0, trits.length + dn))
        }),
        {numRuns: runs(500)},
      )
    })

    it(`${codec}: a count over maxTrits is refused before decoding, whatever the bytes`, () => {
      fc.assert(
        fc.property(fc.nat({max: samples.length - 1}), fc.integer({min: 0, max: 64}), (i, max) => {
          const {trits, bytes} = samples[i]
          const out = decodeBounded(codec, bytes[codec], trits.length, max)
          if (trits.length <= max) expect(out).toEqual(trits)
          else expect(out).toBeUndefined()
        }),
        {numRuns: runs(100)},
      )
    })
  }

  it('entropy: a degenerate context (one symbol of frequency 4096) costs no bytes, so only maxTrits stops a huge n', () => {
    // model 0; f(−1) = 0, f(0) = 4096: every trit is 0 and no byte is ever read; state = L.
    const allZero = Uint8Array.of(0, 0, 0, 0x00, 0x10, 0, 0, 0x80, 0)
    expect(decodeTrits('entropy', allZero, 1000)).toEqual(new Int8Array(1000))
    fc.assert(
      fc.property(fc.oneof(fc.integer({min: MAX_TRITS + 1, max: 2 ** 40}), fc.constantFrom(2 ** 31, 2 ** 33)), (n) => {
        const t0 = performance.now()
        expect(decodeBounded('entropy', allZero, n)).toBeUndefined()
        expect(performance.now() - t0).toBeLessThan(50)
      }),
      {numRuns: runs(50)},
    )
    expect(() => decodeTrits('entropy', allZero, 2 ** 31)).toThrow('trit count 2147483648 is over the limit of 268435456')
  })
})
