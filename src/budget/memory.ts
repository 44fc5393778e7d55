/**
 * Memory before running: the peak memory a recipe's training step takes per thread, and what an
 * evaluation pass (`golf eval`) or a roundtrip check (`golf verify --run`, two models) takes,
 * itemised, from the recipe alone (no tensor is allocated). `golf budget` reports it;
 * `assertFitsMemory` refuses a run whose estimate exceeds the backend's heap before any model is
 * built, instead of a `memory access out of bounds` after a minute.
 *
 * Where the memory goes: tfjs, not the model, decides most of it.
 *   - `tf.variableGrads` records the whole forward pass on a tape. Every kernel keeps a clone of
 *     the inputs its gradient needs (matMul both operands, mul both factors, add both terms,
 *     softmax/tanh their output, …), so nearly every activation of every layer stays alive until
 *     the backward pass ends; then the backward pass keeps the gradient of every tensor on the
 *     path (tape.ts `backpropagateGradients` never frees one before the end). The peak is at the
 *     end of the backward pass: per layer ~53 tensors of the residual width N·D (N = rows × tokens
 *     per micro-batch), 21 of the K/V width, 6 of the MLP hidden width, 7 of the attention scores.
 *   - Evaluation runs the forward pass inside `tf.tidy`, which frees nothing before its end: every
 *     intermediate of every layer is alive at once (25 residual-width tensors per layer, …).
 *   - The forward pass makes one copy of every weight as it is used (`effectiveWeights` in gpt.ts:
 *     q·d of each ternary tensor, the float tensors rounded to their storage format), kept by the
 *     tape; a parameter gets one gradient per use (a tied tok_emb two, a block applied R times R).
 *   - The optimizer step: Muon builds the momentum update and the Nesterov update of every
 *     matrix at once, then the Newton–Schulz result of each (three copies of the matrices), plus
 *     one Newton–Schulz workspace; AdamW one tensor at a time.
 *
 * So the estimate is a count of tensors by size, per layer application and per step phase:
 *   train, per thread  resident: weights (4 B/param) + optimizer state (main thread: Muon 1 slot
 *                      per matrix, AdamW 2 per other parameter) + RoPE tables and mask tiles;
 *                      phase peak = max(forward+backward of its rows of one micro-batch [+ the
 *                      accumulated gradients of the earlier micro-batches], optimizer step
 *                      (gradients + Muon's copies + Newton–Schulz), evaluation at
 *                      eval.batch_seqs (the main thread scores the model during training)).
 *   eval               weights + the forward pass of eval.batch_seqs sequences (+ its q·d copies).
 *   verify --run       two models (the run's, the artifact's, loaded as plain floats) + the
 *                      forward pass of eval.batch_seqs sequences of the run's model + one logits
 *                      tensor kept for the comparison.
 *   heap overhead      +5% of the peak (allocator fragmentation, the GEMM's packing buffers).
 * The coefficients below are those counts: the big ones integers that least squares over the
 * measured configs found and the kernels' gradient configs (tfjs-core 4.22) explain, the small
 * ones (marked) fitted; every item is in float32.
 *
 * Calibration (wasm backend, one or two steps per config): the peak of live tensor bytes, each
 * data buffer once (`tf.memory().numBytes` counts every tensor object, so the clones the tape
 * saves and every reshape count again and it overstates the heap; instead engine.trackTensor /
 * removeDataId hooked: `measurePeak` in
 * test/budget/memory.test.ts, which re-checks two small configs on every run with
 * `npx vitest run test/budget/memory.test.ts`), and the heap (`tf.backend().wasm.HEAPU8.buffer
 * .byteLength`; it only grows, so read after the step = its peak), estimate vs measured:
 *   config                                          forward+backward  optimizer step  evaluation  heap / live peak
 *   98 small ones (D 32–128, 1–8 heads, T 64–512;    within 1.0%       exact (±3 floats) within 0.35%
 *     AR, MDLM, BD3-LM; factored, untied, loops 1–3;
 *     quant none / not yet active / fp32 floats)
 *   bitnet-b158-68m --set model.model_dim=384         +0.09%            exact           -0.002% (2 seqs)  1.035 (1.76 GB)
 *     (17.4M params), seq_len 512, 1 sequence
 *   bitnet-b158-68m (68.9M), seq_len 256, 1 sequence  +0.04%            exact           -0.01%      1.046 (2.16 GB)
 *   bitnet-b158-68m (68.9M), seq_len 512, 1 sequence  +0.12%            exact           -0.01%      1.026 (3.38 GB; max RSS 3.33 GB)
 * Activation quantization (2026-12-02; quantizedTrain, quantizedEval): 7 configs (AR, MDLM,
 * BD3-LM, recomputed or not) × a8, a4, a4.8 and single rounded or sparsified sites: forward+
 * backward and evaluation within 0.2% of the same config's float-activation error; without the
 * terms they were up to 6% and 37% under.
 * Since block diffusion's last layer computes only the x_t rows (2026-12-01), its last
 * application and head have their own counts (TRAIN_LAST_FULL_ND, headSlice), re-checked on the
 * two BD3-LM configs of the test: +0.01% kept, +2.6% recomputed. `objective.clean_gradient:
 * false` is estimated as the joint pass, which holds more (the x_0 half's tape and gradients):
 * an over-estimate.
 * (the heap includes up to 96 MiB of emscripten's growth slack: it grows by min(20%, +96 MiB) and
 * stops at its maximum, so the 5% allowance is conservative near the cap). Threads > 1 are not
 * measured (each worker's heap is not visible from the main thread): a worker is counted as the
 * same forward+backward on its share of the rows, the main thread adds the optimizer.
 * The cpu backend holds the same tensors in JS typed arrays (measured: identical training peak,
 * evaluation 2% lower: its slices share memory); tensorflow backends allocate in libtensorflow,
 * which this does not model.
 */
import {availableParallelism, totalmem} from 'node:os'

import type {ResolvedBackend} from '../backend/index.js'
import {InputError} from '../errors.js'
import {type ModelConfig, modelDims, numel, paramSpecs, type ParamSpec} from '../model/config.js'
import {blockDiffusionTile, causalBlock} from '../model/attention.js'
import {newtonSchulz5Flops} from '../optim/muon.js'
import {ACTIVATION_SITES, isFloatSite, keptPerRow, type ActivationSite, type ActivationSites, type SiteQuant} from '../quant/activations.js'
import type {MatrixOptimizer} from '../optim/composite.js'
import {DEFAULT_OBJECTIVE, modelVocabFor, type ObjectiveConfig} from '../objective/types.js'
import type {ResolvedRecipe} from '../recipe/recipe.js'

// ---------------------------------------------------------------------------------------------
// Limits

/**
 * The most a wasm backend instance's heap can grow to: 4,294,901,760 bytes = 65,535 pages of
 * 64 KiB (4 GiB − 64 KiB). wasm32 addresses at most 65,536 pages (4 GiB), which is the maximum
 * the .wasm files of @tensorflow/tfjs-backend-wasm 4.22 declare (tfjs-backend-wasm-simd.wasm:
 * initial 256 pages = 16 MiB, maximum 65,536); emscripten's runtime in tf-backend-wasm.node.js
 * caps its growth one page lower (`getHeapMax() { return 4294901760; }`), and a failed growth is
 * what surfaces as `memory access out of bounds` or `Aborted()`. Each thread of golf's data
 * parallel training runs its own wasm instance, so the limit applies per thread.
 */
export const WASM_HEAP_MAX_BYTES = 65_535 * 65_536

