/**
 * SentencePiece tokenizers: the `.model` file (a serialized `sentencepiece.ModelProto`) is read
 * here with protobufjs for what the byte table needs (piece texts and types, special ids);
 * encoding and decoding run Google's own sentencepiece compiled to wasm
 * (`@sctg/sentencepiece-js`), so ids match the official encoder exactly.
 */
import { basename } from 'node:path'
import protobuf from 'protobufjs'
import { SentencePieceProcessor } from '@sctg/sentencepiece-js'
import { InputError } from '../errors.js'
import { oneLine, readInputFile } from '../io/read.js'
import type { ByteTable, PieceType, Tokenizer } from './types.js'

/** The meta symbol SentencePiece writes for a space (U+2581). */
export const SPACE_SYMBOL = '\u2581'

/**
 * The subset of `sentencepiece_model.proto` golf reads (proto2; field numbers as upstream).
 * Fields not listed are skipped by the decoder, so newer model files still load.
 */
const MODEL_DESCRIPTOR = {
  nested: {
    sentencepiece: {
      nested: {
        TrainerSpec: {
          fields: {
            modelType: { type: 'ModelType', id: 3, options: { default: 'UNIGRAM' } },
            vocabSize: { type: 'int32', id: 4, options: { default: 8000 } },
            byteFallback: { type: 'bool', id: 35, options: { default: false } },
            unkId: { type: 'int32', id: 40, options: { default: 0 } },
            bosId: { type: 'int32', id: 41, options: { default: 1 } },
            eosId: { type: 'int32', id: 42, options: { default: 2 } },
            padId: { type: 'int32', id: 43, options: { default: -1 } },
          },
          nested: { ModelType: { values: { UNIGRAM: 1, BPE: 2, WORD: 3, CHAR: 4 } } },
        },
        NormalizerSpec: {
          fields: {
            name: { type: 'string', id: 1 },
            addDummyPrefix: { type: 'bool', id: 3, options: { default: true } },
          },
        },
        ModelProto: {
          fields: {
            pieces: { rule: 'repeated', type: 'SentencePiece', id: 1 },
            trainerSpec: { type: 'TrainerSpec', id: 2 },
            normalizerSpec: { type: 'NormalizerSpec', id: 3 },
          },
          nested: {
            SentencePiece: {
              fields: {
                piece: { type: 'string', id: 1 },
                score: { type: 'float', id: 2 },
                type: { type: 'Type', id: 3, options: { default: 'NORMAL' } },
              },
              nested: {
                Type: {
                  values: { NORMAL: 1, UNKNOWN: 2, CONTROL: 3, USER_DEFINED: 4, UNUSED: 5, BYTE: 6 },
                },
              },
            },
          },
        },
      },
    },
  },
}

const ModelProtoType = protobuf.Root.fromJSON(MODEL_DESCRIPTOR).lookupType('sentencepiece.ModelProto')

/**
 * Largest `.model` file golf reads: 64 MiB. Real ones are 0.2–5 MB (a 256k-piece vocabulary is
 * ~5 MB); the file is held twice (bytes + base64 for the wasm loader), so it is capped before
 * reading.
 */
export const MAX_SENTENCEPIECE_MODEL_BYTES = 64 * 2 ** 20

const MODEL_TYPES = ['unigram', 'bpe', 'word', 'char'] as const

const PIECE_TYPES: Record<string, PieceType> = {
  NORMAL: 'normal',
  UNKNOWN: 'unknown',
  CONTROL: 'control',
  USER_DEFINED: 'user_defined',
  UNUSED: 'unused',
  BYTE: 'byte',
}

export interface SentencePiece {
  piece: string
  score: number
  type: PieceType
}

/** What golf knows of a `.model` file. */
export interface SentencePieceModel {
  pieces: SentencePiece[]
  modelType: 'unigram' | 'bpe' | 'word' | 'char'
  /** `trainer_spec.vocab_size` as trained (the piece count is `pieces.length`). */
  trainedVocabSize: number
  byteFallback: boolean
  unkId: number
  bosId: number
  eosId: number
  padId: number
  normalizerName: string
  addDummyPrefix: boolean
}

/**
 * Decodes a serialized ModelProto. `source` names the file in the error
 * ("<source> is not a SentencePiece model: <why>").
 */
