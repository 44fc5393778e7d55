/**
 * golf report over diffusion runs, whose val_bpb is the negative ELBO, an upper bound on the
 * NLL: the README marks it as one everywhere (headline, seed table, ablations, plot),
 * submission.json adds val_var_bpb / bound / elbo_steps / objective and validates, AR and
 * diffusion runs are never seeds of one entry, and an ablation that crosses objectives gets no
 * verdict. The diffusion runs are the fixture runs rewritten as a golf-trained MDLM run writes
 * its folder (summary.json objective/bound/elbo, config.json objective and eval.elbo_*).
 */
import {cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {InputError} from '../../src/errors.js'
import {writeArtifact} from '../../src/pack/artifact.js'
import {formatChange, groupRuns, loadRuns, runChanges} from '../../src/report/ledger.js'
import {buildReport, type ReportOptions} from '../../src/report/report.js'
import {validateSubmission} from '../../src/report/submission-schema.js'
import {runCli} from '../helpers/cli.js'
import {FIXTURE_RUNS} from './fixtures.js'

const DATE = '2026-03-20T10:00:00Z'
const NATS_PER_BPB = 1.406097 / 2.029 // the fixture runs' val_loss / val_bpb

let dir: string

interface DiffusionOver {
  seed: number
  val_bpb: number
  se: number
  baseline?: string | null
  objective?: 'mdlm' | 'bd3lm'
  /** Scored by the chain rule (eval.score chain): a likelihood, not a bound. */
  chain?: boolean
}

function readJson(path: string): Record<string, any> {
  return JSON.parse(readFileSync(path, 'utf8'))
}

/** A fixture run copied to `root/id`, rewritten as a diffusion run (or left AR with `objective: undefined`). */
function diffusionRun(root: string, id: string, from: string, o: DiffusionOver): string {
  const out = join(root, id)
  cpSync(join(FIXTURE_RUNS, from), out, {recursive: true})
  const config = readJson(join(out, 'config.json'))
  const summary = readJson(join(out, 'summary.json'))
  const kind = o.objective ?? 'mdlm'
  config.seed = o.seed
  config.recipe.objective = {kind, block_size: kind === 'bd3lm' ? 8 : null, noise_eps: 0.001, sampling_eps: 0.001, train_interval: null}
  config.recipe.model.vocab_size = 261 // one [MASK] id after the 260 byte260 ids
  config.recipe.eval = {...config.recipe.eval, elbo_steps: 128, elbo_samples: 1, elbo_seed: 0, ...(o.chain ? {score: 'chain'} : {})}
  Object.assign(summary, {
    run_id: id,
    seed: o.seed,
    val_bpb: o.val_bpb,
    val_loss: o.val_bpb * NATS_PER_BPB,
    objective: kind,
    bound: !o.chain,
    elbo: o.chain ? null : {steps: 128, samples: 1, seed: 0, estimator: 'mc', val_bpb_se: o.se, se_method: 'between-window'},
    baseline: o.baseline ?? null,
  })
  delete summary.note
  writeFileSync(join(out, 'config.json'), JSON.stringify(config, null, 2))
  writeFileSync(join(out, 'summary.json'), JSON.stringify(summary, null, 2))
  return out
}

function options(root: string, out: string, extra: Partial<ReportOptions> = {}): ReportOptions {
  return {runs: ['*'], cwd: root, out: join(dir, out), artifact: join(dir, 'model.golf'), code: join(dir, 'train_golf.mjs'), date: DATE, author: 'Ada Lovelace', githubId: 'ada', ...extra}
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'golf-report-bound-'))
  const {bytes} = writeArtifact({model: {}, quant: {}, tensors: [{name: 'w', shape: [4], kind: 'float', data: Float32Array.of(1, 2, 3, 4), dtype: 'f32'}], compress: 'none'})
  writeFileSync(join(dir, 'model.golf'), bytes)
  writeFileSync(join(dir, 'train_golf.mjs'), 'x'.repeat(1000))
})

afterAll(() => rmSync(dir, {recursive: true, force: true}))

