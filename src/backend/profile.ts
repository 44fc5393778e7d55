/**
 * Per-kernel timing of a tfjs computation (wraps `tf.profile`), for benchmarks and for finding
 * what dominates a training step. Times are the backend's own per-kernel timer: on wasm and cpu
 * that is wall time around the synchronous kernel. Kernels a kernel calls internally (e.g. the
 * Transpose inside the adapted BatchMatMul) are counted in their caller.
 */
import * as tf from '@tensorflow/tfjs-core'

export interface KernelTime {
  name: string
  calls: number
  ms: number
  /** Fraction of the summed kernel time, 0..1. */
  share: number
}

export interface KernelProfile {
  /** Wall time of `fn`, milliseconds. */
  wallMs: number
  /** Sum of all kernel times, milliseconds. */
  kernelMs: number
  /** Kernels by total time, largest first (at most `top`). */
  kernels: KernelTime[]
  newTensors: number
  peakBytes: number
}

/** Run `fn` once under `tf.profile` and aggregate kernel time by kernel name. */
export async function profileKernels(fn: () => tf.TensorContainer | void, opts: {top?: number} = {}): Promise<KernelProfile> {
  const t0 = performance.now()
  const info = await tf.profile(() => fn() as tf.TensorContainer)
  const wallMs = performance.now() - t0
  const byName = new Map<string, {calls: number; ms: number}>()
  let kernelMs = 0
  for (const k of info.kernels) {
    const ms = Number(await k.kernelTimeMs) || 0
    kernelMs += ms
    const e = byName.get(k.name) ?? {calls: 0, ms: 0}
    e.calls++
    e.ms += ms
    byName.set(k.name, e)
  }
  const kernels = [...byName.entries()]
    .map(([name, e]) => ({name, calls: e.calls, ms: e.ms, share: kernelMs > 0 ? e.ms / kernelMs : 0}))
    .sort((x, y) => y.ms - x.ms)
    .slice(0, opts.top ?? Infinity)
  return {wallMs, kernelMs, kernels, newTensors: info.newTensors, peakBytes: info.peakBytes}
}

/** Render a profile as aligned text lines: `name  calls  ms  share`. */
export function formatProfile(p: KernelProfile): string {
  const lines = [`wall ${p.wallMs.toFixed(1)} ms, kernels ${p.kernelMs.toFixed(1)} ms`]
  const w = Math.max(6, ...p.kernels.map((k) => k.name.length))
  for (const k of p.kernels) {
    lines.push(`${k.name.padEnd(w)}  ${String(k.calls).padStart(5)}  ${k.ms.toFixed(1).padStart(9)} ms  ${(100 * k.share).toFixed(1).padStart(5)}%`)
  }
  return lines.join('\n')
}
