/**
 * The JSON files of a run folder, checked when they are read back: `config.json`,
 * `checkpoint.json` (the checkpoint sidecar) and `summary.json`. A run folder is something a
 * user hands us (copied, edited, from another golf version), so each field golf uses is typed
 * here, and a wrong one is one InputError line naming the file and the field, instead of a
 * TypeError deep inside a command. Extra keys are allowed (later golf versions add fields).
 *
 * One schema per shape: the resolved recipe inside config.json is checked by the recipe's own
 * resolver (src/recipe/recipe.ts), the model config of a checkpoint by the model's
 * (src/model/config.ts), the quantizer settings by the recipe schema's `quant` section.
 */
import {Ajv, type ErrorObject} from 'ajv'

import {InputError} from '../errors.js'
import {oneLine, showPath} from '../io/read.js'
import {resolveModelConfig} from '../model/config.js'
import {CHECKPOINT_FORMAT, CHECKPOINT_VERSION} from './checkpoint.js'
import {RECIPE_SCHEMA, resolveRecipe} from '../recipe/recipe.js'

const num = {type: 'number'}
const int = {type: 'integer'}
const nonNegInt = {type: 'integer', minimum: 0}
const posInt = {type: 'integer', minimum: 1}
const nonNegNum = {type: 'number', minimum: 0}
const str = {type: 'string'}
const obj = {type: 'object'}
const orNull = (s: object) => ({anyOf: [s, {type: 'null'}]})
const digest = {type: 'object', required: ['bytes', 'sha256'], properties: {bytes: nonNegInt, sha256: {type: 'string', pattern: '^[0-9a-f]{64}$'}}}

/** config.json: the resolved recipe and what the run was trained on. */
export const RUN_CONFIG_SCHEMA = {
  type: 'object',
  required: ['recipe', 'seed', 'data', 'tokenizer', 'vocab_size', 'backend'],
  properties: {recipe: obj, seed: int, data: str, tokenizer: str, vocab_size: posInt, backend: str, init_from: str},
} as const

/** checkpoint.json: the sidecar (src/run/checkpoint.ts CheckpointMeta). */
export const CHECKPOINT_META_SCHEMA = {
  type: 'object',
  required: ['format', 'version', 'recipe', 'seed', 'step', 'train_time_ms', 'tokens_seen', 'stream', 'model', 'quant', 'ternary_tensors', 'files'],
  properties: {
    format: str,
    version: int,
    recipe: str,
    seed: int,
    step: nonNegInt,
    train_time_ms: nonNegNum,
    tokens_seen: nonNegNum,
    stream: {type: 'object', required: ['file', 'pos'], properties: {file: nonNegInt, pos: nonNegInt}},
    model: obj,
    quant: {type: 'object', required: ['mode', 'active'], properties: {...RECIPE_SCHEMA.properties.quant.properties, active: {type: 'boolean'}}},
    activations: {type: 'object', required: ['stage', 'sites', 'stages'], properties: {stage: nonNegInt, sites: obj, stages: {type: 'array', items: obj}}},
    ternary_tensors: {type: 'array', items: str},
    backend: str,
    files: {type: 'object', required: ['weights', 'optimizer'], properties: {weights: digest, optimizer: digest}},
  },
} as const

/** summary.json: the result of a run (src/run/folder.ts RunSummary); the ledger checks what relates fields. */
export const RUN_SUMMARY_SCHEMA = {
  type: 'object',
  required: ['seed', 'steps', 'train_time_ms', 'step_avg_ms', 'val_loss', 'val_bpb'],
  properties: {
    run_id: str,
    recipe: str,
    seed: int,
    steps: nonNegInt,
    max_steps: nonNegInt,
    train_time_ms: nonNegNum,
    eval_time_ms: nonNegNum,
    step_avg_ms: nonNegNum,
    tokens_seen: nonNegNum,
    tokens_per_s: nonNegNum,
    val_loss: num,
    val_bpb: num,
    val_tokens: nonNegInt,
    val_bytes: nonNegInt,
    val_coverage: obj,
    objective: {enum: ['ar', 'mdlm', 'bd3lm']},
    bound: {type: 'boolean'},
    elbo: orNull(obj),
    sliding: orNull({type: 'object', required: ['stride', 'val_loss', 'val_bpb'], properties: {stride: posInt, val_loss: num, val_bpb: num}}),
    kv_cache: orNull(obj),
    backend: str,
    params: {type: 'object', properties: {total: nonNegInt, ternary: nonNegInt, other: nonNegInt}},
    quant: {type: 'object', properties: {mode: str, active: {type: 'boolean'}}},
    activations: obj,
    dataset: str,
    tokenizer: str,
    vocab_size: posInt,
    stopped_by: {enum: ['max_steps', 'wallclock', 'interrupted']},
    started_at: str,
    finished_at: str,
    hardware: str,
    note: str,
    tags: {type: 'array', items: str},
    baseline: orNull(str),
  },
} as const

