import {existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'

import {InputError} from '../../src/errors.js'
import {RunFolder} from '../../src/run/folder.js'

describe('RunFolder.dropMetricsAfter: a resumed run logs each step once', () => {
  const lines = [
    {step: 1, train_loss: 5},
    {step: 10, train_loss: 4},
    {step: 10, val_loss: 4.2, val_bpb: 6},
    {step: 20, train_loss: 3},
    {step: 25, val_loss: 3.1, final: true},
  ]

  it('drops the later steps, the final evaluation and a line torn by a kill; keeps the rest as written', () => {
    const run = RunFolder.create(join(mkdtempSync(join(tmpdir(), 'golf-metrics-')), 'run'))
    const path = run.path('metrics')
    writeFileSync(path, lines.map((l) => JSON.stringify(l) + '\n').join('') + '{"step":30,"train_lo')
    expect(run.dropMetricsAfter(10)).toBe(3)
    expect(readFileSync(path, 'utf8')).toBe(lines.slice(0, 3).map((l) => JSON.stringify(l) + '\n').join(''))
  })

  it('leaves the file untouched when nothing is dropped, and a run without metrics alone', () => {
    const run = RunFolder.create(join(mkdtempSync(join(tmpdir(), 'golf-metrics-')), 'run'))
    expect(run.dropMetricsAfter(5)).toBe(0)
    const path = run.path('metrics')
    writeFileSync(path, lines.slice(0, 2).map((l) => JSON.stringify(l) + '\n').join(''))
    const before = statSync(path).mtimeMs
    expect(run.dropMetricsAfter(10)).toBe(0)
    expect(statSync(path).mtimeMs).toBe(before)
  })
})

describe('RunFolder.create: a fresh run never lands on something that exists', () => {
  it('refuses a folder that holds something, an existing file and a path under a file, in one line, touching nothing', () => {
    const dir = mkdtempSync(join(tmpdir(), 'golf-create-'))
    const file = join(dir, 'notes.txt')
    writeFileSync(file, 'mine')
    expect(() => RunFolder.create(file)).toThrow(new InputError(`run folder ${file} is an existing file, not a folder (choose another --out)`))
    expect(() => RunFolder.create(join(file, 'sub', 'run'))).toThrow(new InputError(`run folder ${join(file, 'sub', 'run')}: ${file} is a file, not a folder (choose another --out)`))
    expect(() => RunFolder.create(dir)).toThrow(new InputError(`run folder ${dir} already exists and is not empty (use --resume to continue it, or another --out)`))
    expect(readFileSync(file, 'utf8')).toBe('mine')
    expect(RunFolder.create(join(dir, 'new', 'run')).dir).toBe(join(dir, 'new', 'run'))
  })
})

describe('RunFolder.removeUnfinished', () => {
  it("removes golf's run files only, and the folder only when nothing else is left", () => {
    const run = RunFolder.create(join(mkdtempSync(join(tmpdir(), 'golf-unfinished-')), 'run'))
    run.writeJson('config', {})
    run.log('golf train …')
    writeFileSync(join(run.dir, 'notes.txt'), 'mine')
    run.removeUnfinished({keepFolder: false})
    expect(readdirSync(run.dir)).toEqual(['notes.txt'])
    rmSync(join(run.dir, 'notes.txt'))
    run.log('golf train …')
    run.removeUnfinished({keepFolder: true})
    expect(readdirSync(run.dir)).toEqual([])
    run.removeUnfinished({keepFolder: false})
    expect(existsSync(run.dir)).toBe(false)
  })
})
