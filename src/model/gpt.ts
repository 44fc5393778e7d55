/**
 * The GPT of the official Parameter Golf baseline (`train_gpt.py`), in backend-agnostic tfjs,
 * plus the ternary-record features: factored embedding, depth recurrence, staged ternary
 * quantization of chosen matrices (straight-through). Reads top-down:
 *   rmsNorm → rotary → relu² MLP → block → GPT (embed, U-Net, head, loss).
 * Attention (GQA) and its masks are in attention.ts; the KV cache of incremental decoding
 * (forwardCached, commitCached) in kv-cache.ts.
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
import {FLOAT_ACTIVATIONS, quantizeActivations, type ActivationSites} from '../quant/activations.js'
import {floatStoreSTE, floatStoreSTEMany, type FloatStoreFormat} from '../quant/float-store.js'
import {checkKVQuant, type KVQuantConfig} from '../quant/kv-cache.js'
import {groupLayout, ternaryWeightSTE, type TernaryConfig} from '../quant/ternary.js'
import {additiveMask, attention, BIDIRECTIONAL, blockDiffusionMask, blockDiffusionTile, blockDiffusionTiles, CAUSAL, causalMask, leadingRows, MASKED, type AttentionLayout, type CausalMask} from './attention.js'
import {modelDims, numel, paramSpecs, type ModelConfig, type ParamSpec} from './config.js'
import {cachedPattern, LayerCache, prefixAttention, quantizedAttention, quantizedPlan, type CachedForwardOptions, type CachedWithin, type KVCache} from './kv-cache.js'
import {recomputed} from './recompute.js'

/** F.rms_norm with eps=None uses torch.finfo(float32).eps. */
export const RMS_EPS = 1.1920928955078125e-7


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
 * The official relu² MLP: proj(relu(fc(x))²). x (N, D) → (N, D). `down` maps the hidden
 * activations (N, M) before proj (the activation quantizer of that site; default identity).
 */
export function mlp(x: tf.Tensor2D, fc: tf.Tensor2D, proj: tf.Tensor2D, down: (h: tf.Tensor2D) => tf.Tensor2D = (h) => h): tf.Tensor2D {
  return linear(down(tf.square(tf.relu(linear(x, fc)))), proj)
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

/** A block's attention: q (B, H, T, Dh) over k/v (B, KV, Tk, Dh) → (B, H, T, Dh). */
type Attend = (q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D) => tf.Tensor4D

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
  /** Causal mask (default). false = bidirectional (shorthand for attention: BIDIRECTIONAL). */
  causal?: boolean
  /** Who attends to whom (default causal); overrides `causal`. */
  attention?: AttentionLayout
  /**
   * A token id whose logit is −∞ (the SUBS parameterization of masked diffusion: the model
   * never predicts [MASK]). null = none.
   */
  suppress?: number | null
}

/** The layout a ForwardOptions asks for. */
function layoutOf(opts: ForwardOptions): AttentionLayout {
  return opts.attention ?? (opts.causal === false ? BIDIRECTIONAL : CAUSAL)
}

/** Output positions per row for an input of T tokens: the x_t half under block diffusion. */
export function outputLength(T: number, layout: AttentionLayout): number {
  if (layout.kind !== 'block-diffusion') return T
  if (T % 2 !== 0) throw new Error(`block-diffusion input must hold [x_t ‖ x_0], an even length, got ${T}`)
  return T / 2
}

let nextModelId = 0

