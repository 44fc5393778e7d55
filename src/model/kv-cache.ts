/**
 * The KV cache of GPT.forwardCached and GPT.commitCached (incremental decoding: the samplers,
 * the cached sliding evaluation, the cached BD3-LM scorer): which cached and new positions a new
 * token sees, attention over the cache, and the cache itself, float32 or stored as
 * src/quant/kv-cache.ts quantizes it.
 */
import * as tf from '@tensorflow/tfjs-core'

import {quantizedPrefix, quantizeKeys, quantizeValues, type KVQuantConfig} from '../quant/kv-cache.js'
import {MASKED} from './attention.js'
import type {GPT} from './gpt.js'

/**
 * How Tn new tokens attend to each other in GPT.forwardCached (they always see every cached
 * position): `causal` (AR decoding and prefill), `bidirectional` (one diffusion block), or
 * `{blockCausal: bs}` (several clean blocks of bs tokens at once, block-causal as the x_0 half
 * of block diffusion; Tn must be whole blocks).
 */
export type CachedWithin = 'causal' | 'bidirectional' | {blockCausal: number}

export interface CachedForwardOptions {
  within: CachedWithin
  /** Append the new tokens' keys and values to the cache. */
  commit: boolean
  /** A token id whose logit is −∞ (as ForwardOptions.suppress). */
  suppress?: number | null
}

/** Keys and values of the positions a model has seen, one entry per layer application. */
export interface KVCache {
  /** Cached positions: the RoPE position of the next new token. */
  readonly length: number
  /** How keys and values are stored (null: float32 as computed). */
  readonly quant: KVQuantConfig | null
  /** Application j's keys and values (B, KV, length, Dh) as stored, null while empty; the cache's own. */
  entry(j: number): {k: tf.Tensor4D; v: tf.Tensor4D} | null
  /** Drop every cached position (the weights stay bound): a re-prefill starts from here. */
  reset(): void
  dispose(): void
}

/**
 * 0/1 pattern (Tn, P+Tn) of Tn new queries over P cached keys then the new ones, or null when
 * everything is visible (no mask needed).
 */
export function cachedPattern(P: number, Tn: number, within: CachedWithin): Uint8Array | null {
  if (within === 'bidirectional') return null
  const bs = within === 'causal' ? 1 : within.blockCausal
  if (!Number.isInteger(bs) || bs < 1 || Tn % bs !== 0) throw new Error(`forwardCached: block-causal blocks of ${bs} must divide the ${Tn} new tokens`)
  if (Tn <= bs) return null // one block (or one causal token) sees all of itself
  const Tk = P + Tn
  const out = new Uint8Array(Tn * Tk)
  for (let r = 0; r < Tn; r++) out.fill(1, r * Tk, r * Tk + P + (Math.floor(r / bs) + 1) * bs)
  return out
}

/**
 * Attention of Tq new queries over Tk keys (the cached positions, then the new ones), grouped
 * KV heads as in `attention` (the g query heads of a group stacked along time). q (B, H, Tq,
 * Dh), k/v (B, KV, Tk, Dh), mask (Tq, Tk) additive or null. Returns (B, H, Tq, Dh); Tq = 0 (no
 * queries: GPT.commitCached's last application) the empty result.
 */
export function prefixAttention(q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, mask: tf.Tensor2D | null): tf.Tensor4D {
  const [B, H, Tq, Dh] = q.shape
  if (Tq === 0) return q
  const [, KV, Tk] = k.shape
  const g = H / KV
  const qg = tf.reshape(q, [B * KV, g * Tq, Dh]) // (B·KV, g·Tq, Dh)
  const k3 = tf.reshape(k, [B * KV, Tk, Dh])
  const v3 = tf.reshape(v, [B * KV, Tk, Dh])
  let scores: tf.Tensor = tf.mul(tf.matMul(qg, k3, false, true), 1 / Math.sqrt(Dh)) // (B·KV, g·Tq, Tk)
  if (mask) scores = tf.add(tf.reshape(scores, [B * KV, g, Tq, Tk]), mask) // mask broadcast over (B·KV, g)
  const att = tf.reshape(tf.softmax(scores, -1), [B * KV, g * Tq, Tk])
  return tf.reshape(tf.matMul(att, v3), [B, H, Tq, Dh]) as tf.Tensor4D
}

