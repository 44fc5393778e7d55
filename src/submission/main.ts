/**
 * The counted code of a golf submission — the equivalent of the official `train_gpt.py`.
 * `src/verify/bundle.ts` bundles this module (and everything of golf's it uses) with the
 * submitted recipe embedded into ONE minified file; npm libraries (tfjs, pako, …) stay imports,
 * the way `torch` is not counted for a Python entry. A submission ships it brotli-compressed
 * with a small loader (`train_golf.mjs` + `train_golf.br`), and a reviewer reproduces the run
 * with those two files alone:
 *
 *   node train_golf.mjs train --data <dataset dir> --out <run dir> [--max-steps N] [--seed S]
 *   node train_golf.mjs eval --artifact model.golf --data <dataset dir> [--val-tokens N] [--json]
 *
 * `train` trains the embedded recipe, packs the artifact (`<out>/model.golf`, entropy/auto
 * codec), then rebuilds the model from it and scores it; `eval` does the last step alone. Both
 * print official-style log lines ending in `final_roundtrip val_loss:… val_bpb:…`.
 * Argument parsing is node's own `util.parseArgs`: the file must stay small.
 */
import {statSync} from 'node:fs'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {parseArgs} from 'node:util'

import type {BackendName} from '../backend/index.js'
import {GolfError, InputError} from '../errors.js'
import {coverageLogField} from '../eval/coverage.js'
import {writeFileAtomic} from '../io/atomic.js'
import {packSource} from '../pack/pack-model.js'
import {train} from '../train/loop.js'
import type {ResolvedRecipe} from '../recipe/recipe.js'
import {loaderCountedBytes} from './counted-code.js'
import {evaluateArtifact, roundtripLine} from './rebuild.js'
import {sizeLines} from './size-lines.js'
import type {ScoreResult} from '../eval/score.js'

/** What the bundle embeds: the resolved recipe and the seed of the submitted run. */
export interface EmbeddedSubmission {
  recipe: ResolvedRecipe
  seed: number
}

const USAGE = `usage:
  train --data <dataset dir> --out <run dir> [--max-steps N] [--seed S] [--backend auto|wasm|cpu|tensorflow]
  eval --artifact <model.golf> --data <dataset dir> [--val-tokens N] [--stride S|0] [--json] [--backend …]`

function positiveInt(flag: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined
  if (!/^\d+$/.test(v) || Number(v) < 1) throw new InputError(`${flag} ${v}: expected a positive integer`)
  return Number(v)
}

function required(flag: string, v: string | undefined): string {
  if (v === undefined || v === '') throw new InputError(`${flag} is required (see --help)`)
  return v
}

/**
 * The counted code's bytes: what the self-extracting loader measured (loader + compressed
 * bundle) when it started this bundle, else the running file's size (the raw bundle run alone).
 */
function ownSize(): number | null {
  const counted = loaderCountedBytes()
  if (counted !== null) return counted
  try {
    return statSync(fileURLToPath(import.meta.url)).size
  } catch {
    return null
  }
}

async function evalCommand(args: string[], embedded: EmbeddedSubmission | undefined, out: (line: string) => void): Promise<void> {
  const {values} = parseArgs({
    args,
    options: {artifact: {type: 'string'}, data: {type: 'string'}, 'val-tokens': {type: 'string'}, json: {type: 'boolean'}, backend: {type: 'string'}, stride: {type: 'string'}},
  })
  const artifact = required('--artifact', values.artifact)
  const r = await evaluateArtifact({
    artifact,
    dataDir: required('--data', values.data),
    valTokens: positiveInt('--val-tokens', values['val-tokens']),
    // the submitted recipe's evaluation: sliding window when it says so (--stride 0: chunked only)
    slidingStride: values.stride === '0' ? null : (positiveInt('--stride', values.stride) ?? embedded?.recipe.eval.sliding_stride),
    batchSeqs: embedded?.recipe.eval.batch_seqs,
    backend: (values.backend ?? 'auto') as BackendName,
  })
  for (const line of sizeLines(r.artifact_bytes, null)) out(line)
  // a score on part of the validation split (--val-tokens) says so on its line
  const partial = coverageLogField(r.val_coverage)
  out(roundtripLine(r.score) + partial)
  if (r.sliding) out(slidingLine(r.sliding) + partial)
  if (values.json) {
    const s = r.sliding
    const sc = r.score
    out(
      JSON.stringify({
        val_loss: sc.val_loss,
        val_bpb: sc.val_bpb,
        mode: sc.mode,
        bound: sc.bound,
        ...(sc.mode === 'elbo' ? {elbo_steps: sc.elbo_steps, val_bpb_se: sc.val_bpb_se} : {}),
        tokens: sc.tokens,
        bytes: sc.bytes,
        artifact_bytes: r.artifact_bytes,
        val_coverage: r.val_coverage,
        backend: r.backend,
        sliding: s ? {stride: s.mode === 'sliding' ? s.stride : null, val_loss: s.val_loss, val_bpb: s.val_bpb} : null,
      }),
    )
  }
}

