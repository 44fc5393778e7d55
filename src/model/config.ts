/**
 * The GPT's shape: its config (snake_case keys = recipe keys), the list of parameters it owns
 * (names, shapes, optimizer group, ternary or not) and their count. Pure: no tfjs here, so
 * `golf budget` can size a model without building it.
 *
 * Parameter names mirror the PyTorch state_dict of the official Parameter Golf `train_gpt.py`
 * (`tok_emb.weight`, `blocks.0.attn.c_q.weight`, ...) so checkpoints map onto PyTorch code.
 */
import {InputError} from '../errors.js'

export interface ModelConfig {
  /** Rows of the token embedding: the data vocabulary plus any extra ids (e.g. a mask token). */
  vocab_size: number
  /** Residual stream width D. */
  model_dim: number
  /** Query heads H; head_dim Dh = model_dim / num_heads (must be even for RoPE). */
  num_heads: number
  /** Key/value heads KV (grouped-query attention); num_heads must be a multiple. */
  num_kv_heads: number
  /** MLP hidden width = mlp_mult · model_dim. */
  mlp_mult: number
  /** K distinct blocks (parameter sets). */
  unique_blocks: number
  /** R: the K blocks are applied in order R times, L = K·R layer applications. */
  loops: number
  /** E: factored embedding width (tok_emb is [V, E], projected E→D and back); null = D. */
  embed_dim: number | null
  /** Output head reuses tok_emb.weight; false adds lm_head.weight [V, E]. */
  tie_embeddings: boolean
  /** RoPE base θ. */
  rope_base: number
  /** Logits become cap·tanh(logits/cap); null or 0 = off. */
  logit_softcap: number | null
  /** RMS-normalise q and k per head before RoPE. */
  qk_norm: boolean
  /** U-Net skips: first half of the applications push, second half pop and add. */
  unet_skips: boolean
  /** resid_mix: every block input is mix0·x + mix1·x0 (x0 = normed embedding). */
  x0_mix: boolean
  /** Std of the normal init of tok_emb when tied (untied: N(0, 1) as nn.Embedding). */
  tied_embed_init_std: number
  /** Initial per-head q gain (q_gain). */
  qk_gain_init: number
}

/** The official baseline (9×512, KV4, MLP×2, SP1024) unless a reason says otherwise. */
export const DEFAULT_MODEL_CONFIG: ModelConfig = {
  vocab_size: 1024, // the official sp1024 tokenizer
  model_dim: 512, // baseline width: fits 16 MB at int8 with 9 layers
  num_heads: 8, // Dh = 64, the usual head size
  num_kv_heads: 4, // GQA halves c_k/c_v at no measurable loss (baseline)
  mlp_mult: 2, // baseline; records push to 3 when bytes allow
  unique_blocks: 9, // baseline depth
  loops: 1, // no depth recurrence unless asked: it trades compute for bytes
  embed_dim: null, // unfactored: factoring only pays off for large vocabularies
  tie_embeddings: true, // the head would otherwise cost another V·D parameters
  rope_base: 10000, // the baseline's RoPE base
  logit_softcap: 30, // baseline: keeps early logits from blowing up
  qk_norm: true, // the baseline normalises q and k; it steadies high learning rates
  unet_skips: true, // baseline encoder/decoder skip connections
  x0_mix: true, // baseline resid_mix: every block sees the embedding again
  tied_embed_init_std: 0.005, // baseline: small tied embedding keeps initial logits ≈ 0
  qk_gain_init: 1.5, // baseline q_gain init
}

/** Default ternary set: every block matrix; embeddings, projections, norms and gains stay float. */
export const DEFAULT_TERNARY_PATTERNS: readonly string[] = [
  'blocks.*.attn.c_q.weight',
  'blocks.*.attn.c_k.weight',
  'blocks.*.attn.c_v.weight',
  'blocks.*.attn.proj.weight',
  'blocks.*.mlp.fc.weight',
  'blocks.*.mlp.proj.weight',
]

export type ParamGroup = 'matrix' | 'embedding' | 'scalar'

