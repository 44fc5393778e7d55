/**
 * The statistics a submission report makes claims with: mean and sample standard deviation,
 * Welch's t-test, the verdict on an ablation, and the two record rules.
 *
 * The README rule (openai/parameter-golf README, "Submission Process": new records "must beat
 * the existing SOTA by at least 0.005 nats" and "provide enough run logs to show at `p < 0.01`
 * that they achieved the required 0.005-nat improvement"). The best is published in bits per
 * byte; nats per token relate to bpb through the run's own tokens-per-byte ratio: val_loss =
 * val_bpb · ln 2 · bytes/tokens, so every run carries the factor k = val_loss / val_bpb (the
 * same for every run evaluated on the same split). The SOTA loss is sota_bpb · k, and the test
 * is one-sided:
 *   H0: mean val_loss ≥ sota_loss − 0.005   vs   H1: mean val_loss < sota_loss − 0.005.
 * The SOTA is a constant, so Welch's statistic reduces to the one-sample t with n − 1 degrees
 * of freedom: t = (mean − threshold) / (s / √n), p = P(T_{n−1} ≤ t). A record needs both the
 * observed improvement Δ = sota_loss − mean ≥ 0.005 nats and p < 0.01.
 *
 * The leaderboard's practice: records were accepted on a one-sided Welch t-test of the new
 * seeds against the previous record's seeds, with no margin (e.g. openai/parameter-golf#1812:
 * "Welch t = -54.93, df = 3.80, One-sided p < 1e-7"), and the leaderboard kept entries at
 * p < 0.25 ("the p<0.25 chronological progression cutoff", openai/parameter-golf#1902); fewer
 * than 15% of merged records met the README's 0.005-nat bar (openai/parameter-golf#2148). It is
 * computed on val_bpb (what records publish per seed; the t statistic does not change with the
 * unit when k is shared): t = (m₁ − m₂) / √(s₁²/n₁ + s₂²/n₂), degrees of freedom by
 * Welch–Satterthwaite, p = P(T_dof ≤ t).
 *
 * P(T ≤ t) is the Student-t CDF of @stdlib/stats-base-dists-t-cdf (through the regularized
 * incomplete beta function), not a normal approximation: with 3 seeds a side the two differ a
 * lot (t = 2, dof 5: p = 0.0510, the normal tail 0.0228).
 */
import tcdf from '@stdlib/stats-base-dists-t-cdf'

export const RECORD_MARGIN_NATS = 0.005
export const RECORD_ALPHA = 0.01
/** The leaderboard's cutoff for a one-sided Welch test against the previous record (openai/parameter-golf#1902). */
export const LEADERBOARD_ALPHA = 0.25
/** Two-sided level at which an ablation with several seeds counts as a measured effect. */
export const ABLATION_ALPHA = 0.05
/**
 * The noise floor (bpb) used when there is no noise estimate (a single main seed): an ablation
 * must move val_bpb by more than this to count. 0.005 bpb is about 2× the seed-to-seed standard
 * deviation published records show at full scale; small CPU runs are noisier, so pass more
 * seeds rather than trusting the floor.
 */
export const DEFAULT_NOISE_FLOOR_BPB = 0.005

export function mean(xs: readonly number[]): number {
  if (xs.length === 0) return NaN
  let s = 0
  for (const x of xs) s += x
  return s / xs.length
}

/** Sample standard deviation (n − 1); null for fewer than two values. */
export function sampleStd(xs: readonly number[]): number | null {
  if (xs.length < 2) return null
  const m = mean(xs)
  let s = 0
  for (const x of xs) s += (x - m) * (x - m)
  return Math.sqrt(s / (xs.length - 1))
}

export interface TTest {
  t: number
  dof: number
  /** P(T ≤ t): the one-sided p for "mean(a) is smaller". */
  pLess: number
  /** Two-sided p. */
  pTwoSided: number
}

/** P(T ≤ t) for Student's t with `dof` degrees of freedom (any real dof > 0, as Welch's are). */
export function studentTCdf(t: number, dof: number): number {
  return tcdf(t, dof)
}

/** Student-t probabilities for a statistic, with the degenerate (zero variance) cases made exact. */
function probabilities(t: number, dof: number): Pick<TTest, 'pLess' | 'pTwoSided'> {
  if (Number.isNaN(t)) return {pLess: 1, pTwoSided: 1} // no difference and no spread: no evidence
  if (t === -Infinity) return {pLess: 0, pTwoSided: 0}
  if (t === Infinity) return {pLess: 1, pTwoSided: 0}
  const pLess = studentTCdf(t, dof)
  return {pLess, pTwoSided: Math.min(1, 2 * Math.min(pLess, 1 - pLess))}
}

