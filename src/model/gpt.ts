/**
 * The GPT of the official Parameter Golf baseline (`train_gpt.py`), in backend-agnostic tfjs,
 * plus the ternary-record features: factored embedding, depth recurrence, staged ternary
 * quantization of chosen matrices (straight-through). Reads top-down:
 *   rmsNorm → rotary → attention (GQA) → relu² MLP → block → GPT (embed, U-Net, head, loss).
 *
 * Goals: parameter names and maths of the PyTorch reference (checkpoints map across), exact
 * ternary forward (what is trained is what is packed), no tensor leaks, modest memory.
 * Non-goals: speed tricks. Plain tf ops only; the backend adapter (src/backend) makes matMul
 * fast. Activations stay 2-D (N = B·T rows) except inside attention, so most products are
 * plain 2-D matMuls.
 *
 * Needs tfjs-core's gradients registered (initBackend() or registerAllGradients() in
 * src/backend) before training. Depth recurrence shares everything of a block, including its
 * scales, resid_mix and q_gain, across its R applications; a factored embedding is projected
 * E→D before the embedding RMSNorm and D→E after the final one.
 *
 * Shapes: B batch, T sequence, N = B·T, V vocab, E embedding width, D model width, H query
 * heads, KV key/value heads, Dh = D/H, M = mlp_mult·D. Linear weights are [out, in]: y = x·Wᵀ.
 */
import * as tf from '@tensorflow/tfjs-core'

import {InputError} from '../errors.js'
import {namedRandom} from '../util/random.js'
import {floatStoreSTE, floatStoreSTEMany, type FloatStoreFormat} from '../quant/float-store.js'
import {groupLayout, ternaryWeightSTE, type TernaryConfig} from '../quant/ternary.js'
import {modelDims, numel, paramSpecs, type ModelConfig, type ParamSpec} from './config.js'

/** F.rms_norm with eps=None uses torch.finfo(float32).eps. */
export const RMS_EPS = 1.1920928955078125e-7

/** Additive causal mask value: exp() of it is exactly 0 in float32, and it stays finite. */
const MASKED = -1e30

// ---------------------------------------------------------------------------------------------
// Pieces (pure functions of tensors; the gradient checks test each one)

/** RMS-normalise over the last axis, no weight: x / sqrt(mean(x²) + eps). */
export function rmsNorm<T extends tf.Tensor>(x: T, eps = RMS_EPS): T {
  const ms = tf.mean(tf.square(x), -1, true)
  return tf.mul(x, tf.rsqrt(tf.add(ms, eps))) as T
}

/** y = x·Wᵀ for x (N, in), W [out, in] → (N, out). */
export function linear(x: tf.Tensor2D, w: tf.Tensor2D): tf.Tensor2D {
  return tf.matMul(x, w, false, true)
}

/**
 * RoPE tables as the official Rotary: inv_freq[i] = base^(-2i/Dh) (float32), angle = t·inv_freq.
 * Returns cos, sin of shape (T, Dh/2).
 */
export function rotaryTables(T: number, Dh: number, base: number): {cos: Float32Array; sin: Float32Array} {
  const half = Dh / 2
  const cos = new Float32Array(T * half)
  const sin = new Float32Array(T * half)
  for (let i = 0; i < half; i++) {
    const invFreq = Math.fround(1 / Math.fround(Math.pow(base, Math.fround((2 * i) / Dh))))
    for (let t = 0; t < T; t++) {
      const angle = Math.fround(t * invFreq)
      cos[t * half + i] = Math.cos(angle)
      sin[t * half + i] = Math.sin(angle)
    }
  }
  return {cos, sin}
}

/**
 * Half-split rotation (not interleaved), as the official apply_rotary_emb:
 * x = [x1, x2] → [x1·cos + x2·sin, x2·cos − x1·sin]. x (..., T, Dh), cos/sin (T, Dh/2).
 */
