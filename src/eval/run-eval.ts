/**
 * `golf eval`: score a run's checkpoint or an artifact on a dataset's validation split, in any
 * mode its objective allows (AR: chunked, sliding; diffusion: elbo, chain), with the settings a
 * user chooses. The model comes from the run (exactly as training left it) or is rebuilt from
 * the artifact by the counted code's path.
 *
 * Before any model is built, the memory of the evaluation pass is estimated (src/budget/memory.ts)
 * and a pass that cannot fit the backend's heap (wasm: 4 GiB per thread) is refused with one line
 * naming --batch-seqs, instead of failing inside the backend minutes later. Without --batch-seqs,
 * the recorded eval.batch_seqs is lowered to the largest batch that fits (the scores do not
 * depend on the batching).
 *
 * --kv-bits scores through a KIVI-quantized KV cache and reports the cache's storage cost beside
 * the score: AR models in sliding mode (the default under it; src/eval/kv-sliding.ts), BD3-LM
 * models in elbo or chain mode (their eval.score by default: elbo unless set) over a cache of clean blocks
 * (src/eval/kv-denoise.ts).
 */
import {initBackend, type BackendName, type ResolvedBackend} from '../backend/index.js'
import {assertFitsMemory, estimateMemory, estimateModelEval, type MemoryEstimate, type MemoryShape} from '../budget/memory.js'
import {openDataset} from '../data/open.js'
import {loadValidationSlice, type ValCoverage} from '../data/stream.js'
import {InputError} from '../errors.js'
import {modelDims} from '../model/config.js'
import type {GPT} from '../model/gpt.js'
import {isDiffusion, objectiveFor, type Objective} from '../objective/index.js'
import {DEFAULT_OBJECTIVE} from '../objective/types.js'
import {readArtifactManifest} from '../pack/artifact.js'
import {artifactModelInfo} from '../pack/model-info.js'
import {checkKVQuant, kvReport, type KVQuantConfig, type KVReport} from '../quant/kv-cache.js'
import {objectiveConfigOf} from '../recipe/recipe.js'
import {loadRunModel, readRunConfig} from '../run/load.js'
import {readArtifactFile, rebuildFromArtifact} from '../submission/rebuild.js'
import {EXACT_MAX_BLOCK} from './elbo.js'
import {kvScoreModes, recordedScoreOptions, reportedMode, scoreModel, scoreModes, type ScoreMode, type ScoreOptions, type ScoreResult} from './score.js'

/** What to score and how: ScoreOptions, each defaulting to the run's or artifact's settings. */
export interface EvalTargetOptions extends Partial<Omit<ScoreOptions, 'mode' | 'seqLen'>> {
  run?: string
  artifact?: string
  /** Dataset folder; default the run's (or, for an artifact, required). */
  data?: string
  /** Default: the objective's reported score (chunked for AR, elbo for diffusion). */
  mode?: ScoreMode
  valTokens?: number | null
  backend?: BackendName
}

export type EvalReport = ScoreResult & {
  objective: 'ar' | 'mdlm' | 'bd3lm'
  source: string
  dataset: string
  backend: string
  /** Sequences per pass: --batch-seqs, else the recorded eval.batch_seqs lowered to fit the backend's memory. */
  batch_seqs: number
  /** How much of the validation split was scored: the whole split unless --val-tokens. */
  val_coverage: ValCoverage
  /** --kv-bits: the quantized KV cache the evaluation read, and its storage cost at seq_len. */
  kv?: KVReport
  seconds: number
  tokens_per_s: number
}

interface Loaded {
  model: GPT
  objective: Objective
  seqLen: number
  data: string | undefined
  defaults: ReturnType<typeof recordedScoreOptions>
}

/** The flag golf eval names when a batch is too large. */
const EVAL_FLAGS = {'eval.batch_seqs': '--batch-seqs'}

/**
 * Refuse (InputError) an evaluation whose estimated memory exceeds the backend's, from the run's
 * config or the artifact's manifest alone. A run's model is estimated as training left a
 * ternary run (q·d copies in the forward pass); an artifact's holds plain floats. An artifact's
 * manifest is checked first (its model section, its tensor table against its config): a config
 * that disagrees with the tensors is that one-line error, not an estimate of a model that is
 * not there.
 */
function checkMemory(opts: EvalTargetOptions, backend: ResolvedBackend, artifactBytes: Uint8Array | null): number | null {
  const {recipe} = opts.run ? readRunConfig(opts.run).config : {recipe: null}
  const info = !recipe && artifactBytes ? artifactModelInfo(readArtifactManifest(artifactBytes, {source: opts.artifact}).manifest, opts.artifact) : null
  let estimate: MemoryEstimate
  try {
    if (recipe) {
      // the recorded batch (fitted to the backend) unless --batch-seqs chose one
      const recorded = recordedScoreOptions(recipe.eval ?? {}).batchSeqs
      estimate = estimateMemory({...recipe, name: opts.run!, eval: {...recipe.eval, batch_seqs: recorded}}, {backend, vocab: 'model', batchSeqs: opts.batchSeqs})
    } else {
      if (!info) return null
      const shape: MemoryShape = {model: info.config, ternary: [], floatFormat: 'fp32', quantActive: false, objective: info.objective ?? DEFAULT_OBJECTIVE, seqLen: info.seq_len, matrixOptimizer: 'muon', activations: info.activations ? [info.activations] : []}
      estimate = estimateModelEval(opts.artifact!, shape, {backend, batchSeqs: opts.batchSeqs ?? recordedScoreOptions(info.eval ?? {}).batchSeqs, fit: opts.batchSeqs === undefined})
    }
  } catch {
    return null // a config or manifest the estimate cannot read: loading it says what is wrong
  }
  assertFitsMemory(estimate, 'eval', EVAL_FLAGS)
  return estimate.eval.batch_seqs
}

