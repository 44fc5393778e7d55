/**
 * GPT tests on the cpu backend with tiny shapes (V=11, D=8, H=2, KV=1, T=5).
 *
 * Gradient checks: central finite differences in float32 with eps = 1e-2 on functions whose
 * inputs are O(1); an entry passes when |fd − analytic| ≤ 1e-2·max(|fd|, |analytic|) + 2e-4
 * (the absolute term absorbs float32 rounding of the loss: ~1e-7 / eps per side).
 */
import '@tensorflow/tfjs-backend-cpu'
import * as tf from '@tensorflow/tfjs-core'
import {beforeAll, describe, expect, it} from 'vitest'

import {registerAllGradients} from '../../src/backend/gradients.js'
import {InputError} from '../../src/errors.js'
import {DEFAULT_MODEL_CONFIG, paramSpecs, type ModelConfig} from '../../src/model/config.js'
import {additiveMask, attention, blockDiffusionMask, blockDiffusionTile, blockDiffusionTiles, CAUSAL_BLOCK, causalBlock, causalMask} from '../../src/model/attention.js'
import {applyRotary, crossEntropyRows, GPT, mlp, rmsNorm, rotaryTables, softcap} from '../../src/model/gpt.js'
import type {TernaryConfig} from '../../src/quant/ternary.js'
import {loadRandomWeights, uniformValues} from '../helpers/random.js'

const TERNARY: TernaryConfig = {groupSize: 'row', scaleFormat: 'fp32', zeroCorrection: true}
const DEFAULT_PATTERNS = ['blocks.*.attn.*.weight', 'blocks.*.mlp.*.weight']
const tiny: ModelConfig = {...DEFAULT_MODEL_CONFIG, vocab_size: 11, model_dim: 8, num_heads: 2, num_kv_heads: 1, unique_blocks: 2, loops: 1}

beforeAll(async () => {
  await tf.setBackend('cpu')
  await registerAllGradients()
})

function build(cfg: ModelConfig, seed = 1, patterns = DEFAULT_PATTERNS): GPT {
  return new GPT(cfg, {seed, ternary: {patterns, config: TERNARY}})
}

/** Random weights for every parameter (so zero-init projections do not hide gradients). */
function randomize(model: GPT, seed: number, scale = 0.5): Map<string, Float32Array> {
  return loadRandomWeights(model, seed, scale)
}

function tokens(rows: number[][]): tf.Tensor2D {
  return tf.tensor2d(rows, [rows.length, rows[0].length], 'int32')
}

const X = [
  [1, 2, 3, 4, 5],
  [6, 7, 8, 9, 10],
]
const Y = [
  [2, 3, 4, 5, 6],
  [7, 8, 9, 10, 0],
]

/** Max relative error over the chosen entries of x, for f: x → scalar. */
function fdCheck(f: (x: tf.Tensor) => tf.Scalar, values: Float32Array, shape: number[], entries: number[], eps = 1e-2): void {
  const x = tf.tensor(values, shape)
  const g = tf.grad(f)(x)
  const analytic = g.dataSync()
  for (const i of entries) {
    const at = (d: number) => {
      const v = Float32Array.from(values)
      v[i] += d
      return tf.tidy(() => f(tf.tensor(v, shape)).dataSync()[0])
    }
    const fd = (at(eps) - at(-eps)) / (2 * eps)
    const tol = 1e-2 * Math.max(Math.abs(fd), Math.abs(analytic[i])) + 2e-4
    expect(Math.abs(fd - analytic[i]), `entry ${i}: fd ${fd} vs analytic ${analytic[i]}`).toBeLessThanOrEqual(tol)
  }
  x.dispose()
  g.dispose()
}

const weighted = (y: tf.Tensor, seed: number) => tf.sum(tf.mul(y, tf.tensor(uniformValues(y.size, seed), y.shape))) as tf.Scalar
const allEntries = (n: number) => Array.from({length: n}, (_, i) => i)

