import {mkdtempSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'

import {InputError} from '../../src/errors.js'
import {countParams, paramSpecs} from '../../src/model/config.js'
import {builtinRecipeNames, loadRecipe, parseOverrides, resolveRecipe} from '../../src/recipe/recipe.js'

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

  it('every built-in recipe scores the whole validation split at the end, as the official metric does', () => {
    for (const name of builtinRecipeNames()) expect(loadRecipe(name).eval.val_tokens, name).toBeNull()
    // the demo recipes' in-training evals stay on a slice (their log lines say partial)
    for (const name of ['tiny-cpu', 'mdlm-tiny-cpu', 'bd3lm-tiny-cpu']) expect(loadRecipe(name).train.val_tokens, name).toBe(32768)
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
    // a name with a control character (a flipped bit in a recipe's extends: found by the fuzz test) stays one line
    expect(fails(() => loadRecipe('tiny\rcpu'))).toMatch(/^unknown recipe "tiny\\rcpu" \(built-in: /)
    expect(fails(() => loadRecipe('missing/fi\nle.yaml'))).toBe('recipe file not found: missing/fi\\nle.yaml')
    expect(fails(() => parseOverrides(['novalue']))).toMatch(/expected key=value/)
    expect(fails(() => parseOverrides(['flat=1']))).toMatch(/must name a section and a setting, e\.g\. train\.seq_len \(or one of activations\)/)
    // activations is a setting of its own: a preset, or stages in YAML flow style
    expect(loadRecipe('tiny-cpu', ['activations=a4.8']).activations.map((st) => st.from)).toEqual([0])
    expect(loadRecipe('tiny-cpu', ['activations=[{from: 0, sites: a8}, {from: 0.5, sites: a4}]']).activations.map((st) => st.from)).toEqual([0, 0.5])
  })

  it('refuses --set keys that would reach the object prototype, and a __proto__ key in a recipe stays an unknown key', () => {
    for (const set of ['__proto__.x=1', 'train.__proto__.x=1', 'constructor.prototype.x=1', 'train.constructor=1']) {
      const name = set.split('.').find((p) => ['__proto__', 'constructor'].includes(p.split('=')[0]))!.split('=')[0]
      expect(fails(() => loadRecipe('tiny-cpu', [set]))).toBe(`--set ${set}: "${name}" is not a recipe key`)
    }
    expect(({} as Record<string, unknown>).x).toBeUndefined()
    const dir = mkdtempSync(join(tmpdir(), 'golf-recipe-'))
    writeFileSync(join(dir, 'proto.yaml'), 'extends: tiny-cpu\n__proto__:\n  x: 1\n')
    expect(fails(() => loadRecipe(join(dir, 'proto.yaml')))).toMatch(/^recipe proto\.yaml: unknown key __proto__ \(known: /)
  })

  it('a resolved recipe (config.json, read back by --resume and the run-folder readers) resolves again to itself', () => {
    for (const [name, sets] of [['ternary-bd3lm-a4.8-tiny-cpu', []], ['tiny-cpu', ['eval.kv_cache={bits: 16}']], ['tiny-cpu', ['activations=[{from_step: 0, sites: a8}, {from_step: 5, sites: a4}]']]] as const) {
      const r = loadRecipe(name, sets)
      expect(resolveRecipe(JSON.parse(JSON.stringify(r)), {name: r.name})).toEqual(r)
    }
  })

  it('refuses a number that is not finite (YAML .inf, .nan) naming the key', () => {
    expect(fails(() => loadRecipe('tiny-cpu', ['train.z_loss=.inf']))).toBe('recipe tiny-cpu.yaml: train.z_loss must be a finite number, got Infinity')
    expect(fails(() => loadRecipe('tiny-cpu', ['optim.matrix_lr=.nan']))).toBe('recipe tiny-cpu.yaml: optim.matrix_lr must be a finite number, got NaN')
    expect(fails(() => loadRecipe('tiny-cpu', ['train.max_wallclock_seconds=-.inf']))).toBe('recipe tiny-cpu.yaml: train.max_wallclock_seconds must be a finite number, got -Infinity')
    expect(fails(() => loadRecipe('tiny-cpu', ['train.z_loss=Infinity']))).toBe('recipe tiny-cpu.yaml: train.z_loss must be number, got "Infinity"')
    const dir = mkdtempSync(join(tmpdir(), 'golf-recipe-'))
    writeFileSync(join(dir, 'inf.yaml'), 'extends: tiny-cpu\nactivations:\n  - {from: .nan, sites: a8}\n')
    expect(fails(() => loadRecipe(join(dir, 'inf.yaml')))).toBe('recipe inf.yaml: activations[0].from must be a finite number, got NaN')
  })

  it('checks the objective section: its keys, the block size against every sequence length, the interval', () => {
    expect(loadRecipe('bd3lm-tiny-cpu').objective).toEqual({kind: 'bd3lm', block_size: 4, noise_eps: 0.001, sampling_eps: 0.001, train_interval: null, shift: true, train_estimator: 'count'})
    expect(loadRecipe('tiny-cpu').objective.kind).toBe('ar')
    expect(fails(() => loadRecipe('tiny-cpu', ['objective.kind=gan']))).toMatch(/objective\.kind must be one of "ar", "mdlm", "bd3lm", got "gan"/)
    expect(fails(() => loadRecipe('tiny-cpu', ['objective.kind=bd3lm']))).toBe('recipe tiny-cpu.yaml: objective.block_size is required for bd3lm (e.g. 4, 8 or 16)')
    expect(fails(() => loadRecipe('bd3lm-tiny-cpu', ['objective.block_size=3']))).toBe('recipe bd3lm-tiny-cpu.yaml: objective.block_size 3 must divide train.seq_len (256)')
    expect(fails(() => loadRecipe('mdlm-tiny-cpu', ['objective.block_size=4']))).toBe('recipe mdlm-tiny-cpu.yaml: objective.block_size is for bd3lm only (objective.kind is mdlm)')
    expect(fails(() => loadRecipe('mdlm-tiny-cpu', ['objective.train_interval=[0.8, 0.3]']))).toBe('recipe mdlm-tiny-cpu.yaml: objective.train_interval [0.8, 0.3] must be [lo, hi] with lo < hi')
    expect(fails(() => loadRecipe('mdlm-tiny-cpu', ['eval.sliding_stride=64']))).toBe("recipe mdlm-tiny-cpu.yaml: eval.sliding_stride is for ar (next-token) models; mdlm is scored by its ELBO")
    // 96 with warmup from 32: the warmup may pick 48, which blocks of 32 do not divide
    expect(fails(() => loadRecipe('bd3lm-tiny-cpu', ['train.seq_len=96', 'train.micro_batch_tokens=1536', 'train.batch_tokens=3072', 'objective.block_size=32', 'train.seq_len_start=32', 'train.seq_len_warmup_steps=10']))).toMatch(
      /objective\.block_size 32 must divide every length the sequence warmup can pick; 48 \(a divisor of train\.seq_len 96 above train\.seq_len_start 32\) is not a multiple/,
    )
    expect(loadRecipe('bd3lm-tiny-cpu', ['train.seq_len_start=64', 'train.seq_len_warmup_steps=10', 'objective.block_size=16']).train.seq_len_start).toBe(64)
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
    writeFileSync(join(dir, 'latin1.yaml'), Buffer.from('name: café\n', 'latin1'))
    expect(fails(() => loadRecipe(join(dir, 'latin1.yaml')))).toBe(`recipe ${join(dir, 'latin1.yaml')}: not valid UTF-8 (byte offset 9)`)
    writeFileSync(join(dir, 'list.yaml'), '- 1\n')
    expect(fails(() => loadRecipe(join(dir, 'list.yaml')))).toMatch(/expected a mapping of sections/)
  })
})