describe('a report over two diffusion seeds', () => {
  let readme: string
  let sub: Record<string, any>
  let svg: string

  beforeAll(async () => {
    const root = join(dir, 'mdlm')
    diffusionRun(root, 'mdlm-s7', 'tiny-cpu-s7', {seed: 7, val_bpb: 2.1234, se: 0.011})
    diffusionRun(root, 'mdlm-s42', 'tiny-cpu-s42', {seed: 42, val_bpb: 2.1334, se: 0.012})
    const result = await buildReport(options(root, 'sub-mdlm', {sota: 2.2}))
    expect(result).toMatchObject({objective: 'mdlm', bound: true})
    readme = readFileSync(join(dir, 'sub-mdlm', 'README.md'), 'utf8')
    sub = readJson(join(dir, 'sub-mdlm', 'submission.json'))
    svg = readFileSync(join(dir, 'sub-mdlm', 'val_bpb.svg'), 'utf8')
  })

  it('headlines the mean as a bound and says what it is: the T-step negative ELBO, its s.e. and estimator', () => {
    expect(readme).toMatch(/^\*\*val_bpb ≤ 2\.1284 ± 0\.0071\*\* \(mean ± std over 2 seeds\) · /m)
    expect(readme).toContain(
      'val_bpb is the negative 128-step ELBO of the mdlm model: an upper bound on its negative log-likelihood, not a likelihood; a Monte-Carlo estimate (1 draw per window, noise seed 0), standard error 0.0110–0.0120 bpb per seed (between-window).',
    )
    expect(readme).toContain('val_bpb ≤ 2.1284 mean over 2 seeds on brown_byte260 (the negative 128-step ELBO of the mdlm model, an upper bound).')
    // nowhere a plain "val_bpb 2.1…" that could pass for a likelihood
    expect(readme).not.toMatch(/val_bpb 2\.1\d{3}/)
  })

  it('labels the seed table columns as bounds, with the Monte-Carlo standard error', () => {
    expect(readme).toContain(
      [
        '| seed | steps | ms/step | val_bpb ≤ (neg. ELBO) | MC s.e. | roundtrip val_bpb ≤ | artifact bytes |',
        '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
        '| 7 | 40 | 2400.00 | 2.1234 | 0.0110 | — | 198 |',
        '| 42 | 40 | 2400.00 | 2.1334 | 0.0120 | — | — |',
        '| **Mean** | 40.0 | 2400.00 | 2.1284 | — | — | — |',
        '| **Std** | 0.0 | 0.00 | 0.0071 | — | — | — |',
      ].join('\n'),
    )
    expect(readme).toContain('- **Objective**: masked diffusion (MDLM)')
    expect(readme).toContain(', scored by the negative 128-step ELBO (an upper bound on the NLL), 1 Monte-Carlo draw per window with noise seed 0.')
    expect(readme).toContain("The seeds' val_loss is an upper bound (negative ELBO)")
    expect(svg).toContain('val_bpb ≤ (upper bound: negative ELBO)')
  })

  it('writes a valid submission.json: val_bpb is the bound, repeated as val_var_bpb, with bound, elbo_steps and objective', () => {
    expect(validateSubmission(sub)).toEqual([])
    expect(sub).toMatchObject({val_bpb: 2.1234, val_var_bpb: 2.1234, bound: 'upper', elbo_steps: 128, objective: 'mdlm', seeds: [7, 42]})
    expect(sub.val_loss).toBeCloseTo(2.1234 * NATS_PER_BPB, 12)
    expect(Object.keys(sub).slice(6, 12)).toEqual(['val_loss', 'val_bpb', 'val_var_bpb', 'bound', 'elbo_steps', 'objective'])
  })

  it('the schema refuses a bound that does not say how it was computed, or that is not a diffusion score', () => {
    const {elbo_steps: _e, ...noSteps} = sub
    expect(validateSubmission(noSteps)).toEqual(['elbo_steps is missing'])
    expect(validateSubmission({...sub, objective: 'ar'})).toEqual(['objective must be equal to one of the allowed values'])
    expect(validateSubmission({...sub, bound: 'lower'})).toEqual(['bound must be equal to constant'])
    expect(validateSubmission({...sub, val_var_bpb: 2.2})).toEqual(['val_var_bpb 2.2 is not val_bpb 2.1234 (both are the bound)'])
    const {bound: _b, ...unlabelled} = sub
    expect(validateSubmission(unlabelled)).toEqual(['bound is missing'])
  })
})

