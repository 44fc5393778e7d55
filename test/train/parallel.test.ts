/**
 * Data-parallel training (src/train/parallel.ts). The worker threads run the compiled
 * dist/src/train/grad-worker.js: build first (`npx tsc -p tsconfig.json`).
 */
import * as tf from '@tensorflow/tfjs-core'
import {mkdtempSync, readFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {initBackend} from '../../src/backend/index.js'
import {InputError} from '../../src/errors.js'
import {buildOptimizers} from '../../src/optim/composite.js'
import {newtonSchulz5} from '../../src/optim/muon.js'
import {loadCheckpoint} from '../../src/run/checkpoint.js'
import {buildModel} from '../../src/run/build-model.js'
import {train} from '../../src/train/loop.js'
import {accumulateGrads, disposeMap} from '../../src/train/grads.js'
import {arTokenBatch} from '../../src/objective/ar.js'
import {objectiveFor} from '../../src/objective/index.js'
import {DEFAULT_OBJECTIVE} from '../../src/objective/types.js'
import {mulberry32} from '../../src/util/random.js'
import {assignMatrices, GradientPool, PoolWorkerError, resolveWorkers, rowShares} from '../../src/train/parallel.js'
import {RunFolder} from '../../src/run/folder.js'
import {runCli} from '../helpers/cli.js'
import {tinyDataset, tinyRecipe} from '../helpers/tiny-run.js'

const tmp = () => mkdtempSync(join(tmpdir(), 'golf-par-'))

/** Deterministic pseudo-random tokens in [4, 260). */
function tokens(n: number, seed: number): Uint16Array {
  let s = seed >>> 0
  return Uint16Array.from({length: n}, () => 4 + ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) % 256))
}

/** AR batches of chunks of B·T + 1 tokens. */
function ar(chunks: Uint16Array[], B: number, T: number) {
  return chunks.map((c) => arTokenBatch(c, B, T))
}

function relDiff(a: Float32Array, b: Float32Array): number {
  let num = 0
  let den = 0
  for (let i = 0; i < a.length; i++) {
    num += (a[i] - b[i]) ** 2
    den += a[i] ** 2
  }
  return Math.sqrt(num / Math.max(den, 1e-30))
}

function bytesOf(m: Map<string, tf.Tensor>): Map<string, Buffer> {
  return new Map([...m].map(([k, t]) => [k, Buffer.from((t.dataSync() as Float32Array).slice().buffer)]))
}

describe('work split', () => {
  it('cuts the batch rows into contiguous shares covering every row once', () => {
    expect(rowShares(8, 2)).toEqual([[0, 4], [4, 8]])
    expect(rowShares(5, 2)).toEqual([[0, 2], [2, 5]])
    expect(rowShares(7, 3)).toEqual([[0, 2], [2, 4], [4, 7]])
    expect(rowShares(1, 2)).toEqual([[0, 0], [0, 1]])
    expect(rowShares(4, 1)).toEqual([[0, 4]])
  })

  it('gives each matrix to one thread, largest first to the least loaded, the same every time', () => {
    const shapes: Array<[string, number[]]> = [
      ['a', [256, 256]],
      ['fc', [1024, 256]],
      ['b', [256, 256]],
      ['proj', [256, 1024]],
    ]
    // 5 steps, matMul FLOPs: fc = proj = 1.01 G (Gram), a = b = 0.50 G; fc → 0, proj → 1, a → 0, b → 1
    expect(assignMatrices(shapes, 2, 5)).toEqual([['fc', 'a'], ['proj', 'b']])
    expect(assignMatrices(shapes, 1, 5)).toEqual([['fc', 'proj', 'a', 'b']])
    // 3 threads: the two squares together cost about one rectangle
    expect(assignMatrices(shapes, 3, 5)).toEqual([['fc'], ['proj'], ['a', 'b']])
  })

  it("resolves 'auto' to one thread per core (≤ 2) on wasm/cpu and 1 on tensorflow", () => {
    expect(resolveWorkers(3, 'wasm')).toBe(3)
    expect(resolveWorkers('auto', 'tensorflow')).toBe(1)
    expect(resolveWorkers('auto', 'tensorflow-gpu')).toBe(1)
    const auto = resolveWorkers('auto', 'wasm')
    expect(auto === 1 || auto === 2).toBe(true)
  })

  it('refuses more than one thread on tensorflow backends, in one line naming the key', () => {
    expect(resolveWorkers(1, 'tensorflow-gpu')).toBe(1)
    for (const backend of ['tensorflow', 'tensorflow-gpu'] as const) {
      expect(() => resolveWorkers(2, backend)).toThrow(InputError)
      expect(() => resolveWorkers(2, backend)).toThrow(
        `train.workers = 2: data-parallel threads run on the wasm and cpu backends only; ${backend} spreads each step over its own threads (set train.workers to 1 or auto, or use --backend wasm)`,
      )
    }
  })

  it('train.workers takes an integer ≥ 1 or auto, and says so otherwise', () => {
    expect(tinyRecipe().train.workers).toBe('auto')
    expect(tinyRecipe({train: {workers: 2}}).train.workers).toBe(2)
    expect(() => tinyRecipe({train: {workers: 0}})).toThrow(InputError)
    expect(() => tinyRecipe({train: {workers: 0}})).toThrow(/train\.workers has the wrong kind of value \(integer >= 1, or "auto"\), got 0/)
    expect(() => tinyRecipe({train: {workers: 'many'}})).toThrow(/train\.workers .*got "many"/)
  })
})

