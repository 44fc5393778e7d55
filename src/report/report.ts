/**
 * `golf report`: from run folders to a submission folder.
 *
 *   runs ──ledger──▶ main seeds + ablations
 *        ──pack───▶ model.golf (the first seed's run, or --artifact), per-seed artifact bytes
 *        ──verify─▶ roundtrip val_bpb of the shipped artifact, the counted code train_golf.mjs + .br
 *                   (or, with `--code torch`, golf export torch's train_gpt.py of the runs' recipe,
 *                   self-extracting: src/export/torch/self-extract.ts)
 *        ──stats──▶ Mean/Std, ablation verdicts, record significance, compliance
 *        ──render─▶ README.md, submission.json (schema-checked), val_bpb.svg, train_seed<N>.log,
 *                   sizes.log (the size lines of the files shipped, in the official format)
 *
 * The folder is built in a temporary sibling and renamed into place, so a failure never leaves
 * a half-written submission; an existing non-empty folder is replaced only with `force`.
 *
 * Diffusion runs score the negative ELBO, an upper bound on the NLL: the README says so wherever
 * the number appears, and submission.json keeps val_bpb / val_loss (the bound: what the
 * leaderboard reads, and an honest claim) and adds `val_var_bpb`, the name the challenge's
 * published masked-diffusion entry used for the variational bound, with `bound: "upper"`,
 * `elbo_steps` and `objective`.
 */
import {describeCoverage} from '../eval/coverage.js'
import {elboName} from '../eval/score.js'
import type {ValCoverage} from '../data/stream.js'
import {copyFileSync, existsSync, lstatSync, mkdirSync, readdirSync, renameSync, rmSync, statSync, writeFileSync} from 'node:fs'
import {basename, dirname, join, resolve, sep} from 'node:path'

import {InputError} from '../errors.js'
import type {SelfExtracting} from '../export/torch/self-extract.js'
import {tempSiblingPath} from '../io/atomic.js'
import {oneLine, readInputFile, showPath} from '../io/read.js'
import {DEFAULT_OBJECTIVE, modelVocabFor} from '../objective/types.js'
import {artifactCompression} from '../pack/artifact/format.js'
import {DEFAULT_ARTIFACT_LIMITS} from '../pack/artifact/limits.js'
import {verifyArtifact} from '../pack/artifact/reader.js'
import type {CompressName} from '../pack/compress.js'
import type {ResolvedRecipe} from '../recipe/recipe.js'
import {COUNTED_CODE_FILES} from '../submission/counted-code.js'
import {sizeLines} from '../submission/size-lines.js'
import {OFFICIAL_LIMIT} from '../verify/limit.js'
import type {RoundtripResult} from '../verify/roundtrip.js'
import {complianceChecks, isRecordHardware, leakageCheck, RECORD_HARDWARE} from './compliance.js'
import {configDiff, formatChange, groupRuns, loadRuns, scoreKind, type Ablation, type RunObjective, type RunRecord} from './ledger.js'
import {plotPoints, renderPlotSvg} from './plot.js'
import {fmtInt, fmtScore, fmtSigned, renderReadme, type AblationRow, type AblationVerdict, type BoundInfo, type ComplianceItem, type ReadmeInput, type SeedRow} from './readme.js'
import {DEFAULT_NOISE_FLOOR_BPB, judgeAblation, mean, recordSignificance, sampleStd, type Significance} from './stats.js'
import {validateSubmission, type Submission} from './submission-schema.js'
import {writeTarball} from './tarball.js'

export const REPORT_FILES = {
  readme: 'README.md',
  submission: 'submission.json',
  plot: 'val_bpb.svg',
  artifact: 'model.golf',
  /**
   * The size lines (`Serialized model golf-artifact: N bytes`, `Code size: N bytes`, `Total
   * submission size golf-artifact: N bytes`), measured from the files shipped: a run's train.log
   * is written before packing and is copied as it is, so the sizes get a log of their own.
   */
  sizes: 'sizes.log',
  /** The counted code: golf's loader (or the --code file) … */
  code: COUNTED_CODE_FILES.loader,
  /** … and golf's bundle, brotli-compressed, that the loader runs (src/verify/bundle.ts). */
  payload: COUNTED_CODE_FILES.payload,
} as const

/** `--code torch`: the counted code is golf export torch's file for the runs' recipe … */
export const TORCH_CODE = 'torch'
/** … shipped self-extracting under the name the records use. */
export const TORCH_CODE_FILE = 'train_gpt.py'

export {evalSecondsUpperBound, TIME_LIMIT_S} from './compliance.js'

