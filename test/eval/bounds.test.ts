/**
 * The diffusion scores as bounds and likelihoods (src/eval/elbo.ts, src/eval/chain.ts): the
 * autoregressive special case (block 1), an oracle that knows a toy distribution, chain-rule
 * likelihoods against explicit forward passes, and on a small trained MDLM the any-order
 * identity (continuous NELBO = mean chain NLL over random orders) and the bound's ordering.
 *
 * Maths (α_t = 1 − t, SUBS): a block of b tokens has
 *   NELBO_T = Σ_{i=1..T} (1/i) E_{x_{t_i}} Σ_masked −log p(x^ℓ | x_{t_i}),  t_i = i/T,
 *   NELBO_∞ = ∫_0^1 (1/t) E_{x_t} Σ_masked −log p dt,
 * and a pattern P of n masked tokens has weight Σ_i (1/i) t_i^n (1 − t_i)^(b−n) (T = ∞: the
 * Beta integral B(n, b − n + 1) = (n − 1)!(b − n)!/b!, the probability that a uniformly random
 * order leaves exactly P hidden when it scores a given token of P: hence the any-order identity).
 */
import '@tensorflow/tfjs-backend-cpu'
import * as tf from '@tensorflow/tfjs-core'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {registerAllGradients} from '../../src/backend/gradients.js'
import {chainOrder, evaluateChain} from '../../src/eval/chain.js'
import {gptScorer, type DenoisingScorer} from '../../src/eval/denoise.js'
import {evaluateElbo, exactPatternWeight} from '../../src/eval/elbo.js'
import type {GPT} from '../../src/model/gpt.js'
import {batchLoss, batchNll, type TokenBatch} from '../../src/objective/batch.js'
import {bd3lmObjective} from '../../src/objective/bd3lm.js'
import {mdlmObjective} from '../../src/objective/mdlm.js'
import {DEFAULT_OBJECTIVE, type DiffusionObjective, type ObjectiveConfig} from '../../src/objective/types.js'
import {Byte260Tokenizer} from '../../src/tokenizer/byte260.js'
import type {ByteTable} from '../../src/tokenizer/types.js'
import {mulberry32} from '../../src/util/random.js'
import {buildGPT, logitsOf, logSoftmax, randomizeWeights, tinyConfig} from '../helpers/tiny-gpt.js'

beforeAll(async () => {
  await tf.setBackend('cpu')
  await registerAllGradients()
})

const MDLM: ObjectiveConfig = {...DEFAULT_OBJECTIVE, kind: 'mdlm'}
const bd3 = (block: number): ObjectiveConfig => ({...DEFAULT_OBJECTIVE, kind: 'bd3lm', block_size: block})

/** Ids 0..V−1: id 0 a 0-byte boundary (BOS), every other id one byte. */
function oneByteTable(V: number): ByteTable {
  const t: ByteTable = {vocabSize: V, baseBytes: new Int32Array(V).fill(1), hasLeadingSpace: new Uint8Array(V), isBoundary: new Uint8Array(V)}
  t.baseBytes[0] = 0
  t.isBoundary[0] = 1
  return t
}

/** BOS then the sequences, then `tail` tokens that make no whole window. */
function valStream(seqs: number[][], tail: number[] = []): Uint16Array {
  return Uint16Array.from([0, ...seqs.flat(), ...tail])
}

const rel = (a: number, b: number) => Math.abs(a / b - 1)

