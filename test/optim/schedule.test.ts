import '@tensorflow/tfjs-backend-cpu'
import * as tf from '@tensorflow/tfjs-core'
import {beforeAll, describe, expect, it} from 'vitest'

import {DEFAULT_OPTIM_CONFIG} from '../../src/optim/composite.js'
import {clipGradNorm, lrScale, muonMomentum, seqLenAt, shouldStop, type ScheduleConfig} from '../../src/optim/schedule.js'

beforeAll(async () => {
  await tf.setBackend('cpu')
})

describe('lrScale', () => {
  const cfg: ScheduleConfig = {warmup_steps: 10, warmdown_iters: 100, max_steps: 1000}

  it('warms up linearly: (step + 1) / warmup_steps', () => {
    expect(lrScale(0, 0, cfg)).toBe(0.1)
    expect(lrScale(4, 0, cfg)).toBe(0.5)
    expect(lrScale(9, 0, cfg)).toBe(1)
    expect(lrScale(10, 0, cfg)).toBe(1)
  })

  it('warms down linearly over the last warmdown_iters steps (official lr_mul without a cap)', () => {
    expect(lrScale(899, 0, cfg)).toBe(1)
    expect(lrScale(900, 0, cfg)).toBe(1) // warmdown starts: (1000 − 900) / 100
    expect(lrScale(901, 0, cfg)).toBe(0.99)
    expect(lrScale(950, 0, cfg)).toBe(0.5)
    expect(lrScale(999, 0, cfg)).toBe(0.01)
    expect(lrScale(1000, 0, cfg)).toBe(0)
  })

  it('warmdown_frac is a fraction of max_steps', () => {
    const f: ScheduleConfig = {warmup_steps: 0, warmdown_frac: 0.2, max_steps: 500}
    expect(lrScale(399, 0, f)).toBe(1)
    expect(lrScale(450, 0, f)).toBe(0.5)
    expect(() => lrScale(0, 0, {...f, warmdown_iters: 5})).toThrow('schedule: set warmdown_iters or warmdown_frac, not both')
  })

  it('no warmdown: 1 until max_steps', () => {
    expect(lrScale(999, 0, {warmup_steps: 0, max_steps: 1000})).toBe(1)
    expect(lrScale(1000, 0, {warmup_steps: 0, max_steps: 1000})).toBe(0)
  })

  it('with a wall-clock cap: remaining_ms / (warmdown_iters · average step ms) once inside it', () => {
    const w: ScheduleConfig = {warmup_steps: 0, warmdown_iters: 100, max_steps: 20000, max_wallclock_seconds: 600}
    // 540 ms/step so far → warmdown 54 s; 60 s remain → not yet
    expect(lrScale(1000, 540_000, w)).toBe(1)
    // exactly at the boundary: cap 594 s leaves 54 s = the 54 s warmdown → 54/54
    expect(lrScale(1000, 540_000, {...w, max_wallclock_seconds: 594})).toBe(1)
    expect(lrScale(1000, 540_000, {...w, max_wallclock_seconds: 567})).toBe(0.5)
    // 570 s over 1100 steps → warmdown 51 818.18 ms; 30 s remain → 30000·1100 / (100·570000)
    expect(lrScale(1100, 570_000, w)).toBeCloseTo(33 / 57, 14)
    expect(lrScale(1200, 600_000, w)).toBe(0)
    expect(lrScale(1200, 700_000, w)).toBe(0)
  })

  it('with a cap and warmdown_frac: the last fraction of the cap', () => {
    const w: ScheduleConfig = {warmup_steps: 0, warmdown_frac: 0.25, max_steps: 1_000_000, max_wallclock_seconds: 100}
    expect(lrScale(10, 75_000, w)).toBe(1)
    expect(lrScale(10, 90_000, w)).toBe(0.4)
  })

  it('takes the smaller of the step and wall-clock rules, times warmup', () => {
    const w: ScheduleConfig = {warmup_steps: 0, warmdown_iters: 10, max_steps: 100, max_wallclock_seconds: 1000}
    expect(lrScale(95, 95_000, w)).toBe(0.5) // steps run out long before the cap
    expect(lrScale(0, 0, {warmup_steps: 10, warmdown_iters: 100, max_steps: 50})).toBe(0.05) // 0.1 · 50/100
  })
})

describe('muonMomentum', () => {
  it('ramps linearly from muon_momentum_warmup_start to muon_momentum', () => {
    const c = {...DEFAULT_OPTIM_CONFIG, muon_momentum_warmup_start: 0.85, muon_momentum: 0.95, muon_momentum_warmup_steps: 500}
    expect(muonMomentum(0, c)).toBe(0.85)
    expect(muonMomentum(250, c)).toBeCloseTo(0.9, 15)
    expect(muonMomentum(500, c)).toBe(0.95)
    expect(muonMomentum(5000, c)).toBe(0.95)
    expect(muonMomentum(0, {...c, muon_momentum_warmup_steps: 0})).toBe(0.95)
  })
})

