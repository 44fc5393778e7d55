/**
 * Packing a model: a golf run (folder or its `checkpoint.safetensors`) or any safetensors file
 * → the tensors an artifact stores (trits + scales, floats at their storage precision) → the
 * artifact bytes. `prepareSource` does the quantizing once; `packPrepared` encodes it with a
 * given codec and outer compression (so `golf pack --compare` can try every way on the same
 * weights); `packSource` is both in one call.
 *
 * Golf runs. The quantizer settings, ternary tensor list and model config come from the
 * checkpoint sidecar; ternary tensors are quantized by THE quantizer (`ternarize`) on the kind
 * of backend the run trained on (wasm or cpu; other backends fall back to wasm, said in
 * `notes`); float tensors are stored in the recipe's `quant.float_format`, taking the values the
 * forward pass used (already rounded to that format), so they encode exactly. Safety check,
 * always: every tensor rebuilt on the host from what is stored (q·d, decoded floats) must equal
 * `model.dequantizedWeights()` bit for bit, else an Error names the tensor. When the checkpoint's
 * quantizer was not yet active (a staged run stopped early), the ternary tensors are still
 * quantized, `exact` is false and a note says the roundtrip will not be exact.
 *
 * Other safetensors files (e.g. from PyTorch): 2-D tensors whose names match a `ternary` glob
 * (`*` = one dotted segment, `**` = anything) are ternarized with the given group size, scale
 * format and zero correction (weights `[out, in]`, groups along the last dim); every other
 * tensor is stored as `floatDtype` (default f16) unless a `floatOverrides` glob says otherwise.
 * F16/BF16/F8 inputs are widened with `toFloat32` first.
 *
 * The same input and options always give the same bytes (tensor order: the model's parameter
 * order for runs, the file's for safetensors; manifest keys sorted).
 */
import {existsSync, statSync} from 'node:fs'
import {basename, dirname, join} from 'node:path'
import * as tf from '@tensorflow/tfjs-core'

import {currentBackend, initBackend, type BackendName} from '../backend/index.js'
import {InputError} from '../errors.js'
import {readSafetensors, toFloat32} from '../io/safetensors.js'
import {globToRegExp} from '../model/config.js'
import {decodeBf16, decodeF16, encodeBf16, encodeF16, quantizeInt8PerRow} from '../quant/float-formats.js'
import {dequantizeTernary, ternaryQToInt8, type GroupSize, type ScaleFormat} from '../quant/ternary-host.js'
import {ternarize, type TernaryConfig} from '../quant/ternary.js'
import {loadRunModel, readRunConfig} from '../run/load.js'
import {objectiveConfigOf, ternaryConfigOf} from '../recipe/recipe.js'
import {modelInfoOf} from './model-info.js'
import {type ArtifactManifest, type ArtifactTensorInput, type FloatDtype, FLOAT_DTYPES, type PackReport, type PackReportTensor, readArtifactManifest, writeArtifact, u16le} from './artifact.js'
import {type TritCodecName, bestTritCodec, countTrits, encodeTrits, tritEntropyBits} from './codecs/index.js'
import {type CompressName, compress, hasXzBinary} from './compress.js'

export interface PackOptions {
  /** Trit codec for every ternary tensor (default 'auto': the smallest per tensor). */
  codec?: TritCodecName | 'auto'
  /** Outer compression (default 'auto'). */
  compress?: CompressName | 'auto'
  /** Foreign safetensors only: globs of the tensors to ternarize. */
  ternary?: readonly string[]
  /** Foreign only; default 128. */
  groupSize?: GroupSize
  /** Foreign only; default fp16. */
  scaleFormat?: ScaleFormat
  /** Foreign only; default true. */
  zeroCorrection?: boolean
  /** Foreign only: dtype of non-ternary tensors; default f16. */
  floatDtype?: FloatDtype
  /** Foreign only: per-tensor dtype, first matching glob wins (`--float <glob>=<dtype>`). */
  floatOverrides?: ReadonlyArray<{pattern: string; dtype: FloatDtype}>
  /** Foreign only: backend for the quantizer (default wasm). */
  backend?: BackendName
}

