/**
 * `golf verify <folder>`: check a submission folder the way a reviewer of the official
 * `records/…` entries would. A folder holds README.md, submission.json, at least one train log
 * (`*.log`, or a `*.txt` that reads like one) and the code (`train_gpt.py`, other `*.py`, or
 * golf's `*.mjs`); optionally the artifact (`*.golf`, `*.ptz`).
 *
 * Every check is pass, fail, or "not confirmed" (e.g. the logs print no size line): an
 * unfamiliar log format is reported, never a failure. Claimed numbers in submission.json must
 * agree with the logs at the precision the logs print them.
 */
import {Ajv, type ErrorObject} from 'ajv'
import {existsSync, readdirSync, readFileSync, statSync} from 'node:fs'
import {basename, extname, join} from 'node:path'

import {InputError} from '../errors.js'
import {verifyArtifact} from '../pack/artifact.js'
import {agreesAtPrecision, decimalsOf, finalScore, parseLog, reportedTotal, showPrinted, type ParsedLog, type ValLine} from './logs.js'
import {fail, groupDigits, limitCheck, pass, unconfirmed, type VerifyCheck, type VerifyReport} from './report.js'

/** submission.json as the merged records write it (extra keys are allowed). */
export interface SubmissionJson {
  author: string
  github_id?: string
  name: string
  blurb?: string
  date: string
  val_loss?: number | null
  val_bpb: number
  bytes_total: number
  bytes_code: number
  bytes_model?: number
  seeds?: number[]
  [key: string]: unknown
}

const nonNegInt = {type: 'integer', minimum: 0}
export const SUBMISSION_SCHEMA = {
  type: 'object',
  required: ['author', 'name', 'date', 'val_bpb', 'bytes_total', 'bytes_code'],
  properties: {
    author: {type: 'string'},
    github_id: {type: 'string'},
    name: {type: 'string'},
    blurb: {type: 'string'},
    date: {type: 'string'},
    val_loss: {type: ['number', 'null']},
    val_bpb: {type: 'number', exclusiveMinimum: 0},
    bytes_total: nonNegInt,
    bytes_code: nonNegInt,
    bytes_model: nonNegInt,
    seeds: {type: 'array', items: {type: 'integer'}},
    val_bpb_std: {type: ['number', 'null']},
    step_stop: {type: ['integer', 'null']},
    wallclock_seconds: {type: ['number', 'null']},
    hardware: {type: 'string'},
    non_record_reason: {type: 'string'},
  },
} as const

const ajv = new Ajv({allErrors: true, strict: false})
const validateSubmission = ajv.compile(SUBMISSION_SCHEMA)

function schemaError(e: ErrorObject, doc: unknown): string {
  const key = e.instancePath.split('/').filter(Boolean).join('.')
  if (e.keyword === 'required') return `missing ${(e.params as {missingProperty: string}).missingProperty}`
  let value: unknown = doc
  for (const p of e.instancePath.split('/').filter(Boolean)) value = (value as Record<string, unknown>)?.[p]
  return `${key} ${e.message ?? 'is invalid'}, got ${JSON.stringify(value)}`
}

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

interface FolderFiles {
  readme: string | null
  submission: string | null
  logs: Array<{file: string; log: ParsedLog}>
  code: Array<{file: string; bytes: number}>
  artifacts: Array<{file: string; bytes: number}>
}

const CODE_EXT = new Set(['.py', '.mjs'])
const ARTIFACT_EXT = ['.golf', '.ptz', '.pt.xz', '.int8.ptz']

function scanFolder(dir: string): FolderFiles {
  const files = readdirSync(dir).filter((f) => statSync(join(dir, f)).isFile()).sort()
  const found: FolderFiles = {readme: null, submission: null, logs: [], code: [], artifacts: []}
  for (const f of files) {
    const path = join(dir, f)
    const lower = f.toLowerCase()
    if (lower === 'readme.md') found.readme = f
    else if (lower === 'submission.json') found.submission = f
    else if (CODE_EXT.has(extname(lower))) found.code.push({file: f, bytes: statSync(path).size})
    else if (ARTIFACT_EXT.some((e) => lower.endsWith(e))) found.artifacts.push({file: f, bytes: statSync(path).size})
    else if (lower.endsWith('.log') || lower.endsWith('.txt')) {
      const log = parseLog(readFileSync(path, 'utf8'))
      // a .txt counts as a log only when it reads like one (records also keep code as .txt)
      if (lower.endsWith('.log') || (log.recognised && log.val.length > 0)) found.logs.push({file: f, log})
    }
  }
  return found
}

/** "1.2244 (train.log:312 final_int8_zlib_roundtrip_exact)" */
function where(file: string, v: {line: number; label: string}): string {
  return `${file}:${v.line} ${v.label}`
}

