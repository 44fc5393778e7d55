import {existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {describe, expect, it} from 'vitest'

import {InputError} from '../../src/errors.js'
import {DEFAULT_MODEL_CONFIG} from '../../src/model/config.js'
import {DEFAULT_QUANT} from '../../src/recipe/recipe.js'
import {saveCheckpoint} from '../../src/run/checkpoint.js'
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

describe('RunFolder.readJson: config.json, summary.json and checkpoint.json are checked as they are read', () => {
  const fixture = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'runs', 'tiny-cpu-s7')
  const config = JSON.parse(readFileSync(join(fixture, 'config.json'), 'utf8'))
  const summary = JSON.parse(readFileSync(join(fixture, 'summary.json'), 'utf8'))
  const run = new RunFolder(mkdtempSync(join(tmpdir(), 'golf-runjson-')))
  saveCheckpoint(run, new Map([['w', Float32Array.of(1, 2)]]), new Map([['w', [2]]]), new Map(), {
    recipe: 't',
    seed: 1,
    step: 3,
    train_time_ms: 3,
    tokens_seen: 3,
    stream: {file: 0, pos: 3},
    model: DEFAULT_MODEL_CONFIG,
    quant: {...DEFAULT_QUANT, active: true},
    ternary_tensors: [],
    backend: 'wasm',
  })
  const sidecar = JSON.parse(readFileSync(run.path('checkpointMeta'), 'utf8'))
  const fails = (file: 'config' | 'summary' | 'checkpointMeta', text: string): string => {
    writeFileSync(run.path(file), text)
    try {
      run.readJson(file)
    } catch (err) {
      expect(err).toBeInstanceOf(InputError)
      return (err as Error).message
    }
    throw new Error('expected an InputError')
  }

  it('reads the files golf writes (a byte-order mark is dropped)', () => {
    writeFileSync(run.path('config'), '\ufeff' + JSON.stringify(config))
    writeFileSync(run.path('summary'), JSON.stringify(summary))
    expect(run.readJson<{seed: number}>('config').seed).toBe(7)
    expect(run.readJson<{seed: number}>('summary').seed).toBe(7)
    expect(run.readJson<{step: number}>('checkpointMeta').step).toBe(3)
  })

  it('refuses what is not JSON, JSON of the wrong shape and fields of the wrong type, in one line naming the file and field', () => {
    const p = (f: 'config' | 'summary' | 'checkpointMeta') => run.path(f)
    expect(fails('config', '{"seed": ')).toBe(`${p('config')}: not valid JSON (Unexpected end of JSON input)`)
    expect(fails('config', '[1]')).toBe(`${p('config')}: the document must be an object, got [1]`)
    expect(fails('config', JSON.stringify({...config, seed: 'x'}))).toBe(`${p('config')}: seed must be an integer, got "x"`)
    expect(fails('config', JSON.stringify({...config, data: 5}))).toBe(`${p('config')}: data must be a string, got 5`)
    expect(fails('config', JSON.stringify({...config, backend: undefined}))).toBe(`${p('config')}: backend is missing`)
    expect(fails('config', JSON.stringify({...config, recipe: {...config.recipe, train: {...config.recipe.train, seq_len: 'long'}}}))).toBe(`${p('config')}: recipe: train.seq_len must be integer, got "long"`)
    expect(fails('config', JSON.stringify(config).replace('"seed": 7', '"seed": 1e400').replace('"seed":7', '"seed":1e400'))).toBe(`${p('config')}: seed is not a finite number (too large for a double)`)
    expect(fails('summary', 'null')).toBe(`${p('summary')}: the document must be an object, got null`)
    expect(fails('summary', JSON.stringify({...summary, params: null}))).toBe(`${p('summary')}: params must be an object, got null`)
    expect(fails('summary', JSON.stringify({...summary, val_bpb: '2.0'}))).toBe(`${p('summary')}: val_bpb must be a number, got "2.0"`)
    expect(fails('checkpointMeta', '[]')).toBe(`${p('checkpointMeta')}: not a golf checkpoint sidecar (format missing)`)
    expect(fails('checkpointMeta', JSON.stringify({...sidecar, version: 9}))).toBe(`${p('checkpointMeta')}: checkpoint version 9 is not supported (this golf reads 1)`)
    expect(fails('checkpointMeta', JSON.stringify({...sidecar, step: 'x'}))).toBe(`${p('checkpointMeta')}: step must be an integer, got "x"`)
    expect(fails('checkpointMeta', JSON.stringify({...sidecar, files: null}))).toBe(`${p('checkpointMeta')}: files must be an object, got null`)
    expect(fails('checkpointMeta', JSON.stringify({...sidecar, stream: {file: 0}}))).toBe(`${p('checkpointMeta')}: stream.pos is missing`)
    expect(fails('checkpointMeta', JSON.stringify({...sidecar, model: {...sidecar.model, model_dim: null}}))).toBe(`${p('checkpointMeta')}: model.model_dim: must be a positive integer, got null`)
    expect(fails('checkpointMeta', JSON.stringify({...sidecar, quant: {...sidecar.quant, group_size: 'big'}}))).toBe(`${p('checkpointMeta')}: quant.group_size has the wrong kind of value, got "big"`)
  })
})