export function applyRotary(x: tf.Tensor4D, cos: tf.Tensor2D, sin: tf.Tensor2D): tf.Tensor4D {
  const half = x.shape[3] / 2
  const [x1, x2] = tf.split(x, [half, half], 3) // (B, h, T, Dh/2) each
  const a = tf.add(tf.mul(x1, cos), tf.mul(x2, sin))
  const b = tf.sub(tf.mul(x2, cos), tf.mul(x1, sin))
  return tf.concat([a, b], 3) as tf.Tensor4D
}

/**
 * Query rows per tile of tiled causal attention (see causalBlock). Chosen by measurement on
 * wasm (bench/attention.ts: fwd+bwd, B=8, H=KV=4, Dh=64; ranges of medians over repeated runs
 * on a shared, loaded 2-core machine), time relative to the full path:
 *   T=256:  tiles of 32 ×1.2–1.6, 64 ×0.85–1.1, 128 ×0.85–1.0 (typically ×0.9)
 *   T=512:  tiles of 64 ×0.86–0.92, 128 ×0.82–0.91, 256 ×0.82–0.95
 *   T=1024: tiles of 128 ×0.74, 256 ×0.73, 512 ×0.77
 * The saving is far below the FLOPs skipped (T=256, 2 tiles: 25%) because every tile adds one
 * 2-D product per (batch, KV head) to each of the six products of fwd+bwd, each with a fixed
 * cost (~0.1–0.2 ms on the wasm adapter), plus slice/concat copies; 64 and 128 tie at T=256,
 * and the larger tile does fewer ops.
 */
export const CAUSAL_BLOCK = 128

/**
 * Tile height of causal attention at sequence length T: CAUSAL_BLOCK once T spans at least two
 * tiles, else T (one tile, i.e. the full-matrix path: tiling a single tile saves nothing).
 */
export function causalBlock(T: number): number {
  return T >= 2 * CAUSAL_BLOCK ? CAUSAL_BLOCK : T
}

/**
 * Additive causal masks for one sequence length, cut into query tiles of `block` rows:
 * tiles[i] is rows [s_i, end_i) × columns [0, end_i) of the (T, T) mask (0 where key ≤ query,
 * MASKED above), s_i = i·block, end_i = min(s_i + block, T). One tile = the whole (T, T) mask.
 */
export interface CausalMask {
  T: number
  block: number
  tiles: tf.Tensor2D[]
}

/** Build the tiles of a CausalMask (the caller keeps and disposes them). */
export function causalMask(T: number, block = causalBlock(T)): CausalMask {
  if (!Number.isInteger(block) || block < 1) throw new Error(`causalMask: block must be a positive integer, got ${block}`)
  const tiles: tf.Tensor2D[] = []
  for (let s = 0; s < T; s += block) {
    const end = Math.min(s + block, T)
    const m = new Float32Array((end - s) * end)
    for (let r = 0; r < end - s; r++) m.fill(MASKED, r * end + s + r + 1, (r + 1) * end)
    tiles.push(tf.tensor2d(m, [end - s, end]))
  }
  return {T, block: Math.min(block, T), tiles}
}

/**
 * Scaled dot-product attention with grouped KV heads: query head h reads KV head
 * floor(h / g), g = H/KV (repeat_interleave, as enable_gqa). The g query heads of a group are
 * stacked along the time axis so each KV head is used once, never copied: two batched 2-D
 * products per (batch, KV head). q (B, H, T, Dh), k/v (B, KV, T, Dh). Returns (B, H, T, Dh).
 *
 * mask null: bidirectional, full (T, T) scores. Causal with one tile: the full scores plus
 * the (T, T) additive mask (the reference). Causal with several tiles: query tile i (rows
 * [s_i, end_i)) scores only keys [0, end_i), so about half the score matrix (and of the
 * products' FLOPs) is never computed; the additive tile mask hides the rest of the diagonal
 * block; the tiles' outputs are concatenated back along time.
 */
