/**
 * Data-parallel training across CPU cores with `worker_threads`.
 *
 * The wasm backend runs one thread per isolate in Node (its threaded build cannot start workers
 * there), but two isolates, each with its own wasm backend, multiply matrices concurrently at
 * almost full speed each. A `GradientPool` of W threads — the main thread is thread 0, W − 1
 * worker threads each hold a copy of the same GPT — splits every step two ways:
 *
 * - gradients: the batch rows of each micro-batch are cut into W contiguous shares
 *   (`rowShares`); thread i computes Σ_c (rows_i / B) · ∇loss_i(chunk c), the gradient of its
 *   rows' mean loss weighted by its share of the batch, and the main thread sums the W results
 *   in thread order (never in finishing order) and divides by the number of micro-batches —
 *   the same mean `accumulateGrads` takes, up to float summation order;
 * - Muon's Newton–Schulz (`orthogonalize`): each 2-D update goes to one fixed thread (balanced
 *   by flops, decided once), and the same kernels on the same input give the same bits, so this
 *   part is exact.
 *
 * Shared memory carries the bulk data: one SharedArrayBuffer of current weights (main writes,
 * workers read and assign before computing) and one per worker for its gradients / matrices
 * (layout = parameter order). `postMessage` carries control (command, step sequence, B, T,
 * tokens); a worker signals completion through `Atomics` so the main thread can block without
 * an event loop, and the whole API stays synchronous. A worker's error is written to shared
 * memory and rethrown on the main thread as an Error.
 *
 * Dead workers. While the main thread blocks in `Atomics.wait`, no 'exit' or 'error' event of
 * a worker can reach it (events need its event loop). So the workers are spawned by a watchdog
 * thread (pool-watchdog.ts) that only listens: when a worker dies, however it dies (an uncaught
 * error, `process.exit`, terminated, killed by the runtime), the watchdog marks it dead in its
 * shared control words and wakes the main thread, which throws a `PoolWorkerError`. Nothing
 * of this is on the step's path: commands go straight to each worker over its MessagePort, and
 * the main thread sleeps in `Atomics.wait` exactly as before; the watchdog costs one idle thread.
 *
 * Deterministic: a run with the same seed and W gives the same bits, and resume is bit-exact.
 * Against W = 1 the loss and weights agree to ~1e-5 relative, not to the bit.
 */
import * as tf from '@tensorflow/tfjs-core'
import {existsSync} from 'node:fs'
import {availableParallelism} from 'node:os'
import {fileURLToPath} from 'node:url'
import {MessageChannel, type MessagePort, Worker} from 'node:worker_threads'

import type {BackendName, ResolvedBackend} from '../backend/index.js'
import {GolfError, InputError} from '../errors.js'
import type {GPT} from '../model/gpt.js'
import {shareGrads} from './grads.js'
import {sliceRows, type TokenBatch} from '../objective/batch.js'
import {newtonSchulz5, newtonSchulz5Flops} from '../optim/muon.js'
import type {ResolvedRecipe} from '../recipe/recipe.js'
import {CTRL, CTRL_WORDS, ERROR_BYTES, STATUS, type GradWorkerData, type GradWorkerMessage} from './pool-protocol.js'
import type {WatchdogData, WatchdogMessage} from './pool-watchdog.js'

export {CTRL, CTRL_WORDS, ERROR_BYTES, STATUS, type GradWorkerData, type GradWorkerMessage} from './pool-protocol.js'

/**
 * A worker thread of the pool failed or died. Exit code 1 (the run stopped; nothing the user
 * typed was wrong). `died`: the thread is gone (as opposed to a JS error it reported).
 */
export class PoolWorkerError extends GolfError {
  constructor(
    message: string,
    readonly worker: number,
    readonly died: boolean,
  ) {
    super(message, 1)
    this.name = 'PoolWorkerError'
  }
}

