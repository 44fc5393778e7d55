/**
 * Recipes: YAML files that say everything about a run — model shape, quantizer, optimizer,
 * schedule, evaluation. A recipe is read, overlaid with `--set key=value` overrides, merged onto
 * the defaults and validated; the result (`ResolvedRecipe`) is what a run records in
 * `config.json` and what `golf budget` / `golf pack` read back.
 *
 * Validation names the bad key and says why, in one line:
 *   `recipe tiny.yaml: train.seq_len must be an integer >= 8, got "long"`
 * Sections `train`, `quant`, `eval`, `data` are checked against a JSON Schema (ajv) with unknown
 * keys rejected; `model` and `optim` by their owners' resolvers (src/model, src/optim), which
 * also check cross-field rules (heads divide the width, …).
 */
import {Ajv, type ErrorObject} from 'ajv'
import {existsSync, readdirSync} from 'node:fs'
import {basename, extname, join} from 'node:path'
import {parse as parseYaml, YAMLParseError} from 'yaml'

import {InputError} from '../errors.js'
import {findNonFinite} from '../io/json.js'
import {decodeUtf8, oneLine, readInputFile} from '../io/read.js'
import {DEFAULT_TERNARY_PATTERNS, resolveModelConfig, type ModelConfig} from '../model/config.js'
import {resolveOptimConfig, type OptimConfig} from '../optim/composite.js'
import {recipesDir} from '../paths.js'
import {parseSites, type ActivationSites} from '../quant/activations.js'
import {KV_BITS, KV_DEFAULT_GROUP, KV_DEFAULT_RESIDUAL, type KVBits, type KVQuantConfig} from '../quant/kv-cache.js'
import {FLOAT_STORE_FORMATS, type FloatStoreFormat} from '../quant/float-formats.js'
import {SCALE_FORMATS, type ScaleFormat} from '../quant/ternary-host.js'
import type {TernaryConfig} from '../quant/ternary.js'
import {DEFAULT_OBJECTIVE, DIFFUSION_SCORES, type DiffusionScore, type ObjectiveConfig} from '../objective/types.js'

export interface TrainConfig {
  /** Context length T of every training sequence (the final one when seq_len_start is set). */
  seq_len: number
  /** Tokens per optimizer step across gradient-accumulation micro-steps (official TRAIN_BATCH_TOKENS). */
  batch_tokens: number
  /** Tokens per forward/backward pass; batch_tokens must be a multiple of it. */
  micro_batch_tokens: number
  /** Hard step limit (the schedule's warmdown is laid out against it). */
  max_steps: number
  /** Official wall-clock rule: warmdown timed to end at this many seconds, then stop. null = off. */
  max_wallclock_seconds: number | null
  /** Linear lr warmup steps. */
  warmup_steps: number
  /** Linear warmdown over the last N steps (official WARMDOWN_ITERS); null = use warmdown_frac. */
  warmdown_iters: number | null
  /** Linear warmdown over this fraction of max_steps; used when warmdown_iters is null. */
  warmdown_frac: number | null
  /** Sequence-length warmup: start length (geometric growth to seq_len); null = off. */
  seq_len_start: number | null
  /** Steps over which the sequence length grows from seq_len_start to seq_len. */
  seq_len_warmup_steps: number
  /** Print a train_loss line every N steps. */
  log_every: number
  /** Evaluate on val_tokens every N steps (0 = only at the end). */
  eval_every: number
  /** Validation tokens for the in-training evals (null = whole split). */
  val_tokens: number | null
  /** Write a checkpoint every N steps (0 = only at the end and on Ctrl-C). */
  checkpoint_every: number
  /** z-loss coefficient (mean logsumexp² added to the loss); 0 = off. */
  z_loss: number
  /**
   * Threads computing each step (data parallel, src/train/parallel.ts): an integer ≥ 1, or
   * 'auto' = up to 2 on wasm/cpu, 1 on tensorflow. Results differ from 1 thread only in the
   * last bits (summation order); a given count is deterministic.
   */
  workers: number | 'auto'
  /**
   * Recompute each layer's activations in the backward pass instead of keeping them all
   * (src/model/recompute.ts): a step holds one layer's activations for ~1/3 more compute, the
   * same gradients. 'auto' = on when the step would not fit the backend's memory without it
   * (src/budget/memory.ts).
   */
  recompute: boolean | 'auto'
}

