import '@tensorflow/tfjs-backend-cpu'
import * as tf from '@tensorflow/tfjs-core'
import {beforeAll, describe, expect, it} from 'vitest'

import {AdamW} from '../../src/optim/adamw.js'
import type {ParamRef} from '../../src/optim/types.js'
import {adamwStep, maxAbsDiff, type AdamRefState} from './reference.js'

beforeAll(async () => {
  await tf.setBackend('cpu')
})

const vec = (name: string, values: number[], group: ParamRef['group'] = 'scalar'): ParamRef => ({
  name,
  variable: tf.variable(tf.tensor1d(values), true),
  group,
})

describe('AdamW', () => {
  it('three steps on f(p) = p₀² + p₁² from [1, −2] match hand-worked float64 values', () => {
    // lr 0.1, β₁ 0.9, β₂ 0.99, ε 1e-8, no decay; g = 2p.
    // step 1: m̂ = g, v̂ = g², so each coordinate moves by lr·g/(|g| + ε) ≈ 0.1 toward 0.
    // step 2 (p₀): m = 0.9·0.2 + 0.1·1.8 = 0.36, v = 0.99·0.04 + 0.01·3.24 = 0.072,
    //   p = 0.9 − 0.1·(0.36/0.19)/(√(0.072/0.0199) + ε) = 0.80038857
    const expected = [
      [0.9000000005, -1.90000000025],
      [0.8003885675751014, -1.8001549084868842],
      [0.7014971688119112, -1.7005803069516106],
    ]
    const p = vec('p', [1, -2])
    const opt = new AdamW([p], {lr: 0.1, beta1: 0.9, beta2: 0.99, eps: 1e-8, weightDecay: 0})
    for (const want of expected) {
      const g = tf.tidy(() => tf.mul(p.variable, 2))
      opt.step(new Map([['p', g]]), 1)
      expect(g.isDisposed).toBe(false)
      g.dispose()
      expect(maxAbsDiff(p.variable.dataSync(), want)).toBeLessThan(1e-6)
    }
    expect(opt.stepCount).toBe(3)
    const s = opt.state()
    expect([...s.keys()]).toEqual(['p/exp_avg', 'p/exp_avg_sq', 'p/step', '@adamw/step_count'])
    expect(maxAbsDiff(s.get('p/exp_avg')!, [0.48407771360502017, -1.0260309817423765])).toBeLessThan(1e-6)
    expect(maxAbsDiff(s.get('p/exp_avg_sq')!, [0.09690487439983698, 0.4293943078195973])).toBeLessThan(1e-6)
    expect(Array.from(s.get('p/step')!)).toEqual([3])
  })

  it('applies decoupled weight decay and lrScale like the float64 reference', () => {
    const p0 = [0.5, -1.5, 3]
    const p = vec('w', p0, 'embedding')
    const o = {lr: 0.05, beta1: 0.8, beta2: 0.95, eps: 1e-6, weightDecay: 0.1}
    const opt = new AdamW([p], {...o})
    const ref: AdamRefState = {m: [0, 0, 0], v: [0, 0, 0], t: 0}
    let want = p0
    const grads = [[0.3, -0.2, 1.0], [-0.1, 0.4, 0.5], [0.2, 0.2, -0.7]]
    const scales = [1, 0.5, 0.25]
    for (let k = 0; k < 3; k++) {
      opt.step(new Map([['w', tf.tensor1d(grads[k])]]), scales[k])
      want = adamwStep(want, grads[k], ref, {lr: o.lr * scales[k], beta1: o.beta1, beta2: o.beta2, eps: o.eps, wd: o.weightDecay})
      expect(maxAbsDiff(p.variable.dataSync(), want)).toBeLessThan(1e-6)
    }
  })

  it('first step with decay equals p·(1 − lr·wd) − lr·g/(|g| + ε)', () => {
    const p = vec('w', [2, -4])
    const opt = new AdamW([p], {lr: 0.1, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.5})
    opt.step(new Map([['w', tf.tensor1d([3, 0.25])]]), 0.5)
    // lr = 0.05: 2·0.975 − 0.05 = 1.9; −4·0.975 − 0.05 = −3.95
    expect(maxAbsDiff(p.variable.dataSync(), [1.9, -3.95])).toBeLessThan(1e-6)
  })

  it('leaves a parameter without a gradient and its state untouched (per-parameter step count)', () => {
    const a = vec('a', [1, 2])
    const b = vec('b', [3])
    const opt = new AdamW([a, b], {lr: 0.1, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1})
    opt.step(new Map([['a', tf.tensor1d([1, 1])]]), 1)
    opt.step(new Map([['a', tf.tensor1d([1, 1])], ['b', tf.tensor1d([1])]]), 1)
    const s = opt.state()
    expect(Array.from(s.get('a/step')!)).toEqual([2])
    expect(Array.from(s.get('b/step')!)).toEqual([1])
    // b's one update was its first (t = 1): p·(1 − lr·wd) − lr·g/(|g| + ε)
    expect(b.variable.dataSync()[0]).toBeCloseTo(3 * (1 - 0.01) - 0.1, 6)
    expect(opt.stepCount).toBe(2)
  })

  it('state() / loadState() roundtrip: subsequent steps are identical bit for bit', () => {
    const mk = (p: ParamRef) => new AdamW([p], {lr: 0.01, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.01})
    const grad = (k: number) => tf.tensor2d([[Math.sin(k), Math.cos(3 * k)], [0.1 * k, -0.7]])
    const a: ParamRef = {name: 'm', variable: tf.variable(tf.tensor2d([[1, 2], [3, 4]])), group: 'embedding'}
    const optA = mk(a)
    for (let k = 0; k < 4; k++) optA.step(new Map([['m', grad(k)]]), 1)
    const b: ParamRef = {name: 'm', variable: tf.variable(tf.tensor2d(a.variable.dataSync().slice(), [2, 2])), group: 'embedding'}
    const optB = mk(b)
    optB.loadState(optA.state())
    for (let k = 4; k < 8; k++) {
      optA.step(new Map([['m', grad(k)]]), 0.3)
      optB.step(new Map([['m', grad(k)]]), 0.3)
    }
    expect(Buffer.from(b.variable.dataSync().buffer)).toEqual(Buffer.from(a.variable.dataSync().buffer))
    expect(optB.stepCount).toBe(8)
  })

  it('loadState rejects a missing, extra or wrong-sized entry with a one-line message', () => {
    const opt = new AdamW([vec('g', [1, 2, 3])], {lr: 0.1, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0})
    const good = opt.state()
    const without = new Map(good)
    without.delete('g/exp_avg_sq')
    expect(() => opt.loadState(without)).toThrow("optimizer state is missing 'g/exp_avg_sq' (was it saved with another optimizer config?)")
    expect(() => opt.loadState(new Map([...good, ['h/exp_avg', new Float32Array(3)]]))).toThrow(
      "optimizer state has unexpected key 'h/exp_avg' (was it saved with another optimizer config?)",
    )
    expect(() => opt.loadState(new Map([...good, ['g/exp_avg', new Float32Array(2)]]))).toThrow(
      "optimizer state 'g/exp_avg' has 2 values, expected 3 (shape [3])",
    )
    expect(() => opt.loadState(new Map([...good, ['g/step', Float32Array.of(1.5)]]))).toThrow(
      "optimizer state 'g/step' must be one non-negative integer, got [1.5]",
    )
  })

  it('keeps the live tensor count constant over 20 steps and frees its state on dispose', () => {
    const ps = [vec('a', [1, 2, 3]), {name: 'b', variable: tf.variable(tf.ones([4, 5])), group: 'embedding'} as ParamRef]
    const opt = new AdamW(ps, {lr: 0.1, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1})
    const grads = new Map(ps.map((p) => [p.name, tf.onesLike(p.variable) as tf.Tensor]))
    const live = tf.memory().numTensors
    for (let k = 0; k < 20; k++) opt.step(grads, 1)
    expect(tf.memory().numTensors).toBe(live)
    opt.dispose()
    expect(tf.memory().numTensors).toBe(live - 4)
  })

  it('minimizes an ill-conditioned quadratic ½(x² + 100·y²)', () => {
    const p = vec('xy', [3, -2])
    const opt = new AdamW([p], {lr: 0.05, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0})
    const steps = 400
    for (let k = 0; k < steps; k++) {
      const g = tf.tidy(() => tf.mul(p.variable, tf.tensor1d([1, 100])))
      opt.step(new Map([['xy', g]]), 1 - k / steps)
      g.dispose()
    }
    const [x, y] = p.variable.dataSync()
    expect(Math.abs(x)).toBeLessThan(1e-2)
    expect(Math.abs(y)).toBeLessThan(1e-2)
  })
})
