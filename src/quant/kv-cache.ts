/**
 * THE KV-cache quantizer: KIVI (Liu et al. 2024, "KIVI: A Tuning-Free Asymmetric 2bit
 * Quantization for KV Cache", arXiv 2402.02750), simulated. The cache (GPT.newKVCache) keeps
 * dequantized float32 tensors computed on device with plain tf ops; nothing is packed or read
 * back. What a packed cache would cost is `kvBytesPerToken`.
 *
 * Layout of a cache of P tokens, per layer application and KV head (as the paper's grouped
 * part and full-precision residual):
 *   tokens [0, Q)   quantized, Q = floor(max(P − R, 0) / G) · G   (`quantizedPrefix`): whole
 *                   key groups only, so at least R recent tokens stay exact
 *   tokens [Q, P)   full precision (float32 here; counted at fp16, the storage of a real cache)
 * Keys are quantized per channel (the paper: their outliers sit in fixed channels): a group is G
 * consecutive tokens of one channel of one KV head. Values per token: a group is G consecutive
 * channels of one token's head vector; G must divide the head dimension (`checkKVQuant`
 * refuses otherwise, it never shrinks G silently). Keys and values share the prefix Q.
 *
 * The quantizer, b ∈ {2, 3, 4} bits, L = 2^b − 1, per group with minimum mn and maximum mx,
 * every step one float32 operation:
 *   s  = (mx − mn) / L,   s' = s if s > 0 else 1
 *   q  = clamp(round((x − mn) / s'), 0, L)        round half to even (tf.round)
 *   x̂  = q · s' + mn
 * A constant group (mx = mn, or s underflowing to 0) gives q = 0 and x̂ = mn, never NaN. In
 * exact arithmetic |x̂ − x| ≤ s/2; float32 adds a few ulps (see the tests). A group is quantized
 * once, from full-precision values, when it leaves the residual; dequantized values are never
 * quantized again, so the cache is the same however its tokens arrived.
 *
 * bits 16: fp16 storage, every cached key and value rounded to fp16 (`roundToFloatFormat`,
 * RNE; a value rounding to zero is stored as +0; no groups, no residual: the config carries
 * group 1, residual 0, so Q = P).
 */
import * as tf from '@tensorflow/tfjs-core'

import {InputError} from '../errors.js'
import {roundToFloatFormat} from './float-store.js'

export const KV_BITS = [2, 3, 4, 16] as const
export type KVBits = (typeof KV_BITS)[number]

export interface KVQuantConfig {
  /** 2, 3, 4: KIVI min–max codes; 16: fp16 storage. */
  bits: KVBits
  /** G: tokens per key group, channels per value group (1 for fp16). */
  group: number
  /** R: the most recent tokens kept exact (0 for fp16). */
  residual: number
}

/** Default G: 32 channels, or 32 tokens, per group. */
export const KV_DEFAULT_GROUP = 32
/** One group's worth of recent tokens kept exact. */
export const KV_DEFAULT_RESIDUAL = 32

/**
 * The config the flags ask for, or null without --kv-bits: one-line InputErrors name the flag.
 * Group and residual default to KV_DEFAULT_GROUP / KV_DEFAULT_RESIDUAL; fp16 takes neither.
 */
export function kvQuantConfig(flags: {bits?: number | null; group?: number | null; residual?: number | null}): KVQuantConfig | null {
  const {bits, group, residual} = flags
  const hasGroup = group !== undefined && group !== null
  const hasResidual = residual !== undefined && residual !== null
  if (bits === undefined || bits === null) {
    if (hasGroup || hasResidual) throw new InputError(`${hasGroup ? '--kv-group' : '--kv-residual'} needs --kv-bits 2, 3 or 4`)
    return null
  }
  if (!(KV_BITS as readonly number[]).includes(bits)) throw new InputError(`--kv-bits must be 2, 3, 4 or 16 (fp16), got ${bits}`)
  if (bits === 16) {
    if (hasGroup || hasResidual) throw new InputError(`${hasGroup ? '--kv-group' : '--kv-residual'} applies to 2-, 3- and 4-bit caches; --kv-bits 16 stores every key and value as fp16`)
    return {bits: 16, group: 1, residual: 0}
  }
  const cfg = {bits: bits as KVBits, group: group ?? KV_DEFAULT_GROUP, residual: residual ?? KV_DEFAULT_RESIDUAL}
  checkKVFields(cfg)
  return cfg
}

