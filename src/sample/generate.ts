/**
 * Autoregressive text generation with a KV cache: the context (BOS + prompt, as every training
 * document starts) is prefilled in one causal pass that computes only keys and values, then each
 * new token is one forward pass of a single position over the cached keys and values, instead
 * of a rerun of the whole window.
 *
 * The window is the last `seqLen` tokens, as without a cache: once the cache holds seqLen
 * positions, the next step re-prefills the last seqLen − 1 tokens plus the new one (a fresh
 * cache at positions 0..seqLen−1, the exact sliding window). From then on every token costs a
 * full-window pass, as it did uncached; only the first seqLen − context tokens are cheap.
 *
 * `opts.kv` quantizes the cache (KIVI, src/quant/kv-cache.ts); every position then reads what
 * token-by-token decoding from the window's start shows it, prefill included.
 */
import * as tf from '@tensorflow/tfjs-core'

import type {GPT} from '../model/gpt.js'
import {mulberry32} from '../util/random.js'
import {pickToken} from './pick.js'
import type {SampleOptions, SampleOutput} from './types.js'

/** Continue `context` (non-empty) by `opts.tokens` ids. */
export function generate(model: GPT, context: number[], opts: SampleOptions): SampleOutput {
  if (context.length === 0) throw new Error('generate: the context needs at least one token (BOS)')
  const rand = mulberry32(opts.seed)
  const ids = [...context]
  const out: number[] = []
  let networkCalls = 0
  const cache = model.newKVCache({quant: opts.kv})
  // append `tokens` to the cache; the logits (V) of the last one. A prefill commits all but the
  // last token without logits (keys and values only: no head, no last-layer MLP for those rows),
  // then runs the last one over them, the pass a token-by-token decode would make.
  const ids2d = (t: number[]) => tf.tensor2d(Int32Array.from(t), [1, t.length], 'int32')
  const feed = (tokens: number[]): Float32Array => {
    networkCalls++
    if (tokens.length > 1) tf.tidy(() => model.commitCached(ids2d(tokens.slice(0, -1)), cache, 'causal'))
    const last = tf.tidy(() => {
      const logits = model.forwardCached(ids2d(tokens.slice(-1)), cache, {within: 'causal', commit: true}) // (1, 1, V)
      return tf.reshape(logits, [-1]) // (V)
    })
    const row = last.dataSync() as Float32Array
    last.dispose()
    return row
  }
  try {
    let logits = feed(ids.slice(-opts.seqLen))
    for (;;) {
      const id = pickToken(logits, opts, rand)
      ids.push(id)
      out.push(id)
      if (out.length >= opts.tokens) break
      if (cache.length < opts.seqLen) {
        logits = feed([id])
      } else {
        cache.reset() // the window slides past position seqLen − 1: re-prefill it
        logits = feed(ids.slice(-opts.seqLen))
      }
    }
  } finally {
    cache.dispose()
  }
  return {tokens: out, networkCalls, skippedCalls: 0, steps: null}
}