/** Allocator fragmentation and the GEMM's packing buffers on top of the live tensors (see the module doc). */
export const HEAP_OVERHEAD = 0.05

export type MemoryBackend = ResolvedBackend

export interface MemoryLimit {
  backend: MemoryBackend
  /** per-thread: each thread's heap is capped (wasm); host: all threads share the machine's RAM (cpu); unknown: not modelled. */
  kind: 'per-thread' | 'host' | 'unknown'
  /** The cap, or null when unknown. */
  bytes: number | null
  /** Where the number comes from, in words. */
  source: string
}

/** The memory a backend can give a run (see WASM_HEAP_MAX_BYTES). */
export function memoryLimit(backend: MemoryBackend): MemoryLimit {
  if (backend === 'wasm') {
    return {backend, kind: 'per-thread', bytes: WASM_HEAP_MAX_BYTES, source: 'wasm32 heap: 65,535 pages of 64 KiB per thread (tfjs-backend-wasm 4.22: emscripten getHeapMax(), the module declares 65,536)'}
  }
  if (backend === 'cpu') {
    return {backend, kind: 'host', bytes: totalmem(), source: 'no heap cap: tensors are JS typed arrays; all threads share the host RAM (os.totalmem())'}
  }
  return {backend, kind: 'unknown', bytes: null, source: 'libtensorflow allocates host RAM or GPU memory itself; golf does not know how much it needs or has'}
}

// ---------------------------------------------------------------------------------------------
// What is estimated

/** What decides the memory of a model's forward pass (a recipe, a run's config or an artifact's manifest). */
export interface MemoryShape {
  /** The GPT's config, vocab_size = the ids the model embeds (a diffusion model's [MASK] included). */
  model: ModelConfig
  /** Glob patterns of the ternary tensors ([] = none: an artifact's model holds plain floats). */
  ternary: readonly string[]
  /** Storage format the float tensors are rounded to while quantization is active. */
  floatFormat: ResolvedRecipe['quant']['float_format']
  /** The forward pass uses q·d and the float storage format (a ternary run once quantization starts). */
  quantActive: boolean
  objective: ObjectiveConfig
  seqLen: number
  matrixOptimizer: MatrixOptimizer
  /**
   * The activation precisions the forward pass runs at (src/quant/activations.ts): a recipe's
   * stages, an artifact's recorded sites; [] = float throughout. A site quantized in any of
   * them is counted (the worst stage).
   */
  activations: readonly ActivationSites[]
}

/**
 * A recipe's shape. `vocab: 'data'` (a recipe file): model.vocab_size is the data vocabulary
 * and diffusion objectives add the [MASK] id, as training does; `'model'` (a run's config.json,
 * written after that): it already is the model's.
 */
export function memoryShapeOf(recipe: ResolvedRecipe, opts: {vocab?: 'data' | 'model'} = {}): MemoryShape {
  const objective = recipe.objective ?? DEFAULT_OBJECTIVE
  const vocab = opts.vocab === 'model' ? recipe.model.vocab_size : modelVocabFor(objective.kind, recipe.model.vocab_size)
  const ternary = recipe.quant.mode === 'ternary'
  return {
    model: {...recipe.model, vocab_size: vocab},
    ternary: ternary ? recipe.quant.targets : [],
    floatFormat: ternary ? recipe.quant.float_format : 'fp32',
    // training reaches the quantized phase (start_frac < 1): the larger of the two
    quantActive: ternary,
    objective,
    seqLen: recipe.train.seq_len,
    matrixOptimizer: recipe.optim.matrix_optimizer,
    activations: (recipe.activations ?? []).map((stage) => stage.sites),
  }
}

export interface MemoryItem {
  name: string
  bytes: number
}

export interface PhaseMemory {
  phase: 'forward+backward' | 'optimizer step' | 'evaluation'
  bytes: number
  items: MemoryItem[]
}

/** One thread's heap: what stays resident, what each phase adds on top, the peak. */
export interface ThreadMemory {
  thread: 'main' | 'worker'
  /** Rows (sequences) of each micro-batch (training) or pass (evaluation) this thread computes. */
  rows: number
  resident: MemoryItem[]
  phases: PhaseMemory[]
  /** The phase that sets the peak. */
  peak_phase: PhaseMemory['phase']
  overhead_bytes: number
  /** resident + the largest phase + overhead. */
  peak_bytes: number
}

export interface TrainMemory {
  seq_len: number
  /** Tokens each forward pass runs on, 2× the sequence for bd3lm's [x_t ‖ x_0]. */
  input_len: number
  micro_batch_tokens: number
  rows_per_micro_batch: number
  accumulation: number
  threads: number
  /** Sequences per pass of the evaluations the main thread runs during training (fitted as EvalMemory's). */
  eval_batch_seqs: number
  requested_eval_batch_seqs: number
  /** Layer activations recomputed in the backward pass (train.recompute, 'auto' resolved). */
  recompute: boolean
  /** The main thread (optimizer, evaluation) and, with threads > 1, the busiest worker thread. */
  per_thread: ThreadMemory[]
  /** The largest thread peak: what must fit a per-thread heap. */
  peak_bytes: number
  /** The same without the evaluations: the training step alone. */
  step_peak_bytes: number
  /** The main thread while it evaluates at eval_batch_seqs (null: no evaluation). */
  eval_peak_bytes: number | null
  /** Every thread's heap plus the shared weight and gradient buffers of the pool: host memory. */
  total_bytes: number
}

export interface EvalMemory {
  seq_len: number
  input_len: number
  /** Sequences per pass: the requested batch, or the largest smaller one that fits (see fitBatch). */
  batch_seqs: number
  /** What the recipe (or the artifact's manifest) asked for. */
  requested_batch_seqs: number
  /** Models resident: 1 (eval), 2 (verify --run: the run's and the artifact's). */
  models: number
  thread: ThreadMemory
  peak_bytes: number
}

export type MemoryUse = 'train' | 'eval' | 'verify'

export interface MemoryVerdict {
  /** null when the backend's limit is unknown. */
  fits: boolean | null
  needed_bytes: number
  limit_bytes: number | null
  /** Settings that fit (the largest below the recipe's), and what they need; null when none was found. */
  suggestion: {settings: Record<string, number | boolean>; needed_bytes: number} | null
  /** Why the first knob is not enough (e.g. even one sequence is too long), or null. */
  why: string | null
  /** One line: what to change, naming the numbers (null when it fits or the limit is unknown). */
  advice: string | null
}

export interface MemoryEstimate {
  recipe: string
  backend: MemoryBackend
  limit: MemoryLimit
  params: {total: number; ternary: number; float: number}
  /** null for a model without a recipe (an artifact). */
  train: TrainMemory | null
  eval: EvalMemory
  verify: EvalMemory
  verdicts: Partial<Record<MemoryUse, MemoryVerdict>>
}

// ---------------------------------------------------------------------------------------------
// The counts (floats). N = rows × input tokens; per layer application unless said otherwise.

/** The per-layer and head counts both phases have. */
interface ActivationCounts {
  nd: number
  nkv: number
  nm: number
  scoresMasked: number
  scoresBidirectional: number
  keySlices: number
  tiledNd: number
  nh: number
  nkvh: number
  n: number
  skip: number
  logits: number
  suppress: number
  headNd: number
  headN: number
  factored: number
}

/**
 * Forward+backward (end of the backward pass: the tape's saved tensors + every gradient), e.g.
 * the MLP: the fc, relu and square outputs, each saved by the next kernel, and their 3 gradients
 * = 6 × N·M; the scores: the matMul and scale outputs and the softmax output saved, 4 gradients of
 * which the mask add's shares its input's = 7 × S.
 */
