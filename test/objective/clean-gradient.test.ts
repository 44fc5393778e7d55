/**
 * objective.clean_gradient (BD3-LM): the recipe key, where the detached layout is used (training
 * batches only). The model's side (same loss, the gradient without the clean context path) is in
 * test/model/gpt.test.ts; the threads' in test/train/parallel.test.ts; the PyTorch export's
 * (its gradient is golf's) in test/export/torch-diffusion.test.ts.
 */
import {describe, expect, it} from 'vitest'

import {objectiveFor} from '../../src/objective/index.js'
import {isDiffusion} from '../../src/objective/types.js'
import {loadRecipe} from '../../src/recipe/recipe.js'
import {mulberry32} from '../../src/util/random.js'

describe('objective.clean_gradient', () => {
  it('is for bd3lm only, a boolean, absent by default (the joint pass)', () => {
    expect(loadRecipe('bd3lm-tiny-cpu').objective.clean_gradient).toBeUndefined()
    expect(loadRecipe('bd3lm-tiny-cpu', ['objective.clean_gradient=false']).objective.clean_gradient).toBe(false)
    expect(() => loadRecipe('mdlm-tiny-cpu', ['objective.clean_gradient=false'])).toThrow('objective.clean_gradient is for bd3lm (the clean copy [x_0] its noisy blocks attend to; mdlm has none)')
    expect(() => loadRecipe('tiny-cpu', ['objective.clean_gradient=true'])).toThrow('objective.clean_gradient is for bd3lm')
    expect(() => loadRecipe('bd3lm-tiny-cpu', ['objective.clean_gradient=sometimes'])).toThrow('clean_gradient')
  })

  it('detaches training batches only; the denoising view that every score uses is the joint layout', () => {
    const chunk = Uint16Array.from({length: 2 * 16 + 1}, (_, i) => (i * 7) % 250)
    const x0 = Int32Array.from(chunk.subarray(1))
    for (const [sets, train] of [
      [[], {kind: 'block-diffusion', block: 4}],
      [['objective.clean_gradient=false'], {kind: 'block-diffusion', block: 4, cleanGradient: false}],
    ] as const) {
      const recipe = loadRecipe('bd3lm-tiny-cpu', [...sets])
      const objective = objectiveFor(recipe.objective, 261)
      expect(objective.trainBatch(chunk, 2, 16, mulberry32(1)).attention).toEqual(train)
      if (!isDiffusion(objective)) throw new Error('bd3lm is a diffusion objective')
      expect(objective.denoiseBatch(x0, new Uint8Array(32).fill(1), 2, 16, Int32Array.from([chunk[0], chunk[16]])).attention).toEqual({kind: 'block-diffusion', block: 4})
    }
  })
})
