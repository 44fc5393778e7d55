/**
 * The noise schedule of masked (absorbing-state) diffusion, as in MDLM (Sahoo et al. 2024,
 * §3 and the reference `noise_schedule.py: LogLinearNoise`): the total noise
 *   σ(t) = −log(1 − (1 − ε)t),                       t ∈ [0, 1], ε = 1e-3,
 * so a token is still clean at time t with probability α_t = exp(−σ(t)) = 1 − (1 − ε)t and has
 * become [MASK] with probability 1 − α_t = (1 − ε)t. The continuous-time NELBO (MDLM eq. 10)
 * weighs the cross-entropy of each masked token by
 *   −α'_t / (1 − α_t) = σ'(t) / expm1(σ(t)) = 1/t        (for this schedule),
 * the `dsigma / torch.expm1(sigma)` line of the reference loss.
 *
 * Evaluation (src/eval/elbo.ts) scores the exact process of this family with ε = 0
 * (α_t = 1 − t: every token clean at t = 0, every token masked at t = 1), for which the bound
 * has no reconstruction and no prior term.
 */

export interface LogLinearSchedule {
  /** ε: the fraction of tokens still clean at t = 1. */
  eps: number
}

/** σ(t) = −log1p(−(1 − ε)t). */
export function sigma(s: LogLinearSchedule, t: number): number {
  return -Math.log1p(-(1 - s.eps) * t)
}

/** dσ/dt = (1 − ε) / (1 − (1 − ε)t). */
export function dsigma(s: LogLinearSchedule, t: number): number {
  return (1 - s.eps) / (1 - (1 - s.eps) * t)
}

/** Probability that a token is [MASK] at time t: 1 − exp(−σ(t)) = (1 − ε)t. */
export function maskProbability(s: LogLinearSchedule, t: number): number {
  return -Math.expm1(-sigma(s, t))
}

/**
 * The NELBO weight of a masked token at time t: dσ / expm1(σ), computed as the reference does.
 * Algebraically it is 1/t for every ε (expm1(σ) = (1 − ε)t / (1 − (1 − ε)t)); where the
 * reference form is ∞/∞ (ε = 0 at t = 1, the exact process's last step) it is that limit.
 */
export function lossWeight(s: LogLinearSchedule, t: number): number {
  const w = dsigma(s, t) / Math.expm1(sigma(s, t))
  return Number.isFinite(w) ? w : 1 / t
}

/**
 * Antithetic (stratified) times for n draws, as the reference `_sample_t`: n independent
 * uniforms u_i, then t_i = (u_i/n + i/n) mod 1, mapped to [lo, hi] (the reference's
 * [sampling_eps, 1]). Each stratum [i/n, (i+1)/n) gets exactly one draw, so the batch's mean
 * weight varies far less than with n independent times.
 */
export function antitheticTimes(n: number, rand: () => number, lo: number, hi = 1): Float64Array {
  const out = new Float64Array(n)
  for (let i = 0; i < n; i++) out[i] = lo + (hi - lo) * (rand() / n + i / n)
  return out
}

/**
 * Mask a uniform subset of n of the b positions [start, start + b) (partial Fisher–Yates: n
 * draws of `rand`), setting `weights` to `weight` there: the count form of the NELBO
 * (Σ_n (1/n)·E_{|M|=n} Σ_{ℓ∈M} nll, n uniform on 1..b, weight b/n), which training's `count`
 * estimator and the continuous-time ELBO draw.
 */
export function maskUniformSubset(masked: Uint8Array, weights: Float32Array | Float64Array, start: number, b: number, n: number, weight: number, rand: () => number): void {
  const pos = Int32Array.from({length: b}, (_, i) => start + i)
  for (let i = 0; i < n; i++) {
    const r = i + Math.floor(rand() * (b - i))
    const x = pos[i]
    pos[i] = pos[r]
    pos[r] = x
    masked[pos[i]] = 1
    weights[pos[i]] = weight
  }
}