export interface GradientPoolOptions {
  recipe: ResolvedRecipe
  seed: number
  /** Threads in all, the main one included (≥ 1). */
  workers: number
  /** Backend each worker thread initialises (the main thread's, normally 'wasm'). */
  backend: BackendName
}

/** Milliseconds of the last `compute` / `orthogonalize`, by phase. */
export interface PoolTimings {
  /** Weights into shared memory before the step. */
  weightsMs: number
  /** The main thread's own forward/backward (or Newton–Schulz) share. */
  ownMs: number
  /** Blocked waiting for the workers after finishing its own share. */
  waitMs: number
  /** Reading the workers' results back and summing them. */
  gatherMs: number
  /** The slowest worker thread's own compute (what ownMs is on the main thread). */
  workerMs: number
}

/** Contiguous row ranges [r0, r1) of a batch of B rows over W threads (some may be empty). */
export function rowShares(B: number, workers: number): Array<[number, number]> {
  return Array.from({length: workers}, (_, i) => [Math.floor((i * B) / workers), Math.floor(((i + 1) * B) / workers)] as [number, number])
}

/**
 * The thread count a recipe's `train.workers` means on a backend: 'auto' = up to 2 threads on
 * wasm and cpu (one per core; more brought nothing on 2 cores), 1 on tensorflow backends (which
 * thread internally). More than 1 on a tensorflow backend is refused (InputError): each thread
 * would load its own libtensorflow session (and on a GPU its own CUDA context) to compete for
 * the same cores or device, and the workers' sums were only ever checked on wasm and cpu.
 */
export function resolveWorkers(workers: number | 'auto', backend: ResolvedBackend): number {
  const tensorflow = backend === 'tensorflow' || backend === 'tensorflow-gpu'
  if (workers !== 'auto') {
    if (tensorflow && workers > 1) {
      throw new InputError(`train.workers = ${workers}: data-parallel threads run on the wasm and cpu backends only; ${backend} spreads each step over its own threads (set train.workers to 1 or auto, or use --backend wasm)`)
    }
    return workers
  }
  if (tensorflow) return 1
  return Math.max(1, Math.min(availableParallelism(), 2))
}

/** matMul FLOPs of `newtonSchulz5` on a [rows, cols] matrix (it runs the cheaper formulation). */
function nsCost([rows, cols]: number[], steps: number): number {
  const f = newtonSchulz5Flops(rows, cols, steps)
  return Math.min(f.standard, f.gram)
}

/**
 * Which thread orthogonalizes which matrix: largest first to the least loaded thread (ties to
 * the lower index), in a fixed order, so the split never changes between steps or runs.
 */
export function assignMatrices(shapes: Array<[string, number[]]>, workers: number, steps: number): string[][] {
  const load = new Array<number>(workers).fill(0)
  const out: string[][] = Array.from({length: workers}, () => [])
  const order = shapes.map(([name, shape], i) => ({name, cost: nsCost(shape, steps), i})).sort((a, b) => b.cost - a.cost || a.i - b.i)
  for (const m of order) {
    let best = 0
    for (let w = 1; w < workers; w++) if (load[w] < load[best]) best = w
    load[best] += m.cost
    out[best].push(m.name)
  }
  return out
}

/** A compiled thread script: next to this module, or under dist/ when running from sources (tests). */
function workerUrl(name: 'grad-worker.js' | 'pool-watchdog.js'): URL {
  const sibling = new URL(`./${name}`, import.meta.url)
  if (existsSync(fileURLToPath(sibling))) return sibling
  const built = new URL(`../../dist/src/train/${name}`, import.meta.url)
  if (import.meta.url.endsWith('.ts') && existsSync(fileURLToPath(built))) return built
  throw new Error(`${name} not found next to ${fileURLToPath(import.meta.url)}: build with npm run build`)
}

