/**
 * THE activation quantizers: what a block's matrix products see of their inputs, per token,
 * with straight-through gradients. The weight quantizer (ternary.ts) decides what a model
 * stores; these decide what its forward pass computes with, in training, evaluation and
 * sampling alike (one function, so a model is scored exactly as it trained).
 *
 * Four sites per block (the inputs of its matrix products):
 *   attn_in    rmsNorm(x) before c_q, c_k, c_v
 *   attn_out   the attention output (all heads) before attn.proj
 *   ffn_in     rmsNorm(x) before mlp.fc
 *   ffn_down   relu(fc(·))² before mlp.proj
 *
 * Each site is float or, per token (one row of the (N, width) activation), in this order:
 * 1. optional top-K sparsification: keep the K = max(1, round(keep · width)) entries of largest
 *    |x| (every entry tied with the K-th largest is kept too), zero the rest;
 * 2. 8-bit absmax (BitNet b1.58, Ma et al. 2024, arXiv 2402.17764, eq. 4; the reference
 *    `activation_quant`):  s = 127 / max(max|x|, 1e-5),  x̂ = clip(round(x·s), −128, 127) / s;
 *    or 4-bit absmean (BitNet a4.8, Wang, Ma & Wei 2024, arXiv 2411.04965, §2):
 *    s = √7 / max(mean|x|, 1e-5),  x̂ = clip(round(x·s), −8, 7) / s.
 * round is half-to-even (tf.round); every step is one float32 operation, so the host reference
 * `quantizeActivationRows` gives the same bits as the device.
 *
 * Gradients: straight through the rounding and clipping (∂x̂/∂x = 1), and through the kept
 * entries only of a sparsification (∂x̂/∂x = mask, the mask held fixed): the gradient of the
 * surrogate mask ⊙ x. The a4.8 recipe trains with the same estimator.
 *
 * Presets: `a8` (8-bit everywhere, b1.58's W1.58A8), `a4` (4-bit absmean everywhere, the known
 * hard case), and `a4.8`, BitNet a4.8's placement: 4-bit on the attention and FFN inputs (near
 * Gaussian after the norm), and on the two intermediate states, whose outliers 4 bits cannot
 * hold, 8 bits after top-50% sparsification (attention output) or after the sparsity relu²
 * already gives (FFN down input).
 */
import * as tf from '@tensorflow/tfjs-core'

import {InputError} from '../errors.js'

export const ACTIVATION_SITES = ['attn_in', 'attn_out', 'ffn_in', 'ffn_down'] as const
export type ActivationSite = (typeof ACTIVATION_SITES)[number]

/** One site: bits null = float (no rounding); keep < 1 = top-K sparsification first. */
export interface SiteQuant {
  bits: 8 | 4 | null
  keep: number
}

export type ActivationSites = Record<ActivationSite, SiteQuant>

const FLOAT_SITE: SiteQuant = {bits: null, keep: 1}
const INT8: SiteQuant = {bits: 8, keep: 1}
const INT4: SiteQuant = {bits: 4, keep: 1}

const all = (s: SiteQuant): ActivationSites => ({attn_in: s, attn_out: s, ffn_in: s, ffn_down: s})

export const ACTIVATION_PRESETS = {
  float: all(FLOAT_SITE),
  a8: all(INT8),
  a4: all(INT4),
  'a4.8': {attn_in: INT4, attn_out: {bits: 8, keep: 0.5}, ffn_in: INT4, ffn_down: INT8},
} as const satisfies Record<string, ActivationSites>

export type ActivationPreset = keyof typeof ACTIVATION_PRESETS

export const FLOAT_ACTIVATIONS: ActivationSites = ACTIVATION_PRESETS.float

/** Smallest row statistic divided by (the reference's clamp_(min=1e-5)). */
export const ACTIVATION_EPS = Math.fround(1e-5)
const SQRT7 = Math.fround(Math.sqrt(7))

function levels(bits: 8 | 4): {num: number; lo: number; hi: number; absmean: boolean} {
  return bits === 8 ? {num: 127, lo: -128, hi: 127, absmean: false} : {num: SQRT7, lo: -8, hi: 7, absmean: true}
}

