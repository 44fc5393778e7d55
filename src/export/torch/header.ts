/**
 * The generated part of the PyTorch export: the recipe, every value resolved, and the constants
 * the fixed code needs, each taken from the golf module that defines it (never retyped), so the
 * Python cannot drift from the TypeScript by an edit to one side only.
 *
 * The recipe is golf's resolved recipe with `model.vocab_size` counting the model's ids (a
 * diffusion objective adds one [MASK] id after the data's), as a run's config.json records it.
 */
import {BYTE_SIDECAR_PREFIX, HEADER_INTS, SHARD_MAGIC, SHARD_VERSION} from '../../data/shard.js'
import {RMS_EPS} from '../../model/gpt.js'
import {NORMUON_EPS} from '../../optim/composite.js'
import {NS5_COEFFS, NS5_EPS} from '../../optim/muon.js'
import {modelVocabFor} from '../../objective/types.js'
import {CHECKPOINT_FORMAT, CHECKPOINT_VERSION} from '../../run/checkpoint.js'
import {ARTIFACT_MAGIC, ARTIFACT_VERSION, COMPRESS_IDS} from '../../pack/artifact/format.js'
import {bf16BitsToF32, E4M3_MIN_SUBNORMAL, f16BitsToF32, FP8_INFO} from '../../quant/float-formats.js'
import {TERNARY_EPS} from '../../quant/ternary.js'
import {BYTE260_OFFSET, BYTE260_VOCAB} from '../../tokenizer/byte260.js'
import {SPACE_SYMBOL} from '../../tokenizer/sentencepiece.js'
import type {ResolvedRecipe} from '../../recipe/recipe.js'
import {VERSION} from '../../version.js'
import {pythonLiteral, pythonString} from '../python-literal.js'

/** The recipe as the export holds it: resolved, with the model's id count. */
export function exportedRecipe(recipe: ResolvedRecipe): ResolvedRecipe {
  return {...recipe, model: {...recipe.model, vocab_size: modelVocabFor(recipe.objective.kind, recipe.model.vocab_size)}}
}

interface FormatConstants {
  bits: number
  min_normal: number
  min_subnormal: number
  max_finite: number
}

/**
 * A 16-bit float format read off golf's own decoder: its smallest normal, smallest subnormal and
 * largest finite values are the decoded bit patterns, and its significant bits follow from the
 * spacing just above 1.
 */
function sixteenBitFormat(decode: (bits: number) => number, codes: {one: number; minNormal: number; maxFinite: number}): FormatConstants {
  return {
    bits: 1 - Math.log2(decode(codes.one + 1) - decode(codes.one)),
    min_normal: decode(codes.minNormal),
    min_subnormal: decode(1),
    max_finite: decode(codes.maxFinite),
  }
}