export interface ParamSpec {
  name: string
  shape: number[]
  /**
   * Optimizer group as in the official script: 'matrix' = 2-D weights of blocks and the E↔D
   * projections (Muon); 'embedding' = tok_emb and an untied lm_head (Adam, own lr);
   * 'scalar' = gains, scales, resid_mix, skip_weights (Adam, scalar lr).
   */
  group: ParamGroup
  ternary: boolean
}

const KEYS = Object.keys(DEFAULT_MODEL_CONFIG) as (keyof ModelConfig)[]

/**
 * Merge recipe overrides onto the defaults and validate. Unknown keys and bad values throw an
 * InputError naming the key (`where` prefixes it, e.g. "recipe.yaml: model.num_heads").
 */
export function resolveModelConfig(overrides: Record<string, unknown> = {}, where = 'model'): ModelConfig {
  for (const key of Object.keys(overrides)) {
    if (!(KEYS as string[]).includes(key)) throw new InputError(`${where}: unknown config key "${key}" (known: ${KEYS.join(', ')})`)
  }
  const cfg = {...DEFAULT_MODEL_CONFIG, ...overrides} as ModelConfig
  validateModelConfig(cfg, where)
  return cfg
}

/** Throws an InputError naming the first bad key. */
export function validateModelConfig(cfg: ModelConfig, where = 'model'): void {
  const bad = (key: string, what: string): never => {
    throw new InputError(`${where}.${key}: ${what}`)
  }
  const posInt = (key: keyof ModelConfig) => {
    const v = cfg[key]
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) bad(key, `must be a positive integer, got ${JSON.stringify(v)}`)
  }
  const bool = (key: keyof ModelConfig) => {
    if (typeof cfg[key] !== 'boolean') bad(key, `must be true or false, got ${JSON.stringify(cfg[key])}`)
  }
  const num = (key: keyof ModelConfig, min: number) => {
    const v = cfg[key]
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= min) bad(key, `must be a number > ${min}, got ${JSON.stringify(v)}`)
  }
  for (const k of ['vocab_size', 'model_dim', 'num_heads', 'num_kv_heads', 'mlp_mult', 'unique_blocks', 'loops'] as const) posInt(k)
  for (const k of ['tie_embeddings', 'qk_norm', 'unet_skips', 'x0_mix'] as const) bool(k)
  num('rope_base', 0)
  num('tied_embed_init_std', 0)
  if (typeof cfg.qk_gain_init !== 'number' || !Number.isFinite(cfg.qk_gain_init)) bad('qk_gain_init', `must be a number, got ${JSON.stringify(cfg.qk_gain_init)}`)
  if (cfg.embed_dim !== null) posInt('embed_dim')
  if (cfg.logit_softcap !== null && !(typeof cfg.logit_softcap === 'number' && Number.isFinite(cfg.logit_softcap) && cfg.logit_softcap >= 0)) {
    bad('logit_softcap', `must be null or a number >= 0, got ${JSON.stringify(cfg.logit_softcap)}`)
  }
  if (cfg.model_dim % cfg.num_heads !== 0) bad('num_heads', `must divide model_dim ${cfg.model_dim}, got ${cfg.num_heads}`)
  if (cfg.num_heads % cfg.num_kv_heads !== 0) bad('num_kv_heads', `must divide num_heads ${cfg.num_heads}, got ${cfg.num_kv_heads}`)
  if ((cfg.model_dim / cfg.num_heads) % 2 !== 0) bad('num_heads', `head_dim model_dim/num_heads = ${cfg.model_dim / cfg.num_heads} must be even for RoPE`)
}

/** Derived sizes every consumer needs. */
export function modelDims(cfg: ModelConfig) {
  const D = cfg.model_dim
  const Dh = D / cfg.num_heads
  const E = cfg.embed_dim ?? D
  const L = cfg.unique_blocks * cfg.loops // layer applications
  return {
    D,
    E,
    Dh,
    H: cfg.num_heads,
    KV: cfg.num_kv_heads,
    M: cfg.mlp_mult * D,
    V: cfg.vocab_size,
    L,
    factored: cfg.embed_dim !== null,
    numSkips: cfg.unet_skips ? Math.floor(L / 2) : 0,
  }
}

/**
 * Glob over dotted parameter names: `*` matches within one dot-separated segment, `**` any
 * run of characters (dots included); everything else is literal.
 */
