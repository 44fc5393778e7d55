/**
 * The byte-count audit: does a byte table count the bytes the text really has?
 *
 * For each document (`[BOS] + tokens`, as stored in shards) it compares the bytes the table
 * credits to the targets (`countTargetBytes`, the metric's denominator) with the UTF-8 length
 * of the tokenizer's own decoding of the tokens. A `▁` (U+2581) left in the decoded text counts
 * as the one-byte space it stands for (SentencePiece tokenizers only): SentencePiece's normalizer turns every space of the input
 * into `▁`, so a `▁` that survives decoding (a space encoded by byte fallback because the
 * vocabulary has no standalone `▁`) was a space in the text.
 *
 * To say which ids cause a difference, each target also gets the bytes it decodes to in
 * context (the same detokenization rules, token by token); ids whose table bytes and decoded
 * bytes differ are the offenders. `unattributed` is whatever the per-token view does not
 * explain (0 unless the decoder does something the per-token rules do not model).
 */
import { InputError } from '../errors.js'
import { countTargetBytes, targetBytes } from '../metric/bpb.js'
import { SPACE_SYMBOL } from './sentencepiece.js'
import type { ByteTable, PieceType, Tokenizer } from './types.js'

export interface AuditOffender {
  id: number
  piece: string
  type: PieceType
  /** Occurrences as a target. */
  count: number
  /** Mean bytes the table credits per occurrence. */
  bytes_counted_per: number
  /** Mean bytes the piece decodes to per occurrence, in context. */
  bytes_decoded_per?: number
  /** Total bytes counted minus bytes decoded over all occurrences. */
  delta: number
}

export interface ByteAudit {
  docs: number
  /** Target tokens audited (each document's tokens after BOS). */
  tokens: number
  bytes_counted: number
  bytes_decoded: number
  diff: number
  /** Part of `diff` the per-id offenders do not explain (normally 0). */
  unattributed: number
  /** Ids whose counted and decoded bytes differ, before keeping the top 10. */
  offending_ids: number
  /** Top 10 ids by |delta|. */
  offenders: AuditOffender[]
}

const utf8 = new TextEncoder()
const fatalUtf8 = new TextDecoder('utf-8', { fatal: true })
const REPLACEMENT_BYTES = 3 // U+FFFD in UTF-8
const BYTE_PIECE = /^<0x([0-9A-Fa-f]{2})>$/

/**
 * UTF-8 length of decoded text; with `spaceSymbolIsSpace` (SentencePiece), a `▁` counts as the
 * 1-byte space it stands for.
 */
export function decodedByteLength(text: string, spaceSymbolIsSpace = true): number {
  let n = utf8.encode(text).length
  if (!spaceSymbolIsSpace) return n
  for (let i = text.indexOf(SPACE_SYMBOL); i >= 0; i = text.indexOf(SPACE_SYMBOL, i + 1)) n -= 2
  return n
}

/** Length of the UTF-8 sequence a lead byte starts (0: not a lead byte). */
function utf8SequenceLength(lead: number): number {
  if (lead < 0x80) return 1
  if (lead >= 0xc2 && lead <= 0xdf) return 2
  if (lead >= 0xe0 && lead <= 0xef) return 3
  if (lead >= 0xf0 && lead <= 0xf4) return 4
  return 0
}

/**
 * Bytes each byte-fallback token of a run decodes to, as SentencePiece joins byte pieces: valid
 * UTF-8 sequences become their characters (spread evenly over their bytes), every byte that does
 * not start a valid sequence becomes U+FFFD.
 */
function attributeByteRun(bytes: number[], out: Float64Array, positions: number[], spaceSymbolIsSpace: boolean): void {
  let p = 0
  while (p < bytes.length) {
    const len = utf8SequenceLength(bytes[p])
    let ch: string | undefined
    if (len > 0 && p + len <= bytes.length) {
      try {
        ch = fatalUtf8.decode(Uint8Array.from(bytes.slice(p, p + len)))
      } catch {
        ch = undefined
      }
    }
    if (ch === undefined) {
      out[positions[p]] += REPLACEMENT_BYTES
      p += 1
      continue
    }
    const share = decodedByteLength(ch, spaceSymbolIsSpace) / len
    for (let k = 0; k < len; k++) out[positions[p + k]] += share
    p += len
  }
}

interface PieceInfo {
  type: PieceType
  piece: string
  /** Raw byte of a byte-fallback piece, else -1. */
  byte: number
  /** Decoded text of a normal / user-defined / unused piece (`▁` → space). */
  text: string
}

/**
 * Per-target decoded bytes of one document's tokens (`doc[1..]`), following SentencePiece's
 * detokenizer: control pieces vanish; unknown pieces show the tokenizer's unknown surface; byte
 * runs join as UTF-8; other pieces read `▁` as a space, and while nothing has been written yet
 * one leading space per piece is dropped (SentencePiece's start-of-text rule).
 */
function decodedPerTarget(
  doc: ArrayLike<number>,
  info: (id: number) => PieceInfo,
  unknownBytes: number,
  sentencePiece: boolean,
): Float64Array {
  const out = new Float64Array(doc.length)
  let written = false
  let runBytes: number[] = []
  let runPositions: number[] = []
  const flush = () => {
    if (runBytes.length === 0) return
    attributeByteRun(runBytes, out, runPositions, sentencePiece)
    written = true
    runBytes = []
    runPositions = []
  }
  for (let i = 1; i < doc.length; i++) {
    const p = info(doc[i])
    if (p.type === 'byte' && p.byte >= 0) {
      runBytes.push(p.byte)
      runPositions.push(i)
      continue
    }
    flush()
    if (p.type === 'control') continue
    if (p.type === 'unknown') {
      out[i] = unknownBytes
      if (unknownBytes > 0) written = true
      continue
    }
    let text = p.text
    if (!written && sentencePiece && text.startsWith(' ')) text = text.slice(1)
    const n = decodedByteLength(text, sentencePiece)
    out[i] = n
    if (n > 0) written = true
  }
  flush()
  return out
}