export function parseSentencePieceModel(bytes: Uint8Array, source: string): SentencePieceModel {
  const fail = (why: string) => new InputError(`${source} is not a SentencePiece model: ${oneLine(why)}`)
  let obj: Record<string, any>
  try {
    // protobufjs checks every length against the bytes left before it reads, so a field cannot
    // claim more than the file holds; deeply nested groups overflow the stack, caught here too.
    const msg = ModelProtoType.decode(bytes)
    obj = ModelProtoType.toObject(msg, { defaults: true, enums: String, longs: Number })
  } catch (err) {
    throw fail((err as Error)?.message ?? String(err))
  }
  const raw = (obj.pieces ?? []) as Array<{ piece: string; score: number; type: string }>
  if (raw.length === 0) throw fail('it has no pieces')
  const pieces: SentencePiece[] = raw.map((p, id) => {
    const type = PIECE_TYPES[p.type]
    if (type === undefined) throw fail(`piece ${id} has unknown type ${p.type}`)
    if (!p.piece) throw fail(`piece ${id} is empty`)
    return { piece: p.piece, score: p.score, type }
  })
  const ts = obj.trainerSpec ?? {}
  const ns = obj.normalizerSpec ?? {}
  const id = (v: unknown, dflt: number) => (typeof v === 'number' ? v : dflt)
  // An unknown enum value comes back as its number: refuse it rather than pass it on as a type.
  const modelType = String(ts.modelType ?? 'UNIGRAM').toLowerCase()
  if (!(MODEL_TYPES as readonly string[]).includes(modelType)) throw fail(`unknown model type ${modelType}`)
  return {
    pieces,
    modelType: modelType as SentencePieceModel['modelType'],
    trainedVocabSize: id(ts.vocabSize, pieces.length),
    byteFallback: Boolean(ts.byteFallback),
    unkId: id(ts.unkId, 0),
    bosId: id(ts.bosId, 1),
    eosId: id(ts.eosId, 2),
    padId: id(ts.padId, -1),
    normalizerName: String(ns.name ?? ''),
    addDummyPrefix: ns.addDummyPrefix !== false,
  }
}

/**
 * The official byte-count table for a SentencePiece vocabulary, as `build_sentencepiece_luts`
 * in the challenge's `train_gpt.py` builds it: every id starts as a boundary with 0 bytes; for
 * each piece, control/unknown/unused stay so; byte pieces count 1; any other piece (normal,
 * user-defined) loses one leading `▁` (which sets `hasLeadingSpace`) and counts the UTF-8 length
 * of the rest. `vocabSize` (default: the piece count) may exceed the piece count when the
 * dataset's vocabulary is larger; the extra ids stay boundaries with 0 bytes.
 */
export function buildByteTable(
  pieces: ReadonlyArray<Pick<SentencePiece, 'piece' | 'type'>>,
  vocabSize = pieces.length,
): ByteTable {
  const size = Math.max(vocabSize, pieces.length)
  const table: ByteTable = {
    vocabSize: size,
    baseBytes: new Int32Array(size),
    hasLeadingSpace: new Uint8Array(size),
    isBoundary: new Uint8Array(size).fill(1),
  }
  const utf8 = new TextEncoder()
  pieces.forEach(({ piece, type }, id) => {
    if (type === 'control' || type === 'unknown' || type === 'unused') return
    table.isBoundary[id] = 0
    if (type === 'byte') {
      table.baseBytes[id] = 1
      return
    }
    let text = piece
    if (text.startsWith(SPACE_SYMBOL)) {
      table.hasLeadingSpace[id] = 1
      text = text.slice(SPACE_SYMBOL.length)
    }
    table.baseBytes[id] = utf8.encode(text).length
  })
  return table
}

/** A SentencePiece tokenizer backed by Google's encoder (wasm). */
export class SentencePieceTokenizer implements Tokenizer {
  readonly kind = 'sentencepiece' as const
  readonly vocabSize: number
  readonly bosId: number
  readonly eosId: number
  readonly padId: number
  readonly unkId: number

  private constructor(
    readonly name: string,
    readonly model: SentencePieceModel,
    private readonly processor: SentencePieceProcessor,
  ) {
    this.vocabSize = model.pieces.length
    this.bosId = model.bosId
    this.eosId = model.eosId
    this.padId = model.padId
    this.unkId = model.unkId
  }

  /** Reads and checks a `.model` file (a regular file of at most MAX_SENTENCEPIECE_MODEL_BYTES), then loads it into the wasm encoder. */
  static async fromFile(path: string): Promise<SentencePieceTokenizer> {
    const bytes = readInputFile(path, 'tokenizer', { maxBytes: MAX_SENTENCEPIECE_MODEL_BYTES })
    return SentencePieceTokenizer.fromBytes(bytes, basename(path), path)
  }

  /** `name` is what `Tokenizer.name` reports; `source` names the bytes in errors. */
  static async fromBytes(bytes: Uint8Array, name: string, source = name): Promise<SentencePieceTokenizer> {
    const model = parseSentencePieceModel(bytes, source)
    const processor = new SentencePieceProcessor()
    await processor.loadFromB64StringModel(Buffer.from(bytes).toString('base64'))
    return new SentencePieceTokenizer(name, model, processor)
  }

  encode(text: string): number[] {
    if (text.length === 0) return []
    return this.processor.encodeIds(text)
  }

  decode(ids: ArrayLike<number>): string {
    if (ids.length === 0) return ''
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]
      if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) {
        throw new RangeError(`token id ${id} is outside the vocabulary of ${this.name} (0..${this.vocabSize - 1})`)
      }
    }
    return this.processor.decodeIds(Array.from(ids) as unknown as Int32Array) as string
  }

  /** The official table (a fresh copy); pass the dataset's vocabulary size when it exceeds the piece count. */
  byteTable(vocabSize?: number): ByteTable {
    return buildByteTable(this.model.pieces, vocabSize)
  }

  piece(id: number): string {
    return this.model.pieces[id]?.piece ?? `<id ${id}>`
  }

  pieceType(id: number): PieceType {
    // Ids past the piece count (a larger dataset vocabulary) behave as unused.
    return this.model.pieces[id]?.type ?? 'unused'
  }
}