export interface ReportOptions {
  /** Run folders or globs. */
  runs: string[]
  /** The submission folder to write. */
  out: string
  author?: string
  githubId?: string
  name?: string
  blurb?: string
  track?: 'record' | 'non-record'
  /** Current best val_bpb: enables the record significance test (default: the mean of sotaSeeds). */
  sota?: number
  /** The previous record's per-seed val_bpb: adds the leaderboard's one-sided Welch test. */
  sotaSeeds?: number[]
  /** Byte cap (default 16,000,000). */
  limit?: number
  /** Also write `<out>.tar.gz`. */
  tar?: boolean
  /** Replace an existing non-empty folder / tarball. */
  force?: boolean
  /** Ship this artifact instead of packing the first seed's run. */
  artifact?: string
  /**
   * Ship this file as the counted code instead of bundling golf's (`buildCountedCode`); `torch`
   * (TORCH_CODE): golf export torch's train_gpt.py of the runs' recipe, self-extracting.
   */
  code?: string
  /** Submission date (ISO 8601); default now. Also the tarball's mtime. */
  date?: string
  /** bpb floor for ablation verdicts when there is a single main seed. */
  noiseFloor?: number
  /** Measure the shipped artifact's roundtrip val_bpb (default true; needs the run's checkpoint). */
  roundtrip?: boolean
  /**
   * The roundtrip of the first seed's run and this very artifact, already measured (golf demo
   * passes golf verify's, on the same tokens): used instead of scoring both models again.
   */
  measuredRoundtrip?: RoundtripResult
  /** Run the leakage audit on the runs' dataset for the compliance line (default true). */
  dataAudit?: boolean
  cwd?: string
  onProgress?: (line: string) => void
}

export interface ReportResult {
  out: string
  files: string[]
  tarball: string | null
  submission: Submission
  /** The main seeds' objective; with `bound` their val_bpb are upper bounds (negative ELBO). */
  objective: RunObjective
  bound: boolean
  seeds: SeedRow[]
  val_bpb_mean: number
  val_bpb_std: number | null
  ablations: AblationRow[]
  compliance: ComplianceItem[]
  significance: Significance | null
  warnings: string[]
}

/** ISO 8601 without milliseconds: 2026-03-19T08:45:00Z. */
export function normalizeDate(s: string | undefined, now = new Date()): string {
  const d = s === undefined ? now : new Date(s)
  if (Number.isNaN(d.getTime()) || (s !== undefined && !/^\d{4}-\d{2}-\d{2}/.test(s))) throw new InputError(`--date ${s}: expected an ISO 8601 date, e.g. 2026-03-19 or 2026-03-19T08:45:00Z`)
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z')
}

function shellQuote(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`
}

/** `--set` flags that turn the named built-in recipe into the run's resolved one (null: not built in). */
export async function recipeOverrides(recipe: ResolvedRecipe): Promise<string[] | null> {
  const {loadRecipe, resolveRecipe} = await import('../recipe/recipe.js')
  let base: ResolvedRecipe
  let run: ResolvedRecipe
  try {
    base = loadRecipe(recipe.name)
    // a run's recipe from an older golf lacks keys added since (objective, eval.elbo_*): their defaults
    run = resolveRecipe(recipe as unknown as Record<string, unknown>, {name: recipe.name})
  } catch {
    return null
  }
  return configDiff(base, run, ['name', 'description']).map((c) => `--set ${shellQuote(`${c.key}=${typeof c.to === 'string' ? c.to : JSON.stringify(c.to ?? null)}`)}`)
}

function datasetName(run: RunRecord): string {
  return basename(String(run.config.data ?? run.summary.dataset ?? 'unknown'))
}

const BUILTIN_DATASET = 'brown_byte260'

/**
 * How the shipped counted code runs: golf's loader with node, a Python file (golf export torch's
 * train_gpt.py, which takes the same train/eval flags) with python3.
 */
function codeRunner(codeFile: string): string {
  return `${codeFile.endsWith('.py') ? 'python3' : 'node'} ${codeFile}`
}

async function reproduceCommands(main: RunRecord[], recipe: ResolvedRecipe, codeFile: string): Promise<ReadmeInput['reproduce']> {
  const python = codeFile.endsWith('.py')
  const sets = await recipeOverrides(recipe)
  const data = datasetName(main[0])
  const dataFlag = data === BUILTIN_DATASET ? [] : ['--data', `path/to/${data}`]
  const recipeFlag = sets === null ? `path/to/${recipe.name}.yaml` : recipe.name
  const golf = main.map((r) => ['golf train --recipe', shellQuote(recipeFlag), '--seed', String(r.summary.seed), ...dataFlag, ...(sets ?? [])].join(' '))
  if (sets === null) golf.push(`# ${recipe.name} is not a built-in recipe: use the recipe file the runs were trained from (${codeFile} embeds the resolved recipe)`)
  const dataArg = `path/to/${data}`
  const counted = [
    ...(data === BUILTIN_DATASET ? [`# path/to/${BUILTIN_DATASET}: golf's built-in corpus (golf train prepares and caches it)`] : []),
    ...main.map((r) => `${codeRunner(codeFile)} train --data ${dataArg} --out runs/seed${r.summary.seed} --seed ${r.summary.seed}`),
    // the export's train writes a run folder and its eval scores the whole split unless told
    // otherwise (golf's loader reads both from the embedded recipe)
    ...(python ? [`# ${codeFile} train writes a golf run folder; golf pack runs/seed${main[0].summary.seed} -o ${REPORT_FILES.artifact} packs it. The line below scores the shipped ${REPORT_FILES.artifact}:`] : []),
    `${codeRunner(codeFile)} eval --artifact ${REPORT_FILES.artifact} --data ${dataArg}${python && recipe.eval.val_tokens != null ? ` --val-tokens ${recipe.eval.val_tokens}` : ''}`,
  ]
  return {golf, counted}
}

