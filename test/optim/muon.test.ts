import '@tensorflow/tfjs-backend-cpu'
import * as tf from '@tensorflow/tfjs-core'
import {beforeAll, describe, expect, it} from 'vitest'

import {Muon, newtonSchulz5, newtonSchulz5Flops, newtonSchulz5Gram, newtonSchulz5Standard} from '../../src/optim/muon.js'
import type {ParamRef} from '../../src/optim/types.js'
import {
  denseF32,
  denseMatmul,
  denseNormal,
  flat,
  matmul,
  maxAbsDiff,
  muonStep,
  ns5,
  ns5Dense,
  randMat,
  relFrobenius,
  symEigenvalues,
  T,
  type Dense,
  type Mat,
  type MuonRefState,
} from './reference.js'

beforeAll(async () => {
  await tf.setBackend('cpu')
})

const toMat = (t: tf.Tensor): Mat => t.arraySync() as Mat
const param = (name: string, m: Mat): ParamRef => ({name, variable: tf.variable(tf.tensor2d(m), true), group: 'matrix'})

describe('symEigenvalues (test reference)', () => {
  it('finds the eigenvalues of a known symmetric matrix', () => {
    // [[2,1],[1,2]] has eigenvalues 1 and 3; [[4,0,0],[0,1,0],[0,0,9]] its diagonal
    expect(symEigenvalues([[2, 1], [1, 2]]).sort()).toEqual([expect.closeTo(1, 12), expect.closeTo(3, 12)])
    expect(symEigenvalues([[4, 0, 0], [0, 1, 0], [0, 0, 9]]).sort((a, b) => a - b)).toEqual([1, 4, 9])
  })
})

describe('newtonSchulz5', () => {
  for (const [rows, cols, seed] of [[8, 16, 1], [16, 8, 2]] as const) {
    it(`${rows}×${cols}: singular values land in about [0.7, 1.2]`, () => {
      const g = tf.tensor2d(randMat(rows, cols, seed))
      const x = toMat(newtonSchulz5(g, 5))
      // the Gram matrix of the short side holds the squared singular values
      const gram = rows <= cols ? matmul(x, T(x)) : matmul(T(x), x)
      const sv = symEigenvalues(gram).map(Math.sqrt)
      expect(sv).toHaveLength(Math.min(rows, cols))
      for (const s of sv) {
        expect(s).toBeGreaterThan(0.6)
        expect(s).toBeLessThan(1.25)
      }
      // the input was far from orthogonal: its singular values spread widely
      const gsv = symEigenvalues(rows <= cols ? matmul(randMat(rows, cols, seed), T(randMat(rows, cols, seed))) : matmul(T(randMat(rows, cols, seed)), randMat(rows, cols, seed))).map(Math.sqrt)
      expect(Math.max(...gsv) / Math.min(...gsv)).toBeGreaterThan(2.5)
    })

    it(`${rows}×${cols}: equals the float64 reference iteration to 1e-4`, () => {
      const m = randMat(rows, cols, seed + 10)
      const out = newtonSchulz5(tf.tensor2d(m), 5)
      expect(out.shape).toEqual([rows, cols])
      expect(maxAbsDiff(out.dataSync(), flat(ns5(m, 5)))).toBeLessThan(1e-4)
    })
  }

  it('is scale-invariant and does not dispose or change its input', () => {
    const m = randMat(6, 4, 3)
    const g = tf.tensor2d(m)
    const a = newtonSchulz5(g, 5).dataSync()
    const b = newtonSchulz5(tf.mul(g, 1000) as tf.Tensor2D, 5).dataSync()
    expect(maxAbsDiff(a, b)).toBeLessThan(1e-5)
    expect(g.isDisposed).toBe(false)
    expect(maxAbsDiff(g.dataSync(), flat(m))).toBe(0)
  })
})

