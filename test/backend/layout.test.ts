/**
 * The data-movement loops (src/backend/layout.ts) against a naive per-element reference, and the
 * wasm kernels built on them against the cpu backend, for every dtype the wasm backend holds.
 */
import * as tf from '@tensorflow/tfjs-core'
import '@tensorflow/tfjs-backend-cpu'
import {beforeAll, describe, expect, it} from 'vitest'

import {initBackend} from '../../src/backend/index.js'
import {concatInto, simplifyPermutation, sliceInto, transposeInto} from '../../src/backend/layout.js'
import {xorshift32} from '../helpers/random.js'

function strides(shape: readonly number[]): number[] {
  const st = shape.map(() => 1)
  for (let a = shape.length - 2; a >= 0; a--) st[a] = st[a + 1] * shape[a + 1]
  return st
}

/** Unravel flat index i of `shape`. */
function unravel(i: number, shape: readonly number[]): number[] {
  const idx = shape.map(() => 0)
  for (let a = shape.length - 1; a >= 0; a--) {
    idx[a] = i % shape[a]
    i = Math.floor(i / shape[a])
  }
  return idx
}

function naiveTranspose(src: Float32Array, shape: number[], perm: number[]): Float32Array {
  const outShape = perm.map((a) => shape[a])
  const st = strides(shape)
  const out = new Float32Array(src.length)
  for (let i = 0; i < out.length; i++) {
    const o = unravel(i, outShape)
    out[i] = src[o.reduce((acc, v, k) => acc + v * st[perm[k]], 0)]
  }
  return out
}

function randomShape(rand: () => number, rank: number): number[] {
  // sizes 1..5 so size-1 axes (dropped by the simplification) are common
  return Array.from({length: rank}, () => 1 + Math.floor(rand() * 5))
}

function randomPerm(rand: () => number, rank: number): number[] {
  const p = [...Array(rank).keys()]
  for (let i = rank - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1))
    ;[p[i], p[j]] = [p[j], p[i]]
  }
  return p
}

const iota = (n: number) => Float32Array.from({length: n}, (_, i) => i + 1)

describe('simplifyPermutation', () => {
  it('merges axes that stay adjacent and drops size-1 axes', () => {
    expect(simplifyPermutation([8, 256, 4, 64], [0, 2, 1, 3])).toEqual({shape: [8, 256, 4, 64], perm: [0, 2, 1, 3]})
    expect(simplifyPermutation([32, 256, 64], [0, 2, 1])).toEqual({shape: [32, 256, 64], perm: [0, 2, 1]})
    expect(simplifyPermutation([2, 3, 4, 5], [2, 3, 0, 1])).toEqual({shape: [6, 20], perm: [1, 0]})
    expect(simplifyPermutation([2, 1, 3], [1, 2, 0])).toEqual({shape: [2, 3], perm: [1, 0]})
    expect(simplifyPermutation([2, 3, 4], [0, 1, 2])).toEqual({shape: [24], perm: [0]})
    expect(simplifyPermutation([1, 1], [1, 0])).toEqual({shape: [], perm: []})
  })
})

describe('transposeInto', () => {
  it('equals the per-element reference for random shapes and permutations of rank 1–5', () => {
    const next = xorshift32(7)
    const rand = () => next() / 2 ** 32
    let covered = 0
    for (let trial = 0; trial < 400; trial++) {
      const rank = 1 + (trial % 5)
      const shape = randomShape(rand, rank)
      const perm = randomPerm(rand, rank)
      const src = iota(shape.reduce((a, b) => a * b, 1))
      const dst = new Float32Array(src.length).fill(NaN)
      if (!transposeInto(src, 0, dst, 0, shape, perm)) continue
      covered++
      expect(dst, `shape [${shape}] perm [${perm}]`).toEqual(naiveTranspose(src, shape, perm))
    }
    expect(covered).toBeGreaterThan(300)
  })

  it('handles row counts that are not a multiple of 4 and columns beyond one 256-block', () => {
    for (const [b, r, c] of [[1, 7, 300], [3, 5, 2], [2, 4, 513], [1, 1, 9]]) {
      const src = iota(b * r * c)
      const dst = new Float32Array(src.length)
      expect(transposeInto(src, 0, dst, 0, [b, r, c], [0, 2, 1])).toBe(true)
      expect(dst).toEqual(naiveTranspose(src, [b, r, c], [0, 2, 1]))
    }
  })

  it('declines permutations it does not cover and leaves dst untouched', () => {
    const src = iota(120)
    const dst = new Float32Array(120).fill(-1)
    expect(transposeInto(src, 0, dst, 0, [2, 3, 4, 5], [3, 1, 0, 2])).toBe(false)
    expect([...dst].every((v) => v === -1)).toBe(true)
  })
})