export class GPT {
  readonly cfg: ModelConfig
  readonly specs: ParamSpec[]
  /** Trainable variables by parameter name, in paramSpecs order. */
  readonly params: Map<string, tf.Variable>
  /** Staged quantization switch: when true, ternary tensors enter the forward pass as q·d (STE). */
  quantActive = false
  /**
   * Recompute each layer's intermediates in the backward pass instead of keeping them
   * (src/model/recompute.ts): the same gradients for one more forward pass, and a training step
   * that holds one layer's activations instead of all of them. No effect outside training.
   */
  recompute = false
  /**
   * What each block's matrix products see of their inputs (src/quant/activations.ts): float, or
   * 8/4-bit per token, optionally sparsified. Part of the forward pass everywhere (training,
   * evaluation, sampling); staged runs change it between steps.
   */
  activations: ActivationSites = FLOAT_ACTIVATIONS
  private readonly ternaryConfig: TernaryConfig
  private readonly floatFormat: FloatStoreFormat
  private readonly dims: ReturnType<typeof modelDims>
  private readonly varPrefix: string
  private readonly cache = new Map<string, tf.Tensor>() // rotary tables, per T
  private readonly masks = new Map<string, CausalMask>() // attention mask tiles, per layout and T
  private readonly blockNames = new Map<number, string[]>()

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

  /** RoPE tables for T rows; `halves`: rows n..2n−1 repeat positions 0..n−1 ([x_t ‖ x_0]). */
  private rotary(T: number, halves = false): {cos: tf.Tensor2D; sin: tf.Tensor2D} {
    const {Dh} = this.dims
    const half = Dh / 2
    const n = halves ? T / 2 : T
    const tables = () => {
      const one = rotaryTables(n, Dh, this.cfg.rope_base)
      if (!halves) return one
      const twice = (a: Float32Array) => {
        const out = new Float32Array(2 * a.length)
        out.set(a)
        out.set(a, a.length)
        return out
      }
      return {cos: twice(one.cos), sin: twice(one.sin)}
    }
    let t: ReturnType<typeof rotaryTables> | undefined
    const key = `${halves ? 'h' : ''}${T}`
    const cos = this.cached(`cos${key}`, () => tf.tensor2d((t ??= tables()).cos, [T, half])) as tf.Tensor2D
    const sin = this.cached(`sin${key}`, () => tf.tensor2d((t ??= tables()).sin, [T, half])) as tf.Tensor2D
    return {cos, sin}
  }

  /**
   * The mask tiles of a layout at T input tokens (null: bidirectional, no mask); `rows`: only
   * the first `rows` query rows' tiles (`leadingRows`).
   */
  private attentionMask(T: number, layout: AttentionLayout, rows = T): CausalMask | null {
    if (layout.kind === 'bidirectional') return null
    const key = `${layout.kind === 'causal' ? `c${T}` : `bd${layout.block}:${T}`}${rows === T ? '' : `:q${rows}`}`
    return this.cachedMask(key, () => {
      if (rows !== T) return leadingRows(this.attentionMask(T, layout)!, rows)
      if (layout.kind === 'causal') return causalMask(T)
      const n = outputLength(T, layout)
      const tile = blockDiffusionTile(n, layout.block)
      return tile === null ? additiveMask(blockDiffusionMask(n, layout.block), T) : blockDiffusionTiles(n, layout.block, tile)
    })
  }

  /**
   * BD3-LM's clean half on itself, n tokens in blocks of `block`: block-causal, in query tiles
   * when the half spans two (`blockDiffusionTile`); null when one block covers it (bidirectional).
   */
  private blockCausalMask(n: number, block: number): CausalMask | null {
    if (n <= block) return null
    return this.cachedMask(`bc${block}:${n}`, () => causalMask(n, blockDiffusionTile(n, block) ?? n, block))
  }

  /** The mask under `key`, made once and kept for the model's life (`masks`). */
  private cachedMask(key: string, make: () => CausalMask): CausalMask {
    let m = this.masks.get(key)
    if (!m) {
      m = make()
      for (const t of m.tiles) tf.keep(t) // built inside the caller's tidy
      this.masks.set(key, m)
    }
    return m
  }

