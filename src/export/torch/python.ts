/**
 * Finding a python that runs golf export torch's file: GOLF_PYTHON alone when it is set, else
 * `python3`, then `/usr/bin/python3` (Debian's python3-torch), each asked to `import torch,
 * numpy`. It runs on OpenBLAS's native kernels: the environment's OPENBLAS_CORETYPE /
 * OPENBLAS_L2_SIZE overrides (which force older kernels) are dropped. Used by the export's tests
 * and by bench:export-torch.
 */
import {spawnSync} from 'node:child_process'

/** The environment the export runs in: this one without the OpenBLAS kernel overrides. */
export function torchEnv(): NodeJS.ProcessEnv {
  const env = {...process.env}
  delete env.OPENBLAS_CORETYPE
  delete env.OPENBLAS_L2_SIZE
  return env
}

let found: {python: string | null; reason: string} | undefined

/** The first candidate python that imports torch and numpy (and its torch version as the reason), or null and why not. */
export function torchPython(): {python: string | null; reason: string} {
  if (found) return found
  const candidates = process.env.GOLF_PYTHON ? [process.env.GOLF_PYTHON] : ['python3', '/usr/bin/python3']
  const tried: string[] = []
  for (const python of candidates) {
    const r = spawnSync(python, ['-c', 'import torch, numpy; print(torch.__version__)'], {env: torchEnv(), encoding: 'utf8', timeout: 60_000})
    if (r.status === 0) return (found = {python, reason: `torch ${r.stdout.trim()}`})
    tried.push(`${python} (${r.error ? 'not found' : 'no torch'})`)
  }
  return (found = {python: null, reason: `no python with torch: tried ${tried.join(', ')}`})
}
