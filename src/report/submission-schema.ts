/**
 * `submission.json` as merged Parameter Golf entries write it (GOLF.md): author, github_id,
 * name, blurb, date (ISO 8601), val_loss, val_bpb, bytes_total, bytes_code; non-record entries
 * add seeds, seed_results, step_stop, wallclock_seconds, hardware, non_record_reason and
 * val_bpb_std. Extra keys are allowed (entries add their own, e.g. bytes_model); the ones golf
 * writes are typed here, among them `val_coverage` (how much of the validation split the score
 * read: a partial one is not the official metric) and `significance` (both record rules).
 *
 * A diffusion entry's val_bpb / val_loss are its negative ELBO, an upper bound on the NLL; it
 * says so with `bound: "upper"`, `elbo_steps` and `objective`, and repeats the number as
 * `val_var_bpb`, the name the challenge's published masked-diffusion entry used for the
 * variational bound.
 */
import {Ajv, type ErrorObject} from 'ajv'

import type {Significance, WelchVsRecord} from './stats.js'

export interface SeedResult {
  seed: number
  val_loss: number
  val_bpb: number
  steps: number
  train_time_ms: number
  /** Artifact bytes of this seed's packed model, when it was packed. */
  bytes_model: number | null
}

export interface Submission {
  author: string
  github_id: string
  name: string
  blurb: string
  /** ISO 8601 date-time (UTC). */
  date: string
  track: 'record' | 'non-record'
  val_loss: number
  val_bpb: number
  /** A bound's val_bpb again (diffusion entries). */
  val_var_bpb?: number
  /** val_loss / val_bpb are upper bounds on the NLL (a diffusion model's negative ELBO). */
  bound?: 'upper'
  /** Denoising steps T of the bound (0 = continuous time). */
  elbo_steps?: number
  /** The objective trained (written for diffusion entries; absent = ar). */
  objective?: 'ar' | 'mdlm' | 'bd3lm'
  bytes_total: number
  bytes_code: number
  bytes_model: number
  /** Mean over the seeds (present with ≥ 2 seeds). */
  val_bpb_mean?: number
  val_bpb_std?: number
  seeds?: number[]
  seed_results?: SeedResult[]
  step_stop?: number
  wallclock_seconds?: number
  hardware?: string
  non_record_reason?: string
  /** How much of the validation split the headline val_bpb was scored on (absent: not recorded). */
  val_coverage?: {read_tokens: number; split_tokens: number; partial: boolean}
  /**
   * The record rules (with --sota): the README's (Δ ≥ margin_nats at p < alpha: `record`) and,
   * with the previous record's seeds, the leaderboard's one-sided Welch test (`welch.passes`).
   */
  significance?: Pick<Significance, 'sota_bpb' | 'threshold_loss' | 'delta_nats' | 'margin_nats' | 'alpha' | 't' | 'dof' | 'p' | 'record'> & {
    welch?: Pick<WelchVsRecord, 'sota_seeds_bpb' | 'delta_bpb' | 't' | 'dof' | 'p' | 'alpha' | 'passes'>
  }
}

const num = {type: 'number'}
const numOrNull = {anyOf: [num, {type: 'null'}]}
const probability = {type: 'number', minimum: 0, maximum: 1}
const probabilityOrNull = {anyOf: [probability, {type: 'null'}]}
const nonNegInt = {type: 'integer', minimum: 0}
const nonEmpty = {type: 'string', minLength: 1}
/** ISO 8601 date or date-time: 2026-03-19, 2026-03-19T08:45:00Z, 2026-03-19T08:45:00.000+01:00. */
export const ISO_8601 = '^\\d{4}-\\d{2}-\\d{2}(T\\d{2}:\\d{2}(:\\d{2}(\\.\\d+)?)?(Z|[+-]\\d{2}:?\\d{2})?)?$'

