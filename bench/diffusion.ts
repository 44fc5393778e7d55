/**
 * bench:diffusion — AR against MDLM and BD3-LM at equal training time on the built-in corpus
 * (tiny-cpu's 4×128 byte-level shape, two cores). Scores: AR by the official chunked NLL,
 * diffusion models by the 128-step ELBO (an upper bound) on the WHOLE validation split, and by
 * the chain-rule likelihood (one forward per token of a block): on the whole split too when the
 * block is at most --chain-block tokens (BD3-LM), else on the first --sub-tokens tokens (MDLM:
 * seq_len forwards per window), where AR is scored again for a like-for-like column. On the
 * first --sub-tokens tokens also the ELBO at T = 16, 64, 512 steps. Ternary and float
 * (quant.mode none) side by side. Every configuration trains for the same wall-clock time; the
 * `ar→…` configurations spend half of it on AR and half on the diffusion objective, started
 * from the AR run's weights (--init-from: the adaptation route).
 *
 *   npm run bench:diffusion                                  # every configuration, 240 s each
 *   npm run bench:diffusion -- --only ar,mdlm,ar-mdlm --seconds 120 --json
 *   npm run bench:diffusion -- --reuse /tmp/golf-bench-diffusion-XXXX   # keep the runs already there
 *   npm run bench:diffusion -- --only ar,mdlm,bd3lm4 --max-steps 400 --val-tokens 32768   # equal steps instead
 *   npm run bench:diffusion -- --only ar,bd3lm4 --data datasets/fineweb10B_sp1024 --backend auto \
 *     --set model.model_dim=512 --set model.num_heads=8 --set train.seq_len=1024 --seconds 600
 *                                                            # the same table at your shape, data and backend
 *
 * --set applies to every configuration before its own settings (a configuration's block size,
 * weights or estimator is what it compares, so it wins).
 *
 * Each finished row is also printed to stderr as one JSON line. Run it on an idle machine.
 * Goals of the issue (benchmarks, not tests): BD3-LM block 4 within 6% of the AR val_bpb and MDLM
 * within 10% (the papers' gaps on OpenWebText), diffusion training ≥ 90% of AR tokens/s.
 */
