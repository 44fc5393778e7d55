/**
 * Checkpoints: what a run needs to be packed, evaluated, sampled or resumed bit for bit.
 *
 *   checkpoint.safetensors   every parameter as float32, under its PyTorch-style name
 *                            (`tok_emb.weight`, `blocks.0.attn.c_q.weight`, …; see
 *                            src/model/config.ts `paramSpecs`). Ternary tensors hold the float
 *                            latent ("shadow") weights; the quantizer settings in the sidecar
 *                            turn them into the exact q·d the forward pass used.
 *   optimizer.safetensors    optimizer state (1-D float32 per key, keys as `Optimizer.state()`).
 *   checkpoint.json          the sidecar: step, clocks, data position, model config, quantizer
 *                            settings, the list of ternary tensors, and the size and SHA-256 of
 *                            both tensor files.
 *
 * Crash safety. Three files cannot be replaced in one atomic step, so a save is a small
 * journal whose commit point is the sidecar:
 *
 *   1. the new tensor files are written whole (temp + rename) as `<name>.pending`;
 *   2. the new sidecar, naming their digests, replaces the old one (temp + rename): committed;
 *   3. each `.pending` file is renamed over its final name.
 *
 * Killed before 2, the old sidecar and the old tensor files are untouched (the `.pending`
 * files are leftovers, deleted by the next save). Killed after 2, the sidecar's digests match
 * the `.pending` files: `loadCheckpoint` finishes step 3 (a rename) and reads them. So at every
 * instant one complete checkpoint is readable: the previous one or the new one, never a mix.
 *
 * Test-only hook: `GOLF_TEST_PAUSE_AT=checkpoint-write:<point>` makes the writer stop at that
 * point of the first save of the process (printing `golf-test: paused at <point>` on stderr)
 * and wait there for up to GOLF_TEST_PAUSE_MS (default 60 s), so a test can SIGKILL it at a
 * known instant. Points, in order: weights-temp (new weights in a temp file, not yet renamed),
 * weights (weights pending), sidecar-temp (both pending, new sidecar in a temp file), committed
 * (new sidecar in place, nothing moved), half-moved (weights moved, optimizer still pending).
 * Unset (always, outside tests), it costs one environment lookup per save.
 */
import {createHash} from 'node:crypto'
import {existsSync, renameSync, rmSync, writeSync} from 'node:fs'

import {InputError} from '../errors.js'
import {syncDirSync, writeFileAtomicSync} from '../io/atomic.js'
import {readInputFile} from '../io/read.js'
import {decodeSafetensors, encodeSafetensors} from '../io/safetensors.js'
import type {ModelConfig} from '../model/config.js'
import type {StreamState} from '../data/stream.js'
import type {ActivationSites} from '../quant/activations.js'
import type {ActivationStageRecord, RunFolder} from './folder.js'
import type {QuantSection} from '../recipe/recipe.js'

export const CHECKPOINT_FORMAT = 'golf-checkpoint'
export const CHECKPOINT_VERSION = 1

export interface CheckpointMeta {
  format: typeof CHECKPOINT_FORMAT
  version: number
  recipe: string
  seed: number
  step: number
  train_time_ms: number
  tokens_seen: number
  stream: StreamState
  model: ModelConfig
  /** Quantizer settings (recipe keys) and whether ternary was active at this step. */
  quant: QuantSection & {active: boolean}
  /**
   * Activation stage in force at this step, its sites (what the forward pass used) and the
   * stages entered so far (absent: float activations throughout).
   */
  activations?: {stage: number; sites: ActivationSites; stages: ActivationStageRecord[]}
  /** Names of the tensors stored as ternary in an artifact. */
  ternary_tensors: string[]
  /**
   * The backend this checkpoint's weights were last trained on (a resumed run records the
   * backend it resumed on): `golf pack` and `golf verify` reproduce the quantizer on it.
   */
  backend: string
  files: {weights: {bytes: number; sha256: string}; optimizer: {bytes: number; sha256: string}}
}