interface PoolWorker {
  /** The main thread's end of the worker's command channel. */
  port: MessagePort
  ctrl: Int32Array
  error: Uint8Array
  data: Float32Array
  present: Int32Array
  loss: Float64Array
  exit: string | null
}

export class GradientPool {
  readonly workers: number
  /** Phase times of the last call. */
  lastTimings: PoolTimings = {weightsMs: 0, ownMs: 0, waitMs: 0, gatherMs: 0, workerMs: 0}
  private seq = 0
  private disposed = false
  private assignment: string[][] | null = null
  private assignmentKey = ''

  private constructor(
    private readonly names: string[],
    private readonly shapes: Map<string, number[]>,
    private readonly offsets: Map<string, number>,
    private readonly weights: Float32Array,
    private readonly pool: PoolWorker[],
    private readonly watchdog: Worker | null,
  ) {
    this.workers = pool.length + 1
  }

  /** Spawns `workers − 1` threads and waits until each has built its model. */
  static async create(opts: GradientPoolOptions): Promise<GradientPool> {
    if (!Number.isInteger(opts.workers) || opts.workers < 1) throw new Error(`GradientPool: workers = ${opts.workers} must be an integer ≥ 1`)
    const {paramSpecs} = await import('../model/config.js')
    const specs = paramSpecs(opts.recipe.model, opts.recipe.quant.mode === 'ternary' ? opts.recipe.quant.targets : [])
    const offsets = new Map<string, number>()
    let total = 0
    for (const s of specs) {
      offsets.set(s.name, total)
      total += s.shape.reduce((a, b) => a * b, 1)
    }
    const weightsSab = new SharedArrayBuffer(total * 4)
    const pool: PoolWorker[] = []
    const datas: GradWorkerData[] = []
    for (let i = 1; i < opts.workers; i++) {
      const shared = {
        data: new SharedArrayBuffer(total * 4),
        present: new SharedArrayBuffer(specs.length * 4),
        loss: new SharedArrayBuffer(16),
        ctrl: new SharedArrayBuffer(CTRL_WORDS * 4),
        error: new SharedArrayBuffer(ERROR_BYTES),
      }
      const {port1, port2} = new MessageChannel()
      datas.push({recipe: opts.recipe, seed: opts.seed, backend: opts.backend, index: i, port: port2, weights: weightsSab, ...shared})
      pool.push({port: port1, ctrl: new Int32Array(shared.ctrl), error: new Uint8Array(shared.error), data: new Float32Array(shared.data), present: new Int32Array(shared.present), loss: new Float64Array(shared.loss), exit: null})
    }
    let watchdog: Worker | null = null
    if (pool.length > 0) {
      const watchdogData: WatchdogData = {script: workerUrl('grad-worker.js').href, workers: datas}
      watchdog = new Worker(workerUrl('pool-watchdog.js'), {workerData: watchdogData, transferList: datas.map((d) => d.port)})
      // kept for the pool's life: the next call reports a thread that died meanwhile (also
      // seen in shared memory, which is what a blocked main thread reads)
      watchdog.on('message', (m: WatchdogMessage) => (pool[m.died - 1].exit ??= m.reason))
      watchdog.on('error', (err) => {
        for (const w of pool) w.exit ??= `lost its watchdog thread: ${err.message}`
      })
    }
    const started = pool.map(
      (w, k) =>
        new Promise<void>((resolve, reject) => {
          const i = k + 1
          w.port.once('message', (m: {ready?: boolean; error?: string}) => (m.ready ? resolve() : reject(new Error(`gradient worker ${i} failed to start: ${m.error}`))))
          watchdog!.on('message', (m: WatchdogMessage) => m.died === i && reject(new Error(`gradient worker ${i} ${m.reason} before it was ready`)))
          watchdog!.once('error', (err) => reject(new Error(`gradient worker ${i} failed to start: ${err.message}`)))
        }),
    )
    try {
      await Promise.all(started)
    } catch (err) {
      for (const w of pool) w.port.close()
      await watchdog?.terminate()
      throw err
    }
    // an undisposed pool never keeps the process alive
    watchdog?.unref()
    for (const w of pool) w.port.unref()
    return new GradientPool(specs.map((s) => s.name), new Map(specs.map((s) => [s.name, s.shape])), offsets, new Float32Array(weightsSab), pool, watchdog)
  }

