/**
 * Tiny GPTs for the diffusion tests (cpu backend): a config, a build with float tensors only,
 * random weights for every parameter (the zero-initialised projections would otherwise make
 * every position's logits depend on its own token only), and host-side log-softmax.
 */
import * as tf from '@tensorflow/tfjs-core'

import {DEFAULT_MODEL_CONFIG, type ModelConfig} from '../../src/model/config.js'
import {GPT} from '../../src/model/gpt.js'
import {DEFAULT_TERNARY} from '../../src/quant/ternary.js'
import {mulberry32} from '../../src/util/random.js'

/** V ids (data + [MASK]), D = 8, H = 2, KV = 1, two blocks (one U-Net skip). */
export function tinyConfig(vocab: number, over: Partial<ModelConfig> = {}): ModelConfig {
  return {...DEFAULT_MODEL_CONFIG, vocab_size: vocab, model_dim: 8, num_heads: 2, num_kv_heads: 1, mlp_mult: 2, unique_blocks: 2, loops: 1, ...over}
}

export function buildGPT(cfg: ModelConfig, seed = 1): GPT {
  return new GPT(cfg, {seed, ternary: {patterns: [], config: DEFAULT_TERNARY}})
}

/** Uniform weights in [−scale, scale) for every parameter; returns them. */
export function randomizeWeights(model: GPT, seed: number, scale = 0.5): Map<string, Float32Array> {
  const rand = mulberry32(seed)
  const w = new Map<string, Float32Array>()
  for (const s of model.specs) {
    const n = s.shape.reduce((a, b) => a * b, 1)
    const v = new Float32Array(n)
    for (let i = 0; i < n; i++) v[i] = (2 * rand() - 1) * scale
    w.set(s.name, v)
  }
  model.loadWeights(w)
  return w
}

/** Logits (Tout, V) of one input row, as float32 rows on the host. */
export function logitsOf(model: GPT, row: ArrayLike<number>, opts: Parameters<GPT['forward']>[1] = {}): Float32Array[] {
  const x = tf.tensor2d(Int32Array.from(row), [1, row.length], 'int32')
  const y = model.forward(x, opts)
  const [, Tout, V] = y.shape
  const data = y.dataSync() as Float32Array
  x.dispose()
  y.dispose()
  return Array.from({length: Tout}, (_, t) => Float32Array.from(data.subarray(t * V, (t + 1) * V)))
}

/** log softmax of a row in float64. */
export function logSoftmax(logits: ArrayLike<number>): Float64Array {
  let max = -Infinity
  for (let i = 0; i < logits.length; i++) max = Math.max(max, logits[i])
  let sum = 0
  for (let i = 0; i < logits.length; i++) sum += Math.exp(logits[i] - max)
  const lse = max + Math.log(sum)
  return Float64Array.from(logits, (v) => v - lse)
}
