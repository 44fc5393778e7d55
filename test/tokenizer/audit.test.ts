import { beforeAll, describe, expect, it } from 'vitest'
import { InputError } from '../../src/errors.js'
import { countTargetBytes } from '../../src/metric/bpb.js'
import { auditByteCounts, formatAudit } from '../../src/tokenizer/audit.js'
import { Byte260Tokenizer } from '../../src/tokenizer/byte260.js'
import { loadTokenizer } from '../../src/tokenizer/index.js'
import type { SentencePieceTokenizer } from '../../src/tokenizer/sentencepiece.js'
import type { ByteTable } from '../../src/tokenizer/types.js'
import { SP1024, loadNoSpace, sampleLines } from './fixtures.js'

let sp: SentencePieceTokenizer
let docs: number[][] // the sample lines as shard documents: [BOS] + ids
beforeAll(async () => {
  sp = (await loadTokenizer(SP1024)) as SentencePieceTokenizer
  docs = sampleLines().map((line) => [sp.bosId, ...sp.encode(line)])
})

function copyTable(t: ByteTable): ByteTable {
  return {
    vocabSize: t.vocabSize,
    baseBytes: t.baseBytes.slice(),
    hasLeadingSpace: t.hasLeadingSpace.slice(),
    isBoundary: t.isBoundary.slice(),
  }
}

/** Targets (doc[1..]) satisfying `pred(prev, id)`, over all docs. */
function countTargets(ds: number[][], pred: (prev: number, id: number) => boolean): number {
  let n = 0
  for (const d of ds) for (let i = 1; i < d.length; i++) if (pred(d[i - 1], d[i])) n++
  return n
}

describe('auditByteCounts with the official table', () => {
  it('finds no difference on the SentencePiece fixture (English, accents, CJK, emoji, digits)', () => {
    const audit = auditByteCounts(sp, docs)
    expect(audit.docs).toBe(docs.length)
    expect(audit.tokens).toBe(docs.reduce((n, d) => n + d.length - 1, 0))
    expect(audit.bytes_counted).toBe(docs.reduce((n, d) => n + countTargetBytes(sp.byteTable(), d), 0))
    expect(audit.bytes_decoded).toBe(
      docs.reduce((n, d) => n + new TextEncoder().encode(sp.decode(d.slice(1))).length, 0),
    )
    expect(audit.diff).toBe(0)
    expect(audit.unattributed).toBe(0)
    expect(audit.offenders).toEqual([])
    expect(formatAudit(audit)).toEqual([
      `bytes by table ${audit.bytes_counted}, bytes decoded ${audit.bytes_counted}, diff 0 (0.00%)`,
    ])
  })

  it('finds no difference for byte260 on the same text', () => {
    const b = new Byte260Tokenizer()
    const bdocs = sampleLines().map((l) => [1, ...b.encode(l)])
    const audit = auditByteCounts(b, bdocs)
    expect(audit.bytes_decoded).toBe(sampleLines().reduce((n, l) => n + Buffer.byteLength(l), 0))
    expect([audit.diff, audit.unattributed, audit.offenders.length]).toEqual([0, 0, 0])
  })

  it('shows where the official rule and the decoder disagree: a leading ▁ right after BOS', () => {
    const space = sp.model.pieces.findIndex((p) => p.piece === '▁')
    const the = sp.model.pieces.findIndex((p) => p.piece === '▁the')
    // table: "▁" after BOS 0, "▁the" after "▁" 3 + 1; SentencePiece decodes "the" (3 bytes)
    const audit = auditByteCounts(sp, [[sp.bosId, space, the]])
    expect([audit.bytes_counted, audit.bytes_decoded, audit.diff, audit.unattributed]).toEqual([4, 3, 1, 0])
    expect(audit.offenders).toEqual([
      { id: the, piece: '▁the', type: 'normal', count: 1, bytes_counted_per: 4, bytes_decoded_per: 3, delta: 1 },
    ])
  })
})

