/**
 * Budget before training: predict the artifact bytes of a recipe, per component, without
 * training anything, and solve for the largest value of one integer key that fits a limit.
 *
 * The model of an artifact (what `golf pack` of a run of this recipe writes):
 *   ternary trits   per ternary tensor, the smallest codec (or the one asked for) for n trits
 *                   with a zero fraction z (default 0.33) and ± split evenly, from the codecs'
 *                   size models (`tritCodecSizes`: exact for base3/2bit/bitmask, the entropy
 *                   coder's order-0 estimate). Outer compression gains nothing on coded trits.
 *   ternary scales  one scale per group (fp16/bf16: 2 bytes, fp32: 4, e4m3: 1 plus 1 per
 *                   tensor), then compressed: the values are the quantizer's scales of stand-in
 *                   weights (the seeded initial values; the zero-initialised projections drawn
 *                   uniform as other linears, which is what training quickly makes of them),
 *                   stored and compressed as the artifact would (brotli 11; streams over 1 MB
 *                   estimated from 16 spread samples of 64 KB).
 *   float tensors   the seeded initial values in `quant.float_format` (f32 for mode none; fp8
 *                   with its per-row fp16 scales), encoded by the artifact writer's own encoder
 *                   and compressed the same way. A trained model's floats compress a little
 *                   less than its initial values: this is the estimate's softest part.
 *   manifest        the real manifest JSON the packer would write for this tensor list,
 *                   compressed alone.
 *   container       11 bytes (magic, version, compression id, CRC) + the 4-byte manifest length.
 *   counted code    `--code-bytes`, else the real bundle (`buildCountedCode`, needs the compiled
 *                   golf), else CODE_BYTES_ESTIMATE.
 * Checked in tests against real packs (a trained tiny run, a random bigger model): within 1%.
 */
import {brotliCompressSync, constants} from 'node:zlib'

import {InputError} from '../errors.js'
import {type ModelConfig, type ParamSpec, modelDims, numel, paramSpecs, paramTotals} from '../model/config.js'
import {initialValue} from '../model/gpt.js'
import {describeActivationStages} from '../quant/activations.js'
import {roundScalesE4m3, roundToFormatJs} from '../quant/float-formats.js'
import {kvReport, type KVReport} from '../quant/kv-cache.js'
import {groupLayout, type ScaleFormat, scaleBytesOf} from '../quant/ternary-host.js'
import {objectiveConfigOf, type ResolvedRecipe} from '../recipe/recipe.js'
import {modelVocabFor} from '../objective/types.js'
import {modelInfoOf} from './model-info.js'
import {ARTIFACT_OVERHEAD, ARTIFACT_VERSION, DEFAULT_ARTIFACT_LIMITS, FLOAT_DTYPE_OF_FORMAT, type FloatDtype, type ManifestTensor, canonical, encodeFloat, encodeScales, readArtifact} from './artifact.js'
import {type TritCodecName, TRIT_CODEC_NAMES, tritCodecSizes} from './codecs/index.js'

/**
 * Counted code when neither --code-bytes nor the bundle is available: the minified bundle of
 * golf's submission entry measured about 60 kB; rounded up.
 */
export const CODE_BYTES_ESTIMATE = 80_000
export const DEFAULT_ZERO_FRAC = 0.33

/**
 * Measured storage rates from a real artifact (an earlier or smaller run of the recipe): the
 * trained zero fraction, and compressed bytes per float parameter and per scale. Initial values
 * compress differently from trained ones; calibrating replaces those stand-ins.
 */
export interface BudgetCalibration {
  source: string
  zero_frac: number
  float_dtype: FloatDtype | null
  scale_format: string | null
  float_bytes_per_param: number | null
  scale_bytes_per_group: number | null
}