/** Welch's unequal-variance t-test of mean(a) − mean(b); both need ≥ 2 values. */
export function welchTTest(a: readonly number[], b: readonly number[]): TTest {
  if (a.length < 2 || b.length < 2) throw new Error('welchTTest needs at least two values in each sample')
  const va = sampleStd(a)! ** 2 / a.length
  const vb = sampleStd(b)! ** 2 / b.length
  const diff = mean(a) - mean(b)
  const se = Math.sqrt(va + vb)
  const t = se === 0 ? (diff === 0 ? NaN : diff > 0 ? Infinity : -Infinity) : diff / se
  const dof = se === 0 ? a.length + b.length - 2 : (va + vb) ** 2 / (va ** 2 / (a.length - 1) + vb ** 2 / (b.length - 1))
  return {t, dof, ...probabilities(t, dof)}
}

/** One-sample t-test of mean(xs) − mu0 (Welch against a constant); needs ≥ 2 values. */
export function oneSampleTTest(xs: readonly number[], mu0: number): TTest {
  if (xs.length < 2) throw new Error('oneSampleTTest needs at least two values')
  const se = sampleStd(xs)! / Math.sqrt(xs.length)
  const diff = mean(xs) - mu0
  const t = se === 0 ? (diff === 0 ? NaN : diff > 0 ? Infinity : -Infinity) : diff / se
  const dof = xs.length - 1
  return {t, dof, ...probabilities(t, dof)}
}

export type Verdict = 'hurts' | 'no measurable effect' | 'helps'

export interface AblationJudgement {
  /** mean(ablation) − mean(reference), bpb: positive = worse. */
  delta: number
  verdict: Verdict
  /** How the verdict was reached, one line for the README. */
  basis: string
  /** Welch p (two-sided) when both sides have ≥ 2 seeds. */
  p: number | null
}

/**
 * Judge an ablation against seed-to-seed noise, not a fixed threshold:
 *  - both sides ≥ 2 seeds: Welch's t-test, two-sided p < 0.05 → hurts/helps by the sign of Δ;
 *  - else, with ≥ 2 main seeds: |Δ| > 2σ (σ = sample std of the main seeds' val_bpb);
 *  - else (one main seed, no noise estimate): |Δ| > the documented floor.
 */
export function judgeAblation(ablation: readonly number[], reference: readonly number[], mainStd: number | null, floor = DEFAULT_NOISE_FLOOR_BPB): AblationJudgement {
  const delta = mean(ablation) - mean(reference)
  const bySign = (measured: boolean): Verdict => (!measured ? 'no measurable effect' : delta > 0 ? 'hurts' : 'helps')
  if (ablation.length >= 2 && reference.length >= 2) {
    const w = welchTTest(ablation, reference)
    return {delta, verdict: bySign(w.pTwoSided < ABLATION_ALPHA), basis: `Welch t-test p = ${fmtP(w.pTwoSided)} (${ablation.length} vs ${reference.length} seeds)`, p: w.pTwoSided}
  }
  if (mainStd !== null) {
    const bar = 2 * mainStd
    const measured = Math.abs(delta) > bar
    return {delta, verdict: bySign(measured), basis: `|Δ| ${measured ? '>' : '≤'} 2σ = ${bar.toFixed(4)}`, p: null}
  }
  const measured = Math.abs(delta) > floor
  return {delta, verdict: bySign(measured), basis: `no noise estimate (1 seed); |Δ| ${measured ? '>' : '≤'} floor ${floor.toFixed(4)}`, p: null}
}

/** The README rule, measured: Δ ≥ 0.005 nats and p < 0.01 (the flat fields, as submission.json has carried them). */
export interface Significance {
  sota_bpb: number
  /** val_loss / val_bpb of the runs (nats per token per bit per byte). */
  nats_per_bpb: number
  sota_loss: number
  /** sota_loss − 0.005: the mean val_loss must be below this. */
  threshold_loss: number
  mean_loss: number
  std_loss: number | null
  n: number
  /** sota_loss − mean val_loss: the observed improvement in nats (positive = better than the SOTA). */
  delta_nats: number
  margin_nats: number
  alpha: number
  t: number | null
  dof: number | null
  /** One-sided p for H1: mean < threshold; null with a single seed (no test possible). */
  p: number | null
  /** The README rule's verdict: Δ ≥ 0.005 nats and p < 0.01. */
  record: boolean
  /** One honest sentence. */
  statement: string
  /** The leaderboard's practice against the previous record's seeds (null: no seeds given). */
  welch: WelchVsRecord | null
}