/**
 * Outer compressions train_gpt.py decodes with Python's standard library (zlib, lzma): not
 * brotli, which needs a pip package.
 */
export const TORCH_READABLE_COMPRESS: readonly CompressName[] = ['none', 'deflate', 'lzma', 'xz']

/**
 * `--code torch`: golf export torch's file for the recipe `run` trained, self-extracting. The
 * recipe is config.json's (the resolved recipe as golf train wrote it; the objective defaulted
 * as the ledger does for runs from before objectives), with the data's vocabulary: config.json
 * records the model's ids (a diffusion objective's [MASK] included) and the export adds the
 * [MASK] itself. The export's refusals (e.g. activation quantization) are one InputError line
 * naming --code torch.
 */
async function torchCountedCode(run: RunRecord, progress: (line: string) => void): Promise<SelfExtracting & {format: string; readCommand: string}> {
  // loaded on demand: the export's header reads golf's model constants (and so loads tfjs)
  const {renderTorchExport} = await import('../export/torch/export.js')
  const {readSourceCommand, SELF_EXTRACT_FORMAT, selfExtractingPython} = await import('../export/torch/self-extract.js')
  const stored = run.config.recipe
  const objective = {...DEFAULT_OBJECTIVE, ...stored.objective}
  const recipe: ResolvedRecipe = {...stored, objective, model: {...stored.model, vocab_size: stored.model.vocab_size - modelVocabFor(objective.kind, 0)}}
  let source: string
  try {
    source = renderTorchExport(recipe)
  } catch (err) {
    if (err instanceof InputError) throw new InputError(`--code torch: run ${oneLine(run.id)}: ${oneLine(err.message)}`)
    throw err
  }
  progress(`exporting ${TORCH_CODE_FILE} for recipe ${oneLine(stored.name)} (self-extracting)`)
  return {...selfExtractingPython(source), format: SELF_EXTRACT_FORMAT, readCommand: readSourceCommand(TORCH_CODE_FILE)}
}

function ablationRow(a: Ablation, noiseStd: number | null, floor: number): AblationRow {
  const vals = a.runs.map((r) => r.summary.val_bpb)
  const ref = a.reference.map((r) => r.summary.val_bpb)
  const j = judgeAblation(vals, ref, noiseStd, floor)
  const notes = [...new Set(a.runs.map((r) => r.summary.note).filter((n): n is string => Boolean(n)))]
  // the ablation's runs share a config, and so do the reference runs (the main seeds or one run)
  const run = a.runs[0]
  const base = a.reference[0]
  let verdict: AblationVerdict = j.verdict
  let basis = j.basis
  if (run.bound !== base.bound) {
    // an upper bound against a likelihood: only the side the likelihood Δ lies on is known
    verdict = 'not like for like'
    basis = `${scoreKind(run)} vs ${scoreKind(base)}: the likelihood Δ is ${run.bound ? 'at most' : 'at least'} ${fmtSigned(j.delta)}`
  } else if (run.objective !== base.objective) {
    basis += `; objective ${base.objective} → ${run.objective}${run.bound ? ': a Δ between two upper bounds' : ''}`
  }
  return {
    // config.json keys: `recipe.model.mlp_mult` reads better as the recipe key `model.mlp_mult`
    change: a.changes.map((c) => formatChange({...c, key: c.key.replace(/^recipe\./, '')})),
    note: notes.length ? notes.join('; ') : null,
    seeds: a.runs.map((r) => r.summary.seed),
    val_bpb: mean(vals),
    baseline_val_bpb: mean(ref),
    baseline_label: a.reference.length > 1 ? `main seeds, mean of ${a.reference.length}` : a.baseline.id,
    delta: j.delta,
    verdict,
    basis,
    objective: run.objective,
    bound: run.bound,
    baseline_objective: base.objective,
    baseline_bound: base.bound,
  }
}

