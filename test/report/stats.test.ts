import {describe, expect, it} from 'vitest'

import {judgeAblation, LEADERBOARD_ALPHA, mean, oneSampleTTest, recordSignificance, sampleStd, studentTCdf, welchTTest, welchVsRecord} from '../../src/report/stats.js'

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

describe('the Student-t CDF (the regularized incomplete beta, not a normal approximation)', () => {
  it('matches the tables', () => {
    // one-sided tails: t = 2.0 at 5 dof is 0.05097; 3.365 is the 1% point at 5 dof
    expect(studentTCdf(-2.0, 5)).toBeCloseTo(0.05097, 5)
    expect(studentTCdf(-2.0, 5)).toBeCloseTo(0.050969739414929174, 12)
    expect(studentTCdf(-3.365, 5)).toBeCloseTo(0.01, 4)
    expect(studentTCdf(-3.365, 5)).toBeCloseTo(0.00999923625287086, 12)
    expect(studentTCdf(2.0, 5)).toBeCloseTo(1 - 0.050969739414929174, 12)
    expect(studentTCdf(0, 3)).toBe(0.5)
    // 1 dof is the Cauchy distribution: P(T ≤ −1) = 1/4 exactly
    expect(studentTCdf(-1, 1)).toBeCloseTo(0.25, 14)
    // the normal tail at t = −2 is 0.0228: far from 0.0510 with 5 dof
    expect(studentTCdf(-2.0, 5) - 0.0228).toBeGreaterThan(0.028)
  })
})

describe('Welch against the previous record, by hand', () => {
  // ours: 2.0, 2.2, 2.4 (mean 2.2, s² = 0.04, s²/n = 1/75); the record's: 2.4, 2.6 (mean 2.5, s² = 0.02, s²/n = 1/100)
  // t = (2.2 − 2.5) / √(1/75 + 1/100) = −0.3 / √(7/300) = −√(27/7)
  // Welch–Satterthwaite: (7/300)² / ((1/75)²/2 + (1/100)²/1) = (49/90000) / (8/90000 + 9/90000) = 49/17
  const ours = [2.0, 2.2, 2.4]
  const record = [2.4, 2.6]
  const t = -Math.sqrt(27 / 7)
  const dof = 49 / 17

  it('t, dof and the one-sided p from the t distribution', () => {
    const w = welchTTest(ours, record)
    expect(w.t).toBeCloseTo(t, 12)
    expect(w.dof).toBeCloseTo(dof, 12)
    expect(w.pLess).toBeCloseTo(studentTCdf(t, dof), 14)
    expect(w.pLess).toBeCloseTo(0.0740139409019490, 10) // scipy.stats.ttest_ind(equal_var=False, alternative='less')
  })

  it('passes the leaderboard cutoff p < 0.25, with its statement', () => {
    const v = welchVsRecord(ours, record)
    expect(v).toMatchObject({alpha: LEADERBOARD_ALPHA, passes: true})
    expect(v.mean_bpb).toBeCloseTo(2.2, 14)
    expect(v.sota_mean_bpb).toBeCloseTo(2.5, 14)
    expect(v.delta_bpb).toBeCloseTo(-0.3, 14)
    expect(v.t).toBeCloseTo(t, 12)
    expect(v.dof).toBeCloseTo(dof, 12)
    expect(v.statement).toBe("Passes the leaderboard's practice: mean val_bpb 2.20000 (3 seeds) vs the previous record's 2.50000 (2 seeds); one-sided Welch t = -1.964, dof 2.88, p = 0.0740 < 0.25.")
    // worse than the record: p > 0.5, does not pass
    const worse = welchVsRecord([2.6, 2.7, 2.8], record)
    expect(worse.passes).toBe(false)
    expect(worse.p!).toBeGreaterThan(0.5)
    expect(worse.statement).toMatch(/^Does not pass the leaderboard's practice: .* ≥ 0\.25\.$/)
  })

  it('with one seed on a side there is no test', () => {
    expect(welchVsRecord([2.2], record)).toMatchObject({t: null, dof: null, p: null, passes: false, statement: "No Welch test is possible with fewer than 2 seeds on a side; mean val_bpb 2.20000 (1 seed) vs the previous record's 2.50000 (2 seeds)."})
    expect(welchVsRecord(ours, [2.5]).p).toBeNull()
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

  it('the README rule needs Δ ≥ 0.005 nats and p < 0.01; the Welch test runs only with the record’s seeds', () => {
    const s = recordSignificance(loss, bpb, 2.1)
    expect(s.delta_nats).toBeCloseTo(2.1 * 0.693 - mean(loss), 12)
    expect(s).toMatchObject({margin_nats: 0.005, alpha: 0.01, welch: null})
    // Δ = 0.004 nats: below the margin, not a record however tight the seeds
    const tight = [1.4100, 1.4101, 1.4102]
    const near = recordSignificance(tight, tight.map((l) => l / 0.693), (1.4101 + 0.004) / 0.693)
    expect(near.delta_nats).toBeCloseTo(0.004, 10)
    expect(near.record).toBe(false)
    const withSeeds = recordSignificance(loss, bpb, 2.1, {sotaSeedsBpb: [2.09, 2.1, 2.11]})
    expect(withSeeds.welch).toEqual(welchVsRecord(bpb, [2.09, 2.1, 2.11]))
    expect(withSeeds.welch!.passes).toBe(true)
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
