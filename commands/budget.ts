import {Flags} from '@oclif/core'

import {readArtifactFile} from '../src/submission/rebuild.js'
import {HEAP_OVERHEAD, formatMemory, memoryReport, type MemoryEstimate, type MemoryReport, type MemoryVerdict, type ThreadMemory} from '../src/budget/memory.js'
import {GolfCommand} from '../src/cli/base-command.js'
import {paint, table} from '../src/cli/output.js'
import {InputError} from '../src/errors.js'
import {type BudgetPrediction, type SolveResult, DEFAULT_ZERO_FRAC, predictBudget, solveBudget, calibrationFromArtifact} from '../src/pack/budget.js'
import {TRIT_CODEC_NAMES, type TritCodecName} from '../src/pack/codecs/index.js'
import {loadRecipe} from '../src/recipe/recipe.js'
import {describeKV} from '../src/quant/kv-cache.js'
import {parseByteLimit} from '../src/verify/limit.js'

export type BudgetResult = BudgetPrediction & {solve?: SolveResult; memory: MemoryReport}

export default class Budget extends GolfCommand {
  static override summary = 'Predict the artifact bytes and the training/evaluation memory of a recipe before training, and solve for a size that fits.'
  static override description = [
    'Per component: ternary trits (codec size model at --zero-frac), scales, float tensors, manifest, container and',
    'counted code (--code-bytes, else the real bundle). --solve <key> finds the largest value of an integer recipe key',
    '(≤ the recipe\'s) that fits --limit, skipping values the recipe rejects.',
    'Memory: the peak of a training step per thread (at train.micro_batch_tokens, train.workers threads), of an evaluation',
    'pass (eval.batch_seqs) and of verify --run (two models), itemised, against each backend\'s limit (wasm: 4 GiB of heap',
    'per thread; cpu: the host\'s RAM; tensorflow: not known), with the settings that would fit.',
  ].join('\n')
  static override examples = [
    '<%= config.bin %> <%= command.id %> --recipe ternary-unet-10l-768d',
    '<%= config.bin %> <%= command.id %> --recipe ternary-unet-10l-768d --set model.mlp_mult=5 --solve model.model_dim --json',
    '<%= config.bin %> <%= command.id %> --recipe my.yaml --limit 15.9MB --zero-frac 0.4 --code-bytes 60000',
  ]

  static override flags = {
    recipe: Flags.string({char: 'r', description: 'Built-in recipe name or YAML file.', required: true}),
    set: Flags.string({description: 'Override a recipe key, key=value (repeatable).', multiple: true}),
    limit: Flags.string({description: 'Byte limit: 16MB = 16,000,000 (decimal), 16MiB, or plain bytes.', default: '16MB'}),
    solve: Flags.string({description: 'Integer recipe key to maximise under the limit, e.g. model.model_dim.'}),
    'zero-frac': Flags.string({description: `Fraction of zero trits to assume (default ${DEFAULT_ZERO_FRAC}, or the --calibrate artifact's).`}),
    calibrate: Flags.string({description: 'Artifact (.golf) of an earlier or smaller run of the recipe: use its measured zero fraction and float/scale compression.'}),
    'code-bytes': Flags.integer({description: 'Counted code bytes (default: bundle the real counted code).', min: 0}),
    codec: Flags.string({description: 'Trit codec the pack will use.', options: [...TRIT_CODEC_NAMES, 'auto'], default: 'auto'}),
  }

  async run(): Promise<BudgetResult> {
    const {flags} = await this.parse(Budget)
    const limit = parseByteLimit(flags.limit)
    const zeroFrac = flags['zero-frac'] === undefined ? undefined : Number(flags['zero-frac'])
    if (zeroFrac !== undefined && (!Number.isFinite(zeroFrac) || zeroFrac < 0 || zeroFrac >= 1)) throw new InputError(`--zero-frac ${flags['zero-frac']}: expected a fraction in [0, 1)`)
    const calibration = flags.calibrate ? calibrationFromArtifact(readArtifactFile(flags.calibrate), flags.calibrate) : undefined
    const sets = flags.set ?? []
    const opts = {limit, zeroFrac, calibration, codeBytes: flags['code-bytes'], codec: flags.codec as TritCodecName | 'auto'}
    const recipe = loadRecipe(flags.recipe, sets)
    const prediction = await predictBudget(recipe, opts)
    let result: BudgetResult = {...prediction, memory: memoryReport(recipe)}
    if (flags.solve) {
      const solve = await solveBudget((extra) => loadRecipe(flags.recipe, [...sets, ...extra]), flags.solve, opts)
      result = {...result, solve}
    }
    if (!this.jsonEnabled()) this.printHuman(result)
    return result
  }