describe('block size 1: the autoregressive special case', () => {
  const V = 10 // data ids 0..8 (0 = BOS), [MASK] = 9
  const T = 8
  let model: GPT
  const obj = bd3lmObjective(bd3(1), V)
  const tokens = (() => {
    const r = mulberry32(5)
    return Uint16Array.from({length: 1 + 4 * T + 3}, (_, i) => (i === 0 ? 0 : 1 + Math.floor(r() * 8)))
  })()
  const table = oneByteTable(V)

  beforeAll(() => {
    model = buildGPT(tinyConfig(V), 7)
    randomizeWeights(model, 51, 0.4)
  })
  afterAll(() => model.dispose())

  it('the exact T-step ELBO (T = 1, 7, 128, ∞) equals the left-to-right chain NLL', () => {
    const chain = evaluateChain(gptScorer(model), obj, tokens, table, {seqLen: T, batchSeqs: 3})
    expect(chain.bound).toBe(false)
    expect(chain.block_size).toBe(1)
    expect(chain.tokens).toBe(4 * T) // the 3 tail tokens make no window
    expect(chain.val_loss).toBeGreaterThan(1)
    for (const steps of [1, 7, 128, 0]) {
      const elbo = evaluateElbo(gptScorer(model), obj, tokens, table, {seqLen: T, batchSeqs: 2, steps, estimator: 'exact'})
      expect(elbo.bound).toBe(true)
      expect(elbo.val_bpb_se).toBe(0)
      expect(rel(elbo.val_loss, chain.val_loss), `T=${steps}: ${elbo.val_loss} vs ${chain.val_loss}`).toBeLessThan(1e-5)
      expect(exactPatternWeight(1, 1, steps)).toBeCloseTo(1, 12) // the one pattern: the token masked
    }
  })

  it('the Monte-Carlo ELBO agrees with the exact one within its standard error', () => {
    const exact = evaluateElbo(gptScorer(model), obj, tokens, table, {seqLen: T, batchSeqs: 4, steps: 7, estimator: 'exact'})
    // continuous time with blocks of 1: the masked-count estimator masks the one token with
    // weight 1 every time, so it has no Monte-Carlo error and equals the exact value
    const ct = evaluateElbo(gptScorer(model), obj, tokens, table, {seqLen: T, batchSeqs: 16, steps: 0, samples: 4, seed: 3})
    const ctExact = evaluateElbo(gptScorer(model), obj, tokens, table, {seqLen: T, batchSeqs: 4, steps: 0, estimator: 'exact'})
    expect(ct.val_bpb_se).toBe(0)
    expect(Math.abs(ct.val_bpb / ctExact.val_bpb - 1)).toBeLessThan(1e-12)
    for (const steps of [7, 128]) {
      const mc = evaluateElbo(gptScorer(model), obj, tokens, table, {seqLen: T, batchSeqs: 16, steps, samples: 128, seed: 3})
      expect(mc.estimator).toBe('mc')
      expect(mc.se_method).toBe('within-window')
      expect(mc.val_bpb_se).toBeGreaterThan(0)
      expect(mc.val_bpb).not.toBe(exact.val_bpb)
      expect(Math.abs(mc.val_bpb - exact.val_bpb), `T=${steps}: ${mc.val_bpb} ± ${mc.val_bpb_se} vs ${exact.val_bpb}`).toBeLessThan(4 * mc.val_bpb_se)
      expect(mc.val_bpb_se, 'a meaningful error bar').toBeLessThan(0.05 * exact.val_bpb)
    }
  })
})

/**
 * The oracle of a toy distribution: a sequence is L copies of one symbol drawn uniformly from
 * `symbols`. Under SUBS it predicts each position from the visible tokens: the posterior over
 * symbols is uniform over those consistent with every visible token.
 */
function allEqualOracle(symbols: number[], maskId: number): DenoisingScorer & {calls: number} {
  const o = {
    calls: 0,
    nll(b: TokenBatch): Float32Array {
      o.calls++
      expect(b.attention).toEqual({kind: 'bidirectional'})
      expect(b.suppress).toBe(maskId)
      const out = new Float32Array(b.B * b.T)
      for (let r = 0; r < b.B; r++) {
        const row = b.inputs.subarray(r * b.T, (r + 1) * b.T)
        const consistent = symbols.filter((s) => row.every((x) => x === maskId || x === s))
        for (let l = 0; l < b.T; l++) {
          const y = b.targets[r * b.T + l]
          out[r * b.T + l] = consistent.includes(y) ? Math.log(consistent.length) : Infinity
        }
      }
      return out
    },
  }
  return o
}

