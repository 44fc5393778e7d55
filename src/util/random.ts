/**
 * Seeded pseudo-random numbers on the host, so weights and samples are the same on every
 * backend: mulberry32 (a small, well-distributed 32-bit generator), optionally keyed by a name
 * (FNV-1a) so each tensor's stream does not depend on the others.
 */

/** Uniform numbers in [0, 1) from a 32-bit state. */
export function mulberry32(seed: number): () => number {
  let s = seed >>> 0
  return () => {
    s = (s + 0x6d2b79f5) >>> 0
    let t = s
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** A generator keyed by (seed, name): FNV-1a of the name over the seed, then mulberry32. */
export function namedRandom(seed: number, name: string): () => number {
  let h = 2166136261 ^ (seed >>> 0)
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 16777619)
  return mulberry32(h >>> 0)
}

/** A uniform permutation of 0..n−1 (Fisher–Yates, from the last element down). */
export function permutation(n: number, rand: () => number): Int32Array {
  const p = new Int32Array(n)
  for (let i = 0; i < n; i++) p[i] = i
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1))
    const x = p[i]
    p[i] = p[j]
    p[j] = x
  }
  return p
}