/** How the main seeds' bound was estimated (null: their val_bpb are likelihoods). */
function boundInfo(main: readonly RunRecord[]): BoundInfo | null {
  const r = main[0]
  if (!r.bound) return null
  const e = r.summary.elbo ?? null
  return {objective: r.objective, steps: e?.steps ?? r.config.recipe.eval?.elbo_steps ?? null, estimator: e?.estimator ?? null, samples: e?.samples ?? null, seed: e?.seed ?? null, se_method: e?.se_method ?? null}
}

function nonRecordReason(main: RunRecord[], compliance: ComplianceItem[], significance: Significance | null): string {
  const reasons: string[] = []
  const data = datasetName(main[0])
  if (!/fineweb/i.test(data)) reasons.push(`evaluated on ${data}, not the official FineWeb validation split`)
  if (!main.every((r) => isRecordHardware(r.summary.hardware))) reasons.push(`trained on ${main[0].summary.hardware}, not ${RECORD_HARDWARE}`)
  for (const c of compliance) if (c.status === 'fail') reasons.push(`${c.name}: ${c.detail}`)
  if (significance && !significance.record) reasons.push('no significant improvement over the SOTA')
  return reasons.join('; ')
}

/** submission.json's significance: the README rule's fields (flat, as before) and the leaderboard's Welch test. */
function submissionSignificance(s: Significance): NonNullable<Submission['significance']> {
  const w = s.welch
  // a degenerate test (no spread) has t = ±Infinity: JSON has no such number
  const finite = (x: number | null) => (x !== null && Number.isFinite(x) ? x : null)
  return {
    sota_bpb: s.sota_bpb,
    threshold_loss: s.threshold_loss,
    delta_nats: s.delta_nats,
    margin_nats: s.margin_nats,
    alpha: s.alpha,
    t: finite(s.t),
    dof: s.dof,
    p: s.p,
    record: s.record,
    ...(w ? {welch: {sota_seeds_bpb: w.sota_seeds_bpb, delta_bpb: w.delta_bpb, t: finite(w.t), dof: w.dof, p: w.p, alpha: w.alpha, passes: w.passes}} : {}),
  }
}

/** Names golf report writes into a submission folder (README, submission.json, plot, artifact, code, logs). */
function isReportFile(name: string): boolean {
  return (Object.values(REPORT_FILES) as string[]).includes(name) || name === TORCH_CODE_FILE || /^train_seed\d+(_\d+)?\.log$/.test(name)
}

/**
 * What --force may replace: a submission folder as golf report writes it, and nothing else —
 * not the current folder or one that holds it, not a folder that holds any input of this
 * report (runs, artifact, code), not one with files golf does not write (someone's notes, a
 * runs folder, a repository).
 */
function assertReplaceable(out: string, inputs: string[], cwd: string): void {
  if (!existsSync(out)) return
  const inside = (p: string, dir: string) => p === dir || p.startsWith(dir.endsWith(sep) ? dir : dir + sep)
  if (inside(resolve(cwd), out)) throw new InputError(`--out ${out} is the current folder or holds it: --force will not replace it (choose a new folder for the submission)`)
  const held = inputs.map((i) => resolve(cwd, i)).find((i) => inside(i, out))
  if (held) throw new InputError(`--out ${out} holds an input of this report (${held}): --force will not replace it`)
  let entries: string[]
  try {
    entries = readdirSync(out)
  } catch {
    throw new InputError(`--out ${out} exists and is not a folder: --force replaces only a submission folder golf report wrote`)
  }
  const foreign = entries.filter((e) => !isReportFile(e) || !lstatSync(join(out, e)).isFile())
  if (foreign.length > 0) {
    const shown = foreign.slice(0, 3).join(', ') + (foreign.length > 3 ? `, … (${foreign.length} in all)` : '')
    throw new InputError(`--out ${out} holds files golf report does not write (${shown}): --force replaces only a submission folder golf wrote; move them or choose another --out`)
  }
}

function assertOutFree(path: string, what: string, force: boolean | undefined): void {
  if (!existsSync(path) || force) return
  let entries: string[] | null = null
  try {
    entries = readdirSync(path)
  } catch {
    // a file, not a folder
  }
  if (entries === null) throw new InputError(`${what} ${path} already exists (use --force to replace it)`)
  if (entries.length > 0) throw new InputError(`${what} ${path} already exists and is not empty (use --force to replace it)`)
}