export const SUBMISSION_SCHEMA = {
  type: 'object',
  required: ['author', 'github_id', 'name', 'blurb', 'date', 'val_loss', 'val_bpb', 'bytes_total', 'bytes_code'],
  properties: {
    author: nonEmpty,
    github_id: nonEmpty,
    name: nonEmpty,
    blurb: {type: 'string'},
    date: {type: 'string', pattern: ISO_8601},
    track: {enum: ['record', 'non-record']},
    val_loss: {type: 'number', exclusiveMinimum: 0},
    val_bpb: {type: 'number', exclusiveMinimum: 0},
    val_var_bpb: {type: 'number', exclusiveMinimum: 0},
    bound: {const: 'upper'},
    elbo_steps: nonNegInt,
    objective: {enum: ['ar', 'mdlm', 'bd3lm']},
    bytes_total: nonNegInt,
    bytes_code: nonNegInt,
    bytes_model: nonNegInt,
    val_bpb_mean: num,
    val_bpb_std: {type: 'number', minimum: 0},
    seeds: {type: 'array', items: {type: 'integer'}, minItems: 1},
    seed_results: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        required: ['seed', 'val_loss', 'val_bpb'],
        properties: {
          seed: {type: 'integer'},
          val_loss: num,
          val_bpb: num,
          steps: nonNegInt,
          train_time_ms: {type: 'number', minimum: 0},
          bytes_model: {anyOf: [nonNegInt, {type: 'null'}]},
        },
      },
    },
    step_stop: nonNegInt,
    wallclock_seconds: {type: 'number', minimum: 0},
    hardware: {type: 'string'},
    non_record_reason: {type: 'string'},
    val_coverage: {
      type: 'object',
      required: ['read_tokens', 'split_tokens', 'partial'],
      properties: {read_tokens: nonNegInt, split_tokens: nonNegInt, partial: {type: 'boolean'}},
    },
    significance: {
      type: 'object',
      required: ['sota_bpb', 'threshold_loss', 'delta_nats', 'margin_nats', 'alpha', 't', 'dof', 'p', 'record'],
      properties: {
        sota_bpb: num,
        threshold_loss: num,
        delta_nats: num,
        margin_nats: num,
        alpha: probability,
        t: numOrNull,
        dof: numOrNull,
        p: probabilityOrNull,
        record: {type: 'boolean'},
        welch: {
          type: 'object',
          required: ['sota_seeds_bpb', 'delta_bpb', 't', 'dof', 'p', 'alpha', 'passes'],
          properties: {sota_seeds_bpb: {type: 'array', items: {type: 'number', exclusiveMinimum: 0}, minItems: 1}, delta_bpb: num, t: numOrNull, dof: numOrNull, p: probabilityOrNull, alpha: probability, passes: {type: 'boolean'}},
        },
      },
    },
  },
  // a non-record entry carries its seeds and how it was run
  allOf: [
    {if: {properties: {track: {const: 'non-record'}}, required: ['track']}, then: {required: ['seeds', 'seed_results', 'step_stop', 'wallclock_seconds', 'hardware', 'non_record_reason']}},
    // a bound says how it was computed, and only a diffusion model's score is one
    {if: {required: ['bound']}, then: {required: ['val_var_bpb', 'elbo_steps', 'objective'], properties: {objective: {enum: ['mdlm', 'bd3lm']}}}},
    // the bound's own fields never appear without it
    {if: {anyOf: [{required: ['val_var_bpb']}, {required: ['elbo_steps']}]}, then: {required: ['bound']}},
  ],
} as const

const ajv = new Ajv({allErrors: true, strict: false})
const validate = ajv.compile(SUBMISSION_SCHEMA)

/** Problems with a submission.json document, one line each (empty when valid). */
export function validateSubmission(doc: unknown): string[] {
  const problems: string[] = []
  // `if` only reports that its `then` failed; the failure itself is listed too
  if (!validate(doc)) problems.push(...(validate.errors ?? []).filter((e) => e.keyword !== 'if').map(describe))
  const d = doc as Partial<Submission> | null
  if (problems.length === 0 && d && typeof d.bytes_model === 'number' && d.bytes_total !== d.bytes_code! + d.bytes_model) {
    problems.push(`bytes_total ${d.bytes_total} is not bytes_code ${d.bytes_code} + bytes_model ${d.bytes_model}`)
  }
  if (problems.length === 0 && d && d.val_coverage && d.val_coverage.partial !== d.val_coverage.read_tokens < d.val_coverage.split_tokens) {
    problems.push(`val_coverage.partial ${d.val_coverage.partial} does not match read_tokens ${d.val_coverage.read_tokens} of split_tokens ${d.val_coverage.split_tokens}`)
  }
  if (problems.length === 0 && d && d.val_var_bpb !== undefined && d.val_var_bpb !== d.val_bpb) problems.push(`val_var_bpb ${d.val_var_bpb} is not val_bpb ${d.val_bpb} (both are the bound)`)
  if (problems.length === 0 && d && typeof d.date === 'string' && Number.isNaN(Date.parse(d.date))) problems.push(`date ${JSON.stringify(d.date)} is not a real date`)
  return problems
}

function describe(err: ErrorObject): string {
  const key = err.instancePath.split('/').filter(Boolean).join('.') || 'submission'
  if (err.keyword === 'required') return `${key === 'submission' ? '' : key + '.'}${(err.params as {missingProperty: string}).missingProperty} is missing`
  return `${key} ${err.message ?? 'is invalid'}`
}
