/**
 * The export's optimizers are golf's: the same weights and the same gradients (random, on golf's
 * generator, fed to both) → one step in golf (wasm) and in the export (`optim-step`, PyTorch
 * CPU), then a second step at a later schedule step from golf's weights and optimizer state
 * after the first (the export reads golf's optimizer.safetensors layout). Compared: every
 * updated weight, its difference measured against the size of golf's update, and every state
 * entry (moments, momentum buffers, NorMuon's row moments, step counters) against its own size.
 * The later step sits inside the Muon momentum warmup and the lr warmdown (by the wall-clock rule,
 * by warmdown_iters, or by warmdown_frac), so the schedule is compared too.
 */
import * as tf from '@tensorflow/tfjs-core'
import {join} from 'node:path'
import {afterAll, beforeAll, expect, it} from 'vitest'

import {initBackend} from '../../src/backend/index.js'
import {exportedRecipe} from '../../src/export/torch/header.js'
import {readSafetensors, writeSafetensors, type SafeTensor} from '../../src/io/safetensors.js'
import {buildOptimizers} from '../../src/optim/composite.js'
import {clipGradNorm, lrScale, muonMomentum} from '../../src/optim/schedule.js'
import type {ParamRef} from '../../src/optim/types.js'
import {buildModel} from '../../src/run/build-model.js'
import {scheduleOf} from '../../src/train/loop.js'
import {namedRandom} from '../../src/util/random.js'
import {describeWithTorch, exportRecipe, randomizeGolfWeights, runExport, scratch, writeWeights} from './torch-peer.js'

const TOLERANCE = 1e-4

interface Case {
  name: string
  sets: string[]
  /** The later step: schedule step and training time before it. */
  later: {step: number; elapsedMs: number}
}

const CASES: Case[] = [
  {name: 'Muon (tiny-cpu): wall-clock warmdown, momentum warmup', sets: [], later: {step: 17, elapsedMs: 200_000}},
  {
    name: 'NorMuon, grad clip, warmdown_iters',
    sets: ['optim.matrix_optimizer=normuon', 'optim.grad_clip=0.5', 'train.warmdown_iters=20', 'train.warmdown_frac=null', 'train.max_steps=30', 'train.max_wallclock_seconds=null'],
    later: {step: 22, elapsedMs: 9_000},
  },
  {
    name: 'AdamW matrices, weight decay, untied head at head_lr, factored embedding, 3 NS steps',
    sets: ['optim.matrix_optimizer=adamw', 'optim.weight_decay=0.1', 'model.tie_embeddings=false', 'optim.head_lr=0.008', 'model.embed_dim=64', 'optim.muon_ns_steps=3', 'train.warmdown_frac=0.5', 'train.max_wallclock_seconds=null'],
    later: {step: 400, elapsedMs: 0},
  },
  {
    name: 'NorMuon, weight decay, 4 NS steps (Gram in phases 2 + 2), warmup step',
    sets: ['optim.matrix_optimizer=normuon', 'optim.weight_decay=0.05', 'optim.muon_ns_steps=4', 'model.tie_embeddings=false'],
    later: {step: 3, elapsedMs: 1_000},
  },
]

const seen: string[] = []

beforeAll(async () => {
  await initBackend('wasm', {quiet: true})
})

afterAll(() => {
  if (seen.length > 0) console.info(`export torch, one optimizer step, max relative |golf − torch| (tolerance ${TOLERANCE}):\n  ${seen.join('\n  ')}`)
})

/** max |a − b| / max |ref|, over one tensor. */
function relDiff(a: ArrayLike<number>, b: ArrayLike<number>, ref: ArrayLike<number>): number {
  let d = 0
  let m = 0
  for (let i = 0; i < a.length; i++) {
    d = Math.max(d, Math.abs(a[i] - b[i]))
    m = Math.max(m, Math.abs(ref[i]))
  }
  return m === 0 ? d : d / m
}

function writeMap(path: string, values: Map<string, Float32Array>, shapes?: Map<string, number[]>): void {
  const tensors = new Map<string, SafeTensor>([...values].map(([k, v]) => [k, {dtype: 'F32', shape: shapes?.get(k) ?? [v.length], data: v}]))
  writeSafetensors(path, tensors)
}