  /**
   * One step's gradients, numerically the mean over all micro-batches as `accumulateGrads`
   * gives (up to summation order). `model` is the main thread's (its current weights are sent
   * to the workers first). Grads are new tensors on the main thread's backend; caller disposes.
   */
  compute(model: GPT, batches: TokenBatch[], zLoss: number): {loss: number; grads: Map<string, tf.Tensor>} {
    this.check()
    const B = batches[0].B
    const shares = rowShares(B, this.workers)
    let t0 = performance.now()
    this.publishWeights(model)
    const seq = ++this.seq
    this.pool.forEach((w, i) => {
      // only this thread's rows, copied (postMessage would otherwise copy whole buffers)
      const [r0, r1] = shares[i + 1]
      const mine = batches.map((b) => {
        const part = sliceRows(b, r0, r1)
        return {...part, inputs: part.inputs.slice(), targets: part.targets.slice(), weights: part.weights ? part.weights.slice() : null}
      })
      const msg: GradWorkerMessage = {cmd: 'grads', seq, B, rows: [0, r1 - r0], zLoss, quantActive: model.quantActive, activations: model.activations, batches: mine}
      w.port.postMessage(msg)
    })
    let t1 = performance.now()
    const weightsMs = t1 - t0
    const own = shareGrads(model, batches, zLoss, shares[0])
    t0 = performance.now()
    const ownMs = t0 - t1
    try {
      this.waitAll(seq)
    } catch (err) {
      if (own) for (const g of own.grads.values()) g.dispose()
      throw err
    }
    t1 = performance.now()
    const waitMs = t1 - t0

    let loss = own?.loss ?? 0
    const grads = new Map<string, tf.Tensor>()
    for (const [p, name] of this.names.entries()) {
      // thread order 0, 1, …, W−1: the sum never depends on which thread finished first
      let sum: tf.Tensor | null = own?.grads.get(name) ?? null
      for (const w of this.pool) {
        if (!w.present[p]) continue
        const g = tf.tensor(this.view(w.data, name), this.shapes.get(name)!, 'float32')
        if (sum === null) sum = g
        else {
          const next = tf.add(sum, g)
          sum.dispose()
          g.dispose()
          sum = next
        }
      }
      if (sum === null) continue
      if (batches.length > 1) {
        const mean = tf.div(sum, batches.length)
        sum.dispose()
        sum = mean
      }
      grads.set(name, sum)
    }
    for (const w of this.pool) loss += w.loss[0] // thread order again
    this.lastTimings = {weightsMs, ownMs, waitMs, gatherMs: performance.now() - t1, workerMs: Math.max(0, ...this.pool.map((w) => w.loss[1]))}
    return {loss: loss / batches.length, grads}
  }

