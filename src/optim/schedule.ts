/**
 * Training schedules: learning-rate multiplier, Muon momentum warmup, sequence-length warmup,
 * the stop rule, and global gradient-norm clipping. Pure arithmetic except `clipGradNorm`.
 *
 * Learning rate (`lrScale`) = warmup · min(step rule, wall-clock rule):
 *   warmup      (step + 1) / warmup_steps while step < warmup_steps, else 1. NOTE: the official
 *               `train_gpt.py` uses WARMUP_STEPS only to prime torch.compile and then restores the
 *               initial weights; it has no lr warmup. warmup_steps: 0 reproduces it.
 *   step rule   official `lr_mul` without a cap: over the last W steps before max_steps the
 *               multiplier falls linearly, (max_steps − step) / W; 1 before, 0 from max_steps on.
 *   wall rule   official `lr_mul` with a cap (max_wallclock_seconds): the multiplier is
 *               remaining_ms / warmdown_ms once remaining_ms ≤ warmdown_ms, where
 *               remaining_ms = max(cap_ms − elapsed_ms, 0) and warmdown_ms = W · (elapsed_ms /
 *               max(step, 1)) — W steps at the average step time so far.
 * W is `warmdown_iters`, or `warmdown_frac · max_steps` (then the wall rule uses
 * warmdown_ms = warmdown_frac · cap_ms). The official script applies only the wall rule when a
 * cap is set; taking the minimum of both is the same whenever the cap binds first, and still warms
 * down when max_steps comes first.
 */
import * as tf from '@tensorflow/tfjs-core'

import {InputError} from '../errors.js'
import type {OptimConfig} from './composite.js'

/** snake_case keys = recipe keys. */
export interface ScheduleConfig {
  /** Linear lr warmup length in steps; 0 = none. */
  warmup_steps: number
  /** Linear lr warmdown length in steps (official WARMDOWN_ITERS); set this or warmdown_frac. */
  warmdown_iters?: number
  /** Warmdown as a fraction of max_steps (and of the wall-clock cap when one is set). */
  warmdown_frac?: number
  /** Hard step limit (official ITERATIONS). */
  max_steps: number
  /** Wall-clock cap on training time in seconds; null/0/absent = none. */
  max_wallclock_seconds?: number | null
  /** First sequence length of the sequence-length warmup; absent = no seq warmup. */
  seq_len_start?: number | null
  /** Steps over which the sequence length grows to its final value. */
  seq_len_warmup_steps?: number | null
}

/** The learning-rate multiplier for `step` (0-based, the step about to run). See module doc. */
export function lrScale(step: number, elapsedMs: number, cfg: ScheduleConfig): number {
  const warmup = cfg.warmup_steps > 0 && step < cfg.warmup_steps ? (step + 1) / cfg.warmup_steps : 1
  if (cfg.warmdown_iters != null && cfg.warmdown_frac != null) {
    throw new InputError('schedule: set warmdown_iters or warmdown_frac, not both')
  }
  const W = cfg.warmdown_iters ?? (cfg.warmdown_frac != null ? cfg.warmdown_frac * cfg.max_steps : 0)
  if (!(W > 0)) return step >= cfg.max_steps ? 0 : warmup

  let byStep = 1
  if (step >= cfg.max_steps) byStep = 0
  else if (step >= Math.max(cfg.max_steps - W, 0)) byStep = Math.max((cfg.max_steps - step) / Math.max(W, 1), 0)

  let byClock = 1
  const capMs = wallclockCapMs(cfg)
  if (capMs !== null) {
    const warmdownMs = cfg.warmdown_iters != null ? cfg.warmdown_iters * (elapsedMs / Math.max(step, 1)) : cfg.warmdown_frac! * capMs
    const remainingMs = Math.max(capMs - elapsedMs, 0)
    if (remainingMs <= warmdownMs) byClock = remainingMs / Math.max(warmdownMs, 1e-9)
  }
  return warmup * Math.min(byStep, byClock)
}

