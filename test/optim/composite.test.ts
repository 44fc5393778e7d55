import '@tensorflow/tfjs-backend-cpu'
import * as tf from '@tensorflow/tfjs-core'
import {beforeAll, describe, expect, it} from 'vitest'

import {AdamW} from '../../src/optim/adamw.js'
import {buildOptimizers, DEFAULT_OPTIM_CONFIG, resolveOptimConfig, type OptimConfig} from '../../src/optim/composite.js'
import {Muon} from '../../src/optim/muon.js'
import type {ParamRef} from '../../src/optim/types.js'
import {randMat} from './reference.js'

beforeAll(async () => {
  await tf.setBackend('cpu')
})

/** A miniature model's parameters: two matrices, an embedding, an untied head, two gains. */
function makeParams(): ParamRef[] {
  const m = (name: string, rows: number, cols: number, seed: number, group: ParamRef['group']): ParamRef => ({
    name,
    variable: tf.variable(tf.tensor2d(randMat(rows, cols, seed, 0.3))),
    group,
  })
  return [
    m('tok_emb.weight', 10, 4, 1, 'embedding'),
    m('blocks.0.attn.c_q.weight', 4, 4, 2, 'matrix'),
    m('blocks.0.mlp.fc.weight', 8, 4, 3, 'matrix'),
    {name: 'blocks.0.attn_scale', variable: tf.variable(tf.ones([4])), group: 'scalar'},
    m('blocks.0.resid_mix', 2, 4, 4, 'scalar'),
    m('lm_head.weight', 10, 4, 5, 'embedding'),
  ]
}
const clone = (ps: ParamRef[]): ParamRef[] => ps.map((p) => ({...p, variable: tf.variable(p.variable.clone())}))
const gradsFor = (ps: ParamRef[], seed: number) =>
  new Map<string, tf.Tensor>(ps.map((p, i) => [p.name, tf.randomNormal(p.variable.shape, 0, 1, 'float32', seed * 100 + i)]))
const bits = (t: tf.Tensor) => Buffer.from(t.dataSync().buffer)

const cfg: OptimConfig = {...DEFAULT_OPTIM_CONFIG, weight_decay: 0.1, head_lr: 0.008}