/** Test matrices for the two Newton–Schulz formulations (float32-exact, float64 storage). */
const nsInputs: Record<string, (rows: number, cols: number, seed: number) => Dense> = {
  gaussian: (rows, cols, seed) => denseF32(denseNormal(rows, cols, seed)),
  // rank 8 plus noise 1e-3 times smaller: singular values 8 big, the rest ~1e-3 of them
  'rank 8 + small noise': (rows, cols, seed) => {
    const lr = denseMatmul(denseNormal(rows, 8, seed), denseNormal(8, cols, seed + 1))
    const noise = denseNormal(rows, cols, seed + 2)
    return denseF32({...lr, data: lr.data.map((v, i) => v + 1e-3 * Math.sqrt(8) * noise.data[i])})
  },
  // singular values falling like 1/i² (as real gradients do, only faster): condition ~ 1e4–1e5
  'spectrum 1/i²': (rows, cols, seed) => {
    const k = Math.min(rows, cols)
    const left = denseNormal(rows, k, seed)
    left.data = left.data.map((v, i) => v / ((i % k) + 1) ** 2)
    return denseF32(denseMatmul(left, denseNormal(k, cols, seed + 1)))
  },
  // singular values falling geometrically over six decades
  'spectrum 10^(-6i/k)': (rows, cols, seed) => {
    const k = Math.min(rows, cols)
    const left = denseNormal(rows, k, seed)
    left.data = left.data.map((v, i) => v * 10 ** ((-6 * (i % k)) / k))
    return denseF32(denseMatmul(left, denseNormal(k, cols, seed + 1)))
  },
}

/** Relative Frobenius errors of both formulations against the float64 standard iteration. */
function nsErrors(g: Dense, steps: number): {standard: number; gram: number} {
  const ref = ns5Dense(g, steps).data
  const t = tf.tensor2d(Float32Array.from(g.data), [g.rows, g.cols])
  const [s, m] = [newtonSchulz5Standard(t, steps), newtonSchulz5Gram(t, steps)]
  const out = {standard: relFrobenius(s.dataSync(), ref), gram: relFrobenius(m.dataSync(), ref)}
  tf.dispose([t, s, m])
  return out
}