function checkKVFields(cfg: KVQuantConfig): void {
  if (!(KV_BITS as readonly number[]).includes(cfg.bits)) throw new InputError(`--kv-bits must be 2, 3, 4 or 16 (fp16), got ${cfg.bits}`)
  if (!Number.isInteger(cfg.group) || cfg.group < 1) throw new InputError(`--kv-group must be a positive integer, got ${cfg.group}`)
  if (!Number.isInteger(cfg.residual) || cfg.residual < 0) throw new InputError(`--kv-residual must be an integer >= 0, got ${cfg.residual}`)
  if (cfg.bits === 16 && (cfg.group !== 1 || cfg.residual !== 0)) throw new InputError('--kv-bits 16 stores every key and value as fp16: it takes no --kv-group or --kv-residual')
}

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b)
}

/** Refuse (one-line InputError) a config a model with head dimension Dh cannot use. */
export function checkKVQuant(cfg: KVQuantConfig, headDim: number): void {
  checkKVFields(cfg)
  if (cfg.bits !== 16 && headDim % cfg.group !== 0) {
    throw new InputError(`--kv-group ${cfg.group} must divide the head dimension ${headDim} (values are quantized in groups of G channels of one head); try --kv-group ${gcd(headDim, cfg.group)}`)
  }
}

/** Q: how many of P cached tokens are stored quantized (all of them for fp16). */
export function quantizedPrefix(P: number, cfg: KVQuantConfig): number {
  if (cfg.bits === 16) return P
  return Math.floor(Math.max(P - cfg.residual, 0) / cfg.group) * cfg.group
}

/** Min–max fake quantization (the module doc's formula) of x with groups along `axis`. */
function minMaxGroups(x: tf.Tensor, axis: number, bits: 2 | 3 | 4): tf.Tensor {
  const levels = 2 ** bits - 1
  const mn = tf.min(x, axis, true)
  const s = tf.div(tf.sub(tf.max(x, axis, true), mn), levels)
  const safe = tf.where(tf.greater(s, 0), s, tf.onesLike(s))
  const q = tf.clipByValue(tf.round(tf.div(tf.sub(x, mn), safe)), 0, levels)
  return tf.add(tf.mul(q, safe), mn)
}

/**
 * Keys (B, KV, T, Dh), T a multiple of G, as stored: per channel, groups of G consecutive
 * tokens (fp16: rounded). A new tensor.
 */
export function quantizeKeys(k: tf.Tensor4D, cfg: KVQuantConfig): tf.Tensor4D {
  const [B, KV, T, Dh] = k.shape
  if (cfg.bits === 16) return roundToFloatFormat(k, 'fp16') as tf.Tensor4D
  if (T % cfg.group !== 0) throw new Error(`quantizeKeys: ${T} tokens are not whole groups of ${cfg.group}`)
  return tf.tidy(() => tf.reshape(minMaxGroups(tf.reshape(k, [B * KV, T / cfg.group, cfg.group, Dh]), 2, cfg.bits as 2 | 3 | 4), [B, KV, T, Dh]) as tf.Tensor4D)
}

/**
 * Values (B, KV, T, Dh) as stored: per token, groups of G consecutive channels (fp16:
 * rounded). G must divide Dh. A new tensor.
 */
