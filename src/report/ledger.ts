/**
 * The runs ledger: every `golf train` run folder (summary.json + config.json) read back, and
 * sorted into what a submission report needs:
 *   - the MAIN set: runs with no `baseline` — the seeds of the submitted config (their resolved
 *     configs must agree on everything but the seed);
 *   - ABLATIONS: runs whose summary names a `baseline` run; the change an ablation makes is the
 *     difference between its resolved config and its baseline's — computed, never typed by hand.
 * Ablation runs that make the same change against the same baseline are seeds of one ablation.
 *
 * Every run also carries what its val_bpb is: a likelihood (AR), or for a diffusion objective
 * its negative ELBO, an UPPER BOUND on the NLL (MDLM, Sahoo et al. 2024; BD3-LM, Arriola et al.
 * 2025 report NELBO-based perplexity as a bound). A bound and a likelihood are never seeds of
 * one entry: two published diffusion results were withdrawn because a loss with dependencies
 * between tokens was presented as a likelihood.
 */
import {existsSync, realpathSync, statSync} from 'node:fs'
import {basename, dirname, resolve} from 'node:path'
import {glob, isDynamicPattern} from 'tinyglobby'

import {InputError} from '../errors.js'
import {readInputFile} from '../io/read.js'
import {isValCoverage} from '../eval/coverage.js'
import {DEFAULT_OBJECTIVE} from '../objective/types.js'
import {describeActivationStages} from '../quant/activations.js'
import type {RunConfig} from '../run/load.js'
import {readRunJson, RUN_FILES, type RunSummary} from '../run/folder.js'

/** One line of metrics.jsonl: a train line has train_loss, an eval line val_loss/val_bpb. */
export interface MetricLine {
  step: number
  train_loss?: number
  val_loss?: number
  val_bpb?: number
  sliding_stride?: number
  final?: boolean
  [key: string]: unknown
}

export interface RunRecord {
  /** Absolute path of the run folder. */
  dir: string
  /** summary.run_id, or the folder name. */
  id: string
  summary: RunSummary
  config: RunConfig
  /** Parsed metrics.jsonl ([] when the file is absent). */
  metrics: MetricLine[]
  /** train.log, when present. */
  logPath: string | null
  /** checkpoint.safetensors + checkpoint.json present (the run can be packed and re-evaluated). */
  hasCheckpoint: boolean
  /** The objective trained (runs from before objectives: ar). */
  objective: RunObjective
  /** val_loss / val_bpb are upper bounds on the NLL (a diffusion model's negative ELBO). */
  bound: boolean
}

export type RunObjective = 'ar' | 'mdlm' | 'bd3lm'
const OBJECTIVES: readonly RunObjective[] = ['ar', 'mdlm', 'bd3lm']

/** `ar (likelihood)`, `mdlm (upper bound)`: what a run's val_bpb is, for messages and tables. */
export function scoreKind(r: Pick<RunRecord, 'objective' | 'bound'>): string {
  return `${r.objective} (${r.bound ? 'upper bound' : 'likelihood'})`
}

/** One changed config key: dotted path, value in the baseline (`from`) and in the run (`to`). */
export interface ConfigChange {
  key: string
  from: unknown
  to: unknown
}

export interface Ablation {
  /** The runs (seeds) of this ablation, sorted by seed. */
  runs: RunRecord[]
  /** The run their summaries name as baseline. */
  baseline: RunRecord
  /**
   * What Δ is measured against: the main seeds when the baseline is one of them (same config),
   * else the baseline run alone.
   */
  reference: RunRecord[]
  /** runChanges(baseline, run): what the ablation changed. */
  changes: ConfigChange[]
}

export interface RunGroups {
  /** Seeds of the submitted config, sorted by seed. */
  main: RunRecord[]
  ablations: Ablation[]
}

/** Keys that differ between seeds of one config by design. */
export const SEED_KEYS: readonly string[] = ['seed']

/**
 * Run folders named by `patterns`: folders, or globs (tinyglobby) matching folders or their
 * summary.json. Each must hold summary.json and config.json, else an InputError names it.
 * The result is sorted by folder path and free of duplicates.
 */
export async function loadRuns(patterns: readonly string[], opts: {cwd?: string} = {}): Promise<RunRecord[]> {
  const cwd = opts.cwd ?? process.cwd()
  if (patterns.length === 0) throw new InputError('--runs: give at least one run folder or glob')
  const dirs = new Set<string>()
  for (const pattern of patterns) {
    if (isDynamicPattern(pattern)) {
      const hits = await glob(pattern, {cwd, absolute: true, onlyFiles: false, expandDirectories: false})
      for (const hit of hits.sort()) {
        const path = hit.replace(/[\\/]$/, '')
        if (basename(path) === RUN_FILES.summary) dirs.add(dirname(path))
        else if (isDir(path)) dirs.add(path)
      }
      continue
    }
    const path = resolve(cwd, pattern)
    if (!existsSync(path)) throw new InputError(`run folder not found: ${pattern}`)
    dirs.add(basename(path) === RUN_FILES.summary ? dirname(path) : path)
  }
  if (dirs.size === 0) throw new InputError(`--runs: no run folders matched ${patterns.join(' ')}`)
  const seen = new Set<string>()
  const runs: RunRecord[] = []
  for (const dir of [...dirs].sort()) {
    const real = realpathSync(dir)
    if (seen.has(real)) continue
    seen.add(real)
    runs.push(loadRun(dir))
  }
  return runs
}

