import {mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {writeShard} from '../../src/data/shard.js'
import {runCli} from '../helpers/cli.js'
import {startHub} from '../helpers/fake-hub.js'

let dir: string
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'golf-cli-data-'))
  mkdirSync(join(dir, 'src'))
  writeFileSync(join(dir, 'src', 'a.txt'), 'alpha')
  writeFileSync(join(dir, 'src', 'b.txt'), 'beta')
  writeFileSync(join(dir, 'src', 'c.txt'), 'gamma')
  writeFileSync(join(dir, 'junk.bin'), 'hello')
  writeFileSync(join(dir, 'bad.jsonl'), '{"text":"a"}\n{oops\n')
})
afterAll(() => rmSync(dir, {recursive: true, force: true}))

describe('golf data prepare / inspect', () => {
  it('prepares from a quoted glob and prints a JSON result', async () => {
    const r = await runCli(['data', 'prepare', '--text', 'src/*.txt', '--out', 'ds', '--json'], {cwd: dir})
    expect(r.stderr).toBe('')
    expect(r.code).toBe(0)
    const out = JSON.parse(r.stdout)
    expect(out.dir).toBe(join(dir, 'ds'))
    expect(out.files).toEqual({train: ['fineweb_train_000000.bin'], val: ['fineweb_val_000000.bin']})
    expect(out.dataset).toMatchObject({tokenizer: 'byte260', docs: {train: 2, val: 1}, tokens: {train: 11, val: 6}, source: 'text'})
  })

  it('inspects the dataset (JSON and table)', async () => {
    const j = await runCli(['data', 'inspect', 'ds', '--json', '--audit'], {cwd: dir})
    expect(j.code).toBe(0)
    const out = JSON.parse(j.stdout)
    expect(out.vocab_size).toBe(260)
    expect(out.splits.val).toMatchObject({files: 1, tokens: 6, docs: 1, bytes: 5, bytes_decoded: 5})
    expect(out.splits.train).toMatchObject({files: 1, tokens: 11, docs: 2, bytes: 9, bytes_decoded: 9})
    expect(out.splits.train.audit).toMatchObject({diff: 0, offenders: []})
    const h = await runCli(['data', 'inspect', 'ds', '--audit'], {cwd: dir})
    expect(h.code).toBe(0)
    expect(h.stdout).toMatch(/^split\s+files\s+tokens\s+docs\s+bytes\s+tokens\/byte\s+bytes decoded\s+diff$/m)
    expect(h.stdout).toMatch(/^train\s+1\s+11\s+2\s+9\s+1\.1111\s+9\s+0$/m)
    expect(h.stdout).toContain('val: bytes by table 5, bytes decoded 5, diff 0 (0.00%)')
  })

  it('refuses to overwrite without --force (exit 2, one line)', async () => {
    const r = await runCli(['data', 'prepare', '--text', 'src/a.txt', 'src/b.txt', '--out', 'ds'], {cwd: dir})
    expect(r.code).toBe(2)
    expect(r.stderr.trim()).toBe('golf: --out ds exists; use --force to overwrite')
  })

  it('--force refuses a folder golf did not make (exit 2, one line) and leaves it as it was', async () => {
    // the source folder itself: someone's texts, not a dataset
    const r = await runCli(['data', 'prepare', '--text', 'src/a.txt', 'src/b.txt', '--out', 'src', '--force'], {cwd: dir})
    expect(r.code).toBe(2)
    expect(r.stderr).toBe('golf: --out src is not a dataset folder golf made (no golf dataset.json in it): --force replaces only a dataset folder golf wrote; choose another --out\n')
    expect(readFileSync(join(dir, 'src', 'c.txt'), 'utf8')).toBe('gamma')
  })

  const bad: Array<[string, string[], RegExp]> = [
    ['bad shard', ['data', 'inspect', 'junk.bin'], /^golf: shard .*junk\.bin: too short for the 1024-byte header \(file has 5 bytes\)$/],
    ['missing folder', ['data', 'inspect', 'nowhere'], /^golf: dataset or shard not found: nowhere$/],
    ['bad tokenizer', ['data', 'prepare', '--corpus', 'brown', '--tokenizer', 'gpt2', '--out', 'x'], /^golf: unknown tokenizer 'gpt2'/],
    ['missing tokenizer file', ['data', 'prepare', '--text', 'src/a.txt', 'src/b.txt', '--tokenizer', 'nope.model', '--out', 'w'], /^golf: tokenizer not found: nope\.model$/],
    ['bad jsonl', ['data', 'prepare', '--jsonl', 'bad.jsonl', '--out', 'y'], /^golf: .*bad\.jsonl:2: not valid JSON$/],
    ['unknown flag', ['data', 'inspect', 'ds', '--frobnicate'], /^golf: Nonexistent flag: --frobnicate \(see: golf data inspect --help\)$/],
    ['two sources', ['data', 'prepare', '--corpus', 'brown', '--jsonl', 'bad.jsonl', '--out', 'z'], /--jsonl cannot also be provided when using --corpus/],
    ['no source', ['data', 'prepare', '--out', 'z'], /Exactly one of the following must be provided: --corpus, --jsonl, --text/],
  ]
  // Independent processes: run them side by side.
  for (const [name, args, message] of bad) {
    it.concurrent(`${name}: exit 2 and one line`, async () => {
      const r = await runCli(args, {cwd: dir})
      expect(r.code).toBe(2)
      expect(r.stdout).toBe('')
      // Every error is one line, oclif's own parse errors included (the base command trims them).
      expect(r.stderr.trim().split('\n')).toHaveLength(1)
      expect(r.stderr.trim()).toMatch(message)
      expect(r.stderr).not.toMatch(/\n\s+at /) // no stack trace
    })
  }

  it('--json errors go to stdout as {error}', async () => {
    const r = await runCli(['data', 'inspect', 'junk.bin', '--json'], {cwd: dir})
    expect(r.code).toBe(2)
    expect(JSON.parse(r.stdout).error.exit).toBe(2)
  })
})

