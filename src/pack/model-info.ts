/**
 * The `model` section of a golf artifact's manifest: everything the counted code needs to
 * rebuild and score the model from the artifact alone (its config, the context it was trained
 * at, its objective and how its score is computed). Written by the packer and by `golf budget`
 * (to size the manifest), read back by `rebuildFromArtifact`.
 */
import {InputError} from '../errors.js'
import type {RecordedEval} from '../eval/score.js'
import {modelDims, paramSpecs, validateModelConfig, type ModelConfig} from '../model/config.js'
import {DEFAULT_OBJECTIVE, DIFFUSION_SCORES, type ObjectiveConfig} from '../objective/types.js'
import {allFloat, FLOAT_ACTIVATIONS, parseSites, type ActivationSites} from '../quant/activations.js'
import type {ResolvedRecipe} from '../recipe/recipe.js'
import type {ArtifactManifest} from './artifact.js'
import {quoteName} from './artifact/manifest.js'

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
  checkTensorTable(manifest, m.config, source)
  return {...m, config: m.config, seq_len: m.seq_len as number, vocab_size: vocab, objective, ...(activations ? {activations} : {})}
}

/** Above this many parameters in a config, a tensor table that does not hold as many is refused by its count alone. */
const MAX_LISTED_SPECS = 100_000

/** How many tensors (parameters) `paramSpecs(cfg)` lists, counted without listing them. */
function specCount(cfg: ModelConfig): number {
  const d = modelDims(cfg)
  const perBlock = cfg.x0_mix ? 10 : 9
  return (d.numSkips > 0 ? 1 : 0) + 1 + (d.factored ? 2 : 0) + cfg.unique_blocks * perBlock + (cfg.tie_embeddings ? 0 : 1)
}

const shapeText = (shape: readonly number[]): string => `[${shape.join(', ')}]`

/**
 * The tensor table against the model its config describes, from the manifest alone (nothing is
 * built or decoded): every parameter of the config present under its name with its shape, and
 * nothing else. A table that disagrees is refused in one line naming the file and the tensor,
 * before a model of the config's size is allocated (a config of model_dim 65536 over a tiny
 * table would otherwise build hundreds of GB of weights, or be refused as out of memory).
 */
function checkTensorTable(manifest: ArtifactManifest, config: ModelConfig, source: string): void {
  const table = manifest.tensors
  const count = specCount(config)
  if (count > MAX_LISTED_SPECS && count !== table.length) {
    throw new InputError(`${source}: model.config describes ${count.toLocaleString('en-US')} tensors (unique_blocks ${config.unique_blocks}), the tensor table holds ${table.length.toLocaleString('en-US')}`)
  }
  const byName = new Map(table.map((t) => [t.name, t]))
  const specs = paramSpecs(config, [])
  for (const spec of specs) {
    const t = byName.get(spec.name)
    if (!t) throw new InputError(`${source}: tensor "${spec.name}" is missing from the tensor table: model.config needs it, shape ${shapeText(spec.shape)}`)
    if (t.shape.length !== spec.shape.length || t.shape.some((n, i) => n !== spec.shape[i])) {
      throw new InputError(`${source}: tensor "${spec.name}" has shape ${shapeText(t.shape)} in the tensor table, model.config needs ${shapeText(spec.shape)}`)
    }
  }
  const names = new Set(specs.map((s) => s.name))
  const extra = table.find((t) => !names.has(t.name))
  if (extra) throw new InputError(`${source}: tensor ${quoteName(extra.name)} in the tensor table is not a parameter of the model model.config describes`)
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
