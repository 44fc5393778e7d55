/**
 * Muon (Keller Jordan, as in the official Parameter Golf `train_gpt.py`) and NorMuon (Li et al.,
 * "NorMuon: Making Muon more efficient and scalable", 2025, arXiv:2510.05491) for 2-D weights
 * stored [out, in] (rows are output neurons). With lr = lr₀ · lrScale and momentum μ:
 *
 *   B ← μ B + G                                  (momentum buffer, PyTorch `buf.mul_(μ).add_(g)`)
 *   U ← G + μ B   (nesterov)   or   U ← B
 *   O ← NS5(U)                                    (approximate orthogonalization, below)
 *   NorMuon only — neuron-wise normalization with an EMA of each row's second moment:
 *     s ← β₂ s + (1 − β₂) · mean_j(O_ij²)          (s: one value per row, shape [out, 1])
 *     Ô ← O / (√s + ε)
 *     O ← Ô · ‖O‖_F / (‖Ô‖_F + ε)                   (keeps Muon's update norm, so Muon's lr carries over)
 *   O ← O · √max(1, out/in)
 *   W ← W · (1 − lr · wd) − lr · O
 *
 * The NorMuon step follows the authors' reference code (zichongli5/NorMuon `normuon_update`):
 * no bias correction on s (it would cancel in the norm-preserving rescale), ε = 1e-10. The paper's
 * Algorithm 1 instead rescales to 0.2·√(mn)/‖Ô‖_F to match AdamW's update RMS; we keep the
 * reference's norm-preserving form so matrix_lr means the same thing for Muon and NorMuon.
 *
 * Unlike the official script (bfloat16) everything here runs in float32.
 */
import * as tf from '@tensorflow/tfjs-core'

import {checkGrads, SlotOptimizer} from './slots.js'
import type {Optimizer, ParamRef, StepOptions} from './types.js'

/** Quintic Newton–Schulz coefficients from Muon: maximize the slope at 0. */
export const NS5_COEFFS = [3.4445, -4.775, 2.0315] as const
/** Added to the Frobenius norm before normalizing, as the official script. */
export const NS5_EPS = 1e-7

/**
 * Approximately orthogonalizes `g` (returns ≈ U·S'·Vᵀ with S' in about [0.7, 1.2] where
 * g = U·S·Vᵀ): X = g/(‖g‖_F + 1e-7), transposed so X is wide, then `steps` times
 * A = X·Xᵀ, B = b·A + c·A·A, X = a·X + B·X. Returns a new tensor of g's shape.
 *
 * Transposes are explicit (`tf.transpose` then a plain `tf.matMul`): the wasm backend's
 * fast matMul path does not take transpose flags.
 */
export function newtonSchulz5(g: tf.Tensor2D, steps: number): tf.Tensor2D {
  const [a, b, c] = NS5_COEFFS
  return tf.tidy(() => {
    const [rows, cols] = g.shape
    const tall = rows > cols
    let x: tf.Tensor2D = tall ? tf.transpose(g) : g // (r, c) with r ≤ c
    x = tf.div(x, tf.add(tf.sqrt(tf.sum(tf.square(x))), NS5_EPS))
    for (let i = 0; i < steps; i++) {
      const A = tf.matMul(x, tf.transpose(x)) // (r, r)
      const B = tf.add(tf.mul(A, b), tf.mul(tf.matMul(A, A), c)) // (r, r)
      x = tf.add(tf.mul(x, a), tf.matMul(B, x)) // (r, c)
    }
    return tall ? tf.transpose(x) : x.clone()
  })
}

export interface NorMuonOptions {
  /** EMA factor of the per-row second moment (reference default 0.95). */
  beta2: number
  /** Guards the row division and the norm-preserving rescale (reference 1e-10). */
  eps: number
}

export interface MuonOptions {
  lr: number
  /** Default momentum μ; `step(..., {momentum})` overrides it per step (momentum warmup). */
  momentum: number
  nesterov: boolean
  /** Newton–Schulz iterations (official: 5). */
  nsSteps: number
  /** Decoupled weight decay; 0 or absent = none (the official baseline uses none). */
  weightDecay?: number
  /** Non-null turns Muon into NorMuon. */
  normuon?: NorMuonOptions | null
  /** Names this optimizer's `@<label>/step_count` state key; default 'muon' or 'normuon'. */
  label?: string
  /**
   * Newton–Schulz of all this step's updates at once (name → U), returning name → NS5(U) as new
   * tensors: lets a caller spread the matrices over threads (src/train/parallel.ts). It must
   * return what `newtonSchulz5` would. Default: `newtonSchulz5` on each, here.
   */
  orthogonalize?: (us: Map<string, tf.Tensor2D>, steps: number) => Map<string, tf.Tensor2D>
}