describe('pieces: values', () => {
  it('rmsNorm divides by sqrt(mean(x²) + eps)', () => {
    const y = rmsNorm(tf.tensor2d([[3, 4]])).dataSync()
    const r = Math.sqrt(12.5 + 1.1920928955078125e-7)
    expect(Array.from(y)).toEqual([Math.fround(3 * Math.fround(1 / r)), Math.fround(4 * Math.fround(1 / r))].map((v) => expect.closeTo(v, 6)))
  })

  it('rotary: half-split rotation by t·base^(-2i/Dh)', () => {
    const {cos, sin} = rotaryTables(3, 4, 100)
    // i = 0 → inv_freq 1; i = 1 → 100^(-1/2) = 0.1
    expect(cos[2 * 2 + 0]).toBeCloseTo(Math.cos(2), 6)
    expect(sin[2 * 2 + 1]).toBeCloseTo(Math.sin(0.2), 6)
    const x = tf.tensor4d([1, 2, 3, 4], [1, 1, 1, 4]) // position 0 → identity
    const c = tf.tensor2d(cos.slice(2, 4), [1, 2])
    const s = tf.tensor2d(sin.slice(2, 4), [1, 2]) // position 1
    expect(Array.from(applyRotary(x, c, s).dataSync())).toEqual(
      [1 * Math.cos(1) + 3 * Math.sin(1), 2 * Math.cos(0.1) + 4 * Math.sin(0.1), 3 * Math.cos(1) - 1 * Math.sin(1), 4 * Math.cos(0.1) - 2 * Math.sin(0.1)].map((v) =>
        expect.closeTo(v, 5),
      ),
    )
  })

  it.each([
    ['causal, full', 3],
    ['causal, tiles of 2 (T=5: 2, 2, 1 rows)', 2],
    ['bidirectional', null],
  ] as const)('attention (%s): GQA query head h reads KV head floor(h·KV/H), matching a naive reference', (_, block) => {
    const [B, H, KV, T, Dh] = [1, 4, 2, block === 2 ? 5 : 3, 2]
    const qv = uniformValues(B * H * T * Dh, 1)
    const kv = uniformValues(B * KV * T * Dh, 2)
    const vv = uniformValues(B * KV * T * Dh, 3)
    const mask = block === null ? null : causalMask(T, block)
    const y = attention(tf.tensor4d(qv, [B, H, T, Dh]), tf.tensor4d(kv, [B, KV, T, Dh]), tf.tensor4d(vv, [B, KV, T, Dh]), mask).dataSync()
    for (let h = 0; h < H; h++) {
      const g = Math.floor(h / (H / KV))
      for (let i = 0; i < T; i++) {
        const last = mask ? i : T - 1 // last key position query i sees
        const scores: number[] = []
        for (let j = 0; j <= last; j++) {
          let dot = 0
          for (let d = 0; d < Dh; d++) dot += qv[(h * T + i) * Dh + d] * kv[(g * T + j) * Dh + d]
          scores.push(dot / Math.sqrt(Dh))
        }
        const m = Math.max(...scores)
        const e = scores.map((s) => Math.exp(s - m))
        const z = e.reduce((a, b) => a + b)
        for (let d = 0; d < Dh; d++) {
          let out = 0
          for (let j = 0; j <= last; j++) out += (e[j] / z) * vv[(g * T + j) * Dh + d]
          expect(y[(h * T + i) * Dh + d]).toBeCloseTo(out, 5)
        }
      }
    }
  })

  it('softcap is cap·tanh(x/cap), identity when off', () => {
    expect(softcap(tf.tensor1d([60]), 30).dataSync()[0]).toBeCloseTo(30 * Math.tanh(2), 5)
    const x = tf.tensor1d([60])
    expect(softcap(x, null)).toBe(x)
    expect(softcap(x, 0)).toBe(x)
  })

  it('crossEntropyRows = logsumexp − target logit, and lse for the z-loss', () => {
    const logits = [1, 2, 3, -1, 0, 4]
    const {nll, lse} = crossEntropyRows(tf.tensor2d(logits, [2, 3]), tf.tensor1d([2, 0], 'int32'))
    const lse0 = Math.log(Math.exp(1) + Math.exp(2) + Math.exp(3))
    const lse1 = Math.log(Math.exp(-1) + Math.exp(0) + Math.exp(4))
    expect(Array.from(lse.dataSync())).toEqual([expect.closeTo(lse0, 5), expect.closeTo(lse1, 5)])
    expect(Array.from(nll.dataSync())).toEqual([expect.closeTo(lse0 - 3, 5), expect.closeTo(lse1 + 1, 5)])
  })
})

