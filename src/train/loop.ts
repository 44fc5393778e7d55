/**
 * `golf train`: one straight loop, in the order the official `train_gpt.py` runs it.
 *
 *   backend → data (the built-in corpus when none is given) → model + optimizers
 *   → [resume] → for each step: lr/momentum/seq-len from the schedule, gradient accumulation
 *     over micro-batches taken from the train stream, optional clipping, one optimizer step
 *   → periodic evaluation and checkpoints (their time is not training time, as officially)
 *   → final evaluation (chunked, plus sliding-window when configured) → checkpoint + summary.
 *
 * Staged quantization: the forward pass uses ternary q·d once the run is `quant.start_frac` of
 * the way through (by steps, or by the wall-clock cap when that is closer); before that it
 * trains the float weights directly. With `quant.mode: none` it never switches.
 *
 * Resume: the checkpoint holds weights, optimizer state, the data position, the step and the
 * training clock; a resumed run takes the same steps on the same data with the same state, so
 * it ends bit-for-bit where an uninterrupted one does (when no wall-clock cap steers the
 * schedule: wall time is never the same twice).
 */
import {existsSync} from 'node:fs'

import {assertFitsMemory, estimateMemory, gib} from '../budget/memory.js'
import {hardwareString} from '../backend/hardware.js'
import {describeBackend, initBackend, preferenceFor, type BackendName} from '../backend/index.js'
import {openDataset} from '../data/open.js'
import {loadValidationSlice, TokenStream} from '../data/stream.js'
import {GolfError, InputError} from '../errors.js'
import {coverageLogField} from '../eval/coverage.js'
import {reportedMode, scoreModel, type ScoreResult} from '../eval/score.js'
import {countParams, modelDims} from '../model/config.js'
import type {GPT} from '../model/gpt.js'
import {buildModel} from '../run/build-model.js'
import {buildOptimizers} from '../optim/composite.js'
import {clipGradNorm, lrScale, muonMomentum, seqLenAt, shouldStop, type ScheduleConfig} from '../optim/schedule.js'
import type {Optimizer, ParamRef} from '../optim/types.js'
import {loadCheckpoint, saveCheckpoint} from '../run/checkpoint.js'
import {weightsFromRun} from '../run/init-from.js'
import {accumulateGrads, disposeMap} from './grads.js'
import {objectiveConfigOf, type ResolvedRecipe} from '../recipe/recipe.js'
import {isDiffusion, modelVocabFor, objectiveFor} from '../objective/index.js'
import {namedRandom} from '../util/random.js'
import type {ByteTable} from '../tokenizer/types.js'
import {defaultRunName, RunFolder, trainLogLine, valLogLine, type ActivationStageRecord, type RunSummary} from '../run/folder.js'
import {GradientPool, PoolWorkerError, resolveWorkers} from './parallel.js'
import {activationStageAt, activationStagesOf, quantActiveAt, stageSites} from './stages.js'
import {describeSites} from '../quant/activations.js'
import {kvReport, type KVQuantConfig} from '../quant/kv-cache.js'

export interface TrainOptions {
  recipe: ResolvedRecipe
  /** Dataset folder; the built-in corpus (prepared once, cached) when absent. */
  dataDir?: string
  /** Run folder; `runs/<recipe>-s<seed>-<time>` when absent. With resume: the run to continue. */
  outDir?: string
  seed: number
  backend: BackendName
  resume?: boolean
  /** Start from this run's weights (same shape; a diffusion model adds the [MASK] row). */
  initFrom?: string
  /** Free-form note and tags recorded in summary.json (for the runs ledger). */
  note?: string
  tags?: string[]
  baseline?: string | null
  /** Receives progress and log events (the command renders them). */
  onEvent?: (e: TrainEvent) => void
  /** Polled between steps: true stops the run after checkpointing (Ctrl-C). */
  interrupted?: () => boolean
}

