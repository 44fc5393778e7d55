import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import protobuf from 'protobufjs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { InputError } from '../../src/errors.js'
import { loadTokenizer } from '../../src/tokenizer/index.js'
import { SentencePieceTokenizer, buildByteTable, parseSentencePieceModel } from '../../src/tokenizer/sentencepiece.js'
import { SP1024, expectedIds, loadNoSpace, sampleLines } from './fixtures.js'

let sp: SentencePieceTokenizer
beforeAll(async () => {
  sp = (await loadTokenizer(SP1024)) as SentencePieceTokenizer
})

/** Hand-writes a ModelProto: pieces {piece=1, score=2, type=3}, trainer_spec=2, normalizer_spec=3. */
function modelBytes(pieces: Array<[string, number?]>, trainer: Record<number, number> = {}): Uint8Array {
  const w = protobuf.Writer.create()
  for (const [piece, type] of pieces) {
    w.uint32((1 << 3) | 2).fork()
    w.uint32((1 << 3) | 2).string(piece)
    w.uint32((2 << 3) | 5).float(0)
    if (type !== undefined) w.uint32((3 << 3) | 0).int32(type)
    w.ldelim()
  }
  w.uint32((2 << 3) | 2).fork()
  for (const [field, value] of Object.entries(trainer)) w.uint32((Number(field) << 3) | 0).int32(value)
  w.ldelim()
  return w.finish()
}

describe('reading a .model file', () => {
  it('reads the fixture: pieces, types, trainer and normalizer settings', () => {
    const m = sp.model
    expect(m.pieces.length).toBe(1024)
    expect(m.pieces.slice(0, 4).map((p) => [p.piece, p.type])).toEqual([
      ['<pad>', 'control'],
      ['<s>', 'control'],
      ['</s>', 'control'],
      ['<unk>', 'unknown'],
    ])
    expect(m.pieces[4]).toMatchObject({ piece: '<0x00>', type: 'byte' })
    expect(m.pieces[259]).toMatchObject({ piece: '<0xFF>', type: 'byte' })
    expect(m.pieces.slice(260).every((p) => p.type === 'normal')).toBe(true)
    expect(m).toMatchObject({
      modelType: 'bpe',
      trainedVocabSize: 1024,
      byteFallback: true,
      unkId: 3,
      bosId: 1,
      eosId: 2,
      padId: 0,
      normalizerName: 'nmt_nfkc',
      addDummyPrefix: false,
    })
    expect([sp.vocabSize, sp.bosId, sp.eosId, sp.padId, sp.unkId]).toEqual([1024, 1, 2, 0, 3])
    expect(sp.name).toBe('sp1024.model')
    expect(sp.kind).toBe('sentencepiece')
  })

  it('reads every piece type, NORMAL by default, and proto2 defaults for absent ids', () => {
    const m = parseSentencePieceModel(
      modelBytes([['<unk>', 2], ['<s>', 3], ['▁a'], ['<0x41>', 6], ['▁x', 4], ['q', 5], ['b', 1]]),
      'hand.model',
    )
    expect(m.pieces.map((p) => p.type)).toEqual(['unknown', 'control', 'normal', 'byte', 'user_defined', 'unused', 'normal'])
    expect([m.unkId, m.bosId, m.eosId, m.padId, m.byteFallback, m.modelType]).toEqual([0, 1, 2, -1, false, 'unigram'])
    const t = buildByteTable(m.pieces)
    expect(Array.from(t.baseBytes)).toEqual([0, 0, 1, 1, 1, 0, 1])
    expect(Array.from(t.hasLeadingSpace)).toEqual([0, 0, 1, 0, 1, 0, 0])
    expect(Array.from(t.isBoundary)).toEqual([1, 1, 0, 0, 0, 1, 0])
  })

  it('reads trainer ids and byte_fallback from their field numbers', () => {
    const m = parseSentencePieceModel(modelBytes([['a']], { 3: 2, 4: 77, 35: 1, 40: 5, 41: 6, 42: 7, 43: 8 }), 'x')
    expect([m.modelType, m.trainedVocabSize, m.byteFallback, m.unkId, m.bosId, m.eosId, m.padId]).toEqual(['bpe', 77, true, 5, 6, 7, 8])
  })

  it('rejects a file that is not a ModelProto, naming it', () => {
    const text = new TextEncoder().encode('this is a text file, not a model\n')
    expect(() => parseSentencePieceModel(text, 'notes.model')).toThrow(InputError)
    expect(() => parseSentencePieceModel(text, 'notes.model')).toThrow(/^notes\.model is not a SentencePiece model: /)
    expect(() => parseSentencePieceModel(new Uint8Array(0), 'empty.model')).toThrow(
      'empty.model is not a SentencePiece model: it has no pieces',
    )
    expect(() => parseSentencePieceModel(modelBytes([['a', 9]]), 'bad.model')).toThrow(
      'bad.model is not a SentencePiece model: piece 0 has unknown type 9',
    )
  })
})

