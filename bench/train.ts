/**
 * bench:train — training throughput of the reference shape (GOLF.md): byte vocabulary, 4 layers,
 * width 256, 4 heads, MLP ×4, sequence 256, batch 8, ternary straight-through linears (groups of
 * 128, fp16 scales), Muon for matrices. Same code path as `golf train` (accumulateGrads +
 * the composite optimizer). Prints tokens/s averaged over the timed steps, and checks that the
 * live tensor count does not grow (after --leak-steps steps vs after step 20).
 *
 *   npm run bench:train                      # human-readable
 *   npm run bench:train -- --json            # one JSON object
 *   npm run bench:train -- --backend cpu --steps 5 --quant none
 *   npm run bench:train -- --workers 1       # one thread (default: auto, as `golf train`: one per core, at most 2)
 *   npm run bench:train -- --workers 1,2     # both, one step of each in turn (same machine load)
 *   npm run bench:train -- --objective ar,mdlm,bd3lm:4   # objectives side by side (one step of each in turn)
 *   npm run bench:train -- --objective ar,bd3lm:4,bd3lm:4:detached   # BD3-LM with objective.clean_gradient false
 *   npm run bench:train -- --recompute off,on  # activation recomputation's cost, side by side
 *
 * Peer on the same 2-core machine (GOLF.md): PyTorch ~2,700 tokens/s float, ~2,300 ternary.
 */
import * as tf from '@tensorflow/tfjs-core'
import {loadavg} from 'node:os'
import {parseArgs} from 'node:util'

import {describeBackend, initBackend, type BackendName} from '../src/backend/index.js'
import {resolveRecipe} from '../src/recipe/recipe.js'
import {buildModel} from '../src/run/build-model.js'
import {accumulateGrads, disposeMap} from '../src/train/grads.js'
import {buildOptimizers} from '../src/optim/composite.js'
import {GradientPool, resolveWorkers, type PoolTimings} from '../src/train/parallel.js'
import {muonMomentum} from '../src/optim/schedule.js'
import {modelVocabFor, objectiveFor, type ObjectiveConfig} from '../src/objective/index.js'
import {DEFAULT_OBJECTIVE} from '../src/objective/types.js'
import {mulberry32} from '../src/util/random.js'

const {values} = parseArgs({
  options: {
    json: {type: 'boolean', default: false},
    backend: {type: 'string', default: 'auto'},
    steps: {type: 'string', default: '10'},
    warmup: {type: 'string', default: '2'},
    quant: {type: 'string', default: 'ternary'},
    'leak-steps': {type: 'string', default: '0'},
    profile: {type: 'boolean', default: false},
    // muon (golf's default for matrices, Newton–Schulz every step) or adamw (what a plain
    // PyTorch peer usually runs): the forward/backward cost is the same, the update differs
    optim: {type: 'string', default: 'muon'},
    'seq-len': {type: 'string', default: '256'},
    batch: {type: 'string', default: '8'},
    // 'auto' as `golf train` resolves it (src/train/parallel.ts): one thread per core, at most 2
    workers: {type: 'string', default: 'auto'},
    // ar, mdlm, bd3lm:<block size>; a comma list measures each in turn
    objective: {type: 'string', default: 'ar'},
    // off, on, or off,on: layer activations recomputed in the backward pass (train.recompute)
    recompute: {type: 'string', default: 'off'},
  },
})

const T = Number(values['seq-len'])
const B = Number(values.batch)
const objectiveOf = (spec: string): ObjectiveConfig => {
  const [kind, block, detached] = spec.split(':')
  if ((kind !== 'ar' && kind !== 'mdlm' && kind !== 'bd3lm') || (detached !== undefined && detached !== 'detached')) throw new Error(`--objective ${spec}: expected ar, mdlm or bd3lm:<block>[:detached]`)
  return {...DEFAULT_OBJECTIVE, kind, block_size: kind === 'bd3lm' ? Number(block ?? 4) : null, ...(detached ? {clean_gradient: false} : {})}
}
const recipeFor = (objective: ObjectiveConfig) =>
  resolveRecipe({
    objective,
    model: {vocab_size: modelVocabFor(objective.kind, 260), model_dim: 256, num_heads: 4, num_kv_heads: 4, mlp_mult: 4, unique_blocks: 4, loops: 1},
    quant: {mode: values.quant, group_size: 128, scale_format: 'fp16'},
    train: {seq_len: T, batch_tokens: B * T, micro_batch_tokens: B * T},
    optim: {matrix_optimizer: values.optim},
  })