describe('pieces: finite-difference gradients', () => {
  it('rmsNorm', () => {
    fdCheck((x) => weighted(rmsNorm(x), 7), uniformValues(24, 11), [3, 8], allEntries(24))
  })

  it('rope', () => {
    const {cos, sin} = rotaryTables(5, 4, 10000)
    const c = tf.tensor2d(cos, [5, 2])
    const s = tf.tensor2d(sin, [5, 2])
    fdCheck((x) => weighted(applyRotary(x as tf.Tensor4D, c, s), 3), uniformValues(40, 12), [1, 2, 5, 4], allEntries(40))
  })

  it.each([
    ['full', 5],
    ['tiles of 2', 2],
  ])('attention with GQA (H=4, KV=2), causal (%s), w.r.t. q, k and v', (_, block) => {
    const [B, H, KV, T, Dh] = [1, 4, 2, 5, 4]
    const mask = causalMask(T, block)
    const q = tf.tensor4d(uniformValues(B * H * T * Dh, 21), [B, H, T, Dh])
    const k = tf.tensor4d(uniformValues(B * KV * T * Dh, 22), [B, KV, T, Dh])
    const v = tf.tensor4d(uniformValues(B * KV * T * Dh, 23), [B, KV, T, Dh])
    const f = (which: 0 | 1 | 2) => (x: tf.Tensor) => {
      const args = [q, k, v] as tf.Tensor4D[]
      args[which] = x as tf.Tensor4D
      return weighted(attention(args[0], args[1], args[2], mask), 5)
    }
    fdCheck(f(0), q.dataSync() as Float32Array, q.shape, allEntries(q.size))
    fdCheck(f(1), k.dataSync() as Float32Array, k.shape, allEntries(k.size))
    fdCheck(f(2), v.dataSync() as Float32Array, v.shape, allEntries(v.size))
  })

  it('relu² MLP w.r.t. x, fc and proj', () => {
    const x = tf.tensor2d(uniformValues(12, 31), [3, 4])
    const fc = tf.tensor2d(uniformValues(32, 32), [8, 4])
    const proj = tf.tensor2d(uniformValues(32, 33), [4, 8])
    fdCheck((t) => weighted(mlp(t as tf.Tensor2D, fc, proj), 1), x.dataSync() as Float32Array, x.shape, allEntries(12))
    fdCheck((t) => weighted(mlp(x, t as tf.Tensor2D, proj), 1), fc.dataSync() as Float32Array, fc.shape, allEntries(32))
    fdCheck((t) => weighted(mlp(x, fc, t as tf.Tensor2D), 1), proj.dataSync() as Float32Array, proj.shape, allEntries(32))
  })

  it('softcap', () => {
    fdCheck((x) => weighted(softcap(x, 2), 4), uniformValues(10, 41, 5), [10], allEntries(10))
  })

  it('cross-entropy via gather', () => {
    const t = tf.tensor1d([2, 0, 4], 'int32')
    fdCheck((x) => tf.sum(crossEntropyRows(x as tf.Tensor2D, t).nll) as tf.Scalar, uniformValues(15, 51, 3), [3, 5], allEntries(15))
  })
})

/** Largest |a[i] − b[i]|. */
function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length)
  let m = 0
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]))
  return m
}

const maxAbs = (a: ArrayLike<number>) => maxAbsDiff(a, new Float32Array(a.length))

/**
 * Attention output and its gradients w.r.t. q, k, v (loss Σ y·dy), copied out, for a mask;
 * inputs seeded by shape. q is scaled ×2 so softmax rows are far from uniform.
 */
function attentionAndGrads(shape: {B: number; H: number; KV: number; T: number; Dh: number}, mask: ReturnType<typeof causalMask>): Float32Array[] {
  const {B, H, KV, T, Dh} = shape
  return tf.tidy(() => {
    const q = tf.tensor4d(uniformValues(B * H * T * Dh, 61, 2), [B, H, T, Dh])
    const k = tf.tensor4d(uniformValues(B * KV * T * Dh, 62), [B, KV, T, Dh])
    const v = tf.tensor4d(uniformValues(B * KV * T * Dh, 63), [B, KV, T, Dh])
    const dy = tf.tensor4d(uniformValues(B * H * T * Dh, 64), [B, H, T, Dh])
    const f = (a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) => tf.sum(tf.mul(attention(a as tf.Tensor4D, b as tf.Tensor4D, c as tf.Tensor4D, mask), dy))
    const y = attention(q, k, v, mask)
    return [y, ...tf.grads(f)([q, k, v])].map((t) => Float32Array.from(t.dataSync() as Float32Array))
  })
}

