import {describe, expect, it} from 'vitest'

import {COMPRESS_NAMES, DEFAULT_MAX_DECOMPRESSED_BYTES, DecompressedTooLargeError, LZMA_JS_MAX_OUTPUT_BYTES, compress, compressBest, decompress, hasXzBinary} from '../../src/pack/compress.js'
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

  for (const name of COMPRESS_NAMES) {
    it(`${name}: output is capped — exactly at the cap decodes, one byte under is refused`, () => {
      const a = compress(name, trits)
      expect(Buffer.from(decompress(name, a, {maxBytes: trits.length})).equals(Buffer.from(trits))).toBe(true)
      let err: unknown
      try {
        decompress(name, a, {maxBytes: trits.length - 1})
      } catch (e) {
        err = e
      }
      expect(err).toBeInstanceOf(DecompressedTooLargeError)
      expect(err).toBeInstanceOf(InputError)
      expect((err as Error).message).toMatch(new RegExp(`^the ${name} stream decompresses to (more than|\\d+ bytes, more than) ${trits.length - 1} bytes$`))
    })
  }
  it('a small bomb stops at the cap, never holding the whole output (deflate, brotli, xz)', () => {
    const zeros = new Uint8Array(8 << 20)
    for (const name of ['deflate', 'brotli', ...(hasXzBinary() ? ['xz' as const] : [])] as const) {
      const bomb = compress(name, zeros)
      expect(bomb.length).toBeLessThan(10_000)
      const t0 = performance.now()
      expect(() => decompress(name, bomb, {maxBytes: 1 << 20})).toThrow(`the ${name} stream decompresses to more than 1048576 bytes`)
      expect(performance.now() - t0).toBeLessThan(2000)
    }
    expect(DEFAULT_MAX_DECOMPRESSED_BYTES).toBe(2 ** 30)
  })
  it('lzma: the size the header declares is checked before LZMA-JS runs; an undeclared size is refused', () => {
    const a = compress('lzma', text)
    const claim = (lo: number, hi: number): Uint8Array => {
      const b = a.slice()
      const v = new DataView(b.buffer)
      v.setUint32(5, lo, true)
      v.setUint32(9, hi, true)
      return b
    }
    expect(new DataView(a.buffer, a.byteOffset).getUint32(5, true)).toBe(text.length) // golf's writer declares it
    expect(() => decompress('lzma', claim(0xffffffff, 0xffffffff))).toThrow('cannot decompress the lzma stream: the .lzma header does not declare the uncompressed size (golf always writes it)')
    expect(() => decompress('lzma', claim(0, 1), {maxBytes: 2 ** 40})).toThrow(`the lzma stream decompresses to 4294967296 bytes, more than ${LZMA_JS_MAX_OUTPUT_BYTES} bytes`)
    expect(() => decompress('lzma', claim(5000, 0), {maxBytes: 4999})).toThrow('the lzma stream decompresses to 5000 bytes, more than 4999 bytes')
  })
})