export function attention(q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, mask: CausalMask | null): tf.Tensor4D {
  const [B, H, T, Dh] = q.shape
  const KV = k.shape[1]
  const g = H / KV
  if (mask && mask.T !== T) throw new Error(`attention: causal mask is for T=${mask.T}, queries have T=${T}`)
  const k3 = tf.reshape(k, [B * KV, T, Dh])
  const v3 = tf.reshape(v, [B * KV, T, Dh])
  // scores (B·KV, g·Tq, Tk) of queries (B, H, Tq, Dh) against the first Tk keys, masked, softmaxed
  // and applied to the first Tk values → (B, H, Tq, Dh)
  const part = (qt: tf.Tensor4D, Tk: number, m: tf.Tensor2D | null): tf.Tensor4D => {
    const Tq = qt.shape[2]
    const qg = tf.reshape(qt, [B * KV, g * Tq, Dh]) // (B·KV, g·Tq, Dh): heads kv·g … kv·g+g−1
    const kt = Tk === T ? k3 : tf.slice(k3, [0, 0, 0], [B * KV, Tk, Dh]) // (B·KV, Tk, Dh)
    const vt = Tk === T ? v3 : tf.slice(v3, [0, 0, 0], [B * KV, Tk, Dh])
    let scores: tf.Tensor = tf.mul(tf.matMul(qg, kt, false, true), 1 / Math.sqrt(Dh)) // (B·KV, g·Tq, Tk)
    if (m) scores = tf.add(tf.reshape(scores, [B * KV, g, Tq, Tk]), m) // mask broadcast over (B·KV, g)
    const att = tf.reshape(tf.softmax(scores, -1), [B * KV, g * Tq, Tk])
    return tf.reshape(tf.matMul(att, vt), [B, H, Tq, Dh]) // (B·KV, g·Tq, Dh) → (B, H, Tq, Dh)
  }
  if (!mask || mask.tiles.length === 1) return part(q, T, mask ? mask.tiles[0] : null)
  const qs = tf.split(q, mask.tiles.map((t) => t.shape[0]), 2) // (B, H, Tb_i, Dh) each
  const ys = qs.map((qt, i) => part(qt as tf.Tensor4D, mask.tiles[i].shape[1], mask.tiles[i]))
  return tf.concat(ys, 2) as tf.Tensor4D // (B, H, T, Dh)
}

/** The official relu² MLP: proj(relu(fc(x))²). x (N, D) → (N, D). */
export function mlp(x: tf.Tensor2D, fc: tf.Tensor2D, proj: tf.Tensor2D): tf.Tensor2D {
  return linear(tf.square(tf.relu(linear(x, fc))), proj)
}

/** cap·tanh(x/cap); cap null or 0 = identity. */
export function softcap<T extends tf.Tensor>(x: T, cap: number | null): T {
  if (!cap) return x
  return tf.mul(tf.tanh(tf.div(x, cap)), cap) as T
}

/**
 * Cross-entropy per row without a one-hot: nll = −logSoftmax(logits)[target], the target
 * entry picked by a flat gather (its gradient is a scatter-add of the same size as the
 * logits). logits (N, V), targets (N) int32. Returns nll (N) and lse = logsumexp(logits) (N)
 * for the z-loss, as logits[target] + nll.
 *
 * logSoftmax, not logits − logSumExp: tfjs' logSoftmax has its own gradient (dy − Σdy·softmax),
 * while logSumExp's backward goes through its max (a broadcast Equal over all logits, ~40 ms per
 * step on wasm) although that gradient is zero.
 */
export function crossEntropyRows(logits: tf.Tensor2D, targets: tf.Tensor1D): {nll: tf.Tensor1D; lse: tf.Tensor1D} {
  const [N, V] = logits.shape
  const flatIdx = tf.add(tf.mul(tf.range(0, N, 1, 'int32'), tf.scalar(V, 'int32')), targets) // (N)
  const pick = (t: tf.Tensor2D) => tf.gather(tf.reshape(t, [N * V]), flatIdx) as tf.Tensor1D // (N)
  const nll = tf.neg(pick(tf.logSoftmax(logits, -1)))
  return {nll, lse: tf.add(pick(logits), nll)}
}

