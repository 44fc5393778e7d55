/**
 * Sliding-window evaluation through the KV cache, so that the cache can be quantized (KIVI,
 * src/quant/kv-cache.ts) and its cost on val_bpb measured. The windows, the targets each scores
 * and the BPB arithmetic are evaluateSliding's (src/eval/evaluate.ts); only the forward differs:
 * per batch of windows with the same context length c, the c context tokens are prefilled into
 * a fresh cache in one causal pass (commit), then the window's remaining T − c tokens are scored
 * by one causal pass over that cache (GPT.forwardCached).
 *
 * Without quantization this is the full forward's arithmetic rearranged: the same val_loss and
 * val_bpb as evaluateSliding up to float32 rounding. With it, every scored target reads the
 * cache as decoding one token at a time from the window's start would (see QuantizedPlan in
 * src/model/kv-cache.ts): the tokens before quantizedPrefix(its position + 1) quantized, so the score
 * does not depend on the split into prefill and scoring, nor on the batching.
 */
import * as tf from '@tensorflow/tfjs-core'

import {crossEntropyRows} from '../model/gpt.js'
import {type CachedForwardOptions, type CachedWithin, type KVCache} from '../model/kv-cache.js'
import type {KVQuantConfig} from '../quant/kv-cache.js'
import type {ByteTable} from '../tokenizer/types.js'
import {scoreSliding, type EvalOptions, type EvalResult, type WindowScorer} from './evaluate.js'

/** What the cached evaluation needs of a model (a GPT). */
export interface CachedScoringModel {
  newKVCache(opts?: {quant?: KVQuantConfig | null}): KVCache
  forwardCached(tokens: tf.Tensor2D, cache: KVCache, opts: CachedForwardOptions): tf.Tensor3D
  commitCached(tokens: tf.Tensor2D, cache: KVCache, within: CachedWithin): void
}

/** Columns [c0, c1) of B rows of T, as an int32 (B, c1 − c0) tensor. */
export function columns(a: Int32Array, B: number, T: number, c0: number, c1: number): tf.Tensor2D {
  const out = new Int32Array(B * (c1 - c0))
  for (let i = 0; i < B; i++) out.set(a.subarray(i * T + c0, i * T + c1), i * (c1 - c0))
  return tf.tensor2d(out, [B, c1 - c0], 'int32')
}

/** evaluateSliding through a KV cache stored as `kv` says (null: float32, unquantized). */
export function evaluateSlidingCached(model: CachedScoringModel, tokens: Uint16Array, table: ByteTable, opts: EvalOptions & {stride: number; kv: KVQuantConfig | null}): EvalResult {
  const T = opts.seqLen
  const cache = model.newKVCache({quant: opts.kv})
  const score: WindowScorer = (x, y, B, c) => {
    cache.reset()
    if (c > 0) tf.tidy(() => model.commitCached(columns(x, B, T, 0, c), cache, 'causal'))
    const nll = tf.tidy(() => {
      const logits = model.forwardCached(columns(x, B, T, c, T), cache, {within: 'causal', commit: false}) // (B, T − c, V)
      const V = logits.shape[2]
      const targets = tf.reshape(columns(y, B, T, c, T), [B * (T - c)]) as tf.Tensor1D
      return crossEntropyRows(tf.reshape(logits, [B * (T - c), V]) as tf.Tensor2D, targets).nll // (B·(T − c))
    })
    const scored = nll.dataSync() as Float32Array
    nll.dispose()
    // back to (B, T) window offsets; the c context offsets are not read
    const losses = new Float32Array(B * T)
    for (let i = 0; i < B; i++) losses.set(scored.subarray(i * (T - c), (i + 1) * (T - c)), i * T + c)
    return losses
  }
  try {
    return scoreSliding(score, tokens, table, opts, true)
  } finally {
    cache.dispose()
  }
}
