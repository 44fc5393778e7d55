/**
 * What the threads of a `GradientPool` share (parallel.ts, grad-worker.ts, pool-watchdog.ts):
 * the layout of each worker's control words and the messages. Kept free of tfjs and the model,
 * so the watchdog thread loads nothing else.
 */
import type {MessagePort} from 'node:worker_threads'

import type {TokenBatch} from '../objective/batch.js'
import type {BackendName} from '../backend/index.js'
import type {ResolvedRecipe} from '../recipe/recipe.js'
import type {ActivationSites} from '../quant/activations.js'

/**
 * Control words of a worker's Int32 control array: `done` = the sequence number it last
 * answered (-1 once dead), `status` of that answer, `errorLength` of the message in the error
 * bytes, `dead` = 1 once the watchdog saw the thread exit.
 */
export const CTRL = {done: 0, status: 1, errorLength: 2, dead: 3} as const
export const STATUS = {ok: 0, failed: 1, exited: 2} as const
export const CTRL_WORDS = 4
export const ERROR_BYTES = 4096

/** Shared buffers and model description a worker receives as `workerData`. */
export interface GradWorkerData {
  recipe: ResolvedRecipe
  seed: number
  backend: BackendName
  index: number
  /** Commands from the main thread, and the worker's 'ready' (or start-up error) back. */
  port: MessagePort
  weights: SharedArrayBuffer
  data: SharedArrayBuffer
  present: SharedArrayBuffer
  /** Float64 [2]: the worker's share of the loss (weighted, summed over chunks), its compute ms. */
  loss: SharedArrayBuffer
  ctrl: SharedArrayBuffer
  error: SharedArrayBuffer
}

export type GradWorkerMessage =
  /** batches hold only the thread's rows (rows = [0, n)); B is the whole batch (for the weight n/B). */
  | {cmd: 'grads'; seq: number; B: number; rows: [number, number]; zLoss: number; quantActive: boolean; activations: ActivationSites; batches: TokenBatch[]}
  | {cmd: 'orthogonalize'; seq: number; names: string[]; steps: number}