describe('newtonSchulz5: standard and Gram formulations', () => {
  it('counts matMul FLOPs exactly: standard steps·(4r²c + 2r³), Gram 4n·r²c + (8·steps − 6n)·r³ with n = ⌈steps/3⌉', () => {
    // 256 × 1024 at 5 steps, Gram in two phases (3 + 2): 8r²c + 28r³
    expect(newtonSchulz5Flops(256, 1024, 5)).toEqual({standard: 1_509_949_440, gram: 1_006_632_960})
    expect(1_006_632_960).toBe(8 * 256 * 256 * 1024 + 28 * 256 ** 3)
    expect(newtonSchulz5Flops(1024, 256, 5)).toEqual(newtonSchulz5Flops(256, 1024, 5)) // tall = its transpose
    expect(newtonSchulz5Flops(256, 256, 5)).toEqual({standard: 30 * 256 ** 3, gram: 36 * 256 ** 3})
    expect(newtonSchulz5Flops(10, 100, 3)).toEqual({standard: 3 * (40_000 + 2000), gram: 40_000 + 18 * 1000}) // one phase
    expect(newtonSchulz5Flops(10, 100, 7)).toEqual({standard: 7 * (40_000 + 2000), gram: 3 * 40_000 + 38 * 1000}) // phases 3 + 2 + 2
    expect(newtonSchulz5Flops(10, 100, 1)).toEqual({standard: 42_000, gram: 42_000})
    expect(newtonSchulz5Flops(10, 100, 0)).toEqual({standard: 0, gram: 0})
  })

  it('runs Gram exactly when it is cheaper: c > 1.5·r (steps ≥ 2), for wide and tall inputs', () => {
    const cases: Array<[number, number, number, 'gram' | 'standard']> = [
      [16, 64, 5, 'gram'],
      [64, 16, 5, 'gram'],
      [16, 25, 5, 'gram'],
      [16, 24, 5, 'standard'], // c = 1.5·r: equal cost, keep the standard loop
      [24, 16, 5, 'standard'],
      [16, 16, 5, 'standard'],
      [16, 64, 2, 'gram'],
      [16, 64, 1, 'standard'], // one step: equal cost
    ]
    for (const [rows, cols, steps, want] of cases) {
      const g = tf.tensor2d(randMat(rows, cols, rows + cols + steps))
      const [got, std, gram] = [newtonSchulz5(g, steps), newtonSchulz5Standard(g, steps), newtonSchulz5Gram(g, steps)]
      const bits = (t: tf.Tensor) => Buffer.from(t.dataSync().buffer)
      expect(bits(std).equals(bits(gram)), `${rows}×${cols}: the two paths differ in the last bits`).toBe(false)
      expect(bits(got), `${rows}×${cols}, ${steps} steps`).toEqual(bits(want === 'gram' ? gram : std))
      const f = newtonSchulz5Flops(rows, cols, steps)
      expect(f.gram < f.standard).toBe(want === 'gram')
      tf.dispose([g, got, std, gram])
    }
  })

  const accuracyCases = [
    ...Object.keys(nsInputs).map((kind) => [128, 512, kind] as const),
    [512, 128, 'gaussian'] as const,
    [512, 128, 'spectrum 1/i²'] as const,
  ]
  for (const [rows, cols, kind] of accuracyCases) {
    it(`${rows}×${cols}, ${kind}: Gram within 1e-4 relative Frobenius of float64, and within 2× the standard loop's error`, () => {
      const e = nsErrors(nsInputs[kind](rows, cols, rows + 7), 5)
      expect(e.standard).toBeLessThan(1e-4)
      expect(e.gram).toBeLessThan(1e-4)
      expect(e.gram).toBeLessThan(2 * e.standard + 1e-6)
    })
  }

  it('holds its accuracy for 1 to 8 steps (1 to 3 restarted phases) on an ill-conditioned input', () => {
    const g = nsInputs['spectrum 1/i²'](32, 160, 3)
    for (let steps = 1; steps <= 8; steps++) {
      const e = nsErrors(g, steps)
      expect(e.gram, `${steps} steps`).toBeLessThan(2 * e.standard + 1e-6)
      expect(e.gram, `${steps} steps`).toBeLessThan(1e-4)
    }
  })

  it('keeps the shape of tall and wide inputs, does not touch the input, and leaks no tensor', () => {
    for (const [rows, cols] of [[12, 40], [40, 12], [9, 9]] as const) {
      const m = randMat(rows, cols, rows * cols)
      const g = tf.tensor2d(m)
      const live = tf.memory().numTensors
      for (const fn of [newtonSchulz5, newtonSchulz5Standard, newtonSchulz5Gram]) {
        for (const steps of [0, 1, 5, 7]) {
          const out = fn(g, steps)
          expect(out.shape).toEqual([rows, cols])
          expect(tf.memory().numTensors).toBe(live + 1)
          out.dispose()
        }
      }
      expect(tf.memory().numTensors).toBe(live)
      expect(g.isDisposed).toBe(false)
      expect(maxAbsDiff(g.dataSync(), flat(m))).toBe(0)
      g.dispose()
    }
  })

  it('with 0 steps both return the normalized input g/(‖g‖_F + 1e-7)', () => {
    const m = randMat(5, 20, 77)
    const norm = Math.sqrt(flat(m).reduce((s, v) => s + v * v, 0))
    for (const fn of [newtonSchulz5Standard, newtonSchulz5Gram]) {
      expect(maxAbsDiff(fn(tf.tensor2d(m), 0).dataSync(), flat(m).map((v) => v / (norm + 1e-7)))).toBeLessThan(1e-7)
    }
  })
})

