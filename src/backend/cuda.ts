/**
 * What the machine offers `@tensorflow/tfjs-node-gpu`, seen from outside TensorFlow (which
 * says nothing when it falls back to the CPU): the GPUs and driver `nvidia-smi` reports, and
 * whether the CUDA 11.2 / cuDNN 8 libraries libtensorflow 2.9.1 opens by soname can be found
 * where the dynamic loader looks (LD_LIBRARY_PATH, the ldconfig cache, the usual CUDA folders).
 * Linux only (the GPU package's platform); elsewhere the library scan is skipped.
 *
 * `gpuAdvice` turns that and the selected backend into the lines `golf doctor` prints and
 * `npm run gpu:check` fails with.
 */
import {spawnSync} from 'node:child_process'
import {existsSync} from 'node:fs'
import {join} from 'node:path'

import {TFJS_NODE_GPU, type BackendInfo} from './index.js'

export interface CudaGpu {
  name: string
  /** e.g. '9.0' (H100); null when the driver is too old to report it. */
  computeCapability: string | null
  memoryMiB: number | null
}

export interface CudaProbe {
  /** nvidia-smi ran (so an NVIDIA driver is installed). */
  nvidiaSmi: boolean
  driver: string | null
  /** The newest CUDA the driver supports ("CUDA Version" in nvidia-smi's header). */
  driverCuda: string | null
  gpus: CudaGpu[]
  /** Each soname libtensorflow 2.9.1 needs, and where it was found (null: not found). Empty off Linux. */
  libraries: Array<{name: string; path: string | null}>
  /** Why nvidia-smi gave nothing, when it did not run. */
  error: string | null
}

export type RunCommand = (cmd: string, args: string[]) => {status: number | null; stdout: string; error?: string}

const run: RunCommand = (cmd, args) => {
  const r = spawnSync(cmd, args, {encoding: 'utf8', timeout: 10_000})
  return {status: r.status, stdout: r.stdout ?? '', error: r.error ? ((r.error as NodeJS.ErrnoException).code ?? r.error.message) : undefined}
}

/** Folders the CUDA installers and distributions put these libraries in. */
const USUAL_DIRS = ['/usr/local/cuda-11.2/lib64', '/usr/local/cuda-11/lib64', '/usr/local/cuda/lib64', '/usr/lib/x86_64-linux-gnu', '/usr/lib64', '/usr/lib/aarch64-linux-gnu']

/** `libraries: false`: ask nvidia-smi only (the GPUs a run names), no library scan. */
export function probeCuda(opts: {run?: RunCommand; env?: NodeJS.ProcessEnv; platform?: NodeJS.Platform; exists?: (p: string) => boolean; libraries?: boolean} = {}): CudaProbe {
  const exec = opts.run ?? run
  const env = opts.env ?? process.env
  const exists = opts.exists ?? existsSync
  const probe: CudaProbe = {nvidiaSmi: false, driver: null, driverCuda: null, gpus: [], libraries: [], error: null}

  const q = exec('nvidia-smi', ['--query-gpu=name,compute_cap,memory.total,driver_version', '--format=csv,noheader,nounits'])
  // drivers before ~510 do not know compute_cap: ask again without it
  const q2 = q.status === 0 ? q : q.error ? q : exec('nvidia-smi', ['--query-gpu=name,memory.total,driver_version', '--format=csv,noheader,nounits'])
  if (q2.status === 0) {
    probe.nvidiaSmi = true
    const withCap = q2 === q
    for (const line of q2.stdout.trim().split('\n').filter((l) => l.trim() !== '')) {
      const f = line.split(',').map((x) => x.trim())
      const [name, cap, mem, driver] = withCap ? f : [f[0], null, f[1], f[2]]
      probe.gpus.push({name, computeCapability: cap && /^\d+\.\d+$/.test(cap) ? cap : null, memoryMiB: Number.isFinite(Number(mem)) ? Number(mem) : null})
      probe.driver ??= driver ?? null
    }
    const header = exec('nvidia-smi', [])
    probe.driverCuda = /CUDA Version:\s*([\d.]+)/.exec(header.stdout)?.[1] ?? null
  } else {
    probe.error = q2.error === 'ENOENT' ? 'nvidia-smi not found (no NVIDIA driver installed, or not on PATH)' : `nvidia-smi failed (${q2.error ?? `exit ${q2.status}`})`
  }

  if ((opts.platform ?? process.platform) === 'linux' && opts.libraries !== false) {
    const cache = new Map<string, string>()
    const ld = exec('ldconfig', ['-p'])
    const ldOut = ld.status === 0 ? ld.stdout : exec('/sbin/ldconfig', ['-p']).stdout
    for (const m of ldOut.matchAll(/^\s*(\S+) \([^)]*\) => (\S+)$/gm)) if (!cache.has(m[1])) cache.set(m[1], m[2])
    const dirs = [...(env.LD_LIBRARY_PATH ?? '').split(':').filter(Boolean), ...USUAL_DIRS]
    for (const name of TFJS_NODE_GPU.libraries) {
      // the loader's order: LD_LIBRARY_PATH first, then the cache, then the default folders
      const inEnv = dirs.slice(0, dirs.length - USUAL_DIRS.length).map((d) => join(d, name)).find(exists)
      const path = inEnv ?? cache.get(name) ?? USUAL_DIRS.map((d) => join(d, name)).find(exists) ?? null
      probe.libraries.push({name, path})
    }
  }
  return probe
}

