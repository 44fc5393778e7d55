import {spawnSync} from 'node:child_process'
import {cpSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {train} from '../../src/train/loop.js'
import {dependencyRoot} from '../../src/verify/roundtrip.js'
import {runCli} from '../helpers/cli.js'
import {tinyDataset, tinyRecipe} from '../helpers/tiny-run.js'
import {FIXTURE_RUNS} from './fixtures.js'

let dir: string

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'golf-report-cli-'))
})

afterAll(() => rmSync(dir, {recursive: true, force: true}))

describe('golf report (built CLI): bad input is one line and exit 2', () => {
  it('no runs matched', async () => {
    const r = await runCli(['report', '--runs', 'nothing-*', '--out', join(dir, 'x')], {cwd: FIXTURE_RUNS})
    expect(r.code).toBe(2)
    expect(r.stderr).toBe('golf: --runs: no run folders matched nothing-*\n')
  })

  it('a run without summary.json', async () => {
    cpSync(join(FIXTURE_RUNS, 'tiny-cpu-s7'), join(dir, 'broken'), {recursive: true})
    rmSync(join(dir, 'broken', 'summary.json'))
    const r = await runCli(['report', '--runs', 'broken', '--out', 'x'], {cwd: dir})
    expect(r.code).toBe(2)
    expect(r.stderr).toBe(`golf: run folder ${join(dir, 'broken')} has no summary.json (did the run finish?)\n`)
  })

  it('a bad --sota and a bad --date', async () => {
    const sota = await runCli(['report', '--runs', '*', '--out', join(dir, 'y'), '--sota', 'best'], {cwd: FIXTURE_RUNS})
    expect([sota.code, sota.stderr]).toEqual([2, 'golf: --sota best: expected a positive number\n'])
    const seeds = await runCli(['report', '--runs', '*', '--out', join(dir, 'y'), '--sota-seeds', '1.2,abc'], {cwd: FIXTURE_RUNS})
    expect([seeds.code, seeds.stderr]).toEqual([2, 'golf: --sota-seeds abc: expected a positive number\n'])
    const date = await runCli(['report', '--runs', '*', '--out', join(dir, 'y'), '--date', 'soon'], {cwd: FIXTURE_RUNS})
    expect([date.code, date.stderr]).toEqual([2, 'golf: --date soon: expected an ISO 8601 date, e.g. 2026-03-19 or 2026-03-19T08:45:00Z\n'])
  })
})

describe('golf report → golf verify on real runs', () => {
  it('packs, roundtrips and bundles trained runs; golf verify passes on the folder', async () => {
    const data = await tinyDataset(8, 2000)
    const runs = join(dir, 'runs')
    const recipe = tinyRecipe({train: {max_steps: 3, eval_every: 0, log_every: 1}, eval: {val_tokens: 256, sliding_stride: null}})
    for (const seed of [1, 2]) await train({recipe, dataDir: data, outDir: join(runs, `s${seed}`), seed, backend: 'wasm'})
    const ablation = tinyRecipe({model: {mlp_mult: 1}, train: {max_steps: 3, eval_every: 0, log_every: 1}, eval: {val_tokens: 256, sliding_stride: null}})
    await train({recipe: ablation, dataDir: data, outDir: join(runs, 'mlp1'), seed: 1, backend: 'wasm', baseline: join(runs, 's1'), note: 'narrow MLP'})

    const out = join(dir, 'submissions', 'tiny')
    const r = await runCli(['report', '--runs', join(runs, '*'), '--out', out, '--author', 'Ada', '--github-id', 'ada', '--date', '2026-03-20', '--tar', '--json'])
    expect(r.code, r.stderr).toBe(0)
    const result = JSON.parse(r.stdout)
    expect(result.files).toEqual(['README.md', 'model.golf', 'sizes.log', 'submission.json', 'train_golf.br', 'train_golf.mjs', 'train_seed1.log', 'train_seed2.log', 'val_bpb.svg'])
    expect(result.tarball).toBe(`${out}.tar.gz`)
    // golf-trained ternary runs roundtrip exactly: the shipped artifact scores the run's val_bpb
    expect(result.seeds[0].roundtrip_val_bpb).toBe(result.seeds[0].val_bpb)
    expect(result.seeds.every((s: {artifact_bytes: number | null}) => typeof s.artifact_bytes === 'number' && s.artifact_bytes > 0)).toBe(true)
    expect(result.ablations).toHaveLength(1)
    expect(result.ablations[0].change).toEqual(['model.mlp_mult 2 → 1'])
    expect(result.compliance.find((c: {name: string}) => c.name === '3+ seeds').status).toBe('fail')
    // the runs scored the first 256 validation tokens: measured, partial, a failed line
    const whole = result.compliance.find((c: {name: string}) => c.name === 'whole validation split')
    expect(whole.status).toBe('fail')
    expect(whole.detail).toMatch(/^partial: first 256 of [\d,]+ validation tokens — not the official metric \(seed 1, seed 2, the roundtrip\)$/)
    const sub = JSON.parse(readFileSync(join(out, 'submission.json'), 'utf8'))
    expect(sub.bytes_model).toBe(readFileSync(join(out, 'model.golf')).byteLength)
    // the counted code is the loader and the compressed bundle, both files' bytes
    const counted = statSync(join(out, 'train_golf.mjs')).size + statSync(join(out, 'train_golf.br')).size
    expect(sub.bytes_code).toBe(counted)
    const readme = readFileSync(join(out, 'README.md'), 'utf8')
    expect(readme).toContain('(gap 0.000000; exact: identical logits)')
    expect(readme).toContain(`With the counted code alone (\`train_golf.mjs\` + \`train_golf.br\`, ${counted.toLocaleString('en-US')} bytes;`)

    const v = await runCli(['verify', out, '--json'])
    expect(v.code, v.stdout + v.stderr).toBe(0)
    const report = JSON.parse(v.stdout)
    expect(report.checks.filter((c: {ok: boolean}) => !c.ok)).toEqual([])
    expect(report.bytes_total).toBe(sub.bytes_total)
    expect(sub.val_coverage).toMatchObject({read_tokens: 256, partial: true})
    // the sizes golf report measured are in sizes.log: the byte claims are confirmed against a log
    for (const name of ['bytes_total matches logs', 'bytes_code matches logs']) expect(report.checks.find((c: {name: string}) => c.name === name), name).toMatchObject({ok: true, confirmed: true})
    expect(report.checks.find((c: {name: string}) => c.name === 'bytes_code matches code')).toMatchObject({confirmed: true, detail: `submission.json bytes_code ${counted.toLocaleString('en-US')} = train_golf.br + train_golf.mjs raw`})

    // the counted code runs alone from the folder (npm packages as a reviewer installs them) and
    // prints the counted bytes as its code size
    symlinkSync(dependencyRoot(), join(out, 'node_modules'), 'junction')
    const t = spawnSync(process.execPath, ['train_golf.mjs', 'train', '--data', data, '--out', 'runs/again', '--max-steps', '1', '--backend', 'wasm'], {cwd: out, encoding: 'utf8'})
    expect(t.status, t.stderr).toBe(0)
    expect(t.stdout).toContain(`\nCode size: ${counted} bytes\n`)
    // the recipe scores the first 256 validation tokens: the counted code's line says it is partial
    expect(t.stdout).toMatch(/^final_roundtrip val_loss:\d+\.\d{8} val_bpb:\d+\.\d{8} partial_val_tokens:256\/\d+$/m)
  })
})