describe('causal attention in query tiles', () => {
  const M = Math.fround(-1e30)

  it('causalMask cuts the (T, T) additive mask into tiles: rows [s, end) × keys [0, end)', () => {
    const m = causalMask(5, 2)
    expect([m.T, m.block]).toEqual([5, 2])
    expect(m.tiles.map((t) => t.shape)).toEqual([[2, 2], [2, 4], [1, 5]])
    expect(m.tiles.map((t) => t.arraySync())).toEqual([
      [[0, M], [0, 0]],
      [[0, 0, 0, M], [0, 0, 0, 0]],
      [[0, 0, 0, 0, 0]],
    ])
    // block ≥ T: one tile, the whole mask
    const one = causalMask(3, 8)
    expect(one.block).toBe(3)
    expect(one.tiles.map((t) => t.arraySync())).toEqual([[[0, M, M], [0, 0, M], [0, 0, 0]]])
    expect(() => causalMask(4, 0)).toThrow('causalMask: block must be a positive integer, got 0')
  })

  it('causalMask with a unit: block-causal tiles, each row sees its own unit and those before', () => {
    const m = causalMask(6, 4, 2)
    expect(m.tiles.map((t) => t.shape)).toEqual([[4, 4], [2, 6]])
    expect(m.tiles.map((t) => t.arraySync())).toEqual([
      [[0, 0, M, M], [0, 0, M, M], [0, 0, 0, 0], [0, 0, 0, 0]],
      [[0, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0]],
    ])
    // one tile, a last unit cut short by T
    expect(causalMask(3, 3, 2).tiles[0].arraySync()).toEqual([[0, 0, M], [0, 0, M], [0, 0, 0]])
    expect(() => causalMask(8, 3, 2)).toThrow('causalMask: the tile (3) must be a multiple of the unit (2)')
  })

  it('causalBlock: tiles of CAUSAL_BLOCK rows once T spans two of them, else one tile of T', () => {
    const b = CAUSAL_BLOCK
    expect([1, b, 2 * b - 1, 2 * b, 2 * b + 1, 8 * b].map(causalBlock)).toEqual([1, b, 2 * b - 1, b, b, b])
  })

  it.each([
    {name: 'T=7 in tiles of 3 (T not a multiple), GQA g=2', B: 2, H: 4, KV: 2, T: 7, Dh: 4, block: 3},
    {name: 'T=8 in tiles of 2, g=1', B: 2, H: 2, KV: 2, T: 8, Dh: 8, block: 2},
    {name: 'T=6 in tiles of 1, GQA g=4', B: 1, H: 4, KV: 1, T: 6, Dh: 4, block: 1},
    {name: 'T=5 < block 8 (one tile: the full path)', B: 2, H: 4, KV: 2, T: 5, Dh: 4, block: 8},
  ])('tiled = full path, forward and gradients w.r.t. q, k, v, within float32 rounding: $name', (shape) => {
    const full = attentionAndGrads(shape, causalMask(shape.T, shape.T))
    const tiled = attentionAndGrads(shape, causalMask(shape.T, shape.block))
    ;['y', 'dq', 'dk', 'dv'].forEach((name, i) => {
      expect(maxAbs(full[i]), name).toBeGreaterThan(0.1)
      expect(maxAbsDiff(tiled[i], full[i]), name).toBeLessThanOrEqual(1e-6 * maxAbs(full[i]))
    })
  })

  it('rejects a mask built for another T, naming both', () => {
    const q = tf.zeros([1, 2, 4, 2]) as tf.Tensor4D
    const kv = tf.zeros([1, 1, 4, 2]) as tf.Tensor4D
    expect(() => attention(q, kv, kv, causalMask(5, 2))).toThrow('attention: the mask is for T=5 keys, the keys have T=4')
    // queries may be the leading rows of the keys' sequence only where the tiles say so
    const q2 = tf.zeros([1, 2, 2, 2]) as tf.Tensor4D
    expect(() => attention(q2, kv, kv, causalMask(4, 2))).toThrow("attention: 2 query rows do not match the mask's rows (keys T=4)")
    expect(() => attention(q2, kv, kv, null)).toThrow("attention: 2 query rows do not match the mask's rows (keys T=4)")
  })
})

describe('block-diffusion attention in query tiles', () => {
  it.each([
    {name: 'n=16, blocks of 4, tiles of 8, GQA g=2', B: 2, H: 4, KV: 2, n: 16, Dh: 4, block: 4, tile: 8},
    {name: 'n=12, blocks of 2, tiles of 4 (last tile short), g=1', B: 1, H: 2, KV: 2, n: 12, Dh: 8, block: 2, tile: 8},
    {name: 'n=8, blocks of 1, tiles of 2', B: 2, H: 2, KV: 1, n: 8, Dh: 4, block: 1, tile: 2},
  ])('tiled = the full (2n, 2n) mask, forward and gradients w.r.t. q, k, v: $name', (c) => {
    const shape = {B: c.B, H: c.H, KV: c.KV, T: 2 * c.n, Dh: c.Dh}
    const full = attentionAndGrads(shape, additiveMask(blockDiffusionMask(c.n, c.block), 2 * c.n))
    const tiled = attentionAndGrads(shape, blockDiffusionTiles(c.n, c.block, c.tile))
    ;['y', 'dq', 'dk', 'dv'].forEach((name, i) => {
      expect(maxAbs(full[i]), name).toBeGreaterThan(0.1)
      expect(maxAbsDiff(tiled[i], full[i]), name).toBeLessThanOrEqual(1e-6 * maxAbs(full[i]))
    })
  })

  it('every score left out by the tiles is a masked one; the tile is a multiple of the block', () => {
    const n = 16
    const block = 4
    const m = blockDiffusionTiles(n, block, 8)
    const allowed = blockDiffusionMask(n, block)
    let row = 0
    let kept = 0
    m.tiles.forEach((t, i) => {
      const rows = t.shape[0]
      const cols = new Set(m.keys![i].flatMap(([k0, k1]) => Array.from({length: k1 - k0}, (_, j) => k0 + j)))
      for (let r = row; r < row + rows; r++) for (let k = 0; k < 2 * n; k++) if (allowed[r * 2 * n + k]) expect(cols.has(k), `row ${r} key ${k}`).toBe(true)
      kept += rows * cols.size
      row += rows
    })
    expect(row).toBe(2 * n)
    expect(kept).toBeLessThan(0.7 * (2 * n) ** 2)
    expect(() => blockDiffusionTiles(n, 4, 6)).toThrow('must be a multiple of the block')
    expect(blockDiffusionTile(255, 1)).toBeNull()
    expect(blockDiffusionTile(256, 4)).toBe(CAUSAL_BLOCK)
    expect(blockDiffusionTile(1024, 48)).toBe(144) // 48·round(128/48) = 48·3
  })
})

