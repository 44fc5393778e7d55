/**
 * Diffusion runs end to end on tiny models: MDLM and BD3-LM train, resume bit for bit (their
 * noise is keyed by seed, step and micro-batch), pack with an exact roundtrip on the ELBO
 * (the same seeded noise before and after: gap 0, identical logits), are scored the same by
 * the bundled counted code, and start from an AR run with --init-from. Needs dist/.
 */
import {mkdtempSync, readFileSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {beforeAll, describe, expect, it} from 'vitest'

import {initBackend} from '../../src/backend/index.js'
import {evaluateTarget} from '../../src/eval/run-eval.js'
import {packSource} from '../../src/pack/pack-model.js'
import {loadCheckpoint} from '../../src/run/checkpoint.js'
import {RunFolder} from '../../src/run/folder.js'
import {readRunConfig} from '../../src/run/load.js'
import {evaluateArtifact, roundtripLine} from '../../src/submission/rebuild.js'
import {train} from '../../src/train/loop.js'
import {buildCountedCode} from '../../src/verify/bundle.js'
import {roundtrip, runBundle} from '../../src/verify/roundtrip.js'
import {tinyDataset, tinyRecipe} from '../helpers/tiny-run.js'

const VAL = 512
let data: string
const tmp = () => mkdtempSync(join(tmpdir(), 'golf-diffusion-run-'))

const objectives = {
  mdlm: {objective: {kind: 'mdlm'}},
  bd3lm: {objective: {kind: 'bd3lm', block_size: 8}},
} as const

beforeAll(async () => {
  await initBackend('wasm', {quiet: true})
  data = await tinyDataset(8, 2000)
}, 120_000)

describe.each(Object.entries(objectives))('%s run', (kind, over) => {
  const recipe = () => tinyRecipe({...over, train: {max_steps: 6, eval_every: 0}, eval: {sliding_stride: null, val_tokens: VAL, elbo_steps: 16}})

  it('resume continues bit for bit: interrupted + resumed = uninterrupted', async () => {
    const a = join(tmp(), 'a')
    const full = await train({recipe: recipe(), dataDir: data, outDir: a, seed: 7, backend: 'wasm'})
    expect(full.summary!.objective).toBe(kind)
    expect(full.summary!.bound).toBe(true)
    const b = join(tmp(), 'b')
    let calls = 0
    const first = await train({recipe: recipe(), dataDir: data, outDir: b, seed: 7, backend: 'wasm', interrupted: () => ++calls > 3})
    expect(first.stepsDone).toBe(3)
    const resumed = await train({recipe: recipe(), dataDir: data, outDir: b, seed: 7, backend: 'wasm', resume: true})
    const wa = loadCheckpoint(new RunFolder(a), {optimizer: true})
    const wb = loadCheckpoint(new RunFolder(b), {optimizer: true})
    for (const [k, v] of wa.weights) expect(Buffer.from(wb.weights.get(k)!.buffer).equals(Buffer.from(v.buffer)), k).toBe(true)
    expect(resumed.summary!.val_loss).toBe(full.summary!.val_loss)
    // the model embeds the 260 byte260 ids and one [MASK]
    expect(wa.meta.model.vocab_size).toBe(261)
    const log = readFileSync(join(a, 'train.log'), 'utf8')
    // eval.val_tokens VAL of the split: the bound's line says it is partial
    const cov = full.summary!.val_coverage!
    expect(cov).toMatchObject({read_tokens: VAL, partial: true})
    expect(log).toMatch(new RegExp(`^final_elbo bound:upper steps:16 samples:1 seed:0 val_loss:\\d+\\.\\d{4} val_bpb:\\d+\\.\\d{4} val_bpb_se:\\d+\\.\\d{4} partial_val_tokens:${VAL}/${cov.split_tokens}$`, 'm'))
  })

  it('packs with an exact roundtrip on the bound, and the counted code prints the same bound', async () => {
    const run = join(tmp(), 'run')
    await train({recipe: recipe(), dataDir: data, outDir: run, seed: 3, backend: 'wasm'})
    const artifact = join(tmp(), 'model.golf')
    writeFileSync(artifact, (await packSource(run, {codec: 'auto'})).bytes)
    const r = await roundtrip({runDir: run, artifactPath: artifact, valTokens: VAL, backend: 'wasm'})
    expect(r.objective).toBe(kind)
    expect(r.bound).toBe(true)
    expect(r.max_logit_diff).toBe(0)
    expect(r.gap).toBe(0)
    expect(r.exact).toBe(true)

    // the run's own score and the artifact's, through the counted code's path
    const summary = JSON.parse(readFileSync(join(run, 'summary.json'), 'utf8'))
    const ev = await evaluateArtifact({artifact, dataDir: data, valTokens: VAL, backend: 'wasm'})
    expect(ev.score.mode).toBe('elbo')
    expect(ev.score.val_bpb).toBe(summary.val_bpb)
    expect(roundtripLine(ev.score)).toMatch(/^final_roundtrip_elbo val_loss:\d+\.\d{8} val_bpb:\d+\.\d{8} bound:upper steps:16 val_bpb_se:\d+\.\d{8}$/)
    const {config} = readRunConfig(run)
    const code = await buildCountedCode(config.recipe, {seed: config.seed})
    const res = await runBundle(code.code, ['eval', '--artifact', artifact, '--data', data, '--val-tokens', String(VAL), '--json', '--backend', 'wasm'])
    expect(res.code, res.stderr).toBe(0)
    expect(res.stdout).toContain(roundtripLine(ev.score))
    const json = JSON.parse(res.stdout.trim().split('\n').at(-1)!)
    expect(json).toMatchObject({val_bpb: ev.score.val_bpb, val_loss: ev.score.val_loss, bound: true, elbo_steps: 16})

    // golf eval on the run and on the artifact: same bound, and the chain rule is a likelihood
    const onRun = await evaluateTarget({run, valTokens: VAL, backend: 'wasm'})
    const onArtifact = await evaluateTarget({artifact, data, valTokens: VAL, backend: 'wasm'})
    expect(onRun.val_bpb).toBe(summary.val_bpb)
    expect(onArtifact.val_bpb).toBe(summary.val_bpb)
    const chain = await evaluateTarget({run, valTokens: VAL, backend: 'wasm', mode: 'chain'})
    expect(chain.bound).toBe(false)
    expect(chain.tokens).toBe(onRun.tokens)
    expect(chain.bytes).toBe(onRun.bytes)
    await expect(evaluateTarget({run, valTokens: VAL, backend: 'wasm', mode: 'chunked'})).rejects.toThrow(`--mode chunked does not apply to ${kind} models (their modes: elbo, chain)`)
  })
})

describe('--init-from: AR → diffusion adaptation', () => {
  it('starts an MDLM run from an AR run: same weights, the [MASK] row the mean of the rest', async () => {
    const ar = join(tmp(), 'ar')
    await train({recipe: tinyRecipe({train: {max_steps: 3, eval_every: 0}, eval: {sliding_stride: null, val_tokens: VAL}}), dataDir: data, outDir: ar, seed: 5, backend: 'wasm'})
    const dm = join(tmp(), 'mdlm')
    // max_steps 1 with a zero learning rate: the weights after the run are the initial ones
    await train({recipe: tinyRecipe({objective: {kind: 'mdlm'}, optim: {matrix_lr: 0, scalar_lr: 0, embed_lr: 0}, train: {max_steps: 1, eval_every: 0}, eval: {sliding_stride: null, val_tokens: VAL, elbo_steps: 4}}), dataDir: data, outDir: dm, seed: 9, backend: 'wasm', initFrom: ar})
    const src = loadCheckpoint(new RunFolder(ar)).weights
    const dst = loadCheckpoint(new RunFolder(dm)).weights
    for (const [k, v] of src) {
      if (k === 'tok_emb.weight') continue
      expect(Buffer.from(dst.get(k)!.buffer).equals(Buffer.from(v.buffer)), k).toBe(true)
    }
    const E = 32
    const embSrc = src.get('tok_emb.weight')!
    const embDst = dst.get('tok_emb.weight')!
    expect(embDst.length).toBe(embSrc.length + E)
    expect(Buffer.from(embDst.buffer, 0, embSrc.length * 4).equals(Buffer.from(embSrc.buffer))).toBe(true)
    for (let e = 0; e < E; e++) {
      let mean = 0
      for (let r = 0; r < 260; r++) mean += embSrc[r * E + e] / 260
      expect(embDst[260 * E + e]).toBeCloseTo(mean, 6)
    }
    expect(readFileSync(join(dm, 'train.log'), 'utf8').split('\n')[0]).toContain(`init_from:${ar}`)
  })

  it('refuses a source of another shape, naming the key', async () => {
    const ar = join(tmp(), 'ar2')
    await train({recipe: tinyRecipe({train: {max_steps: 1, eval_every: 0}, eval: {sliding_stride: null, val_tokens: VAL}}), dataDir: data, outDir: ar, seed: 5, backend: 'wasm'})
    await expect(
      train({recipe: tinyRecipe({objective: {kind: 'mdlm'}, model: {model_dim: 64}, train: {max_steps: 1}, eval: {sliding_stride: null}}), dataDir: data, outDir: join(tmp(), 'x'), seed: 1, backend: 'wasm', initFrom: ar}),
    ).rejects.toThrow(/--init-from .*: model\.model_dim is 32 there and 64 here/)
  })
})
