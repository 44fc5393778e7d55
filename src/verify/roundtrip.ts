/**
 * The roundtrip gap: val_bpb of a run's model as training evaluates it (`loadRunModel`, the
 * checkpoint with the quantizer as it was) against val_bpb of the model rebuilt from its
 * artifact by the counted code's path (`src/submission/rebuild.ts`, in-process), on the same
 * validation tokens with the same batching. Optionally the bundled counted file itself is run
 * as a subprocess (`node submission.mjs eval …`) and must print the same val_bpb.
 *
 * For golf-trained ternary runs the gap is exactly 0 and the logits identical: training
 * simulates q·d and the float storage precision, so the artifact holds exactly the weights the
 * forward pass used.
 *
 * Backends. That exactness holds on the backend the run trained on: another backend's
 * reductions and fp16 rounding can quantize a few values differently. So the comparison runs on
 * the run's own backend (checkpoint.json) when it loads here, else on wasm, and the result names
 * the three backends involved — trained on, artifact quantized on (the manifest's
 * `quant.quantized_on` when `golf pack` crossed backends), compared on — and how many weights
 * differ, so a check can tell a real mismatch from a measured cross-backend gap.
 */
import {spawn} from 'node:child_process'
import {mkdtempSync, rmSync, symlinkSync, writeFileSync} from 'node:fs'
import {createRequire} from 'node:module'
import {tmpdir} from 'node:os'
import {join, resolve, sep} from 'node:path'
import * as tf from '@tensorflow/tfjs-core'

import {assertFitsMemory, estimateMemory} from '../budget/memory.js'
import {initRecordedBackend, type BackendName} from '../backend/index.js'
import {loadValidationSlice, type ValCoverage} from '../data/stream.js'
import {CheckFailedError, InputError} from '../errors.js'
import {scoreModel, type ScoreResult} from '../eval/score.js'
import {diffusionWindows, windowBatch} from '../eval/denoise.js'
import {arTokenBatch} from '../objective/ar.js'
import type {TokenBatch} from '../objective/batch.js'
import {isDiffusion, objectiveFor, type Objective} from '../objective/index.js'
import {describeSites} from '../quant/activations.js'
import {objectiveConfigOf} from '../recipe/recipe.js'
import {defaultScoreOptions} from '../submission/rebuild.js'
import type {GPT} from '../model/gpt.js'
import {readArtifactFile, rebuildFromArtifact} from '../submission/rebuild.js'
import {readArtifactManifest} from '../pack/artifact.js'
import {checkpointBackend} from '../run/checkpoint.js'
import {loadRunModel, readRunConfig} from '../run/load.js'
import {openDataset} from '../data/open.js'

export interface RoundtripOptions {
  runDir: string
  artifactPath: string
  /** First N validation tokens; default the whole split. */
  valTokens?: number | null
  /** Compare on this backend instead of the run's own (which is the default when it loads here). */
  backend?: BackendName
  /** Also run this bundled counted code as a subprocess and compare its printed val_bpb. */
  bundleCode?: string
  onProgress?: (done: number, total: number, label: string) => void
}

