/**
 * The leakage audit: planted validation documents are found with the exact count (across shard
 * and chunk ends), a forced hash collision is rejected by exact comparison, short documents are
 * skipped, the built-in corpus is clean, and bad input is one line naming the file.
 */
import {mkdirSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {prepareDataset} from '../../src/data/dataset.js'
import {auditLeakage, DEFAULT_DOC_HASH, describeLeakage, MIN_DOC_TOKENS, type DocHash} from '../../src/data/leakage.js'
import {ShardWriter, shardFileName, writeShard} from '../../src/data/shard.js'
import {InputError} from '../../src/errors.js'
import {runCli} from '../helpers/cli.js'

const BOS = 1
let dir: string

/** A document's tokens after its BOS: byte260 ids 4..259 from a small LCG, never BOS. */
function body(seed: number, length: number): number[] {
  let x = (seed * 2654435761) >>> 0
  return Array.from({length}, () => {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0
    return 4 + (x >>> 24)
  })
}
const withBos = (t: number[]) => [BOS, ...t]

/** Write a dataset folder: val and train documents (bodies), tiny shards so documents cross shard ends. */
function writeDataset(name: string, val: number[][], train: number[][], shardTokens = 500): string {
  const out = join(dir, name)
  mkdirSync(out)
  for (const [split, docs] of [['val', val], ['train', train]] as const) {
    const w = new ShardWriter(out, split, {shardTokens})
    for (const d of docs) w.add(withBos(d))
    w.close()
  }
  return out
}

// 20 validation documents of 40–229 tokens; the training split has 60 others of the same lengths
// (so a length-only hash collides), plus val 3, 7 (twice) and 11 planted, a prefix of val 5 and
// val 9 with one token more (neither is val 5 or val 9), and a 5-token val document planted.
const VAL = Array.from({length: 20}, (_, i) => body(1000 + i, 40 + 10 * i))
const SHORT = body(77, 5)
const TRAIN_OTHERS = Array.from({length: 60}, (_, i) => body(5000 + i, 40 + 10 * (i % 20)))
let leaky: string
let clean: string

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'golf-leakage-'))
  const train = [...TRAIN_OTHERS.slice(0, 20), VAL[3], ...TRAIN_OTHERS.slice(20, 40), VAL[7], VAL[5].slice(0, 30), SHORT, [...VAL[9], 200], VAL[11], ...TRAIN_OTHERS.slice(40), VAL[7]]
  leaky = writeDataset('leaky', [...VAL, SHORT], train)
  clean = writeDataset('clean', [...VAL, SHORT], TRAIN_OTHERS)
})
afterAll(() => rmSync(dir, {recursive: true, force: true}))

