/**
 * Data-movement loops on flat typed arrays (no tfjs): transpose, slice, concat. The wasm
 * backend's own kernels for these are slow in ways that matter for training (its Transpose
 * runs at ~8 ns per element, its Slice first copies the whole input with `readSync`, its
 * Concat and Slice make one `subarray` object per short run); `wasm-adapter.ts` runs these
 * loops on the wasm heap instead. Every function writes every element of its destination.
 *
 * Source and destination are (array, offset) pairs. When both are the same array (the wasm heap
 * viewed whole) runs are copied with `copyWithin`, which makes no view object per run: a run of
 * 64 floats copies ~4× faster than with `set(subarray(…))` and ~6× faster than a loop.
 *
 * Shapes are row-major. A transpose is first simplified (`simplifyPermutation`): size-1 axes
 * are dropped and input axes that stay adjacent and in order are merged, so e.g. the attention
 * head split `[B,T,H,Dh]` perm `[0,2,1,3]` becomes runs of Dh contiguous values, and
 * `[B,M,N]` perm `[0,2,1]` a batch of 2-D transposes.
 */

export type FlatArray = Float32Array | Int32Array | Uint8Array

/** Between distinct arrays, runs shorter than this are copied by a loop, longer ones by `set`. */
const SHORT_RUN = 48

function copyRun(src: FlatArray, s: number, dst: FlatArray, d: number, n: number): void {
  if (src === dst) {
    dst.copyWithin(d, s, s + n)
  } else if (n < SHORT_RUN) {
    for (let i = 0; i < n; i++) dst[d + i] = src[s + i]
  } else {
    dst.set(src.subarray(s, s + n), d)
  }
}

function stridesOf(shape: readonly number[]): number[] {
  const st = new Array<number>(shape.length)
  let acc = 1
  for (let a = shape.length - 1; a >= 0; a--) {
    st[a] = acc
    acc *= shape[a]
  }
  return st
}

/**
 * The same transpose with size-1 axes dropped and input axes that stay adjacent (and in order)
 * in the output merged. `perm[i]` is the input axis of output axis i, as `tf.transpose`.
 */
export function simplifyPermutation(shape: readonly number[], perm: readonly number[]): {shape: number[]; perm: number[]} {
  const kept = [...shape.keys()].filter((a) => shape[a] !== 1)
  const renumber = new Map(kept.map((a, i) => [a, i]))
  const p = perm.filter((a) => shape[a] !== 1).map((a) => renumber.get(a)!)
  const s = kept.map((a) => shape[a])
  // groups of input axes, in output order, each a run a, a+1, …
  const groups: number[][] = []
  for (const a of p) {
    const last = groups.at(-1)
    if (last && last.at(-1)! + 1 === a) last.push(a)
    else groups.push([a])
  }
  const byInput = [...groups].sort((x, y) => x[0] - y[0])
  return {
    shape: byInput.map((g) => g.reduce((acc, a) => acc * s[a], 1)),
    perm: groups.map((g) => byInput.indexOf(g)),
  }
}

/**
 * dst[dOff…] = the transpose of src[sOff…] (shape `rows × cols`, repeated `batch` times) as
 * `cols × rows`. The two regions must not overlap.
 */
export function transpose2d(src: FlatArray, sOff: number, dst: FlatArray, dOff: number, batch: number, rows: number, cols: number): void {
  // Four source rows at a time (contiguous reads, 4-wide writes), columns in blocks of 256.
  const block = 256
  const plane = rows * cols
  const rows4 = rows - (rows % 4)
  for (let b = 0; b < batch; b++) {
    const sBase = sOff + b * plane
    const dBase = dOff + b * plane
    for (let j0 = 0; j0 < cols; j0 += block) {
      const j1 = Math.min(j0 + block, cols)
      for (let i = 0; i < rows4; i += 4) {
        const a0 = sBase + i * cols
        const a1 = a0 + cols
        const a2 = a1 + cols
        const a3 = a2 + cols
        for (let j = j0; j < j1; j++) {
          const o = dBase + j * rows + i
          dst[o] = src[a0 + j]
          dst[o + 1] = src[a1 + j]
          dst[o + 2] = src[a2 + j]
          dst[o + 3] = src[a3 + j]
        }
      }
      for (let i = rows4; i < rows; i++) {
        const a = sBase + i * cols
        for (let j = j0; j < j1; j++) dst[dBase + j * rows + i] = src[a + j]
      }
    }
  }
}

