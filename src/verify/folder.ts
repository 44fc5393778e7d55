/**
 * `golf verify <folder>`: check a submission folder the way a reviewer of the official
 * `records/…` entries would, on folders as they really are: metadata as `submission.json` or
 * `submission_<name>.json` in any era's fields, logs under many names or in `logs/`, code with
 * helpers and tokenizers (folder-files.ts, claims.ts, logs.ts).
 *
 * Every check is pass, fail, or "not confirmed". Only a real contradiction fails: a claim the
 * logs contradict (named with the seed and both numbers), a size over the cap, a required file
 * missing (README, metadata, a train log, the code), malformed metadata, and a log bearing the
 * known fingerprint of validation data in training (leakageFingerprint). A claim there is
 * nothing to check against — no such line in the logs, an unfamiliar format, a score on another
 * estimator or slice, a compressed size from unknown settings — is "not confirmed" with the
 * reason. Claimed numbers must agree with the logs at the precision the logs print them.
 *
 * A diffusion entry's scores (`bound: "upper"`, `val_var_bpb`) are upper bounds on the NLL and
 * are compared with the bound lines of its logs only; a likelihood claim that only a bound line
 * supports fails, since it presents a bound as a likelihood.
 *
 * The folder is untrusted: folder-scan.ts never follows a link out of it, reads at most a capped
 * number of bytes per file and entries in all, and never opens a FIFO or a device.
 */
import {statSync} from 'node:fs'
import {basename} from 'node:path'

import {InputError} from '../errors.js'
import {verifyArtifact} from '../pack/artifact.js'
import {parseIsoDate, readClaims, type Claims, type SeedClaim} from './claims.js'
import {codeReadings, codeReport, compressedSizes, matchCode, showCodeFile, showReading, type CodeFile, type CodeReading} from './code-size.js'
import {sortFolder, type FolderFiles, type FolderLog} from './folder-files.js'
import {DEFAULT_SCAN_LIMITS, readScanned, scanFolder, type ScanLimits} from './folder-scan.js'
import {agreesAtPrecision, decimalsOf, reportedTotal, scoreLines, showPrinted, showSize, sizeAgrees, sizeAgreesAsMiB, totalReadings, type Printed, type SizeLine, type ValLine} from './logs.js'
import {checkStatus, fail, groupDigits, limitCheck, pass, unconfirmed, type SeedFigure, type SeedReport, type VerifyCheck, type VerifyReport} from './report.js'

export {parseIsoDate} from './claims.js'

export interface FolderOptions {
  limit: number
  /** Bounds of the walk and the reads (default DEFAULT_SCAN_LIMITS: 16 MiB a file, 2,000 entries, 3 levels). */
  scan?: Partial<ScanLimits>
}

type State = 'pass' | 'fail' | 'unconfirmed'
interface Outcome {
  state: State
  detail: string
  /** The log figure compared with (the match, else the closest), and where. */
  logged: number | null
  where: string | null
}

const check = (name: string, o: Pick<Outcome, 'state' | 'detail'>, seed?: number): VerifyCheck => {
  const c = o.state === 'pass' ? pass(name, o.detail) : o.state === 'fail' ? fail(name, o.detail) : unconfirmed(name, o.detail)
  return seed === undefined ? c : {...c, seed}
}

/** "train.log:312 final_int8_zlib_roundtrip_exact" */
function where(file: string, v: {line: number; label: string}): string {
  return `${file}:${v.line} ${v.label}`
}

function list(items: string[], max = 4): string {
  const shown = [...new Set(items)]
  return shown.length <= max ? shown.join(', ') : `${shown.slice(0, max).join(', ')}, … (${shown.length} in all)`
}

// --- scores ------------------------------------------------------------------------------------

interface ScoreOpts {
  /** Who claims it, for the messages: `submission.json`, `seed 42 (seed_results[0])`. */
  who: string
  /** The claim is an upper bound (diffusion): compare with bound lines only. */
  bound: boolean
  /** Accept the mean over the logs' final scores (a multi-seed entry's headline number). */
  allowMean: boolean
  /** The claim names its own estimator / slice: a disagreement is not a contradiction. */
  ownEstimator: string | null
}

/**
 * Compare a claimed score with the logs: pass on a final score line that agrees at the printed
 * precision (or the mean of the logs' final scores); fail when the logs print final scores and
 * none agrees; not confirmed when the logs print none, or only a diagnostic/unknown line agrees,
 * or the claim is on its own estimator and slice.
 */
