/**
 * Tokenizers golf knows: `byte260` and SentencePiece `.model` files.
 */
import { stat } from 'node:fs/promises'
import { InputError, describeFsError } from '../errors.js'
import { Byte260Tokenizer } from './byte260.js'
import { SentencePieceTokenizer } from './sentencepiece.js'
import type { Tokenizer } from './types.js'

export type { ByteTable, PieceType, Tokenizer } from './types.js'
export { Byte260Tokenizer } from './byte260.js'
export { SentencePieceTokenizer, buildByteTable, parseSentencePieceModel } from './sentencepiece.js'

/** `'byte260'`, or a path to a SentencePiece `.model` file. */
export async function loadTokenizer(spec: string): Promise<Tokenizer> {
  if (spec === 'byte260') return new Byte260Tokenizer()
  if (!spec.endsWith('.model')) {
    throw new InputError(`unknown tokenizer '${spec}': expected 'byte260' or a path to a SentencePiece .model file`)
  }
  try {
    const st = await stat(spec)
    if (st.isDirectory()) throw Object.assign(new Error('is a directory'), { code: 'EISDIR' })
  } catch (err) {
    throw describeFsError(err, spec, 'tokenizer')
  }
  return SentencePieceTokenizer.fromFile(spec)
}