/** The constants the fixed code reads, by Python name, with the golf module each comes from. */
export function torchConstants(): Array<{name: string; value: unknown; from: string}> {
  const fp8 = Object.fromEntries(
    Object.entries(FP8_INFO).map(([fmt, f]) => [fmt, {bits: f.bits, min_normal: f.minNormal, min_subnormal: f.minSubnormal, max_finite: f.maxFinite}]),
  )
  return [
    {name: 'RMS_EPS', value: RMS_EPS, from: 'src/model/gpt.ts RMS_EPS: float32 eps, as F.rms_norm with eps=None'},
    {name: 'TERNARY_EPS', value: TERNARY_EPS, from: "src/quant/ternary.ts TERNARY_EPS: the smallest scale, fp16's smallest normal"},
    {name: 'E4M3_MIN_SUBNORMAL', value: E4M3_MIN_SUBNORMAL, from: 'src/quant/float-formats.ts: the smallest e4m3 scale code, so no scale is 0'},
    {
      name: 'FLOAT_FORMATS',
      value: {
        fp16: sixteenBitFormat(f16BitsToF32, {one: 0x3c00, minNormal: 0x0400, maxFinite: 0x7bff}),
        bf16: sixteenBitFormat(bf16BitsToF32, {one: 0x3f80, minNormal: 0x0080, maxFinite: 0x7f7f}),
      },
      from: "src/quant/float-formats.ts: read off golf's fp16 and bf16 decoders",
    },
    {name: 'FP8', value: fp8, from: 'src/quant/float-formats.ts FP8_INFO'},
    {name: 'NS5_COEFFS', value: [...NS5_COEFFS], from: "src/optim/muon.ts NS5_COEFFS: Muon's quintic Newton–Schulz coefficients (a, b, c)"},
    {name: 'NS5_EPS', value: NS5_EPS, from: 'src/optim/muon.ts NS5_EPS: added to the Frobenius norm before Newton–Schulz'},
    {name: 'NORMUON_EPS', value: NORMUON_EPS, from: "src/optim/composite.ts NORMUON_EPS: NorMuon's row-division and rescale guard"},
    {name: 'ARTIFACT_MAGIC', value: ARTIFACT_MAGIC, from: 'src/pack/artifact/format.ts: the first bytes of a .golf file'},
    {name: 'ARTIFACT_VERSION', value: ARTIFACT_VERSION, from: 'src/pack/artifact/format.ts'},
    {name: 'ARTIFACT_COMPRESSIONS', value: COMPRESS_IDS, from: 'src/pack/artifact/format.ts COMPRESS_IDS: header byte 6 of each outer compression'},
    {name: 'CHECKPOINT_FORMAT', value: CHECKPOINT_FORMAT, from: "src/run/checkpoint.ts: the format field of a run's checkpoint.json and checkpoint.safetensors metadata"},
    {name: 'CHECKPOINT_VERSION', value: CHECKPOINT_VERSION, from: 'src/run/checkpoint.ts: the checkpoint.json version golf reads'},
    {name: 'SHARD_MAGIC', value: SHARD_MAGIC, from: 'src/data/shard.ts: header word 0 of an official shard'},
    {name: 'SHARD_VERSION', value: SHARD_VERSION, from: 'src/data/shard.ts: header word 1'},
    {name: 'SHARD_HEADER_INTS', value: HEADER_INTS, from: 'src/data/shard.ts: int32 words before the uint16 token ids'},
    {name: 'BYTE_SIDECAR_PREFIX', value: BYTE_SIDECAR_PREFIX, from: "src/data/shard.ts: a CaseOps dataset's per-token byte counts, not validation tokens"},
    {name: 'BYTE260_OFFSET', value: BYTE260_OFFSET, from: 'src/tokenizer/byte260.ts: byte b is id b + BYTE260_OFFSET, the ids below are specials'},
    {name: 'BYTE260_VOCAB', value: BYTE260_VOCAB, from: 'src/tokenizer/byte260.ts'},
    {name: 'SP_SPACE_SYMBOL', value: SPACE_SYMBOL, from: "src/tokenizer/sentencepiece.ts: SentencePiece's space (U+2581)"},
  ]
}

/** The header block: recipe, then constants. */
export function renderHeader(recipe: ResolvedRecipe): string {
  const lines = [
    '# -----------------------------',
    '# RECIPE (written by `golf export torch`; everything below the constants is fixed code)',
    '# -----------------------------',
    "# model.vocab_size counts the model's ids: the data's, + 1 [MASK] under a diffusion objective.",
    '',
    `GOLF_VERSION = ${pythonString(VERSION)}`,
    '',
    `RECIPE = ${pythonLiteral(exportedRecipe(recipe))}`,
    '',
    '# -----------------------------',
    "# GOLF CONSTANTS (from golf's TypeScript, never retyped)",
    '# -----------------------------',
    '',
  ]
  for (const c of torchConstants()) lines.push(`# ${c.from}`, `${c.name} = ${pythonLiteral(c.value)}`, '')
  return lines.join('\n')
}
