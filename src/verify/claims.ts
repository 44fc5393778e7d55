/**
 * What a submission's metadata claims, read from every shape the merged records use, into one
 * form the checks compare with the logs and the files:
 *
 * - early entries: `bytes_total`, `bytes_code`, `val_loss`, `val_bpb` (a mean over seeds or one run);
 * - later ones: `track`, `seeds`, `seed_results` as a list (`[{seed, val_bpb, artifact_bytes, …}]`)
 *   or as an object keyed by seed (`{"42": {val_bpb, …}}`), `artifact_bytes_mean`/`_max`,
 *   `*_std`, a `compliance_rerun` block with seed results of its own, `submission_type`;
 * - diffusion entries: `val_var_bpb` and/or `bound: "upper"` (what golf writes): the scores are
 *   upper bounds on the NLL, never likelihoods;
 * - a score on another estimator or slice than the log's: `val_bpb_estimator`, `val_bpb_slice`,
 *   `val_bpb_alt`.
 *
 * Keys a record added for itself are kept in the document and ignored; a known key with the
 * wrong type is a problem (the claim is malformed), a missing one is not (eras differ).
 */
import {Ajv, type ErrorObject} from 'ajv'

/** ISO 8601 calendar date, optionally with a time and zone: `2026-03-19`, `2026-03-18T00:05:35Z`. */
export function parseIsoDate(s: string): Date | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?(Z|[+-]\d{2}(?::?\d{2})?)?)?$/.exec(s)
  if (!m) return null
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])]
  const day = new Date(Date.UTC(y, mo - 1, d))
  if (day.getUTCFullYear() !== y || day.getUTCMonth() !== mo - 1 || day.getUTCDate() !== d) return null
  if (m[4] !== undefined && (Number(m[4]) > 23 || Number(m[5]) > 59 || Number(m[6] ?? 0) > 60)) return null
  const t = Date.parse(m[4] === undefined ? `${m[1]}-${m[2]}-${m[3]}T00:00:00Z` : s.replace(' ', 'T'))
  return Number.isNaN(t) ? day : new Date(t)
}

/** Keys that make a JSON object read as submission metadata. */
const SUBMISSION_KEYS = ['author', 'github_id', 'name', 'blurb', 'date', 'track', 'val_bpb', 'val_loss', 'val_var_bpb', 'bytes_total', 'bytes_code', 'bytes_model', 'seeds', 'seed_results', 'artifact_bytes_mean', 'artifact_bytes_max', 'val_bpb_mean', 'submission_type', 'non_record_reason', 'hardware']
/** …of which at least one must be a claim to check. */
const CLAIM_KEYS = ['val_bpb', 'val_var_bpb', 'val_bpb_mean', 'bytes_total', 'bytes_code', 'seed_results', 'artifact_bytes_mean', 'artifact_bytes_max']

/** Does a parsed JSON document read as submission metadata (by its fields, whatever the file is called)? */
export function looksLikeSubmission(doc: unknown): doc is Record<string, unknown> {
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) return false
  const keys = Object.keys(doc)
  return keys.filter((k) => SUBMISSION_KEYS.includes(k)).length >= 2 && keys.some((k) => CLAIM_KEYS.includes(k))
}

const nonNegInt = {type: 'integer', minimum: 0}
const num = {type: 'number'}
const str = {type: 'string'}
/** Types of the keys the eras share; nothing is required (the checks say what is missing). seed_results is read by readSeedResults, which reports a shape it cannot read. */
export const SUBMISSION_SCHEMA = {
  type: 'object',
  properties: {
    author: str,
    github_id: str,
    name: str,
    blurb: str,
    date: str,
    track: str,
    val_loss: {type: ['number', 'null']},
    val_bpb: {type: 'number', exclusiveMinimum: 0},
    val_var_bpb: {type: 'number', exclusiveMinimum: 0},
    val_bpb_mean: num,
    bytes_total: nonNegInt,
    bytes_code: nonNegInt,
    bytes_model: nonNegInt,
    artifact_bytes_mean: {type: 'number', minimum: 0},
    artifact_bytes_max: nonNegInt,
    seeds: {type: 'array', items: {type: 'integer'}},
    val_bpb_std: {type: ['number', 'null']},
    step_stop: {type: ['integer', 'null']},
    wallclock_seconds: {type: ['number', 'null']},
    hardware: str,
    non_record_reason: str,
    submission_type: str,
    val_bpb_estimator: str,
    val_bpb_slice: str,
  },
} as const

const ajv = new Ajv({allErrors: true, strict: false})
const validate = ajv.compile(SUBMISSION_SCHEMA)