describe('mixing objectives', () => {
  it('AR and diffusion runs are never seeds of one entry: one line naming the runs', async () => {
    const root = join(dir, 'mixed')
    cpSync(join(FIXTURE_RUNS, 'tiny-cpu-s7'), join(root, 'tiny-cpu-s7'), {recursive: true})
    diffusionRun(root, 'mdlm-s42', 'tiny-cpu-s42', {seed: 42, val_bpb: 2.1334, se: 0.012})
    const message =
      'the main runs mix objectives and cannot be seeds of one entry: tiny-cpu-s7 is ar (likelihood); mdlm-s42 is mdlm (upper bound) (train one with --baseline <run> to report it as an ablation, or leave it out of --runs)'
    const err = await buildReport(options(root, 'sub-mixed')).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(InputError)
    expect((err as Error).message).toBe(message)
    const cli = await runCli(['report', '--runs', '*', '--out', join(dir, 'sub-mixed-cli')], {cwd: root})
    expect([cli.code, cli.stderr]).toEqual([2, `golf: ${message}\n`])
  }, 60_000)

  it('compares an AR run from before objectives with a new one on what they trained, not on keys added since', async () => {
    const root = join(dir, 'old-new')
    cpSync(join(FIXTURE_RUNS, 'tiny-cpu-s7'), join(root, 'old'), {recursive: true})
    cpSync(join(FIXTURE_RUNS, 'tiny-cpu-s42'), join(root, 'new'), {recursive: true})
    const config = readJson(join(root, 'new', 'config.json'))
    config.recipe.objective = {kind: 'ar', block_size: null, noise_eps: 0.001, sampling_eps: 0.001, train_interval: null}
    config.recipe.eval = {...config.recipe.eval, elbo_steps: 128, elbo_samples: 1, elbo_seed: 0}
    writeFileSync(join(root, 'new', 'config.json'), JSON.stringify(config))
    const runs = await loadRuns(['*'], {cwd: root})
    expect(runs.map((r) => [r.objective, r.bound])).toEqual([
      ['ar', false],
      ['ar', false],
    ])
    expect(groupRuns(runs).main).toHaveLength(2)
    // between two diffusion runs the ELBO settings are part of the change
    const m1 = diffusionRun(root, 'm1', 'tiny-cpu-s7', {seed: 7, val_bpb: 2.1, se: 0.01})
    const m2 = diffusionRun(root, 'm2', 'tiny-cpu-s7', {seed: 7, val_bpb: 2.1, se: 0.01})
    const c2 = readJson(join(m2, 'config.json'))
    c2.recipe.eval.elbo_steps = 64
    writeFileSync(join(m2, 'config.json'), JSON.stringify(c2))
    const [r1, r2] = await loadRuns([m1, m2])
    expect(runChanges(r1, r2).map(formatChange)).toEqual(['recipe.eval.elbo_steps 128 → 64'])
  })
})

