import {paramSpecs} from '../../src/model/config.js'
/**
 * `eval.score: chain`: a diffusion run that reports its chain-rule likelihood (left-to-right
 * unmasking inside each block, src/eval/chain.ts) instead of its ELBO. The run, its artifact,
 * `golf eval`, `golf verify`'s roundtrip, the counted code and the log reader all agree on the
 * one number, and it is labelled a likelihood everywhere (no bound). Needs dist/.
 */
import {mkdtempSync, readFileSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {beforeAll, describe, expect, it} from 'vitest'

import {initBackend} from '../../src/backend/index.js'
import {evaluateTarget} from '../../src/eval/run-eval.js'
import {artifactModelInfo} from '../../src/pack/model-info.js'
import {packSource} from '../../src/pack/pack-model.js'
import {readRunConfig} from '../../src/run/load.js'
import {evaluateArtifact, roundtripLine} from '../../src/submission/rebuild.js'
import {train} from '../../src/train/loop.js'
import {buildCountedCode} from '../../src/verify/bundle.js'
import {parseLog} from '../../src/verify/logs.js'
import {roundtrip, runBundle} from '../../src/verify/roundtrip.js'
import {tinyDataset, tinyRecipe} from '../helpers/tiny-run.js'

const VAL = 512
let data: string
const tmp = () => mkdtempSync(join(tmpdir(), 'golf-chain-score-'))
const recipe = (score: 'chain' | 'elbo' | undefined) =>
  tinyRecipe({objective: {kind: 'bd3lm', block_size: 8, shift: true}, train: {max_steps: 4, eval_every: 2, val_tokens: 256}, eval: {sliding_stride: null, val_tokens: VAL, elbo_steps: 16, ...(score ? {score} : {})}})

beforeAll(async () => {
  await initBackend('wasm', {quiet: true})
  data = await tinyDataset(8, 2000)
}, 120_000)

describe('a BD3-LM run scored by the chain rule', () => {
  it('reports the chain rule end to end: summary, log, golf eval, pack, roundtrip (gap 0) and the counted code', async () => {
    const run = join(tmp(), 'run')
    const r = await train({recipe: recipe('chain'), dataDir: data, outDir: run, seed: 3, backend: 'wasm'})
    const summary = r.summary!
    expect(summary.objective).toBe('bd3lm')
    expect(summary.bound).toBe(false)
    expect(summary.elbo).toBeNull()

    // the same number as golf eval --mode chain on the run, and golf eval's default for it
    const chain = await evaluateTarget({run, valTokens: VAL, backend: 'wasm', mode: 'chain'})
    expect(summary.val_bpb).toBe(chain.val_bpb)
    const byDefault = await evaluateTarget({run, valTokens: VAL, backend: 'wasm'})
    expect(byDefault).toMatchObject({mode: 'chain', bound: false, val_bpb: chain.val_bpb})
    // and not the bound: the ELBO of the same weights is another number
    const elbo = await evaluateTarget({run, valTokens: VAL, backend: 'wasm', mode: 'elbo'})
    expect(elbo.bound).toBe(true)
    expect(elbo.val_bpb).not.toBe(chain.val_bpb)

    // the log says so, and the log reader takes its scores for likelihoods
    const log = readFileSync(join(run, 'train.log'), 'utf8')
    expect(log.split('\n')[0]).toMatch(/ objective:bd3lm score:chain /)
    expect(log).toMatch(new RegExp(`^final_chain order:left-to-right block:8 val_loss:\\d+\\.\\d{4} val_bpb:${summary.val_bpb.toFixed(4)} partial_val_tokens:${VAL}/\\d+$`, 'm'))
    expect(log).not.toMatch(/bound:upper|final_elbo/)
    const parsed = parseLog(log)
    expect(parsed.diffusion).toBe(false)
    expect(parsed.val.length).toBeGreaterThan(1) // the in-training evals too
    expect(parsed.val.every((v) => !v.bound)).toBe(true)

    // the artifact records the score: rebuilt, it is scored the same way, with gap 0
    const artifact = join(tmp(), 'model.golf')
    writeFileSync(artifact, (await packSource(run, {codec: 'auto'})).bytes)
    const rt = await roundtrip({runDir: run, artifactPath: artifact, valTokens: VAL, backend: 'wasm'})
    expect(rt).toMatchObject({objective: 'bd3lm', bound: false, elbo: null, gap: 0, max_logit_diff: 0, exact: true, val_bpb_before: summary.val_bpb})
    const ev = await evaluateArtifact({artifact, dataDir: data, valTokens: VAL, backend: 'wasm'})
    expect(ev.info.eval?.score).toBe('chain')
    expect(ev.score).toMatchObject({mode: 'chain', bound: false, val_bpb: summary.val_bpb})
    expect(roundtripLine(ev.score)).toMatch(/^final_roundtrip val_loss:\d+\.\d{8} val_bpb:\d+\.\d{8}$/)
    const {config} = readRunConfig(run)
    const code = await buildCountedCode(config.recipe, {seed: config.seed})
    const res = await runBundle(code.code, ['eval', '--artifact', artifact, '--data', data, '--val-tokens', String(VAL), '--json', '--backend', 'wasm'])
    expect(res.code, res.stderr).toBe(0)
    expect(res.stdout).toContain(roundtripLine(ev.score))
    expect(JSON.parse(res.stdout.trim().split('\n').at(-1)!)).toMatchObject({val_bpb: summary.val_bpb, mode: 'chain', bound: false})
  })

  it('an ELBO-scored run is as before: its artifact records no score, its log is a bound log', async () => {
    const run = join(tmp(), 'elbo')
    const r = await train({recipe: recipe(undefined), dataDir: data, outDir: run, seed: 3, backend: 'wasm'})
    expect(r.summary!.bound).toBe(true)
    const {manifest} = await packSource(run, {codec: 'auto'})
    const model = manifest.model as {eval?: Record<string, unknown>}
    expect(model.eval).toMatchObject({elbo_steps: 16})
    expect(model.eval).not.toHaveProperty('score')
    const log = readFileSync(join(run, 'train.log'), 'utf8')
    expect(log.split('\n')[0]).not.toContain('score:')
    expect(parseLog(log).diffusion).toBe(true)
  })
})

describe('eval.score: bad input', () => {
  it('the recipe: elbo or chain for diffusion models, chain for bd3lm only', () => {
    expect(() => tinyRecipe({eval: {sliding_stride: null, score: 'chain'}})).toThrow('eval.score is for mdlm and bd3lm (the bound or the chain rule of a diffusion model); an ar model is scored by its likelihood')
    expect(() => tinyRecipe({objective: {kind: 'mdlm'}, eval: {sliding_stride: null, score: 'exact'}})).toThrow('tiny-test: eval.score must be one of "elbo", "chain", got "exact"')
    expect(() => tinyRecipe({objective: {kind: 'mdlm'}, eval: {sliding_stride: null, score: 'chain'}})).toThrow(
      'eval.score chain is for bd3lm: an mdlm model\'s chain rule costs seq_len (32) forward passes per window, 32× its one-draw ELBO, in every evaluation of the run; score a slice with golf eval --mode chain --val-tokens N',
    )
    expect(tinyRecipe({objective: {kind: 'mdlm'}, eval: {sliding_stride: null, score: 'elbo'}}).eval.score).toBe('elbo')
    expect(recipe('chain').eval.score).toBe('chain')
    expect(recipe(undefined).eval).not.toHaveProperty('score')
  })

  it("an artifact's manifest: each recorded eval setting of its type, score for diffusion models only", () => {
    // the manifest as read from a file: only its model section matters here
    const cfg = recipe('chain')
    const tensors = paramSpecs({...cfg.model, vocab_size: 261}, []).map((s) => ({name: s.name, shape: s.shape}))
    const manifest = (model: Record<string, unknown>) => ({model, tensors}) as unknown as Parameters<typeof artifactModelInfo>[0]
    const base = {config: {...cfg.model, vocab_size: 261}, seq_len: 32, vocab_size: 260, objective: cfg.objective}
    const info = (evalSection: unknown, objective: unknown = cfg.objective) => () => artifactModelInfo(manifest({...base, objective, eval: evalSection}), 'model.golf')
    expect(info({score: 'chain', elbo_steps: 16})()).toMatchObject({eval: {score: 'chain'}})
    expect(info({score: 'exact'})).toThrow('model.golf: model.eval.score must be elbo or chain, got "exact"')
    expect(info({elbo_steps: -1})).toThrow('model.golf: model.eval.elbo_steps must be an integer ≥ 0, got -1')
    expect(info({batch_seqs: 'eight'})).toThrow('model.golf: model.eval.batch_seqs must be an integer ≥ 1, got "eight"')
    expect(info({sliding_stride: 0})).toThrow('model.golf: model.eval.sliding_stride must be an integer ≥ 1 or null, got 0')
    expect(info([16])).toThrow('model.golf: model.eval must be a mapping, got [16]')
    expect(info({score: 'chain'}, {kind: 'ar', block_size: null, noise_eps: 0.001, sampling_eps: 0.001, train_interval: null})).toThrow('model.golf: model.eval.score is for diffusion models; this one is ar')
  })
})
