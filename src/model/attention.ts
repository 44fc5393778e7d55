/**
 * Attention and its masks, for the GPT (src/model/gpt.ts) and its KV cache (kv-cache.ts): who
 * attends to whom under each layout (causal, bidirectional, block diffusion over [x_t ‖ x_0]),
 * the additive masks cut into query tiles so the scores that are always masked are never
 * computed, and scaled dot-product attention with grouped KV heads over those tiles.
 */
import * as tf from '@tensorflow/tfjs-core'

/** Additive causal mask value: exp() of it is exactly 0 in float32, and it stays finite. */
export const MASKED = -1e30

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
 * An additive attention mask for one sequence length, cut into query tiles: tile i covers the
 * next tiles[i].shape[0] query rows (the tiles cover 0..T−1 in order) and scores only the keys
 * of keys[i] (ranges [k0, k1), concatenated; absent: the prefix [0, tiles[i].shape[1])), with
 * tiles[i] the additive mask over those keys (0 allowed, MASKED not).
 *
 * Causal (`causalMask`): tiles[i] is rows [s_i, end_i) × columns [0, end_i) of the (T, T) mask
 * (0 where key ≤ query, MASKED above), s_i = i·block, end_i = min(s_i + block, T). One tile =
 * the whole (T, T) mask.
 */
export interface CausalMask {
  T: number
  block: number
  tiles: tf.Tensor2D[]
  keys?: Array<Array<[number, number]>>
}

/**
 * The mask for only the first `rows` query rows of `m` (its keys unchanged): the tiles that
 * cover them, or the one tile's first rows. Block diffusion's last layer scores only the x_t
 * half's queries (see GPT.layers). The new tiles (a slice) are the caller's to keep.
 */
export function leadingRows(m: CausalMask, rows: number): CausalMask {
  if (m.tiles.length === 1) return {T: m.T, block: m.block, tiles: [tf.slice(m.tiles[0], [0, 0], [rows, -1])], keys: m.keys?.slice(0, 1)}
  let n = 0
  let count = 0
  while (n < rows && count < m.tiles.length) n += m.tiles[count++].shape[0]
  if (n !== rows) throw new Error(`leadingRows: ${rows} rows do not end on a tile boundary of the mask`)
  return {T: m.T, block: m.block, tiles: m.tiles.slice(0, count).map((t) => t.clone()), keys: m.keys?.slice(0, count)}
}

/**
 * Build the tiles of a CausalMask (the caller keeps and disposes them). `unit` > 1: causal over
 * groups of `unit` positions (block-causal: position q sees k iff ⌊k/unit⌋ ≤ ⌊q/unit⌋, BD3-LM's
 * clean half on itself); the tile must then be a multiple of the unit, so no row of a tile sees
 * past its end.
 */
export function causalMask(T: number, block = causalBlock(T), unit = 1): CausalMask {
  if (!Number.isInteger(block) || block < 1) throw new Error(`causalMask: block must be a positive integer, got ${block}`)
  if (!Number.isInteger(unit) || unit < 1 || (block < T && block % unit !== 0)) throw new Error(`causalMask: the tile (${block}) must be a multiple of the unit (${unit})`)
  const tiles: tf.Tensor2D[] = []
  for (let s = 0; s < T; s += block) {
    const end = Math.min(s + block, T)
    const m = new Float32Array((end - s) * end)
    for (let r = 0; r < end - s; r++) m.fill(MASKED, r * end + Math.min(T, (Math.floor((s + r) / unit) + 1) * unit), (r + 1) * end)
    tiles.push(tf.tensor2d(m, [end - s, end]))
  }
  return {T, block: Math.min(block, T), tiles}
}

/**
 * Which positions attend to which:
 * - `causal`: position t sees positions ≤ t (autoregressive);
 * - `bidirectional`: every position sees every position (masked diffusion, MDLM);
 * - `block-diffusion`: the input is [x_t ‖ x_0], two halves of n = T/2 tokens cut into blocks of
 *   `block` tokens (BD3-LM, Arriola et al. 2025, eq. 7 and `block_diff_mask` of the reference
 *   code): see `blockDiffusionMask`. Both halves use positions 0..n−1 for RoPE, and only the
 *   x_t half produces outputs (logits for n positions).
 */
export type AttentionLayout =
  | {kind: 'causal'}
  | {kind: 'bidirectional'}
  | {
      kind: 'block-diffusion'
      block: number
      /**
       * false: the x_0 half runs first as its own forward with nothing recorded for the backward
       * pass, and the x_t half attends to its keys and values as constants. The outputs are the
       * same; the gradient leaves out what flows through the clean context, and a training step
       * skips the x_0 half's backward pass (see GPT.detachedCleanRows). Absent = true.
       */
      cleanGradient?: boolean
    }