/** Weights quantized and ready to encode. */
export interface PreparedModel {
  kind: 'run' | 'safetensors'
  /** The path given (run folder or file). */
  source: string
  model: Record<string, unknown>
  quant: Record<string, unknown>
  /** In storage order; ternary entries carry codec 'auto' (packPrepared sets the codec). */
  tensors: ArtifactTensorInput[]
  /** Will unpack(pack(x)) give exactly the weights the forward pass used? */
  exact: boolean
  /** Things the user should know (backend fallback, inexact roundtrip, …). */
  notes: string[]
  /** Backend the quantizer ran on. */
  backend: string
}

export interface PackedTensorRow extends PackReportTensor {
  /** Ternary: order-0 entropy of the trits plus the scales, in bits per param (the bound). */
  entropy_bits_per_param: number | null
}

export interface PackResult {
  bytes: Uint8Array
  report: Omit<PackReport, 'tensors'> & {tensors: PackedTensorRow[]}
  manifest: ArtifactManifest
  prepared: PreparedModel
}

const FLOAT_OF_FORMAT: Record<'fp32' | 'fp16' | 'bf16', FloatDtype> = {fp32: 'f32', fp16: 'f16', bf16: 'bf16'}

function isFloatDtype(s: string): s is FloatDtype {
  return (FLOAT_DTYPES as readonly string[]).includes(s)
}

/** `--float <glob>=<dtype>` → {pattern, dtype}; InputError on a bad form or dtype. */
export function parseFloatOverride(s: string): {pattern: string; dtype: FloatDtype} {
  const eq = s.lastIndexOf('=')
  const pattern = s.slice(0, eq).trim()
  const dtype = s.slice(eq + 1).trim()
  if (eq <= 0 || pattern === '') throw new InputError(`--float ${s}: expected <glob>=<dtype>, e.g. --float 'tok_emb.*=int8_row'`)
  if (!isFloatDtype(dtype)) throw new InputError(`--float ${s}: unknown dtype "${dtype}" (expected one of ${FLOAT_DTYPES.join(', ')})`)
  return {pattern, dtype}
}

/** Is `source` a golf run (folder with config.json, or its checkpoint.safetensors)? Returns the run folder. */
export function runFolderOf(source: string): string | null {
  let st
  try {
    st = statSync(source)
  } catch {
    throw new InputError(`pack source not found: ${source}`)
  }
  if (st.isDirectory()) {
    if (!existsSync(join(source, 'config.json'))) throw new InputError(`${source} is not a golf run folder (no config.json); give a run folder, its checkpoint.safetensors or a .safetensors file`)
    return source
  }
  const dir = dirname(source)
  if (basename(source) === 'checkpoint.safetensors' && existsSync(join(dir, 'checkpoint.json')) && existsSync(join(dir, 'config.json'))) return dir
  return null
}

const FOREIGN_ONLY: Array<[keyof PackOptions, string]> = [
  ['ternary', '--ternary'],
  ['groupSize', '--group-size'],
  ['scaleFormat', '--scale-format'],
  ['zeroCorrection', '--zero-correction'],
  ['floatDtype', '--float-dtype'],
  ['floatOverrides', '--float'],
]

/** Quantize a source once (see the module doc). Initialises a tfjs backend. */
export async function prepareSource(source: string, opts: PackOptions = {}): Promise<PreparedModel> {
  const runDir = runFolderOf(source)
  if (runDir !== null) {
    for (const [key, flag] of FOREIGN_ONLY) {
      const v = opts[key]
      if (v !== undefined && !(Array.isArray(v) && v.length === 0)) {
        throw new InputError(`${flag} applies to plain safetensors files; ${source} is a golf run, whose checkpoint carries its quantizer settings`)
      }
    }
    return prepareRun(source, runDir)
  }
  if (!/\.safetensors$/i.test(source)) throw new InputError(`${source}: expected a golf run folder, its checkpoint.safetensors or a .safetensors file`)
  return prepareSafetensors(source, opts)
}

/** Ternarize one weight with THE quantizer; host copies of trits and stored scales. */
function quantizeOnDevice(data: Float32Array, shape: [number, number], cfg: TernaryConfig): {trits: Int8Array; scales: Float32Array} {
  const w = tf.tensor2d(data, shape, 'float32')
  const {q, scales, deq} = ternarize(w, cfg)
  try {
    return {trits: ternaryQToInt8(q.dataSync() as Float32Array), scales: Float32Array.from(scales.dataSync() as Float32Array)}
  } finally {
    for (const t of [w, q, scales, deq]) t.dispose()
  }
}

