/** xorshift32: a deterministic stream of 32-bit words, so test failures reproduce. */
export function xorshift32(seed: number): () => number {
  let s = seed >>> 0 || 1
  return () => {
    s ^= s << 13
    s >>>= 0
    s ^= s >>> 17
    s ^= s << 5
    s >>>= 0
    return s
  }
}

/** Deterministic pseudo-random values in [−scale, scale) (an LCG), e.g. weights or inputs. */
export function uniformValues(n: number, seed: number, scale = 1): Float32Array {
  let s = seed >>> 0
  const out = new Float32Array(n)
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0
    out[i] = ((s / 4294967296) * 2 - 1) * scale
  }
  return out
}

/**
 * Random weights for every parameter of a model (uniformValues, seeds firstSeed, firstSeed + 1, …
 * in parameter order), loaded into it: zero-initialised projections, resid_mix = [1, 0] and unit
 * skips would otherwise hide attention, x0 and the skips from a test. Returns them.
 */
export function loadRandomWeights(model: {specs: ReadonlyArray<{name: string; shape: number[]}>; loadWeights(w: Map<string, Float32Array>): void}, firstSeed: number, scale = 0.5): Map<string, Float32Array> {
  const w = new Map<string, Float32Array>()
  let k = firstSeed
  for (const s of model.specs) w.set(s.name, uniformValues(s.shape.reduce((a, b) => a * b, 1), k++, scale))
  model.loadWeights(w)
  return w
}