export const CAUSAL: AttentionLayout = {kind: 'causal'}
export const BIDIRECTIONAL: AttentionLayout = {kind: 'bidirectional'}

/**
 * The block-diffusion attention pattern for 2n tokens [x_t ‖ x_0] with blocks of `block`
 * tokens, as 0/1 (1 = query row may attend to key column), row-major (2n, 2n). The union of
 * three named pieces (BD3-LM, the reference `block_diff_mask`); b(i) = block of position i
 * within its half, x0(i) = i lies in the x_0 half:
 * - block-diagonal: b(q) = b(k) and both in the same half (bidirectional inside a block);
 * - offset block-causal: q in x_t, k in x_0, b(k) < b(q) (a noisy block sees the clean blocks
 *   strictly before it);
 * - block-causal: q and k in x_0, b(k) ≤ b(q) (the clean copy is block-causal on itself).
 */
export function blockDiffusionMask(n: number, block: number): Uint8Array {
  if (!Number.isInteger(block) || block < 1 || n % block !== 0) throw new Error(`blockDiffusionMask: block size ${block} must divide the sequence length ${n}`)
  const T = 2 * n
  const out = new Uint8Array(T * T)
  for (let q = 0; q < T; q++) {
    const qx0 = q >= n
    const bq = Math.floor((q % n) / block)
    for (let k = 0; k < T; k++) {
      const kx0 = k >= n
      const bk = Math.floor((k % n) / block)
      const blockDiagonal = bq === bk && qx0 === kx0
      const offsetBlockCausal = !qx0 && kx0 && bk < bq
      const blockCausal = qx0 && kx0 && bk <= bq
      if (blockDiagonal || offsetBlockCausal || blockCausal) out[q * T + k] = 1
    }
  }
  return out
}

/**
 * The block-diffusion mask of [x_t ‖ x_0] (2n tokens, blocks of `block`) in query tiles of
 * `tile` rows (a multiple of `block`, dividing nothing in particular): x_t rows [s, e) score
 * only the clean keys [n, n + e) and their own noisy keys [s, e); x_0 rows [n + s, n + e) only
 * the clean keys [n, n + e). What lies outside is masked in every case (later clean blocks,
 * other noisy blocks), so the scores never computed are exactly the masked ones: about a third
 * of the (2n)² products at n = 2·tile, falling toward a quarter for long sequences.
 */
export function blockDiffusionTiles(n: number, block: number, tile: number): CausalMask {
  if (!Number.isInteger(tile) || tile < block || tile % block !== 0) throw new Error(`blockDiffusionTiles: the tile (${tile}) must be a multiple of the block (${block})`)
  const allowed = blockDiffusionMask(n, block)
  const T = 2 * n
  const tiles: tf.Tensor2D[] = []
  const keys: Array<Array<[number, number]>> = []
  const add = (q0: number, q1: number, ranges: Array<[number, number]>) => {
    const width = ranges.reduce((a, [k0, k1]) => a + k1 - k0, 0)
    const m = new Float32Array((q1 - q0) * width)
    for (let r = q0; r < q1; r++) {
      let c = (r - q0) * width
      for (const [k0, k1] of ranges) for (let k = k0; k < k1; k++) m[c++] = allowed[r * T + k] ? 0 : MASKED
    }
    tiles.push(tf.tensor2d(m, [q1 - q0, width]))
    keys.push(ranges)
  }
  for (let s0 = 0; s0 < n; s0 += tile) add(s0, Math.min(s0 + tile, n), [[n, n + Math.min(s0 + tile, n)], [s0, Math.min(s0 + tile, n)]]) // x_t rows
  for (let s0 = 0; s0 < n; s0 += tile) add(n + s0, n + Math.min(s0 + tile, n), [[n, n + Math.min(s0 + tile, n)]]) // x_0 rows
  return {T, block: tile, tiles, keys}
}

/**
 * Query tile of block-diffusion attention for n tokens per half and blocks of `block`: about
 * CAUSAL_BLOCK rows, a multiple of the block, once a half spans two tiles; else null (one
 * full (2n, 2n) tile).
 */
export function blockDiffusionTile(n: number, block: number): number | null {
  const tile = block * Math.max(1, Math.round(CAUSAL_BLOCK / block))
  return n >= 2 * tile ? tile : null
}

/** A 0/1 pattern (T, T) as the one-tile additive mask `attention` takes (0 where allowed). */
export function additiveMask(allowed: Uint8Array, T: number): CausalMask {
  const m = new Float32Array(T * T)
  for (let i = 0; i < m.length; i++) m[i] = allowed[i] ? 0 : MASKED
  return {T, block: T, tiles: [tf.tensor2d(m, [T, T])]}
}