export function isFloatSite(s: SiteQuant): boolean {
  return s.bits === null && s.keep >= 1
}

export function allFloat(a: ActivationSites): boolean {
  return ACTIVATION_SITES.every((k) => isFloatSite(a[k]))
}

/** Kept entries per row of `width` under keep fraction `keep`. */
export function keptPerRow(keep: number, width: number): number {
  return Math.min(width, Math.max(1, Math.round(keep * width)))
}

// --- Device ----------------------------------------------------------------------------------

/** 0/1 mask (N, W) of the entries of each row at or above its K-th largest |x|. */
function topKMask(x: tf.Tensor2D, keep: number): tf.Tensor2D {
  const W = x.shape[1]
  const K = keptPerRow(keep, W)
  const absX = tf.abs(x)
  const thr = tf.slice(tf.topk(absX, K, true).values, [0, K - 1], [-1, 1]) // (N, 1): the K-th largest
  // kept where thr − |x| ≤ 0: 1 − step(thr − |x|) (step(0) = 0), arithmetic rather than a comparison
  return tf.sub(tf.scalar(1, 'float32'), tf.step(tf.sub(thr, absX))) as tf.Tensor2D
}

/** The forward value of a site (no gradient bookkeeping); mask = the kept entries, or null. */
function quantizeForward(x: tf.Tensor2D, site: SiteQuant): {value: tf.Tensor2D; mask: tf.Tensor2D | null} {
  const mask = site.keep < 1 ? topKMask(x, site.keep) : null
  const xs = mask ? (tf.mul(x, mask) as tf.Tensor2D) : x
  if (site.bits === null) return {value: xs, mask}
  const {num, lo, hi, absmean} = levels(site.bits)
  const absX = tf.abs(xs)
  const stat = absmean ? tf.mean(absX, 1, true) : tf.max(absX, 1, true) // (N, 1)
  const s = tf.div(tf.scalar(num, 'float32'), tf.maximum(stat, tf.scalar(ACTIVATION_EPS, 'float32')))
  const value = tf.div(tf.clipByValue(tf.round(tf.mul(xs, s)), lo, hi), s) as tf.Tensor2D
  return {value, mask}
}

/**
 * A site's activations (N, W) as the matrix product sees them, with straight-through gradients
 * (see the file header). A float site returns x itself.
 */
export function quantizeActivations(x: tf.Tensor2D, site: SiteQuant): tf.Tensor2D {
  if (isFloatSite(site)) return x
  const op = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const save = args[1] as tf.GradSaveFunc
    const {value, mask} = quantizeForward(args[0] as tf.Tensor2D, site)
    if (mask) save([mask])
    // dy.clone(), never dy itself: the engine disposes the gradients it hands out
    return {value, gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => (mask ? tf.mul(dy, saved[0]) : dy.clone())}
  })
  return op(x) as tf.Tensor2D
}

// --- Host reference (tests, and anything that must not depend on tfjs) ----------------------

function roundHalfEven(v: number): number {
  const r = Math.round(v)
  return Math.abs(v - Math.trunc(v)) === 0.5 && r % 2 !== 0 ? r - 1 : r
}

/**
 * The same quantizer on the host, in float32 arithmetic step by step: rows of `width` values
 * of x, returned as a new array. Bit-identical to `quantizeActivations` on IEEE float32
 * backends (cpu, wasm) except that a row's mean is summed in a fixed order here.
 */
export function quantizeActivationRows(x: Float32Array, width: number, site: SiteQuant): Float32Array {
  const out = Float32Array.from(x)
  if (isFloatSite(site)) return out
  for (let r = 0; r < x.length / width; r++) {
    const row = out.subarray(r * width, (r + 1) * width)
    if (site.keep < 1) {
      const K = keptPerRow(site.keep, width)
      const thr = Array.from(row, Math.abs).sort((a, b) => b - a)[K - 1]
      for (let i = 0; i < width; i++) if (Math.abs(row[i]) < thr) row[i] *= 0 // x · mask: −0 for a dropped negative, as on device
    }
    if (site.bits === null) continue
    const {num, lo, hi, absmean} = levels(site.bits)
    let stat = 0
    for (let i = 0; i < width; i++) stat = absmean ? Math.fround(stat + Math.abs(row[i])) : Math.max(stat, Math.abs(row[i]))
    if (absmean) stat = Math.fround(stat / width)
    const s = Math.fround(num / Math.max(stat, ACTIVATION_EPS))
    for (let i = 0; i < width; i++) row[i] = Math.fround(Math.min(hi, Math.max(lo, roundHalfEven(Math.fround(row[i] * s)))) / s)
  }
  return out
}

