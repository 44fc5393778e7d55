/**
 * Kernel fixes for the tfjs wasm backend, installed once by `initBackend` when wasm is chosen.
 *
 * The wasm backend multiplies matrices fast (XNNPACK, ~35 GFLOP/s here) only when the product
 * is a single 2-D `[M,K]·[K,N]` without transpose flags; with `transposeA`/`transposeB` or a
 * batch > 1 its C++ falls back to a scalar triple loop (~2 GFLOP/s). Every matMul gradient
 * uses transpose flags and attention is a batched matMul, so training spent most of its time
 * there. We re-register:
 *
 * - `BatchMatMul`: transpose operands explicitly (the wasm Transpose kernel), fold
 *   `[B,M,K]·[K,N]` into one `[B·M,K]·[K,N]` product, and run any other batch as one fast 2-D
 *   product per output batch entry on zero-copy views of the wasm heap (broadcast batch dims
 *   follow numpy rules).
 * - `UnsortedSegmentSum` (the gradient of `gather`, i.e. the embedding backward), which the
 *   wasm backend lacks: a JS loop over typed-array views of the heap. Ids outside
 *   `[0, numSegments)` are dropped, as the cpu backend does.
 *
 * Views: the C++ side addresses tensors by integer id (`registerTensor(id, size, offset)`), so a
 * view is a fresh id registered at an offset inside an existing allocation; it is released with
 * the C++ `disposeData(id)` alone (never `_free`), which also drops any XNNPACK operator cached
 * on that id.
 */
import * as tf from '@tensorflow/tfjs-core'

/** The parts of `BackendWasm` (tfjs-backend-wasm/dist/backend_wasm.js) this adapter uses. */
interface WasmModule {
  cwrap(name: string, ret: null | 'number', args: string[]): (...args: unknown[]) => unknown
  tfjs: {registerTensor(id: number, size: number, offset: number): void; disposeData(id: number): void}
}
interface WasmTensorData {
  id: number
  memoryOffset: number
  shape: number[]
  dtype: tf.DataType
}
interface BackendWasmLike {
  wasm: WasmModule
  dataIdNextNumber: number
  dataIdMap: {get(dataId: object): WasmTensorData}
  makeOutput(shape: number[], dtype: tf.DataType, memoryOffset?: number): tf.TensorInfo
  disposeData(dataId: object, force?: boolean): boolean
  typedArrayFromHeap(t: tf.TensorInfo): Float32Array | Int32Array | Uint8Array
}

type NativeBatchMatMul = (
  aId: number, aShape: Uint8Array, aRank: number,
  bId: number, bShape: Uint8Array, bRank: number,
  transposeA: boolean, transposeB: boolean, outId: number,
) => void

let originals: Map<string, tf.KernelConfig | undefined> | undefined
let nativeMatMul: NativeBatchMatMul | undefined
let nativeFor: WasmModule | undefined

/** Kernels the adapter replaces or adds on the 'wasm' backend. */
export const ADAPTED_KERNELS = ['BatchMatMul', 'UnsortedSegmentSum'] as const
export type AdaptedKernel = (typeof ADAPTED_KERNELS)[number]

/** True when the given adapted kernel is the one registered for 'wasm'. */
export function wasmAdapterInstalled(name: AdaptedKernel = 'BatchMatMul'): boolean {
  return tf.getKernel(name, 'wasm')?.kernelFunc === adaptedConfig(name).kernelFunc
}

function adaptedConfig(name: AdaptedKernel): tf.KernelConfig {
  if (name === 'BatchMatMul') {
    return {kernelName: name, backendName: 'wasm', setupFunc: originals?.get(name)?.setupFunc, kernelFunc: fastBatchMatMul as unknown as tf.KernelFunc}
  }
  return {kernelName: name, backendName: 'wasm', kernelFunc: unsortedSegmentSum as unknown as tf.KernelFunc}
}

/**
 * Register the adapted kernels for 'wasm'. Idempotent. Call after the wasm backend module is
 * imported (its kernels registered); works whether or not the backend is initialised yet.
 */