describe('auditByteCounts catches the known scoring bugs', () => {
  it('(a) a table that counts the leading space twice', () => {
    const official = sp.byteTable()
    const buggy = copyTable(official)
    for (let id = 0; id < buggy.vocabSize; id++) if (buggy.hasLeadingSpace[id]) buggy.baseBytes[id] += 1
    const audit = auditByteCounts(sp, docs, { table: buggy })
    const expected = countTargets(docs, (prev, id) => official.hasLeadingSpace[id] === 1 && !official.isBoundary[prev])
    expect(expected).toBeGreaterThan(1000)
    expect(audit.diff).toBe(expected)
    expect(audit.diff / audit.bytes_decoded).toBeGreaterThan(0.1) // roughly one byte per word
    expect(audit.unattributed).toBe(0)
    expect(audit.offenders).toHaveLength(10)
    for (const o of audit.offenders) {
      expect(o.piece.startsWith('▁')).toBe(true)
      expect(o.bytes_counted_per - o.bytes_decoded_per!).toBeCloseTo(1, 9)
      expect(o.delta).toBe(o.count)
    }
    expect(audit.offenders[0].piece).toBe('▁the')
    expect(audit.offending_ids).toBeGreaterThan(10)
  })

  it('(b) byte-fallback pieces counted as 3 bytes', () => {
    const buggy = copyTable(sp.byteTable())
    for (let id = 4; id < 260; id++) buggy.baseBytes[id] = 3
    const audit = auditByteCounts(sp, docs, { table: buggy })
    const byteTargets = countTargets(docs, (_prev, id) => id >= 4 && id < 260)
    expect(byteTargets).toBeGreaterThan(50)
    expect(audit.diff).toBe(2 * byteTargets)
    expect(audit.unattributed).toBe(0)
    for (const o of audit.offenders) {
      expect(o.type).toBe('byte')
      expect(o.piece).toMatch(/^<0x[0-9A-F]{2}>$/)
      expect(o.bytes_counted_per).toBe(3)
      expect(o.bytes_decoded_per).toBeCloseTo(1, 9)
    }
    const lines = formatAudit(audit)
    expect(lines[1]).toMatch(/^id \d+ '<0x[0-9A-F]{2}>' \(byte\) ×\d+: table 3 bytes, decodes to 1$/)
  })

  it('(c) a vocabulary with no standalone ▁: spaces fall back to the bytes of "▁", counted 3 for 1', async () => {
    const ns = await loadNoSpace()
    const nsDocs = sampleLines().map((l) => [ns.bosId, ...ns.encode(l)])
    let fallbackSpaces = 0
    for (const d of nsDocs) {
      for (let i = 1; i + 2 < d.length; i++) if (d[i] === 230 && d[i + 1] === 154 && d[i + 2] === 133) fallbackSpaces++
    }
    expect(fallbackSpaces).toBeGreaterThan(20)
    const audit = auditByteCounts(ns, nsDocs)
    expect(audit.diff).toBe(2 * fallbackSpaces)
    expect(audit.unattributed).toBe(0)
    expect(audit.offenders.map((o) => o.piece).sort()).toEqual(['<0x81>', '<0x96>', '<0xE2>'])
    const o81 = audit.offenders.find((o) => o.id === 133)!
    expect(o81).toMatchObject({ type: 'byte', bytes_counted_per: 1 })
    expect(o81.bytes_decoded_per!).toBeLessThan(1)
  })

  it('(c) a table that counts the "▁" piece as its 3 UTF-8 bytes', () => {
    const space = sp.model.pieces.findIndex((p) => p.piece === '▁')
    const buggy = copyTable(sp.byteTable())
    buggy.baseBytes[space] = 3
    buggy.hasLeadingSpace[space] = 0
    const audit = auditByteCounts(sp, docs, { table: buggy })
    const lone = countTargets(docs, (_prev, id) => id === space)
    expect(lone).toBeGreaterThan(10)
    expect(audit.diff).toBe(2 * lone)
    expect(audit.offenders).toEqual([
      { id: space, piece: '▁', type: 'normal', count: lone, bytes_counted_per: 3, bytes_decoded_per: 1, delta: 2 * lone },
    ])
    expect(formatAudit(audit)[1]).toBe(`id ${space} '▁' (normal) ×${lone}: table 3 bytes, decodes to 1`)
  })
})

describe('formatAudit', () => {
  it('prints totals with the percentage and one line per offender', () => {
    const b = new Byte260Tokenizer()
    const buggy = copyTable(b.byteTable())
    buggy.baseBytes[0x20 + 4] = 3 // a space counted as 3 bytes
    const audit = auditByteCounts(b, [[1, ...b.encode('a b c')]], { table: buggy })
    expect(formatAudit(audit)).toEqual([
      'bytes by table 9, bytes decoded 5, diff 4 (80.00%)',
      "id 36 '<0x20>' (byte) ×2: table 3 bytes, decodes to 1",
    ])
  })
})

describe('auditByteCounts input checks', () => {
  it('rejects a document that does not start with BOS', () => {
    expect(() => auditByteCounts(sp, [[1, 300], [300, 301]])).toThrow(new InputError('document 1 does not start with BOS (id 1)'))
  })

  it('rejects ids outside the table', () => {
    expect(() => auditByteCounts(sp, [[1, 5000]])).toThrow('document 0 has token id 5000 outside the byte table (0..1023)')
  })

  it('accepts typed arrays and empty documents', () => {
    const audit = auditByteCounts(sp, [Uint16Array.from(docs[0]), [1]])
    expect(audit.docs).toBe(2)
    expect(audit.diff).toBe(0)
  })
})