export interface RoundtripResult {
  /** The run's objective; diffusion scores are upper bounds (ELBO), computed with the same noise before and after. */
  objective: 'ar' | 'mdlm' | 'bd3lm'
  bound: boolean
  /** The ELBO both sides were scored with (the artifact's settings, as the counted code runs them); null for AR. */
  elbo: {steps: number; samples: number; seed: number} | null
  val_bpb_before: number
  val_bpb_after: number
  /** after − before. */
  gap: number
  val_loss_before: number
  val_loss_after: number
  /** Largest |logit_before − logit_after| over the first evaluation batch. */
  max_logit_diff: number
  /** Same val_loss and val_bpb bit for bit, identical logits and identical weights. */
  exact: boolean
  /** Weights (every tensor, as the forward pass uses them) that differ in any bit, of all. */
  weights: {differing: number; total: number; tensors_differing: string[]}
  /**
   * trained: the run's (checkpoint) backend; artifact: the one its quantizer ran on (golf pack
   * records it when it is not the trained one); here: the one this comparison ran on; why: why
   * here is not the trained one (null when it is).
   */
  backends: {trained: string; artifact: string; here: string; why: string | null}
  tokens: number
  bytes: number
  /** How much of the validation split both sides were scored on (the whole split unless valTokens). */
  val_coverage: ValCoverage
  /** Was the run's quantizer active at its checkpoint (false: a float model, the gap is not 0). */
  quant_active: boolean
  backend: string
  /** The bundled file's own result, when `bundleCode` was given. */
  bundle: {val_loss: number; val_bpb: number; agrees: boolean} | null
}

/**
 * The first `batchSeqs` windows as the objective feeds them to the model: AR inputs, or for
 * diffusion the clean windows with every other token masked (a fixed, seed-free pattern).
 */
function probeBatch(objective: Objective, tokens: Uint16Array, T: number, batchSeqs: number): TokenBatch {
  const B = Math.min(batchSeqs, Math.floor((tokens.length - 1) / T))
  if (!isDiffusion(objective)) return arTokenBatch(tokens, B, T)
  const masked = Uint8Array.from({length: B * T}, (_, i) => i % 2)
  return windowBatch(objective, diffusionWindows(tokens, T), Array.from({length: B}, (_, i) => i), masked)
}

/** Max |a − b| over the logits of the first `batchSeqs` evaluation windows. */
function maxLogitDiff(a: GPT, b: GPT, objective: Objective, tokens: Uint16Array, T: number, batchSeqs: number): number {
  const batch = probeBatch(objective, tokens, T, batchSeqs)
  const input = tf.tensor2d(batch.inputs, [batch.B, batch.T], 'int32')
  const opts = {attention: batch.attention, suppress: batch.suppress}
  const la = a.forward(input, opts)
  const lb = b.forward(input, opts)
  const da = la.dataSync() as Float32Array
  const db = lb.dataSync() as Float32Array
  tf.dispose([input, la, lb])
  let max = 0
  for (let i = 0; i < da.length; i++) {
    const d = Math.abs(da[i] - db[i])
    if (d > max || Number.isNaN(d)) max = Number.isNaN(d) ? Infinity : d
  }
  return max
}

/** The node_modules folder golf resolves its dependencies from (for running a bundle). */
export function dependencyRoot(): string {
  const pkg = createRequire(import.meta.url).resolve('@tensorflow/tfjs-core/package.json')
  const marker = `${sep}node_modules${sep}`
  const at = pkg.lastIndexOf(marker)
  if (at < 0) throw new Error(`cannot locate node_modules from ${pkg}`)
  return pkg.slice(0, at + marker.length - 1)
}

/**
 * Run bundled counted code in a fresh folder that holds only the bundle and a link to the
 * installed npm packages (no golf source, no dist/). Returns exit code and output. `signal`
 * aborts it: the process is killed and the promise rejects.
 */
export function runBundle(code: string, args: string[], opts: {signal?: AbortSignal} = {}): Promise<{code: number; stdout: string; stderr: string}> {
  const dir = mkdtempSync(join(tmpdir(), 'golf-bundle-'))
  writeFileSync(join(dir, 'submission.mjs'), code)
  symlinkSync(dependencyRoot(), join(dir, 'node_modules'), 'junction')
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [join(dir, 'submission.mjs'), ...args], {cwd: dir, stdio: ['ignore', 'pipe', 'pipe'], signal: opts.signal})
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d))
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d))
    child.on('error', (err) => {
      rmSync(dir, {recursive: true, force: true})
      reject(err)
    })
    child.on('close', (c) => {
      rmSync(dir, {recursive: true, force: true})
      resolvePromise({code: c ?? -1, stdout, stderr})
    })
  })
}