function matchScore(claimed: number, metric: 'val_bpb' | 'val_loss', logs: readonly FolderLog[], o: ScoreOpts): Outcome {
  const get = (v: ValLine): Printed | null => (metric === 'val_bpb' ? v.val_bpb : v.val_loss)
  const le = o.bound ? '≤ ' : ''
  const agree = (v: ValLine) => agreesAtPrecision(claimed, get(v)!)
  const accepted = logs.flatMap(({file, log}) => scoreLines(log).filter((v) => get(v) !== null).map((v) => ({file, v})))
  const right = accepted.filter((x) => x.v.bound === o.bound)
  const wrong = accepted.filter((x) => x.v.bound !== o.bound)
  const out = (state: State, detail: string, hit?: {file: string; v: ValLine}): Outcome => ({state, detail, logged: hit ? get(hit.v)!.value : null, where: hit ? where(hit.file, hit.v) : null})
  const bestOf = (xs: typeof accepted) => [...xs].sort((a, b) => get(b.v)!.decimals - get(a.v)!.decimals || b.v.line - a.v.line)[0]

  const hits = right.filter((x) => agree(x.v))
  if (hits.length) {
    const h = bestOf(hits)
    return out('pass', `${le}${claimed} = ${showPrinted(get(h.v)!)} (${where(h.file, h.v)}${o.bound ? ', an upper bound' : ''})`, h)
  }
  // a log without scores (golf report's sizes.log) is no seed of a mean
  const scoring = logs.filter((l) => l.log.val.length > 0)
  if (o.allowMean && scoring.length > 1) {
    // several seeds: the headline is usually their mean, of one kind of score (the first runs, not reruns)
    const pool = scoring.some((l) => !l.rerun) ? scoring.filter((l) => !l.rerun) : scoring
    for (const kind of ['roundtrip', 'ttt', 'sliding', 'final', 'step'] as const) {
      const finals = pool.flatMap(({file}) => {
        const mine = right.filter((x) => x.file === file && x.v.kind === kind)
        return mine.length ? [bestOf(mine)] : []
      })
      if (finals.length < 2 || finals.length < pool.length) continue
      const mean = finals.reduce((a, {v}) => a + get(v)!.value, 0) / finals.length
      const decimals = Math.min(...finals.map(({v}) => get(v)!.decimals))
      if (agreesAtPrecision(claimed, {value: mean, decimals})) return {state: 'pass', detail: `${le}${claimed} = mean of ${finals.length} logs (${mean.toFixed(decimals)})`, logged: mean, where: null}
    }
  }
  const wrongHit = wrong.filter((x) => agree(x.v))
  if (wrongHit.length) {
    const h = bestOf(wrongHit)
    if (!o.bound) return out('fail', `${o.who} gives ${metric} ${claimed} as a likelihood (no bound: "upper", no val_var_bpb), but ${where(h.file, h.v)} prints it as an upper bound (a diffusion model's negative ELBO)`, h)
    return out('unconfirmed', `not confirmed: ${le}${claimed} agrees with ${where(h.file, h.v)}, which the log does not mark as an upper bound`, h)
  }
  const lesser = logs.flatMap(({file, log}) => log.val.filter((v) => get(v) !== null && agree(v) && !accepted.some((x) => x.v === v)).map((v) => ({file, v})))
  // per log and kind of score, its most precise line: `1.22436570 (train.log:27 final_int8_zlib_roundtrip_exact)`
  const pool = right.length ? right : wrong
  const shownLines = pool.filter((x) => !pool.some((y) => y.file === x.file && y.v.kind === x.v.kind && y !== x && (get(y.v)!.decimals > get(x.v)!.decimals || (get(y.v)!.decimals === get(x.v)!.decimals && y.v.line > x.v.line))))
  const finalsShown = shownLines.map(({file, v}) => `${showPrinted(get(v)!)} (${where(file, v)})`)
  const closest = (right.length ? right : wrong).reduce<(typeof accepted)[number] | undefined>((best, x) => (!best || Math.abs(get(x.v)!.value - claimed) < Math.abs(get(best.v)!.value - claimed) ? x : best), undefined)
  const prequant = lesser.find((x) => x.v.kind === 'step')
  if (prequant && accepted.length) {
    return out('fail', `${o.who} says ${le}${claimed}, which is ${where(prequant.file, prequant.v)}, the score before quantization; the logs' final scores are ${list(finalsShown)}`, closest)
  }
  if (lesser.length) {
    const h = lesser[0]
    return out('unconfirmed', `not confirmed: ${le}${claimed} agrees only with ${where(h.file, h.v)} (a ${h.v.kind === 'diagnostic' ? 'diagnostic' : 'line golf does not know as a final score'})`, h)
  }
  if (o.ownEstimator && accepted.length) {
    return out('unconfirmed', `not confirmed: ${o.who} gives ${le}${claimed} on its own ${o.ownEstimator}; the logs report ${list(finalsShown)} (another estimator or slice: not comparable)`, closest)
  }
  if (accepted.length) return out('fail', `${o.who} says ${le}${claimed}, the logs report ${list(finalsShown)}`, closest)
  return out('unconfirmed', `not confirmed: no ${metric} line in the logs`)
}

/**
 * The headline may be the mean of the seed results, each of which is checked against its own
 * log (seedChecks): a headline the logs do not show directly passes as that mean.
 */