/** The one-sided Welch t-test of the seeds' val_bpb against the previous record's seeds. */
export interface WelchVsRecord {
  /** The previous record's per-seed val_bpb. */
  sota_seeds_bpb: number[]
  mean_bpb: number
  sota_mean_bpb: number
  /** mean_bpb − sota_mean_bpb (negative = better). */
  delta_bpb: number
  t: number | null
  /** Welch–Satterthwaite degrees of freedom. */
  dof: number | null
  /** P(T_dof ≤ t): one-sided, H1: the new mean is lower; null when a side has fewer than 2 seeds. */
  p: number | null
  alpha: number
  /** p < alpha: the leaderboard would have kept it. */
  passes: boolean
  statement: string
}

/** The leaderboard's test described at the top of this file. */
export function welchVsRecord(valBpbs: readonly number[], sotaSeedsBpb: readonly number[], alpha = LEADERBOARD_ALPHA): WelchVsRecord {
  const m = mean(valBpbs)
  const ms = mean(sotaSeedsBpb)
  const base = {sota_seeds_bpb: [...sotaSeedsBpb], mean_bpb: m, sota_mean_bpb: ms, delta_bpb: m - ms, alpha}
  const vs = `mean val_bpb ${m.toFixed(5)} (${valBpbs.length} seed${valBpbs.length === 1 ? '' : 's'}) vs the previous record's ${ms.toFixed(5)} (${sotaSeedsBpb.length} seed${sotaSeedsBpb.length === 1 ? '' : 's'})`
  if (valBpbs.length < 2 || sotaSeedsBpb.length < 2) {
    return {...base, t: null, dof: null, p: null, passes: false, statement: `No Welch test is possible with fewer than 2 seeds on a side; ${vs}.`}
  }
  const w = welchTTest(valBpbs, sotaSeedsBpb)
  const passes = w.pLess < alpha
  const how = `one-sided Welch t = ${fmtT(w.t)}, dof ${fmtDof(w.dof)}, p = ${fmtP(w.pLess)}`
  return {
    ...base,
    t: w.t,
    dof: w.dof,
    p: w.pLess,
    passes,
    statement: `${passes ? 'Passes' : 'Does not pass'} the leaderboard's practice: ${vs}; ${how} ${passes ? '<' : '≥'} ${alpha}.`,
  }
}

/** Both record rules: the README's against `sotaBpb`, and Welch's against the previous record's seeds when given. */
export function recordSignificance(valLosses: readonly number[], valBpbs: readonly number[], sotaBpb: number, opts: {margin?: number; alpha?: number; sotaSeedsBpb?: readonly number[]} = {}): Significance {
  const margin = opts.margin ?? RECORD_MARGIN_NATS
  const alpha = opts.alpha ?? RECORD_ALPHA
  const natsPerBpb = mean(valLosses.map((l, i) => l / valBpbs[i]))
  const sotaLoss = sotaBpb * natsPerBpb
  const threshold = sotaLoss - margin
  const m = mean(valLosses)
  const delta = sotaLoss - m
  const welch = opts.sotaSeedsBpb && opts.sotaSeedsBpb.length > 0 ? welchVsRecord(valBpbs, opts.sotaSeedsBpb) : null
  const base = {sota_bpb: sotaBpb, nats_per_bpb: natsPerBpb, sota_loss: sotaLoss, threshold_loss: threshold, mean_loss: m, std_loss: sampleStd(valLosses), n: valLosses.length, delta_nats: delta, margin_nats: margin, alpha, welch}
  const need = `Δ = ${delta.toFixed(5)} nats (mean val_loss ${m.toFixed(5)} vs SOTA ${sotaBpb} bpb = ${sotaLoss.toFixed(5)} nats; needed: ≥ ${margin}, i.e. mean < ${threshold.toFixed(5)})`
  if (valLosses.length < 2) {
    return {...base, t: null, dof: null, p: null, record: false, statement: `No significance test is possible with 1 seed; ${need}. Not a record claim.`}
  }
  const test = oneSampleTTest(valLosses, threshold)
  const record = delta >= margin && test.pLess < alpha
  const how = `one-sided t = ${fmtT(test.t)}, dof ${test.dof}, p = ${fmtP(test.pLess)}`
  const statement = record
    ? `Significant: ${need}; ${how} < ${alpha}. The improvement of at least ${margin} nats is significant.`
    : `Not significant: ${need}; ${how}${test.pLess < alpha ? ` < ${alpha}, but Δ is below the margin` : ` ≥ ${alpha}`}. This does not establish a record.`
  return {...base, t: test.t, dof: test.dof, p: test.pLess, record, statement}
}

export function fmtP(p: number): string {
  if (p === 0) return '0'
  if (p < 1e-4) return p.toExponential(2)
  return p.toFixed(4)
}

export function fmtT(t: number): string {
  return Number.isFinite(t) ? t.toFixed(3) : String(t)
}

/** Integer dof as is, Welch–Satterthwaite's to 2 decimals. */
export function fmtDof(dof: number): string {
  return Number.isInteger(dof) ? String(dof) : dof.toFixed(2)
}
