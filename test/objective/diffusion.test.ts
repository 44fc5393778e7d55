/**
 * Masked diffusion (MDLM) and block diffusion (BD3-LM) objectives: the log-linear schedule, the
 * SUBS logits, the training batches (noise, weights, layout), the block-diffusion attention
 * pattern and what it lets each output see. cpu backend, tiny models with random weights.
 */
import '@tensorflow/tfjs-backend-cpu'
import * as tf from '@tensorflow/tfjs-core'
import {beforeAll, describe, expect, it} from 'vitest'

import {registerAllGradients} from '../../src/backend/gradients.js'
import {BIDIRECTIONAL, blockDiffusionMask, type AttentionLayout} from '../../src/model/attention.js'
import {batchLoss, batchNll, sliceRows, type TokenBatch} from '../../src/objective/batch.js'
import {bd3lmObjective} from '../../src/objective/bd3lm.js'
import {objectiveFor} from '../../src/objective/index.js'
import {mdlmObjective} from '../../src/objective/mdlm.js'
import {antitheticTimes, dsigma, lossWeight, maskProbability, sigma} from '../../src/objective/schedule.js'
import {DEFAULT_OBJECTIVE, isDiffusion, type ObjectiveConfig} from '../../src/objective/types.js'
import {mulberry32} from '../../src/util/random.js'
import {buildGPT, logitsOf, logSoftmax, randomizeWeights, tinyConfig} from '../helpers/tiny-gpt.js'

beforeAll(async () => {
  await tf.setBackend('cpu')
  await registerAllGradients()
})

const MDLM: ObjectiveConfig = {...DEFAULT_OBJECTIVE, kind: 'mdlm'}
const bd3 = (block: number, over: Partial<ObjectiveConfig> = {}): ObjectiveConfig => ({...DEFAULT_OBJECTIVE, kind: 'bd3lm', block_size: block, ...over})

/** A data stream of n tokens in 0..dataVocab−1 (never the [MASK] id). */
function stream(n: number, dataVocab: number, seed: number): Uint16Array {
  const r = mulberry32(seed)
  return Uint16Array.from({length: n}, () => Math.floor(r() * dataVocab))
}

/**
 * The time each group of `size` consecutive positions was noised at, read back from its loss
 * weight (1/t): checks that every masked position of a group has the same weight and that
 * visible positions have weight 0. null for a group with nothing masked.
 */
function groupTimes(b: {inputs: Int32Array; weights: Float32Array | null}, maskAt: (i: number) => boolean, n: number, size: number): (number | null)[] {
  const w = b.weights!
  const out: (number | null)[] = []
  for (let g = 0; g < n / size; g++) {
    let weight: number | null = null
    for (let i = g * size; i < (g + 1) * size; i++) {
      if (!maskAt(i)) {
        expect(w[i], `visible position ${i} has weight 0`).toBe(0)
        continue
      }
      expect(w[i]).toBeGreaterThan(0)
      if (weight === null) weight = w[i]
      else expect(w[i], `position ${i}: one t per group`).toBe(weight)
    }
    out.push(weight === null ? null : 1 / weight)
  }
  return out
}

/**
 * Times drawn by antitheticTimes(G, ·, lo, hi): each lies in [lo, hi] and the G times occupy
 * distinct strata of width (hi − lo)/G.
 * `times` may miss some (null); `tol` absorbs float32 weights.
 */
function expectAntithetic(times: (number | null)[], lo: number, hi: number, tol: number): void {
  const G = times.length
  const strata = new Set<number>()
  let seen = 0
  for (const t of times) {
    if (t === null) continue
    expect(t).toBeGreaterThanOrEqual(lo * (1 - tol))
    expect(t).toBeLessThanOrEqual(hi * (1 + tol))
    strata.add(Math.floor(((t - lo) / (hi - lo)) * G + tol * G))
    seen++
  }
  expect(strata.size, 'one draw per stratum').toBe(seen)
}