export function globToRegExp(pattern: string): RegExp {
  let re = ''
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]
    if (c === '*' && pattern[i + 1] === '*') {
      re += '.*'
      i++
    } else if (c === '*') re += '[^.]*'
    else re += c.replace(/[\\^$.+?()[\]{}|]/g, '\\$&')
  }
  return new RegExp(`^${re}$`)
}

export function matchesAny(name: string, patterns: readonly string[]): boolean {
  return patterns.some((p) => globToRegExp(p).test(name))
}

/**
 * Every parameter in PyTorch state_dict order (a module's own parameters, then its children):
 * skip_weights, tok_emb, embed_proj, blocks.i (attn_scale, mlp_scale, resid_mix, attn.q_gain,
 * attn.c_q/c_k/c_v/proj, mlp.fc/proj), head_proj, lm_head.
 *
 * Depth recurrence: blocks.i exist for the K unique blocks only; their scales, resid_mix and
 * q_gain are per unique block too (the parameter-saving choice). skip_weights has one row per
 * U-Net skip over the L = K·R applications.
 */
export function paramSpecs(cfg: ModelConfig, ternaryPatterns: readonly string[] = DEFAULT_TERNARY_PATTERNS): ParamSpec[] {
  validateModelConfig(cfg)
  const d = modelDims(cfg)
  const specs: ParamSpec[] = []
  const add = (name: string, shape: number[], group: ParamGroup) => {
    specs.push({name, shape, group, ternary: group !== 'scalar' && shape.length === 2 && matchesAny(name, ternaryPatterns)})
  }
  if (d.numSkips > 0) add('skip_weights', [d.numSkips, d.D], 'scalar')
  add('tok_emb.weight', [d.V, d.E], 'embedding')
  if (d.factored) add('embed_proj.weight', [d.D, d.E], 'matrix')
  for (let i = 0; i < cfg.unique_blocks; i++) {
    const p = `blocks.${i}.`
    add(`${p}attn_scale`, [d.D], 'scalar')
    add(`${p}mlp_scale`, [d.D], 'scalar')
    if (cfg.x0_mix) add(`${p}resid_mix`, [2, d.D], 'scalar')
    add(`${p}attn.q_gain`, [d.H], 'scalar')
    add(`${p}attn.c_q.weight`, [d.D, d.D], 'matrix')
    add(`${p}attn.c_k.weight`, [d.KV * d.Dh, d.D], 'matrix')
    add(`${p}attn.c_v.weight`, [d.KV * d.Dh, d.D], 'matrix')
    add(`${p}attn.proj.weight`, [d.D, d.D], 'matrix')
    add(`${p}mlp.fc.weight`, [d.M, d.D], 'matrix')
    add(`${p}mlp.proj.weight`, [d.D, d.M], 'matrix')
  }
  if (d.factored) add('head_proj.weight', [d.E, d.D], 'matrix')
  if (!cfg.tie_embeddings) add('lm_head.weight', [d.V, d.E], 'embedding')
  return specs
}

/**
 * What `paramSpecs(cfg)` holds, by arithmetic: its parameter count and its largest tensor's,
 * without listing (or allocating) anything — for configs too large to build, e.g. to refuse one
 * before sizing its weights.
 */
export function paramTotals(cfg: ModelConfig): {total: number; largest: number} {
  const d = modelDims(cfg)
  const kv = d.KV * d.Dh * d.D
  const block = 2 * d.D + (cfg.x0_mix ? 2 * d.D : 0) + d.H + 2 * d.D * d.D + 2 * kv + 2 * d.M * d.D
  const vocab = d.V * d.E * (cfg.tie_embeddings ? 1 : 2)
  const total = d.numSkips * d.D + vocab + (d.factored ? 2 * d.D * d.E : 0) + cfg.unique_blocks * block
  const largest = Math.max(d.numSkips * d.D, d.V * d.E, d.factored ? d.D * d.E : 0, d.D * d.D, kv, d.M * d.D)
  return {total, largest}
}

export function numel(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1)
}

export function countParams(specs: readonly ParamSpec[]): {total: number; ternary: number; other: number} {
  let ternary = 0
  let other = 0
  for (const s of specs) {
    if (s.ternary) ternary += numel(s.shape)
    else other += numel(s.shape)
  }
  return {total: ternary + other, ternary, other}
}