export interface BudgetOptions {
  /** Rates measured from a real artifact (see `calibrationFromArtifact`); its zero fraction applies unless zeroFrac is given. */
  calibration?: BudgetCalibration
  /** Fraction of zero trits assumed (0 ≤ z < 1). */
  zeroFrac?: number
  /** Trit codec the pack will use (default auto). */
  codec?: TritCodecName | 'auto'
  /** Counted code bytes; computed (bundle or estimate) when absent. */
  codeBytes?: number
  /** Byte limit (default 16,000,000). */
  limit?: number
  /** Seed of the stand-in initial values. */
  seed?: number
}

export interface BudgetComponents {
  ternary_trits: number
  ternary_scales: number
  float_tensors: number
  manifest: number
  container: number
  counted_code: number
}

export interface ArtifactPrediction {
  recipe: string
  zero_frac: number
  codec: TritCodecName | 'auto'
  params: {total: number; ternary: number; float: number}
  /** How the scales (null: no ternary tensors) and the float tensors are stored. */
  formats: {scale_format: ScaleFormat | null; float_dtype: FloatDtype}
  /** The activation precision plan in words (`float`, or `a8 from the start, then a4.8 from 70%`): it costs no bytes. */
  activations: string
  /** The KV cache the final evaluation also scores through (eval.kv_cache), its bytes per token at seq_len; null: none. */
  kv_cache: KVReport | null
  /** Everything but the counted code. */
  artifact_bytes: number
  components: Omit<BudgetComponents, 'counted_code'>
  tensors: Array<{name: string; kind: 'ternary' | 'float'; params: number; codec: string; raw_bytes: number}>
}

export interface BudgetPrediction extends Omit<ArtifactPrediction, 'components'> {
  limit: number
  total_bytes: number
  fits: boolean
  /** limit − total (negative when over). */
  headroom: number
  code_bytes_source: 'flag' | 'bundle' | 'estimate'
  components: BudgetComponents
}

const SAMPLE = 64 * 1024
const SAMPLES = 16

function brotli(data: Uint8Array): number {
  return brotliCompressSync(data, {
    params: {
      [constants.BROTLI_PARAM_QUALITY]: 11,
      [constants.BROTLI_PARAM_LGWIN]: 24,
      [constants.BROTLI_PARAM_SIZE_HINT]: data.length,
    },
  }).length
}

/** Compressed size of a stream; above SAMPLES × SAMPLE bytes, scaled from spread samples. */
function compressedSize(data: Uint8Array): number {
  if (data.length <= SAMPLES * SAMPLE) return brotli(data)
  const parts: Uint8Array[] = []
  const stride = Math.floor((data.length - SAMPLE) / (SAMPLES - 1))
  for (let k = 0; k < SAMPLES; k++) parts.push(data.subarray(k * stride, k * stride + SAMPLE))
  const sample = Buffer.concat(parts)
  return Math.round((brotli(sample) / sample.length) * data.length)
}


/** The seeded initial value of a parameter; zero-initialised matrices drawn as other linears. */
function standIn(spec: ParamSpec, cfg: ModelConfig, seed: number): Float32Array {
  const v = initialValue(spec, cfg, seed)
  if (spec.shape.length === 2 && v.every((x) => x === 0)) return initialValue({...spec, name: `${spec.name}#stand-in`}, cfg, seed)
  return v
}

/** The quantizer's stored scales for w (absmean, zero correction, rounding), on the host. */
function hostScales(w: Float32Array, shape: [number, number], r: ResolvedRecipe): Float32Array {
  const {groupLen, numGroups} = groupLayout(shape, r.quant.group_size)
  const eps = 2 ** -14
  const out = new Float32Array(numGroups)
  for (let g = 0; g < numGroups; g++) {
    let sum = 0
    for (let i = g * groupLen; i < (g + 1) * groupLen; i++) sum += Math.abs(w[i])
    const s = Math.max(sum / groupLen, eps)
    let nzSum = 0
    let nz = 0
    for (let i = g * groupLen; i < (g + 1) * groupLen; i++) {
      const a = Math.abs(w[i])
      if (a > s / 2) {
        nzSum += a
        nz++
      }
    }
    out[g] = Math.max(r.quant.zero_correction && nz > 0 ? nzSum / nz : s, eps)
  }
  return storedScales(out, r.quant.scale_format)
}