describe('an oracle of a toy distribution (L copies of one of k symbols)', () => {
  const tok = new Byte260Tokenizer()
  const symbols = tok.encode('abcd') // k = 4 byte ids
  const k = symbols.length
  const L = 5
  const maskId = tok.vocabSize // the model's ids: 260 data + [MASK]
  const obj = mdlmObjective(MDLM, tok.vocabSize + 1)
  const seqs = [3, 0, 1, 2, 3, 0, 2, 1, 0, 3, 1, 2].map((s) => new Array<number>(L).fill(symbols[s]))
  const tokens = valStream(seqs, [symbols[0], symbols[0]])
  const table = tok.byteTable(tok.vocabSize + 1)
  const H = Math.log(k) / L // entropy per token
  const logk = Math.fround(Math.log(k)) // what a float32 scorer returns

  /** NELBO_T per token in closed form: only the all-masked pattern costs, L·log k with weight Σ_i (1/i)(i/T)^L. */
  const closedForm = (steps: number) => {
    if (steps === 0) return logk / L
    let s = 0
    for (let i = 1; i <= steps; i++) s += Math.pow(i, L - 1) / Math.pow(steps, L)
    return logk * s
  }

  it('the exact ELBO: L·H at T = 1, decreasing in T toward H, equal to H in continuous time', () => {
    const oracle = allEqualOracle(symbols, maskId)
    const values: number[] = []
    for (const steps of [1, 2, 3, 10, 100, 1000]) {
      const r = evaluateElbo(oracle, obj, tokens, table, {seqLen: L, batchSeqs: 7, steps, estimator: 'exact'})
      expect(r.tokens).toBe(seqs.length * L)
      expect(r.bytes).toBe(seqs.length * L)
      expect(r.val_bpb).toBe((r.val_loss / Math.LN2) * (r.tokens / r.bytes))
      expect(rel(r.val_loss, closedForm(steps)), `T=${steps}`).toBeLessThan(1e-12)
      values.push(r.val_loss)
    }
    expect(oracle.calls).toBe(6 * Math.ceil((seqs.length * (2 ** L - 1)) / 7))
    expect(rel(values[0], L * H)).toBeLessThan(1e-6) // T = 1: one step predicts all L tokens independently
    for (let i = 1; i < values.length; i++) expect(values[i]).toBeLessThan(values[i - 1])
    expect(values[values.length - 1] / H - 1).toBeGreaterThan(0)
    expect(values[values.length - 1] / H - 1).toBeLessThan(0.01) // ≈ L/(2T) = 0.25%
    const cont = evaluateElbo(oracle, obj, tokens, table, {seqLen: L, batchSeqs: 64, steps: 0, estimator: 'exact'})
    expect(cont.val_loss).toBeGreaterThanOrEqual(H * (1 - 1e-7))
    expect(rel(cont.val_loss, H)).toBeLessThan(1e-7)
    expect(cont.val_loss).toBeLessThan(values[values.length - 1])
  })

  it('the chain rule gives the entropy exactly, in any order', () => {
    const oracle = allEqualOracle(symbols, maskId)
    for (const order of ['left-to-right', 'random'] as const) {
      for (const seed of [0, 1, 2]) {
        const r = evaluateChain(oracle, obj, tokens, table, {seqLen: L, batchSeqs: 3, order, seed})
        expect(r.mode).toBe('chain')
        expect(rel(r.val_loss, logk / L)).toBeLessThan(1e-12)
        expect(rel(r.val_loss, H)).toBeLessThan(1e-7)
      }
    }
  })

  it('the Monte-Carlo ELBO of the oracle is within its error of the exact value', () => {
    const oracle = allEqualOracle(symbols, maskId)
    const mc = evaluateElbo(oracle, obj, tokens, table, {seqLen: L, batchSeqs: 32, steps: 16, samples: 200, seed: 1})
    expect(mc.val_bpb_se).toBeGreaterThan(0)
    expect(Math.abs(mc.val_bpb - closedForm(16) / Math.LN2)).toBeLessThan(4 * mc.val_bpb_se)
  })

  it('continuous time by Monte Carlo (masked-count draws, finite variance) is within its error of the exact value', () => {
    const oracle = allEqualOracle(symbols, maskId)
    const exact = evaluateElbo(oracle, obj, tokens, table, {seqLen: L, batchSeqs: 32, steps: 0, estimator: 'exact'})
    const mc = evaluateElbo(oracle, obj, tokens, table, {seqLen: L, batchSeqs: 32, steps: 0, samples: 200, seed: 2})
    // only n = L (every copy hidden) costs anything here, and the stratified masked-count draws
    // hit each n equally often: the estimate is exact up to float rounding, with a real error bar
    expect(mc.val_bpb_se).toBeGreaterThan(0)
    expect(Math.abs(mc.val_bpb - exact.val_bpb), `${mc.val_bpb} ± ${mc.val_bpb_se} vs ${exact.val_bpb}`).toBeLessThan(1e-9)
    expect(mc.val_bpb_se).toBeLessThan(0.5 * exact.val_bpb)
  })

  it('bits per byte: val_loss / ln 2 × tokens / bytes with the official byte counts', () => {
    // 'b' 2 bytes, 'c' 3 bytes, 'd' a leading-space piece (1 + 1 byte unless after a boundary)
    const t = tok.byteTable(tok.vocabSize + 1)
    t.baseBytes[symbols[1]] = 2
    t.baseBytes[symbols[2]] = 3
    t.hasLeadingSpace[symbols[3]] = 1
    // windows d a b c d a c b a d b c: the first d follows BOS (a boundary): 9 bytes, later d's 10
    const bytes = 9 + 10 * 2 + 5 * 3 + 10 * 3 + 15 * 3
    const oracle = allEqualOracle(symbols, maskId)
    for (const r of [
      evaluateElbo(oracle, obj, tokens, t, {seqLen: L, batchSeqs: 16, steps: 10, estimator: 'exact'}),
      evaluateChain(oracle, obj, tokens, t, {seqLen: L, batchSeqs: 16}),
    ]) {
      expect(r.tokens).toBe(60)
      expect(r.bytes).toBe(bytes)
      expect(r.val_bpb).toBe((r.val_loss / Math.LN2) * (60 / bytes))
    }
  })
})