async function trainCommand(args: string[], embedded: EmbeddedSubmission | undefined, out: (line: string) => void, err: (line: string) => void): Promise<void> {
  const {values} = parseArgs({
    args,
    options: {data: {type: 'string'}, out: {type: 'string'}, 'max-steps': {type: 'string'}, seed: {type: 'string'}, backend: {type: 'string'}},
  })
  if (!embedded) throw new InputError('this build has no embedded recipe: train needs the bundled submission file')
  const maxSteps = positiveInt('--max-steps', values['max-steps'])
  const seedArg = values.seed === undefined ? undefined : /^\d+$/.test(values.seed) ? Number(values.seed) : NaN
  if (Number.isNaN(seedArg)) throw new InputError(`--seed ${values.seed}: expected a non-negative integer`)
  // One thread: golf's data-parallel workers load a separate module file (src/train/grad-worker)
  // that a single-file submission does not have.
  const recipe: ResolvedRecipe = {...embedded.recipe, train: {...embedded.recipe.train, ...(maxSteps ? {max_steps: maxSteps} : {}), workers: 1}}
  if (embedded.recipe.train.workers !== 1) err(`note: the counted code trains on one thread (the recipe says train.workers ${embedded.recipe.train.workers})`)
  const outDir = required('--out', values.out)
  const dataDir = required('--data', values.data)
  const backend = (values.backend ?? 'auto') as BackendName
  const result = await train({
    recipe,
    dataDir,
    outDir,
    seed: seedArg ?? embedded.seed,
    backend,
    onEvent: (e) => {
      if (e.kind === 'log') out(e.line)
      else if (e.kind === 'info') err(e.message)
    },
  })
  const {bytes} = await packSource(result.runDir, {codec: 'auto', compress: 'auto'})
  const artifactPath = join(result.runDir, 'model.golf')
  await writeFileAtomic(artifactPath, bytes)
  const r = await evaluateArtifact({artifact: artifactPath, dataDir, valTokens: recipe.eval.val_tokens, slidingStride: recipe.eval.sliding_stride, batchSeqs: recipe.eval.batch_seqs, backend})
  const code = ownSize()
  for (const line of sizeLines(bytes.length, code)) out(line)
  const partial = coverageLogField(r.val_coverage)
  out(roundtripLine(r.score) + partial)
  if (r.sliding) out(slidingLine(r.sliding) + partial)
}

function slidingLine(r: ScoreResult): string {
  return `final_roundtrip_sliding_window stride:${r.mode === 'sliding' ? r.stride : ''} val_loss:${r.val_loss.toFixed(8)} val_bpb:${r.val_bpb.toFixed(8)}`
}

/**
 * Run a subcommand; returns the exit code (0 ok, 2 bad input, 1 anything else). Output goes
 * through `out` (stdout lines) and `err` (stderr lines).
 */
export async function runSubmission(
  argv: string[],
  embedded?: EmbeddedSubmission,
  io: {out?: (line: string) => void; err?: (line: string) => void} = {},
): Promise<number> {
  const out = io.out ?? ((l: string) => process.stdout.write(l + '\n'))
  const err = io.err ?? ((l: string) => process.stderr.write(l + '\n'))
  const [cmd, ...rest] = argv
  try {
    if (cmd === 'eval') await evalCommand(rest, embedded, out)
    else if (cmd === 'train') await trainCommand(rest, embedded, out, err)
    else if (cmd === undefined || cmd === '--help' || cmd === '-h' || cmd === 'help') {
      out(`golf submission${embedded ? ` (recipe ${embedded.recipe.name}, seed ${embedded.seed})` : ''}\n${USAGE}`)
      return cmd === undefined ? 2 : 0
    } else throw new InputError(`unknown command "${cmd}": expected train or eval (see --help)`)
    return 0
  } catch (e) {
    const error = e as Error & {code?: string}
    // util.parseArgs errors (unknown option, missing value) are input errors too
    const input = e instanceof InputError || (typeof error.code === 'string' && error.code.startsWith('ERR_PARSE_ARGS'))
    err(`error: ${error.message}`)
    if (process.env.GOLF_DEBUG && error.stack) err(error.stack)
    return input ? 2 : e instanceof GolfError ? e.exitCode : 1
  }
}
