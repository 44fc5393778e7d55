/**
 * The `model` section of a golf artifact's manifest: everything the counted code needs to
 * rebuild and score the model from the artifact alone (its config, the context it was trained
 * at, its objective and how its score is computed). Written by the packer and by `golf budget`
 * (to size the manifest), read back by `rebuildFromArtifact`.
 */
import {InputError} from '../errors.js'
import type {RecordedEval} from '../eval/score.js'
import {validateModelConfig, type ModelConfig} from '../model/config.js'
import {DEFAULT_OBJECTIVE, DIFFUSION_SCORES, type ObjectiveConfig} from '../objective/types.js'
import {allFloat, FLOAT_ACTIVATIONS, parseSites, type ActivationSites} from '../quant/activations.js'
import type {ResolvedRecipe} from '../recipe/recipe.js'
import type {ArtifactManifest} from './artifact.js'

/** What a golf run's artifact says about its model (`manifest.model`). */
export interface ArtifactModelInfo {
  config: ModelConfig
  /** Context length the model was trained (and is evaluated) at. */
  seq_len: number
  vocab_size: number
  recipe?: string
  tokenizer?: string
  /** The training objective; absent in artifacts from before objectives existed (= ar). */
  objective?: ObjectiveConfig
  /**
   * Activation precision of the forward pass (src/quant/activations.ts), as at the end of
   * training; absent: float activations (and in artifacts from before activation quantization).
   */
  activations?: ActivationSites
  /** Evaluation settings recorded by the packer (sliding stride, batch, the ELBO's, the reported score). */
  eval?: RecordedEval
}

/**
 * The model section for a recipe's model `config` (vocab_size = the dataset's ids). AR models
 * carry no objective (the reader's default), so their artifacts are as before objectives.
 */
export function modelInfoOf(recipe: ResolvedRecipe, config: ModelConfig, vocabSize: number, tokenizer: string, activations: ActivationSites = finalSites(recipe)): ArtifactModelInfo {
  const e = recipe.eval
  const objective = recipe.objective ?? DEFAULT_OBJECTIVE
  const base = {config, recipe: recipe.name, seq_len: recipe.train.seq_len, vocab_size: vocabSize, tokenizer, ...(allFloat(activations) ? {} : {activations})}
  if (objective.kind === 'ar') return {...base, eval: {sliding_stride: e.sliding_stride, batch_seqs: e.batch_seqs}}
  // eval.score only when set, so the artifacts of ELBO-scored runs are as before it existed
  return {...base, objective, eval: {sliding_stride: null, batch_seqs: e.batch_seqs, elbo_steps: e.elbo_steps, elbo_samples: e.elbo_samples, elbo_seed: e.elbo_seed, ...(e.score ? {score: e.score} : {})}}
}

/** The activation sites a recipe ends its run with (its last stage; float without stages). */
function finalSites(recipe: ResolvedRecipe): ActivationSites {
  const stages = recipe.activations ?? []
  return stages.length ? stages[stages.length - 1].sites : FLOAT_ACTIVATIONS
}

/** The model section of a golf artifact's manifest, checked. */
export function artifactModelInfo(manifest: ArtifactManifest, source = 'artifact'): ArtifactModelInfo {
  const m = manifest.model as Partial<ArtifactModelInfo>
  if (!m || typeof m.config !== 'object' || m.config === null) {
    throw new InputError(`${source}: the manifest has no model config (model.config): it was not packed from a golf run, so it cannot be rebuilt and evaluated`)
  }
  validateModelConfig(m.config, `${source}: model.config`)
  if (!Number.isInteger(m.seq_len) || (m.seq_len as number) < 1) throw new InputError(`${source}: model.seq_len must be a positive integer, got ${JSON.stringify(m.seq_len)}`)
  const objective = m.objective ?? DEFAULT_OBJECTIVE
  if (!['ar', 'mdlm', 'bd3lm'].includes(objective.kind)) throw new InputError(`${source}: model.objective.kind must be ar, mdlm or bd3lm, got ${JSON.stringify(objective.kind)}`)
  if (objective.kind === 'bd3lm' && !(Number.isInteger(objective.block_size) && (objective.block_size as number) >= 1 && (m.seq_len as number) % (objective.block_size as number) === 0)) {
    throw new InputError(`${source}: model.objective.block_size must be a positive divisor of seq_len ${m.seq_len}, got ${JSON.stringify(objective.block_size)}`)
  }
  const vocab = m.vocab_size ?? m.config.vocab_size
  const activations = m.activations === undefined ? undefined : parseSites(m.activations, `${source}: model.activations`)
  if (m.eval !== undefined) checkEval(m.eval, objective, `${source}: model.eval`)
  return {...m, config: m.config, seq_len: m.seq_len as number, vocab_size: vocab, objective, ...(activations ? {activations} : {})}
}

/** The recorded evaluation settings the counted code scores with: each field absent or of its type. */
function checkEval(e: unknown, objective: ObjectiveConfig, where: string): void {
  if (e === null || typeof e !== 'object' || Array.isArray(e)) throw new InputError(`${where} must be a mapping, got ${JSON.stringify(e)}`)
  const r = e as Record<string, unknown>
  const int = (k: string, min: number, nullable = false) => {
    const v = r[k]
    if (v === undefined || (nullable && v === null)) return
    if (!Number.isInteger(v) || (v as number) < min) throw new InputError(`${where}.${k} must be an integer ≥ ${min}${nullable ? ' or null' : ''}, got ${JSON.stringify(v)}`)
  }
  int('sliding_stride', 1, true)
  int('batch_seqs', 1)
  int('elbo_steps', 0)
  int('elbo_samples', 1)
  int('elbo_seed', 0)
  if (r.score === undefined) return
  if (!(DIFFUSION_SCORES as readonly unknown[]).includes(r.score)) throw new InputError(`${where}.score must be ${DIFFUSION_SCORES.join(' or ')}, got ${JSON.stringify(r.score)}`)
  if (objective.kind === 'ar') throw new InputError(`${where}.score is for diffusion models; this one is ${objective.kind}`)
}