import {existsSync, mkdtempSync, readFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {parseArgs} from 'node:util'

import {BACKEND_NAMES, type BackendName} from '../src/backend/index.js'
import {table} from '../src/cli/output.js'
import {evaluateTarget} from '../src/eval/run-eval.js'
import {InputError} from '../src/errors.js'
import {loadRecipe, type ResolvedRecipe} from '../src/recipe/recipe.js'
import type {RunSummary} from '../src/run/folder.js'
import {train} from '../src/train/loop.js'

const {values} = parseArgs({
  options: {
    seconds: {type: 'string', default: '240'},
    json: {type: 'boolean', default: false},
    only: {type: 'string', default: ''},
    'sub-tokens': {type: 'string', default: '4096'},
    'chain-block': {type: 'string', default: '16'},
    'val-tokens': {type: 'string'},
    steps: {type: 'string', default: '16,64,512'},
    seed: {type: 'string', default: '1337'},
    reuse: {type: 'string'},
    'max-steps': {type: 'string'},
    set: {type: 'string', multiple: true, default: []},
    data: {type: 'string'},
    backend: {type: 'string', default: 'wasm'},
  },
})
if (!(BACKEND_NAMES as readonly string[]).includes(values.backend)) throw new Error(`--backend must be one of ${BACKEND_NAMES.join(', ')}, got ${values.backend}`)
const backend = values.backend as BackendName
const maxSteps = values['max-steps'] === undefined ? null : Number(values['max-steps'])
if (maxSteps !== null && !(Number.isInteger(maxSteps) && maxSteps > 0)) throw new Error(`--max-steps must be a positive integer, got ${values['max-steps']}`)

interface Config {
  name: string
  recipe: string
  sets: string[]
  /** Share of the wall-clock budget (the adaptation runs split it with their AR start). */
  share: number
  /** Start from this configuration's run (--init-from). */
  from?: string
}

const float = ['quant.mode=none']
const CONFIGS: Config[] = [
  {name: 'ar', recipe: 'tiny-cpu', sets: [], share: 1},
  {name: 'ar-float', recipe: 'tiny-cpu', sets: float, share: 1},
  {name: 'mdlm', recipe: 'mdlm-tiny-cpu', sets: [], share: 1},
  {name: 'mdlm-float', recipe: 'mdlm-tiny-cpu', sets: float, share: 1},
  {name: 'bd3lm4', recipe: 'bd3lm-tiny-cpu', sets: ['objective.block_size=4'], share: 1},
  {name: 'bd3lm16', recipe: 'bd3lm-tiny-cpu', sets: ['objective.block_size=16'], share: 1},
  // the clean half detached (no backward pass through x_0): cheaper steps, another gradient
  {name: 'bd3lm4-detached', recipe: 'bd3lm-tiny-cpu', sets: ['objective.block_size=4', 'objective.clean_gradient=false'], share: 1},
  // the papers' time estimator (t uniform, weight 1/t) against the recipes' count estimator
  {name: 'mdlm-time', recipe: 'mdlm-tiny-cpu', sets: ['objective.train_estimator=time'], share: 1},
  {name: 'bd3lm4-time', recipe: 'bd3lm-tiny-cpu', sets: ['objective.block_size=4', 'objective.train_estimator=time'], share: 1},
  // the papers' unshifted layout (and estimator), beside golf's shifted recipes
  {name: 'mdlm-noshift', recipe: 'mdlm-tiny-cpu', sets: ['objective.shift=false', 'objective.train_estimator=time'], share: 1},
  {name: 'bd3lm4-noshift', recipe: 'bd3lm-tiny-cpu', sets: ['objective.block_size=4', 'objective.shift=false', 'objective.train_estimator=time'], share: 1},
  {name: 'ar-half', recipe: 'tiny-cpu', sets: [], share: 0.5},
  {name: 'ar-mdlm', recipe: 'mdlm-tiny-cpu', sets: [], share: 0.5, from: 'ar-half'},
  {name: 'ar-bd3lm4', recipe: 'bd3lm-tiny-cpu', sets: ['objective.block_size=4'], share: 0.5, from: 'ar-half'},
]
const only = values.only ? new Set(values.only.split(',')) : null
// an adaptation run needs its AR start
if (only) for (const c of CONFIGS) if (only.has(c.name) && c.from) only.add(c.from)
const seconds = Number(values.seconds)
const valTokens = values['val-tokens'] ? Number(values['val-tokens']) : null
const subTokens = Math.min(valTokens ?? Infinity, Number(values['sub-tokens']))
const elboSteps = values.steps.split(',').map(Number)
const root = values.reuse ?? mkdtempSync(join(tmpdir(), 'golf-bench-diffusion-'))
if (!values.json) process.stderr.write(`runs in ${root}\n`)

interface Row {
  config: string
  objective: string
  quant: string
  from: string | null
  train_seconds: number
  steps: number
  tokens_per_s: number
  val_bpb: number
  bound: boolean
  val_bpb_se: number | null
  /** The chain-rule likelihood (diffusion models) and the tokens it scored (the whole split or sub.tokens). */
  chain: {bpb: number; tokens: number} | null
  /** On the first sub_tokens validation tokens: AR's score, or the diffusion model's chain and ELBOs. */
  sub: {tokens: number; val_bpb: number | null; chain_bpb: number | null; elbo_by_steps: Record<string, number>}
}

const rows: Row[] = []
for (const c of CONFIGS) {
  if (only && !only.has(c.name)) continue
  const budget = Math.round(seconds * c.share)
  const steps = maxSteps === null ? null : Math.round(maxSteps * c.share)
  const outDir = join(root, c.name)
  const t0 = performance.now()
  let s: RunSummary
  if (existsSync(join(outDir, 'summary.json'))) {
    s = JSON.parse(readFileSync(join(outDir, 'summary.json'), 'utf8')) as RunSummary
    if (!values.json) process.stderr.write(`${c.name}: reusing ${outDir}\n`)
  } else {
    const limit = steps === null ? [`train.max_wallclock_seconds=${budget}`, 'train.max_steps=100000'] : ['train.max_wallclock_seconds=null', `train.max_steps=${steps}`]
    const sets = [...values.set, ...c.sets, ...limit, `eval.val_tokens=${valTokens ?? 'null'}`]
    let recipe: ResolvedRecipe
    try {
      recipe = loadRecipe(c.recipe, sets)
    } catch (e) {
      if (!(e instanceof InputError)) throw e
      process.stderr.write(`bench:diffusion: ${c.name}: ${e.message}\n`)
      process.exit(2)
    }
    if (!values.json) process.stderr.write(`${c.name}: training ${steps === null ? `${budget} s` : `${steps} steps`}${c.from ? ` from ${c.from}` : ''} …\n`)
    s = (await train({recipe, outDir, dataDir: values.data, seed: Number(values.seed), backend, initFrom: c.from ? join(root, c.from) : undefined})).summary!
  }
  const row: Row = {config: c.name, objective: s.objective ?? 'ar', quant: s.quant.mode, from: c.from ?? null, train_seconds: budget, steps: s.steps, tokens_per_s: s.tokens_per_s, val_bpb: s.val_bpb, bound: s.bound ?? false, val_bpb_se: s.elbo?.val_bpb_se ?? null, chain: null, sub: {tokens: 0, val_bpb: null, chain_bpb: null, elbo_by_steps: {}}}
  const sub = Number.isFinite(subTokens) ? subTokens : null
  if (row.bound) {
    const subChain = await evaluateTarget({run: outDir, mode: 'chain', valTokens: sub, backend})
    row.sub = {tokens: subChain.tokens, val_bpb: null, chain_bpb: subChain.val_bpb, elbo_by_steps: {}}
    // blocks of a few tokens: the chain costs a few forwards per window, so the whole split
    const block = 'block_size' in subChain ? subChain.block_size : Infinity
    const chain = block <= Number(values['chain-block']) ? await evaluateTarget({run: outDir, mode: 'chain', valTokens, backend}) : subChain
    row.chain = {bpb: chain.val_bpb, tokens: chain.tokens}
    for (const T of [...elboSteps, 128]) row.sub.elbo_by_steps[String(T)] = (await evaluateTarget({run: outDir, mode: 'elbo', elboSteps: T, valTokens: sub, elboSamples: 4, backend})).val_bpb
  } else {
    const r = await evaluateTarget({run: outDir, valTokens: sub, backend})
    row.sub = {tokens: r.tokens, val_bpb: r.val_bpb, chain_bpb: null, elbo_by_steps: {}}
  }
  process.stderr.write(JSON.stringify({...row, seconds_total: Math.round((performance.now() - t0) / 1000)}) + '\n')
  rows.push(row)
}

const ref = (r: Row) => rows.find((x) => x.config === (r.quant === 'none' ? 'ar-float' : 'ar'))
const pct = (x: number, base: number) => `${x >= base ? '+' : ''}${(((x - base) / base) * 100).toFixed(1)}%`
const gap = (r: Row) => (ref(r) ? pct(r.val_bpb, ref(r)!.val_bpb) : '–')
const speed = (r: Row) => (ref(r) ? `${((r.tokens_per_s / ref(r)!.tokens_per_s) * 100).toFixed(0)}%` : '–')
const budgetWords = maxSteps === null ? `equal training time: ${seconds} s per configuration` : `equal steps: ${maxSteps} per configuration`
const setup = `${values.data ? `on ${values.data}` : 'on the built-in corpus'}, tiny-cpu shape (4×128)${values.set.length ? ` with ${values.set.join(' ')}` : ''}, ${backend} backend`
if (values.json) console.log(JSON.stringify({bench: 'diffusion', seconds: maxSteps === null ? seconds : null, max_steps: maxSteps, sets: values.set, data: values.data ?? null, backend, val_tokens: valTokens, sub_tokens: subTokens, rows}))
else {
  const first = `first ${(rows[0]?.sub.tokens ?? subTokens).toLocaleString('en-US')}` // whole windows of the first --sub-tokens
  const chainCell = (r: Row) => {
    if (!r.chain) return '–'
    const whole = r.chain.tokens > r.sub.tokens // scored on the whole split, not only the sub-tokens
    return `${r.chain.bpb.toFixed(4)}${whole && ref(r) ? ` (${pct(r.chain.bpb, ref(r)!.val_bpb)})` : whole ? '' : ' (first)'}`
  }
  const scored = valTokens === null ? 'the whole validation split' : `the first ${valTokens.toLocaleString('en-US')} validation tokens`
  console.log(`${budgetWords} ${setup}; val_bpb and chain on ${scored} (chain "(first)": MDLM, on the ${first} tokens only), the other columns on its ${first} tokens`)
  console.log(
    table(
      ['config', 'objective', 'weights', 'steps', 'tokens/s (vs AR)', 'val_bpb', 'vs AR', 'chain (vs AR)', `${first}: AR or chain`, ...[...elboSteps, 128].sort((a, b) => a - b).map((T) => `ELBO T=${T}`)],
      rows.map((r) => [
        r.from ? `${r.config} (${r.from} + ${r.train_seconds} s)` : r.config,
        r.objective,
        r.quant === 'none' ? 'float' : 'ternary',
        String(r.steps),
        `${r.tokens_per_s.toLocaleString('en-US')} (${speed(r)})`,
        r.bound ? `≤ ${r.val_bpb.toFixed(4)} ± ${r.val_bpb_se!.toFixed(4)}` : r.val_bpb.toFixed(4),
        gap(r),
        chainCell(r),
        (r.sub.val_bpb ?? r.sub.chain_bpb)?.toFixed(4) ?? '–',
        ...[...elboSteps, 128].sort((a, b) => a - b).map((T) => (r.sub.elbo_by_steps[String(T)] === undefined ? '–' : `≤ ${r.sub.elbo_by_steps[String(T)].toFixed(4)}`)),
      ]),
    ),
  )
  console.log('≤: an upper bound on the NLL (negative ELBO, Monte Carlo ± its standard error); chain: the exact likelihood of left-to-right unmasking (a likelihood, not a bound)')
}
