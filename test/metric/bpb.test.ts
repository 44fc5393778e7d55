import { describe, expect, it } from 'vitest'
import { BpbAccumulator, bitsPerByte, countTargetBytes, requireStreamBytes, targetBytes, withStreamBytes } from '../../src/metric/bpb.js'
import { Byte260Tokenizer } from '../../src/tokenizer/byte260.js'
import { buildByteTable } from '../../src/tokenizer/sentencepiece.js'
import type { PieceType } from '../../src/tokenizer/types.js'

// A small vocabulary with one piece for every rule of the official table.
const PIECES: Array<{ piece: string; type: PieceType }> = [
  { piece: '<pad>', type: 'control' }, // 0
  { piece: '<s>', type: 'control' }, // 1  BOS
  { piece: '</s>', type: 'control' }, // 2
  { piece: '<unk>', type: 'unknown' }, // 3
  { piece: '<0x41>', type: 'byte' }, // 4
  { piece: '<0xE2>', type: 'byte' }, // 5
  { piece: '▁', type: 'normal' }, // 6  lone space
  { piece: '▁the', type: 'normal' }, // 7
  { piece: 'cat', type: 'normal' }, // 8
  { piece: 'é', type: 'normal' }, // 9  2 UTF-8 bytes
  { piece: '▁日本', type: 'normal' }, // 10 6 UTF-8 bytes + space
  { piece: '😀', type: 'normal' }, // 11 4 UTF-8 bytes
  { piece: 'spare', type: 'unused' }, // 12
  { piece: '▁▁', type: 'normal' }, // 13 only ONE leading ▁ is stripped
  { piece: '▁x', type: 'user_defined' }, // 14
]
const table = buildByteTable(PIECES)

describe('official byte table rules', () => {
  it('control, unknown and unused pieces count 0 bytes and are boundaries', () => {
    for (const id of [0, 1, 2, 3, 12]) {
      expect([table.baseBytes[id], table.hasLeadingSpace[id], table.isBoundary[id]]).toEqual([0, 0, 1])
      expect(targetBytes(table, 8, id)).toBe(0)
    }
  })

  it('byte pieces count 1 byte whatever their text', () => {
    expect([table.baseBytes[4], table.hasLeadingSpace[4], table.isBoundary[4]]).toEqual([1, 0, 0])
    expect(targetBytes(table, 8, 5)).toBe(1)
    expect(targetBytes(table, 1, 5)).toBe(1)
  })

  it('a leading ▁ adds 1 byte after a normal token and 0 after BOS or another boundary', () => {
    expect([table.baseBytes[7], table.hasLeadingSpace[7], table.isBoundary[7]]).toEqual([3, 1, 0])
    expect(targetBytes(table, 8, 7)).toBe(4) // "cat" then " the"
    expect(targetBytes(table, 4, 7)).toBe(4) // after a byte piece: not a boundary
    expect(targetBytes(table, 1, 7)).toBe(3) // after BOS
    expect(targetBytes(table, 3, 7)).toBe(3) // after <unk>
    expect(targetBytes(table, 12, 7)).toBe(3) // after an unused piece
  })

  it('a lone ▁ counts 1 byte after a normal token, 0 after BOS', () => {
    expect([table.baseBytes[6], table.hasLeadingSpace[6]]).toEqual([0, 1])
    expect(targetBytes(table, 8, 6)).toBe(1)
    expect(targetBytes(table, 1, 6)).toBe(0)
  })

  it('multi-byte pieces count their UTF-8 length', () => {
    expect(targetBytes(table, 8, 9)).toBe(2) // é
    expect(targetBytes(table, 8, 10)).toBe(7) // ▁日本: 6 + 1
    expect(targetBytes(table, 1, 10)).toBe(6)
    expect(targetBytes(table, 8, 11)).toBe(4) // 😀
  })

  it('strips only one leading ▁; user-defined pieces follow the normal rule', () => {
    expect([table.baseBytes[13], table.hasLeadingSpace[13]]).toEqual([3, 1]) // the second ▁ is 3 UTF-8 bytes
    expect([table.baseBytes[14], table.hasLeadingSpace[14], table.isBoundary[14]]).toEqual([1, 1, 0])
  })

  it('a table wider than the vocabulary leaves the extra ids as 0-byte boundaries', () => {
    const wide = buildByteTable(PIECES, 20)
    expect(wide.vocabSize).toBe(20)
    expect(Array.from(wide.baseBytes.subarray(15))).toEqual([0, 0, 0, 0, 0])
    expect(Array.from(wide.isBoundary.subarray(15))).toEqual([1, 1, 1, 1, 1])
    expect(Array.from(wide.baseBytes.subarray(0, 15))).toEqual(Array.from(table.baseBytes))
  })

  it('byte260: bytes count 1, specials 0 and are boundaries', () => {
    const t = new Byte260Tokenizer().byteTable()
    expect(t.vocabSize).toBe(260)
    expect(Array.from(t.baseBytes.subarray(0, 4))).toEqual([0, 0, 0, 0])
    expect(Array.from(t.isBoundary.subarray(0, 4))).toEqual([1, 1, 1, 1])
    expect(t.baseBytes.subarray(4).every((b) => b === 1)).toBe(true)
    expect(t.isBoundary.subarray(4).every((b) => b === 0)).toBe(true)
    expect(t.hasLeadingSpace.every((b) => b === 0)).toBe(true)
    // "é!" = C3 A9 21 after BOS
    expect(countTargetBytes(t, [1, 0xc3 + 4, 0xa9 + 4, 0x21 + 4])).toBe(3)
  })
})

