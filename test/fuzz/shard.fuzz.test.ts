/**
 * Fuzzing the shard reader: random files, mutated valid shards and header words set to hostile
 * values (token count, magic, version). The reader takes a path, so each input is written to a
 * temporary file. Each read returns exactly the tokens the file holds (1024 + 2·N bytes), or
 * refuses with one InputError line.
 */
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import fc from 'fast-check'
import {afterAll, describe, expect, it} from 'vitest'

import {HEADER_BYTES, SHARD_MAGIC, encodeShard, readShard, readShardHeader} from '../../src/data/shard.js'
import {concat, decodesOrRefuses, mutate, mutationsArb, runs} from './helpers.js'

const dir = mkdtempSync(join(tmpdir(), 'golf-fuzz-shard-'))
afterAll(() => rmSync(dir, {recursive: true, force: true}))
const path = join(dir, 'fineweb_train_000000.bin')

function readBounded(bytes: Uint8Array, vocabSize?: number): void {
  writeFileSync(path, bytes)
  const header = decodesOrRefuses('shard header', () => readShardHeader(path))
  const tokens = decodesOrRefuses('shard', () => readShard(path, {vocabSize}))
  if (tokens === undefined) return
  // What was allocated is what the file holds, no more.
  expect(HEADER_BYTES + 2 * tokens.length).toBe(bytes.length)
  expect(header?.tokenCount).toBe(tokens.length)
  if (vocabSize !== undefined) for (const t of tokens) expect(t).toBeLessThan(vocabSize)
}

const valid = [Uint16Array.of(), Uint16Array.of(1, 2, 3), Uint16Array.from({length: 300}, (_, i) => (i * 7919) % 1024)].map((t) => concat(...encodeShard(t)))

describe('fuzz: shard reader', () => {
  it('random files', () => {
    fc.assert(fc.property(fc.uint8Array({maxLength: 1200}), (bytes) => readBounded(bytes)), {numRuns: runs(150)})
  })

  it('mutated valid shards, with and without a vocabulary check', () => {
    fc.assert(
      fc.property(fc.nat({max: valid.length - 1}), mutationsArb, fc.option(fc.integer({min: 1, max: 70_000})), (i, muts, vocab) => readBounded(mutate(valid[i], muts), vocab ?? undefined)),
      {numRuns: runs(300)},
    )
  })

  it('header words set to hostile values (token count, magic, version)', () => {
    fc.assert(
      fc.property(
        fc.nat({max: valid.length - 1}),
        fc.integer({min: 0, max: 2}),
        fc.oneof(fc.integer({min: -2, max: 400}), fc.constantFrom(-(2 ** 31), 2 ** 31 - 1, 2 ** 30, SHARD_MAGIC, 1)),
        (i, word, value) => {
          const b = valid[i].slice()
          new DataView(b.buffer).setInt32(4 * word, value, true)
          readBounded(b)
        },
      ),
      {numRuns: runs(200)},
    )
  })
})
