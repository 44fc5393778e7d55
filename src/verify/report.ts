/**
 * The result of `golf verify`, shared by folder mode and run mode: what `--json` prints.
 *
 * One shape for both modes. The fields every report has come first; the optional ones after
 * them are filled by the mode that knows them (run mode: `code`, `bound` and the fields of
 * `RunVerifyReport` in run.ts; folder mode: `code`, `bound`, `seeds`, `files`), and `counts` is
 * added by the command for both. Fields are only ever added to this shape, never renamed, so a
 * script reading an older report keeps working.
 *
 * Every check has one of three states, shown ✓ ✗ – by the checklist:
 *   pass           ok: true,  confirmed: true
 *   fail           ok: false, confirmed: true    a real contradiction: exit 1
 *   not confirmed  ok: true,  confirmed: false   nothing to check it against (no such log line,
 *                                                an unknown format, a claim on another slice);
 *                                                never a failure, the detail says why
 */
import {printable} from '../io/read.js'
import type {RoundtripResult} from './roundtrip.js'

export interface VerifyCheck {
  name: string
  /** false = the check failed (exit 1). */
  ok: boolean
  /** false = could not be confirmed (e.g. no such line in the logs): not a failure, shown as "–". */
  confirmed: boolean
  detail: string
  /** Folder mode: the seed a per-seed check is about (absent on checks of the whole entry). */
  seed?: number
}

/** The three states of a check as one word (what `ok` and `confirmed` say together). */
export type CheckStatus = 'pass' | 'fail' | 'not confirmed'

/** Compressed sizes of one code file (bytes); a form that was not computed is absent, see `skipped`. */
export interface CompressedSizes {
  /** zlib stream, level 9 (Python's `zlib.compress(code, 9)`). */
  zlib?: number
  /** brotli, quality 11. */
  brotli?: number
  /** .lzma ("LZMA alone"), LZMA-JS preset 6. */
  lzma?: number
  /** .xz, `xz -9e` (Python's `lzma.compress(code, preset=9 | lzma.PRESET_EXTREME)`). */
  xz?: number
  /** Forms not computed and why (`lzma: LZMA-JS is skipped above 128 KiB`). */
  skipped?: string[]
}

export interface CodeFileReport {
  /** Path inside the submission folder (folder mode) or as given (run mode). */
  file: string
  /** Raw size in bytes. */
  bytes: number
  /**
   * Folder mode: `main` (train_gpt.py, train_<name>.py, train_golf.mjs: a file the code claim
   * can be), `helper` (other .py/.c/.sh…), `tokenizer` (.model/.vocab).
   */
  role?: 'main' | 'helper' | 'tokenizer'
  /** Folder mode: in the set of files whose size matches the claim (null: no claim matched). */
  counted?: boolean | null
  /** Folder mode, main files: the compressed sizes the claim is compared with. */
  compressed?: CompressedSizes
}

export interface CodeReport {
  /** `bundle`: golf's counted-code bundle; `files`: --code files; `folder`: a submission folder's code. */
  kind: 'bundle' | 'files' | 'folder'
  files: CodeFileReport[]
  /**
   * Folder mode: which reading of the code the claim matches, e.g. `{form: 'xz', files:
   * ['train_gpt.py'], bytes: 17234}` (null: none does; absent: run mode).
   */
  counted_as?: {form: 'raw' | 'zlib' | 'brotli' | 'lzma' | 'xz'; files: string[]; bytes: number} | null
}

/** One claimed figure of a seed, and what its log says. */
export interface SeedFigure {
  claimed: number
  status: CheckStatus
  /** The log figure it was compared with (the matching one, else the closest). */
  logged: number | null
  /** `train_seed42.log:311 final_int6_roundtrip` */
  where: string | null
}