// --- Settings as written in recipes and manifests --------------------------------------------

/**
 * One site as written: `float`, `int8`, `int4`, or {bits: 8 | 4 | null, keep: (0, 1]}.
 * `where` names it in errors.
 */
export function parseSite(v: unknown, where: string): SiteQuant {
  if (v === 'float') return FLOAT_SITE
  if (v === 'int8' || v === 8) return INT8
  if (v === 'int4' || v === 4) return INT4
  if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
    const o = v as Record<string, unknown>
    for (const k of Object.keys(o)) if (k !== 'bits' && k !== 'keep') throw new InputError(`${where}: unknown key "${k}" (known: bits, keep)`)
    const bits = o.bits ?? null
    if (bits !== null && bits !== 8 && bits !== 4) throw new InputError(`${where}.bits must be 8, 4 or null (float), got ${JSON.stringify(o.bits)}`)
    const keep = o.keep ?? 1
    if (typeof keep !== 'number' || !(keep > 0 && keep <= 1)) throw new InputError(`${where}.keep must be a fraction in (0, 1], got ${JSON.stringify(o.keep)}`)
    return {bits, keep}
  }
  throw new InputError(`${where} must be float, int8, int4 or {bits, keep}, got ${JSON.stringify(v)}`)
}

/** Every site of a block: a preset name, or a map of sites (those not named stay float). */
export function parseSites(v: unknown, where: string): ActivationSites {
  if (typeof v === 'string') {
    if (v in ACTIVATION_PRESETS) return ACTIVATION_PRESETS[v as ActivationPreset]
    throw new InputError(`${where} must be a preset (${Object.keys(ACTIVATION_PRESETS).join(', ')}) or a map of sites (${ACTIVATION_SITES.join(', ')}), got ${JSON.stringify(v)}`)
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new InputError(`${where} must be a preset name or a map of sites (${ACTIVATION_SITES.join(', ')}), got ${JSON.stringify(v)}`)
  const o = v as Record<string, unknown>
  for (const k of Object.keys(o)) if (!(ACTIVATION_SITES as readonly string[]).includes(k)) throw new InputError(`${where}: unknown site "${k}" (known: ${ACTIVATION_SITES.join(', ')})`)
  const out = {...FLOAT_ACTIVATIONS}
  for (const k of ACTIVATION_SITES) if (o[k] !== undefined) out[k] = parseSite(o[k], `${where}.${k}`)
  return out
}

function siteName(s: SiteQuant): string {
  const q = s.bits === null ? 'float' : `int${s.bits}`
  return s.keep < 1 ? `top${Math.round(s.keep * 100)}%+${q}` : q
}

/** Short name: a preset's name, else `attn_in:int4 attn_out:top50%+int8 …`. */
export function describeSites(a: ActivationSites): string {
  for (const [name, p] of Object.entries(ACTIVATION_PRESETS)) if (ACTIVATION_SITES.every((k) => a[k].bits === p[k].bits && a[k].keep === p[k].keep)) return name
  return ACTIVATION_SITES.map((k) => `${k}:${siteName(a[k])}`).join(' ')
}

/**
 * A plan of stages in words: `float` (no stages), else `a8 from the start, then a4.8 from 70%`
 * (stages are {from | from_step, sites}, as recipes resolve them).
 */
export function describeActivationStages(stages: ReadonlyArray<{from: number | null; from_step: number | null; sites: ActivationSites}>): string {
  if (stages.length === 0) return 'float'
  const start = (s: {from: number | null; from_step: number | null}) => (s.from_step !== null ? `step ${s.from_step}` : s.from === 0 ? 'the start' : `${Number((s.from! * 100).toFixed(2))}%`)
  return stages.map((s) => `${describeSites(s.sites)} from ${start(s)}`).join(', then ')
}
