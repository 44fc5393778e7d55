import {existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'
import {
  builtinDatasetDir,
  cacheDir,
  defaultValDocs,
  ensureBuiltinDataset,
  prepareDataset,
  readDatasetInfo,
} from '../../src/data/dataset.js'
import {readShard, writeShard} from '../../src/data/shard.js'
import {InputError} from '../../src/errors.js'
import {REPO_ROOT} from '../helpers/cli.js'

let dir: string
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'golf-dataset-'))
})
afterEach(() => rmSync(dir, {recursive: true, force: true}))

const bytes = (s: string) => Array.from(Buffer.from(s, 'utf8'), (b) => b + 4)

describe('prepareDataset', () => {
  it('writes [BOS] + tokens per document, first documents to val, files in sorted order', async () => {
    const src = join(dir, 'src')
    mkdirSync(src)
    writeFileSync(join(src, 'b.txt'), 'bb')
    writeFileSync(join(src, 'a.txt'), 'é')
    writeFileSync(join(src, 'c.txt'), 'c')
    const out = join(dir, 'ds')
    const r = await prepareDataset({source: {kind: 'text', patterns: [join(src, '*.txt')]}, tokenizer: 'byte260', out})
    expect(r.files).toEqual({val: ['fineweb_val_000000.bin'], train: ['fineweb_train_000000.bin']})
    // 3 docs → round(0.15) = 0 → at least 1 validation document: a.txt
    expect(Array.from(readShard(join(out, 'fineweb_val_000000.bin')))).toEqual([1, ...bytes('é')])
    expect(Array.from(readShard(join(out, 'fineweb_train_000000.bin')))).toEqual([1, ...bytes('bb'), 1, ...bytes('c')])
    const json = JSON.parse(readFileSync(join(out, 'dataset.json'), 'utf8'))
    expect(json).toEqual({
      format: 'golf-dataset',
      version: 1,
      tokenizer: 'byte260',
      tokenizer_path: null,
      vocab_size: 260,
      bos_id: 1,
      docs: {train: 2, val: 1},
      tokens: {train: 5, val: 3},
      shard_tokens: 100_000_000,
      source: 'text',
    })
    expect(r.dataset).toEqual(json)
    expect(readdirSync(dir).sort()).toEqual(['ds', 'src']) // no temp dirs left
  })

  it('reads JSONL in line order and names the bad line', async () => {
    const jsonl = join(dir, 'docs.jsonl')
    writeFileSync(jsonl, ['{"text":"x"}', '{"text":"yy"}', '', '{"text":"z"}', ''].join('\n'))
    const r = await prepareDataset({source: {kind: 'jsonl', path: jsonl}, tokenizer: 'byte260', out: join(dir, 'ds'), valDocs: 2, shardTokens: 3})
    expect(r.dataset.docs).toEqual({train: 1, val: 2})
    expect(r.files.val).toEqual(['fineweb_val_000000.bin', 'fineweb_val_000001.bin'])
    expect(Array.from(readShard(join(dir, 'ds', 'fineweb_val_000000.bin')))).toEqual([1, ...bytes('x'), 1])
    expect(Array.from(readShard(join(dir, 'ds', 'fineweb_val_000001.bin')))).toEqual(bytes('yy'))

    writeFileSync(jsonl, '{"text":"a"}\n{"text":"b"}\n{"text": oops}\n')
    await expect(prepareDataset({source: {kind: 'jsonl', path: jsonl}, tokenizer: 'byte260', out: join(dir, 'bad')})).rejects.toThrow(
      new RegExp(`${jsonl.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:3: not valid JSON`),
    )
    writeFileSync(jsonl, '{"text":"a"}\n{"body":"b"}\n')
    await expect(prepareDataset({source: {kind: 'jsonl', path: jsonl}, tokenizer: 'byte260', out: join(dir, 'bad')})).rejects.toThrow(/:2: expected an object with a string "text" field/)
    expect(existsSync(join(dir, 'bad'))).toBe(false)
    expect(readdirSync(dir).filter((n) => n.includes('.tmp-'))).toEqual([])
  })

  it('refuses text that is not UTF-8, naming the file (and JSONL line) and the byte offset; CRLF lines and lines longer than a read chunk are read whole', async () => {
    const txt = join(dir, 'latin1.txt')
    writeFileSync(txt, Buffer.from('café', 'latin1'))
    writeFileSync(join(dir, 'ok.txt'), 'fine')
    const fromText = () => prepareDataset({source: {kind: 'text', patterns: [join(dir, '*.txt')]}, tokenizer: 'byte260', out: join(dir, 'bad')})
    await expect(fromText()).rejects.toBeInstanceOf(InputError)
    await expect(fromText()).rejects.toThrow(`${txt}: not valid UTF-8 (byte offset 3)`)
    const jsonl = join(dir, 'docs.jsonl')
    const long = 'é'.repeat(50_000) // 100,000 bytes: the line spans read chunks
    writeFileSync(jsonl, Buffer.concat([Buffer.from(`{"text":"a"}\r\n\n{"text":"${long}`), Buffer.of(0xc3, 0x28), Buffer.from('"}\n')]))
    await expect(prepareDataset({source: {kind: 'jsonl', path: jsonl}, tokenizer: 'byte260', out: join(dir, 'bad')})).rejects.toThrow(`${jsonl}:3: not valid UTF-8 (byte offset ${15 + 9 + 100_000})`)
    writeFileSync(jsonl, `{"text":"a"}\r\n\n{"text":"${long}"}`)
    const r = await prepareDataset({source: {kind: 'jsonl', path: jsonl}, tokenizer: 'byte260', out: join(dir, 'ds'), valDocs: 1})
    expect(r.dataset.tokens).toEqual({val: 2, train: 100_001})
    expect(existsSync(join(dir, 'bad'))).toBe(false)
  })

  it('refuses an existing non-empty out dir unless forced, and then replaces it whole', async () => {
    const src = join(dir, 'a.txt')
    writeFileSync(src, 'hello')
    writeFileSync(join(dir, 'b.txt'), 'world')
    const out = join(dir, 'ds')
    const opts = {source: {kind: 'text' as const, patterns: [src, join(dir, 'b.txt')]}, tokenizer: 'byte260', out}
    await prepareDataset(opts)
    await expect(prepareDataset(opts)).rejects.toThrow(/--out .*ds exists; use --force to overwrite/)
    writeFileSync(src, 'hello again')
    await prepareDataset({...opts, force: true})
    expect(readdirSync(out).sort()).toEqual(['dataset.json', 'fineweb_train_000000.bin', 'fineweb_val_000000.bin'])
    expect(Array.from(readShard(join(out, 'fineweb_val_000000.bin')))).toEqual([1, ...bytes('hello again')])
  })

  it('--force never deletes a folder golf did not make, or one holding files golf did not write', async () => {
    writeFileSync(join(dir, 'a.txt'), 'hello')
    writeFileSync(join(dir, 'b.txt'), 'world')
    const opts = {source: {kind: 'text' as const, patterns: [join(dir, 'a.txt'), join(dir, 'b.txt')]}, tokenizer: 'byte260', force: true}
    // someone's folder: no dataset.json
    const mine = join(dir, 'mine')
    mkdirSync(mine)
    writeFileSync(join(mine, 'notes.txt'), 'precious')
    await expect(prepareDataset({...opts, out: mine})).rejects.toThrow(
      new InputError(`--out ${mine} is not a dataset folder golf made (no golf dataset.json in it): --force replaces only a dataset folder golf wrote; choose another --out`),
    )
    // a dataset.json that golf did not write
    writeFileSync(join(mine, 'dataset.json'), '{"name": "my project"}')
    await expect(prepareDataset({...opts, out: mine})).rejects.toThrow(/is not a dataset folder golf made/)
    expect(readdirSync(mine).sort()).toEqual(['dataset.json', 'notes.txt'])
    expect(readFileSync(join(mine, 'notes.txt'), 'utf8')).toBe('precious')
    // a golf dataset with a user's files put beside the shards
    const ds = join(dir, 'ds')
    await prepareDataset({...opts, out: ds, force: false})
    writeFileSync(join(ds, 'notes.txt'), 'precious')
    mkdirSync(join(ds, 'sub'))
    await expect(prepareDataset({...opts, out: ds})).rejects.toThrow(
      new InputError(`--out ${ds} holds files golf does not write in a dataset folder (notes.txt, sub): --force replaces only a dataset folder golf wrote; move them or choose another --out`),
    )
    expect(readFileSync(join(ds, 'notes.txt'), 'utf8')).toBe('precious')
    expect(readdirSync(dir).filter((n) => n.includes('.tmp-'))).toEqual([])
  })

  it('rejects bad inputs with one line', async () => {
    writeFileSync(join(dir, 'one.txt'), 'x')
    const out = join(dir, 'ds')
    await expect(prepareDataset({source: {kind: 'text', patterns: [join(dir, 'one.txt')]}, tokenizer: 'byte260', out})).rejects.toThrow(
      /corpus has 1 document\(s\); a dataset needs at least 2/,
    )
    await expect(prepareDataset({source: {kind: 'text', patterns: [join(dir, '*.md')]}, tokenizer: 'byte260', out})).rejects.toThrow(/--text: no files match/)
    await expect(prepareDataset({source: {kind: 'text', patterns: [join(dir, 'nope.txt')]}, tokenizer: 'byte260', out})).rejects.toThrow(/text file not found/)
    await expect(prepareDataset({source: {kind: 'text', patterns: [dir]}, tokenizer: 'byte260', out})).rejects.toThrow(/is a directory; give files or a glob/)
    await expect(prepareDataset({source: {kind: 'brown'}, tokenizer: 'byte260', out, valDocs: 500})).rejects.toThrow(/--val-docs must be between 1 and 499/)
    await expect(prepareDataset({source: {kind: 'brown'}, tokenizer: 'gpt2', out})).rejects.toThrow(InputError)
  })

  it('copies a SentencePiece model into the folder and records it', async () => {
    const model = join(REPO_ROOT, 'test', 'fixtures', 'tokenizers', 'sp1024.model')
    writeFileSync(join(dir, 'a.txt'), 'Hello world.')
    writeFileSync(join(dir, 'b.txt'), 'Another document here.')
    const out = join(dir, 'ds')
    const r = await prepareDataset({source: {kind: 'text', patterns: [join(dir, '*.txt')]}, tokenizer: model, out})
    expect(r.dataset.tokenizer).toBe('sp1024.model')
    expect(r.dataset.tokenizer_path).toBe('sp1024.model')
    expect(r.dataset.vocab_size).toBe(1024)
    expect(readFileSync(join(out, 'sp1024.model')).equals(readFileSync(model))).toBe(true)
    const info = readDatasetInfo(out)
    expect(info.tokenizerPath).toBe(join(out, 'sp1024.model'))
    const val = readShard(join(out, 'fineweb_val_000000.bin'))
    expect(val[0]).toBe(1)
    expect(val.length).toBe(r.dataset.tokens.val)
  })

  it('refuses a tokenizer without a BOS token (SentencePiece bos_id -1): its shards would start documents with 65535', async () => {
    const model = readFileSync(join(REPO_ROOT, 'test', 'fixtures', 'tokenizers', 'sp1024.model'))
    // a second trainer_spec (field 2) holding bos_id (field 41) = -1: protobuf merges repeated messages
    const bosNone = Buffer.from([0xc8, 0x02, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01])
    writeFileSync(join(dir, 'nobos.model'), Buffer.concat([model, Buffer.from([0x12, bosNone.length]), bosNone]))
    writeFileSync(join(dir, 'a.txt'), 'Hello world.')
    writeFileSync(join(dir, 'b.txt'), 'Another document here.')
    const out = join(dir, 'ds-nobos')
    const prepare = () => prepareDataset({source: {kind: 'text', patterns: [join(dir, '*.txt')]}, tokenizer: join(dir, 'nobos.model'), out})
    await expect(prepare()).rejects.toBeInstanceOf(InputError)
    await expect(prepare()).rejects.toThrow(`tokenizer ${join(dir, 'nobos.model')}: has no BOS token (bos_id -1): shards start every document with BOS; train the model with a BOS id (spm_train --bos_id=1)`)
    expect(existsSync(out)).toBe(false)
  })

  it('defaults to 5% validation documents, at least one', () => {
    expect(defaultValDocs(500)).toBe(25)
    expect(defaultValDocs(3)).toBe(1)
    expect(defaultValDocs(30)).toBe(2) // round(1.5) = 2
  })
})