describe('chain likelihood = the product of the conditionals, by explicit forward passes', () => {
  const V = 10
  const maskId = V - 1
  const table = oneByteTable(V)
  const r = mulberry32(9)
  const tokens = Uint16Array.from({length: 1 + 2 * 6}, (_, i) => (i === 0 ? 0 : 1 + Math.floor(r() * 8)))
  const windows = [Array.from(tokens.subarray(1, 7)), Array.from(tokens.subarray(7, 13))]

  it('MDLM, left-to-right and random orders', () => {
    const model = buildGPT(tinyConfig(V), 8)
    randomizeWeights(model, 61, 0.4)
    const obj = mdlmObjective(MDLM, V)
    for (const order of ['left-to-right', 'random'] as const) {
      const seed = 4
      let hand = 0
      windows.forEach((x, w) => {
        const sigma = chainOrder(6, order, seed, w)
        if (order === 'random') expect(Array.from(sigma)).not.toEqual([0, 1, 2, 3, 4, 5])
        const xt = new Array<number>(6).fill(maskId) // everything hidden; unmask σ(0), σ(1), ...
        for (let k = 0; k < 6; k++) {
          const p = sigma[k]
          const logits = logitsOf(model, xt, {attention: {kind: 'bidirectional'}, suppress: maskId})
          hand -= logSoftmax(logits[p])[x[p]]
          xt[p] = x[p]
        }
      })
      const res = evaluateChain(gptScorer(model), obj, tokens, table, {seqLen: 6, batchSeqs: 4, order, seed})
      expect(rel(res.val_loss * res.tokens, hand), `${order}: ${res.val_loss * res.tokens} vs ${hand}`).toBeLessThan(1e-6)
    }
    model.dispose()
  })

  it('BD3-LM block 2: each block given the clean blocks before it, one block at a time', () => {
    const model = buildGPT(tinyConfig(V), 9)
    randomizeWeights(model, 71, 0.4)
    const obj = bd3lmObjective(bd3(2), V)
    let hand = 0
    for (const x of windows) {
      for (let b = 0; b < 3; b++) {
        // x_t: block b partly hidden, the other noisy blocks left clean (block b cannot see them)
        for (let k = 0; k < 2; k++) {
          const xt = [...x]
          for (let j = k; j < 2; j++) xt[2 * b + j] = maskId
          const logits = logitsOf(model, [...xt, ...x], {attention: {kind: 'block-diffusion', block: 2}, suppress: maskId})
          hand -= logSoftmax(logits[2 * b + k])[x[2 * b + k]]
        }
      }
    }
    const res = evaluateChain(gptScorer(model), obj, tokens, table, {seqLen: 6, batchSeqs: 3})
    expect(res.block_size).toBe(2)
    expect(rel(res.val_loss * res.tokens, hand), `${res.val_loss * res.tokens} vs ${hand}`).toBeLessThan(1e-6)
    model.dispose()
  })
})

