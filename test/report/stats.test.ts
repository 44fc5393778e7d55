import {describe, expect, it} from 'vitest'

import {judgeAblation, mean, oneSampleTTest, recordSignificance, sampleStd, welchTTest} from '../../src/report/stats.js'

// Reference values from scipy.stats (ttest_ind equal_var=False, ttest_1samp alternative='less').
describe('t-tests', () => {
  it('Welch matches scipy', () => {
    const w = welchTTest([1, 2, 3, 4], [2, 4, 6, 8, 10])
    expect(w.t).toBeCloseTo(-2.2514363231593695, 12)
    expect(w.dof).toBeCloseTo(5.520787746170677, 10)
    expect(w.pTwoSided).toBeCloseTo(0.06913359319239237, 8)
  })

  it('one-sample (Welch against a constant) matches scipy', () => {
    const t = oneSampleTTest([1.4075, 1.4103, 1.4061], 1.45)
    expect(t.t).toBeCloseTo(-34.04380003318645, 9)
    expect(t.dof).toBe(2)
    expect(t.pLess).toBeCloseTo(0.00043085615838543684, 10)
  })

  it('degenerate spreads are exact, not NaN', () => {
    expect(welchTTest([1, 1], [2, 2]).pTwoSided).toBe(0)
    expect(welchTTest([1, 1], [1, 1]).pTwoSided).toBe(1)
    expect(oneSampleTTest([1, 1, 1], 2).pLess).toBe(0)
    expect(oneSampleTTest([3, 3, 3], 2).pLess).toBe(1)
  })

  it('mean and sample std', () => {
    expect(mean([2.031, 2.035, 2.029])).toBeCloseTo(2.0316666666666667, 15)
    expect(sampleStd([2.031, 2.035, 2.029])).toBeCloseTo(0.0030550504633038, 14)
    expect(sampleStd([1])).toBeNull()
  })
})

describe('judgeAblation', () => {
  const main = [2.031, 2.035, 2.029] // σ = 0.003055, 2σ = 0.00611
  const sigma = sampleStd(main)

  it('single-seed ablation: |Δ| against 2σ of the main seeds', () => {
    const hurt = judgeAblation([2.0712], main, sigma)
    expect(hurt.delta).toBeCloseTo(0.0395333333, 9)
    expect(hurt).toMatchObject({verdict: 'hurts', basis: '|Δ| > 2σ = 0.0061', p: null})
    expect(judgeAblation([2.033], main, sigma)).toMatchObject({verdict: 'no measurable effect', basis: '|Δ| ≤ 2σ = 0.0061'})
    expect(judgeAblation([2.02], main, sigma).verdict).toBe('helps')
  })

  it('several seeds on both sides: Welch t-test at p < 0.05', () => {
    const j = judgeAblation([2.06, 2.064], main, sigma)
    expect(j.verdict).toBe('hurts')
    expect(j.basis).toMatch(/^Welch t-test p = 0\.\d{4} \(2 vs 3 seeds\)$/)
    expect(judgeAblation([2.03, 2.036], main, sigma).verdict).toBe('no measurable effect')
  })

  it('one main seed: no noise estimate, the documented floor', () => {
    expect(judgeAblation([2.038], [2.031], null)).toMatchObject({verdict: 'hurts', basis: 'no noise estimate (1 seed); |Δ| > floor 0.0050'})
    expect(judgeAblation([2.034], [2.031], null).verdict).toBe('no measurable effect')
    expect(judgeAblation([2.034], [2.031], null, 0.001).verdict).toBe('hurts')
  })
})

describe('recordSignificance', () => {
  const bpb = [2.031, 2.035, 2.029]
  const loss = bpb.map((b) => b * 0.693)

  it('converts the SOTA to nats with the runs’ own ratio and tests mean < SOTA − 0.005', () => {
    const s = recordSignificance(loss, bpb, 2.1)
    expect(s.nats_per_bpb).toBeCloseTo(0.693, 12)
    expect(s.sota_loss).toBeCloseTo(1.4553, 12)
    expect(s.threshold_loss).toBeCloseTo(1.4503, 12)
    const ref = oneSampleTTest(loss, 2.1 * 0.693 - 0.005)
    expect(s.p).toBeCloseTo(ref.pLess, 14)
    expect(s.record).toBe(true)
    expect(s.statement).toMatch(/^Significant: /)
  })

  it('says honestly when it is not significant, and when it cannot test', () => {
    const s = recordSignificance(loss, bpb, 2.04) // 0.0083 bpb better = 0.0058 nats: barely past the margin, noisy
    expect(s.record).toBe(false)
    expect(s.statement).toMatch(/^Not significant: .* This does not establish a record\.$/)
    const one = recordSignificance([loss[0]], [bpb[0]], 2.5)
    expect(one).toMatchObject({p: null, record: false})
    expect(one.statement).toMatch(/^No significance test is possible with 1 seed/)
  })
})
