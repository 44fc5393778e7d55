/** Deterministic trit generators shared by the pack tests. */

/** A small LCG: the same seed always gives the same trits. */
export function lcg(seed: number): () => number {
  let s = seed >>> 0
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0
    return s / 2 ** 32
  }
}

/** n i.i.d. trits with the given zero fraction, signs equally likely. */
export function randomTrits(n: number, zeroFrac: number, seed = 1): Int8Array {
  const r = lcg(seed)
  const t = new Int8Array(n)
  for (let i = 0; i < n; i++) t[i] = r() < zeroFrac ? 0 : r() < 0.5 ? -1 : 1
  return t
}

/** Rows of `cols` trits whose zero fraction varies from row to row (lo..hi). */
export function rowTrits(rows: number, cols: number, lo: number, hi: number, seed = 1): Int8Array {
  const r = lcg(seed)
  const t = new Int8Array(rows * cols)
  for (let i = 0; i < rows; i++) {
    const z = lo + (hi - lo) * r()
    for (let j = 0; j < cols; j++) t[i * cols + j] = r() < z ? 0 : r() < 0.5 ? -1 : 1
  }
  return t
}

/** Every trit sequence of length n, in lexicographic order of (t+1) digits. */
export function* allSequences(n: number): Generator<Int8Array> {
  const total = 3 ** n
  for (let k = 0; k < total; k++) {
    const t = new Int8Array(n)
    let v = k
    for (let i = 0; i < n; i++) {
      t[i] = (v % 3) - 1
      v = Math.floor(v / 3)
    }
    yield t
  }
}

/** Fast equality of two trit arrays (vitest's deep equality is slow on large typed arrays). */
export function sameTrits(a: Int8Array, b: Int8Array): boolean {
  return a.length === b.length && Buffer.from(a.buffer, a.byteOffset, a.length).equals(Buffer.from(b.buffer, b.byteOffset, b.length))
}