describe('log-linear schedule', () => {
  const EPS = [0, 1e-3, 1e-2, 0.2]
  const TS = [1e-6, 1e-3, 0.01, 0.1, 0.3, 0.5, 0.77, 0.9, 0.999]

  it('lossWeight = dσ/expm1(σ) = 1/t, maskProbability = (1 − ε)t, σ and dσ by hand', () => {
    for (const eps of EPS) {
      for (const t of TS) {
        const s = {eps}
        expect(Math.abs(lossWeight(s, t) * t - 1), `ε=${eps} t=${t}`).toBeLessThan(1e-12)
        expect(Math.abs(maskProbability(s, t) / ((1 - eps) * t) - 1), `ε=${eps} t=${t}`).toBeLessThan(1e-12)
        // σ(t) = −log(1 − (1−ε)t), its derivative by central differences
        expect(sigma(s, t)).toBeCloseTo(-Math.log(1 - (1 - eps) * t), 12)
        const h = 1e-7 * Math.min(t, 1 - t)
        const fd = (sigma(s, t + h) - sigma(s, t - h)) / (2 * h)
        expect(Math.abs(fd / dsigma(s, t) - 1)).toBeLessThan(1e-5)
      }
    }
    expect(maskProbability({eps: 1e-3}, 1)).toBeCloseTo(1 - 1e-3, 15) // 1 − ε left clean at t = 1
    expect(maskProbability({eps: 0}, 0)).toBe(0)
    // the exact process's last step (ε = 0, t = 1): the reference form is ∞/∞, the weight its limit 1
    expect(lossWeight({eps: 0}, 1)).toBe(1)
    expect(lossWeight({eps: 1e-3}, 1)).toBeCloseTo(1, 12)
  })

  it('antitheticTimes: exactly one draw per stratum of [lo, hi], all inside, spaced (hi − lo)/n', () => {
    for (const [n, lo, hi] of [
      [1, 0, 1],
      [7, 1e-3, 1],
      [16, 0.3, 0.8],
      [64, 0.05, 0.95],
    ]) {
      for (const u of [0, 1e-9, 0.37, 0.999999]) {
        const t = antitheticTimes(n, () => u, lo, hi)
        expect(t).toHaveLength(n)
        const width = (hi - lo) / n
        const strata = new Array<number>(n).fill(0)
        for (const x of t) {
          expect(x).toBeGreaterThanOrEqual(lo)
          expect(x).toBeLessThan(hi)
          strata[Math.min(n - 1, Math.floor((x - lo) / width + 1e-9))]++
        }
        expect(strata).toEqual(new Array<number>(n).fill(1))
        const sorted = [...t].sort((a, b) => a - b)
        expect(sorted[0]).toBeCloseTo(lo + (u / n) * (hi - lo), 12)
        for (let i = 1; i < n; i++) expect(sorted[i] - sorted[i - 1]).toBeCloseTo(width, 12)
      }
    }
    // one independent uniform per stratum, as the reference `_sample_t` (torch.rand(n))
    let calls = 0
    antitheticTimes(10, () => (calls++, 0.5), 0, 1)
    expect(calls).toBe(10)
    const draws = [0.9, 0.1, 0.5]
    let k = 0
    expect(Array.from(antitheticTimes(3, () => draws[k++], 0, 1))).toEqual([0.9 / 3, 0.1 / 3 + 1 / 3, 0.5 / 3 + 2 / 3])
  })
})

describe('SUBS logits', () => {
  it('suppress: p([MASK]) is exactly 0 and the other ids keep their relative probabilities', () => {
    const V = 10
    const maskId = V - 1
    const model = buildGPT(tinyConfig(V), 3)
    randomizeWeights(model, 11)
    const row = [1, maskId, 4, maskId, 7, 2]
    const plain = logitsOf(model, row, {attention: BIDIRECTIONAL})
    const subs = logitsOf(model, row, {attention: BIDIRECTIONAL, suppress: maskId})
    const probs = tf.tidy(() => tf.softmax(model.forward(tf.tensor2d([row], [1, row.length], 'int32'), {attention: BIDIRECTIONAL, suppress: maskId})).dataSync() as Float32Array)
    for (let t = 0; t < row.length; t++) {
      const p = logSoftmax(plain[t]).map(Math.exp)
      const q = logSoftmax(subs[t]).map(Math.exp)
      expect(p[maskId], 'without suppression [MASK] has real mass').toBeGreaterThan(1e-3)
      expect(q[maskId]).toBe(0)
      expect(probs[t * V + maskId]).toBe(0) // tfjs' own float32 softmax, too
      for (let j = 0; j < V; j++) {
        if (j === maskId) continue
        expect(subs[t][j], 'other logits untouched').toBe(plain[t][j])
        expect(Math.abs(q[j] / (p[j] / (1 - p[maskId])) - 1)).toBeLessThan(1e-9)
        expect(Math.abs(probs[t * V + j] / (p[j] / (1 - p[maskId])) - 1)).toBeLessThan(1e-5)
      }
    }
    expect(() => logitsOf(model, row, {suppress: V})).toThrow(`suppressed token id ${V} is outside the model's ${V} ids`)
    model.dispose()
  })
})

