/**
 * The optimizer split of the official Parameter Golf `train_gpt.py`, behind one `Optimizer`:
 *   matrix    → Muon / NorMuon (or AdamW) at matrix_lr, weight decay weight_decay
 *   embedding → AdamW at embed_lr (lm_head.weight at head_lr when set), weight decay weight_decay
 *   scalar    → AdamW at scalar_lr, never decayed (gains and mixes must not drift toward 0)
 * Sub-optimizer state keys are disjoint (parameter names are unique; counters are labelled
 * '@matrix', '@embedding', '@scalar'), so the composite's state is their union.
 */
import type * as tf from '@tensorflow/tfjs-core'

import {InputError} from '../errors.js'
import {AdamW} from './adamw.js'
import {Muon, type MuonOptions} from './muon.js'
import {checkStateKeys} from './slots.js'
import type {Optimizer, ParamGroup, ParamRef, StepOptions} from './types.js'

export type MatrixOptimizer = 'muon' | 'normuon' | 'adamw'

/** snake_case keys = recipe keys. */
export interface OptimConfig {
  matrix_optimizer: MatrixOptimizer
  matrix_lr: number
  scalar_lr: number
  embed_lr: number
  /** Untied output head (`lm_head.weight`) lr; null/absent = embed_lr. */
  head_lr?: number | null
  beta1: number
  beta2: number
  adam_eps: number
  weight_decay: number
  muon_momentum: number
  muon_momentum_warmup_start: number
  muon_momentum_warmup_steps: number
  muon_ns_steps: number
  normuon_beta2: number
  /** Clip the global gradient norm to this (see `clipGradNorm`); null = no clipping. */
  grad_clip: number | null
}

export const DEFAULT_OPTIM_CONFIG: OptimConfig = {
  matrix_optimizer: 'muon', // official baseline's choice for block matrices
  matrix_lr: 0.04, // official MATRIX_LR; ternary records also train well at ≈0.04
  scalar_lr: 0.04, // official SCALAR_LR
  embed_lr: 0.05, // official TIED_EMBED_LR (embeddings are tied by default)
  head_lr: null, // official HEAD_LR is 0.008 when untied; null = follow embed_lr
  beta1: 0.9, // official BETA1
  beta2: 0.95, // official BETA2: shorter memory than 0.999 suits short runs
  adam_eps: 1e-8, // official ADAM_EPS
  weight_decay: 0, // official uses none; ternary entries report decay hurts
  muon_momentum: 0.95, // official MUON_MOMENTUM
  muon_momentum_warmup_start: 0.85, // official: lower momentum while gradients are large and noisy
  muon_momentum_warmup_steps: 500, // official ramp length
  muon_ns_steps: 5, // official MUON_BACKEND_STEPS: NS5 converges enough in 5
  normuon_beta2: 0.95, // NorMuon reference default
  grad_clip: null, // official GRAD_CLIP_NORM = 0 (off)
}

/** NorMuon's ε (reference value; not a recipe key). */
export const NORMUON_EPS = 1e-10

const LABELS: Record<ParamGroup, string> = {matrix: 'matrix', embedding: 'embedding', scalar: 'scalar'}

class CompositeOptimizer implements Optimizer {
  private readonly route = new Map<string, AdamW | Muon>()
  private count = 0

  constructor(private readonly parts: Array<AdamW | Muon>) {
    for (const part of parts) {
      for (const name of part.paramNames()) {
        if (this.route.has(name)) throw new Error(`optimizer: parameter '${name}' listed twice`)
        this.route.set(name, part)
      }
    }
  }

  get stepCount(): number {
    return this.count
  }

  step(grads: Map<string, tf.Tensor>, lrScale: number, opts?: StepOptions): void {
    const split = new Map<AdamW | Muon, Map<string, tf.Tensor>>(this.parts.map((p) => [p, new Map()]))
    for (const [name, g] of grads) {
      const part = this.route.get(name)
      if (!part) throw new Error(`optimizer: gradient for unknown parameter '${name}'`)
      split.get(part)!.set(name, g)
    }
    for (const part of this.parts) part.step(split.get(part)!, lrScale, opts)
    this.count++
  }

  state(): Map<string, Float32Array> {
    const out = new Map<string, Float32Array>()
    for (const part of this.parts) for (const [k, v] of part.state()) out.set(k, v)
    out.set('@optimizer/step_count', Float32Array.of(this.count))
    return out
  }

  loadState(s: Map<string, Float32Array>): void {
    const keys = this.parts.flatMap((p) => p.stateKeys())
    checkStateKeys(s, [...keys, '@optimizer/step_count'], true)
    const n = s.get('@optimizer/step_count')!
    if (n.length !== 1 || !Number.isInteger(n[0]) || n[0] < 0) {
      throw new InputError(`optimizer state '@optimizer/step_count' must be one non-negative integer`)
    }
    for (const part of this.parts) part.loadOwnState(s)
    this.count = n[0]
  }