/** Scales d (≥ 2^-14) as the format stores them (the host references of the quantizer's rounding). */
function storedScales(d: Float32Array, fmt: ScaleFormat): Float32Array {
  if (fmt === 'e4m3') return roundScalesE4m3(d)
  if (fmt === 'fp32') return d
  // fp16: clamped to its largest finite value, as the quantizer clamps
  if (fmt === 'fp16') return Float32Array.from(d, (x) => roundToFormatJs(Math.min(x, 65504), 'fp16'))
  return Float32Array.from(d, (x) => roundToFormatJs(x, fmt))
}

/** A float tensor's stored bytes (values, then any per-row scales), as the writer lays them out. */
function encodeFloats(values: Float32Array, shape: number[], dtype: FloatDtype): Uint8Array {
  const enc = encodeFloat({name: 'budget', shape, kind: 'float', data: values, dtype})
  return enc.scales ? Buffer.concat([enc.data, enc.scales]) : enc.data
}


function checkCalibration(cal: BudgetCalibration, floatDtype: FloatDtype, scaleFormat: string | null): void {
  if (cal.float_dtype !== null && cal.float_dtype !== floatDtype) {
    throw new InputError(`--calibrate ${cal.source}: it stores float tensors as ${cal.float_dtype}, the recipe as ${floatDtype}; calibrate from a run with the same quant.float_format`)
  }
  if (cal.scale_format !== null && scaleFormat !== null && cal.scale_format !== scaleFormat) {
    throw new InputError(`--calibrate ${cal.source}: its scales are ${cal.scale_format}, the recipe's ${scaleFormat}; calibrate from a run with the same quant.scale_format`)
  }
}

/** Measure a real artifact's storage rates (compressing each component stream on its own, as the prediction does). */
export function calibrationFromArtifact(bytes: Uint8Array, source: string): BudgetCalibration {
  const {manifest, tensors} = readArtifact(bytes, {source, dequantize: false})
  let trits = 0
  let zeros = 0
  let floatParams = 0
  let groups = 0
  const floatStreams: Uint8Array[] = []
  const scaleStreams: Uint8Array[] = []
  let floatDtype: FloatDtype | null = null
  let scaleFormat: string | null = null
  for (const entry of manifest.tensors) {
    const t = tensors.get(entry.name)!
    if (t.kind === 'ternary' && t.trits && t.scales) {
      trits += t.trits.length
      for (let i = 0; i < t.trits.length; i++) if (t.trits[i] === 0) zeros++
      scaleFormat = entry.scale_format ?? null
      scaleStreams.push(encodeScales(entry.name, t.scales, entry.scale_format ?? 'fp16'))
      groups += t.scales.length
    } else if (t.data) {
      const dtype = entry.codec as FloatDtype
      // e4m3 (unscaled) / int8_row: not a run storage format, nothing to predict with them
      if (!(Object.values(FLOAT_DTYPE_OF_FORMAT) as string[]).includes(dtype)) continue
      floatDtype = dtype
      floatParams += t.data.length
      // the stored values encode again to the same bytes (fp8 rows: the same codes and scales)
      floatStreams.push(encodeFloats(t.data, entry.shape, dtype))
    }
  }
  if (trits === 0 && floatParams === 0) throw new InputError(`--calibrate ${source}: the artifact holds no tensors to measure`)
  return {
    source,
    zero_frac: trits > 0 ? zeros / trits : DEFAULT_ZERO_FRAC,
    float_dtype: floatDtype,
    scale_format: scaleFormat,
    float_bytes_per_param: floatParams > 0 ? compressedSize(Buffer.concat(floatStreams)) / floatParams : null,
    scale_bytes_per_group: groups > 0 ? compressedSize(Buffer.concat(scaleStreams)) / groups : null,
  }
}

