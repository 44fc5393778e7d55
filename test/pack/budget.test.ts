import {mkdtempSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {beforeAll, describe, expect, it} from 'vitest'

import {initBackend} from '../../src/backend/index.js'
import {writeSafetensors} from '../../src/io/safetensors.js'
import {predictArtifact, predictBudget, solveBudget} from '../../src/pack/budget.js'
import {packSource} from '../../src/pack/pack-model.js'
import {calibrationFromArtifact} from '../../src/pack/budget.js'
import {buildModel} from '../../src/run/build-model.js'
import {train} from '../../src/train/loop.js'
import {resolveRecipe} from '../../src/recipe/recipe.js'
import {tinyDataset, tinyRecipe} from '../helpers/tiny-run.js'

function zeroFrac(tensors: Array<{kind: string; params: number; zero_frac: number}>): number {
  const t = tensors.filter((x) => x.kind === 'ternary')
  return t.reduce((a, x) => a + x.zero_frac * x.params, 0) / t.reduce((a, x) => a + x.params, 0)
}

describe('budget prediction against real packs', () => {
  let runDir = ''
  beforeAll(async () => {
    const data = await tinyDataset(8, 2000)
    runDir = join(mkdtempSync(join(tmpdir(), 'golf-budget-')), 'run')
    await train({recipe: tinyRecipe({train: {max_steps: 3, eval_every: 0}}), dataDir: data, outDir: runDir, seed: 5, backend: 'wasm'})
  }, 120_000)

  it('a trained tiny run: ternary trits within 1%; the whole artifact within 20% (floats moved off their initial values)', async () => {
    const packed = await packSource(runDir)
    const p = predictArtifact(tinyRecipe(), {zeroFrac: zeroFrac(packed.report.tensors)})
    expect(p.params.total).toBe(packed.report.tensors.reduce((a, t) => a + t.params, 0))
    const realTrits = packed.report.ternary.bytes - packed.report.ternary.scale_bytes
    expect(Math.abs(p.components.ternary_trits - realTrits) / realTrits).toBeLessThan(0.01)
    expect(Math.abs(p.artifact_bytes - packed.report.artifact_bytes) / packed.report.artifact_bytes).toBeLessThan(0.2)
  }, 60_000)

  it.each([
    ['fp16', 'fp16', 'f16'],
    ['e4m3', 'e4m3', 'e4m3_row'],
  ] as const)('calibrated from another seed\'s artifact (golf budget --calibrate), %s scales, %s floats (%s): the whole artifact within one percent', async (scaleFormat, floatFormat, floatDtype) => {
    // tiny-cpu's shape (~200 kB artifact): at 17 kB two seeds alone differ by ~1% in size
    const shape = {model: {model_dim: 128, num_heads: 4, num_kv_heads: 2, mlp_mult: 4, unique_blocks: 4}, quant: {group_size: 128, scale_format: scaleFormat, float_format: floatFormat}, train: {max_steps: 3, eval_every: 0}}
    const data = await tinyDataset(8, 2000)
    const runs = await Promise.all(
      [5, 6].map(async (seed) => {
        const dir = join(mkdtempSync(join(tmpdir(), 'golf-budget-cal-')), 'run')
        await train({recipe: tinyRecipe(shape), dataDir: data, outDir: dir, seed, backend: 'wasm'})
        return packSource(dir)
      }),
    )
    const calibration = calibrationFromArtifact(runs[1].bytes, 'seed6.golf')
    expect(calibration.float_dtype).toBe(floatDtype)
    expect(calibration.scale_format).toBe(scaleFormat)
    const real = runs[0].report.artifact_bytes
    const calibrated = predictArtifact(tinyRecipe(shape), {calibration}).artifact_bytes
    const uncalibrated = predictArtifact(tinyRecipe(shape), {zeroFrac: calibration.zero_frac}).artifact_bytes
    expect(Math.abs(calibrated - real) / real).toBeLessThan(0.01)
    expect(Math.abs(calibrated - real)).toBeLessThan(Math.abs(uncalibrated - real))
    // a calibration stored in other formats is refused, naming the mismatch
    expect(() => predictArtifact(tinyRecipe({...shape, quant: {...shape.quant, float_format: 'bf16'}}), {calibration})).toThrow(`stores float tensors as ${floatDtype}, the recipe as bf16`)
  }, 180_000)

  it.each([
    ['bf16', 'fp16', 'f16'],
    ['e4m3', 'e4m3', 'e4m3_row'],
    ['fp16', 'e5m2', 'e5m2_row'],
  ] as const)('a randomly initialised bigger model, %s scales, %s floats (%s): within one percent', async (scaleFormat, floatFormat, floatDtype) => {
    const recipe = resolveRecipe({
      name: 'budget-test',
      model: {vocab_size: 512, model_dim: 128, num_heads: 4, num_kv_heads: 2, mlp_mult: 3, unique_blocks: 3},
      quant: {group_size: 64, scale_format: scaleFormat, float_format: floatFormat},
    })
    await initBackend('wasm', {quiet: true})
    const model = buildModel(recipe, 7)
    // zero-initialised projections drawn as other linears (what training makes of them)
    const w = model.weights()
    const specs = model.specs
    let seed = 99
    const rand = () => ((seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 2 ** 32)
    for (const s of specs) {
      if (s.shape.length === 2 && w.get(s.name)!.every((x) => x === 0)) w.set(s.name, Float32Array.from(w.get(s.name)!, () => (2 * rand() - 1) / Math.sqrt(s.shape[1])))
    }
    const file = join(mkdtempSync(join(tmpdir(), 'golf-budget-')), 'random.safetensors')
    writeSafetensors(file, new Map(specs.map((s) => [s.name, {dtype: 'F32' as const, shape: s.shape, data: w.get(s.name)!}])))
    model.dispose()
    const packed = await packSource(file, {ternary: recipe.quant.targets, groupSize: 64, scaleFormat, floatDtype, compress: 'brotli'})
    const p = predictArtifact(recipe, {zeroFrac: zeroFrac(packed.report.tensors)})
    expect(p.params.ternary).toBe(packed.report.ternary.params)
    expect(Math.abs(p.artifact_bytes - packed.report.artifact_bytes) / packed.report.artifact_bytes).toBeLessThan(0.01)
    // the float tensors' stored bytes (before compression) are exact, per-row scales included
    const floatBytes = (rows: Array<{kind: string; raw_bytes?: number; bytes?: number}>) => rows.filter((t) => t.kind === 'float').reduce((a, t) => a + (t.raw_bytes ?? t.bytes ?? 0), 0)
    expect(floatBytes(p.tensors)).toBe(floatBytes(packed.report.tensors))
  }, 60_000)
})

describe('budget arithmetic and solve', () => {
  const doc = {name: 'solve-test', model: {vocab_size: 256, model_dim: 128, num_heads: 4, num_kv_heads: 2, mlp_mult: 2, unique_blocks: 2}, quant: {group_size: 32}}
  const load = (sets: string[]) => resolveRecipe(doc, {sets})

  it('adds the components and the counted code, and compares with the limit', async () => {
    const p = await predictBudget(load([]), {codeBytes: 1000, limit: 100_000})
    const c = p.components
    expect(p.total_bytes).toBe(c.ternary_trits + c.ternary_scales + c.float_tensors + c.manifest + c.container + c.counted_code)
    expect(c.counted_code).toBe(1000)
    expect(p.code_bytes_source).toBe('flag')
    expect(p.headroom).toBe(100_000 - p.total_bytes)
    expect(p.fits).toBe(p.total_bytes <= 100_000)
    // base3 trits: exactly ceil(n/5) per tensor
    const b3 = predictArtifact(load([]), {codec: 'base3'})
    expect(b3.components.ternary_trits).toBe(b3.tensors.filter((t) => t.kind === 'ternary').reduce((a, t) => a + Math.ceil(t.params / 5), 0))
  })

  it('--solve finds the largest valid value that fits, skipping values the recipe rejects', async () => {
    const at = (v: number) => predictArtifact(load([`model.model_dim=${v}`]), {}).artifact_bytes + 1000
    const limit = Math.floor((at(96) + at(128)) / 2) // 96 fits, 128 does not
    const s = await solveBudget(load, 'model.model_dim', {codeBytes: 1000, limit})
    expect(s.original).toBe(128)
    // valid widths: multiples of 32 (group size) whose head_dim (v/4) is even
    expect(s.value).toBe(96)
    expect(s.prediction!.total_bytes).toBeLessThanOrEqual(limit)
    expect(s.tried.every((t) => t.value % 32 === 0)).toBe(true)
    const none = await solveBudget(load, 'model.model_dim', {codeBytes: 1000, limit: 10})
    expect(none.value).toBeNull()
    await expect(solveBudget(load, 'model.embed_dim', {codeBytes: 0})).rejects.toThrow("--solve model.embed_dim: the recipe's model.embed_dim is null, not a positive integer")
  }, 60_000)

  it('a model larger than an artifact may hold is refused by arithmetic, before any stand-in weight is made', () => {
    // model_dim 65536: 60 billion parameters; sizing their stand-in weights used 19 GB before it was stopped
    const huge = load(['model.model_dim=65536'])
    const t0 = performance.now()
    expect(() => predictArtifact(huge, {})).toThrow(
      /^recipe solve-test: 60,146,909,192 parameters, the largest tensor 8,589,934,592 \(model_dim 65536, unique_blocks 2, mlp_mult 2, 256 ids\), over what a golf artifact may hold \(268,435,456 values, 268,435,456 per tensor\): golf budget sizes models that can be packed$/,
    )
    expect(performance.now() - t0).toBeLessThan(1000)
  })
})
