/**
 * Backend selection: the one place that knows which tfjs backend runs. Everything else writes
 * backend-agnostic `@tensorflow/tfjs-core`.
 *
 * Order for `auto`: `@tensorflow/tfjs-node-gpu` (CUDA; optional dependency) →
 * `@tensorflow/tfjs-node` (libtensorflow on CPU) → `@tensorflow/tfjs-backend-wasm` (XNNPACK,
 * SIMD; with our kernel adapter) → `@tensorflow/tfjs-backend-cpu` (plain JS, slow).
 *
 * Dual-package hazard: tfjs-node is CommonJS and requires `@tensorflow/tfjs`, which requires
 * its own `@tensorflow/tfjs-core` (a second copy if npm nests one). That is safe because
 * tfjs-core keeps the engine (`_tfengine`) and the kernel and gradient registries (`_tfGlobals`)
 * on the global namespace, not in module state, and `Tensor` instances are recognised by
 * `Symbol.hasInstance` duck typing: the backend tfjs-node registers through its copy is the
 * backend our ESM `tf` sees. We still check (`tf.findBackendFactory`) rather than trust it.
 */
import {createRequire} from 'node:module'
import os from 'node:os'
import path from 'node:path'
import * as tf from '@tensorflow/tfjs-core'
import {InputError} from '../errors.js'
import {registerAllGradients} from './gradients.js'
import {installWasmAdapter, wasmGemm} from './wasm-adapter.js'

export type BackendName = 'auto' | 'tensorflow' | 'wasm' | 'cpu'
export type ResolvedBackend = 'tensorflow-gpu' | 'tensorflow' | 'wasm' | 'cpu'
export const BACKEND_NAMES: readonly BackendName[] = ['auto', 'tensorflow', 'wasm', 'cpu']

export interface BackendInfo {
  name: ResolvedBackend
  /** `tf.getBackend()` after selection ('tensorflow', 'wasm' or 'cpu'). */
  tfjsBackend: string
  /** Version of the backend package (for tensorflow: the package; TF's own in `detail`). */
  version: string
  threads: number
  gpu: boolean
  /** wasm only: SIMD build in use. */
  simd?: boolean
  /** Extra facts: TF version for tensorflow backends, the adapter for wasm. */
  detail?: string
  skipped: Array<{name: ResolvedBackend; reason: string}>
}

const PACKAGES: Record<ResolvedBackend, string> = {
  'tensorflow-gpu': '@tensorflow/tfjs-node-gpu',
  tensorflow: '@tensorflow/tfjs-node',
  wasm: '@tensorflow/tfjs-backend-wasm',
  cpu: '@tensorflow/tfjs-backend-cpu',
}

const CANDIDATES: Record<BackendName, ResolvedBackend[]> = {
  auto: ['tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'],
  tensorflow: ['tensorflow-gpu', 'tensorflow'],
  wasm: ['wasm'],
  cpu: ['cpu'],
}

const require = createRequire(import.meta.url)
let current: {pref: BackendName; info: BackendInfo} | undefined

/**
 * Select and initialise a backend, register gradients, and (on wasm) install the kernel
 * adapter. Idempotent: a second call with the same preference returns the same info.
 * Throws InputError when `pref` names a backend that cannot load.
 */
export async function initBackend(pref: BackendName = 'auto', opts: {threads?: number; quiet?: boolean} = {}): Promise<BackendInfo> {
  if (!BACKEND_NAMES.includes(pref)) throw new InputError(`unknown backend '${pref}': expected one of ${BACKEND_NAMES.join(', ')}`)
  if (current && current.pref === pref && tf.getBackend() === current.info.tfjsBackend) return current.info
  const skipped: BackendInfo['skipped'] = []
  for (const name of CANDIDATES[pref]) {
    let info: BackendInfo
    try {
      info = await tryBackend(name, opts)
    } catch (err) {
      skipped.push({name, reason: skipReason(err, PACKAGES[name])})
      continue
    }
    info.skipped = skipped
    if (!process.env.GOLF_TFJS_DEBUG) tf.enableProdMode()
    await registerAllGradients()
    current = {pref, info}
    return info
  }
  if (pref === 'tensorflow') {
    throw new InputError(
      `backend 'tensorflow' is not available (${skipped.map((s) => `${s.name}: ${s.reason}`).join('; ')}): ` +
        'run `npm install @tensorflow/tfjs-node-gpu` on a machine with CUDA (or @tensorflow/tfjs-node), or use --backend wasm',
    )
  }
  throw new InputError(`backend '${pref}' is not available: ${skipped.map((s) => `${s.name}: ${s.reason}`).join('; ')}`)
}

/** One line, e.g. `backend: wasm (simd, 1 thread) — skipped tensorflow-gpu: not installed; …`. */
export function describeBackend(info: BackendInfo): string {
  const traits: string[] = []
  if (info.name === 'wasm') traits.push(info.simd ? 'simd' : 'no simd')
  if (info.name.startsWith('tensorflow')) traits.push(info.gpu ? 'GPU' : 'CPU')
  traits.push(`${info.threads} thread${info.threads === 1 ? '' : 's'}`)
  let line = `backend: ${info.name} (${traits.join(', ')})`
  if (info.skipped.length > 0) line += ` — skipped ${info.skipped.map((s) => `${s.name}: ${s.reason}`).join('; ')}`
  return line
}

