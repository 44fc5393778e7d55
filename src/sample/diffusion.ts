/**
 * Sampling from masked diffusion (MDLM) and block diffusion (BD3-LM) models: one algorithm,
 * parameterized by the objective's block size (MDLM: one block = the whole sequence).
 *
 * Blocks are generated left to right, as BD3-LM's `semi_ar` sampler (kuleshov-group/bd3lms).
 * A block starts with its unknown positions [MASK] (the prompt's positions of a partial first
 * block start visible) and is denoised by `steps` steps of MDLM's ddpm_cache update
 * (kuleshov-group/mdlm, `diffusion.py: _ddpm_caching_update`): with α_t = 1 − t on the grid
 * t_k = k/steps, the step from t = k/steps to s = (k−1)/steps unmasks each still-masked
 * position with probability (α_s − α_t)/(1 − α_t) = (t − s)/t = 1/k, to an id drawn from
 * p_θ(x_0 | x_t) (SUBS: the [MASK] logit is −∞, visible ids are kept and never re-masked). The
 * last step (k = 1, s = 0) fills every remaining mask. A step that changed nothing leaves x_t as
 * it was, so the next step reuses the same probabilities without calling the network (the
 * "cache" of ddpm_cache); steps left once a block is full are not run.
 *
 * The model view is training's: the noisy block attends to itself (bidirectionally) and to the
 * clean blocks before it, held in a KV cache (GPT.forwardCached); a finished block is run once
 * more, clean, and committed to the cache, so the keys and values of clean blocks are computed
 * once. RoPE positions of a block are its offset in the window.
 *
 * Context: the noisy block and the clean blocks before it must fit in seqLen, i.e. at most
 * seqLen/bs − 1 clean blocks. When the sequence grows past that, only the last whole blocks that
 * fit are kept as context, re-prefilled at positions 0.. in one block-causal pass; from then on
 * every block pays that pass. MDLM (bs = seqLen) has no room for context, so its one sequence
 * must hold the prompt and every requested token.
 *
 * `opts.kv` quantizes the cache of clean blocks (KIVI, src/quant/kv-cache.ts); MDLM, with no
 * clean blocks to cache, refuses it (src/sample/index.ts).
 */
import * as tf from '@tensorflow/tfjs-core'

import {InputError} from '../errors.js'
import type {GPT} from '../model/gpt.js'
import type {CachedWithin} from '../model/kv-cache.js'
import {mulberry32} from '../util/random.js'
import {pickToken} from './pick.js'
import type {SampleOptions, SampleOutput} from './types.js'

/** What the sampler needs of a diffusion objective at the sampled sequence length. */
export interface DiffusionSampling {
  /** Tokens per denoising block (MDLM: seqLen). */
  blockSize: number
  /** The [MASK] id (never emitted). */
  maskId: number
  /**
   * 1 when the objective is shifted: a block of targets is read from the input positions before
   * them (the clean token before the block, then its targets but the last), so the first token
   * of the context (BOS) is an input only. 0: input position = target position.
   */
  contextTokens: 0 | 1
}