describe('Muon / NorMuon step', () => {
  const cases = [
    {label: 'Muon, nesterov, tall 6×4 (shape scale √1.5)', rows: 6, cols: 4, normuon: undefined, nesterov: true, wd: 0},
    {label: 'Muon, plain momentum, wide 4×6, weight decay', rows: 4, cols: 6, normuon: undefined, nesterov: false, wd: 0.1},
    {label: 'NorMuon, tall 6×4', rows: 6, cols: 4, normuon: {beta2: 0.95, eps: 1e-10}, nesterov: true, wd: 0},
    {label: 'NorMuon, wide 4×6, weight decay', rows: 4, cols: 6, normuon: {beta2: 0.9, eps: 1e-10}, nesterov: true, wd: 0.05},
  ]
  for (const c of cases) {
    it(`${c.label}: two steps match the float64 reference`, () => {
      const w0 = randMat(c.rows, c.cols, 21, 0.5)
      const p = param('w', w0)
      const opt = new Muon([p], {lr: 0.02, momentum: 0.95, nesterov: c.nesterov, nsSteps: 5, weightDecay: c.wd, normuon: c.normuon})
      const ref: MuonRefState = {buf: w0.map((r) => r.map(() => 0))}
      let w = w0
      const mus = [0.85, 0.9]
      const scales = [1, 0.5]
      for (let k = 0; k < 2; k++) {
        const g = randMat(c.rows, c.cols, 100 + k)
        const gt = tf.tensor2d(g)
        opt.step(new Map([['w', gt]]), scales[k], {momentum: mus[k]})
        expect(gt.isDisposed).toBe(false)
        w = muonStep(w, g, ref, {lr: 0.02 * scales[k], mu: mus[k], nesterov: c.nesterov, nsSteps: 5, wd: c.wd, normuon: c.normuon})
        expect(maxAbsDiff(p.variable.dataSync(), flat(w))).toBeLessThan(2e-6)
        gt.dispose()
      }
      expect(opt.stepCount).toBe(2)
      const st = opt.state()
      expect(maxAbsDiff(st.get('w/momentum_buffer')!, flat(ref.buf))).toBeLessThan(1e-5)
      if (c.normuon) expect(maxAbsDiff(st.get('w/second_momentum_buffer')!, ref.s!)).toBeLessThan(1e-6)
      opt.dispose()
      p.variable.dispose()
    })
  }

  it('first step from zero state: ΔW = −lr · √max(1, rows/cols) · NS5(G)', () => {
    // with zero state, U = (1 + μ)·G (nesterov), and NS5 is scale-invariant
    const g = randMat(8, 2, 5)
    const p = param('w', randMat(8, 2, 6))
    const before = p.variable.dataSync().slice()
    const opt = new Muon([p], {lr: 0.1, momentum: 0.9, nesterov: true, nsSteps: 5})
    opt.step(new Map([['w', tf.tensor2d(g)]]), 1)
    const delta = Array.from(before, (v, i) => v - p.variable.dataSync()[i])
    expect(maxAbsDiff(delta, flat(ns5(g, 5)).map((v) => v * 0.1 * 2))).toBeLessThan(1e-6)
  })

  it('state() / loadState() roundtrip: subsequent steps are identical bit for bit', () => {
    const run = (normuon: boolean) => {
      const a = param('w', randMat(5, 7, 31))
      const mk = (p: ParamRef) => new Muon([p], {lr: 0.03, momentum: 0.95, nesterov: true, nsSteps: 5, normuon: normuon ? {beta2: 0.95, eps: 1e-10} : null})
      const optA = mk(a)
      for (let k = 0; k < 3; k++) optA.step(new Map([['w', tf.tensor2d(randMat(5, 7, 40 + k))]]), 1, {momentum: 0.9})
      const saved = optA.state()
      const weights = a.variable.dataSync().slice()
      const b = param('w', randMat(5, 7, 99))
      b.variable.assign(tf.tensor2d(weights, [5, 7]))
      const optB = mk(b)
      optB.loadState(saved)
      expect(optB.stepCount).toBe(3)
      for (let k = 3; k < 6; k++) {
        const g = randMat(5, 7, 40 + k)
        optA.step(new Map([['w', tf.tensor2d(g)]]), 0.7, {momentum: 0.95})
        optB.step(new Map([['w', tf.tensor2d(g)]]), 0.7, {momentum: 0.95})
      }
      expect(Buffer.from(b.variable.dataSync().buffer)).toEqual(Buffer.from(a.variable.dataSync().buffer))
      const [sa, sb] = [optA.state(), optB.state()]
      expect([...sb.keys()]).toEqual([...sa.keys()])
      for (const [k, v] of sa) expect(Buffer.from(sb.get(k)!.buffer)).toEqual(Buffer.from(v.buffer))
    }
    run(false)
    run(true)
  })

  it('keeps the live tensor count constant over 20 steps', () => {
    const ps = [param('a', randMat(6, 4, 1)), param('b', randMat(3, 9, 2))]
    const opt = new Muon(ps, {lr: 0.02, momentum: 0.95, nesterov: true, nsSteps: 5, weightDecay: 0.01, normuon: {beta2: 0.95, eps: 1e-10}})
    const grads = new Map(ps.map((p) => [p.name, tf.randomNormal(p.variable.shape, 0, 1, 'float32', 7)]))
    opt.step(grads, 1)
    const live = tf.memory().numTensors
    for (let k = 0; k < 20; k++) opt.step(grads, 1, {momentum: 0.9})
    expect(tf.memory().numTensors).toBe(live)
    opt.dispose()
    expect(tf.memory().numTensors).toBe(live - 4) // two momentum buffers + two row moments freed
  })

  it('minimizes a least-squares problem ‖W·A − B‖² (Muon and NorMuon)', () => {
    for (const normuon of [null, {beta2: 0.95, eps: 1e-10}]) {
      const A = tf.tensor2d(randMat(6, 32, 51))
      const B = tf.matMul(tf.tensor2d(randMat(4, 6, 52)), A) // reachable target: the minimum is 0
      const p = param('w', randMat(4, 6, 53, 0.1))
      const loss = () => tf.tidy(() => tf.sum(tf.square(tf.sub(tf.matMul(p.variable, A), B))).dataSync()[0])
      const opt = new Muon([p], {lr: 0.1, momentum: 0.9, nesterov: true, nsSteps: 5, normuon})
      const start = loss()
      const steps = 150
      for (let k = 0; k < steps; k++) {
        const grad = tf.tidy(() => tf.mul(tf.matMul(tf.sub(tf.matMul(p.variable, A), B), A, false, true), 2)) // ∂/∂W = 2(WA − B)Aᵀ
        opt.step(new Map([['w', grad]]), 1 - k / steps)
        grad.dispose()
      }
      expect(loss()).toBeLessThan(start * 1e-3)
    }
  })

  it('rejects a parameter that is not a matrix and a gradient for an unknown name', () => {
    const v = tf.variable(tf.zeros([4]))
    expect(() => new Muon([{name: 'gain', variable: v, group: 'scalar'}], {lr: 0.1, momentum: 0.9, nesterov: true, nsSteps: 5})).toThrow(
      "Muon: parameter 'gain' has shape [4], Muon needs a 2-D matrix",
    )
    const opt = new Muon([param('w', [[1, 2]])], {lr: 0.1, momentum: 0.9, nesterov: true, nsSteps: 5})
    expect(() => opt.step(new Map([['x', tf.zeros([1, 2])]]), 1)).toThrow("Muon: gradient for unknown parameter 'x'")
    expect(() => opt.step(new Map([['w', tf.zeros([2, 1])]]), 1)).toThrow("Muon: gradient for 'w' has shape [2, 1], parameter is [1, 2]")
  })
})

/** Gauss–Jordan inverse of a small square matrix (float64 on the host). */
function inverse(m: tf.Tensor2D): tf.Tensor2D {
  const a = m.arraySync().map((row) => [...row])
  const n = a.length
  const inv = a.map((_, i) => a.map((__, j) => (i === j ? 1 : 0)))
  for (let c = 0; c < n; c++) {
    let piv = c
    for (let r = c + 1; r < n; r++) if (Math.abs(a[r][c]) > Math.abs(a[piv][c])) piv = r
    ;[a[c], a[piv]] = [a[piv], a[c]]
    ;[inv[c], inv[piv]] = [inv[piv], inv[c]]
    const d = a[c][c]
    for (let j = 0; j < n; j++) {
      a[c][j] /= d
      inv[c][j] /= d
    }
    for (let r = 0; r < n; r++) {
      if (r === c) continue
      const f = a[r][c]
      for (let j = 0; j < n; j++) {
        a[r][j] -= f * a[c][j]
        inv[r][j] -= f * inv[c][j]
      }
    }
  }
  return tf.tensor2d(inv)
}