/** Read one run folder. */
export function loadRun(dir: string): RunRecord {
  const abs = resolve(dir)
  if (!isDir(abs)) throw new InputError(`not a run folder: ${dir}`)
  const summaryPath = resolve(abs, RUN_FILES.summary)
  const configPath = resolve(abs, RUN_FILES.config)
  if (!existsSync(summaryPath)) throw new InputError(`run folder ${dir} has no ${RUN_FILES.summary} (did the run finish?)`)
  if (!existsSync(configPath)) throw new InputError(`run folder ${dir} has no ${RUN_FILES.config}`)
  const summary = readRunJson<RunSummary>(summaryPath, 'summary')
  const config = readRunJson<RunConfig>(configPath, 'config')
  const objective = summary.objective ?? config.recipe.objective?.kind ?? 'ar'
  if (!OBJECTIVES.includes(objective)) throw new InputError(`${summaryPath}: objective must be ar, mdlm or bd3lm, got ${JSON.stringify(objective)}`)
  if (summary.bound !== undefined && typeof summary.bound !== 'boolean') throw new InputError(`${summaryPath}: bound must be true or false, got ${JSON.stringify(summary.bound)}`)
  if (summary.val_coverage !== undefined && !isValCoverage(summary.val_coverage)) {
    throw new InputError(`${summaryPath}: val_coverage must be {read_tokens, split_tokens, partial} with partial = read_tokens < split_tokens, got ${JSON.stringify(summary.val_coverage)}`)
  }
  const metricsPath = resolve(abs, RUN_FILES.metrics)
  const logPath = resolve(abs, RUN_FILES.log)
  return {
    dir: abs,
    id: typeof summary.run_id === 'string' && summary.run_id ? summary.run_id : basename(abs),
    summary,
    config,
    metrics: existsSync(metricsPath) ? readMetrics(metricsPath) : [],
    logPath: existsSync(logPath) ? logPath : null,
    hasCheckpoint: existsSync(resolve(abs, RUN_FILES.checkpoint)) && existsSync(resolve(abs, RUN_FILES.checkpointMeta)),
    objective,
    // a diffusion run that does not say is taken as a bound: never pass a bound for a likelihood
    bound: summary.bound ?? objective !== 'ar',
  }
}

/** metrics.jsonl → lines; a malformed line is an InputError naming file and line number. */
export function readMetrics(path: string): MetricLine[] {
  const out: MetricLine[] = []
  readInputFile(path, 'metrics file')
    .toString('utf8')
    .split('\n')
    .forEach((line, i) => {
      if (line.trim() === '') return
      let obj: unknown
      try {
        obj = JSON.parse(line)
      } catch {
        throw new InputError(`${path}:${i + 1}: not a JSON line`)
      }
      if (typeof obj !== 'object' || obj === null || typeof (obj as MetricLine).step !== 'number') throw new InputError(`${path}:${i + 1}: expected an object with a numeric "step"`)
      out.push(obj as MetricLine)
    })
  return out
}

/**
 * The keys (dotted paths into config.json) whose values differ between `a` (the baseline) and
 * `b`, sorted by key. Objects are compared key by key; arrays and scalars as whole values.
 * `ignore` lists keys (or key prefixes) to leave out, e.g. SEED_KEYS.
 */
export function configDiff(a: unknown, b: unknown, ignore: readonly string[] = []): ConfigChange[] {
  const fa = flatten(a)
  const fb = flatten(b)
  const keys = [...new Set([...fa.keys(), ...fb.keys()])].sort()
  const ignored = (k: string) => ignore.some((p) => k === p || k.startsWith(p + '.'))
  const out: ConfigChange[] = []
  for (const key of keys) {
    if (ignored(key)) continue
    const from = fa.get(key)
    const to = fb.get(key)
    if (JSON.stringify(from) !== JSON.stringify(to)) out.push({key, from, to})
  }
  return out
}

/** `model.model_dim 128 → 256` (values as JSON; a missing key shows as "—"). */
export function formatChange(c: ConfigChange): string {
  const show = (v: unknown) => (v === undefined ? '—' : JSON.stringify(v))
  return `${c.key} ${show(c.from)} → ${show(c.to)}`
}

function flatten(value: unknown, prefix = '', out = new Map<string, unknown>()): Map<string, unknown> {
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    const entries = Object.entries(value as Record<string, unknown>)
    if (entries.length === 0 && prefix) out.set(prefix, {})
    for (const [k, v] of entries) flatten(v, prefix ? `${prefix}.${k}` : k, out)
  } else if (prefix) {
    out.set(prefix, value)
  }
  return out
}

