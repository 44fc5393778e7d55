/**
 * `entropy`: static rANS over trits with a small context model; reaches the empirical entropy of
 * the tensor (≈1.50 bits/trit at 30% zeros, 1.58 at 33%, lower when zeros cluster by row).
 *
 * Coder: 32-bit-state rANS with byte-wise renormalisation (after F. Giesen's rANS notes):
 * state x ∈ [L, 256·L), L = 2^23; frequencies quantised to M = 2^12 per context; the encoder
 * runs backwards so the decoder reads forwards; decoding one trit is one table lookup, one
 * multiply and at most a few byte reads.
 *
 * Context models (the encoder measures each from the counts, header included, and keeps the
 * smallest):
 *   0  order-0: one frequency table for the whole tensor.
 *   1  zero-window W: the context of trit i is how many of trits i−W..i−1 are zero (0..W; trits
 *      before the start count as non-zero). Follows rows or blocks whose zero rate differs
 *      without being told the row length, and costs only header bytes when trits are i.i.d.
 *
 * Layout (all little-endian):
 *   u8   model (0 or 1)
 *   u8   W                                  (model 1 only; 1..64)
 *   per context (1, or W+1): u16 f(−1), u16 f(0)      f(+1) = 4096 − f(−1) − f(0)
 *   u32  final encoder state
 *   ...  rANS bytes, read forwards by the decoder
 * Size ≈ header + ceil(n·H/8) + 4 bytes, H the (context-conditional) empirical entropy.
 * The decoder checks that it consumes every byte and ends in the initial state.
 */
import {type TritCodec, type TritDecodeOptions, type TritCounts, checkCount, corrupt, countTrits, tritEntropyBits} from './types.js'
import {InputError} from '../../errors.js'

const NAME = 'entropy'
const SCALE_BITS = 12
const M = 1 << SCALE_BITS
const L = 1 << 23
/** Encoder renormalisation bound per unit of frequency: x must be < X_MAX_UNIT·f before coding. */
const X_MAX_UNIT = (L >>> SCALE_BITS) << 8
const MAX_WINDOW = 64
/** Zero-window widths the encoder tries. */
const WINDOWS = [4, 8, 16, 32, 64]

export interface EntropyModelChoice {
  model: 0 | 1
  window: number
  /** Estimated size in bytes (header + payload + state). */
  bytes: number
}

/** Frequencies (sum M, a present symbol gets ≥ 1) for the counts c[0..2] of −1, 0, +1. */
function quantize(c0: number, c1: number, c2: number): [number, number, number] {
  const total = c0 + c1 + c2
  if (total === 0) return [0, M, 0]
  const f = [c0, c1, c2].map((c) => (c === 0 ? 0 : Math.max(1, Math.round((c * M) / total))))
  const largest = f[0] >= f[1] && f[0] >= f[2] ? 0 : f[1] >= f[2] ? 1 : 2
  f[largest] += M - (f[0] + f[1] + f[2])
  return [f[0], f[1], f[2]]
}

function headerBytes(model: 0 | 1, window: number): number {
  return 1 + (model === 1 ? 1 : 0) + 4 * (model === 1 ? window + 1 : 1) + 4
}

/** Bits to code counts `cnt` (3 per context) with frequencies quantised from those counts. */
function codedBits(cnt: Float64Array): number {
  let bits = 0
  for (let c = 0; c < cnt.length; c += 3) {
    const f = quantize(cnt[c], cnt[c + 1], cnt[c + 2])
    for (let s = 0; s < 3; s++) if (cnt[c + s] > 0) bits += cnt[c + s] * (SCALE_BITS - Math.log2(f[s]))
  }
  return bits
}

/** Per-context counts for a zero-window model: cnt[3·ctx + trit + 1]. */
function windowCounts(trits: Int8Array, window: number): Float64Array {
  const cnt = new Uint32Array(3 * (window + 1))
  let z = 0
  const n = trits.length
  const head = Math.min(n, window)
  for (let i = 0; i < head; i++) {
    const t = trits[i]
    cnt[3 * z + t + 1]++
    z += (t & 1) ^ 1
  }
  // Branch-free: (t & 1) ^ 1 is 1 for a zero trit, 0 for ±1.
  for (let i = head; i < n; i++) {
    const t = trits[i]
    cnt[3 * z + t + 1]++
    z += ((t & 1) ^ 1) - ((trits[i - window] & 1) ^ 1)
  }
  return Float64Array.from(cnt)
}