function sameBits(a: Float32Array, b: Float32Array): boolean {
  return a.length === b.length && Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength))
}

/** The values a float tensor reads back as from an artifact (f32/f16/bf16 only). */
function storedFloat(data: Float32Array, dtype: FloatDtype): Float32Array {
  if (dtype === 'f16') return decodeF16(encodeF16(data))
  if (dtype === 'bf16') return decodeBf16(encodeBf16(data))
  if (dtype === 'f32') return data
  throw new Error(`storedFloat: ${dtype} is not a run storage format`)
}

async function prepareRun(source: string, runDir: string): Promise<PreparedModel> {
  const notes: string[] = []
  const {config: runConfig} = readRunConfig(runDir)
  // The quantizer's float arithmetic is IEEE on wasm and cpu; reproduce it on the same kind.
  const trained = runConfig.backend
  const want: BackendName = trained === 'cpu' ? 'cpu' : 'wasm'
  if (trained !== 'cpu' && trained !== 'wasm') notes.push(`the run trained on backend ${trained}; quantizing on wasm instead (the safety check below confirms the result)`)
  const backend = await initBackend(want, {quiet: true})
  const {config, meta, model} = loadRunModel(runDir)
  try {
    const q = meta.quant
    const ternaryCfg = ternaryConfigOf(q)
    const floatDtype = q.mode === 'ternary' ? FLOAT_OF_FORMAT[q.float_format] : 'f32'
    const active = meta.quant.active
    const used = model.dequantizedWeights() // exactly what the forward pass multiplies by
    const latents = model.weights() // float shadow weights: what the quantizer takes
    const tensors: ArtifactTensorInput[] = []
    for (const spec of model.specs) {
      const forward = used.get(spec.name)!
      if (spec.ternary) {
        const latent = latents.get(spec.name)!
        const shape = spec.shape as [number, number]
        const {trits, scales} = quantizeOnDevice(latent, shape, ternaryCfg)
        if (active && !sameBits(dequantizeTernary(trits, scales, shape, ternaryCfg.groupSize), forward)) {
          throw new Error(`pack safety check: tensor "${spec.name}": q·d rebuilt from the stored trits and scales differs from what the training forward pass used (training and pack disagree)`)
        }
        tensors.push({name: spec.name, shape: [...spec.shape], kind: 'ternary', trits, scales, scaleFormat: ternaryCfg.scaleFormat, groupSize: ternaryCfg.groupSize, codec: 'auto'})
      } else {
        if (active && !sameBits(storedFloat(forward, floatDtype), forward)) {
          throw new Error(`pack safety check: tensor "${spec.name}": the forward pass used values that ${floatDtype} cannot hold exactly (training and pack disagree)`)
        }
        tensors.push({name: spec.name, shape: [...spec.shape], kind: 'float', data: forward, dtype: floatDtype})
      }
    }
    const hasTernary = tensors.some((t) => t.kind === 'ternary')
    const exact = active || (!hasTernary && floatDtype === 'f32')
    if (!exact) notes.push(`the checkpoint's quantizer was not active yet (step ${meta.step}, quant.start_frac ${q.start_frac}): its tensors are quantized now, so the roundtrip will not be exact`)
    const {active: _active, ...quantSettings} = meta.quant
    return {
      kind: 'run',
      source,
      model: {...modelInfoOf({...config.recipe, objective: objectiveConfigOf(config.recipe)}, meta.model, config.vocab_size, config.tokenizer)},
      quant: {...quantSettings, float_dtype: floatDtype, ternary_tensors: tensors.filter((t) => t.kind === 'ternary').map((t) => t.name)},
      tensors,
      exact,
      notes,
      backend: backend.name,
    }
  } finally {
    model.dispose()
  }
}

