/**
 * The diffusion samplers (MDLM: one block of seqLen; BD3-LM: blocks over a KV cache) on tiny
 * random models, observed through every forward pass they make.
 */
import '@tensorflow/tfjs-backend-cpu'
import * as tf from '@tensorflow/tfjs-core'
import {beforeAll, describe, expect, it} from 'vitest'

import {registerAllGradients} from '../../src/backend/gradients.js'
import {InputError} from '../../src/errors.js'
import type {GPT} from '../../src/model/gpt.js'
import type {CachedForwardOptions} from '../../src/model/kv-cache.js'
import {DEFAULT_OBJECTIVE, objectiveFor} from '../../src/objective/index.js'
import {isDiffusion} from '../../src/objective/types.js'
import {samplerFor, type SampleOutput} from '../../src/sample/index.js'
import {BANNED, BOS, MASK, randomModel, TINY} from './models.js'

beforeAll(async () => {
  await tf.setBackend('cpu')
  await registerAllGradients()
})

const mdlm = samplerFor(objectiveFor({...DEFAULT_OBJECTIVE, kind: 'mdlm'}, TINY.vocab_size))
const bd3 = samplerFor(objectiveFor({...DEFAULT_OBJECTIVE, kind: 'bd3lm', block_size: 4}, TINY.vocab_size))
const base = {temperature: 1, topK: null, banned: BANNED, seed: 1}

interface Call {
  tokens: number[]
  /** Cache length before the call. */
  cached: number
  opts: CachedForwardOptions
  logits: Float32Array
}

/**
 * Record every network call of the model: forwardCached (inputs, cache length, logits) and
 * commitCached (a commit without logits: an empty array).
 */
function record(model: GPT): Call[] {
  const calls: Call[] = []
  const forward = model.forwardCached.bind(model)
  model.forwardCached = (tokens, cache, opts) => {
    const cached = cache.length
    const out = forward(tokens, cache, opts)
    calls.push({tokens: Array.from(tokens.dataSync()), cached, opts, logits: Float32Array.from(out.dataSync())})
    return out
  }
  const commit = model.commitCached.bind(model)
  model.commitCached = (tokens, cache, within) => {
    const cached = cache.length
    commit(tokens, cache, within)
    calls.push({tokens: Array.from(tokens.dataSync()), cached, opts: {within, commit: true}, logits: new Float32Array(0)})
  }
  return calls
}

const denoising = (calls: Call[]) => calls.filter((c) => !c.opts.commit)

