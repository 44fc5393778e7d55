/**
 * Activation recomputation ("gradient checkpointing", Chen et al. 2016, "Training Deep Nets with
 * Sublinear Memory Cost"): a function whose intermediates are NOT kept for the backward pass.
 * Its forward pass runs once without recording; the backward pass runs it again, this time on a
 * tape of its own, and takes the vector–Jacobian product from there. The tape of the whole model
 * then holds only each checkpoint's inputs, so a transformer's activations cost one layer's worth
 * plus one residual-width tensor per layer, for one extra forward pass of compute.
 *
 * tfjs has no such op; this builds it from `tf.customGrad` (the forward runs as one kernel, which
 * records nothing and frees its intermediates) and a nested `tf.grads` inside the gradient
 * function. tfjs-core 4.22 supports the nesting except for one piece of bookkeeping: a gradient
 * computation started while no tape is recording (the outer backward pass has already closed its
 * tape) replaces `engine.state.activeTape` and sets it to null when it ends, and the outer
 * `engine.gradients` still reads it afterwards to dispose what its tape saved. So the outer tape
 * is put back after the nested call.
 */
import * as tf from '@tensorflow/tfjs-core'

/** The part of tfjs' engine the nested gradient has to restore (tfjs-core 4.22 engine.ts). */
interface EngineTape {
  state: {activeTape: unknown}
}

/**
 * fn(...inputs), with its intermediates recomputed in the backward pass instead of kept. `fn` must
 * be a pure function of its arguments: anything it reads that depends on a trainable variable has
 * to be one of `inputs`, or its gradient is lost (constants such as RoPE tables and masks may be
 * captured). An input passed twice is differentiated once (tfjs would otherwise count its
 * gradient twice). Outside a recording tape this is fn in a tidy: the same values, the
 * intermediates freed at once.
 */
export function recomputed(fn: (...xs: tf.Tensor[]) => tf.Tensor, inputs: readonly tf.Tensor[]): tf.Tensor {
  // distinct inputs, and where each argument of fn comes from
  const unique: tf.Tensor[] = []
  const slot = inputs.map((t) => {
    const i = unique.findIndex((u) => u.id === t.id)
    if (i >= 0) return i
    unique.push(t)
    return unique.length - 1
  })
  const call = (xs: readonly tf.Tensor[]) => fn(...slot.map((i) => xs[i]))
  if (!tf.engine().isTapeOn()) return tf.tidy(() => call(unique))
  const op = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const save = args.pop() as tf.GradSaveFunc
    const xs = args as tf.Tensor[]
    save(xs)
    return {
      value: call(xs),
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
        const engine = tf.engine() as unknown as EngineTape
        const outer = engine.state.activeTape
        try {
          return tf.grads((...ys: tf.Tensor[]) => call(ys))(saved, dy as tf.Tensor)
        } finally {
          engine.state.activeTape = outer
        }
      },
    }
  })
  return op(...unique)
}
