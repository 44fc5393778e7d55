/**
 * bench:scale — what a training step and an evaluation pass cost at each model size on the wasm
 * backend: peak wasm heap, peak RSS, seconds and tokens/s, beside golf's estimate of the heap
 * (src/budget/memory.ts). One thread, one sequence per micro-batch (the smallest step golf can
 * take), the recipe's own sequence length, random tokens (memory and speed do not depend on the
 * text); a step is forward + backward + the optimizer (Muon/AdamW as the recipe says), the
 * evaluation one pass at the batch golf eval would choose on this backend (the recipe's
 * eval.batch_seqs, lowered to fit). `train.recompute: auto` as golf train resolves it.
 *
 * Each measurement runs in its own process: a wasm heap never shrinks and RSS is a process peak.
 *
 *   npm run bench:scale                            # every size
 *   npm run bench:scale -- --only tiny,68m --json
 *   npm run bench:scale -- --steps 3                # timed training steps after one warm-up step
 */
import * as tf from '@tensorflow/tfjs-core'
import {spawnSync} from 'node:child_process'
import {fileURLToPath} from 'node:url'
import {parseArgs} from 'node:util'

import {initBackend} from '../src/backend/index.js'
import {estimateMemory, formatMemory} from '../src/budget/memory.js'
import {table} from '../src/cli/output.js'
import {objectiveFor} from '../src/objective/index.js'
import {batchNll} from '../src/objective/batch.js'
import {isDiffusion, modelVocabFor} from '../src/objective/types.js'
import {buildOptimizers} from '../src/optim/composite.js'
import {loadRecipe, objectiveConfigOf, type ResolvedRecipe} from '../src/recipe/recipe.js'
import {buildModel} from '../src/run/build-model.js'
import {accumulateGrads, disposeMap} from '../src/train/grads.js'
import {mulberry32} from '../src/util/random.js'

interface Size {
  name: string
  recipe: string
  sets: string[]
}

const SIZES: Size[] = [
  {name: 'tiny', recipe: 'tiny-cpu', sets: []},
  {name: '26m', recipe: 'mdlm-11l-512d', sets: []},
  {name: '68m', recipe: 'bitnet-b158-68m', sets: []},
  {name: '68m-bd3lm', recipe: 'ternary-bd3lm', sets: []},
  // 12 layers instead of 11: 75.1M parameters, the top of what 16 MB of base-3 trits hold
  {name: '75m', recipe: 'bitnet-b158-68m', sets: ['model.unique_blocks=12']},
]

/** The recipe as the bench runs it: one thread, one sequence per micro-batch and per step. */
function benchRecipe(s: Size): ResolvedRecipe {
  const base = loadRecipe(s.recipe, s.sets)
  const T = base.train.seq_len
  const r = loadRecipe(s.recipe, [...s.sets, `train.micro_batch_tokens=${T}`, `train.batch_tokens=${T}`, 'train.workers=1'])
  const objective = objectiveConfigOf(r)
  return {...r, objective, model: {...r.model, vocab_size: modelVocabFor(objective.kind, r.model.vocab_size)}}
}

interface Measured {
  heap_bytes: number
  max_rss_bytes: number
  seconds: number
  /** Training: of which the forward + backward pass, and the optimizer step. */
  grads_seconds?: number
  optimizer_seconds?: number
  tokens: number
  tokens_per_s: number
}

/** Child: one phase of one size, printed as one JSON line. */
async function child(name: string, phase: 'train' | 'eval', steps: number): Promise<void> {
  const size = SIZES.find((s) => s.name === name)!
  const recipe = benchRecipe(size)
  await initBackend('wasm', {quiet: true, threads: 1})
  const est = estimateMemory(recipe, {backend: 'wasm', threads: 1, vocab: 'model'})
  const model = buildModel(recipe, 1)
  model.quantActive = recipe.quant.mode === 'ternary'
  model.recompute = est.train!.recompute
  const objective = objectiveFor(recipe.objective!, recipe.model.vocab_size)
  const T = recipe.train.seq_len
  const rand = mulberry32(7)
  const data = (B: number) => Uint16Array.from({length: objective.chunkTokens(B, T)}, () => Math.floor(rand() * (recipe.model.vocab_size - 1)))
  let seconds = 0
  let tokens = 0
  let gradsSeconds = 0
  if (phase === 'train') {
    const opt = buildOptimizers(model.specs.map((s) => ({name: s.name, variable: model.params.get(s.name)!, group: s.group})), recipe.optim)
    for (let i = 0; i <= steps; i++) {
      const t0 = performance.now()
      const {grads} = accumulateGrads(model, [objective.trainBatch(data(1), 1, T, rand)], 0)
      const t1 = performance.now()
      opt.step(grads, 1, {momentum: 0.95})
      disposeMap(grads)
      if (i > 0) {
        seconds += (performance.now() - t0) / 1000 // the first step is the warm-up (tables, masks, packing)
        gradsSeconds += (t1 - t0) / 1000
        tokens += T
      }
    }
    opt.dispose()
  } else {
    const B = est.eval.batch_seqs
    const batch = isDiffusion(objective) ? objective.denoiseBatch(Int32Array.from(data(B).subarray(0, B * T)), new Uint8Array(B * T).fill(1), B, T, new Int32Array(B).fill(1)) : objective.trainBatch(data(B), B, T, rand)
    const t0 = performance.now()
    batchNll(model, batch)
    seconds = (performance.now() - t0) / 1000
    tokens = B * T
  }
  const heap = (tf.backend() as unknown as {wasm: {HEAPU8: Uint8Array}}).wasm.HEAPU8.buffer.byteLength
  const m: Measured = {heap_bytes: heap, max_rss_bytes: process.resourceUsage().maxRSS * 1024, seconds: Number(seconds.toFixed(2)), tokens, tokens_per_s: Math.round(tokens / seconds)}
  if (phase === 'train') {
    m.grads_seconds = Number(gradsSeconds.toFixed(2))
    m.optimizer_seconds = Number((seconds - gradsSeconds).toFixed(2))
  }
  console.log(JSON.stringify(m))
  model.dispose()
}