/** Predict the artifact (without counted code) of a run of this recipe (see the module doc). */
export function predictArtifact(recipe: ResolvedRecipe, opts: BudgetOptions = {}): ArtifactPrediction {
  const cal = opts.calibration
  const z = opts.zeroFrac ?? cal?.zero_frac ?? DEFAULT_ZERO_FRAC
  if (!(z >= 0 && z < 1)) throw new InputError(`--zero-frac ${z}: expected a fraction in [0, 1)`)
  const codec = opts.codec ?? 'auto'
  if (codec !== 'auto' && !TRIT_CODEC_NAMES.includes(codec)) throw new InputError(`unknown trit codec "${codec}"`)
  const seed = opts.seed ?? 1337
  // the recipe names the data vocabulary; diffusion objectives embed one more id ([MASK])
  const cfg = {...recipe.model, vocab_size: modelVocabFor(objectiveConfigOf(recipe).kind, recipe.model.vocab_size)}
  checkPackable(recipe.name, cfg)
  const ternaryMode = recipe.quant.mode === 'ternary'
  const specs = paramSpecs(cfg, ternaryMode ? recipe.quant.targets : [])
  const floatDtype: FloatDtype = FLOAT_DTYPE_OF_FORMAT[ternaryMode ? recipe.quant.float_format : 'fp32']

  let trits = 0
  const scaleStreams: Uint8Array[] = []
  const floatStreams: Uint8Array[] = []
  const entries: ManifestTensor[] = []
  const tensors: ArtifactPrediction['tensors'] = []
  let offset = 0
  let ternaryParams = 0
  let floatParams = 0
  let scaleCount = 0
  if (cal) checkCalibration(cal, floatDtype, ternaryMode ? recipe.quant.scale_format : null)
  for (const spec of specs) {
    const n = numel(spec.shape)
    if (spec.ternary) {
      ternaryParams += n
      const zero = Math.round(n * z)
      const pos = Math.floor((n - zero) / 2)
      const sizes = tritCodecSizes(n, {zero, pos, neg: n - zero - pos})
      const chosen = codec === 'auto' ? TRIT_CODEC_NAMES.reduce((a, b) => (sizes[b] < sizes[a] ? b : a)) : codec
      const shape = spec.shape as [number, number]
      const scales = hostScales(standIn(spec, cfg, seed), shape, recipe)
      const scaleBytes = encodeScales(spec.name, scales, recipe.quant.scale_format)
      scaleStreams.push(scaleBytes)
      scaleCount += scales.length
      trits += sizes[chosen]
      entries.push({name: spec.name, shape: [...spec.shape], kind: 'ternary', codec: chosen, scale_format: recipe.quant.scale_format, group_size: recipe.quant.group_size, offset, length: sizes[chosen], scales_offset: offset + sizes[chosen], scales_length: scaleBytes.length})
      offset += sizes[chosen] + scaleBytes.length
      tensors.push({name: spec.name, kind: 'ternary', params: n, codec: chosen, raw_bytes: sizes[chosen] + scaleBytesOf(recipe.quant.scale_format, scales.length)})
    } else {
      floatParams += n
      const enc = encodeFloat({name: spec.name, shape: [...spec.shape], kind: 'float', data: standIn(spec, cfg, seed), dtype: floatDtype})
      const scaleLength = enc.scales?.length ?? 0
      floatStreams.push(enc.scales ? Buffer.concat([enc.data, enc.scales]) : enc.data)
      const entry: ManifestTensor = {name: spec.name, shape: [...spec.shape], kind: 'float', codec: floatDtype, offset, length: enc.data.length}
      if (enc.scales) Object.assign(entry, {scales_offset: offset + enc.data.length, scales_length: scaleLength})
      entries.push(entry)
      offset += enc.data.length + scaleLength
      tensors.push({name: spec.name, kind: 'float', params: n, codec: floatDtype, raw_bytes: enc.data.length + scaleLength})
    }
  }
  // The manifest as the packer writes it for a golf run (see pack-model.ts prepareRun).
  const quant = {...recipe.quant, float_dtype: floatDtype, ternary_tensors: specs.filter((s) => s.ternary).map((s) => s.name)}
  const model = modelInfoOf(recipe, cfg, recipe.model.vocab_size, recipe.data.tokenizer)
  const manifestJson = JSON.stringify({format: 'golf-artifact', version: ARTIFACT_VERSION, model: canonical(model), quant: canonical(quant), tensors: entries, compress: 'brotli'})
  const components = {
    ternary_trits: trits,
    ternary_scales:
      scaleStreams.length === 0 ? 0 : cal?.scale_bytes_per_group != null ? Math.round(scaleCount * cal.scale_bytes_per_group) : compressedSize(Buffer.concat(scaleStreams)),
    float_tensors: floatStreams.length === 0 ? 0 : cal?.float_bytes_per_param != null ? Math.round(floatParams * cal.float_bytes_per_param) : compressedSize(Buffer.concat(floatStreams)),
    manifest: brotli(new TextEncoder().encode(manifestJson)),
    container: ARTIFACT_OVERHEAD + 4,
  }
  const artifact = components.ternary_trits + components.ternary_scales + components.float_tensors + components.manifest + components.container
  return {
    recipe: recipe.name,
    zero_frac: z,
    codec,
    params: {total: ternaryParams + floatParams, ternary: ternaryParams, float: floatParams},
    formats: {scale_format: ternaryParams > 0 ? recipe.quant.scale_format : null, float_dtype: floatDtype},
    activations: describeActivationStages(recipe.activations ?? []),
    kv_cache: recipe.eval.kv_cache ? kvReport(recipe.eval.kv_cache, modelDims(recipe.model), recipe.train.seq_len) : null,
    artifact_bytes: artifact,
    components,
    tensors,
  }
}

