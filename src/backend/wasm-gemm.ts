/**
 * A float32 GEMM for the tfjs wasm heap, emitted as a WebAssembly module at run time: C = A·B,
 * with a register-blocked SIMD microkernel that uses fused multiply-add (`f32x4.relaxed_madd`)
 * where V8 accepts relaxed SIMD, and `f32x4.mul` + `f32x4.add` otherwise.
 *
 * Why: XNNPACK in tfjs-backend-wasm is built for plain SIMD128, where a multiply and an add issue
 * separately; FMA halves that work on x64 CPUs with FMA3. It also packs B afresh for every new
 * tensor (every product of a training step) and needs explicit transposes.
 *
 * The module imports `env.memory` — the tfjs wasm backend's own (non-shared) memory — and reads
 * and writes tensors in place at byte offsets; nothing is copied in or out.
 *
 * Layout (GotoBLAS style, MR×NR microkernel, K blocked by KC, M blocked by MC):
 * - A (M×K) is given by two element strides (row, column), so A and Aᵀ are the same call:
 *   `A[i,k] = heap[a + i·rowStride + k·colStride]`. Each MC×KC block is packed (a strided
 *   copy) into MR-row slivers `sliver[k][0..MR)`, zero rows past M: then every microkernel
 *   address is a pointer plus a constant, which is what lets V8 keep the loop tight (reading A
 *   through its strides in the microkernel measured slower). The microkernel broadcasts A's scalars with
 *   `v128.load32_splat`.
 * - B (K×N) is packed, per KC block of rows, into NR-wide column panels `panel[k][0..NR)`, zero
 *   past N, from B row-major [K,N] or from Bᵀ [N,K] — so a transposed B costs no transpose.
 *   Both packings read each element once per product.
 * - Loops: for each KC block { pack B; for each MC block { pack A; for each panel { for each
 *   sliver { microkernel } } } }. The microkernel keeps MR×(NR/4) f32x4 accumulators in
 *   registers, runs K innermost, then stores them to C (first KC block) or adds them to C
 *   (later blocks). A tile past row M or column N is computed into a small scratch tile and the
 *   part inside C copied, so nothing outside C is written.
 * - Register blocking is limited by V8 (11.3, x64) more than by the 16 xmm registers: its
 *   scheduler hoists every load of the loop body to the top, so tiles with more than ~9
 *   accumulators, or an unrolled K loop, spill. FMA uses 3×12, plain 4×8 (DEFAULT_GEMM_SHAPES).
 *
 * Numerics: each C element is 0 + a₀b₀ + a₁b₁ + … in k order within a KC block (one
 * accumulator per element), each block's sum then added to C (C = sum₀; C = sum₁ + C; …).
 * With FMA each step rounds once; `relaxed_madd` may fuse or not depending on the CPU (it is
 * a fused vfmadd on x64 with FMA3), so results are deterministic on one machine — main thread
 * and workers alike — but may differ in the last bits across machines. The plain variant
 * rounds product and sum separately, bit-identical to XNNPACK's on the K = 256 products measured.
 *
 * Relaxed SIMD in Node 20 (V8 11.3) is behind `--experimental-wasm-relaxed-simd`;
 * `enableRelaxedSimd()` sets that flag (process-wide, so worker threads see it too) and reports
 * whether the FMA module then validates.
 */
import v8 from 'node:v8'

/** The WebAssembly JS API used here (the project's `lib` carries no WebAssembly types). */
export interface WasmMemory {
  readonly buffer: ArrayBuffer
  grow(pages: number): number
}
interface WasmApi {
  validate(bytes: Uint8Array): boolean
  Module: new (bytes: Uint8Array) => object
  Instance: new (module: object, imports: object) => {exports: Record<string, unknown>}
  Memory: new (descriptor: {initial: number; maximum?: number}) => WasmMemory
}
export const WebAssemblyApi = (globalThis as unknown as {WebAssembly: WasmApi}).WebAssembly

// --- Binary encoding ------------------------------------------------------------------------