describe('MDLM training batch', () => {
  const V = 10
  const maskId = V - 1

  it('x_t = x_0 with masked positions [MASK], targets x_0, weight 1/t on masked positions only, one antithetic t per row', () => {
    const obj = mdlmObjective(MDLM, V)
    expect(obj.maskId).toBe(maskId)
    expect(obj.chunkTokens(8, 1024)).toBe(8 * 1024)
    expect(obj.blockSize(1024)).toBe(1024)
    const B = 8
    const T = 1024
    const chunk = stream(B * T + 5, V - 1, 1)
    const b = obj.trainBatch(chunk, B, T, mulberry32(42))
    expect([b.B, b.T, b.inputs.length, b.targets.length, b.weights!.length]).toEqual([B, T, B * T, B * T, B * T])
    expect(b.attention).toEqual(BIDIRECTIONAL)
    expect(b.suppress).toBe(maskId)
    expect(Array.from(b.targets)).toEqual(Array.from(chunk.subarray(0, B * T)))
    const isMasked = (i: number) => b.inputs[i] === maskId
    for (let i = 0; i < B * T; i++) if (!isMasked(i)) expect(b.inputs[i]).toBe(chunk[i])
    const times = groupTimes(b, isMasked, B * T, T)
    expect(times.filter((t) => t !== null).length).toBeGreaterThanOrEqual(B - 1)
    expectAntithetic(times, MDLM.sampling_eps, 1, 1e-6)
    // each row masks a fraction (1 − ε)t of its tokens (binomial, 5 standard deviations)
    for (let r = 0; r < B; r++) {
      const t = times[r]
      if (t === null) continue
      let m = 0
      for (let i = r * T; i < (r + 1) * T; i++) m += isMasked(i) ? 1 : 0
      const p = (1 - MDLM.noise_eps) * t
      expect(Math.abs(m / T - p), `row ${r}, t=${t}`).toBeLessThanOrEqual(5 * Math.sqrt((p * (1 - p)) / T) + 1 / T)
    }
    // the exact times: the batch's first B draws u_r (the reference `_sample_t`), row r at
    // t_r = lo + (1 − lo)·(u_r/B + r/B); weights are 1/t_r in float32
    const rand = mulberry32(42)
    const u = Array.from({length: B}, () => rand())
    const lo = MDLM.sampling_eps
    for (let i = 0; i < B * T; i++) {
      const r = Math.floor(i / T)
      const t = lo + (1 - lo) * (u[r] / B + r / B)
      if (isMasked(i)) expect(b.weights![i], `position ${i}`).toBe(Math.fround(1 / t))
    }
  })

  it('is deterministic under a seeded rand and changes with the seed; needs B·T tokens', () => {
    const obj = objectiveFor(MDLM, V)
    expect(isDiffusion(obj)).toBe(true)
    const chunk = stream(64, V - 1, 2)
    const a = obj.trainBatch(chunk, 4, 16, mulberry32(7))
    const a2 = obj.trainBatch(chunk, 4, 16, mulberry32(7))
    const c = obj.trainBatch(chunk, 4, 16, mulberry32(8))
    expect(a2).toEqual(a)
    expect(Array.from(c.inputs)).not.toEqual(Array.from(a.inputs))
    expect(() => obj.trainBatch(chunk.subarray(0, 63), 4, 16, mulberry32(7))).toThrow('mdlm batch: need 64 tokens for B=4, T=16, got 63')
    // rows of a batch are views of the same arrays
    const s = sliceRows(a, 1, 3)
    expect(Array.from(s.inputs)).toEqual(Array.from(a.inputs.subarray(16, 48)))
    expect(Array.from(s.weights!)).toEqual(Array.from(a.weights!.subarray(16, 48)))
  })

  it('training loss = mean over B·T of weight · nll (batchNll), and its gradients match finite differences', () => {
    const model = buildGPT(tinyConfig(V), 5)
    const w = randomizeWeights(model, 21, 0.4)
    const obj = mdlmObjective({...MDLM, sampling_eps: 0.05}, V) // t ≥ 0.05 keeps the weights ≤ 20
    const B = 3
    const T = 8
    const b = obj.trainBatch(stream(B * T, V - 1, 3), B, T, mulberry32(9))
    let masked = 0
    for (const x of b.inputs) masked += x === maskId ? 1 : 0
    expect(masked).toBeGreaterThan(3)
    expect(masked).toBeLessThan(B * T)
    const nll = batchNll(model, b)
    let sum = 0
    for (let i = 0; i < B * T; i++) sum += b.weights![i] * nll[i]
    const expected = sum / (B * T)
    const lossOf = (batch: TokenBatch) => tf.tidy(() => batchLoss(model, batch).dataSync()[0])
    expect(Math.abs(lossOf(b) / expected - 1)).toBeLessThan(1e-6)
    // the weights matter: the plain mean of the same cross-entropies is another number
    expect(Math.abs(nll.reduce((a, v) => a + v, 0) / (B * T) / expected - 1)).toBeGreaterThan(0.05)

    const {value, grads} = tf.variableGrads(() => batchLoss(model, b))
    expect(Math.abs(value.dataSync()[0] / expected - 1)).toBeLessThan(1e-6)
    const byParam = model.gradsByParam(grads)
    const eps = 1e-2
    let checked = 0
    for (const name of ['tok_emb.weight', 'blocks.0.attn.c_q.weight', 'blocks.1.mlp.fc.weight', 'blocks.0.attn_scale']) {
      const values = w.get(name)!
      const g = byParam.get(name)!.dataSync()
      // the entries with the largest gradients (small ones test nothing), plus the [MASK] row
      const entries = Array.from(g.keys()).sort((i, j) => Math.abs(g[j]) - Math.abs(g[i])).slice(0, 3)
      if (name === 'tok_emb.weight') entries.push(maskId * model.cfg.model_dim + 1)
      for (const i of entries) {
        const at = (d: number) => {
          const v = Float32Array.from(values)
          v[i] += d
          model.loadWeights(new Map(w).set(name, v))
          return lossOf(b)
        }
        const fd = (at(eps) - at(-eps)) / (2 * eps)
        expect(Math.abs(g[i]), `${name}[${i}] has a real gradient`).toBeGreaterThan(1e-3)
        expect(Math.abs(fd - g[i]), `${name}[${i}]: fd ${fd} vs analytic ${g[i]}`).toBeLessThanOrEqual(2e-2 * Math.max(Math.abs(fd), Math.abs(g[i])) + 2e-4)
        checked++
      }
    }
    expect(checked).toBe(13)
    model.loadWeights(w)
    tf.dispose([value, ...Object.values(grads)])
    model.dispose()
  })
})