describe('MDLM sampler (ddpm_cache)', () => {
  const prompt = [BOS, 4, 7, 2]
  const seqLen = 16

  it('keeps the prompt, never re-masks, fills every position and never emits [MASK] or a banned id', () => {
    const m = randomModel(2)
    const calls = record(m)
    const out = mdlm.sample(m, prompt, {...base, tokens: seqLen - prompt.length, seqLen, steps: 8})
    expect(out.tokens).toHaveLength(seqLen - prompt.length)
    for (const id of out.tokens) {
      expect(id).not.toBe(MASK)
      expect(BANNED).not.toContain(id)
    }
    expect(calls.length).toBeGreaterThan(1)
    const final = [...prompt, ...out.tokens]
    for (const [i, c] of calls.entries()) {
      expect(c.tokens).toHaveLength(seqLen) // one sequence, bidirectional over an empty cache
      expect(c.cached).toBe(0)
      expect(c.opts.within).toBe('bidirectional')
      expect(c.tokens.slice(0, prompt.length)).toEqual(prompt)
      expect(c.tokens.slice(prompt.length)).toContain(MASK) // a full sequence is never run again
      // a visible id stays, and is the one returned (SUBS: copied, never re-masked)
      c.tokens.forEach((id, pos) => id !== MASK && expect(final[pos], `call ${i}, position ${pos}`).toBe(id))
      if (i > 0) expect(c.tokens.filter((id) => id === MASK).length).toBeLessThan(calls[i - 1].tokens.filter((id) => id === MASK).length)
    }
    expect(calls[0].tokens.slice(prompt.length).every((id) => id === MASK)).toBe(true)
    m.dispose()
  })

  it('calls the network only when the previous step changed something, and counts the skipped steps', () => {
    const m = randomModel(2)
    const calls = record(m)
    const steps = 64 // ≫ 12 masked positions: most steps unmask nothing
    const out = mdlm.sample(m, prompt, {...base, tokens: 12, seqLen, steps})
    expect(out.networkCalls).toBe(calls.length)
    expect(out.networkCalls).toBeLessThanOrEqual(12) // at most one per unmasking step
    expect(out.skippedCalls).toBeGreaterThan(out.networkCalls)
    expect(out.networkCalls + out.skippedCalls).toBeLessThanOrEqual(steps)
    expect(out.steps).toBe(steps)
    // consecutive passes always see different inputs: no pass repeats the one before
    for (let i = 1; i < calls.length; i++) expect(calls[i].tokens).not.toEqual(calls[i - 1].tokens)
    // one step: one pass that fills everything
    const one = mdlm.sample(m, prompt, {...base, tokens: 12, seqLen, steps: 1})
    expect([one.networkCalls, one.skippedCalls]).toEqual([1, 0])
    expect(one.tokens).not.toContain(MASK)
    m.dispose()
  })

  it('is deterministic under a seed and depends on it; greedy too', () => {
    const m = randomModel(3)
    const run = (seed: number, temperature = 1): SampleOutput => mdlm.sample(m, prompt, {...base, seed, temperature, tokens: 10, seqLen, steps: 6})
    expect(run(5).tokens).toEqual(run(5).tokens)
    expect(run(5).tokens).not.toEqual(run(6).tokens)
    expect(run(5, 0).tokens).toEqual(run(5, 0).tokens)
    m.dispose()
  })

  it('defaults to min(128, positions) steps, and leaks no tensor', () => {
    const m = randomModel(3, true)
    const opts = {...base, tokens: 4, seqLen, steps: null}
    expect(mdlm.sample(m, prompt, opts).steps).toBe(16)
    const before = tf.memory().numTensors
    mdlm.sample(m, prompt, opts)
    expect(tf.memory().numTensors).toBe(before)
    m.dispose()
  })

  it('refuses what one sequence cannot hold, naming the flag', () => {
    const m = randomModel(3)
    expect(() => mdlm.sample(m, prompt, {...base, tokens: 13, seqLen, steps: null})).toThrow(InputError)
    expect(() => mdlm.sample(m, prompt, {...base, tokens: 13, seqLen, steps: null})).toThrow('--tokens: at most 12 fit after the prompt (4 ids with BOS) in the one sequence of 16')
    expect(() => mdlm.sample(m, Array(16).fill(3), {...base, tokens: 1, seqLen, steps: null})).toThrow('--prompt: its 16 ids (BOS included) fill the whole sequence of 16')
    expect(() => mdlm.sample(m, prompt, {...base, tokens: 2, seqLen, steps: 0})).toThrow('--steps must be a positive integer, got 0')
    m.dispose()
  })
})