async function prepareSafetensors(path: string, opts: PackOptions): Promise<PreparedModel> {
  const notes: string[] = []
  const patterns = opts.ternary ?? []
  const groupSize = opts.groupSize ?? 128
  const scaleFormat = opts.scaleFormat ?? 'fp16'
  const zeroCorrection = opts.zeroCorrection ?? true
  const floatDtype = opts.floatDtype ?? 'f16'
  const overrides = (opts.floatOverrides ?? []).map((o) => ({...o, re: globToRegExp(o.pattern)}))
  const res = patterns.map((p) => ({p, re: globToRegExp(p), hits: 0}))
  const file = readSafetensors(path)
  let backend = currentBackend()?.name ?? 'none'
  const cfg: TernaryConfig = {groupSize, scaleFormat, zeroCorrection}
  const tensors: ArtifactTensorInput[] = []
  for (const [name, t] of file.tensors) {
    const data = toFloat32(t)
    const match = res.filter((r) => r.re.test(name))
    for (const r of match) r.hits++
    if (match.length > 0 && t.shape.length === 2 && data.length > 0) {
      if (backend === 'none') backend = (await initBackend(opts.backend ?? 'wasm', {quiet: true})).name
      const shape = t.shape as [number, number]
      let q: {trits: Int8Array; scales: Float32Array}
      try {
        q = quantizeOnDevice(data, shape, cfg)
      } catch (err) {
        if (err instanceof InputError) throw new InputError(`${path}: tensor "${name}": ${err.message}`)
        throw err
      }
      tensors.push({name, shape: [...t.shape], kind: 'ternary', ...q, scaleFormat, groupSize, codec: 'auto'})
    } else {
      if (match.length > 0) notes.push(`tensor "${name}" matches --ternary but is not a non-empty 2-D matrix (shape [${t.shape.join(', ')}]): stored as a float`)
      const dtype = overrides.find((o) => o.re.test(name))?.dtype ?? floatDtype
      tensors.push({name, shape: [...t.shape], kind: 'float', data, dtype})
    }
  }
  for (const r of res) if (r.hits === 0) throw new InputError(`--ternary ${r.p}: matches no tensor in ${path}`)
  for (const o of overrides) if (![...file.tensors.keys()].some((n) => o.re.test(n))) throw new InputError(`--float ${o.pattern}=${o.dtype}: matches no tensor in ${path}`)
  return {
    kind: 'safetensors',
    source: path,
    model: {source: 'safetensors', file: basename(path)},
    quant: {
      ternary: [...patterns],
      group_size: groupSize,
      scale_format: scaleFormat,
      zero_correction: zeroCorrection,
      float_dtype: floatDtype,
      float_overrides: (opts.floatOverrides ?? []).map((o) => `${o.pattern}=${o.dtype}`),
    },
    tensors,
    exact: false,
    notes,
    backend,
  }
}

/** Encode prepared tensors with one codec and outer compression. */
export function packPrepared(prepared: PreparedModel, opts: {codec?: TritCodecName | 'auto'; compress?: CompressName | 'auto'} = {}): PackResult {
  const codec = opts.codec ?? 'auto'
  const tensors = prepared.tensors.map((t) => (t.kind === 'ternary' ? {...t, codec} : t))
  const {bytes, report} = writeArtifact({model: prepared.model, quant: prepared.quant, tensors, compress: opts.compress ?? 'auto'})
  const rows: PackedTensorRow[] = report.tensors.map((row, i) => {
    const t = tensors[i]
    let entropy: number | null = null
    if (t.kind === 'ternary' && row.params > 0) {
      const scaleBits = 8 * t.scales.length * (t.scaleFormat === 'fp32' ? 4 : 2)
      entropy = (row.params * tritEntropyBits(countTrits(t.trits)) + scaleBits) / row.params
    }
    return {...row, entropy_bits_per_param: entropy}
  })
  const {manifest} = readArtifactManifest(bytes)
  return {bytes, report: {...report, tensors: rows}, manifest, prepared}
}

/** Quantize and encode in one call (see the module doc). */
export async function packSource(source: string, opts: PackOptions = {}): Promise<PackResult> {
  const prepared = await prepareSource(source, opts)
  return packPrepared(prepared, opts)
}

// --- Comparison: the same weights packed every way -----------------------------------------------

export interface CompareRow {
  method: string
  codec: TritCodecName | 'auto' | 'int8_row'
  compress: CompressName | 'auto'
  /** The ternary tensors' payload (trits + scales) compressed alone with this method's compressor. */
  ternary_bytes: number | null
  /** The whole artifact packed this way. */
  artifact_bytes: number | null
  /** 8 × ternary_bytes / ternary params. */
  bits_per_param: number | null
  /** artifact_bytes − the smallest artifact_bytes of the table. */
  delta_vs_best: number | null
  /** Why a row has no figures (e.g. the xz program is missing). */
  note?: string
}

interface Method {
  method: string
  codec: TritCodecName | 'auto' | 'int8_row'
  compress: CompressName | 'auto'
}

