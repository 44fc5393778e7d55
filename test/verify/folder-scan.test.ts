/**
 * Untrusted folders (issue #13 item 4): links out of the folder are refused unread, FIFOs and
 * devices are never opened, a big file is never read whole, and the walk is bounded.
 */
import {execFileSync} from 'node:child_process'
import {closeSync, mkdirSync, openSync, readFileSync, rmSync, symlinkSync, writeFileSync, writeSync, ftruncateSync} from 'node:fs'
import {join} from 'node:path'
import {afterAll, describe, expect, it} from 'vitest'

import {InputError} from '../../src/errors.js'
import {verifyFolder} from '../../src/verify/folder.js'
import {sortFolder} from '../../src/verify/folder-files.js'
import {DEFAULT_SCAN_LIMITS, readScanned, scanFolder} from '../../src/verify/folder-scan.js'
import {ternaryCompact, tmp, writeFolder} from './folders.js'

const root = tmp('golf-verify-untrusted-')
afterAll(() => rmSync(root, {recursive: true, force: true}))

const LIMIT = 16_000_000
const small = (name: string) =>
  writeFolder(root, name, {
    'README.md': '# x\n',
    'submission.json': {name: 'x', date: '2026-04-01', val_bpb: 1.5, bytes_total: 1000, bytes_code: 10},
    'train_gpt.py': 'print(1)\n\n',
    'train.log': 'step:1/1 val_loss:2.0 val_bpb:1.5\nTotal submission size: 1000 bytes\nCode size: 10 bytes\n',
  })

describe('links', () => {
  it('a link to /etc/passwd is refused without being read, and said so as a finding, not a crash', () => {
    const dir = small('passwd')
    symlinkSync('/etc/passwd', join(dir, 'train_seed1.log'))
    symlinkSync('/etc', join(dir, 'logs'))
    const scan = scanFolder(dir)
    expect(scan.files.map((f) => f.rel)).not.toContain('train_seed1.log')
    expect(scan.refused).toEqual([
      {rel: 'logs', reason: 'link to /etc, outside the folder: refused, not read'},
      {rel: 'train_seed1.log', reason: 'link to /etc/passwd, outside the folder: refused, not read'},
    ])
    const r = verifyFolder(dir, {limit: LIMIT})
    expect(r.ok).toBe(true) // the rest of the folder still checks
    expect(r.checks[0]).toEqual({name: 'folder contents', ok: true, confirmed: false, detail: 'not read: logs (link to /etc, outside the folder: refused, not read), train_seed1.log (link to /etc/passwd, outside the folder: refused, not read)'})
    const passwd = readFileSync('/etc/passwd', 'utf8').split('\n')[0]
    expect(JSON.stringify(r)).not.toContain(passwd)
  })

  it('a README or submission.json that is a link out of the folder counts as missing (fail), naming the link', () => {
    const dir = small('readme-link')
    rmSync(join(dir, 'README.md'))
    symlinkSync('/etc/hostname', join(dir, 'README.md'))
    const r = verifyFolder(dir, {limit: LIMIT})
    expect(r.checks.find((c) => c.name === 'README.md')).toMatchObject({ok: false, detail: 'missing in readme-link (not read: README.md, link to /etc/hostname, outside the folder: refused, not read)'})
  })

  it('a link inside the folder to a file inside is followed; one to a folder is not entered; a dangling one is reported', () => {
    const dir = small('inside')
    mkdirSync(join(dir, 'logs'))
    writeFileSync(join(dir, 'logs', 'run.txt'), 'step:1/1 val_loss:2.0 val_bpb:1.5\n')
    symlinkSync('logs/run.txt', join(dir, 'train_seed3.log'))
    symlinkSync('logs', join(dir, 'logs2'))
    symlinkSync('nowhere.txt', join(dir, 'gone.log'))
    const scan = scanFolder(dir)
    expect(scan.files.find((f) => f.rel === 'train_seed3.log')).toMatchObject({linkTo: 'logs/run.txt'})
    expect(scan.refused).toEqual([
      {rel: 'gone.log', reason: 'link to nowhere.txt that leads nowhere: not followed'},
      {rel: 'logs2', reason: 'link to logs, a folder: not entered'},
    ])
  })

  it('a submission folder given as a link is read (the user chose it); its links out are still refused', () => {
    const dir = small('real')
    symlinkSync(dir, join(root, 'alias'))
    symlinkSync('/etc/passwd', join(dir, 'x.log'))
    const r = verifyFolder(join(root, 'alias'), {limit: LIMIT})
    expect(r.files!.refused).toEqual([{file: 'x.log', reason: 'link to /etc/passwd, outside the folder: refused, not read'}])
  })
})

