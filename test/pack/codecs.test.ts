import fc from 'fast-check'
import {describe, expect, it} from 'vitest'

import {base3} from '../../src/pack/codecs/base3.js'
import {chooseModel} from '../../src/pack/codecs/entropy.js'
import {
  TRIT_CODECS,
  TRIT_CODEC_NAMES,
  bestTritCodec,
  countTrits,
  decodeTrits,
  encodeTrits,
  tritCodecSizes,
  tritEntropyBits,
} from '../../src/pack/codecs/index.js'
import {allSequences, randomTrits, rowTrits, sameTrits} from './trits.js'

const SEQ = Int8Array.of(1, -1, 0, 0, 1, -1, -1, 1, 0)

describe('golden bytes for a fixed sequence', () => {
  it('base3: Σ (t+1)·3^i, first trit least significant', () => {
    // digits 2,0,1,1,2 → 2 + 9 + 27 + 162 = 200; then 0,0,2,1 → 18 + 27 = 45
    expect([...encodeTrits('base3', SEQ)]).toEqual([200, 45])
  })
  it('2bit: LSB-first pairs, 0→00 +1→01 −1→10', () => {
    expect([...encodeTrits('2bit', SEQ)]).toEqual([0b00_00_10_01, 0b01_10_10_01, 0])
  })
  it('bitmask: mask plane then sign plane', () => {
    // non-zero at 0,1,4,5,6,7 → 0b11110011; trit 8 is zero → 0; signs +,−,+,−,−,+ → 0b011010
    expect([...encodeTrits('bitmask', SEQ)]).toEqual([0b11110011, 0, 0b011010])
  })
  it('entropy: order-0 header, state, rANS bytes', () => {
    const bytes = encodeTrits('entropy', SEQ)
    // model 0; f(−1) = 1366 (gets the rounding remainder), f(0) = 1365; f(+1) = 1365 implied
    expect([...bytes.subarray(0, 5)]).toEqual([0, 0x56, 0x05, 0x55, 0x05])
    expect([...bytes]).toEqual([0, 86, 5, 85, 5, 82, 28, 114, 38, 104])
    expect([...decodeTrits('entropy', bytes, SEQ.length)]).toEqual([...SEQ])
  })
})

describe('exhaustive small cases', () => {
  it('every base3 byte 0..242 decodes to its digits and encodes back; 243..255 are rejected', () => {
    for (let b = 0; b < 256; b++) {
      const bytes = Uint8Array.of(b)
      if (b >= 243) {
        // 5 trits: a full byte must be < 243
        expect(() => decodeTrits('base3', bytes, 5)).toThrow(/base3 trit stream is corrupt: byte 0 is \d+ \(> 242\)/)
        continue
      }
      const t = decodeTrits('base3', bytes, 5)
      const digits = [0, 1, 2, 3, 4].map((i) => Math.floor(b / 3 ** i) % 3 - 1)
      expect([...t]).toEqual(digits)
      expect([...encodeTrits('base3', t)]).toEqual([b])
    }
  })
  it('base3 rejects a last byte with digits beyond the remaining trits', () => {
    expect(() => decodeTrits('base3', Uint8Array.of(9), 2)).toThrow('last byte is 9, expected < 9 for 2 trits')
    expect([...decodeTrits('base3', Uint8Array.of(8), 2)]).toEqual([1, 1])
  })
  it('every 2bit byte: valid iff no 11 pair, and then roundtrips', () => {
    let valid = 0
    for (let b = 0; b < 256; b++) {
      const hasEleven = [0, 1, 2, 3].some((i) => ((b >> (2 * i)) & 3) === 3)
      if (hasEleven) {
        expect(() => decodeTrits('2bit', Uint8Array.of(b), 4)).toThrow('2bit trit stream is corrupt: byte 0 has the invalid code 11')
        continue
      }
      valid++
      const t = decodeTrits('2bit', Uint8Array.of(b), 4)
      expect([...encodeTrits('2bit', t)]).toEqual([b])
    }
    expect(valid).toBe(81)
  })
  it('all trit sequences of length 0..7 roundtrip through every codec at the size sizeBytes gives', () => {
    for (let n = 0; n <= 7; n++) {
      for (const t of allSequences(n)) {
        const counts = countTrits(t)
        const sizes = tritCodecSizes(n, counts)
        for (const name of TRIT_CODEC_NAMES) {
          const bytes = encodeTrits(name, t)
          expect(decodeTrits(name, bytes, n)).toEqual(t)
          if (name !== 'entropy') expect(bytes.length).toBe(sizes[name])
        }
      }
    }
  })
})

