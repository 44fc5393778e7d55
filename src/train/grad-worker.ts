/**
 * A `GradientPool` worker thread (see parallel.ts): builds the same GPT as the main thread on its
 * own backend, then answers commands from `postMessage`:
 *   grads          — assign the shared current weights, compute this thread's share of the
 *                    step's gradients, write them (and which exist) into its shared buffer;
 *   orthogonalize  — Newton–Schulz of the matrices the main thread wrote into its buffer, in place.
 * Each answer is signalled through Atomics on the control array (done = seq, status); a failure
 * writes its message to the shared error bytes, so the main thread rethrows it. Commands come
 * over `workerData.port` (from the main thread); `parentPort` is the watchdog that spawned this
 * thread (pool-watchdog.ts), which reports the thread's death if it dies.
 *
 * Test-only: GOLF_TEST_WORKER_FAULT=<index>:<n>:<exit|throw|terminate> makes worker <index> die
 * on its n-th gradient command instead of answering — `process.exit(70)`, an uncaught error, or
 * stopped by `worker.terminate()` while blocked (no JS of its own runs) — so the tests can check
 * that a dead worker stops the run with one clear line. Never set outside tests.
 */
import * as tf from '@tensorflow/tfjs-core'
import {parentPort, workerData} from 'node:worker_threads'

import {initBackend} from '../backend/index.js'
import {newtonSchulz5} from '../optim/muon.js'
import {buildModel} from '../run/build-model.js'
import {shareGrads} from './grads.js'
import {CTRL, ERROR_BYTES, STATUS, type GradWorkerData, type GradWorkerMessage} from './pool-protocol.js'

const wd = workerData as GradWorkerData
const ctrl = new Int32Array(wd.ctrl)
const errorBytes = new Uint8Array(wd.error)
const data = new Float32Array(wd.data)
const present = new Int32Array(wd.present)
const lossOut = new Float64Array(wd.loss) // [loss share, compute ms]
const weights = new Float32Array(wd.weights)

function signal(seq: number, status: number, message = ''): void {
  const bytes = new TextEncoder().encode(message).subarray(0, ERROR_BYTES)
  errorBytes.set(bytes)
  Atomics.store(ctrl, CTRL.errorLength, bytes.length)
  Atomics.store(ctrl, CTRL.status, status)
  Atomics.store(ctrl, CTRL.done, seq)
  Atomics.notify(ctrl, CTRL.done)
}

const port = wd.port

/** The test-only fault (see the module doc): true when this command must not be answered. */
let gradsSeen = 0
function testFault(msg: GradWorkerMessage): boolean {
  const spec = process.env.GOLF_TEST_WORKER_FAULT
  if (!spec || msg.cmd !== 'grads') return false
  const [index, n, how] = spec.split(':')
  if (Number(index) !== wd.index || ++gradsSeen !== Number(n)) return false
  if (how === 'exit') process.exit(70)
  if (how === 'throw') {
    setImmediate(() => {
      throw new Error(`test fault: worker ${wd.index} threw at gradient command ${n}`)
    })
  }
  if (how === 'terminate') {
    parentPort!.postMessage({terminateMe: true})
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0) // stuck until terminated
  }
  return true
}

try {
  await initBackend(wd.backend, {quiet: true})
  const model = buildModel(wd.recipe, wd.seed)
  model.recompute = wd.recipe.train.recompute === true // resolved by the main thread
  const names = [...model.params.keys()]
  const offsets: number[] = []
  let total = 0
  for (const name of names) {
    offsets.push(total)
    total += model.params.get(name)!.size
  }
  const view = (buf: Float32Array, i: number) => buf.subarray(offsets[i], offsets[i] + model.params.get(names[i])!.size)
  const byName = new Map(names.map((n, i) => [n, i]))

  const handle = (msg: GradWorkerMessage): void => {
    const t0 = performance.now()
    if (msg.cmd === 'grads') {
      names.forEach((name, i) => {
        const v = model.params.get(name)!
        tf.tidy(() => v.assign(tf.tensor(view(weights, i), v.shape, 'float32')))
      })
      model.quantActive = msg.quantActive
      model.activations = msg.activations
      const r = shareGrads(model, msg.batches, msg.zLoss, msg.rows, msg.B) // weight rows/B of the whole batch
      present.fill(0)
      lossOut[0] = r?.loss ?? 0
      if (r) {
        names.forEach((name, i) => {
          const g = r.grads.get(name)
          if (!g) return
          view(data, i).set(g.dataSync() as Float32Array)
          present[i] = 1
          g.dispose()
        })
      }
    } else {
      for (const name of msg.names) {
        const i = byName.get(name)!
        const shape = model.params.get(name)!.shape as [number, number]
        const o = tf.tidy(() => newtonSchulz5(tf.tensor2d(view(data, i), shape), msg.steps))
        view(data, i).set(o.dataSync() as Float32Array)
        o.dispose()
      }
    }
    lossOut[1] = performance.now() - t0
  }

  port.on('message', (msg: GradWorkerMessage) => {
    if (testFault(msg)) return
    try {
      handle(msg)
      signal(msg.seq, STATUS.ok)
    } catch (err) {
      signal(msg.seq, STATUS.failed, (err as Error)?.message ?? String(err))
    }
  })
  port.postMessage({ready: true})
} catch (err) {
  port.postMessage({error: (err as Error)?.message ?? String(err)})
  port.close() // nothing more to do: the thread ends
}