function uleb(n: number): number[] {
  const out: number[] = []
  do {
    let byte = n & 0x7f
    n >>>= 7
    if (n !== 0) byte |= 0x80
    out.push(byte)
  } while (n !== 0)
  return out
}

function sleb(n: number): number[] {
  const out: number[] = []
  n |= 0
  for (;;) {
    const byte = n & 0x7f
    n >>= 7
    const done = (n === 0 && (byte & 0x40) === 0) || (n === -1 && (byte & 0x40) !== 0)
    out.push(done ? byte : byte | 0x80)
    if (done) return out
  }
}

function name(s: string): number[] {
  const bytes = [...new TextEncoder().encode(s)]
  return [...uleb(bytes.length), ...bytes]
}

function vec(items: number[][]): number[] {
  return [...uleb(items.length), ...items.flat()]
}

function section(id: number, body: number[]): number[] {
  return [id, ...uleb(body.length), ...body]
}

const I32 = 0x7f
const F32 = 0x7d
const V128 = 0x7b
type ValType = typeof I32 | typeof F32 | typeof V128

/** Opcodes used here (core and 0xFD-prefixed SIMD). */
const OP = {
  block: 0x02, loop: 0x03, if: 0x04, else: 0x05, end: 0x0b, br: 0x0c, brIf: 0x0d, call: 0x10,
  localGet: 0x20, localSet: 0x21, localTee: 0x22,
  f32Load: 0x2a, f32Store: 0x38, i32Const: 0x41, f32Const: 0x43,
  i32Eqz: 0x45, i32Eq: 0x46, i32Ne: 0x47, i32LtS: 0x48, i32GtS: 0x4a, i32GeS: 0x4e,
  i32Add: 0x6a, i32Sub: 0x6b, i32Mul: 0x6c, i32And: 0x71, i32ShrU: 0x76, f32Add: 0x92,
} as const
const SIMD = {v128Load: 0x00, load32Splat: 0x09, v128Store: 0x0b, f32x4Add: 0xe4, f32x4Mul: 0xe6, f32x4RelaxedMadd: 0x105} as const
const VOID = 0x40

/** One function body under construction: named locals, then straight-line opcode bytes. */
class Fn {
  readonly code: number[] = []
  private readonly names = new Map<string, number>()
  private readonly extra: ValType[] = []

  constructor(readonly params: Array<[string, ValType]>, readonly results: ValType[] = []) {
    params.forEach(([n], i) => this.names.set(n, i))
  }

  /** Declare a local (once) and return its index. */
  local(n: string, type: ValType = I32): number {
    const known = this.names.get(n)
    if (known !== undefined) return known
    const index = this.params.length + this.extra.length
    this.extra.push(type)
    this.names.set(n, index)
    return index
  }

  op(...bytes: number[]): this {
    this.code.push(...bytes)
    return this
  }
  simd(op: number, ...imm: number[]): this {
    return this.op(0xfd, ...uleb(op), ...imm)
  }
  get(n: string): this {
    return this.op(OP.localGet, ...uleb(this.index(n)))
  }
  set(n: string): this {
    return this.op(OP.localSet, ...uleb(this.index(n)))
  }
  tee(n: string): this {
    return this.op(OP.localTee, ...uleb(this.index(n)))
  }
  i32(v: number): this {
    return this.op(OP.i32Const, ...sleb(v))
  }
  /** `n += by` where `by` is a local name or a constant. */
  inc(n: string, by: string | number): this {
    this.get(n)
    if (typeof by === 'number') this.i32(by)
    else this.get(by)
    return this.op(OP.i32Add).set(n)
  }
  /** memarg: alignment hint 0 (any alignment), constant byte offset. */
  mem(offset: number): number[] {
    return [0, ...uleb(offset)]
  }

  private index(n: string): number {
    const i = this.names.get(n)
    if (i === undefined) throw new Error(`wasm-gemm emitter: unknown local '${n}'`)
    return i
  }

  typeBytes(): number[] {
    return [0x60, ...vec(this.params.map(([, t]) => [t])), ...vec(this.results.map((t) => [t]))]
  }