function schemaError(e: ErrorObject, doc: unknown): string {
  const key = e.instancePath.split('/').filter(Boolean).join('.')
  let value: unknown = doc
  for (const p of e.instancePath.split('/').filter(Boolean)) value = (value as Record<string, unknown>)?.[p]
  return `${key} ${e.message ?? 'is invalid'}, got ${JSON.stringify(value)}`
}

/** One seed's claimed results. */
export interface SeedClaim {
  seed: number
  /** Where: `seed_results[0]`, `seed_results.42`, `compliance_rerun.seed_results[1]`. */
  at: string
  /** From a `compliance_rerun` block (matched preferably to rerun logs). */
  rerun: boolean
  val_bpb: number | null
  /** The key the score came from (`val_bpb`, `val_var_bpb`, `bpb`, …). */
  val_bpb_key: string | null
  val_loss: number | null
  /** Claimed bytes of the seed's artifact or submission, and the key it came from. */
  bytes: number | null
  bytes_key: string | null
}

export interface Claims {
  /** The metadata file, relative to the folder. */
  file: string
  doc: Record<string, unknown>
  /** The claimed score and its key (`val_bpb`, else `val_var_bpb`, else `val_bpb_mean`). */
  val_bpb: number | null
  val_bpb_key: string
  /** `val_var_bpb` when it is there and differs from `val_bpb` (checked on its own). */
  val_var_bpb: number | null
  val_loss: number | null
  /** The scores are upper bounds: `bound: "upper"` or a `val_var_bpb`. */
  bound: boolean
  /** The claim names its own estimator / slice (`val_bpb_estimator`, `val_bpb_slice`). */
  estimator: string | null
  slice: string | null
  /** `val_bpb_alt`: a second score, e.g. the log's estimator. */
  alt: {value: number; what: string | null} | null
  bytes_total: number | null
  bytes_code: number | null
  bytes_model: number | null
  artifact_bytes_mean: number | null
  artifact_bytes_max: number | null
  val_bpb_std: number | null
  /** Seeds listed (`seeds`, and those of the seed results), in order. */
  seeds: number[]
  seed_results: SeedClaim[]
  /** A seed-results value golf could not read (`seed_results is a string`), or null. */
  unreadable: string[]
  track: string | null
  submission_type: string | null
  non_record_reason: string | null
  /** Known keys with the wrong type: the claim is malformed. */
  problems: string[]
}

const numOf = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null)
const strOf = (v: unknown): string | null => (typeof v === 'string' ? v : null)
const seedOf = (v: unknown): number | null => (typeof v === 'number' && Number.isInteger(v) ? v : typeof v === 'string' && /^\d{1,12}$/.test(v) ? Number(v) : null)

const BYTES_KEYS = ['artifact_bytes', 'bytes_total', 'total_bytes', 'submission_bytes', 'bytes_model', 'model_bytes', 'artifact_size', 'size_bytes']

/** The score of a seed-results entry: `val_bpb`, `val_var_bpb`, else the one key that names bpb. */
function scoreOf(o: Record<string, unknown>): {value: number; key: string} | null {
  for (const key of ['val_bpb', 'val_var_bpb', 'bpb', 'final_val_bpb']) {
    const v = numOf(o[key])
    if (v !== null) return {value: v, key}
  }
  const keys = Object.keys(o).filter((k) => /bpb/i.test(k) && !/std|se$|_se_|delta|gap|alt/i.test(k) && numOf(o[k]) !== null)
  return keys.length === 1 ? {value: numOf(o[keys[0]])!, key: keys[0]} : null
}

function seedEntry(o: unknown, seed: number | null, at: string, rerun: boolean): SeedClaim | string {
  if (o === null || typeof o !== 'object' || Array.isArray(o)) {
    // `{"42": 1.2345}`: a seed keyed straight to its score
    const v = numOf(o)
    if (v !== null && seed !== null) return {seed, at, rerun, val_bpb: v, val_bpb_key: 'val_bpb', val_loss: null, bytes: null, bytes_key: null}
    return `${at} is ${JSON.stringify(o)?.slice(0, 40)}, not an object`
  }
  const r = o as Record<string, unknown>
  const s = seedOf(r.seed) ?? seed
  if (s === null) return `${at} names no seed`
  const score = scoreOf(r)
  const bytesKey = BYTES_KEYS.find((k) => numOf(r[k]) !== null) ?? null
  return {seed: s, at, rerun, val_bpb: score?.value ?? null, val_bpb_key: score?.key ?? null, val_loss: numOf(r.val_loss), bytes: bytesKey ? numOf(r[bytesKey]) : null, bytes_key: bytesKey}
}