describe('golf data download', () => {
  it('downloads from HF_ENDPOINT and reports JSON', async () => {
    const hub = await startHub()
    try {
      const r = await runCli(['data', 'download', '--variant', 'byte260', '--train-shards', '1', '--out', 'dl', '--json'], {cwd: dir, env: {HF_ENDPOINT: hub.endpoint}})
      expect(r.code).toBe(0)
      const out = JSON.parse(r.stdout)
      expect(out.dataset).toBe('fineweb10B_byte260')
      expect(out.downloaded).toEqual([
        'datasets/fineweb10B_byte260/fineweb_val_000000.bin',
        'datasets/fineweb10B_byte260/fineweb_train_000000.bin',
        'tokenizers/fineweb_pure_byte_260.json',
      ])
      expect(JSON.parse(readFileSync(join(dir, 'dl', 'datasets', 'fineweb10B_byte260', 'dataset.json'), 'utf8')).source).toBe('download')
      const i = await runCli(['data', 'inspect', 'dl/datasets/fineweb10B_byte260', '--json'], {cwd: dir})
      expect(JSON.parse(i.stdout).splits.val).toMatchObject({tokens: 3, docs: 1, bytes: 2})
    } finally {
      await hub.close()
    }
  })

  it('unreachable endpoint: exit 2 with a hint', async () => {
    const hub = await startHub()
    const endpoint = hub.endpoint
    await hub.close()
    const r = await runCli(['data', 'download', '--variant', 'sp1024', '--out', 'dl2'], {cwd: dir, env: {HF_ENDPOINT: endpoint}})
    expect(r.code).toBe(2)
    expect(r.stderr.trim()).toBe(`golf: cannot reach ${endpoint} (ECONNREFUSED): check your network or set HF_ENDPOINT`)
  })

  it('rejects an unknown variant', async () => {
    const r = await runCli(['data', 'download', '--variant', 'gpt2'], {cwd: dir})
    expect(r.code).toBe(2)
    expect(r.stderr.replace(/\s*\n\s*›\s*/g, ' ')).toMatch(/Expected --variant=gpt2 to be one of: byte260, sp512, sp1024, sp2048, sp4096, sp8192/)
  })
})

describe('golf data inspect: byte sidecars', () => {
  it('says the val bytes come from them (table and --json), and refuses a short one: exit 2, one line', async () => {
    const prep = await runCli(['data', 'prepare', '--text', 'src/*.txt', '--out', 'cds', '--json'], {cwd: dir})
    expect(prep.code).toBe(0)
    const sidecar = join(dir, 'cds', 'fineweb_val_bytes_000000.bin')
    writeShard(sidecar, Uint16Array.from([0, 2, 2, 2, 2, 2])) // [BOS] a l p h a: 2 bytes each, where the table counts 1
    const j = await runCli(['data', 'inspect', 'cds', '--json'], {cwd: dir})
    expect(j.code).toBe(0)
    const out = JSON.parse(j.stdout)
    expect(out.byte_sidecars).toEqual({files: ['fineweb_val_bytes_000000.bin'], counts: 6, used: true})
    expect(out.splits.val).toMatchObject({files: 1, tokens: 6, docs: 1, bytes: 10, bytes_table: 5})
    const h = await runCli(['data', 'inspect', 'cds'], {cwd: dir})
    expect(h.code).toBe(0)
    expect(h.stdout).toMatch(/^val\s+1\s+6\s+1\s+10\s+0\.5000$/m)
    expect(h.stdout).toContain('val bytes: from the byte sidecars fineweb_val_bytes_000000.bin (6 byte counts), as every score of this dataset counts them; the byte table would count 5')
    writeShard(sidecar, Uint16Array.from([0, 2, 2, 2, 2]))
    const bad = await runCli(['data', 'inspect', 'cds'], {cwd: dir})
    expect([bad.code, bad.stdout, bad.stderr]).toEqual([2, '', `golf: byte sidecar ${sidecar}: 5 byte counts for the 6 validation tokens; it needs one count per validation token\n`])
  })
})
