/**
 * Choosing one id from a row of logits, shared by every sampler: softmax(logits / temperature)
 * (greedy at temperature 0), optionally restricted to the k most likely ids, never a banned id,
 * drawn with the caller's seeded PRNG so a sample can be repeated.
 */

export interface PickOptions {
  temperature: number
  topK: number | null
  /** Ids never to emit (pad, BOS, EOS, UNK; diffusion adds [MASK]). */
  banned?: number[]
}

/** Pick an id from logits (float64 arithmetic on the host). */
export function pickToken(logits: Float32Array, opts: PickOptions, rand: () => number): number {
  const banned = new Set(opts.banned ?? [])
  let ids = Array.from(logits.keys()).filter((i) => !banned.has(i))
  if (opts.temperature <= 0) return ids.reduce((best, i) => (logits[i] > logits[best] ? i : best), ids[0])
  if (opts.topK !== null && opts.topK < ids.length) ids = ids.sort((a, b) => logits[b] - logits[a]).slice(0, opts.topK)
  const max = Math.max(...ids.map((i) => logits[i]))
  const weights = ids.map((i) => Math.exp((logits[i] - max) / opts.temperature))
  const total = weights.reduce((a, b) => a + b, 0)
  let r = rand() * total
  for (let j = 0; j < ids.length; j++) {
    r -= weights[j]
    if (r <= 0) return ids[j]
  }
  return ids[ids.length - 1]
}