/** ELBO settings and which score is reported (eval.score, absent = elbo): diffusion runs only. */
const ELBO_KEYS: readonly string[] = ['recipe.eval.elbo_steps', 'recipe.eval.elbo_samples', 'recipe.eval.elbo_seed', 'recipe.eval.score']

/**
 * What run `b` changes against run `a`: configDiff of their configs without the seed, with the
 * objective of a run from before objectives filled in (ar), activation stages in words, and the ELBO settings compared
 * only between two diffusion runs (an AR score does not depend on them).
 */
export function runChanges(a: RunRecord, b: RunRecord): ConfigChange[] {
  // activation stages in words (runs from before them: float), so the change reads as a plan
  const filled = (r: RunRecord) => ({...r.config, recipe: {...r.config.recipe, objective: {...DEFAULT_OBJECTIVE, ...r.config.recipe.objective}, activations: describeActivationStages(r.config.recipe.activations ?? []), eval: {...r.config.recipe.eval, kv_cache: r.config.recipe.eval.kv_cache ?? null, score: r.config.recipe.eval.score ?? 'elbo'}}})
  const ignore = a.objective === 'ar' || b.objective === 'ar' ? [...SEED_KEYS, ...ELBO_KEYS] : SEED_KEYS
  return configDiff(filled(a), filled(b), ignore)
}

/** InputError when the main runs' scores are not of one kind (a bound and a likelihood, or two objectives). */
function assertOneScoreKind(main: readonly RunRecord[]): void {
  const kinds = new Map<string, string[]>()
  for (const r of main) kinds.set(scoreKind(r), [...(kinds.get(scoreKind(r)) ?? []), r.id])
  if (kinds.size < 2) return
  const parts = [...kinds].map(([kind, ids]) => `${ids.join(', ')} ${ids.length === 1 ? 'is' : 'are'} ${kind}`)
  throw new InputError(`the main runs mix objectives and cannot be seeds of one entry: ${parts.join('; ')} (train one with --baseline <run> to report it as an ablation, or leave it out of --runs)`)
}

/**
 * Split runs into the main set and ablations. InputError when no run is a main run, when the
 * main runs mix objectives (or a bound with a likelihood), when they differ in more than the
 * seed, or when an ablation's baseline cannot be found among the runs or on disk.
 */
export function groupRuns(runs: readonly RunRecord[], opts: {cwd?: string} = {}): RunGroups {
  const cwd = opts.cwd ?? process.cwd()
  const main = runs.filter((r) => !r.summary.baseline).sort(bySeed)
  if (main.length === 0) throw new InputError('no main runs: every run names a --baseline, so there is no submitted config (add the seeds of the submitted config to --runs)')
  assertOneScoreKind(main)
  for (const r of main.slice(1)) {
    const diff = runChanges(main[0], r)
    if (diff.length > 0) {
      throw new InputError(
        `runs ${main[0].id} and ${r.id} have no baseline but differ in ${diff.map(formatChange).join('; ')} (train the ablation with --baseline <run>, or leave it out of --runs)`,
      )
    }
  }
  const known = new Map<string, RunRecord>(runs.map((r) => [r.dir, r]))
  const groups = new Map<string, Ablation>()
  for (const r of runs.filter((x) => x.summary.baseline)) {
    const baseline = findBaseline(r, known, cwd)
    const changes = runChanges(baseline, r)
    const key = `${baseline.dir}\u0000${JSON.stringify(changes)}`
    const group = groups.get(key)
    if (group) group.runs.push(r)
    else {
      const inMain = main.some((m) => m.dir === baseline.dir)
      groups.set(key, {runs: [r], baseline, reference: inMain ? main : [baseline], changes})
    }
  }
  const ablations = [...groups.values()]
  for (const a of ablations) a.runs.sort(bySeed)
  ablations.sort((x, y) => (x.runs[0].dir < y.runs[0].dir ? -1 : x.runs[0].dir > y.runs[0].dir ? 1 : 0))
  return {main, ablations}
}

/** The baseline named in a run's summary: a loaded run (by path or run id), else read from disk. */
function findBaseline(run: RunRecord, known: Map<string, RunRecord>, cwd: string): RunRecord {
  const name = String(run.summary.baseline)
  const candidates = [resolve(cwd, name), resolve(dirname(run.dir), name), resolve(dirname(run.dir), basename(name))]
  for (const c of candidates) {
    const hit = known.get(c)
    if (hit) return hit
  }
  for (const r of known.values()) if (r.id === basename(name)) return r
  for (const c of candidates) if (existsSync(resolve(c, RUN_FILES.summary))) return loadRun(c)
  throw new InputError(`run ${run.id}: its baseline ${name} was not found (pass the baseline run to --runs too)`)
}

function bySeed(a: RunRecord, b: RunRecord): number {
  return a.summary.seed - b.summary.seed || (a.dir < b.dir ? -1 : a.dir > b.dir ? 1 : 0)
}

function isDir(path: string): boolean {
  try {
    return statSync(path).isDirectory()
  } catch {
    return false
  }
}