export interface QuantSection {
  /** `ternary`: BitNet b1.58 weights in {-1,0,+1}·d; `none`: a float baseline. */
  mode: 'ternary' | 'none'
  /** Group along the input dim: a number, `row` or `tensor`. */
  group_size: number | 'row' | 'tensor'
  /**
   * Precision the per-group scales are stored (and simulated in training) in: fp32, fp16, bf16,
   * or e4m3 (8 bits: an fp8 code per group under one power of two per tensor).
   */
  scale_format: ScaleFormat
  /** Dequantize with mean |w| over the non-zero trits (least-squares scale). */
  zero_correction: boolean
  /** Train in full precision for this fraction of the run, then switch to ternary. */
  start_frac: number
  /** Glob patterns of the tensors that are ternary (`*` = one name segment). */
  targets: string[]
  /**
   * Storage precision of every non-ternary tensor (embeddings, gains), simulated in the forward
   * pass once quantization is active, so the packed model is exactly the trained one. e4m3 and
   * e5m2 are fp8 with one fp16 scale per row (per tensor for 1-D tensors).
   */
  float_format: FloatStoreFormat
}

export interface EvalConfig {
  /** Validation tokens for the final evaluation (null = the whole split, as the official eval). */
  val_tokens: number | null
  /**
   * Diffusion objectives: denoising steps T of the discrete-time ELBO that is reported (an
   * upper bound on the NLL); 0 = the continuous-time limit.
   */
  elbo_steps: number
  /** Diffusion objectives: Monte-Carlo draws of (t, mask) per evaluation window. */
  elbo_samples: number
  /** Diffusion objectives: seed of the evaluation noise (the same seed gives the same bound). */
  elbo_seed: number
  /** Sliding-window stride for the final score (null = plain non-overlapping chunks only). */
  sliding_stride: number | null
  /** Sequences per evaluation forward pass. */
  batch_seqs: number
  /**
   * Diffusion objectives: the reported score (absent = elbo, the papers' and the challenge's
   * diffusion entries'). `elbo`: the eval.elbo_steps-step negative ELBO, an upper bound on the
   * NLL. `chain`: the chain rule with left-to-right unmasking inside each block
   * (src/eval/chain.ts), the exact NLL of the model that unmasks one token after another: a
   * likelihood, below the bound once the model has learned (not for a barely trained one), at
   * one forward per token of a block per window (BD3-LM 4: four times the one-draw ELBO's
   * evaluation). bd3lm only: MDLM's block is the window (seq_len forwards per window).
   */
  score?: DiffusionScore
  /**
   * Also score the final model through a KIVI-quantized KV cache (src/quant/kv-cache.ts), an
   * inference feature reported beside the official score: AR by sliding windows
   * (eval.sliding_stride, else seq_len), BD3-LM by its bound over a cache of clean blocks.
   * null = not scored. Written {bits: 2 | 3 | 4 | 16, group?, residual?}.
   */
  kv_cache: KVQuantConfig | null
}

/**
 * One stage of the activation precision (src/quant/activations.ts): its sites apply from
 * `from` (a fraction of the run, measured as quant.start_frac is: steps, or the wall-clock cap
 * when that is closer) or from step `from_step`; before the first stage, activations are float.
 */
export interface ActivationStage {
  from: number | null
  from_step: number | null
  sites: ActivationSites
}

export interface DataSection {
  /** Tokenizer of the built-in corpus when no --data is given. */
  tokenizer: 'byte260'
}

export interface ResolvedRecipe {
  name: string
  description: string
  /** What is trained: next-token (ar), masked diffusion (mdlm) or block diffusion (bd3lm). */
  objective: ObjectiveConfig
  model: ModelConfig
  quant: QuantSection
  optim: OptimConfig
  train: TrainConfig
  eval: EvalConfig
  data: DataSection
  /**
   * Activation precision by stage (empty: float throughout). Written as a preset name (one
   * stage from the start) or a list of {from | from_step, sites}.
   */
  activations: ActivationStage[]
}