export function quantizeValues(v: tf.Tensor4D, cfg: KVQuantConfig): tf.Tensor4D {
  const [B, KV, T, Dh] = v.shape
  if (cfg.bits === 16) return roundToFloatFormat(v, 'fp16') as tf.Tensor4D
  if (Dh % cfg.group !== 0) throw new Error(`quantizeValues: groups of ${cfg.group} channels do not divide the head dimension ${Dh}`)
  return tf.tidy(() => tf.reshape(minMaxGroups(tf.reshape(v, [B * KV * T, Dh / cfg.group, cfg.group]), 2, cfg.bits as 2 | 3 | 4), [B, KV, T, Dh]) as tf.Tensor4D)
}

/** The cache's shape: L layer applications, KV heads of Dh channels each. */
export interface KVDims {
  L: number
  KV: number
  Dh: number
}

/**
 * Bytes per token of a cache holding `tokens` tokens (`tokens` ≥ 1; golf eval uses seq_len,
 * a full window), summed over all L layer applications, keys and values:
 *   quantized tokens (the prefix Q = quantizedPrefix(tokens)), per KV head:
 *     keys     Dh·b/8 bytes of codes, plus an fp16 scale and an fp16 zero (min) per channel
 *              per group of G tokens: 4·Dh/G bytes per token
 *     values   Dh·b/8 bytes of codes, plus an fp16 scale and zero per group of G channels:
 *              4·Dh/G bytes per token
 *   the other tokens − Q (the residual): fp16, 2·Dh bytes each for keys and for values.
 * Codes are counted densely packed (b bits each, no padding). Nothing else is counted: no
 * positions, no allocation slack. cfg null or bits 16: full precision, fp16 for every token,
 * 4·L·KV·Dh bytes (= `fullKVBytesPerToken`).
 */
export function kvBytesPerToken(cfg: KVQuantConfig | null, dims: KVDims, tokens: number): number {
  const full = fullKVBytesPerToken(dims)
  if (!cfg || cfg.bits === 16) return full
  if (!(tokens >= 1)) throw new Error(`kvBytesPerToken: a cache of ${tokens} tokens`)
  const {L, KV, Dh} = dims
  const Q = quantizedPrefix(tokens, cfg)
  const quantized = 2 * ((Dh * cfg.bits) / 8 + (4 * Dh) / cfg.group) // keys + values, per KV head
  return (L * KV * (Q * quantized + (tokens - Q) * 4 * Dh)) / tokens
}

/** Full precision: keys and values in fp16, 2 bytes per element, 4·L·KV·Dh bytes per token. */
export function fullKVBytesPerToken(dims: KVDims): number {
  return 4 * dims.L * dims.KV * dims.Dh
}

/** What golf eval reports of a quantized cache. */
export interface KVReport {
  bits: KVBits
  group: number
  residual: number
  /** `kvBytesPerToken` at the evaluated sequence length. */
  bytes_per_token: number
  /** The fp16 cache's. */
  full_bytes_per_token: number
}

export function kvReport(cfg: KVQuantConfig, dims: KVDims, tokens: number): KVReport {
  return {bits: cfg.bits, group: cfg.group, residual: cfg.residual, bytes_per_token: kvBytesPerToken(cfg, dims, tokens), full_bytes_per_token: fullKVBytesPerToken(dims)}
}

/** `KV cache 2-bit KIVI (G 32, R 32): 1,234 bytes/token vs 4,096 in fp16 (3.32× smaller)`. */
export function describeKV(r: KVReport): string {
  const bytes = (n: number) => n.toLocaleString('en-US', {maximumFractionDigits: 1})
  if (r.bits === 16) return `KV cache fp16: ${bytes(r.bytes_per_token)} bytes/token`
  const ratio = r.full_bytes_per_token / r.bytes_per_token
  return `KV cache ${r.bits}-bit KIVI (G ${r.group}, R ${r.residual}): ${bytes(r.bytes_per_token)} bytes/token vs ${bytes(r.full_bytes_per_token)} in fp16 (${ratio.toFixed(2)}× smaller)`
}
