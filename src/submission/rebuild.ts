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
import {loadValidationTokens} from '../data/stream.js'
import {InputError} from '../errors.js'
import {readInputFile} from '../io/read.js'
import {evaluateChunked, evaluateSliding, type EvalResult} from '../eval/evaluate.js'
import {validateModelConfig, type ModelConfig} from '../model/config.js'
import {GPT} from '../model/gpt.js'
import {readArtifact, type ArtifactManifest} from '../pack/artifact.js'
import {DEFAULT_TERNARY} from '../quant/ternary.js'
import {openDataset} from '../data/open.js'

/** What a golf run's artifact says about its model (`manifest.model`). */
export interface ArtifactModelInfo {
  config: ModelConfig
  /** Context length the model was trained (and is evaluated) at. */
  seq_len: number
  vocab_size: number
  recipe?: string
  tokenizer?: string
  /** Optional evaluation settings recorded by the packer (sliding stride, batch). */
  eval?: {sliding_stride?: number | null; batch_seqs?: number}
}

export interface RebuiltModel {
  model: GPT
  manifest: ArtifactManifest
  info: ArtifactModelInfo
}

/** Read an artifact file, one-line errors naming the path. */
export function readArtifactFile(path: string): Uint8Array {
  return new Uint8Array(readInputFile(path, 'artifact'))
}

/** The model section of a golf artifact's manifest, checked. */
export function artifactModelInfo(manifest: ArtifactManifest, source = 'artifact'): ArtifactModelInfo {
  const m = manifest.model as Partial<ArtifactModelInfo>
  if (!m || typeof m.config !== 'object' || m.config === null) {
    throw new InputError(`${source}: the manifest has no model config (model.config): it was not packed from a golf run, so it cannot be rebuilt and evaluated`)
  }
  validateModelConfig(m.config, `${source}: model.config`)
  if (!Number.isInteger(m.seq_len) || (m.seq_len as number) < 1) throw new InputError(`${source}: model.seq_len must be a positive integer, got ${JSON.stringify(m.seq_len)}`)
  const vocab = m.vocab_size ?? m.config.vocab_size
  return {...m, config: m.config, seq_len: m.seq_len as number, vocab_size: vocab}
}

/**
 * Build the GPT of an artifact and load its dequantized tensors (needs an initialised tfjs
 * backend: `initBackend`). The caller disposes `model`.
 */
export function rebuildFromArtifact(bytes: Uint8Array, opts: {source?: string} = {}): RebuiltModel {
  const source = opts.source ?? 'artifact'
  const {manifest, tensors} = readArtifact(bytes, {source})
  const info = artifactModelInfo(manifest, source)
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
  return {model, manifest, info}
}

export interface ArtifactEvalOptions {
  /** Artifact path (or its bytes with `source` naming it). */
  artifact: string | {bytes: Uint8Array; source: string}
  /** Dataset folder (validation shards + tokenizer). */
  dataDir: string
  /** First N validation tokens; undefined/null = the whole split (the official score). */
  valTokens?: number | null
  /** Also score with a sliding window of this stride (null = chunked only). */
  slidingStride?: number | null
  batchSeqs?: number
  backend?: BackendName
  onProgress?: (done: number, total: number, label: string) => void
}

export interface ArtifactEvalResult {
  chunked: EvalResult
  sliding: EvalResult | null
  artifact_bytes: number
  info: ArtifactModelInfo
  backend: string
}

/** Rebuild an artifact's model and score it on a dataset's validation split. */
export async function evaluateArtifact(opts: ArtifactEvalOptions): Promise<ArtifactEvalResult> {
  const backend = await initBackend(opts.backend ?? 'auto', {quiet: true})
  const {bytes, source} = typeof opts.artifact === 'string' ? {bytes: readArtifactFile(opts.artifact), source: opts.artifact} : opts.artifact
  const {table, info: data, tokenizerName} = await openDataset(opts.dataDir)
  const {model, info} = rebuildFromArtifact(bytes, {source})
  try {
    if (info.tokenizer && info.tokenizer !== tokenizerName) {
      throw new InputError(`${source} was trained with tokenizer ${info.tokenizer}, but ${opts.dataDir} uses ${tokenizerName}`)
    }
    if ((data.vocabSize ?? 0) > info.config.vocab_size) {
      throw new InputError(`${source}: the model has ${info.config.vocab_size} token ids, the dataset ${opts.dataDir} has ${data.vocabSize}`)
    }
    const tokens = loadValidationTokens(data.dir, {vocabSize: data.vocabSize ?? undefined, maxTokens: opts.valTokens ?? undefined})
    if (tokens.length < info.seq_len + 1) {
      throw new InputError(`${opts.valTokens ? `--val-tokens ${opts.valTokens}` : opts.dataDir}: evaluation needs at least seq_len + 1 = ${info.seq_len + 1} validation tokens, got ${tokens.length}`)
    }
    const batchSeqs = opts.batchSeqs ?? info.eval?.batch_seqs ?? 8
    const evalOpts = (label: string) => ({seqLen: info.seq_len, batchSeqs, onProgress: (d: number, t: number) => opts.onProgress?.(d, t, label)})
    const chunked = evaluateChunked(model, tokens, table, evalOpts('roundtrip eval'))
    const stride = opts.slidingStride === undefined ? (info.eval?.sliding_stride ?? null) : opts.slidingStride
    const sliding = stride ? evaluateSliding(model, tokens, table, {...evalOpts(`sliding eval (stride ${stride})`), stride}) : null
    return {chunked, sliding, artifact_bytes: bytes.length, info, backend: backend.name}
  } finally {
    model.dispose()
  }
}

/** The official-style result line, e.g. `final_roundtrip val_loss:2.3456 val_bpb:1.2345`. */
export function roundtripLine(r: {val_loss: number; val_bpb: number}, digits = 8): string {
  return `final_roundtrip val_loss:${r.val_loss.toFixed(digits)} val_bpb:${r.val_bpb.toFixed(digits)}`
}
