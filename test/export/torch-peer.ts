/**
 * The PyTorch peer of the export tests: a python that imports torch, run on OpenBLAS's native
 * kernels (the machine environment's OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE force older ones and
 * are dropped), plus what every test needs: an export written to a temporary folder, golf
 * weights written for it, its commands run.
 *
 * Policy when no python with torch is found (src/export/torch/python.ts: GOLF_PYTHON alone when
 * it is set, else `python3`, then `/usr/bin/python3`, each asked to `import torch, numpy`): with CI or GOLF_REQUIRE_TORCH set
 * in the environment (.ci/run sets GOLF_REQUIRE_TORCH=1 after installing python3-torch) the
 * suite FAILS, naming what is missing; otherwise it is skipped, and the skipped suite's title
 * says why and how to make it run.
 */
import {spawn} from 'node:child_process'
import {mkdtempSync, readFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {describe, it} from 'vitest'

import {collectOutput} from '../helpers/cli.js'

import {writeSafetensors, type SafeTensor} from '../../src/io/safetensors.js'
import {writeTorchExport} from '../../src/export/torch/export.js'
import {torchEnv, torchPython} from '../../src/export/torch/python.js'
import type {GPT} from '../../src/model/gpt.js'
import {loadRecipe, type ResolvedRecipe} from '../../src/recipe/recipe.js'
import {namedRandom} from '../../src/util/random.js'

export const TORCH_REQUIRED = Boolean(process.env.CI || process.env.GOLF_REQUIRE_TORCH)

/** The environment the peer runs in: this one without the OpenBLAS kernel overrides. */
export const peerEnv = torchEnv
export {torchPython}

/** `describe` when the peer exists; otherwise a failing suite (CI) or a skipped one saying why. */
export function describeWithTorch(name: string, body: (python: string) => void): void {
  const {python, reason} = torchPython()
  if (python) describe(name, () => body(python))
  else if (TORCH_REQUIRED) {
    describe(name, () => {
      it('finds a python with torch (required: CI or GOLF_REQUIRE_TORCH is set)', () => {
        throw new Error(`${reason}: apt-get install -y python3-torch, or point GOLF_PYTHON at a python with torch`)
      })
    })
  } else {
    const why = `${reason}; install python3-torch, or set GOLF_REQUIRE_TORCH=1 to fail instead`
    console.warn(`SKIPPED ${name}: ${why}`) // a skipped file's titles are not listed by the default reporter
    describe.skip(`${name} [skipped: ${why}]`, () => body(''))
  }
}

export interface PyResult {
  stdout: string
  stderr: string
  code: number
}

export function runPython(python: string, args: string[], timeoutMs = 300_000): Promise<PyResult> {
  return collectOutput(spawn(python, args, {env: peerEnv(), stdio: ['ignore', 'pipe', 'pipe'], timeout: timeoutMs}))
}

/** Run an export's command (`env`: added to the peer's environment); throws with its stderr unless it exits 0. */
export async function runExport(python: string, file: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<string> {
  const r = await collectOutput(spawn(python, [file, ...args], {env: {...peerEnv(), ...env}, stdio: ['ignore', 'pipe', 'pipe'], timeout: 300_000}))
  if (r.code !== 0) throw new Error(`python ${file} ${args.join(' ')} exited ${r.code}:\n${r.stderr}`)
  return r.stdout
}

/** A fresh temporary folder. */
export function scratch(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `golf-export-${prefix}-`))
}

/** The recipe with overrides, and its export written into `dir` as train_gpt.py. */
export function exportRecipe(dir: string, name: string, sets: string[] = [], file = 'train_gpt.py'): {recipe: ResolvedRecipe; file: string} {
  const recipe = loadRecipe(name, sets)
  const path = join(dir, file)
  writeTorchExport(recipe, path, {force: true})
  return {recipe, file: path}
}

/**
 * Random values for every parameter of a golf model, loaded into it, on golf's generator: the
 * initial values would leave the zero-initialised projections at 0 and so test no attention and
 * no MLP. Matrices U(±1.5/√in); embeddings and an untied head U(±0.5); gains and mixes around
 * their initial values.
 */
export function randomizeGolfWeights(model: GPT, seed: number): Map<string, Float32Array> {
  const w = new Map<string, Float32Array>()
  for (const s of model.specs) {
    const rand = namedRandom(seed, s.name)
    const n = s.shape.reduce((a, b) => a * b, 1)
    const u = (lo: number, hi: number) => lo + (hi - lo) * rand()
    const v = new Float32Array(n)
    const leaf = s.name.split('.').pop()!
    for (let i = 0; i < n; i++) {
      if (s.name === 'tok_emb.weight' || s.name === 'lm_head.weight') v[i] = u(-0.5, 0.5)
      else if (leaf === 'q_gain') v[i] = u(1, 2)
      else if (leaf === 'resid_mix') v[i] = i < n / 2 ? u(0.5, 1.5) : u(-0.5, 0.5)
      else if (s.name === 'skip_weights') v[i] = u(0, 1)
      else if (s.shape.length === 1) v[i] = u(0.5, 1.5)
      else v[i] = u(-1.5, 1.5) / Math.sqrt(s.shape[1])
    }
    w.set(s.name, v)
  }
  model.loadWeights(w)
  return w
}

/** Weights as golf writes a checkpoint: float32 tensors under the parameter names. */
export function writeWeights(path: string, model: GPT, weights: Map<string, Float32Array>): void {
  const tensors = new Map<string, SafeTensor>(model.specs.map((s) => [s.name, {dtype: 'F32', shape: s.shape, data: weights.get(s.name)!}]))
  writeSafetensors(path, tensors)
}

/** Token ids (B, T) as the export's `forward --tokens` reads them. */
export function writeTokens(path: string, tokens: Int32Array, B: number, T: number): void {
  writeSafetensors(path, {tokens: {dtype: 'I32', shape: [B, T], data: tokens}})
}

/** Uniform random ids in [0, V) on golf's generator. */
export function randomTokens(n: number, V: number, seed: number): Int32Array {
  const rand = namedRandom(seed, 'tokens')
  return Int32Array.from({length: n}, () => Math.floor(rand() * V))
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`maxAbsDiff: ${a.length} values against ${b.length}`)
  let m = 0
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]))
  return m
}

/** The training losses a run folder's metrics.jsonl logged, in order (golf's and the export's write the same lines). */
export function trainLosses(runDir: string): number[] {
  return readFileSync(join(runDir, 'metrics.jsonl'), 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as {train_loss?: number})
    .filter((m) => m.train_loss !== undefined)
    .map((m) => m.train_loss!)
}