/**
 * How Tn new queries over P cached tokens read a quantized cache (src/quant/kv-cache.ts). A
 * query reads the cache as it stands once its block is written — causal: the query's own
 * token; {blockCausal: bs}: its block; bidirectional: all Tn tokens (write, then read: the order
 * of a decoding step) — so with its block ending at `end`, it sees
 * tokens before quantizedPrefix(end) quantized and the rest exact. A causal query thus reads
 * what decoding one token at a time would show it, whatever the sizes of the calls: the keys,
 * the logits and the cache do not depend on how the tokens arrived.
 *
 * Queries are taken in runs that read the same keys: rows [r0, r1) read keys [0, keys), those
 * before `prefix` quantized, under `mask` (rows × keys, additive; null: all visible). A row that
 * sees only quantized keys (prefix = its end) joins the next row's run, whose larger prefix
 * changes nothing it sees: fp16, quantizing every key, is one run.
 */
export interface QuantizedPlan {
  cfg: KVQuantConfig
  /** Tokens stored quantized before the call (Q(P)) and after it (Q(P + Tn)). */
  held: number
  after: number
  runs: {r0: number; r1: number; prefix: number; keys: number; mask: tf.Tensor2D | null}[]
}

/** The runs of a call (see QuantizedPlan); its masks are new tensors. */
export function quantizedPlan(P: number, Tn: number, within: CachedWithin, cfg: KVQuantConfig): QuantizedPlan {
  const bs = within === 'causal' ? 1 : within === 'bidirectional' ? Tn : within.blockCausal
  const end = (r: number) => P + (Math.floor(r / bs) + 1) * bs // row r sees keys [0, end): cachedPattern
  const seen = (r: number) => quantizedPrefix(end(r), cfg)
  const runs: QuantizedPlan['runs'] = []
  const close = (r0: number, r1: number, prefix: number) => {
    const keys = end(r1 - 1)
    let mask: tf.Tensor2D | null = null
    if (end(r0) < keys) {
      const m = new Float32Array((r1 - r0) * keys)
      for (let r = r0; r < r1; r++) m.fill(MASKED, (r - r0) * keys + end(r), (r - r0 + 1) * keys)
      mask = tf.tensor2d(m, [r1 - r0, keys])
    }
    runs.push({r0, r1, prefix, keys, mask})
  }
  let r0 = 0
  let prefix = seen(0)
  let onlyQuantized = prefix === end(0) // every row of the run sees quantized keys only
  for (let r = 1; r < Tn; r++) {
    const p = seen(r)
    if (p === prefix || onlyQuantized) {
      prefix = p
      onlyQuantized = onlyQuantized && p === end(r)
      continue
    }
    close(r0, r, prefix)
    r0 = r
    prefix = p
    onlyQuantized = p === end(r)
  }
  close(r0, Tn, prefix)
  return {cfg, held: quantizedPrefix(P, cfg), after: quantizedPrefix(P + Tn, cfg), runs}
}

/**
 * Attention of new queries q (B, H, Tn, Dh) over k/v (B, KV, P+Tn, Dh): the cache as stored
 * (tokens before plan.held quantized), then the new tokens exact; each run reads them as the
 * plan says. Returns the outputs (B, H, Tn, Dh) and the keys and values the cache holds after
 * the call (tokens before plan.after quantized). Tokens [held, after) leave the residual here:
 * they are quantized once, from their exact values.
 */