const objectives = values.objective.split(',').map(objectiveOf)

const backend = await initBackend(values.backend as BackendName, {quiet: true})
// `--workers 1,2` measures each count in one process, one step of each in turn, so every count
// sees the same machine load; each count trains its own copy of the model on the same data.
const workerCounts = values.workers.split(',').map((w) => (w === 'auto' ? resolveWorkers('auto', backend.name) : Number(w)))
if (workerCounts.some((w) => !Number.isInteger(w) || w < 1)) throw new Error(`--workers ${values.workers}: expected integers ≥ 1, e.g. 2 or 1,2`)

type Phase = 'grads' | 'optimizer' | 'fwd_bwd_own' | 'fwd_bwd_worker' | 'grads_wait' | 'grads_transfer' | 'ns_own' | 'ns_worker' | 'ns_wait' | 'ns_transfer'
interface Trainer {
  workers: number
  recompute: boolean
  objective: string
  recipe: ReturnType<typeof recipeFor>
  run: (timed: boolean) => number
  step: () => number
  times: number[]
  // per-phase times of the timed steps (ms, summed; divided by the step count at the end)
  phases: Record<Phase, number>
  optimizer: ReturnType<typeof buildOptimizers>
  model: ReturnType<typeof buildModel>
  pool: GradientPool | null
  chunk: () => ReturnType<ReturnType<typeof objectiveFor>['trainBatch']>
}

async function trainer(workers: number, objectiveCfg: ObjectiveConfig, recompute: boolean): Promise<Trainer> {
  const base = recipeFor(objectiveCfg)
  const recipe = {...base, train: {...base.train, recompute}}
  const objective = objectiveFor(objectiveCfg, recipe.model.vocab_size)
  const noise = mulberry32(7)
  const model = buildModel(recipe, 1)
  model.quantActive = recipe.quant.mode === 'ternary'
  model.recompute = recompute
  const pool = workers > 1 ? await GradientPool.create({recipe, seed: 1, workers, backend: backend.name as BackendName}) : null
  const optimizer = buildOptimizers(
    model.specs.map((s) => ({name: s.name, variable: model.params.get(s.name)!, group: s.group})),
    recipe.optim,
    pool ? {orthogonalize: (us, n) => pool.orthogonalize(us, n)} : {},
  )
  const phases: Record<Phase, number> = {grads: 0, optimizer: 0, fwd_bwd_own: 0, fwd_bwd_worker: 0, grads_wait: 0, grads_transfer: 0, ns_own: 0, ns_worker: 0, ns_wait: 0, ns_transfer: 0}
  const addPool = (t: PoolTimings, own: Phase, worker: Phase, wait: Phase, transfer: Phase) => {
    phases[own] += t.ownMs
    phases[worker] += t.workerMs
    phases[wait] += t.waitMs
    phases[transfer] += t.weightsMs + t.gatherMs
  }
  let seed = 12345
  const rand = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32)
  const chunk = () => Uint16Array.from({length: objective.chunkTokens(B, T)}, () => 4 + Math.floor(rand() * 256))
  let step = 0
  const times: number[] = []
  const run = (timed: boolean): number => {
    const c = chunk()
    const t0 = performance.now()
    const batch = objective.trainBatch(c, B, T, noise) // the noise draw counts as step time
    const {loss, grads} = pool ? pool.compute(model, [batch], 0) : accumulateGrads(model, [batch], 0)
    const t1 = performance.now()
    if (timed && pool) addPool(pool.lastTimings, 'fwd_bwd_own', 'fwd_bwd_worker', 'grads_wait', 'grads_transfer')
    optimizer.step(grads, 1, {momentum: muonMomentum(step, recipe.optim)})
    const t2 = performance.now()
    if (timed) {
      phases.grads += t1 - t0
      phases.optimizer += t2 - t1
      times.push(t2 - t0)
      if (pool && recipe.optim.matrix_optimizer !== 'adamw') addPool(pool.lastTimings, 'ns_own', 'ns_worker', 'ns_wait', 'ns_transfer')
    }
    disposeMap(grads)
    step++
    return loss
  }
  const batch = () => objective.trainBatch(chunk(), B, T, noise)
  return {workers, recompute, objective: values.objective.split(',')[objectives.indexOf(objectiveCfg)], recipe, run, step: () => step, times, phases, optimizer, model, pool, chunk: batch}
}