describe('one array as source and destination (the wasm heap)', () => {
  it('transposes, slices and concatenates between regions of one array with offsets', () => {
    const heap = new Float32Array(1000).fill(NaN)
    heap.set(iota(2 * 3 * 40), 10) // x: [2, 3, 40] at 10
    const x = heap.slice(10, 250)
    expect(transposeInto(heap, 10, heap, 300, [2, 3, 40], [0, 2, 1])).toBe(true)
    expect(heap.slice(300, 540)).toEqual(naiveTranspose(x, [2, 3, 40], [0, 2, 1]))
    expect(transposeInto(heap, 10, heap, 600, [2, 3, 40], [1, 0, 2])).toBe(true)
    expect(heap.slice(600, 840)).toEqual(naiveTranspose(x, [2, 3, 40], [1, 0, 2]))
    sliceInto(heap, 10, heap, 850, [2, 3, 40], [1, 1, 5], [1, 2, 30])
    expect(heap.slice(850, 910)).toEqual(Float32Array.from([...x.slice(165, 195), ...x.slice(205, 235)]))
    concatInto([{data: heap, offset: 850, shape: [2, 30]}, {data: heap, offset: 10, shape: [2, 5]}], heap, 920, 1)
    expect(heap.slice(920, 990)).toEqual(Float32Array.from([...x.slice(165, 195), ...x.slice(0, 5), ...x.slice(195 + 10, 235), ...x.slice(5, 10)]))
  })
})

describe('sliceInto and concatInto', () => {
  it('slices every box of a rank-4 tensor like the per-element reference', () => {
    const next = xorshift32(11)
    const rand = () => next() / 2 ** 32
    for (let trial = 0; trial < 200; trial++) {
      const shape = randomShape(rand, 1 + (trial % 4))
      const begin = shape.map((n) => Math.floor(rand() * n))
      const size = shape.map((n, a) => 1 + Math.floor(rand() * (n - begin[a])))
      const src = iota(shape.reduce((a, b) => a * b, 1))
      const st = strides(shape)
      const expected = new Float32Array(size.reduce((a, b) => a * b, 1))
      for (let i = 0; i < expected.length; i++) expected[i] = src[unravel(i, size).reduce((acc, v, a) => acc + (v + begin[a]) * st[a], 0)]
      const dst = new Float32Array(expected.length).fill(NaN)
      sliceInto(src, 0, dst, 0, shape, begin, size)
      expect(dst, `shape [${shape}] begin [${begin}] size [${size}]`).toEqual(expected)
    }
  })

  it('concatenates along each axis, short and long runs alike', () => {
    const a = {data: iota(2 * 3 * 50), offset: 0, shape: [2, 3, 50]}
    const b = {data: iota(2 * 3 * 70).map((v) => -v), offset: 0, shape: [2, 3, 70]}
    const dst = new Float32Array(2 * 3 * 120)
    concatInto([a, b], dst, 0, 2)
    for (let r = 0; r < 6; r++) {
      expect(dst.subarray(r * 120, r * 120 + 50)).toEqual(a.data.subarray(r * 50, r * 50 + 50))
      expect(dst.subarray(r * 120 + 50, r * 120 + 120)).toEqual(b.data.subarray(r * 70, r * 70 + 70))
    }
    const dst0 = new Float32Array(2 * 3 * 50 * 2)
    concatInto([a, a], dst0, 0, 0)
    expect(dst0).toEqual(Float32Array.from([...a.data, ...a.data]))
  })
})

/** Values and shape of `fn()` on the given backend (inputs built inside from plain arrays). */
async function on(backend: 'cpu' | 'wasm', fn: () => tf.Tensor | tf.Tensor[]): Promise<Array<{shape: number[]; dtype: string; data: number[]}>> {
  await tf.setBackend(backend)
  const outs = tf.tidy(() => [fn()].flat())
  const res = outs.map((t) => ({shape: t.shape, dtype: t.dtype, data: [...t.dataSync()]}))
  tf.dispose(outs)
  return res
}

