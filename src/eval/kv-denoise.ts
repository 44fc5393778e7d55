/**
 * Block diffusion scored through a KV cache of clean blocks, as its sampler reads them
 * (src/sample/diffusion.ts), so that the cache can be quantized (KIVI, src/quant/kv-cache.ts)
 * and its cost on the ELBO and the chain-rule NLL measured. A DenoisingScorer: elbo.ts and
 * chain.ts choose the rows, masks and weights as they do for gptScorer; only the forward differs.
 *
 * A row of a block-diffusion batch is [x_t ‖ x_0], n tokens per half in blocks of bs
 * (src/objective/bd3lm.ts; shifted or not, the inputs are the batch's own, so the scorer never
 * asks the objective). The one full forward under the block-diffusion mask (BD3-LM, Arriola et
 * al. 2025, eq. 7) is rearranged block by block, all B rows at once, over one cache that holds
 * the clean blocks before b:
 *   for b = 0 .. n/bs − 1
 *     x_t block b   forwardCached(bidirectional, commit false): the block-diagonal and offset
 *                   block-causal pieces of the mask; its logits score outputs [b·bs, (b+1)·bs)
 *     x_0 block b   commitCached({blockCausal: bs}): the block-causal piece, so
 *                   block b + 1 sees it (not run after the last block: nothing reads it)
 * RoPE positions continue from the cache's length, so block b sits at b·bs.. in both halves, as
 * in the full forward. Cost per batch: n/bs forwards and n/bs − 1 commits (no last-layer queries
 * or MLP, no head) of B·bs tokens (the full forward: one of B·2n), each attending over at most n
 * keys.
 *
 * Unquantized this is gptScorer's arithmetic rearranged: the same NLLs up to float32 rounding.
 * Quantized, x_t block b reads the cache as GPT.forwardCached's QuantizedPlan says: tokens
 * before quantizedPrefix((b+1)·bs) quantized (its own too when the residual is shorter than a
 * block), the rest exact; that is what a sampler denoising block b over the same clean blocks
 * reads, since committing clean blocks one at a time or block-causally in one call leaves the
 * same cache.
 */
import * as tf from '@tensorflow/tfjs-core'

import {crossEntropyRows} from '../model/gpt.js'
import type {TokenBatch} from '../objective/batch.js'
import type {KVQuantConfig} from '../quant/kv-cache.js'
import type {DenoisingScorer} from './denoise.js'
import {columns, type CachedScoringModel} from './kv-sliding.js'

/** A DenoisingScorer that holds a KV cache: dispose it when done. */
export interface CachedDenoisingScorer extends DenoisingScorer {
  dispose(): void
}

/** Block-diffusion batches scored block by block over a KV cache stored as `quant` says (null: float32). */
export function cachedScorer(model: CachedScoringModel, quant: KVQuantConfig | null): CachedDenoisingScorer {
  let cache: ReturnType<CachedScoringModel['newKVCache']> | null = null
  const nll = (batch: TokenBatch): Float32Array => {
    const {B, attention} = batch
    if (attention.kind !== 'block-diffusion') throw new Error(`cachedScorer: scores block-diffusion batches [x_t ‖ x_0], got ${attention.kind} attention`)
    const n = batch.T / 2
    const bs = attention.block
    if (!Number.isInteger(n) || n % bs !== 0) throw new Error(`cachedScorer: blocks of ${bs} must divide each half of ${batch.T} inputs`)
    const kv = (cache ??= model.newKVCache({quant}))
    kv.reset()
    const parts: tf.Tensor2D[] = [] // per block: (B, bs) nats
    try {
      for (let s = 0; s < n; s += bs) {
        parts.push(
          tf.tidy(() => {
            const logits = model.forwardCached(columns(batch.inputs, B, 2 * n, s, s + bs), kv, {within: 'bidirectional', commit: false, suppress: batch.suppress}) // (B, bs, V)
            const V = logits.shape[2]
            const targets = tf.reshape(columns(batch.targets, B, n, s, s + bs), [B * bs]) as tf.Tensor1D
            return tf.reshape(crossEntropyRows(tf.reshape(logits, [B * bs, V]) as tf.Tensor2D, targets).nll, [B, bs]) as tf.Tensor2D
          }),
        )
        if (s + bs < n) tf.tidy(() => model.commitCached(columns(batch.inputs, B, 2 * n, n + s, n + s + bs), kv, {blockCausal: bs}))
      }
      const all = parts.length === 1 ? parts[0] : tf.concat(parts, 1) // (B, n), row-major as gptScorer's
      const out = Float32Array.from(all.dataSync() as Float32Array)
      if (all !== parts[0]) all.dispose()
      return out
    } finally {
      tf.dispose(parts)
      kv.reset() // the cache's tensors go now, not at the next batch
    }
  }
  return {
    nll,
    dispose() {
      cache?.dispose()
      cache = null
    },
  }
}
