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
 * g = U·S·Vᵀ): X₀ = g/(‖g‖_F + 1e-7), transposed so X₀ is wide (r × c, r ≤ c), then `steps`
 * times A = X·Xᵀ, B = b·A + c·A·A, X = a·X + B·X. Returns a new tensor of g's shape.
 *
 * Two formulations of that same iteration, equal up to float32 rounding; the cheaper by matMul
 * FLOPs (`newtonSchulz5Flops`) runs:
 *
 * - standard (`newtonSchulz5Standard`): the loop above.
 * - Gram (`newtonSchulz5Gram`; "Gram Newton–Schulz", Dao AI Lab blog, 2026): every
 *   iterate is X_k = Q_k·X₀ with Q_k a polynomial in R₀ = X₀·X₀ᵀ, so Q_k and R_k = X_k·X_kᵀ
 *   commute and the iteration runs on r × r matrices:
 *     P_k = a·I + b·R_k + c·R_k²,  Q_{k+1} = P_k·Q_k  (Q₁ = P₀),  R_{k+1} = P_k·(P_k·R_k),
 *     result = Q_steps·X₀   (R_{k+1} skipped on the last step).
 *   R squares X's condition number: run straight through in float32 (wasm), that costs up to
 *   20× the standard loop's error on inputs with a decaying spectrum, as gradients have (1e-3
 *   relative Frobenius against float64). So the steps run in phases of at most 3 (as even as
 *   possible, longer first: 5 = 3 + 2) and each new phase restarts the paper's way: X_k = Q_k·X₀
 *   and R_k = X_k·X_kᵀ computed in full, Q = I. Its error is then within ~1.1× the standard
 *   loop's (both ~5e-5 at 256 × 1024 on wasm, measured against a float64 reference).
 *
 * Gram runs when it costs fewer FLOPs, which for steps ≥ 2 is exactly when c > 1.5·r
 * (standard − Gram = (steps − phases)·(4c − 6r)·r²). For the 256 × 1024 MLP matrices at
 * 5 steps: 1.01 vs 1.51 GFLOP. Square matrices keep the standard loop. The choice depends only
 * on the shape and `steps`, so the worker threads (src/train/parallel.ts) compute the same bits
 * as the main thread.
 *
 * Transposes are explicit (`tf.transpose` then a plain `tf.matMul`): the wasm backend's
 * fast matMul path does not take transpose flags.
 */
export function newtonSchulz5(g: tf.Tensor2D, steps: number): tf.Tensor2D {
  const [rows, cols] = g.shape
  const f = newtonSchulz5Flops(rows, cols, steps)
  return f.gram < f.standard ? newtonSchulz5Gram(g, steps) : newtonSchulz5Standard(g, steps)
}

/**
 * matMul FLOPs (2 per multiply-add; element-wise work left out) of the two formulations of
 * `newtonSchulz5` on a [rows, cols] matrix, r = min, c = max, n = ⌈steps/3⌉ Gram phases:
 *   standard  steps·(4r²c + 2r³)
 *   Gram      4n·r²c + (8·steps − 6n)·r³
 * Gram, per phase of s steps: R = X·Xᵀ and Q·X (2r²c each; the first phase's Q·X is the final
 * product), s squarings R_k², s − 1 products P_k·Q_k and s − 1 updates P_k·(P_k·R_k) (2r³ each).
 */
export function newtonSchulz5Flops(rows: number, cols: number, steps: number): {standard: number; gram: number} {
  const r = Math.min(rows, cols)
  const c = Math.max(rows, cols)
  if (steps <= 0) return {standard: 0, gram: 0}
  const n = gramPhases(steps).length
  return {standard: steps * (4 * r * r * c + 2 * r ** 3), gram: 4 * n * r * r * c + (8 * steps - 6 * n) * r ** 3}
}

/** Lengths of the Gram iteration's phases: ⌈steps/3⌉ of them, as even as possible, longer first. */
function gramPhases(steps: number): number[] {
  const n = Math.ceil(steps / 3)
  return Array.from({length: n}, (_, i) => Math.floor(steps / n) + (i < steps % n ? 1 : 0))
}

/** X₀ = g/(‖g‖_F + 1e-7), transposed to be wide; `tall` says whether it was transposed. */
function normalizedWide(g: tf.Tensor2D): {x: tf.Tensor2D; tall: boolean} {
  const [rows, cols] = g.shape
  const tall = rows > cols
  const x: tf.Tensor2D = tall ? tf.transpose(g) : g // (r, c) with r ≤ c
  return {x: tf.div(x, tf.add(tf.sqrt(tf.sum(tf.square(x))), NS5_EPS)), tall}
}

/** The standard Newton–Schulz loop on X (r × c): see `newtonSchulz5`. */
export function newtonSchulz5Standard(g: tf.Tensor2D, steps: number): tf.Tensor2D {
  const [a, b, c] = NS5_COEFFS
  return tf.tidy(() => {
    let {x, tall} = normalizedWide(g)
    for (let i = 0; i < steps; i++) {
      const A = tf.matMul(x, tf.transpose(x)) // (r, r)
      const B = tf.add(tf.mul(A, b), tf.mul(tf.matMul(A, A), c)) // (r, r)
      x = tf.add(tf.mul(x, a), tf.matMul(B, x)) // (r, c)
    }
    return tall ? tf.transpose(x) : x.clone()
  })
}

/** The Gram formulation of the same iteration, in restarted phases: see `newtonSchulz5`. */
export function newtonSchulz5Gram(g: tf.Tensor2D, steps: number): tf.Tensor2D {
  const [a, b, c] = NS5_COEFFS
  return tf.tidy(() => {
    let {x, tall} = normalizedWide(g)
    const aI = tf.mul(tf.eye(x.shape[0]), a) // (r, r)
    let Q: tf.Tensor2D | null = null // X_k = Q·x; null stands for I
    for (const len of steps > 0 ? gramPhases(steps) : []) {
      if (Q) x = tf.matMul(Q, x) // restart: X_k in full (r, c)
      Q = null
      let R: tf.Tensor2D = tf.matMul(x, tf.transpose(x)) // R_k = X_k·X_kᵀ (r, r)
      for (let k = 0; k < len; k++) {
        const P = tf.add(tf.add(tf.mul(R, b), tf.mul(tf.matMul(R, R), c)), aI) as tf.Tensor2D // (r, r)
        Q = Q ? (tf.matMul(P, Q) as tf.Tensor2D) : P
        if (k < len - 1) R = tf.matMul(P, tf.matMul(P, R) as tf.Tensor2D)
      }
    }
    const out: tf.Tensor2D = Q ? tf.matMul(Q, x) : x // (r, c)
    return tall ? tf.transpose(out) : out.clone()
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
