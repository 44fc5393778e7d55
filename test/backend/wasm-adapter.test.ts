/**
 * The wasm kernel adapter against the cpu backend (the reference): every transpose combination,
 * batch 1/3, broadcast batch dims, gradients, and UnsortedSegmentSum semantics.
 */
import * as tf from '@tensorflow/tfjs-core'
import '@tensorflow/tfjs-backend-cpu'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {initBackend} from '../../src/backend/index.js'
import {ADAPTED_KERNELS, broadcastIndexer, setWasmGemm, wasmAdapterInstalled, wasmGemm} from '../../src/backend/wasm-adapter.js'

/** Deterministic values in [-1, 1). */
function values(n: number, seed: number): Float32Array {
  const out = new Float32Array(n)
  let s = seed >>> 0
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0
    out[i] = s / 2 ** 31 - 1
  }
  return out
}

/** Run `fn` on a backend and return every output's values and shape (tensors built inside). */
async function on(backend: 'cpu' | 'wasm', fn: () => tf.Tensor | tf.Tensor[]): Promise<Array<{shape: number[]; data: Float32Array | Int32Array}>> {
  await tf.setBackend(backend)
  const outs = tf.tidy(() => {
    const r = fn()
    return Array.isArray(r) ? r : [r]
  })
  const res = outs.map((t) => ({shape: t.shape, data: t.dataSync() as Float32Array | Int32Array}))
  tf.dispose(outs)
  await tf.setBackend('wasm')
  return res
}

function expectClose(actual: {shape: number[]; data: ArrayLike<number>}, expected: {shape: number[]; data: ArrayLike<number>}): void {
  expect(actual.shape).toEqual(expected.shape)
  let worst = 0
  for (let i = 0; i < expected.data.length; i++) {
    const e = expected.data[i]
    const err = Math.abs(actual.data[i] - e) / Math.max(1, Math.abs(e))
    worst = Math.max(worst, err)
  }
  expect(worst).toBeLessThan(1e-4)
}

async function compare(fn: () => tf.Tensor | tf.Tensor[], refFn = fn): Promise<void> {
  const ref = await on('cpu', refFn)
  const got = await on('wasm', fn)
  expect(got.length).toBe(ref.length)
  for (let i = 0; i < ref.length; i++) expectClose(got[i], ref[i])
}

beforeAll(async () => {
  await initBackend('wasm')
})

describe('wasm adapter installation', () => {
  it('replaces BatchMatMul and the data-movement kernels and adds UnsortedSegmentSum on wasm', () => {
    for (const name of ADAPTED_KERNELS) expect(wasmAdapterInstalled(name)).toBe(true)
    expect(tf.getBackend()).toBe('wasm')
    expect(wasmGemm().kind).toBe('golf')
    for (const name of ADAPTED_KERNELS) expect(tf.getKernel(name, 'wasm')?.kernelFunc.name).toMatch(/^(fastBatchMatMul|unsortedSegmentSum|sharedIdentity|fastTranspose|fastSlice|fastSplitV|fastConcat|innermost(Sum|Mean|Max|Min|Prod))$/)
  })
})