/** A block-diffusion batch: [x_t ‖ x_0] rows of n = 4 per half ([MASK] = 10), and the targets. */
const BD_BATCH = () => ({
  x: tokens([
    [10, 2, 10, 4, 1, 2, 3, 4],
    [6, 10, 10, 9, 6, 7, 8, 9],
  ]),
  y: tokens([
    [1, 2, 3, 4],
    [6, 7, 8, 9],
  ]),
})

/**
 * The analytic gradient of `loss` against central differences (eps 1e-2) on the first and last
 * entry of every parameter of `w` (the model's current weights, restored at the end); `names`:
 * the parameters that must get a gradient, in order.
 */
function expectFiniteDifferences(model: GPT, w: Map<string, Float32Array>, loss: () => tf.Scalar, names: string[]): void {
  const {grads} = tf.variableGrads(loss)
  const byParam = model.gradsByParam(grads)
  expect([...byParam.keys()]).toEqual(names)
  const eps = 1e-2
  for (const [name, values] of w) {
    const g = byParam.get(name)!.dataSync()
    for (const i of [0, values.length - 1]) {
      const at = (d: number) => {
        const v = Float32Array.from(values)
        v[i] += d
        model.loadWeights(new Map(w).set(name, v))
        return tf.tidy(() => loss().dataSync()[0])
      }
      const fd = (at(eps) - at(-eps)) / (2 * eps)
      const tol = 1e-2 * Math.max(Math.abs(fd), Math.abs(g[i])) + 2e-4
      expect(Math.abs(fd - g[i]), `${name}[${i}]: fd ${fd} vs analytic ${g[i]}`).toBeLessThanOrEqual(tol)
    }
  }
  model.loadWeights(w)
  tf.dispose(grads)
}