function orSeedMean(o: Outcome, claimed: number, seedValues: Array<number | null>, bound: boolean): Outcome {
  const vals = seedValues.filter((v): v is number => v !== null)
  if (o.state === 'pass' || vals.length < 2) return o
  const mean = vals.reduce((a, v) => a + v, 0) / vals.length
  const decimals = Math.min(...vals.map(decimalsOf))
  if (!agreesAtPrecision(claimed, {value: mean, decimals})) return o
  return {state: 'pass', detail: `${bound ? '≤ ' : ''}${claimed} = mean of the ${vals.length} seed_results (${mean.toFixed(decimals)}; each checked against its log below)`, logged: mean, where: null}
}

// --- sizes -------------------------------------------------------------------------------------

/** Compare a claimed size with the logs' size lines (`models` too for a per-seed artifact size). */
function matchSize(claimed: number, logs: readonly FolderLog[], who: string, withModels: boolean): Outcome {
  const readings = logs.flatMap(({file, log}) => [...totalReadings(log), ...(withModels ? log.models : [])].map((s) => ({file, s})))
  const show = (x: {file: string; s: SizeLine}) => `${showSize(x.s)} (${where(x.file, x.s)})`
  const exact = readings.find((x) => x.s.tolerance === 0 && x.s.bytes === claimed)
  if (exact) return {state: 'pass', detail: `${groupDigits(claimed)} (${where(exact.file, exact.s)})`, logged: exact.s.bytes, where: where(exact.file, exact.s)}
  const approx = readings.find((x) => sizeAgrees(claimed, x.s))
  if (approx) return {state: 'pass', detail: `${groupDigits(claimed)} agrees with ${show(approx)} at the precision printed`, logged: approx.s.bytes, where: where(approx.file, approx.s)}
  const finals = logs.flatMap(({file, log}) => {
    const t = reportedTotal(log)
    return t ? [{file, s: t}] : []
  })
  if (finals.length > 1 && finals.every((x) => x.s.tolerance === 0)) {
    const mean = finals.reduce((a, x) => a + x.s.bytes, 0) / finals.length
    if (Math.abs(mean - claimed) <= 1) return {state: 'pass', detail: `${groupDigits(claimed)} = mean of ${finals.length} logs' totals`, logged: mean, where: null}
  }
  const mib = readings.find((x) => sizeAgreesAsMiB(claimed, x.s))
  if (mib) return {state: 'unconfirmed', detail: `not confirmed: ${groupDigits(claimed)} agrees with ${where(mib.file, mib.s)} only if its MB means MiB (2^20 bytes)`, logged: mib.s.mib_bytes!, where: where(mib.file, mib.s)}
  if (readings.length) {
    const shown = finals.length ? finals : readings
    const closest = shown.reduce((b, x) => (Math.abs(x.s.bytes - claimed) < Math.abs(b.s.bytes - claimed) ? x : b))
    return {state: 'fail', detail: `${who} says ${groupDigits(claimed)}, the logs report ${list(shown.map(show))}`, logged: closest.s.bytes, where: where(closest.file, closest.s)}
  }
  return {state: 'unconfirmed', detail: `not confirmed: no "Total submission size", budget or model + code size line in the logs`, logged: null, where: null}
}

// --- the folder --------------------------------------------------------------------------------

/** Logs of one seed: named or stating it; a rerun claim prefers rerun logs. */
function logsOfSeed(files: FolderFiles, seed: number, rerun: boolean, claims: Claims | null): FolderLog[] {
  const mine = files.logs.filter((l) => l.seed === seed)
  if (mine.length === 0 && files.logs.length === 1 && (claims?.seeds.length ?? 0) <= 1) return files.logs
  const reruns = mine.filter((l) => l.rerun)
  if (rerun && reruns.length) return reruns
  if (!rerun && reruns.length && reruns.length < mine.length) return mine.filter((l) => !l.rerun)
  return mine
}

/** Give logs without a seed the one claimed seed their file name contains (`train_log_42.txt`). */
function seedLogsFromClaims(files: FolderFiles, claims: Claims | null): void {
  if (!claims) return
  for (const l of files.logs) {
    if (l.seed !== null) continue
    const tokens = (basename(l.file).match(/\d+/g) ?? []).map(Number).filter((n) => claims.seeds.includes(n))
    if (new Set(tokens).size === 1) {
      l.seed = tokens[0]
      l.seedFrom = 'claims'
    }
  }
}

function foldState(states: State[]): State {
  return states.includes('fail') ? 'fail' : states.includes('unconfirmed') ? 'unconfirmed' : 'pass'
}

const toStatus = (s: State) => checkStatus({ok: s !== 'fail', confirmed: s === 'pass'})
const figure = (claimed: number, o: Outcome): SeedFigure => ({claimed, status: toStatus(o.state), logged: o.logged, where: o.where})