  /**
   * One transformer block on x (N = B·T, D); i = unique block index; cos/sin the RoPE rows of
   * the T positions; `attend` does the attention of q (B, H, Tq, Dh) over k/v (B, KV, T, Dh):
   * the full forward attends under a mask, the cached forward over its cached keys first.
   * `keep` < T: only the first `keep` positions of each sequence are wanted downstream, so only
   * their queries, attention output and MLP are computed (every position still gives its key
   * and value); returns (B·keep, D). Activation quantization is per row, so this changes no
   * kept value. `keep` = 0: only the keys and values, handed to `attend` with an empty query
   * (B, H, 0, Dh); returns (0, D).
   */
  private block(w: ReadonlyMap<string, tf.Tensor>, i: number, x: tf.Tensor2D, x0: tf.Tensor2D, B: number, T: number, rope: {cos: tf.Tensor2D; sin: tf.Tensor2D}, attend: Attend, keep = T): tf.Tensor2D {
    const {D, H, KV, Dh} = this.dims
    const p = (name: string) => w.get(`blocks.${i}.${name}`)!
    if (this.cfg.x0_mix) {
      const [m0, m1] = tf.split(p('resid_mix'), 2, 0) // (1, D) each
      x = tf.add(tf.mul(m0, x), tf.mul(m1, x0))
    }
    // the first `keep` positions of each sequence: (B·T, W) → (B·keep, W)
    const leading = (t: tf.Tensor2D) => (keep === T ? t : (tf.reshape(tf.slice(tf.reshape(t, [B, T, -1]), [0, 0, 0], [B, keep, -1]), [B * keep, -1]) as tf.Tensor2D))

    const act = this.activations
    // attention
    const h = quantizeActivations(rmsNorm(x), act.attn_in)
    const heads = (t: tf.Tensor2D, n: number, len = T) => tf.transpose(tf.reshape(t, [B, len, n, Dh]), [0, 2, 1, 3]) as tf.Tensor4D // (B, n, len, Dh)
    let k = heads(linear(h, p('attn.c_k.weight') as tf.Tensor2D), KV) // (B, KV, T, Dh)
    const v = heads(linear(h, p('attn.c_v.weight') as tf.Tensor2D), KV) // (B, KV, T, Dh)
    if (this.cfg.qk_norm) k = rmsNorm(k)
    k = applyRotary(k, rope.cos, rope.sin)
    if (keep === 0) {
      // keys and values only: `attend` sees them with no query rows, and nothing is output
      attend(tf.zeros([B, H, 0, Dh]), k, v)
      return tf.zeros([0, D])
    }
    let q = heads(linear(leading(h), p('attn.c_q.weight') as tf.Tensor2D), H, keep) // (B, H, keep, Dh)
    if (this.cfg.qk_norm) q = rmsNorm(q)
    const qRope = keep === T ? rope : {cos: tf.slice(rope.cos, [0, 0], [keep, -1]), sin: tf.slice(rope.sin, [0, 0], [keep, -1])}
    q = applyRotary(q, qRope.cos, qRope.sin)
    q = tf.mul(q, tf.reshape(p('attn.q_gain'), [1, H, 1, 1]))
    const y = attend(q, k, v) // (B, H, keep, Dh)
    const y2 = quantizeActivations(tf.reshape(tf.transpose(y, [0, 2, 1, 3]), [B * keep, D]) as tf.Tensor2D, act.attn_out) // (B·keep, D)
    x = tf.add(leading(x), tf.mul(p('attn_scale'), linear(y2, p('attn.proj.weight') as tf.Tensor2D)))

    // MLP
    const m = mlp(quantizeActivations(rmsNorm(x), act.ffn_in), p('mlp.fc.weight') as tf.Tensor2D, p('mlp.proj.weight') as tf.Tensor2D, (a) => quantizeActivations(a, act.ffn_down))
    return tf.add(x, tf.mul(p('mlp_scale'), m))
  }

  /** Token embedding → (N, D) rows, normalised: the residual stream's start and x0. */
  private embed(w: ReadonlyMap<string, tf.Tensor>, tokens: tf.Tensor2D): tf.Tensor2D {
    const [B, T] = tokens.shape
    let x = tf.gather(w.get('tok_emb.weight')!, tf.reshape(tokens, [B * T])) as tf.Tensor2D // (N, E)
    if (this.dims.factored) x = linear(x, w.get('embed_proj.weight') as tf.Tensor2D) // (N, D)
    return rmsNorm(x)
  }