describe('auditLeakage', () => {
  it('finds the planted validation documents: exact count, across shard and chunk ends', async () => {
    for (const chunkTokens of [64, 333, 1 << 22]) {
      const r = await auditLeakage(leaky, {chunkTokens})
      expect(r.found, `chunk ${chunkTokens}`).toBe(3)
      expect(r.occurrences).toBe(4) // val 7 is in training twice
      expect(r.hash_collisions).toBe(0)
      expect(r.examples.map((e) => e.val_doc)).toEqual([3, 7, 11])
      expect(r.complete).toBe(true)
      expect(r.val).toMatchObject({docs: 21, docs_checked: 20, docs_short: 1, tokens_outside: 0})
      expect(r.train.files).toBeGreaterThan(5)
      expect(r.train).toMatchObject({files_scanned: r.train.files, tokens_scanned: r.train.tokens, docs: 67})
    }
  })

  it('names where a leaked document is: its BOS in each shard', async () => {
    const r = await auditLeakage(leaky)
    const e = r.examples[0]
    expect(e.tokens).toBe(VAL[3].length)
    // val 3's BOS: after val 0..2 (each with its BOS) in a stream of 500-token shards
    const valAt = [0, 1, 2].reduce((n, i) => n + VAL[i].length + 1, 0)
    expect([e.val_shard, e.val_pos]).toEqual([shardFileName('val', Math.floor(valAt / 500)), valAt % 500])
    const trainAt = TRAIN_OTHERS.slice(0, 20).reduce((n, d) => n + d.length + 1, 0)
    expect([e.train_shard, e.train_pos]).toEqual([shardFileName('train', Math.floor(trainAt / 500)), trainAt % 500])
  })

  it('a clean dataset: 0 found, and the summary says what was scanned', async () => {
    const r = await auditLeakage(clean)
    expect(r.found).toBe(0)
    expect(describeLeakage(r)).toBe(
      `20 of 21 validation documents (${r.val.tokens.toLocaleString('en-US')} tokens; 1 shorter than ${MIN_DOC_TOKENS} tokens not checked) hashed and looked up in all 60 documents of the ${r.train.files} train shards (${r.train.tokens.toLocaleString('en-US')} tokens): 0 found`,
    )
  })

  it('a forced hash collision is rejected by exact comparison: never counted as found', async () => {
    // every document of the same length gets the same key
    const weak: DocHash = {name: 'length only', reset: () => {}, update: () => {}, key: (_s, length) => length}
    const r = await auditLeakage(clean, {hash: weak})
    expect(r.found).toBe(0)
    expect(r.hash_collisions).toBe(60) // each of the 60 training documents has a validation twin in length
    const l = await auditLeakage(leaky, {hash: weak})
    expect([l.found, l.occurrences]).toEqual([3, 4])
    expect(l.hash_collisions).toBe(60) // the planted ones match; the prefix is short, val 9 + 1 token has no twin in length
    expect(describeLeakage(l)).toContain('hash hits rejected by exact comparison')
  })

  it(`skips documents shorter than ${MIN_DOC_TOKENS} tokens; --min-tokens 5 checks the planted 5-token one`, async () => {
    expect((await auditLeakage(leaky)).train.docs_short).toBe(2) // the 30-token prefix and the 5-token document
    const r = await auditLeakage(leaky, {minTokens: 5})
    expect(r.found).toBe(4)
    expect(r.val.docs_short).toBe(0)
    expect(r.examples.map((e) => e.val_doc)).toEqual([3, 7, 20, 11])
  })

  it('stops when asked: the result says it is incomplete', async () => {
    let chunks = 0
    const r = await auditLeakage(leaky, {chunkTokens: 64, shouldStop: () => ++chunks > 30})
    expect(r.complete).toBe(false)
    expect(r.train.files_scanned).toBeLessThan(r.train.files)
    // 30 chunks of 64 tokens, or fewer at shard ends: stopped while hashing the validation split
    expect(r.val.tokens_scanned).toBeLessThan(r.val.tokens)
    expect(describeLeakage(r)).toMatch(new RegExp(`validation documents \\(the first ${r.val.tokens_scanned.toLocaleString('en-US')} of ${r.val.tokens.toLocaleString('en-US')} tokens; stopped before the end.*in 0 of ${r.train.files} train shards \\(0 of [\\d,]+ tokens; stopped before the end\\)`))
    // the validation split is 44 such chunks: stopped in the training split
    let more = 0
    const later = await auditLeakage(leaky, {chunkTokens: 64, shouldStop: () => ++more > 70})
    expect([later.complete, later.val.tokens_scanned, later.train.tokens_scanned > 0]).toEqual([false, later.val.tokens, true])
  })

  it('the default hash: same tokens, same key however the document is split; a different token, another key', () => {
    const t = Uint16Array.from(body(3, 1000))
    const whole = new Uint32Array(2)
    DEFAULT_DOC_HASH.reset(whole)
    DEFAULT_DOC_HASH.update(whole, t, 0, t.length)
    const pieces = new Uint32Array(2)
    DEFAULT_DOC_HASH.reset(pieces)
    for (const [a, b] of [[0, 1], [1, 500], [500, 999], [999, 1000]]) DEFAULT_DOC_HASH.update(pieces, t, a, b)
    const key = DEFAULT_DOC_HASH.key(whole, t.length)
    expect(DEFAULT_DOC_HASH.key(pieces, t.length)).toBe(key)
    expect(Number.isSafeInteger(key) && key >= 0).toBe(true)
    t[500] ^= 1
    const other = new Uint32Array(2)
    DEFAULT_DOC_HASH.reset(other)
    DEFAULT_DOC_HASH.update(other, t, 0, t.length)
    expect(DEFAULT_DOC_HASH.key(other, t.length)).not.toBe(key)
  })

  it('the built-in corpus (Brown, byte260): 0 found', async () => {
    const ds = join(dir, 'brown')
    await prepareDataset({source: {kind: 'brown'}, tokenizer: 'byte260', out: ds})
    const r = await auditLeakage(ds)
    expect(r.found).toBe(0)
    expect(r.val.docs).toBe(25)
    expect(r.val.docs_short).toBe(0)
    expect(r.train.docs).toBe(475)
    expect(r.complete).toBe(true)
    console.log(`leakage audit of the built-in corpus: ${(r.val.tokens + r.train.tokens).toLocaleString('en-US')} tokens in ${r.seconds.toFixed(3)} s (${Math.round(r.tokens_per_s).toLocaleString('en-US')} tokens/s)`)
  })

  it('bad input: a missing folder, a split without shards, a bad header: one line naming the file', async () => {
    await expect(auditLeakage(join(dir, 'nowhere'))).rejects.toThrow(`dataset folder not found: ${join(dir, 'nowhere')}`)
    const noTrain = join(dir, 'no-train')
    mkdirSync(noTrain)
    writeShard(join(noTrain, shardFileName('val', 0)), Uint16Array.from(withBos(VAL[0])))
    await expect(auditLeakage(noTrain)).rejects.toThrow(/no train shards \(fineweb_train_\*\.bin\) to audit$/)
    const bad = join(dir, 'bad-header')
    mkdirSync(bad)
    writeShard(join(bad, shardFileName('val', 0)), Uint16Array.from(withBos(VAL[0])))
    writeShard(join(bad, shardFileName('train', 0)), Uint16Array.from(withBos(VAL[1])))
    writeFileSync(join(bad, shardFileName('train', 1)), Buffer.alloc(1030, 7))
    const err = await auditLeakage(bad).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(InputError)
    expect((err as Error).message).toBe(`shard ${join(bad, shardFileName('train', 1))}: wrong magic 117901063 (expected 20240520); not a shard file`)
  })
})