describe('BD3-LM sampler (semi-AR, KV cache of clean blocks)', () => {
  const bs = 4

  /** x_t logits of the training layout ([x_t ‖ x_0], block-diffusion mask) for window positions [b·bs, (b+1)·bs). */
  function trainingView(m: GPT, clean: number[], noisy: number[], n: number): Float32Array {
    const b = clean.length / bs
    const xt = Array(n).fill(MASK)
    noisy.forEach((id, i) => (xt[b * bs + i] = id))
    const x0 = [...clean, ...Array(n - clean.length).fill(3)] // what follows block b is never seen by it
    return tf.tidy(() => {
      const logits = m.forward(tf.tensor2d([[...xt, ...x0]], [1, 2 * n], 'int32'), {attention: {kind: 'block-diffusion', block: bs}, suppress: MASK}) // (1, n, V)
      return tf.slice(logits, [0, b * bs, 0], [1, bs, -1])
    }).dataSync() as Float32Array
  }

  function maxDiff(a: Float32Array, b: Float32Array): number {
    return a.reduce((m, x, i) => Math.max(m, Math.abs(x - b[i])), 0)
  }

  it('denoises each block in the view training scores (its x_t outputs), a partial prompt block starting visible', () => {
    const m = randomModel(4, true)
    const calls = record(m)
    const prompt = [BOS, 6, 2, 9, 5, 8] // one full block + 2 prompt positions of the next
    const seqLen = 24
    const out = bd3.sample(m, prompt, {...base, tokens: 9, seqLen, steps: 3})
    expect(out.tokens).toHaveLength(9)
    expect(out.tokens).not.toContain(MASK)
    const seq = [...prompt, ...out.tokens]
    expect(calls[0]).toMatchObject({tokens: prompt.slice(0, 4), cached: 0, opts: {within: {blockCausal: bs}, commit: true}}) // the prompt's whole block
    const steps = denoising(calls)
    expect(steps[0].tokens).toEqual([5, 8, MASK, MASK])
    expect(steps[0].cached).toBe(4)
    for (const c of steps) {
      expect(c.opts.within).toBe('bidirectional')
      expect(c.tokens).toHaveLength(bs)
      expect(maxDiff(c.logits, trainingView(m, seq.slice(0, c.cached), c.tokens, seqLen)), `block at ${c.cached}`).toBeLessThan(1e-5)
    }
    // blocks at 4, 8, 12 (tokens 6..14: the last block only partly returned); finished blocks are committed clean, the last is not
    expect([...new Set(steps.map((c) => c.cached))]).toEqual([4, 8, 12])
    const commits = calls.slice(1).filter((c) => c.opts.commit)
    expect(commits.map((c) => [c.cached, c.tokens])).toEqual([
      [4, seq.slice(4, 8)],
      [8, seq.slice(8, 12)],
    ])
    expect(out.networkCalls).toBe(calls.length)
    m.dispose()
  })

  it('past seqLen keeps the last whole blocks that fit as context, re-prefilled at positions 0..', () => {
    const m = randomModel(5)
    const calls = record(m)
    const seqLen = 12 // 2 context blocks + the noisy one
    const out = bd3.sample(m, [BOS], {...base, tokens: 23, seqLen, steps: 2})
    const seq = [BOS, ...out.tokens]
    expect(seq).toHaveLength(24) // 6 blocks
    // block k ≥ 3 sees blocks k−2, k−1 at positions 0..7: compare with training on that window
    let block = 0 // a commit or a re-prefill moves on to the next block (the prompt has no whole block)
    const cachedPerBlock: number[] = []
    for (const c of calls) {
      if (c.opts.commit) {
        block++
        continue
      }
      cachedPerBlock[block] = c.cached
      const context = seq.slice(block * bs - c.cached, block * bs)
      expect(maxDiff(c.logits, trainingView(m, context, c.tokens, seqLen)), `block ${block}`).toBeLessThan(1e-5)
    }
    expect(block).toBe(5)
    expect(cachedPerBlock).toEqual([0, 4, 8, 8, 8, 8]) // never more than seqLen − bs
    const prefills = calls.filter((c) => typeof c.opts.within === 'object')
    expect(prefills.map((c) => c.tokens)).toEqual([seq.slice(4, 12), seq.slice(8, 16), seq.slice(12, 20)])
    m.dispose()
  })

  it('is deterministic under a seed, defaults to block-size steps, leaks nothing', () => {
    const m = randomModel(6, true)
    const opts = {...base, tokens: 10, seqLen: 16, steps: null}
    const a = bd3.sample(m, [BOS, 3], opts)
    expect(a.steps).toBe(bs)
    expect(bd3.sample(m, [BOS, 3], opts).tokens).toEqual(a.tokens)
    expect(bd3.sample(m, [BOS, 3], {...opts, seed: 2}).tokens).not.toEqual(a.tokens)
    const before = tf.memory().numTensors
    bd3.sample(m, [BOS, 3], {...opts, tokens: 30})
    expect(tf.memory().numTensors).toBe(before)
    m.dispose()
  })
})