export interface CheckpointData {
  meta: CheckpointMeta
  weights: Map<string, Float32Array>
  /** Each weight's shape as the tensor file records it. */
  shapes: Map<string, number[]>
  optimizer: Map<string, Float32Array> | null
}

type TensorFile = 'checkpoint' | 'optimizer'

/** Where a tensor file waits between being written and the sidecar that names it being committed. */
export function pendingPath(run: RunFolder, file: TensorFile): string {
  return `${run.path(file)}.pending`
}

function digestOf(data: Uint8Array): {bytes: number; sha256: string} {
  return {bytes: data.byteLength, sha256: createHash('sha256').update(data).digest('hex')}
}

export const CHECKPOINT_PAUSE_POINTS = ['weights-temp', 'weights', 'sidecar-temp', 'committed', 'half-moved'] as const
export type CheckpointPausePoint = (typeof CHECKPOINT_PAUSE_POINTS)[number]
let pausedOnce = false

/** The test-only pause (see the module doc). Never reached unless GOLF_TEST_PAUSE_AT is set. */
function testPause(point: CheckpointPausePoint): void {
  const want = process.env.GOLF_TEST_PAUSE_AT
  if (!want || pausedOnce || want !== `checkpoint-write:${point}`) return
  pausedOnce = true
  writeSync(2, `golf-test: paused at checkpoint-write:${point}\n`)
  const ms = Number(process.env.GOLF_TEST_PAUSE_MS ?? 60_000)
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms) // a synchronous sleep: the save must not move on
}

/** Save weights, optimizer state and sidecar into the run folder (see the module doc for the order). */
export function saveCheckpoint(
  run: RunFolder,
  weights: Map<string, Float32Array>,
  shapes: Map<string, number[]>,
  optimizerState: Map<string, Float32Array>,
  meta: Omit<CheckpointMeta, 'format' | 'version' | 'files'>,
): void {
  // a save killed earlier may have left a committed write unfinished (finish it: the sidecar
  // needs those files until this save commits) or uncommitted .pending files (drop them)
  recoverCheckpoint(run)
  run.removeStaleTemps() // and any temporary file a killed writer left (a summary, a sidecar, …)
  for (const file of ['checkpoint', 'optimizer'] as const) rmSync(pendingPath(run, file), {force: true})

  const tensors = new Map<string, {dtype: 'F32'; shape: number[]; data: Float32Array}>()
  for (const [name, data] of weights) tensors.set(name, {dtype: 'F32', shape: shapes.get(name) ?? [data.length], data})
  const weightBytes = encodeSafetensors(tensors, {format: CHECKPOINT_FORMAT, recipe: meta.recipe, step: String(meta.step)})
  writeFileAtomicSync(pendingPath(run, 'checkpoint'), weightBytes, {beforeRename: () => testPause('weights-temp')})
  testPause('weights')
  const opt = new Map<string, {dtype: 'F32'; shape: number[]; data: Float32Array}>()
  for (const [name, data] of optimizerState) opt.set(name, {dtype: 'F32', shape: [data.length], data})
  const optBytes = encodeSafetensors(opt, {format: 'golf-optimizer-state'})
  writeFileAtomicSync(pendingPath(run, 'optimizer'), optBytes)

  const full: CheckpointMeta = {format: CHECKPOINT_FORMAT, version: CHECKPOINT_VERSION, ...meta, files: {weights: digestOf(weightBytes), optimizer: digestOf(optBytes)}}
  syncDirSync(run.dir) // the pending files' names are durable before the sidecar names their contents
  writeFileAtomicSync(run.path('checkpointMeta'), JSON.stringify(full, null, 2) + '\n', {beforeRename: () => testPause('sidecar-temp')})
  syncDirSync(run.dir)
  testPause('committed')
  renameSync(pendingPath(run, 'checkpoint'), run.path('checkpoint'))
  testPause('half-moved')
  renameSync(pendingPath(run, 'optimizer'), run.path('optimizer'))
  syncDirSync(run.dir)
}

