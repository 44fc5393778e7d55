/**
 * What `golf doctor` reports: the machine, every tfjs backend (installed? loads? version), the
 * backend `auto` selects, wasm SIMD/threads, and the GPU path: whether TensorFlow sees a GPU
 * device (tfjs-node-gpu falls back to the CPU silently), what the machine offers it (nvidia-smi,
 * the CUDA 11.2 / cuDNN 8 libraries, see cuda.ts) and what it needs. Pure data; the command prints it.
 */
import os from 'node:os'
import {gpuAdvice, probeCuda, type CudaProbe} from './cuda.js'
import {describeBackend, describeGemm, initBackend, packageVersion, skipReason, TFJS_NODE_GPU, type BackendInfo, type ResolvedBackend} from './index.js'
import {wasmGemm} from './wasm-adapter.js'

export interface BackendProbe {
  name: ResolvedBackend
  package: string
  installed: boolean
  version: string | null
  /** The module imported without error (for wasm/cpu: also what `auto` would fall back to). */
  loads: boolean
  error: string | null
}

export interface DoctorReport {
  node: string
  platform: string
  arch: string
  cores: number
  cpuModel: string
  memory: {totalBytes: number; freeBytes: number}
  backends: BackendProbe[]
  selected: BackendInfo & {description: string}
  /** gemm: which kernel runs the wasm backend's matrix products (src/backend/wasm-adapter.ts). */
  wasm: {simd: boolean | null; threads: number | null; gemm: string | null; note: string}
  /**
   * visible: TensorFlow registered a GPU device; note: the first line of `advice` (what runs);
   * advice: every line to print; cuda: what nvidia-smi and the library scan found.
   */
  gpu: {visible: boolean; note: string; advice: string[]; cuda: CudaProbe}
}

const PROBES: Array<[ResolvedBackend, string]> = [
  ['tensorflow-gpu', '@tensorflow/tfjs-node-gpu'],
  ['tensorflow', '@tensorflow/tfjs-node'],
  ['wasm', '@tensorflow/tfjs-backend-wasm'],
  ['cpu', '@tensorflow/tfjs-backend-cpu'],
]

export async function runDoctor(opts: {cuda?: CudaProbe} = {}): Promise<DoctorReport> {
  // Select first, so a tfjs-node that loads is initialised by initBackend, not by the probe.
  const selected = await initBackend('auto', {quiet: true})
  const backends: BackendProbe[] = []
  for (const [name, pkg] of PROBES) {
    const version = packageVersion(pkg) ?? null
    const skip = selected.skipped.find((s) => s.name === name)
    let loads = version !== null && !skip
    let error = skip ? skip.reason : version === null ? 'not installed' : null
    if (loads) {
      try {
        await import(pkg)
      } catch (err) {
        loads = false
        error = skipReason(err, pkg)
      }
    }
    backends.push({name, package: pkg, installed: version !== null, version, loads, error})
  }
  const wasmNote =
    'single-thread SIMD build: tfjs reports no wasm thread support under Node (its threaded build needs Web Workers from Blob URLs); ' +
    'use several processes or worker_threads, each with its own backend, for data parallelism'
  const cuda = opts.cuda ?? probeCuda()
  const gpuPkg = backends.find((b) => b.package === TFJS_NODE_GPU.package)!
  const advice = gpuAdvice(selected, cuda, gpuPkg.version, gpuPkg.error)
  return {
    node: process.version,
    platform: `${os.type()} ${os.release()}`,
    arch: process.arch,
    cores: os.availableParallelism(),
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    memory: {totalBytes: os.totalmem(), freeBytes: os.freemem()},
    backends,
    selected: {...selected, description: describeBackend(selected)},
    wasm: selected.name === 'wasm' ? {simd: selected.simd ?? null, threads: selected.threads, gemm: describeGemm(wasmGemm()), note: wasmNote} : {simd: null, threads: null, gemm: null, note: wasmNote},
    gpu: {visible: selected.gpu, note: advice[0], advice, cuda},
  }
}
