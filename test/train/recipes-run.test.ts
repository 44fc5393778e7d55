/**
 * The large recipes build and train a few steps on CPU. They are shrunk with --set-style
 * overrides (width, depth, sequence) but keep their structure: GQA ratios, depth recurrence with
 * U-Net skips over the applications, the factored embedding, NorMuon, sequence warmup.
 */
import {mkdtempSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {beforeAll, describe, expect, it} from 'vitest'

import {loadRecipe} from '../../src/recipe/recipe.js'
import {train} from '../../src/train/loop.js'
import {tinyDataset} from '../helpers/tiny-run.js'

let data: string
beforeAll(async () => {
  data = await tinyDataset()
})

const shrink = ['train.batch_tokens=128', 'train.micro_batch_tokens=128', 'train.max_steps=3', 'train.max_wallclock_seconds=null', 'train.eval_every=0', 'train.val_tokens=256', 'eval.val_tokens=256', 'eval.batch_seqs=4', 'train.log_every=1', 'quant.group_size=32']

describe.each([
  ['bitnet-b158-68m', ['model.model_dim=96', 'model.unique_blocks=2', 'train.seq_len=32', 'eval.sliding_stride=16']],
  ['bitnet-recurrent-4x3', ['model.model_dim=96', 'model.num_heads=6', 'model.num_kv_heads=2', 'train.seq_len=64', 'train.seq_len_start=16', 'train.seq_len_warmup_steps=2', 'eval.sliding_stride=32']],
  ['ternary-unet-10l-768d', ['model.model_dim=64', 'model.unique_blocks=3', 'model.embed_dim=32', 'train.seq_len=32', 'eval.sliding_stride=16']],
])('recipe %s', (name, sets) => {
  it('builds and trains a few steps on CPU (shrunk), keeping its structure', async () => {
    const recipe = loadRecipe(name, [...shrink, ...sets])
    const r = await train({recipe, dataDir: data, outDir: join(mkdtempSync(join(tmpdir(), 'golf-recipe-run-')), 'run'), seed: 1, backend: 'wasm'})
    const s = r.summary!
    expect(s.steps).toBe(3)
    expect(Number.isFinite(s.val_bpb)).toBe(true)
    expect(s.sliding).not.toBeNull()
    expect(s.params.ternary).toBeGreaterThan(0)
    if (name === 'bitnet-recurrent-4x3') expect(recipe.model.loops).toBe(3)
    if (name === 'ternary-unet-10l-768d') expect(recipe.model.embed_dim).toBe(32)
  })
})

describe.each([
  ['mdlm-tiny-cpu', ['model.model_dim=64', 'model.unique_blocks=2', 'train.seq_len=32', 'quant.group_size=64']],
  ['bd3lm-tiny-cpu', ['model.model_dim=64', 'model.unique_blocks=2', 'train.seq_len=32', 'quant.group_size=64']],
  ['mdlm-11l-512d', ['model.model_dim=64', 'model.unique_blocks=2', 'train.seq_len=32']],
  ['ternary-bd3lm', ['model.model_dim=96', 'model.unique_blocks=2', 'train.seq_len=32', 'objective.block_size=8']],
])('diffusion recipe %s', (name, sets) => {
  it('trains a few steps (shrunk) and reports its ELBO as an upper bound', async () => {
    const recipe = loadRecipe(name, [...shrink, ...sets])
    const r = await train({recipe, dataDir: data, outDir: join(mkdtempSync(join(tmpdir(), 'golf-recipe-run-')), 'run'), seed: 1, backend: 'wasm'})
    const s = r.summary!
    expect(s.steps).toBe(3)
    expect(s.objective).toBe(recipe.objective.kind)
    expect(s.bound).toBe(true)
    expect(s.elbo).toMatchObject({steps: recipe.eval.elbo_steps, samples: recipe.eval.elbo_samples, seed: recipe.eval.elbo_seed, estimator: 'mc'})
    expect(s.elbo!.val_bpb_se).toBeGreaterThan(0)
    // a random-init model's bound sits near the uniform code length, log2(V) bits per byte-token
    expect(s.val_bpb).toBeGreaterThan(4)
    expect(s.sliding).toBeNull()
    expect(s.params.ternary).toBeGreaterThan(0)
  })
})

describe('the staged concept recipe ternary-bd3lm-a4.8-tiny-cpu', () => {
  it('trains (shrunk), switches a8 → a4.8 at 70% with its scores, and reports the bound through a 3-bit KV cache', async () => {
    const recipe = loadRecipe('ternary-bd3lm-a4.8-tiny-cpu', [...shrink, 'train.max_steps=4', 'model.unique_blocks=2', 'train.seq_len=32', 'quant.group_size=64'])
    const r = await train({recipe, dataDir: data, outDir: join(mkdtempSync(join(tmpdir(), 'golf-recipe-run-')), 'run'), seed: 1, backend: 'wasm'})
    const s = r.summary!
    expect(s.objective).toBe('bd3lm')
    expect(s.bound).toBe(true)
    // 4 steps: progress 3/4 ≥ 0.7 before the fourth
    expect(s.activations!.stages.map((st) => [st.step, st.sites])).toEqual([
      [0, 'a8'],
      [3, 'a4.8'],
    ])
    expect(Number.isFinite(s.activations!.stages[1].val_bpb_after)).toBe(true)
    expect(s.kv_cache).toMatchObject({bits: 3, group: 32, residual: 32, mode: 'elbo', bound: true})
    expect(Number.isFinite(s.kv_cache!.val_bpb)).toBe(true)
  })
})