/**
 * Refuse (InputError), by arithmetic before any stand-in weight is made, a model larger than a
 * golf artifact may hold (the reader's limits): its prediction would allocate its weights (a
 * model_dim of 65536 took 19 GB), and no artifact of it could be read back.
 */
function checkPackable(name: string, cfg: ModelConfig): void {
  const {total, largest} = paramTotals(cfg)
  const {maxTotalElements, maxTensorElements} = DEFAULT_ARTIFACT_LIMITS
  if (total <= maxTotalElements && largest <= maxTensorElements) return
  const n = (x: number) => x.toLocaleString('en-US')
  const shape = `model_dim ${cfg.model_dim}, unique_blocks ${cfg.unique_blocks}, mlp_mult ${cfg.mlp_mult}, ${cfg.vocab_size} ids`
  throw new InputError(`recipe ${name}: ${n(total)} parameters, the largest tensor ${n(largest)} (${shape}), over what a golf artifact may hold (${n(maxTotalElements)} values, ${n(maxTensorElements)} per tensor): golf budget sizes models that can be packed`)
}

/** Counted code bytes: the flag, else the real bundle, else the documented estimate. */
export async function countedCodeBytes(recipe: ResolvedRecipe, flag?: number): Promise<{bytes: number; source: 'flag' | 'bundle' | 'estimate'}> {
  if (flag !== undefined) {
    if (!Number.isInteger(flag) || flag < 0) throw new InputError(`--code-bytes ${flag}: expected a whole number of bytes >= 0`)
    return {bytes: flag, source: 'flag'}
  }
  try {
    const {buildCountedCode} = await import('../verify/bundle.js')
    return {bytes: (await buildCountedCode(recipe)).bytes, source: 'bundle'}
  } catch {
    return {bytes: CODE_BYTES_ESTIMATE, source: 'estimate'}
  }
}

