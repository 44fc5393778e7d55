/**
 * `golf train --init-from <run>`: start a run from another run's trained weights instead of the
 * seeded initialisation — the AR → diffusion adaptation route (MDLM §4 and BD3-LM §6 fine-tune
 * diffusion models from autoregressive checkpoints; the architecture is the same transformer,
 * only the attention pattern and the objective change).
 *
 * The two model configs must agree on everything except the number of ids: a diffusion model
 * embeds one more id ([MASK], the last). Its new embedding row (and an untied head's) is the
 * mean of the source's rows, so [MASK] starts as a neutral, in-distribution input; SUBS never
 * lets the model predict it, so its head row hardly matters. Optimizer state, step and data
 * position start fresh: this is a new run.
 */
import {InputError} from '../errors.js'
import type {ModelConfig} from '../model/config.js'
import type {GPT} from '../model/gpt.js'
import {loadCheckpoint} from './checkpoint.js'
import {readRunConfig} from './load.js'

/** Rows that an embedding-shaped tensor [V, E] grows by from `from` to `to` ids. */
const VOCAB_TENSORS = new Set(['tok_emb.weight', 'lm_head.weight'])

/** Weights of run `dir` adapted to `model`'s shapes (see the module doc). */
export function weightsFromRun(dir: string, model: GPT): {weights: Map<string, Float32Array>; step: number; recipe: string} {
  const {run} = readRunConfig(dir)
  const ck = loadCheckpoint(run)
  const src: ModelConfig = ck.meta.model
  const dst = model.cfg
  for (const key of Object.keys(dst) as (keyof ModelConfig)[]) {
    if (key === 'vocab_size') continue
    if (JSON.stringify(src[key]) !== JSON.stringify(dst[key])) {
      throw new InputError(`--init-from ${dir}: model.${key} is ${JSON.stringify(src[key])} there and ${JSON.stringify(dst[key])} here (only the vocabulary may differ, by the [MASK] id)`)
    }
  }
  const extra = dst.vocab_size - src.vocab_size
  if (extra < 0 || extra > 1) throw new InputError(`--init-from ${dir}: it has ${src.vocab_size} token ids, this model ${dst.vocab_size} (a diffusion model adds one [MASK] id; other vocabularies cannot be carried over)`)
  const weights = new Map<string, Float32Array>()
  for (const spec of model.specs) {
    const w = ck.weights.get(spec.name)
    if (!w) throw new InputError(`--init-from ${dir}: its checkpoint has no tensor "${spec.name}"`)
    // the shape the source model has (its vocabulary's rows), checked before anything is copied
    const grows = extra > 0 && VOCAB_TENSORS.has(spec.name)
    const want = grows ? [src.vocab_size, ...spec.shape.slice(1)] : spec.shape
    const have = ck.shapes.get(spec.name) ?? [w.length]
    if (have.length !== want.length || have.some((n, i) => n !== want[i])) {
      const grown = grows ? ` (this model's [${spec.shape.join(', ')}] less its [MASK] row)` : ''
      throw new InputError(`--init-from ${dir}: tensor "${spec.name}" is [${have.join(', ')}] in its checkpoint, the model being initialised needs [${want.join(', ')}]${grown}`)
    }
    if (extra === 0 || !VOCAB_TENSORS.has(spec.name)) {
      weights.set(spec.name, w)
      continue
    }
    const E = spec.shape[1]
    const grown = new Float32Array(dst.vocab_size * E)
    grown.set(w)
    for (let r = 0; r < src.vocab_size; r++) for (let e = 0; e < E; e++) grown[src.vocab_size * E + e] += w[r * E + e] / src.vocab_size
    weights.set(spec.name, grown)
  }
  return {weights, step: ck.meta.step, recipe: ck.meta.recipe}
}