function scoreCheck(metric: 'val_bpb' | 'val_loss', claimed: number | null | undefined, logs: FolderFiles['logs']): VerifyCheck {
  const name = `${metric} matches logs`
  if (claimed === null || claimed === undefined) {
    return metric === 'val_loss' ? unconfirmed(name, 'not confirmed: submission.json gives no val_loss') : fail(name, 'submission.json gives no val_bpb')
  }
  const finals: Array<{file: string; v: ValLine}> = []
  const others: Array<{file: string; v: ValLine}> = []
  for (const {file, log} of logs) {
    const f = finalScore(log)
    if (f && (metric === 'val_bpb' || f.val_loss)) finals.push({file, v: f})
    for (const v of log.val) if (v !== f && (v.roundtrip || /final|sliding|exact/i.test(v.label))) others.push({file, v})
  }
  const get = (v: ValLine) => (metric === 'val_bpb' ? v.val_bpb : v.val_loss!)
  if (finals.length === 0) return unconfirmed(name, `not confirmed: no ${metric} line in the logs`)
  const hit = finals.find(({v}) => agreesAtPrecision(claimed, get(v)))
  if (hit) return pass(name, `${claimed} = ${showPrinted(get(hit.v))} (${where(hit.file, hit.v)})`)
  if (finals.length > 1) {
    // several seeds: submission.json usually reports their mean
    const mean = finals.reduce((a, {v}) => a + get(v).value, 0) / finals.length
    const decimals = Math.min(...finals.map(({v}) => get(v).decimals))
    if (agreesAtPrecision(claimed, {value: mean, decimals})) return pass(name, `${claimed} = mean of ${finals.length} logs (${mean.toFixed(decimals)})`)
  }
  const alt = others.find(({v}) => (metric === 'val_bpb' || v.val_loss) && agreesAtPrecision(claimed, get(v)))
  if (alt) return pass(name, `${claimed} = ${showPrinted(get(alt.v))} (${where(alt.file, alt.v)}; not the last roundtrip line)`)
  return fail(name, `submission.json says ${claimed}, the logs report ${finals.map(({file, v}) => `${showPrinted(get(v))} (${where(file, v)})`).join(', ')}`)
}

export interface FolderOptions {
  limit: number
}