describe('GPT', () => {
  it('whole-model loss: finite differences on two entries of every parameter (+ z-loss)', () => {
    for (const cfg of [
      {...tiny, unique_blocks: 2, loops: 2, embed_dim: 6}, // recurrence, U-Net, factored, tied
      {...tiny, unique_blocks: 3, tie_embeddings: false, qk_norm: false, logit_softcap: null}, // untied, odd L
    ]) {
      const model = build(cfg)
      const w = randomize(model, 100)
      const x = tokens(X)
      const y = tokens(Y)
      expectFiniteDifferences(model, w, () => model.loss(x, y, {zLoss: 1e-2}), paramSpecs(cfg, DEFAULT_PATTERNS).map((s) => s.name))
      model.dispose()
    }
  })

  it('block diffusion, whose last layer computes only the x_t rows: finite differences on two entries of every parameter', () => {
    const layout = {attention: {kind: 'block-diffusion' as const, block: 2}, suppress: 10}
    const {x, y} = BD_BATCH()
    for (const cfg of [
      {...tiny, unique_blocks: 2, loops: 2}, // the last application reuses block 1; U-Net, x0 mix
      {...tiny, unique_blocks: 3, tie_embeddings: false, unet_skips: false}, // untied, odd L
    ]) {
      const model = build(cfg)
      const w = randomize(model, 300)
      expectFiniteDifferences(model, w, () => model.loss(x, y, layout), paramSpecs(cfg, DEFAULT_PATTERNS).map((s) => s.name))
      model.dispose()
    }
  })

  it('block diffusion with the clean half detached: the same loss; the gradient without the clean context path, which one block has none of', () => {
    const {x, y} = BD_BATCH()
    const model = build({...tiny, unique_blocks: 2, loops: 2})
    randomize(model, 301)
    const run = (block: number, cleanGradient?: boolean) => {
      const opts = {attention: {kind: 'block-diffusion' as const, block, cleanGradient}, suppress: 10}
      const once = () => {
        const {value, grads} = tf.variableGrads(() => model.loss(x, y, opts))
        const byParam = model.gradsByParam(grads)
        const out = {loss: value.dataSync()[0], grads: new Map([...byParam].map(([k, g]) => [k, Float32Array.from(g.dataSync())]))}
        tf.dispose([value, ...Object.values(grads), ...byParam.values()])
        return out
      }
      once() // the model's mask and RoPE caches fill on first use
      const before = tf.memory().numTensors
      const out = once()
      expect(tf.memory().numTensors, 'no tensor left behind').toBe(before)
      return out
    }
    const diff = (a: Map<string, Float32Array>, b: Map<string, Float32Array>) => {
      let d = 0
      let m = 0
      for (const [k, g] of a) for (let i = 0; i < g.length; i++) {
        d = Math.max(d, Math.abs(g[i] - b.get(k)![i]))
        m = Math.max(m, Math.abs(g[i]))
      }
      return d / m
    }
    for (const block of [1, 2, 4]) {
      const joint = run(block)
      const detached = run(block, false)
      expect(Math.abs(detached.loss - joint.loss), `block ${block}: loss`).toBeLessThan(1e-6 * Math.abs(joint.loss))
      // one block of n: the noisy block sees no clean block, so nothing flows through them
      if (block === 4) expect(diff(detached.grads, joint.grads)).toBeLessThan(1e-6)
      else expect(diff(detached.grads, joint.grads), `block ${block}: the clean path carries gradient`).toBeGreaterThan(1e-3)
    }
    // halves of two query tiles (n = 2·128): both passes tiled, the clean one block-causal on itself
    const n = 2 * blockDiffusionTile(256, 4)!
    const seq = Array.from({length: n}, (_, i) => (i * 7 + 3) % 10)
    const noisy = seq.map((t, i) => (i % 3 === 0 ? 10 : t))
    const long = {x: tokens([[...noisy, ...seq]]), y: tokens([seq])}
    const longLoss = (cleanGradient?: boolean) => tf.tidy(() => model.loss(long.x, long.y, {attention: {kind: 'block-diffusion', block: 4, cleanGradient}, suppress: 10}).dataSync()[0])
    expect(Math.abs(longLoss(false) - longLoss()) / longLoss()).toBeLessThan(1e-6)
    // the scores do not depend on it
    const logits = (cleanGradient?: boolean) => Array.from(model.forward(x, {attention: {kind: 'block-diffusion', block: 2, cleanGradient}, suppress: 10}).dataSync())
    const [a, b] = [logits(), logits(false)]
    expect(Math.max(...a.map((v, i) => (Number.isFinite(v) ? Math.abs(v - b[i]) : 0)))).toBeLessThan(1e-5)
    model.dispose()
  })

  it('causal: changing token t leaves logits before t unchanged (bit for bit); bidirectional does not', () => {
    const model = build(tiny)
    randomize(model, 200)
    const a = tokens([[1, 2, 3, 4, 5]])
    const b = tokens([[1, 2, 3, 9, 5]])
    const la = model.forward(a).arraySync()[0]
    const lb = model.forward(b).arraySync()[0]
    expect(lb.slice(0, 3)).toEqual(la.slice(0, 3))
    expect(lb[3]).not.toEqual(la[3])
    const ba = model.forward(a, {causal: false}).arraySync()[0]
    const bb = model.forward(b, {causal: false}).arraySync()[0]
    for (let t = 0; t < 3; t++) expect(bb[t]).not.toEqual(ba[t])
    model.dispose()
  })

  it('long sequences attend in tiles: logits of T = 2·CAUSAL_BLOCK match the one-tile run on a prefix; no leak', () => {
    const start = tf.memory().numTensors
    const model = build(tiny)
    randomize(model, 250)
    const T = 2 * CAUSAL_BLOCK
    const P = CAUSAL_BLOCK + 3 // < 2·CAUSAL_BLOCK: one tile, the full path
    const row = Array.from(uniformValues(T, 251), (u) => Math.floor((u + 1) * 5.5))
    const [x, xp] = [tokens([row]), tokens([row.slice(0, P)])]
    const logits = (t: tf.Tensor2D) => {
      const y = model.forward(t)
      const out = Float32Array.from(y.dataSync() as Float32Array)
      y.dispose()
      return out
    }
    const long = logits(x) // (1, T, V), two tiles
    const prefix = logits(xp)
    expect(maxAbsDiff(long.subarray(0, prefix.length), prefix)).toBeLessThanOrEqual(1e-5 * maxAbs(prefix))
    const cached = tf.memory().numTensors
    expect(logits(x)).toEqual(long)
    expect(tf.memory().numTensors).toBe(cached)
    model.dispose()
    tf.dispose([x, xp])
    expect(tf.memory().numTensors).toBe(start) // the mask tiles and rotary tables of both T went with the model
  })

  it('depth recurrence = the unrolled model with copied blocks (K=2, R=3 ≡ K=6, R=1)', () => {
    const shared = build({...tiny, unique_blocks: 2, loops: 3})
    const w = randomize(shared, 300)
    const unrolled = build({...tiny, unique_blocks: 6, loops: 1})
    const u = new Map<string, Float32Array>()
    for (const s of unrolled.specs) {
      const m = /^blocks\.(\d+)\.(.*)$/.exec(s.name)
      u.set(s.name, m ? w.get(`blocks.${Number(m[1]) % 2}.${m[2]}`)! : w.get(s.name)!)
    }
    unrolled.loadWeights(u)
    expect(shared.params.get('skip_weights')!.shape).toEqual([3, 8])
    expect(Array.from(shared.forward(tokens(X)).dataSync())).toEqual(Array.from(unrolled.forward(tokens(X)).dataSync()))
    shared.dispose()
    unrolled.dispose()
  })

  it('GQA: KV=1 equals KV=2 with the single KV head duplicated', () => {
    const one = build({...tiny, num_kv_heads: 1})
    const w = randomize(one, 400)
    const two = build({...tiny, num_kv_heads: 2})
    const w2 = new Map(w)
    for (const [name, v] of w) {
      if (/attn\.c_[kv]\.weight$/.test(name)) {
        const dup = new Float32Array(v.length * 2)
        dup.set(v)
        dup.set(v, v.length)
        w2.set(name, dup)
      }
    }
    two.loadWeights(w2)
    const a = one.forward(tokens(X)).dataSync()
    const b = two.forward(tokens(X)).dataSync()
    for (let i = 0; i < a.length; i++) expect(b[i]).toBeCloseTo(a[i], 5)
    one.dispose()
    two.dispose()
  })

  it('factored embedding: forward gives (B, T, V) logits', () => {
    const model = build({...tiny, embed_dim: 4, tie_embeddings: false})
    expect(model.params.get('tok_emb.weight')!.shape).toEqual([11, 4])
    expect(model.forward(tokens(X)).shape).toEqual([2, 5, 11])
    model.dispose()
  })

  it('params match paramSpecs (order, shapes) and the init rules', () => {
    const cfg = {...tiny, embed_dim: 6}
    const model = build(cfg, 7)
    expect([...model.params].map(([n, v]) => [n, v.shape])).toEqual(paramSpecs(cfg, DEFAULT_PATTERNS).map((s) => [s.name, s.shape]))
    const w = model.weights()
    expect(w.get('blocks.0.attn.proj.weight')!.every((v) => v === 0)).toBe(true)
    expect(w.get('blocks.1.mlp.proj.weight')!.every((v) => v === 0)).toBe(true)
    expect(Array.from(w.get('blocks.0.attn.q_gain')!)).toEqual([1.5, 1.5])
    expect(Array.from(w.get('blocks.0.resid_mix')!)).toEqual([1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0])
    expect(w.get('skip_weights')!.every((v) => v === 1)).toBe(true)
    const fc = w.get('blocks.0.mlp.fc.weight')!
    expect(fc.every((v) => Math.abs(v) <= 1 / Math.sqrt(8))).toBe(true)
    expect(new Set(fc).size).toBe(fc.length)
    const emb = w.get('tok_emb.weight')!
    const std = Math.sqrt(emb.reduce((a, v) => a + v * v, 0) / emb.length)
    expect(std).toBeGreaterThan(0.0035)
    expect(std).toBeLessThan(0.0065)
    // same seed → same weights; another seed → different
    const again = build(cfg, 7)
    const other = build(cfg, 8)
    expect(again.weights()).toEqual(w)
    expect(other.weights().get('blocks.0.mlp.fc.weight')).not.toEqual(fc)
    for (const m of [model, again, other]) m.dispose()
  })

  it('loss of a fresh model ≈ ln V (exactly ln V untied: zero-init head)', () => {
    const tied = build(tiny)
    const untied = build({...tiny, tie_embeddings: false})
    expect(tied.loss(tokens(X), tokens(Y)).dataSync()[0]).toBeCloseTo(Math.log(11), 1)
    expect(untied.loss(tokens(X), tokens(Y)).dataSync()[0]).toBeCloseTo(Math.log(11), 6)
    const per = untied.lossPerToken(tokens(X), tokens(Y))
    expect(per.shape).toEqual([2, 5])
    tied.dispose()
    untied.dispose()
  })

  it('lossPerToken averages to loss; z-loss adds coef·mean(lse²)', () => {
    const model = build(tiny)
    randomize(model, 500)
    const per = model.lossPerToken(tokens(X), tokens(Y)).dataSync() as Float32Array
    const mean = per.reduce((a, b) => a + b, 0) / per.length
    expect(model.loss(tokens(X), tokens(Y)).dataSync()[0]).toBeCloseTo(mean, 5)
    const logits = model.forward(tokens(X)).arraySync().flat()
    const lse2 = logits.map((row) => Math.log(row.reduce((a, v) => a + Math.exp(v), 0)) ** 2)
    const z = lse2.reduce((a, b) => a + b, 0) / lse2.length
    expect(model.loss(tokens(X), tokens(Y), {zLoss: 0.1}).dataSync()[0]).toBeCloseTo(mean + 0.1 * z, 4)
    model.dispose()
  })

  it('exactness: quantActive logits equal, bit for bit, those of a float model loaded from dequantizedWeights()', () => {
    const cfg = {...tiny, unique_blocks: 2, loops: 2, embed_dim: 6}
    const patterns = [...DEFAULT_PATTERNS, 'embed_proj.weight']
    const a = build(cfg, 1, patterns)
    const raw = randomize(a, 600)
    a.quantActive = true
    const deq = a.dequantizedWeights()
    // ternary tensors hold q·d (each row ∈ {−d, 0, d} with groupSize 'row'); others are untouched
    const cq = deq.get('blocks.0.attn.c_q.weight')!
    expect(cq).not.toEqual(raw.get('blocks.0.attn.c_q.weight'))
    for (let r = 0; r < 8; r++) expect(new Set(Array.from(cq.slice(r * 8, r * 8 + 8), Math.abs)).size).toBeLessThanOrEqual(2)
    expect(deq.get('tok_emb.weight')).toEqual(raw.get('tok_emb.weight'))
    const b = build(cfg, 99, patterns)
    b.loadWeights(deq)
    const la = a.forward(tokens(X)).dataSync()
    const lb = b.forward(tokens(X)).dataSync()
    expect(Array.from(lb)).toEqual(Array.from(la))
    // straight-through: the gradient w.r.t. a shadow weight is the gradient w.r.t. its q·d
    const ga = tf.variableGrads(() => a.loss(tokens(X), tokens(Y))).grads
    const gb = tf.variableGrads(() => b.loss(tokens(X), tokens(Y))).grads
    const [gaByParam, gbByParam] = [a.gradsByParam(ga), b.gradsByParam(gb)]
    for (const name of ['blocks.1.mlp.fc.weight', 'embed_proj.weight', 'tok_emb.weight']) {
      expect(Array.from(gaByParam.get(name)!.dataSync()), name).toEqual(Array.from(gbByParam.get(name)!.dataSync()))
    }
    tf.dispose([ga, gb])
    a.quantActive = false
    expect(Array.from(a.forward(tokens(X)).dataSync())).not.toEqual(Array.from(la))
    a.dispose()
    b.dispose()
  })

  it('no tensor leak across forward/backward steps, with quantization on', () => {
    const model = build({...tiny, loops: 2})
    randomize(model, 700)
    model.quantActive = true
    const x = tokens(X)
    const y = tokens(Y)
    const step = () =>
      tf.tidy(() => {
        const {value, grads} = tf.variableGrads(() => model.loss(x, y, {zLoss: 1e-4}))
        for (const [name, g] of model.gradsByParam(grads)) {
          const v = model.params.get(name)!
          v.assign(tf.sub(v, tf.mul(g, 1e-3)))
        }
        tf.dispose(grads)
        value.dispose()
        model.forward(x, {causal: false}).dispose()
        model.lossPerToken(x, y).dispose()
      })
    step() // builds the rotary/mask caches
    const before = tf.memory().numTensors
    for (let i = 0; i < 5; i++) step()
    expect(tf.memory().numTensors).toBe(before)
    model.dispose()
    expect(tf.memory().numTensors).toBe(before - model.params.size - 3) // params + cos, sin, mask
  })

  it('loadWeights rejects a missing, mis-sized or unknown tensor, naming it, and changes nothing', () => {
    const model = build(tiny)
    const w = model.weights()
    const missing = new Map(w)
    missing.delete('blocks.1.attn.c_k.weight')
    expect(() => model.loadWeights(missing)).toThrow(InputError)
    expect(() => model.loadWeights(missing)).toThrow('weights: missing tensor "blocks.1.attn.c_k.weight" (shape [4, 8])')
    expect(() => model.loadWeights(new Map(w).set('tok_emb.weight', new Float32Array(3)))).toThrow(
      'weights: tensor "tok_emb.weight" has 3 values, expected shape [11, 8] = 88',
    )
    const extra = new Map(w).set('lm_head.weight', new Float32Array(88))
    extra.set('skip_weights', new Float32Array(8).fill(5))
    expect(() => model.loadWeights(extra)).toThrow('weights: unexpected tensor "lm_head.weight" (not a parameter of this model config)')
    expect(model.weights()).toEqual(w)
    model.dispose()
  })

  it('rejects a ternary group size that does not divide a ternary tensor, naming it', () => {
    expect(() => new GPT(tiny, {seed: 1, ternary: {patterns: DEFAULT_PATTERNS, config: {...TERNARY, groupSize: 16}}})).toThrow(
      'blocks.0.attn.c_q.weight: ternary: group size 16 does not divide the input dimension 8 of a [8, 8] weight',
    )
  })
})