/** Run every folder check. Throws InputError only when `dir` is not a folder, or holds more entries than the walk reads (ScanLimits.maxEntries). */
export function verifyFolder(dir: string, opts: FolderOptions): VerifyReport {
  let st
  try {
    st = statSync(dir)
  } catch {
    throw new InputError(`submission folder not found: ${dir}`)
  }
  if (!st.isDirectory()) throw new InputError(`not a folder: ${dir} (give a submission folder, or --run and --artifact)`)
  const scan = scanFolder(dir, {...DEFAULT_SCAN_LIMITS, ...opts.scan})
  if (scan.stoppedIn) {
    // a partial listing (in readdir's order, not the names') could leave out the code or a log
    // and report it missing, or count bytes_code from part of the code: refuse it whole
    const {maxEntries, maxDepth} = scan.limits
    const where = scan.stoppedIn === '.' ? '' : `; the cap was reached listing ${scan.stoppedIn}`
    throw new InputError(`submission folder ${dir}: more than ${maxEntries.toLocaleString('en-US')} entries (files, folders and links up to ${maxDepth} levels down${where}), the most golf verify reads: it does not check part of a folder, which could miss code files; remove what is not part of the submission`)
  }
  const files = sortFolder(scan)
  const checks: VerifyCheck[] = []
  const seedReports: SeedReport[] = []

  const meta = files.metadata[0] ?? null
  const claims = meta ? readClaims(meta.file, meta.doc) : null
  seedLogsFromClaims(files, claims)
  const metaName = claims?.file ?? 'submission.json'

  // what was not read, and why: links out of the folder, FIFOs, oversized files
  if (files.refused.length) checks.push(unconfirmed('folder contents', `not read: ${list(files.refused.map((r) => `${r.rel} (${r.reason})`), 6)}`))

  checks.push(files.readme ? pass('README.md', `${files.readme} present`) : fail('README.md', `missing in ${basename(scan.root)}${refusedNote(files, /^readme/i)}`))

  // metadata: present, parsed, known fields typed
  if (!meta) {
    const broken = files.metadataErrors[0]
    checks.push(fail('submission.json', broken ? `${broken.file}: ${broken.reason}` : `missing: no submission.json, submission_<name>.json or other JSON with submission fields${refusedNote(files, /\.json$/i)}`))
  } else {
    const also = [...files.metadata.slice(1).map((m) => m.file), ...files.metadataErrors.map((e) => `${e.file} (${e.reason})`)]
    const what = [claims!.track ? `track ${claims!.track}` : null, claims!.submission_type ? `submission_type ${claims!.submission_type}` : null, claims!.bound ? 'scores are upper bounds' : null].filter(Boolean)
    const head = `${meta.file}${meta.by === 'content' ? ' (found by its fields)' : ''}`
    const tail = `${what.length ? `; ${what.join(', ')}` : ''}${also.length ? `; also found, not checked: ${list(also)}` : ''}`
    checks.push(claims!.problems.length ? fail('submission.json', `${head}: ${claims!.problems.join('; ')}`) : pass('submission.json', `${head}: known fields typed${tail}`))
    if (claims!.unreadable.length) checks.push(unconfirmed('seed_results', `not confirmed: ${list(claims!.unreadable)}`))
    const date = meta.doc.date
    if (date === undefined) checks.push(unconfirmed('date', `not confirmed: ${meta.file} gives no date`))
    else if (typeof date !== 'string') checks.push(fail('date', `${meta.file} date is ${JSON.stringify(date)}, not a string`))
    else checks.push(parseIsoDate(date) ? pass('date', `${date} (ISO 8601)`) : fail('date', `${JSON.stringify(date)} is not an ISO 8601 date (e.g. 2026-03-19 or 2026-03-19T12:00:00Z)`))
  }

  // logs and code present
  const showLog = (l: FolderLog) => `${l.file}${l.seed !== null ? ` (seed ${l.seed})` : ''}`
  checks.push(files.logs.length ? pass('train log', list(files.logs.map(showLog), 8)) : fail('train log', `no train log (a *.log, or a text file with val_bpb or size lines) in the folder${refusedNote(files, /\.(log|txt|out)$/i)}`))
  const codeFiles: CodeFile[] = [
    ...files.code.map((c) => ({file: c.file, bytes: c.bytes, role: c.role, ...(c.role === 'main' && c.data ? {compressed: compressedSizes(c.data)} : {})})),
    ...files.tokenizers.map((t) => ({file: t.file, bytes: t.bytes, role: 'tokenizer' as const})),
  ]
  const mains = codeFiles.filter((c) => c.role === 'main')
  checks.push(
    mains.length
      ? pass('code', list(codeFiles.map((c) => `${c.file} (${groupDigits(c.bytes)} bytes${c.role === 'main' ? '' : `, ${c.role}`})`), 8))
      : fail('code', `no code file (train_gpt.py, train_<name>.py, *.py or golf's *.mjs) in the folder${refusedNote(files, /\.(py|mjs|js)$/i)}`),
  )

  const seedResults = claims?.seed_results ?? []
  const mainSeeds = seedResults.filter((s) => !s.rerun)

  // the cap: every size claimed or printed must be within it
  checks.push(capCheck(claims, files, opts.limit))

  // the known fingerprint of validation documents in the training shards
  const leak = leakageFingerprint(files)
  if (leak) checks.push(leak)

  // bytes add up
  if (claims && claims.bytes_model !== null && claims.bytes_total !== null && claims.bytes_code !== null) {
    const sum = claims.bytes_model + claims.bytes_code
    checks.push(sum === claims.bytes_total ? pass('bytes add up', `bytes_model + bytes_code = ${groupDigits(sum)}`) : fail('bytes add up', `bytes_model ${groupDigits(claims.bytes_model)} + bytes_code ${groupDigits(claims.bytes_code)} = ${groupDigits(sum)}, not bytes_total ${groupDigits(claims.bytes_total)}`))
  }

  // the counted code: which reading of the files the claim is
  const counted = codeCheck(claims, files, codeFiles, checks)

  // sizes in the logs
  if (claims && claims.bytes_total !== null) checks.push(check('bytes_total matches logs', matchSize(claims.bytes_total, files.logs, metaName, false)))
  if (claims && claims.bytes_code !== null) {
    const codes = files.logs.flatMap(({file, log}) => log.code.map((c) => ({file, c})))
    const name = 'bytes_code matches logs'
    const hit = codes.find(({c}) => c.bytes === claims.bytes_code)
    if (hit) checks.push(pass(name, `${groupDigits(claims.bytes_code)} (${where(hit.file, hit.c)})`))
    else if (codes.length) checks.push(fail(name, `${metaName} says ${groupDigits(claims.bytes_code)}, the logs report ${list(codes.map(({c}) => groupDigits(c.bytes)))}`))
    else checks.push(unconfirmed(name, 'not confirmed: no "Code size" line in the logs'))
  }

  // scores
  if (claims) {
    const ownEstimator = claims.estimator || claims.slice ? [claims.estimator ? `estimator ${claims.estimator}` : null, claims.slice ? `slice ${claims.slice}` : null].filter(Boolean).join(', ') : null
    const base = {bound: claims.bound, allowMean: true, who: metaName}
    const scored = mainSeeds.filter((s) => s.val_bpb !== null)
    if (claims.val_bpb === null) {
      checks.push(scored.length ? unconfirmed('val_bpb matches logs', `not confirmed: ${metaName} gives no top-level val_bpb; each seed's is checked below`) : fail('val_bpb matches logs', `${metaName} claims no score (no val_bpb, val_var_bpb or seed_results)`))
    } else {
      checks.push(check(`${claims.val_bpb_key} matches logs`, orSeedMean(matchScore(claims.val_bpb, 'val_bpb', files.logs, {...base, ownEstimator}), claims.val_bpb, mainSeeds.map((s) => s.val_bpb), claims.bound)))
    }
    if (claims.val_var_bpb !== null) checks.push(check('val_var_bpb matches logs', matchScore(claims.val_var_bpb, 'val_bpb', files.logs, {...base, bound: true, ownEstimator})))
    if (claims.alt) checks.push(check('val_bpb_alt matches logs', matchScore(claims.alt.value, 'val_bpb', files.logs, {...base, ownEstimator: claims.alt.what})))
    if (claims.val_loss === null) checks.push(unconfirmed('val_loss matches logs', `not confirmed: ${metaName} gives no val_loss`))
    else checks.push(check('val_loss matches logs', orSeedMean(matchScore(claims.val_loss, 'val_loss', files.logs, {...base, ownEstimator}), claims.val_loss, mainSeeds.map((s) => s.val_loss), claims.bound)))
  }

  // each seed against its own log
  if (claims) {
    for (const s of seedResults) seedReports.push(seedChecks(s, claims, files, checks))
    for (const seed of claims.seeds.filter((x) => !seedResults.some((s) => s.seed === x))) {
      const logs = logsOfSeed(files, seed, false, claims)
      checks.push(logs.length ? pass(`seed ${seed} log`, list(logs.map((l) => l.file))) : {...unconfirmed(`seed ${seed} log`, `not confirmed: no log names or states seed ${seed}`), seed})
      seedReports.push({seed, claimed_in: null, logs: logs.map((l) => l.file), val_bpb: null, val_loss: null, bytes: null})
    }
    const stats = seedStatistics(claims)
    if (stats) checks.push(stats)
  }

  // artifacts in the folder
  const bytesCode = claims?.bytes_code ?? (counted ? counted.bytes : null)
  const claimedTotal = claims?.bytes_total ?? null
  const impliedModel = claims?.bytes_model ?? (claimedTotal !== null && claims?.bytes_code != null ? claimedTotal - claims.bytes_code : null)
  const how = claims?.bytes_model != null ? 'bytes_model' : 'bytes_total − bytes_code'
  const matching = files.artifacts.filter((a) => a.bytes === impliedModel)
  for (const a of files.artifacts) {
    const name = `artifact ${a.file}`
    if (a.file.toLowerCase().endsWith('.golf')) {
      const r = readScanned(scan, a.scanned)
      if (!r.ok) {
        checks.push(unconfirmed(name, `not confirmed: ${r.reason}`))
        continue
      }
      try {
        verifyArtifact(new Uint8Array(r.bytes), a.file)
      } catch (err) {
        checks.push(fail(name, (err as Error).message))
        continue
      }
    }
    if (impliedModel === null) checks.push(unconfirmed(name, `${groupDigits(a.bytes)} bytes; not confirmed: ${metaName} gives no model size`))
    else if (a.bytes === impliedModel) checks.push(pass(name, `${groupDigits(a.bytes)} bytes = ${how}`))
    else if (matching.length) checks.push(unconfirmed(name, `${groupDigits(a.bytes)} bytes; not the claimed model (${matching[0].file} is): another variant, not confirmed`))
    else checks.push(fail(name, `${groupDigits(a.bytes)} bytes, ${metaName} implies ${groupDigits(impliedModel)} (${how})`))
  }
  const bytesModel = impliedModel ?? (files.artifacts.length === 1 ? files.artifacts[0].bytes : null)
  const total = knownTotal(claims, files)

  return {
    mode: 'folder',
    bytes_model: bytesModel,
    bytes_code: bytesCode,
    bytes_total: total,
    limit: opts.limit,
    within_limit: total !== null && total <= opts.limit && checks.find((c) => c.name === 'size ≤ limit')!.ok,
    roundtrip: null,
    checks,
    ok: checks.every((c) => c.ok),
    code: codeReport(codeFiles, counted),
    bound: claims ? claims.bound : files.logs.length > 0 && files.logs.every((l) => l.log.diffusion),
    seeds: seedReports,
    files: {
      metadata: meta?.file ?? null,
      other_metadata: files.metadata.slice(1).map((m) => m.file),
      readme: files.readme,
      logs: files.logs.map((l) => ({file: l.file, seed: l.seed})),
      artifacts: files.artifacts.map((a) => ({file: a.file, bytes: a.bytes})),
      refused: files.refused.map((r) => ({file: r.rel, reason: r.reason})),
    },
  }
}