// ---------------------------------------------------------------------------------------------
// Seeded initialisation (backend-independent: values come from JS, not from a tfjs kernel)


function fillNormal(n: number, std: number, rand: () => number): Float32Array {
  const out = new Float32Array(n)
  for (let i = 0; i < n; i += 2) {
    const u1 = 1 - rand() // (0, 1]
    const u2 = rand()
    const r = Math.sqrt(-2 * Math.log(u1)) * std
    out[i] = r * Math.cos(2 * Math.PI * u2)
    if (i + 1 < n) out[i + 1] = r * Math.sin(2 * Math.PI * u2)
  }
  return out
}

function fillUniform(n: number, bound: number, rand: () => number): Float32Array {
  const out = new Float32Array(n)
  for (let i = 0; i < n; i++) out[i] = (2 * rand() - 1) * bound
  return out
}

/**
 * Initial values as the official _init_weights: tied tok_emb ~ N(0, tied_embed_init_std)
 * (untied: N(0, 1) as nn.Embedding); `proj` of attention and MLP and an untied lm_head are
 * zero (_zero_init); other linears as nn.Linear's default kaiming_uniform(a=√5), i.e.
 * U(−1/√in, 1/√in); q_gain = qk_gain_init; scales 1; resid_mix = [1, 0]; skip_weights 1.
 */
export function initialValue(spec: ParamSpec, cfg: ModelConfig, seed: number): Float32Array {
  const n = numel(spec.shape)
  const leaf = spec.name.split('.').slice(-2).join('.')
  if (spec.name === 'tok_emb.weight') return fillNormal(n, cfg.tie_embeddings ? cfg.tied_embed_init_std : 1, namedRandom(seed, spec.name))
  if (spec.name === 'lm_head.weight' || leaf === 'proj.weight') return new Float32Array(n)
  if (spec.name.endsWith('q_gain')) return new Float32Array(n).fill(cfg.qk_gain_init)
  if (spec.name.endsWith('resid_mix')) return new Float32Array(n).fill(1, 0, n / 2) // row 0 ones, row 1 zeros
  if (spec.shape.length === 1 || spec.name === 'skip_weights') return new Float32Array(n).fill(1)
  return fillUniform(n, 1 / Math.sqrt(spec.shape[1]), namedRandom(seed, spec.name))
}

// ---------------------------------------------------------------------------------------------
// The model

export interface GPTOptions {
  seed: number
  /** Which tensors are ternary (globs over parameter names) and how they are quantized. */
  ternary: {patterns: readonly string[]; config: TernaryConfig}
  /**
   * Storage precision of the non-ternary tensors, simulated in the forward pass while
   * quantActive (straight-through), so an artifact's float tensors are exactly what trained.
   * Default fp32 (no rounding).
   */
  floatFormat?: FloatStoreFormat
}

export interface ForwardOptions {
  /** Causal mask (default). false = bidirectional, for masked-diffusion objectives. */
  causal?: boolean
}

let nextModelId = 0

export class GPT {
  readonly cfg: ModelConfig
  readonly specs: ParamSpec[]
  /** Trainable variables by parameter name, in paramSpecs order. */
  readonly params: Map<string, tf.Variable>
  /** Staged quantization switch: when true, ternary tensors enter the forward pass as q·d (STE). */
  quantActive = false
  private readonly ternaryConfig: TernaryConfig
  private readonly floatFormat: FloatStoreFormat
  private readonly dims: ReturnType<typeof modelDims>
  private readonly varPrefix: string
  private readonly cache = new Map<string, tf.Tensor>() // rotary tables, per T
  private readonly masks = new Map<number, CausalMask>() // causal mask tiles, per T