describe('readDatasetInfo', () => {
  it('errors on a missing folder, a folder without shards, and a bad dataset.json', () => {
    expect(() => readDatasetInfo(join(dir, 'missing'))).toThrow(/dataset folder not found: .*missing/)
    expect(() => readDatasetInfo(dir)).toThrow(/no shards \(fineweb_train_\*\.bin \/ fineweb_val_\*\.bin\) in/)
    writeShard(join(dir, 'fineweb_val_000000.bin'), Uint16Array.from([1, 5]))
    writeFileSync(join(dir, 'dataset.json'), '{"format": "golf-dataset"')
    expect(() => readDatasetInfo(dir)).toThrow(/dataset\.json: not valid JSON/)
    const good = {format: 'golf-dataset', version: 1, tokenizer: 'byte260', tokenizer_path: null, vocab_size: 260, bos_id: 1, docs: {train: 0, val: 1}, tokens: {train: 0, val: 2}, shard_tokens: 10, source: 'text'}
    writeFileSync(join(dir, 'dataset.json'), JSON.stringify({...good, vocab_size: 'many'}))
    expect(() => readDatasetInfo(dir)).toThrow(/dataset\.json: key 'vocab_size' must be integer/)
    const {docs: _docs, ...noDocs} = good
    writeFileSync(join(dir, 'dataset.json'), JSON.stringify(noDocs))
    expect(() => readDatasetInfo(dir)).toThrow(/dataset\.json: key 'docs' is missing/)
    writeFileSync(join(dir, 'dataset.json'), JSON.stringify({...good, format: 'other'}))
    expect(() => readDatasetInfo(dir)).toThrow(/key 'format' must be "golf-dataset"/)
    writeFileSync(join(dir, 'dataset.json'), JSON.stringify({...good, shard_tokens: 10}).replace('"shard_tokens":10', '"shard_tokens":1e999'))
    expect(() => readDatasetInfo(dir)).toThrow(/dataset\.json: shard_tokens is not a finite number \(too large for a double\)$/)
    writeFileSync(join(dir, 'dataset.json'), '\ufeff' + JSON.stringify({...good, vocab_size: 260.5}))
    expect(() => readDatasetInfo(dir)).toThrow(/dataset\.json: key 'vocab_size' must be integer$/)
    writeFileSync(join(dir, 'dataset.json'), JSON.stringify({...good, bos_id: 260}))
    expect(() => readDatasetInfo(dir)).toThrow(/dataset\.json: key 'bos_id' 260 is outside the vocabulary \(0\.\.259\)$/)
    writeFileSync(join(dir, 'dataset.json'), JSON.stringify(good))
    expect(readDatasetInfo(dir)).toMatchObject({vocabSize: 260, tokenizer: 'byte260', tokenizerPath: null, bosId: 1})
  })

  it('infers vocab and tokenizer for an official download without dataset.json', () => {
    const ds = join(dir, 'datasets', 'fineweb10B_sp1024')
    mkdirSync(ds, {recursive: true})
    mkdirSync(join(dir, 'tokenizers'))
    writeFileSync(join(dir, 'tokenizers', 'fineweb_1024_bpe.model'), 'x')
    writeShard(join(ds, 'fineweb_val_000000.bin'), Uint16Array.from([1, 900]))
    expect(readDatasetInfo(ds)).toMatchObject({meta: null, vocabSize: 1024, tokenizer: 'fineweb_1024_bpe.model', tokenizerPath: join(dir, 'tokenizers', 'fineweb_1024_bpe.model')})
    const b = join(dir, 'datasets', 'fineweb10B_byte260')
    mkdirSync(b)
    writeShard(join(b, 'fineweb_train_000000.bin'), Uint16Array.from([1, 9]))
    expect(readDatasetInfo(b)).toMatchObject({vocabSize: 260, tokenizer: 'byte260', tokenizerPath: null})
  })
})