export const DEFAULT_TRAIN_CONFIG: TrainConfig = {
  seq_len: 1024, // official TRAIN_SEQ_LEN
  batch_tokens: 524_288, // official TRAIN_BATCH_TOKENS (8×H100); CPU recipes set far less
  micro_batch_tokens: 65_536, // one H100's share; CPU recipes set far less
  max_steps: 20_000, // official ITERATIONS: the wall-clock cap usually stops first
  max_wallclock_seconds: null, // off by default: record runs set 600
  warmup_steps: 20, // official WARMUP_STEPS
  warmdown_iters: 1200, // official WARMDOWN_ITERS
  warmdown_frac: null, // alternative to warmdown_iters for short runs
  seq_len_start: null, // no sequence warmup unless asked
  seq_len_warmup_steps: 0,
  log_every: 10,
  eval_every: 0, // evaluating costs training time; the end-of-run eval is what counts
  val_tokens: null,
  checkpoint_every: 0,
  z_loss: 0, // off: the logit soft-cap already bounds logits
  workers: 'auto', // one thread per core (2 at most) on wasm/cpu: ~2× the tokens/s
  recompute: 'auto', // only when the activations would not fit: it costs a forward pass
}

export const DEFAULT_QUANT: QuantSection = {
  mode: 'ternary', // golf's reason to exist
  group_size: 128, // the ternary record's choice: 0.125 bits/weight of fp16 scales
  scale_format: 'fp16', // records store fp16 scales; training simulates exactly that
  zero_correction: true, // narrows the roundtrip gap when zeros are common (GOLF.md lessons)
  start_frac: 0, // native ternary from the first step
  targets: [...DEFAULT_TERNARY_PATTERNS],
  float_format: 'fp16', // half the bytes of fp32; simulated in training, so the roundtrip stays exact
}

export const DEFAULT_EVAL: EvalConfig = {
  val_tokens: null, // the whole validation split, like the official score
  elbo_steps: 128, // the MDLM reference samples with 128 steps
  elbo_samples: 1, // one (t, mask) draw per window: the bound's cost equals one chunked pass
  elbo_seed: 0,
  sliding_stride: null,
  batch_seqs: 8,
  kv_cache: null, // an inference feature: scored only when a recipe asks
}

export const DEFAULT_DATA: DataSection = {tokenizer: 'byte260'}

const posInt = {type: 'integer', minimum: 1}
const nonNegInt = {type: 'integer', minimum: 0}
const nullable = (s: object) => ({anyOf: [s, {type: 'null'}]})

/** JSON Schema of the sections golf's training loop owns. */
export const RECIPE_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  properties: {
    name: {type: 'string'},
    description: {type: 'string'},
    extends: {type: 'string'},
    objective: {
      type: 'object',
      additionalProperties: false,
      properties: {
        kind: {enum: ['ar', 'mdlm', 'bd3lm']},
        block_size: nullable(posInt),
        noise_eps: {type: 'number', minimum: 0, exclusiveMaximum: 1},
        sampling_eps: {type: 'number', exclusiveMinimum: 0, exclusiveMaximum: 1},
        train_interval: nullable({type: 'array', minItems: 2, maxItems: 2, items: {type: 'number', exclusiveMinimum: 0, maximum: 1}}),
        shift: {type: 'boolean'},
        train_estimator: {enum: ['time', 'count']},
        clean_gradient: {type: 'boolean'},
      },
    },
    model: {type: 'object'},
    optim: {type: 'object'},
    train: {
      type: 'object',
      additionalProperties: false,
      properties: {
        seq_len: {type: 'integer', minimum: 8},
        batch_tokens: posInt,
        micro_batch_tokens: posInt,
        max_steps: posInt,
        max_wallclock_seconds: nullable({type: 'number', exclusiveMinimum: 0}),
        warmup_steps: nonNegInt,
        warmdown_iters: nullable(nonNegInt),
        warmdown_frac: nullable({type: 'number', minimum: 0, maximum: 1}),
        seq_len_start: nullable({type: 'integer', minimum: 8}),
        seq_len_warmup_steps: nonNegInt,
        log_every: posInt,
        eval_every: nonNegInt,
        val_tokens: nullable(posInt),
        checkpoint_every: nonNegInt,
        z_loss: {type: 'number', minimum: 0},
        workers: {anyOf: [posInt, {enum: ['auto']}]},
        recompute: {anyOf: [{type: 'boolean'}, {enum: ['auto']}]},
      },
    },
    quant: {
      type: 'object',
      additionalProperties: false,
      properties: {
        mode: {enum: ['ternary', 'none']},
        group_size: {anyOf: [posInt, {enum: ['row', 'tensor']}]},
        scale_format: {enum: [...SCALE_FORMATS]},
        zero_correction: {type: 'boolean'},
        start_frac: {type: 'number', minimum: 0, maximum: 1},
        targets: {type: 'array', items: {type: 'string', minLength: 1}},
        float_format: {enum: [...FLOAT_STORE_FORMATS]},
      },
    },
    eval: {
      type: 'object',
      additionalProperties: false,
      properties: {
        val_tokens: nullable(posInt),
        sliding_stride: nullable(posInt),
        batch_seqs: posInt,
        elbo_steps: nonNegInt,
        elbo_samples: posInt,
        elbo_seed: nonNegInt,
        score: {enum: [...DIFFUSION_SCORES]},
        kv_cache: nullable({
          type: 'object',
          additionalProperties: false,
          required: ['bits'],
          properties: {bits: {enum: [...KV_BITS]}, group: posInt, residual: nonNegInt},
        }),
      },
    },
    data: {
      type: 'object',
      additionalProperties: false,
      properties: {tokenizer: {enum: ['byte260']}},
    },
    // a preset or a list of stages: checked by resolveActivationStages, whose messages name the stage
    activations: {},
  },
} as const

