/**
 * The exported PyTorch model is golf's model: one set of golf weights (random, on golf's
 * generator) loaded into golf (wasm) and into the export (PyTorch CPU), logits on a batch within
 * 1e-4 everywhere, float and with quantization active. The configs between them cover every
 * switch of the model config (factored embedding, depth recurrence, untied head, U-Net skips at
 * odd depth, GQA and MHA, q/k norm, x0 mix, soft-cap on and off) and every scale and float
 * format; the diffusion layouts (bidirectional with SUBS, block diffusion) come last. The
 * parameter list the export builds is golf's, name for name, shape for shape, ternary or not.
 */
import * as tf from '@tensorflow/tfjs-core'
import {join} from 'node:path'
import {afterAll, beforeAll, expect, it} from 'vitest'

import {initBackend} from '../../src/backend/index.js'
import {exportedRecipe} from '../../src/export/torch/header.js'
import {readSafetensors} from '../../src/io/safetensors.js'
import type {AttentionLayout} from '../../src/model/attention.js'
import {buildModel} from '../../src/run/build-model.js'
import {describeWithTorch, exportRecipe, maxAbsDiff, randomTokens, randomizeGolfWeights, runExport, scratch, writeTokens, writeWeights} from './torch-peer.js'

const TOLERANCE = 1e-4

interface Case {
  name: string
  recipe: string
  sets: string[]
  B: number
  T: number
  /** Golf's forward options under the recipe's objective (the export derives its own from its header). */
  attention?: AttentionLayout
  suppress?: boolean
  /** Changes which parameters exist or which are ternary: the parameter list is compared too. */
  params?: boolean
}

const CASES: Case[] = [
  {name: 'tiny-cpu', recipe: 'tiny-cpu', sets: [], B: 2, T: 256, params: true},
  {
    name: 'loops 3 × 2 blocks, untied head, factored embedding',
    recipe: 'tiny-cpu',
    sets: ['model.unique_blocks=2', 'model.loops=3', 'model.tie_embeddings=false', 'model.embed_dim=64'],
    B: 2,
    T: 64,
    params: true,
  },
  {
    name: 'no q/k norm, x0 mix, skips or soft-cap; 1 block × 5; MHA; e4m3 scales, e5m2 floats',
    recipe: 'tiny-cpu',
    sets: ['model.qk_norm=false', 'model.x0_mix=false', 'model.unet_skips=false', 'model.logit_softcap=null', 'model.unique_blocks=1', 'model.loops=5', 'model.num_kv_heads=4', 'quant.scale_format=e4m3', 'quant.float_format=e5m2'],
    B: 2,
    T: 48,
    params: true,
  },
  {
    name: '3 blocks (one skip), rope_base 500, row groups, bf16 scales, e4m3 floats, no zero correction',
    recipe: 'tiny-cpu',
    sets: ['model.unique_blocks=3', 'model.rope_base=500', 'quant.group_size=row', 'quant.scale_format=bf16', 'quant.float_format=e4m3', 'quant.zero_correction=false'],
    B: 3,
    T: 40,
  },
  {name: 'whole-tensor groups, fp32 scales, bf16 floats', recipe: 'tiny-cpu', sets: ['quant.group_size=tensor', 'quant.scale_format=fp32', 'quant.float_format=bf16'], B: 1, T: 32},
  {
    name: 'every 2-D weight ternary (targets **: embedding, projections, head), groups of 64',
    recipe: 'tiny-cpu',
    sets: ['quant.targets=["**"]', 'quant.group_size=64', 'model.embed_dim=64', 'model.tie_embeddings=false'],
    B: 2,
    T: 32,
    params: true,
  },
  {name: 'quant.mode none: nothing quantized, fp32 floats', recipe: 'tiny-cpu', sets: ['quant.mode=none'], B: 1, T: 32},
  {name: 'mdlm-tiny-cpu: bidirectional, [MASK] suppressed', recipe: 'mdlm-tiny-cpu', sets: [], B: 2, T: 64, attention: {kind: 'bidirectional'}, suppress: true},
  {name: 'bd3lm-tiny-cpu: block diffusion [x_t ‖ x_0], blocks of 4', recipe: 'bd3lm-tiny-cpu', sets: [], B: 2, T: 64, attention: {kind: 'block-diffusion', block: 4}, suppress: true},
]

const seen: string[] = []

beforeAll(async () => {
  await initBackend('wasm', {quiet: true})
})

afterAll(() => {
  if (seen.length > 0) console.info(`export torch, logits max |golf − torch| (tolerance ${TOLERANCE}):\n  ${seen.join('\n  ')}`)
})

describeWithTorch('golf export torch: the model', (python) => {
  it('builds golf\'s parameters: names in order, shapes, which are ternary (the configs that change them)', async () => {
    const dir = scratch('params')
    for (const c of CASES.filter((x) => x.params)) {
      const {recipe, file} = exportRecipe(dir, c.recipe, c.sets)
      const model = buildModel(exportedRecipe(recipe), 1)
      const lines = (await runExport(python, file, ['params'])).trim().split('\n').map((l) => JSON.parse(l))
      expect(lines, c.name).toEqual(model.specs.map((s) => ({name: s.name, shape: s.shape, group: s.group, ternary: s.ternary})))
      model.dispose()
    }
  })

  it.each(CASES)('logits equal golf\'s, float and quantized: $name', async (c) => {
    const dir = scratch('forward')
    const {recipe, file} = exportRecipe(dir, c.recipe, c.sets)
    const model = buildModel(exportedRecipe(recipe), 7)
    const weights = randomizeGolfWeights(model, 11)
    writeWeights(join(dir, 'w.safetensors'), model, weights)
    const V = model.cfg.vocab_size
    const tokens = randomTokens(c.B * c.T, V, 5)
    writeTokens(join(dir, 'x.safetensors'), tokens, c.B, c.T)
    const opts = {attention: c.attention, suppress: c.suppress ? V - 1 : null}
    for (const quant of [false, true]) {
      model.quantActive = quant
      const golf = tf.tidy(() => model.forward(tf.tensor2d(tokens, [c.B, c.T], 'int32'), opts))
      const golfLogits = golf.dataSync() as Float32Array
      const out = join(dir, `y-${quant}.safetensors`)
      await runExport(python, file, ['forward', '--weights', join(dir, 'w.safetensors'), '--tokens', join(dir, 'x.safetensors'), '--out', out, '--quant', quant ? 'on' : 'off'])
      const torch = readSafetensors(out).tensors.get('logits')!
      expect(torch.shape).toEqual(golf.shape)
      const diff = maxAbsDiff(golfLogits, torch.data as Float32Array)
      seen.push(`${c.name}, ${quant ? 'quantized' : 'float'}: ${diff.toExponential(2)}`)
      expect(diff, `${c.name} (${quant ? 'quantized' : 'float'})`).toBeLessThanOrEqual(TOLERANCE)
      golf.dispose()
    }
    model.dispose()
  })
})
