/** The GPT a recipe describes: shapes, ternary tensors and storage formats, seeded. */
import {GPT} from '../model/gpt.js'
import {ternaryConfigOf, type ResolvedRecipe} from '../recipe/recipe.js'

export function buildModel(r: ResolvedRecipe, seed: number): GPT {
  return new GPT(r.model, {
    seed,
    ternary: {patterns: r.quant.mode === 'ternary' ? r.quant.targets : [], config: ternaryConfigOf(r.quant)},
    floatFormat: r.quant.mode === 'ternary' ? r.quant.float_format : 'fp32',
  })
}