// Both GEMMs behind the adapter: golf's (the default) and XNNPACK after explicit transposes.
for (const gemm of ['golf', 'xnnpack'] as const) {
  describe(`BatchMatMul on wasm equals cpu (${gemm} GEMM)`, () => {
    beforeAll(() => setWasmGemm(gemm))
    afterAll(() => setWasmGemm('golf'))

    const M = 5
    const K = 7
    const N = 3
    // [label, a outer dims, b outer dims]
    const batches: Array<[string, number[], number[]]> = [
      ['2-D', [], []],
      ['batch 1', [1], [1]],
      ['batch 3', [3], [3]],
      ['a batched, b 2-D', [3], []],
      ['a 2-D, b batched', [], [3]],
      ['a batch 1 broadcast against b batch 3', [1], [3]],
      ['4-D broadcast [2,1]×[1,3]', [2, 1], [1, 3]],
    ]
    for (const [label, outA, outB] of batches) {
      for (const transposeA of [false, true]) {
        for (const transposeB of [false, true]) {
          it(`${label}, transposeA=${transposeA}, transposeB=${transposeB}`, async () => {
            const aShape = [...outA, ...(transposeA ? [K, M] : [M, K])]
            const bShape = [...outB, ...(transposeB ? [N, K] : [K, N])]
            const av = values(tf.util.sizeFromShape(aShape), 1)
            const bv = values(tf.util.sizeFromShape(bShape), 2)
            const run = () => tf.matMul(tf.tensor(av, aShape), tf.tensor(bv, bShape), transposeA, transposeB)
            // The cpu kernel indexes broadcast batches as `i % batchA`, right only when one side's
            // batch is 1; for [2,1]×[1,3] the reference tiles both operands to [2,3] first.
            const outer = tf.broadcast_util.assertAndGetBroadcastShape(outA, outB)
            const tiled = () => {
              const tile = (t: tf.Tensor, o: number[]) => tf.tile(tf.reshape(t, [...o, ...t.shape.slice(-2)]), [...outer.map((d, i) => d / o[i]), 1, 1])
              const pad = (o: number[]) => [...Array(outer.length - o.length).fill(1), ...o]
              return tf.matMul(tile(tf.tensor(av, aShape), pad(outA)), tile(tf.tensor(bv, bShape), pad(outB)), transposeA, transposeB)
            }
            await compare(run, outA.length > 1 ? tiled : run)
          })
        }
      }
    }

    it('the GPT attention shape [32,256,64]×[32,64,256] and its transposed grads', async () => {
      const q = values(32 * 256 * 64, 3)
      const k = values(32 * 256 * 64, 4)
      const w = values(32 * 256 * 256, 5)
      await compare(() => {
        const Q = tf.tensor(q, [32, 256, 64])
        const Kt = tf.tensor(k, [32, 256, 64])
        const W = tf.tensor(w, [32, 256, 256])
        const f = (x: tf.Tensor, y: tf.Tensor) => tf.sum(tf.mul(tf.matMul(x, y, false, true), W))
        const [gq, gk] = tf.grads(f)([Q, Kt])
        return [tf.matMul(Q, Kt, false, true), gq, gk]
      })
    })

    // (tfjs's own BatchMatMul gradient does not reduce over broadcast batch dims, on any backend:
    // a linear layer must flatten [B,T,d] to [B·T,d] before multiplying by a [d,n] weight.)
    it('gradients of a linear layer [B·T,d]·[d,n] match (tf.grad through transposed products)', async () => {
      const x = values(12 * 4, 6)
      const wv = values(4 * 5, 7)
      const up = values(12 * 5, 8)
      await compare(() => {
        const X = tf.tensor(x, [12, 4])
        const Wt = tf.tensor(wv, [4, 5])
        const U = tf.tensor(up, [12, 5])
        const [gx, gw] = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(tf.matMul(a, b), U)))([X, Wt])
        return [gx, gw]
      })
    })

    it('rejects mismatched inner dimensions with the tfjs message', () => {
      expect(() => tf.matMul(tf.ones([2, 3]), tf.ones([4, 2]))).toThrow(/inner shapes \(3\) and \(4\)/)
    })

    it('handles empty and K=0 products', async () => {
      await compare(() => tf.matMul(tf.ones([0, 3]), tf.ones([3, 2])))
      const r = await on('wasm', () => tf.matMul(tf.ones([2, 0]), tf.ones([0, 3])))
      expect(Array.from(r[0].data)).toEqual([0, 0, 0, 0, 0, 0])
    })

    it('does not leak tensors or heap allocations across repeated batched, transposed products', () => {
      const a = tf.ones([3, 4, 5])
      const b = tf.ones([3, 4, 2])
      const ids = () => (tf.backend() as unknown as {numDataIds(): number}).numDataIds()
      const before = [tf.memory().numTensors, ids()]
      for (let i = 0; i < 5; i++) tf.tidy(() => tf.matMul(a, b, true, false).dataSync())
      expect([tf.memory().numTensors, ids()]).toEqual(before)
      tf.dispose([a, b])
    })
  })
}

describe('broadcastIndexer', () => {
  it('maps flat output batch indices to operand indices by numpy rules', () => {
    const idx = broadcastIndexer([2, 3], [2, 1], [1, 3])
    expect([0, 1, 2, 3, 4, 5].map(idx)).toEqual([[0, 0], [0, 1], [0, 2], [1, 0], [1, 1], [1, 2]])
    const idx2 = broadcastIndexer([4], [], [4])
    expect([0, 3].map(idx2)).toEqual([[0, 0], [0, 3]])
  })
})

describe('UnsortedSegmentSum on wasm', () => {
  it('sums repeated ids and drops negative and out-of-range ids (as the cpu backend does)', async () => {
    const fn = () => tf.unsortedSegmentSum(tf.tensor2d([[1, 2], [3, 4], [5, 6], [7, 8], [9, 10]]), tf.tensor1d([2, 0, 2, -1, 3], 'int32'), 3)
    const [got] = await on('wasm', fn)
    expect(got.shape).toEqual([3, 2])
    expect(Array.from(got.data)).toEqual([3, 4, 0, 0, 6, 8])
    await compare(fn)
  })

  it('works on int32 values and rank-3 inputs', async () => {
    const [got] = await on('wasm', () => tf.unsortedSegmentSum(tf.tensor1d([5, 6, 7], 'int32'), tf.tensor1d([1, 1, 0], 'int32'), 2))
    expect(got.data).toBeInstanceOf(Int32Array)
    expect(Array.from(got.data)).toEqual([7, 11])
    const x = values(4 * 3 * 2, 9)
    await compare(() => tf.unsortedSegmentSum(tf.tensor(x, [4, 3, 2]), tf.tensor1d([1, 0, 1, 1], 'int32'), 2))
  })

  it('makes tf.grad of gather (the embedding backward) work and equal cpu', async () => {
    const table = values(10 * 4, 10)
    const ids = [3, 1, 3, 3, 9, 0, 1]
    const up = values(ids.length * 4, 11)
    await compare(() => {
      const E = tf.tensor(table, [10, 4])
      const U = tf.tensor(up, [ids.length, 4])
      return tf.grad((e: tf.Tensor) => tf.sum(tf.mul(tf.gather(e, tf.tensor1d(ids, 'int32')), U)))(E)
    })
  })
})