  bodyBytes(): number[] {
    const groups: number[][] = []
    for (const t of this.extra) {
      const last = groups.at(-1)
      if (last && last[1] === t) last[0]++
      else groups.push([1, t])
    }
    const body = [...vec(groups.map(([count, t]) => [...uleb(count), t])), ...this.code, OP.end]
    return [...uleb(body.length), ...body]
  }
}

interface Func {
  fn: Fn
  export?: string
}

/** A module importing `env.memory` (any size, no maximum) and holding `funcs` in order. */
function moduleBytes(funcs: Func[]): Uint8Array {
  const types = funcs.map((f) => f.fn.typeBytes())
  const exports = funcs.flatMap((f, i) => (f.export ? [[...name(f.export), 0x00, ...uleb(i)]] : []))
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vec(types)),
    ...section(2, vec([[...name('env'), ...name('memory'), 0x02, 0x00, ...uleb(0)]])),
    ...section(3, vec(funcs.map((_, i) => uleb(i)))),
    ...section(7, vec(exports)),
    ...section(10, vec(funcs.map((f) => f.fn.bodyBytes()))),
  ])
}

// --- The kernels ----------------------------------------------------------------------------

export type GemmVariant = 'fma' | 'plain'

/** Tile, unrolling and blocking sizes. */
export interface GemmShape {
  /** Rows of the microkernel tile. */
  mr: number
  /** Columns of the tile, a multiple of 4. */
  nr: number
  /** K steps per microkernel loop iteration (a power of two). */
  unroll: number
  /** K block: a packed B panel of KC·NR floats should sit in L1. */
  kc: number
  /** M block: the packed rows of A one B panel is reused over (MC·KC floats, in L2). */
  mc: number
}

/**
 * Measured best on x64 (bench/gemm.ts): FMA 3×12 (9 accumulators: V8 keeps them in registers,
 * while 6×8 and 4×12 spill because its scheduler hoists every load to the top of the loop);
 * plain 4×8. Unrolling K spills for the same reason, so unroll 1.
 */
export const DEFAULT_GEMM_SHAPES: Record<GemmVariant, GemmShape> = {
  fma: {mr: 3, nr: 12, unroll: 1, kc: 256, mc: 96},
  plain: {mr: 4, nr: 8, unroll: 1, kc: 256, mc: 96},
}

/**
 * micro(ap, bp, kc, c, ldc, acc): C[0..MR, 0..NR) (=|+=) Σ_k apanel[k][i]·bpanel[k][j], from a
 * packed A sliver (`ap[k·MR + i]`) and a packed B panel (`bp[k·NR + j]`); ldc in bytes, acc ≠ 0
 * adds to C. Every operand address is a pointer plus a constant. Accumulators start at zero
 * (wasm zeroes locals), so each C element is (0 + a₀b₀ + a₁b₁ + …) [+ C].
 */
