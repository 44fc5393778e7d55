/** Tiny models for the sampler tests (cpu backend, set up by each test file). */
import {DEFAULT_MODEL_CONFIG, type ModelConfig} from '../../src/model/config.js'
import {GPT} from '../../src/model/gpt.js'
import type {TernaryConfig} from '../../src/quant/ternary.js'
import {loadRandomWeights} from '../helpers/random.js'

const TERNARY: TernaryConfig = {groupSize: 'row', scaleFormat: 'fp32', zeroCorrection: true}

/** 12 data ids + [MASK] = 12; U-Net skips, x0 mix and depth recurrence on. */
export const TINY: ModelConfig = {...DEFAULT_MODEL_CONFIG, vocab_size: 13, model_dim: 16, num_heads: 4, num_kv_heads: 2, unique_blocks: 2, loops: 2}
export const MASK = TINY.vocab_size - 1
/** As the tokenizers: pad 0, BOS 1 (never emitted). */
export const BANNED = [0, 1]
export const BOS = 1

/** Random weights everywhere (so attention, x0 and the skips all shape the logits); ternary when quant. */
export function randomModel(seed = 7, quant = false): GPT {
  const m = new GPT(TINY, {seed: 1, ternary: {patterns: ['blocks.*.attn.*.weight', 'blocks.*.mlp.*.weight'], config: TERNARY}})
  loadRandomWeights(m, seed, 0.6)
  m.quantActive = quant
  return m
}

/**
 * A model whose logits are log p at every position whatever the input: every token embeds to
 * the same vector e₀ = (1, 0, …), the blocks add nothing (zero-init projections), so the final
 * norm gives √D·e₀ everywhere, and the untied head row v is (log p_v / √D, 0, …).
 */
export function fixedDistributionModel(p: number[]): GPT {
  const cfg: ModelConfig = {...DEFAULT_MODEL_CONFIG, vocab_size: p.length, model_dim: 8, num_heads: 2, num_kv_heads: 1, unique_blocks: 2, loops: 1, tie_embeddings: false, logit_softcap: null}
  const m = new GPT(cfg, {seed: 1, ternary: {patterns: [], config: TERNARY}})
  const w = m.weights()
  const D = cfg.model_dim
  const emb = new Float32Array(p.length * D)
  const head = new Float32Array(p.length * D)
  for (let v = 0; v < p.length; v++) {
    emb[v * D] = 1
    head[v * D] = Math.log(p[v]) / Math.sqrt(D)
  }
  w.set('tok_emb.weight', emb)
  w.set('lm_head.weight', head)
  m.loadWeights(w)
  return m
}
