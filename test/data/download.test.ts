import {existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'
import {readDatasetInfo} from '../../src/data/dataset.js'
import {downloadDataset} from '../../src/data/download.js'
import {readShard} from '../../src/data/shard.js'
import {hubFiles, startHub, type FakeHub} from '../helpers/fake-hub.js'

let dir: string
let hub: FakeHub
beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'golf-download-'))
  hub = await startHub()
})
afterEach(async () => {
  await hub.close()
  rmSync(dir, {recursive: true, force: true})
})

describe('downloadDataset', () => {
  it('fetches manifest, all val shards, the first N train shards and the tokenizer, in the official layout', async () => {
    const r = await downloadDataset({variant: 'sp1024', trainShards: 2, out: dir, endpoint: hub.endpoint})
    const ds = join(dir, 'datasets', 'fineweb10B_sp1024')
    expect(r.downloaded).toEqual([
      'datasets/fineweb10B_sp1024/fineweb_val_000000.bin',
      'datasets/fineweb10B_sp1024/fineweb_train_000000.bin',
      'datasets/fineweb10B_sp1024/fineweb_train_000001.bin',
      'tokenizers/fineweb_1024_bpe.model',
      'tokenizers/fineweb_1024_bpe.vocab',
    ])
    expect(r.dir).toBe(ds)
    expect(readdirSync(ds).sort()).toEqual(['dataset.json', 'fineweb_train_000000.bin', 'fineweb_train_000001.bin', 'fineweb_val_000000.bin'])
    expect(readFileSync(join(dir, 'tokenizers', 'fineweb_1024_bpe.model'), 'utf8')).toBe('model-bytes')
    expect(JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')).shard_size).toBe(1000)
    expect(Array.from(readShard(join(ds, 'fineweb_train_000001.bin')))).toEqual([1, 11, 20, 1, 30])
    expect(r.dataset_json).toEqual({
      format: 'golf-dataset',
      version: 1,
      tokenizer: 'fineweb_1024_bpe.model',
      tokenizer_path: '../../tokenizers/fineweb_1024_bpe.model',
      vocab_size: 1024,
      bos_id: 1,
      docs: {train: 4, val: 60},
      tokens: {train: 10, val: 3000},
      shard_tokens: 1000,
      source: 'download',
    })
    expect(readDatasetInfo(ds).tokenizerPath).toBe(join(dir, 'tokenizers', 'fineweb_1024_bpe.model'))

    // A second run downloads nothing.
    hub.requests.length = 0
    const again = await downloadDataset({variant: 'sp1024', trainShards: 2, out: dir, endpoint: hub.endpoint})
    expect(again.downloaded).toEqual([])
    expect(again.skipped.length).toBe(5)
    expect(hub.requests.map((q) => q.path)).toEqual(['datasets/manifest.json'])
  })

  it('byte260 has no .model: dataset.json says byte260', async () => {
    const r = await downloadDataset({variant: 'byte260', trainShards: 0, out: dir, endpoint: hub.endpoint})
    expect(r.downloaded).toEqual(['datasets/fineweb10B_byte260/fineweb_val_000000.bin', 'tokenizers/fineweb_pure_byte_260.json'])
    expect(r.dataset_json).toMatchObject({tokenizer: 'byte260', tokenizer_path: null, vocab_size: 260, docs: {train: 0, val: 1}})
  })

  it('retries a dropped connection, resuming with a Range request', async () => {
    const val = 'datasets/datasets/fineweb10B_sp1024/fineweb_val_000000.bin'
    hub.drop.set(val, 1)
    await downloadDataset({variant: 'sp1024', trainShards: 0, out: dir, endpoint: hub.endpoint})
    const valRequests = hub.requests.filter((q) => q.path === val)
    expect(valRequests.length).toBe(2)
    expect(valRequests[0].range).toBeUndefined()
    const size = hubFiles().get(val)!.length
    expect(valRequests[1].range).toBe(`bytes=${Math.floor(size / 2)}-`)
    expect(readFileSync(join(dir, 'datasets', 'fineweb10B_sp1024', 'fineweb_val_000000.bin')).equals(hubFiles().get(val)!)).toBe(true)
  })

  it('leaves a .part after repeated failures, and the next run resumes it', async () => {
    const val = 'datasets/datasets/fineweb10B_sp1024/fineweb_val_000000.bin'
    hub.drop.set(val, 2)
    await expect(downloadDataset({variant: 'sp1024', trainShards: 0, out: dir, endpoint: hub.endpoint, attempts: 2})).rejects.toThrow(
      /download of datasets\/fineweb10B_sp1024\/fineweb_val_000000\.bin failed after 2 attempts .*run again to resume/,
    )
    const part = join(dir, 'datasets', 'fineweb10B_sp1024', 'fineweb_val_000000.bin.part')
    const have = statSync(part).size
    expect(have).toBeGreaterThan(0)
    expect(existsSync(part.slice(0, -5))).toBe(false)
    hub.requests.length = 0
    await downloadDataset({variant: 'sp1024', trainShards: 0, out: dir, endpoint: hub.endpoint})
    expect(hub.requests.find((q) => q.path === val)?.range).toBe(`bytes=${have}-`)
    expect(readFileSync(part.slice(0, -5)).equals(hubFiles().get(val)!)).toBe(true)
    expect(existsSync(part)).toBe(false)
  })

  it('restarts from zero when the server ignores Range', async () => {
    const val = 'datasets/datasets/fineweb10B_sp1024/fineweb_val_000000.bin'
    const ds = join(dir, 'datasets', 'fineweb10B_sp1024')
    const {mkdirSync} = await import('node:fs')
    mkdirSync(ds, {recursive: true})
    writeFileSync(join(ds, 'fineweb_val_000000.bin.part'), Buffer.from('garbage that is not the file'))
    hub.ignoreRange = true
    await downloadDataset({variant: 'sp1024', trainShards: 0, out: dir, endpoint: hub.endpoint})
    expect(hub.requests.find((q) => q.path === val)?.range).toBe('bytes=28-')
    expect(readFileSync(join(ds, 'fineweb_val_000000.bin')).equals(hubFiles().get(val)!)).toBe(true)
  })

  it('manifest numbers out of range (bos_id outside the vocabulary, a vocab_size past uint16, a shard_size that is not a count) are refused before any download', async () => {
    for (const [over, line] of [
      [{bos_id: 1024}, 'manifest.json: dataset fineweb10B_sp1024: bos_id must be an id in 0..1023, got 1024'],
      [{bos_id: -1}, 'manifest.json: dataset fineweb10B_sp1024: bos_id must be an id in 0..1023, got -1'],
      [{bos_id: '1'}, 'manifest.json: dataset fineweb10B_sp1024: bos_id must be an id in 0..1023, got "1"'],
      [{vocab_size: 100000}, 'manifest.json: dataset fineweb10B_sp1024: vocab_size must be an integer in 1..65536 (uint16 shards), got 100000'],
      [{shard_size: 0}, 'manifest.json: dataset fineweb10B_sp1024: shard_size must be a positive integer, got 0'],
    ] as const) {
      const files = hubFiles()
      const manifest = JSON.parse(files.get('datasets/manifest.json')!.toString())
      if ('shard_size' in over) manifest.shard_size = over.shard_size
      else Object.assign(manifest.datasets[0], over)
      files.set('datasets/manifest.json', Buffer.from(JSON.stringify(manifest)))
      const bad = await startHub(files)
      try {
        const out = join(dir, 'bad')
        await expect(downloadDataset({variant: 'sp1024', trainShards: 1, out, endpoint: bad.endpoint})).rejects.toThrow(line)
        expect(existsSync(join(out, 'datasets'))).toBe(false)
      } finally {
        await bad.close()
      }
    }
  })

  it('one-line errors: unknown variant, too many shards, 404, unreachable host', async () => {
    await expect(downloadDataset({variant: 'sp4096', trainShards: 1, out: dir, endpoint: hub.endpoint})).rejects.toThrow(
      /--variant sp4096: dataset fineweb10B_sp4096 is not in the manifest \(it has: fineweb10B_sp1024, fineweb10B_byte260\)/,
    )
    await expect(downloadDataset({variant: 'sp1024', trainShards: 4, out: dir, endpoint: hub.endpoint})).rejects.toThrow(/--train-shards 4: sp1024 has only 3 training shards/)
    await expect(downloadDataset({variant: 'sp1024', trainShards: 1, out: dir, endpoint: hub.endpoint, repo: 'someone/else'})).rejects.toThrow(
      /GET http:\/\/127\.0\.0\.1:\d+\/datasets\/someone\/else\/resolve\/main\/datasets\/manifest\.json: HTTP 404 Not Found/,
    )
    const closed = await startHub()
    const endpoint = closed.endpoint
    await closed.close()
    await expect(downloadDataset({variant: 'sp1024', trainShards: 1, out: dir, endpoint})).rejects.toThrow(
      new RegExp(`cannot reach ${endpoint.replace(/\./g, '\\.')} \\(ECONNREFUSED\\): check your network or set HF_ENDPOINT`),
    )
  })
})