/** Artifact prediction + counted code against the limit. */
export async function predictBudget(recipe: ResolvedRecipe, opts: BudgetOptions = {}): Promise<BudgetPrediction> {
  const code = await countedCodeBytes(recipe, opts.codeBytes)
  return withCode(predictArtifact(recipe, opts), code, opts.limit ?? 16_000_000)
}

function withCode(p: ArtifactPrediction, code: {bytes: number; source: 'flag' | 'bundle' | 'estimate'}, limit: number): BudgetPrediction {
  const total = p.artifact_bytes + code.bytes
  return {...p, components: {...p.components, counted_code: code.bytes}, limit, total_bytes: total, fits: total <= limit, headroom: limit - total, code_bytes_source: code.source}
}

export interface SolveResult {
  key: string
  /** The recipe's own value. */
  original: number
  /** The largest valid value ≤ original that fits, or null when none does. */
  value: number | null
  prediction: BudgetPrediction | null
  /** Every value evaluated, in order. */
  tried: Array<{value: number; total_bytes: number; fits: boolean}>
}

/**
 * The largest value v ≤ the recipe's of an integer key (e.g. `model.model_dim`) whose recipe is
 * valid and fits the limit. Values the recipe rejects (divisibility rules) are skipped: each
 * probe v is moved down to the nearest valid value, then a binary search runs on
 * fits(nearestValid(v)), which grows with v as the parameter count does. The counted code is
 * measured once, at the recipe's own value.
 */
export async function solveBudget(
  load: (extraSets: string[]) => ResolvedRecipe,
  key: string,
  opts: BudgetOptions = {},
): Promise<SolveResult> {
  const base = load([])
  const parts = key.split('.')
  let cur: unknown = base
  for (const p of parts) cur = (cur as Record<string, unknown> | undefined)?.[p]
  if (typeof cur !== 'number' || !Number.isInteger(cur) || cur < 1) throw new InputError(`--solve ${key}: the recipe's ${key} is ${JSON.stringify(cur)}, not a positive integer`)
  const original = cur
  const limit = opts.limit ?? 16_000_000
  const code = await countedCodeBytes(base, opts.codeBytes)
  const tried: SolveResult['tried'] = []
  const cache = new Map<number, BudgetPrediction>()
  const recipeAt = (v: number): ResolvedRecipe | null => {
    try {
      return load([`${key}=${v}`])
    } catch (err) {
      if (err instanceof InputError) return null
      throw err
    }
  }
  /** Nearest valid value ≤ v (null if none down to 1). */
  const nearestValid = (v: number): {value: number; recipe: ResolvedRecipe} | null => {
    for (let x = v; x >= 1; x--) {
      const r = recipeAt(x)
      if (r) return {value: x, recipe: r}
    }
    return null
  }
  const evaluate = (v: number): {value: number; p: BudgetPrediction} | null => {
    const nv = nearestValid(v)
    if (!nv) return null
    let p = cache.get(nv.value)
    if (!p) {
      p = withCode(predictArtifact(nv.recipe, opts), code, limit)
      cache.set(nv.value, p)
      tried.push({value: nv.value, total_bytes: p.total_bytes, fits: p.fits})
    }
    return {value: nv.value, p}
  }
  const top = evaluate(original)
  if (top && top.p.fits) return {key, original, value: top.value, prediction: top.p, tried}
  let lo = 0 // fits(lo) assumed (0 = nothing)
  let hi = original // does not fit
  let best: {value: number; p: BudgetPrediction} | null = null
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2)
    const e = evaluate(mid)
    if (e === null) {
      lo = mid // nothing valid at or below mid: look higher
      continue
    }
    if (e.p.fits) {
      if (!best || e.value > best.value) best = e
      lo = mid
    } else hi = mid
  }
  return {key, original, value: best?.value ?? null, prediction: best?.p ?? null, tried}
}