/**
 * The published packings and ours. "xz" is the xz container at preset 9e (what Python's
 * `lzma.compress` writes); "zlib-9" is DEFLATE level 9 (golf stores it raw: the 6 bytes of zlib
 * header and Adler-32 that `zlib.compress` adds are not counted); int8 per row stores each
 * ternary tensor's q·d as int8 with one fp16 scale per row, as the official baseline does.
 */
export const COMPARE_METHODS: readonly Method[] = [
  {method: 'base-3 + LZMA (xz -9e)', codec: 'base3', compress: 'xz'},
  {method: 'bitmask + LZMA (xz -9e)', codec: 'bitmask', compress: 'xz'},
  {method: '2-bit + zlib-9', codec: '2bit', compress: 'deflate'},
  {method: 'int8 per row + zlib-9', codec: 'int8_row', compress: 'deflate'},
  {method: 'entropy, no outer compression', codec: 'entropy', compress: 'none'},
  {method: 'golf: auto codec + auto compress', codec: 'auto', compress: 'auto'},
]


/** The ternary tensors as `int8_row` float tensors (their q·d). */
function asInt8Rows(tensors: ArtifactTensorInput[]): ArtifactTensorInput[] {
  return tensors.map((t) => {
    if (t.kind !== 'ternary') return t
    const shape = t.shape as [number, number]
    return {name: t.name, shape: t.shape, kind: 'float', dtype: 'int8_row', data: dequantizeTernary(t.trits, t.scales, shape, t.groupSize)}
  })
}

/** Pack `prepared` with every method of COMPARE_METHODS (see there). */
export function comparePacking(prepared: PreparedModel, opts: {methods?: readonly Method[]} = {}): CompareRow[] {
  const ternaryParams = prepared.tensors.reduce((a, t) => a + (t.kind === 'ternary' ? t.trits.length : 0), 0)
  const rows: CompareRow[] = []
  for (const m of opts.methods ?? COMPARE_METHODS) {
    const row: CompareRow = {...m, ternary_bytes: null, artifact_bytes: null, bits_per_param: null, delta_vs_best: null}
    if (m.compress === 'xz' && !hasXzBinary()) {
      row.note = 'the xz program is not installed'
      rows.push(row)
      continue
    }
    let packed: PackResult
    let payload: Uint8Array[]
    if (m.codec === 'int8_row') {
      const tensors = asInt8Rows(prepared.tensors)
      const {bytes} = writeArtifact({model: prepared.model, quant: {...prepared.quant, compare: 'int8_row'}, tensors, compress: m.compress})
      packed = {bytes} as PackResult
      payload = []
      for (const t of tensors) {
        if (t.kind !== 'float' || t.dtype !== 'int8_row' || !prepared.tensors.some((p) => p.name === t.name && p.kind === 'ternary')) continue
        const [rows_, cols] = [t.shape[0], t.shape[1]]
        const {q, scales} = quantizeInt8PerRow(t.data, rows_, cols, 'fp16')
        payload.push(new Uint8Array(q.buffer, q.byteOffset, q.length), u16le(encodeF16(scales)))
      }
    } else {
      packed = packPrepared(prepared, {codec: m.codec, compress: m.compress})
      payload = []
      for (const t of prepared.tensors) {
        if (t.kind !== 'ternary') continue
        const codec = m.codec === 'auto' ? bestTritCodec(t.trits).codec : m.codec
        payload.push(encodeTrits(codec, t.trits), t.scaleFormat === 'fp32' ? new Uint8Array(Float32Array.from(t.scales).buffer) : u16le(t.scaleFormat === 'fp16' ? encodeF16(t.scales) : encodeBf16(t.scales)))
      }
      if (m.compress === 'auto') row.compress = packed.report.compress
    }
    const joined = Buffer.concat(payload)
    const name: CompressName = row.compress === 'auto' ? 'none' : row.compress
    row.ternary_bytes = ternaryParams === 0 ? 0 : compress(name, joined).length
    row.artifact_bytes = packed.bytes.length
    row.bits_per_param = ternaryParams === 0 ? 0 : (8 * row.ternary_bytes) / ternaryParams
    rows.push(row)
  }
  const best = Math.min(...rows.map((r) => r.artifact_bytes ?? Infinity))
  for (const r of rows) if (r.artifact_bytes !== null) r.delta_vs_best = r.artifact_bytes - best
  return rows
}