interface Row {
  size: string
  recipe: string
  params: number
  seq_len: number
  recompute: boolean
  eval_batch_seqs: number
  train: Measured & {estimate_bytes: number}
  eval: Measured & {estimate_bytes: number}
}

async function main(): Promise<void> {
  const {values} = parseArgs({options: {json: {type: 'boolean', default: false}, only: {type: 'string', default: ''}, steps: {type: 'string', default: '2'}, child: {type: 'string'}, phase: {type: 'string'}}})
  const steps = Number(values.steps)
  if (values.child) return child(values.child, values.phase as 'train' | 'eval', steps)
  const only = values.only ? new Set(values.only.split(',')) : null
  const rows: Row[] = []
  for (const s of SIZES) {
    if (only && !only.has(s.name)) continue
    const recipe = benchRecipe(s)
    const est = estimateMemory(recipe, {backend: 'wasm', threads: 1, vocab: 'model'})
    const run = (phase: 'train' | 'eval'): Measured => {
      if (!values.json) process.stderr.write(`${s.name}: ${phase} …\n`)
      const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--child', s.name, '--phase', phase, '--steps', String(steps)], {encoding: 'utf8', maxBuffer: 1 << 24})
      const line = r.stdout.trim().split('\n').at(-1) ?? ''
      if (r.status !== 0 || !line.startsWith('{')) throw new Error(`${s.name} ${phase}: exit ${r.status}: ${r.stderr.trim().split('\n').slice(-3).join(' | ')}`)
      return JSON.parse(line) as Measured
    }
    const row: Row = {
      size: s.name,
      recipe: [s.recipe, ...s.sets].join(' '),
      params: est.params.total,
      seq_len: recipe.train.seq_len,
      recompute: est.train!.recompute,
      eval_batch_seqs: est.eval.batch_seqs,
      // the step alone (no evaluation during it): the training phases of the main thread
      train: {...run('train'), estimate_bytes: est.train!.step_peak_bytes},
      eval: {...run('eval'), estimate_bytes: est.eval.peak_bytes},
    }
    process.stderr.write(JSON.stringify(row) + '\n')
    rows.push(row)
  }
  if (values.json) {
    console.log(JSON.stringify({bench: 'scale', backend: 'wasm', threads: 1, steps, rows}))
    return
  }
  const ratio = (m: {heap_bytes: number; estimate_bytes: number}) => `${formatMemory(m.heap_bytes)} (est. ${formatMemory(m.estimate_bytes)}, ×${(m.heap_bytes / m.estimate_bytes).toFixed(3)})`
  console.log(`wasm, 1 thread; a training step = one sequence forward + backward + the optimizer (mean of ${steps} after a warm-up); an evaluation = one pass at the fitted batch`)
  console.log(
    table(
      ['size', 'params', 'seq', 'recompute', 'train heap (estimate)', 'train RSS', 'step s (fwd+bwd / optimizer)', 'train tok/s', 'eval batch', 'eval heap (estimate)', 'eval RSS', 'eval tok/s'],
      rows.map((r) => [r.size, r.params.toLocaleString('en-US'), String(r.seq_len), r.recompute ? 'on' : 'off', ratio(r.train), formatMemory(r.train.max_rss_bytes), `${(r.train.seconds / steps).toFixed(2)} (${(r.train.grads_seconds! / steps).toFixed(2)} / ${(r.train.optimizer_seconds! / steps).toFixed(2)})`, r.train.tokens_per_s.toLocaleString('en-US'), String(r.eval_batch_seqs), ratio(r.eval), formatMemory(r.eval.max_rss_bytes), r.eval.tokens_per_s.toLocaleString('en-US')]),
    ),
  )
  console.log('heap: the wasm heap after the phase (it only grows: its peak); estimate: golf budget\'s per-thread figure for the same phase')
}

await main()
