/**
 * FP8 float tensors and 8-bit (e4m3) ternary scales end to end: a tiny run trained with both
 * simulated, packed, then rebuilt from the artifact alone and scored: the roundtrip gap is
 * exactly 0 and every logit is identical, as with fp16 (test/verify/run.test.ts).
 */
import {mkdtempSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {beforeAll, describe, expect, it} from 'vitest'

import {initBackend} from '../../src/backend/index.js'
import {readArtifact} from '../../src/pack/artifact.js'
import {packSource} from '../../src/pack/pack-model.js'
import {train} from '../../src/train/loop.js'
import {roundtrip} from '../../src/verify/roundtrip.js'
import {tinyDataset, tinyRecipe} from '../helpers/tiny-run.js'

const VAL = 512
let data: string

beforeAll(async () => {
  await initBackend('wasm', {quiet: true})
  data = await tinyDataset(8, 2000)
}, 60_000)

for (const floatFormat of ['e4m3', 'e5m2'] as const) {
  describe(`a run trained with quant.float_format=${floatFormat} and quant.scale_format=e4m3`, () => {
    let runDir = ''
    let artifact = ''
    beforeAll(async () => {
      const root = mkdtempSync(join(tmpdir(), `golf-fp8-${floatFormat}-`))
      runDir = join(root, 'run')
      const recipe = tinyRecipe({quant: {float_format: floatFormat, scale_format: 'e4m3'}, train: {max_steps: 3, eval_every: 0}, eval: {sliding_stride: null, val_tokens: VAL}})
      await train({recipe, dataDir: data, outDir: runDir, seed: 4, backend: 'wasm'})
      artifact = join(root, 'model.golf')
      const packed = await packSource(runDir)
      expect(packed.prepared.exact).toBe(true)
      writeFileSync(artifact, packed.bytes)
    }, 120_000)

    it('stores fp8 rows with fp16 scales and e4m3 scales with an e8m0 base', async () => {
      const {readFileSync} = await import('node:fs')
      const {manifest} = readArtifact(new Uint8Array(readFileSync(artifact)))
      const floats = manifest.tensors.filter((t) => t.kind === 'float')
      const ternary = manifest.tensors.filter((t) => t.kind === 'ternary')
      expect(floats.length).toBeGreaterThan(0)
      expect(floats.every((t) => t.codec === `${floatFormat}_row`)).toBe(true)
      expect(ternary.every((t) => t.scale_format === 'e4m3')).toBe(true)
      for (const t of floats) {
        const n = t.shape.reduce((a, b) => a * b, 1)
        const cols = t.shape.length === 0 ? 1 : t.shape[t.shape.length - 1]
        expect([t.length, t.scales_length]).toEqual([n, (2 * n) / cols])
      }
    })

    it('rebuilds exactly: gap 0, identical logits, identical weights', async () => {
      const r = await roundtrip({runDir, artifactPath: artifact, valTokens: VAL, backend: 'wasm'})
      expect(r.weights.differing).toBe(0)
      expect(r.max_logit_diff).toBe(0)
      expect(r.gap).toBe(0)
      expect(r.val_loss_after).toBe(r.val_loss_before)
      expect(r.exact).toBe(true)
    }, 120_000)
  })
}
