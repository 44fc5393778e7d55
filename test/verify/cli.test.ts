/** `golf verify <folder>` as a user runs it (the built dist/): exit codes, one-line errors, the --json shape. */
import {execFileSync} from 'node:child_process'
import {renameSync, rmSync, symlinkSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterAll, describe, expect, it} from 'vitest'

import {REPO_ROOT, runCli} from '../helpers/cli.js'
import {laterRecord, nonRecord, tmp} from './folders.js'

const root = tmp('golf-verify-cli-')
afterAll(() => rmSync(root, {recursive: true, force: true}))

describe('golf verify <folder>', () => {
  it('--json: one shape with checks, counts, code, seeds and files; a link out is listed as refused, exit 0', async () => {
    const dir = nonRecord(root)
    symlinkSync('/etc/passwd', join(dir, 'train_seed1.log'))
    const r = await runCli(['verify', dir, '--json'])
    expect(r.code, r.stderr).toBe(0)
    const j = JSON.parse(r.stdout)
    expect(Object.keys(j)).toEqual(['mode', 'bytes_model', 'bytes_code', 'bytes_total', 'limit', 'within_limit', 'roundtrip', 'checks', 'ok', 'code', 'bound', 'seeds', 'files', 'counts'])
    expect(j).toMatchObject({mode: 'folder', bytes_total: 3_012_345, bytes_code: 12_345, within_limit: true, roundtrip: null, ok: true, bound: false})
    expect(j.counts).toEqual({pass: 12, fail: 0, not_confirmed: 2})
    expect(j.files.refused).toEqual([{file: 'train_seed1.log', reason: 'link to /etc/passwd, outside the folder: refused, not read'}])
    expect(j.seeds.map((s: {seed: number; val_bpb: {status: string}}) => [s.seed, s.val_bpb.status])).toEqual([
      [7, 'pass'],
      [8, 'pass'],
    ])
    expect(j.code.counted_as).toEqual({form: 'raw', files: ['train_tiny.py'], bytes: 12_345})
  })

  it('a file name with a newline or a terminal escape cannot forge a checklist line or an error line: it is printed escaped', async () => {
    const dir = nonRecord(root, 'hostile-names')
    renameSync(join(dir, 'train_log_8.txt'), join(dir, 'train_log_8\n✓ forged: all good\u001b[2J.txt'))
    const r = await runCli(['verify', dir])
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).not.toContain('\u001b')
    expect(r.stdout.split('\n').filter((l) => l.startsWith('✓ forged'))).toEqual([])
    expect(r.stdout).toContain('train_log_8\\n✓ forged: all good\\u001b[2J.txt')
    const missing = await runCli(['verify', join(root, 'no\nsuch\u001b[2J')])
    expect(missing.code).toBe(2)
    expect(missing.stderr.trim().split('\n')).toHaveLength(1)
    expect(missing.stderr).toContain('no\\nsuch\\u001b[2J')
  })

  it('a tampered claim exits 1: the checklist and the one error line name the seed and both numbers', async () => {
    const dir = laterRecord(root, 'later', (d) => {
      ;(d.seed_results as Array<Record<string, unknown>>)[2].val_bpb = 1.2030
    })
    const r = await runCli(['verify', dir])
    expect(r.code).toBe(1)
    expect(r.stdout).toContain('✗ seed 2024 val_bpb matches log: seed 2024 (seed_results[2]) says 1.203, the logs report ')
    expect(r.stderr).toMatch(/^golf: \d+ checks? failed: seed 2024 val_bpb matches log: seed 2024 \(seed_results\[2\]\) says 1\.203, [^\n]*\n$/)
    const j = await runCli(['verify', dir, '--json'])
    expect(j.code).toBe(1)
    expect(JSON.parse(j.stdout).seeds[2].val_bpb).toMatchObject({claimed: 1.203, status: 'fail', logged: 1.1264})
  })

  it('bad input exits 2 with one line', async () => {
    const r = await runCli(['verify', join(root, 'nope')])
    expect([r.code, r.stderr]).toEqual([2, `golf: submission folder not found: ${join(root, 'nope')}\n`])
    const b = await runCli(['verify', laterRecord(root), '--backend', 'cpu'])
    expect([b.code, b.stderr]).toEqual([2, 'golf: --backend applies to --run mode (folder mode computes nothing)\n'])
  })

  it.skipIf(process.platform === 'win32')('--run: a FIFO as the artifact or a counted code file is refused unopened (opening it would block), exit 2', async () => {
    const run = join(REPO_ROOT, 'test', 'fixtures', 'runs', 'tiny-cpu-s1337')
    const fifo = join(root, 'code.fifo')
    execFileSync('mkfifo', [fifo])
    const artifact = join(root, 'model.golf')
    writeFileSync(artifact, '')
    const code = await runCli(['verify', '--run', run, '--artifact', artifact, '--code', fifo])
    expect([code.code, code.stderr]).toEqual([2, `golf: code file is a FIFO, expected a regular file: ${fifo}\n`])
    const art = await runCli(['verify', '--run', run, '--artifact', fifo])
    expect([art.code, art.stderr]).toEqual([2, `golf: artifact is a FIFO, expected a regular file: ${fifo}\n`])
  })
})
