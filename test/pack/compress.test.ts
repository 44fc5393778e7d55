import {describe, expect, it} from 'vitest'

import {COMPRESS_NAMES, compress, compressBest, decompress} from '../../src/pack/compress.js'
import {encodeTrits} from '../../src/pack/codecs/index.js'
import {InputError} from '../../src/errors.js'
import {randomTrits} from './trits.js'

const text = new TextEncoder().encode('{"name":"blocks.0.attn.q","shape":[512,512]},'.repeat(200))
const trits = encodeTrits('2bit', randomTrits(40_000, 0.6, 5))

describe('outer compression', () => {
  for (const name of COMPRESS_NAMES) {
    it(`${name}: roundtrips and gives the same bytes every time`, () => {
      for (const data of [text, trits, new Uint8Array(0)]) {
        const a = compress(name, data)
        expect(Buffer.from(compress(name, data)).equals(Buffer.from(a))).toBe(true)
        expect(Buffer.from(decompress(name, a)).equals(Buffer.from(data))).toBe(true)
      }
    })
  }
  it('deflate is raw (no zlib header) and brotli beats it on text', () => {
    const d = compress('deflate', text)
    expect(d[0] === 0x78).toBe(false)
    expect(compress('brotli', text).length).toBeLessThan(d.length)
    expect(compress('none', text)).toBe(text)
  })
  it('best keeps the smallest, first on ties', () => {
    const best = compressBest(text)
    const sizes = COMPRESS_NAMES.map((n) => compress(n, text).length)
    expect(best.bytes.length).toBe(Math.min(...sizes))
    expect(best.compress).toBe(COMPRESS_NAMES[sizes.indexOf(Math.min(...sizes))])
    expect(compressBest(new Uint8Array(0), ['none', 'deflate']).compress).toBe('none')
  })
  it('a stream that does not decode is an InputError naming the format', () => {
    expect(() => decompress('deflate', Uint8Array.of(0xff, 0xff, 0xff))).toThrow(/^cannot decompress the deflate stream: /)
    expect(() => decompress('brotli', Uint8Array.of(0xff, 0xff, 0xff))).toThrow(InputError)
    expect(() => decompress('lzma', Uint8Array.of(0xff, 0xff, 0xff))).toThrow(/^cannot decompress the lzma stream: /)
    expect(() => decompress('xz', Uint8Array.of(0xff, 0xff, 0xff))).toThrow(/^cannot decompress the xz stream: /)
  })
  it('an unknown name is an input error listing the choices', () => {
    expect(() => compress('zstd' as never, text)).toThrow('unknown compression "zstd" (expected one of none, deflate, brotli, lzma, xz, auto)')
  })
})
