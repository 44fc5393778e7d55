/**
 * Where a run is in its staged plan: the ternary switch (`quant.start_frac`) and the activation
 * precision stages (`activations:`), both measured by one progress, the fraction of steps done
 * or of the wall-clock cap used, whichever is further. Pure: the loop and its tests ask here.
 */
import {FLOAT_ACTIVATIONS, type ActivationSites} from '../quant/activations.js'
import type {ActivationStage, ResolvedRecipe} from '../recipe/recipe.js'

/** Fraction of the run done at `step` after `elapsedMs` of training time. */
export function runProgress(r: ResolvedRecipe, step: number, elapsedMs: number): number {
  const cap = r.train.max_wallclock_seconds ? r.train.max_wallclock_seconds * 1000 : null
  return Math.max(step / r.train.max_steps, cap ? elapsedMs / cap : 0)
}

/** Has staged quantization switched ternary on? */
export function quantActiveAt(r: ResolvedRecipe, step: number, elapsedMs: number): boolean {
  if (r.quant.mode !== 'ternary') return false
  if (r.quant.start_frac <= 0) return true
  return runProgress(r, step, elapsedMs) >= r.quant.start_frac
}

/** A recipe's activation stages (runs recorded before stages existed have none). */
export function activationStagesOf(r: Pick<ResolvedRecipe, 'activations'> | {activations?: ActivationStage[]}): ActivationStage[] {
  return r.activations ?? []
}

/**
 * Index of the activation stage in force at `step` (−1: before the first, float). Stages are
 * ordered and start strictly later one after another, and progress only grows, so the index
 * never goes back.
 */
export function activationStageAt(r: ResolvedRecipe, step: number, elapsedMs: number): number {
  const stages = activationStagesOf(r)
  const progress = runProgress(r, step, elapsedMs)
  let at = -1
  stages.forEach((st, i) => {
    if (st.from_step !== null ? step >= st.from_step : progress >= st.from!) at = i
  })
  return at
}

/** The sites of stage `index` (−1: float). */
export function stageSites(r: ResolvedRecipe, index: number): ActivationSites {
  return index < 0 ? FLOAT_ACTIVATIONS : activationStagesOf(r)[index].sites
}