describeWithTorch('golf export torch: the optimizers', (python) => {
  it.each(CASES)('one step equals golf\'s, at step 0 and later: $name', async (c) => {
    const dir = scratch('optim')
    const {recipe: raw, file} = exportRecipe(dir, 'tiny-cpu', c.sets)
    const recipe = exportedRecipe(raw)
    const model = buildModel(recipe, 3)
    const w0 = randomizeGolfWeights(model, 13)
    const shapes = new Map(model.specs.map((s) => [s.name, s.shape]))
    const refs: ParamRef[] = model.specs.map((s) => ({name: s.name, variable: model.params.get(s.name)!, group: s.group}))
    const optimizer = buildOptimizers(refs, recipe.optim)
    const sched = scheduleOf(recipe)
    const gradsAt = (k: number) =>
      new Map(
        model.specs.map((s) => {
          const rand = namedRandom(29 + k, `grad:${s.name}`)
          return [s.name, Float32Array.from({length: s.shape.reduce((a, b) => a * b, 1)}, () => 0.02 * (rand() - 0.5))]
        }),
      )

    const steps = [{step: 0, elapsedMs: 0}, c.later]
    let weights = w0
    let state: Map<string, Float32Array> | null = null
    for (const [k, at] of steps.entries()) {
      const g = gradsAt(k)
      writeWeights(join(dir, `w${k}.safetensors`), model, weights)
      writeMap(join(dir, `g${k}.safetensors`), g, shapes)
      if (state) writeMap(join(dir, `s${k}.safetensors`), state)
      // golf: the loop's order (clip, then the step at the schedule's lr and momentum)
      const lr = lrScale(at.step, at.elapsedMs, sched)
      const momentum = muonMomentum(at.step, recipe.optim)
      const raw = new Map(model.specs.map((s) => [s.name, tf.tensor(g.get(s.name)!, s.shape)]))
      const grads = recipe.optim.grad_clip !== null ? clipGradNorm(raw, recipe.optim.grad_clip).grads : raw
      optimizer.step(grads, lr, {momentum})
      for (const t of new Set([...raw.values(), ...grads.values()])) t.dispose()
      const golfWeights = model.weights()
      const golfState = optimizer.state()

      const out = await runExport(python, file, [
        'optim-step', '--weights', join(dir, `w${k}.safetensors`), '--grads', join(dir, `g${k}.safetensors`),
        ...(state ? ['--state', join(dir, `s${k}.safetensors`)] : []),
        '--step', String(at.step), '--elapsed-ms', String(at.elapsedMs),
        '--out-weights', join(dir, `w${k}-torch.safetensors`), '--out-state', join(dir, `s${k}-torch.safetensors`),
      ])
      const reported = JSON.parse(out.trim().split('\n').pop()!) as {lr_scale: number; momentum: number}
      expect(reported.lr_scale, `${c.name}: lr multiplier at step ${at.step}`).toBeCloseTo(lr, 12)
      expect(reported.momentum, `${c.name}: Muon momentum at step ${at.step}`).toBeCloseTo(momentum, 12)
      const torchWeights = readSafetensors(join(dir, `w${k}-torch.safetensors`)).tensors
      const torchState = readSafetensors(join(dir, `s${k}-torch.safetensors`)).tensors

      let worstW = 0
      let worstWName = ''
      for (const s of model.specs) {
        const before = weights.get(s.name)!
        const after = golfWeights.get(s.name)!
        const update = after.map((v, i) => v - before[i])
        const d = relDiff(after, torchWeights.get(s.name)!.data as Float32Array, update)
        if (d > worstW) [worstW, worstWName] = [d, s.name]
      }
      expect([...torchState.keys()].sort(), `${c.name}: state keys`).toEqual([...golfState.keys()].sort())
      let worstS = 0
      let worstSName = ''
      for (const [key, v] of golfState) {
        const d = relDiff(v, torchState.get(key)!.data as Float32Array, v)
        if (d > worstS) [worstS, worstSName] = [d, key]
      }
      seen.push(`${c.name}, step ${at.step} (lr ×${lr.toFixed(4)}, momentum ${momentum.toFixed(4)}): weights ${worstW.toExponential(2)} of the update (${worstWName}), state ${worstS.toExponential(2)} (${worstSName})`)
      expect(worstW, `${c.name}, step ${at.step}: ${worstWName}`).toBeLessThanOrEqual(TOLERANCE)
      expect(worstS, `${c.name}, step ${at.step}: ${worstSName}`).toBeLessThanOrEqual(TOLERANCE)
      weights = golfWeights
      state = golfState
    }
    optimizer.dispose()
    model.dispose()
  })
})
