/**
 * Activation recomputation (src/model/recompute.ts, GPT.recompute): the same loss and gradients
 * as keeping every intermediate, a training step that holds one layer's activations instead of
 * all of them, and an evaluation pass that frees each layer's intermediates as it goes.
 * cpu backend, tiny shapes; the wasm calibration of the memory estimate is in
 * test/budget/memory.test.ts.
 */
import '@tensorflow/tfjs-backend-cpu'
import * as tf from '@tensorflow/tfjs-core'
import {beforeAll, describe, expect, it} from 'vitest'

import {registerAllGradients} from '../../src/backend/gradients.js'
import {DEFAULT_MODEL_CONFIG, type ModelConfig} from '../../src/model/config.js'
import {GPT, type ForwardOptions} from '../../src/model/gpt.js'
import {recomputed} from '../../src/model/recompute.js'
import type {TernaryConfig} from '../../src/quant/ternary.js'
import {loadRandomWeights, uniformValues} from '../helpers/random.js'
import {measurePeak} from '../helpers/memory.js'

const TERNARY: TernaryConfig = {groupSize: 'row', scaleFormat: 'fp16', zeroCorrection: true}
const PATTERNS = ['blocks.*.attn.*.weight', 'blocks.*.mlp.*.weight']
const base: ModelConfig = {...DEFAULT_MODEL_CONFIG, vocab_size: 13, model_dim: 16, num_heads: 4, num_kv_heads: 2, unique_blocks: 3, loops: 1}

beforeAll(async () => {
  await tf.setBackend('cpu')
  await registerAllGradients()
})

function build(cfg: ModelConfig, seed = 1): GPT {
  const model = new GPT(cfg, {seed, ternary: {patterns: PATTERNS, config: TERNARY}, floatFormat: 'fp16'})
  // random weights everywhere, so zero-initialised projections hide no gradient
  loadRandomWeights(model, seed * 100, 0.5)
  return model
}

function batch(B: number, T: number, V: number, seed: number): {x: tf.Tensor2D; y: tf.Tensor2D} {
  let s = seed
  const r = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) % V)
  return {x: tf.tensor2d(Int32Array.from({length: B * T}, r), [B, T], 'int32'), y: tf.tensor2d(Int32Array.from({length: B * T}, r), [B, T], 'int32')}
}

/** Loss and gradients (by parameter name, as arrays) of one batch. */
function lossAndGrads(model: GPT, x: tf.Tensor2D, y: tf.Tensor2D, opts: ForwardOptions = {}): {loss: number; grads: Map<string, Float32Array>} {
  const {value, grads} = tf.variableGrads(() => model.loss(x, y, {...opts, zLoss: 1e-3}))
  const named = model.gradsByParam(grads)
  const out = new Map([...named].map(([k, g]) => [k, g.dataSync() as Float32Array]))
  const loss = value.dataSync()[0]
  tf.dispose([value, ...Object.values(grads)])
  return {loss, grads: out}
}

/** max |a − b| / (max |a| + 1e-6) over every entry of every gradient. */
function maxRelDiff(a: Map<string, Float32Array>, b: Map<string, Float32Array>): number {
  let worst = 0
  for (const [k, ga] of a) {
    const gb = b.get(k)!
    expect(gb.length).toBe(ga.length)
    let scale = 1e-6
    let diff = 0
    for (let i = 0; i < ga.length; i++) {
      scale = Math.max(scale, Math.abs(ga[i]))
      diff = Math.max(diff, Math.abs(ga[i] - gb[i]))
    }
    worst = Math.max(worst, diff / scale)
  }
  return worst
}