export type TrainEvent =
  | {kind: 'info'; message: string}
  | {kind: 'log'; line: string}
  | {kind: 'step'; step: number; maxSteps: number; trainLoss: number; tokensPerS: number; trainTimeMs: number; etaS: number; lr: number; seqLen: number}
  | {kind: 'eval'; done: number; total: number; label: string}

export interface TrainResult {
  runDir: string
  summary: RunSummary | null
  interrupted: boolean
  stepsDone: number
  /** --resume of a run that had already finished: nothing was trained, evaluated or written. */
  alreadyFinished?: boolean
}

/** The trainer's view of the schedule section of a recipe. */
export function scheduleOf(r: ResolvedRecipe): ScheduleConfig {
  const t = r.train
  return {
    warmup_steps: t.warmup_steps,
    warmdown_iters: t.warmdown_iters ?? undefined,
    warmdown_frac: t.warmdown_iters == null ? (t.warmdown_frac ?? undefined) : undefined,
    max_steps: t.max_steps,
    max_wallclock_seconds: t.max_wallclock_seconds,
    seq_len_start: t.seq_len_start,
    seq_len_warmup_steps: t.seq_len_warmup_steps,
  }
}


function paramRefs(model: GPT): ParamRef[] {
  return model.specs.map((s) => ({name: s.name, variable: model.params.get(s.name)!, group: s.group}))
}

/** What a fresh run has made so far: the folder (and whether it was there before), and whether it has trained a step. */
interface MadeRun {
  run: RunFolder | null
  folderExisted: boolean
  trained: boolean
}

/**
 * Train (see the module doc). A fresh run that fails before its first training step (bad data
 * found at the first batch, a bad --init-from, a step that does not fit) leaves nothing behind:
 * the files it wrote are removed, and its folder too when this call made it, so the same command
 * can run again. A run that failed later (divergence, a worker that died) is kept, its train.log
 * being the record of what happened, for --resume from its last checkpoint; without summary.json
 * report and verify refuse it.
 */
export async function train(opts: TrainOptions): Promise<TrainResult> {
  const made: MadeRun = {run: null, folderExisted: false, trained: false}
  try {
    return await trainRun(opts, made)
  } catch (err) {
    if (!opts.resume && made.run && !made.trained) made.run.removeUnfinished({keepFolder: made.folderExisted})
    throw err
  }
}