/**
 * A toy language a tiny model learns in a few dozen steps: L = 6 tokens alternating a b a b a b
 * for (a, b) one of (1, 2), (2, 1), (3, 4), (4, 3), (5, 5), equally likely (entropy log 5 per
 * sequence, uniform marginals). One visible token pins the sequence, through the parity of its
 * offset: relative positions matter, so different unmasking orders cost differently.
 * Validation holds each sequence once, so its empirical distribution is the true one.
 */
const L = 6
const LANGUAGE = [
  [1, 2],
  [2, 1],
  [3, 4],
  [4, 3],
  [5, 5],
].map(([a, b]) => Array.from({length: L}, (_, i) => (i % 2 ? b : a)))
const ENTROPY = Math.log(5) / L

/** All permutations of 0..n−1. */
function permutations(n: number): number[][] {
  if (n === 0) return [[]]
  return permutations(n - 1).flatMap((p) => Array.from({length: n}, (_, i) => [...p.slice(0, i), n - 1, ...p.slice(i)]))
}

/**
 * A 16-wide, 2-block MDLM (no time conditioning: the GPT never sees t) trained for 80 Adam steps
 * on the language. Observed on cpu: training loss 1.58 → 0.72; exact NELBO per token by steps T:
 * 1: 1.6216, 2: 1.1114, 4: 0.9025, 16: 0.7784, 64: 0.7521, 1024: 0.7443, ∞: 0.7438 (entropy
 * 0.2682); mean chain NLL over 120 random-order seeds 0.7435 ± 0.0009.
 */