  constructor(cfg: ModelConfig, opts: GPTOptions) {
    this.cfg = cfg
    this.specs = paramSpecs(cfg, opts.ternary.patterns)
    this.dims = modelDims(cfg)
    this.ternaryConfig = opts.ternary.config
    this.floatFormat = opts.floatFormat ?? 'fp32'
    for (const spec of this.specs) {
      if (!spec.ternary) continue
      try {
        groupLayout(spec.shape as [number, number], this.ternaryConfig.groupSize)
      } catch (err) {
        // fail at build time, naming the tensor, not at the first quantized step
        throw new InputError(`${spec.name}: ${(err as Error).message}`)
      }
    }
    // Variable names are global in tfjs; the prefix lets several models coexist.
    this.varPrefix = `gpt${nextModelId++}/`
    this.params = new Map()
    for (const spec of this.specs) {
      const value = tf.tensor(initialValue(spec, cfg, opts.seed), spec.shape, 'float32')
      this.params.set(spec.name, tf.variable(value, true, this.varPrefix + spec.name))
      value.dispose()
    }
  }

  /** Maps tf.variableGrads' result (keyed by variable name) back to parameter names. */
  gradsByParam(grads: tf.NamedTensorMap): Map<string, tf.Tensor> {
    const out = new Map<string, tf.Tensor>()
    for (const name of this.params.keys()) {
      const g = grads[this.varPrefix + name]
      if (g) out.set(name, g)
    }
    return out
  }

  /** The tensor each parameter contributes to the forward pass (q·d for active ternary ones). */
  private effectiveWeights(): Map<string, tf.Tensor> {
    const w = new Map<string, tf.Tensor>()
    // the float tensors are rounded together (same values as one by one, far fewer kernels)
    const floats = this.quantActive ? this.specs.filter((s) => !s.ternary) : []
    const stored = floatStoreSTEMany(floats.map((s) => this.params.get(s.name)!), this.floatFormat)
    floats.forEach((s, i) => w.set(s.name, stored[i]))
    for (const spec of this.specs) if (!w.has(spec.name)) w.set(spec.name, this.storedValue(spec, this.params.get(spec.name)!))
    return w
  }

  /**
   * The value a parameter enters the forward pass with: while quantActive, exactly what an
   * artifact stores (q·d for ternary tensors, the float storage format for the others), with
   * straight-through gradients; otherwise the variable itself.
   */
  private storedValue(spec: ParamSpec, v: tf.Variable): tf.Tensor {
    if (!this.quantActive) return v
    if (spec.ternary) return ternaryWeightSTE(v as tf.Tensor2D, this.ternaryConfig)
    return floatStoreSTE(v, this.floatFormat)
  }

  private cached(key: string, make: () => tf.Tensor): tf.Tensor {
    let t = this.cache.get(key)
    if (!t) {
      t = tf.keep(make())
      this.cache.set(key, t)
    }
    return t
  }

  private rotary(T: number): {cos: tf.Tensor2D; sin: tf.Tensor2D} {
    const {Dh} = this.dims
    const half = Dh / 2
    const tables = () => rotaryTables(T, Dh, this.cfg.rope_base)
    let t: ReturnType<typeof rotaryTables> | undefined
    const cos = this.cached(`cos${T}`, () => tf.tensor2d((t ??= tables()).cos, [T, half])) as tf.Tensor2D
    const sin = this.cached(`sin${T}`, () => tf.tensor2d((t ??= tables()).sin, [T, half])) as tf.Tensor2D
    return {cos, sin}
  }

  private causalMask(T: number): CausalMask {
    let m = this.masks.get(T)
    if (!m) {
      m = causalMask(T)
      for (const t of m.tiles) tf.keep(t) // built inside the caller's tidy
      this.masks.set(T, m)
    }
    return m
  }