/**
 * Scaled dot-product attention with grouped KV heads: query head h reads KV head
 * floor(h / g), g = H/KV (repeat_interleave, as enable_gqa). The g query heads of a group are
 * stacked along the time axis so each KV head is used once, never copied: two batched 2-D
 * products per (batch, KV head). q (B, H, Tq, Dh), k/v (B, KV, T, Dh). Returns (B, H, Tq, Dh).
 * Tq = T, or the first Tq rows of the sequence when the mask's tiles cover only those
 * (`leadingRows`), or 0: no queries (a layer application that only gives its keys and values,
 * GPT.block's keep 0), the empty result.
 *
 * mask null: bidirectional, full (T, T) scores. One tile (causal, or any additive pattern such
 * as the block-diffusion mask): the full scores plus the (T, T) additive mask (the reference).
 * Several tiles: query tile i scores only its keys (causal: [0, end_i), so about half the score
 * matrix and of the products' FLOPs is never computed; block diffusion: see
 * `blockDiffusionTiles`); the additive tile mask hides the rest; the tiles' outputs are
 * concatenated back along time.
 */
export function attention(q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, mask: CausalMask | null): tf.Tensor4D {
  const [B, H, Tq, Dh] = q.shape
  const [, KV, T] = k.shape
  const g = H / KV
  if (mask && mask.T !== T) throw new Error(`attention: the mask is for T=${mask.T} keys, the keys have T=${T}`)
  if (Tq === 0) return q
  if (mask ? mask.tiles.reduce((a, t) => a + t.shape[0], 0) !== Tq : Tq !== T) throw new Error(`attention: ${Tq} query rows do not match the mask's rows (keys T=${T})`)
  const k3 = tf.reshape(k, [B * KV, T, Dh]) as tf.Tensor3D
  const v3 = tf.reshape(v, [B * KV, T, Dh]) as tf.Tensor3D
  // the keys (or values) of ranges [k0, k1), concatenated along time: (B·KV, Tk, Dh)
  const gather = (x3: tf.Tensor3D, ranges: Array<[number, number]>): tf.Tensor3D => {
    const parts = ranges.map(([k0, k1]) => (k0 === 0 && k1 === T ? x3 : tf.slice(x3, [0, k0, 0], [B * KV, k1 - k0, Dh])))
    return parts.length === 1 ? parts[0] : (tf.concat(parts, 1) as tf.Tensor3D)
  }
  // scores (B·KV, g·Tq, Tk) of queries (B, H, Tq, Dh) against the keys of `ranges`, masked,
  // softmaxed and applied to the same values → (B, H, Tq, Dh)
  const part = (qt: tf.Tensor4D, ranges: Array<[number, number]>, m: tf.Tensor2D | null): tf.Tensor4D => {
    const Tq = qt.shape[2]
    const Tk = ranges.reduce((a, [k0, k1]) => a + k1 - k0, 0)
    const qg = tf.reshape(qt, [B * KV, g * Tq, Dh]) // (B·KV, g·Tq, Dh): heads kv·g … kv·g+g−1
    const kt = gather(k3, ranges) // (B·KV, Tk, Dh)
    const vt = gather(v3, ranges)
    let scores: tf.Tensor = tf.mul(tf.matMul(qg, kt, false, true), 1 / Math.sqrt(Dh)) // (B·KV, g·Tq, Tk)
    if (m) scores = tf.add(tf.reshape(scores, [B * KV, g, Tq, Tk]), m) // mask broadcast over (B·KV, g)
    const att = tf.reshape(tf.softmax(scores, -1), [B * KV, g * Tq, Tk])
    return tf.reshape(tf.matMul(att, vt), [B, H, Tq, Dh]) // (B·KV, g·Tq, Dh) → (B, H, Tq, Dh)
  }
  const keysOf = (m: CausalMask, i: number): Array<[number, number]> => m.keys?.[i] ?? [[0, m.tiles[i].shape[1]]]
  if (!mask || mask.tiles.length === 1) return part(q, mask ? keysOf(mask, 0) : [[0, T]], mask ? mask.tiles[0] : null)
  const qs = tf.split(q, mask.tiles.map((t) => t.shape[0]), 2) // (B, H, Tb_i, Dh) each
  const ys = qs.map((qt, i) => part(qt as tf.Tensor4D, keysOf(mask, i), mask.tiles[i]))
  return tf.concat(ys, 2) as tf.Tensor4D // (B, H, Tq, Dh)
}