describe('a small trained MDLM', () => {
  const V = 7 // BOS 0, data 1..5, (6 unused), [MASK] 6
  const obj: DiffusionObjective = mdlmObjective(MDLM, V)
  const tokens = valStream(LANGUAGE)
  const table = oneByteTable(V)
  let model: GPT
  let firstLoss = 0
  let lastLoss = 0
  const elbo: Record<number, number> = {}

  beforeAll(() => {
    model = buildGPT(tinyConfig(V, {model_dim: 16}), 12)
    const opt = tf.train.adam(0.02)
    const vars = [...model.params.values()]
    const rand = mulberry32(77)
    const B = 32
    const losses: number[] = []
    for (let step = 0; step < 80; step++) {
      const chunk = Uint16Array.from(Array.from({length: B}, () => LANGUAGE[Math.floor(rand() * LANGUAGE.length)]).flat())
      const b = obj.trainBatch(chunk, B, L, rand)
      const loss = opt.minimize(() => batchLoss(model, b), true, vars)!
      losses.push(loss.dataSync()[0])
      loss.dispose()
    }
    const mean = (a: number[]) => a.reduce((x, y) => x + y, 0) / a.length
    firstLoss = mean(losses.slice(0, 10))
    lastLoss = mean(losses.slice(-10))
    opt.dispose()
    for (const steps of [1, 2, 4, 16, 64, 1024, 0]) elbo[steps] = evaluateElbo(gptScorer(model), obj, tokens, table, {seqLen: L, batchSeqs: 64, steps, estimator: 'exact'}).val_loss
  })
  afterAll(() => model.dispose())

  it('learned something', () => {
    expect(lastLoss).toBeLessThan(0.6 * firstLoss)
    expect(elbo[0]).toBeLessThan(0.6 * Math.log(5)) // far better than the uniform marginals
  })

  it('any order: the continuous NELBO is the mean chain NLL over random orders (within Monte-Carlo error)', () => {
    const S = 120
    const chains: number[] = []
    for (let seed = 0; seed < S; seed++) chains.push(evaluateChain(gptScorer(model), obj, tokens, table, {seqLen: L, batchSeqs: 30, order: 'random', seed}).val_loss)
    const mean = chains.reduce((a, b) => a + b, 0) / S
    const sd = Math.sqrt(chains.reduce((a, b) => a + (b - mean) ** 2, 0) / (S - 1))
    const se = sd / Math.sqrt(S)
    expect(sd, 'orders differ').toBeGreaterThan(1e-3)
    expect(Math.abs(mean - elbo[0])).toBeLessThan(4 * se)
  })

  it('random orders are uniform over the 720 permutations (chi-square), per seed and window', () => {
    const counts = new Map<string, number>()
    const draws = 36000
    for (let seed = 0; seed < draws / 4; seed++) {
      for (let w = 0; w < 4; w++) {
        const key = Array.from(chainOrder(L, 'random', seed, w)).join()
        counts.set(key, (counts.get(key) ?? 0) + 1)
      }
    }
    expect(counts.size).toBe(720)
    const e = draws / 720
    let chi2 = 0
    for (const c of counts.values()) chi2 += (c - e) ** 2 / e
    expect(chi2).toBeLessThan(719 + 5 * Math.sqrt(2 * 719)) // 719 degrees of freedom
    expect(Array.from(chainOrder(L, 'random', 3, 1))).toEqual(Array.from(chainOrder(L, 'random', 3, 1)))
    expect(Array.from(chainOrder(L, 'left-to-right', 3, 1))).toEqual([0, 1, 2, 3, 4, 5])
  })

  it('any order, exactly: the mean chain NLL over all 720 orders equals the continuous NELBO', () => {
    // one forward per mask pattern P of each window: nll of every position given P hidden
    const orders = permutations(L)
    expect(orders).toHaveLength(720)
    expect(new Set(orders.map((o) => o.join())).size).toBe(720)
    let total = 0
    for (const x of LANGUAGE) {
      const P = 2 ** L - 1
      const x0 = Int32Array.from({length: P * L}, (_, i) => x[i % L])
      const masked = Uint8Array.from({length: P * L}, (_, i) => ((Math.floor(i / L) + 1) >> i % L) & 1)
      const nll = batchNll(model, obj.denoiseBatch(x0, masked, P, L))
      for (const o of orders) {
        let hidden = P // every token hidden; unmask o[0], o[1], ...
        for (const l of o) {
          total += nll[(hidden - 1) * L + l] / orders.length
          hidden &= ~(1 << l)
        }
      }
    }
    const allOrders = total / (LANGUAGE.length * L)
    expect(rel(allOrders, elbo[0])).toBeLessThan(1e-9)
  })

  it('the exact discrete ELBO decreases toward the continuous one as T grows', () => {
    const Ts = [1, 2, 4, 16, 64, 1024]
    for (let i = 1; i < Ts.length; i++) expect(elbo[Ts[i]], `T=${Ts[i]} < T=${Ts[i - 1]}`).toBeLessThan(elbo[Ts[i - 1]])
    for (const T of Ts) expect(elbo[T]).toBeGreaterThan(elbo[0])
    expect(rel(elbo[1024], elbo[0])).toBeLessThan(0.01)
  })

  it('upper bounds: every ELBO and every chain NLL ≥ the entropy of the language (validation = its support)', () => {
    for (const T of [1, 2, 4, 16, 64, 1024, 0]) expect(elbo[T]).toBeGreaterThan(ENTROPY)
    for (const seed of [0, 1]) expect(evaluateChain(gptScorer(model), obj, tokens, table, {seqLen: L, batchSeqs: 30, order: 'random', seed}).val_loss).toBeGreaterThan(ENTROPY)
  })

  it('T = 1 is one denoising step from all-[MASK]: Σ_ℓ −log p(x^ℓ | nothing visible)', () => {
    const x0 = Int32Array.from(LANGUAGE.flat())
    const nll = batchNll(model, obj.denoiseBatch(x0, new Uint8Array(x0.length).fill(1), LANGUAGE.length, L))
    const hand = nll.reduce((a, b) => a + b, 0) / x0.length
    expect(rel(elbo[1], hand)).toBeLessThan(1e-6)
  })

  it('the Monte-Carlo ELBO: reproducible bit for bit, independent of batchSeqs, within its error of the exact value', () => {
    const run = (batchSeqs: number, seed = 5) => evaluateElbo(gptScorer(model), obj, tokens, table, {seqLen: L, batchSeqs, steps: 64, samples: 16, seed})
    const a = run(64)
    expect(run(64)).toEqual(a)
    for (const bs of [1, 7, 160]) {
      const b = run(bs)
      expect(b.val_loss, `batchSeqs ${bs}`).toBe(a.val_loss)
      expect(b.val_bpb_se).toBe(a.val_bpb_se)
    }
    expect(run(64, 6).val_loss).not.toBe(a.val_loss)
    expect(a.val_bpb_se).toBeGreaterThan(0)
    expect(Math.abs(a.val_bpb - elbo[64] / Math.LN2), `${a.val_bpb} ± ${a.val_bpb_se} vs ${elbo[64] / Math.LN2}`).toBeLessThan(4 * a.val_bpb_se)
  })

  it('continuous time by Monte Carlo (masked-count draws) is within its error of the exact continuous NELBO', () => {
    const mc = evaluateElbo(gptScorer(model), obj, tokens, table, {seqLen: L, batchSeqs: 64, steps: 0, samples: 16, seed: 5})
    expect(mc.val_bpb_se).toBeGreaterThan(0)
    expect(mc.val_bpb).not.toBe(elbo[0] / Math.LN2)
    expect(Math.abs(mc.val_bpb - elbo[0] / Math.LN2), `${mc.val_bpb} ± ${mc.val_bpb_se} vs ${elbo[0] / Math.LN2}`).toBeLessThan(4 * mc.val_bpb_se)
    // finite variance: its error bar is of the size of the 64-step estimator's at equal cost
    const t64 = evaluateElbo(gptScorer(model), obj, tokens, table, {seqLen: L, batchSeqs: 64, steps: 64, samples: 16, seed: 5})
    expect(mc.val_bpb_se, `${mc.val_bpb_se} vs ${t64.val_bpb_se} at T = 64`).toBeLessThan(2 * t64.val_bpb_se)
  })
})