/** Continue `context` (BOS + prompt) by `opts.tokens` ids, `opts.steps` denoising steps per block. */
export function diffusionSample(model: GPT, d: DiffusionSampling, context: number[], opts: SampleOptions & {steps: number}): SampleOutput {
  const {blockSize: bs, maskId, contextTokens: c} = d
  const {seqLen, steps} = opts
  const V = model.cfg.vocab_size
  if (!Number.isInteger(steps) || steps < 1) throw new Error(`diffusion sampling: steps must be a positive integer, got ${steps}`)
  if (seqLen % bs !== 0) throw new Error(`diffusion sampling: block size ${bs} must divide the sequence length ${seqLen}`)
  if (context.length === 0) throw new Error('diffusion sampling: the context needs at least one token (BOS)')
  const contextBlocks = seqLen / bs - 1 // clean blocks that fit beside the block being denoised
  if (contextBlocks === 0) {
    const room = seqLen - (context.length - c) // target slots of the one sequence not held by the prompt
    if (room <= 0) throw new InputError(`--prompt: its ${context.length} ids (BOS included) fill the whole sequence of ${seqLen} this model denoises; shorten it`)
    if (opts.tokens > room) throw new InputError(`--tokens: at most ${room} fit after the prompt (${context.length} ids with BOS) in the one sequence of ${seqLen} this model denoises, got ${opts.tokens}`)
  }

  const rand = mulberry32(opts.seed)
  const pick = {temperature: opts.temperature, topK: opts.topK, banned: [...(opts.banned ?? []), maskId]}
  let networkCalls = 0
  let skippedCalls = 0
  const seq = [...context] // every clean token so far
  const out: number[] = []
  const cache = model.newKVCache({quant: opts.kv})

  // one forward pass of `tokens` over the cache: committed (keys and values only, no logits), or its logits (Tn·V)
  const run = (tokens: ArrayLike<number>, within: CachedWithin, commit: boolean): Float32Array | null => {
    networkCalls++
    const input = () => tf.tensor2d(Int32Array.from(tokens), [1, tokens.length], 'int32')
    if (commit) {
      tf.tidy(() => model.commitCached(input(), cache, within)) // keys and values only
      return null
    }
    const logits = tf.tidy(() => model.forwardCached(input(), cache, {within, commit: false, suppress: maskId})) // (1, Tn, V)
    const rows = logits.dataSync() as Float32Array
    logits.dispose()
    return rows
  }

  // the network input of the block of targets starting at input position `start` (shifted: the
  // clean token there, then the block's targets but the last)
  const inputsOf = (block: Int32Array, start: number): Int32Array => {
    if (c === 0) return block
    const x = new Int32Array(bs)
    x[0] = seq[start]
    x.set(block.subarray(0, bs - 1), 1)
    return x
  }

  // ddpm_cache steps on `block` (bs targets), in place; targets < known are visible from the start
  const denoise = (block: Int32Array, known: number, start: number) => {
    let masked = bs - known
    let probs: Float32Array | null = null // the network's output for the current block, while it holds
    for (let k = steps; k >= 1 && masked > 0; k--) {
      if (probs === null) probs = run(inputsOf(block, start), 'bidirectional', false)!
      else skippedCalls++
      let changed = false
      for (let i = known; i < bs; i++) {
        if (block[i] !== maskId || rand() >= 1 / k) continue
        block[i] = pickToken(probs.subarray(i * V, (i + 1) * V), pick, rand)
        masked--
        changed = true
      }
      if (changed) probs = null
    }
  }

  // blocks are runs of bs input positions; block [start, start + bs) predicts the targets
  // seq[start + c .. start + c + bs)
  let blockStart = Math.floor((seq.length - c) / bs) * bs // the first block not made only of prompt
  let cacheStart = Math.max(0, blockStart - contextBlocks * bs) // the cache holds [cacheStart, blockStart)
  const prefill = () => {
    if (blockStart > cacheStart) run(seq.slice(cacheStart, blockStart), {blockCausal: bs}, true)
  }
  try {
    prefill()
    for (;;) {
      const block = new Int32Array(bs).fill(maskId)
      const known = seq.length - c - blockStart
      for (let i = 0; i < known; i++) block[i] = seq[blockStart + c + i]
      denoise(block, known, blockStart)
      for (let i = known; i < bs; i++) {
        seq.push(block[i])
        if (out.length < opts.tokens) out.push(block[i])
      }
      if (out.length >= opts.tokens) break
      blockStart += bs
      if (blockStart - cacheStart <= contextBlocks * bs) {
        run(seq.slice(blockStart - bs, blockStart), 'bidirectional', true) // the finished block's inputs, clean, join the context
      } else {
        cacheStart = blockStart - contextBlocks * bs // keep the last whole blocks that fit
        cache.reset()
        prefill()
      }
    }
  } finally {
    cache.dispose()
  }
  return {tokens: out, networkCalls, skippedCalls, steps}
}
