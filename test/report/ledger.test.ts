import {cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'

import {InputError} from '../../src/errors.js'
import {configDiff, formatChange, groupRuns, loadRuns} from '../../src/report/ledger.js'
import {FIXTURE_RUNS} from './fixtures.js'

describe('configDiff', () => {
  it('lists changed dotted keys, sorted, with old and new values', () => {
    const a = {seed: 1, recipe: {model: {model_dim: 128, mlp_mult: 4}, quant: {targets: ['a', 'b']}}}
    const b = {seed: 2, recipe: {model: {model_dim: 256, mlp_mult: 4}, quant: {targets: ['a']}, extra: true}}
    expect(configDiff(a, b)).toEqual([
      {key: 'recipe.extra', from: undefined, to: true},
      {key: 'recipe.model.model_dim', from: 128, to: 256},
      {key: 'recipe.quant.targets', from: ['a', 'b'], to: ['a']},
      {key: 'seed', from: 1, to: 2},
    ])
    expect(configDiff(a, b, ['seed', 'recipe.quant']).map((c) => c.key)).toEqual(['recipe.extra', 'recipe.model.model_dim'])
    expect(configDiff(a, a)).toEqual([])
  })

  it('formats a change on one line', () => {
    expect(formatChange({key: 'model.mlp_mult', from: 4, to: 2})).toBe('model.mlp_mult 4 → 2')
    expect(formatChange({key: 'quant.extra', from: undefined, to: 'x'})).toBe('quant.extra — → "x"')
  })
})

describe('loadRuns + groupRuns on the fixture runs', () => {
  it('finds five runs by glob: three main seeds and two computed ablations', async () => {
    const runs = await loadRuns(['*'], {cwd: FIXTURE_RUNS})
    expect(runs.map((r) => r.id)).toEqual(['ablate-group64-s1337', 'ablate-mlp2-s1337', 'tiny-cpu-s1337', 'tiny-cpu-s42', 'tiny-cpu-s7'])
    const {main, ablations} = groupRuns(runs, {cwd: FIXTURE_RUNS})
    expect(main.map((r) => r.summary.seed)).toEqual([7, 42, 1337])
    expect(ablations.map((a) => a.changes.map(formatChange))).toEqual([['recipe.quant.group_size 128 → 64'], ['recipe.model.mlp_mult 4 → 2']])
    for (const a of ablations) {
      expect(a.baseline.id).toBe('tiny-cpu-s1337')
      expect(a.reference).toBe(main)
    }
    expect(main[0].metrics.filter((m) => m.train_loss !== undefined)).toHaveLength(5)
  })

  it('accepts folders, summary.json paths and duplicates once', async () => {
    const runs = await loadRuns([join(FIXTURE_RUNS, 'tiny-cpu-s7'), join(FIXTURE_RUNS, 'tiny-cpu-s7', 'summary.json'), join(FIXTURE_RUNS, 'tiny-cpu-s4*')])
    expect(runs.map((r) => r.id)).toEqual(['tiny-cpu-s42', 'tiny-cpu-s7'])
  })

  it('rejects no match, a missing folder and a folder without summary.json, naming them', async () => {
    await expect(loadRuns(['nothing-*'], {cwd: FIXTURE_RUNS})).rejects.toThrow(/^--runs: no run folders matched nothing-\*$/)
    await expect(loadRuns(['missing-run'], {cwd: FIXTURE_RUNS})).rejects.toThrow('run folder not found: missing-run')
    const dir = mkdtempSync(join(tmpdir(), 'golf-ledger-'))
    try {
      cpSync(join(FIXTURE_RUNS, 'tiny-cpu-s7'), join(dir, 'run'), {recursive: true})
      rmSync(join(dir, 'run', 'summary.json'))
      const err = await loadRuns(['run'], {cwd: dir}).catch((e: unknown) => e)
      expect(err).toBeInstanceOf(InputError)
      expect((err as Error).message).toBe(`run folder ${join(dir, 'run')} has no summary.json (did the run finish?)`)
      writeFileSync(join(dir, 'run', 'summary.json'), '{"seed": 1, "steps": "many"}')
      await expect(loadRuns(['run'], {cwd: dir})).rejects.toThrow(/summary\.json: steps must be an integer, got "many"$/)
    } finally {
      rmSync(dir, {recursive: true, force: true})
    }
  })

  it('reads val_coverage when recorded, and refuses one that contradicts itself', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'golf-ledger-'))
    try {
      cpSync(join(FIXTURE_RUNS, 'tiny-cpu-s7'), join(dir, 'run'), {recursive: true})
      const path = join(dir, 'run', 'summary.json')
      const summary = JSON.parse(readFileSync(path, 'utf8'))
      writeFileSync(path, JSON.stringify({...summary, val_coverage: {read_tokens: 65536, split_tokens: 300269, partial: true}}))
      expect((await loadRuns(['run'], {cwd: dir}))[0].summary.val_coverage).toEqual({read_tokens: 65536, split_tokens: 300269, partial: true})
      writeFileSync(path, JSON.stringify({...summary, val_coverage: {read_tokens: 65536, split_tokens: 300269, partial: false}}))
      await expect(loadRuns(['run'], {cwd: dir})).rejects.toThrow(/summary\.json: val_coverage must be \{read_tokens, split_tokens, partial\} with partial = read_tokens < split_tokens, got \{"read_tokens":65536,"split_tokens":300269,"partial":false\}$/)
    } finally {
      rmSync(dir, {recursive: true, force: true})
    }
  })

  it('refuses main runs that differ in more than the seed, and an ablation whose baseline is missing', async () => {
    const runs = await loadRuns(['*'], {cwd: FIXTURE_RUNS})
    const mlp = runs.find((r) => r.id === 'ablate-mlp2-s1337')!
    const rogue = {...mlp, summary: {...mlp.summary, baseline: null}}
    expect(() => groupRuns([runs.find((r) => r.id === 'tiny-cpu-s7')!, rogue])).toThrow(
      'runs tiny-cpu-s7 and ablate-mlp2-s1337 have no baseline but differ in recipe.model.mlp_mult 4 → 2 (train the ablation with --baseline <run>, or leave it out of --runs)',
    )
    const orphan = {...mlp, summary: {...mlp.summary, baseline: 'runs/gone'}}
    expect(() => groupRuns([runs.find((r) => r.id === 'tiny-cpu-s7')!, orphan])).toThrow('run ablate-mlp2-s1337: its baseline runs/gone was not found (pass the baseline run to --runs too)')
    expect(() => groupRuns([mlp])).toThrow(/^no main runs/)
  })
})