/** Order-0 counts as a context table of one. */
function order0Counts(counts: TritCounts): Float64Array {
  return Float64Array.of(counts.neg, counts.zero, counts.pos)
}

/** At most SAMPLE_CHUNKS evenly spaced runs of SAMPLE_CHUNK trits: enough to rank the models. */
const SAMPLE_CHUNK = 1 << 16
const SAMPLE_CHUNKS = 32
function sample(trits: Int8Array): Int8Array {
  if (trits.length <= SAMPLE_CHUNK * SAMPLE_CHUNKS) return trits
  const out = new Int8Array(SAMPLE_CHUNK * SAMPLE_CHUNKS)
  const stride = Math.floor((trits.length - SAMPLE_CHUNK) / (SAMPLE_CHUNKS - 1))
  for (let c = 0; c < SAMPLE_CHUNKS; c++) out.set(trits.subarray(c * stride, c * stride + SAMPLE_CHUNK), c * SAMPLE_CHUNK)
  return out
}

/**
 * Which model the encoder uses for these trits and the size it will take. Models are ranked on
 * a sample of at most 2M trits (size estimated from counts, header included), then the winner
 * is sized on all trits.
 */
export function chooseModel(trits: Int8Array, counts = countTrits(trits)): EntropyModelChoice {
  const order0: EntropyModelChoice = {model: 0, window: 0, bytes: headerBytes(0, 0) + Math.ceil(codedBits(order0Counts(counts)) / 8)}
  // Below a few thousand trits the context headers cannot pay for themselves.
  if (trits.length < 4096) return order0
  const part = sample(trits)
  const scale = trits.length / part.length
  let best = {window: 0, bytes: order0.bytes}
  for (const w of WINDOWS) {
    const bytes = headerBytes(1, w) + (scale * codedBits(windowCounts(part, w))) / 8
    if (bytes < best.bytes) best = {window: w, bytes}
  }
  if (best.window === 0) return order0
  const bytes = headerBytes(1, best.window) + Math.ceil(codedBits(windowCounts(trits, best.window)) / 8)
  return bytes < order0.bytes ? {model: 1, window: best.window, bytes} : order0
}

export function encode(trits: Int8Array): Uint8Array {
  const n = trits.length
  const counts = countTrits(trits) // validates every trit
  const {model, window} = chooseModel(trits, counts)
  const contexts = model === 1 ? window + 1 : 1
  const cnt = model === 1 ? windowCounts(trits, window) : order0Counts(counts)
  const freq = new Uint16Array(3 * contexts)
  const cum = new Uint16Array(3 * contexts)
  const head = headerBytes(model, window) - 4
  const header = new Uint8Array(head)
  const hv = new DataView(header.buffer)
  header[0] = model
  let h = 1
  if (model === 1) header[h++] = window
  for (let c = 0; c < contexts; c++) {
    const f = quantize(cnt[3 * c], cnt[3 * c + 1], cnt[3 * c + 2])
    freq.set(f, 3 * c)
    cum.set([0, f[0], f[0] + f[1]], 3 * c)
    hv.setUint16(h, f[0], true)
    hv.setUint16(h + 2, f[1], true)
    h += 4
  }

  // Encode backwards into a buffer that grows at its front (a symbol emits at most 3 bytes).
  let buf = new Uint8Array(Math.max(64, Math.ceil(n / 4)))
  let p = buf.length
  let x = L
  const rcp = Float64Array.from(freq, (f) => (f === 0 ? 0 : 1 / f))
  // z = zeros among trits i−W..i−1 (the context of trit i), walked from i = n−1 down;
  // (t & 1) ^ 1 is 1 for a zero trit. Model 0 keeps W = 0 and z = 0.
  const w = model === 1 ? window : 0
  let z = 0
  for (let j = Math.max(0, n - 1 - w); j < n - 1; j++) z += (trits[j] & 1) ^ 1
  for (let i = n - 1; i >= 0; i--) {
    if (p < 4) {
      const bigger = new Uint8Array(buf.length * 2)
      bigger.set(buf, buf.length)
      p += buf.length
      buf = bigger
    }
    const k = 3 * z + trits[i] + 1
    const f = freq[k]
    const xMax = X_MAX_UNIT * f
    while (x >= xMax) {
      buf[--p] = x & 255
      x >>>= 8
    }
    // q = floor(x / f) via the reciprocal, corrected by one where rounding misses.
    let q = Math.floor(x * rcp[k])
    let r = x - q * f
    if (r >= f) {
      q++
      r -= f
    } else if (r < 0) {
      q--
      r += f
    }
    x = q * M + r + cum[k]
    if (w !== 0 && i >= 1) {
      // Slide the window back by one: trit i−1 leaves the context, trit i−1−W enters it.
      z -= (trits[i - 1] & 1) ^ 1
      if (i - 1 - w >= 0) z += (trits[i - 1 - w] & 1) ^ 1
    }
  }
  const body = buf.subarray(p)
  const out = new Uint8Array(head + 4 + body.length)
  out.set(header, 0)
  new DataView(out.buffer).setUint32(head, x, true)
  out.set(body, head + 4)
  return out
}

