/** `golf eval --artifact` on the built CLI (needs dist/): what is checked before the model is built. */
import {mkdtempSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {beforeAll, describe, expect, it} from 'vitest'

import {runCli} from '../helpers/cli.js'
import {artifactWith, SMALL} from '../helpers/tiny-artifact.js'
import {tinyDataset} from '../helpers/tiny-run.js'

let data: string
let dir: string

beforeAll(async () => {
  data = await tinyDataset(8, 2000)
  dir = mkdtempSync(join(tmpdir(), 'golf-run-eval-'))
}, 120_000)

describe('golf eval --artifact', () => {
  it('a config that disagrees with the tensor table is that one line, exit 2, not an out-of-memory refusal for a model that is not there', async () => {
    // the config alone would need ~15 GiB to evaluate on wasm (over its 4 GiB heap)
    const path = join(dir, 'wide.golf')
    writeFileSync(path, artifactWith({...SMALL, model_dim: 8192, unique_blocks: 8}))
    const r = await runCli(['eval', '--artifact', path, '--data', data, '--val-tokens', '200'])
    expect([r.code, r.stderr]).toEqual([2, `golf: ${path}: tensor "skip_weights" has shape [1, 8] in the tensor table, model.config needs [4, 8192]\n`])
  })
})
