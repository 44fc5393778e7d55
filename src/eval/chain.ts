/**
 * The chain-rule likelihood of a diffusion model: the exact log-likelihood of the model that
 * unmasks one token per step in an order fixed in advance, −log p(x) = Σ_k −log p_θ(x^{σ(k)} |
 * x^{σ(<k)} visible, the rest [MASK]). A likelihood, not a bound: unlike the ELBO it needs no
 * expectation, and it is what a sampler that follows the same order would assign.
 *
 * Blocks are independent given the clean blocks before them, so step k unmasks the k-th token
 * of the order in every block at once: a window costs one forward per token of a block (MDLM:
 * seq_len forwards, BD3-LM: block_size). Orders: `left-to-right` (the default), or `random`: a
 * seeded random order per window (the same in each of its blocks), whose mean over orders is
 * the any-order autoregressive NLL, equal in expectation to the continuous-time NELBO
 * (Ou et al. 2024; Shi et al. 2024).
 */
import type {DiffusionObjective} from '../objective/types.js'
import type {ByteTable} from '../tokenizer/types.js'
import {namedRandom, permutation} from '../util/random.js'
import {diffusionResult, diffusionWindows, scoreRows, type DenoiseRow, type DenoisingScorer, type DiffusionEvalResult} from './denoise.js'

export interface ChainOptions {
  seqLen: number
  batchSeqs: number
  order?: 'left-to-right' | 'random'
  seed?: number
  onProgress?: (done: number, total: number) => void
}

/** The unmasking order of window w's blocks: a permutation of 0..bs−1. */
export function chainOrder(bs: number, order: 'left-to-right' | 'random', seed: number, window: number): Int32Array {
  if (order === 'left-to-right') return Int32Array.from({length: bs}, (_, i) => i)
  return permutation(bs, namedRandom(seed, `chain:${window}`))
}

function* chainRows(count: number, T: number, bs: number, order: 'left-to-right' | 'random', seed: number): Generator<DenoiseRow> {
  for (let w = 0; w < count; w++) {
    const sigma = chainOrder(bs, order, seed, w)
    for (let k = 0; k < bs; k++) {
      const masked = new Uint8Array(T)
      const coef = new Float64Array(T)
      for (let b = 0; b < T; b += bs) {
        for (let j = k; j < bs; j++) masked[b + sigma[j]] = 1 // σ(k..) still hidden
        coef[b + sigma[k]] = 1 // score the k-th token of the order
      }
      yield {window: w, slot: 0, masked, coef}
    }
  }
}

/** The chain-rule NLL of `scorer` on the validation windows (see the module doc). */
export function evaluateChain(scorer: DenoisingScorer, objective: DiffusionObjective, tokens: Uint16Array, table: ByteTable, opts: ChainOptions): DiffusionEvalResult {
  const T = opts.seqLen
  const w = diffusionWindows(tokens, T)
  const bs = objective.blockSize(T)
  const order = opts.order ?? 'left-to-right'
  const seed = opts.seed ?? 0
  const sums = scoreRows(scorer, objective, w, chainRows(w.count, T, bs, order, seed), {batchSeqs: opts.batchSeqs, slots: 1, totalRows: w.count * bs, onProgress: opts.onProgress})
  let total = 0
  for (const x of sums) total += x
  return diffusionResult(table, w, total, 0, {mode: 'chain', bound: false, block_size: bs, elbo_steps: null, estimator: 'chain', samples: 1, seed, se_method: 'none'})
}