const ajv = new Ajv({allErrors: true, strict: true})
const validateSchema = ajv.compile(RECIPE_SCHEMA)

/** ajv's error → `train.seq_len must be …, got …`. */
function describeSchemaError(err: ErrorObject, doc: unknown): string {
  const path = err.instancePath.split('/').filter(Boolean)
  let value: unknown = doc
  for (const p of path) value = (value as Record<string, unknown> | undefined)?.[p]
  const key = path.join('.')
  if (err.keyword === 'additionalProperties') {
    const extra = (err.params as {additionalProperty: string}).additionalProperty
    const known = Object.keys(schemaAt(path)?.properties ?? {})
    return `unknown key ${key ? key + '.' : ''}${extra}${known.length ? ` (known: ${known.join(', ')})` : ''}`
  }
  const got = ` got ${JSON.stringify(value)}`
  if (err.keyword === 'enum') return `${key} must be one of ${(err.params as {allowedValues: unknown[]}).allowedValues.map((v) => JSON.stringify(v)).join(', ')},${got}`
  if (err.keyword === 'anyOf') return `${key} has the wrong kind of value (${describeAnyOf(path)}),${got}`
  return `${key || 'recipe'} ${err.message ?? 'is invalid'},${got}`
}

function schemaAt(path: string[]): {properties?: Record<string, unknown>} | undefined {
  let s: unknown = RECIPE_SCHEMA
  for (const p of path) s = (s as {properties?: Record<string, unknown>}).properties?.[p]
  return s as {properties?: Record<string, unknown>} | undefined
}

function describeAnyOf(path: string[]): string {
  const s = schemaAt(path) as {anyOf?: Array<Record<string, unknown>>} | undefined
  return (s?.anyOf ?? [])
    .map((alt) => (alt.enum ? (alt.enum as unknown[]).map((v) => JSON.stringify(v)).join(' or ') : alt.type === 'null' ? 'null' : `${alt.type}${alt.minimum !== undefined ? ` >= ${alt.minimum}` : ''}`))
    .join(', or ')
}

/** Names of the recipes that ship in `recipes/`. */
export function builtinRecipeNames(): string[] {
  const dir = recipesDir()
  if (!existsSync(dir)) return []
  return readdirSync(dir)
    .filter((f) => f.endsWith('.yaml'))
    .map((f) => basename(f, '.yaml'))
    .sort()
}