describe('AR and diffusion runs in one ablation table', () => {
  it('an AR baseline with a diffusion ablation: the objective is marked and the verdict withheld', async () => {
    const root = join(dir, 'ar-main')
    cpSync(FIXTURE_RUNS, root, {recursive: true})
    diffusionRun(root, 'mdlm-s1337', 'tiny-cpu-s1337', {seed: 1337, val_bpb: 2.1, se: 0.01, baseline: 'tiny-cpu-s1337'})
    const result = await buildReport(options(root, 'sub-ar-main'))
    const readme = readFileSync(join(dir, 'sub-ar-main', 'README.md'), 'utf8')
    // the main seeds are likelihoods, as before
    expect(readme).toMatch(/^\*\*val_bpb 2\.0317 ± 0\.0031\*\*/m)
    expect(readme).not.toContain('val_bpb is the negative')
    // the AR ablations are judged as before
    expect(readme).toContain('| `model.mlp_mult 4 → 2`<br>half-width MLP to buy bytes | 1337 | 2.0712 | 2.0317 (main seeds, mean of 3) | +0.0395 | **hurts** | \\|Δ\\| > 2σ = 0.0061 |')
    // Δ = 2.1 − 2.0317 is far beyond 2σ, but a bound against a likelihood is no verdict
    expect(readme).toContain(
      '| `model.vocab_size 260 → 261`<br>`objective.kind "ar" → "mdlm"` | 1337 | ≤ 2.1000 | 2.0317 (main seeds, mean of 3) | ≤ +0.0683 | not like for like | mdlm (upper bound) vs ar (likelihood): the likelihood Δ is at most +0.0683 |',
    )
    expect(readme).toContain('Values marked ≤ are upper bounds (the negative ELBO of a diffusion objective), not likelihoods.')
    const row = result.ablations.find((a) => a.objective === 'mdlm')!
    expect(row).toMatchObject({verdict: 'not like for like', bound: true, baseline_objective: 'ar', baseline_bound: false})
    expect(row.delta).toBeCloseTo(2.1 - (2.029 + 2.035 + 2.031) / 3, 12)
    expect(validateSubmission(result.submission)).toEqual([])
    expect(result.submission).not.toHaveProperty('bound')
    expect(result.submission).not.toHaveProperty('objective')
  })

  it('diffusion seeds with an AR ablation (≥) and a block-diffusion ablation (a Δ between two bounds)', async () => {
    const root = join(dir, 'mdlm-main')
    diffusionRun(root, 'mdlm-s7', 'tiny-cpu-s7', {seed: 7, val_bpb: 2.1234, se: 0.011})
    diffusionRun(root, 'mdlm-s42', 'tiny-cpu-s42', {seed: 42, val_bpb: 2.1334, se: 0.012})
    diffusionRun(root, 'bd3lm-s7', 'tiny-cpu-s7', {seed: 7, val_bpb: 2.0, se: 0.01, objective: 'bd3lm', baseline: 'mdlm-s7'})
    cpSync(join(FIXTURE_RUNS, 'tiny-cpu-s7'), join(root, 'ar-s7'), {recursive: true})
    const s = readJson(join(root, 'ar-s7', 'summary.json'))
    writeFileSync(join(root, 'ar-s7', 'summary.json'), JSON.stringify({...s, run_id: 'ar-s7', baseline: 'mdlm-s7'}))
    const result = await buildReport(options(root, 'sub-mdlm-main'))
    const readme = readFileSync(join(dir, 'sub-mdlm-main', 'README.md'), 'utf8')
    expect(readme).toContain(
      '| `model.vocab_size 261 → 260`<br>`objective.kind "mdlm" → "ar"` | 7 | 2.0290 | ≤ 2.1284 (main seeds, mean of 2) | ≥ −0.0994 | not like for like | ar (likelihood) vs mdlm (upper bound): the likelihood Δ is at least −0.0994 |',
    )
    expect(readme).toContain(
      '| `objective.block_size null → 8`<br>`objective.kind "mdlm" → "bd3lm"` | 7 | ≤ 2.0000 | ≤ 2.1284 (main seeds, mean of 2) | −0.1284 | **helps** | \\|Δ\\| > 2σ = 0.0141; objective mdlm → bd3lm: a Δ between two upper bounds |',
    )
    expect(result.ablations.map((a) => [a.objective, a.verdict])).toEqual([
      ['ar', 'not like for like'],
      ['bd3lm', 'helps'],
    ])
  })
})

describe('diffusion seeds scored by the chain rule (eval.score chain): likelihoods', () => {
  it('headline, seed table and submission.json are plain likelihoods; the evaluation line says how; an ELBO ablation is a bound against them', async () => {
    const root = join(dir, 'bd3lm-chain')
    diffusionRun(root, 'chain-s7', 'tiny-cpu-s7', {seed: 7, val_bpb: 2.1234, se: 0, objective: 'bd3lm', chain: true})
    diffusionRun(root, 'chain-s42', 'tiny-cpu-s42', {seed: 42, val_bpb: 2.1334, se: 0, objective: 'bd3lm', chain: true})
    diffusionRun(root, 'elbo-s7', 'tiny-cpu-s7', {seed: 7, val_bpb: 2.5, se: 0.01, objective: 'bd3lm', baseline: 'chain-s7'})
    const result = await buildReport(options(root, 'sub-chain'))
    expect(result).toMatchObject({objective: 'bd3lm', bound: false})
    const readme = readFileSync(join(dir, 'sub-chain', 'README.md'), 'utf8')
    expect(readme).toMatch(/^\*\*val_bpb 2\.1284 ± 0\.0071\*\* \(mean ± std over 2 seeds\) · /m)
    expect(readme).toContain(', scored by the chain rule (each block unmasked left to right, one token per step: the exact likelihood of that factorization, not a bound).')
    expect(readme).not.toContain('upper bound on its negative log-likelihood')
    expect(readme).toContain('| seed | steps | ms/step | val_bpb | roundtrip val_bpb | artifact bytes |')
    const sub = readJson(join(dir, 'sub-chain', 'submission.json'))
    expect(validateSubmission(sub)).toEqual([])
    expect(sub).toMatchObject({val_bpb: 2.1234})
    for (const k of ['val_var_bpb', 'bound', 'elbo_steps']) expect(sub).not.toHaveProperty(k)
    // the same model's bound against the chain-rule seeds: a change of eval.score, and a bound minus a likelihood
    expect(readme).toContain('| `eval.score "chain" → "elbo"` | 7 | ≤ 2.5000 | 2.1284 (main seeds, mean of 2) | ≤ +0.3716 |')
  })
})