/** Seed results as a list or an object keyed by seed (`"42"`, `"seed_42"`, `"s42"`). */
function readSeedResults(v: unknown, at: string, rerun: boolean, listed: number[]): {results: SeedClaim[]; unreadable: string[]} {
  const results: SeedClaim[] = []
  const unreadable: string[] = []
  const add = (r: SeedClaim | string) => (typeof r === 'string' ? unreadable.push(r) : results.push(r))
  if (Array.isArray(v)) v.forEach((o, i) => add(seedEntry(o, listed.length === v.length ? listed[i] : null, `${at}[${i}]`, rerun)))
  else if (v !== null && typeof v === 'object') {
    for (const [k, o] of Object.entries(v as Record<string, unknown>)) {
      const m = /^(?:seed[_-]?|s)?(\d{1,12})$/i.exec(k)
      if (m) add(seedEntry(o, Number(m[1]), `${at}.${k}`, rerun))
      else if (o !== null && typeof o === 'object' && !Array.isArray(o) && seedOf((o as Record<string, unknown>).seed) !== null) add(seedEntry(o, null, `${at}.${k}`, rerun))
      // other keys (`mean`, `std`, notes) are summaries, not seeds
    }
  } else unreadable.push(`${at} is ${JSON.stringify(v)?.slice(0, 40)}: neither a list nor an object keyed by seed`)
  return {results, unreadable}
}

/** Read the claims of one metadata document. */
export function readClaims(file: string, doc: Record<string, unknown>): Claims {
  const problems = validate(doc) ? [] : (validate.errors ?? []).map((e) => schemaError(e, doc))
  const listed = Array.isArray(doc.seeds) ? doc.seeds.map(seedOf).filter((s): s is number => s !== null) : []
  const seedResults: SeedClaim[] = []
  const unreadable: string[] = []
  if (doc.seed_results !== undefined) {
    const r = readSeedResults(doc.seed_results, 'seed_results', false, listed)
    seedResults.push(...r.results)
    unreadable.push(...r.unreadable)
  }
  const rerun = doc.compliance_rerun
  if (rerun !== null && typeof rerun === 'object') {
    const block = rerun as Record<string, unknown>
    const inner = block.seed_results ?? block.results ?? (Array.isArray(rerun) ? rerun : Object.keys(block).some((k) => /^(?:seed[_-]?|s)?\d+$/i.test(k)) ? rerun : undefined)
    if (inner !== undefined) {
      const innerListed = Array.isArray(block.seeds) ? block.seeds.map(seedOf).filter((s): s is number => s !== null) : []
      const r = readSeedResults(inner, block.seed_results !== undefined ? 'compliance_rerun.seed_results' : block.results !== undefined ? 'compliance_rerun.results' : 'compliance_rerun', true, innerListed)
      seedResults.push(...r.results)
      unreadable.push(...r.unreadable)
    }
  }
  const seeds = [...new Set([...listed, ...seedResults.map((s) => s.seed)])]

  const valBpb = numOf(doc.val_bpb)
  const valVar = numOf(doc.val_var_bpb)
  const mean = numOf(doc.val_bpb_mean)
  const [score, key] = valBpb !== null ? [valBpb, 'val_bpb'] : valVar !== null ? [valVar, 'val_var_bpb'] : mean !== null ? [mean, 'val_bpb_mean'] : [null, 'val_bpb']
  let alt: Claims['alt'] = null
  const a = doc.val_bpb_alt
  if (numOf(a) !== null) alt = {value: numOf(a)!, what: strOf(doc.val_bpb_alt_estimator) ?? strOf(doc.val_bpb_alt_slice)}
  else if (a !== null && typeof a === 'object' && !Array.isArray(a)) {
    const o = a as Record<string, unknown>
    const v = numOf(o.value) ?? numOf(o.val_bpb)
    if (v !== null) alt = {value: v, what: [strOf(o.estimator), strOf(o.slice)].filter(Boolean).join(', ') || null}
  }
  return {
    file,
    doc,
    val_bpb: score,
    val_bpb_key: key,
    val_var_bpb: valVar !== null && valBpb !== null && valVar !== valBpb ? valVar : null,
    val_loss: numOf(doc.val_loss),
    bound: doc.bound === 'upper' || valVar !== null,
    estimator: strOf(doc.val_bpb_estimator),
    slice: strOf(doc.val_bpb_slice),
    alt,
    bytes_total: numOf(doc.bytes_total),
    bytes_code: numOf(doc.bytes_code),
    bytes_model: numOf(doc.bytes_model),
    artifact_bytes_mean: numOf(doc.artifact_bytes_mean),
    artifact_bytes_max: numOf(doc.artifact_bytes_max),
    val_bpb_std: numOf(doc.val_bpb_std),
    seeds,
    seed_results: seedResults,
    unreadable,
    track: strOf(doc.track),
    submission_type: strOf(doc.submission_type),
    non_record_reason: strOf(doc.non_record_reason),
    problems,
  }
}
