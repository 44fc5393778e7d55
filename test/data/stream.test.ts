import {mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {basename, join} from 'node:path'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'
import {shardFileName, writeShard} from '../../src/data/shard.js'
import {countValidationTokens, loadValidationByteCounts, loadValidationSlice, loadValidationTokens, MAX_TOKEN_BYTES, TokenStream} from '../../src/data/stream.js'
import {InputError} from '../../src/errors.js'
import {countTargetBytes} from '../../src/metric/bpb.js'
import {Byte260Tokenizer} from '../../src/tokenizer/byte260.js'

let dir: string
let files: string[]
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'golf-stream-'))
  // three shards: 0..4, 100..102, 200..205
  const contents = [[0, 1, 2, 3, 4], [100, 101, 102], [200, 201, 202, 203, 204, 205]]
  files = contents.map((c, i) => {
    const p = join(dir, shardFileName('train', i))
    writeShard(p, Uint16Array.from(c))
    return p
  })
})
afterEach(() => rmSync(dir, {recursive: true, force: true}))

describe('TokenStream', () => {
  it('walks shards in order and wraps to the first', () => {
    const s = new TokenStream(files)
    expect(Array.from(s.take(4))).toEqual([0, 1, 2, 3])
    expect(Array.from(s.take(5))).toEqual([4, 100, 101, 102, 200])
    expect(Array.from(s.take(7))).toEqual([201, 202, 203, 204, 205, 0, 1])
    expect(s.state()).toEqual({file: 0, pos: 2})
    expect(Array.from(s.take(0))).toEqual([])
  })

  it('takes more than the whole dataset, wrapping several times', () => {
    const s = new TokenStream(files.slice(1, 2))
    expect(Array.from(s.take(8))).toEqual([100, 101, 102, 100, 101, 102, 100, 101])
  })

  it('resumes bit for bit from a saved state (through JSON)', () => {
    const a = new TokenStream(files)
    a.take(6)
    const saved = JSON.parse(JSON.stringify(a.state()))
    expect(saved).toEqual({file: 1, pos: 1})
    const expected = Array.from(a.take(20))
    const b = new TokenStream(files)
    b.restore(saved)
    expect(Array.from(b.take(20))).toEqual(expected)
  })

  it('a position at the very end of a shard resumes into the next', () => {
    const a = new TokenStream(files)
    a.take(5)
    expect(a.state()).toEqual({file: 0, pos: 5})
    const b = new TokenStream(files)
    b.restore({file: 0, pos: 5})
    expect(Array.from(b.take(2))).toEqual([100, 101])
  })

  it('rejects bad states and vocab violations', () => {
    const s = new TokenStream(files)
    expect(() => s.restore({file: 3, pos: 0})).toThrow(/saved shard index 3 is out of range \(3 shard\(s\)\)/)
    expect(() => s.restore({file: 1, pos: 4})).toThrow(/saved position 4 is past the end of .*fineweb_train_000001\.bin \(3 tokens\)/)
    expect(() => new TokenStream([])).toThrow(/no shard files/)
    expect(() => new TokenStream(files, {vocabSize: 150}).take(10)).toThrow(/token id 200 at position 0 is out of range for vocab size 150/)
  })

  it('fails instead of looping forever when every shard is empty', () => {
    const p = join(dir, 'fineweb_train_000009.bin')
    writeShard(p, new Uint16Array(0))
    expect(() => new TokenStream([p, p]).take(1)).toThrow(/all 2 shard\(s\) are empty/)
  })
})