function microkernel(s: GemmShape, variant: GemmVariant): Fn {
  const {mr, nr, unroll} = s
  const f = new Fn([['ap', I32], ['bp', I32], ['kc', I32], ['c', I32], ['ldc', I32], ['acc', I32]])
  const nv = nr / 4
  const acc = (i: number, v: number) => `acc${i}_${v}`
  for (let i = 0; i < mr; i++) for (let v = 0; v < nv; v++) f.local(acc(i, v), V128)
  for (let v = 0; v < nv; v++) f.local(`b${v}`, V128)
  f.local('x', V128)
  f.local('n')
  const step = (u: number): Fn => {
    for (let v = 0; v < nv; v++) f.get('bp').simd(SIMD.v128Load, ...f.mem(4 * (u * nr + 4 * v))).set(`b${v}`)
    for (let i = 0; i < mr; i++) {
      f.get('ap').simd(SIMD.load32Splat, ...f.mem(4 * (u * mr + i))).set('x')
      for (let v = 0; v < nv; v++) {
        if (variant === 'fma') f.get('x').get(`b${v}`).get(acc(i, v)).simd(SIMD.f32x4RelaxedMadd)
        else f.get('x').get(`b${v}`).simd(SIMD.f32x4Mul).get(acc(i, v)).simd(SIMD.f32x4Add)
        f.set(acc(i, v))
      }
    }
    return f
  }
  /** A loop of `count` (a local, may be 0) iterations of `steps` K steps each. */
  const loop = (steps: number) => {
    f.op(OP.block, VOID).get('n').op(OP.i32Eqz, OP.brIf, 0)
    f.op(OP.loop, VOID)
    // pointers bumped every step: constant offsets repeat, so V8 keeps few of them live
    for (let u = 0; u < steps; u++) step(0).inc('ap', mr * 4).inc('bp', nr * 4)
    f.get('n').i32(1).op(OP.i32Sub).tee('n').op(OP.brIf, 0)
    f.op(OP.end, OP.end)
  }
  f.get('kc').i32(Math.log2(unroll)).op(OP.i32ShrU).set('n')
  loop(unroll)
  if (unroll > 1) {
    f.get('kc').i32(unroll - 1).op(OP.i32And).set('n')
    loop(1)
  }
  // store (or add into) C, row by row
  for (let i = 0; i < mr; i++) {
    if (i > 0) f.inc('c', 'ldc')
    f.get('acc').op(OP.if, VOID)
    for (let v = 0; v < nv; v++) f.get(acc(i, v)).get('c').simd(SIMD.v128Load, ...f.mem(16 * v)).simd(SIMD.f32x4Add).set(acc(i, v))
    f.op(OP.end)
    for (let v = 0; v < nv; v++) f.get('c').get(acc(i, v)).simd(SIMD.v128Store, ...f.mem(16 * v))
  }
  return f
}

/**
 * edge(t, c, ldc, rows, cols, acc): C[0..rows, 0..cols) (=|+=) tile (rows, cols ≥ 1), where the
 * tile is the microkernel's output stored with row stride NR·4 — for the last rows and columns.
 */
function edgeCopy(nr: number): Fn {
  const f = new Fn([['t', I32], ['c', I32], ['ldc', I32], ['rows', I32], ['cols', I32], ['acc', I32]])
  f.local('j')
  f.local('v', F32)
  const at = (base: string) => f.get(base).get('j').i32(4).op(OP.i32Mul, OP.i32Add)
  f.op(OP.loop, VOID) // rows
  f.i32(0).set('j')
  f.op(OP.loop, VOID) // cols
  at('t').op(OP.f32Load, ...f.mem(0)).set('v')
  f.get('acc').op(OP.if, VOID)
  f.get('v')
  at('c').op(OP.f32Load, ...f.mem(0)).op(OP.f32Add).set('v')
  f.op(OP.end)
  at('c').get('v').op(OP.f32Store, ...f.mem(0))
  f.get('j').i32(1).op(OP.i32Add).tee('j').get('cols').op(OP.i32LtS, OP.brIf, 0)
  f.op(OP.end)
  f.inc('t', nr * 4).inc('c', 'ldc')
  f.get('rows').i32(1).op(OP.i32Sub).tee('rows').op(OP.brIf, 0)
  f.op(OP.end)
  return f
}

/**
 * pack(src, rs, cs, len, width, count, dst): the packing of both operands. Reads the matrix
 * X[l, w] = heap[src + l·rs + w·cs] (byte strides) for l < len, w < count, and writes it as
 * panels of `width` columns: `dst[p][l][0..width)` = X[l, p·width + ·], zero past column count.
 * B (K×N) packs with width NR (l = k); A packs as Aᵀ with width MR (l = k, columns = rows of A).
 * A full panel of contiguous columns copies with v128 loads when `width` is a multiple of 4.
 */