/** `train_shards: 1499` is the training-shard count of that dataset (see leakageFingerprint). */
const LEAKY_TRAIN_SHARDS = 1499

/**
 * A log stating `train_shards: 1499` with a CaseOps tokenizer (named in a log, or a tokenizer file
 * of the folder). 1,499 is the count `prepare_caseops_data.py` writes with its default
 * `--val-docs 10000`: training starts at document 10,000 while the scored validation split is
 * documents 0–49,999, so 40,000 of them (80%) are trained on (openai/parameter-golf#2127); the
 * leaderboard excluded entries on this line (openai/parameter-golf#2146). It fails, like any
 * contradiction: the log contradicts a held-out score. Only the data can settle it otherwise
 * (one author showed a clean 50,000-document split behind the same count), so the detail says
 * how to measure it. No check is added when no log bears it: most logs never say.
 */
function leakageFingerprint(files: FolderFiles): VerifyCheck | null {
  const hits = files.logs.flatMap((l) => l.log.train_shards.filter((s) => s.value === LEAKY_TRAIN_SHARDS).map((s) => `${l.file}:${s.line}`))
  if (hits.length === 0) return null
  const caseops = [...files.logs.filter((l) => l.log.caseops_line !== null).map((l) => `${l.file}:${l.log.caseops_line}`), ...files.tokenizers.filter((t) => /caseops/i.test(t.file)).map((t) => t.file)]
  if (caseops.length === 0) return null
  return fail(
    'no validation data in training',
    `${list(hits)} says train_shards: ${LEAKY_TRAIN_SHARDS} with a CaseOps tokenizer (${list(caseops, 2)}): the training-shard count of prepare_caseops_data.py's default --val-docs 10000, whose training shards hold 40,000 of the 50,000 validation documents (openai/parameter-golf#2127; the leaderboard excluded entries on it, #2146). If the data was made otherwise, measure it: golf data audit --data <dataset> counts the validation documents in the training shards`,
  )
}

