import {mkdtempSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'

import {InputError} from '../../src/errors.js'
import {countParams, paramSpecs} from '../../src/model/config.js'
import {builtinRecipeNames, loadRecipe, parseOverrides} from '../../src/recipe/recipe.js'

const fails = (fn: () => unknown): string => {
  try {
    fn()
  } catch (err) {
    expect(err).toBeInstanceOf(InputError)
    return (err as Error).message
  }
  throw new Error('expected an InputError')
}

describe('recipes', () => {
  it('ships the four first-wave recipes and each resolves', () => {
    expect(builtinRecipeNames()).toEqual(expect.arrayContaining(['tiny-cpu', 'bitnet-b158-68m', 'bitnet-recurrent-4x3', 'ternary-unet-10l-768d']))
    for (const name of builtinRecipeNames()) expect(loadRecipe(name).name).toBe(name)
  })

  it('sizes the published shapes as their write-ups say', () => {
    const count = (n: string) => {
      const r = loadRecipe(n)
      return countParams(paramSpecs(r.model, r.quant.targets))
    }
    // GOLF.md: "BitNet b1.58 68M ternary"
    expect(count('bitnet-b158-68m').ternary / 1e6).toBeCloseTo(68.1, 1)
    // 4 unique blocks' bytes for 12 applications
    const rec = loadRecipe('bitnet-recurrent-4x3')
    expect(rec.model.unique_blocks * rec.model.loops).toBe(12)
    const tiny = count('tiny-cpu')
    expect(tiny.ternary).toBe(4 * (128 * 128 * 2 + 2 * 64 * 128 + 2 * 512 * 128))
  })

  it('--set overrides parse YAML values and nest keys', () => {
    expect(parseOverrides(['model.model_dim=128', 'quant.group_size=row', 'train.max_wallclock_seconds=null', 'quant.targets=[a, b]'])).toEqual({
      model: {model_dim: 128},
      quant: {group_size: 'row', targets: ['a', 'b']},
      train: {max_wallclock_seconds: null},
    })
    const r = loadRecipe('tiny-cpu', ['model.model_dim=128', 'train.max_steps=3'])
    expect(r.model.model_dim).toBe(128)
    expect(r.train.max_steps).toBe(3)
  })

  it('names the bad key and says why', () => {
    expect(fails(() => loadRecipe('tiny-cpu', ['train.seq_lenx=3']))).toMatch(/^recipe tiny-cpu\.yaml: unknown key train\.seq_lenx \(known: seq_len,/)
    expect(fails(() => loadRecipe('tiny-cpu', ['train.seq_len=abc']))).toBe('recipe tiny-cpu.yaml: train.seq_len must be integer, got "abc"')
    expect(fails(() => loadRecipe('tiny-cpu', ['quant.group_size=big']))).toMatch(/quant\.group_size has the wrong kind of value .*got "big"/)
    expect(fails(() => loadRecipe('tiny-cpu', ['quant.mode=binary']))).toMatch(/quant\.mode must be one of "ternary", "none", got "binary"/)
    expect(fails(() => loadRecipe('tiny-cpu', ['model.num_heads=3']))).toMatch(/^recipe tiny-cpu\.yaml: model\.num_heads: must divide model_dim 128/)
    expect(fails(() => loadRecipe('tiny-cpu', ['model.widthh=3']))).toMatch(/unknown config key "widthh"/)
    expect(fails(() => loadRecipe('tiny-cpu', ['optim.matrix_lr=-1']))).toMatch(/optim\.matrix_lr must be a number ≥ 0, got -1/)
    expect(fails(() => loadRecipe('tiny-cpu', ['train.micro_batch_tokens=3000']))).toMatch(/batch_tokens \(4096\) must be a multiple of train\.micro_batch_tokens \(3000\)/)
    expect(fails(() => loadRecipe('tiny-cpu', ['quant.group_size=96']))).toMatch(/quant\.group_size 96 must divide/)
    expect(fails(() => loadRecipe('nope'))).toMatch(/^unknown recipe "nope" \(built-in: .*tiny-cpu/)
    expect(fails(() => loadRecipe('missing/file.yaml'))).toBe('recipe file not found: missing/file.yaml')
    expect(fails(() => parseOverrides(['novalue']))).toMatch(/expected key=value/)
    expect(fails(() => parseOverrides(['flat=1']))).toMatch(/must name a section and a setting/)
  })

  it('reads recipe files, with extends, and rejects bad YAML', () => {
    const dir = mkdtempSync(join(tmpdir(), 'golf-recipe-'))
    writeFileSync(join(dir, 'mine.yaml'), 'extends: tiny-cpu\nname: mine\ntrain:\n  max_steps: 7\n')
    const r = loadRecipe(join(dir, 'mine.yaml'))
    expect(r.name).toBe('mine')
    expect(r.train.max_steps).toBe(7)
    expect(r.model.model_dim).toBe(128)
    writeFileSync(join(dir, 'bad.yaml'), 'model: [1, 2\n')
    expect(fails(() => loadRecipe(join(dir, 'bad.yaml')))).toMatch(/bad\.yaml: not valid YAML/)
    writeFileSync(join(dir, 'list.yaml'), '- 1\n')
    expect(fails(() => loadRecipe(join(dir, 'list.yaml')))).toMatch(/expected a mapping of sections/)
  })
})
