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
 *                            settings and the list of ternary tensors; written LAST, after both
 *                            tensor files are in place, and carrying their sizes, so a crash
 *                            mid-save leaves the previous complete checkpoint readable.
 */
import {createHash} from 'node:crypto'
import {readFileSync, statSync} from 'node:fs'

import {InputError} from '../errors.js'
import {readSafetensors, writeSafetensors} from '../io/safetensors.js'
import type {ModelConfig} from '../model/config.js'
import type {StreamState} from '../data/stream.js'
import type {RunFolder} from './folder.js'
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
  /** Names of the tensors stored as ternary in an artifact. */
  ternary_tensors: string[]
  /** The backend the run trained on (the quantizer is reproduced on the same kind of backend). */
  backend: string
  files: {weights: {bytes: number; sha256: string}; optimizer: {bytes: number; sha256: string}}
}

export interface CheckpointData {
  meta: CheckpointMeta
  weights: Map<string, Float32Array>
  optimizer: Map<string, Float32Array> | null
}

function fileDigest(path: string): {bytes: number; sha256: string} {
  const data = readFileSync(path)
  return {bytes: data.byteLength, sha256: createHash('sha256').update(data).digest('hex')}
}

/** Save weights, optimizer state and sidecar into the run folder (each file atomically, sidecar last). */
export function saveCheckpoint(
  run: RunFolder,
  weights: Map<string, Float32Array>,
  shapes: Map<string, number[]>,
  optimizerState: Map<string, Float32Array>,
  meta: Omit<CheckpointMeta, 'format' | 'version' | 'files'>,
): void {
  const tensors = new Map<string, {dtype: 'F32'; shape: number[]; data: Float32Array}>()
  for (const [name, data] of weights) tensors.set(name, {dtype: 'F32', shape: shapes.get(name) ?? [data.length], data})
  writeSafetensors(run.path('checkpoint'), tensors, {format: CHECKPOINT_FORMAT, recipe: meta.recipe, step: String(meta.step)})
  const opt = new Map<string, {dtype: 'F32'; shape: number[]; data: Float32Array}>()
  for (const [name, data] of optimizerState) opt.set(name, {dtype: 'F32', shape: [data.length], data})
  writeSafetensors(run.path('optimizer'), opt, {format: 'golf-optimizer-state'})
  const full: CheckpointMeta = {
    format: CHECKPOINT_FORMAT,
    version: CHECKPOINT_VERSION,
    ...meta,
    files: {weights: fileDigest(run.path('checkpoint')), optimizer: fileDigest(run.path('optimizer'))},
  }
  run.writeJson('checkpointMeta', full)
}

/** Read a run's checkpoint, checking the sidecar's sizes and digests first. */
export function loadCheckpoint(run: RunFolder, opts: {optimizer?: boolean} = {}): CheckpointData {
  const meta = run.readJson<CheckpointMeta>('checkpointMeta')
  if (meta.format !== CHECKPOINT_FORMAT) throw new InputError(`${run.path('checkpointMeta')}: not a golf checkpoint sidecar (format ${JSON.stringify(meta.format)})`)
  if (meta.version !== CHECKPOINT_VERSION) throw new InputError(`${run.path('checkpointMeta')}: checkpoint version ${meta.version} is not supported (this golf reads ${CHECKPOINT_VERSION})`)
  const check = (file: 'checkpoint' | 'optimizer', want: {bytes: number; sha256: string}) => {
    const path = run.path(file)
    let size: number
    try {
      size = statSync(path).size
    } catch {
      throw new InputError(`${path} is missing (the checkpoint sidecar expects it)`)
    }
    if (size !== want.bytes || fileDigest(path).sha256 !== want.sha256) {
      throw new InputError(`${path} does not match its checkpoint sidecar (size or digest differs): the file was changed or half-written`)
    }
  }
  check('checkpoint', meta.files.weights)
  const weights = new Map<string, Float32Array>()
  for (const [name, t] of readSafetensors(run.path('checkpoint')).tensors) weights.set(name, toF32(t.data, name))
  let optimizer: Map<string, Float32Array> | null = null
  if (opts.optimizer) {
    check('optimizer', meta.files.optimizer)
    optimizer = new Map()
    for (const [name, t] of readSafetensors(run.path('optimizer')).tensors) optimizer.set(name, toF32(t.data, name))
  }
  return {meta, weights, optimizer}
}

function toF32(data: ArrayLike<number> | ArrayBufferView, name: string): Float32Array {
  if (data instanceof Float32Array) return data
  throw new InputError(`checkpoint tensor ${name} is not float32`)
}