/** The info of the backend selected by the last successful `initBackend`, if any. */
export function currentBackend(): BackendInfo | undefined {
  return current?.info
}

/** Version of an installed package, or undefined when it is not installed. */
export function packageVersion(pkg: string): string | undefined {
  try {
    return (require(`${pkg}/package.json`) as {version: string}).version
  } catch {
    return undefined
  }
}

/** Why a backend could not load, in a few words: 'not installed' or 'failed to load: …'. */
export function skipReason(err: unknown, pkg: string): string {
  const e = err as NodeJS.ErrnoException | undefined
  const message = String(e?.message ?? err)
  if ((e?.code === 'ERR_MODULE_NOT_FOUND' || e?.code === 'MODULE_NOT_FOUND') && message.includes(pkg)) return 'not installed'
  return `failed to load: ${message.split('\n')[0]}`
}

async function tryBackend(name: ResolvedBackend, opts: {threads?: number; quiet?: boolean}): Promise<BackendInfo> {
  switch (name) {
    case 'tensorflow-gpu':
    case 'tensorflow':
      return tryTensorflow(name, opts)
    case 'wasm':
      return tryWasm(opts)
    case 'cpu':
      return tryCpu()
  }
}

/** Import a module by a computed name (an optional dependency TypeScript cannot see). */
async function importOptional(pkg: string): Promise<unknown> {
  return import(pkg)
}

async function quietly<T>(quiet: boolean | undefined, fn: () => Promise<T>): Promise<T> {
  if (!quiet) return fn()
  const {log, warn, info} = console
  console.log = console.warn = console.info = () => {}
  try {
    return await fn()
  } finally {
    Object.assign(console, {log, warn, info})
  }
}

async function tryTensorflow(name: 'tensorflow-gpu' | 'tensorflow', opts: {threads?: number; quiet?: boolean}): Promise<BackendInfo> {
  const pkg = PACKAGES[name]
  // libtensorflow reads its thread pools from these at session creation.
  if (opts.threads) process.env.TF_NUM_INTRAOP_THREADS ??= String(opts.threads)
  await quietly(opts.quiet, () => importOptional(pkg))
  // The package registers 'tensorflow' through its own tfjs-core copy; the registry is global.
  if (!tf.findBackendFactory('tensorflow')) throw new Error(`${pkg} loaded but registered no 'tensorflow' backend visible to @tensorflow/tfjs-core`)
  if (!(await tf.setBackend('tensorflow'))) throw new Error(`${pkg}: the 'tensorflow' backend failed to initialise`)
  await tf.ready()
  const be = tf.backend() as unknown as {isUsingGpuDevice?: boolean; binding?: {TF_Version?: string}}
  const gpu = Boolean(be.isUsingGpuDevice)
  return {
    name,
    tfjsBackend: tf.getBackend(),
    version: packageVersion(pkg) ?? 'unknown',
    threads: opts.threads ?? Number(process.env.TF_NUM_INTRAOP_THREADS ?? os.availableParallelism()),
    gpu,
    detail: be.binding?.TF_Version ? `TensorFlow ${be.binding.TF_Version}` : undefined,
    skipped: [],
  }
}

async function tryWasm(opts: {threads?: number; quiet?: boolean}): Promise<BackendInfo> {
  const wasm = await import('@tensorflow/tfjs-backend-wasm')
  if (tf.getBackend() !== 'wasm') {
    // Point the loader at the package's own dist/ (where the .wasm files sit), so it works
    // from any working directory and under bundlers that move the JS. Only allowed before the
    // backend is first initialised; a second initBackend finds it already registered.
    if (!tf.engine().registry['wasm']) {
      wasm.setWasmPaths(path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm')) + path.sep)
      // The threaded build needs Web Workers from a Blob URL; tfjs reports no thread support
      // in Node (WASM_HAS_MULTITHREAD_SUPPORT is false), so this is the single-thread SIMD build.
      if (opts.threads) wasm.setThreadsCount(opts.threads)
    }
    installWasmAdapter()
    if (!(await quietly(opts.quiet, () => tf.setBackend('wasm')))) throw new Error('the wasm backend failed to initialise')
  } else {
    installWasmAdapter()
  }
  await tf.ready()
  const simd = Boolean(await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT'))
  return {
    name: 'wasm',
    tfjsBackend: tf.getBackend(),
    version: wasm.version_wasm,
    threads: wasm.getThreadsCount(),
    gpu: false,
    simd,
    // wasmGemm() sets V8's relaxed-SIMD flag (process-wide) when it can, so the GEMM gets FMA
    detail: `kernel adapter: BatchMatMul (${describeGemm(wasmGemm())}), UnsortedSegmentSum`,
    skipped: [],
  }
}

/** The wasm backend's matrix-product kernel in words, e.g. 'golf GEMM, FMA'. */
export function describeGemm(g: ReturnType<typeof wasmGemm>): string {
  return g.kind === 'golf' ? `golf GEMM, ${g.variant === 'fma' ? 'FMA' : 'no FMA'}` : 'XNNPACK'
}

async function tryCpu(): Promise<BackendInfo> {
  const cpu = await import('@tensorflow/tfjs-backend-cpu')
  if (!(await tf.setBackend('cpu'))) throw new Error('the cpu backend failed to initialise')
  await tf.ready()
  return {name: 'cpu', tfjsBackend: tf.getBackend(), version: cpu.version_cpu, threads: 1, gpu: false, skipped: []}
}