/** Run every folder check. Throws InputError only when `dir` is not a folder. */
export function verifyFolder(dir: string, opts: FolderOptions): VerifyReport {
  if (!existsSync(dir)) throw new InputError(`submission folder not found: ${dir}`)
  if (!statSync(dir).isDirectory()) throw new InputError(`not a folder: ${dir} (give a submission folder, or --run and --artifact)`)
  const files = scanFolder(dir)
  const checks: VerifyCheck[] = []

  checks.push(files.readme ? pass('README.md', 'present') : fail('README.md', `missing in ${basename(dir)}`))

  // submission.json: present, JSON, fields typed
  let sub: Partial<SubmissionJson> | null = null
  if (!files.submission) checks.push(fail('submission.json', 'missing'))
  else {
    let doc: unknown
    try {
      doc = JSON.parse(readFileSync(join(dir, files.submission), 'utf8'))
    } catch (err) {
      checks.push(fail('submission.json', `not valid JSON: ${(err as Error).message}`))
    }
    if (doc !== undefined) {
      if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) checks.push(fail('submission.json', 'expected a JSON object'))
      else {
        sub = doc as Partial<SubmissionJson>
        if (validateSubmission(doc)) checks.push(pass('submission.json', 'fields present and typed'))
        else checks.push(fail('submission.json', (validateSubmission.errors ?? []).map((e) => schemaError(e, doc)).join('; ')))
      }
    }
  }
  const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null)
  const claimedTotal = num(sub?.bytes_total)
  const claimedCode = num(sub?.bytes_code)
  const claimedModel = num(sub?.bytes_model)

  // date
  if (sub) {
    const date = sub.date
    if (typeof date !== 'string') checks.push(fail('date', 'submission.json has no date'))
    else checks.push(parseIsoDate(date) ? pass('date', `${date} (ISO 8601)`) : fail('date', `${JSON.stringify(date)} is not an ISO 8601 date (e.g. 2026-03-19 or 2026-03-19T12:00:00Z)`))
  }

  // logs and code present
  checks.push(files.logs.length ? pass('train log', files.logs.map((l) => l.file).join(', ')) : fail('train log', 'no train log (*.log, or a *.txt log) in the folder'))
  checks.push(files.code.length ? pass('code', files.code.map((c) => `${c.file} (${groupDigits(c.bytes)} bytes)`).join(', ')) : fail('code', 'no code file (train_gpt.py, *.py or *.mjs) in the folder'))

  // the cap
  checks.push(limitCheck(claimedTotal, opts.limit))

  // bytes add up
  if (claimedModel !== null && claimedTotal !== null && claimedCode !== null) {
    const sum = claimedModel + claimedCode
    checks.push(sum === claimedTotal ? pass('bytes add up', `bytes_model + bytes_code = ${groupDigits(sum)}`) : fail('bytes add up', `bytes_model ${groupDigits(claimedModel)} + bytes_code ${groupDigits(claimedCode)} = ${groupDigits(sum)}, not bytes_total ${groupDigits(claimedTotal)}`))
  }

  // bytes_code vs the code files
  if (claimedCode !== null && files.code.length) {
    const main = files.code.find((c) => c.bytes === claimedCode)
    const sum = files.code.reduce((a, c) => a + c.bytes, 0)
    if (main) checks.push(pass('bytes_code matches code', `${main.file} is ${groupDigits(main.bytes)} bytes`))
    else if (files.code.length > 1 && sum === claimedCode) checks.push(pass('bytes_code matches code', `${files.code.length} code files total ${groupDigits(sum)} bytes`))
    else checks.push(fail('bytes_code matches code', `submission.json says ${groupDigits(claimedCode)} bytes, ${files.code.map((c) => `${c.file} is ${groupDigits(c.bytes)}`).join(', ')}`))
  }

  // sizes in the logs
  if (claimedTotal !== null) {
    const totals = files.logs.flatMap(({file, log}) => {
      const t = reportedTotal(log)
      return t ? [{file, t, all: log.totals}] : []
    })
    const name = 'bytes_total matches logs'
    if (totals.length === 0) checks.push(unconfirmed(name, 'not confirmed: no "Total submission size" or budget line in the logs'))
    else {
      const hit = totals.find(({t}) => t.bytes === claimedTotal) ?? totals.flatMap(({file, all}) => all.filter((a) => a.bytes === claimedTotal).map((t) => ({file, t, all}))).at(0)
      if (hit) checks.push(pass(name, `${groupDigits(claimedTotal)} (${where(hit.file, hit.t)})`))
      else checks.push(fail(name, `submission.json says ${groupDigits(claimedTotal)}, the logs report ${totals.map(({file, t}) => `${groupDigits(t.bytes)} (${where(file, t)})`).join(', ')}`))
    }
  }
  if (claimedCode !== null) {
    const codes = files.logs.flatMap(({file, log}) => log.code.map((c) => ({file, c})))
    const name = 'bytes_code matches logs'
    if (codes.length === 0) checks.push(unconfirmed(name, 'not confirmed: no "Code size" line in the logs'))
    else {
      const hit = codes.find(({c}) => c.bytes === claimedCode)
      if (hit) checks.push(pass(name, `${groupDigits(claimedCode)} (${where(hit.file, hit.c)})`))
      else checks.push(fail(name, `submission.json says ${groupDigits(claimedCode)}, the logs report ${[...new Set(codes.map(({c}) => groupDigits(c.bytes)))].join(', ')}`))
    }
  }

  // scores
  if (sub) {
    checks.push(scoreCheck('val_bpb', num(sub.val_bpb), files.logs))
    checks.push(scoreCheck('val_loss', sub.val_loss === undefined ? undefined : num(sub.val_loss), files.logs))
  }

  // artifact in the folder
  let bytesModel = claimedModel ?? (claimedTotal !== null && claimedCode !== null ? claimedTotal - claimedCode : null)
  for (const a of files.artifacts) {
    const name = `artifact ${a.file}`
    if (a.file.toLowerCase().endsWith('.golf')) {
      try {
        verifyArtifact(new Uint8Array(readFileSync(join(dir, a.file))), a.file)
      } catch (err) {
        checks.push(fail(name, (err as Error).message))
        continue
      }
    }
    if (bytesModel === null) checks.push(unconfirmed(name, `${groupDigits(a.bytes)} bytes; not confirmed: submission.json gives no model size`))
    else if (a.bytes === bytesModel) checks.push(pass(name, `${groupDigits(a.bytes)} bytes = ${claimedModel !== null ? 'bytes_model' : 'bytes_total − bytes_code'}`))
    else checks.push(fail(name, `${groupDigits(a.bytes)} bytes, submission.json implies ${groupDigits(bytesModel)} (${claimedModel !== null ? 'bytes_model' : 'bytes_total − bytes_code'})`))
  }
  if (files.artifacts.length === 1 && claimedModel === null) bytesModel = files.artifacts[0].bytes

  return {
    mode: 'folder',
    bytes_model: bytesModel,
    bytes_code: claimedCode,
    bytes_total: claimedTotal,
    limit: opts.limit,
    within_limit: claimedTotal !== null && claimedTotal <= opts.limit,
    roundtrip: null,
    checks,
    ok: checks.every((c) => c.ok),
  }
}

export const _internal = {scanFolder, decimalsOf}
