/**
 * Fuzzing the outer decompressors (pako inflate, node:zlib brotli, LZMA-JS, the xz binary):
 * random bytes, mutated valid streams, and .lzma headers that declare any size. Each decode
 * returns at most the `maxBytes` it was given, or refuses with one InputError line.
 */
import fc from 'fast-check'
import {describe, expect, it} from 'vitest'

import {COMPRESS_NAMES, type CompressName, DecompressedTooLargeError, LZMA_JS_MAX_OUTPUT_BYTES, compress, decompress, hasXzBinary} from '../../src/pack/compress.js'
import {encodeTrits} from '../../src/pack/codecs/index.js'
import {randomTrits} from '../pack/trits.js'
import {decodesOrRefuses, mutate, mutationsArb, runs} from './helpers.js'

const names: CompressName[] = COMPRESS_NAMES.filter((c) => c !== 'xz' || hasXzBinary())

function decompressBounded(name: CompressName, data: Uint8Array, maxBytes: number): Uint8Array | undefined {
  const out = decodesOrRefuses(`decompress ${name}`, () => decompress(name, data, {maxBytes}))
  if (out !== undefined) expect(out.length).toBeLessThanOrEqual(maxBytes)
  return out
}

const plain = [
  new Uint8Array(0),
  new TextEncoder().encode('{"format":"golf-artifact","tensors":[{"name":"w","shape":[4,4]}]}'.repeat(20)),
  encodeTrits('2bit', randomTrits(3000, 0.6, 7)),
  new Uint8Array(5000),
]
// Made once: LZMA-JS takes a while per stream.
const streams = new Map(names.map((n) => [n, plain.map((p) => compress(n, p))]))

describe('fuzz: outer decompression', () => {
  for (const name of names) {
    const slow = name === 'xz' || name === 'lzma'
    it(`${name}: random bytes`, () => {
      fc.assert(fc.property(fc.uint8Array({maxLength: 300}), fc.integer({min: 0, max: 1 << 16}), (data, max) => void decompressBounded(name, data, max)), {numRuns: runs(slow ? 100 : 300, slow ? 0.1 : 1)})
    })

    it(`${name}: mutated valid streams, any cap`, () => {
      fc.assert(
        fc.property(fc.nat({max: plain.length - 1}), mutationsArb, fc.integer({min: 0, max: 1 << 14}), (i, muts, max) => {
          decompressBounded(name, mutate(streams.get(name)![i], muts), max)
        }),
        {numRuns: runs(slow ? 150 : 400, slow ? 0.1 : 1)},
      )
    })

    it(`${name}: valid streams decode exactly when they fit the cap, and are refused when they do not`, () => {
      fc.assert(
        fc.property(fc.nat({max: plain.length - 1}), fc.integer({min: 0, max: 6000}), (i, max) => {
          const want = plain[i]
          let got: Uint8Array | undefined
          let err: unknown
          try {
            got = decompress(name, streams.get(name)![i], {maxBytes: max})
          } catch (e) {
            err = e
          }
          if (want.length <= max) expect(Buffer.from(got!).equals(Buffer.from(want))).toBe(true)
          else expect(err).toBeInstanceOf(DecompressedTooLargeError)
        }),
        {numRuns: runs(slow ? 30 : 100, slow ? 0.05 : 0.2)},
      )
    })
  }

  it('lzma: any declared size in the header — refused above the cap or LZMA-JS ceiling, else bounded by it', () => {
    const base = streams.get('lzma')![1]
    fc.assert(
      fc.property(
        fc.oneof(fc.integer({min: 0, max: 1 << 16}), fc.constantFrom(2 ** 32 - 1, 2 ** 53, LZMA_JS_MAX_OUTPUT_BYTES + 1)),
        fc.boolean(),
        fc.integer({min: 0, max: 1 << 16}),
        (size, unknown, max) => {
          const s = base.slice()
          const view = new DataView(s.buffer)
          view.setUint32(5, unknown ? 0xffffffff : size % 2 ** 32, true)
          view.setUint32(9, unknown ? 0xffffffff : Math.floor(size / 2 ** 32), true)
          const out = decompressBounded('lzma', s, max)
          if (unknown || size > max) expect(out).toBeUndefined()
        },
      ),
      {numRuns: runs(150, 0.2)},
    )
  })
})