  /**
   * Newton–Schulz (`newtonSchulz5(u, steps)`) of every matrix, each on its fixed thread.
   * Same bits as running them all here. Returns new tensors; the caller disposes them.
   */
  orthogonalize(us: Map<string, tf.Tensor2D>, steps: number): Map<string, tf.Tensor2D> {
    this.check()
    // the split follows the set of matrices asked for (Muon's), decided once for a given set
    const key = `${steps}\n${[...us.keys()].join('\n')}`
    if (this.assignment === null || this.assignmentKey !== key) {
      this.assignment = assignMatrices([...us].map(([n, u]) => [n, u.shape]), this.workers, steps)
      this.assignmentKey = key
    }
    let t0 = performance.now()
    const seq = ++this.seq
    this.pool.forEach((w, i) => {
      const names = this.assignment![i + 1]
      for (const n of names) this.view(w.data, n).set(us.get(n)!.dataSync() as Float32Array)
      const msg: GradWorkerMessage = {cmd: 'orthogonalize', seq, names, steps}
      w.port.postMessage(msg)
    })
    let t1 = performance.now()
    const weightsMs = t1 - t0
    const out = new Map<string, tf.Tensor2D>()
    try {
      for (const n of this.assignment[0]) out.set(n, newtonSchulz5(us.get(n)!, steps))
      t0 = performance.now()
      this.waitAll(seq)
    } catch (err) {
      for (const o of out.values()) o.dispose()
      throw err
    }
    const ownMs = t0 - t1
    t1 = performance.now()
    const waitMs = t1 - t0
    this.pool.forEach((w, i) => {
      for (const n of this.assignment![i + 1]) out.set(n, tf.tensor2d(this.view(w.data, n), us.get(n)!.shape as [number, number]))
    })
    this.lastTimings = {weightsMs, ownMs, waitMs, gatherMs: performance.now() - t1, workerMs: Math.max(0, ...this.pool.map((w) => w.loss[1]))}
    // the caller's order, so anything iterating the result sees the same order every time
    return new Map([...us.keys()].map((n) => [n, out.get(n)!]))
  }

  /** Stops the worker threads. Idempotent. */
  async dispose(): Promise<void> {
    if (this.disposed) return
    this.disposed = true
    if (!this.watchdog) return
    // the watchdog stops its workers without reporting them dead, then the watchdog goes
    this.watchdog.postMessage({stop: true})
    for (const w of this.pool) w.port.close()
    await this.watchdog.terminate()
  }

  private view(data: Float32Array, name: string): Float32Array {
    const off = this.offsets.get(name)!
    return data.subarray(off, off + this.shapes.get(name)!.reduce((a, b) => a * b, 1))
  }

  private publishWeights(model: GPT): void {
    for (const name of this.names) this.view(this.weights, name).set(model.params.get(name)!.dataSync() as Float32Array)
  }

  private check(): void {
    if (this.disposed) throw new Error('GradientPool: used after dispose()')
    for (const [i, w] of this.pool.entries()) {
      if (Atomics.load(w.ctrl, CTRL.dead)) throw this.deathOf(i)
      if (w.exit) throw new PoolWorkerError(`gradient worker ${i + 1} ${w.exit}`, i + 1, true)
    }
  }

  private deathOf(i: number): PoolWorkerError {
    const w = this.pool[i]
    const text = new TextDecoder().decode(w.error.slice(0, Atomics.load(w.ctrl, CTRL.errorLength)))
    w.exit ??= text
    return new PoolWorkerError(`gradient worker ${i + 1} died (${text})`, i + 1, true)
  }

  /**
   * Blocks until every worker has answered `seq`; rethrows a worker's failure, and throws as
   * soon as the watchdog marks one dead (it also moves `done`, which ends the wait at once).
   * The 1 s timeout is only a backstop: a wake-up is never needed to notice anything.
   */
  private waitAll(seq: number): void {
    for (const [i, w] of this.pool.entries()) {
      for (;;) {
        const done = Atomics.load(w.ctrl, CTRL.done)
        if (done === seq) break
        if (Atomics.load(w.ctrl, CTRL.dead)) throw this.deathOf(i)
        Atomics.wait(w.ctrl, CTRL.done, done, 1000)
      }
      const status = Atomics.load(w.ctrl, CTRL.status)
      if (status !== STATUS.ok) {
        const text = new TextDecoder().decode(w.error.slice(0, Atomics.load(w.ctrl, CTRL.errorLength)))
        w.exit = 'failed'
        throw new PoolWorkerError(`gradient worker ${i + 1} failed: ${text}`, i + 1, false)
      }
    }
  }
}