/** Official Muon momentum warmup: linear from warmup_start to muon_momentum over warmup_steps. */
export function muonMomentum(step: number, cfg: OptimConfig): number {
  const frac = cfg.muon_momentum_warmup_steps > 0 ? Math.min(step / cfg.muon_momentum_warmup_steps, 1) : 1
  return (1 - frac) * cfg.muon_momentum_warmup_start + frac * cfg.muon_momentum
}

/**
 * Sequence length at `step` under a geometric warmup from seq_len_start to `finalSeqLen` over
 * seq_len_warmup_steps: the target start · (final/start)^(step/N), rounded DOWN to a divisor
 * of finalSeqLen (at least seq_len_start). Divisors keep batches exact: a batch of B sequences of
 * the final length is always B·final/len whole sequences of the shorter length. With
 * power-of-two lengths the stairs are powers of two (64 → 128 → 256 → ...).
 * Endpoints: step 0 → seq_len_start; step ≥ N → finalSeqLen. No warmup configured → finalSeqLen.
 */
export function seqLenAt(step: number, finalSeqLen: number, cfg: ScheduleConfig): number {
  const start = cfg.seq_len_start
  const N = cfg.seq_len_warmup_steps ?? 0
  if (start == null || N <= 0 || step >= N) return finalSeqLen
  if (!Number.isInteger(start) || start <= 0 || start > finalSeqLen || finalSeqLen % start !== 0) {
    throw new InputError(`seq_len_start = ${start} must be a positive divisor of the final sequence length ${finalSeqLen}`)
  }
  const target = start * Math.pow(finalSeqLen / start, Math.max(step, 0) / N)
  let best = start
  for (const d of divisors(finalSeqLen)) if (d > best && d <= target * (1 + 1e-9)) best = d
  return best
}

/** True once max_steps steps have run or the wall-clock cap is reached. */
export function shouldStop(step: number, elapsedMs: number, cfg: ScheduleConfig): boolean {
  if (step >= cfg.max_steps) return true
  const capMs = wallclockCapMs(cfg)
  return capMs !== null && elapsedMs >= capMs
}

/**
 * Scales all gradients by min(1, maxNorm / (‖g‖ + 1e-6)) where ‖g‖ is the global L2 norm over
 * every tensor (as `torch.nn.utils.clip_grad_norm_`). Returns NEW tensors (the caller owns and
 * disposes both the inputs and the outputs) and the pre-clip norm. Reads one scalar back from
 * the device (the norm) — the only read-back in the optimizer step path.
 */
export function clipGradNorm(grads: Map<string, tf.Tensor>, maxNorm: number): {grads: Map<string, tf.Tensor>; norm: number} {
  if (!(maxNorm > 0) || !Number.isFinite(maxNorm)) throw new Error(`clipGradNorm: maxNorm = ${maxNorm} must be a positive number`)
  const names = [...grads.keys()]
  if (names.length === 0) return {grads: new Map(), norm: 0}
  const [normT, ...clipped] = tf.tidy(() => {
    const sq = names.map((n) => tf.sum(tf.square(grads.get(n)!)))
    const total = tf.sqrt(tf.addN(sq))
    const coef = tf.minimum(tf.div(maxNorm, tf.add(total, 1e-6)), 1)
    return [total, ...names.map((n) => tf.mul(grads.get(n)!, coef))]
  })
  const norm = normT.dataSync()[0]
  normT.dispose()
  return {grads: new Map(names.map((n, i) => [n, clipped[i]])), norm}
}

function wallclockCapMs(cfg: ScheduleConfig): number | null {
  const s = cfg.max_wallclock_seconds
  return s != null && s > 0 ? 1000 * s : null
}

function divisors(n: number): number[] {
  const out: number[] = []
  for (let d = 1; d * d <= n; d++) {
    if (n % d === 0) {
      out.push(d)
      if (d * d !== n) out.push(n / d)
    }
  }
  return out
}