describe('countTargetBytes', () => {
  // BOS "cat" " the" "é" " " "▁日本" <unk> " the" "<0x41>"
  const tokens = [1, 8, 7, 9, 6, 10, 3, 7, 4]
  it('sums the targets tokens[1..] with their previous token', () => {
    // 3 + 4 + 2 + 1 + 7 + 0 + 3 (after unk) + 1
    expect(countTargetBytes(table, tokens)).toBe(21)
  })
  it('counts a sub-range [start, end) using the token before start as context', () => {
    expect(countTargetBytes(table, tokens, 2, 4)).toBe(6) // " the", "é"
    expect(countTargetBytes(table, tokens, 7)).toBe(4) // " the" after <unk> (3), then 1
    expect(countTargetBytes(table, tokens, 5, 5)).toBe(0)
    expect(countTargetBytes(table, Int32Array.from(tokens))).toBe(21)
  })
  it('rejects a range with no previous token or past the end', () => {
    expect(() => countTargetBytes(table, tokens, 0)).toThrow(/start must be ≥ 1/)
    expect(() => countTargetBytes(table, tokens, 1, 10)).toThrow(/past the 9 tokens/)
  })
})

describe("countTargetBytes with a stream's byte counts (byte sidecars)", () => {
  // BOS "cat" " the" "é" " " "▁日本" <unk> " the" "<0x41>", and a sidecar's counts for each position
  const tokens = Uint16Array.from([1, 8, 7, 9, 6, 10, 3, 7, 4])
  const bytes = Uint16Array.from([0, 5, 4, 2, 1, 9, 3, 4, 1])
  const bound = withStreamBytes(table, tokens, bytes)

  it('sums the counts of the target positions [start, end), not the table', () => {
    expect(countTargetBytes(table, tokens)).toBe(21)
    expect(countTargetBytes(bound, tokens)).toBe(5 + 4 + 2 + 1 + 9 + 3 + 4 + 1)
    expect(countTargetBytes(bound, tokens, 2, 4)).toBe(4 + 2)
    expect(countTargetBytes(bound, tokens, 5, 5)).toBe(0)
  })

  it('a subarray of the stream is counted at its place in the stream', () => {
    const view = tokens.subarray(3, 8) // stream positions 3..7
    expect(countTargetBytes(bound, view)).toBe(1 + 9 + 3 + 4) // positions 4..7
    expect(countTargetBytes(bound, view, 2, 3)).toBe(9) // position 5
    expect(countTargetBytes(bound, tokens.subarray(0))).toBe(countTargetBytes(bound, tokens))
  })

  it('refuses tokens the counts are not aligned with: a copy, another array, a plain list', () => {
    expect(() => countTargetBytes(bound, tokens.slice())).toThrow(/aligned with another token array/)
    expect(() => countTargetBytes(bound, Array.from(tokens))).toThrow(/aligned with another token array/)
    expect(() => countTargetBytes(bound, Int32Array.from(tokens))).toThrow(/aligned with another token array/)
    expect(() => withStreamBytes(table, tokens, bytes.subarray(1))).toThrow(/8 byte counts for 9 tokens/)
  })

  it("a view outside the stream's own span of a shared buffer is refused", () => {
    const buffer = Uint16Array.from([1, 8, 7, 9, 6, 10, 3, 7, 4, 1, 8])
    const stream = buffer.subarray(0, 9)
    const b = withStreamBytes(table, stream, bytes)
    expect(countTargetBytes(b, buffer.subarray(2, 9))).toBe(2 + 1 + 9 + 3 + 4 + 1)
    expect(() => countTargetBytes(b, buffer.subarray(5, 11))).toThrow(/aligned with another token array/)
    expect(() => countTargetBytes(b, buffer)).toThrow(/aligned with another token array/)
  })

  it("a dataset's table marked as having sidecars counts nothing until bound", () => {
    const marked = requireStreamBytes(table, ['/d/fineweb_val_bytes_000000.bin'])
    expect(() => countTargetBytes(marked, tokens)).toThrow(/byte sidecars \(1 file\(s\)\)/)
    expect(() => targetBytes(marked, 8, 7)).toThrow(/use countTargetBytes/)
    expect(() => targetBytes(bound, 8, 7)).toThrow(/use countTargetBytes/)
    expect(countTargetBytes(withStreamBytes(marked, tokens, bytes), tokens)).toBe(countTargetBytes(bound, tokens))
    // binding copies: the table itself is not changed
    expect(countTargetBytes(table, tokens)).toBe(21)
  })
})

