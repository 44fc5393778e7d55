/**
 * Packing and verifying across backends: a run trained on the cpu backend (tfjs-backend-cpu)
 * packed and checked on wasm, and the other way round. The stand-in for the case that matters
 * (a run trained on tfjs-node-gpu, packed where only wasm loads): golf must quantize on the
 * trained backend when it can, say when it could not, and report the measured gap instead of a
 * spurious "not exact" failure. Needs dist/ (npx tsc -p tsconfig.json) for the CLI parts.
 */
import {mkdtempSync, readFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {beforeAll, describe, expect, it} from 'vitest'

import {readArtifact} from '../../src/pack/artifact.js'
import {loadCheckpoint} from '../../src/run/checkpoint.js'
import {RunFolder} from '../../src/run/folder.js'
import {train} from '../../src/train/loop.js'
import type {RoundtripResult} from '../../src/verify/roundtrip.js'
import {roundtripCheck, verifyRun} from '../../src/verify/run.js'
import {runCli} from '../helpers/cli.js'
import {tinyDataset, tinyRecipe} from '../helpers/tiny-run.js'

const VAL = 512
let root: string
let cpuRun: string
let wasmRun: string

beforeAll(async () => {
  const data = await tinyDataset(8, 2000)
  root = mkdtempSync(join(tmpdir(), 'golf-xbackend-'))
  cpuRun = join(root, 'cpu-run')
  wasmRun = join(root, 'wasm-run')
  const recipe = tinyRecipe({train: {max_steps: 4, eval_every: 0, workers: 1}, eval: {sliding_stride: null, val_tokens: VAL}})
  await train({recipe, dataDir: data, outDir: cpuRun, seed: 4, backend: 'cpu'})
  await train({recipe, dataDir: data, outDir: wasmRun, seed: 4, backend: 'wasm'})
}, 120_000)

const check = (r: {checks: Array<{name: string; ok: boolean; confirmed: boolean; detail: string}>}) => r.checks.find((c) => c.name === 'roundtrip exact')!

describe('pack and verify on another backend than the run trained on', () => {
  it('the run records its backend; golf pack quantizes on it by default and says when --backend crosses', async () => {
    expect(loadCheckpoint(new RunFolder(cpuRun)).meta.backend).toBe('cpu')
    const same = await runCli(['pack', cpuRun, '--out', join(root, 'cpu-on-cpu.golf'), '--json'])
    expect(same.code, same.stderr).toBe(0)
    const s = JSON.parse(same.stdout)
    expect(s).toMatchObject({backend: 'cpu', cross_backend: null, exact: true, notes: []})

    const crossed = await runCli(['pack', cpuRun, '--backend', 'wasm', '--out', join(root, 'cpu-on-wasm.golf'), '--json'])
    expect(crossed.code, crossed.stderr).toBe(0)
    const c = JSON.parse(crossed.stdout)
    expect(c.backend).toBe('wasm')
    expect(c.cross_backend).toEqual({trained: 'cpu', quantized: 'wasm', why: '--backend wasm was asked for'})
    expect(c.exact).toBe(false) // not known to be exact: another backend quantized it
    expect(c.notes.join('\n')).toMatch(/^crosses backends: the run trained on cpu, its quantizer runs on wasm here \(--backend wasm was asked for\).*golf verify measures the gap$/m)
    // the artifact says where it was quantized; a same-backend artifact carries no such key
    expect(readArtifact(readFileSync(join(root, 'cpu-on-wasm.golf'))).manifest.quant.quantized_on).toBe('wasm')
    expect(readArtifact(readFileSync(join(root, 'cpu-on-cpu.golf'))).manifest.quant.quantized_on).toBeUndefined()
    const human = await runCli(['pack', cpuRun, '--backend', 'wasm', '--out', join(root, 'h.golf')])
    expect(human.stdout).toMatch(/^note: crosses backends: the run trained on cpu/m)
  }, 60_000)

  it('golf verify compares on the trained backend by default: an honest verdict with the measured gap, exit 0', async () => {
    const r = await runCli(['verify', '--run', cpuRun, '--artifact', join(root, 'cpu-on-wasm.golf'), '--val-tokens', String(VAL), '--json'])
    expect(r.code, r.stderr + r.stdout).toBe(0)
    const j = JSON.parse(r.stdout)
    const rt: RoundtripResult = j.roundtrip_detail
    expect(rt.backends).toEqual({trained: 'cpu', artifact: 'wasm', here: 'cpu', why: null})
    const c = check(j)
    expect(c.ok).toBe(true)
    // compared on the trained backend, so the verdict is about the trained weights either way
    if (rt.weights.differing === 0 && rt.exact) {
      expect(c.confirmed).toBe(true)
      expect(c.detail).toMatch(/identical logits \(max \|Δlogit\| = 0\); across backends: the run trained on cpu, the artifact was quantized on wasm, compared on cpu, identical weights$/)
    } else {
      expect(c.confirmed).toBe(false)
      expect(c.detail).toMatch(/^not confirmed, the comparison crosses backends \(the run trained on cpu, the artifact was quantized on wasm, compared on cpu\): measured gap -?\d+\.\d{6}, max \|Δlogit\| = .*, [\d,]+ of [\d,]+ weights differ, against the trained model$/)
    }
    console.log(`cross-backend gap (trained cpu, quantized wasm, compared on cpu): gap ${rt.gap}, max |Δlogit| ${rt.max_logit_diff}, ${rt.weights.differing} of ${rt.weights.total} weights differ`)
  }, 60_000)

  it('compared away from the trained backend: not confirmed, measured, never failed', async () => {
    // trained on wasm, packed on cpu, compared on cpu (forced): both sides re-quantized away from wasm
    const artifact = join(root, 'wasm-on-cpu.golf')
    const p = await runCli(['pack', wasmRun, '--backend', 'cpu', '--out', artifact, '--json'])
    expect(p.code, p.stderr).toBe(0)
    const onWasm = await verifyRun({runDir: wasmRun, artifactPath: artifact, limit: 16_000_000, valTokens: VAL, confirmBundle: false})
    expect(onWasm.roundtrip_detail.backends).toEqual({trained: 'wasm', artifact: 'cpu', here: 'wasm', why: null})
    expect(check(onWasm).ok).toBe(true)
    const onCpu = await verifyRun({runDir: wasmRun, artifactPath: artifact, limit: 16_000_000, valTokens: VAL, backend: 'cpu', confirmBundle: false})
    const rt = onCpu.roundtrip_detail
    expect(rt.backends).toEqual({trained: 'wasm', artifact: 'cpu', here: 'cpu', why: '--backend cpu was asked for'})
    const c = check(onCpu)
    expect(c).toMatchObject({ok: true, confirmed: false})
    expect(c.detail).toMatch(/^not confirmed, the comparison crosses backends \(the run trained on wasm, the artifact was quantized on cpu, compared on cpu \(--backend cpu was asked for\)\): measured gap .*, against the run re-quantized on cpu, not the trained model$/)
    expect(onCpu.ok).toBe(true)
    console.log(`cross-backend gap (trained wasm, quantized cpu, compared on wasm): gap ${onWasm.roundtrip_detail.gap}, ${onWasm.roundtrip_detail.weights.differing} of ${onWasm.roundtrip_detail.weights.total} weights differ`)
  }, 60_000)
})

describe('roundtripCheck: a real mismatch fails, a cross-backend one is measured', () => {
  const base: RoundtripResult = {
    objective: 'ar',
    bound: false,
    elbo: null,
    val_bpb_before: 2.5,
    val_bpb_after: 2.500013,
    gap: 0.000013,
    val_loss_before: 1.7,
    val_loss_after: 1.700009,
    max_logit_diff: 3.1e-5,
    exact: false,
    weights: {differing: 3, total: 4096, tensors_differing: ['blocks.0.mlp.fc.weight']},
    backends: {trained: 'wasm', artifact: 'wasm', here: 'wasm', why: null},
    tokens: 480,
    bytes: 480,
    val_coverage: {read_tokens: 480, split_tokens: 480, partial: false},
    quant_active: true,
    backend: 'wasm',
    bundle: null,
  }
  it('everything on the trained backend and still different: fail', () => {
    const c = roundtripCheck(base)
    expect(c).toMatchObject({ok: false, confirmed: true})
    expect(c.detail).toBe('gap 0.000013, max |Δlogit| = 3.100e-5, 3 of 4,096 weights differ: the artifact does not rebuild the trained model exactly')
  })
  it('the artifact quantized on another backend (tensorflow-gpu run packed on wasm): not confirmed, with the measured gap', () => {
    const c = roundtripCheck({...base, backends: {trained: 'tensorflow-gpu', artifact: 'wasm', here: 'tensorflow-gpu', why: null}})
    expect(c).toMatchObject({ok: true, confirmed: false})
    expect(c.detail).toBe(
      'not confirmed, the comparison crosses backends (the run trained on tensorflow-gpu, the artifact was quantized on wasm, compared on tensorflow-gpu): measured gap 0.000013, max |Δlogit| = 3.100e-5, 3 of 4,096 weights differ, against the trained model',
    )
  })
  it('identical on the trained backend: pass, even for an artifact quantized elsewhere', () => {
    const identical = {...base, gap: 0, val_bpb_after: 2.5, val_loss_after: 1.7, max_logit_diff: 0, exact: true, weights: {differing: 0, total: 4096, tensors_differing: []}}
    expect(roundtripCheck(identical)).toMatchObject({ok: true, confirmed: true, detail: 'gap 0.000000, identical logits (max |Δlogit| = 0)'})
    expect(roundtripCheck({...identical, backends: {trained: 'tensorflow', artifact: 'wasm', here: 'tensorflow', why: null}})).toMatchObject({ok: true, confirmed: true})
    // identical on a third backend proves nothing about the trained one
    expect(roundtripCheck({...identical, backends: {trained: 'tensorflow', artifact: 'wasm', here: 'wasm', why: '@tensorflow/tfjs-node is not installed here'}})).toMatchObject({ok: true, confirmed: false})
  })
})
