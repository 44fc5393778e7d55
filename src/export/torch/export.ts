/**
 * `golf export torch`: one self-contained `train_gpt.py` (PyTorch >= 1.13 and numpy) holding
 * golf's model, quantizer, optimizers and training loop for a recipe. The file is the fixed code
 * (train-gpt-body.ts) with the generated header (header.ts) in place of its mark: two exports
 * differ exactly where their recipes do. What the file does: forward passes and the quantizer on
 * golf weights, the same as golf's to float32 rounding (logits) and bit for bit (trits, scales,
 * stored floats); golf's optimizer step (within 1e-4); training of autoregressive and diffusion
 * recipes (mdlm, bd3lm: golf's batches with golf's seeded noise, bit for bit), alone or under
 * torchrun, into a golf run folder that golf pack, verify and report read; evaluation of AR
 * models by the official chunked evaluation and of diffusion models by golf's seeded Monte-Carlo
 * ELBO (an upper bound, the same number as golf's to float32 summation). Not yet: the chain-rule
 * score, the exact ELBO, the quantized KV cache.
 */
import {createHash} from 'node:crypto'
import {resolve} from 'node:path'

import {InputError} from '../../errors.js'
import {writeFileAtomicSync} from '../../io/atomic.js'
import {checkOutputFile, fileHead, type OutputInput} from '../../io/output.js'
import {oneLine} from '../../io/read.js'
import type {ResolvedRecipe} from '../../recipe/recipe.js'
import {renderHeader} from './header.js'
import {SELF_EXTRACT_FORMAT, selfExtractingPython} from './self-extract.js'
import {HEADER_MARK, TRAIN_GPT_BODY} from './train-gpt-body.js'

/** What the file can do, in one line (the command's summary and result say the same). */
export const TORCH_EXPORT_SCOPE = "trains autoregressive and diffusion recipes (ar, mdlm, bd3lm: golf's init, noise, optimizers, schedule, staged ternary switch; torchrun data parallel) into a golf run folder, and evaluates golf weights and .golf artifacts through golf's model and quantizer (diffusion: golf's Monte-Carlo ELBO, an upper bound, or its left-to-right chain rule, a likelihood); it has no random-order chain and no exact ELBO yet"

/**
 * Refuse (InputError) a recipe the export cannot reproduce yet: activation quantization
 * (`activations:` stages) changes golf's forward pass; the exported run would silently differ.
 */
export function checkExportable(recipe: ResolvedRecipe): void {
  // read defensively: recipes resolved before activation stages existed have no such key
  const stages = (recipe as {activations?: unknown[]}).activations ?? []
  if (stages.length > 0) throw new InputError(`recipe ${oneLine(recipe.name)}: activations (activation quantization, ${stages.length} stage${stages.length === 1 ? '' : 's'}) is not in the PyTorch export yet; export a recipe with float activations`)
}

/** The export's Python source for a resolved recipe. */
export function renderTorchExport(recipe: ResolvedRecipe): string {
  checkExportable(recipe)
  const at = TRAIN_GPT_BODY.indexOf(HEADER_MARK)
  if (at < 0 || TRAIN_GPT_BODY.indexOf(HEADER_MARK, at + 1) >= 0) throw new Error('train-gpt-body: the header mark must appear exactly once')
  return TRAIN_GPT_BODY.slice(0, at) + renderHeader(recipe).trimEnd() + TRAIN_GPT_BODY.slice(at + HEADER_MARK.length)
}

export interface TorchExportResult {
  /** Where the file was written. */
  out: string
  recipe: string
  /** The written file's size, lines and digest (with --compressed: the wrapper's). */
  bytes: number
  lines: number
  sha256: string
  /** What the generated file can do. */
  scope: string
  /** --compressed: the source the wrapper runs (what the raw export is), and how it is packed. */
  raw?: {bytes: number; lines: number; sha256: string}
  compressed?: {format: typeof SELF_EXTRACT_FORMAT; lzma_bytes: number}
}

/** What --force may replace (src/io/output.ts): a file golf export torch wrote, raw or self-extracting (both name it in their first lines). */
export const TORCH_OUTPUT = {what: 'a golf export torch file', writer: 'golf export torch', recognise: (path: string) => fileHead(path, 256).toString('utf8').includes('golf export torch')}

function sha256(b: Uint8Array): string {
  return createHash('sha256').update(b).digest('hex')
}

function lineCount(text: string): number {
  return text.split('\n').length - (text.endsWith('\n') ? 1 : 0)
}

/**
 * Write the export of `recipe` to `out` (checked first by src/io/output.ts: never one of `inputs`, an
 * existing file only with `force` and only one golf export torch wrote): the Python
 * source, or with `compressed` its self-extracting wrapper (src/export/torch/self-extract.ts),
 * the form the records count.
 */
export function writeTorchExport(recipe: ResolvedRecipe, out: string, opts: {force?: boolean; compressed?: boolean; inputs?: readonly OutputInput[]} = {}): TorchExportResult {
  const path = resolve(out)
  checkOutputFile(out, {inputs: opts.inputs, force: opts.force, fileName: 'train_gpt.py', own: TORCH_OUTPUT})
  const text = renderTorchExport(recipe)
  const raw = Buffer.from(text, 'utf8')
  const packed = opts.compressed ? selfExtractingPython(raw) : null
  const bytes = packed ? packed.bytes : raw
  writeFileAtomicSync(path, bytes)
  return {
    out,
    recipe: recipe.name,
    bytes: bytes.length,
    lines: packed ? lineCount(Buffer.from(packed.bytes).toString('ascii')) : lineCount(text),
    sha256: sha256(bytes),
    scope: TORCH_EXPORT_SCOPE,
    ...(packed ? {raw: {bytes: raw.length, lines: lineCount(text), sha256: sha256(raw)}, compressed: {format: SELF_EXTRACT_FORMAT, lzma_bytes: packed.lzma_bytes}} : {}),
  }
}
