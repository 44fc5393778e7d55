/**
 * Times one optimizer step for the matrices of one baseline block (D = 512, 4 KV heads of 64,
 * MLP ×2) on the chosen backend: newtonSchulz5 alone, Muon, NorMuon and AdamW.
 * Usage: node dist/bench/optim-step.js [wasm|cpu|auto] [repeats]
 */
import * as tf from '@tensorflow/tfjs-core'

import {describeBackend, initBackend, type BackendName} from '../src/backend/index.js'
import {AdamW} from '../src/optim/adamw.js'
import {Muon, newtonSchulz5} from '../src/optim/muon.js'
import type {Optimizer, ParamRef} from '../src/optim/types.js'

const backend = (process.argv[2] ?? 'wasm') as BackendName
const repeats = Number(process.argv[3] ?? 3)

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
