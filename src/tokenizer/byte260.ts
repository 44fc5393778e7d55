/**
 * The challenge's pure-byte tokenizer "byte260": pad 0, bos 1, eos 2, unk 3, byte b → id b + 4.
 * Every byte token counts 1 byte in the metric; the four specials count 0 and are boundaries.
 */
import type { ByteTable, PieceType, Tokenizer } from './types.js'

export const BYTE260_OFFSET = 4
export const BYTE260_VOCAB = 256 + BYTE260_OFFSET
const SPECIALS = ['<pad>', '<s>', '</s>', '<unk>'] as const

const utf8 = new TextEncoder()
const utf8Decoder = new TextDecoder('utf-8') // not fatal: invalid sequences become U+FFFD

export class Byte260Tokenizer implements Tokenizer {
  readonly name = 'byte260'
  readonly kind = 'byte260' as const
  readonly vocabSize = BYTE260_VOCAB
  readonly padId = 0
  readonly bosId = 1
  readonly eosId = 2
  readonly unkId = 3

  encode(text: string): number[] {
    const bytes = utf8.encode(text)
    const ids = new Array<number>(bytes.length)
    for (let i = 0; i < bytes.length; i++) ids[i] = bytes[i] + BYTE260_OFFSET
    return ids
  }

  /** Byte ids back to UTF-8 text; specials are dropped, invalid UTF-8 becomes U+FFFD. */
  decode(ids: ArrayLike<number>): string {
    const bytes = new Uint8Array(ids.length)
    let n = 0
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]
      if (!Number.isInteger(id) || id < 0 || id >= BYTE260_VOCAB) {
        throw new RangeError(`token id ${id} is outside the byte260 vocabulary (0..${BYTE260_VOCAB - 1})`)
      }
      if (id >= BYTE260_OFFSET) bytes[n++] = id - BYTE260_OFFSET
    }
    return utf8Decoder.decode(bytes.subarray(0, n))
  }

  /** Pass a larger `vocabSize` when the dataset's vocabulary exceeds 260; extra ids are boundaries. */
  byteTable(vocabSize: number = BYTE260_VOCAB): ByteTable {
    const size = Math.max(vocabSize, BYTE260_VOCAB)
    const table: ByteTable = {
      vocabSize: size,
      baseBytes: new Int32Array(size),
      hasLeadingSpace: new Uint8Array(size),
      isBoundary: new Uint8Array(size).fill(1),
    }
    for (let id = BYTE260_OFFSET; id < BYTE260_VOCAB; id++) {
      table.baseBytes[id] = 1
      table.isBoundary[id] = 0
    }
    return table
  }

  piece(id: number): string {
    if (id >= 0 && id < BYTE260_OFFSET) return SPECIALS[id]
    if (id >= BYTE260_OFFSET && id < BYTE260_VOCAB) {
      return `<0x${(id - BYTE260_OFFSET).toString(16).toUpperCase().padStart(2, '0')}>`
    }
    return `<id ${id}>`
  }

  pieceType(id: number): PieceType {
    if (id === this.unkId) return 'unknown'
    if (id >= 0 && id < BYTE260_OFFSET) return 'control'
    if (id < BYTE260_VOCAB) return 'byte'
    return 'unused'
  }
}