/** `; logs/train.log was not read: too large…` when a refused entry would have been the missing file. */
function refusedNote(files: FolderFiles, re: RegExp): string {
  const r = files.refused.filter((x) => re.test(x.rel.replace(/\/$/, '')))
  return r.length ? ` (not read: ${list(r.map((x) => `${x.rel}, ${x.reason}`), 2)})` : ''
}

/** The entry's total: claimed, else the largest claimed seed size, else the largest total the logs print. */
function knownTotal(claims: Claims | null, files: FolderFiles): number | null {
  if (claims?.bytes_total != null) return claims.bytes_total
  if (claims?.artifact_bytes_max != null) return claims.artifact_bytes_max
  const seedBytes = (claims?.seed_results ?? []).map((s) => s.bytes).filter((b): b is number => b !== null)
  if (seedBytes.length) return Math.max(...seedBytes)
  const logged = files.logs.map((l) => reportedTotal(l.log)).filter((t): t is SizeLine => t !== null && t.tolerance === 0)
  return logged.length ? Math.max(...logged.map((t) => t.bytes)) : null
}

function capCheck(claims: Claims | null, files: FolderFiles, limit: number): VerifyCheck {
  const sizes: Array<{what: string; bytes: number; tolerance: number}> = []
  if (claims?.bytes_total != null) sizes.push({what: 'bytes_total', bytes: claims.bytes_total, tolerance: 0})
  if (claims?.artifact_bytes_max != null) sizes.push({what: 'artifact_bytes_max', bytes: claims.artifact_bytes_max, tolerance: 0})
  for (const s of claims?.seed_results ?? []) if (s.bytes !== null) sizes.push({what: `seed ${s.seed} ${s.bytes_key} (${s.at})`, bytes: s.bytes, tolerance: 0})
  for (const l of files.logs) {
    const t = reportedTotal(l.log)
    if (t) sizes.push({what: `${where(l.file, t)}`, bytes: t.bytes, tolerance: t.tolerance})
  }
  if (sizes.length === 0) return unconfirmed('size ≤ limit', `not confirmed: no size claimed (bytes_total, artifact_bytes…) and none printed in the logs`)
  const over = sizes.find((s) => s.bytes - s.tolerance > limit)
  if (over) return limitCheck(over.bytes, limit, over.what)
  const unsure = sizes.find((s) => s.bytes + s.tolerance > limit)
  if (unsure) return unconfirmed('size ≤ limit', `not confirmed: ${unsure.what} ${groupDigits(unsure.bytes)} ± ${groupDigits(unsure.tolerance)} may be over the ${groupDigits(limit)}-byte limit`)
  const top = sizes[0].what === 'bytes_total' ? sizes[0] : sizes.reduce((a, b) => (b.bytes > a.bytes ? b : a))
  const c = limitCheck(top.bytes, limit, top.what)
  return sizes.length > 1 ? {...c, detail: `${c.detail}; ${sizes.length} sizes claimed or printed, all within`} : c
}

