import '@tensorflow/tfjs-backend-cpu'
import * as tf from '@tensorflow/tfjs-core'
import {beforeAll, describe, expect, it} from 'vitest'

import {registerAllGradients} from '../../src/backend/gradients.js'
import {DEFAULT_MODEL_CONFIG} from '../../src/model/config.js'
import {GPT} from '../../src/model/gpt.js'
import {arBatch, arLoss} from '../../src/objective/ar.js'

beforeAll(async () => {
  await tf.setBackend('cpu')
  await registerAllGradients()
})

describe('arBatch', () => {
  it('lays out x = chunk[:-1].view(B,T), y = chunk[1:].view(B,T) as the official loader', () => {
    const chunk = Uint16Array.from([10, 11, 12, 13, 14, 15, 16, 65535])
    const {inputs, targets} = arBatch(chunk, 2, 3)
    expect(inputs.dtype).toBe('int32')
    expect(inputs.arraySync()).toEqual([
      [10, 11, 12],
      [13, 14, 15],
    ])
    expect(targets.arraySync()).toEqual([
      [11, 12, 13],
      [14, 15, 16],
    ])
    expect(arBatch(Uint16Array.from([1, 65535]), 1, 1).targets.arraySync()).toEqual([[65535]])
  })

  it('needs B·T + 1 tokens', () => {
    expect(() => arBatch(new Int32Array(6), 2, 3)).toThrow('arBatch: need 7 tokens for B=2, T=3, got 6')
  })
})

describe('arLoss', () => {
  it('equals model.loss on the shifted batch, and is differentiable without leaks', () => {
    const cfg = {...DEFAULT_MODEL_CONFIG, vocab_size: 11, model_dim: 8, num_heads: 2, num_kv_heads: 1, unique_blocks: 2}
    const model = new GPT(cfg, {seed: 3, ternary: {patterns: [], config: {groupSize: 'row', scaleFormat: 'fp32', zeroCorrection: true}}})
    const chunk = Int32Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 0])
    const x = tf.tensor2d([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], [2, 5], 'int32')
    const y = tf.tensor2d([2, 3, 4, 5, 6, 7, 8, 9, 10, 0], [2, 5], 'int32')
    expect(arLoss(model, chunk, 2, 5).dataSync()[0]).toBe(model.loss(x, y).dataSync()[0])
    arLoss(model, chunk, 2, 5).dispose() // warm the caches
    const before = tf.memory().numTensors
    tf.tidy(() => {
      const {value, grads} = tf.variableGrads(() => arLoss(model, chunk, 2, 5, {zLoss: 1e-4}))
      expect(Object.keys(grads)).toHaveLength(model.params.size)
      expect(value.dataSync()[0]).toBeGreaterThan(0)
    })
    expect(tf.memory().numTensors).toBe(before)
    model.dispose()
  })
})