/** A recipe argument is a built-in name or a path to a YAML file. */
export function locateRecipe(nameOrPath: string): string {
  if (/\.ya?ml$/i.test(nameOrPath) || nameOrPath.includes('/') || nameOrPath.includes('\\')) {
    if (!existsSync(nameOrPath)) throw new InputError(`recipe file not found: ${oneLine(nameOrPath)}`)
    return nameOrPath
  }
  const path = join(recipesDir(), `${nameOrPath}.yaml`)
  if (!existsSync(path)) {
    throw new InputError(`unknown recipe "${oneLine(nameOrPath)}" (built-in: ${builtinRecipeNames().join(', ')}; or give a path to a .yaml file)`)
  }
  return path
}

/** Largest recipe file read (built-in ones are a few KB): refused before reading. */
export const MAX_RECIPE_BYTES = 1 << 20

function readYaml(path: string): Record<string, unknown> {
  // One InputError line for a missing, unreadable or oversized file (yaml itself caps alias
  // expansion, so a small file cannot blow up once parsed).
  const text = decodeUtf8(readInputFile(path, 'recipe', {maxBytes: MAX_RECIPE_BYTES}), `recipe ${path}`)
  let doc: unknown
  try {
    doc = parseYaml(text)
  } catch (err) {
    const msg = err instanceof YAMLParseError ? err.message.split('\n')[0] : (err as Error).message
    throw new InputError(`recipe ${path}: not valid YAML: ${msg}`)
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) throw new InputError(`recipe ${path}: expected a mapping of sections (model, train, …)`)
  return doc as Record<string, unknown>
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v)
}

/** Deep merge: objects merge key by key, anything else (arrays included) replaces. */
export function deepMerge(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {...base}
  for (const [k, v] of Object.entries(over)) {
    const merged = isPlainObject(v) && Object.hasOwn(out, k) && isPlainObject(out[k]) ? deepMerge(out[k] as Record<string, unknown>, v) : v
    // a key named __proto__ (YAML makes it an own key) stays a key, which validation refuses, instead of becoming the prototype
    Object.defineProperty(out, k, {value: merged, enumerable: true, writable: true, configurable: true})
  }
  return out
}

/** Names that are not recipe keys but would reach JavaScript's object machinery (prototype pollution). */
const FORBIDDEN_KEYS: readonly string[] = ['__proto__', 'constructor', 'prototype']

/** Recipe keys that are settings themselves, not sections: `--set activations=a4.8`. */
const TOP_LEVEL_SETTINGS: readonly string[] = ['activations']

/**
 * `--set a.b=value` overrides: the value is parsed as YAML (numbers, booleans, null, lists),
 * the key must have a section and a name.
 */
export function parseOverrides(sets: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const s of sets) {
    const eq = s.indexOf('=')
    if (eq <= 0) throw new InputError(`--set ${oneLine(s)}: expected key=value, e.g. --set model.model_dim=256`)
    const key = s.slice(0, eq).trim()
    const raw = s.slice(eq + 1)
    const parts = key.split('.')
    if ((parts.length < 2 && !TOP_LEVEL_SETTINGS.includes(key)) || parts.some((p) => p === '')) throw new InputError(`--set ${oneLine(s)}: the key must name a section and a setting, e.g. train.seq_len (or one of ${TOP_LEVEL_SETTINGS.join(', ')})`)
    const forbidden = parts.find((p) => FORBIDDEN_KEYS.includes(p))
    if (forbidden !== undefined) throw new InputError(`--set ${oneLine(s)}: "${forbidden}" is not a recipe key`)
    let value: unknown
    try {
      value = parseYaml(raw)
    } catch {
      value = raw
    }
    let node = out
    for (const p of parts.slice(0, -1)) {
      if (!Object.hasOwn(node, p) || !isPlainObject(node[p])) node[p] = {}
      node = node[p] as Record<string, unknown>
    }
    node[parts[parts.length - 1]] = value === undefined ? null : value
  }
  return out
}

/** The file `extends: <name>` in the recipe at `path` names: beside it, else a built-in recipe. */
function extendedPath(path: string, name: string): string {
  return existsSync(join(path, '..', name)) ? join(path, '..', name) : locateRecipe(name)
}

/** The files `loadRecipe(nameOrPath)` reads: the recipe and the one it extends (what an --out may not overwrite). */
export function recipeFiles(nameOrPath: string): string[] {
  const path = locateRecipe(nameOrPath)
  const doc = readYaml(path)
  return typeof doc.extends === 'string' ? [path, extendedPath(path, doc.extends)] : [path]
}

