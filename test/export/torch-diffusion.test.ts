/**
 * The export trains and scores the diffusion objectives (MDLM, BD3-LM) as golf does. On the
 * built-in corpus, for mdlm-tiny-cpu and bd3lm-tiny-cpu (shifted, the count estimator, the
 * recipes' own), an unshifted BD3-LM on the time estimator with a clipped training interval, and
 * bd3lm-tiny-cpu with the clean half detached (objective.clean_gradient false):
 * - one micro-batch's training batch from the export's `train-batch` against golf's
 *   objective.trainBatch under the trainer's noise key: inputs, targets and weights bit for bit
 *   (these cases, an unshifted MDLM with a clipped interval, and both shifted on the time estimator);
 * - three steps from the same seed, golf (wasm, one thread) against the export (PyTorch CPU):
 *   every step's training loss within 1e-3 relative;
 * - the export's run folder goes through golf pack and golf verify with gap 0 on the bound;
 * - the export's final score is golf's ELBO of the same weights on the same tokens (golf verify
 *   scores the run's checkpoint with the same seeded noise) within 1e-5 relative, its standard
 *   error too; and, for BD3-LM, the export's `eval` of the packed artifact and of the checkpoint
 *   (continuous time, two draws per window: the within-window error) against golf's.
 * - objective.clean_gradient false (the clean half detached): one batch's loss and gradient from
 *   the export's `grads` against golf's, each layout, and the two layouts' gradients apart.
 * Small batches (2 micro-batches of 2 rows of 256) and 4096 validation tokens keep it short.
 */
import * as tf from '@tensorflow/tfjs-core'
import {readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterAll, beforeAll, expect, it} from 'vitest'

import {initBackend} from '../../src/backend/index.js'
import {ensureBuiltinDataset} from '../../src/data/dataset.js'
import {loadValidationSlice} from '../../src/data/stream.js'
import {openDataset} from '../../src/data/open.js'
import {scoreModel} from '../../src/eval/score.js'
import {exportedRecipe} from '../../src/export/torch/header.js'
import {readSafetensors, writeSafetensors} from '../../src/io/safetensors.js'
import {batchLoss} from '../../src/objective/batch.js'
import {objectiveFor} from '../../src/objective/index.js'
import {packSource} from '../../src/pack/pack-model.js'
import {loadRecipe} from '../../src/recipe/recipe.js'
import type {CheckpointMeta} from '../../src/run/checkpoint.js'
import type {RunSummary} from '../../src/run/folder.js'
import {buildModel} from '../../src/run/build-model.js'
import {loadRunModel} from '../../src/run/load.js'
import {train} from '../../src/train/loop.js'
import {namedRandom} from '../../src/util/random.js'
import {verifyRun} from '../../src/verify/run.js'
import {describeWithTorch, exportRecipe, maxAbsDiff, randomTokens, randomizeGolfWeights, runExport, runPython, scratch, trainLosses, writeWeights} from './torch-peer.js'

