/**
 * The emitted wasm GEMM against float64 references: odd shapes around the tile and block sizes,
 * A and Aᵀ, B and Bᵀ, K = 0, exactness on integers, the plain variant's exact rounding order,
 * writes confined to C, scratch freed; then on the tfjs wasm heap itself.
 */
import * as tf from '@tensorflow/tfjs-core'
import {beforeAll, describe, expect, it} from 'vitest'
import {initBackend} from '../../src/backend/index.js'
import {
  buildGemm,
  DEFAULT_GEMM_SHAPES,
  enableRelaxedSimd,
  gemmModuleBytes,
  tfjsHeap,
  WebAssemblyApi,
  type GemmHeap,
  type GemmShape,
  type GemmVariant,
  type TfjsWasmModule,
} from '../../src/backend/wasm-gemm.js'

const fma = enableRelaxedSimd()
const VARIANTS: GemmVariant[] = fma ? ['fma', 'plain'] : ['plain']

/** A 64 MiB memory with a bump allocator that records every malloc and free. */
function testHeap(): GemmHeap & {f32: () => Float32Array; live: Set<number>; mallocs: number; alloc(floats: number): number} {
  const memory = new WebAssemblyApi.Memory({initial: 1024})
  let top = 64
  const live = new Set<number>()
  const heap = {
    memory,
    live,
    mallocs: 0,
    malloc(bytes: number) {
      const p = top + 8 // deliberately 8 mod 16, as tfjs's malloc may be
      top = p + Math.ceil(bytes / 16) * 16 + 8
      heap.mallocs++
      live.add(p)
      return p
    },
    free(p: number) {
      if (!live.delete(p)) throw new Error(`free of ${p}, not allocated`)
    },
    f32: () => new Float32Array(memory.buffer),
    /** Allocate `floats` floats for test data (not counted as scratch). */
    alloc(floats: number) {
      const p = top + 4 // odd placement: only 4-byte aligned
      top = p + floats * 4 + 60
      return p
    },
  }
  return heap
}

/** Deterministic values in [-1, 1) (or small integers in [-8, 8) when `ints`). */
function values(n: number, seed: number, ints = false): Float32Array {
  const out = new Float32Array(n)
  let s = seed >>> 0
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0
    out[i] = ints ? (s >>> 28) - 8 : s / 2 ** 31 - 1
  }
  return out
}

interface Problem {
  m: number
  n: number
  k: number
  transposeA: boolean
  transposeB: boolean
  ints?: boolean
}

/** Set up A (stored [M,K] or [K,M]) and B ([K,N] or [N,K]) on the heap, C full of NaN guards. */
function setUp(heap: ReturnType<typeof testHeap>, p: Problem, seed: number) {
  const {m, n, k} = p
  const a = values(m * k, seed, p.ints)
  const b = values(k * n, seed + 1, p.ints)
  const aAt = heap.alloc(a.length)
  const bAt = heap.alloc(b.length)
  const cAt = heap.alloc(m * n + 8) + 16 // 4 guard floats each side
  const f = heap.f32()
  f.set(a, aAt / 4)
  f.set(b, bAt / 4)
  f.fill(NaN, cAt / 4 - 4, cAt / 4 + m * n + 4)
  const A = (i: number, kk: number) => (p.transposeA ? a[kk * m + i] : a[i * k + kk])
  const B = (kk: number, j: number) => (p.transposeB ? b[j * k + kk] : b[kk * n + j])
  const call = {m, n, k, a: aAt, aRowStride: p.transposeA ? 1 : k, aColStride: p.transposeA ? m : 1, b: bAt, transposeB: p.transposeB, c: cAt}
  return {a, b, A, B, call, aAt, bAt, cAt}
}

/** |C − A·B| within the float32 accumulation bound, C exact on integers, guards and inputs intact. */
function check(heap: ReturnType<typeof testHeap>, p: Problem, s: ReturnType<typeof setUp>): void {
  const {m, n, k} = p
  // A row-major and B column-major in float64, for straight dot products
  const rows = Float64Array.from({length: m * k}, (_, x) => s.A(Math.floor(x / k), x % k))
  const cols = Float64Array.from({length: n * k}, (_, x) => s.B(x % k, Math.floor(x / k)))
  const f = heap.f32()
  const c = f.slice(s.cAt / 4, s.cAt / 4 + m * n)
  let worst = 0
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let ref = 0
      let mag = 0
      for (let kk = 0; kk < k; kk++) {
        const prod = rows[i * k + kk] * cols[j * k + kk]
        ref += prod
        mag += Math.abs(prod)
      }
      if (p.ints) {
        if (c[i * n + j] !== ref) expect(c[i * n + j], `C[${i},${j}]`).toBe(ref)
      } else {
        worst = Math.max(worst, Math.abs(c[i * n + j] - ref) / ((k + 2) * 2 ** -24 * mag + 1e-30))
      }
    }
  }
  expect(worst).toBeLessThanOrEqual(1)
  for (const g of [-4, -3, -2, -1, m * n, m * n + 1, m * n + 2, m * n + 3]) expect(f[s.cAt / 4 + g]).toBeNaN()
  expect(sameBytes(f.subarray(s.aAt / 4, s.aAt / 4 + s.a.length), s.a), 'A unchanged').toBe(true)
  expect(sameBytes(f.subarray(s.bAt / 4, s.bAt / 4 + s.b.length), s.b), 'B unchanged').toBe(true)
}