export function installWasmAdapter(names: readonly AdaptedKernel[] = ADAPTED_KERNELS): void {
  if (!originals) {
    if (!tf.getKernel('BatchMatMul', 'wasm')) throw new Error("wasm adapter: kernel 'BatchMatMul' is not registered for 'wasm'; import @tensorflow/tfjs-backend-wasm first")
    originals = new Map(ADAPTED_KERNELS.map((n) => [n, tf.getKernel(n, 'wasm')]))
  }
  for (const name of names) if (!wasmAdapterInstalled(name)) replaceKernel(adaptedConfig(name))
}

/** Put back the wasm backend's own kernels (for benchmarks comparing before and after). */
export function uninstallWasmAdapter(names: readonly AdaptedKernel[] = ADAPTED_KERNELS): void {
  if (!originals) return
  for (const name of names) {
    if (tf.getKernel(name, 'wasm')) tf.unregisterKernel(name, 'wasm')
    const config = originals.get(name)
    if (config) tf.registerKernel(config)
  }
}

function replaceKernel(config: tf.KernelConfig): void {
  if (tf.getKernel(config.kernelName, config.backendName)) tf.unregisterKernel(config.kernelName, config.backendName)
  tf.registerKernel(config)
}

function native(backend: BackendWasmLike): NativeBatchMatMul {
  if (!nativeMatMul || nativeFor !== backend.wasm) {
    // Same signature the wasm backend's own BatchMatMul kernel binds (kernels/BatchMatMul.js).
    nativeMatMul = backend.wasm.cwrap('BatchMatMul', null, ['number', 'array', 'number', 'number', 'array', 'number', 'number', 'number', 'number']) as NativeBatchMatMul
    nativeFor = backend.wasm
  }
  return nativeMatMul
}

function shapeBytes(shape: number[]): Uint8Array {
  return new Uint8Array(new Int32Array(shape).buffer)
}

/** Register a view of `size` floats at byte `offset` under a fresh C++ id. */
function openView(backend: BackendWasmLike, offset: number, size: number): number {
  const id = backend.dataIdNextNumber++
  backend.wasm.tfjs.registerTensor(id, size, offset)
  return id
}

/** Swap the last two axes with the wasm Transpose kernel; caller disposes the result. */
function transposeLast2(x: tf.TensorInfo, backend: BackendWasmLike): tf.TensorInfo {
  const rank = x.shape.length
  const perm = [...Array(rank).keys()]
  perm[rank - 2] = rank - 1
  perm[rank - 1] = rank - 2
  const transpose = tf.getKernel('Transpose', 'wasm')!
  return transpose.kernelFunc({inputs: {x}, backend: backend as unknown as tf.KernelBackend, attrs: {perm}}) as tf.TensorInfo
}

interface MatMulArgs {
  inputs: {a: tf.TensorInfo; b: tf.TensorInfo}
  backend: BackendWasmLike
  attrs: {transposeA: boolean; transposeB: boolean}
}