describe('loadValidationTokens', () => {
  beforeEach(() => {
    writeShard(join(dir, shardFileName('val', 1)), Uint16Array.from([7, 8, 9]))
    writeShard(join(dir, shardFileName('val', 0)), Uint16Array.from([1, 5, 6]))
  })

  it('concatenates val shards in name order', () => {
    expect(Array.from(loadValidationTokens(dir))).toEqual([1, 5, 6, 7, 8, 9])
  })

  it('truncates to maxTokens', () => {
    expect(Array.from(loadValidationTokens(dir, {maxTokens: 4}))).toEqual([1, 5, 6, 7])
    expect(Array.from(loadValidationTokens(dir, {maxTokens: 2}))).toEqual([1, 5])
  })

  it('says how much of the split it read: the whole split, or partial', () => {
    expect(countValidationTokens(dir)).toBe(6)
    const whole = loadValidationSlice(dir)
    expect([Array.from(whole.tokens), whole.coverage]).toEqual([[1, 5, 6, 7, 8, 9], {read_tokens: 6, split_tokens: 6, partial: false}])
    expect(loadValidationSlice(dir, {maxTokens: null}).coverage.partial).toBe(false)
    expect(loadValidationSlice(dir, {maxTokens: 6}).coverage).toEqual({read_tokens: 6, split_tokens: 6, partial: false})
    expect(loadValidationSlice(dir, {maxTokens: 100}).coverage).toEqual({read_tokens: 6, split_tokens: 6, partial: false})
    const part = loadValidationSlice(dir, {maxTokens: 4})
    expect([Array.from(part.tokens), part.coverage]).toEqual([[1, 5, 6, 7], {read_tokens: 4, split_tokens: 6, partial: true}])
  })

  it('errors without val shards', () => {
    const empty = mkdtempSync(join(tmpdir(), 'golf-empty-'))
    try {
      expect(() => loadValidationTokens(empty)).toThrow(/no validation shards \(fineweb_val_\*\.bin\) in/)
    } finally {
      rmSync(empty, {recursive: true})
    }
  })
})

