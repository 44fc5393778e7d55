/**
 * `golf demo`: the main job end to end on the built-in default, no GPU, no download —
 *   built-in Brown corpus (byte260) → train `tiny-cpu` (or another recipe, e.g. mdlm-tiny-cpu)
 *   → pack (auto codec) → verify the cap and the exact roundtrip → render a submission folder
 *   (README, submission.json, logs, artifact, counted code).
 * Every step is the library call behind its own command, so the demo shows what the commands do.
 */
import {join, resolve} from 'node:path'

import {writeFileAtomic} from './io/atomic.js'
import {packSource} from './pack/pack-model.js'
import {buildReport} from './report/report.js'
import {loadRecipe} from './recipe/recipe.js'
import {defaultRunName} from './run/folder.js'
import {train, type TrainEvent} from './train/loop.js'
import {OFFICIAL_LIMIT} from './verify/limit.js'
import {verifyRun, type RunVerifyReport} from './verify/run.js'
import type {BackendName} from './backend/index.js'
import type {ValCoverage} from './data/stream.js'

export interface DemoOptions {
  /** Folder the demo writes into (runs/ and submissions/ below it). */
  root: string
  recipe?: string
  seed?: number
  backend?: BackendName
  /** Extra recipe overrides (`--set`), e.g. a shorter wall-clock cap. */
  sets?: string[]
  onEvent?: (e: TrainEvent) => void
  onStage?: (line: string) => void
  interrupted?: () => boolean
}

export interface DemoResult {
  run_dir: string
  artifact: string
  submission_dir: string
  val_bpb: number
  /** True when the scores are upper bounds (a diffusion model's negative ELBO). */
  bound: boolean
  /** Verify's pair, on the same validation tokens: the run's model, and the model rebuilt from the artifact. */
  val_bpb_before: number | null
  val_bpb_roundtrip: number | null
  roundtrip_gap: number | null
  /** How much of the validation split verify scored (the whole split unless eval.val_tokens is set); null when interrupted. */
  val_coverage: ValCoverage | null
  bytes_model: number
  bytes_code: number | null
  bytes_total: number | null
  limit: number
  within_limit: boolean
  verify_ok: boolean
  interrupted: boolean
}

export async function runDemo(opts: DemoOptions): Promise<DemoResult> {
  const stage = opts.onStage ?? (() => {})
  const recipeName = opts.recipe ?? 'tiny-cpu'
  const seed = opts.seed ?? 1337
  const recipe = loadRecipe(recipeName, opts.sets ?? [])
  const runDir = resolve(opts.root, 'runs', defaultRunName(recipe.name, seed))

  stage(`1/4 train ${recipe.name} (seed ${seed}) → ${runDir}`)
  const trained = await train({recipe, seed, outDir: runDir, backend: opts.backend ?? 'auto', onEvent: opts.onEvent, interrupted: opts.interrupted, tags: ['demo']})
  const base = {run_dir: trained.runDir, artifact: '', submission_dir: '', limit: OFFICIAL_LIMIT}
  if (trained.interrupted || !trained.summary) {
    return {...base, val_bpb: NaN, bound: false, val_bpb_before: null, val_bpb_roundtrip: null, roundtrip_gap: null, val_coverage: null, bytes_model: 0, bytes_code: null, bytes_total: null, within_limit: false, verify_ok: false, interrupted: true}
  }

  stage('2/4 pack (auto codec, auto compression)')
  const artifact = join(trained.runDir, 'model.golf')
  const packed = await packSource(trained.runDir, {codec: 'auto', compress: 'auto'})
  await writeFileAtomic(artifact, packed.bytes)

  stage(`3/4 verify --limit 16MB (sizes, exact roundtrip, the counted code run alone)`)
  // scored on the recipe's eval.val_tokens (null: the whole split), as training's final eval and the report are
  const verified: RunVerifyReport = await verifyRun({runDir: trained.runDir, artifactPath: artifact, limit: OFFICIAL_LIMIT, backend: opts.backend, valTokens: recipe.eval.val_tokens})

  const out = resolve(opts.root, 'submissions', `${recipe.name}-demo`)
  stage(`4/4 report → ${out}`)
  const report = await buildReport({
    runs: [trained.runDir],
    out,
    artifact,
    name: `golf demo: ${recipe.name}`,
    author: 'golf demo',
    githubId: 'golf-demo',
    blurb: `${recipe.description}. Trained by golf demo on the built-in Brown corpus (byte260), not FineWeb: a pipeline check, not a leaderboard entry.`,
    track: 'non-record',
    force: true, // the demo's own output from a previous demo run
    // verify just scored this run and this artifact on the same tokens: not a second time
    measuredRoundtrip: verified.roundtrip_detail,
    onProgress: (line) => stage(`  ${line}`),
  })

  return {
    ...base,
    artifact,
    submission_dir: report.out,
    val_bpb: trained.summary.val_bpb,
    bound: trained.summary.bound ?? false,
    val_bpb_before: verified.roundtrip?.val_bpb_before ?? null,
    val_bpb_roundtrip: verified.roundtrip?.val_bpb_after ?? null,
    roundtrip_gap: verified.roundtrip?.gap ?? null,
    val_coverage: verified.roundtrip_detail.val_coverage,
    bytes_model: packed.bytes.byteLength,
    bytes_code: verified.bytes_code,
    bytes_total: verified.bytes_total,
    within_limit: verified.within_limit,
    verify_ok: verified.ok,
    interrupted: false,
  }
}
