/**
 * Scoring a model as its objective asks: AR models by the official chunked evaluation (and a
 * sliding window when configured), diffusion models by their ELBO (an upper bound) or the
 * chain rule. The trainer, `golf eval`, `golf verify` and the counted code all call this, so a
 * run's numbers come from one code path whatever the objective.
 */
import type {GPT} from '../model/gpt.js'
import {isDiffusion, type DiffusionScore, type Objective} from '../objective/types.js'
import type {KVQuantConfig} from '../quant/kv-cache.js'
import {DEFAULT_EVAL} from '../recipe/recipe.js'
import type {ByteTable} from '../tokenizer/types.js'
import {evaluateChain} from './chain.js'
import {gptScorer} from './denoise.js'
import {type DiffusionEvalResult} from './denoise.js'
import {evaluateElbo} from './elbo.js'
import {evaluateChunked, evaluateSliding, type EvalResult} from './evaluate.js'
import {cachedScorer} from './kv-denoise.js'
import {evaluateSlidingCached} from './kv-sliding.js'

export type ScoreMode = 'chunked' | 'sliding' | 'elbo' | 'chain'
export type ScoreResult = (EvalResult & {bound: false}) | DiffusionEvalResult

export interface ScoreOptions {
  mode: ScoreMode
  seqLen: number
  batchSeqs: number
  /** sliding: the stride. */
  stride?: number | null
  /**
   * Score through a KV cache stored this way, in the modes `kvScoreModes` names (AR sliding:
   * src/eval/kv-sliding.ts; block diffusion elbo and chain: src/eval/kv-denoise.ts); absent or
   * null: the full forward.
   */
  kv?: KVQuantConfig | null
  /** elbo: denoising steps (0 = continuous time), draws per window, seed, estimator. */
  elboSteps?: number
  elboSamples?: number
  seed?: number
  estimator?: 'mc' | 'exact'
  /** chain: unmasking order. */
  order?: 'left-to-right' | 'random'
  onProgress?: (done: number, total: number) => void
}

/** A run's or an artifact's recorded evaluation settings (any of them may be absent in older ones). */
export interface RecordedEval {
  sliding_stride?: number | null
  batch_seqs?: number
  elbo_steps?: number
  elbo_samples?: number
  elbo_seed?: number
  /** Diffusion: the reported score (absent: elbo). */
  score?: DiffusionScore
}

/** The score options recorded settings ask for, each missing one at the recipe default. */
export function recordedScoreOptions(e: RecordedEval): {stride: number | null; batchSeqs: number; elboSteps: number; elboSamples: number; seed: number; score: DiffusionScore | null} {
  return {
    stride: e.sliding_stride ?? DEFAULT_EVAL.sliding_stride,
    batchSeqs: e.batch_seqs ?? DEFAULT_EVAL.batch_seqs,
    elboSteps: e.elbo_steps ?? DEFAULT_EVAL.elbo_steps,
    elboSamples: e.elbo_samples ?? DEFAULT_EVAL.elbo_samples,
    seed: e.elbo_seed ?? DEFAULT_EVAL.elbo_seed,
    score: e.score ?? null,
  }
}

/** The modes an objective can be scored with; the first is its default. */
export function scoreModes(objective: Objective): ScoreMode[] {
  return isDiffusion(objective) ? ['elbo', 'chain'] : ['chunked', 'sliding']
}

/**
 * The mode of a model's reported score: a diffusion model's recorded eval.score (absent or null:
 * its ELBO), an AR model's chunked evaluation (its sliding score is reported beside it).
 */
export function reportedMode(objective: Objective, score: DiffusionScore | null | undefined): ScoreMode {
  return isDiffusion(objective) ? (score ?? 'elbo') : 'chunked'
}

/**
 * The modes that can score through a (quantized) KV cache at sequence length seqLen; the first is
 * the default under one. AR: sliding (chunked windows are one full pass each). Block diffusion:
 * elbo and chain, over a cache of the clean blocks before each block. One block spanning the
 * sequence (MDLM) has no clean block to cache: none.
 */
export function kvScoreModes(objective: Objective, seqLen: number): ScoreMode[] {
  if (!isDiffusion(objective)) return ['sliding']
  return objective.blockSize(seqLen) < seqLen ? ['elbo', 'chain'] : []
}

export function scoreModel(model: GPT, objective: Objective, tokens: Uint16Array, table: ByteTable, opts: ScoreOptions): ScoreResult {
  const modes = scoreModes(objective)
  if (!modes.includes(opts.mode)) throw new Error(`mode ${opts.mode} does not apply to ${objective.config.kind} models (modes: ${modes.join(', ')})`)
  const base = {seqLen: opts.seqLen, batchSeqs: opts.batchSeqs, onProgress: opts.onProgress}
  if (opts.kv) {
    const kvModes = kvScoreModes(objective, opts.seqLen)
    if (kvModes.length === 0) throw new Error(`a quantized KV cache needs clean blocks to cache: ${objective.config.kind} denoises the whole sequence of ${opts.seqLen} as one block`)
    if (!kvModes.includes(opts.mode)) throw new Error(`a quantized KV cache applies to ${kvModes.join(' and ')} evaluation only, not ${opts.mode}`)
  }
  if (isDiffusion(objective)) {
    const cached = opts.kv ? cachedScorer(model, opts.kv) : null
    const scorer = cached ?? gptScorer(model)
    try {
      if (opts.mode === 'chain') return evaluateChain(scorer, objective, tokens, table, {...base, order: opts.order, seed: opts.seed})
      return evaluateElbo(scorer, objective, tokens, table, {...base, steps: opts.elboSteps ?? 128, samples: opts.elboSamples, seed: opts.seed, estimator: opts.estimator})
    } finally {
      cached?.dispose()
    }
  }
  if (opts.mode === 'sliding') {
    if (!opts.stride) throw new Error('sliding evaluation needs a stride')
    if (opts.kv) return {...evaluateSlidingCached(model, tokens, table, {...base, stride: opts.stride, kv: opts.kv}), bound: false}
    return {...evaluateSliding(model, tokens, table, {...base, stride: opts.stride}), bound: false}
  }
  return {...evaluateChunked(model, tokens, table, base), bound: false}
}

/** `128-step ELBO`, `continuous-time ELBO`, or `ELBO` when the step count is unknown. */
export function elboName(steps: number | null): string {
  return steps === null ? 'ELBO' : `${steps === 0 ? 'continuous-time' : `${steps}-step`} ELBO`
}

/** One line for logs: `val_bpb 1.2345` or `val_bpb ≤ 1.2345 ± 0.0012 (ELBO, T=128)`. */
export function describeScore(r: ScoreResult): string {
  if (r.mode === 'elbo') {
    const se = r.val_bpb_se > 0 ? ` ± ${r.val_bpb_se.toFixed(4)}` : ''
    return `val_bpb ≤ ${r.val_bpb.toFixed(4)}${se} (upper bound: ${elboName(r.elbo_steps)}, ${r.estimator})`
  }
  if (r.mode === 'chain') return `val_bpb ${r.val_bpb.toFixed(4)} (chain rule, block ${r.block_size})`
  return `val_bpb ${r.val_bpb.toFixed(4)}${r.mode === 'sliding' ? ` (sliding, stride ${r.stride})` : ''}`
}