/**
 * Read a recipe (name or path), apply `extends` (one level of a built-in or relative recipe),
 * apply overrides, merge onto defaults and validate.
 */
export function loadRecipe(nameOrPath: string, sets: readonly string[] = []): ResolvedRecipe {
  const path = locateRecipe(nameOrPath)
  let doc = readYaml(path)
  const where = `recipe ${basename(path)}`
  if (typeof doc.extends === 'string') {
    const parentPath = extendedPath(path, doc.extends)
    const parent = readYaml(parentPath)
    if (parent.extends !== undefined) throw new InputError(`${where}: extends ${doc.extends}, which extends again (one level only)`)
    doc = deepMerge(parent, doc)
    delete doc.extends
  }
  return resolveRecipe(doc, {where, name: basename(path, extname(path)), sets})
}

/** Validate and complete a recipe document (already parsed). */
export function resolveRecipe(doc: Record<string, unknown>, opts: {where?: string; name?: string; sets?: readonly string[]} = {}): ResolvedRecipe {
  const where = opts.where ?? 'recipe'
  const merged = opts.sets && opts.sets.length > 0 ? deepMerge(doc, parseOverrides(opts.sets)) : doc
  // YAML's .inf / .nan are numbers to the schema (and JSON.stringify shows them as null): refuse them by name first
  const inf = findNonFinite(merged)
  if (inf !== null) throw new InputError(`${where}: ${inf.path} must be a finite number, got ${inf.value}`)
  if (!validateSchema(merged)) {
    // The deepest errors say most (a bad key inside a nullable section beats "wrong kind of
    // value" for the section); among them, anyOf reports each failed alternative first and the
    // anyOf error itself says more.
    const all = validateSchema.errors ?? []
    const depth = (e: ErrorObject) => e.instancePath.split('/').length
    const deepest = Math.max(...all.map(depth))
    const errors = all.filter((e) => depth(e) === deepest)
    const err = errors.find((e) => e.keyword === 'additionalProperties') ?? errors.find((e) => e.keyword === 'anyOf') ?? errors[0]
    throw new InputError(`${where}: ${err ? oneLine(describeSchemaError(err, merged)) : 'invalid'}`) // keys are quoted as written, control characters too
  }
  const section = (k: string) => (isPlainObject(merged[k]) ? (merged[k] as Record<string, unknown>) : {})
  const wrap = <T>(fn: () => T): T => {
    try {
      return fn()
    } catch (err) {
      if (err instanceof InputError) throw new InputError(`${where}: ${oneLine(err.message)}`)
      throw err
    }
  }
  const model = wrap(() => resolveModelConfig(section('model'), 'model'))
  const optim = wrap(() => resolveOptimConfig(section('optim'), 'optim'))
  const train = {...DEFAULT_TRAIN_CONFIG, ...section('train')} as TrainConfig
  const quant = {...DEFAULT_QUANT, ...section('quant')} as QuantSection
  const evalRaw = {...DEFAULT_EVAL, ...section('eval')} as Omit<EvalConfig, 'kv_cache'> & {kv_cache: {bits: KVBits; group?: number; residual?: number} | null}
  const evalCfg: EvalConfig = {...evalRaw, kv_cache: wrap(() => resolveKVCache(evalRaw.kv_cache))}
  const data = {...DEFAULT_DATA, ...section('data')} as DataSection
  const objective = {...DEFAULT_OBJECTIVE, ...section('objective')} as ObjectiveConfig
  const activations = wrap(() => resolveActivationStages(merged.activations))
  const resolved: ResolvedRecipe = {
    name: typeof merged.name === 'string' ? merged.name : (opts.name ?? 'recipe'),
    description: typeof merged.description === 'string' ? merged.description : '',
    objective,
    model,
    quant,
    optim,
    train,
    eval: evalCfg,
    data,
    activations,
  }
  checkCrossFields(resolved, where)
  return resolved
}