describe('block-diffusion attention mask', () => {
  const matrix = (n: number, block: number) => {
    const m = blockDiffusionMask(n, block)
    return Array.from({length: 2 * n}, (_, q) => Array.from(m.subarray(q * 2 * n, (q + 1) * 2 * n)))
  }

  it('n = 4, block = 2: noisy blocks see themselves and earlier clean blocks; the clean copy is block-causal', () => {
    // columns: x_t 0 1 2 3 | x_0 0 1 2 3
    expect(matrix(4, 2)).toEqual([
      [1, 1, 0, 0, 0, 0, 0, 0], // x_t block 0: itself
      [1, 1, 0, 0, 0, 0, 0, 0],
      [0, 0, 1, 1, 1, 1, 0, 0], // x_t block 1: itself + clean block 0
      [0, 0, 1, 1, 1, 1, 0, 0],
      [0, 0, 0, 0, 1, 1, 0, 0], // x_0 block 0: clean block 0
      [0, 0, 0, 0, 1, 1, 0, 0],
      [0, 0, 0, 0, 1, 1, 1, 1], // x_0 block 1: clean blocks 0, 1
      [0, 0, 0, 0, 1, 1, 1, 1],
    ])
  })

  it('block = n: bidirectional over x_t (MDLM) and the clean copy never seen; block = 1: the autoregressive layout', () => {
    expect(matrix(4, 4)).toEqual([
      [1, 1, 1, 1, 0, 0, 0, 0],
      [1, 1, 1, 1, 0, 0, 0, 0],
      [1, 1, 1, 1, 0, 0, 0, 0],
      [1, 1, 1, 1, 0, 0, 0, 0],
      [0, 0, 0, 0, 1, 1, 1, 1],
      [0, 0, 0, 0, 1, 1, 1, 1],
      [0, 0, 0, 0, 1, 1, 1, 1],
      [0, 0, 0, 0, 1, 1, 1, 1],
    ])
    expect(matrix(4, 1)).toEqual([
      [1, 0, 0, 0, 0, 0, 0, 0], // x_t^0: itself only
      [0, 1, 0, 0, 1, 0, 0, 0], // x_t^1: itself + x_0^0
      [0, 0, 1, 0, 1, 1, 0, 0],
      [0, 0, 0, 1, 1, 1, 1, 0],
      [0, 0, 0, 0, 1, 0, 0, 0], // x_0: causal
      [0, 0, 0, 0, 1, 1, 0, 0],
      [0, 0, 0, 0, 1, 1, 1, 0],
      [0, 0, 0, 0, 1, 1, 1, 1],
    ])
  })

  it('rejects a block that does not divide n', () => {
    expect(() => blockDiffusionMask(6, 4)).toThrow('blockDiffusionMask: block size 4 must divide the sequence length 6')
    expect(() => blockDiffusionMask(4, 0)).toThrow('block size 0')
  })
})