/** The claimed code size against the files: `bytes_code`, else bytes_total − the log's model size, else the log's code size. */
function codeCheck(claims: Claims | null, files: FolderFiles, codeFiles: CodeFile[], checks: VerifyCheck[]): CodeReading | null {
  const name = 'bytes_code matches code'
  if (!codeFiles.some((c) => c.role === 'main')) return null
  const logCodes = files.logs.flatMap(({file, log}) => log.code.map((c) => ({file, c})))
  let claim: number | null = null
  let who = ''
  let fromLog = false
  if (claims?.bytes_code != null) {
    claim = claims.bytes_code
    who = `${claims.file} bytes_code`
  } else if (claims?.bytes_total != null) {
    const model = files.logs.flatMap(({file, log}) => log.models.filter((m) => m.tolerance === 0).map((m) => ({file, m}))).at(-1)
    if (model && claims.bytes_total > model.m.bytes) {
      claim = claims.bytes_total - model.m.bytes
      who = `bytes_total − ${where(model.file, model.m)}`
    }
  }
  if (claim === null && logCodes.length) {
    const last = logCodes.at(-1)!
    claim = last.c.bytes
    who = `${where(last.file, last.c)}`
    fromLog = true
  }
  const readings = codeReadings(codeFiles)
  const sizes = codeFiles.filter((c) => c.role === 'main').map(showCodeFile).join('; ')
  if (claim === null) {
    checks.push(unconfirmed(name, `not confirmed: no code size claimed or printed; ${sizes}`))
    return null
  }
  const {exact, near} = matchCode(claim, readings)
  if (exact) {
    const outside = codeFiles.filter((c) => !exact.files.includes(c.file))
    const note = outside.length ? `; outside the counted total: ${list(outside.map((c) => `${c.file} (${c.role}, ${groupDigits(c.bytes)} bytes)`), 6)}` : ''
    checks.push(pass(name, `${who} ${groupDigits(claim)} = ${showReading(exact)}${exact.form === 'raw' ? '' : ' (compressed)'}${note}`))
    return exact
  }
  const logHit = !fromLog ? logCodes.find(({c}) => c.bytes === claim) : undefined
  if (fromLog || logHit) {
    const at = logHit ? where(logHit.file, logHit.c) : who
    checks.push(unconfirmed(name, `not confirmed: the committed code is not the code whose size the log states (${at}: ${groupDigits(claim)}); committed: ${sizes}`))
  } else if (near) {
    checks.push(unconfirmed(name, `not confirmed: ${who} ${groupDigits(claim)} is near ${showReading(near)} ${groupDigits(near.bytes)} (Δ ${near.bytes - claim > 0 ? '+' : ''}${groupDigits(near.bytes - claim)}): other compressor settings give other bytes`))
  } else {
    checks.push(unconfirmed(name, `not confirmed: ${who} ${groupDigits(claim)} is none of the readings of the committed code (${sizes}): other files or another compressor may be counted`))
  }
  return null
}