  /** One transformer block on x (N, D); i = unique block index. */
  private block(w: Map<string, tf.Tensor>, i: number, x: tf.Tensor2D, x0: tf.Tensor2D, B: number, T: number, causal: boolean): tf.Tensor2D {
    const {D, H, KV, Dh} = this.dims
    const p = (name: string) => w.get(`blocks.${i}.${name}`)!
    if (this.cfg.x0_mix) {
      const [m0, m1] = tf.split(p('resid_mix'), 2, 0) // (1, D) each
      x = tf.add(tf.mul(m0, x), tf.mul(m1, x0))
    }

    // attention
    const h = rmsNorm(x)
    const heads = (t: tf.Tensor2D, n: number) => tf.transpose(tf.reshape(t, [B, T, n, Dh]), [0, 2, 1, 3]) as tf.Tensor4D // (B, n, T, Dh)
    let q = heads(linear(h, p('attn.c_q.weight') as tf.Tensor2D), H) // (B, H, T, Dh)
    let k = heads(linear(h, p('attn.c_k.weight') as tf.Tensor2D), KV) // (B, KV, T, Dh)
    const v = heads(linear(h, p('attn.c_v.weight') as tf.Tensor2D), KV) // (B, KV, T, Dh)
    if (this.cfg.qk_norm) {
      q = rmsNorm(q)
      k = rmsNorm(k)
    }
    const {cos, sin} = this.rotary(T)
    q = applyRotary(q, cos, sin)
    k = applyRotary(k, cos, sin)
    q = tf.mul(q, tf.reshape(p('attn.q_gain'), [1, H, 1, 1]))
    const y = attention(q, k, v, causal ? this.causalMask(T) : null) // (B, H, T, Dh)
    const y2 = tf.reshape(tf.transpose(y, [0, 2, 1, 3]), [B * T, D]) as tf.Tensor2D // (N, D)
    x = tf.add(x, tf.mul(p('attn_scale'), linear(y2, p('attn.proj.weight') as tf.Tensor2D)))

    // MLP
    const m = mlp(rmsNorm(x), p('mlp.fc.weight') as tf.Tensor2D, p('mlp.proj.weight') as tf.Tensor2D)
    return tf.add(x, tf.mul(p('mlp_scale'), m))
  }

  /** Logits as (N, V) rows; the body of forward() and the losses. */
  private logitsRows(tokens: tf.Tensor2D, opts: ForwardOptions = {}): tf.Tensor2D {
    if (tokens.dtype !== 'int32') throw new Error(`GPT.forward: tokens must be int32, got ${tokens.dtype}`)
    const [B, T] = tokens.shape
    const causal = opts.causal ?? true
    const {L, numSkips, factored} = this.dims
    const K = this.cfg.unique_blocks
    const w = this.effectiveWeights()

    let x = tf.gather(w.get('tok_emb.weight')!, tf.reshape(tokens, [B * T])) as tf.Tensor2D // (N, E)
    if (factored) x = linear(x, w.get('embed_proj.weight') as tf.Tensor2D) // (N, D)
    x = rmsNorm(x)
    const x0 = x

    // Layer applications j = 0..L-1 run unique block j mod K. With U-Net skips the first
    // floor(L/2) push their output; the rest pop (last in, first out) and add skip_weights[i]·skip.
    const encoder = numSkips > 0 ? Math.floor(L / 2) : 0
    const skips: tf.Tensor2D[] = []
    // numSkips × (1, D); a 1-way split has no working gradient in tfjs, hence the special case
    const skipW = numSkips > 1 ? tf.split(w.get('skip_weights')!, numSkips, 0) : numSkips === 1 ? [w.get('skip_weights')!] : []
    for (let j = 0; j < L; j++) {
      if (j >= encoder && skips.length > 0) x = tf.add(x, tf.mul(skipW[j - encoder], skips.pop()!))
      x = this.block(w, j % K, x, x0, B, T, causal)
      if (j < encoder) skips.push(x)
    }

    x = rmsNorm(x)
    if (factored) x = linear(x, w.get('head_proj.weight') as tf.Tensor2D) // (N, E)
    const head = (this.cfg.tie_embeddings ? w.get('tok_emb.weight') : w.get('lm_head.weight')) as tf.Tensor2D // [V, E]
    return softcap(linear(x, head), this.cfg.logit_softcap) // (N, V)
  }

