/**
 * Packing a model: a golf run (folder or its `checkpoint.safetensors`) or any safetensors file
 * → the tensors an artifact stores (trits + scales, floats at their storage precision) → the
 * artifact bytes. `prepareSource` does the quantizing once; `packPrepared` encodes it with a
 * given codec and outer compression (so `golf pack --compare`, src/pack/compare.ts, can try
 * every way on the same weights); `packSource` is both in one call.
 *
 * The two kinds of source are prepared in their own modules:
 *   prepare-run.ts           golf runs: the checkpoint's quantizer settings, on the backend the
 *                            run trained on, with a bit-for-bit safety check against the
 *                            training forward pass (and an honest note when it crosses backends)
 *   prepare-safetensors.ts   other files: --ternary globs, group size, scale and float formats
 *
 * The same input and options always give the same bytes (tensor order: the model's parameter
 * order for runs, the file's for safetensors; manifest keys sorted).
 */
import {existsSync, statSync} from 'node:fs'
import {basename, dirname, join} from 'node:path'

import type {BackendName} from '../backend/index.js'
import {InputError} from '../errors.js'
import {fileHead, type OutputInput} from '../io/output.js'
import {RUN_FILES} from '../run/folder.js'
import {type GroupSize, type ScaleFormat, scaleBytesOf} from '../quant/ternary-host.js'
import {ARTIFACT_MAGIC, type ArtifactManifest, type ArtifactTensorInput, type FloatDtype, FLOAT_DTYPES, type PackReport, type PackReportTensor, readArtifactManifest, writeArtifact} from './artifact.js'
import {type TritCodecName, countTrits, tritEntropyBits} from './codecs/index.js'
import type {CompressName} from './compress.js'
import {prepareRun} from './prepare-run.js'
import {prepareSafetensors} from './prepare-safetensors.js'

export interface PackOptions {
  /** Trit codec for every ternary tensor (default 'auto': the smallest per tensor). */
  codec?: TritCodecName | 'auto'
  /** Outer compression (default 'auto'). */
  compress?: CompressName | 'auto'
  /** What 'auto' may choose among (default: all it tries), e.g. what a Python reader decodes with its standard library. */
  autoAmong?: readonly CompressName[]
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
  /**
   * Backend for the quantizer. Runs: default the one the run trained on (when it loads here),
   * another one makes the artifact cross backends (said in `notes`). Foreign files: default wasm.
   */
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
  /** Things the user should know (crossing backends, inexact roundtrip, …). */
  notes: string[]
  /** Backend the quantizer ran on. */
  backend: string
  /** Runs: set when the quantizer ran on another backend than the run trained on. */
  crossBackend: {trained: string; quantized: string; why: string} | null
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

/** The files packing `source` reads, which --out may not be: a run's files, or the safetensors file ([] for a source prepareSource refuses). */
export function packInputs(source: string): OutputInput[] {
  let run: string | null
  try {
    run = runFolderOf(source)
  } catch {
    return []
  }
  if (run === null) return [{path: source, what: 'the source'}]
  return Object.values(RUN_FILES).map((f) => ({path: join(run, f), what: 'the run file'}))
}

/** What `golf pack --force` may replace (src/io/output.ts): a golf artifact, by its magic. */
export const PACK_OUTPUT = {what: 'a golf artifact', writer: 'golf pack', recognise: (path: string) => fileHead(path, ARTIFACT_MAGIC.length).toString('latin1') === ARTIFACT_MAGIC}

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
    return prepareRun(source, runDir, {backend: opts.backend})
  }
  if (!/\.safetensors$/i.test(source)) throw new InputError(`${source}: expected a golf run folder, its checkpoint.safetensors or a .safetensors file`)
  return prepareSafetensors(source, opts)
}

/** Encode prepared tensors with one codec and outer compression. */
export function packPrepared(prepared: PreparedModel, opts: Pick<PackOptions, 'codec' | 'compress' | 'autoAmong'> = {}): PackResult {
  const codec = opts.codec ?? 'auto'
  const tensors = prepared.tensors.map((t) => (t.kind === 'ternary' ? {...t, codec} : t))
  const {bytes, report} = writeArtifact({model: prepared.model, quant: prepared.quant, tensors, compress: opts.compress ?? 'auto', autoAmong: opts.autoAmong})
  const rows: PackedTensorRow[] = report.tensors.map((row, i) => {
    const t = tensors[i]
    let entropy: number | null = null
    if (t.kind === 'ternary' && row.params > 0) {
      const scaleBits = 8 * scaleBytesOf(t.scaleFormat, t.scales.length)
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