/** JSON with object keys sorted, for comparing configs whatever their key order. */
function canonicalJson(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) =>
    x !== null && typeof x === 'object' && !Array.isArray(x) ? Object.fromEntries(Object.entries(x as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : x,
  )
}

/** Elements of two weight maps that differ in any bit (-0 ≠ +0, NaN payloads compared as bits). */
function weightDiff(a: Map<string, Float32Array>, b: Map<string, Float32Array>): RoundtripResult['weights'] {
  let differing = 0
  let total = 0
  const tensors: string[] = []
  for (const [name, x] of a) {
    const y = b.get(name)
    total += x.length
    if (!y || y.length !== x.length) {
      differing += x.length
      tensors.push(name)
      continue
    }
    const xb = new Uint32Array(x.buffer, x.byteOffset, x.length)
    const yb = new Uint32Array(y.buffer, y.byteOffset, y.length)
    let n = 0
    for (let i = 0; i < xb.length; i++) if (xb[i] !== yb[i]) n++
    if (n > 0) tensors.push(name)
    differing += n
  }
  return {differing, total, tensors_differing: tensors}
}

/** tfjs backend name → the preference that selects it again in another process. */
function backendPref(name: string): BackendName {
  if (name === 'wasm' || name === 'cpu') return name
  return name.startsWith('tensorflow') ? 'tensorflow' : 'auto'
}