/** `activations:` as written → stages, in order, each starting strictly later. */
function resolveActivationStages(v: unknown): ActivationStage[] {
  if (v === undefined || v === null) return []
  if (typeof v === 'string') return [{from: 0, from_step: null, sites: parseSites(v, 'activations')}]
  if (!Array.isArray(v)) throw new InputError(`activations must be a preset name or a list of stages ({from | from_step, sites}), got ${JSON.stringify(v)}`)
  const stages = v.map((raw: unknown, i): ActivationStage => {
    const where = `activations[${i}]`
    if (!isPlainObject(raw)) throw new InputError(`${where} must be a mapping {from | from_step, sites}, got ${JSON.stringify(raw)}`)
    for (const k of Object.keys(raw)) if (!['from', 'from_step', 'sites'].includes(k)) throw new InputError(`${where}: unknown key "${k}" (known: from, from_step, sites)`)
    // null is absent: a resolved stage (config.json's recipe, read back on --resume) writes the other one as null
    const st = {from: raw.from ?? undefined, from_step: raw.from_step ?? undefined, sites: raw.sites}
    if ((st.from === undefined) === (st.from_step === undefined)) throw new InputError(`${where}: give exactly one of from (a fraction of the run in [0, 1)) and from_step`)
    if (st.from !== undefined && !(typeof st.from === 'number' && st.from >= 0 && st.from < 1)) throw new InputError(`${where}.from must be a fraction of the run in [0, 1), got ${JSON.stringify(st.from)}`)
    if (st.from_step !== undefined && !(Number.isInteger(st.from_step) && (st.from_step as number) >= 0)) throw new InputError(`${where}.from_step must be an integer >= 0, got ${JSON.stringify(st.from_step)}`)
    if (st.sites === undefined) throw new InputError(`${where}: sites is required (a preset or a map of sites)`)
    return {from: (st.from as number | undefined) ?? null, from_step: (st.from_step as number | undefined) ?? null, sites: parseSites(st.sites, `${where}.sites`)}
  })
  const byStep = stages.filter((st) => st.from_step !== null).length
  if (byStep !== 0 && byStep !== stages.length) throw new InputError('activations: every stage starts at a fraction (from) or every stage at a step (from_step), not a mix')
  for (let i = 1; i < stages.length; i++) {
    const [a, b] = [stages[i - 1], stages[i]]
    if ((b.from ?? b.from_step!) <= (a.from ?? a.from_step!)) throw new InputError(`activations[${i}] must start after activations[${i - 1}] (${a.from ?? `step ${a.from_step}`} → ${b.from ?? `step ${b.from_step}`})`)
  }
  return stages
}

/** eval.kv_cache as written → the cache's config (groups and residual default as golf eval's flags). */
function resolveKVCache(v: {bits: KVBits; group?: number; residual?: number} | null): KVQuantConfig | null {
  if (v === null) return null
  if (v.bits === 16) {
    // group 1, residual 0: how the resolved cache records it (config.json's recipe, read back)
    if ((v.group !== undefined && v.group !== 1) || (v.residual !== undefined && v.residual !== 0)) throw new InputError('eval.kv_cache: bits 16 stores every key and value as fp16: it takes no group or residual')
    return {bits: 16, group: 1, residual: 0}
  }
  return {bits: v.bits, group: v.group ?? KV_DEFAULT_GROUP, residual: v.residual ?? KV_DEFAULT_RESIDUAL}
}

