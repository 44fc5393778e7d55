/**
 * The watchdog of a `GradientPool` (see parallel.ts): a thread that spawns the gradient workers
 * and does nothing else, so its event loop is always free to receive their 'error' and 'exit'
 * events. The main thread cannot: it blocks in `Atomics.wait` while the workers compute (the
 * API is synchronous, down to Muon's orthogonalize callback), and a worker's events are only
 * delivered to the thread that created it, on that thread's event loop.
 *
 * When a worker dies — an uncaught error, `process.exit`, `worker.terminate()`, the runtime
 * killing it for memory — the watchdog writes why into the worker's shared error bytes, sets
 * its `dead` control word and moves its `done` word off any sequence number, then notifies:
 * the main thread's wait returns at once and reports it. Commands and results never pass
 * through here: the main thread talks to each worker over its own MessagePort and shared memory.
 */
import {parentPort, Worker, workerData} from 'node:worker_threads'

import {CTRL, ERROR_BYTES, STATUS, type GradWorkerData} from './pool-protocol.js'

export interface WatchdogData {
  /** URL of the compiled grad-worker.js. */
  script: string
  workers: GradWorkerData[]
}

export type WatchdogMessage = {died: number; reason: string}

const wd = workerData as WatchdogData
let stopping = false
const workers = wd.workers.map((data) => {
  const ctrl = new Int32Array(data.ctrl)
  const error = new Uint8Array(data.error)
  const worker = new Worker(new URL(wd.script), {workerData: data, transferList: [data.port]})
  let failure: string | null = null
  worker.on('error', (err) => (failure ??= `failed: ${err?.message ?? String(err)}`))
  // test-only (grad-worker.ts, GOLF_TEST_WORKER_FAULT=…:terminate): a thread stopped from outside while it runs
  worker.on('message', (m: {terminateMe?: boolean}) => {
    if (m?.terminateMe) void worker.terminate()
  })
  worker.on('exit', (code) => {
    if (stopping) return
    const reason = failure ?? `exited with code ${code}`
    // the thread is gone: nothing else writes these words now
    const bytes = new TextEncoder().encode(reason).subarray(0, ERROR_BYTES)
    error.set(bytes)
    Atomics.store(ctrl, CTRL.errorLength, bytes.length)
    Atomics.store(ctrl, CTRL.status, STATUS.exited)
    Atomics.store(ctrl, CTRL.dead, 1)
    // a waiter compares `done` with the value it last saw: changing it wakes it even if it
    // read `dead` just before this store
    Atomics.store(ctrl, CTRL.done, -1)
    Atomics.notify(ctrl, CTRL.done)
    parentPort!.postMessage({died: data.index, reason} satisfies WatchdogMessage)
  })
  return worker
})

parentPort!.on('message', (m: {stop?: boolean}) => {
  if (!m?.stop) return
  stopping = true
  void Promise.all(workers.map((w) => w.terminate())).then(() => parentPort!.close())
})