describe('GradientPool (2 threads, tiny model on wasm)', () => {
  const recipe = tinyRecipe()
  let pool: GradientPool
  let model: ReturnType<typeof buildModel>

  beforeAll(async () => {
    await initBackend('wasm', {quiet: true})
    model = buildModel(recipe, 3)
    model.quantActive = true
    pool = await GradientPool.create({recipe, seed: 3, workers: 2, backend: 'wasm'})
  })
  afterAll(async () => {
    await pool?.dispose()
    model?.dispose()
  })

  it('computes the mean over micro-batches and rows that accumulateGrads gives (to ~1e-6)', () => {
    const B = 4
    const T = 32
    const chunks = [tokens(B * T + 1, 1), tokens(B * T + 1, 2)]
    const ref = accumulateGrads(model, ar(chunks, B, T), 1e-4)
    const par = pool.compute(model, ar(chunks, B, T), 1e-4)
    expect(Math.abs(par.loss - ref.loss) / ref.loss).toBeLessThan(1e-6)
    expect([...par.grads.keys()]).toEqual([...ref.grads.keys()])
    for (const [k, g] of ref.grads) {
      const a = g.dataSync() as Float32Array
      const b = par.grads.get(k)!.dataSync() as Float32Array
      expect(par.grads.get(k)!.shape).toEqual(g.shape)
      expect(relDiff(a, b), k).toBeLessThan(1e-5)
    }
    disposeMap(ref.grads)
    disposeMap(par.grads)
  })

  it('splits diffusion batches (MDLM, BD3-LM, BD3-LM with the clean half detached) across threads to the same mean as accumulateGrads', () => {
    const B = 3
    const T = 32
    const bd3 = {...DEFAULT_OBJECTIVE, kind: 'bd3lm' as const, block_size: 8}
    // detached: a thread that dropped the layout's flag would return the joint gradient, another number
    for (const objective of [objectiveFor({...DEFAULT_OBJECTIVE, kind: 'mdlm'}, 260), objectiveFor(bd3, 260), objectiveFor({...bd3, clean_gradient: false}, 260)]) {
      const rand = mulberry32(11)
      const batches = [objective.trainBatch(tokens(B * T, 21), B, T, rand), objective.trainBatch(tokens(B * T, 22), B, T, rand)]
      const ref = accumulateGrads(model, batches, 0)
      const par = pool.compute(model, batches, 0)
      expect(Math.abs(par.loss - ref.loss) / ref.loss, objective.config.kind).toBeLessThan(1e-6)
      for (const [k, g] of ref.grads) expect(relDiff(g.dataSync() as Float32Array, par.grads.get(k)!.dataSync() as Float32Array), `${objective.config.kind} ${k}`).toBeLessThan(1e-5)
      disposeMap(ref.grads)
      disposeMap(par.grads)
    }
  })

  it('weights the shares by their rows when the batch does not split evenly', () => {
    const B = 3
    const T = 32
    const chunks = [tokens(B * T + 1, 5)]
    const ref = accumulateGrads(model, ar(chunks, B, T), 0)
    const par = pool.compute(model, ar(chunks, B, T), 0)
    expect(Math.abs(par.loss - ref.loss) / ref.loss).toBeLessThan(1e-6)
    for (const [k, g] of ref.grads) expect(relDiff(g.dataSync() as Float32Array, par.grads.get(k)!.dataSync() as Float32Array), k).toBeLessThan(1e-5)
    disposeMap(ref.grads)
    disposeMap(par.grads)
  })

  it('uses the current weights of the main model (sent every step)', () => {
    const B = 2
    const T = 32
    const chunks = [tokens(B * T + 1, 9)]
    const before = pool.compute(model, ar(chunks, B, T), 0)
    const w = model.weights()
    const emb = w.get('tok_emb.weight')!
    for (let i = 0; i < emb.length; i++) emb[i] *= 1.5
    model.loadWeights(w)
    const ref = accumulateGrads(model, ar(chunks, B, T), 0)
    const after = pool.compute(model, ar(chunks, B, T), 0)
    expect(after.loss).not.toBe(before.loss)
    expect(Math.abs(after.loss - ref.loss) / ref.loss).toBeLessThan(1e-6)
    for (const m of [before.grads, after.grads, ref.grads]) disposeMap(m)
  })

  it('is deterministic to the bit and leaks no tensors', () => {
    const B = 4
    const T = 16
    const chunks = [tokens(B * T + 1, 11)]
    const first = pool.compute(model, ar(chunks, B, T), 0)
    const bits = bytesOf(first.grads)
    disposeMap(first.grads)
    const count = tf.memory().numTensors
    for (let i = 0; i < 3; i++) {
      const again = pool.compute(model, ar(chunks, B, T), 0)
      expect(again.loss).toBe(first.loss)
      for (const [k, b] of bytesOf(again.grads)) expect(b.equals(bits.get(k)!), k).toBe(true)
      disposeMap(again.grads)
    }
    expect(tf.memory().numTensors).toBe(count)
  })

  it("orthogonalizes each matrix on its thread with newtonSchulz5's exact bits", () => {
    const matrices = model.specs.filter((s) => s.shape.length === 2 && s.group === 'matrix')
    const us = new Map(matrices.map((s, i) => [s.name, tf.tensor2d(Float32Array.from(tokens(s.shape[0] * s.shape[1], 20 + i), (t) => (t - 132) / 100), s.shape as [number, number])]))
    expect(us.size).toBe(12) // 2 blocks × (c_q, c_k, c_v, proj, fc, mlp proj)
    const count = tf.memory().numTensors
    const out = pool.orthogonalize(us, 5)
    expect([...out.keys()]).toEqual([...us.keys()])
    for (const [k, u] of us) {
      const ref = newtonSchulz5(u, 5)
      expect(Buffer.from((out.get(k)!.dataSync() as Float32Array).slice().buffer).equals(Buffer.from((ref.dataSync() as Float32Array).slice().buffer)), k).toBe(true)
      ref.dispose()
    }
    disposeMap(out)
    expect(tf.memory().numTensors).toBe(count)
    disposeMap(us)
  })

  it('Muon with the pool orthogonalizing updates the weights to the same bits as without', () => {
    const B = 4
    const T = 16
    const twin = buildModel(recipe, 3)
    twin.loadWeights(model.weights())
    const refs = (m: typeof model) => m.specs.map((s) => ({name: s.name, variable: m.params.get(s.name)!, group: s.group}))
    const plain = buildOptimizers(refs(model), recipe.optim)
    const split = buildOptimizers(refs(twin), recipe.optim, {orthogonalize: (us, n) => pool.orthogonalize(us, n)})
    for (let step = 0; step < 2; step++) {
      const {grads} = accumulateGrads(model, ar([tokens(B * T + 1, 30 + step)], B, T), 0)
      plain.step(grads, 1, {momentum: 0.9})
      split.step(grads, 1, {momentum: 0.9})
      disposeMap(grads)
      twin.quantActive = model.quantActive
    }
    const a = model.weights()
    for (const [k, v] of twin.weights()) expect(Buffer.from(v.buffer).equals(Buffer.from(a.get(k)!.buffer)), k).toBe(true)
    plain.dispose()
    split.dispose()
    twin.dispose()
  })
})