describe('shifted samplers (objective.shift): the view training scores, BOS an input only', () => {
  /**
   * Logits of the training view for the block of targets at [b·bs, (b+1)·bs) of a window whose
   * targets are seq[1..n] after seq[0]: targets of earlier blocks clean, the block's own from the
   * call's inputs (input i + 1 holds target i), later targets anything (never seen by the block).
   */
  function trainingLogits(m: GPT, obj: ReturnType<typeof objectiveFor>, seq: number[], call: number[], b: number, bs: number, n: number): Float32Array {
    if (!isDiffusion(obj)) throw new Error('diffusion objective expected')
    const x0 = Int32Array.from({length: n}, (_, k) => seq[1 + k] ?? 3)
    const masked = new Uint8Array(n).fill(1)
    for (let k = 0; k < b * bs; k++) masked[k] = 0
    for (let i = 0; i < bs - 1; i++) {
      masked[b * bs + i] = call[i + 1] === MASK ? 1 : 0
      if (call[i + 1] !== MASK) x0[b * bs + i] = call[i + 1]
    }
    const batch = obj.denoiseBatch(x0, masked, 1, n, Int32Array.of(seq[0]))
    return tf.tidy(() => {
      const logits = m.forward(tf.tensor2d(batch.inputs, [1, batch.T], 'int32'), {attention: batch.attention, suppress: MASK})
      return tf.slice(logits, [0, b * bs, 0], [1, bs, -1])
    }).dataSync() as Float32Array
  }
  const maxDiff = (a: Float32Array, b: Float32Array) => a.reduce((mx, x, i) => Math.max(mx, Math.abs(x - b[i])), 0)

  it('MDLM: every pass reads [BOS, targets but the last]; all seqLen targets are generated', () => {
    const obj = objectiveFor({...DEFAULT_OBJECTIVE, kind: 'mdlm', shift: true}, TINY.vocab_size)
    const m = randomModel(8)
    const calls = record(m)
    const seqLen = 12
    const prompt = [BOS, 4, 7]
    expect(() => samplerFor(obj).sample(m, prompt, {...base, tokens: seqLen - 1, seqLen, steps: 4})).toThrow('--tokens: at most 10 fit')
    const out = samplerFor(obj).sample(m, prompt, {...base, tokens: seqLen - 2, seqLen, steps: 4})
    const seq = [...prompt, ...out.tokens]
    expect(seq).toHaveLength(seqLen + 1)
    for (const c of calls) {
      expect(c.tokens.slice(0, 3)).toEqual(prompt)
      c.tokens.forEach((id, pos) => id !== MASK && expect(seq[pos]).toBe(id))
      expect(maxDiff(c.logits, trainingLogits(m, obj, seq, c.tokens, 0, seqLen, seqLen))).toBeLessThan(1e-5)
    }
    m.dispose()
  })

  it('BD3-LM: block b reads the clean token before it, over a cache of the clean inputs before that', () => {
    const bs = 4
    const obj = objectiveFor({...DEFAULT_OBJECTIVE, kind: 'bd3lm', block_size: bs, shift: true}, TINY.vocab_size)
    const m = randomModel(9)
    const calls = record(m)
    const seqLen = 16
    const prompt = [BOS, 6, 2, 9, 5, 8] // targets 6 2 9 5 | 8: one whole block of prompt targets
    const out = samplerFor(obj).sample(m, prompt, {...base, tokens: 9, seqLen, steps: 3})
    const seq = [...prompt, ...out.tokens]
    expect(calls[0]).toMatchObject({tokens: seq.slice(0, 4), cached: 0, opts: {commit: true}}) // inputs of block 0
    const steps = denoising(calls)
    expect(steps[0].tokens).toEqual([5, 8, MASK, MASK]) // block 1: clean input 4, then targets 4 (prompt) and 5, 6
    for (const c of steps) {
      const b = c.cached / bs
      expect(c.tokens[0]).toBe(seq[b * bs])
      expect(maxDiff(c.logits, trainingLogits(m, obj, seq, c.tokens, b, bs, seqLen)), `block ${b}`).toBeLessThan(1e-5)
    }
    expect([...new Set(steps.map((c) => c.cached))]).toEqual([4, 8, 12])
    m.dispose()
  })
})
