/**
 * What every tokenizer gives the rest of golf. `metric/` consumes only `ByteTable` (plain
 * arrays, no tfjs, no tokenizer code), so BPB arithmetic stays pure.
 */

/** Piece types as in SentencePiece's ModelProto.SentencePiece.Type. */
export type PieceType = 'normal' | 'unknown' | 'control' | 'user_defined' | 'byte' | 'unused'

/**
 * The official byte-count table (see GOLF.md "The metric"):
 * - `baseBytes[id]`: bytes the token contributes by itself: 0 for control/unknown/unused,
 *   1 for byte-fallback pieces, else UTF-8 length of its text without a leading `▁`;
 * - `hasLeadingSpace[id]`: the piece starts with `▁` (adds 1 byte unless the previous
 *   token is a boundary token);
 * - `isBoundary[id]`: control, unknown and unused pieces.
 */
export interface ByteTable {
  vocabSize: number
  baseBytes: Int32Array
  hasLeadingSpace: Uint8Array
  isBoundary: Uint8Array
}

export interface Tokenizer {
  /** `byte260`, or the SentencePiece model's file name. */
  readonly name: string
  readonly kind: 'byte260' | 'sentencepiece'
  readonly vocabSize: number
  readonly bosId: number
  readonly eosId: number
  readonly padId: number
  readonly unkId: number
  /** Text to ids, without BOS/EOS (the data writer adds BOS per document). */
  encode(text: string): number[]
  /** Ids to text, as the tokenizer's detokenizer does (`▁` read as a space, byte pieces joined as UTF-8). */
  decode(ids: ArrayLike<number>): string
  /**
   * The official byte-count table for this vocabulary (a fresh copy). `vocabSize` widens it
   * when the dataset's vocabulary is larger than the tokenizer's; extra ids are 0-byte boundaries.
   */
  byteTable(vocabSize?: number): ByteTable
  /** Human-readable piece for an id (for audit messages). */
  piece(id: number): string
  pieceType(id: number): PieceType
}
