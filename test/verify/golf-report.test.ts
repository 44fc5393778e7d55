/**
 * golf verify on the folders golf itself writes: `buildReport` (golf report) on the fixture runs,
 * as they are (AR) and turned into diffusion runs (the score a bound: `bound: "upper"`,
 * `val_var_bpb`, `final_elbo bound:upper` in the logs). Both must pass; a tampered bound fails.
 */
import {cpSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {writeArtifact} from '../../src/pack/artifact.js'
import {buildReport} from '../../src/report/report.js'
import {validateSubmission} from '../../src/report/submission-schema.js'
import {verifyFolder} from '../../src/verify/folder.js'
import {REPO_ROOT} from '../helpers/cli.js'
import {tmp} from './folders.js'

const RUNS = join(REPO_ROOT, 'test', 'fixtures', 'runs')
const SEEDS = ['tiny-cpu-s1337', 'tiny-cpu-s42', 'tiny-cpu-s7']
const LIMIT = 16_000_000
let dir: string

/** Turn a copied AR fixture run into an MDLM run: summary, config and train.log as golf train writes them. */
function toDiffusion(run: string): void {
  const summary = JSON.parse(readFileSync(join(run, 'summary.json'), 'utf8'))
  summary.objective = 'mdlm'
  summary.bound = true
  summary.elbo = {steps: 128, samples: 1, seed: 0, estimator: 'mc', val_bpb_se: 0.0021, se_method: 'window'}
  writeFileSync(join(run, 'summary.json'), JSON.stringify(summary, null, 2))
  const config = JSON.parse(readFileSync(join(run, 'config.json'), 'utf8'))
  config.recipe.objective = {...config.recipe.objective, kind: 'mdlm'}
  config.recipe.eval = {...config.recipe.eval, elbo_steps: 128}
  writeFileSync(join(run, 'config.json'), JSON.stringify(config, null, 2))
  const log = readFileSync(join(run, 'train.log'), 'utf8').split('\n')
  log[0] = log[0].replace(' data:', ' objective:mdlm data:')
  const last = log.filter((l) => /val_bpb:/.test(l)).at(-1)!
  const [loss, bpb] = [/val_loss:(\S+)/.exec(last)![1], /val_bpb:(\S+)/.exec(last)![1]]
  const text = log.join('\n').trimEnd() + `\nfinal_elbo bound:upper steps:128 samples:1 seed:0 val_loss:${loss} val_bpb:${bpb} val_bpb_se:0.0021\n`
  writeFileSync(join(run, 'train.log'), text)
}

async function report(kind: 'ar' | 'mdlm'): Promise<string> {
  const runs = join(dir, `runs-${kind}`)
  for (const s of SEEDS) {
    cpSync(join(RUNS, s), join(runs, s), {recursive: true})
    if (kind === 'mdlm') toDiffusion(join(runs, s))
  }
  const out = join(dir, `sub-${kind}`)
  await buildReport({runs: ['*'], cwd: runs, out, artifact: join(dir, 'model.golf'), code: join(dir, 'train_golf.mjs'), date: '2026-03-20T10:00:00Z', author: 'Ada', githubId: 'ada'})
  return out
}

beforeAll(() => {
  dir = tmp('golf-verify-report-')
  const {bytes} = writeArtifact({model: {}, quant: {}, tensors: [{name: 'w', shape: [4], kind: 'float', data: Float32Array.of(1, 2, 3, 4), dtype: 'f32'}], compress: 'none'})
  writeFileSync(join(dir, 'model.golf'), bytes)
  writeFileSync(join(dir, 'train_golf.mjs'), `// stand-in counted code\n${'const x = 1\n'.repeat(80)}`)
})
afterAll(() => rmSync(dir, {recursive: true, force: true}))

describe("golf verify on golf report's own folders", () => {
  it('an AR report passes: three seeds matched to their logs, the artifact and the code by size', async () => {
    const out = await report('ar')
    const r = verifyFolder(out, {limit: LIMIT})
    expect(r.checks.filter((c) => !c.ok)).toEqual([])
    expect(r.bound).toBe(false)
    expect(r.seeds!.map((s) => [s.seed, s.logs, s.val_bpb?.status])).toEqual([
      [7, ['sizes.log', 'train_seed7.log'], 'pass'],
      [42, ['train_seed42.log'], 'pass'],
      [1337, ['train_seed1337.log'], 'pass'],
    ])
    expect(r.checks.find((c) => c.name === 'artifact model.golf')).toMatchObject({ok: true, confirmed: true})
    expect(r.checks.find((c) => c.name === 'bytes_code matches code')!.detail).toBe('submission.json bytes_code 985 = train_golf.mjs raw')
    // golf train's log is written before packing; the report's sizes.log carries the size lines,
    // measured from the files shipped, so the byte claims are confirmed against a log
    const sub = JSON.parse(readFileSync(join(out, 'submission.json'), 'utf8'))
    expect(readFileSync(join(out, 'sizes.log'), 'utf8').split('\n').slice(1)).toEqual([
      `Serialized model golf-artifact: ${sub.bytes_model} bytes`,
      'Code size: 985 bytes',
      `Total submission size golf-artifact: ${sub.bytes_total} bytes`,
      '',
    ])
    expect(r.checks.find((c) => c.name === 'bytes_total matches logs')).toMatchObject({ok: true, confirmed: true, detail: `${sub.bytes_total.toLocaleString('en-US')} (sizes.log:4 Total submission size golf-artifact)`})
    expect(r.checks.find((c) => c.name === 'bytes_code matches logs')).toMatchObject({ok: true, confirmed: true, detail: '985 (sizes.log:3 Code size)'})
    // sizes.log names the seed whose artifact ships: that seed's bytes_model is confirmed by it
    expect(r.checks.find((c) => c.name === 'train log')!.detail).toBe('sizes.log (seed 7), train_seed1337.log (seed 1337), train_seed42.log (seed 42), train_seed7.log (seed 7)')
    expect(r.checks.find((c) => c.name === 'seed 7 bytes_model matches log')).toMatchObject({ok: true, confirmed: true, detail: `${sub.bytes_model} (sizes.log:2 Serialized model golf-artifact)`})

    // a tampered bytes_total fails, naming the claim and the logged size
    const claimed = sub.bytes_total + 1000
    writeFileSync(join(out, 'submission.json'), JSON.stringify({...sub, bytes_total: claimed}, null, 2))
    const t = verifyFolder(out, {limit: LIMIT})
    const bad = t.checks.find((c) => c.name === 'bytes_total matches logs')!
    expect(bad).toMatchObject({ok: false})
    expect(bad.detail).toBe(`submission.json says ${claimed.toLocaleString('en-US')}, the logs report ${sub.bytes_total.toLocaleString('en-US')} (sizes.log:4 Total submission size golf-artifact)`)
    expect(t.checks.filter((c) => !c.ok).map((c) => c.name)).toEqual(['bytes add up', 'bytes_total matches logs'])
  })

  it('a diffusion report passes as an upper bound against the logs’ bound lines; a tampered bound fails', async () => {
    const out = await report('mdlm')
    const sub = JSON.parse(readFileSync(join(out, 'submission.json'), 'utf8'))
    expect(sub).toMatchObject({bound: 'upper', objective: 'mdlm', elbo_steps: 128})
    expect(sub.val_var_bpb).toBe(sub.val_bpb)
    expect(validateSubmission(sub)).toEqual([])
    const r = verifyFolder(out, {limit: LIMIT})
    expect(r.checks.filter((c) => !c.ok)).toEqual([])
    expect(r.bound).toBe(true)
    expect(r.checks.find((c) => c.name === 'val_bpb matches logs')!.detail).toMatch(/^≤ 2\.029 = 2\.0290 \(train_seed7\.log:\d+ final_elbo bound:upper, an upper bound\)$/)

    sub.seed_results[1].val_bpb = 1.935
    writeFileSync(join(out, 'submission.json'), JSON.stringify(sub, null, 2))
    const t = verifyFolder(out, {limit: LIMIT})
    expect(t.checks.filter((c) => !c.ok).map((c) => c.name)).toEqual(['seed 42 val_bpb matches log'])
    expect(t.checks.find((c) => !c.ok)!.detail).toMatch(/^seed 42 \(seed_results\[1\]\) says ≤ 1\.935, the logs report 2\.0350 \(train_seed42\.log:\d+ step:40\/40\), 2\.0350 \(train_seed42\.log:\d+ final_elbo bound:upper\)$/)
  })
})
