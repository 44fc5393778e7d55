import {cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {mkdtempSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {beforeAll, describe, expect, it} from 'vitest'

import {InputError} from '../../src/errors.js'
import {loadCheckpoint} from '../../src/run/checkpoint.js'
import {train} from '../../src/train/loop.js'
import {quantActiveAt} from '../../src/train/stages.js'
import {RunFolder} from '../../src/run/folder.js'
import {tinyDataset, tinyRecipe} from '../helpers/tiny-run.js'

let data: string
const tmp = () => mkdtempSync(join(tmpdir(), 'golf-run-'))

beforeAll(async () => {
  data = await tinyDataset()
})

describe('golf train loop', () => {
  it('trains: loss goes down, writes the run folder in the official log format', async () => {
    const out = join(tmp(), 'run')
    const r = await train({recipe: tinyRecipe({train: {max_steps: 20, eval_every: 0}, optim: {matrix_lr: 0.02}}), dataDir: data, outDir: out, seed: 1, backend: 'wasm'})
    const s = r.summary!
    expect(s.steps).toBe(20)
    expect(s.params.ternary).toBe(2 * (32 * 32 * 2 + 2 * 16 * 32 + 2 * 64 * 32))
    expect(s.params.total).toBe(s.params.ternary + s.params.other)
    expect(s.tokens_seen).toBe(20 * 256)
    // an untrained byte model scores ~ln(260) = 5.56 nats/token; 20 steps must learn letters
    expect(s.val_loss).toBeLessThan(4.5)
    expect(s.val_bpb).toBeGreaterThan(0)
    expect(s.sliding?.stride).toBe(16)
    const log = readFileSync(join(out, 'train.log'), 'utf8').split('\n')
    expect(log.some((l) => /^step:1\/20 train_loss:\d+\.\d{4} train_time:\d+ms step_avg:\d+\.\d{2}ms$/.test(l))).toBe(true)
    // eval.val_tokens 1024 of the split: the final line says it is partial, as summary.json does
    const split = s.val_coverage!.split_tokens
    expect(s.val_coverage).toEqual({read_tokens: 1024, split_tokens: split, partial: true})
    expect(split).toBeGreaterThan(1024)
    expect(log.some((l) => new RegExp(`^step:20/20 val_loss:\\d+\\.\\d{4} val_bpb:\\d+\\.\\d{4} train_time:\\d+ms step_avg:\\d+\\.\\d{2}ms partial_val_tokens:1024/${split}$`).test(l))).toBe(true)
    expect(log.some((l) => new RegExp(`^final_sliding_window stride:16 val_loss:\\S+ val_bpb:\\S+ partial_val_tokens:1024/${split}$`).test(l))).toBe(true)
    const losses = readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l)).filter((m) => m.train_loss !== undefined)
    expect(losses.at(-1).train_loss).toBeLessThan(losses[0].train_loss - 1)
    const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'))
    for (const k of ['run_id', 'recipe', 'seed', 'steps', 'train_time_ms', 'tokens_seen', 'val_loss', 'val_bpb', 'backend', 'params']) expect(summary).toHaveProperty(k)
    expect(summary.eval_time_ms).toBeGreaterThanOrEqual(0) // the final evaluation's wall time, for the 10-minute eval rule
    const config = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'))
    expect(config.recipe.model.model_dim).toBe(32)
  })

  it('scores the whole validation split by default; in-training evals on train.val_tokens are labelled partial', async () => {
    const out = join(tmp(), 'run')
    const r = await train({recipe: tinyRecipe({train: {max_steps: 2, eval_every: 1, val_tokens: 512}, eval: {val_tokens: null, sliding_stride: null}}), dataDir: data, outDir: out, seed: 1, backend: 'wasm'})
    const cov = r.summary!.val_coverage!
    expect(cov.partial).toBe(false)
    expect(cov.read_tokens).toBe(cov.split_tokens)
    // every target of the whole split in windows of 32 (the official trim to whole sequences)
    expect(r.summary!.val_tokens).toBe(Math.floor((cov.split_tokens - 1) / 32) * 32)
    const vals = readFileSync(join(out, 'train.log'), 'utf8').split('\n').filter((l) => /val_bpb:/.test(l))
    expect(vals).toHaveLength(2)
    expect(vals[0]).toMatch(new RegExp(`^step:1/2 val_loss:\\S+ val_bpb:\\S+ train_time:\\d+ms step_avg:\\S+ms partial_val_tokens:512/${cov.split_tokens}$`))
    expect(vals[1]).toMatch(/^step:2\/2 val_loss:\d+\.\d{4} val_bpb:\d+\.\d{4} train_time:\d+ms step_avg:\d+\.\d{2}ms$/)
    const metrics = readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l)).filter((m) => m.val_bpb !== undefined)
    expect(metrics.map((m) => m.val_coverage.partial)).toEqual([true, false])
  })

  it('resume continues bit for bit: interrupted + resumed = uninterrupted', async () => {
    const recipe = tinyRecipe({train: {max_steps: 6, eval_every: 0}, eval: {sliding_stride: null}})
    const a = join(tmp(), 'a')
    await train({recipe, dataDir: data, outDir: a, seed: 7, backend: 'wasm'})
    const b = join(tmp(), 'b')
    let calls = 0
    const first = await train({recipe, dataDir: data, outDir: b, seed: 7, backend: 'wasm', interrupted: () => ++calls > 3})
    expect(first.interrupted).toBe(true)
    expect(first.stepsDone).toBe(3)
    const resumed = await train({recipe, dataDir: data, outDir: b, seed: 7, backend: 'wasm', resume: true})
    expect(resumed.summary!.steps).toBe(6)
    const wa = loadCheckpoint(new RunFolder(a), {optimizer: true})
    const wb = loadCheckpoint(new RunFolder(b), {optimizer: true})
    expect([...wb.weights.keys()]).toEqual([...wa.weights.keys()])
    for (const [k, v] of wa.weights) expect(Buffer.from(wb.weights.get(k)!.buffer).equals(Buffer.from(v.buffer)), k).toBe(true)
    for (const [k, v] of wa.optimizer!) expect(Buffer.from(wb.optimizer!.get(k)!.buffer).equals(Buffer.from(v.buffer)), k).toBe(true)
    expect(resumed.summary!.val_loss).toBe(JSON.parse(readFileSync(join(a, 'summary.json'), 'utf8')).val_loss)
  })

  it('resume on another backend says the run will not be bit-exact, and how to keep it so', async () => {
    const recipe = tinyRecipe({train: {max_steps: 2, eval_every: 0}, eval: {sliding_stride: null, val_tokens: 256}})
    const out = join(tmp(), 'cross')
    let calls = 0
    await train({recipe, dataDir: data, outDir: out, seed: 7, backend: 'wasm', interrupted: () => ++calls > 1})
    const messages = async (backend: 'wasm' | 'cpu') => {
      const seen: string[] = []
      const copy = join(tmp(), backend)
      cpSync(out, copy, {recursive: true})
      await train({recipe, dataDir: data, outDir: copy, seed: 7, backend, resume: true, onEvent: (e) => e.kind === 'info' && seen.push(e.message)})
      return seen.filter((m) => m.startsWith('resuming on'))
    }
    expect(await messages('wasm')).toEqual([])
    expect(await messages('cpu')).toEqual(['resuming on cpu, the checkpoint was trained on wasm: the steps from here round as cpu does, so the run will not match an uninterrupted wasm run bit for bit (--backend wasm keeps it exact)'])
  })

  it('refuses a checkpoint whose files no longer match the sidecar', async () => {
    const out = join(tmp(), 'c')
    await train({recipe: tinyRecipe({train: {max_steps: 2, eval_every: 0}, eval: {sliding_stride: null}}), dataDir: data, outDir: out, seed: 1, backend: 'wasm'})
    const path = join(out, 'checkpoint.safetensors')
    const bytes = readFileSync(path)
    bytes[bytes.length - 1] ^= 1
    writeFileSync(path, bytes)
    expect(() => loadCheckpoint(new RunFolder(out))).toThrow(/checkpoint\.safetensors does not match its checkpoint sidecar/)
  })

  it('refuses to overwrite a run folder and to resume a folder without a checkpoint', async () => {
    const out = join(tmp(), 'd')
    await train({recipe: tinyRecipe({train: {max_steps: 1, eval_every: 0}, eval: {sliding_stride: null}}), dataDir: data, outDir: out, seed: 1, backend: 'wasm'})
    await expect(train({recipe: tinyRecipe(), dataDir: data, outDir: out, seed: 1, backend: 'wasm'})).rejects.toThrow(/already exists and is not empty/)
    await expect(train({recipe: tinyRecipe(), dataDir: data, outDir: tmp(), seed: 1, backend: 'wasm', resume: true})).rejects.toThrow(InputError)
  })

  it('a fresh run that fails before its first checkpoint leaves nothing behind, and the same command then runs', async () => {
    // bad data found at the first batch: the training shard is cut short after its header
    const root = tmp()
    const bad = join(root, 'bad-data')
    cpSync(data, bad, {recursive: true})
    const shard = join(bad, 'fineweb_train_000000.bin')
    const size = readFileSync(shard).length
    writeFileSync(shard, readFileSync(shard).subarray(0, 1024 + 100))
    const recipe = tinyRecipe({train: {max_steps: 1, eval_every: 0}, eval: {sliding_stride: null}})
    const out = join(root, 'runs', 'r')
    await expect(train({recipe, dataDir: bad, outDir: out, seed: 1, backend: 'wasm'})).rejects.toThrow(new InputError(`shard ${shard}: header says ${(size - 1024) / 2} tokens (${size} bytes) but file has 1124 bytes`))
    expect(existsSync(out)).toBe(false) // made by this call: removed (the folder above it stays)
    expect(readdirSync(join(root, 'runs'))).toEqual([])
    // a folder that was there (empty) stays, emptied of what the run wrote
    mkdirSync(out)
    await expect(train({recipe, dataDir: bad, outDir: out, seed: 1, backend: 'wasm'})).rejects.toThrow(InputError)
    expect(readdirSync(out)).toEqual([])
    const r = await train({recipe, dataDir: data, outDir: out, seed: 1, backend: 'wasm'})
    expect(r.summary?.steps).toBe(1)
  })

  it('a fresh run that fails after training a step keeps its folder: train.log records what happened', async () => {
    // a failure at step 2 (as a divergence would be), raised from the run's own event stream
    const recipe = tinyRecipe({train: {max_steps: 4, log_every: 1, eval_every: 0}, eval: {sliding_stride: null}})
    const out = join(tmp(), 'failed')
    const onEvent = (e: {kind: string; step?: number}): void => {
      if (e.kind === 'step' && e.step === 2) throw new InputError('training diverged at step 2')
    }
    await expect(train({recipe, dataDir: data, outDir: out, seed: 1, backend: 'wasm', onEvent})).rejects.toThrow('training diverged at step 2')
    expect(readFileSync(join(out, 'train.log'), 'utf8')).toMatch(/^step:1\/4 train_loss:/m)
    expect(existsSync(join(out, 'config.json'))).toBe(true)
    expect(existsSync(join(out, 'summary.json'))).toBe(false)
  })

  it('staged quantization switches on at start_frac of the run', () => {
    const r = tinyRecipe({quant: {start_frac: 0.5}, train: {max_steps: 10}})
    expect(quantActiveAt(r, 4, 0)).toBe(false)
    expect(quantActiveAt(r, 5, 0)).toBe(true)
    expect(quantActiveAt(tinyRecipe({quant: {mode: 'none'}}), 9, 0)).toBe(false)
    expect(quantActiveAt(tinyRecipe(), 0, 0)).toBe(true)
    const capped = tinyRecipe({quant: {start_frac: 0.5}, train: {max_steps: 1000, max_wallclock_seconds: 10}})
    expect(quantActiveAt(capped, 1, 4999)).toBe(false)
    expect(quantActiveAt(capped, 1, 5000)).toBe(true)
  })
})