const TRAIN = {
  nd: 53, // N·D: residual stream, norms, q (+ RoPE halves), attention output, projections
  nkv: 21, // N·KV·Dh: k and v, their norm and RoPE
  nm: 6, // N·M: MLP hidden (fc, relu, square)
  scoresMasked: 7, // S = rows·H·Σ_tiles Tq·Tk, causal / block-diffusion (mask added)
  scoresBidirectional: 6, // S without a mask (mdlm)
  keySlices: 8, // key/value rows gathered per query tile (both k and v)
  tiledNd: 2, // N·D: the query split into tiles and the outputs concatenated back
  nh: 1.27, // N·H: q's RMS statistics (fitted)
  nkvh: 12.4, // N·KV (fitted)
  n: 3.66, // N (fitted)
  skip: 2.87, // N·D per U-Net skip
  logits: 11.1, // B·Tout·V: head matmul, soft-cap, log-softmax, the gathers' gradients
  suppress: 1, // B·Tout·V: diffusion's SUBS suppression add
  headNd: 13.2, // N·D: embedding and final norms (fitted)
  headN: 11.6, // N (fitted)
  factored: 3, // N·E: a factored embedding's projections
  // parameters, per float32 value (uses: a block's tensors model.loops, a tied tok_emb 2)
  ternaryCopy: 1, // q·d of an active ternary tensor, saved by its matMul
  perUse: 1, // one gradient per use: tfjs keeps each use's gradient (and their sum) until the pass ends
  storedExtra: 3, // a float tensor rounded to fp16/bf16: the rounded copy, the split's and the concat's gradients
  embeddingBase: 1, // embeddings (tok_emb, lm_head): the sum of their uses' gradients (fitted)
  embeddingStored: 1.4, // the same, rounded to fp16/bf16 (fitted)
  // activation quantization (see quantizedTrain)
  quantAttnOut: 1, // N·D: the attention output's (B·T, D) copy, kept beside its quantized one
  topKKept: 2, // N·W per sparsified site: its saved mask and the gradient through it
} as const satisfies ActivationCounts & Record<string, number>

/**
 * The floats activation quantization adds to one layer application's tape (training, at the
 * end of the backward pass): `rows` = the application's rows (`keepRows` for the sites after
 * attention; block diffusion's last application computes those for the x_t rows only). The
 * quantizers' straight-through gradients hold nothing else; rounding the other sites keeps no
 * more than their float inputs did. Measured against the wasm peak (the calibration test): the
 * training estimate was 1–6% under for a8, a4.8 and a sparsified MLP down input without it.
 */
function quantizedTrain(shape: MemoryShape, rows: number, keepRows: number): number {
  const sites = quantizedSites(shape)
  if (sites.size === 0) return 0
  const d = modelDims(shape.model)
  let floats = sites.has('attn_out') ? keepRows * d.D * TRAIN.quantAttnOut : 0
  for (const [k, q] of sites) if (q.keep < 1) floats += (k === 'attn_in' ? rows : keepRows) * siteWidth(k, d) * TRAIN.topKKept
  return floats
}

/**
 * Block diffusion's last layer application (x_t queries only): the N·D tensors of its that still
 * cover every row of [x_t ‖ x_0] (its input, the attention norm and what the keys and values are
 * computed from, and their gradients); the rest of TRAIN.nd cover the x_t rows (fitted).
 */
const TRAIN_LAST_FULL_ND = 10

/**
 * Block diffusion's head reads the last layer's x_t rows as they come out (gpt.ts
 * `logitsRows`); TRAIN.headNd was fitted when it sliced them out of [x_t ‖ x_0] instead: the
 * slice and its gradient, which is full width, N_out·D tensors it no longer holds.
 */
const TRAIN_HEAD_SLICE = 3

/**
 * Recomputation keeps, per layer application, N·D floats between the layers: its input (saved
 * for the recomputation) and the gradient of its output (the backward pass frees no gradient
 * before it ends).
 */
const RECOMPUTE_BOUNDARY = 2

/** Evaluation (one layer's forward pass inside its tidy: every intermediate alive at its end), counted. */
const EVAL = {
  nd: 25,
  nkv: 11,
  nm: 3,
  scoresMasked: 4, // matMul, scale, mask add, softmax
  scoresBidirectional: 3,
  keySlices: 2,
  tiledNd: 2,
  nh: 3,
  nkvh: 3,
  n: 6,
  skip: 2,
  logits: 8, // head matmul, soft-cap (3), log-softmax output + its transient (3)
  suppress: 1,
  headNd: 5,
  headN: 15.2,
  factored: 2,
  keptNd: 2, // x0 and the residual stream between layers
  ternaryCopy: 1, // the q·d copy
  floatStored: 3, // concatenated, rounded, split back
  // activation quantization (see quantizedEval)
  quantOut: 1, // N·W per quantized site: the copy its matrix product reads
  quantTemps: 4, // N·W while a site rounds: |x|, x·s, round, clip
  topKTemps: 4, // N·W while a site sparsifies: |x|, the threshold's difference, its step, the mask (+ K values and K indices per row)
  quantAfterNd: 3, // N·D the layer allocates after the MLP's down input: the projection, its scale, the residual add
  quantN: 8, // N: the row statistics (fitted)
} as const satisfies ActivationCounts & Record<string, number>

/**
 * A shape's activation sites at their most expensive: a site quantized (or sparsified) in any
 * of its stages counts, with the smallest keep fraction any of them gives it. Null: float.
 */
function quantizedSites(shape: MemoryShape): Map<ActivationSite, SiteQuant> {
  const out = new Map<ActivationSite, SiteQuant>()
  for (const stage of shape.activations) {
    for (const k of ACTIVATION_SITES) {
      const q = stage[k]
      if (isFloatSite(q)) continue
      const was = out.get(k)
      out.set(k, {bits: q.bits ?? was?.bits ?? null, keep: Math.min(q.keep, was?.keep ?? 1)})
    }
  }
  return out
}

/** A site's input width: the residual width D, or the MLP's hidden width M for its down input. */
function siteWidth(k: ActivationSite, d: {D: number; M: number}): number {
  return k === 'ffn_down' ? d.M : d.D
}

/**
 * The floats activation quantization (src/quant/activations.ts) adds to one layer's evaluation
 * (`layer` in evalActivations). Every quantized site's output stays in the layer's tidy, N·W (W
 * = D for the attention and MLP inputs and the attention output, M for the MLP's down input).
 * The quantizer's temporaries live only while it runs (each op frees its intermediates): 4 N·W
 * to round, 4 N·W + 2 N·K (K kept per row) more to sparsify, and N·W for the sparsified copy
 * when it is rounded too. They raise the layer's peak only by what the layer has not yet
 * allocated when they are freed: the MLP's sites come last (after its down input: the
 * projection, its scale and the residual add, 3 N·D; after its input, the MLP's 3 N·M and the
 * down input's copy as well); the attention's sites are followed by more than they hold (at
 * mlp_mult ≥ 2). Measured against the wasm peak (test/budget/memory.test.ts): without this
 * term the evaluation of a8 and a4.8 models was 7–11% under, and 20–37% under with the down
 * input sparsified.
 */
