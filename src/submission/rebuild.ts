/**
 * Artifact → model → score: the code path a golf submission's counted file runs at evaluation
 * time (`node submission.mjs eval …`) and that `golf verify` imports in-process, so both are
 * literally the same code.
 *
 * The model is rebuilt from the manifest alone: `manifest.model.config` is the GPT's config;
 * every parameter is the artifact's dequantized tensor (ternary: q·d exactly; float: the stored
 * values), loaded as plain float32 weights with `quantActive = false`. For a golf-trained
 * ternary run that is exactly what the training forward pass used (q·d and the float storage
 * precision are simulated in training), so its logits are identical.
 */
import {initBackend, type BackendName} from '../backend/index.js'
import {loadValidationSlice, type ValCoverage} from '../data/stream.js'
import {InputError} from '../errors.js'
import {recordedScoreOptions, reportedMode, scoreModel, type ScoreResult} from '../eval/score.js'
import {objectiveFor, type Objective} from '../objective/index.js'
import {GPT} from '../model/gpt.js'
import {readArtifact, readArtifactFile, type ArtifactManifest} from '../pack/artifact.js'
import {artifactModelInfo, type ArtifactModelInfo} from '../pack/model-info.js'
import {DEFAULT_TERNARY} from '../quant/ternary.js'
import {openDataset} from '../data/open.js'

export interface RebuiltModel {
  model: GPT
  manifest: ArtifactManifest
  info: ArtifactModelInfo
  /** The objective the model was trained with (its score: chunked NLL or ELBO). */
  objective: Objective
}

export {readArtifactFile}

/**
 * Build the GPT of an artifact and load its dequantized tensors (needs an initialised tfjs
 * backend: `initBackend`). The caller disposes `model`.
 */
export function rebuildFromArtifact(bytes: Uint8Array, opts: {source?: string} = {}): RebuiltModel {
  const source = opts.source ?? 'artifact'
  // the model section, and the tensor table against its config, before any tensor is decoded
  let info: ArtifactModelInfo | undefined
  const {manifest, tensors} = readArtifact(bytes, {source, checkManifest: (m) => (info = artifactModelInfo(m, source))})
  if (!info) throw new Error('readArtifact did not check the manifest')
  // No ternary patterns: the weights are already q·d, used as they are (quantActive stays false).
  const model = new GPT(info.config, {seed: 0, ternary: {patterns: [], config: DEFAULT_TERNARY}, floatFormat: 'fp32'})
  const weights = new Map<string, Float32Array>()
  for (const [name, t] of tensors) {
    if (!t.data) throw new InputError(`${source}: tensor "${name}" has no values`)
    weights.set(name, t.data)
  }
  try {
    model.loadWeights(weights)
  } catch (err) {
    model.dispose()
    throw err instanceof InputError ? new InputError(`${source}: ${err.message}`) : err
  }
  model.quantActive = false
  if (info.activations) model.activations = info.activations // what the forward pass computed with in training
  return {model, manifest, info, objective: objectiveFor(info.objective!, info.config.vocab_size)}
}

export interface ArtifactEvalOptions {
  /** Artifact path (or its bytes with `source` naming it). */
  artifact: string | {bytes: Uint8Array; source: string}
  /** Dataset folder (validation shards + tokenizer). */
  dataDir: string
  /** First N validation tokens; undefined/null = the whole split (the official score). */
  valTokens?: number | null
  /** AR: also score with a sliding window of this stride (null = chunked only). */
  slidingStride?: number | null
  batchSeqs?: number
  backend?: BackendName
  onProgress?: (done: number, total: number, label: string) => void
}

export interface ArtifactEvalResult {
  /** The model's score: chunked NLL for AR, the ELBO (an upper bound) for diffusion. */
  score: ScoreResult
  sliding: ScoreResult | null
  artifact_bytes: number
  /** How much of the validation split was scored (the whole split unless valTokens). */
  val_coverage: ValCoverage
  info: ArtifactModelInfo
  backend: string
}

/** How an artifact's model is scored by default: its reported mode (eval.score), its recorded settings. */
export function defaultScoreOptions(info: ArtifactModelInfo, objective: Objective, batchSeqs?: number) {
  const {stride: _stride, score, ...recorded} = recordedScoreOptions(info.eval ?? {})
  return {...recorded, mode: reportedMode(objective, score), seqLen: info.seq_len, batchSeqs: batchSeqs ?? recorded.batchSeqs}
}

/** Rebuild an artifact's model and score it on a dataset's validation split. */
export async function evaluateArtifact(opts: ArtifactEvalOptions): Promise<ArtifactEvalResult> {
  const backend = await initBackend(opts.backend ?? 'auto', {quiet: true})
  const {bytes, source} = typeof opts.artifact === 'string' ? {bytes: readArtifactFile(opts.artifact), source: opts.artifact} : opts.artifact
  const {table, info: data, tokenizerName} = await openDataset(opts.dataDir)
  const {model, info, objective} = rebuildFromArtifact(bytes, {source})
  try {
    if (info.tokenizer && info.tokenizer !== tokenizerName) {
      throw new InputError(`${source} was trained with tokenizer ${info.tokenizer}, but ${opts.dataDir} uses ${tokenizerName}`)
    }
    if ((data.vocabSize ?? 0) > info.vocab_size) {
      throw new InputError(`${source}: the model has ${info.vocab_size} data token ids, the dataset ${opts.dataDir} has ${data.vocabSize}`)
    }
    const {tokens, coverage, byteTable} = loadValidationSlice(data.dir, {vocabSize: data.vocabSize ?? undefined, maxTokens: opts.valTokens, table, bosId: data.bosId})
    if (tokens.length < info.seq_len + 1) {
      throw new InputError(`${opts.valTokens ? `--val-tokens ${opts.valTokens}` : opts.dataDir}: evaluation needs at least seq_len + 1 = ${info.seq_len + 1} validation tokens, got ${tokens.length}`)
    }
    const base = defaultScoreOptions(info, objective, opts.batchSeqs)
    const progress = (label: string) => (d: number, t: number) => opts.onProgress?.(d, t, label)
    const score = scoreModel(model, objective, tokens, byteTable, {...base, onProgress: progress('roundtrip eval')})
    const stride = objective.diffusion ? null : opts.slidingStride === undefined ? (info.eval?.sliding_stride ?? null) : opts.slidingStride
    const sliding = stride ? scoreModel(model, objective, tokens, byteTable, {...base, mode: 'sliding', stride, onProgress: progress(`sliding eval (stride ${stride})`)}) : null
    return {score, sliding, artifact_bytes: bytes.length, val_coverage: coverage, info, backend: backend.name}
  } finally {
    model.dispose()
  }
}

/**
 * The official-style result line, e.g. `final_roundtrip val_loss:2.3456 val_bpb:1.2345`; a
 * bound says so (`final_roundtrip_elbo … bound:upper steps:128`), never passing for a likelihood.
 */
export function roundtripLine(r: {val_loss: number; val_bpb: number} | ScoreResult, digits = 8): string {
  const head = `val_loss:${r.val_loss.toFixed(digits)} val_bpb:${r.val_bpb.toFixed(digits)}`
  if ('mode' in r && r.mode === 'elbo') return `final_roundtrip_elbo ${head} bound:upper steps:${r.elbo_steps} val_bpb_se:${r.val_bpb_se.toFixed(digits)}`
  return `final_roundtrip ${head}`
}
