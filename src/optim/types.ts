/**
 * The optimizer contract the training loop codes against. Parameters are `tf.Variable`s keyed by
 * name (PyTorch state_dict names); each carries the optimizer group the model assigned it:
 *   'matrix'    — 2-D block weights [out, in]   → Muon / NorMuon (or AdamW when asked)
 *   'embedding' — tok_emb / lm_head              → AdamW at embed_lr
 *   'scalar'    — gains, mixes, skip weights, q_gain → AdamW at scalar_lr, no weight decay
 *
 * Every optimizer updates its variables in place, keeps its state on device in its own
 * variables, and disposes only tensors it created: the gradients stay the caller's.
 */
import type * as tf from '@tensorflow/tfjs-core'

export type ParamGroup = 'matrix' | 'embedding' | 'scalar'

export interface ParamRef {
  name: string
  variable: tf.Variable
  group: ParamGroup
}

export interface StepOptions {
  /** Muon momentum for this step (see `muonMomentum`); AdamW ignores it. */
  momentum?: number
}

export interface Optimizer {
  /**
   * One update of every parameter that has a gradient in `grads` (a parameter without one is
   * left alone, its state untouched, as PyTorch does for `grad is None`). The learning rate used
   * is `lr · lrScale`. A gradient for a name this optimizer does not own is an error.
   */
  step(grads: Map<string, tf.Tensor>, lrScale: number, opts?: StepOptions): void
  /**
   * The full state as host copies, for bit-exact resume. Keys are stable:
   * `<param>/<slot>` (slots: exp_avg, exp_avg_sq, step, momentum_buffer,
   * second_momentum_buffer) and `@<label>/step_count`.
   */
  state(): Map<string, Float32Array>
  /** Restores `state()` output; throws InputError on a missing, extra or wrong-sized entry. */
  loadState(s: Map<string, Float32Array>): void
  /** How many times `step()` has run. */
  readonly stepCount: number
  /** Frees the optimizer's own state tensors (never the parameters). */
  dispose(): void
}