function fastBatchMatMul({inputs, backend, attrs}: MatMulArgs): tf.TensorInfo {
  const {transposeA, transposeB} = attrs
  if (inputs.a.dtype !== 'float32' || inputs.b.dtype !== 'float32') {
    throw new Error('BatchMatMul for non-float32 tensors is not supported on wasm')
  }
  const temps: tf.TensorInfo[] = []
  try {
    // Rank-1 operands are reshaped by the matMul op before the kernel; here rank ≥ 2.
    const a = transposeA ? transposeLast2(inputs.a, backend) : inputs.a
    if (transposeA) temps.push(a)
    const b = transposeB ? transposeLast2(inputs.b, backend) : inputs.b
    if (transposeB) temps.push(b)
    const ra = a.shape.length
    const rb = b.shape.length
    const [M, K] = [a.shape[ra - 2], a.shape[ra - 1]]
    const [K2, N] = [b.shape[rb - 2], b.shape[rb - 1]]
    if (K !== K2) {
      throw new Error(`Error in matMul: inner shapes (${K}) and (${K2}) of Tensors with shapes ${inputs.a.shape} and ${inputs.b.shape} and transposeA=${transposeA} and transposeB=${transposeB} must match.`)
    }
    const outerA = a.shape.slice(0, -2)
    const outerB = b.shape.slice(0, -2)
    const outer = tf.broadcast_util.assertAndGetBroadcastShape(outerA, outerB)
    const batchA = tf.util.sizeFromShape(outerA)
    const batchB = tf.util.sizeFromShape(outerB)
    const batch = tf.util.sizeFromShape(outer)
    const out = backend.makeOutput([...outer, M, N], 'float32')
    if (batch === 0 || M === 0 || N === 0) return out
    const aData = backend.dataIdMap.get(a.dataId)
    const bData = backend.dataIdMap.get(b.dataId)
    const oData = backend.dataIdMap.get(out.dataId)
    const mm = native(backend)
    if (K === 0) {
      backend.typedArrayFromHeap(out).fill(0)
      return out
    }
    if (batchB === 1) {
      // [B,M,K]·[K,N] (b shared): one product over B·M rows. batch === batchA here.
      mm(aData.id, shapeBytes([1, batch * M, K]), 3, bData.id, shapeBytes([1, K, N]), 3, false, false, oData.id)
      return out
    }
    // One fast product per output batch entry, on views; b gets a fresh id each time so the
    // XNNPACK operator packed for it is dropped with the view.
    const aShape = shapeBytes([1, M, K])
    const bShape = shapeBytes([1, K, N])
    const index = broadcastIndexer(outer, outerA, outerB)
    for (let i = 0; i < batch; i++) {
      const [ia, ib] = index(i)
      const aId = batchA === 1 ? aData.id : openView(backend, aData.memoryOffset + ia * M * K * 4, M * K)
      const bId = openView(backend, bData.memoryOffset + ib * K * N * 4, K * N)
      const oId = openView(backend, oData.memoryOffset + i * M * N * 4, M * N)
      mm(aId, aShape, 3, bId, bShape, 3, false, false, oId)
      if (aId !== aData.id) backend.wasm.tfjs.disposeData(aId)
      backend.wasm.tfjs.disposeData(bId)
      backend.wasm.tfjs.disposeData(oId)
    }
    return out
  } finally {
    for (const t of temps) backend.disposeData(t.dataId)
  }
}

/**
 * Map a flat index into the broadcast outer shape to flat indices into a's and b's outer
 * shapes (numpy broadcasting: align right, size-1 dims repeat).
 */
export function broadcastIndexer(outer: number[], outerA: number[], outerB: number[]): (i: number) => [number, number] {
  const rank = outer.length
  const pad = (s: number[]) => [...Array(rank - s.length).fill(1), ...s]
  const sa = pad(outerA)
  const sb = pad(outerB)
  const strides = (s: number[]) => {
    const r = new Array<number>(rank)
    let acc = 1
    for (let d = rank - 1; d >= 0; d--) {
      r[d] = s[d] === 1 ? 0 : acc
      acc *= s[d]
    }
    return r
  }
  const stA = strides(sa)
  const stB = strides(sb)
  return (i) => {
    let ia = 0
    let ib = 0
    let rest = i
    for (let d = rank - 1; d >= 0; d--) {
      const c = rest % outer[d]
      rest = (rest - c) / outer[d]
      ia += c * stA[d]
      ib += c * stB[d]
    }
    return [ia, ib]
  }
}

interface SegmentSumArgs {
  inputs: {x: tf.TensorInfo; segmentIds: tf.TensorInfo}
  backend: BackendWasmLike
  attrs: {numSegments: number}
}

function unsortedSegmentSum({inputs, backend, attrs}: SegmentSumArgs): tf.TensorInfo {
  const {x, segmentIds} = inputs
  const {numSegments} = attrs
  const idRank = segmentIds.shape.length
  const nIds = tf.util.sizeFromShape(segmentIds.shape)
  const inner = tf.util.sizeFromShape(x.shape.slice(idRank))
  const out = backend.makeOutput([numSegments, ...x.shape.slice(idRank)], x.dtype)
  // Views taken after makeOutput: its malloc may grow (and so replace) the heap buffer.
  const o = backend.typedArrayFromHeap(out)
  const xs = backend.typedArrayFromHeap(x)
  const ids = backend.typedArrayFromHeap(segmentIds)
  o.fill(0)
  for (let i = 0; i < nIds; i++) {
    const s = ids[i]
    if (s < 0 || s >= numSegments) continue
    const dst = s * inner
    const src = i * inner
    for (let j = 0; j < inner; j++) o[dst + j] += xs[src + j]
  }
  return out
}
