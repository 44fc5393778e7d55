/**
 * What `golf doctor` reports: the machine, every tfjs backend (installed? loads? version), the
 * backend `auto` selects, wasm SIMD/threads and GPU visibility. Pure data; the command prints it.
 */
import os from 'node:os'
import {describeBackend, describeGemm, initBackend, packageVersion, skipReason, type BackendInfo, type ResolvedBackend} from './index.js'
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
  gpu: {visible: boolean; note: string}
}

const PROBES: Array<[ResolvedBackend, string]> = [
  ['tensorflow-gpu', '@tensorflow/tfjs-node-gpu'],
  ['tensorflow', '@tensorflow/tfjs-node'],
  ['wasm', '@tensorflow/tfjs-backend-wasm'],
  ['cpu', '@tensorflow/tfjs-backend-cpu'],
]

export async function runDoctor(): Promise<DoctorReport> {
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
  let gpuNote: string
  if (selected.name === 'tensorflow-gpu') {
    gpuNote = selected.gpu ? `TensorFlow runs on a GPU device (${selected.detail ?? 'TensorFlow'})` : '@tensorflow/tfjs-node-gpu loaded but TensorFlow found no usable GPU (check CUDA/cuDNN and CUDA_VISIBLE_DEVICES)'
  } else {
    gpuNote = backends[0].installed ? `@tensorflow/tfjs-node-gpu is installed but did not load: ${backends[0].error}` : 'no GPU backend installed (npm install @tensorflow/tfjs-node-gpu on a CUDA machine)'
  }
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
    gpu: {visible: selected.gpu, note: gpuNote},
  }
}
