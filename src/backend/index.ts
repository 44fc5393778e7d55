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
  /**
   * tensorflow-gpu only: set when the GPU package loaded but TensorFlow registered no GPU
   * device, so every op runs on the CPU (libtensorflow falls back silently). Says why it may be.
   */
  gpuFallback?: string
  skipped: Array<{name: ResolvedBackend; reason: string}>
}

/**
 * What `@tensorflow/tfjs-node-gpu` 4.22 needs (its README and install script): the
 * libtensorflow it downloads, 2.9.1, is built against CUDA 11.2 and cuDNN 8.1 and loads their
 * CUDA 11 libraries by soname at start-up; when one is missing (e.g. a CUDA 12-only host) it
 * registers no GPU device and runs on the CPU without an error. Its GPU code predates compute
 * capability 9.0 (H100), which the CUDA driver then JIT-compiles from PTX when the process starts.
 */
export const TFJS_NODE_GPU = {
  package: '@tensorflow/tfjs-node-gpu',
  version: '4.22',
  libtensorflow: '2.9.1',
  cuda: '11.2',
  cudnn: '8.1',
  /** The CUDA 11.2 / cuDNN 8 sonames libtensorflow 2.9 opens (dso_loader). */
  libraries: ['libcudart.so.11.0', 'libcublas.so.11', 'libcublasLt.so.11', 'libcufft.so.10', 'libcurand.so.10', 'libcusolver.so.11', 'libcusparse.so.11', 'libcudnn.so.8'],
} as const

/** One line on what tfjs-node-gpu needs, for messages that have to say it. */
export function gpuRequirements(): string {
  const t = TFJS_NODE_GPU
  return `${t.package} ${t.version} runs libtensorflow ${t.libtensorflow}, built for CUDA ${t.cuda} + cuDNN ${t.cudnn} (their CUDA 11 libraries must load: ${t.libraries.join(', ')})`
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
  if (info.gpuFallback) line += ` — warning: ${info.gpuFallback}`
  if (info.skipped.length > 0) line += ` — skipped ${info.skipped.map((s) => `${s.name}: ${s.reason}`).join('; ')}`
  return line
}

/** The `--backend` preference that selects a resolved backend again; null for a name golf does not know. */
export function preferenceFor(name: string): BackendName | null {
  if (name === 'wasm' || name === 'cpu') return name
  if (name === 'tensorflow' || name === 'tensorflow-gpu') return 'tensorflow'
  return null
}

export interface RecordedBackend {
  info: BackendInfo
  /** The backend the run recorded (checkpoint.json / config.json). */
  recorded: string
  /** This process runs exactly that backend (same float arithmetic, so the same quantizer bits). */
  same: boolean
  /** Why not, in a few words (null when same). */
  why: string | null
}

/**
 * Initialise the backend a run recorded, to reproduce its float arithmetic (the quantizer's
 * reductions and fp16 rounding differ between backends); `fallback` when that backend cannot
 * load here. `override` (a user's --backend other than auto) wins over both.
 */
export async function initRecordedBackend(recorded: string, opts: {override?: BackendName; fallback?: BackendName; quiet?: boolean} = {}): Promise<RecordedBackend> {
  const quiet = opts.quiet ?? true
  const result = (info: BackendInfo, why: string | null): RecordedBackend => {
    // the record says tensorflow-gpu, not whether that run found its GPU: here it found none,
    // so the kernels may not be the ones the run used
    if (info.name === recorded && info.gpuFallback) return {info, recorded, same: false, why: `${recorded} runs on the CPU here (TensorFlow sees no GPU device), the run may have used a GPU`}
    const same = info.name === recorded
    return {info, recorded, same, why: same ? null : (why ?? `this process runs ${info.name}`)}
  }
  if (opts.override && opts.override !== 'auto') return result(await initBackend(opts.override, {quiet}), `--backend ${opts.override} was asked for`)
  const fallback = opts.fallback ?? 'wasm'
  const pref = preferenceFor(recorded)
  if (pref === null) return result(await initBackend(fallback, {quiet}), `the run recorded backend ${JSON.stringify(recorded)}, which golf does not know`)
  try {
    const info = await initBackend(pref, {quiet})
    return result(info, `${recorded} did not load here, ${info.name} did (${info.skipped.map((s) => `${s.name}: ${s.reason}`).join('; ')})`)
  } catch (err) {
    if (!(err instanceof InputError)) throw err
    const pkg = PACKAGES[recorded as ResolvedBackend]
    const reason = pkg && packageVersion(pkg) === undefined ? `${pkg} is not installed here` : `${recorded} does not load here`
    return result(await initBackend(fallback, {quiet}), reason)
  }
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
  // tfjs-node's NodeJSKernelBackend: isUsingGpuDevice = its binding found a device of type
  // "GPU" in TensorFlow's device list when it created the eager context (else it falls back to
  // the host CPU device, silently); isGPUPackage = loaded from @tensorflow/tfjs-node-gpu.
  const be = tf.backend() as unknown as {isUsingGpuDevice?: boolean; isGPUPackage?: boolean; binding?: {TF_Version?: string}}
  const gpu = Boolean(be.isUsingGpuDevice)
  const tfVersion = be.binding?.TF_Version
  const gpuPackage = name === 'tensorflow-gpu' || be.isGPUPackage === true
  return {
    name,
    tfjsBackend: tf.getBackend(),
    version: packageVersion(pkg) ?? 'unknown',
    threads: opts.threads ?? Number(process.env.TF_NUM_INTRAOP_THREADS ?? os.availableParallelism()),
    gpu,
    detail: tfVersion ? `TensorFlow ${tfVersion}` : undefined,
    gpuFallback:
      gpuPackage && !gpu
        ? `${pkg} loaded but TensorFlow${tfVersion ? ` ${tfVersion}` : ''} registered no GPU device: everything runs on the CPU. ${gpuRequirements()}; a CUDA 12-only host, a missing cuDNN 8 or CUDA_VISIBLE_DEVICES="" gives this (golf doctor checks the libraries)`
        : undefined,
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