/**
 * Audits a byte table (default: the tokenizer's own) on documents of token ids, each starting
 * with BOS as stored in shards.
 */
export function auditByteCounts(
  tokenizer: Tokenizer,
  docs: Iterable<ArrayLike<number>>,
  opts: { table?: ByteTable } = {},
): ByteAudit {
  const table = opts.table ?? tokenizer.byteTable()
  const pieceCache = new Map<number, PieceInfo>()
  const info = (id: number): PieceInfo => {
    let p = pieceCache.get(id)
    if (p === undefined) {
      const type = tokenizer.pieceType(id)
      const piece = tokenizer.piece(id)
      const m = type === 'byte' ? BYTE_PIECE.exec(piece) : null
      p = { type, piece, byte: m ? parseInt(m[1], 16) : -1, text: piece.split(SPACE_SYMBOL).join(' ') }
      pieceCache.set(id, p)
    }
    return p
  }
  // SentencePiece specifics: `▁` stands for a space, and a leading space at the start is dropped.
  const sentencePiece = tokenizer.kind === 'sentencepiece'
  const unknownBytes = decodedByteLength(tokenizer.decode([tokenizer.unkId]), sentencePiece)

  const perId = new Map<number, { count: number; counted: number; decoded: number }>()
  let docCount = 0
  let tokens = 0
  let bytesCounted = 0
  let bytesDecoded = 0
  for (const doc of docs) {
    if (doc.length === 0 || doc[0] !== tokenizer.bosId) {
      throw new InputError(`document ${docCount} does not start with BOS (id ${tokenizer.bosId})`)
    }
    for (let i = 1; i < doc.length; i++) {
      const id = doc[i]
      if (!Number.isInteger(id) || id < 0 || id >= table.vocabSize) {
        throw new InputError(`document ${docCount} has token id ${id} outside the byte table (0..${table.vocabSize - 1})`)
      }
    }
    const ids = Array.from(doc)
    bytesCounted += countTargetBytes(table, ids)
    bytesDecoded += decodedByteLength(tokenizer.decode(ids.slice(1)), sentencePiece)
    tokens += ids.length - 1
    const decodedPer = decodedPerTarget(ids, info, unknownBytes, sentencePiece)
    for (let i = 1; i < ids.length; i++) {
      const id = ids[i]
      let s = perId.get(id)
      if (s === undefined) {
        s = { count: 0, counted: 0, decoded: 0 }
        perId.set(id, s)
      }
      s.count += 1
      s.counted += targetBytes(table, ids[i - 1], id)
      s.decoded += decodedPer[i]
    }
    docCount += 1
  }

  const EPS = 1e-6
  let attributed = 0
  const all: AuditOffender[] = []
  for (const [id, s] of perId) {
    const delta = s.counted - s.decoded
    attributed += delta
    if (Math.abs(delta) <= EPS) continue
    all.push({
      id,
      piece: tokenizer.piece(id),
      type: tokenizer.pieceType(id),
      count: s.count,
      bytes_counted_per: s.counted / s.count,
      bytes_decoded_per: s.decoded / s.count,
      delta: roundTiny(delta),
    })
  }
  all.sort((a, b) => Math.abs(b.delta) - Math.abs(a.delta) || a.id - b.id)
  const diff = bytesCounted - bytesDecoded
  return {
    docs: docCount,
    tokens,
    bytes_counted: bytesCounted,
    bytes_decoded: bytesDecoded,
    diff,
    unattributed: roundTiny(diff - attributed),
    offending_ids: all.length,
    offenders: all.slice(0, 10),
  }
}

/** Rounds float noise from the even spreading of multi-byte characters (e.g. 1/3 + 1/3 + 1/3). */
function roundTiny(x: number): number {
  const r = Math.round(x * 1e6) / 1e6
  return Object.is(r, -0) ? 0 : r
}

function fmt(x: number): string {
  return Number.isInteger(x) ? String(x) : x.toFixed(2)
}

function showPiece(piece: string): string {
  return JSON.stringify(piece).slice(1, -1).replace(/'/g, "\\'")
}

/** Human lines: the totals, then one line per offender. */
export function formatAudit(audit: ByteAudit): string[] {
  const pct = audit.bytes_decoded > 0 ? (100 * audit.diff) / audit.bytes_decoded : 0
  const lines = [
    `bytes by table ${audit.bytes_counted}, bytes decoded ${audit.bytes_decoded}, diff ${audit.diff} (${pct.toFixed(2)}%)`,
  ]
  for (const o of audit.offenders) {
    const decoded = o.bytes_decoded_per === undefined ? '' : `, decodes to ${fmt(o.bytes_decoded_per)}`
    lines.push(`id ${o.id} '${showPiece(o.piece)}' (${o.type}) ×${o.count}: table ${fmt(o.bytes_counted_per)} bytes${decoded}`)
  }
  if (audit.offending_ids > audit.offenders.length) {
    lines.push(`… and ${audit.offending_ids - audit.offenders.length} more ids`)
  }
  if (audit.unattributed !== 0) {
    lines.push(`${fmt(audit.unattributed)} bytes of the diff are not explained by single ids`)
  }
  return lines
}
