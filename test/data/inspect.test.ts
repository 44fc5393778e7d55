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

  it('a dataset with byte sidecars: val bytes are the sidecars\' counts, the table\'s beside them', async () => {
    const dsc = join(dir, 'dsc')
    await prepareDataset({source: {kind: 'text', patterns: [join(dir, 'd*.txt')]}, tokenizer: MODEL, out: dsc, valDocs: 2, shardTokens: 7})
    const table = (await loadTokenizer(MODEL)).byteTable()
    const stream = concat(listShards(dsc, 'val'))
    // every target one byte more than the table says (a BOS keeps 0), in files of 5 counts
    const counts = Array.from(stream, (id, p) => (id === 1 ? 0 : p === 0 ? 0 : countTargetBytes(table, stream, p, p + 1) + 1))
    const names: string[] = []
    for (let i = 0; i * 5 < counts.length; i++) {
      names.push(`fineweb_val_bytes_${String(i).padStart(6, '0')}.bin`)
      writeShard(join(dsc, names[i]), Uint16Array.from(counts.slice(i * 5, i * 5 + 5)))
    }
    const r = await inspectData(dsc)
    expect(r.byte_sidecars).toEqual({files: names, counts: stream.length, used: true})
    expect(r.splits.val.files).toBe(listShards(dsc, 'val').length) // the sidecars are not val shards
    expect(r.splits.val.tokens).toBe(stream.length)
    expect(r.splits.val.bytes_table).toBe(countTargetBytes(table, stream))
    expect(r.splits.val.bytes).toBe(countTargetBytes(table, stream) + counts.slice(1).filter((c) => c > 0).length)
    expect(r.splits.train.bytes_table).toBeUndefined()
    // one val shard of that folder: counted by the table, the sidecars named as present, not used
    const shard = await inspectData(listShards(dsc, 'val')[0])
    expect(shard.byte_sidecars).toEqual({files: names, counts: stream.length, used: false})
    expect(shard.splits.val.bytes_table).toBeUndefined()
    await expect(inspectData(join(dsc, names[0]))).rejects.toThrow(/fineweb_val_bytes_000000\.bin is a validation byte sidecar \(a byte count per validation token, not tokens\): inspect its dataset folder/)
    // no sidecars: null, and the bytes as before
    expect((await inspectData(ds)).byte_sidecars).toBeNull()
  })

  it('rejects a tokenizer whose vocab differs from the dataset', async () => {
    await expect(inspectData(ds, {tokenizer: 'byte260'})).rejects.toThrow(/--tokenizer byte260 has vocab size 260 but .* was written with 1024/)
  })
})