export type RunJsonFile = 'config' | 'summary' | 'checkpointMeta'

const ajv = new Ajv({allErrors: true, strict: false})
const validators = {config: ajv.compile(RUN_CONFIG_SCHEMA), summary: ajv.compile(RUN_SUMMARY_SCHEMA), checkpointMeta: ajv.compile(CHECKPOINT_META_SCHEMA)}

const article = (type: string) => (/^[aeiou]/.test(type) ? `an ${type}` : `a ${type}`)

/** ajv's error → `seed must be an integer, got "x"` (keys as dotted paths, as recipe messages name them). */
function describe(err: ErrorObject, doc: unknown): string {
  const path = err.instancePath.split('/').filter(Boolean)
  let value: unknown = doc
  for (const p of path) value = (value as Record<string, unknown> | undefined)?.[p]
  const key = path.join('.')
  if (err.keyword === 'required') return `${key ? key + '.' : ''}${(err.params as {missingProperty: string}).missingProperty} is missing`
  const what = key || 'the document'
  const got = `got ${oneLine(JSON.stringify(value) ?? String(value), 80)}`
  if (err.keyword === 'type') return `${what} must be ${article((err.params as {type: string}).type)}, ${got}`
  if (err.keyword === 'enum') return `${what} must be one of ${(err.params as {allowedValues: unknown[]}).allowedValues.map((v) => JSON.stringify(v)).join(', ')}, ${got}`
  if (err.keyword === 'anyOf') return `${what} has the wrong kind of value, ${got}`
  return `${what} ${err.message ?? 'is invalid'}, ${got}`
}

/**
 * Check a parsed run-folder file against its schema (and, for config.json, the recipe in it; for
 * checkpoint.json, its model config). `shown` names the file in the message.
 */
export function checkRunJson<T>(file: RunJsonFile, doc: unknown, shown: string): T {
  const validate = validators[file]
  const where = showPath(shown)
  if (file === 'checkpointMeta') {
    // another file under the sidecar's name, or a sidecar of another version: say so before any field
    const d = doc as {format?: unknown; version?: unknown} | null
    if (d === null || typeof d !== 'object' || Array.isArray(d) || d.format !== CHECKPOINT_FORMAT) throw new InputError(`${where}: not a golf checkpoint sidecar (format ${oneLine(JSON.stringify(d?.format) ?? 'missing', 40)})`)
    if (d.version !== CHECKPOINT_VERSION) throw new InputError(`${where}: checkpoint version ${oneLine(JSON.stringify(d.version) ?? 'missing', 40)} is not supported (this golf reads ${CHECKPOINT_VERSION})`)
  }
  if (!validate(doc)) {
    // a field of the wrong type before a missing one (ajv lists those first); for a value with
    // alternatives (a group size: a number or "row"), the anyOf says more than its first branch
    const errors = validate.errors ?? []
    const first = errors.find((e) => e.keyword !== 'required') ?? errors[0]
    const err = errors.find((e) => e.keyword === 'anyOf' && e.instancePath === first?.instancePath) ?? first
    throw new InputError(`${where}: ${err ? describe(err, doc) : 'invalid'}`)
  }
  const d = doc as unknown as Record<string, unknown>
  const inner = (fn: () => unknown) => {
    try {
      fn()
    } catch (e) {
      if (e instanceof InputError) throw new InputError(`${where}: ${oneLine(e.message)}`)
      throw e
    }
  }
  if (file === 'config') inner(() => resolveRecipe(d.recipe as Record<string, unknown>, {where: 'recipe'}))
  if (file === 'checkpointMeta') inner(() => resolveModelConfig(d.model as Record<string, unknown>, 'model'))
  return doc as T
}