function packer(width: number): Fn {
  const f = new Fn([['src', I32], ['rs', I32], ['cs', I32], ['len', I32], ['count', I32], ['dst', I32]])
  for (const l of ['col', 'l', 'p', 'q', 'jj', 'w']) f.local(l)
  f.op(OP.block, VOID).get('len').op(OP.i32Eqz, OP.brIf, 0)
  f.i32(0).set('col')
  f.op(OP.loop, VOID) // panels
  f.get('count').get('col').op(OP.i32Sub).set('w') // columns of this panel present in X
  f.get('src').get('col').get('cs').op(OP.i32Mul, OP.i32Add).set('p') // &X[0, col]
  f.get('len').set('l')
  f.op(OP.loop, VOID) // rows of the panel
  f.get('w').i32(width).op(OP.i32GeS, OP.if, VOID)
  // full panel: straight copies, v128 when the columns are contiguous
  const scalarCopy = () => {
    f.get('p').set('q')
    for (let j = 0; j < width; j++) {
      f.get('dst').get('q').op(OP.f32Load, ...f.mem(0)).op(OP.f32Store, ...f.mem(4 * j))
      if (j < width - 1) f.inc('q', 'cs')
    }
  }
  if (width % 4 === 0) {
    f.get('cs').i32(4).op(OP.i32Eq, OP.if, VOID)
    for (let v = 0; v < width / 4; v++) f.get('dst').get('p').simd(SIMD.v128Load, ...f.mem(16 * v)).simd(SIMD.v128Store, ...f.mem(16 * v))
    f.op(OP.else)
    scalarCopy()
    f.op(OP.end)
  } else {
    scalarCopy()
  }
  f.op(OP.else)
  // partial panel: zeros past the last column
  f.get('p').set('q')
  f.i32(0).set('jj')
  f.op(OP.loop, VOID)
  f.get('dst').get('jj').i32(4).op(OP.i32Mul, OP.i32Add)
  f.get('jj').get('w').op(OP.i32LtS)
  f.op(OP.if, F32)
  f.get('q').op(OP.f32Load, ...f.mem(0))
  f.op(OP.else)
  f.op(OP.f32Const, 0, 0, 0, 0)
  f.op(OP.end)
  f.op(OP.f32Store, ...f.mem(0))
  f.inc('q', 'cs')
  f.get('jj').i32(1).op(OP.i32Add).tee('jj').i32(width).op(OP.i32LtS, OP.brIf, 0)
  f.op(OP.end)
  f.op(OP.end)
  f.inc('dst', width * 4).inc('p', 'rs')
  f.get('l').i32(1).op(OP.i32Sub).tee('l').op(OP.brIf, 0)
  f.op(OP.end)
  f.get('col').i32(width).op(OP.i32Add).tee('col').get('count').op(OP.i32LtS, OP.brIf, 0)
  f.op(OP.end)
  f.op(OP.end)
  return f
}

/** Function indices in the module. */
const FN = {micro: 0, edge: 1, packA: 2, packB: 3, block: 4} as const

/**
 * block(mc, n, kc, ap, bp, c, ldc, acc, tmp): C[0..mc, 0..n) (=|+=) A·B for a packed A block
 * (mc rows) and a packed B block (n columns), kc deep; mc, n, kc ≥ 1. Panel outer (it stays in
 * L1), slivers inner. Tiles past row mc or column n go through the scratch tile `tmp`.
 */
function blockKernel(s: GemmShape): Fn {
  const {mr, nr} = s
  const f = new Fn([['mc', I32], ['n', I32], ['kc', I32], ['ap', I32], ['bp', I32], ['c', I32], ['ldc', I32], ['acc', I32], ['tmp', I32]])
  for (const l of ['w', 'cols', 'cj', 'ir', 'rows', 'arow', 'crow', 'astep', 'cstep', 'pstep']) f.local(l)
  f.get('kc').i32(mr * 4).op(OP.i32Mul).set('astep')
  f.get('ldc').i32(mr).op(OP.i32Mul).set('cstep')
  f.get('kc').i32(nr * 4).op(OP.i32Mul).set('pstep')
  f.get('c').set('cj')
  f.get('n').set('w')
  f.op(OP.loop, VOID) // panels
  f.get('w').set('cols')
  f.get('w').i32(nr).op(OP.i32GtS, OP.if, VOID).i32(nr).set('cols').op(OP.end)
  f.i32(0).set('ir')
  f.get('ap').set('arow')
  f.get('cj').set('crow')
  f.op(OP.loop, VOID) // MR-row slivers
  f.get('mc').get('ir').op(OP.i32Sub).set('rows')
  f.get('rows').i32(mr).op(OP.i32GtS, OP.if, VOID).i32(mr).set('rows').op(OP.end)
  f.get('rows').i32(mr).op(OP.i32Eq).get('cols').i32(nr).op(OP.i32Eq, OP.i32And, OP.if, VOID)
  f.get('arow').get('bp').get('kc').get('crow').get('ldc').get('acc').op(OP.call, FN.micro)
  f.op(OP.else)
  f.get('arow').get('bp').get('kc').get('tmp').i32(nr * 4).i32(0).op(OP.call, FN.micro)
  f.get('tmp').get('crow').get('ldc').get('rows').get('cols').get('acc').op(OP.call, FN.edge)
  f.op(OP.end)
  f.inc('arow', 'astep').inc('crow', 'cstep')
  f.get('ir').i32(mr).op(OP.i32Add).tee('ir').get('mc').op(OP.i32LtS, OP.brIf, 0)
  f.op(OP.end)
  f.inc('cj', nr * 4).inc('bp', 'pstep')
  f.get('w').i32(nr).op(OP.i32Sub).tee('w').i32(0).op(OP.i32GtS, OP.brIf, 0)
  f.op(OP.end)
  return f
}