/**
 * The backend a run's checkpoint was trained on (a resumed run: the one it resumed on), else
 * `fallback` (config.json's) when the sidecar cannot be read — whoever loads the checkpoint
 * next reports that.
 */
export function checkpointBackend(run: RunFolder, fallback: string): string {
  try {
    return run.readJson<CheckpointMeta>('checkpointMeta').backend ?? fallback
  } catch {
    return fallback
  }
}

/** The sidecar, checked for format, version and field types (src/run/schema.ts). */
function readMeta(run: RunFolder): CheckpointMeta {
  return run.readJson<CheckpointMeta>('checkpointMeta')
}

function readIfExists(path: string): Buffer | null {
  return existsSync(path) ? readInputFile(path, 'checkpoint file') : null
}

/**
 * The bytes of one tensor file as the sidecar names them: the file itself, or — when a save
 * was killed between committing the sidecar and moving the file into place — its `.pending`
 * twin, which is then moved into place (finishing that save; if the folder is read-only, the
 * bytes are used from where they are).
 */
function committedBytes(run: RunFolder, file: TensorFile, want: {bytes: number; sha256: string}): Buffer {
  const path = run.path(file)
  const matches = (b: Buffer | null): b is Buffer => b !== null && b.byteLength === want.bytes && digestOf(b).sha256 === want.sha256
  const current = readIfExists(path)
  if (matches(current)) return current
  const pending = readIfExists(pendingPath(run, file))
  if (matches(pending)) {
    try {
      renameSync(pendingPath(run, file), path)
    } catch {
      // read-only folder: the committed bytes are still these
    }
    return pending
  }
  if (current === null) throw new InputError(`${path} is missing (the checkpoint sidecar expects it)`)
  throw new InputError(`${path} does not match its checkpoint sidecar (size or digest differs): the file was changed or half-written`)
}

/**
 * Finish a save that was killed after its commit point (see the module doc); a no-op otherwise.
 * Leaves uncommitted `.pending` files alone (the next save removes them).
 */
export function recoverCheckpoint(run: RunFolder): void {
  if (!existsSync(run.path('checkpointMeta'))) return
  let meta: CheckpointMeta
  try {
    meta = readMeta(run)
  } catch {
    return // loadCheckpoint reports an unreadable sidecar; a save replaces it
  }
  for (const [file, want] of [['checkpoint', meta.files.weights], ['optimizer', meta.files.optimizer]] as const) {
    if (!existsSync(pendingPath(run, file))) continue
    try {
      committedBytes(run, file, want)
    } catch {
      // neither matches: not this function's to report
    }
  }
}

/** Read a run's checkpoint, checking the sidecar's sizes and digests first. */
export function loadCheckpoint(run: RunFolder, opts: {optimizer?: boolean} = {}): CheckpointData {
  const meta = readMeta(run)
  const weights = new Map<string, Float32Array>()
  const shapes = new Map<string, number[]>()
  const wBytes = committedBytes(run, 'checkpoint', meta.files.weights)
  for (const [name, t] of decodeSafetensors(wBytes, run.path('checkpoint')).tensors) {
    weights.set(name, toF32(t.data, name))
    shapes.set(name, t.shape)
  }
  let optimizer: Map<string, Float32Array> | null = null
  if (opts.optimizer) {
    optimizer = new Map()
    const oBytes = committedBytes(run, 'optimizer', meta.files.optimizer)
    for (const [name, t] of decodeSafetensors(oBytes, run.path('optimizer')).tensors) optimizer.set(name, toF32(t.data, name))
  }
  return {meta, weights, shapes, optimizer}
}

function toF32(data: ArrayLike<number> | ArrayBufferView, name: string): Float32Array {
  if (data instanceof Float32Array) return data
  throw new InputError(`checkpoint tensor ${name} is not float32`)
}