function checkCrossFields(r: ResolvedRecipe, where: string): void {
  const fail = (msg: string): never => {
    throw new InputError(`${where}: ${msg}`)
  }
  const t = r.train
  if (t.batch_tokens % t.micro_batch_tokens !== 0) fail(`train.batch_tokens (${t.batch_tokens}) must be a multiple of train.micro_batch_tokens (${t.micro_batch_tokens})`)
  if (t.micro_batch_tokens % t.seq_len !== 0) fail(`train.micro_batch_tokens (${t.micro_batch_tokens}) must be a multiple of train.seq_len (${t.seq_len})`)
  if (t.seq_len_start !== null && t.seq_len_start > t.seq_len) fail(`train.seq_len_start (${t.seq_len_start}) must not exceed train.seq_len (${t.seq_len})`)
  if (r.eval.sliding_stride !== null && r.eval.sliding_stride > t.seq_len) fail(`eval.sliding_stride (${r.eval.sliding_stride}) must not exceed train.seq_len (${t.seq_len})`)
  const o = r.objective
  if (o.kind === 'bd3lm') {
    if (o.block_size === null) fail('objective.block_size is required for bd3lm (e.g. 4, 8 or 16)')
    for (const [key, T] of [['train.seq_len', t.seq_len], ['train.seq_len_start', t.seq_len_start]] as const) {
      if (T !== null && T % o.block_size! !== 0) fail(`objective.block_size ${o.block_size} must divide ${key} (${T})`)
    }
    // the sequence warmup may pick any divisor of seq_len from seq_len_start up: each must hold whole blocks
    if (t.seq_len_start !== null) {
      for (let d = t.seq_len_start; d <= t.seq_len; d++) {
        if (t.seq_len % d === 0 && d % o.block_size! !== 0) fail(`objective.block_size ${o.block_size} must divide every length the sequence warmup can pick; ${d} (a divisor of train.seq_len ${t.seq_len} above train.seq_len_start ${t.seq_len_start}) is not a multiple`)
      }
    }
  } else if (o.block_size !== null) fail(`objective.block_size is for bd3lm only (objective.kind is ${o.kind})`)
  if (o.kind === 'ar' && o.shift !== undefined) fail('objective.shift is for mdlm and bd3lm (an ar model predicts each token from the one before it already)')
  if (o.kind !== 'bd3lm' && o.clean_gradient !== undefined) fail(`objective.clean_gradient is for bd3lm (the clean copy [x_0] its noisy blocks attend to; ${o.kind} has none)`)
  if (o.kind === 'ar' && o.train_estimator !== undefined) fail('objective.train_estimator is for mdlm and bd3lm (the noise a diffusion objective trains on)')
  if (o.train_interval && !(o.train_interval[0] < o.train_interval[1])) fail(`objective.train_interval [${o.train_interval.join(', ')}] must be [lo, hi] with lo < hi`)
  if (o.train_estimator === 'count' && o.train_interval) fail(`objective.train_interval [${o.train_interval.join(', ')}] clips the time t of train_estimator time, and this objective's estimator is count (it draws the number of masked tokens, no t): add objective.train_estimator=time to train on a clipped interval`)
  const kv = r.eval.kv_cache
  if (kv && o.kind === 'mdlm') fail('eval.kv_cache: mdlm denoises the whole sequence as one bidirectional block; there is no KV cache to quantize')
  const headDim = r.model.model_dim / r.model.num_heads
  if (kv && kv.bits !== 16 && headDim % kv.group !== 0) fail(`eval.kv_cache.group ${kv.group} must divide the head dimension ${headDim} (values are quantized in groups of that many channels of one head)`)
  if (o.kind === 'ar' && r.eval.score !== undefined) fail(`eval.score is for mdlm and bd3lm (the bound or the chain rule of a diffusion model); an ar model is scored by its likelihood`)
  // MDLM's one block is the whole window: its chain costs seq_len forwards per window, in every evaluation of the run
  if (o.kind === 'mdlm' && r.eval.score === 'chain') fail(`eval.score chain is for bd3lm: an mdlm model's chain rule costs seq_len (${r.train.seq_len}) forward passes per window, ${r.train.seq_len}× its one-draw ELBO, in every evaluation of the run; score a slice with golf eval --mode chain --val-tokens N`)
  if (o.kind !== 'ar' && r.eval.sliding_stride !== null) fail(`eval.sliding_stride is for ar (next-token) models; ${o.kind} is scored by its ELBO`)
  if (typeof r.quant.group_size === 'number') {
    const ins = [r.model.model_dim, r.model.mlp_mult * r.model.model_dim]
    for (const n of ins) if (n % r.quant.group_size !== 0) fail(`quant.group_size ${r.quant.group_size} must divide every ternary matrix's input width (${n} is not a multiple)`)
  }
}

/** The quantizer settings in the shape `src/quant` takes. */
export function ternaryConfigOf(q: QuantSection): TernaryConfig {
  return {groupSize: q.group_size, scaleFormat: q.scale_format, zeroCorrection: q.zero_correction}
}

/** A recipe's objective (recipes written before objectives existed are autoregressive). */
export function objectiveConfigOf(r: Pick<ResolvedRecipe, 'objective'> | {objective?: ObjectiveConfig}): ObjectiveConfig {
  return r.objective ?? DEFAULT_OBJECTIVE
}