export function decode(bytes: Uint8Array, n: number, opts: TritDecodeOptions = {}): Int8Array {
  checkCount(n, opts)
  if (bytes.length < 1) throw corrupt(NAME, 'empty')
  const model = bytes[0]
  if (model !== 0 && model !== 1) throw corrupt(NAME, `unknown model ${model}`)
  let window = 0
  if (model === 1) {
    window = bytes[1] ?? 0
    if (window < 1 || window > MAX_WINDOW) throw corrupt(NAME, `window ${window} is outside 1..${MAX_WINDOW}`)
  }
  const contexts = model === 1 ? window + 1 : 1
  const head = headerBytes(model, window) - 4
  if (bytes.length < head + 4) throw corrupt(NAME, `${bytes.length} bytes, shorter than its ${head + 4}-byte header`)
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const freq = new Uint16Array(3 * contexts)
  const cum = new Uint16Array(3 * contexts)
  const sym = new Uint8Array(contexts * M)
  for (let c = 0, h = head - 4 * contexts; c < contexts; c++, h += 4) {
    const f0 = view.getUint16(h, true)
    const f1 = view.getUint16(h + 2, true)
    if (f0 + f1 > M) throw corrupt(NAME, `context ${c} frequencies exceed ${M}`)
    const f = [f0, f1, M - f0 - f1]
    freq.set(f, 3 * c)
    cum.set([0, f0, f0 + f1], 3 * c)
    sym.fill(1, c * M + f0, c * M + f0 + f1)
    sym.fill(2, c * M + f0 + f1, (c + 1) * M)
  }
  let x = view.getUint32(head, true)
  if (x < L || x >= 2 ** 31) throw corrupt(NAME, 'bad initial state')
  let p = head + 4
  const end = bytes.length
  const out = new Int8Array(n)
  const mask = M - 1
  const w = model === 1 ? window : 0
  // z = zeros among out[i−W..i−1]; out[j] & 1 ^ 1 is 1 for a zero trit. Model 0: W = 0, z = 0.
  let z = 0
  for (let i = 0; i < n; i++) {
    const base = z << SCALE_BITS
    const slot = x & mask
    const s = sym[base + slot]
    const k = 3 * z + s
    x = freq[k] * (x >>> SCALE_BITS) + slot - cum[k]
    while (x < L) {
      if (p >= end) throw corrupt(NAME, 'ran out of bytes')
      x = (x << 8) | bytes[p++]
    }
    out[i] = s - 1
    if (w !== 0) {
      z += s & 1
      if (i >= w) z -= (out[i - w] & 1) ^ 1
    }
  }
  if (p !== end || x !== L) throw corrupt(NAME, p !== end ? `${end - p} bytes left over` : 'bad final state')
  return out
}

/** Estimate from the order-0 counts (the context models can only be smaller, header aside). */
export function sizeBytes(n: number, counts?: TritCounts): number {
  if (counts === undefined) throw new InputError('entropy size needs the trit counts')
  return headerBytes(0, 0) + Math.ceil((n * tritEntropyBits(counts)) / 8)
}

export const entropy: TritCodec = {name: NAME, summary: 'static rANS, order-0 or zero-window context, ≈ empirical entropy', encode, decode, sizeBytes}