describe('special files and bounds', () => {
  it('a FIFO is skipped unopened: verify does not hang', () => {
    const dir = small('fifo')
    execFileSync('mkfifo', [join(dir, 'train_seed2.log')])
    const r = verifyFolder(dir, {limit: LIMIT})
    expect(r.files!.refused).toEqual([{file: 'train_seed2.log', reason: 'a FIFO: skipped, not opened'}])
    expect(r.ok).toBe(true)
  })

  it('a 20 MiB log is not read whole: reported too large, the folder still checked, under 1 MiB read in all', () => {
    const dir = small('big')
    const big = join(dir, 'train_seed9.log')
    // sparse: 20 MiB on disk costs nothing; a contradicting score at its start would fail the folder if it were read
    const fd = openSync(big, 'w')
    writeSync(fd, 'final_int8_zlib_roundtrip val_loss:9.0 val_bpb:9.9\n')
    ftruncateSync(fd, 20 * 2 ** 20)
    closeSync(fd)
    const scan = scanFolder(dir)
    const files = sortFolder(scan)
    expect(files.refused).toEqual([{rel: 'train_seed9.log', reason: 'too large to read (20,971,520 bytes, cap 16,777,216)'}])
    expect(scan.bytesRead).toBeLessThan(2 ** 20)
    const r = verifyFolder(dir, {limit: LIMIT})
    expect(r.ok).toBe(true)
    expect(r.checks.find((c) => c.name === 'folder contents')!.detail).toBe('not read: train_seed9.log (too large to read (20,971,520 bytes, cap 16,777,216))')
  })

  it('readScanned never reads past its cap, even for a file that grew after the walk', () => {
    const dir = writeFolder(root, 'grow', {'a.log': 'x'.repeat(100)})
    const scan = scanFolder(dir, {...DEFAULT_SCAN_LIMITS, maxFileBytes: 150})
    writeFileSync(join(dir, 'a.log'), 'x'.repeat(1000))
    expect(readScanned(scan, scan.files[0])).toEqual({ok: false, reason: 'too large to read (1,000 bytes, cap 150)'})
    expect(scan.bytesRead).toBe(0)
  })

  it('a file swapped for a link after the walk is not followed', () => {
    const dir = writeFolder(root, 'swap', {'a.log': 'step:1/1 val_loss:1 val_bpb:1\n'})
    const scan = scanFolder(dir)
    rmSync(join(dir, 'a.log'))
    symlinkSync('/etc/passwd', join(dir, 'a.log'))
    expect(readScanned(scan, scan.files[0])).toEqual({ok: false, reason: 'became a link after the folder was listed: not followed'})
  })

  it('folders nested deeper than the limit are not entered; the walk stops at the entry cap', () => {
    const dir = writeFolder(root, 'deep', {'a/b/c/d/e/train.log': 'step:1/1 val_loss:1 val_bpb:1\n', 'a/top.log': 'step:1/1 val_loss:1 val_bpb:1\n'})
    const scan = scanFolder(dir)
    expect(scan.files.map((f) => f.rel)).toEqual(['a/top.log'])
    expect(scan.refused).toEqual([{rel: 'a/b/c/d/', reason: 'deeper than 3 folder levels: not entered'}])
    const many = writeFolder(root, 'many', Object.fromEntries(Array.from({length: 30}, (_, i) => [`f${String(i).padStart(2, '0')}.txt`, 'x'])))
    const capped = scanFolder(many, {...DEFAULT_SCAN_LIMITS, maxEntries: 10})
    expect(capped.files).toHaveLength(10)
    expect(capped.refused).toEqual([{rel: '.', reason: 'more than 10 entries: stopped there, the rest was not looked at'}])
    expect(capped.stoppedIn).toBe('.')
    expect(scan.stoppedIn).toBeNull()
  })

  it('verify refuses a folder past the entry cap whole, in one line naming it, the cap and where the walk stopped: no check of part of it', () => {
    // readdir order is not name order: past the cap, train_gpt.py may be left out and the code
    // reported missing (or bytes_code counted from part of the code)
    const top = small('many-top')
    for (let i = 0; i < 12; i++) writeFileSync(join(top, `junk${i}.txt`), 'x')
    expect(() => verifyFolder(top, {limit: LIMIT, scan: {maxEntries: 10}})).toThrow(
      new InputError(`submission folder ${top}: more than 10 entries (files, folders and links up to 3 levels down), the most golf verify reads: it does not check part of a folder, which could miss code files; remove what is not part of the submission`),
    )
    const nested = small('many-logs')
    writeFolder(nested, 'logs', Object.fromEntries(Array.from({length: 12}, (_, i) => [`run${i}.txt`, 'x'])))
    expect(() => verifyFolder(nested, {limit: LIMIT, scan: {maxEntries: 10}})).toThrow(
      `submission folder ${nested}: more than 10 entries (files, folders and links up to 3 levels down; the cap was reached listing logs/), the most golf verify reads: it does not check part of a folder, which could miss code files; remove what is not part of the submission`,
    )
    expect(verifyFolder(nested, {limit: LIMIT, scan: {maxEntries: 20}}).checks.find((c) => c.name === 'code')!.ok).toBe(true)
  })

  it('.git and __pycache__ are not entered', () => {
    const dir = ternaryCompact(root, 'with-git')
    writeFolder(dir, '.git', {HEAD: 'ref: refs/heads/main\n'})
    writeFolder(dir, '__pycache__', {'x.pyc': 'x'})
    const r = verifyFolder(dir, {limit: LIMIT})
    expect(r.files!.refused.map((x) => x.file)).toEqual(['.git/', '__pycache__/'])
    expect(r.checks.filter((c) => !c.ok)).toEqual([])
  })
})
