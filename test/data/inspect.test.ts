import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {prepareDataset} from '../../src/data/dataset.js'
import {inspectData} from '../../src/data/inspect.js'
import {listShards, readShard, writeShard} from '../../src/data/shard.js'
import {countTargetBytes} from '../../src/metric/bpb.js'
import {loadTokenizer} from '../../src/tokenizer/index.js'
import {REPO_ROOT} from '../helpers/cli.js'

const MODEL = join(REPO_ROOT, 'test', 'fixtures', 'tokenizers', 'sp1024.model')
let dir: string
let ds: string

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'golf-inspect-'))
  const texts = ['Hello world, this is a test.', 'The quick brown fox jumps over the lazy dog.', ' Leading space and  double  spaces.', 'Numbers 12345 and ünïcödé.', 'Last one here.']
  texts.forEach((t, i) => writeFileSync(join(dir, `d${i}.txt`), t))
  ds = join(dir, 'ds')
  // Tiny shards, so documents and ▁-pieces straddle shard boundaries.
  await prepareDataset({source: {kind: 'text', patterns: [join(dir, 'd*.txt')]}, tokenizer: MODEL, out: ds, valDocs: 2, shardTokens: 7})
})
afterAll(() => rmSync(dir, {recursive: true, force: true}))

function concat(files: string[]): Uint16Array {
  const parts = files.map((f) => readShard(f))
  const out = new Uint16Array(parts.reduce((n, p) => n + p.length, 0))
  let off = 0
  for (const p of parts) {
    out.set(p, off)
    off += p.length
  }
  return out
}

describe('inspectData', () => {
  it('counts bytes over each split as one stream, across shard boundaries', async () => {
    const tok = await loadTokenizer(MODEL)
    const table = tok.byteTable()
    const r = await inspectData(ds)
    expect(r.tokenizer).toBe('sp1024.model')
    expect(r.vocab_size).toBe(1024)
    for (const split of ['train', 'val'] as const) {
      const files = listShards(ds, split)
      expect(files.length).toBeGreaterThan(1)
      const stream = concat(files)
      expect(r.splits[split].files).toBe(files.length)
      expect(r.splits[split].tokens).toBe(stream.length)
      expect(r.splits[split].bytes).toBe(countTargetBytes(table, stream))
    }
    expect(r.splits.val.docs).toBe(2)
    expect(r.splits.train.docs).toBe(3)
  })

  it('audits documents that straddle shards', async () => {
    const r = await inspectData(ds, {audit: true})
    expect(r.splits.train.audit?.docs).toBe(3)
    expect(r.splits.val.audit?.docs).toBe(2)
    expect(r.splits.train.bytes_decoded).toBe(r.splits.train.audit?.bytes_decoded)
    expect(r.splits.val.audit?.bytes_counted).toBe(r.splits.val.bytes)
  })

  it('byte260 by default when every id fits, and a clear error when not', async () => {
    const shard = join(dir, 'fineweb_val_000000.bin')
    writeShard(shard, Uint16Array.from([1, 76, 109, 1, 4]))
    const r = await inspectData(shard)
    expect(r).toMatchObject({kind: 'shard', tokenizer: 'byte260', vocab_size: 260})
    expect(r.splits.val).toMatchObject({files: 1, tokens: 5, docs: 2, bytes: 3})
    expect(r.splits.train).toMatchObject({files: 0, tokens: 0, docs: 0, bytes: 0})
    writeShard(shard, Uint16Array.from([1, 300]))
    await expect(inspectData(shard)).rejects.toThrow(/cannot tell which tokenizer wrote .* \(token ids reach 300\): pass --tokenizer <path\.model>/)
    expect((await inspectData(shard, {tokenizer: MODEL})).splits.val.tokens).toBe(2)
  })

  it('rejects a tokenizer whose vocab differs from the dataset', async () => {
    await expect(inspectData(ds, {tokenizer: 'byte260'})).rejects.toThrow(/--tokenizer byte260 has vocab size 260 but .* was written with 1024/)
  })
})