  /** Logits (B, T, V) float32 for int32 tokens (B, T). */
  forward(tokens: tf.Tensor2D, opts: ForwardOptions = {}): tf.Tensor3D {
    return tf.tidy(() => {
      const [B, T] = tokens.shape
      return tf.reshape(this.logitsRows(tokens, opts), [B, T, this.dims.V]) as tf.Tensor3D // (B, T, V)
    })
  }

  /** Next-token cross-entropy in nats per position, (B, T). */
  lossPerToken(inputs: tf.Tensor2D, targets: tf.Tensor2D, opts: ForwardOptions = {}): tf.Tensor2D {
    return tf.tidy(() => {
      const [B, T] = inputs.shape
      const {nll} = crossEntropyRows(this.logitsRows(inputs, opts), tf.reshape(targets, [B * T]) as tf.Tensor1D)
      return tf.reshape(nll, [B, T]) as tf.Tensor2D
    })
  }

  /** Mean cross-entropy (+ zLoss · mean(logsumexp²) when zLoss > 0): the training loss. */
  loss(inputs: tf.Tensor2D, targets: tf.Tensor2D, opts: ForwardOptions & {zLoss?: number} = {}): tf.Scalar {
    return tf.tidy(() => {
      const [B, T] = inputs.shape
      const {nll, lse} = crossEntropyRows(this.logitsRows(inputs, opts), tf.reshape(targets, [B * T]) as tf.Tensor1D)
      let loss = tf.mean(nll) as tf.Scalar
      if (opts.zLoss) loss = tf.add(loss, tf.mul(tf.mean(tf.square(lse)), opts.zLoss))
      return loss
    })
  }

  /** What the forward pass uses for each parameter, copied out (q·d for active ternary tensors). */
  dequantizedWeights(): Map<string, Float32Array> {
    const out = new Map<string, Float32Array>()
    for (const spec of this.specs) {
      const v = this.params.get(spec.name)!
      if (!this.quantActive) {
        out.set(spec.name, Float32Array.from(v.dataSync() as Float32Array))
        continue
      }
      // clone: storedValue may return the variable itself (fp32), which tidy must not dispose
      const q = tf.tidy(() => this.storedValue(spec, v).clone())
      out.set(spec.name, Float32Array.from(q.dataSync() as Float32Array))
      q.dispose()
    }
    return out
  }

  /** Raw parameter values (the float shadow weights for ternary tensors), copied out. */
  weights(): Map<string, Float32Array> {
    const out = new Map<string, Float32Array>()
    for (const [name, v] of this.params) out.set(name, Float32Array.from(v.dataSync() as Float32Array))
    return out
  }

  /** Assign every parameter; checks names and sizes first, so a bad map changes nothing. */
  loadWeights(w: Map<string, Float32Array>): void {
    for (const spec of this.specs) {
      const data = w.get(spec.name)
      if (!data) throw new InputError(`weights: missing tensor "${spec.name}" (shape [${spec.shape.join(', ')}])`)
      if (data.length !== numel(spec.shape)) {
        throw new InputError(`weights: tensor "${spec.name}" has ${data.length} values, expected shape [${spec.shape.join(', ')}] = ${numel(spec.shape)}`)
      }
    }
    for (const name of w.keys()) {
      if (!this.params.has(name)) throw new InputError(`weights: unexpected tensor "${name}" (not a parameter of this model config)`)
    }
    for (const spec of this.specs) {
      tf.tidy(() => this.params.get(spec.name)!.assign(tf.tensor(w.get(spec.name)!, spec.shape, 'float32')))
    }
  }

  dispose(): void {
    for (const v of this.params.values()) v.dispose()
    for (const t of this.cache.values()) t.dispose()
    this.cache.clear()
    for (const m of this.masks.values()) tf.dispose(m.tiles)
    this.masks.clear()
  }
}