function quantizedEval(shape: MemoryShape, N: number): number {
  const sites = quantizedSites(shape)
  if (sites.size === 0) return 0
  const d = modelDims(shape.model)
  const c = EVAL
  let outputs = 0
  for (const k of sites.keys()) outputs += N * siteWidth(k, d) * c.quantOut
  const temps = (k: ActivationSite) => {
    const q = sites.get(k)
    if (!q) return 0
    const W = siteWidth(k, d)
    const sparse = q.keep < 1 ? N * W * c.topKTemps + 2 * N * keptPerRow(q.keep, W) + (q.bits !== null ? N * W : 0) : 0
    return N * W * (q.bits !== null ? c.quantTemps : 0) + sparse + N * c.quantN
  }
  const afterDown = N * d.D * c.quantAfterNd
  const afterIn = N * d.M * (EVAL.nm + (sites.has('ffn_down') ? c.quantOut : 0)) + afterDown
  return outputs + Math.max(0, temps('ffn_down') - afterDown, temps('ffn_in') - afterIn)
}

/**
 * AdamW's step holds 13 temporaries of one parameter at a time (14 with weight decay): adamw.ts
 * (measured: 13 × 131,072 floats for a 4096 × 32 tok_emb, 14 × with optim.weight_decay 0.1).
 */
const ADAM_TEMPS = 13

interface Geometry {
  /** Input tokens per row (2T for bd3lm). */
  Tin: number
  /** Output positions per row. */
  Tout: number
  /** Σ over query tiles of Tq·Tk (per row and head). */
  scores: number
  /** Σ over tiles of the key rows copied to gather each tile's keys (per row and KV head, × Dh). */
  keyRows: number
  tiled: boolean
  masked: boolean
  /** Floats of the cached mask tiles (one per layout and length) and RoPE tables. */
  cache: number
  /**
   * bd3lm: the last layer application computes queries, attention output and MLP for the x_t
   * rows only (gpt.ts `layers`, keep = Tout); its score tiles (the x_t rows') and key copies.
   */
  last: {scores: number; keyRows: number} | null
}

/** Attention tiles as gpt.ts `attention()` cuts them (causalMask / blockDiffusionTiles / one tile). */
function geometry(model: ModelConfig, objective: ObjectiveConfig, T: number): Geometry {
  const Dh = model.model_dim / model.num_heads
  const tiles: Array<{q: number; k: number; copied: number}> = []
  let masked = true
  let Tin = T
  let last: Geometry['last'] = null
  let lastTile = 0 // floats of the x_t rows' own mask (one tile: a slice of it; several: shared)
  if (objective.kind === 'mdlm') {
    masked = false
    tiles.push({q: T, k: T, copied: 0})
  } else if (objective.kind === 'ar') {
    const block = causalBlock(T)
    for (let s = 0; s < T; s += block) {
      const e = Math.min(s + block, T)
      tiles.push({q: e - s, k: e, copied: e === T ? 0 : e}) // keys [0, e): a slice unless all of them
    }
  } else {
    const n = T
    Tin = 2 * T
    const tile = blockDiffusionTile(n, objective.block_size ?? T)
    if (tile === null) {
      tiles.push({q: Tin, k: Tin, copied: 0})
      last = {scores: n * Tin, keyRows: 0}
      lastTile = n * Tin
    } else {
      // x_t rows: clean keys [n, n+e) and noisy keys [s, e), two slices and their concat
      for (let s = 0; s < n; s += tile) {
        const e = Math.min(s + tile, n)
        tiles.push({q: e - s, k: 2 * e - s, copied: 2 * (2 * e - s)})
      }
      const xt = tiles.slice()
      last = {scores: xt.reduce((a, t) => a + t.q * t.k, 0), keyRows: xt.reduce((a, t) => a + t.copied, 0)}
      // x_0 rows: clean keys [n, n+e), one slice
      for (let s = 0; s < n; s += tile) {
        const e = Math.min(s + tile, n)
        tiles.push({q: e - s, k: e, copied: e})
      }
    }
  }
  const scores = tiles.reduce((a, t) => a + t.q * t.k, 0)
  return {
    Tin,
    Tout: T,
    scores,
    keyRows: tiles.reduce((a, t) => a + t.copied, 0),
    tiled: tiles.length > 1,
    masked,
    cache: (masked ? scores : 0) + lastTile + Tin * Dh, // mask tiles + cos/sin tables (Tin × Dh/2 each)
    last,
  }
}

interface ParamCounts {
  total: number
  ternary: number
  float: number
  /** Float embeddings (tok_emb, lm_head) and the other float tensors. */
  embedding: number
  otherFloat: number
  /** Muon's (matrix group) parameters, in order. */
  matrices: ParamSpec[]
  matrixParams: number
  otherParams: number
  largestOther: number
}

function paramCounts(shape: MemoryShape): ParamCounts {
  const specs = paramSpecs(shape.model, shape.ternary)
  let ternary = 0
  let float = 0
  for (const s of specs) (s.ternary ? (ternary += numel(s.shape)) : (float += numel(s.shape)))
  const matrices = specs.filter((s) => s.group === 'matrix')
  const others = specs.filter((s) => s.group !== 'matrix')
  const floatOf = (embedding: boolean) => specs.filter((s) => !s.ternary && (s.group === 'embedding') === embedding).reduce((a, s) => a + numel(s.shape), 0)
  return {
    total: ternary + float,
    ternary,
    float,
    embedding: floatOf(true),
    otherFloat: floatOf(false),
    matrices,
    matrixParams: matrices.reduce((a, s) => a + numel(s.shape), 0),
    otherParams: others.reduce((a, s) => a + numel(s.shape), 0),
    largestOther: Math.max(0, ...others.map((s) => numel(s.shape))),
  }
}

/**
 * How much of the layer stack is alive at the peak: every layer application's intermediates
 * (training, keeping the tape), or one application's (training with recomputation: the backward
 * pass of one layer at a time; evaluation: each layer in its own tidy), plus `boundary` N·D
 * tensors per application kept between layers (recomputation: each layer's input and the
 * gradient of its output).
 */
interface Liveness {
  layers: 'all' | 'one'
  boundary: number
}

/** Activation floats of `rows` rows, by item, with the coefficients `c`. */
function activations(shape: MemoryShape, g: Geometry, rows: number, c: ActivationCounts, live: Liveness): MemoryItem[] {
  if (rows <= 0) return []
  const d = modelDims(shape.model)
  const N = rows * g.Tin
  const Nout = rows * g.Tout
  const L = live.layers === 'all' ? d.L : 1
  const kvw = d.KV * d.Dh
  const tiledNd = g.tiled ? c.tiledNd : 0
  const scoreCoef = g.masked ? c.scoresMasked : c.scoresBidirectional
  // block diffusion, every layer alive: the last application is a partial one (g.last) whose
  // keys, values and first norm cover all N rows and the rest only the Nout x_t rows
  const last = g.last && live.layers === 'all' ? g.last : null
  const full = last ? L - 1 : L
  const lastNd = last ? N * TRAIN_LAST_FULL_ND + Nout * (c.nd - TRAIN_LAST_FULL_ND + tiledNd) : 0
  const residual = full * N * d.D * (c.nd + tiledNd) + lastNd * d.D - (g.last ? Nout * d.D * TRAIN_HEAD_SLICE : 0) + d.numSkips * N * d.D * c.skip + N * d.D * c.headNd + (d.factored ? N * d.E * c.factored : 0)
  const heads = full * N * (kvw * c.nkv + d.H * c.nh + d.KV * c.nkvh) + (last ? N * (kvw * c.nkv + d.KV * c.nkvh) + Nout * d.H * c.nh : 0)
  const scores = full * rows * (d.H * g.scores * scoreCoef + kvw * g.keyRows * c.keySlices) + (last ? rows * (d.H * last.scores * scoreCoef + kvw * last.keyRows * c.keySlices) : 0)
  const items: MemoryItem[] = [
    {name: 'activations: residual stream, norms, projections (N·D)', bytes: 4 * residual},
    {name: 'activations: attention q/k/v heads', bytes: 4 * heads},
    {name: 'activations: attention scores', bytes: 4 * scores},
    {name: `activations: MLP hidden (${d.M} wide)`, bytes: 4 * (full * N + (last ? Nout : 0)) * d.M * c.nm},
    {name: 'activations: logits, loss, per-row norm statistics', bytes: 4 * (Nout * d.V * (c.logits + (shape.objective.kind === 'ar' ? 0 : c.suppress)) + N * (L * c.n + c.headN))},
    {name: 'activations: quantized and sparsified activations (src/quant/activations.ts)', bytes: 4 * (full * quantizedTrain(shape, N, N) + (last ? quantizedTrain(shape, N, Nout) : 0))},
  ]
  // recomputation: each application's input (N·D) and its output's gradient (block diffusion's
  // last application: the x_t rows only)
  const lastOut = g.last ? Nout : N
  if (live.boundary > 0) items.push({name: `activations: every layer's input and output gradient, kept for recomputation (${d.L} × N·D)`, bytes: 4 * d.D * (d.L * N * (live.boundary - 1) + (d.L - 1) * N + lastOut)})
  return items
}