describe('encoding and decoding with Google’s encoder', () => {
  it('produces exactly the ids of spm_encode on every sample line', () => {
    const lines = sampleLines()
    const expected = expectedIds('sp1024.expected.json')
    expect(expected.length).toBe(lines.length)
    lines.forEach((line, i) => expect(sp.encode(line), `line ${i + 1}`).toEqual(expected[i]))
  })

  it('produces the ids of spm_encode for the vocabulary without a standalone ▁', async () => {
    const ns = await loadNoSpace()
    const lines = sampleLines()
    const expected = expectedIds('sp1024-nospace.expected.json')
    lines.forEach((line, i) => expect(ns.encode(line), `line ${i + 1}`).toEqual(expected[i]))
    // a space before a digit has no piece to merge into: byte fallback of "▁"
    expect(ns.encode('again 1')).toEqual([...ns.encode('again'), 230, 154, 133, 988])
  })

  it('decodes to the (normalized) text', () => {
    const line = 'The jury said it did find that many of Georgia\'s registration and election laws " are outmoded ".'
    expect(sp.decode(sp.encode(line))).toBe(line)
    expect(sp.decode(sp.encode('Café 日本 😀 ﬁ ＡＢＣ'))).toBe('Café 日本 😀 fi ABC') // NFKC folds ﬁ and full width
    expect(sp.decode(sp.encode('a   b'))).toBe('a b') // runs of spaces collapse
    expect(sp.encode('')).toEqual([])
    expect(sp.decode([])).toBe('')
  })

  it('reads ▁ as a space, joins byte pieces as UTF-8, drops control pieces', () => {
    const the = sp.encode('the the').at(-1)!
    expect(sp.piece(the)).toBe('▁the')
    expect(sp.decode([...sp.encode('cat'), the])).toBe('cat the')
    // at the start of the text SentencePiece drops a leading space
    expect(sp.decode([the, the])).toBe('the the')
    expect(sp.decode([0xc3 + 4, 0xa9 + 4])).toBe('é')
    expect(sp.decode([1, 0x41 + 4, 2, 0])).toBe('A')
    expect(sp.decode([0xf0 + 4, 0x9f + 4, 0x98 + 4, 0x80 + 4])).toBe('😀')
  })

  it('rejects ids outside the vocabulary', () => {
    expect(() => sp.decode([1024])).toThrow(/outside the vocabulary of sp1024.model/)
  })
})

describe('the official byte table of the fixture', () => {
  it('follows build_sentencepiece_luts', () => {
    const t = sp.byteTable()
    expect(t.vocabSize).toBe(1024)
    for (const id of [0, 1, 2, 3]) expect([t.baseBytes[id], t.hasLeadingSpace[id], t.isBoundary[id]]).toEqual([0, 0, 1])
    for (let id = 4; id < 260; id++) expect([t.baseBytes[id], t.hasLeadingSpace[id], t.isBoundary[id]]).toEqual([1, 0, 0])
    const space = sp.model.pieces.findIndex((p) => p.piece === '▁')
    expect(space).toBeGreaterThan(259)
    expect([t.baseBytes[space], t.hasLeadingSpace[space], t.isBoundary[space]]).toEqual([0, 1, 0])
    const the = sp.model.pieces.findIndex((p) => p.piece === '▁the')
    expect([t.baseBytes[the], t.hasLeadingSpace[the]]).toEqual([3, 1])
    const enc = new TextEncoder()
    sp.model.pieces.forEach((p, id) => {
      if (id < 260) return
      const lead = p.piece.startsWith('▁')
      expect(t.baseBytes[id]).toBe(enc.encode(lead ? p.piece.slice(1) : p.piece).length)
      expect(t.hasLeadingSpace[id]).toBe(lead ? 1 : 0)
    })
  })

  it('widens to a larger dataset vocabulary with boundary ids', () => {
    const t = sp.byteTable(1100)
    expect(t.vocabSize).toBe(1100)
    expect(t.isBoundary.subarray(1024).every((b) => b === 1)).toBe(true)
    expect(t.baseBytes.subarray(1024).every((b) => b === 0)).toBe(true)
    expect(sp.pieceType(1050)).toBe('unused')
  })
})

describe('loadTokenizer', () => {
  let dir: string
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'golf-tok-'))
  })
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  it('loads byte260 by name', async () => {
    const t = await loadTokenizer('byte260')
    expect([t.kind, t.vocabSize]).toEqual(['byte260', 260])
  })

  it('names a missing file', async () => {
    const path = join(dir, 'missing.model')
    await expect(loadTokenizer(path)).rejects.toThrow(new InputError(`tokenizer not found: ${path}`))
  })

  it('lists the accepted forms for an unknown name', async () => {
    await expect(loadTokenizer('sp1024')).rejects.toThrow(
      "unknown tokenizer 'sp1024': expected 'byte260' or a path to a SentencePiece .model file",
    )
  })

  it('rejects a directory and a file that is not a model', async () => {
    const sub = join(dir, 'dir.model')
    await import('node:fs/promises').then((fs) => fs.mkdir(sub))
    await expect(loadTokenizer(sub)).rejects.toThrow(`tokenizer is a directory, expected a file: ${sub}`)
    const bad = join(dir, 'bad.model')
    await writeFile(bad, 'hello, I am not protobuf')
    await expect(loadTokenizer(bad)).rejects.toThrow(new RegExp(`^${bad.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is not a SentencePiece model`))
  })
})