/** The module's bytes for a tile shape and variant (exports `packA`, `packB`, `block`). */
export function gemmModuleBytes(variant: GemmVariant, shape: GemmShape = DEFAULT_GEMM_SHAPES[variant]): Uint8Array {
  const {mr, nr, unroll} = shape
  if (nr % 4 !== 0 || nr < 4 || mr < 1 || unroll < 1 || (unroll & (unroll - 1)) !== 0) {
    throw new Error(`wasm-gemm: bad tile ${mr}×${nr} unroll ${unroll}`)
  }
  return moduleBytes([
    {fn: microkernel(shape, variant)},
    {fn: edgeCopy(nr)},
    {fn: packer(mr), export: 'packA'},
    {fn: packer(nr), export: 'packB'},
    {fn: blockKernel(shape), export: 'block'},
  ])
}

// --- Relaxed SIMD availability --------------------------------------------------------------

let relaxed: boolean | undefined

/**
 * True when V8 accepts relaxed SIMD (after setting `--experimental-wasm-relaxed-simd`, which
 * Node 20 needs; process-wide, idempotent). The answer is computed once per thread.
 */
export function enableRelaxedSimd(): boolean {
  if (relaxed !== undefined) return relaxed
  const probe = gemmModuleBytes('fma', {mr: 1, nr: 4, unroll: 1, kc: 1, mc: 1})
  if (!WebAssemblyApi.validate(probe)) {
    try {
      v8.setFlagsFromString('--experimental-wasm-relaxed-simd')
    } catch {
      // not settable here: the plain kernel it is
    }
  }
  relaxed = WebAssemblyApi.validate(probe)
  return relaxed
}

// --- Driver ---------------------------------------------------------------------------------

/** What the GEMM needs of the tfjs wasm module: its memory and allocator. */
export interface GemmHeap {
  memory: WasmMemory
  malloc(bytes: number): number
  free(ptr: number): void
}

/** One product C[M,N] = A·B on the heap; offsets in bytes, strides in elements. */
export interface GemmCall {
  m: number
  n: number
  k: number
  /** Byte offset of A[0,0]; A[i,k] at element `i·aRowStride + k·aColStride` from it. */
  a: number
  aRowStride: number
  aColStride: number
  /** Byte offset of B: [K,N] row-major, or [N,K] row-major when `transposeB`. */
  b: number
  transposeB: boolean
  /** Byte offset of C, [M,N] row-major (overwritten). */
  c: number
}

export interface WasmGemm {
  readonly variant: GemmVariant
  readonly shape: GemmShape
  /** Compute one product in place; allocates and frees its scratch on the heap. */
  run(call: GemmCall): void
  /** Several products sharing one scratch allocation (e.g. the entries of a batch). */
  runMany(calls: Iterable<GemmCall>, maxN: number): void
}