describe('auditLeakage without BOS tokens', () => {
  it('shards with no BOS at all (or a dataset whose bos_id is not the shards\') are one line naming the split, not 0 of 0 documents found', async () => {
    const noBos = (name: string, valBos: boolean) => {
      const out = join(dir, name)
      mkdirSync(out)
      writeShard(join(out, shardFileName('val', 0)), Uint16Array.from(valBos ? withBos(VAL[0]) : VAL[0]))
      writeShard(join(out, shardFileName('train', 0)), Uint16Array.from([...TRAIN_OTHERS[0], ...TRAIN_OTHERS[1]]))
      return out
    }
    const val = noBos('no-bos-val', false)
    await expect(auditLeakage(val)).rejects.toBeInstanceOf(InputError)
    await expect(auditLeakage(val)).rejects.toThrow(`${val}: the validation shards hold no BOS token (id 1), so no document to audit: is the dataset's bos_id the one its shards were written with?`)
    const train = noBos('no-bos-train', true)
    await expect(auditLeakage(train)).rejects.toThrow(`${train}: the train shards hold no BOS token (id 1), so no document to audit: is the dataset's bos_id the one its shards were written with?`)
    const r = await runCli(['data', 'audit', '--data', val])
    expect(r.code).toBe(2)
    expect(r.stderr.trim().split('\n')).toEqual([`golf: ${val}: the validation shards hold no BOS token (id 1), so no document to audit: is the dataset's bos_id the one its shards were written with?`])
  })
})

describe('golf data audit', () => {
  it('--json on a leaky dataset: the result, exit 1', async () => {
    const r = await runCli(['data', 'audit', '--data', leaky, '--json'])
    expect(r.code).toBe(1)
    const j = JSON.parse(r.stdout)
    expect(j).toMatchObject({dataset: leaky, found: 3, occurrences: 4, min_tokens: MIN_DOC_TOKENS, complete: true})
  })

  it('a leaky dataset in the terminal: the summary, the documents, and one error line', async () => {
    const r = await runCli(['data', 'audit', '--data', leaky])
    expect(r.code).toBe(1)
    expect(r.stdout).toContain('hashed and looked up in all 67 documents')
    expect(r.stdout).toMatch(/^ {2}validation document 7 \(fineweb_val_\d{6}\.bin @\d+, 110 tokens\) = fineweb_train_\d{6}\.bin @\d+$/m)
    expect(r.stderr.trim()).toBe('golf: 3 of 20 validation documents are in the training shards')
  })

  it('a clean dataset: exit 0', async () => {
    const r = await runCli(['data', 'audit', '--data', clean, '--json'])
    expect(r.code, r.stderr).toBe(0)
    expect(JSON.parse(r.stdout)).toMatchObject({found: 0, complete: true})
  })

  it('bad input: exit 2 and one line', async () => {
    const missing = await runCli(['data', 'audit', '--data', join(dir, 'nowhere')])
    expect(missing.code).toBe(2)
    expect(missing.stderr.trim()).toBe(`golf: dataset folder not found: ${join(dir, 'nowhere')}`)
    const bad = await runCli(['data', 'audit', '--data', join(dir, 'bad-header')])
    expect(bad.code).toBe(2)
    expect(bad.stderr.trim().split('\n')).toHaveLength(1)
    expect(bad.stderr).toContain(`${shardFileName('train', 1)}: wrong magic`)
    const flag = await runCli(['data', 'audit', '--data', clean, '--min-tokens', '0'])
    expect(flag.code).toBe(2)
  })
})