describe('GradientPool failures', () => {
  beforeAll(async () => {
    await initBackend('wasm', {quiet: true})
  })

  it("rethrows a worker's error on the main thread and refuses further use", async () => {
    const recipe = tinyRecipe()
    const model = buildModel(recipe, 1)
    const pool = await GradientPool.create({recipe, seed: 1, workers: 2, backend: 'wasm'})
    try {
      // B = 1: the main thread's share is empty, the worker gets row 0 — of a batch one input short
      const [good] = ar([tokens(33, 1)], 1, 32)
      const short = {...good, inputs: good.inputs.slice(0, 31)}
      expect(() => pool.compute(model, [short], 0)).toThrow(/^gradient worker 1 failed: .*should have 32 values but has 31/)
      expect(() => pool.compute(model, ar([tokens(33, 1)], 1, 32), 0)).toThrow(/gradient worker 1 failed/)
    } finally {
      await pool.dispose()
      model.dispose()
    }
    expect(() => pool.compute(model, ar([tokens(33, 1)], 1, 32), 0)).toThrow(/used after dispose/)
  })

  it.each([
    ['exit', /^gradient worker 1 died \(exited with code 70\)$/],
    ['throw', /^gradient worker 1 died \(failed: test fault: worker 1 threw at gradient command 2\)$/],
    // stopped from outside while blocked: no JS of the worker runs on its way out
    ['terminate', /^gradient worker 1 died \(exited with code 1\)$/],
  ])('a worker that dies mid-step (%s) is reported, not waited for, and the pool refuses further use', async (how, message) => {
    const recipe = tinyRecipe()
    const model = buildModel(recipe, 1)
    process.env.GOLF_TEST_WORKER_FAULT = `1:2:${how}` // the workers copy the environment when they start
    let pool: GradientPool
    try {
      pool = await GradientPool.create({recipe, seed: 1, workers: 2, backend: 'wasm'})
    } finally {
      delete process.env.GOLF_TEST_WORKER_FAULT
    }
    try {
      const batch = () => ar([tokens(4 * 32 + 1, 1)], 4, 32)
      const first = pool.compute(model, batch(), 0) // command 1 is answered
      disposeMap(first.grads)
      let err: unknown
      try {
        pool.compute(model, batch(), 0)
      } catch (e) {
        err = e
      }
      expect(err).toBeInstanceOf(PoolWorkerError)
      expect((err as PoolWorkerError).message).toMatch(message)
      expect((err as PoolWorkerError).exitCode).toBe(1)
      expect(() => pool.compute(model, batch(), 0)).toThrow(message)
      const us = new Map([['x', tf.zeros([4, 4]) as tf.Tensor2D]])
      expect(() => pool.orthogonalize(us, 5)).toThrow(message)
      disposeMap(us)
    } finally {
      await pool.dispose()
      model.dispose()
    }
  })

  it('rejects a worker count that is not a positive integer', async () => {
    await expect(GradientPool.create({recipe: tinyRecipe(), seed: 1, workers: 0, backend: 'wasm'})).rejects.toThrow(/workers = 0 must be an integer ≥ 1/)
  })
})