function sameBytes(x: Float32Array, y: Float32Array): boolean {
  return Buffer.compare(Buffer.from(x.buffer, x.byteOffset, x.byteLength), Buffer.from(y.buffer, y.byteOffset, y.byteLength)) === 0
}

const LAYOUTS = [
  {transposeA: false, transposeB: false},
  {transposeA: true, transposeB: false},
  {transposeA: false, transposeB: true},
  {transposeA: true, transposeB: true},
]

describe('the module', () => {
  it('validates in both variants (fma only where relaxed SIMD is on)', () => {
    expect(WebAssemblyApi.validate(gemmModuleBytes('plain'))).toBe(true)
    expect(WebAssemblyApi.validate(gemmModuleBytes('fma'))).toBe(fma)
  })

  it('rejects a tile whose width is not a multiple of 4, and fma where it is unavailable', () => {
    expect(() => gemmModuleBytes('plain', {...DEFAULT_GEMM_SHAPES.plain, nr: 6})).toThrow(/bad tile 4×6/)
    expect(() => gemmModuleBytes('plain', {...DEFAULT_GEMM_SHAPES.plain, unroll: 3})).toThrow(/unroll 3/)
    if (!fma) expect(() => buildGemm(testHeap(), {variant: 'fma'})).toThrow(/relaxed SIMD/)
  })

  it("'auto' picks fma exactly when relaxed SIMD validates, with that variant's tile", () => {
    const gemm = buildGemm(testHeap())
    expect(gemm.variant).toBe(fma ? 'fma' : 'plain')
    expect(gemm.shape).toEqual(DEFAULT_GEMM_SHAPES[gemm.variant])
  })
})

describe.each(VARIANTS)('%s GEMM', (variant) => {
  // small blocks so that K and M blocking and every edge path run on small problems
  const SMALL: Partial<GemmShape> = {kc: 16, mc: 12}

  it('odd shapes 1..70, all four layouts, within float32 rounding of the float64 reference', () => {
    const heap = testHeap()
    const gemm = buildGemm(heap, {variant, shape: SMALL})
    const dims = [1, 2, 3, 4, 5, 7, 8, 9, 13, 16, 17, 31, 33, 70]
    let seed = 1
    for (const layout of LAYOUTS) {
      for (let t = 0; t < 12; t++) {
        const pick = () => dims[(seed = (seed * 7 + 3) % 9973) % dims.length]
        const p = {m: pick(), n: pick(), k: pick(), ...layout}
        const s = setUp(heap, p, seed)
        gemm.run(s.call)
        check(heap, p, s)
      }
    }
    expect(heap.live.size).toBe(0)
  })

  it('is exact on small integers (every product and sum representable), default blocking', () => {
    const heap = testHeap()
    const gemm = buildGemm(heap, {variant})
    for (const layout of LAYOUTS) {
      for (const [m, n, k] of [[70, 69, 300], [5, 3, 257], [1, 33, 1]]) {
        const p = {m, n, k, ints: true, ...layout}
        const s = setUp(heap, p, m + n + k)
        gemm.run(s.call)
        check(heap, p, s)
      }
    }
  })

  it('K = 0 writes zeros; M = 0 or N = 0 writes nothing', () => {
    const heap = testHeap()
    const gemm = buildGemm(heap, {variant})
    const p = {m: 5, n: 9, k: 0, transposeA: false, transposeB: false}
    const s = setUp(heap, p, 3)
    gemm.run(s.call)
    const f = heap.f32()
    expect([...f.slice(s.cAt / 4, s.cAt / 4 + 45)]).toEqual(new Array(45).fill(0))
    expect(f[s.cAt / 4 - 1]).toBeNaN()
    expect(f[s.cAt / 4 + 45]).toBeNaN()
    for (const [m, n] of [[0, 9], [5, 0]]) {
      f.fill(NaN, s.cAt / 4, s.cAt / 4 + 45)
      gemm.run({...s.call, m, n, k: 4})
      expect(f.slice(s.cAt / 4, s.cAt / 4 + 45).every(Number.isNaN)).toBe(true)
    }
    expect(heap.live.size).toBe(0)
  })

  it('the GPT reference shape [2048,256]ᵀ·[2048,64] (dW, K = 2048 over 8 K blocks)', () => {
    const heap = testHeap()
    const gemm = buildGemm(heap, {variant})
    const p = {m: 256, n: 64, k: 2048, transposeA: true, transposeB: false}
    const s = setUp(heap, p, 11)
    gemm.run(s.call)
    check(heap, p, s)
  })

  it('is deterministic: the same call twice gives the same bits', () => {
    const heap = testHeap()
    const gemm = buildGemm(heap, {variant})
    const p = {m: 37, n: 29, k: 600, transposeA: false, transposeB: true}
    const s = setUp(heap, p, 5)
    gemm.run(s.call)
    const first = heap.f32().slice(s.cAt / 4, s.cAt / 4 + p.m * p.n)
    gemm.run(s.call)
    expect(heap.f32().slice(s.cAt / 4, s.cAt / 4 + p.m * p.n)).toEqual(first)
  })

  it('frees its scratch, also when a call in a batch fails', () => {
    const heap = testHeap()
    const gemm = buildGemm(heap, {variant})
    const s = setUp(heap, {m: 3, n: 10, k: 4, transposeA: false, transposeB: false}, 9)
    gemm.runMany([s.call, s.call], 10)
    expect(heap.mallocs).toBe(1)
    expect(() => gemm.runMany([s.call, {...s.call, n: 11}], 10)).toThrow(/n=11 exceeds the scratch for n=10/)
    expect(heap.mallocs).toBe(2)
    expect(heap.live.size).toBe(0)
  })
})

