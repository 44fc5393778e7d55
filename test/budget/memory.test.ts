import * as tf from '@tensorflow/tfjs-core'
import {existsSync, mkdirSync, mkdtempSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'

import {initBackend} from '../../src/backend/index.js'
import {assertFitsMemory, estimateEvalMemory, estimateMemory, estimateModelEval, estimateTrainMemory, gib, memoryShapeOf, WASM_HEAP_MAX_BYTES, type MemoryItem, type ThreadMemory} from '../../src/budget/memory.js'
import {InputError} from '../../src/errors.js'
import {evaluateTarget} from '../../src/eval/run-eval.js'
import {batchNll} from '../../src/objective/batch.js'
import {objectiveFor} from '../../src/objective/index.js'
import {isDiffusion} from '../../src/objective/types.js'
import {buildOptimizers} from '../../src/optim/composite.js'
import {loadRecipe, resolveRecipe, type ResolvedRecipe} from '../../src/recipe/recipe.js'
import {buildModel} from '../../src/run/build-model.js'
import {accumulateGrads, disposeMap} from '../../src/train/grads.js'
import {runCli} from '../helpers/cli.js'
import {measurePeak} from '../helpers/memory.js'

const item = (items: MemoryItem[], prefix: string) => items.find((i) => i.name.startsWith(prefix))?.bytes
const phaseOf = (t: ThreadMemory, name: string) => t.phases.find((p) => p.phase === name)!

describe('memory estimate: the arithmetic', () => {
  // 2 blocks of width 32 (2 heads of 16, 1 KV head, MLP 64), vocab 64, sequences of 16 (one
  // attention tile), micro-batches of 2 sequences, 2 per step, one thread, eval at 3 sequences
  const recipe = resolveRecipe({
    name: 'mem-arith',
    model: {vocab_size: 64, model_dim: 32, num_heads: 2, num_kv_heads: 1, mlp_mult: 2, unique_blocks: 2},
    quant: {group_size: 16},
    train: {seq_len: 16, micro_batch_tokens: 32, batch_tokens: 64, workers: 1},
    eval: {batch_seqs: 3},
  })

  it('itemises a small config exactly as counted by hand', () => {
    const e = estimateMemory(recipe, {backend: 'wasm'})
    // parameters: skip_weights 32, tok_emb 64·32 = 2,048; per block scales 32 + 32, resid_mix 64,
    // q_gain 2 and matrices c_q 1,024 + c_k 512 + c_v 512 + proj 1,024 + fc 2,048 + proj 2,048
    const ternary = 2 * 7168
    const embedding = 2048
    const otherFloat = 32 + 2 * 130
    const P = ternary + embedding + otherFloat
    expect(e.params).toEqual({total: 16_676, ternary: 14_336, float: 2340})
    const main = e.train!.per_thread[0]
    expect(e.train!.per_thread).toHaveLength(1)
    expect(main.rows).toBe(2)
    expect(item(main.resident, 'weights')).toBe(4 * P) // 66,704
    expect(item(main.resident, 'optimizer state')).toBe(4 * (ternary + 2 * (embedding + otherFloat))) // Muon 1 slot, AdamW 2: 76,064
    expect(item(main.resident, 'RoPE')).toBe(4 * (16 * 16 + 16 * 16)) // mask 16×16 + cos/sin 16 × 8 each: 2,048

    // forward+backward of 2 rows × 16 tokens: N = 32 rows, L = 2 layers, one tile of 16×16 scores
    const N = 32
    const fb = phaseOf(main, 'forward+backward').items
    const copies = ternary + embedding + otherFloat // q·d of every ternary tensor, fp16 copies of the floats
    expect(item(fb, 'q·d')).toBe(4 * copies)
    // gradients: one per use (blocks applied once, the tied tok_emb twice + their sum, 1.4 more
    // when rounded), + the concat/split gradients of the rounded floats (3 − 1 more each)
    expect(item(fb, 'gradients summed')).toBe(4 * P) // 2 micro-batches per step
    expect(item(fb, 'gradients')).toBe(Math.round(4 * (ternary + otherFloat + 2 * otherFloat + embedding * (2 + 1 + 0.4)))) // 88,701
    expect(item(fb, 'activations: residual')).toBe(Math.round(4 * (2 * N * 32 * 53 + 1 * N * 32 * 2.87 + N * 32 * 13.2))) // 499,999
    expect(item(fb, 'activations: attention q/k/v')).toBe(Math.round(4 * 2 * N * (16 * 21 + 2 * 1.27 + 1 * 12.4))) // 89,841
    expect(item(fb, 'activations: attention scores')).toBe(4 * 2 * (2 * 2 * 16 * 16) * 7) // 57,344
    expect(item(fb, 'activations: MLP')).toBe(4 * 2 * N * 64 * 6) // 98,304
    expect(item(fb, 'activations: logits')).toBe(Math.round(4 * (N * 64 * 11.1 + N * (2 * 3.66 + 11.6)))) // 93,353
    const fbBytes = 66_704 + 88_701 + 66_704 + 499_999 + 89_841 + 57_344 + 98_304 + 93_353
    expect(phaseOf(main, 'forward+backward').bytes).toBe(fbBytes)

    // optimizer step: gradients + Muon's b1 and u of all matrices (2 × 14,336) + the results so
    // far + Newton–Schulz of block 1's fc [64, 32] (tall, Gram form: 55,296 floats), its peak
    const opt = phaseOf(main, 'optimizer step')
    expect(opt.items[0].bytes).toBe(4 * P)
    expect(opt.items[1].bytes).toBe(4 * (2 * ternary + 7168 + 3072 + 55_296)) // 376,832
    // evaluation of 3 sequences: N = 48; q·d copies + 3 copies of the rounded floats
    const ev = phaseOf(main, 'evaluation').items
    expect(item(ev, 'q·d')).toBe(4 * (ternary + 3 * (embedding + otherFloat))) // 85,424
    // one layer at a time (each in its own tidy): a layer's intermediates (25 N·D, 11 N·K/V
    // width + 3 N·H + 3 N·KV + 6 N, 4 score tensors of 2 heads × 16 × 16 per row, 3 N·M) outweigh
    // the head's (8 logits tensors of N × V + 5 N·D + 15.2 N = 32,986 floats)
    expect(item(ev, 'activations: one layer')).toBe(4 * (48 * 32 * 25 + 48 * (16 * 11 + 2 * 3 + 1 * 3 + 6) + 3 * 2 * 256 * 4 + 48 * 64 * 3)) // 251,712
    expect(item(ev, 'activations: residual stream kept')).toBe(4 * 48 * 32 * (2 + 1 * 2)) // x0, x and one U-Net skip: 24,576

    // the peak: resident + the largest phase (forward+backward here) + 5% heap overhead
    const resident = 66_704 + 76_064 + 2048
    expect(main.peak_phase).toBe('forward+backward')
    expect(main.peak_bytes).toBe(resident + fbBytes + Math.ceil((resident + fbBytes) * 0.05)) // 1,266,055
    expect(e.train!.peak_bytes).toBe(main.peak_bytes)
    expect(e.verdicts.train!.fits).toBe(true)
  })

  it("an artifact's model holds plain floats: its evaluation makes no q·d copies", () => {
    const shape = {...memoryShapeOf(recipe), ternary: [], floatFormat: 'fp32' as const, quantActive: false}
    const art = estimateModelEval('model.golf', shape, {backend: 'wasm', batchSeqs: 3})
    const run = estimateEvalMemory(memoryShapeOf(recipe), {batchSeqs: 3, models: 1})
    expect(art.train).toBeNull()
    expect(item(art.eval.thread.phases[0].items, 'q·d')).toBeUndefined()
    expect(item(art.eval.thread.resident, 'weights')).toBe(4 * 16_676)
    expect(item(art.eval.thread.phases[0].items, 'activations: one layer')).toBe(item(run.thread.phases[0].items, 'activations: one layer'))
    // the difference is the run's q·d copies (+5% overhead on them)
    expect(item(run.thread.phases[0].items, 'q·d')).toBe(85_424)
    expect(run.peak_bytes - art.eval.peak_bytes).toBeCloseTo(85_424 * 1.05, -1)
  })

  it('splits the rows over threads and counts the two models of verify --run', () => {
    const s = memoryShapeOf(recipe)
    const base = {microBatchTokens: 5 * 16, batchTokens: 5 * 16, evalBatchSeqs: 0, nsSteps: 5, weightDecay: false, gradClip: false, recompute: false}
    const one = estimateTrainMemory(s, {...base, threads: 1})
    const two = estimateTrainMemory(s, {...base, threads: 2})
    // 5 rows: thread 0 (main) 2, thread 1 3 (parallel.ts rowShares); the worker holds no optimizer state
    expect(two.per_thread.map((t) => [t.thread, t.rows])).toEqual([['main', 2], ['worker', 3]])
    expect(item(two.per_thread[1].resident, 'optimizer state')).toBeUndefined()
    expect(phaseOf(two.per_thread[1], 'forward+backward').bytes).toBeLessThan(phaseOf(one.per_thread[0], 'forward+backward').bytes)
    expect(two.total_bytes).toBe(two.per_thread[0].peak_bytes + two.per_thread[1].peak_bytes + 2 * 4 * 16_676) // + the pool's shared buffers
    const ev = estimateEvalMemory(s, {batchSeqs: 3, models: 1})
    const vr = estimateEvalMemory(s, {batchSeqs: 3, models: 2})
    expect(item(vr.thread.resident, 'weights')).toBe(2 * item(ev.thread.resident, 'weights')!)
    expect(item(vr.thread.phases[0].items, 'logits kept')).toBe(4 * 3 * 16 * 64)
  })
})

describe('memory estimate: the recipes on wasm', () => {
  it('bitnet-b158-68m at 1,024-token micro-batches: recomputation on (auto), the evaluation batch fitted, it fits', () => {
    const sets = ['train.micro_batch_tokens=1024', 'train.workers=1']
    const e = estimateMemory(loadRecipe('bitnet-b158-68m', sets), {backend: 'wasm'})
    expect(e.limit.bytes).toBe(4_294_901_760)
    expect(e.params.total).toBe(68_948_868)
    const t = e.train!
    const main = t.per_thread[0]
    expect([t.threads, t.rows_per_micro_batch, main.rows, t.accumulation]).toEqual([1, 1, 1, 512])
    expect(item(main.resident, 'weights')).toBe(4 * 68_948_868)
    const fb = phaseOf(main, 'forward+backward')
    const resident = main.resident.reduce((a, i) => a + i.bytes, 0)
    expect(fb.bytes).toBe(fb.items.reduce((a, i) => a + i.bytes, 0))
    expect(t.step_peak_bytes).toBe(resident + fb.bytes + Math.ceil((resident + fb.bytes) * 0.05))
    // auto: without recomputation one sequence needs more than the heap, with it far less
    expect(t.recompute).toBe(true)
    const kept = estimateMemory(loadRecipe('bitnet-b158-68m', [...sets, 'train.recompute=false']), {backend: 'wasm'}).train!
    expect(kept.recompute).toBe(false)
    expect(kept.step_peak_bytes).toBeGreaterThan(WASM_HEAP_MAX_BYTES)
    expect(t.step_peak_bytes).toBeLessThan(WASM_HEAP_MAX_BYTES / 1.5)
    expect(item(fb.items, "activations: every layer's input")).toBe(4 * 11 * 1024 * 768 * 2)
    // the evaluations during training: eval.batch_seqs 32 lowered to the largest that fits
    expect(t.requested_eval_batch_seqs).toBe(32)
    const b = t.eval_batch_seqs
    expect(b).toBeGreaterThanOrEqual(4)
    expect(b).toBeLessThan(32)
    const at = (seqs: number) => estimateMemory(loadRecipe('bitnet-b158-68m', sets), {backend: 'wasm', batchSeqs: seqs}).train!.peak_bytes
    expect(at(b)).toBeLessThanOrEqual(WASM_HEAP_MAX_BYTES)
    expect(at(b + 1)).toBeGreaterThan(WASM_HEAP_MAX_BYTES)
    expect(e.verdicts.train!.fits).toBe(true)
    expect(() => assertFitsMemory(e, 'train')).not.toThrow()
    // golf eval and verify --run alike
    for (const x of [e.eval, e.verify]) {
      expect(x.requested_batch_seqs).toBe(32)
      expect(x.batch_seqs).toBeLessThan(32)
      expect(x.peak_bytes).toBeLessThanOrEqual(WASM_HEAP_MAX_BYTES)
    }
    expect(e.verify.batch_seqs).toBeLessThanOrEqual(e.eval.batch_seqs)
  })

  it('train.recompute false where it is needed: refused in one line that says to turn it on, and that fits', () => {
    const sets = ['train.micro_batch_tokens=1024', 'train.workers=1', 'train.recompute=false']
    const e = estimateMemory(loadRecipe('bitnet-b158-68m', sets), {backend: 'wasm'})
    const v = e.verdicts.train!
    expect(v.fits).toBe(false)
    let message = ''
    try {
      assertFitsMemory(e, 'train')
    } catch (err) {
      expect(err).toBeInstanceOf(InputError)
      expect((err as InputError).exitCode).toBe(2)
      message = (err as Error).message
    }
    expect(message).not.toContain('\n')
    expect(message).toContain('train.micro_batch_tokens 1,024 (1 thread, 1 sequence of 1,024 tokens per thread)')
    expect(message).toContain(`needs an estimated ${gib(e.train!.step_peak_bytes)} per thread on wasm`)
    expect(message).toContain('4,294,901,760 bytes')
    expect(message).toContain('set train.recompute to true')
    expect(v.suggestion!.settings).toEqual({'train.recompute': true})
    const fixed = estimateMemory(loadRecipe('bitnet-b158-68m', [...sets, 'train.recompute=true']), {backend: 'wasm'})
    expect(fixed.verdicts.train!.fits).toBe(true)
    expect(fixed.train!.peak_bytes).toBe(v.suggestion!.needed_bytes)
  })

  it('refuses a model too large for the heap before allocating anything: one line naming the numbers', async () => {
    // 4096 wide (16 heads, 4 KV heads): 1.9 billion parameters, 7.7 GB of weights alone
    const big = loadRecipe('bitnet-b158-68m', ['model.model_dim=4096', 'model.num_heads=16', 'model.num_kv_heads=4', 'train.workers=1'])
    await initBackend('wasm', {quiet: true})
    const before = tf.memory()
    const e = estimateMemory(big, {backend: 'wasm'})
    expect(e.params.total).toBeGreaterThan(1.9e9)
    expect([tf.memory().numTensors, tf.memory().numBytes]).toEqual([before.numTensors, before.numBytes])
    expect(e.verdicts.train!.fits).toBe(false)
    expect(e.verdicts.train!.suggestion).toBeNull()
    const refused = (what: 'train' | 'eval' | 'verify') => {
      try {
        assertFitsMemory(e, what)
      } catch (err) {
        expect(err).toBeInstanceOf(InputError)
        return (err as Error).message
      }
      return null
    }
    const train = refused('train')!
    expect(train).not.toContain('\n')
    expect(train).toMatch(/^bitnet-b158-68m: a training step at train\.micro_batch_tokens 65,536 .* needs an estimated [\d.]+ GiB per thread on wasm/)
    expect(train).toContain('model.model_dim')
    expect(refused('eval')).toContain(`evaluating at eval.batch_seqs 32 (sequences of 1,024 tokens per pass) needs an estimated ${gib(e.eval.peak_bytes)} on wasm`)
    expect(refused('verify')).toContain('verify --run (the run and its artifact)')
    // a tensorflow backend's memory is not known: never refused
    expect(() => assertFitsMemory(estimateMemory(big, {backend: 'tensorflow'}), 'train')).not.toThrow()
  })
})

describe('memory estimate: golf eval refuses before building the model', () => {
  const runWith = (recipe: ResolvedRecipe) => {
    const dir = join(mkdtempSync(join(tmpdir(), 'golf-mem-')), 'run')
    mkdirSync(dir)
    // a run folder as golf train leaves it before its first checkpoint: config.json only
    writeFileSync(join(dir, 'config.json'), JSON.stringify({recipe, seed: 1, data: dir, tokenizer: 'byte260', vocab_size: recipe.model.vocab_size, backend: 'wasm'}))
    return dir
  }

  it('a model too large: the memory line (naming --batch-seqs), not the missing checkpoint', async () => {
    const run = runWith(loadRecipe('bitnet-b158-68m', ['model.model_dim=4096', 'model.num_heads=16', 'model.num_kv_heads=4']))
    await initBackend('wasm', {quiet: true})
    const before = tf.memory().numBytes
    await expect(evaluateTarget({run, backend: 'wasm'})).rejects.toThrow(/evaluating at --batch-seqs 32 \(sequences of 1,024 tokens per pass\) needs an estimated [\d.]+ GiB on wasm, over the 4\.00 GiB \(4,294,901,760 bytes\)/)
    expect(tf.memory().numBytes).toBe(before)
    // a batch that fits goes on to load the model (here: there is no checkpoint to load)
    const small = runWith(loadRecipe('tiny-cpu'))
    await expect(evaluateTarget({run: small, backend: 'wasm'})).rejects.toThrow(/has no checkpoint yet/)
  }, 60_000)
})

describe('memory estimate: calibration against wasm', () => {
  // The peak of live tensors in a training micro-batch, an optimizer step and an evaluation
  // pass, measured by hooking the tfjs engine, against the estimate's phases (small configs: a
  // second, warm step, so the RoPE tables and masks already exist). Larger configs measured the
  // same way are in the module doc of src/budget/memory.ts.
  // [name, recipe, rows, recompute, forward+backward tolerance]
  const configs: Array<[string, Record<string, unknown>, number, boolean, number]> = [
    ['AR, causal tiles (T 256)', {model: {vocab_size: 260, model_dim: 64, num_heads: 4, num_kv_heads: 2, mlp_mult: 2, unique_blocks: 2}, train: {seq_len: 256}}, 2, false, 0.02],
    ['BD3-LM, tiled [x_t ‖ x_0] (T 256)', {model: {vocab_size: 260, model_dim: 64, num_heads: 4, num_kv_heads: 2, mlp_mult: 3, unique_blocks: 2}, objective: {kind: 'bd3lm', block_size: 16}, train: {seq_len: 256}}, 1, false, 0.02],
    // recomputation: one layer's tape at a time (measured 0.24× the kept step for these 6 layers)
    ['AR, 6 layers, recomputed (T 256)', {model: {vocab_size: 260, model_dim: 64, num_heads: 4, num_kv_heads: 2, mlp_mult: 2, unique_blocks: 6}, train: {seq_len: 256}}, 2, true, 0.02],
    ['BD3-LM, recomputed (T 256)', {model: {vocab_size: 260, model_dim: 64, num_heads: 4, num_kv_heads: 2, mlp_mult: 3, unique_blocks: 2}, objective: {kind: 'bd3lm', block_size: 16}, train: {seq_len: 256}}, 1, true, 0.03],
    // activation quantization: the quantizers' copies and temporaries (without them: fwd+bwd 1.5% and evaluation 10% under)
    ['AR, a4.8 activations (T 256)', {model: {vocab_size: 260, model_dim: 64, num_heads: 4, num_kv_heads: 2, mlp_mult: 2, unique_blocks: 2}, train: {seq_len: 256}, activations: 'a4.8'}, 2, false, 0.02],
    // … 6% and 37% under with the MLP's down input sparsified
    ['MDLM, 8-bit with the MLP down input sparsified (T 128)', {model: {vocab_size: 260, model_dim: 96, num_heads: 3, num_kv_heads: 3, mlp_mult: 4, unique_blocks: 3}, objective: {kind: 'mdlm'}, train: {seq_len: 128}, activations: [{from: 0, sites: {attn_in: 'int8', attn_out: 'int8', ffn_in: 'int8', ffn_down: {bits: 8, keep: 0.5}}}]}, 3, false, 0.02],
  ]
  for (const [name, doc, B, recompute, tol] of configs) it(`${name}: forward+backward within ${tol * 100} percent, evaluation within 2, the optimizer step within 0.1`, async () => {
    await initBackend('wasm', {quiet: true})
    const T = (doc.train as {seq_len: number}).seq_len
    const recipe = resolveRecipe({...doc, name: 'calib', quant: {group_size: 16}, train: {...(doc.train as object), micro_batch_tokens: B * T, batch_tokens: B * T, workers: 1}})
    const shape = memoryShapeOf(recipe)
    const model = buildModel({...recipe, model: shape.model}, 1)
    model.quantActive = true
    model.recompute = recompute
    model.activations = recipe.activations[0]?.sites ?? model.activations
    const objective = objectiveFor(shape.objective, shape.model.vocab_size)
    const opt = buildOptimizers(model.specs.map((s) => ({name: s.name, variable: model.params.get(s.name)!, group: s.group})), recipe.optim)
    let seed = 3
    const rand = () => ((seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 2 ** 32)
    const batch = () => objective.trainBatch(Uint16Array.from({length: objective.chunkTokens(B, T)}, () => Math.floor(rand() * 260)), B, T, rand)
    const measured = {fb: 0, opt: 0, eval: 0}
    for (let step = 0; step < 2; step++) {
      let grads = new Map<string, tf.Tensor>()
      measured.fb = measurePeak(() => (grads = accumulateGrads(model, [batch()], 0).grads))
      measured.opt = measurePeak(() => opt.step(grads, 1, {momentum: 0.9}))
      disposeMap(grads)
    }
    measured.eval = measurePeak(() => {
      const b = isDiffusion(objective) ? objective.denoiseBatch(new Int32Array(B * T).fill(5), new Uint8Array(B * T).fill(1), B, T, new Int32Array(B).fill(1)) : batch()
      batchNll(model, b)
    })
    model.dispose()
    opt.dispose()
    const t = estimateTrainMemory(shape, {threads: 1, microBatchTokens: B * T, batchTokens: B * T, evalBatchSeqs: B, nsSteps: 5, weightDecay: false, gradClip: false, recompute})
    const main = t.per_thread[0]
    const est = {fb: phaseOf(main, 'forward+backward').bytes, opt: phaseOf(main, 'optimizer step').bytes - item(main.resident, 'weights')!, eval: phaseOf(main, 'evaluation').bytes}
    expect(Math.abs(est.fb / measured.fb - 1)).toBeLessThan(tol)
    expect(Math.abs(est.eval / measured.eval - 1)).toBeLessThan(0.02)
    // the step's extra over the gradients it is given (which were live before it started)
    expect(Math.abs(est.opt / measured.opt - 1)).toBeLessThan(0.001)
  }, 60_000)
})

describe('golf budget --json', () => {
  it('reports the memory section: per-thread training, evaluation, verify, against each backend', async () => {
    const r = await runCli(['budget', '--recipe', 'tiny-cpu', '--set', 'train.workers=2', '--code-bytes', '60000', '--json'])
    expect(r.code).toBe(0)
    const j = JSON.parse(r.stdout)
    const m = j.memory
    expect(Object.keys(m)).toEqual(['wasm', 'cpu', 'tensorflow'])
    expect(m.wasm.limit).toMatchObject({kind: 'per-thread', bytes: 4_294_901_760})
    expect(m.cpu.limit.kind).toBe('host')
    expect(m.tensorflow.limit.bytes).toBeNull()
    const t = m.wasm.train
    // tiny-cpu: 2,048-token micro-batches of 256-token sequences, 2 per step, on 2 threads
    expect([t.micro_batch_tokens, t.rows_per_micro_batch, t.accumulation, t.threads]).toEqual([2048, 8, 2, 2])
    expect(t.per_thread.map((x: ThreadMemory) => [x.thread, x.rows])).toEqual([['main', 4], ['worker', 4]])
    expect(t.per_thread[0].resident[0]).toEqual({name: 'weights (float32 variables)', bytes: 4 * j.params.total})
    expect(m.wasm.eval.batch_seqs).toBe(16)
    expect(m.wasm.verify.models).toBe(2)
    for (const w of ['train', 'eval', 'verify']) expect(m.wasm.verdicts[w].fits).toBe(m.wasm.verdicts[w].needed_bytes <= 4_294_901_760)
    expect(m.tensorflow.verdicts.train.fits).toBeNull()
  }, 60_000)

  it('golf eval on the CLI: one line, exit 2, before the model is built', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'golf-mem-cli-')), 'run')
    mkdirSync(dir)
    const recipe = loadRecipe('bitnet-b158-68m', ['model.model_dim=4096', 'model.num_heads=16', 'model.num_kv_heads=4'])
    writeFileSync(join(dir, 'config.json'), JSON.stringify({recipe, seed: 1, data: dir, tokenizer: 'byte260', vocab_size: 1024, backend: 'wasm'}))
    const r = await runCli(['eval', '--run', dir, '--backend', 'wasm', '--batch-seqs', '2'])
    expect(r.code).toBe(2)
    const lines = r.stderr.trim().split('\n').filter((l) => l.trim() !== '')
    expect(lines).toHaveLength(1)
    expect(lines[0]).toMatch(/evaluating at --batch-seqs 2 \(sequences of 1,024 tokens per pass\) needs an estimated [\d.]+ GiB on wasm/)
  }, 60_000)
  it('golf train refuses the 68M recipe on wasm in one line, before it makes a run folder', async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'golf-mem-')), 'run')
    const r = await runCli(['train', '--recipe', 'bitnet-b158-68m', '--max-steps', '2', '--workers', '1', '--backend', 'wasm', '--out', out])
    expect(r.code).toBe(2)
    // the backend and dataset info lines, then the refusal: one line, the last
    const errors = r.stderr.trim().split('\n').filter((l) => l.startsWith('golf:'))
    expect(errors).toHaveLength(1)
    expect(r.stderr.trim().split('\n').at(-1)).toBe(errors[0])
    expect(errors[0]).toMatch(/a training step at train\.micro_batch_tokens 65,536 .* needs an estimated [\d.]+ GiB per thread on wasm .* over the 4\.00 GiB \(4,294,901,760 bytes\)/)
    expect(existsSync(out)).toBe(false)
  }, 120_000)
})