/** Floats Newton–Schulz holds at its peak on a [rows, cols] matrix (muon.ts: every temporary of its tidy). */
export function newtonSchulzPeak(rows: number, cols: number, steps: number): number {
  const r = Math.min(rows, cols)
  const c = Math.max(rows, cols)
  const tall = rows > cols ? 1 : 0
  const start = (2 + tall) * r * c // (transpose), square, normalised x
  const f = newtonSchulz5Flops(rows, cols, steps)
  if (f.gram < f.standard) {
    const n = Math.ceil(steps / 3)
    const phases = Array.from({length: n}, (_, i) => Math.floor(steps / n) + (i < steps % n ? 1 : 0))
    let total = start + 2 * r * r // a·I
    phases.forEach((len, i) => (total += (i > 0 ? r * c : 0) + r * c + r * r + 5 * len * r * r + 3 * (len - 1) * r * r))
    return total + r * c + tall * r * c
  }
  return start + steps * (5 * r * r + 4 * r * c) + tall * r * c
}

/** Floats the optimizer step adds on top of weights, state and gradients. */
function optimizerPeak(shape: MemoryShape, p: ParamCounts, nsSteps: number, weightDecay: boolean): number {
  const adam = (ADAM_TEMPS + (weightDecay ? 1 : 0)) * p.largestOther
  if (shape.matrixOptimizer === 'adamw') return Math.max(adam, (ADAM_TEMPS + (weightDecay ? 1 : 0)) * Math.max(0, ...p.matrices.map((s) => numel(s.shape))))
  // Muon: b1 and u of every matrix, then NS5 of each in turn (its result kept)
  let done = 0
  let peak = 0
  for (const s of p.matrices) {
    peak = Math.max(peak, 2 * p.matrixParams + done + newtonSchulzPeak(s.shape[0], s.shape[1], nsSteps))
    done += numel(s.shape)
  }
  return Math.max(peak, adam)
}

function optimizerState(shape: MemoryShape, p: ParamCounts): number {
  if (shape.matrixOptimizer === 'adamw') return 2 * p.total
  const rows = shape.matrixOptimizer === 'normuon' ? p.matrices.reduce((a, s) => a + s.shape[0], 0) : 0
  return p.matrixParams + rows + 2 * p.otherParams
}

/** Floats of the parameter copies (made by the forward pass) and gradients (training only). */
function paramCopies(shape: MemoryShape, p: ParamCounts, train: boolean): {copies: number; grads: number} {
  const active = shape.quantActive ? 1 : 0
  const stored = shape.quantActive && shape.floatFormat !== 'fp32' ? 1 : 0
  if (!train) return {copies: active * p.ternary * EVAL.ternaryCopy + stored * p.float * EVAL.floatStored, grads: 0}
  const R = shape.model.loops
  // a tied tok_emb is used twice (the embedding gather, the output head); untied ones once each
  const uses = shape.model.tie_embeddings ? 2 : 1
  const copies = active * p.ternary * TRAIN.ternaryCopy + stored * p.float
  const total =
    copies +
    (p.ternary + p.otherFloat) * R * TRAIN.perUse +
    stored * p.otherFloat * (TRAIN.storedExtra - 1) +
    p.embedding * (uses * TRAIN.perUse + TRAIN.embeddingBase + stored * (TRAIN.embeddingStored - 1))
  return {copies, grads: total - copies}
}

function sum(items: MemoryItem[]): number {
  return items.reduce((a, i) => a + i.bytes, 0)
}

function phase(name: PhaseMemory['phase'], items: MemoryItem[]): PhaseMemory {
  const kept = items.filter((i) => i.bytes > 0).map((i) => ({name: i.name, bytes: Math.round(i.bytes)}))
  return {phase: name, bytes: sum(kept), items: kept}
}

function thread(name: ThreadMemory['thread'], rows: number, resident: MemoryItem[], phases: PhaseMemory[]): ThreadMemory {
  const top = phases.reduce((a, b) => (b.bytes > a.bytes ? b : a))
  const live = sum(resident) + top.bytes
  const overhead = Math.ceil(live * HEAP_OVERHEAD)
  return {thread: name, rows, resident, phases, peak_phase: top.phase, overhead_bytes: overhead, peak_bytes: live + overhead}
}

/** The evaluation phase of `rows` sequences (a forward pass in tf.tidy). */
function evalPhase(shape: MemoryShape, g: Geometry, p: ParamCounts, rows: number): PhaseMemory {
  return phase('evaluation', [{name: 'q·d and float-storage copies of the weights', bytes: 4 * paramCopies(shape, p, false).copies}, ...evalActivations(shape, g, rows)])
}

/**
 * A forward pass without a tape runs each layer in its own tidy (gpt.ts `layers`): the peak is
 * the larger of one layer's intermediates and the head's (embedding, final norm, logits), on
 * top of the residual stream kept across layers (x0, the current x, the U-Net skips).
 */
function evalActivations(shape: MemoryShape, g: Geometry, rows: number): MemoryItem[] {
  if (rows <= 0) return []
  const c = EVAL
  const d = modelDims(shape.model)
  const N = rows * g.Tin
  const Nout = rows * g.Tout
  const kvw = d.KV * d.Dh
  const S = rows * d.H * g.scores
  const keys = rows * kvw * g.keyRows
  const layer =
    N * d.D * (c.nd + (g.tiled ? c.tiledNd : 0)) +
    N * (kvw * c.nkv + d.H * c.nh + d.KV * c.nkvh + c.n) +
    S * (g.masked ? c.scoresMasked : c.scoresBidirectional) +
    keys * c.keySlices +
    N * d.M * c.nm +
    quantizedEval(shape, N)
  const head = Nout * d.V * (c.logits + (shape.objective.kind === 'ar' ? 0 : c.suppress)) + N * d.D * c.headNd + N * c.headN + (d.factored ? N * d.E * c.factored : 0)
  return [
    {name: `activations: ${layer >= head ? 'one layer' : 'the head (logits, loss)'}, the larger of a layer and the head (each layer freed before the next)`, bytes: 4 * Math.max(layer, head)},
    {name: 'activations: residual stream kept across layers (x0, x, the U-Net skips)', bytes: 4 * N * d.D * (c.keptNd + d.numSkips * c.skip)},
  ]
}