export async function buildReport(opts: ReportOptions): Promise<ReportResult> {
  const cwd = opts.cwd ?? process.cwd()
  const progress = opts.onProgress ?? (() => {})
  const out = resolve(cwd, opts.out.replace(/[\\/]+$/, ''))
  const tarPath = `${out}.tar.gz`
  assertOutFree(out, '--out', opts.force)
  if (opts.tar) assertOutFree(tarPath, 'tarball', opts.force)
  const date = normalizeDate(opts.date)
  const limit = opts.limit ?? OFFICIAL_LIMIT
  const floor = opts.noiseFloor ?? DEFAULT_NOISE_FLOOR_BPB
  if (opts.sota !== undefined && !(opts.sota > 0 && Number.isFinite(opts.sota))) throw new InputError(`--sota ${opts.sota}: expected a positive val_bpb`)
  const sotaSeeds = opts.sotaSeeds && opts.sotaSeeds.length > 0 ? opts.sotaSeeds : undefined
  const bad = sotaSeeds?.find((x) => !(x > 0 && Number.isFinite(x)))
  if (bad !== undefined) throw new InputError(`--sota-seeds: ${bad} is not a positive val_bpb`)
  // the README rule compares with the published SOTA; given only its seeds, with their mean
  const sota = opts.sota ?? (sotaSeeds ? mean(sotaSeeds) : undefined)
  if (!(floor > 0)) throw new InputError(`--noise-floor ${floor}: expected a positive bpb`)

  const runs = await loadRuns(opts.runs, {cwd})
  // with --force: still never the current folder, an input's folder or a folder golf did not write
  const torch = opts.code === TORCH_CODE
  if (opts.force) assertReplaceable(out, [...runs.map((r) => r.dir), ...(opts.artifact ? [opts.artifact] : []), ...(opts.code && !torch ? [opts.code] : [])], cwd)
  const {main, ablations} = groupRuns(runs, {cwd})
  const first = main[0]
  const recipe = first.config.recipe
  const bound = boundInfo(main)
  if (bound && bound.steps === null) throw new InputError(`run ${first.id}: its val_bpb is an upper bound but neither summary.json (elbo.steps) nor config.json (eval.elbo_steps) says with how many steps`)
  const warnings: string[] = []
  // refused before anything is packed: the export of the exact recipe the runs trained
  const torchCode = torch ? await torchCountedCode(first, progress) : null
  progress(`${main.length} main seed${main.length === 1 ? '' : 's'}, ${ablations.length} ablation${ablations.length === 1 ? '' : 's'}`)

  mkdirSync(dirname(out), {recursive: true})
  const tmp = tempSiblingPath(out)
  mkdirSync(tmp)
  let computed: Omit<ReportResult, 'out' | 'files' | 'tarball'>
  try {
    // The artifact: given, or packed from each main run that has a checkpoint (first seed's ships).
    const artifactPath = join(tmp, REPORT_FILES.artifact)
    const artifactBytes = new Map<RunRecord, number>()
    if (opts.artifact) {
      // no valid artifact is larger than its body cap; a file that is not one (wrong magic, truncated) is refused before it is shipped
      const bytes = readInputFile(resolve(cwd, opts.artifact), '--artifact', {shown: showPath(opts.artifact), maxBytes: DEFAULT_ARTIFACT_LIMITS.maxBodyBytes})
      verifyArtifact(bytes, `--artifact ${showPath(opts.artifact)}`)
      writeFileSync(artifactPath, bytes)
      artifactBytes.set(first, bytes.byteLength)
      const given = artifactCompression(bytes)
      if (torchCode && given !== undefined && !TORCH_READABLE_COMPRESS.includes(given)) {
        warnings.push(`--artifact ${oneLine(opts.artifact)} is ${given}-compressed: train_gpt.py reads it only with the brotli package installed (Python's standard library has no brotli); repack with golf pack --compress xz so the folder needs no more than PyTorch and numpy`)
      }
    } else {
      if (!first.hasCheckpoint) throw new InputError(`run ${first.id} has no checkpoint to pack (checkpoint.safetensors + checkpoint.json): pass --artifact <model.golf>`)
      // loaded on demand: a report from runs without checkpoints (--artifact) never loads tfjs
      const {packSource} = await import('../pack/pack-model.js')
      for (const r of main) {
        if (!r.hasCheckpoint) {
          warnings.push(`run ${r.id} has no checkpoint: its artifact bytes are not known`)
          continue
        }
        progress(`packing ${r.id}`)
        // --code torch: golf pack's auto among what Python's standard library decodes
        const {bytes} = await packSource(r.dir, {codec: 'auto', compress: 'auto', ...(torchCode ? {autoAmong: TORCH_READABLE_COMPRESS} : {})})
        artifactBytes.set(r, bytes.byteLength)
        if (r === first) writeFileSync(artifactPath, bytes)
      }
    }
    const bytesModel = artifactBytes.get(first)!

    // Roundtrip of the shipped artifact (golf verify's own code).
    const notes: string[] = []
    let roundtripBpb: number | null = null
    let roundtripLoss: number | null = null
    let roundtripCoverage: ValCoverage | null = null
    if (opts.roundtrip !== false && first.hasCheckpoint) {
      let rt: RoundtripResult
      if (opts.measuredRoundtrip) rt = opts.measuredRoundtrip
      else {
        progress(`roundtrip: evaluating ${first.id} and the model rebuilt from the artifact`)
        const {roundtrip} = await import('../verify/roundtrip.js')
        const backend = first.config.backend === 'wasm' || first.config.backend === 'cpu' ? first.config.backend : undefined
        rt = await roundtrip({runDir: first.dir, artifactPath, valTokens: recipe.eval.val_tokens, backend})
      }
      roundtripBpb = rt.val_bpb_after
      roundtripLoss = rt.val_loss_after
      roundtripCoverage = rt.val_coverage
      const le = rt.bound ? '≤ ' : ''
      const same = rt.bound && bound ? `both the negative ${elboName(bound.steps)} with the same noise${bound.seed !== null ? `, seed ${bound.seed}` : ''}; ` : ''
      notes.push(
        `Roundtrip: seed ${first.summary.seed}'s model rebuilt from \`${REPORT_FILES.artifact}\` scores val_bpb ${le}${rt.val_bpb_after.toFixed(6)} against ${le}${rt.val_bpb_before.toFixed(6)} before packing ` +
          `(${same}gap ${rt.gap.toFixed(6)}; ${rt.exact ? 'exact: identical logits' : `max |Δlogit| = ${rt.max_logit_diff.toExponential(2)}`}) on ${rt.tokens.toLocaleString('en-US')} validation targets (${describeCoverage(rt.val_coverage)}).`,
      )
    } else {
      notes.push(
        `Roundtrip val_bpb was not measured ${!first.hasCheckpoint ? `(run ${first.id} has no checkpoint to compare the artifact with)` : '(--no-roundtrip)'}; run \`golf verify --run <run> --artifact ${REPORT_FILES.artifact}\` to measure it.`,
      )
    }
    if (opts.artifact) notes.push(`The artifact was given with --artifact, not packed by this report; its bytes are listed for seed ${first.summary.seed}.`)

    // The counted code: golf's bundle for this recipe (a loader and the compressed bundle), or the file given.
    let counted: {files: Array<{name: string; data: Uint8Array}>; bytes: number}
    if (torchCode) {
      counted = {files: [{name: TORCH_CODE_FILE, data: torchCode.bytes}], bytes: torchCode.bytes.byteLength}
      notes.push(
        `The counted code is \`${TORCH_CODE_FILE}\` (${fmtInt(torchCode.bytes.byteLength)} bytes): \`golf export torch --compressed\` of the runs' resolved recipe, a ${fmtInt(torchCode.raw_bytes)}-byte PyTorch file (golf's model, quantizer, trainer and .golf reader) ` +
          `compressed with LZMA and base85-encoded (${torchCode.format}, ${fmtInt(torchCode.lzma_bytes)} bytes of .lzma) into a two-line wrapper that decompresses it and runs it as the raw file runs; it needs PyTorch >= 1.13 and numpy, not golf. ` +
          `To read it: \`${torchCode.readCommand}\`.` +
          (opts.artifact ? '' : ` \`${REPORT_FILES.artifact}\` is packed with the smallest outer compression Python's standard library reads (${TORCH_READABLE_COMPRESS.join(', ')}; not brotli), so it needs no more.`),
      )
    } else if (opts.code) {
      const code = readInputFile(resolve(cwd, opts.code), '--code', opts.code)
      // shipped under its own name (train_gpt.py stays train_gpt.py), unless that is a file the folder holds already
      const name = basename(opts.code)
      if ((Object.values(REPORT_FILES) as string[]).filter((f) => f !== REPORT_FILES.code).includes(name) || /^train_seed\d+\.log$/.test(name)) {
        throw new InputError(`--code ${oneLine(opts.code)}: the submission folder has its own ${name}; give the counted code another name`)
      }
      counted = {files: [{name, data: code}], bytes: code.byteLength}
      notes.push(`The counted code was given with --code, not bundled by this report.`)
    } else {
      progress('bundling the counted code')
      const {buildCountedCode} = await import('../verify/bundle.js')
      const built = await buildCountedCode(recipe, {seed: first.summary.seed})
      counted = built
      const [loader, payload] = built.files.map((f) => f.data.byteLength)
      notes.push(
        `The counted code is \`${REPORT_FILES.code}\` (${fmtInt(loader)} bytes) + \`${REPORT_FILES.payload}\` (${fmtInt(payload)} bytes): golf's ${fmtInt(built.rawBytes)}-byte bundle for this recipe, brotli-compressed, ` +
          `and the loader that decompresses it in memory, checks its SHA-256 and runs it. To read the bundle: \`node -e "process.stdout.write(zlib.brotliDecompressSync(fs.readFileSync('${REPORT_FILES.payload}')))"\`.`,
      )
    }
    for (const f of counted.files) writeFileSync(join(tmp, f.name), f.data)
    const bytesTotal = bytesModel + counted.bytes

    // Logs.
    const logFiles: string[] = []
    for (const r of main) {
      if (!r.logPath) {
        warnings.push(`run ${r.id} has no train.log`)
        continue
      }
      let name = `train_seed${r.summary.seed}.log`
      for (let i = 2; logFiles.includes(name); i++) name = `train_seed${r.summary.seed}_${i}.log`
      copyFileSync(r.logPath, join(tmp, name))
      logFiles.push(name)
    }
    if (logFiles.length === 0) throw new InputError(`no train.log in any main run (${main.map((r) => r.id).join(', ')}): a submission needs its training logs`)

    // Sizes: measured from the files shipped, in the official script's size lines. golf train
    // writes train.log before anything is packed, and a run's log is copied as it is (never
    // rewritten), so the sizes get a file of their own for golf verify to check the claims with.
    const shippedModel = statSync(artifactPath).size
    const shippedCode = counted.files.reduce((n, f) => n + statSync(join(tmp, f.name)).size, 0)
    if (shippedModel !== bytesModel || shippedCode !== counted.bytes) throw new Error(`the files written (${shippedModel} + ${shippedCode} bytes) are not the bytes counted (${bytesModel} + ${counted.bytes})`)
    // the header names the seed whose artifact ships, so golf verify reads these sizes as that seed's too
    const sizeHeader = `golf report: the sizes of the files this folder ships, ${REPORT_FILES.artifact} (the artifact of seed ${first.summary.seed}) and the counted code ${counted.files.map((f) => f.name).join(' + ')}, measured when it was written`
    writeFileSync(join(tmp, REPORT_FILES.sizes), [sizeHeader, ...sizeLines(shippedModel, shippedCode)].join('\n') + '\n')

    // Numbers.
    const rows: SeedRow[] = main.map((r) => ({
      seed: r.summary.seed,
      steps: r.summary.steps,
      step_avg_ms: r.summary.step_avg_ms,
      val_loss: r.summary.val_loss,
      val_bpb: r.summary.val_bpb,
      roundtrip_val_bpb: r === first ? roundtripBpb : null,
      sliding_val_bpb: r.summary.sliding?.val_bpb ?? null,
      sliding_stride: r.summary.sliding?.stride ?? null,
      artifact_bytes: artifactBytes.get(r) ?? null,
      train_time_s: r.summary.train_time_ms / 1000,
      bound: r.bound,
      val_bpb_se: r.bound ? (r.summary.elbo?.val_bpb_se ?? null) : null,
    }))
    const vals = main.map((r) => r.summary.val_bpb)
    const valMean = mean(vals)
    const valStd = sampleStd(vals)
    const ablationRows = ablations.map((a) => ablationRow(a, valStd, floor))
    const leakage = await leakageCheck(main, {cwd, audit: opts.dataAudit, onProgress: progress})
    const compliance = complianceChecks(main, bytesTotal, limit, leakage, roundtripCoverage)
    // the headline's: the shipped artifact's roundtrip when measured, else the first seed's final eval
    const coverage = roundtripCoverage ?? first.summary.val_coverage ?? null
    const significance =
      sota !== undefined
        ? recordSignificance(
            main.map((r) => r.summary.val_loss),
            vals,
            sota,
            {sotaSeedsBpb: sotaSeeds},
          )
        : null
    const track = opts.track ?? 'non-record'
    if (track === 'record' && significance && !significance.record) warnings.push(`track record, but the improvement over --sota ${sota} does not meet the README rule (Δ ${significance.delta_nats.toFixed(5)} nats, p = ${significance.p ?? 'n/a'})`)
    if (track === 'record' && !significance) warnings.push('track record without --sota: the README makes no significance claim')
    if (track === 'record' && !main.every((r) => isRecordHardware(r.summary.hardware))) warnings.push(`track record, but the runs were not timed on ${RECORD_HARDWARE} (${first.summary.hardware}): the time limits are not confirmed`)

    const name = opts.name ?? basename(out)
    const params = first.summary.params
    const blurb =
      opts.blurb ??
      `${params.ternary.toLocaleString('en-US')} ternary + ${params.other.toLocaleString('en-US')} other parameters (${recipe.model.unique_blocks * recipe.model.loops} layers × ${recipe.model.model_dim}), ` +
        `recipe ${recipe.name}, trained with golf; val_bpb ${fmtScore(valMean, bound !== null)} mean over ${main.length} seed${main.length === 1 ? '' : 's'} on ${datasetName(first)}` +
        `${bound ? ` (the negative ${elboName(bound.steps)} of the ${bound.objective} model, an upper bound)` : ''}.`
    if (!opts.author) warnings.push('no --author: submission.json says "anonymous"')
    if (!opts.githubId) warnings.push('no --github-id: submission.json says "anonymous"')

    const submission: Submission = {
      author: opts.author ?? 'anonymous',
      github_id: opts.githubId ?? 'anonymous',
      name,
      blurb,
      date,
      track,
      val_loss: roundtripLoss ?? first.summary.val_loss,
      val_bpb: roundtripBpb ?? first.summary.val_bpb,
      // a bound stays val_bpb (what the leaderboard reads) and is labelled as one
      ...(bound ? {val_var_bpb: roundtripBpb ?? first.summary.val_bpb, bound: 'upper' as const, elbo_steps: bound.steps!} : {}),
      ...(first.objective !== 'ar' ? {objective: first.objective} : {}),
      bytes_total: bytesTotal,
      bytes_code: counted.bytes,
      bytes_model: bytesModel,
      ...(coverage ? {val_coverage: coverage} : {}),
      ...(main.length >= 2 ? {val_bpb_mean: valMean, val_bpb_std: valStd!} : {}),
      ...(track === 'non-record'
        ? {
            seeds: main.map((r) => r.summary.seed),
            seed_results: main.map((r) => ({
              seed: r.summary.seed,
              val_loss: r.summary.val_loss,
              val_bpb: r.summary.val_bpb,
              steps: r.summary.steps,
              train_time_ms: r.summary.train_time_ms,
              bytes_model: artifactBytes.get(r) ?? null,
            })),
            step_stop: first.summary.steps,
            wallclock_seconds: first.summary.train_time_ms / 1000,
            hardware: first.summary.hardware,
            non_record_reason: nonRecordReason(main, compliance, significance),
            val_bpb_std: valStd ?? 0,
          }
        : {}),
      ...(significance ? {significance: submissionSignificance(significance)} : {}),
    }
    const problems = validateSubmission(submission)
    if (problems.length > 0) throw new InputError(`submission.json would not validate: ${problems.join('; ')}`)
    writeFileSync(join(tmp, REPORT_FILES.submission), JSON.stringify(submission, null, 2) + '\n')

    progress('rendering the plot')
    writeFileSync(join(tmp, REPORT_FILES.plot), await renderPlotSvg(plotPoints(main), {bound: bound !== null}))

    const readme = renderReadme({
      name,
      author: submission.author,
      github_id: submission.github_id,
      blurb,
      date,
      track,
      rows,
      bound,
      coverage,
      artifact_seed: first.summary.seed,
      artifact_file: REPORT_FILES.artifact,
      bytes_model: bytesModel,
      code_files: counted.files.map((f) => f.name),
      bytes_code: counted.bytes,
      bytes_total: bytesTotal,
      limit,
      hardware: first.summary.hardware,
      dataset: datasetName(first),
      tokenizer: String(first.config.tokenizer ?? first.summary.tokenizer),
      recipe,
      params,
      ablations: ablationRows,
      noise_std: valStd,
      noise_floor: floor,
      compliance,
      significance,
      reproduce: await reproduceCommands(main, recipe, counted.files[0].name),
      plot_file: REPORT_FILES.plot,
      log_files: logFiles,
      sizes_file: REPORT_FILES.sizes,
      notes,
    })
    writeFileSync(join(tmp, REPORT_FILES.readme), readme)
    computed = {submission, objective: first.objective, bound: bound !== null, seeds: rows, val_bpb_mean: valMean, val_bpb_std: valStd, ablations: ablationRows, compliance, significance, warnings}

    // Into place.
    if (existsSync(out)) rmSync(out, {recursive: true, force: true})
    renameSync(tmp, out)
  } catch (err) {
    rmSync(tmp, {recursive: true, force: true})
    throw err
  }

  let tarball: string | null = null
  if (opts.tar) {
    progress('writing the tarball')
    await writeTarball(out, tarPath, new Date(date))
    tarball = tarPath
  }
  return {out, files: readdirSync(out).sort(), tarball, ...computed}
}
