/**
 * Kernel fixes for the tfjs wasm backend, installed once by `initBackend` when wasm is chosen.
 *
 * The wasm backend multiplies matrices fast (XNNPACK, ~20–25 GFLOP/s on one core here) only
 * when the product is a single 2-D `[M,K]·[K,N]` without transpose flags; with
 * `transposeA`/`transposeB` or a batch > 1 its C++ falls back to a scalar triple loop
 * (~2 GFLOP/s). Every matMul gradient uses transpose flags and attention is a batched matMul,
 * so training spent most of its time there. We re-register:
 *
 * - `BatchMatMul` (float32), by default on golf's own GEMM (`wasm-gemm.ts`: a wasm module built
 *   at run time on the same heap, fused multiply-add through relaxed SIMD where V8 allows it,
 *   transposed operands read through strides and packing; 1.4–2.2× XNNPACK on the GPT shapes,
 *   the whole training step ~1.5×). `setWasmGemm('xnnpack')` or `GOLF_WASM_GEMM=xnnpack`
 *   selects XNNPACK instead: operands transposed explicitly, `[B,M,K]·[K,N]` folded into one
 *   `[B·M,K]·[K,N]` product, any other batch run as one 2-D product per output batch entry on
 *   zero-copy views of the wasm heap. Both follow numpy rules for broadcast batch dims.
 * - `UnsortedSegmentSum` (the gradient of `gather`, i.e. the embedding backward), which the
 *   wasm backend lacks: a JS loop over typed-array views of the heap. Ids outside
 *   `[0, numSegments)` are dropped, as the cpu backend does.
 * - Data movement (`layout.ts` loops on heap views): `Identity` shares the input's memory (a
 *   reference count, as the wasm `Reshape` and the cpu `Identity` do) instead of copying it —
 *   the engine clones every tensor it saves for the backward pass, ~900 copies per training
 *   step; `Transpose` (~6× faster than the wasm kernel on [2048,1024]), `Slice` and `SplitV`
 *   (the wasm `Slice` copies its whole input before slicing), `Concat` (no object per short run).
 *   Strings and permutations the loops do not cover go to the wasm kernels. The reductions
 *   (`Sum`, `Mean`, `Max`, `Min`, `Prod`) reduce innermost axes only and transpose other axes
 *   there first with the wasm Transpose; ours does that transpose, then calls theirs (the
 *   column sums of broadcast gradients, e.g. `[2048,256]` over axis 0, get ~4× faster).
 *
 * Views: the C++ side addresses tensors by integer id (`registerTensor(id, size, offset)`), so a
 * view is a fresh id registered at an offset inside an existing allocation; it is released with
 * the C++ `disposeData(id)` alone (never `_free`), which also drops any XNNPACK operator cached
 * on that id.
 */
import * as tf from '@tensorflow/tfjs-core'

import {concatInto, sliceInto, transposeInto, type FlatArray} from './layout.js'
import {buildGemm, enableRelaxedSimd, tfjsHeap, type GemmCall, type TfjsWasmModule, type WasmGemm} from './wasm-gemm.js'

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
  wasm: WasmModule & {HEAPU8: Uint8Array}
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
export const ADAPTED_KERNELS = ['BatchMatMul', 'UnsortedSegmentSum', 'Identity', 'Transpose', 'Slice', 'SplitV', 'Concat', 'Sum', 'Mean', 'Max', 'Min', 'Prod'] as const
export type AdaptedKernel = (typeof ADAPTED_KERNELS)[number]

/** True when the given adapted kernel is the one registered for 'wasm'. */
export function wasmAdapterInstalled(name: AdaptedKernel = 'BatchMatMul'): boolean {
  return tf.getKernel(name, 'wasm')?.kernelFunc === adaptedConfig(name).kernelFunc
}

const KERNEL_FUNCS: Record<AdaptedKernel, unknown> = {
  BatchMatMul: fastBatchMatMul,
  UnsortedSegmentSum: unsortedSegmentSum,
  Identity: sharedIdentity,
  Transpose: fastTranspose,
  Slice: fastSlice,
  SplitV: fastSplitV,
  Concat: fastConcat,
  Sum: innermostReduction('Sum'),
  Mean: innermostReduction('Mean'),
  Max: innermostReduction('Max'),
  Min: innermostReduction('Min'),
  Prod: innermostReduction('Prod'),
}

function adaptedConfig(name: AdaptedKernel): tf.KernelConfig {
  // the wasm kernels' setup (cwrap bindings) still runs: their fallbacks use it
  return {kernelName: name, backendName: 'wasm', setupFunc: originals?.get(name)?.setupFunc, kernelFunc: KERNEL_FUNCS[name] as tf.KernelFunc}
}