  private printHuman(r: BudgetResult): void {
    const c = paint()
    const n = (x: number) => x.toLocaleString('en-US')
    this.log(`recipe ${r.recipe}: ${n(r.params.total)} params (${n(r.params.ternary)} ternary), zero fraction ${r.zero_frac.toFixed(4)}, codec ${r.codec}`)
    this.log(`activations: ${r.activations}; ${r.kv_cache ? `evaluated also with a ${describeKV(r.kv_cache)}` : 'KV cache: not quantized (golf eval --kv-bits measures it)'}`)
    const comp = r.components
    this.log(
      table(
        ['component', 'bytes'],
        [
          ['ternary trits', n(comp.ternary_trits)],
          [`ternary scales (${r.formats.scale_format ?? '—'}, compressed)`, n(comp.ternary_scales)],
          [`float tensors (${r.formats.float_dtype}, compressed)`, n(comp.float_tensors)],
          ['manifest (compressed)', n(comp.manifest)],
          ['container', n(comp.container)],
          [`counted code (${r.code_bytes_source})`, n(comp.counted_code)],
          ['total', n(r.total_bytes)],
        ],
      ),
    )
    const line = `${n(r.total_bytes)} of ${n(r.limit)} bytes: ${r.fits ? `fits, ${n(r.headroom)} to spare` : `OVER by ${n(-r.headroom)}`}`
    this.log(r.fits ? c.green(line) : c.red(line))
    if (r.solve) {
      const s = r.solve
      if (s.value === null) this.log(c.red(`--solve ${s.key}: no value ≤ ${s.original} fits ${n(r.limit)} bytes`))
      else this.log(`--solve ${s.key}: largest value that fits is ${s.value} (recipe: ${s.original}), predicted ${n(s.prediction!.total_bytes)} bytes`)
    }
    this.printMemory(r.memory)
  }

  private printMemory(m: MemoryReport): void {
    const c = paint()
    const n = (x: number) => x.toLocaleString('en-US')
    const e = m.wasm
    const t = e.train!
    // the thread whose training step (forward+backward or optimizer step) needs the most
    const stepOf = (th: ThreadMemory) => th.phases.filter((p) => p.phase !== 'evaluation').reduce((a, b) => (b.bytes > a.bytes ? b : a))
    const live = (th: ThreadMemory) => th.resident.reduce((a, i) => a + i.bytes, 0) + stepOf(th).bytes
    const main = t.per_thread[0]
    const top = t.per_thread.reduce((a, b) => (live(b) > live(a) ? b : a))
    const step = stepOf(top)
    this.log('')
    this.log(
      `memory, estimated (float32 tensors): a training step on the ${top.thread} thread — ${t.threads} thread${t.threads === 1 ? '' : 's'}, ` +
        `micro-batches of ${n(t.micro_batch_tokens)} tokens (${n(t.rows_per_micro_batch)} sequence${t.rows_per_micro_batch === 1 ? '' : 's'} of ${n(t.seq_len)}${t.input_len !== t.seq_len ? ` = ${n(t.input_len)} input tokens` : ''}, ${n(top.rows)} on this thread), ${n(t.accumulation)} per step`,
    )
    const rows = [...top.resident, ...step.items].map((i) => [i.name, formatMemory(i.bytes)])
    const overhead = Math.ceil(live(top) * HEAP_OVERHEAD)
    this.log(table(['item', 'bytes'], [...rows, [`heap overhead (${HEAP_OVERHEAD * 100}%)`, formatMemory(overhead)], [`peak (${step.phase})`, formatMemory(live(top) + overhead)]]))
    const opt = main.phases.find((p) => p.phase === 'optimizer step')!
    this.log(`optimizer step (main thread): +${formatMemory(opt.bytes)} (gradients and the optimizer's temporaries) over weights and state${t.eval_peak_bytes !== null ? `; its evaluations at eval.batch_seqs ${n(t.eval_batch_seqs)}: ${formatMemory(t.eval_peak_bytes)}` : ''}`)
    this.log(`golf eval at eval.batch_seqs ${n(e.eval.batch_seqs)}: ${formatMemory(e.eval.peak_bytes)}; golf verify --run (two models): ${formatMemory(e.verify.peak_bytes)}`)
    const verdict = (what: string, v: MemoryVerdict | undefined) => {
      if (!v || v.fits === null) return `${what} ?`
      return v.fits ? c.green(`${what} fits`) : c.red(`${what} OVER (${formatMemory(v.needed_bytes)}): ${v.advice}`)
    }
    for (const est of [m.wasm, m.cpu, m.tensorflow] as MemoryEstimate[]) {
      const l = est.limit
      const head = l.bytes === null ? `${l.backend}: limit not known — ${l.source}` : `${l.backend}: ${formatMemory(l.bytes)} ${l.kind === 'per-thread' ? 'per thread' : 'for all threads'} (${l.source})`
      this.log(head)
      if (l.bytes !== null) for (const w of ['train', 'eval', 'verify'] as const) this.log(`  ${verdict(w === 'verify' ? 'verify --run' : w, est.verdicts[w])}`)
    }
  }
}