/** Folder mode: one seed of the entry. */
export interface SeedReport {
  seed: number
  /** Where the metadata states its results: `seed_results`, `compliance_rerun`; null: only listed in `seeds`. */
  claimed_in: string | null
  /** Logs read as this seed's (by file name or a seed line in the log). */
  logs: string[]
  val_bpb: SeedFigure | null
  val_loss: SeedFigure | null
  /** Claimed bytes (artifact_bytes, bytes_total or bytes_model of the seed). */
  bytes: SeedFigure | null
}

/** Folder mode: which files were read as what, and what was refused. */
export interface FolderFilesReport {
  /** The metadata file checked (submission.json, submission_<name>.json, or a JSON found by its fields). */
  metadata: string | null
  /** Further metadata files found and not checked. */
  other_metadata: string[]
  readme: string | null
  logs: Array<{file: string; seed: number | null}>
  artifacts: Array<{file: string; bytes: number}>
  /** Entries not read: links out of the folder, FIFOs and devices, files over the read cap, folders too deep. */
  refused: Array<{file: string; reason: string}>
}

export interface VerifyReport {
  mode: 'folder' | 'run'
  bytes_model: number | null
  bytes_code: number | null
  bytes_total: number | null
  limit: number
  within_limit: boolean
  roundtrip: Pick<RoundtripResult, 'val_bpb_before' | 'val_bpb_after' | 'gap' | 'val_loss_before' | 'val_loss_after' | 'max_logit_diff' | 'exact'> | null
  checks: VerifyCheck[]
  /** Every check passed (unconfirmed ones count as passed). */
  ok: boolean
  /** The counted code (both modes; folder mode adds roles, compressed sizes and which reading the claim matches). */
  code?: CodeReport
  /** The scores are upper bounds on the NLL (a diffusion model's negative ELBO), not likelihoods. */
  bound?: boolean
  /** Folder mode: per-seed claims and what their logs say. */
  seeds?: SeedReport[]
  /** Folder mode: what was read. */
  files?: FolderFilesReport
  /** Checks by state (added by `golf verify` in both modes). */
  counts?: {pass: number; fail: number; not_confirmed: number}
}

// Details name files of the folder checked: a name with a newline or an ESC must not forge a check line or a terminal escape.
export const pass = (name: string, detail: string): VerifyCheck => ({name: printable(name), ok: true, confirmed: true, detail: printable(detail)})
export const fail = (name: string, detail: string): VerifyCheck => ({name: printable(name), ok: false, confirmed: true, detail: printable(detail)})
export const unconfirmed = (name: string, detail: string): VerifyCheck => ({name: printable(name), ok: true, confirmed: false, detail: printable(detail)})

export function checkStatus(c: Pick<VerifyCheck, 'ok' | 'confirmed'>): CheckStatus {
  return !c.ok ? 'fail' : c.confirmed ? 'pass' : 'not confirmed'
}

/** The report with `counts` filled in from its checks. */
export function withCounts<R extends VerifyReport>(r: R): R {
  const counts = {pass: 0, fail: 0, not_confirmed: 0}
  for (const c of r.checks) {
    const s = checkStatus(c)
    if (s === 'pass') counts.pass++
    else if (s === 'fail') counts.fail++
    else counts.not_confirmed++
  }
  return {...r, counts}
}

/** `15,863,489` */
export function groupDigits(n: number): string {
  return n.toLocaleString('en-US')
}

/** The cap check, shared by both modes: says by how many bytes it is over. */
export function limitCheck(total: number | null, limit: number, what = 'bytes_total'): VerifyCheck {
  const name = `size ≤ limit`
  if (total === null) return fail(name, `${what} unknown: cannot check it against the ${groupDigits(limit)}-byte limit`)
  if (total <= limit) return pass(name, `${groupDigits(total)} ≤ ${groupDigits(limit)} bytes (${groupDigits(limit - total)} to spare)`)
  return fail(name, `${what} ${groupDigits(total)} is over the ${groupDigits(limit)}-byte limit by ${groupDigits(total - limit)} bytes`)
}