export interface TrainMemoryOptions {
  /** Threads computing each step (the main one included). */
  threads: number
  microBatchTokens: number
  batchTokens: number
  /** Sequences per pass of the evaluations the main thread runs during training (0: none). */
  evalBatchSeqs: number
  nsSteps: number
  weightDecay: boolean
  gradClip: boolean
  /** train.recompute resolved: layer activations recomputed in the backward pass. */
  recompute: boolean
}

/** Training memory per thread (see the module doc). */
export function estimateTrainMemory(shape: MemoryShape, o: TrainMemoryOptions): TrainMemory {
  const p = paramCounts(shape)
  const g = geometry(shape.model, shape.objective, shape.seqLen)
  const B = Math.max(1, Math.floor(o.microBatchTokens / shape.seqLen))
  const accum = Math.max(1, Math.round(o.batchTokens / o.microBatchTokens))
  const W = Number.isInteger(o.threads) && o.threads > 1 ? o.threads : 1
  // rows of each micro-batch per thread, as parallel.ts rowShares cuts them (thread 0 = main)
  const shares = Array.from({length: W}, (_, i) => Math.floor(((i + 1) * B) / W) - Math.floor((i * B) / W))
  const weights: MemoryItem = {name: 'weights (float32 variables)', bytes: 4 * p.total}
  const caches: MemoryItem = {name: 'RoPE tables and attention mask tiles', bytes: 4 * g.cache}
  const fwdbwd = (rows: number): PhaseMemory => {
    if (rows <= 0) return phase('forward+backward', [])
    const {copies, grads} = paramCopies(shape, p, true)
    return phase('forward+backward', [
      {name: 'q·d and float-storage copies of the weights (kept by the tape)', bytes: 4 * copies},
      {name: 'gradients', bytes: 4 * grads},
      {name: `gradients summed over the step's earlier micro-batches (${accum} per step)`, bytes: accum > 1 ? 4 * p.total : 0},
      ...activations(shape, g, rows, TRAIN, o.recompute ? {layers: 'one', boundary: RECOMPUTE_BOUNDARY} : {layers: 'all', boundary: 0}),
    ])
  }
  const optimizerName = shape.matrixOptimizer === 'adamw' ? 'AdamW temporaries' : `${shape.matrixOptimizer === 'normuon' ? 'NorMuon' : 'Muon'}: momentum and Nesterov updates, Newton–Schulz results and workspace`
  // optim.grad_clip holds the raw and the clipped gradients at once before the step
  const clip = o.gradClip ? 4 * p.total : 0
  const opt = phase('optimizer step', [
    {name: 'gradients', bytes: 4 * p.total},
    {name: optimizerName, bytes: Math.max(4 * optimizerPeak(shape, p, o.nsSteps, o.weightDecay), clip)},
  ])
  const mainResident = [weights, {name: 'optimizer state', bytes: 4 * optimizerState(shape, p)}, caches]
  const stepPhases = [fwdbwd(shares[0]), opt]
  const evaluation = o.evalBatchSeqs > 0 ? evalPhase(shape, g, p, o.evalBatchSeqs) : null
  const main = thread('main', shares[0], mainResident, evaluation ? [...stepPhases, evaluation] : stepPhases)
  const workers = shares.slice(1).map((rows) => thread('worker', rows, [weights, caches], [fwdbwd(rows)]))
  const busiest = workers.reduce<ThreadMemory | null>((a, b) => (a === null || b.peak_bytes > a.peak_bytes ? b : a), null)
  const shared = W > 1 ? 4 * p.total * W : 0 // the pool's weight buffer + one gradient buffer per worker (JS memory)
  const per = busiest ? [main, busiest] : [main]
  return {
    seq_len: shape.seqLen,
    input_len: g.Tin,
    micro_batch_tokens: o.microBatchTokens,
    rows_per_micro_batch: B,
    accumulation: accum,
    threads: W,
    eval_batch_seqs: o.evalBatchSeqs,
    requested_eval_batch_seqs: o.evalBatchSeqs,
    recompute: o.recompute,
    per_thread: per,
    peak_bytes: Math.max(...per.map((t) => t.peak_bytes)),
    step_peak_bytes: Math.max(thread('main', shares[0], mainResident, stepPhases).peak_bytes, ...workers.map((w) => w.peak_bytes)),
    eval_peak_bytes: evaluation ? thread('main', shares[0], mainResident, [evaluation]).peak_bytes : null,
    total_bytes: main.peak_bytes + sum(workers.map((w) => ({name: '', bytes: w.peak_bytes}))) + shared,
  }
}

/** Evaluation memory: `models` resident models (1: eval, 2: verify --run), the forward pass of `batchSeqs` sequences. */
export function estimateEvalMemory(shape: MemoryShape, o: {batchSeqs: number; models: 1 | 2}): EvalMemory {
  const p = paramCounts(shape)
  const g = geometry(shape.model, shape.objective, shape.seqLen)
  const resident: MemoryItem[] = [
    {name: o.models === 2 ? "weights of the run's model and of the artifact's (float32 variables)" : 'weights (float32 variables)', bytes: 4 * p.total * o.models},
    {name: 'RoPE tables and attention mask tiles', bytes: 4 * g.cache * o.models},
  ]
  const items = evalPhase(shape, g, p, o.batchSeqs).items
  // verify compares the two models' logits of one batch: the first stays while the second is computed
  if (o.models === 2) items.push({name: 'logits kept for the comparison', bytes: 4 * o.batchSeqs * g.Tout * shape.model.vocab_size})
  const t = thread('main', o.batchSeqs, resident, [phase('evaluation', items)])
  return {seq_len: shape.seqLen, input_len: g.Tin, batch_seqs: o.batchSeqs, requested_batch_seqs: o.batchSeqs, models: o.models, thread: t, peak_bytes: t.peak_bytes}
}

// ---------------------------------------------------------------------------------------------
// The whole estimate and the verdicts

export interface MemoryOptions {
  backend: MemoryBackend
  /** Training threads; default what `golf train` resolves train.workers to on this backend. */
  threads?: number
  /** See memoryShapeOf. */
  vocab?: 'data' | 'model'
  /**
   * Instead of the recipe's train.micro_batch_tokens / eval.batch_seqs. A batchSeqs given here is
   * what the user asked for (a flag): estimated as is. The recipe's is fitted (see fitBatch).
   */
  microBatchTokens?: number
  batchSeqs?: number
}

/**
 * The evaluation batch golf runs when the user did not choose one: the recipe's eval.batch_seqs
 * when it fits the backend's memory, else the largest smaller batch that does (null when not
 * even one sequence fits). Scores do not depend on how windows are batched (each window is
 * scored on its own; test/eval/batching.test.ts), so this changes memory and speed only.
 * `fits` must grow false with the batch.
 */
export function fitBatch(requested: number, fits: (batchSeqs: number) => boolean): number | null {
  if (fits(requested)) return requested
  let lo = 0 // fits (or the sentinel below 1)
  let hi = requested // does not fit
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1
    if (fits(mid)) lo = mid
    else hi = mid
  }
  return lo >= 1 ? lo : null
}

/**
 * The thread count `golf train` uses for train.workers on a backend (as parallel.ts
 * resolveWorkers: 'auto' = up to 2 on wasm and cpu, 1 on tensorflow backends).
 */
export function trainThreads(workers: number | 'auto', backend: MemoryBackend): number {
  if (backend === 'tensorflow' || backend === 'tensorflow-gpu') return 1
  return workers === 'auto' ? Math.max(1, Math.min(availableParallelism(), 2)) : workers
}

const GiB = 2 ** 30
/** `5.93 GiB` */
export function gib(bytes: number): string {
  return `${(bytes / GiB).toFixed(2)} GiB`
}
const n = (x: number) => x.toLocaleString('en-US')

