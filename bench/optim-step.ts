/**
 * Times one optimizer step for the matrices of one baseline block (D = 512, 4 KV heads of 64,
 * MLP ×2) on the chosen backend: newtonSchulz5 alone, Muon, NorMuon and AdamW.
 *
 * Then the two Newton–Schulz formulations side by side on the matrices of the bench:train
 * reference shape (4 layers × width 256, MLP ×4: per layer four 256×256, one 1024×256 and one
 * 256×1024), in one thread, interleaved A/B so both see the same machine load; prints medians.
 * Usage: node dist/bench/optim-step.js [wasm|cpu|auto] [repeats] [ns-rounds]
 */
import * as tf from '@tensorflow/tfjs-core'

import {describeBackend, initBackend, type BackendName} from '../src/backend/index.js'
import {AdamW} from '../src/optim/adamw.js'
import {Muon, newtonSchulz5, newtonSchulz5Flops, newtonSchulz5Gram, newtonSchulz5Standard} from '../src/optim/muon.js'
import type {Optimizer, ParamRef} from '../src/optim/types.js'

const backend = (process.argv[2] ?? 'wasm') as BackendName
const repeats = Number(process.argv[3] ?? 3)
const nsRounds = Number(process.argv[4] ?? 9)

const info = await initBackend(backend, {quiet: true})
console.log(describeBackend(info))

const shapes: Array<[string, number, number]> = [
  ['c_q', 512, 512],
  ['c_k', 256, 512],
  ['c_v', 256, 512],
  ['proj', 512, 512],
  ['fc', 1024, 512],
  ['mlp_proj', 512, 1024],
]
const params: ParamRef[] = shapes.map(([name, r, c], i) => ({
  name,
  variable: tf.variable(tf.randomNormal([r, c], 0, 0.02, 'float32', i)),
  group: 'matrix',
}))
const grads = new Map(params.map((p, i) => [p.name, tf.randomNormal(p.variable.shape, 0, 1, 'float32', 100 + i)]))

function time(label: string, fn: () => void): void {
  fn() // warm up kernels
  const t0 = performance.now()
  for (let i = 0; i < repeats; i++) fn()
  // force completion: read one value back
  params[0].variable.dataSync()
  console.log(`${label.padEnd(28)} ${((performance.now() - t0) / repeats).toFixed(1)} ms`)
}

time('newtonSchulz5 (6 matrices)', () => {
  for (const g of grads.values()) {
    const x = newtonSchulz5(g as tf.Tensor2D, 5)
    x.dataSync()
    x.dispose()
  }
})
const opts: Array<[string, Optimizer]> = [
  ['Muon step', new Muon(params, {lr: 0.02, momentum: 0.95, nesterov: true, nsSteps: 5})],
  ['NorMuon step', new Muon(params, {lr: 0.02, momentum: 0.95, nesterov: true, nsSteps: 5, normuon: {beta2: 0.95, eps: 1e-10}})],
  ['AdamW step', new AdamW(params, {lr: 0.02, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0})],
]
for (const [label, opt] of opts) time(label, () => opt.step(grads, 1))
console.log(`live tensors: ${tf.memory().numTensors}`)

// --- standard vs Gram Newton–Schulz on the reference shape (5 steps, as Muon's default) ---
type NS = (g: tf.Tensor2D, steps: number) => tf.Tensor2D
const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
}
/** Wall and CPU milliseconds of one call of `fn` on each of `gs` (result read back, as the trainer does). */
function once(fn: NS, gs: tf.Tensor2D[]): {wall: number; cpu: number} {
  const c0 = process.cpuUsage()
  const t0 = performance.now()
  for (const g of gs) {
    const x = fn(g, 5)
    x.dataSync()
    x.dispose()
  }
  const wall = performance.now() - t0
  const c = process.cpuUsage(c0)
  return {wall, cpu: (c.user + c.system) / 1000}
}
/**
 * Interleaves the candidates round by round (order rotated each round); median wall and CPU ms
 * of each. CPU time is the steadier figure when other processes share the cores.
 */
function interleaved(fns: NS[], gs: tf.Tensor2D[]): Array<{wall: number; cpu: number}> {
  for (const fn of fns) once(fn, gs) // warm up kernels
  const ms: Array<Array<{wall: number; cpu: number}>> = fns.map(() => [])
  for (let round = 0; round < nsRounds; round++) {
    for (let j = 0; j < fns.length; j++) {
      const i = (j + round) % fns.length
      ms[i].push(once(fns[i], gs))
    }
  }
  return ms.map((m) => ({wall: median(m.map((x) => x.wall)), cpu: median(m.map((x) => x.cpu))}))
}
const nsShapes: Array<{label: string; shape: [number, number]; count: number}> = [
  {label: '256×256', shape: [256, 256], count: 16},
  {label: '256×1024', shape: [256, 1024], count: 4},
  {label: '1024×256', shape: [1024, 256], count: 4},
]
console.log(`\nNewton–Schulz, 5 steps, reference shape: medians of ${nsRounds} interleaved rounds, one thread, wall / CPU ms`)
console.log(`${'matrix'.padEnd(10)} ${'standard'.padStart(14)} ${'Gram'.padStart(14)} ${'speedup'.padStart(12)}  GFLOP std → Gram  used`)
const ms = (t: {wall: number; cpu: number}): string => `${t.wall.toFixed(1)} / ${t.cpu.toFixed(1)}`
const ratio = (a: {wall: number; cpu: number}, b: {wall: number; cpu: number}): string => `${(a.wall / b.wall).toFixed(2)} / ${(a.cpu / b.cpu).toFixed(2)}`
const before = {wall: 0, cpu: 0}
const after = {wall: 0, cpu: 0}
for (const {label, shape, count} of nsShapes) {
  const g = tf.randomNormal(shape, 0, 1, 'float32', 7) as tf.Tensor2D
  const [std, gram] = interleaved([newtonSchulz5Standard, newtonSchulz5Gram], [g])
  const f = newtonSchulz5Flops(shape[0], shape[1], 5)
  const useGram = f.gram < f.standard
  const used = useGram ? gram : std
  for (const k of ['wall', 'cpu'] as const) {
    before[k] += count * std[k]
    after[k] += count * used[k]
  }
  console.log(
    `${label.padEnd(10)} ${ms(std).padStart(14)} ${ms(gram).padStart(14)} ${ratio(std, gram).padStart(12)}  ` +
      `${(f.standard / 1e9).toFixed(2)} → ${(f.gram / 1e9).toFixed(2)}      ${useGram ? 'Gram' : 'standard'}`,
  )
  g.dispose()
}
console.log(`24 matrices, from the medians × count: standard ${ms(before)} ms, newtonSchulz5 ${ms(after)} ms (${ratio(before, after)}×)`)
const all = nsShapes.flatMap(({shape, count}, i) => Array.from({length: count}, (_, k) => tf.randomNormal(shape, 0, 1, 'float32', 200 + 10 * i + k) as tf.Tensor2D))
const [allStd, allSel] = interleaved([newtonSchulz5Standard, newtonSchulz5], all)
console.log(`24 matrices, one pass each:          standard ${ms(allStd)} ms, newtonSchulz5 ${ms(allSel)} ms (${ratio(allStd, allSel)}×)`)
tf.dispose(all)
console.log(`live tensors: ${tf.memory().numTensors}`)
