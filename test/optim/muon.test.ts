import '@tensorflow/tfjs-backend-cpu'
import * as tf from '@tensorflow/tfjs-core'
import {beforeAll, describe, expect, it} from 'vitest'

import {Muon, newtonSchulz5} from '../../src/optim/muon.js'
import type {ParamRef} from '../../src/optim/types.js'
import {flat, matmul, maxAbsDiff, muonStep, ns5, randMat, symEigenvalues, T, type Mat, type MuonRefState} from './reference.js'

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