/**
 * Copy runs of `run` contiguous values: the output walks `counts` (row-major) and the source
 * offset of output index (i0, i1, …) is Σ i_k · srcStrides[k] + srcBase.
 */
function copyRuns(src: FlatArray, srcBase: number, dst: FlatArray, dOff: number, counts: readonly number[], srcStrides: readonly number[], run: number): void {
  const r = counts.length
  const idx = new Array<number>(r).fill(0)
  const total = counts.reduce((a, b) => a * b, 1)
  let s = srcBase
  let d = dOff
  for (let n = 0; n < total; n++) {
    copyRun(src, s, dst, d, run)
    d += run
    // odometer: advance the last axis, carry into earlier ones
    for (let k = r - 1; k >= 0; k--) {
      idx[k]++
      s += srcStrides[k]
      if (idx[k] < counts[k]) break
      s -= idx[k] * srcStrides[k]
      idx[k] = 0
    }
  }
}

/**
 * dst[dOff…] = tf.transpose(src[sOff…], perm) for a source of `shape` (regions must not
 * overlap). Returns false (dst untouched) when the simplified permutation is neither a batch of
 * 2-D transposes nor keeps the last axis last; the caller then uses another implementation.
 */
export function transposeInto(src: FlatArray, sOff: number, dst: FlatArray, dOff: number, shape: readonly number[], perm: readonly number[]): boolean {
  const {shape: s, perm: p} = simplifyPermutation(shape, perm)
  const r = s.length
  if (r <= 1) {
    copyRun(src, sOff, dst, dOff, s.length === 0 ? 1 : s[0]) // no axis left: one value
    return true
  }
  const leadingInOrder = (n: number) => p.slice(0, n).every((a, i) => a === i)
  if (p[r - 1] === r - 2 && p[r - 2] === r - 1 && leadingInOrder(r - 2)) {
    const batch = s.slice(0, r - 2).reduce((a, b) => a * b, 1)
    transpose2d(src, sOff, dst, dOff, batch, s[r - 2], s[r - 1])
    return true
  }
  if (p[r - 1] === r - 1) {
    const st = stridesOf(s)
    copyRuns(src, sOff, dst, dOff, p.slice(0, r - 1).map((a) => s[a]), p.slice(0, r - 1).map((a) => st[a]), s[r - 1])
    return true
  }
  return false
}

/** dst[dOff…] = src[sOff…][begin : begin + size] (every axis) for a source of `shape`. */
export function sliceInto(src: FlatArray, sOff: number, dst: FlatArray, dOff: number, shape: readonly number[], begin: readonly number[], size: readonly number[]): void {
  const r = shape.length
  if (size.some((n) => n === 0)) return
  if (r === 0) {
    dst[dOff] = src[sOff]
    return
  }
  const st = stridesOf(shape)
  // the innermost axes that are taken whole join the run
  let k = r - 1
  let run = size[k]
  while (k > 0 && size[k] === shape[k]) {
    k--
    run *= size[k]
  }
  const base = begin.reduce((acc, b, a) => acc + b * st[a], sOff)
  copyRuns(src, base, dst, dOff, size.slice(0, k), st.slice(0, k), run)
}

/**
 * dst[dOff…] = the concatenation of `parts` (each `data[offset…]` of `shape`) along `axis`; all
 * parts share every other dimension.
 */
export function concatInto(parts: ReadonlyArray<{data: FlatArray; offset: number; shape: readonly number[]}>, dst: FlatArray, dOff: number, axis: number): void {
  if (parts.length === 0) return
  const outer = parts[0].shape.slice(0, axis).reduce((a, b) => a * b, 1)
  const inner = parts.map((t) => t.shape.slice(axis).reduce((a, b) => a * b, 1))
  let d = dOff
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < parts.length; i++) {
      copyRun(parts[i].data, parts[i].offset + o * inner[i], dst, d, inner[i])
      d += inner[i]
    }
  }
}