describe('BD3-LM training batch', () => {
  const V = 10
  const maskId = V - 1

  it('inputs (B, 2T) = [x_t ‖ x_0], targets x_0 (B, T), one antithetic t per block, weight 1/t_block where masked', () => {
    const cfg = bd3(16, {train_interval: [0.3, 0.8]})
    const obj = bd3lmObjective(cfg, V)
    expect(obj.blockSize(64)).toBe(16)
    const B = 4
    const T = 64
    const chunk = stream(B * T, V - 1, 4)
    const b = obj.trainBatch(chunk, B, T, mulberry32(3))
    expect([b.B, b.T, b.inputs.length, b.targets.length, b.weights!.length]).toEqual([B, 2 * T, 2 * B * T, B * T, B * T])
    expect(b.attention).toEqual({kind: 'block-diffusion', block: 16})
    expect(b.suppress).toBe(maskId)
    expect(Array.from(b.targets)).toEqual(Array.from(chunk))
    for (let r = 0; r < B; r++) {
      for (let i = 0; i < T; i++) {
        const xt = b.inputs[r * 2 * T + i]
        expect(xt === maskId || xt === chunk[r * T + i]).toBe(true)
        expect(b.inputs[r * 2 * T + T + i], 'the clean copy').toBe(chunk[r * T + i])
      }
    }
    const isMasked = (i: number) => b.inputs[Math.floor(i / T) * 2 * T + (i % T)] === maskId
    const times = groupTimes(b, isMasked, B * T, 16)
    expect(times.every((t) => t !== null)).toBe(true)
    expectAntithetic(times, 0.3, 0.8, 1e-6) // 16 blocks, one stratum of [0.3, 0.8] each
    const rand = mulberry32(3) // the first 16 draws: one uniform per block, stratified over the 16 blocks
    const u = Array.from({length: 16}, () => rand())
    for (let i = 0; i < B * T; i++) {
      const g = Math.floor(i / 16)
      if (isMasked(i)) expect(b.weights![i]).toBe(Math.fround(1 / (0.3 + 0.5 * (u[g] / 16 + g / 16))))
    }
    // a 4-row batch sliced into rows keeps the layout: (rows, 2T) inputs, (rows, T) targets
    const s = sliceRows(b, 1, 2)
    expect(Array.from(s.inputs)).toEqual(Array.from(b.inputs.subarray(2 * T, 4 * T)))
    expect(Array.from(s.targets)).toEqual(Array.from(chunk.subarray(T, 2 * T)))
  })

  it('block = T draws the same noise as MDLM and its x_t half scores the same as MDLM', () => {
    const B = 3
    const T = 8
    const chunk = stream(B * T, V - 1, 5)
    const m = mdlmObjective(MDLM, V).trainBatch(chunk, B, T, mulberry32(11))
    const d = bd3lmObjective(bd3(T), V).trainBatch(chunk, B, T, mulberry32(11))
    for (let r = 0; r < B; r++) expect(Array.from(d.inputs.subarray(r * 2 * T, r * 2 * T + T))).toEqual(Array.from(m.inputs.subarray(r * T, (r + 1) * T)))
    expect(d.weights).toEqual(m.weights)
    const model = buildGPT(tinyConfig(V), 2)
    randomizeWeights(model, 31)
    const a = batchNll(model, m)
    const c = batchNll(model, d)
    for (let i = 0; i < B * T; i++) expect(Math.abs(c[i] - a[i])).toBeLessThan(1e-5 * (1 + a[i]))
    model.dispose()
  })

  it('needs a block size that divides T', () => {
    expect(() => bd3lmObjective(bd3(3), V).trainBatch(stream(16, 9, 1), 2, 8, mulberry32(1))).toThrow('bd3lm: block size 3 must divide the sequence length 8')
    expect(() => bd3lmObjective({...bd3(2), block_size: null}, V)).toThrow('bd3lm needs objective.block_size')
  })
})