describe('recomputed(): a function whose intermediates the backward pass recomputes', () => {
  const f = (a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(tf.tanh(tf.matMul(a as tf.Tensor2D, b as tf.Tensor2D)), a)) as tf.Scalar

  it('gives the gradients of the plain function, for every input', () => {
    const a = tf.tensor2d(uniformValues(12, 1, 1), [3, 4])
    const b = tf.tensor2d(uniformValues(16, 2, 1), [4, 4])
    const plain = tf.grads((p: tf.Tensor, q: tf.Tensor) => f(p, q))([a, b])
    const re = tf.grads((p: tf.Tensor, q: tf.Tensor) => recomputed((u, v) => f(u, v), [p, q]) as tf.Scalar)([a, b])
    for (let i = 0; i < 2; i++) expect(re[i].dataSync()).toEqual(plain[i].dataSync())
  })

  it('an input passed twice is differentiated once, not twice', () => {
    const a = tf.tensor2d(uniformValues(16, 3, 1), [4, 4])
    const plain = tf.grad((p: tf.Tensor) => f(p, p))(a)
    const re = tf.grad((p: tf.Tensor) => recomputed((u, v) => f(u, v), [p, p]) as tf.Scalar)(a)
    expect(re.dataSync()).toEqual(plain.dataSync())
  })

  it('leaves no tensor behind: forward, backward and the outer tape', () => {
    const a = tf.tensor2d(uniformValues(12, 4, 1), [3, 4])
    const b = tf.variable(tf.tensor2d(uniformValues(16, 5, 1), [4, 4]))
    const before = tf.memory().numTensors
    for (let i = 0; i < 3; i++) {
      const {value, grads} = tf.variableGrads(() => tf.mul(recomputed((u, v) => f(u, v), [a, b]), 2) as tf.Scalar, [b])
      tf.dispose([value, ...Object.values(grads)])
    }
    expect(tf.memory().numTensors).toBe(before)
    // outside a tape it is the function itself
    const before2 = tf.memory().numTensors
    const y = recomputed((u, v) => f(u, v), [a, b])
    expect(tf.memory().numTensors).toBe(before2 + 1) // y, its intermediates already freed
    expect(y.dataSync()[0]).toBe(tf.tidy(() => f(a, b).dataSync()[0]))
  })
})

describe('GPT.recompute: the same loss and gradients as keeping every intermediate', () => {
  const cases: Array<[string, ModelConfig, ForwardOptions, number]> = [
    ['AR, U-Net skips, x0 mix, tied embeddings', base, {}, 12],
    ['depth recurrence (3 blocks applied twice) and an untied head', {...base, loops: 2, tie_embeddings: false}, {}, 12],
    ['no skips, no x0 mix, QK norm off', {...base, unet_skips: false, x0_mix: false, qk_norm: false}, {}, 12],
    ['bidirectional with SUBS suppression (MDLM)', base, {attention: {kind: 'bidirectional'}, suppress: 12}, 12],
    ['block diffusion [x_t ‖ x_0], blocks of 3', base, {attention: {kind: 'block-diffusion', block: 3}, suppress: 12}, 12],
  ]
  for (const [name, cfg, opts, T] of cases) {
    for (const quant of [false, true]) {
      it(`${name}${quant ? ', ternary q·d and fp16 floats (STE)' : ''}`, () => {
        const model = build(cfg)
        model.quantActive = quant
        const Tin = opts.attention?.kind === 'block-diffusion' ? 2 * T : T
        const {x, y: y2} = batch(2, Tin, 12, 7)
        const y = opts.attention?.kind === 'block-diffusion' ? tf.slice(y2, [0, 0], [2, T]) : y2
        const kept = lossAndGrads(model, x, y as tf.Tensor2D, opts)
        model.recompute = true
        const before = tf.memory().numTensors
        const re = lossAndGrads(model, x, y as tf.Tensor2D, opts)
        expect(tf.memory().numTensors).toBe(before)
        // the forward values are the same kernels on the same inputs: the loss bit for bit
        expect(re.loss).toBe(kept.loss)
        expect([...re.grads.keys()]).toEqual([...kept.grads.keys()])
        // gradients: the same products, summed in another order where a tensor has several uses
        expect(maxRelDiff(re.grads, kept.grads)).toBeLessThan(2e-6)
        model.dispose()
      })
    }
  }
})

describe('memory: what a training step and an evaluation pass hold', () => {
  // 8 layers of width 32 on 64-token sequences: the activations dominate the weights
  const deep: ModelConfig = {...base, model_dim: 32, unique_blocks: 8}

  it('a training step with recompute holds about one layer of activations, not eight', () => {
    const model = build(deep)
    const {x, y} = batch(4, 64, 12, 3)
    const step = () => {
      const {value, grads} = tf.variableGrads(() => model.loss(x, y))
      tf.dispose([value, ...Object.values(grads)])
    }
    step() // RoPE tables and masks are cached by the first pass
    const kept = measurePeak(step)
    model.recompute = true
    const re = measurePeak(step)
    // 8 layers kept vs 1 layer + every layer's input (measured 0.17 on cpu)
    expect(re / kept).toBeLessThan(0.3)
    model.dispose()
  })

  it('an evaluation pass frees each layer as it goes: 8 layers cost about what 2 do', () => {
    const peakOf = (cfg: ModelConfig) => {
      const model = build(cfg)
      const {x} = batch(4, 64, 12, 3)
      model.forward(x).dispose()
      // quantization off: no q·d copies, the activations alone
      const peak = measurePeak(() => model.forward(x).dispose())
      model.dispose()
      return peak
    }
    const two = peakOf({...deep, unique_blocks: 2})
    const eight = peakOf(deep)
    // without freeing, eight layers would hold ~4× the intermediates of two (measured 1.04)
    expect(eight / two).toBeLessThan(1.25)
  })
})