function load(opts: EvalTargetOptions, artifactBytes: Uint8Array | null): Loaded {
  if (opts.run) {
    const {model, config} = loadRunModel(opts.run)
    const r = config.recipe
    return {model, objective: objectiveFor(objectiveConfigOf(r), model.cfg.vocab_size), seqLen: r.train.seq_len, data: config.data, defaults: recordedScoreOptions(r.eval)}
  }
  if (!opts.artifact || !artifactBytes) throw new InputError('golf eval needs --run <run folder> or --artifact <file>')
  const {model, info, objective} = rebuildFromArtifact(artifactBytes, {source: opts.artifact})
  return {model, objective, seqLen: info.seq_len, data: undefined, defaults: recordedScoreOptions(info.eval ?? {})}
}

/**
 * Refuse (InputError) a KV-cache quantization the target cannot be scored with (the modes that
 * read a KV cache: `kvScoreModes`); returns the mode to score, the first of them by default. A
 * mode the objective does not have at all is left to the general check.
 */
function checkKVTarget(kv: KVQuantConfig, l: Loaded, mode: ScoreMode | undefined): ScoreMode {
  const kvModes = kvScoreModes(l.objective, l.seqLen)
  if (kvModes.length === 0) throw new InputError(`--kv-bits: ${l.objective.config.kind} models denoise the whole sequence as one bidirectional block; there is no KV cache to quantize`)
  if (mode !== undefined && scoreModes(l.objective).includes(mode) && !kvModes.includes(mode)) throw new InputError(`--kv-bits needs --mode ${kvModes.join(' or ')}: ${mode} evaluation scores each window in one full pass, with no KV cache`)
  checkKVQuant(kv, modelDims(l.model.cfg).Dh)
  if (mode !== undefined) return mode
  const reported = reportedMode(l.objective, l.defaults.score)
  return kvModes.includes(reported) ? reported : kvModes[0]
}

export async function evaluateTarget(opts: EvalTargetOptions): Promise<EvalReport> {
  if (opts.run && opts.artifact) throw new InputError('give --run or --artifact, not both')
  const backend = await initBackend(opts.backend ?? 'auto', {quiet: true})
  const artifactBytes = !opts.run && opts.artifact ? readArtifactFile(opts.artifact) : null
  const fittedBatch = checkMemory(opts, backend.name, artifactBytes)
  const l = load(opts, artifactBytes)
  try {
    const modes = scoreModes(l.objective)
    const kv = opts.kv ?? null
    const mode = kv ? checkKVTarget(kv, l, opts.mode) : (opts.mode ?? reportedMode(l.objective, l.defaults.score))
    const kind = l.objective.config.kind
    if (!modes.includes(mode)) throw new InputError(`--mode ${mode} does not apply to ${kind} models (their modes: ${modes.join(', ')})`)
    const stride = opts.stride ?? l.defaults.stride
    if (mode === 'sliding' && !stride) throw new InputError('--mode sliding needs --stride S (the recipe sets none)')
    if (mode === 'sliding' && (stride! < 1 || stride! > l.seqLen)) throw new InputError(`--stride ${stride} must be in [1, seq_len ${l.seqLen}]`)
    if (opts.estimator === 'exact' && isDiffusion(l.objective)) {
      const bs = l.objective.blockSize(l.seqLen)
      if (bs > EXACT_MAX_BLOCK) throw new InputError(`--estimator exact enumerates 2^${bs} mask patterns per window; it is for blocks of at most ${EXACT_MAX_BLOCK} tokens (this model's block is ${bs})`)
    }
    const dataDir = opts.data ?? l.data
    if (!dataDir && opts.artifact) throw new InputError('--artifact needs --data <dataset folder> to score on')
    const {info, table} = await openDataset(dataDir)
    const {tokens, coverage, byteTable} = loadValidationSlice(info.dir, {vocabSize: info.vocabSize ?? undefined, maxTokens: opts.valTokens, table, bosId: info.bosId})
    if (tokens.length < l.seqLen + 1) throw new InputError(`${opts.valTokens ? `--val-tokens ${opts.valTokens}` : info.dir}: evaluation needs at least seq_len + 1 = ${l.seqLen + 1} validation tokens, got ${tokens.length}`)
    const t0 = performance.now()
    const r = scoreModel(l.model, l.objective, tokens, byteTable, {
      mode,
      seqLen: l.seqLen,
      batchSeqs: opts.batchSeqs ?? fittedBatch ?? l.defaults.batchSeqs,
      stride,
      kv,
      elboSteps: opts.elboSteps ?? l.defaults.elboSteps,
      elboSamples: opts.elboSamples ?? l.defaults.elboSamples,
      seed: opts.seed ?? l.defaults.seed,
      estimator: opts.estimator,
      order: opts.order,
      onProgress: opts.onProgress,
    })
    const seconds = (performance.now() - t0) / 1000
    const batchSeqs = opts.batchSeqs ?? fittedBatch ?? l.defaults.batchSeqs
    return {...r, ...(kv ? {kv: kvReport(kv, modelDims(l.model.cfg), l.seqLen)} : {}), objective: kind, source: opts.run ?? opts.artifact!, dataset: info.dir, backend: backend.name, batch_seqs: batchSeqs, val_coverage: coverage, seconds: Number(seconds.toFixed(3)), tokens_per_s: Math.round(r.tokens / Math.max(seconds, 1e-9))}
  } finally {
    l.model.dispose()
  }
}
