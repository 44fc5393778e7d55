/**
 * A `GradientPool` worker thread (see parallel.ts): builds the same GPT as the main thread on its
 * own backend, then answers commands from `postMessage`:
 *   grads          — assign the shared current weights, compute this thread's share of the
 *                    step's gradients, write them (and which exist) into its shared buffer;
 *   orthogonalize  — Newton–Schulz of the matrices the main thread wrote into its buffer, in place.
 * Each answer is signalled through Atomics on the control array (done = seq, status); a failure
 * writes its message to the shared error bytes, so the main thread rethrows it.
 */
import * as tf from '@tensorflow/tfjs-core'
import {parentPort, workerData} from 'node:worker_threads'

import {initBackend} from '../backend/index.js'
import {newtonSchulz5} from '../optim/muon.js'
import {buildModel} from '../run/build-model.js'
import {shareGrads} from './grads.js'
import {CTRL, ERROR_BYTES, STATUS, type GradWorkerData, type GradWorkerMessage} from './parallel.js'

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

let lastSeq = 0
// a thread that dies with a command pending must not leave the main thread waiting
process.on('exit', (code) => signal(lastSeq, STATUS.exited, `worker thread exited (code ${code})`))

try {
  await initBackend(wd.backend, {quiet: true})
  const model = buildModel(wd.recipe, wd.seed)
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

  parentPort!.on('message', (msg: GradWorkerMessage) => {
    lastSeq = msg.seq
    try {
      handle(msg)
      signal(msg.seq, STATUS.ok)
    } catch (err) {
      signal(msg.seq, STATUS.failed, (err as Error)?.message ?? String(err))
    }
  })
  parentPort!.postMessage({ready: true})
} catch (err) {
  parentPort!.postMessage({error: (err as Error)?.message ?? String(err)})
}