describe('validation byte sidecars (CaseOps fineweb_val_bytes_*.bin)', () => {
  const table = new Byte260Tokenizer().byteTable()
  /** The sidecar's counts, written with golf's shard writer as files of the given sizes. */
  const writeSidecar = (counts: number[], sizes: number[] = [counts.length]) => {
    let at = 0
    return sizes.map((n, i) => {
      const p = join(dir, `fineweb_val_bytes_${String(i).padStart(6, '0')}.bin`)
      writeShard(p, Uint16Array.from(counts.slice(at, at + n)))
      at += n
      return p
    })
  }
  /** The thrown error, to check its class, exit code and single line. */
  const thrown = (f: () => unknown): InputError => {
    try {
      f()
    } catch (err) {
      return err as InputError
    }
    throw new Error('did not throw')
  }

  beforeEach(() => {
    // val stream [BOS a b c BOS d] in two shards: ids are byte260 (byte b → b + 4)
    writeShard(join(dir, shardFileName('val', 0)), Uint16Array.from([1, 101, 102, 103]))
    writeShard(join(dir, shardFileName('val', 1)), Uint16Array.from([1, 104]))
  })

  it('are not validation tokens; their counts come aligned with the tokens, cut to them', () => {
    const files = writeSidecar([0, 3, 1, 2, 0, 4], [3, 3]) // files split elsewhere than the shards: the stream is what aligns
    expect(Array.from(loadValidationTokens(dir))).toEqual([1, 101, 102, 103, 1, 104])
    expect(countValidationTokens(dir)).toBe(6)
    const s = loadValidationSlice(dir, {table, bosId: 1})
    expect(Array.from(s.tokens)).toEqual([1, 101, 102, 103, 1, 104])
    expect(Array.from(s.tokenBytes!)).toEqual([0, 3, 1, 2, 0, 4])
    expect(s.byteSidecars).toEqual(files)
    // targets are positions 1..5: 3 + 1 + 2 + 0 + 4, where the table counts 1 + 1 + 1 + 0 + 1
    expect(countTargetBytes(s.byteTable, s.tokens)).toBe(10)
    expect(countTargetBytes(table, s.tokens)).toBe(4)
    const part = loadValidationSlice(dir, {table, maxTokens: 3})
    expect(Array.from(part.tokenBytes!)).toEqual([0, 3, 1])
    expect(countTargetBytes(part.byteTable, part.tokens)).toBe(4)
    expect(() => countTargetBytes(part.byteTable, s.tokens)).toThrow(/aligned with another token array/)
    // a sidecar longer than the split is cut to it, as the official loader does
    writeSidecar([0, 3, 1, 2, 0, 4, 9, 9])
    rmSync(files[1])
    expect(Array.from(loadValidationSlice(dir).tokenBytes!)).toEqual([0, 3, 1, 2, 0, 4])
  })

  it('without sidecars: the table itself, no counts', () => {
    const s = loadValidationSlice(dir, {table, bosId: 1})
    expect(s.byteTable).toBe(table)
    expect([s.tokenBytes, s.byteSidecars]).toEqual([null, []])
    expect(loadValidationByteCounts(dir, s.tokens)).toBeNull()
  })

  it('a sidecar shorter than the validation split: one line naming it, exit 2', () => {
    const [file] = writeSidecar([0, 3, 1, 2, 0])
    for (const maxTokens of [undefined, 2]) {
      const err = thrown(() => loadValidationSlice(dir, {table, maxTokens}))
      expect(err).toBeInstanceOf(InputError)
      expect(err.exitCode).toBe(2)
      expect(err.message).toBe(`byte sidecar ${file}: 5 byte counts for the 6 validation tokens; it needs one count per validation token`)
    }
    writeSidecar([0, 3, 1, 2, 0], [3, 2])
    expect(thrown(() => loadValidationSlice(dir)).message).toBe(`byte sidecar ${join(dir, 'fineweb_val_bytes_*.bin')} (2 files): 5 byte counts for the 6 validation tokens; it needs one count per validation token`)
  })

  it('a corrupt sidecar: the shard reader\'s one line naming it, before anything is allocated', () => {
    const [file] = writeSidecar([0, 3, 1, 2, 0, 4])
    const bytes = readFileSync(file)
    writeFileSync(file, Buffer.concat([Buffer.alloc(4), bytes.subarray(4)])) // magic 0
    let err = thrown(() => loadValidationSlice(dir, {table}))
    expect([err instanceof InputError, err.message]).toEqual([true, `shard ${file}: wrong magic 0 (expected 20240520); not a shard file`])
    const huge = Buffer.from(bytes)
    huge.writeInt32LE(2 ** 30, 8) // a header claiming 2^30 counts: refused by the size check, never allocated
    writeFileSync(file, huge)
    err = thrown(() => loadValidationSlice(dir, {table}))
    expect(err.message).toBe(`shard ${file}: header says ${2 ** 30} tokens (${1024 + 2 ** 31} bytes) but file has ${bytes.length} bytes`)
    expect(err.message).not.toContain('\n')
  })

  it('implausible counts: more than MAX_TOKEN_BYTES for a token, or bytes given to a BOS', () => {
    const [file] = writeSidecar([0, 3, 1, MAX_TOKEN_BYTES + 1, 0, 4])
    let err = thrown(() => loadValidationSlice(dir, {table}))
    expect([err instanceof InputError, err.message]).toEqual([true, `byte sidecar ${file}: position 3 gives a token 2049 bytes, more than any token holds (at most 2048: 512 characters of 4 UTF-8 bytes); not a byte sidecar of ${basename(dir)}'s validation tokens`])
    writeSidecar([0, 3, 1, MAX_TOKEN_BYTES, 0, 4])
    expect(loadValidationSlice(dir, {table}).tokenBytes![3]).toBe(2048)
    // shifted by one: the second document's BOS (stream position 4, position 1 of the second file) gets bytes
    const files = writeSidecar([0, 0, 3, 1, 2, 0], [3, 3])
    err = thrown(() => loadValidationSlice(dir, {table, bosId: 1}))
    expect([err instanceof InputError, err.message]).toEqual([true, `byte sidecar ${files[1]}: position 1 is a document's BOS but is given 2 bytes; the counts are not aligned with the validation tokens`])
    expect(loadValidationSlice(dir, {table}).tokenBytes).not.toBeNull() // without the BOS id there is nothing to check it against
  })
})