export class Muon extends SlotOptimizer implements Optimizer {
  constructor(params: ParamRef[], readonly opts: MuonOptions) {
    if (!(opts.lr >= 0)) throw new Error(`Muon: lr = ${opts.lr} is out of range`)
    if (!(opts.momentum >= 0 && opts.momentum < 1)) throw new Error(`Muon: momentum = ${opts.momentum} is out of range`)
    if (!(Number.isInteger(opts.nsSteps) && opts.nsSteps >= 1)) throw new Error(`Muon: nsSteps = ${opts.nsSteps} must be a positive integer`)
    if (!((opts.weightDecay ?? 0) >= 0)) throw new Error(`Muon: weightDecay = ${opts.weightDecay} is out of range`)
    if (opts.normuon && !(opts.normuon.beta2 >= 0 && opts.normuon.beta2 < 1 && opts.normuon.eps > 0)) {
      throw new Error(`Muon: normuon {beta2: ${opts.normuon.beta2}, eps: ${opts.normuon.eps}} is out of range`)
    }
    super('Muon', params, opts.label ?? (opts.normuon ? 'normuon' : 'muon'))
    for (const p of params) {
      if (p.variable.rank !== 2) throw new Error(`Muon: parameter '${p.name}' has shape [${p.variable.shape.join(', ')}], Muon needs a 2-D matrix`)
      this.slots.addTensor(`${p.name}/momentum_buffer`, p.variable.shape)
      if (opts.normuon) this.slots.addTensor(`${p.name}/second_momentum_buffer`, [p.variable.shape[0], 1])
    }
    this.slots.addCounter(this.stepKey)
  }

  step(grads: Map<string, tf.Tensor>, lrScale: number, opts?: StepOptions): void {
    checkGrads('Muon', grads, this.params)
    const mu = opts?.momentum ?? this.opts.momentum
    if (!(mu >= 0 && mu < 1)) throw new Error(`Muon: momentum = ${mu} is out of range`)
    const lr = this.opts.lr * lrScale
    const wd = this.opts.weightDecay ?? 0
    const nor = this.opts.normuon ?? null
    // three passes so the Newton–Schulz of all matrices can run together (across threads
    // when opts.orthogonalize is given): momentum → orthogonalize → update. Same maths per matrix.
    const b1s = new Map<string, tf.Tensor2D>()
    const us = new Map<string, tf.Tensor2D>()
    for (const [name] of this.params) {
      const g = grads.get(name) as tf.Tensor2D | undefined
      if (!g) continue
      const buf = this.slots.tensor(`${name}/momentum_buffer`)
      const {b1, u} = tf.tidy(() => {
        const b1 = tf.add(tf.mul(buf, mu), g) as tf.Tensor2D
        return {b1, u: this.opts.nesterov ? (tf.add(g, tf.mul(b1, mu)) as tf.Tensor2D) : b1}
      })
      b1s.set(name, b1)
      us.set(name, u)
    }
    const os = this.opts.orthogonalize ? this.opts.orthogonalize(us, this.opts.nsSteps) : new Map([...us].map(([n, u]) => [n, newtonSchulz5(u, this.opts.nsSteps)]))
    for (const [name, p] of this.params) {
      const b1 = b1s.get(name)
      if (!b1) continue
      const buf = this.slots.tensor(`${name}/momentum_buffer`)
      const [rows, cols] = p.shape as [number, number]
      tf.tidy(() => {
        let o = os.get(name)!
        if (nor) {
          const s = this.slots.tensor(`${name}/second_momentum_buffer`)
          const rowMean = tf.mean(tf.square(o), 1, true) // (out, 1)
          const s1 = tf.add(tf.mul(s, nor.beta2), tf.mul(rowMean, 1 - nor.beta2))
          const normBefore = tf.sqrt(tf.sum(tf.square(o)))
          const scaled = tf.div(o, tf.add(tf.sqrt(s1), nor.eps))
          const normAfter = tf.sqrt(tf.sum(tf.square(scaled)))
          o = tf.mul(scaled, tf.div(normBefore, tf.add(normAfter, nor.eps)))
          s.assign(s1)
        }
        const shapeScale = Math.sqrt(Math.max(1, rows / cols))
        const update = tf.mul(o, lr * shapeScale)
        const decayed = wd !== 0 ? tf.mul(p, 1 - lr * wd) : p
        p.assign(tf.sub(decayed, update))
        buf.assign(b1)
      })
    }
    for (const t of new Set([...b1s.values(), ...us.values(), ...os.values()])) t.dispose()
    this.slots.setCounter(this.stepKey, this.stepCount + 1)
  }

}