describe('data-movement kernels on wasm equal cpu', () => {
  beforeAll(async () => {
    await initBackend('wasm', {quiet: true})
  })

  const cases: Array<[string, () => tf.Tensor | tf.Tensor[]]> = [
    ['transpose float32 head split', () => tf.transpose(tf.tensor(iota(2 * 5 * 3 * 4), [2, 5, 3, 4]), [0, 2, 1, 3])],
    ['transpose int32 batched swap', () => tf.transpose(tf.tensor(Int32Array.from(iota(3 * 7 * 6)), [3, 7, 6], 'int32'), [0, 2, 1])],
    ['transpose bool 2-D', () => tf.transpose(tf.tensor(iota(35).map((v) => v % 3), [5, 7], 'bool'))],
    ['transpose merged axes', () => tf.transpose(tf.tensor(iota(2 * 3 * 4), [2, 3, 4]), [2, 0, 1])],
    ['transpose fallback perm', () => tf.transpose(tf.tensor(iota(2 * 3 * 4 * 5), [2, 3, 4, 5]), [3, 1, 0, 2])],
    ['slice rank 4', () => tf.slice(tf.tensor(iota(3 * 4 * 5 * 6), [3, 4, 5, 6]), [1, 0, 2, 3], [2, -1, 2, 3])],
    ['split unequal along the last axis', () => tf.split(tf.tensor(iota(4 * 3 * 10), [4, 3, 10]), [3, 7], 2)],
    ['split int32 along axis 0', () => tf.split(tf.tensor(Int32Array.from(iota(6 * 5)), [6, 5], 'int32'), 3, 0)],
    ['concat with an empty part', () => tf.concat([tf.tensor(iota(6), [2, 3]), tf.zeros([2, 0]), tf.tensor(iota(4), [2, 2])], 1)],
    ['concat of one non-empty part', () => tf.concat([tf.zeros([0, 3]), tf.tensor(iota(6), [2, 3])], 0)],
    ['clone', () => tf.clone(tf.tensor(iota(10), [2, 5]))],
    ...(['sum', 'mean', 'max', 'min', 'prod'] as const).flatMap((op): Array<[string, () => tf.Tensor | tf.Tensor[]]> => [
      [`${op} over leading axes, keepDims`, () => tf[op](tf.tensor(iota(4 * 3 * 5).map((v) => 1 + Math.sin(v) / 4), [4, 3, 5]), [0, 1], true)],
      [`${op} over the middle axis`, () => tf[op](tf.tensor(iota(4 * 3 * 5).map((v) => 1 + Math.cos(v) / 4), [4, 3, 5]), 1)],
      [`${op} over the last axis (wasm's own path)`, () => tf[op](tf.tensor(iota(12).map((v) => 1 + v / 8), [3, 4]), -1)],
    ]),
    ['sum of int32 over axis 0', () => tf.sum(tf.tensor(Int32Array.from(iota(12)), [4, 3], 'int32'), 0)],
  ]
  for (const [name, fn] of cases) {
    it(name, async () => {
      const [w, c] = [await on('wasm', fn), await on('cpu', fn)]
      expect(w.map((t) => [t.shape, t.dtype])).toEqual(c.map((t) => [t.shape, t.dtype]))
      // data movement is exact; reductions may sum in another order (float32 rounding)
      if (/^(sum|mean|max|min|prod) /.test(name)) w.forEach((t, i) => t.data.forEach((v, j) => expect(v).toBeCloseTo(c[i].data[j], 5)))
      else expect(w).toEqual(c)
    })
  }

  it('Identity shares memory instead of copying, and outlives its source', async () => {
    await tf.setBackend('wasm')
    const before = tf.memory().numBytes
    const x = tf.tensor(iota(1000))
    const bytesAfterX = tf.memory().numBytes
    const backend = tf.backend() as unknown as {dataIdMap: {get(id: object): {memoryOffset: number}}}
    const y = tf.clone(x)
    expect(backend.dataIdMap.get(y.dataId).memoryOffset).toBe(backend.dataIdMap.get(x.dataId).memoryOffset)
    x.dispose()
    expect([...y.dataSync()]).toEqual([...iota(1000)])
    y.dispose()
    expect(tf.memory().numBytes).toBe(before)
    expect(bytesAfterX - before).toBe(4000)
  })

  it('gradients through split, concat and transpose match cpu', async () => {
    const f = () => {
      const x = tf.tensor(iota(2 * 3 * 8).map((v) => Math.sin(v)), [2, 3, 8])
      return tf.grad((t: tf.Tensor) => {
        const [a, b] = tf.split(t, 2, 2)
        const y = tf.concat([tf.mul(b, 2), a], 2)
        return tf.sum(tf.mul(tf.transpose(y, [0, 2, 1]), tf.transpose(t, [0, 2, 1])))
      })(x)
    }
    const [w] = await on('wasm', f)
    const [c] = await on('cpu', f)
    expect(w.shape).toEqual(c.shape)
    w.data.forEach((v, i) => expect(v).toBeCloseTo(c.data[i], 5))
  })
})