/** Run the wasm backend's own kernel, for inputs the adapted one hands back. */
function callOriginal(name: AdaptedKernel, args: unknown): tf.TensorInfo | tf.TensorInfo[] {
  const config = originals?.get(name)
  if (!config) throw new Error(`wasm adapter: the wasm backend has no '${name}' kernel to fall back to`)
  return config.kernelFunc(args as Parameters<tf.KernelFunc>[0])
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

/** Swap the last two axes; caller disposes the result. */
function transposeLast2(x: tf.TensorInfo, backend: BackendWasmLike): tf.TensorInfo {
  const rank = x.shape.length
  const perm = [...Array(rank).keys()]
  perm[rank - 2] = rank - 1
  perm[rank - 1] = rank - 2
  return fastTranspose({inputs: {x}, backend, attrs: {perm}})
}

interface MatMulArgs {
  inputs: {a: tf.TensorInfo; b: tf.TensorInfo}
  backend: BackendWasmLike
  attrs: {transposeA: boolean; transposeB: boolean}
}

/** The shapes of a BatchMatMul: C[..., M, N] = A[..., M, K]·B[..., K, N] after the transpose flags. */
interface ProductShape {
  M: number
  K: number
  N: number
  outerA: number[]
  outerB: number[]
  /** The broadcast batch dims of the output, and their product. */
  outer: number[]
  batch: number
}

/** Read a product's shapes off its operands; throws tfjs's own message when the inner sizes differ. */
function productShape(a: tf.TensorInfo, b: tf.TensorInfo, transposeA: boolean, transposeB: boolean): ProductShape {
  // Rank-1 operands are reshaped by the matMul op before the kernel; here rank ≥ 2.
  const ra = a.shape.length
  const rb = b.shape.length
  const [M, K] = transposeA ? [a.shape[ra - 1], a.shape[ra - 2]] : [a.shape[ra - 2], a.shape[ra - 1]]
  const [K2, N] = transposeB ? [b.shape[rb - 1], b.shape[rb - 2]] : [b.shape[rb - 2], b.shape[rb - 1]]
  if (K !== K2) {
    throw new Error(`Error in matMul: inner shapes (${K}) and (${K2}) of Tensors with shapes ${a.shape} and ${b.shape} and transposeA=${transposeA} and transposeB=${transposeB} must match.`)
  }
  const outerA = a.shape.slice(0, -2)
  const outerB = b.shape.slice(0, -2)
  const outer = tf.broadcast_util.assertAndGetBroadcastShape(outerA, outerB)
  return {M, K, N, outerA, outerB, outer, batch: tf.util.sizeFromShape(outer)}
}

function fastBatchMatMul({inputs, backend, attrs}: MatMulArgs): tf.TensorInfo {
  const {transposeA, transposeB} = attrs
  if (inputs.a.dtype !== 'float32' || inputs.b.dtype !== 'float32') {
    throw new Error('BatchMatMul for non-float32 tensors is not supported on wasm')
  }
  const shape = productShape(inputs.a, inputs.b, transposeA, transposeB)
  const {M, K, N, outerA, outerB, outer, batch} = shape
  const out = backend.makeOutput([...outer, M, N], 'float32')
  if (batch === 0 || M === 0 || N === 0) return out
  if (gemmKind === 'golf') return golfBatchMatMul({inputs, backend, attrs}, shape, out)
  const temps: tf.TensorInfo[] = []
  try {
    const a = transposeA ? transposeLast2(inputs.a, backend) : inputs.a
    if (transposeA) temps.push(a)
    const b = transposeB ? transposeLast2(inputs.b, backend) : inputs.b
    if (transposeB) temps.push(b)
    const batchA = tf.util.sizeFromShape(outerA)
    const batchB = tf.util.sizeFromShape(outerB)
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

// --- golf's own GEMM (wasm-gemm.ts) -----------------------------------------------------------

/**
 * Which GEMM runs float32 BatchMatMul on wasm: 'golf' (wasm-gemm.ts: FMA where relaxed SIMD is
 * available; reads transposed operands through strides and packing, no explicit transposes) or
 * 'xnnpack' (the wasm backend's own, after explicit transposes). 'golf' is the default: on the
 * GPT shapes it measured 1.4–2.2× XNNPACK with FMA, 1.2–1.8× without (bench/gemm.ts), and the
 * whole training step ~1.5× (bench/train.ts with GOLF_WASM_GEMM=xnnpack vs golf).
 */
export type WasmGemmKind = 'golf' | 'xnnpack'
// GOLF_WASM_GEMM=xnnpack picks XNNPACK from the start (whole-step A/B runs; workers inherit it)
let gemmKind: WasmGemmKind = process.env.GOLF_WASM_GEMM === 'xnnpack' ? 'xnnpack' : 'golf'
let golfGemm: {wasm: WasmModule; gemm: WasmGemm} | undefined

export function setWasmGemm(kind: WasmGemmKind): void {
  gemmKind = kind
}

/** The GEMM BatchMatMul uses, and for 'golf' its variant ('fma' or 'plain'). */
export function wasmGemm(): {kind: WasmGemmKind; variant?: 'fma' | 'plain'} {
  return gemmKind === 'golf' ? {kind: gemmKind, variant: enableRelaxedSimd() ? 'fma' : 'plain'} : {kind: gemmKind}
}

function golfGemmFor(backend: BackendWasmLike): WasmGemm {
  if (!golfGemm || golfGemm.wasm !== backend.wasm) {
    golfGemm = {wasm: backend.wasm, gemm: buildGemm(tfjsHeap(backend.wasm as unknown as TfjsWasmModule))}
  }
  return golfGemm.gemm
}

/**
 * BatchMatMul by golf's GEMM into `out` (allocated, non-empty): one product per output batch
 * entry, or one for a shared b.
 */
function golfBatchMatMul({inputs: {a, b}, backend, attrs: {transposeA, transposeB}}: MatMulArgs, {M, K, N, outerA, outerB, outer, batch}: ProductShape, out: tf.TensorInfo): tf.TensorInfo {
  const aAt = backend.dataIdMap.get(a.dataId).memoryOffset
  const bAt = backend.dataIdMap.get(b.dataId).memoryOffset
  const oAt = backend.dataIdMap.get(out.dataId).memoryOffset
  // A[i,k] at i·rowStride + k·colStride: row-major [M,K], or [K,M] read as its transpose
  const [aRowStride, aColStride] = transposeA ? [1, M] : [K, 1]
  const gemm = golfGemmFor(backend)
  if (tf.util.sizeFromShape(outerB) === 1 && !transposeA) {
    // [B,M,K]·[K,N] (b shared): one product over B·M rows
    gemm.run({m: batch * M, n: N, k: K, a: aAt, aRowStride, aColStride, b: bAt, transposeB, c: oAt})
    return out
  }
  const index = broadcastIndexer(outer, outerA, outerB)
  const calls = function* (): Generator<GemmCall> {
    for (let i = 0; i < batch; i++) {
      const [ia, ib] = index(i)
      yield {m: M, n: N, k: K, a: aAt + ia * M * K * 4, aRowStride, aColStride, b: bAt + ib * K * N * 4, transposeB, c: oAt + i * M * N * 4}
    }
  }
  gemm.runMany(calls(), N)
  return out
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

// --- Data movement --------------------------------------------------------------------------

type LayoutArgs<I, A> = {inputs: I; backend: BackendWasmLike; attrs: A}

/** A new tensor info on the same memory (reference counted), as the cpu backend's Identity. */
function sharedIdentity(args: LayoutArgs<{x: tf.TensorInfo}, unknown>): tf.TensorInfo {
  const {x} = args.inputs
  if (x.dtype === 'string') return callOriginal('Identity', args) as tf.TensorInfo
  ;(args.backend as unknown as tf.KernelBackend).incRef(x.dataId)
  return {dataId: x.dataId, shape: [...x.shape], dtype: x.dtype}
}

/** The whole wasm heap as an array of `dtype`'s elements, and `t`'s offset in it. */
function onHeap(t: tf.TensorInfo, backend: BackendWasmLike): {heap: FlatArray; at: number} {
  const {buffer} = backend.wasm.HEAPU8
  const byteOffset = backend.dataIdMap.get(t.dataId).memoryOffset
  switch (t.dtype) {
    case 'float32':
      return {heap: new Float32Array(buffer), at: byteOffset / 4}
    case 'int32':
      return {heap: new Int32Array(buffer), at: byteOffset / 4}
    case 'bool':
      return {heap: new Uint8Array(buffer), at: byteOffset}
    default:
      throw new Error(`wasm adapter: no heap view for dtype ${t.dtype}`)
  }
}

function fastTranspose(args: LayoutArgs<{x: tf.TensorInfo}, {perm: number[]}>): tf.TensorInfo {
  const {inputs: {x}, backend, attrs: {perm}} = args
  if (x.dtype !== 'string') {
    const out = backend.makeOutput(perm.map((a) => x.shape[a]), x.dtype)
    // heap views taken after makeOutput: its malloc may grow (and so replace) the heap buffer
    const src = onHeap(x, backend)
    if (transposeInto(src.heap, src.at, src.heap, onHeap(out, backend).at, x.shape, perm)) return out
    backend.disposeData(out.dataId)
  }
  return callOriginal('Transpose', args) as tf.TensorInfo
}

function sliceOf(x: tf.TensorInfo, begin: number[], size: number[], backend: BackendWasmLike): tf.TensorInfo {
  const out = backend.makeOutput(size, x.dtype)
  const src = onHeap(x, backend)
  sliceInto(src.heap, src.at, src.heap, onHeap(out, backend).at, x.shape, begin, size)
  return out
}

function fastSlice(args: LayoutArgs<{x: tf.TensorInfo}, {begin: number | number[]; size: number | number[]}>): tf.TensorInfo {
  const {inputs: {x}, backend, attrs} = args
  if (x.dtype === 'string') return callOriginal('Slice', args) as tf.TensorInfo
  const [begin, size] = tf.slice_util.parseSliceParams(x as tf.Tensor, attrs.begin, attrs.size)
  return sliceOf(x, begin, size, backend)
}

function fastSplitV(args: LayoutArgs<{x: tf.TensorInfo}, {numOrSizeSplits: number | number[]; axis: number}>): tf.TensorInfo[] {
  const {inputs: {x}, backend, attrs} = args
  if (x.dtype === 'string') return callOriginal('SplitV', args) as tf.TensorInfo[]
  const axis = tf.util.parseAxisParam(attrs.axis, x.shape)[0]
  const sizes = tf.backend_util.prepareSplitSize(x as tf.Tensor, attrs.numOrSizeSplits, axis)
  const begin = new Array<number>(x.shape.length).fill(0)
  return sizes.map((n) => {
    const size = [...x.shape]
    size[axis] = n
    const out = sliceOf(x, [...begin], size, backend)
    begin[axis] += n
    return out
  })
}

type ReduceArgs = LayoutArgs<{x: tf.TensorInfo}, {axis: number | number[]; keepDims: boolean}>

/** The wasm reduction `name`, with non-innermost axes moved innermost by `fastTranspose` first. */
function innermostReduction(name: AdaptedKernel): (args: ReduceArgs) => tf.TensorInfo {
  const reduce = (args: ReduceArgs): tf.TensorInfo => {
    const {inputs: {x}, backend, attrs} = args
    const rank = x.shape.length
    const axes = tf.util.parseAxisParam(attrs.axis, x.shape)
    const perm = tf.backend_util.getAxesPermutation(axes, rank)
    if (perm === null || x.dtype === 'string') return callOriginal(name, args) as tf.TensorInfo
    const moved = fastTranspose({inputs: {x}, backend, attrs: {perm}})
    try {
      const inner = tf.backend_util.getInnerMostAxes(axes.length, rank)
      const out = callOriginal(name, {inputs: {x: moved}, backend, attrs: {axis: inner, keepDims: false}}) as tf.TensorInfo
      return attrs.keepDims ? {...out, shape: tf.backend_util.expandShapeToKeepDim(out.shape, axes)} : out
    } finally {
      backend.disposeData(moved.dataId)
    }
  }
  Object.defineProperty(reduce, 'name', {value: `innermost${name}`})
  return reduce
}

function fastConcat(args: LayoutArgs<tf.TensorInfo[], {axis: number}>): tf.TensorInfo {
  const {inputs, backend} = args
  if (inputs.length === 0 || inputs[0].dtype === 'string') return callOriginal('Concat', args) as tf.TensorInfo
  const axis = tf.util.parseAxisParam(args.attrs.axis, inputs[0].shape)[0]
  tf.backend_util.assertParamsConsistent(inputs.map((t) => t.shape), axis)
  const outShape = tf.backend_util.computeOutShape(inputs.map((t) => t.shape), axis)
  const parts = inputs.filter((t) => tf.util.sizeFromShape(t.shape) > 0)
  if (parts.length === 1) return {...sharedIdentity({inputs: {x: parts[0]}, backend, attrs: {}}), shape: outShape}
  const out = backend.makeOutput(outShape, inputs[0].dtype)
  const {heap, at} = onHeap(out, backend)
  concatInto(parts.map((t) => ({data: heap, offset: onHeap(t, backend).at, shape: t.shape})), heap, at, axis)
  return out
}