const LOSS_TOLERANCE = 1e-3
const ELBO_TOLERANCE = 1e-5
/** One batch's gradient, golf (wasm) against the export: max |Δ| over all parameters / max |g|. */
const GRAD_TOLERANCE = 1e-4
const VAL_TOKENS = 4096
const SEED = 1337
/** Three steps of two micro-batches of 2 rows, no wall-clock rule (the two clocks differ), a short final score. */
const SETS = [
  'train.max_steps=3',
  'train.workers=1',
  'train.log_every=1',
  'train.checkpoint_every=0',
  'train.max_wallclock_seconds=null',
  'train.batch_tokens=1024',
  'train.micro_batch_tokens=512',
  `eval.val_tokens=${VAL_TOKENS}`,
]
const CASES = [
  {label: 'mdlm, shifted, train_estimator count', recipe: 'mdlm-tiny-cpu', sets: [] as string[]},
  {label: 'bd3lm (blocks of 4), shifted, train_estimator count', recipe: 'bd3lm-tiny-cpu', sets: [] as string[]},
  {label: 'bd3lm (blocks of 4), unshifted, train_interval [0.3, 0.8]', recipe: 'bd3lm-tiny-cpu', sets: ['objective.shift=false', 'objective.train_estimator=time', 'objective.train_interval=[0.3, 0.8]']},
  // the run-folder flow with the clean half detached; three steps from zero projections move the
  // loss by ~1e-5 between layouts, so the gradient test below is what tells the layouts apart
  {label: 'bd3lm (blocks of 4), shifted, train_estimator count, clean_gradient false', recipe: 'bd3lm-tiny-cpu', sets: ['objective.clean_gradient=false']},
  // the reported score is the chain rule (a likelihood), in training and in the artifact
  {label: 'bd3lm (blocks of 4), shifted, train_estimator count, eval.score chain', recipe: 'bd3lm-tiny-cpu', sets: ['eval.score=chain']},
]

let data = ''
const seen: string[] = []

beforeAll(async () => {
  await initBackend('wasm', {quiet: true})
  data = await ensureBuiltinDataset()
}, 600_000)

afterAll(() => {
  if (seen.length > 0) console.info(`export torch, diffusion against golf:\n  ${seen.join('\n  ')}`)
})

const rel = (a: number, b: number) => Math.abs(a - b) / Math.abs(b)
const maxAbs = (a: Float32Array) => maxAbsDiff(a, new Float32Array(a.length))