export function quantizedAttention(q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, plan: QuantizedPlan): {y: tf.Tensor4D; k: tf.Tensor4D; v: tf.Tensor4D} {
  const [B, H, , Dh] = q.shape
  const [, KV, Tk] = k.shape
  const {held, after, cfg} = plan
  const span = (x: tf.Tensor4D, t0: number, t1: number) => (t0 === 0 && t1 === x.shape[2] ? x : (tf.slice(x, [0, 0, t0, 0], [B, KV, t1 - t0, Dh]) as tf.Tensor4D))
  const kq = after > held ? quantizeKeys(span(k, held, after), cfg) : null // (B, KV, after − held, Dh)
  const vq = after > held ? quantizeValues(span(v, held, after), cfg) : null
  // tokens [0, extent) with those before `prefix` quantized (held ≤ prefix ≤ after, prefix ≤ extent)
  const view = (x: tf.Tensor4D, xq: tf.Tensor4D | null, prefix: number, extent: number): tf.Tensor4D => {
    if (prefix === held) return span(x, 0, extent)
    const parts = [held > 0 ? span(x, 0, held) : null, span(xq!, 0, prefix - held), prefix < extent ? span(x, prefix, extent) : null].filter((t) => t !== null)
    return parts.length === 1 ? parts[0] : (tf.concat(parts, 2) as tf.Tensor4D)
  }
  // no queries (GPT.commitCached's last application): only the keys and values the cache holds
  const ys = q.shape[2] === 0 ? [q] : plan.runs.map((run) =>
    tf.tidy(() => {
      const qr = plan.runs.length === 1 ? q : (tf.slice(q, [0, 0, run.r0, 0], [B, H, run.r1 - run.r0, Dh]) as tf.Tensor4D)
      return prefixAttention(qr, view(k, kq, run.prefix, run.keys), view(v, vq, run.prefix, run.keys), run.mask) // (B, H, r1 − r0, Dh)
    }),
  )
  return {y: ys.length === 1 ? ys[0] : (tf.concat(ys, 2) as tf.Tensor4D), k: view(k, kq, after, Tk), v: view(v, vq, after, Tk)}
}

/** The KVCache GPT.newKVCache makes; only GPT.forwardCached reads and grows it. */
export class LayerCache implements KVCache {
  private entries: ({k: tf.Tensor4D; v: tf.Tensor4D} | null)[]
  private len = 0
  private rows: number | null = null
  private disposed = false

  constructor(
    readonly model: GPT,
    layers: number,
    /** The forward pass's weights at creation; `owned` are the computed ones this cache frees. */
    readonly weights: ReadonlyMap<string, tf.Tensor>,
    private readonly owned: tf.Tensor[],
    readonly quant: KVQuantConfig | null,
  ) {
    this.entries = new Array(layers).fill(null)
  }

  get length(): number {
    return this.len
  }

  /** Application j's keys and values (B, KV, length, Dh), null while empty. */
  entry(j: number): {k: tf.Tensor4D; v: tf.Tensor4D} | null {
    return this.entries[j]
  }

  checkRows(B: number): void {
    if (this.disposed) throw new Error('forwardCached: the KV cache was disposed')
    if (this.rows !== null && this.len > 0 && this.rows !== B) throw new Error(`forwardCached: the cache holds ${this.rows} rows, got ${B}`)
  }

  /** Every application's keys and values now cover `length` positions (the old ones are freed). */
  replace(kv: {k: tf.Tensor4D; v: tf.Tensor4D}[], B: number, length: number): void {
    this.clearEntries()
    this.entries = kv
    this.rows = B
    this.len = length
  }

  reset(): void {
    this.clearEntries()
    this.len = 0
  }

  dispose(): void {
    if (this.disposed) return
    this.clearEntries()
    tf.dispose(this.owned)
    this.disposed = true
  }

  private clearEntries(): void {
    for (const e of this.entries) if (e) tf.dispose([e.k, e.v])
    this.entries = this.entries.map(() => null)
  }
}
