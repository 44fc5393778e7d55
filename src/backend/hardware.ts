/**
 * The machine a run trained on, in one line for summary.json and the submission README: the
 * CPUs, the memory, the backend and, on a GPU backend, the GPUs nvidia-smi lists, grouped by
 * model as records name them (e.g. `8× NVIDIA H100 80GB HBM3`). Those are the machine's GPUs
 * (nvidia-smi ignores CUDA_VISIBLE_DEVICES), hence the `nvidia-smi:` label; golf's TensorFlow
 * backend computes on one of them.
 */
import {cpus, totalmem} from 'node:os'

import {probeCuda, type CudaGpu} from './cuda.js'
import type {BackendInfo} from './index.js'

/** GPUs grouped by model, in the order first listed: `2× A + 1× B`; null for none. */
export function describeGpus(gpus: readonly CudaGpu[]): string | null {
  const counts = new Map<string, number>()
  for (const g of gpus) counts.set(g.name, (counts.get(g.name) ?? 0) + 1)
  return counts.size === 0 ? null : [...counts].map(([name, n]) => `${n}× ${name}`).join(' + ')
}

/** `gpus`: what nvidia-smi lists (asked only when the backend runs on a GPU). */
export function hardwareString(backend: BackendInfo, gpus: () => readonly CudaGpu[] = () => probeCuda({libraries: false}).gpus): string {
  const cpu = cpus()[0]?.model?.trim() || 'unknown CPU'
  const base = `${cpus().length}× ${cpu}, ${Math.round(totalmem() / 2 ** 30)} GiB, ${backend.name}`
  if (!backend.gpu) return base
  const named = describeGpus(gpus())
  return `${base} (GPU)${named ? `, nvidia-smi: ${named}` : ''}`
}