describe('--resume of a finished run', () => {
  it('changes nothing: same summary.json bytes, no new log lines, the result says so', async () => {
    const out = join(tmp(), 'done')
    // checkpoints every 2 steps so the final checkpoint is the last of several
    await train({recipe: tinyRecipe({train: {max_steps: 4, eval_every: 0, checkpoint_every: 2}, eval: {sliding_stride: null}}), dataDir: data, outDir: out, seed: 1, backend: 'wasm'})
    const summary = readFileSync(join(out, 'summary.json'))
    const log = readFileSync(join(out, 'train.log'))
    const ck = readFileSync(join(out, 'checkpoint.safetensors'))
    const again = await train({recipe: tinyRecipe({train: {max_steps: 4, eval_every: 0, checkpoint_every: 2}, eval: {sliding_stride: null}}), dataDir: data, outDir: out, seed: 1, backend: 'wasm', resume: true})
    expect(again.alreadyFinished).toBe(true)
    expect(again.stepsDone).toBe(4)
    expect(again.summary!.val_loss).toBe(JSON.parse(summary.toString()).val_loss)
    expect(readFileSync(join(out, 'summary.json')).equals(summary)).toBe(true)
    expect(readFileSync(join(out, 'train.log')).equals(log)).toBe(true)
    expect(readFileSync(join(out, 'checkpoint.safetensors')).equals(ck)).toBe(true)
  })

  it('a run killed during its final evaluation resumes to the same summary as an uninterrupted one', async () => {
    const recipe = tinyRecipe({train: {max_steps: 4, eval_every: 0}, eval: {sliding_stride: null}})
    const a = join(tmp(), 'whole')
    const whole = await train({recipe, dataDir: data, outDir: a, seed: 2, backend: 'wasm'})
    const b = join(tmp(), 'killed')
    await train({recipe, dataDir: data, outDir: b, seed: 2, backend: 'wasm'})
    rmSync(join(b, 'summary.json')) // as if killed after the final checkpoint, before the summary
    const resumed = await train({recipe, dataDir: data, outDir: b, seed: 2, backend: 'wasm', resume: true})
    expect(resumed.alreadyFinished).toBeUndefined()
    expect(resumed.summary!.val_loss).toBe(whole.summary!.val_loss)
    expect(resumed.summary!.val_bpb).toBe(whole.summary!.val_bpb)
  })
})
