/**
 * Text generation from a trained model: the prompt is encoded after a BOS (as every training
 * document starts), then tokens are drawn one at a time from softmax(logits / temperature)
 * (greedy at temperature 0), optionally restricted to the top-k, with a seeded PRNG so a run
 * can be repeated. The context is the last `seqLen` tokens.
 */
import * as tf from '@tensorflow/tfjs-core'

import type {GPT} from '../model/gpt.js'
import {mulberry32} from '../util/random.js'

export interface GenerateOptions {
  tokens: number
  temperature: number
  topK: number | null
  seqLen: number
  seed: number
  /** Ids never to emit (pad, BOS, …); BOS ends the sample if `stopAtBos`. */
  banned?: number[]
}


/** Pick an id from logits (float64 arithmetic on the host). */
export function pickToken(logits: Float32Array, opts: {temperature: number; topK: number | null; banned?: number[]}, rand: () => number): number {
  const banned = new Set(opts.banned ?? [])
  let ids = Array.from(logits.keys()).filter((i) => !banned.has(i))
  if (opts.temperature <= 0) return ids.reduce((best, i) => (logits[i] > logits[best] ? i : best), ids[0])
  if (opts.topK !== null && opts.topK < ids.length) ids = ids.sort((a, b) => logits[b] - logits[a]).slice(0, opts.topK)
  const max = Math.max(...ids.map((i) => logits[i]))
  const weights = ids.map((i) => Math.exp((logits[i] - max) / opts.temperature))
  const total = weights.reduce((a, b) => a + b, 0)
  let r = rand() * total
  for (let j = 0; j < ids.length; j++) {
    r -= weights[j]
    if (r <= 0) return ids[j]
  }
  return ids[ids.length - 1]
}

/** Continue `context` by `opts.tokens` ids; calls onToken for each new id. */
export function generate(model: GPT, context: number[], opts: GenerateOptions, onToken?: (id: number) => void): number[] {
  const rand = mulberry32(opts.seed)
  const ids = [...context]
  const out: number[] = []
  for (let i = 0; i < opts.tokens; i++) {
    const window = ids.slice(-opts.seqLen)
    const last = tf.tidy(() => {
      const logits = model.forward(tf.tensor2d(Int32Array.from(window), [1, window.length], 'int32')) // (1, T, V)
      return tf.reshape(tf.slice(logits, [0, window.length - 1, 0], [1, 1, -1]), [-1])
    })
    const logits = last.dataSync() as Float32Array
    last.dispose()
    const id = pickToken(logits, opts, rand)
    ids.push(id)
    out.push(id)
    onToken?.(id)
  }
  return out
}
