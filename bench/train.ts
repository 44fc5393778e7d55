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
 *
 * Peer on the same 2-core machine (GOLF.md): PyTorch ~2,700 tokens/s float, ~2,300 ternary.
 */
import * as tf from '@tensorflow/tfjs-core'
import {parseArgs} from 'node:util'

import {describeBackend, initBackend, type BackendName} from '../src/backend/index.js'
import {resolveRecipe} from '../src/train/recipe.js'
import {accumulateGrads, buildModel, disposeMap} from '../src/train/loop.js'
import {buildOptimizers} from '../src/optim/composite.js'
import {muonMomentum} from '../src/optim/schedule.js'

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
  },
})

const T = Number(values['seq-len'])
const B = Number(values.batch)
const recipe = resolveRecipe({
  model: {vocab_size: 260, model_dim: 256, num_heads: 4, num_kv_heads: 4, mlp_mult: 4, unique_blocks: 4, loops: 1},
  quant: {mode: values.quant, group_size: 128, scale_format: 'fp16'},
  train: {seq_len: T, batch_tokens: B * T, micro_batch_tokens: B * T},
  optim: {matrix_optimizer: values.optim},
})

const backend = await initBackend(values.backend as BackendName, {quiet: true})
const model = buildModel(recipe, 1)
model.quantActive = recipe.quant.mode === 'ternary'
const optimizer = buildOptimizers(
  model.specs.map((s) => ({name: s.name, variable: model.params.get(s.name)!, group: s.group})),
  recipe.optim,
)

let seed = 12345
const rand = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32)
const chunk = () => Uint16Array.from({length: B * T + 1}, () => 4 + Math.floor(rand() * 256))

let step = 0
const runStep = (): number => {
  const {loss, grads} = accumulateGrads(model, [chunk()], B, T, 0)
  optimizer.step(grads, 1, {momentum: muonMomentum(step, recipe.optim)})
  disposeMap(grads)
  step++
  return loss
}

const warmup = Number(values.warmup)
const steps = Number(values.steps)
for (let i = 0; i < warmup; i++) runStep()
const times: number[] = []
let loss = 0
for (let i = 0; i < steps; i++) {
  const t0 = performance.now()
  loss = runStep()
  times.push(performance.now() - t0)
}
const meanMs = times.reduce((a, b) => a + b, 0) / times.length

if (values.profile) {
  // where one step's time goes: gradients vs optimizer, and the top kernels of each
  const {profileKernels, formatProfile} = await import('../src/backend/profile.js')
  let grads: Map<string, tf.Tensor> | undefined
  const g = await profileKernels(() => {
    grads = accumulateGrads(model, [chunk()], B, T, 0).grads
  })
  const o = await profileKernels(() => optimizer.step(grads!, 1, {momentum: muonMomentum(step, recipe.optim)}))
  disposeMap(grads!)
  console.log(`forward+backward: ${g.wallMs.toFixed(0)} ms\n${formatProfile(g)}`)
  console.log(`optimizer step: ${o.wallMs.toFixed(0)} ms\n${formatProfile(o)}`)
}
const tokensPerS = (B * T) / (meanMs / 1000)

let leak: {tensors_at_20: number; tensors_at_end: number; steps: number} | null = null
const leakSteps = Number(values['leak-steps'])
if (leakSteps > 20) {
  while (step < 20) runStep()
  const at20 = tf.memory().numTensors
  while (step < leakSteps) runStep()
  leak = {tensors_at_20: at20, tensors_at_end: tf.memory().numTensors, steps: leakSteps}
}

const result = {
  bench: 'train',
  backend: backend.name,
  shape: {vocab: 260, layers: 4, width: 256, heads: 4, mlp_mult: 4, seq_len: T, batch: B},
  quant: recipe.quant.mode,
  optimizer: recipe.optim.matrix_optimizer,
  steps,
  step_ms: Number(meanMs.toFixed(1)),
  tokens_per_s: Math.round(tokensPerS),
  last_loss: Number(loss.toFixed(4)),
  leak,
}
if (values.json) console.log(JSON.stringify(result))
else {
  console.log(describeBackend(backend))
  console.log(`reference shape 4×256, seq ${T}, batch ${B}, ${recipe.quant.mode}, ${recipe.optim.matrix_optimizer}: ${meanMs.toFixed(0)} ms/step, ${Math.round(tokensPerS)} tokens/s over ${steps} steps`)
  if (leak) console.log(`tensors after step 20: ${leak.tensors_at_20}, after step ${leak.steps}: ${leak.tensors_at_end}${leak.tensors_at_20 === leak.tensors_at_end ? ' (no leak)' : ' (LEAK)'}`)
}
if (leak && leak.tensors_at_20 !== leak.tensors_at_end) process.exitCode = 1