type PackFn = (src: number, rs: number, cs: number, len: number, count: number, dst: number) => void
type BlockFn = (mc: number, n: number, kc: number, ap: number, bp: number, c: number, ldc: number, acc: number, tmp: number) => void

const moduleCache = new Map<string, object>()

/**
 * Build the GEMM over `heap`. `variant` 'auto' picks FMA when relaxed SIMD validates (setting
 * the V8 flag if needed), plain otherwise; asking for 'fma' where it is unavailable throws.
 */
export function buildGemm(heap: GemmHeap, opts: {variant?: GemmVariant | 'auto'; shape?: Partial<GemmShape>} = {}): WasmGemm {
  const want = opts.variant ?? 'auto'
  const fma = enableRelaxedSimd()
  if (want === 'fma' && !fma) throw new Error('wasm-gemm: relaxed SIMD (f32x4.relaxed_madd) is not available in this V8')
  const variant: GemmVariant = want === 'auto' ? (fma ? 'fma' : 'plain') : want
  const shape: GemmShape = {...DEFAULT_GEMM_SHAPES[variant], ...opts.shape}
  const key = `${variant}:${shape.mr}x${shape.nr}u${shape.unroll}`
  let module = moduleCache.get(key)
  if (!module) {
    module = new WebAssemblyApi.Module(gemmModuleBytes(variant, shape))
    moduleCache.set(key, module)
  }
  const {exports} = new WebAssemblyApi.Instance(module, {env: {memory: heap.memory}})
  const packA = exports.packA as PackFn
  const packB = exports.packB as PackFn
  const block = exports.block as BlockFn
  const {mr, nr, kc: KC, mc: MC} = shape

  const compute = (g: GemmCall, bp: number, ap: number, tmp: number) => {
    const {m, n, k} = g
    if (m === 0 || n === 0) return
    if (k === 0) {
      new Float32Array(heap.memory.buffer, g.c, m * n).fill(0)
      return
    }
    const rsB = g.transposeB ? 4 : n * 4
    const csB = g.transposeB ? k * 4 : 4
    const rsA = g.aRowStride * 4
    const csA = g.aColStride * 4
    for (let k0 = 0; k0 < k; k0 += KC) {
      const kc = Math.min(KC, k - k0)
      packB(g.b + k0 * rsB, rsB, csB, kc, n, bp)
      for (let i0 = 0; i0 < m; i0 += MC) {
        const mc = Math.min(MC, m - i0)
        // A block packed as Aᵀ panels: X[k, i] = A[i0 + i, k0 + k]
        packA(g.a + i0 * rsA + k0 * csA, csA, rsA, kc, mc, ap)
        block(mc, n, kc, ap, bp, g.c + i0 * n * 4, n * 4, k0 > 0 ? 1 : 0, tmp)
      }
    }
  }

  const runMany = (calls: Iterable<GemmCall>, maxN: number) => {
    const bBytes = Math.ceil(maxN / nr) * nr * KC * 4
    const aBytes = Math.ceil(MC / mr) * mr * KC * 4
    const scratch = heap.malloc(bBytes + aBytes + mr * nr * 4 + 16)
    if (!scratch) throw new Error(`wasm-gemm: could not allocate ${bBytes + aBytes} bytes of scratch on the wasm heap`)
    const bp = Math.ceil(scratch / 16) * 16
    try {
      for (const g of calls) {
        if (g.n > maxN) throw new Error(`wasm-gemm: n=${g.n} exceeds the scratch for n=${maxN}`)
        compute(g, bp, bp + bBytes, bp + bBytes + aBytes)
      }
    } finally {
      heap.free(scratch)
    }
  }
  return {variant, shape, run: (g) => runMany([g], g.n), runMany}
}

/** The parts of tfjs-backend-wasm's module a heap needs. */
export interface TfjsWasmModule {
  asm: {memory: WasmMemory}
  _malloc(bytes: number): number
  _free(ptr: number): void
}

/** The heap of a tfjs wasm backend module. */
export function tfjsHeap(wasm: TfjsWasmModule): GemmHeap {
  return {memory: wasm.asm.memory, malloc: (n) => wasm._malloc(n), free: (p) => wasm._free(p)}
}