  /**
   * Layer applications j = 0..L-1 run unique block j mod K. With U-Net skips the first
   * floor(L/2) push their output; the rest pop (last in, first out) and add skip_weights[i]·skip.
   * `attend(j)` is application j's attention. `keep` < T: only the first `keep` positions of each
   * sequence are read from the output, so the last application computes only theirs (see
   * `block`; block diffusion's x_t half) and the result is (B·keep, D); 0: the last application
   * only gives `attend` its keys and values (the detached clean half).
   */
  private layers(w: ReadonlyMap<string, tf.Tensor>, x: tf.Tensor2D, B: number, T: number, rope: {cos: tf.Tensor2D; sin: tf.Tensor2D}, attend: (j: number) => Attend, keep = T): tf.Tensor2D {
    const {L, numSkips} = this.dims
    const K = this.cfg.unique_blocks
    const x0 = x
    const encoder = numSkips > 0 ? Math.floor(L / 2) : 0
    const skips: tf.Tensor2D[] = []
    // numSkips × (1, D); a 1-way split has no working gradient in tfjs, hence the special case
    const skipW = numSkips > 1 ? tf.split(w.get('skip_weights')!, numSkips, 0) : numSkips === 1 ? [w.get('skip_weights')!] : []
    // Recording a tape (training): every layer's intermediates stay for the backward pass, unless
    // `recompute`. Not recording (evaluation): each layer runs in its own tidy and the residual
    // stream it replaced is freed, so a forward pass holds one layer's intermediates at a time.
    const tape = tf.engine().isTapeOn()
    const release = (t: tf.Tensor) => {
      if (!tape && t !== x0 && !skips.includes(t as tf.Tensor2D)) t.dispose()
    }
    for (let j = 0; j < L; j++) {
      if (j >= encoder && skips.length > 0) {
        const s = skips.pop()!
        const next = tape ? tf.add(x, tf.mul(skipW[j - encoder], s)) : tf.tidy(() => tf.add(x, tf.mul(skipW[j - encoder], s)))
        release(x)
        release(s)
        x = next as tf.Tensor2D
      }
      const i = j % K
      const rows = j === L - 1 ? keep : T
      let next: tf.Tensor2D
      if (tape && !this.recompute) next = this.block(w, i, x, x0, B, T, rope, attend(j), rows)
      else {
        // block i as a function of everything trainable it reads: its weights, x and x0
        const names = this.blockParams(i)
        const mix = this.cfg.x0_mix
        const run = (xi: tf.Tensor, ...rest: tf.Tensor[]) => {
          const wi = new Map(names.map((n, k) => [n, rest[(mix ? 1 : 0) + k]]))
          return this.block(wi, i, xi as tf.Tensor2D, (mix ? rest[0] : xi) as tf.Tensor2D, B, T, rope, attend(j), rows)
        }
        next = recomputed(run, [x, ...(mix ? [x0] : []), ...names.map((n) => w.get(n)!)]) as tf.Tensor2D
      }
      release(x)
      x = next
      if (j < encoder) skips.push(x)
    }
    return x
  }

  /** The parameter names unique block i reads (`blocks.<i>.…`). */
  private blockParams(i: number): string[] {
    let names = this.blockNames.get(i)
    if (!names) {
      names = this.specs.filter((s) => s.name.startsWith(`blocks.${i}.`)).map((s) => s.name)
      this.blockNames.set(i, names)
    }
    return names
  }

  /** Final norm → head → soft-cap (→ SUBS suppression): (N, D) → (N, V) logits. */
  private head(w: ReadonlyMap<string, tf.Tensor>, x: tf.Tensor2D, suppress: number | null | undefined): tf.Tensor2D {
    x = rmsNorm(x)
    if (this.dims.factored) x = linear(x, w.get('head_proj.weight') as tf.Tensor2D) // (N, E)
    const head = (this.cfg.tie_embeddings ? w.get('tok_emb.weight') : w.get('lm_head.weight')) as tf.Tensor2D // [V, E]
    const logits = softcap(linear(x, head), this.cfg.logit_softcap) // (N, V)
    if (suppress === undefined || suppress === null) return logits
    return tf.add(logits, this.suppressRow(suppress)) // SUBS: the suppressed id's logit is −∞
  }