describeWithTorch('golf export torch: diffusion objectives', (python) => {
  it("one micro-batch's noise, inputs, targets and weights are golf's, bit for bit", async () => {
    const dir = scratch('diffusion-batch')
    const B = 8
    const T = 256
    const [step, micro] = [7, 1]
    const more = [
      {label: 'mdlm, unshifted, train_interval [0.2, 0.6]', recipe: 'mdlm-tiny-cpu', sets: ['objective.shift=false', 'objective.train_estimator=time', 'objective.train_interval=[0.2, 0.6]']},
      {label: 'mdlm, shifted, train_estimator time', recipe: 'mdlm-tiny-cpu', sets: ['objective.train_estimator=time']},
      {label: 'bd3lm (blocks of 4), shifted, train_estimator time', recipe: 'bd3lm-tiny-cpu', sets: ['objective.train_estimator=time']},
    ]
    // eval.score changes no training batch: its case would repeat the one before it
    for (const c of [...CASES.filter((x) => !x.sets.includes('eval.score=chain')), ...more]) {
      const {recipe, file} = exportRecipe(dir, c.recipe, c.sets)
      const objective = objectiveFor(recipe.objective, exportedRecipe(recipe).model.vocab_size)
      const chunk = Uint16Array.from(randomTokens(objective.chunkTokens(B, T), 260, 5))
      const golf = objective.trainBatch(chunk, B, T, namedRandom(SEED, `noise:${step}:${micro}`))
      const tokens = join(dir, 'chunk.safetensors')
      writeSafetensors(tokens, {tokens: {dtype: 'I32', shape: [chunk.length], data: Int32Array.from(chunk)}})
      const out = join(dir, 'batch.safetensors')
      await runExport(python, file, ['train-batch', '--tokens', tokens, '--rows', String(B), '--seq-len', String(T), '--seed', String(SEED), '--step', String(step), '--micro', String(micro), '--out', out])
      const py = readSafetensors(out).tensors
      expect(py.get('inputs')!.shape, c.label).toEqual([B, golf.T])
      expect(Array.from(py.get('inputs')!.data as ArrayLike<number>), `${c.label}: inputs`).toEqual(Array.from(golf.inputs))
      expect(Array.from(py.get('targets')!.data as ArrayLike<number>), `${c.label}: targets`).toEqual(Array.from(golf.targets))
      expect(Array.from(py.get('weights')!.data as ArrayLike<number>), `${c.label}: weights`).toEqual(Array.from(golf.weights!))
      const masked = golf.weights!.filter((w) => w > 0).length
      seen.push(`train-batch ${c.label}: ${B}×${golf.T} inputs, ${masked}/${golf.weights!.length} positions masked, identical to golf's`)
    }
  }, 120_000)

  it('objective.clean_gradient false: one batch\'s loss and gradient are golf\'s detached ones, which are not the joint ones', async () => {
    const dir = scratch('diffusion-detached')
    const [B, T] = [2, 256] // halves of two query tiles in golf: both passes tiled
    let weightsFile = ''
    let batchFile = ''
    const run = async (cleanGradient: boolean) => {
      const {recipe, file} = exportRecipe(dir, 'bd3lm-tiny-cpu', [`objective.clean_gradient=${cleanGradient}`], `train_gpt_${cleanGradient}.py`)
      const model = buildModel(exportedRecipe(recipe), 7)
      const weights = randomizeGolfWeights(model, 11)
      model.quantActive = true // the recipe's: ternary from the first step
      const objective = objectiveFor(recipe.objective, model.cfg.vocab_size)
      const chunk = Uint16Array.from(randomTokens(objective.chunkTokens(B, T), 260, 5))
      const batch = objective.trainBatch(chunk, B, T, namedRandom(SEED, 'noise:0:0'))
      expect(batch.attention).toEqual({kind: 'block-diffusion', block: 4, ...(cleanGradient ? {} : {cleanGradient: false})})
      if (!weightsFile) {
        weightsFile = join(dir, 'w.safetensors')
        writeWeights(weightsFile, model, weights)
        batchFile = join(dir, 'batch.safetensors')
        writeSafetensors(batchFile, {
          inputs: {dtype: 'I32', shape: [B, batch.T], data: batch.inputs},
          targets: {dtype: 'I32', shape: [B, T], data: batch.targets},
          weights: {dtype: 'F32', shape: [B, T], data: batch.weights!},
        })
      }
      const {value, grads} = tf.variableGrads(() => batchLoss(model, batch, recipe.train.z_loss))
      const golf = {loss: value.dataSync()[0], grads: new Map([...model.gradsByParam(grads)].map(([k, g]) => [k, Float32Array.from(g.dataSync())]))}
      tf.dispose([value, ...Object.values(grads)])
      model.dispose()
      const out = join(dir, `grads-${cleanGradient}.safetensors`)
      const {loss} = JSON.parse(await runExport(python, file, ['grads', '--weights', weightsFile, '--batch', batchFile, '--out', out])) as {loss: number}
      const torch = {loss, grads: new Map([...readSafetensors(out).tensors].map(([k, t]) => [k, t.data as Float32Array]))}
      return {golf, torch}
    }
    // the largest gradient difference over every parameter, relative to the largest gradient
    const gap = (a: Map<string, Float32Array>, b: Map<string, Float32Array>) => {
      expect([...b.keys()].sort()).toEqual([...a.keys()].sort())
      let [d, m] = [0, 0]
      for (const [k, g] of a) {
        d = Math.max(d, maxAbsDiff(g, b.get(k)!))
        m = Math.max(m, maxAbs(g))
      }
      return d / m
    }
    const joint = await run(true)
    const detached = await run(false)
    const gaps = {joint: gap(joint.golf.grads, joint.torch.grads), detached: gap(detached.golf.grads, detached.torch.grads), between: gap(detached.torch.grads, joint.torch.grads)}
    seen.push(`clean_gradient: loss golf ${detached.golf.loss.toFixed(6)} | torch ${detached.torch.loss.toFixed(6)}; gradient, max |golf − torch| / max |g|: joint ${gaps.joint.toExponential(2)}, detached ${gaps.detached.toExponential(2)}; detached against joint (torch) ${gaps.between.toExponential(2)}`)
    expect(rel(detached.torch.loss, detached.golf.loss)).toBeLessThanOrEqual(1e-5)
    expect(rel(detached.torch.loss, joint.torch.loss), 'the same loss either way').toBeLessThanOrEqual(1e-6)
    expect(gaps.joint).toBeLessThanOrEqual(GRAD_TOLERANCE)
    expect(gaps.detached).toBeLessThanOrEqual(GRAD_TOLERANCE)
    expect(gaps.between, 'the clean context carries gradient in the joint pass').toBeGreaterThan(100 * GRAD_TOLERANCE)
    // a batch of another shape is one line, exit 2
    const bad = join(dir, 'bad.safetensors')
    const zeros = {dtype: 'I32' as const, shape: [B, T], data: new Int32Array(B * T)}
    writeSafetensors(bad, {inputs: zeros, targets: zeros, weights: {dtype: 'F32', shape: [B, T], data: new Float32Array(B * T)}})
    await expect(runExport(python, join(dir, 'train_gpt_false.py'), ['grads', '--weights', weightsFile, '--batch', bad, '--out', join(dir, 'never.safetensors')])).rejects.toThrow(
      /exited 2:\ntrain_gpt\.py: \S+bad\.safetensors: inputs \(2, 256\) and targets \(2, 256\) are not a batch of this objective \(targets \(B, T\) for inputs \(B, 2T\)\)\n$/,
    )
  }, 300_000)

  it('AR → BD3-LM adaptation: train --init of an AR checkpoint starts where golf train --init-from does ([MASK] row = the mean row)', async () => {
    const dir = scratch('diffusion-init')
    const ar = join(dir, 'ar')
    await train({recipe: loadRecipe('tiny-cpu', [...SETS, 'train.max_steps=2']), dataDir: data, outDir: ar, seed: SEED, backend: 'wasm'})
    const {recipe, file} = exportRecipe(dir, 'bd3lm-tiny-cpu', [...SETS, 'train.max_steps=2'])
    const run = join(dir, 'torch')
    const exported = runExport(python, file, ['train', '--data', data, '--out', run, '--seed', String(SEED), '--init', join(ar, 'checkpoint.safetensors')], {OMP_NUM_THREADS: '1'})
    exported.catch(() => {}) // awaited below
    await train({recipe, dataDir: data, outDir: join(dir, 'golf'), seed: SEED, backend: 'wasm', initFrom: ar})
    await exported
    const golfLosses = trainLosses(join(dir, 'golf'))
    const torchLosses = trainLosses(run)
    expect(torchLosses.length).toBe(2)
    const deltas = golfLosses.map((g, i) => rel(torchLosses[i], g))
    seen.push(`AR → bd3lm --init: train_loss golf ${golfLosses.map((x) => x.toFixed(6)).join(', ')} | torch ${torchLosses.map((x) => x.toFixed(6)).join(', ')} | relative ${deltas.map((x) => x.toExponential(2)).join(', ')}`)
    for (const [i, d] of deltas.entries()) expect(d, `step ${i + 1}`).toBeLessThanOrEqual(LOSS_TOLERANCE)
    // the AR weights were used: a start from the seed has another first loss
    await train({recipe, dataDir: data, outDir: join(dir, 'scratch'), seed: SEED, backend: 'wasm'})
    expect(Math.abs(trainLosses(join(dir, 'scratch'))[0] - golfLosses[0])).toBeGreaterThan(0.05)
    expect(JSON.parse(readFileSync(join(run, 'config.json'), 'utf8')).init_from).toBe(join(ar, 'checkpoint.safetensors'))
  }, 600_000)

  for (const c of CASES) {
    it(`${c.label}: three steps give golf's losses; golf packs and verifies the run; the score is golf's`, async () => {
      const chain = c.sets.includes('eval.score=chain')
      const dir = scratch('diffusion-train')
      const {recipe, file} = exportRecipe(dir, c.recipe, [...SETS, ...c.sets])
      const run = join(dir, 'torch')
      // the export in its own process, on one thread of the other core, while golf trains here
      const t0 = performance.now()
      const exported = runExport(python, file, ['train', '--data', data, '--out', run, '--seed', String(SEED)], {OMP_NUM_THREADS: '1'}).then((out) => ({out, seconds: (performance.now() - t0) / 1000}))
      exported.catch(() => {}) // awaited below
      await train({recipe, dataDir: data, outDir: join(dir, 'golf'), seed: SEED, backend: 'wasm'})
      const {seconds} = await exported
      const golfLosses = trainLosses(join(dir, 'golf'))
      const torchLosses = trainLosses(run)
      expect(torchLosses.length).toBe(3)
      const deltas = golfLosses.map((g, i) => rel(torchLosses[i], g))
      seen.push(`${c.label}: train_loss golf ${golfLosses.map((x) => x.toFixed(6)).join(', ')} | torch ${torchLosses.map((x) => x.toFixed(6)).join(', ')} | relative ${deltas.map((x) => x.toExponential(2)).join(', ')} (export run ${seconds.toFixed(1)} s)`)
      for (const [i, d] of deltas.entries()) expect(d, `step ${i + 1}`).toBeLessThanOrEqual(LOSS_TOLERANCE)

      // the run folder says what golf's says for a diffusion run
      const log = readFileSync(join(run, 'train.log'), 'utf8')
      expect(log).toMatch(new RegExp(`^train_gpt\\.py train recipe:${c.recipe} seed:${SEED} backend:torch .* objective:${recipe.objective.kind} `, 'm'))
      expect(log).toMatch(/^step:3\/3 val_loss:\d+\.\d{4} val_bpb:\d+\.\d{4} train_time:\d+ms step_avg:\d+\.\d{2}ms partial_val_tokens:4096\/\d+$/m)
      if (chain) {
        expect(log).toMatch(/ objective:bd3lm score:chain /)
        expect(log).toMatch(/^final_chain order:left-to-right block:4 val_loss:\d+\.\d{4} val_bpb:\d+\.\d{4} partial_val_tokens:4096\/\d+$/m)
        expect(log).not.toMatch(/bound:upper/)
      } else expect(log).toMatch(/^final_elbo bound:upper steps:128 samples:1 seed:0 val_loss:\d+\.\d{4} val_bpb:\d+\.\d{4} val_bpb_se:\d+\.\d{4} partial_val_tokens:4096\/\d+$/m)
      const meta = JSON.parse(readFileSync(join(run, 'checkpoint.json'), 'utf8')) as CheckpointMeta
      const golfMeta = JSON.parse(readFileSync(join(dir, 'golf', 'checkpoint.json'), 'utf8')) as CheckpointMeta
      expect({...meta, train_time_ms: 0, backend: '', files: null}).toEqual({...golfMeta, train_time_ms: 0, backend: '', files: null})
      const config = JSON.parse(readFileSync(join(run, 'config.json'), 'utf8')) as {recipe: unknown; vocab_size: number}
      const golfConfig = JSON.parse(readFileSync(join(dir, 'golf', 'config.json'), 'utf8')) as {recipe: unknown; vocab_size: number}
      expect(config.recipe).toEqual(golfConfig.recipe)
      expect(config.vocab_size).toBe(golfConfig.vocab_size)
      const summary = JSON.parse(readFileSync(join(run, 'summary.json'), 'utf8')) as RunSummary
      const golfSummary = JSON.parse(readFileSync(join(dir, 'golf', 'summary.json'), 'utf8')) as RunSummary
      for (const key of Object.keys(golfSummary)) expect(summary, `summary.json has ${key}`).toHaveProperty(key)
      expect([summary.objective, summary.bound, summary.val_tokens, summary.val_bytes]).toEqual([golfSummary.objective, !chain, golfSummary.val_tokens, golfSummary.val_bytes])
      if (chain) expect([summary.elbo, golfSummary.elbo]).toEqual([null, null])
      else expect({...summary.elbo!, val_bpb_se: 0}).toEqual({...golfSummary.elbo!, val_bpb_se: 0})
      const finals = (dirName: string) =>
        readFileSync(join(dirName, 'metrics.jsonl'), 'utf8')
          .split('\n')
          .filter((l) => l.includes('"final"'))
          .map((l) => Object.keys(JSON.parse(l) as object).sort())
      expect(finals(run)).toEqual(finals(join(dir, 'golf')))

      // golf pack and golf verify (the functions the commands run): the roundtrip on the reported score
      const artifact = join(dir, 'torch.golf')
      const {bytes} = await packSource(run, {codec: 'auto', compress: 'xz'}) // xz: the export reads it with the standard library
      writeFileSync(artifact, bytes)
      const report = await verifyRun({runDir: run, artifactPath: artifact, limit: 16_000_000, codeFiles: [file], valTokens: VAL_TOKENS, backend: 'wasm'})
      const rt = report.roundtrip_detail
      expect(report.ok, report.checks.filter((x) => !x.ok).map((x) => `${x.name}: ${x.detail}`).join('; ')).toBe(true)
      expect([report.bound, rt.elbo]).toEqual(chain ? [false, null] : [true, {steps: 128, samples: 1, seed: 0}])
      expect(rt.gap).toBe(0)

      // golf's score (ELBO or chain) of the export's checkpoint on the same tokens (verify's "before") against the export's own
      const dLoss = rel(summary.val_loss, rt.val_loss_before)
      const dBpb = rel(summary.val_bpb, rt.val_bpb_before)
      seen.push(`${c.label}: golf pack ${bytes.length} bytes, verify gap ${rt.gap}; ${chain ? 'chain rule' : '128-step ELBO'} of the export's weights, golf val_bpb ${rt.val_bpb_before.toFixed(8)} | torch ${summary.val_bpb.toFixed(8)} | relative ${dBpb.toExponential(2)} (val_loss ${dLoss.toExponential(2)}); golf's own run ${golfSummary.val_bpb.toFixed(6)}`)
      expect(dLoss).toBeLessThanOrEqual(ELBO_TOLERANCE)
      expect(dBpb).toBeLessThanOrEqual(ELBO_TOLERANCE)
      expect(rel(summary.val_bpb, golfSummary.val_bpb)).toBeLessThanOrEqual(LOSS_TOLERANCE)

      if (c.recipe !== 'bd3lm-tiny-cpu' || c.sets.length > 0) return
      // the export's eval of the packed artifact (its recorded ELBO settings) against golf's score of it
      const a = JSON.parse(await runExport(python, file, ['eval', '--artifact', artifact, '--data', data, '--val-tokens', String(VAL_TOKENS), '--json'])) as {val_loss: number; val_bpb: number; tokens: number; bytes: number; bound: boolean; val_bpb_se: number}
      expect([a.tokens, a.bytes, a.bound]).toEqual([rt.tokens, rt.bytes, true])
      const dArtifact = rel(a.val_bpb, rt.val_bpb_after)
      expect(dArtifact).toBeLessThanOrEqual(ELBO_TOLERANCE)
      expect(rel(a.val_bpb_se, summary.elbo!.val_bpb_se)).toBeLessThanOrEqual(ELBO_TOLERANCE)
      // continuous time with two draws per window (the within-window standard error), on the checkpoint
      const loaded = loadRunModel(run)
      const {table, info} = await openDataset(data)
      const val = loadValidationSlice(info.dir, {vocabSize: info.vocabSize ?? undefined, maxTokens: VAL_TOKENS, table, bosId: info.bosId})
      const golfCt = scoreModel(loaded.model, objectiveFor(recipe.objective, loaded.meta.model.vocab_size), val.tokens, val.byteTable, {mode: 'elbo', seqLen: recipe.train.seq_len, batchSeqs: 16, elboSteps: 0, elboSamples: 2, seed: 3})
      loaded.model.dispose()
      if (golfCt.mode !== 'elbo') throw new Error(`expected an ELBO, got ${golfCt.mode}`)
      const ct = JSON.parse(await runExport(python, file, ['eval', '--weights', join(run, 'checkpoint.safetensors'), '--data', data, '--val-tokens', String(VAL_TOKENS), '--elbo-steps', '0', '--elbo-samples', '2', '--seed', '3', '--json'])) as {val_bpb: number; val_bpb_se: number; se_method: string}
      expect(ct.se_method).toBe(golfCt.se_method)
      const dCt = rel(ct.val_bpb, golfCt.val_bpb)
      const dSe = rel(ct.val_bpb_se, golfCt.val_bpb_se)
      seen.push(`${c.label}: export eval of the artifact ${a.val_bpb.toFixed(8)} vs golf ${rt.val_bpb_after.toFixed(8)} (relative ${dArtifact.toExponential(2)}); continuous-time ELBO, 2 draws, seed 3: golf ${golfCt.val_bpb.toFixed(8)} ± ${golfCt.val_bpb_se.toFixed(6)} | torch ${ct.val_bpb.toFixed(8)} ± ${ct.val_bpb_se.toFixed(6)} | relative ${dCt.toExponential(2)}, se ${dSe.toExponential(2)}`)
      expect(dCt).toBeLessThanOrEqual(ELBO_TOLERANCE)
      expect(dSe).toBeLessThanOrEqual(1e-3) // a difference of two nearly equal draws: relative rounding grows

      // the chain rule (--mode chain) of the checkpoint, golf's against the export's; the artifact's
      // recorded score decides the default, and a recipe with eval.score chain makes it chain
      const loadedAgain = loadRunModel(run)
      const golfChain = scoreModel(loadedAgain.model, objectiveFor(recipe.objective, loadedAgain.meta.model.vocab_size), val.tokens, val.byteTable, {mode: 'chain', seqLen: recipe.train.seq_len, batchSeqs: 16})
      loadedAgain.model.dispose()
      const ch = JSON.parse(await runExport(python, file, ['eval', '--weights', join(run, 'checkpoint.safetensors'), '--data', data, '--val-tokens', String(VAL_TOKENS), '--mode', 'chain', '--json'])) as {val_bpb: number; val_loss: number; bound: boolean; mode: string; tokens: number; bytes: number}
      expect([ch.mode, ch.bound, ch.tokens, ch.bytes]).toEqual(['chain', false, golfChain.tokens, golfChain.bytes])
      const dChain = rel(ch.val_bpb, golfChain.val_bpb)
      seen.push(`${c.label}: chain rule (left to right) of the checkpoint: golf ${golfChain.val_bpb.toFixed(8)} | torch ${ch.val_bpb.toFixed(8)} | relative ${dChain.toExponential(2)}`)
      expect(dChain).toBeLessThanOrEqual(ELBO_TOLERANCE)
      expect(golfChain.val_bpb).not.toBe(golfCt.val_bpb)
      const chainFile = exportRecipe(scratch('diffusion-chain'), c.recipe, [...SETS, 'eval.score=chain']).file
      const byDefault = JSON.parse(await runExport(python, chainFile, ['eval', '--weights', join(run, 'checkpoint.safetensors'), '--data', data, '--val-tokens', String(VAL_TOKENS), '--json'])) as {val_bpb: number; mode: string}
      expect(byDefault).toMatchObject({mode: 'chain', val_bpb: ch.val_bpb})
      const bad = await runPython(python, [file, 'eval', '--weights', join(run, 'checkpoint.safetensors'), '--data', data, '--mode', 'chunked'])
      expect(bad.code).toBe(2)
      expect(bad.stderr.trim()).toBe('train_gpt.py: --mode chunked does not apply to bd3lm models (their modes: elbo, chain)')
    }, 600_000)
  }
})
