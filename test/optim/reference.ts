/**
 * Float64 reference implementations of the optimizer formulas (plain JS arrays), written from
 * the formulas in the src/optim module comments, independent of tfjs.
 */
export type Mat = number[][]

/** Deterministic PRNG (mulberry32) → standard normals via Box–Muller. */
export function rng(seed: number): () => number {
  let a = seed >>> 0
  const uniform = () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  return () => Math.sqrt(-2 * Math.log(uniform() + 1e-12)) * Math.cos(2 * Math.PI * uniform())
}

/** A rows×cols matrix of normals, rounded to float32 so tfjs and the reference start equal. */
export function randMat(rows: number, cols: number, seed: number, scale = 1): Mat {
  const r = rng(seed)
  return Array.from({length: rows}, () => Array.from({length: cols}, () => Math.fround(r() * scale)))
}

export const T = (x: Mat): Mat => x[0].map((_, j) => x.map((row) => row[j]))
export const matmul = (x: Mat, y: Mat): Mat =>
  x.map((row) => y[0].map((_, j) => row.reduce((s, v, k) => s + v * y[k][j], 0)))
export const map2 = (x: Mat, y: Mat, f: (a: number, b: number) => number): Mat => x.map((row, i) => row.map((v, j) => f(v, y[i][j])))
export const scale = (x: Mat, s: number): Mat => x.map((row) => row.map((v) => v * s))
export const frob = (x: Mat): number => Math.sqrt(x.flat().reduce((s, v) => s + v * v, 0))
export const flat = (x: Mat): number[] => x.flat()

export function ns5(g: Mat, steps: number): Mat {
  const [a, b, c] = [3.4445, -4.775, 2.0315]
  const tall = g.length > g[0].length
  let x = tall ? T(g) : g
  x = scale(x, 1 / (frob(x) + 1e-7))
  for (let i = 0; i < steps; i++) {
    const A = matmul(x, T(x))
    const B = map2(scale(A, b), scale(matmul(A, A), c), (p, q) => p + q)
    x = map2(scale(x, a), matmul(B, x), (p, q) => p + q)
  }
  return tall ? T(x) : x
}

export interface MuonRefState {
  buf: Mat
  s?: number[] // NorMuon per-row second moment
}

/** One Muon/NorMuon step in float64; mutates `state`, returns the new weights. */
export function muonStep(
  w: Mat,
  g: Mat,
  state: MuonRefState,
  o: {lr: number; mu: number; nesterov: boolean; nsSteps: number; wd: number; normuon?: {beta2: number; eps: number}},
): Mat {
  state.buf = map2(scale(state.buf, o.mu), g, (p, q) => p + q)
  const u = o.nesterov ? map2(g, scale(state.buf, o.mu), (p, q) => p + q) : state.buf
  let out = ns5(u, o.nsSteps)
  if (o.normuon) {
    const {beta2, eps} = o.normuon
    const rowMean = out.map((row) => row.reduce((s, v) => s + v * v, 0) / row.length)
    state.s = (state.s ?? rowMean.map(() => 0)).map((s, i) => beta2 * s + (1 - beta2) * rowMean[i])
    const scaled = out.map((row, i) => row.map((v) => v / (Math.sqrt(state.s![i]) + eps)))
    out = scale(scaled, frob(out) / (frob(scaled) + eps))
  }
  const shape = Math.sqrt(Math.max(1, w.length / w[0].length))
  return map2(w, out, (p, q) => p * (1 - o.lr * o.wd) - o.lr * shape * q)
}

export interface AdamRefState {
  m: number[]
  v: number[]
  t: number
}

/** One AdamW step in float64 on a flat vector; mutates `state`, returns the new weights. */
export function adamwStep(
  p: number[],
  g: number[],
  state: AdamRefState,
  o: {lr: number; beta1: number; beta2: number; eps: number; wd: number},
): number[] {
  state.t += 1
  state.m = state.m.map((m, i) => o.beta1 * m + (1 - o.beta1) * g[i])
  state.v = state.v.map((v, i) => o.beta2 * v + (1 - o.beta2) * g[i] * g[i])
  const bc1 = 1 - o.beta1 ** state.t
  const bc2 = 1 - o.beta2 ** state.t
  return p.map((x, i) => x * (1 - o.lr * o.wd) - (o.lr * state.m[i]) / bc1 / (Math.sqrt(state.v[i] / bc2) + o.eps))
}