  /**
   * Logits as (B·Tout, V) rows; the body of forward() and the losses. Tout = T, or the x_t half
   * (T/2) under block diffusion, whose x_0 half only serves as keys and values: its rows leave
   * the last layer application out (queries, attention output, MLP), about a quarter of that
   * layer's work skipped at no change to any output.
   */
  private logitsRows(tokens: tf.Tensor2D, opts: ForwardOptions = {}): tf.Tensor2D {
    if (tokens.dtype !== 'int32') throw new Error(`GPT.forward: tokens must be int32, got ${tokens.dtype}`)
    const [B, T] = tokens.shape
    const layout = layoutOf(opts)
    const Tout = outputLength(T, layout)
    const w = this.effectiveWeights()
    if (layout.kind === 'block-diffusion' && layout.cleanGradient === false) return this.head(w, this.detachedCleanRows(w, tokens, layout.block), opts.suppress)
    const mask = this.attentionMask(T, layout)
    const lastMask = Tout === T ? mask : this.attentionMask(T, layout, Tout)
    const L = this.dims.L
    const attend = (j: number): Attend => (q, k, v) => attention(q, k, v, j === L - 1 ? lastMask : mask)
    const x = this.layers(w, this.embed(w, tokens), B, T, this.rotary(T, layout.kind === 'block-diffusion'), attend, Tout) // (B·Tout, D)
    return this.head(w, x, opts.suppress) // (B·Tout, V)
  }

