/**
 * Fuzzing the small text files users hand us: `dataset.json` (JSON, schema-checked) and recipes
 * (YAML). Mutated valid files parse or are refused with one InputError line; both are read only
 * below a size cap, checked before reading.
 */
import {mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import fc from 'fast-check'
import {afterAll, describe, expect, it} from 'vitest'

import {MAX_DATASET_JSON_BYTES, parseDatasetJson, readDatasetInfo} from '../../src/data/dataset.js'
import {writeShard} from '../../src/data/shard.js'
import {InputError} from '../../src/errors.js'
import {MAX_RECIPE_BYTES, loadRecipe} from '../../src/recipe/recipe.js'
import {recipesDir} from '../../src/paths.js'
import {decodesOrRefuses, hostileJsonValue, mutate, mutationsArb, runs} from './helpers.js'

const dir = mkdtempSync(join(tmpdir(), 'golf-fuzz-config-'))
afterAll(() => rmSync(dir, {recursive: true, force: true}))

const dataset = {format: 'golf-dataset', version: 1, tokenizer: 'byte260', tokenizer_path: null, vocab_size: 260, bos_id: 1, docs: {train: 3, val: 1}, tokens: {train: 50, val: 9}, shard_tokens: 100, source: 'text'}
const datasetText = new TextEncoder().encode(JSON.stringify(dataset, null, 2))

describe('fuzz: dataset.json', () => {
  it('mutated valid files', () => {
    fc.assert(
      fc.property(mutationsArb, (muts) => {
        const got = decodesOrRefuses('dataset.json', () => parseDatasetJson(new TextDecoder().decode(mutate(datasetText, muts)), 'data/dataset.json'))
        if (got) expect(got.format).toBe('golf-dataset')
      }),
      {numRuns: runs(500)},
    )
  })

  it('fields set to hostile values', () => {
    fc.assert(
      fc.property(fc.constantFrom(...Object.keys(dataset), 'docs.train', 'tokens.val', 'extra'), hostileJsonValue, (key, value) => {
        const doc = structuredClone(dataset) as Record<string, unknown>
        const [a, b] = key.split('.')
        if (b) (doc[a] as Record<string, unknown>)[b] = value
        else doc[a] = value
        decodesOrRefuses('dataset.json', () => parseDatasetJson(JSON.stringify(doc), 'data/dataset.json'))
      }),
      {numRuns: runs(300)},
    )
  })

  it('a dataset.json over the size cap is refused without being read', () => {
    writeShard(join(dir, 'fineweb_val_000000.bin'), Uint16Array.of(1, 5))
    writeFileSync(join(dir, 'dataset.json'), JSON.stringify(dataset) + ' '.repeat(MAX_DATASET_JSON_BYTES))
    expect(() => readDatasetInfo(dir)).toThrow(InputError)
    expect(() => readDatasetInfo(dir)).toThrow(/^dataset file is too large: .*dataset\.json \(\d+ bytes, the limit is 1048576\)$/)
    writeFileSync(join(dir, 'dataset.json'), JSON.stringify(dataset))
    expect(readDatasetInfo(dir).vocabSize).toBe(260)
  })
})

describe('fuzz: recipes', () => {
  const builtin = ['tiny-cpu', 'bd3lm-tiny-cpu', 'mdlm-tiny-cpu'].map((n) => new Uint8Array(readFileSync(join(recipesDir(), `${n}.yaml`))))
  const path = join(dir, 'fuzz.yaml')

  it('mutated built-in recipes load or are refused', () => {
    // yaml reports odd input (unresolved tags, ambiguous aliases) as process warnings; not ours to test.
    const warn = process.emitWarning
    process.emitWarning = () => {}
    try {
      fc.assert(
        fc.property(fc.nat({max: builtin.length - 1}), mutationsArb, (i, muts) => {
          writeFileSync(path, mutate(builtin[i], muts))
          decodesOrRefuses('recipe', () => loadRecipe(path))
        }),
        {numRuns: runs(150, 0.3)},
      )
    } finally {
      process.emitWarning = warn
    }
  })

  it('a recipe over the size cap is refused without being read', () => {
    writeFileSync(path, `${'#'.repeat(MAX_RECIPE_BYTES)}\n`)
    expect(() => loadRecipe(path)).toThrow(/^recipe is too large: .*fuzz\.yaml \(1048577 bytes, the limit is 1048576\)$/)
  })
})
