/**
 * Fuzzing the SentencePiece `.model` loader: random bytes, and mutations of a real model
 * (test/fixtures/tokenizers/sp1024.model: byte flips, truncation, extension, protobuf field
 * edits). `parseSentencePieceModel` returns a model or refuses with one InputError line; a model
 * it accepts then also loads into the wasm encoder (`fromBytes`) under the same contract.
 */
import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import fc from 'fast-check'
import {describe, expect, it} from 'vitest'

import {SentencePieceTokenizer, parseSentencePieceModel} from '../../src/tokenizer/sentencepiece.js'
import {byteEditsArb, concat, decodesOrRefuses, decodesOrRefusesAsync, mutate, mutationsArb, runs} from './helpers.js'

const model = new Uint8Array(readFileSync(join(import.meta.dirname, '../fixtures/tokenizers/sp1024.model')))

function parseBounded(bytes: Uint8Array): ReturnType<typeof parseSentencePieceModel> | undefined {
  const got = decodesOrRefuses('sentencepiece parse', () => parseSentencePieceModel(bytes, 'fuzz.model'))
  if (got !== undefined) {
    // Each piece costs at least 3 bytes of the file (tag, length, one byte of text).
    expect(got.pieces.length * 3).toBeLessThanOrEqual(bytes.length)
    expect(['unigram', 'bpe', 'word', 'char']).toContain(got.modelType)
  }
  return got
}

/** A protobuf field: tag (field number, wire type) then a varint or a length-delimited value. */
function field(num: number, wire: number, value: Uint8Array | number): Uint8Array {
  const varint = (v: number): number[] => {
    const out: number[] = []
    do {
      out.push((v & 0x7f) | (v > 0x7f ? 0x80 : 0))
      v = Math.floor(v / 128)
    } while (v > 0)
    return out
  }
  if (typeof value === 'number') return Uint8Array.from([...varint((num << 3) | wire), ...varint(value)])
  return Uint8Array.from([...varint((num << 3) | wire), ...varint(value.length), ...value])
}

describe('fuzz: SentencePiece model loader', () => {
  it('the fixture parses (the fuzz starts from a file that decodes)', () => {
    expect(parseSentencePieceModel(model, 'sp1024.model').pieces.length).toBe(1024)
  })

  it('random bytes', () => {
    fc.assert(fc.property(fc.uint8Array({maxLength: 400}), (bytes) => void parseBounded(bytes)), {numRuns: runs(500)})
  })

  it('mutated real model', () => {
    fc.assert(fc.property(fc.oneof(mutationsArb, byteEditsArb), (muts) => void parseBounded(mutate(model, muts))), {numRuns: runs(300, 0.5)})
  })

  it('protobuf fields appended: huge lengths, unknown enums, wrong wire types, nested groups', () => {
    const hostile = fc.oneof(
      fc.tuple(fc.integer({min: 1, max: 3}), fc.constantFrom(0, 1, 2, 5), fc.oneof(fc.nat(), fc.uint8Array({maxLength: 20}))).map(([n, w, v]) => field(n, w, typeof v === 'number' && w === 2 ? new Uint8Array(0) : v)),
      // a piece with an unknown type, and a trainer spec with an unknown model type
      fc.integer({min: 7, max: 1000}).map((t) => field(1, 2, concat(field(1, 2, new TextEncoder().encode('x')), field(3, 0, t)))),
      fc.integer({min: 5, max: 1000}).map((t) => field(2, 2, field(3, 0, t))),
      // a length prefix far past the end
      fc.constantFrom(Uint8Array.of(0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f), Uint8Array.of(0x12, 0x80, 0x80, 0x80, 0x80, 0x10)),
      // deeply nested start-group tags (wire type 3)
      fc.integer({min: 1, max: 20_000}).map((depth) => new Uint8Array(depth).fill((9 << 3) | 3)),
    )
    fc.assert(fc.property(fc.array(hostile, {minLength: 1, maxLength: 3}), fc.boolean(), (fields, prefix) => void parseBounded(prefix ? concat(...fields, model) : concat(model, ...fields))), {numRuns: runs(200)})
  })

  it('a mutated model that parses also loads into the wasm encoder, or is refused', async () => {
    await fc.assert(
      fc.asyncProperty(byteEditsArb, async (muts) => {
        const bytes = mutate(model, muts)
        if (decodesOrRefuses('sentencepiece parse', () => parseSentencePieceModel(bytes, 'fuzz.model')) === undefined) return
        await decodesOrRefusesAsync('sentencepiece load', () => SentencePieceTokenizer.fromBytes(bytes, 'fuzz.model'))
      }),
      {numRuns: runs(20, 0.02)},
    )
  })
})