/**
 * What to tell the user about the GPU path, one line each: what runs, what is missing, and
 * what tfjs-node-gpu needs. `installed`: the version of @tensorflow/tfjs-node-gpu, if any.
 */
export function gpuAdvice(selected: BackendInfo, probe: CudaProbe, installed: string | null, loadError: string | null): string[] {
  const t = TFJS_NODE_GPU
  const lines: string[] = []
  const missing = probe.libraries.filter((l) => l.path === null).map((l) => l.name)
  const seen = probe.gpus.length > 0 ? `${probe.gpus.length} GPU${probe.gpus.length > 1 ? 's' : ''} (${[...new Set(probe.gpus.map((g) => `${g.name}${g.computeCapability ? `, compute capability ${g.computeCapability}` : ''}`))].join('; ')}), driver ${probe.driver ?? '?'}${probe.driverCuda ? ` for CUDA ≤ ${probe.driverCuda}` : ''}` : null
  if (selected.name === 'tensorflow-gpu' && selected.gpu) lines.push(`TensorFlow runs on a GPU device (${selected.detail ?? 'TensorFlow'})${seen ? `; nvidia-smi: ${seen}` : ''}`)
  else if (selected.name === 'tensorflow-gpu') lines.push(`${t.package} loaded but TensorFlow registered no GPU device: training would run on the CPU, silently`)
  else if (installed !== null) lines.push(`${t.package} ${installed} is installed but did not load: ${loadError ?? 'unknown error'}`)
  else lines.push(`no GPU backend installed (npm install ${t.package} on a CUDA machine)${seen ? `; nvidia-smi sees ${seen}` : ''}`)

  const relevant = installed !== null || probe.gpus.length > 0
  if (!relevant) return lines
  lines.push(`${t.package} ${t.version} needs: libtensorflow ${t.libtensorflow}, built for CUDA ${t.cuda} and cuDNN ${t.cudnn} (NVIDIA driver ≥ 450); a CUDA 12-only system lacks its CUDA 11 libraries and TensorFlow falls back to the CPU without an error`)
  if (installed !== null && installed.split('.').slice(0, 2).join('.') !== t.version) lines.push(`(those are ${t.version}'s requirements; ${installed} is installed: check its README)`)
  if (probe.error && installed !== null) lines.push(probe.error)
  if (probe.libraries.length > 0) {
    lines.push(missing.length === 0 ? `CUDA ${t.cuda} / cuDNN 8 libraries: all ${probe.libraries.length} found` : `CUDA ${t.cuda} / cuDNN 8 libraries not found: ${missing.join(', ')} (install CUDA ${t.cuda} and cuDNN ${t.cudnn} side by side, or put their lib64 folders on LD_LIBRARY_PATH)`)
  }
  const newest = probe.gpus.map((g) => Number(g.computeCapability)).filter(Number.isFinite)
  if (newest.some((c) => c >= 9)) {
    lines.push(`compute capability ≥ 9.0 (e.g. H100) postdates libtensorflow ${t.libtensorflow}: the CUDA driver JIT-compiles its kernels from PTX when the process starts (minutes the first time; keep ~/.nv/ComputeCache and raise CUDA_CACHE_MAXSIZE so later starts reuse them)`)
  }
  return lines
}
