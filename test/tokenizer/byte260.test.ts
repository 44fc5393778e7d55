import { describe, expect, it } from 'vitest'
import { Byte260Tokenizer } from '../../src/tokenizer/byte260.js'

const tok = new Byte260Tokenizer()

describe('byte260', () => {
  it('has the official special ids and size', () => {
    expect([tok.padId, tok.bosId, tok.eosId, tok.unkId, tok.vocabSize]).toEqual([0, 1, 2, 3, 260])
    expect(tok.name).toBe('byte260')
    expect(tok.kind).toBe('byte260')
  })

  it('encodes UTF-8 bytes + 4', () => {
    expect(tok.encode('Hi é')).toEqual([0x48 + 4, 0x69 + 4, 0x20 + 4, 0xc3 + 4, 0xa9 + 4])
    expect(tok.encode('😀')).toEqual([0xf0, 0x9f, 0x98, 0x80].map((b) => b + 4))
    expect(tok.encode('')).toEqual([])
    expect(tok.encode('\u0000')).toEqual([4])
  })

  it('decodes bytes, drops specials, round-trips any text', () => {
    const text = 'Café 日本 😀\n\ttabs  and ▁'
    expect(tok.decode(tok.encode(text))).toBe(text)
    expect(tok.decode([1, 0x61 + 4, 2, 0, 3, 0x62 + 4])).toBe('ab')
    expect(tok.decode(Uint16Array.from([1, 0x41 + 4]))).toBe('A')
  })

  it('decodes invalid UTF-8 to U+FFFD as TextDecoder does', () => {
    expect(tok.decode([0xe2 + 4, 0x41 + 4])).toBe('\uFFFDA')
    expect(tok.decode([0xff + 4])).toBe('\uFFFD')
  })

  it('rejects ids outside the vocabulary', () => {
    expect(() => tok.decode([260])).toThrow(/outside the byte260 vocabulary/)
    expect(() => tok.decode([-1])).toThrow(RangeError)
  })

  it('names pieces and types', () => {
    expect([0, 1, 2, 3].map((i) => tok.piece(i))).toEqual(['<pad>', '<s>', '</s>', '<unk>'])
    expect(tok.piece(4)).toBe('<0x00>')
    expect(tok.piece(0x20 + 4)).toBe('<0x20>')
    expect(tok.piece(259)).toBe('<0xFF>')
    expect([0, 1, 2, 3, 4, 259].map((i) => tok.pieceType(i))).toEqual(['control', 'control', 'control', 'unknown', 'byte', 'byte'])
  })

  it('widens its table for a larger dataset vocabulary', () => {
    const t = tok.byteTable(264)
    expect(t.vocabSize).toBe(264)
    expect(Array.from(t.baseBytes.subarray(258))).toEqual([1, 1, 0, 0, 0, 0])
    expect(Array.from(t.isBoundary.subarray(258))).toEqual([0, 0, 1, 1, 1, 1])
  })
})