export async function roundtrip(opts: RoundtripOptions): Promise<RoundtripResult> {
  const {run, config: runConfig} = readRunConfig(opts.runDir)
  const trained = checkpointBackend(run, runConfig.backend)
  const be = await initRecordedBackend(trained, {override: opts.backend, fallback: 'wasm'})
  const backend = be.info
  // two models (the run's and the artifact's) and a forward pass: refused before either is built
  const memory = estimateMemory({...runConfig.recipe, name: opts.runDir}, {backend: backend.name, vocab: 'model'})
  assertFitsMemory(memory, 'verify')
  const before = loadRunModel(opts.runDir)
  let after: GPT | undefined
  const stopBundle = new AbortController() // a failure kills the counted code's subprocess instead of leaving it to finish its pass
  try {
    const {config} = before
    const recipe = config.recipe
    const T = recipe.train.seq_len
    // the recipe's batch, lowered to what two models and a pass leave room for
    const batchSeqs = memory.verify.batch_seqs
    const {table, info} = await openDataset(config.data)
    const {tokens, coverage, byteTable} = loadValidationSlice(info.dir, {vocabSize: info.vocabSize ?? undefined, maxTokens: opts.valTokens, table, bosId: info.bosId})
    if (tokens.length < T + 1) throw new InputError(`--val-tokens ${opts.valTokens}: evaluation needs at least seq_len + 1 = ${T + 1} validation tokens`)

    const bytes = readArtifactFile(opts.artifactPath)
    const rebuilt = rebuildFromArtifact(bytes, {source: opts.artifactPath})
    const quantizedOn = readArtifactManifest(bytes).manifest.quant.quantized_on
    // no record: golf pack quantized it on the trained backend (its default)
    const artifactBackend = typeof quantizedOn === 'string' ? quantizedOn : trained
    after = rebuilt.model
    if (rebuilt.info.seq_len !== T) throw new CheckFailedError(`${opts.artifactPath}: seq_len ${rebuilt.info.seq_len} differs from the run's ${T} (is it this run's artifact?)`)
    if (canonicalJson(rebuilt.info.config) !== canonicalJson(before.meta.model)) {
      throw new CheckFailedError(`${opts.artifactPath}: model config differs from the run's checkpoint (is it this run's artifact?)`)
    }

    if (canonicalJson(after.activations) !== canonicalJson(before.model.activations)) {
      throw new CheckFailedError(`${opts.artifactPath}: activations ${describeSites(after.activations)} differ from the run's ${describeSites(before.model.activations)} at its checkpoint (is it this run's artifact?)`)
    }
    const objCfg = objectiveConfigOf(recipe)
    if (canonicalJson(rebuilt.info.objective) !== canonicalJson(objCfg)) throw new CheckFailedError(`${opts.artifactPath}: objective ${rebuilt.info.objective?.kind} differs from the run's ${objCfg.kind} (is it this run's artifact?)`)
    const objective = objectiveFor(objCfg, before.meta.model.vocab_size)
    // the artifact's own scoring settings (what the counted code runs), with the same noise seed
    const scoreOpts = (label: string) => ({...defaultScoreOptions(rebuilt.info, objective, batchSeqs), onProgress: (d: number, t: number) => opts.onProgress?.(d, t, label)})
    // the bundled file runs in its own process: started first, it scores on the other core while
    // this one scores both models (a whole-split pass is ~45 s for tiny-cpu on wasm)
    let bundleRun: ReturnType<typeof runBundle> | null = null
    if (opts.bundleCode !== undefined) {
      const args = ['eval', '--artifact', resolve(opts.artifactPath), '--data', info.dir, '--json', '--stride', '0', '--backend', backendPref(backend.name)]
      if (opts.valTokens) args.push('--val-tokens', String(opts.valTokens))
      bundleRun = runBundle(opts.bundleCode, args, {signal: stopBundle.signal})
      bundleRun.catch(() => {}) // awaited below; a failure must not go unhandled while this thread scores
    }
    const b: ScoreResult = scoreModel(before.model, objective, tokens, byteTable, scoreOpts('eval (run)'))
    const a: ScoreResult = scoreModel(after, rebuilt.objective, tokens, byteTable, scoreOpts('eval (artifact)'))
    const maxDiff = maxLogitDiff(before.model, after, objective, tokens, T, batchSeqs)
    // the artifact's tensors are loaded as plain floats (q·d): compare with what the run's forward pass uses
    const weights = weightDiff(before.model.dequantizedWeights(), after.weights())

    let bundle: RoundtripResult['bundle'] = null
    if (bundleRun) {
      const res = await bundleRun
      const jsonLine = res.stdout.trim().split('\n').reverse().find((l) => l.startsWith('{'))
      if (res.code !== 0 || !jsonLine) {
        const why = res.stderr.trim().split('\n').find((l) => l.startsWith('error:')) ?? res.stderr.trim().split('\n')[0] ?? ''
        throw new CheckFailedError(`the bundled counted code failed to evaluate the artifact (exit ${res.code}): ${why}`)
      }
      const r = JSON.parse(jsonLine) as {val_loss: number; val_bpb: number}
      bundle = {val_loss: r.val_loss, val_bpb: r.val_bpb, agrees: r.val_bpb === a.val_bpb && r.val_loss === a.val_loss}
    }

    return {
      objective: objCfg.kind,
      bound: a.bound,
      elbo: a.mode === 'elbo' ? {steps: a.elbo_steps ?? 0, samples: a.samples, seed: a.seed} : null,
      val_bpb_before: b.val_bpb,
      val_bpb_after: a.val_bpb,
      gap: a.val_bpb - b.val_bpb,
      val_loss_before: b.val_loss,
      val_loss_after: a.val_loss,
      max_logit_diff: maxDiff,
      exact: a.val_bpb === b.val_bpb && a.val_loss === b.val_loss && maxDiff === 0 && weights.differing === 0,
      weights,
      backends: {trained, artifact: artifactBackend, here: backend.name, why: be.why},
      tokens: a.tokens,
      bytes: a.bytes,
      val_coverage: coverage,
      quant_active: before.model.quantActive,
      backend: backend.name,
      bundle,
    }
  } finally {
    stopBundle.abort() // a no-op once the subprocess has ended
    before.model.dispose()
    after?.dispose()
  }
}