/** Eigenvalues of a symmetric matrix (cyclic Jacobi), float64. */
export function symEigenvalues(a: Mat): number[] {
  const n = a.length
  const m = a.map((row) => [...row])
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0
    for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) off += m[i][j] ** 2
    if (off < 1e-22) break
    for (let p = 0; p < n; p++) {
      for (let q = p + 1; q < n; q++) {
        if (Math.abs(m[p][q]) < 1e-300) continue
        const theta = (m[q][q] - m[p][p]) / (2 * m[p][q])
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1))
        const c = 1 / Math.sqrt(t * t + 1)
        const s = t * c
        for (let k = 0; k < n; k++) {
          const mkp = m[k][p]
          const mkq = m[k][q]
          m[k][p] = c * mkp - s * mkq
          m[k][q] = s * mkp + c * mkq
        }
        for (let k = 0; k < n; k++) {
          const mpk = m[p][k]
          const mqk = m[q][k]
          m[p][k] = c * mpk - s * mqk
          m[q][k] = s * mpk + c * mqk
        }
      }
    }
  }
  return m.map((row, i) => row[i])
}

/** Largest |a − b| over two equal-length sequences. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`)
  let d = 0
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]))
  return d
}

/**
 * Row-major float64 matrices for the larger Newton–Schulz checks (the nested-array helpers above
 * are too slow at 128 × 512): a dense matrix is {rows, cols, data}.
 */
export interface Dense {
  rows: number
  cols: number
  data: Float64Array
}

export function denseMatmul(x: Dense, y: Dense): Dense {
  if (x.cols !== y.rows) throw new Error(`matmul ${x.rows}×${x.cols} · ${y.rows}×${y.cols}`)
  const out = new Float64Array(x.rows * y.cols)
  for (let i = 0; i < x.rows; i++) {
    for (let k = 0; k < x.cols; k++) {
      const v = x.data[i * x.cols + k]
      if (v === 0) continue
      for (let j = 0, o = i * y.cols, b = k * y.cols; j < y.cols; j++) out[o + j] += v * y.data[b + j]
    }
  }
  return {rows: x.rows, cols: y.cols, data: out}
}

export function denseT(x: Dense): Dense {
  const out = new Float64Array(x.data.length)
  for (let i = 0; i < x.rows; i++) for (let j = 0; j < x.cols; j++) out[j * x.rows + i] = x.data[i * x.cols + j]
  return {rows: x.cols, cols: x.rows, data: out}
}

/** The standard Newton–Schulz iteration of `ns5` in float64 on a dense matrix. */
export function ns5Dense(g: Dense, steps: number): Dense {
  const [a, b, c] = [3.4445, -4.775, 2.0315]
  const tall = g.rows > g.cols
  let x = tall ? denseT(g) : {...g, data: Float64Array.from(g.data)}
  const norm = Math.sqrt(x.data.reduce((s, v) => s + v * v, 0))
  x.data = x.data.map((v) => v / (norm + 1e-7))
  for (let i = 0; i < steps; i++) {
    const A = denseMatmul(x, denseT(x))
    const A2 = denseMatmul(A, A)
    const B = {...A, data: A.data.map((v, j) => b * v + c * A2.data[j])}
    const BX = denseMatmul(B, x)
    x = {...x, data: x.data.map((v, j) => a * v + BX.data[j])}
  }
  return tall ? denseT(x) : x
}

/** A rows×cols matrix of standard normals (float64), row-major. */
export function denseNormal(rows: number, cols: number, seed: number): Dense {
  const r = rng(seed)
  return {rows, cols, data: Float64Array.from({length: rows * cols}, r)}
}

/** Rounds every entry to float32 (so tfjs and the reference start from the same matrix). */
export const denseF32 = (x: Dense): Dense => ({...x, data: Float64Array.from(Float32Array.from(x.data))})

/** ‖y − x‖_F / ‖x‖_F. */
export function relFrobenius(y: ArrayLike<number>, x: ArrayLike<number>): number {
  if (y.length !== x.length) throw new Error(`length ${y.length} vs ${x.length}`)
  let d = 0
  let n = 0
  for (let i = 0; i < x.length; i++) {
    d += (y[i] - x[i]) ** 2
    n += x[i] ** 2
  }
  return Math.sqrt(d / n)
}