  dispose(): void {
    for (const part of this.parts) part.dispose()
  }
}

/**
 * Builds the optimizer for a model's parameters: routes each group as the module comment says.
 * Empty groups get no sub-optimizer.
 */
export function buildOptimizers(params: ParamRef[], cfg: OptimConfig, opts: {orthogonalize?: MuonOptions['orthogonalize']} = {}): Optimizer {
  const by = (g: ParamGroup) => params.filter((p) => p.group === g)
  const adam = (ps: ParamRef[], lr: number, wd: number, label: string) =>
    new AdamW(ps, {lr, beta1: cfg.beta1, beta2: cfg.beta2, eps: cfg.adam_eps, weightDecay: wd, label})
  const parts: Array<AdamW | Muon> = []

  const matrix = by('matrix')
  if (matrix.length > 0) {
    if (cfg.matrix_optimizer === 'adamw') {
      parts.push(adam(matrix, cfg.matrix_lr, cfg.weight_decay, LABELS.matrix))
    } else {
      parts.push(
        new Muon(matrix, {
          lr: cfg.matrix_lr,
          momentum: cfg.muon_momentum,
          nesterov: true,
          nsSteps: cfg.muon_ns_steps,
          weightDecay: cfg.weight_decay,
          normuon: cfg.matrix_optimizer === 'normuon' ? {beta2: cfg.normuon_beta2, eps: NORMUON_EPS} : null,
          label: LABELS.matrix,
          orthogonalize: opts.orthogonalize, // Newton–Schulz across threads when given
        }),
      )
    }
  }
  const embedding = by('embedding')
  const head = cfg.head_lr == null ? [] : embedding.filter((p) => p.name === 'lm_head.weight')
  const embed = embedding.filter((p) => !head.includes(p))
  if (embed.length > 0) parts.push(adam(embed, cfg.embed_lr, cfg.weight_decay, LABELS.embedding))
  if (head.length > 0) parts.push(adam(head, cfg.head_lr!, cfg.weight_decay, 'head'))
  const scalar = by('scalar')
  if (scalar.length > 0) parts.push(adam(scalar, cfg.scalar_lr, 0, LABELS.scalar))
  return new CompositeOptimizer(parts)
}

/**
 * Recipe keys → OptimConfig: defaults overlaid with `raw`; an unknown key or a value of the
 * wrong kind is an InputError naming `${where}.<key>`.
 */
export function resolveOptimConfig(raw: Record<string, unknown> | null | undefined, where = 'optim'): OptimConfig {
  const out: Record<string, unknown> = {...DEFAULT_OPTIM_CONFIG}
  for (const [key, value] of Object.entries(raw ?? {})) {
    if (!(key in DEFAULT_OPTIM_CONFIG)) {
      throw new InputError(`unknown config key ${where}.${key} (known: ${Object.keys(DEFAULT_OPTIM_CONFIG).join(', ')})`)
    }
    out[key] = value
  }
  const cfg = out as unknown as OptimConfig
  const fail = (key: string, want: string): never => {
    throw new InputError(`${where}.${key} must be ${want}, got ${JSON.stringify(out[key])}`)
  }
  if (!['muon', 'normuon', 'adamw'].includes(cfg.matrix_optimizer)) fail('matrix_optimizer', "'muon', 'normuon' or 'adamw'")
  const num = (key: keyof OptimConfig, ok: (v: number) => boolean, want: string) => {
    const v = out[key]
    if (typeof v !== 'number' || !Number.isFinite(v) || !ok(v)) fail(key, want)
  }
  const nonNeg = (v: number) => v >= 0
  const unit = (v: number) => v >= 0 && v < 1
  num('matrix_lr', nonNeg, 'a number ≥ 0')
  num('scalar_lr', nonNeg, 'a number ≥ 0')
  num('embed_lr', nonNeg, 'a number ≥ 0')
  if (cfg.head_lr != null) num('head_lr', nonNeg, 'a number ≥ 0 or null')
  num('beta1', unit, 'in [0, 1)')
  num('beta2', unit, 'in [0, 1)')
  num('adam_eps', (v) => v > 0, 'a number > 0')
  num('weight_decay', nonNeg, 'a number ≥ 0')
  num('muon_momentum', unit, 'in [0, 1)')
  num('muon_momentum_warmup_start', unit, 'in [0, 1)')
  num('muon_momentum_warmup_steps', (v) => Number.isInteger(v) && v >= 0, 'an integer ≥ 0')
  num('muon_ns_steps', (v) => Number.isInteger(v) && v >= 1, 'an integer ≥ 1')
  num('normuon_beta2', unit, 'in [0, 1)')
  if (cfg.grad_clip !== null) num('grad_clip', (v) => v > 0, 'a number > 0 or null')
  return cfg
}
