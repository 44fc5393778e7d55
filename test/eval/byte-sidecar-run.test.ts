/**
 * A byte sidecar end to end: a tiny byte260 run trained on a dataset with a sidecar whose counts
 * differ from the table's, scored by every path golf has (the trainer's final eval, golf eval on
 * the run and on the artifact, the counted code's evaluation, the roundtrip of golf verify):
 * each counts the sidecar's bytes of its targets, with the same losses as on the dataset without
 * it. The counted code's bundle is built from dist/ (npx tsc -p tsconfig.json).
 */
import {cpSync, mkdtempSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {beforeAll, describe, expect, it} from 'vitest'

import {initBackend} from '../../src/backend/index.js'
import {loadValidationTokens} from '../../src/data/stream.js'
import {writeShard} from '../../src/data/shard.js'
import {evaluateTarget} from '../../src/eval/run-eval.js'
import {packSource} from '../../src/pack/pack-model.js'
import {evaluateArtifact} from '../../src/submission/rebuild.js'
import {train} from '../../src/train/loop.js'
import {readRunConfig} from '../../src/run/load.js'
import {buildCountedCode} from '../../src/verify/bundle.js'
import {roundtrip, runBundle} from '../../src/verify/roundtrip.js'
import {tinyDataset, tinyRecipe} from '../helpers/tiny-run.js'

const VAL = 512
const T = 32
let plain: string
let caseops: string
let counts: Uint16Array
let valTokens: Uint16Array
let run: string
let artifact: string
let summary: Awaited<ReturnType<typeof train>>['summary']

/** The sidecar's bytes of stream positions [start, end), summed here independently of golf. */
const sidecarBytes = (start: number, end: number) => counts.subarray(start, end).reduce((a, b) => a + b, 0)

beforeAll(async () => {
  await initBackend('wasm', {quiet: true})
  plain = await tinyDataset(8, 2000)
  const root = mkdtempSync(join(tmpdir(), 'golf-sidecar-run-'))
  caseops = join(root, 'caseops')
  cpSync(plain, caseops, {recursive: true})
  // the table counts 1 byte per byte token; this sidecar 1, 2 or 3 by position (a BOS 0)
  valTokens = loadValidationTokens(plain)
  counts = Uint16Array.from(valTokens, (id, p) => (id === 1 ? 0 : 1 + (p % 3)))
  writeShard(join(caseops, 'fineweb_val_bytes_000000.bin'), counts)
  run = join(root, 'run')
  ;({summary} = await train({recipe: tinyRecipe({train: {max_steps: 2, eval_every: 0}, eval: {sliding_stride: 16, val_tokens: VAL}}), dataDir: caseops, outDir: run, seed: 3, backend: 'wasm'}))
  artifact = join(root, 'model.golf')
  writeFileSync(artifact, (await packSource(run, {codec: 'auto'})).bytes)
}, 180_000)

const chunkedTargets = Math.floor((VAL - 1) / T) * T
const chunkedBytes = () => sidecarBytes(1, 1 + chunkedTargets)

describe('every score of a dataset with a byte sidecar counts its bytes', () => {
  it("the trainer's final eval", () => {
    expect(summary!.val_tokens).toBe(chunkedTargets)
    expect(summary!.val_bytes).toBe(chunkedBytes())
  })

  it('golf eval on the run: chunked and sliding; the same losses as without the sidecar', async () => {
    const chunked = await evaluateTarget({run, valTokens: VAL, backend: 'wasm'})
    expect([chunked.tokens, chunked.bytes]).toEqual([chunkedTargets, chunkedBytes()])
    expect(chunked.val_bpb).toBe((chunked.val_loss / Math.LN2) * (chunked.tokens / chunked.bytes))
    expect(chunked.val_bpb).toBe(summary!.val_bpb)
    const without = await evaluateTarget({run, data: plain, valTokens: VAL, backend: 'wasm'})
    expect(without.val_loss).toBe(chunked.val_loss)
    expect(without.bytes).toBe(valTokens.subarray(1, 1 + chunkedTargets).filter((id) => id !== 1).length) // the table: 1 byte per byte token, 0 for a BOS
    expect(without.bytes).not.toBe(chunked.bytes)
    const sliding = await evaluateTarget({run, valTokens: VAL, backend: 'wasm', mode: 'sliding', stride: 16})
    expect([sliding.tokens, sliding.bytes]).toEqual([VAL - 1, sidecarBytes(1, VAL)])
    expect(sliding.val_bpb).toBe(summary!.sliding!.val_bpb)
  })

  it("the artifact, as the counted code scores it, and golf verify's roundtrip", async () => {
    const ev = await evaluateArtifact({artifact, dataDir: caseops, valTokens: VAL, backend: 'wasm'})
    expect([ev.score.tokens, ev.score.bytes]).toEqual([chunkedTargets, chunkedBytes()])
    expect([ev.sliding!.tokens, ev.sliding!.bytes]).toEqual([VAL - 1, sidecarBytes(1, VAL)])
    const onArtifact = await evaluateTarget({artifact, data: caseops, valTokens: VAL, backend: 'wasm'})
    expect(onArtifact.val_bpb).toBe(ev.score.val_bpb)
    const {config} = readRunConfig(run)
    const {code} = await buildCountedCode(config.recipe, {seed: config.seed})
    const r = await roundtrip({runDir: run, artifactPath: artifact, valTokens: VAL, backend: 'wasm', bundleCode: code})
    expect([r.tokens, r.bytes, r.gap]).toEqual([chunkedTargets, chunkedBytes(), 0])
    expect(r.val_bpb_after).toBe(ev.score.val_bpb)
    expect(r.bundle).toEqual({val_loss: ev.score.val_loss, val_bpb: ev.score.val_bpb, agrees: true})
    // a sidecar one count short: the counted code refuses it in one line, exit 2
    writeShard(join(caseops, 'fineweb_val_bytes_000000.bin'), counts.subarray(0, counts.length - 1))
    try {
      const bad = await runBundle(code, ['eval', '--artifact', artifact, '--data', caseops, '--val-tokens', String(VAL), '--backend', 'wasm'])
      expect([bad.code, bad.stderr]).toEqual([2, `error: byte sidecar ${join(caseops, 'fineweb_val_bytes_000000.bin')}: ${counts.length - 1} byte counts for the ${counts.length} validation tokens; it needs one count per validation token\n`])
    } finally {
      writeShard(join(caseops, 'fineweb_val_bytes_000000.bin'), counts)
    }
  }, 120_000)
})