describe('built-in dataset', () => {
  const saved = {...process.env}
  afterEach(() => {
    process.env = {...saved}
  })

  it('finds the cache dir from GOLF_CACHE_DIR, XDG_CACHE_HOME, then ~/.cache', () => {
    expect(cacheDir({GOLF_CACHE_DIR: '/c/g'})).toBe('/c/g')
    expect(cacheDir({XDG_CACHE_HOME: '/x'})).toBe('/x/golf')
    expect(cacheDir({HOME: '/h'})).toMatch(/\.cache[\\/]golf$/)
    expect(builtinDatasetDir({GOLF_CACHE_DIR: '/c'})).toBe('/c/datasets/brown_byte260')
  })

  it('prepares Brown + byte260 once, even when asked concurrently', async () => {
    process.env.GOLF_CACHE_DIR = join(dir, 'cache')
    const [a, b] = await Promise.all([ensureBuiltinDataset(), ensureBuiltinDataset()])
    expect(a).toBe(join(dir, 'cache', 'datasets', 'brown_byte260'))
    expect(b).toBe(a)
    const info = readDatasetInfo(a)
    expect(info.meta?.docs).toEqual({train: 475, val: 25})
    expect(info.meta?.source).toBe('brown')
    expect(readdirSync(join(dir, 'cache', 'datasets'))).toEqual(['brown_byte260'])
    const first = readShard(info.files.val[0])
    expect(Buffer.from(Array.from(first.subarray(1, 25), (t) => t - 4)).toString()).toBe('The Fulton County Grand ')
    expect(await ensureBuiltinDataset()).toBe(a)
  })
})