describe('golf train with workers = 2', () => {
  let data: string
  beforeAll(async () => {
    data = await tinyDataset()
  })
  const recipe = (workers: number | 'auto') => tinyRecipe({train: {max_steps: 6, eval_every: 0, log_every: 1, workers}, eval: {sliding_stride: null, val_tokens: 256}})
  const weightsOf = (dir: string) => loadCheckpoint(new RunFolder(dir), {optimizer: true})
  const losses = (dir: string): number[] =>
    readFileSync(join(dir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l)).filter((m) => m.train_loss !== undefined).map((m) => m.train_loss)

  it('is deterministic, resumes bit for bit, and matches 1 thread to ~1e-5 on the loss', async () => {
    const a = join(tmp(), 'a')
    const b = join(tmp(), 'b')
    const c = join(tmp(), 'c')
    const one = join(tmp(), 'one')
    await train({recipe: recipe(2), dataDir: data, outDir: a, seed: 5, backend: 'wasm'})
    await train({recipe: recipe(2), dataDir: data, outDir: b, seed: 5, backend: 'wasm'})
    let calls = 0
    const first = await train({recipe: recipe(2), dataDir: data, outDir: c, seed: 5, backend: 'wasm', interrupted: () => ++calls > 3})
    expect(first.stepsDone).toBe(3)
    await train({recipe: recipe(2), dataDir: data, outDir: c, seed: 5, backend: 'wasm', resume: true})
    await train({recipe: recipe(1), dataDir: data, outDir: one, seed: 5, backend: 'wasm'})

    const wa = weightsOf(a)
    for (const other of [b, c]) {
      const w = weightsOf(other)
      for (const [k, v] of wa.weights) expect(Buffer.from(w.weights.get(k)!.buffer).equals(Buffer.from(v.buffer)), `${other} ${k}`).toBe(true)
      for (const [k, v] of wa.optimizer!) expect(Buffer.from(w.optimizer!.get(k)!.buffer).equals(Buffer.from(v.buffer)), `${other} ${k}`).toBe(true)
    }
    expect(losses(b)).toEqual(losses(a))
    // 1 thread sums in another order: same numbers up to float rounding (step 1 has no history)
    const l2 = losses(a)
    const l1 = losses(one)
    expect(l1.length).toBe(6)
    // measured ≤ 1e-6 over these 6 ternary steps
    for (let i = 0; i < 6; i++) expect(Math.abs(l2[i] - l1[i]) / l1[i], `step ${i + 1}`).toBeLessThan(1e-5)
  })

  it('a worker that dies stops golf train: exit 1, one line, the last checkpoint kept; --resume finishes bit for bit', async () => {
    const dir = tmp()
    const recipeFile = join(dir, 'tiny.yaml')
    const {writeFileSync} = await import('node:fs')
    writeFileSync(
      recipeFile,
      [
        'extends: tiny-cpu',
        'name: tiny-test',
        'model: {model_dim: 32, num_heads: 2, num_kv_heads: 1, mlp_mult: 2, unique_blocks: 2}',
        'quant: {group_size: 16}',
        'train: {seq_len: 32, batch_tokens: 256, micro_batch_tokens: 128, max_steps: 6, max_wallclock_seconds: null, eval_every: 0, val_tokens: 256, log_every: 1, checkpoint_every: 2, workers: 2}',
        'eval: {val_tokens: 256, batch_seqs: 4}',
        '',
      ].join('\n'),
    )
    const out = join(dir, 'run')
    const args = ['train', '--recipe', recipeFile, '--data', data, '--backend', 'wasm']
    const r = await runCli([...args, '--out', out], {env: {GOLF_TEST_WORKER_FAULT: '1:5:exit'}})
    expect(r.code, r.stderr).toBe(1)
    const errors = r.stderr.split('\n').filter((l) => l.startsWith('golf:'))
    expect(errors).toEqual([`golf: training stopped at step 5: gradient worker 1 died (exited with code 70); the checkpoint of step 4 is intact: resume with golf train --out ${out} --resume`])
    expect(r.stderr).not.toMatch(/\n\s+at /) // no stack trace
    expect(readFileSync(join(out, 'train.log'), 'utf8')).toMatch(/\nstopped at step:5\/6: gradient worker 1 died \(exited with code 70\)\n$/)
    expect(weightsOf(out).meta.step).toBe(4)
    const resumed = await runCli(['train', '--out', out, '--resume', '--backend', 'wasm'])
    expect(resumed.code, resumed.stderr).toBe(0)
    const whole = join(dir, 'whole')
    expect((await runCli([...args, '--out', whole])).code).toBe(0)
    const a = weightsOf(whole)
    const b = weightsOf(out)
    for (const [k, v] of a.weights) expect(Buffer.from(b.weights.get(k)!.buffer).equals(Buffer.from(v.buffer)), k).toBe(true)
  })

  it('golf train --workers: rejects a bad value naming the key', async () => {
    const r = await runCli(['train', '--recipe', 'tiny-cpu', '--workers', 'zero', '--out', join(tmp(), 'x')])
    expect(r.code).toBe(2)
    expect(r.stderr.trim()).toMatch(/train\.workers has the wrong kind of value \(integer >= 1, or "auto"\), got "zero"/)
  })
})
