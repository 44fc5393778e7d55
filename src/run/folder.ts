/**
 * A run folder: everything one `golf train` run leaves behind.
 *
 *   config.json              the fully resolved recipe (plus data, seed, backend)
 *   train.log                official-style lines: `step:S/N train_loss:X train_time:Tms step_avg:Ams`,
 *                            `step:S/N val_loss:X val_bpb:Y train_time:Tms step_avg:Ams`, a score
 *                            on part of the validation split ending `partial_val_tokens:read/split`
 *   metrics.jsonl            one JSON object per logged step / evaluation
 *   checkpoint.safetensors   float32 weights (+ checkpoint.json sidecar, optimizer.safetensors)
 *   summary.json             the result: val_loss, val_bpb, steps, params, …
 */
import {appendFileSync, existsSync, mkdirSync, readFileSync, readdirSync, rmdirSync, rmSync, statSync} from 'node:fs'
import {dirname, join, resolve} from 'node:path'

import type {ValCoverage} from '../data/stream.js'
import type {KVReport} from '../quant/kv-cache.js'
import {InputError} from '../errors.js'
import {removeStaleTemps, writeFileAtomicSync} from '../io/atomic.js'
import {parseJson} from '../io/json.js'
import {readInputFile} from '../io/read.js'
import {checkRunJson, type RunJsonFile} from './schema.js'

/** Largest config.json / summary.json / checkpoint.json read (golf writes a few KB; a sidecar lists every ternary tensor): refused before reading. */
export const MAX_RUN_JSON_BYTES = 16 << 20

export const RUN_FILES = {
  config: 'config.json',
  log: 'train.log',
  metrics: 'metrics.jsonl',
  summary: 'summary.json',
  checkpoint: 'checkpoint.safetensors',
  checkpointMeta: 'checkpoint.json',
  optimizer: 'optimizer.safetensors',
} as const

/**
 * A stage of activation precision a run entered (recipe `activations:`), with the score just
 * before and just after the switch on the same weights (in-training evaluation: train.val_tokens).
 * A stage in force from step 0 has no before/after (null).
 */
export interface ActivationStageRecord {
  stage: number
  step: number
  /** The sites, as describeSites names them (a preset, or site:precision pairs). */
  sites: string
  val_loss_before: number | null
  val_bpb_before: number | null
  val_loss_after: number | null
  val_bpb_after: number | null
}

export interface RunSummary {
  run_id: string
  recipe: string
  seed: number
  steps: number
  max_steps: number
  train_time_ms: number
  /** Wall time of the final evaluation (chunked + sliding), as the 10-minute eval rule counts it. */
  eval_time_ms?: number
  step_avg_ms: number
  tokens_seen: number
  tokens_per_s: number
  val_loss: number
  val_bpb: number
  /** Targets scored (the official eval trims the split to whole windows). */
  val_tokens: number
  val_bytes: number
  /** How much of the validation split the final evaluation read (absent in runs from before it was recorded). */
  val_coverage?: ValCoverage
  /** The objective trained (absent in runs from before objectives: ar). */
  objective?: 'ar' | 'mdlm' | 'bd3lm'
  /** True when val_loss / val_bpb are upper bounds (a diffusion model's negative ELBO). */
  bound?: boolean
  /** How the bound was estimated (diffusion runs). */
  elbo?: {steps: number; samples: number; seed: number; estimator: 'mc' | 'exact'; val_bpb_se: number; se_method: string} | null
  sliding: {stride: number; val_loss: number; val_bpb: number} | null
  /** The final model scored through a quantized KV cache (recipes with eval.kv_cache): its settings, cost and score. */
  kv_cache?: (KVReport & {mode: string; stride: number | null; val_loss: number; val_bpb: number; bound: boolean}) | null
  backend: string
  params: {total: number; ternary: number; other: number}
  quant: {mode: string; active: boolean}
  /** Activation precision at the end and the stages entered (runs whose recipe stages it). */
  activations?: {sites: string; stages: ActivationStageRecord[]}
  dataset: string
  tokenizer: string
  vocab_size: number
  stopped_by: 'max_steps' | 'wallclock' | 'interrupted'
  started_at: string
  finished_at: string
  /** Free-form facts the report can use (hardware, node version). */
  hardware: string
  note?: string
  tags?: string[]
  baseline?: string | null
}

export class RunFolder {
  readonly dir: string

  constructor(dir: string) {
    this.dir = resolve(dir)
  }

  path(file: keyof typeof RUN_FILES): string {
    return join(this.dir, RUN_FILES[file])
  }

  get id(): string {
    return this.dir.split(/[\\/]/).pop()!
  }

  /**
   * Refuse (one line) a folder a fresh run cannot be made in: one that already holds something,
   * an existing file (never touched), or a path under a file. `golf train` checks before it starts.
   */
  static checkNew(dir: string): void {
    const abs = resolve(dir)
    let st
    try {
      st = statSync(abs)
    } catch {
      // missing: every existing folder above it must be a folder
      let up = dirname(abs)
      while (!existsSync(up) && dirname(up) !== up) up = dirname(up)
      if (existsSync(up) && !statSync(up).isDirectory()) throw new InputError(`run folder ${dir}: ${up} is a file, not a folder (choose another --out)`)
      return
    }
    if (!st.isDirectory()) throw new InputError(`run folder ${dir} is an existing file, not a folder (choose another --out)`)
    if (readdirSync(abs).length > 0) throw new InputError(`run folder ${dir} already exists and is not empty (use --resume to continue it, or another --out)`)
  }