/**
 * Where a backend's memory is not known (tensorflow: libtensorflow's host RAM or a GPU's),
 * `train.recompute: auto` recomputes when a step would need more than this: a consumer GPU's
 * memory, about a third of a datacenter one's.
 */
export const RECOMPUTE_AUTO_UNKNOWN_LIMIT = 16 * 2 ** 30

/**
 * `train.recompute: auto`: recompute when the training step without it (its evaluations
 * excluded, recomputation does not change them) would not fit the backend's memory.
 */
export function recomputeNeeded(without: TrainMemory, limit: MemoryLimit): boolean {
  const need = limit.kind === 'host' ? without.total_bytes : without.step_peak_bytes
  return need > (limit.bytes ?? RECOMPUTE_AUTO_UNKNOWN_LIMIT)
}

/** A recipe's memory on a backend: training per thread, evaluation, verify --run, and whether each fits. */
export function estimateMemory(recipe: ResolvedRecipe, opts: MemoryOptions): MemoryEstimate {
  const shape = memoryShapeOf(recipe, {vocab: opts.vocab})
  const threads = opts.threads ?? trainThreads(recipe.train.workers ?? 'auto', opts.backend)
  const batchSeqs = opts.batchSeqs ?? recipe.eval.batch_seqs
  const limit = memoryLimit(opts.backend)
  const setting = recipe.train.recompute ?? 'auto'
  const trainAt: TrainAt = (s, microBatchTokens, evalBatchSeqs = batchSeqs, recompute = setting) => {
    const at = (r: boolean, e: number) =>
      estimateTrainMemory(s, {
        threads,
        microBatchTokens,
        batchTokens: recipe.train.batch_tokens,
        evalBatchSeqs: e,
        nsSteps: recipe.optim.muon_ns_steps ?? 5,
        weightDecay: recipe.optim.weight_decay !== 0,
        gradClip: recipe.optim.grad_clip !== null,
        recompute: r,
      })
    return at(recompute === 'auto' ? recomputeNeeded(at(false, 0), limit) : recompute, evalBatchSeqs)
  }
  // the batch the user gave is estimated as given; the recipe's is fitted to the limit
  const fitted = opts.batchSeqs === undefined && limit.bytes !== null
  const cap = limit.bytes ?? Infinity
  const micro = opts.microBatchTokens ?? recipe.train.micro_batch_tokens
  const trainEval = fitted ? (fitBatch(batchSeqs, (b) => needed(limit, trainAt(shape, micro, b)) <= cap) ?? batchSeqs) : batchSeqs
  const train = {...trainAt(shape, micro, trainEval), requested_eval_batch_seqs: batchSeqs}
  const evalAt = (models: 1 | 2): EvalMemory => {
    const at = (b: number) => estimateEvalMemory(shape, {batchSeqs: b, models})
    const b = fitted ? (fitBatch(batchSeqs, (x) => at(x).peak_bytes <= cap) ?? batchSeqs) : batchSeqs
    return {...at(b), requested_batch_seqs: batchSeqs}
  }
  const ev = evalAt(1)
  // verify --run: the run's model as training left it, the artifact's as plain floats
  const verify = evalAt(2)
  const p = paramCounts(shape)
  return {
    recipe: recipe.name,
    backend: opts.backend,
    limit,
    params: {total: p.total, ternary: p.ternary, float: p.float},
    train,
    eval: ev,
    verify,
    verdicts: {
      train: trainVerdict(recipe.train.batch_tokens, shape, train, limit, trainAt, setting, fitted),
      eval: evalVerdict(shape, ev, limit),
      verify: evalVerdict(shape, verify, limit),
    },
  }
}

/**
 * The evaluation estimate of a model that is not a recipe (an artifact: plain float weights, no
 * ternary copies), for `golf eval --artifact`.
 */
export function estimateModelEval(name: string, shape: MemoryShape, opts: {backend: MemoryBackend; batchSeqs: number; models?: 1 | 2; fit?: boolean}): MemoryEstimate {
  const limit = memoryLimit(opts.backend)
  const p = paramCounts(shape)
  const at = (b: number) => estimateEvalMemory(shape, {batchSeqs: b, models: opts.models ?? 1})
  const b = opts.fit && limit.bytes !== null ? (fitBatch(opts.batchSeqs, (x) => at(x).peak_bytes <= limit.bytes!) ?? opts.batchSeqs) : opts.batchSeqs
  const ev = {...at(b), requested_batch_seqs: opts.batchSeqs}
  const verdict = evalVerdict(shape, ev, limit)
  return {recipe: name, backend: opts.backend, limit, params: {total: p.total, ternary: p.ternary, float: p.float}, train: null, eval: ev, verify: ev, verdicts: {eval: verdict, verify: verdict}}
}

/** The bytes that must fit the limit: one thread's heap (wasm) or all threads together (cpu). */
function needed(limit: MemoryLimit, t: TrainMemory): number {
  return limit.kind === 'host' ? t.total_bytes : t.peak_bytes
}

function otherBackends(limit: MemoryLimit): string {
  return limit.backend === 'wasm' ? '--backend cpu (no heap cap: host RAM, much slower) or tensorflow' : '--backend tensorflow or a machine with more RAM'
}

/** `set train.micro_batch_tokens to 1,024 or less and eval.batch_seqs to 4 or fewer`, keys renamed by `name`. */
function describeSettings(settings: Record<string, number | boolean>, name: (key: string) => string = (k) => k): string {
  const num = (key: string) => n(settings[key] as number)
  const parts: string[] = []
  if (settings['train.recompute'] !== undefined) parts.push(`set ${name('train.recompute')} to true`)
  if (settings['train.seq_len'] !== undefined) parts.push(`lower ${name('train.seq_len')} to ${num('train.seq_len')} (one sequence per thread: ${name('train.micro_batch_tokens')} ${num('train.micro_batch_tokens')})`)
  else if (settings['train.micro_batch_tokens'] !== undefined) parts.push(`set ${name('train.micro_batch_tokens')} to ${num('train.micro_batch_tokens')} or less`)
  if (settings['eval.batch_seqs'] !== undefined) {
    const key = name('eval.batch_seqs')
    parts.push(key.startsWith('--') ? `${parts.length ? '' : 'use '}${key} ${num('eval.batch_seqs')} or fewer` : `${parts.length ? '' : 'set '}${key} to ${num('eval.batch_seqs')} or fewer`)
  }
  return parts.join(' and ')
}

function adviceOf(v: MemoryVerdict, limit: MemoryLimit, name?: (key: string) => string): string | null {
  if (v.fits !== false) return null
  if (!v.suggestion) return `${v.why ?? 'nothing smaller fits'}: use ${v.why?.startsWith('the model') ? 'a smaller model (model.model_dim, model.unique_blocks) or ' : ''}${otherBackends(limit)}`
  return `${v.why ? `${v.why}: ` : ''}${describeSettings(v.suggestion.settings, name)} (est. ${gib(v.suggestion.needed_bytes)}), or use ${otherBackends(limit)}`
}

type TrainAt = (s: MemoryShape, microBatchTokens: number, evalBatchSeqs?: number, recompute?: boolean | 'auto') => TrainMemory

