/**
 * Optimizer state storage shared by AdamW and Muon: device-resident slot variables (moments,
 * momentum buffers) plus host-side counters, with export/import for checkpoints.
 *
 * State keys: `<param>/<slot>` for tensors and counters that belong to one parameter, and
 * `@<label>/step_count` for the optimizer's own step counter. Counters are stored as a
 * one-element Float32Array (exact up to 2^24 steps).
 */
import * as tf from '@tensorflow/tfjs-core'

import {InputError} from '../errors.js'

export class SlotStore {
  private readonly tensors = new Map<string, tf.Variable>()
  private readonly counters = new Map<string, number>()
  private readonly order: string[] = []

  /** Adds a zero-filled, non-trainable slot variable of `shape` under `key`. */
  addTensor(key: string, shape: number[]): tf.Variable {
    if (this.tensors.has(key) || this.counters.has(key)) throw new Error(`optimizer state key '${key}' defined twice`)
    const v = tf.tidy(() => tf.variable(tf.zeros(shape), false))
    this.tensors.set(key, v)
    this.order.push(key)
    return v
  }

  addCounter(key: string): void {
    if (this.tensors.has(key) || this.counters.has(key)) throw new Error(`optimizer state key '${key}' defined twice`)
    this.counters.set(key, 0)
    this.order.push(key)
  }

  tensor(key: string): tf.Variable {
    const v = this.tensors.get(key)
    if (!v) throw new Error(`no optimizer state tensor '${key}'`)
    return v
  }

  counter(key: string): number {
    const n = this.counters.get(key)
    if (n === undefined) throw new Error(`no optimizer counter '${key}'`)
    return n
  }

  setCounter(key: string, n: number): void {
    if (!this.counters.has(key)) throw new Error(`no optimizer counter '${key}'`)
    this.counters.set(key, n)
  }

  /** Every key, in the order the slots were added. */
  keys(): string[] {
    return [...this.order]
  }

  /** Host copies of every slot (reads each tensor back: call between steps, not inside one). */
  export(): Map<string, Float32Array> {
    const out = new Map<string, Float32Array>()
    for (const key of this.order) {
      const v = this.tensors.get(key)
      out.set(key, v ? Float32Array.from(v.dataSync() as Float32Array) : Float32Array.of(this.counters.get(key)!))
    }
    return out
  }

  /**
   * Loads every key this store owns from `s`; with `strict`, a key of `s` this store does not
   * own is an error too. Validates everything before changing anything.
   */
  import(s: Map<string, Float32Array>, strict: boolean): void {
    checkStateKeys(s, this.keys(), strict)
    for (const [key, v] of this.tensors) {
      const data = s.get(key)!
      if (data.length !== v.size) {
        throw new InputError(`optimizer state '${key}' has ${data.length} values, expected ${v.size} (shape [${v.shape.join(', ')}])`)
      }
    }
    for (const key of this.counters.keys()) {
      const data = s.get(key)!
      if (data.length !== 1 || !Number.isInteger(data[0]) || data[0] < 0) {
        throw new InputError(`optimizer state '${key}' must be one non-negative integer, got [${Array.from(data.slice(0, 4)).join(', ')}]`)
      }
    }
    for (const [key, v] of this.tensors) {
      tf.tidy(() => v.assign(tf.tensor(s.get(key)!, v.shape, 'float32')))
    }
    for (const key of this.counters.keys()) this.counters.set(key, s.get(key)![0])
  }

  dispose(): void {
    for (const v of this.tensors.values()) v.dispose()
    this.tensors.clear()
    this.counters.clear()
    this.order.length = 0
  }
}

/** Throws InputError when `s` lacks one of `owned`, or (strict) has a key outside it. */
export function checkStateKeys(s: Map<string, Float32Array>, owned: Iterable<string>, strict: boolean): void {
  const ownedSet = new Set(owned)
  for (const key of ownedSet) {
    if (!s.has(key)) throw new InputError(`optimizer state is missing '${key}' (was it saved with another optimizer config?)`)
  }
  if (!strict) return
  for (const key of s.keys()) {
    if (!ownedSet.has(key)) throw new InputError(`optimizer state has unexpected key '${key}' (was it saved with another optimizer config?)`)
  }
}

/** Checks that `grads` names only parameters in `owned` and that shapes match. */
export function checkGrads(who: string, grads: Map<string, tf.Tensor>, owned: Map<string, tf.Variable>): void {
  for (const [name, g] of grads) {
    const v = owned.get(name)
    if (!v) throw new Error(`${who}: gradient for unknown parameter '${name}'`)
    if (g.shape.length !== v.shape.length || g.shape.some((d, i) => d !== v.shape[i])) {
      throw new Error(`${who}: gradient for '${name}' has shape [${g.shape.join(', ')}], parameter is [${v.shape.join(', ')}]`)
    }
  }
}

/**
 * What AdamW and Muon share: named parameters, a SlotStore of device state plus host counters,
 * and the state()/loadState() plumbing of the `Optimizer` contract. Subclasses add their slots
 * in their constructor and implement `step`.
 */
export abstract class SlotOptimizer {
  protected readonly params: Map<string, tf.Variable>
  protected readonly slots = new SlotStore()
  protected readonly stepKey: string

  protected constructor(who: string, params: ReadonlyArray<{name: string; variable: tf.Variable}>, label: string) {
    this.params = new Map(params.map((p) => [p.name, p.variable]))
    if (this.params.size !== params.length) throw new Error(`${who}: duplicate parameter names`)
    this.stepKey = `@${label}/step_count`
  }

  get stepCount(): number {
    return this.slots.counter(this.stepKey)
  }

  /** Names of the parameters this optimizer updates, in construction order. */
  paramNames(): string[] {
    return [...this.params.keys()]
  }

  /** Every state key this optimizer owns (what `state()` returns, without reading tensors). */
  stateKeys(): string[] {
    return this.slots.keys()
  }

  state(): Map<string, Float32Array> {
    return this.slots.export()
  }

  loadState(s: Map<string, Float32Array>): void {
    this.slots.import(s, true)
  }

  /** Loads only this optimizer's keys from a larger map (used by the composite). */
  loadOwnState(s: Map<string, Float32Array>): void {
    this.slots.import(s, false)
  }

  dispose(): void {
    this.slots.dispose()
  }
}