  /**
   * Block diffusion with the clean half detached (`cleanGradient: false`): the last layer's
   * output rows (B·n, D) of the x_t half of [x_t ‖ x_0] (B, 2n). Pass 1 runs the x_0 half alone
   * (block-causal on itself, as in the joint pass) inside one custom op, so the tape records
   * nothing of it, and returns every layer application's keys and values stacked (the last
   * application computes nothing else: its outputs would never be read). Pass 2 runs
   * the x_t half, each application attending over [its own keys ‖ the clean ones] under the x_t
   * rows of the joint mask. Same values as the joint pass; the clean keys and values are
   * constants of the backward pass.
   */
  private detachedCleanRows(w: ReadonlyMap<string, tf.Tensor>, tokens: tf.Tensor2D, block: number): tf.Tensor2D {
    const [B, T2] = tokens.shape
    const layout: AttentionLayout = {kind: 'block-diffusion', block}
    const n = outputLength(T2, layout)
    const rope = this.rotary(n)
    const cleanMask = this.blockCausalMask(n, block)
    const clean = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
      // a custom op's forward runs as a kernel: nothing is recorded, and each layer frees its
      // intermediates (the evaluation path of `layers`), so the keys and values are kept here
      const kv: tf.Tensor4D[] = [] // k0, v0, k1, v1, …: (B, KV, n, Dh) each
      const attendClean = (): Attend => (q, k, v) => {
        kv.push(tf.keep(k), tf.keep(v))
        return attention(q, k, v, cleanMask)
      }
      try {
        // keep 0: the last application's outputs are never read, only its keys and values
        tf.dispose(this.layers(w, this.embed(w, tf.slice(tokens, [0, n], [B, n])), B, n, rope, attendClean, 0))
        return {value: tf.stack(kv), gradFunc: () => [tf.zerosLike(args[0] as tf.Tensor)]}
      } finally {
        tf.dispose(kv)
      }
    })(tf.scalar(0)) // (2L, B, KV, n, Dh); its input is a constant, so backprop never enters it
    const parts = tf.unstack(clean) as tf.Tensor4D[]
    const lastMask = this.attentionMask(T2, layout, n)!
    const attend = (j: number): Attend => (q, k, v) => attention(q, tf.concat([k, parts[2 * j]], 2) as tf.Tensor4D, tf.concat([v, parts[2 * j + 1]], 2) as tf.Tensor4D, lastMask)
    return this.layers(w, this.embed(w, tf.slice(tokens, [0, 0], [B, n])), B, n, rope, attend, n) // (B·n, D)
  }

  /** (1, V): 0 everywhere, MASKED at `id` (exp() of it is exactly 0, the softmax ignores it). */
  private suppressRow(id: number): tf.Tensor2D {
    const V = this.dims.V
    if (!Number.isInteger(id) || id < 0 || id >= V) throw new Error(`suppressed token id ${id} is outside the model's ${V} ids`)
    return this.cached(`suppress${id}`, () => {
      const row = new Float32Array(V)
      row[id] = MASKED
      return tf.tensor2d(row, [1, V])
    }) as tf.Tensor2D
  }

  /** Logits (B, Tout, V) float32 for int32 tokens (B, T); Tout = T except under block diffusion. */
  forward(tokens: tf.Tensor2D, opts: ForwardOptions = {}): tf.Tensor3D {
    return tf.tidy(() => {
      const [B, T] = tokens.shape
      return tf.reshape(this.logitsRows(tokens, opts), [B, outputLength(T, layoutOf(opts)), this.dims.V]) as tf.Tensor3D // (B, Tout, V)
    })
  }

  /** Cross-entropy in nats per output position, (B, Tout), of targets (B, Tout). */
  lossPerToken(inputs: tf.Tensor2D, targets: tf.Tensor2D, opts: ForwardOptions = {}): tf.Tensor2D {
    return tf.tidy(() => {
      const [B, Tout] = targets.shape
      const {nll} = crossEntropyRows(this.logitsRows(inputs, opts), tf.reshape(targets, [B * Tout]) as tf.Tensor1D)
      return tf.reshape(nll, [B, Tout]) as tf.Tensor2D
    })
  }

  /**
   * The training loss: mean over positions of weight · cross-entropy (weights null: the plain
   * mean, the AR loss), + zLoss · mean(logsumexp²) when zLoss > 0. weights (B, Tout) float32.
   */
  loss(inputs: tf.Tensor2D, targets: tf.Tensor2D, opts: ForwardOptions & {zLoss?: number; weights?: tf.Tensor2D | null} = {}): tf.Scalar {
    return tf.tidy(() => {
      const [B, Tout] = targets.shape
      const {nll, lse} = crossEntropyRows(this.logitsRows(inputs, opts), tf.reshape(targets, [B * Tout]) as tf.Tensor1D)
      let loss = (opts.weights ? tf.mean(tf.mul(nll, tf.reshape(opts.weights, [B * Tout]))) : tf.mean(nll)) as tf.Scalar
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

  // -------------------------------------------------------------------------------------------
  // Incremental (KV-cached) forward: sampling. See KVCache at the end of this file.

  /**
   * An empty KV cache bound to this model and to the weights the forward pass uses NOW (the
   * ternary q·d computed once here, not at every call): changing the weights or quantActive
   * afterwards leaves the cache stale. Dispose it when done. `quant`: keys and values are kept
   * as KIVI stores them (src/quant/kv-cache.ts; what each query reads: `QuantizedPlan`).
   */
  newKVCache(opts: {quant?: KVQuantConfig | null} = {}): KVCache {
    const quant = opts.quant ?? null
    if (quant) checkKVQuant(quant, this.dims.Dh)
    const weights = new Map<string, tf.Tensor>()
    const owned: tf.Tensor[] = []
    tf.tidy(() => {
      for (const [name, t] of this.effectiveWeights()) {
        // a variable is the model's; anything computed is the cache's (kept past every tidy)
        if (t !== this.params.get(name)) owned.push(tf.keep(t))
        weights.set(name, t)
      }
    })
    return new LayerCache(this, this.dims.L, weights, owned, quant)
  }

  /**
   * Logits (B, Tn, V) of Tn new tokens (B, Tn) int32 that follow the cache's positions: their
   * queries see every cached position and, among themselves, what `within` allows; RoPE
   * positions continue from cache.length. Equals the full forward of [cached ‖ new] under the
   * matching mask (causal prefix → causal; clean blocks → the block-diffusion x_0 half; a noisy
   * block over clean ones → its x_t half). `commit` appends the new tokens' keys and values of
   * every layer application to the cache; without it the cache is left as it was (a denoising
   * step of a block that is not final yet). A quantized cache is read as `QuantizedPlan` says.
   */
  forwardCached(tokens: tf.Tensor2D, cache: KVCache, opts: CachedForwardOptions): tf.Tensor3D {
    return this.cachedPass(tokens, cache, opts, true)!
  }

  /**
   * Append Tn new tokens (B, Tn) int32 to the cache, as forwardCached with `commit` does, without
   * their logits: the last layer application computes only its keys and values, and the head
   * never runs (a prefill, or the clean copy of a finished block).
   */
  commitCached(tokens: tf.Tensor2D, cache: KVCache, within: CachedWithin): void {
    this.cachedPass(tokens, cache, {within, commit: true}, false)
  }

  /** forwardCached's pass; `logits` false: keys and values only (commitCached), returns null. */
  private cachedPass(tokens: tf.Tensor2D, cache: KVCache, opts: CachedForwardOptions, logits: boolean): tf.Tensor3D | null {
    if (tokens.dtype !== 'int32') throw new Error(`GPT.forwardCached: tokens must be int32, got ${tokens.dtype}`)
    if (!(cache instanceof LayerCache) || cache.model !== this) throw new Error('GPT.forwardCached: the cache was made by another model (use model.newKVCache())')
    const [B, Tn] = tokens.shape
    cache.checkRows(B)
    const P = cache.length
    const {Dh, V} = this.dims
    const fresh: {k: tf.Tensor4D; v: tf.Tensor4D}[] = [] // per application: (B, KV, P+Tn, Dh), kept when committing
    try {
      const out = tf.tidy(() => {
        const w = cache.weights
        // the same rows rotaryTables gives a full forward at positions P..P+Tn−1
        const half = Dh / 2
        const table = rotaryTables(P + Tn, Dh, this.cfg.rope_base)
        const cos = tf.tensor2d(table.cos.subarray(P * half), [Tn, half])
        const sin = tf.tensor2d(table.sin.subarray(P * half), [Tn, half])
        const allowed = cachedPattern(P, Tn, opts.within)
        const plan = cache.quant ? quantizedPlan(P, Tn, opts.within, cache.quant) : null
        const mask = allowed && !plan ? tf.tensor2d(Float32Array.from(allowed, (a) => (a ? 0 : MASKED)), [Tn, P + Tn]) : null // (Tn, P+Tn)
        // application j attends over its cached keys/values, then the new ones
        const attend = (j: number): Attend => (q, k, v) => {
          const past = cache.entry(j)
          const kAll = past ? (tf.concat([past.k, k], 2) as tf.Tensor4D) : k // (B, KV, P+Tn, Dh)
          const vAll = past ? (tf.concat([past.v, v], 2) as tf.Tensor4D) : v
          if (plan) {
            const r = quantizedAttention(q, kAll, vAll, plan)
            if (opts.commit) fresh.push({k: tf.keep(r.k), v: tf.keep(r.v)})
            return r.y // (B, H, Tn, Dh)
          }
          if (opts.commit) fresh.push({k: tf.keep(kAll), v: tf.keep(vAll)})
          return prefixAttention(q, kAll, vAll, mask) // (B, H, Tn, Dh)
        }
        // without logits, the last application only gives its keys and values (keep 0)
        const x = this.layers(w, this.embed(w, tokens), B, Tn, {cos, sin}, attend, logits ? Tn : 0)
        return logits ? (tf.reshape(this.head(w, x, opts.suppress), [B, Tn, V]) as tf.Tensor3D) : undefined
      })
      if (opts.commit) cache.replace(fresh, B, P + Tn)
      return out ?? null
    } catch (err) {
      for (const kv of fresh) tf.dispose([kv.k, kv.v])
      throw err
    }
  }
}
