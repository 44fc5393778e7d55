/**
 * Rebuild a trained model from a run folder: its resolved recipe (config.json), its checkpoint
 * (weights + sidecar) and its dataset's tokenizer. Used by `golf sample`, `golf pack` and
 * `golf verify`, so they all see the model exactly as training left it.
 */
import {existsSync} from 'node:fs'

import {InputError} from '../errors.js'
import type {GPT} from '../model/gpt.js'
import {loadCheckpoint, type CheckpointMeta} from './checkpoint.js'
import {buildModel} from './build-model.js'
import type {ResolvedRecipe} from '../recipe/recipe.js'
import {RunFolder} from './folder.js'

export interface RunConfig {
  recipe: ResolvedRecipe
  seed: number
  data: string
  tokenizer: string
  vocab_size: number
  backend: string
}

export interface LoadedRun {
  run: RunFolder
  config: RunConfig
  meta: CheckpointMeta
  model: GPT
}

export function readRunConfig(dir: string): {run: RunFolder; config: RunConfig} {
  if (!existsSync(dir)) throw new InputError(`run folder not found: ${dir}`)
  const run = new RunFolder(dir)
  if (!existsSync(run.path('config'))) throw new InputError(`${dir} is not a golf run folder (no config.json)`)
  return {run, config: run.readJson<RunConfig>('config')}
}

/** Build the model of a run and load its checkpoint; quantization as it was at the checkpoint. */
export function loadRunModel(dir: string): LoadedRun {
  const {run, config} = readRunConfig(dir)
  if (!existsSync(run.path('checkpointMeta'))) throw new InputError(`${dir} has no checkpoint yet (checkpoint.json missing)`)
  const ck = loadCheckpoint(run)
  const model = buildModel({...config.recipe, model: ck.meta.model}, config.seed)
  model.loadWeights(ck.weights)
  model.quantActive = ck.meta.quant.active
  if (ck.meta.activations) model.activations = ck.meta.activations.sites
  return {run, config, meta: ck.meta, model}
}