function trainVerdict(batchTokens: number, shape: MemoryShape, t: TrainMemory, limit: MemoryLimit, at0: TrainAt, setting: boolean | 'auto', fitEval: boolean): MemoryVerdict {
  const need = needed(limit, t)
  const done = (fits: boolean | null, suggestion: MemoryVerdict['suggestion'] = null, why: string | null = null): MemoryVerdict => {
    const v: MemoryVerdict = {fits, needed_bytes: need, limit_bytes: limit.bytes, suggestion, why, advice: null}
    return {...v, advice: adviceOf(v, limit)}
  }
  if (limit.bytes === null) return done(null)
  if (need <= limit.bytes) return done(true)
  const max = limit.bytes
  const settings: Record<string, number | boolean> = {}
  // recomputation turned off: turning it on is the first thing to change
  let at = at0
  if (setting === false && needed(limit, at0(shape, t.micro_batch_tokens, 0, 'auto')) < needed(limit, at0(shape, t.micro_batch_tokens, 0, false))) {
    settings['train.recompute'] = true
    at = (s, micro, evalSeqs) => at0(s, micro, evalSeqs, 'auto')
  }
  const fits = (s: MemoryShape, micro: number, evalSeqs?: number) => needed(limit, at(s, micro, evalSeqs)) <= max
  const T = shape.seqLen
  let why: string | null = null
  let s = shape
  let micro = t.micro_batch_tokens
  // 1. the training step (without the evaluations): fewer sequences per micro-batch (dividing
  //    train.batch_tokens), else, when even one per thread is too much, a shorter sequence
  if (!fits(s, micro, 0)) {
    let found = false
    for (let rows = t.rows_per_micro_batch - 1; rows >= 1 && !found; rows--) {
      if (batchTokens % (rows * T) === 0 && fits(s, rows * T, 0)) {
        micro = rows * T
        settings['train.micro_batch_tokens'] = micro
        found = true
      }
    }
    const block = shape.objective.kind === 'bd3lm' ? (shape.objective.block_size ?? 1) : 1
    for (let T2 = Math.floor(T / 2); !found && T2 >= 8 && T2 % block === 0; T2 = Math.floor(T2 / 2)) {
      if (batchTokens % (T2 * t.threads) === 0 && fits({...shape, seqLen: T2}, T2 * t.threads, 0)) {
        s = {...shape, seqLen: T2}
        micro = T2 * t.threads
        settings['train.seq_len'] = T2
        settings['train.micro_batch_tokens'] = micro
        why = `even one sequence of ${n(T)} tokens per thread is too much`
        found = true
      }
    }
    if (!found) return done(false, null, 'the model does not fit at any micro-batch')
  }
  // 2. the evaluations the main thread runs during training, at eval.batch_seqs; when golf fits
  //    that batch itself (the recipe's, not a flag's), only whether one sequence fits matters
  const requested = t.requested_eval_batch_seqs
  let evalSeqs: number | undefined = requested
  if (requested > 0 && !fits(s, micro, requested)) {
    const b = fitBatch(requested, (x) => fits(s, micro, x))
    if (b === null) return done(false, null, `even one evaluation sequence of ${n(s.seqLen)} tokens does not fit next to the optimizer state`)
    evalSeqs = b
    if (!fitEval) {
      settings['eval.batch_seqs'] = b
      if (Object.keys(settings).length === 1) why = 'the evaluations during training'
    }
  }
  return done(false, {settings, needed_bytes: needed(limit, at(s, micro, evalSeqs))}, why)
}

function evalVerdict(shape: MemoryShape, e: EvalMemory, limit: MemoryLimit): MemoryVerdict {
  const need = e.peak_bytes
  const done = (fits: boolean | null, suggestion: MemoryVerdict['suggestion'] = null, why: string | null = null): MemoryVerdict => {
    const v: MemoryVerdict = {fits, needed_bytes: need, limit_bytes: limit.bytes, suggestion, why, advice: null}
    return {...v, advice: adviceOf(v, limit)}
  }
  if (limit.bytes === null) return done(null)
  if (need <= limit.bytes) return done(true)
  // the peak grows with the batch: the largest below it that fits
  for (let b = e.batch_seqs - 1; b >= 1; b--) {
    const x = estimateEvalMemory(shape, {batchSeqs: b, models: e.models as 1 | 2})
    if (x.peak_bytes <= limit.bytes) return done(false, {settings: {'eval.batch_seqs': b}, needed_bytes: x.peak_bytes})
  }
  return done(false, null, `even one sequence of ${n(e.seq_len)} tokens per pass does not fit`)
}

/** How the limit reads in a message. */
function describeLimit(limit: MemoryLimit): string {
  if (limit.kind === 'per-thread') return `the ${gib(limit.bytes!)} (${n(limit.bytes!)} bytes) a ${limit.backend} thread's heap can grow to`
  return `the host's ${gib(limit.bytes!)} of RAM`
}

/**
 * Throws an InputError (exit 2, one line naming the numbers and what to change) when the estimate
 * of `what` exceeds the backend's memory; call it before any model is built. `names` renames the
 * recipe keys in the advice (`golf eval` says `--batch-seqs` for eval.batch_seqs). Unknown limits
 * (tensorflow backends) never refuse; on cpu, an estimate above the host's RAM does.
 */
export function assertFitsMemory(estimate: MemoryEstimate, what: MemoryUse, names: Record<string, string> = {}): void {
  const v = estimate.verdicts[what]
  if (!v || v.fits !== false) return
  const name = (k: string) => names[k] ?? k
  let doing: string
  const perThread = estimate.limit.kind === 'per-thread' ? ' per thread' : ''
  if (what === 'train' && estimate.train) {
    const t = estimate.train
    const rows = Math.max(...t.per_thread.map((x) => x.rows))
    const evalOver = t.eval_peak_bytes !== null && t.eval_peak_bytes > estimate.limit.bytes!
    doing =
      `a training step at ${name('train.micro_batch_tokens')} ${n(t.micro_batch_tokens)} (${t.threads} thread${t.threads === 1 ? '' : 's'}, ${n(rows)} sequence${rows === 1 ? '' : 's'} of ${n(t.seq_len)} tokens per thread) needs an estimated ${gib(t.step_peak_bytes)}${perThread} on ${estimate.backend}` +
      (evalOver ? ` (its evaluations at ${name('eval.batch_seqs')} ${n(t.eval_batch_seqs)}: ${gib(t.eval_peak_bytes!)})` : '')
  } else {
    const e = what === 'verify' ? estimate.verify : estimate.eval
    doing = `${what === 'verify' ? 'verify --run (the run and its artifact) ' : 'evaluating '}at ${name('eval.batch_seqs')} ${n(e.batch_seqs)} (sequences of ${n(e.seq_len)} tokens per pass) needs an estimated ${gib(v.needed_bytes)} on ${estimate.backend}`
  }
  throw new InputError(`${estimate.recipe}: ${doing}, over ${describeLimit(estimate.limit)}: ${adviceOf(v, estimate.limit, name)}`)
}

/** `263.0 MiB` below 1 GiB, else `6.71 GiB`. */
export function formatMemory(bytes: number): string {
  return bytes < GiB ? `${(bytes / 2 ** 20).toFixed(1)} MiB` : gib(bytes)
}

/** What `golf budget` reports: the estimate on each kind of backend (the bytes are the same on wasm and cpu, the limits differ). */
export interface MemoryReport {
  wasm: MemoryEstimate
  cpu: MemoryEstimate
  tensorflow: MemoryEstimate
}

export function memoryReport(recipe: ResolvedRecipe, opts: Omit<MemoryOptions, 'backend'> = {}): MemoryReport {
  return {
    wasm: estimateMemory(recipe, {...opts, backend: 'wasm'}),
    cpu: estimateMemory(recipe, {...opts, backend: 'cpu'}),
    tensorflow: estimateMemory(recipe, {...opts, backend: 'tensorflow'}),
  }
}
