import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'
import {shardFileName, writeShard} from '../../src/data/shard.js'
import {countValidationTokens, loadValidationSlice, loadValidationTokens, TokenStream} from '../../src/data/stream.js'

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