async function trainRun(opts: TrainOptions, made: MadeRun): Promise<TrainResult> {
  const r = opts.recipe
  const emit = opts.onEvent ?? (() => {})
  const backend = await initBackend(opts.backend)
  emit({kind: 'info', message: describeBackend(backend)})
  // data parallel: with train.workers > 1 a pool of threads computes each step's gradients
  // and Muon's Newton–Schulz (src/train/parallel.ts); 1 = the plain single-thread path below.
  // Resolved (and refused on tensorflow backends) before the run folder is made.
  const workers = resolveWorkers(r.train.workers, backend.name)

  const {info, table, tokenizerName} = await openDataset(opts.dataDir, (message) => emit({kind: 'info', message}))
  const vocab = info.vocabSize!
  // The embedding follows the dataset's vocabulary: a recipe names the vocabulary it was made
  // for, but the same shape trains on any tokenizer (the built-in corpus is byte260).
  // Diffusion objectives add one [MASK] id after the data ids.
  const objectiveCfg = objectiveConfigOf(r)
  const modelVocab = modelVocabFor(objectiveCfg.kind, vocab)
  if (r.model.vocab_size !== modelVocab) {
    emit({kind: 'info', message: `model.vocab_size: the recipe says ${r.model.vocab_size}, the dataset has ${vocab} ids${modelVocab !== vocab ? ' (+1 [MASK])' : ''}: using ${modelVocab}`})
  }
  const recipe: ResolvedRecipe = {...r, objective: objectiveCfg, model: {...r.model, vocab_size: modelVocab}}
  const objective = objectiveFor(objectiveCfg, modelVocab)
  // refused here, in one line, before any model or run folder exists (src/budget/memory.ts)
  const memory = estimateMemory(recipe, {backend: backend.name, threads: workers, vocab: 'model'})
  assertFitsMemory(memory, 'train')
  // train.recompute resolved once ('auto': on when the step would not fit without it), for the
  // main thread and every worker alike
  const recompute = memory.train!.recompute
  const tm = memory.train!
  if (tm.eval_batch_seqs !== tm.requested_eval_batch_seqs) emit({kind: 'info', message: `eval.batch_seqs ${tm.requested_eval_batch_seqs} → ${tm.eval_batch_seqs}: the largest evaluation batch that fits beside the optimizer state on ${backend.name} (scores do not depend on the batching)`})
  if (recompute && recipe.train.recompute === 'auto') emit({kind: 'info', message: `train.recompute auto: on (each layer's activations recomputed in the backward pass; without it a step needs an estimated ${gib(estimateMemory({...recipe, train: {...recipe.train, recompute: false}}, {backend: backend.name, threads: workers, vocab: 'model'}).train!.step_peak_bytes)} per thread)`})

  let run: RunFolder
  if (opts.resume) {
    run = RunFolder.open(opts.outDir ?? '')
  } else {
    const dir = opts.outDir ?? `runs/${defaultRunName(recipe.name, opts.seed)}`
    made.folderExisted = existsSync(dir)
    run = made.run = RunFolder.create(dir)
  }
  const sched = scheduleOf(recipe)
  const t = recipe.train
  const model = buildModel(recipe, opts.seed)
  model.recompute = recompute
  const counts = countParams(model.specs)
  const pool = workers > 1 ? await GradientPool.create({recipe: {...recipe, train: {...recipe.train, recompute}}, seed: opts.seed, workers, backend: backend.name.startsWith('tensorflow') ? 'tensorflow' : (backend.name as BackendName)}) : null
  if (pool) emit({kind: 'info', message: `${workers} threads (data parallel)`})
  const optimizer: Optimizer = buildOptimizers(paramRefs(model), recipe.optim, pool ? {orthogonalize: (us, n) => pool.orthogonalize(us, n)} : {})
  const stream = new TokenStream(info.files.train, {vocabSize: vocab})
  // in-training evals may read only train.val_tokens: their lines say so (partial_val_tokens:read/split)
  const valDuring = loadValidationSlice(info.dir, {vocabSize: vocab, maxTokens: t.val_tokens, table, bosId: info.bosId})
  const duringCoverage = valDuring.coverage
  const startedAt = new Date().toISOString()

  let step = 0
  let trainMs = 0
  let tokensSeen = 0
  // activation precision stages (recipe `activations:`): the one in force and those entered
  let stage = -1
  let stages: ActivationStageRecord[] = []
  const staged = activationStagesOf(recipe).length > 0
  if (opts.resume) {
    const ck = loadCheckpoint(run, {optimizer: true})
    if (ck.meta.seed !== opts.seed) emit({kind: 'info', message: `resuming with the checkpoint's seed ${ck.meta.seed}`})
    // the run continues correctly either way, but its steps are bit-exact only on the same kernels
    if (ck.meta.backend !== backend.name) {
      // the flag that selects the checkpoint's backend, when it is not the one this run asked for
      const flag = preferenceFor(ck.meta.backend)
      const hint = flag && flag !== preferenceFor(backend.name) ? ` (--backend ${flag} keeps it exact)` : ''
      emit({kind: 'info', message: `resuming on ${backend.name}, the checkpoint was trained on ${ck.meta.backend}: the steps from here round as ${backend.name} does, so the run will not match an uninterrupted ${ck.meta.backend} run bit for bit${hint}`})
    }
    model.loadWeights(ck.weights)
    optimizer.loadState(ck.optimizer!)
    stream.restore(ck.meta.stream)
    step = ck.meta.step
    trainMs = ck.meta.train_time_ms
    tokensSeen = ck.meta.tokens_seen
    // the model as it was at the checkpoint, also when no step runs before an evaluation
    model.quantActive = ck.meta.quant.active
    if (ck.meta.activations) {
      stage = ck.meta.activations.stage
      stages = ck.meta.activations.stages
      model.activations = ck.meta.activations.sites
    }
    if (shouldStop(step, trainMs, sched) && existsSync(run.path('summary'))) {
      // a finished run: its summary was written by its own final evaluation; nothing to redo
      emit({kind: 'info', message: `${run.dir} already finished at step ${step} (summary.json written): nothing to do`})
      await pool?.dispose()
      model.dispose()
      optimizer.dispose()
      return {runDir: run.dir, summary: run.readJson<RunSummary>('summary'), interrupted: false, stepsDone: step, alreadyFinished: true}
    }
    run.log(`resume from step:${step}`)
    run.dropMetricsAfter(step) // the steps after the checkpoint run again and log again
    emit({kind: 'info', message: `resumed ${run.dir} at step ${step}`})
  } else {
    if (opts.initFrom) {
      const from = weightsFromRun(opts.initFrom, model)
      model.loadWeights(from.weights)
      emit({kind: 'info', message: `initialised from ${opts.initFrom} (recipe ${from.recipe}, step ${from.step})`})
    }
    run.writeJson('config', {recipe, seed: opts.seed, data: info.dir, tokenizer: tokenizerName, vocab_size: vocab, backend: backend.name, ...(opts.initFrom ? {init_from: opts.initFrom} : {})})
    run.log(`golf train recipe:${recipe.name} seed:${opts.seed} backend:${backend.name} params:${counts.total} ternary:${counts.ternary} objective:${objectiveCfg.kind}${recipe.eval.score === 'chain' ? ' score:chain' : ''} data:${info.dir}${opts.initFrom ? ` init_from:${opts.initFrom}` : ''}`)
  }
  emit({kind: 'info', message: `run ${run.dir}: ${counts.total.toLocaleString('en-US')} params (${counts.ternary.toLocaleString('en-US')} ternary), vocab ${vocab}, ${t.max_steps} steps max`})

  const shapes = new Map(model.specs.map((s) => [s.name, s.shape]))
  let lastCheckpoint: number | null = opts.resume ? step : null
  const checkpoint = () => {
    saveCheckpoint(run, model.weights(), shapes, optimizer.state(), {
      recipe: recipe.name,
      seed: opts.seed,
      step,
      train_time_ms: trainMs,
      tokens_seen: tokensSeen,
      stream: stream.state(),
      model: recipe.model,
      quant: {...recipe.quant, active: model.quantActive},
      ...(staged ? {activations: {stage, sites: model.activations, stages}} : {}),
      ternary_tensors: recipe.quant.mode === 'ternary' ? model.specs.filter((s) => s.ternary).map((s) => s.name) : [],
      backend: backend.name,
    })
    lastCheckpoint = step
  }
  // AR: chunked (or sliding with a stride); diffusion: eval.score (the ELBO of the recipe's eval
  // settings, or the chain rule)
  const evaluate = (val: {tokens: Uint16Array; byteTable: ByteTable}, label: string, stride: number | null, kv: KVQuantConfig | null = null): ScoreResult => {
    const e = recipe.eval
    return scoreModel(model, objective, val.tokens, val.byteTable, {
      mode: stride ? 'sliding' : reportedMode(objective, e.score), // the recipe refuses a stride for diffusion
      stride,
      kv,
      seqLen: t.seq_len,
      batchSeqs: memory.train!.eval_batch_seqs, // eval.batch_seqs, lowered to fit beside the optimizer state
      elboSteps: e.elbo_steps,
      elboSamples: e.elbo_samples,
      seed: e.elbo_seed,
      onProgress: (done: number, total: number) => emit({kind: 'eval', done, total, label}),
    })
  }

  // A new activation stage: from step 0 it is simply set; later, the same weights are scored
  // just before and just after the switch (not training time, as every evaluation), so the run
  // records what each change of precision cost.
  const enterStage = (next: number) => {
    const sites = stageSites(recipe, next)
    const record: ActivationStageRecord = {stage: next, step, sites: describeSites(sites), val_loss_before: null, val_bpb_before: null, val_loss_after: null, val_bpb_after: null}
    if (step > 0) {
      const before = evaluate(valDuring, `before stage ${next}`, null)
      model.activations = sites
      const after = evaluate(valDuring, `after stage ${next}`, null)
      Object.assign(record, {val_loss_before: before.val_loss, val_bpb_before: before.val_bpb, val_loss_after: after.val_loss, val_bpb_after: after.val_bpb})
    }
    model.activations = sites
    stage = next
    stages = [...stages, record]
    const was = stages.length > 1 ? stages[stages.length - 2].sites : 'float'
    const scores = step > 0 ? ` val_bpb_before:${record.val_bpb_before!.toFixed(4)} val_bpb_after:${record.val_bpb_after!.toFixed(4)}${coverageLogField(duringCoverage)}` : ''
    const line = `activation_stage:${next} step:${step}/${t.max_steps} activations:${record.sites.replace(/ /g, ',')} was:${was.replace(/ /g, ',')}${scores}`
    run.log(line)
    emit({kind: 'log', line})
    run.metric({step, activation_stage: next, activations: record.sites, ...(step > 0 ? {val_loss_before: record.val_loss_before, val_bpb_before: record.val_bpb_before, val_loss_after: record.val_loss_after, val_bpb_after: record.val_bpb_after, val_coverage: duringCoverage} : {}), train_time_ms: Math.round(trainMs)})
  }

  let stoppedBy: RunSummary['stopped_by'] = 'max_steps'
  let interrupted = false
  const stepAvg = () => trainMs / Math.max(step, 1)
  try {
    while (!shouldStop(step, trainMs, sched)) {
      if (opts.interrupted?.()) {
        interrupted = true
        break
      }
      model.quantActive = quantActiveAt(recipe, step, trainMs)
      const nextStage = activationStageAt(recipe, step, trainMs)
      if (nextStage !== stage) enterStage(nextStage)
      const t0 = performance.now()
      const T = seqLenAt(step, t.seq_len, sched)
      const B = t.micro_batch_tokens / T
      const accum = t.batch_tokens / t.micro_batch_tokens
      // the noise of diffusion objectives is keyed by (seed, step, micro-batch): resume replays it
      const batches = Array.from({length: accum}, (_, c) => objective.trainBatch(stream.take(objective.chunkTokens(B, T)), B, T, namedRandom(opts.seed, `noise:${step}:${c}`)))
      const {loss, grads: raw} = pool ? pool.compute(model, batches, t.z_loss) : accumulateGrads(model, batches, t.z_loss)
      let grads = raw
      if (recipe.optim.grad_clip !== null) {
        grads = clipGradNorm(raw, recipe.optim.grad_clip).grads
        disposeMap(raw)
      }
      if (!Number.isFinite(loss)) {
        disposeMap(grads)
        await pool?.dispose()
        throw new InputError(`training diverged at step ${step + 1}: train_loss is ${loss} (lower the learning rates or enable optim.grad_clip)`)
      }
      const lr = lrScale(step, trainMs, sched)
      optimizer.step(grads, lr, {momentum: muonMomentum(step, recipe.optim)})
      disposeMap(grads)
      step += 1
      made.trained = true
      trainMs += performance.now() - t0
      tokensSeen += accum * B * T

      const tokensPerS = tokensSeen / Math.max(trainMs / 1000, 1e-9)
      const remainingSteps = t.max_steps - step
      const capLeft = t.max_wallclock_seconds ? t.max_wallclock_seconds - trainMs / 1000 : Infinity
      emit({kind: 'step', step, maxSteps: t.max_steps, trainLoss: loss, tokensPerS, trainTimeMs: trainMs, etaS: Math.min((remainingSteps * trainMs) / step / 1000, capLeft), lr, seqLen: T})
      if (step % t.log_every === 0 || step === 1) {
        const line = trainLogLine(step, t.max_steps, loss, trainMs, stepAvg())
        run.log(line)
        emit({kind: 'log', line})
        run.metric({step, train_loss: loss, lr_scale: lr, seq_len: T, tokens_seen: tokensSeen, train_time_ms: Math.round(trainMs), tokens_per_s: Math.round(tokensPerS), quant_active: model.quantActive})
      }
      if (t.eval_every > 0 && step % t.eval_every === 0 && !shouldStop(step, trainMs, sched)) {
        const ev = evaluate(valDuring, `eval step ${step}`, null)
        const line = valLogLine(step, t.max_steps, ev.val_loss, ev.val_bpb, trainMs, stepAvg()) + coverageLogField(duringCoverage)
        run.log(line)
        emit({kind: 'log', line})
        run.metric({step, val_loss: ev.val_loss, val_bpb: ev.val_bpb, val_tokens: ev.tokens, val_coverage: duringCoverage, train_time_ms: Math.round(trainMs)})
      }
      if (t.checkpoint_every > 0 && step % t.checkpoint_every === 0) checkpoint()
    }
  } catch (err) {
    // a worker thread that failed or died mid-step: stop with one line, leave the last
    // checkpoint as it is (this step's data was already taken from the stream: saving now
    // would skip it on resume)
    if (!(err instanceof PoolWorkerError)) throw err
    await pool?.dispose()
    const kept = lastCheckpoint === null ? 'no checkpoint had been written yet' : `the checkpoint of step ${lastCheckpoint} is intact: resume with golf train --out ${run.dir} --resume`
    run.log(`stopped at step:${step + 1}/${t.max_steps}: ${err.message}`)
    throw new GolfError(`training stopped at step ${step + 1}: ${err.message}; ${kept}`, 1)
  }
  if (!interrupted && t.max_wallclock_seconds && trainMs >= t.max_wallclock_seconds * 1000 && step < t.max_steps) {
    stoppedBy = 'wallclock'
    run.log(`stopping_early: wallclock_cap train_time:${Math.round(trainMs)}ms step:${step}/${t.max_steps}`)
  }
  checkpoint()
  await pool?.dispose() // evaluation runs on the main thread only
  if (interrupted) {
    run.log(`interrupted at step:${step}; checkpoint saved`)
    model.dispose()
    optimizer.dispose()
    return {runDir: run.dir, summary: null, interrupted: true, stepsDone: step}
  }

  // Final score: the whole validation split, as the official eval does (eval.val_tokens: its first
  // tokens only, a partial figure that every line and the summary label as one).
  const evalStart = performance.now()
  const valFinal = loadValidationSlice(info.dir, {vocabSize: vocab, maxTokens: recipe.eval.val_tokens, table, bosId: info.bosId})
  const coverage = valFinal.coverage
  const partial = coverageLogField(coverage)
  const final = evaluate(valFinal, 'final eval', null)
  const finalLine = valLogLine(step, t.max_steps, final.val_loss, final.val_bpb, trainMs, stepAvg()) + partial
  run.log(finalLine)
  emit({kind: 'log', line: finalLine})
  const elbo = final.mode === 'elbo' ? {steps: final.elbo_steps ?? 0, samples: final.samples, seed: final.seed, estimator: final.estimator as 'mc' | 'exact', val_bpb_se: final.val_bpb_se, se_method: final.se_method} : null
  if (elbo) {
    // the number above is an upper bound on the NLL, not a likelihood: say so in the log
    const line = `final_elbo bound:upper steps:${elbo.steps} samples:${elbo.samples} seed:${elbo.seed} val_loss:${final.val_loss.toFixed(4)} val_bpb:${final.val_bpb.toFixed(4)} val_bpb_se:${elbo.val_bpb_se.toFixed(4)}${partial}`
    run.log(line)
    emit({kind: 'log', line})
  }
  if (final.mode === 'chain') {
    // a diffusion model's likelihood: say how it was computed
    const line = `final_chain order:left-to-right block:${final.block_size} val_loss:${final.val_loss.toFixed(4)} val_bpb:${final.val_bpb.toFixed(4)}${partial}`
    run.log(line)
    emit({kind: 'log', line})
  }
  run.metric({step, val_loss: final.val_loss, val_bpb: final.val_bpb, val_tokens: final.tokens, val_bytes: final.bytes, val_coverage: coverage, bound: final.bound, final: true})
  let sliding: RunSummary['sliding'] = null
  if (recipe.eval.sliding_stride) {
    const sl = evaluate(valFinal, `sliding eval (stride ${recipe.eval.sliding_stride})`, recipe.eval.sliding_stride)
    sliding = {stride: recipe.eval.sliding_stride, val_loss: sl.val_loss, val_bpb: sl.val_bpb}
    const line = `final_sliding_window stride:${recipe.eval.sliding_stride} val_loss:${sl.val_loss.toFixed(4)} val_bpb:${sl.val_bpb.toFixed(4)}${partial}`
    run.log(line)
    emit({kind: 'log', line})
    run.metric({step, sliding_stride: recipe.eval.sliding_stride, val_loss: sl.val_loss, val_bpb: sl.val_bpb, val_coverage: coverage, final: true})
  }

  // an inference feature beside the official score: the same model read through a quantized KV cache
  let kvCache: RunSummary['kv_cache'] = null
  const kvCfg = recipe.eval.kv_cache
  if (kvCfg) {
    const stride = isDiffusion(objective) ? null : (recipe.eval.sliding_stride ?? t.seq_len)
    const kv = evaluate(valFinal, `KV cache eval (${kvCfg.bits}-bit)`, stride, kvCfg)
    const report = kvReport(kvCfg, modelDims(recipe.model), t.seq_len)
    kvCache = {...report, mode: kv.mode, stride, val_loss: kv.val_loss, val_bpb: kv.val_bpb, bound: kv.bound}
    const line = `final_kv_cache bits:${kvCfg.bits} group:${kvCfg.group} residual:${kvCfg.residual} kv_bytes_per_token:${Number(report.bytes_per_token.toFixed(1))} full_bytes_per_token:${report.full_bytes_per_token} mode:${kv.mode}${stride ? ` stride:${stride}` : ''}${kv.bound ? ' bound:upper' : ''} val_loss:${kv.val_loss.toFixed(4)} val_bpb:${kv.val_bpb.toFixed(4)}${partial}`
    run.log(line)
    emit({kind: 'log', line})
    // the score inside kv_cache: a top-level val_bpb would read as another point of the run's curve
    run.metric({step, kv_cache: kvCache, val_coverage: coverage, final: true})
  }

  const evalMs = performance.now() - evalStart
  const summary: RunSummary = {
    run_id: run.id,
    recipe: recipe.name,
    seed: opts.seed,
    steps: step,
    max_steps: t.max_steps,
    train_time_ms: Math.round(trainMs),
    eval_time_ms: Math.round(evalMs),
    step_avg_ms: Number(stepAvg().toFixed(2)),
    tokens_seen: tokensSeen,
    tokens_per_s: Math.round(tokensSeen / Math.max(trainMs / 1000, 1e-9)),
    val_loss: final.val_loss,
    val_bpb: final.val_bpb,
    val_tokens: final.tokens,
    val_bytes: final.bytes,
    val_coverage: coverage,
    objective: objectiveCfg.kind,
    bound: final.bound,
    elbo,
    sliding,
    ...(kvCfg ? {kv_cache: kvCache} : {}),
    backend: backend.name,
    params: counts,
    quant: {mode: recipe.quant.mode, active: model.quantActive},
    ...(staged ? {activations: {sites: describeSites(model.activations), stages}} : {}),
    dataset: info.dir,
    tokenizer: tokenizerName,
    vocab_size: vocab,
    stopped_by: stoppedBy,
    started_at: startedAt,
    finished_at: new Date().toISOString(),
    hardware: hardwareString(backend),
    ...(opts.note ? {note: opts.note} : {}),
    ...(opts.tags && opts.tags.length ? {tags: opts.tags} : {}),
    baseline: opts.baseline ?? null,
  }
  run.writeJson('summary', summary)
  model.dispose()
  optimizer.dispose()
  return {runDir: run.dir, summary, interrupted: false, stepsDone: step}
}
