/**
 * A GPT whose blocks quantize their activations (GPT.activations, src/quant/activations.ts): each
 * site changes the forward pass, the pass is per token (so decoding with a KV cache computes what
 * the full forward does), recomputation keeps the loss and gradients, and every parameter still
 * gets a finite gradient through the straight-through estimators. cpu backend, tiny shapes.
 */
import '@tensorflow/tfjs-backend-cpu'
import * as tf from '@tensorflow/tfjs-core'
import {beforeAll, describe, expect, it} from 'vitest'

import {registerAllGradients} from '../../src/backend/gradients.js'
import {DEFAULT_MODEL_CONFIG, type ModelConfig} from '../../src/model/config.js'
import {GPT} from '../../src/model/gpt.js'
import {ACTIVATION_PRESETS, ACTIVATION_SITES, FLOAT_ACTIVATIONS, type ActivationSites} from '../../src/quant/activations.js'
import type {TernaryConfig} from '../../src/quant/ternary.js'
import {loadRandomWeights, uniformValues} from '../helpers/random.js'

const TERNARY: TernaryConfig = {groupSize: 'row', scaleFormat: 'fp16', zeroCorrection: true}
const PATTERNS = ['blocks.*.attn.*.weight', 'blocks.*.mlp.*.weight']
const cfg: ModelConfig = {...DEFAULT_MODEL_CONFIG, vocab_size: 13, model_dim: 32, num_heads: 4, num_kv_heads: 2, unique_blocks: 2, loops: 2}

beforeAll(async () => {
  await tf.setBackend('cpu')
  await registerAllGradients()
})

function build(activations: ActivationSites, seed = 3): GPT {
  const m = new GPT(cfg, {seed, ternary: {patterns: PATTERNS, config: TERNARY}, floatFormat: 'fp16'})
  loadRandomWeights(m, seed * 100, 0.5)
  m.quantActive = true
  m.activations = activations
  return m
}

const B = 2
const T = 12
const tokens = () => tf.tensor2d(Int32Array.from(uniformValues(B * T, 9, 1), (r) => Math.floor(((r + 1) / 2) * (cfg.vocab_size - 1))), [B, T], 'int32')
const targets = () => tf.tensor2d(Int32Array.from(uniformValues(B * T, 10, 1), (r) => Math.floor(((r + 1) / 2) * (cfg.vocab_size - 1))), [B, T], 'int32')
const logitsOf = (m: GPT) => tf.tidy(() => m.forward(tokens()).dataSync() as Float32Array)
const maxAbsDiff = (a: Float32Array, b: Float32Array) => a.reduce((w, v, i) => Math.max(w, Math.abs(v - b[i])), 0)

describe('activation sites in the forward pass', () => {
  it('each site on its own changes the logits; a8 a little, a4 more', () => {
    const ref = build(FLOAT_ACTIVATIONS)
    const float = logitsOf(ref)
    for (const site of ACTIVATION_SITES) {
      const m = build({...FLOAT_ACTIVATIONS, [site]: {bits: 4, keep: 1}})
      expect(maxAbsDiff(logitsOf(m), float), site).toBeGreaterThan(0)
      m.dispose()
    }
    const d8 = maxAbsDiff(logitsOf(build(ACTIVATION_PRESETS.a8)), float)
    const d4 = maxAbsDiff(logitsOf(build(ACTIVATION_PRESETS.a4)), float)
    expect(d8).toBeGreaterThan(0)
    expect(d4).toBeGreaterThan(4 * d8)
    ref.dispose()
  })

  it('is per token: a KV-cached prefill of the whole sequence gives the full forward bit for bit, decoding token by token the same logits', () => {
    const m = build(ACTIVATION_PRESETS['a4.8'])
    const full = tf.tidy(() => m.forward(tokens()).dataSync() as Float32Array)
    const cache = m.newKVCache()
    const prefill = tf.tidy(() => m.forwardCached(tokens(), cache, {within: 'causal', commit: false}).dataSync() as Float32Array)
    expect(prefill).toEqual(full)
    const rows = tokens().arraySync() as number[][]
    const V = cfg.vocab_size
    let worst = 0
    for (let t = 0; t < T; t++) {
      const step = tf.tidy(() => m.forwardCached(tf.tensor2d(rows.map((r) => [r[t]]), [B, 1], 'int32'), cache, {within: 'causal', commit: true}).dataSync() as Float32Array)
      for (let b = 0; b < B; b++) for (let v = 0; v < V; v++) worst = Math.max(worst, Math.abs(step[b * V + v] - full[(b * T + t) * V + v]))
    }
    // the matrix products run at other shapes, so sums may round differently by an ulp; a
    // rounding flip of one quantized activation would show as a much larger difference
    expect(worst).toBeLessThan(1e-4)
    cache.dispose()
    m.dispose()
  })

  it('recomputation gives the same loss and gradients, and every parameter a finite, non-zero gradient', () => {
    for (const preset of ['a4.8', 'a4'] as const) {
      const run = (recompute: boolean) => {
        const m = build(ACTIVATION_PRESETS[preset])
        m.recompute = recompute
        const {value, grads} = tf.variableGrads(() => m.loss(tokens(), targets()))
        const named = new Map([...m.gradsByParam(grads)].map(([k, g]) => [k, g.dataSync() as Float32Array]))
        const loss = value.dataSync()[0]
        tf.dispose([value, ...Object.values(grads)])
        m.dispose()
        return {loss, named}
      }
      const kept = run(false)
      const again = run(true)
      expect(again.loss).toBe(kept.loss)
      expect(kept.named.size).toBe(build(FLOAT_ACTIVATIONS).specs.length)
      for (const [name, g] of kept.named) {
        expect(g.every(Number.isFinite), name).toBe(true)
        expect(g.some((v) => v !== 0), name).toBe(true)
        expect(maxAbsDiff(again.named.get(name)!, g), name).toBeLessThanOrEqual(1e-5 * Math.max(1, ...Array.from(g, Math.abs)))
      }
    }
  })
})