describe('bits per byte', () => {
  it('is (loss / ln 2) × (tokens / bytes)', () => {
    expect(bitsPerByte(2 * Math.LN2, 3, 4)).toBe(1.5)
    expect(bitsPerByte(Math.LN2, 1, 1)).toBe(1)
    // Same float64 operations as the official Python: (2.0727 / math.log(2)) * (1e6 / 2.436e6).
    expect(bitsPerByte(2.0727, 1_000_000, 2_436_000)).toBe(1.227534487377075)
  })

  it('rejects a zero byte count', () => {
    expect(() => bitsPerByte(1, 1, 0)).toThrow(/must be positive/)
  })

  it('accumulates loss sums, tokens and bytes over batches', () => {
    const acc = new BpbAccumulator()
    acc.add(6 * Math.LN2, 4, 10) // 1.5 bits per token
    acc.add(2 * Math.LN2, 4, 6)
    expect(acc.tokens).toBe(8)
    expect(acc.bytes).toBe(16)
    const r = acc.result()
    expect(r.val_loss).toBe(Math.LN2) // 8 ln2 / 8
    expect(r.val_bpb).toBe(0.5) // 1 bit per token × 8/16
    expect(r).toEqual({ val_loss: Math.LN2, val_bpb: 0.5, tokens: 8, bytes: 16 })
  })

  it('sums in float64 (counts past float32 precision stay exact)', () => {
    const acc = new BpbAccumulator()
    acc.add(1, 2 ** 30, 2 ** 31)
    acc.add(0.5, 1, 3)
    expect(acc.tokens).toBe(2 ** 30 + 1) // not representable in float32
    expect(acc.bytes).toBe(2 ** 31 + 3)
    expect(acc.result().val_loss).toBe(1.5 / (2 ** 30 + 1))
  })

  it('throws when no bytes were counted', () => {
    const acc = new BpbAccumulator()
    expect(() => acc.result()).toThrow(/no target bytes/)
    acc.add(1, 1, 0)
    expect(() => acc.result()).toThrow(/no target bytes/)
  })
})