describe('plain variant rounding order', () => {
  it('is ((0 + a₀b₀) + a₁b₁) + … in float32 per K block, blocks added to C in order — bit for bit', () => {
    const heap = testHeap()
    const gemm = buildGemm(heap, {variant: 'plain', shape: {kc: 16}})
    const p = {m: 9, n: 11, k: 40, transposeA: true, transposeB: false}
    const s = setUp(heap, p, 21)
    gemm.run(s.call)
    const f = heap.f32()
    const r = Math.fround
    for (let i = 0; i < p.m; i++) {
      for (let j = 0; j < p.n; j++) {
        let c = 0
        for (let k0 = 0; k0 < p.k; k0 += 16) {
          let acc = 0
          for (let kk = k0; kk < Math.min(p.k, k0 + 16); kk++) acc = r(acc + r(s.A(i, kk) * s.B(kk, j)))
          c = k0 === 0 ? acc : r(acc + c)
        }
        expect(f[s.cAt / 4 + i * p.n + j]).toBe(c)
      }
    }
  })
})

describe('on the tfjs wasm heap', () => {
  beforeAll(async () => {
    await initBackend('wasm', {quiet: true})
  })

  it('multiplies tensors in place, transposes read through strides, scratch freed', () => {
    const backend = tf.backend() as unknown as {wasm: TfjsWasmModule; dataIdMap: {get(id: object): {memoryOffset: number}}}
    const base = tfjsHeap(backend.wasm)
    const live = new Set<number>()
    const heap: GemmHeap = {
      memory: base.memory,
      malloc: (n) => {
        const p = base.malloc(n)
        live.add(p)
        return p
      },
      free: (p) => {
        live.delete(p)
        base.free(p)
      },
    }
    const gemm = buildGemm(heap)
    const [m, n, k] = [67, 45, 300]
    const aT = tf.tensor2d(values(k * m, 1), [k, m]) // stored as Aᵀ
    const bT = tf.tensor2d(values(n * k, 2), [n, k]) // stored as Bᵀ
    const c = tf.zeros([m, n])
    const at = (t: tf.Tensor) => backend.dataIdMap.get(t.dataId).memoryOffset
    gemm.run({m, n, k, a: at(aT), aRowStride: 1, aColStride: m, b: at(bT), transposeB: true, c: at(c)})
    const got = c.dataSync()
    const a = aT.dataSync()
    const b = bT.dataSync()
    let worst = 0
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let ref = 0
        for (let kk = 0; kk < k; kk++) ref += a[kk * m + i] * b[j * k + kk]
        worst = Math.max(worst, Math.abs(got[i * n + j] - ref))
      }
    }
    expect(worst).toBeLessThan(1e-4)
    expect(live.size).toBe(0)
    tf.dispose([aT, bT, c])
  })
})