describe('seqLenAt', () => {
  const cfg: ScheduleConfig = {warmup_steps: 0, max_steps: 1000, seq_len_start: 64, seq_len_warmup_steps: 100}

  it('grows geometrically from seq_len_start, rounded down to divisors of the final length', () => {
    expect(seqLenAt(0, 1024, cfg)).toBe(64)
    expect(seqLenAt(24, 1024, cfg)).toBe(64) // target 124.6
    expect(seqLenAt(25, 1024, cfg)).toBe(128) // target exactly 128
    expect(seqLenAt(50, 1024, cfg)).toBe(256)
    expect(seqLenAt(75, 1024, cfg)).toBe(512)
    expect(seqLenAt(99, 1024, cfg)).toBe(512) // target 995
    expect(seqLenAt(100, 1024, cfg)).toBe(1024)
    expect(seqLenAt(5000, 1024, cfg)).toBe(1024)
  })

  it('every length divides the final one and never shrinks', () => {
    const c = {...cfg, seq_len_start: 96}
    let prev = 0
    const seen = new Set<number>()
    for (let s = 0; s <= 100; s++) {
      const L = seqLenAt(s, 1536, c)
      expect(1536 % L).toBe(0)
      expect(L).toBeGreaterThanOrEqual(prev)
      prev = L
      seen.add(L)
    }
    expect([...seen]).toEqual([96, 128, 192, 256, 384, 512, 768, 1536])
  })

  it('without a warmup returns the final length; a start that does not divide it is an input error', () => {
    expect(seqLenAt(0, 1024, {warmup_steps: 0, max_steps: 10})).toBe(1024)
    expect(seqLenAt(0, 1024, {...cfg, seq_len_warmup_steps: 0})).toBe(1024)
    expect(() => seqLenAt(0, 1024, {...cfg, seq_len_start: 96})).toThrow(
      'seq_len_start = 96 must be a positive divisor of the final sequence length 1024',
    )
  })
})

describe('shouldStop', () => {
  it('stops at max_steps or once the wall-clock cap is reached', () => {
    const c: ScheduleConfig = {warmup_steps: 0, max_steps: 100, max_wallclock_seconds: 60}
    expect(shouldStop(99, 59_999, c)).toBe(false)
    expect(shouldStop(100, 0, c)).toBe(true)
    expect(shouldStop(5, 60_000, c)).toBe(true)
    expect(shouldStop(5, 1e9, {...c, max_wallclock_seconds: null})).toBe(false)
    expect(shouldStop(5, 1e9, {...c, max_wallclock_seconds: 0})).toBe(false)
  })
})

describe('clipGradNorm', () => {
  it('scales by maxNorm / (‖g‖ + 1e-6) when over, returns new tensors and the pre-clip norm', () => {
    const a = tf.tensor1d([3, 4])
    const b = tf.tensor2d([[12]])
    const live = tf.memory().numTensors
    const {grads, norm} = clipGradNorm(new Map<string, tf.Tensor>([['a', a], ['b', b]]), 6.5)
    expect(norm).toBe(13)
    const coef = 6.5 / (13 + 1e-6)
    expect(Array.from(grads.get('a')!.dataSync())).toEqual([Math.fround(3 * coef), Math.fround(4 * coef)].map((v) => expect.closeTo(v, 6)))
    expect(grads.get('b')!.dataSync()[0]).toBeCloseTo(12 * coef, 5)
    expect(grads.get('b')!.shape).toEqual([1, 1])
    expect(a.isDisposed || b.isDisposed).toBe(false)
    expect(tf.memory().numTensors).toBe(live + 2)
    tf.dispose([...grads.values()])
    expect(tf.memory().numTensors).toBe(live)
  })

  it('leaves gradients under the limit unchanged', () => {
    const a = tf.tensor1d([0.3, -0.4])
    const {grads, norm} = clipGradNorm(new Map([['a', a]]), 1)
    expect(norm).toBeCloseTo(0.5, 6)
    expect(grads.get('a')).not.toBe(a)
    expect(Array.from(grads.get('a')!.dataSync())).toEqual(Array.from(a.dataSync()))
  })

  it('rejects a non-positive maxNorm', () => {
    expect(() => clipGradNorm(new Map(), 0)).toThrow('clipGradNorm: maxNorm = 0 must be a positive number')
  })
})