function seedChecks(s: SeedClaim, claims: Claims, files: FolderFiles, checks: VerifyCheck[]): SeedReport {
  const logs = logsOfSeed(files, s.seed, s.rerun, claims)
  const label = `${s.rerun ? 'rerun ' : ''}seed ${s.seed}`
  const who = `${label} (${s.at})`
  const report: SeedReport = {seed: s.seed, claimed_in: s.rerun ? 'compliance_rerun' : 'seed_results', logs: logs.map((l) => l.file), val_bpb: null, val_loss: null, bytes: null}
  if (logs.length === 0) {
    const o: Outcome = {state: 'unconfirmed', detail: `not confirmed: no log names or states seed ${s.seed}`, logged: null, where: null}
    checks.push(check(`${label} log`, o, s.seed))
    if (s.val_bpb !== null) report.val_bpb = figure(s.val_bpb, o)
    if (s.bytes !== null) report.bytes = figure(s.bytes, o)
    return report
  }
  const opts = {bound: claims.bound || s.val_bpb_key === 'val_var_bpb', allowMean: false, who, ownEstimator: null}
  if (s.val_bpb !== null) {
    const o = matchScore(s.val_bpb, 'val_bpb', logs, opts)
    checks.push(check(`${label} ${s.val_bpb_key} matches log`, o, s.seed))
    report.val_bpb = figure(s.val_bpb, o)
  }
  if (s.val_loss !== null) {
    const o = matchScore(s.val_loss, 'val_loss', logs, opts)
    checks.push(check(`${label} val_loss matches log`, o, s.seed))
    report.val_loss = figure(s.val_loss, o)
  }
  if (s.bytes !== null) {
    const o = matchSize(s.bytes, logs, `${who} ${s.bytes_key}`, true)
    checks.push(check(`${label} ${s.bytes_key} matches log`, o, s.seed))
    report.bytes = figure(s.bytes, o)
  }
  return report
}

/** artifact_bytes_max / _mean and val_bpb_std against the seed results they summarise. */
function seedStatistics(claims: Claims): VerifyCheck | null {
  const seeds = claims.seed_results.filter((s) => !s.rerun)
  const parts: Array<{state: State; text: string}> = []
  const bytes = seeds.map((s) => s.bytes).filter((b): b is number => b !== null)
  if (claims.artifact_bytes_max !== null && bytes.length) {
    const max = Math.max(...bytes)
    parts.push(max === claims.artifact_bytes_max ? {state: 'pass', text: `artifact_bytes_max ${groupDigits(max)} = the largest seed's`} : {state: 'fail', text: `artifact_bytes_max ${groupDigits(claims.artifact_bytes_max)} is not the largest seed's ${groupDigits(max)}`})
  }
  if (claims.artifact_bytes_mean !== null && bytes.length) {
    const mean = bytes.reduce((a, b) => a + b, 0) / bytes.length
    const ok = agreesAtPrecision(claims.artifact_bytes_mean, {value: mean, decimals: 20}) || Math.abs(mean - claims.artifact_bytes_mean) <= 1
    parts.push(ok ? {state: 'pass', text: `artifact_bytes_mean = the seeds' mean`} : {state: 'fail', text: `artifact_bytes_mean ${claims.artifact_bytes_mean} is not the seeds' mean ${mean.toFixed(1)}`})
  }
  const vals = seeds.map((s) => s.val_bpb).filter((v): v is number => v !== null)
  if (claims.val_bpb_std !== null && vals.length >= 2) {
    const m = vals.reduce((a, b) => a + b, 0) / vals.length
    const ss = vals.reduce((a, v) => a + (v - m) ** 2, 0)
    const sample = Math.sqrt(ss / (vals.length - 1))
    const population = Math.sqrt(ss / vals.length)
    const d = decimalsOf(claims.val_bpb_std)
    const agrees = (x: number) => agreesAtPrecision(claims.val_bpb_std!, {value: x, decimals: 20}, d)
    parts.push(
      agrees(sample) || agrees(population)
        ? {state: 'pass', text: `val_bpb_std = the ${agrees(sample) ? 'sample' : 'population'} std of the seeds' val_bpb`}
        : {state: 'unconfirmed', text: `val_bpb_std ${claims.val_bpb_std} is neither the sample (${sample.toFixed(d)}) nor the population (${population.toFixed(d)}) std of the seeds' val_bpb`},
    )
  }
  if (parts.length === 0) return null
  const state = foldState(parts.map((p) => p.state))
  return check('seed statistics', {state, detail: (state === 'unconfirmed' ? 'not confirmed: ' : '') + parts.map((p) => p.text).join('; ')})
}