describe('buildOptimizers', () => {
  it('routes each group to the same update as its stand-alone optimizer', () => {
    for (const matrix_optimizer of ['muon', 'normuon', 'adamw'] as const) {
      const c = {...cfg, matrix_optimizer}
      const ps = makeParams()
      const ref = clone(ps)
      const opt = buildOptimizers(ps, c)
      const by = (names: string[]) => ref.filter((p) => names.includes(p.name))
      const adam = (sel: ParamRef[], lr: number, wd: number) =>
        new AdamW(sel, {lr, beta1: c.beta1, beta2: c.beta2, eps: c.adam_eps, weightDecay: wd})
      const matrixNames = ['blocks.0.attn.c_q.weight', 'blocks.0.mlp.fc.weight']
      const standalone = [
        matrix_optimizer === 'adamw'
          ? adam(by(matrixNames), c.matrix_lr, c.weight_decay)
          : new Muon(by(matrixNames), {
              lr: c.matrix_lr,
              momentum: c.muon_momentum,
              nesterov: true,
              nsSteps: c.muon_ns_steps,
              weightDecay: c.weight_decay,
              normuon: matrix_optimizer === 'normuon' ? {beta2: c.normuon_beta2, eps: 1e-10} : null,
            }),
        adam(by(['tok_emb.weight']), c.embed_lr, c.weight_decay),
        adam(by(['lm_head.weight']), 0.008, c.weight_decay),
        adam(by(['blocks.0.attn_scale', 'blocks.0.resid_mix']), c.scalar_lr, 0), // scalars: no decay
      ]
      for (let k = 0; k < 2; k++) {
        const g = gradsFor(ps, k)
        opt.step(g, 0.5, {momentum: 0.9})
        for (const s of standalone) {
          const names = new Set(s.paramNames())
          s.step(new Map([...g].filter(([n]) => names.has(n))), 0.5, {momentum: 0.9})
        }
      }
      for (let i = 0; i < ps.length; i++) expect(bits(ps[i].variable), `${matrix_optimizer} ${ps[i].name}`).toEqual(bits(ref[i].variable))
      expect(opt.stepCount).toBe(2)
    }
  })

  it('state keys are stable and labelled per group', () => {
    const opt = buildOptimizers(makeParams(), {...cfg, matrix_optimizer: 'normuon'})
    expect([...opt.state().keys()]).toEqual([
      'blocks.0.attn.c_q.weight/momentum_buffer',
      'blocks.0.attn.c_q.weight/second_momentum_buffer',
      'blocks.0.mlp.fc.weight/momentum_buffer',
      'blocks.0.mlp.fc.weight/second_momentum_buffer',
      '@matrix/step_count',
      'tok_emb.weight/exp_avg',
      'tok_emb.weight/exp_avg_sq',
      'tok_emb.weight/step',
      '@embedding/step_count',
      'lm_head.weight/exp_avg',
      'lm_head.weight/exp_avg_sq',
      'lm_head.weight/step',
      '@head/step_count',
      'blocks.0.attn_scale/exp_avg',
      'blocks.0.attn_scale/exp_avg_sq',
      'blocks.0.attn_scale/step',
      'blocks.0.resid_mix/exp_avg',
      'blocks.0.resid_mix/exp_avg_sq',
      'blocks.0.resid_mix/step',
      '@scalar/step_count',
      '@optimizer/step_count',
    ])
  })

  it('state() / loadState() roundtrip: subsequent steps are identical bit for bit', () => {
    const c = {...cfg, matrix_optimizer: 'normuon' as const}
    const a = makeParams()
    const optA = buildOptimizers(a, c)
    for (let k = 0; k < 3; k++) optA.step(gradsFor(a, k), 1, {momentum: 0.9})
    const b = clone(a)
    const optB = buildOptimizers(b, c)
    optB.loadState(optA.state())
    expect(optB.stepCount).toBe(3)
    for (let k = 3; k < 6; k++) {
      const g = gradsFor(a, k)
      optA.step(g, 0.8, {momentum: 0.93})
      optB.step(g, 0.8, {momentum: 0.93})
    }
    for (let i = 0; i < a.length; i++) expect(bits(b[i].variable)).toEqual(bits(a[i].variable))
  })

  it('loadState names a key saved by another matrix optimizer', () => {
    const saved = buildOptimizers(makeParams(), {...cfg, matrix_optimizer: 'normuon'}).state()
    const opt = buildOptimizers(makeParams(), {...cfg, matrix_optimizer: 'muon'})
    expect(() => opt.loadState(saved)).toThrow(
      "optimizer state has unexpected key 'blocks.0.attn.c_q.weight/second_momentum_buffer' (was it saved with another optimizer config?)",
    )
    const opt2 = buildOptimizers(makeParams(), {...cfg, matrix_optimizer: 'adamw'})
    expect(() => opt2.loadState(saved)).toThrow("optimizer state is missing 'blocks.0.attn.c_q.weight/exp_avg'")
  })

  it('keeps the live tensor count constant over 20 steps', () => {
    const ps = makeParams()
    const opt = buildOptimizers(ps, {...cfg, matrix_optimizer: 'normuon'})
    const g = gradsFor(ps, 9)
    const live = tf.memory().numTensors
    for (let k = 0; k < 20; k++) opt.step(g, 1, {momentum: 0.95})
    expect(tf.memory().numTensors).toBe(live)
  })

  it('rejects a gradient for a parameter it was not given', () => {
    const opt = buildOptimizers(makeParams(), cfg)
    expect(() => opt.step(new Map([['nope', tf.zeros([1])]]), 1)).toThrow("optimizer: gradient for unknown parameter 'nope'")
  })
})

describe('resolveOptimConfig', () => {
  it('overlays recipe keys on the defaults', () => {
    expect(resolveOptimConfig({matrix_optimizer: 'normuon', matrix_lr: 0.03})).toEqual({
      ...DEFAULT_OPTIM_CONFIG,
      matrix_optimizer: 'normuon',
      matrix_lr: 0.03,
    })
    expect(resolveOptimConfig(undefined)).toEqual(DEFAULT_OPTIM_CONFIG)
  })

  it('names an unknown key or a bad value', () => {
    expect(() => resolveOptimConfig({matrix_lrr: 1}, 'recipe.optim')).toThrow(/^unknown config key recipe\.optim\.matrix_lrr \(known: matrix_optimizer, /)
    expect(() => resolveOptimConfig({matrix_optimizer: 'sgd'})).toThrow(`optim.matrix_optimizer must be 'muon', 'normuon' or 'adamw', got "sgd"`)
    expect(() => resolveOptimConfig({beta2: 1})).toThrow('optim.beta2 must be in [0, 1), got 1')
    expect(() => resolveOptimConfig({muon_ns_steps: 2.5})).toThrow('optim.muon_ns_steps must be an integer ≥ 1, got 2.5')
    expect(() => resolveOptimConfig({grad_clip: 0})).toThrow('optim.grad_clip must be a number > 0 or null, got 0')
    expect(resolveOptimConfig({grad_clip: 1}).grad_clip).toBe(1)
  })
})
