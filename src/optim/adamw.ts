/**
 * AdamW (Loshchilov & Hutter): Adam with bias correction and decoupled weight decay, as
 * `torch.optim.AdamW`. For a parameter p with gradient g at its t-th update, lr = lr₀ · lrScale:
 *
 *   p ← p · (1 − lr · wd)
 *   m ← β₁ m + (1 − β₁) g            v ← β₂ v + (1 − β₂) g²
 *   p ← p − lr · (m / (1 − β₁ᵗ)) / (√(v / (1 − β₂ᵗ)) + ε)
 *
 * t counts per parameter (a parameter skipped for lack of a gradient does not advance), as in
 * PyTorch. Bias corrections are computed on the host in float64 and uploaded as scalars; no
 * read-back happens inside `step`.
 */
import * as tf from '@tensorflow/tfjs-core'

import {checkGrads, SlotOptimizer} from './slots.js'
import type {Optimizer, ParamRef, StepOptions} from './types.js'

export interface AdamWOptions {
  lr: number
  beta1: number
  beta2: number
  eps: number
  weightDecay: number
  /** Names this optimizer's `@<label>/step_count` state key; default 'adamw'. */
  label?: string
}

export class AdamW extends SlotOptimizer implements Optimizer {
  constructor(params: ParamRef[], readonly opts: AdamWOptions) {
    checkHyper('AdamW', opts)
    super('AdamW', params, opts.label ?? 'adamw')
    for (const p of params) {
      this.slots.addTensor(`${p.name}/exp_avg`, p.variable.shape)
      this.slots.addTensor(`${p.name}/exp_avg_sq`, p.variable.shape)
      this.slots.addCounter(`${p.name}/step`)
    }
    this.slots.addCounter(this.stepKey)
  }

  step(grads: Map<string, tf.Tensor>, lrScale: number, _opts?: StepOptions): void {
    checkGrads('AdamW', grads, this.params)
    const {beta1, beta2, eps, weightDecay} = this.opts
    const lr = this.opts.lr * lrScale
    for (const [name, p] of this.params) {
      const g = grads.get(name)
      if (!g) continue
      const t = this.slots.counter(`${name}/step`) + 1
      this.slots.setCounter(`${name}/step`, t)
      const m = this.slots.tensor(`${name}/exp_avg`)
      const v = this.slots.tensor(`${name}/exp_avg_sq`)
      const bc1 = 1 - Math.pow(beta1, t)
      const bc2 = 1 - Math.pow(beta2, t)
      tf.tidy(() => {
        const m1 = tf.add(tf.mul(m, beta1), tf.mul(g, 1 - beta1))
        const v1 = tf.add(tf.mul(v, beta2), tf.mul(tf.square(g), 1 - beta2))
        // (m / bc1) / (sqrt(v / bc2) + eps), written as torch does: (lr/bc1) · m / (sqrt(v)/sqrt(bc2) + eps)
        const denom = tf.add(tf.div(tf.sqrt(v1), Math.sqrt(bc2)), eps)
        const update = tf.mul(tf.div(m1, denom), lr / bc1)
        const decayed = weightDecay !== 0 ? tf.mul(p, 1 - lr * weightDecay) : p
        p.assign(tf.sub(decayed, update))
        m.assign(m1)
        v.assign(v1)
      })
    }
    this.slots.setCounter(this.stepKey, this.stepCount + 1)
  }

}

function checkHyper(who: string, o: AdamWOptions): void {
  const bad = (k: string, v: number): never => {
    throw new Error(`${who}: ${k} = ${v} is out of range`)
  }
  if (!(o.lr >= 0)) bad('lr', o.lr)
  if (!(o.beta1 >= 0 && o.beta1 < 1)) bad('beta1', o.beta1)
  if (!(o.beta2 >= 0 && o.beta2 < 1)) bad('beta2', o.beta2)
  if (!(o.eps > 0)) bad('eps', o.eps)
  if (!(o.weightDecay >= 0)) bad('weightDecay', o.weightDecay)
}