  /** Create a fresh run folder; refuses one that already holds a run (see checkNew). */
  static create(dir: string): RunFolder {
    RunFolder.checkNew(dir)
    const run = new RunFolder(dir)
    mkdirSync(run.dir, {recursive: true})
    return run
  }

  /** Open an existing run folder for --resume. */
  static open(dir: string): RunFolder {
    const run = new RunFolder(dir)
    if (!existsSync(run.path('checkpointMeta'))) {
      if (!existsSync(run.dir)) throw new InputError(`cannot resume ${dir}: the folder does not exist`)
      // a run stopped before its first checkpoint: there is nothing to continue from, and a
      // fresh start refuses a non-empty folder, so say what to do
      if (existsSync(run.path('config'))) throw new InputError(`cannot resume ${dir}: the run stopped before its first checkpoint (no ${RUN_FILES.checkpointMeta}): remove the folder and start the run again`)
      throw new InputError(`cannot resume ${dir}: no ${RUN_FILES.checkpointMeta} there (is it a golf run folder?)`)
    }
    return run
  }

  /**
   * Remove what writers killed mid-write left here: temporary files of processes that no longer
   * run, under any of the run's file names (the checkpoint writer calls this on every save).
   */
  removeStaleTemps(): string[] {
    const names = [...Object.keys(RUN_FILES)].flatMap((k) => {
      const p = this.path(k as keyof typeof RUN_FILES)
      return [p, `${p}.pending`]
    })
    return names.flatMap((p) => removeStaleTemps(p))
  }

  /**
   * Remove what a fresh run that failed before its first checkpoint wrote: golf's run files (and
   * their temporary files) only, then the folder if it is empty and not `keepFolder` (it was
   * there before the run). Anything else in the folder stays, and so does the folder then.
   */
  removeUnfinished(opts: {keepFolder: boolean}): void {
    this.removeStaleTemps()
    for (const name of Object.values(RUN_FILES)) rmSync(join(this.dir, name), {force: true})
    if (opts.keepFolder) return
    try {
      rmdirSync(this.dir) // only an empty folder
    } catch {
      // someone put files there meanwhile: they stay
    }
  }

  log(line: string): void {
    appendFileSync(this.path('log'), line + '\n')
  }

  metric(obj: Record<string, unknown>): void {
    appendFileSync(this.path('metrics'), JSON.stringify(obj) + '\n')
  }

  /**
   * On resume from the checkpoint of `step`: the metrics lines the resumed run will write again
   * are dropped, so metrics.jsonl holds each step once, as an uninterrupted run's does: lines
   * of later steps, the final evaluation's (written after the last checkpoint), and a line a
   * kill tore in half. Rewritten atomically, and only when something is dropped.
   */
  dropMetricsAfter(step: number): number {
    const p = this.path('metrics')
    if (!existsSync(p)) return 0
    const lines = readFileSync(p, 'utf8').split('\n').filter((l) => l !== '')
    const kept = lines.filter((l) => {
      let m: {step?: unknown; final?: unknown}
      try {
        m = JSON.parse(l) as typeof m
      } catch {
        return false // torn by a kill mid-write
      }
      return !(m.final === true || (typeof m.step === 'number' && m.step > step))
    })
    if (kept.length !== lines.length) writeFileAtomicSync(p, kept.map((l) => l + '\n').join(''))
    return lines.length - kept.length
  }

  writeJson(file: 'config' | 'summary' | 'checkpointMeta', value: unknown): void {
    writeFileAtomicSync(this.path(file), JSON.stringify(value, null, 2) + '\n')
  }

  /** Read one of the run's JSON files, checked against its schema (src/run/schema.ts): every failure is one InputError line naming the file. */
  readJson<T>(file: RunJsonFile): T {
    return readRunJson<T>(this.path(file), file)
  }
}

/** A run-folder JSON file at `path` (config.json, summary.json, checkpoint.json), parsed and checked against its schema. */
export function readRunJson<T>(path: string, file: RunJsonFile, shown = path): T {
  return checkRunJson<T>(file, parseJson(readInputFile(path, RUN_FILES[file], {shown, maxBytes: MAX_RUN_JSON_BYTES}), shown), shown)
}

/** `tiny-cpu-s1337-20261123-141502`: recipe, seed and local start time. */
export function defaultRunName(recipe: string, seed: number, now = new Date()): string {
  const p = (n: number) => String(n).padStart(2, '0')
  const stamp = `${now.getFullYear()}${p(now.getMonth() + 1)}${p(now.getDate())}-${p(now.getHours())}${p(now.getMinutes())}${p(now.getSeconds())}`
  return `${recipe}-s${seed}-${stamp}`
}

/** Official-style log lines. */
export function trainLogLine(step: number, total: number, trainLoss: number, trainTimeMs: number, stepAvgMs: number): string {
  return `step:${step}/${total} train_loss:${trainLoss.toFixed(4)} train_time:${Math.round(trainTimeMs)}ms step_avg:${stepAvgMs.toFixed(2)}ms`
}

export function valLogLine(step: number, total: number, valLoss: number, valBpb: number, trainTimeMs: number, stepAvgMs: number): string {
  return `step:${step}/${total} val_loss:${valLoss.toFixed(4)} val_bpb:${valBpb.toFixed(4)} train_time:${Math.round(trainTimeMs)}ms step_avg:${stepAvgMs.toFixed(2)}ms`
}
