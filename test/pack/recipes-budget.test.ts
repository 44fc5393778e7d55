import {describe, expect, it} from 'vitest'

import {predictBudget} from '../../src/pack/budget.js'
import {builtinRecipeNames, loadRecipe} from '../../src/recipe/recipe.js'
import {OFFICIAL_LIMIT} from '../../src/verify/limit.js'

describe('built-in recipes fit the cap', () => {
  it.each(builtinRecipeNames())('%s: predicted artifact + counted code ≤ 16,000,000 bytes', async (name) => {
    const p = await predictBudget(loadRecipe(name), {limit: OFFICIAL_LIMIT})
    expect(p.total_bytes).toBeLessThanOrEqual(OFFICIAL_LIMIT)
    expect(p.fits).toBe(true)
  })
})