describe('bad input', () => {
  it('encoders reject values that are not trits, naming the index', () => {
    for (const name of TRIT_CODEC_NAMES) {
      expect(() => encodeTrits(name, Int8Array.of(0, 1, 2))).toThrow('trit 2 is 2, expected -1, 0 or 1')
      expect(() => encodeTrits(name, Int8Array.of(-2))).toThrow('trit 0 is -2, expected -1, 0 or 1')
    }
  })
  it('decoders reject a wrong byte count', () => {
    expect(() => decodeTrits('base3', new Uint8Array(3), 9)).toThrow('base3 trit stream is corrupt: 3 bytes, expected 2')
    expect(() => decodeTrits('2bit', new Uint8Array(2), 9)).toThrow('2bit trit stream is corrupt: 2 bytes, expected 3')
    expect(() => decodeTrits('bitmask', Uint8Array.of(0xff, 0x01), 9)).toThrow('bitmask trit stream is corrupt: 2 bytes, expected 4 for 9 non-zero trits')
    expect(() => decodeTrits('bitmask', Uint8Array.of(0x04), 2)).toThrow('mask has bits set beyond the last trit')
  })
  it('the entropy decoder rejects truncated, extended or altered streams', () => {
    const t = randomTrits(20_000, 0.3, 7)
    const bytes = encodeTrits('entropy', t)
    expect(() => decodeTrits('entropy', bytes.subarray(0, bytes.length - 1), t.length)).toThrow(/entropy trit stream is corrupt/)
    expect(() => decodeTrits('entropy', Uint8Array.of(...bytes, 0), t.length)).toThrow(/entropy trit stream is corrupt/)
    expect(() => decodeTrits('entropy', Uint8Array.of(7, ...bytes.subarray(1)), t.length)).toThrow('entropy trit stream is corrupt: unknown model 7')
    const altered = bytes.slice()
    altered[bytes.length >> 1] ^= 0x10
    let decoded: Int8Array | undefined
    try {
      decoded = decodeTrits('entropy', altered, t.length)
    } catch (err) {
      expect((err as Error).message).toMatch(/entropy trit stream is corrupt/)
    }
    if (decoded) expect(sameTrits(decoded, t)).toBe(false)
  })
  it('an unknown codec name is an input error listing the choices', () => {
    expect(() => encodeTrits('base4' as never, new Int8Array(1))).toThrow('unknown trit codec "base4" (expected one of base3, 2bit, bitmask, entropy, auto)')
  })
})

describe('properties', () => {
  const trits = fc
    .record({n: fc.integer({min: 0, max: 5000}), zero: fc.double({min: 0, max: 1, noNaN: true}), seed: fc.integer()})
    .map(({n, zero, seed}) => randomTrits(n, zero, seed))
  it('random trits roundtrip through every codec; fixed-rate sizes are exact', () => {
    fc.assert(
      fc.property(trits, (t) => {
        const sizes = tritCodecSizes(t.length, countTrits(t))
        for (const name of TRIT_CODEC_NAMES) {
          const bytes = TRIT_CODECS[name].encode(t)
          expect(sameTrits(TRIT_CODECS[name].decode(bytes, t.length), t)).toBe(true)
          if (name !== 'entropy') expect(bytes.length).toBe(sizes[name])
        }
        const best = bestTritCodec(t)
        expect(best.bytes.length).toBe(Math.min(...TRIT_CODEC_NAMES.map((name) => encodeTrits(name, t).length)))
        expect(sameTrits(decodeTrits(best.codec, best.bytes, t.length), t)).toBe(true)
      }),
      {numRuns: 150},
    )
  })
})

describe('entropy coder rate', () => {
  for (const zero of [0.1, 0.2, 0.3, 0.4, 0.9]) {
    it(`is within 0.5% of the empirical entropy for 1M i.i.d. trits at ${zero * 100}% zeros`, () => {
      const t = randomTrits(1 << 20, zero, 11)
      const counts = countTrits(t)
      const ideal = (t.length * tritEntropyBits(counts)) / 8
      const bytes = encodeTrits('entropy', t)
      expect(bytes.length).toBeLessThan(ideal * 1.005)
      expect(bytes.length).toBeGreaterThan(ideal * 0.99) // i.i.d.: no model can do much better
      // the budget estimate is tight
      expect(Math.abs(tritCodecSizes(t.length, counts).entropy - bytes.length)).toBeLessThan(ideal * 0.005)
      expect(bytes.length).toBeLessThan(base3.sizeBytes(t.length))
    })
  }
  it('uses the zero-window context when rows differ in zero rate, beating order-0 entropy', () => {
    const t = rowTrits(512, 1024, 0.05, 0.7, 3)
    const ideal = (t.length * tritEntropyBits(countTrits(t))) / 8
    const choice = chooseModel(t)
    expect(choice.model).toBe(1)
    const bytes = encodeTrits('entropy', t)
    expect(bytes.length).toBeLessThan(ideal * 0.97)
    expect(Math.abs(choice.bytes - bytes.length)).toBeLessThan(16)
    expect(sameTrits(decodeTrits('entropy', bytes, t.length), t)).toBe(true)
  })
  it('codes an all-zero tensor in header + state only', () => {
    const t = new Int8Array(100_000)
    const bytes = encodeTrits('entropy', t)
    expect(bytes.length).toBe(9)
    expect(sameTrits(decodeTrits('entropy', bytes, t.length), t)).toBe(true)
  })
})

describe('decoders bound the trit count before allocating', () => {
  it('n over maxTrits (default 2^28) is refused by every codec, whatever the bytes', () => {
    const t = randomTrits(100, 0.3, 11)
    for (const name of TRIT_CODEC_NAMES) {
      const bytes = encodeTrits(name, t)
      expect(decodeTrits(name, bytes, 100, {maxTrits: 100})).toEqual(t)
      expect(() => decodeTrits(name, bytes, 100, {maxTrits: 99}), name).toThrow('trit count 100 is over the limit of 99')
      expect(() => decodeTrits(name, bytes, 2 ** 31), name).toThrow('trit count 2147483648 is over the limit of 268435456')
    }
  })
  it('entropy: an all-zero context reads no bytes, so only the cap bounds n', () => {
    const bytes = encodeTrits('entropy', new Int8Array(64))
    expect([...bytes]).toEqual([0, 0, 0, 0x00, 0x10, 0, 0, 0x80, 0]) // f(−1) = 0, f(0) = 4096, state L
    expect(decodeTrits('entropy', bytes, 1 << 20).every((x) => x === 0)).toBe(true)
  })
})