describe('BD3-LM semantics', () => {
  const V = 10
  const maskId = V - 1
  const n = 8
  const block = 2
  const layout: AttentionLayout = {kind: 'block-diffusion', block}
  const x0 = [3, 1, 4, 1, 5, 2, 6, 5]
  const xt = [3, maskId, maskId, 1, maskId, maskId, 6, maskId]

  /** For each output position: are its logits bit-identical between two inputs? */
  function sameRows(model: ReturnType<typeof buildGPT>, a: number[], b: number[]): boolean[] {
    const la = logitsOf(model, a, {attention: layout, suppress: maskId})
    const lb = logitsOf(model, b, {attention: layout, suppress: maskId})
    expect(la).toHaveLength(n)
    return la.map((row, t) => row.every((v, j) => v === lb[t][j]))
  }

  it('a clean token of block c changes the x_t outputs of blocks > c only (blocks ≤ c bit for bit)', () => {
    const model = buildGPT(tinyConfig(V), 4)
    randomizeWeights(model, 41)
    const base = [...xt, ...x0]
    for (let c = 0; c < n / block; c++) {
      for (const j of [0, block - 1]) {
        const changed = [...base]
        changed[n + c * block + j] = (changed[n + c * block + j] + 3) % (V - 1)
        const same = sameRows(model, base, changed)
        for (let t = 0; t < n; t++) expect(same[t], `clean token in block ${c} vs output ${t}`).toBe(Math.floor(t / block) <= c)
      }
    }
    model.dispose()
  })

  it('a noisy token of block b (masked or visible) changes block b outputs only', () => {
    const model = buildGPT(tinyConfig(V), 4)
    randomizeWeights(model, 43)
    const base = [...xt, ...x0]
    for (let p = 0; p < n; p++) {
      const b = Math.floor(p / block)
      // unmask a masked token, mask a visible one, and replace a visible one by another id
      const variants = base[p] === maskId ? [x0[p]] : [maskId, (x0[p] + 1) % (V - 1)]
      for (const v of variants) {
        const changed = [...base]
        changed[p] = v
        const same = sameRows(model, base, changed)
        for (let t = 0; t < n; t++) expect(same[t], `x_t[${p}] → ${v} vs output ${t}`).toBe(Math.floor(t / block) !== b)
      }
    }
    model.dispose()
  })

  it('block 1 is autoregressive: x_t^ℓ = [MASK] after x_0^{<ℓ} scores as a causal model reading x_0^{<ℓ} then [MASK]', () => {
    // the same positions for both halves (RoPE), causal clean copy: the same sums as causal
    // attention over [x_0^0 … x_0^{ℓ−1}, MASK], up to float rounding (more keys, weighted 0)
    const model = buildGPT(tinyConfig(V), 6)
    randomizeWeights(model, 47)
    const bd = logitsOf(model, [...new Array<number>(n).fill(maskId), ...x0], {attention: {kind: 'block-diffusion', block: 1}, suppress: maskId})
    for (let l = 0; l < n; l++) {
      const causal = logitsOf(model, [...x0.slice(0, l), maskId], {attention: {kind: 'causal'}, suppress: maskId})[l]
      for (let j = 0; j < maskId; j++) expect(Math.abs(bd[l][j] - causal[j]), `position ${l}, id ${j}`).toBeLessThan(1e-4)
    }
    model.dispose()
  })
})
