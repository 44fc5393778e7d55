/**
 * `--init-from` (src/run/init-from.ts): each checkpoint tensor's shape is checked against the
 * model being initialised before anything is copied, so a checkpoint whose tensors disagree
 * with its recorded config (a transposed matrix, an embedding short or long by rows) is one
 * line naming the run, the tensor and both shapes, not garbage weights, NaN or a RangeError.
 */
import {mkdtempSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {beforeAll, describe, expect, it} from 'vitest'

import {initBackend} from '../../src/backend/index.js'
import {InputError} from '../../src/errors.js'
import {type ModelConfig, numel, paramSpecs} from '../../src/model/config.js'
import {DEFAULT_QUANT} from '../../src/recipe/recipe.js'
import {saveCheckpoint} from '../../src/run/checkpoint.js'
import {RunFolder} from '../../src/run/folder.js'
import {weightsFromRun} from '../../src/run/init-from.js'
import {buildGPT, tinyConfig} from '../helpers/tiny-gpt.js'

/** A run folder whose checkpoint holds `cfg`'s parameters, `reshape` changing one tensor's recorded shape and values. */
function sourceRun(cfg: ModelConfig, reshape: (name: string, shape: number[]) => number[] = (_, s) => s): string {
  const run = RunFolder.create(join(mkdtempSync(join(tmpdir(), 'golf-init-from-')), 'ar'))
  const weights = new Map<string, Float32Array>()
  const shapes = new Map<string, number[]>()
  for (const s of paramSpecs(cfg, [])) {
    const shape = reshape(s.name, s.shape)
    shapes.set(s.name, shape)
    weights.set(s.name, Float32Array.from({length: numel(shape)}, (_, i) => (i % 7) / 7))
  }
  run.writeJson('config', {recipe: {name: 'ar'}, seed: 1, data: '', tokenizer: 'byte260', vocab_size: cfg.vocab_size, backend: 'wasm'})
  saveCheckpoint(run, weights, shapes, new Map(), {recipe: 'ar', seed: 1, step: 3, train_time_ms: 1, tokens_seen: 1, stream: {file: 0, pos: 0}, model: cfg, quant: {...DEFAULT_QUANT, active: false}, ternary_tensors: [], backend: 'wasm'})
  return run.dir
}

describe('weightsFromRun', () => {
  const ar = tinyConfig(260)
  const mdlm = {...ar, vocab_size: 261}
  beforeAll(async () => {
    await initBackend('wasm', {quiet: true})
  })

  it('copies a checkpoint of the right shapes; the [MASK] row is added', () => {
    const model = buildGPT(mdlm)
    const {weights} = weightsFromRun(sourceRun(ar), model)
    expect(weights.get('tok_emb.weight')!.length).toBe(261 * 8)
    model.dispose()
  })

  it.each([
    ['a transposed matrix of the same size', 'blocks.0.mlp.fc.weight', (s: number[]) => [s[1], s[0]], '[8, 16]', '[16, 8]'],
    ['an embedding a row short', 'tok_emb.weight', (s: number[]) => [s[0] - 1, s[1]], '[259, 8]', "[260, 8] (this model's [261, 8] less its [MASK] row)"],
    ['an embedding rows long', 'tok_emb.weight', (s: number[]) => [s[0] + 3, s[1]], '[263, 8]', "[260, 8] (this model's [261, 8] less its [MASK] row)"],
  ])('%s: one line naming the run, the tensor and both shapes', (_, tensor, reshape, have, want) => {
    const dir = sourceRun(ar, (name, s) => (name === tensor ? reshape(s) : s))
    const model = buildGPT(mdlm)
    const init = () => weightsFromRun(dir, model)
    expect(init).toThrow(InputError)
    expect(init).toThrow(`--init-from ${dir}: tensor "${tensor}" is ${have} in its checkpoint, the model being initialised needs ${want}`)
    model.dispose()
  })
})
