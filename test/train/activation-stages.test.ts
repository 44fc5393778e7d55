/**
 * Staged activation precision (recipe `activations:`, src/train/stages.ts, the loop): each
 * stage starts at its step, the run scores the same weights just before and after a switch,
 * resume keeps the stages, and a run with quantized activations packs with a zero roundtrip
 * gap: the artifact carries its sites, so the counted code computes what training did. And the
 * KV-cache score a recipe can ask of its final evaluation (eval.kv_cache).
 */
import {mkdtempSync, readFileSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {beforeAll, describe, expect, it} from 'vitest'

import {initBackend} from '../../src/backend/index.js'
import {evaluateTarget} from '../../src/eval/run-eval.js'
import {InputError} from '../../src/errors.js'
import {readArtifactManifest} from '../../src/pack/artifact.js'
import {packSource} from '../../src/pack/pack-model.js'
import {ACTIVATION_PRESETS} from '../../src/quant/activations.js'
import {loadRecipe} from '../../src/recipe/recipe.js'
import {loadCheckpoint} from '../../src/run/checkpoint.js'
import {RunFolder} from '../../src/run/folder.js'
import {evaluateArtifact} from '../../src/submission/rebuild.js'
import {train} from '../../src/train/loop.js'
import {activationStageAt} from '../../src/train/stages.js'
import {roundtrip} from '../../src/verify/roundtrip.js'
import {tinyDataset, tinyRecipe} from '../helpers/tiny-run.js'

const VAL = 512
let data: string
const tmp = () => mkdtempSync(join(tmpdir(), 'golf-act-stages-'))
const stagedRecipe = (over: Record<string, Record<string, unknown>> = {}) =>
  tinyRecipe({
    activations: [
      {from_step: 0, sites: 'a8'},
      {from_step: 3, sites: 'a4.8'},
    ],
    train: {max_steps: 5, eval_every: 0, val_tokens: VAL},
    eval: {sliding_stride: null, val_tokens: VAL},
    ...over,
  })

beforeAll(async () => {
  await initBackend('wasm', {quiet: true})
  data = await tinyDataset(8, 2000)
}, 120_000)

describe('activation stages in the recipe', () => {
  it('a preset name is one stage from the start; stages start where they say', () => {
    expect(tinyRecipe({activations: 'a4.8'}).activations).toEqual([{from: 0, from_step: null, sites: ACTIVATION_PRESETS['a4.8']}])
    expect(tinyRecipe().activations).toEqual([])
    const r = tinyRecipe({activations: [{from: 0.25, sites: 'a8'}, {from: 0.5, sites: {attn_in: 'int4'}}], train: {max_steps: 8}})
    expect([0, 1, 2, 3, 4, 7].map((s) => activationStageAt(r, s, 0))).toEqual([-1, -1, 0, 0, 1, 1])
    // the wall-clock cap counts as quant.start_frac's does: half the cap is half the run
    const capped = tinyRecipe({activations: [{from: 0.5, sites: 'a8'}], train: {max_steps: 1000, max_wallclock_seconds: 10}})
    expect(activationStageAt(capped, 1, 4999)).toBe(-1)
    expect(activationStageAt(capped, 1, 5000)).toBe(0)
  })

  it('bad stages give one line naming the stage', () => {
    const fails = (activations: unknown): string => {
      try {
        tinyRecipe({activations: activations as unknown[]})
      } catch (err) {
        expect(err).toBeInstanceOf(InputError)
        return (err as Error).message
      }
      throw new Error('expected an InputError')
    }
    expect(fails([{from: 0, from_step: 2, sites: 'a8'}])).toBe('tiny-test: activations[0]: give exactly one of from (a fraction of the run in [0, 1)) and from_step')
    expect(fails([{from: 0, sites: 'a8'}, {from_step: 9, sites: 'a4'}])).toBe('tiny-test: activations: every stage starts at a fraction (from) or every stage at a step (from_step), not a mix')
    expect(fails([{from: 0.5, sites: 'a8'}, {from: 0.5, sites: 'a4'}])).toBe('tiny-test: activations[1] must start after activations[0] (0.5 → 0.5)')
    expect(fails([{from: 0, sites: {ffn_down: {bits: 2}}}])).toBe('tiny-test: activations[0].sites.ffn_down.bits must be 8, 4 or null (float), got 2')
    expect(fails([{from: 1, sites: 'a8'}])).toBe('tiny-test: activations[0].from must be a fraction of the run in [0, 1), got 1')
    expect(fails([{from_step: 2.5, sites: 'a8'}])).toBe('tiny-test: activations[0].from_step must be an integer >= 0, got 2.5')
    expect(fails([{from: 0, sites: 'a8', at: 3}])).toBe('tiny-test: activations[0]: unknown key "at" (known: from, from_step, sites)')
    expect(fails([{from: 0}])).toBe('tiny-test: activations[0]: sites is required (a preset or a map of sites)')
    expect(fails({from: 0} as unknown as unknown[])).toMatch(/^tiny-test: activations must be a preset name or a list of stages/)
  })

  it('the staged concept recipes resolve: 8-bit from the start, a4.8 from 70%', () => {
    for (const name of ['ternary-bd3lm-a4.8', 'ternary-bd3lm-a4.8-tiny-cpu']) {
      const r = loadRecipe(name)
      expect(r.objective.kind).toBe('bd3lm')
      expect(r.quant.mode).toBe('ternary')
      expect(r.activations.map((s) => [s.from, s.sites])).toEqual([
        [0, ACTIVATION_PRESETS.a8],
        [0.7, ACTIVATION_PRESETS['a4.8']],
      ])
    }
  })
})

describe('a staged run', () => {
  it('switches at the configured step, scores before and after, logs and records it; resume keeps it', async () => {
    const a = join(tmp(), 'a')
    const full = await train({recipe: stagedRecipe(), dataDir: data, outDir: a, seed: 5, backend: 'wasm'})
    const st = full.summary!.activations!
    expect(st.sites).toBe('a4.8')
    expect(st.stages.map((s) => [s.stage, s.step, s.sites])).toEqual([
      [0, 0, 'a8'],
      [1, 3, 'a4.8'],
    ])
    expect(st.stages[0].val_bpb_before).toBeNull()
    const sw = st.stages[1]
    for (const v of [sw.val_bpb_before, sw.val_bpb_after, sw.val_loss_before, sw.val_loss_after]) expect(Number.isFinite(v)).toBe(true)
    expect(sw.val_bpb_after).not.toBe(sw.val_bpb_before) // the same weights, computed at another precision
    const log = readFileSync(join(a, 'train.log'), 'utf8')
    expect(log).toMatch(/^activation_stage:0 step:0\/5 activations:a8 was:float$/m)
    expect(log).toMatch(new RegExp(`^activation_stage:1 step:3/5 activations:a4\\.8 was:a8 val_bpb_before:${sw.val_bpb_before!.toFixed(4)} val_bpb_after:${sw.val_bpb_after!.toFixed(4)} partial_val_tokens:${VAL}/\\d+$`, 'm'))
    // the line sits between the logs of step 2 and step 4: the switch came before step 4 ran
    const lines = log.split('\n')
    const at = lines.findIndex((l) => l.startsWith('activation_stage:1'))
    expect(lines.slice(0, at).some((l) => /^step:2\/5 train_loss/.test(l))).toBe(true)
    expect(lines.slice(0, at).some((l) => /^step:4\/5 train_loss/.test(l))).toBe(false)
    const metrics = readFileSync(join(a, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l))
    expect(metrics.filter((m) => m.activation_stage !== undefined).map((m) => [m.step, m.activations, m.val_bpb_after ?? null])).toEqual([
      [0, 'a8', null],
      [3, 'a4.8', sw.val_bpb_after],
    ])
    // the checkpoint holds what the forward pass used at its step
    expect(loadCheckpoint(new RunFolder(a)).meta.activations).toMatchObject({stage: 1, sites: ACTIVATION_PRESETS['a4.8']})

    // interrupted before the switch and resumed: the same run, the stages recorded once
    const b = join(tmp(), 'b')
    let calls = 0
    const first = await train({recipe: stagedRecipe(), dataDir: data, outDir: b, seed: 5, backend: 'wasm', interrupted: () => ++calls > 2})
    expect(first.stepsDone).toBe(2)
    expect(loadCheckpoint(new RunFolder(b)).meta.activations).toMatchObject({stage: 0, sites: ACTIVATION_PRESETS.a8})
    const resumed = await train({recipe: stagedRecipe(), dataDir: data, outDir: b, seed: 5, backend: 'wasm', resume: true})
    expect(resumed.summary!.activations).toEqual(full.summary!.activations)
    expect(resumed.summary!.val_loss).toBe(full.summary!.val_loss)
  })

  it('packs with a zero roundtrip gap; the artifact carries the sites and scores as training did', async () => {
    const run = join(tmp(), 'run')
    const r = await train({recipe: stagedRecipe({train: {max_steps: 4, eval_every: 0, val_tokens: VAL}}), dataDir: data, outDir: run, seed: 3, backend: 'wasm'})
    const artifact = join(tmp(), 'model.golf')
    const bytes = (await packSource(run, {codec: 'auto'})).bytes
    writeFileSync(artifact, bytes)
    expect(readArtifactManifest(bytes).manifest.model).toMatchObject({activations: ACTIVATION_PRESETS['a4.8']})
    const rt = await roundtrip({runDir: run, artifactPath: artifact, valTokens: VAL, backend: 'wasm'})
    expect(rt.gap).toBe(0)
    expect(rt.max_logit_diff).toBe(0)
    expect(rt.weights.differing).toBe(0)
    const ev = await evaluateArtifact({artifact, dataDir: data, valTokens: VAL, backend: 'wasm'})
    expect(ev.score.val_bpb).toBe(r.summary!.val_bpb)
  })
})

describe('eval.kv_cache', () => {
  const fails = (over: Record<string, Record<string, unknown>>): string => {
    try {
      tinyRecipe(over)
    } catch (err) {
      expect(err).toBeInstanceOf(InputError)
      return (err as Error).message
    }
    throw new Error('expected an InputError')
  }

  it('resolves with golf eval\'s defaults and refuses what a model cannot use', () => {
    expect(tinyRecipe({eval: {kv_cache: {bits: 3, group: 16}}}).eval.kv_cache).toEqual({bits: 3, group: 16, residual: 32})
    expect(tinyRecipe({eval: {kv_cache: {bits: 16}}}).eval.kv_cache).toEqual({bits: 16, group: 1, residual: 0})
    expect(tinyRecipe().eval.kv_cache).toBeNull()
    // tiny-test: 32 wide, 2 heads → head dim 16
    expect(fails({eval: {kv_cache: {bits: 3}}})).toBe('tiny-test: eval.kv_cache.group 32 must divide the head dimension 16 (values are quantized in groups of that many channels of one head)')
    expect(fails({eval: {kv_cache: {bits: 16, group: 8}}})).toBe('tiny-test: eval.kv_cache: bits 16 stores every key and value as fp16: it takes no group or residual')
    expect(fails({eval: {kv_cache: {bits: 5}}})).toMatch(/^tiny-test: eval\.kv_cache\.bits must be one of 2, 3, 4, 16/)
    expect(fails({objective: {kind: 'mdlm'}, eval: {kv_cache: {bits: 3, group: 16}, sliding_stride: null}})).toBe('tiny-test: eval.kv_cache: mdlm denoises the whole sequence as one bidirectional block; there is no KV cache to quantize')
  })

  it('an AR run scores its final model through the cache too, as golf eval --kv-bits does', async () => {
    const run = join(tmp(), 'kv')
    const r = await train({recipe: tinyRecipe({train: {max_steps: 3, eval_every: 0}, eval: {sliding_stride: 16, val_tokens: VAL, kv_cache: {bits: 3, group: 16, residual: 16}}}), dataDir: data, outDir: run, seed: 2, backend: 'wasm'})
    const kv = r.summary!.kv_cache!
    expect(kv).toMatchObject({bits: 3, group: 16, residual: 16, mode: 'sliding', stride: 16, bound: false})
    expect(kv.bytes_per_token).toBeLessThan(kv.full_bytes_per_token)
    const ev = await evaluateTarget({run, valTokens: VAL, stride: 16, kv: {bits: 3, group: 16, residual: 16}, backend: 'wasm'})
    expect(kv.val_bpb).toBe(ev.val_bpb)
    expect(ev.kv).toMatchObject({bytes_per_token: kv.bytes_per_token})
    expect(kv.val_bpb).not.toBe(r.summary!.sliding!.val_bpb) // the quantized cache changes the score a little
    const metrics = readFileSync(join(run, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l))
    expect(metrics.filter((m) => m.kv_cache).map((m) => [m.kv_cache.val_bpb, m.val_bpb])).toEqual([[kv.val_bpb, undefined]]) // not a point of the val_bpb curve
    const log = readFileSync(join(run, 'train.log'), 'utf8')
    expect(log).toMatch(new RegExp(`^final_kv_cache bits:3 group:16 residual:16 kv_bytes_per_token:[\\d.]+ full_bytes_per_token:${kv.full_bytes_per_token} mode:sliding stride:16 val_loss:\\d+\\.\\d{4} val_bpb:${kv.val_bpb.toFixed(4)} partial_val_tokens:${VAL}/\\d+$`, 'm'))
  })
})