const recomputes = values.recompute.split(',').map((r) => {
  if (r !== 'on' && r !== 'off') throw new Error(`--recompute ${values.recompute}: expected off, on or off,on`)
  return r === 'on'
})
const trainers: Trainer[] = []
for (const o of objectives) for (const w of workerCounts) for (const rc of recomputes) trainers.push(await trainer(w, o, rc))
const warmup = Number(values.warmup)
const steps = Number(values.steps)
for (let i = 0; i < warmup; i++) for (const tr of trainers) tr.run(false)
const losses = new Map<Trainer, number>()
const loads: number[] = [loadavg()[0]]
for (let i = 0; i < steps; i++) for (const tr of trainers) losses.set(tr, tr.run(true))
loads.push(loadavg()[0])

if (values.profile) {
  // where one step's time goes (single thread): gradients vs optimizer, and the top kernels of each
  const {model, optimizer, chunk, step, recipe} = trainers[0]
  const {profileKernels, formatProfile} = await import('../src/backend/profile.js')
  let grads: Map<string, tf.Tensor> | undefined
  const g = await profileKernels(() => {
    grads = accumulateGrads(model, [chunk()], 0).grads
  })
  const o = await profileKernels(() => optimizer.step(grads!, 1, {momentum: muonMomentum(step(), recipe.optim)}))
  disposeMap(grads!)
  console.log(`forward+backward: ${g.wallMs.toFixed(0)} ms\n${formatProfile(g)}`)
  console.log(`optimizer step: ${o.wallMs.toFixed(0)} ms\n${formatProfile(o)}`)
}

const leakSteps = Number(values['leak-steps'])
for (const tr of trainers) {
  const meanMs = tr.times.reduce((a, b) => a + b, 0) / tr.times.length
  const tokensPerS = (B * T) / (meanMs / 1000)
  let leak: {tensors_at_20: number; tensors_at_end: number; steps: number} | null = null
  if (leakSteps > 20) {
    while (tr.step() < 20) tr.run(false)
    const at20 = tf.memory().numTensors
    while (tr.step() < leakSteps) tr.run(false)
    leak = {tensors_at_20: at20, tensors_at_end: tf.memory().numTensors, steps: leakSteps}
  }
  const recipe = tr.recipe
  const result = {
    bench: 'train',
    objective: tr.objective,
    backend: backend.name,
    shape: {vocab: 260, layers: 4, width: 256, heads: 4, mlp_mult: 4, seq_len: T, batch: B},
    quant: recipe.quant.mode,
    optimizer: recipe.optim.matrix_optimizer,
    workers: tr.workers,
    recompute: tr.recompute,
    steps,
    step_ms: Number(meanMs.toFixed(1)),
    tokens_per_s: Math.round(tokensPerS),
    last_loss: Number(losses.get(tr)!.toFixed(4)),
    // mean ms per step; with workers > 1: the main thread's own share, the slowest worker's,
    // the main thread's wait for them, and shared-memory transfer (weights out, results back)
    phases_ms: Object.fromEntries(Object.entries(tr.phases).filter(([k]) => tr.pool || k === 'grads' || k === 'optimizer').map(([k, v]) => [k, Number((v / steps).toFixed(1))])),
    // 1-minute load average before and after the timed steps (this bench's own threads included)
    load_avg: loads.map((l) => Number(l.toFixed(2))),
    leak,
  }
  if (values.json) console.log(JSON.stringify(result))
  else {
    if (tr === trainers[0]) console.log(describeBackend(backend))
    console.log(`${tr.objective}, reference shape 4×256, seq ${T}, batch ${B}, ${recipe.quant.mode}, ${recipe.optim.matrix_optimizer}, ${tr.workers} thread${tr.workers > 1 ? 's' : ''}${tr.recompute ? ', recompute' : ''}: ${meanMs.toFixed(0)} ms/step, ${Math.round(tokensPerS)} tokens/s over ${steps} steps`)
    console.log(`  phases (ms/step): ${Object.entries(result.phases_ms).map(([k, v]) => `${k} ${v}`).join(', ')}`)
    if (leak) console.log(`  tensors after step 20: ${leak.tensors_at_20}, after step ${leak.steps}: ${leak.tensors_at_end}${leak.tensors_at_20 === leak.tensors_at_end ? ' (no leak)' : ' (LEAK)'}`)
  }
  if (leak && leak.tensors_at_20 !== leak.tensors_at_end) process.exitCode = 1
}
for (const tr of trainers) await tr.pool?.dispose()
