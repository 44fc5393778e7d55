/**
 * bench:diffusion — AR against MDLM and BD3-LM at equal training time on the built-in corpus
 * (tiny-cpu's 4×128 byte-level shape, two cores), each scored on the WHOLE validation split:
 * AR by the official chunked NLL, diffusion models by the 128-step ELBO (an upper bound), the
 * chain-rule likelihood on the first --chain-tokens validation tokens (it costs one forward per
 * token of a block: seq_len per window for MDLM), and the ELBO at T = 16, 64, 128, 512 steps.
 * Ternary and float (quant.mode none) side by side. Every configuration trains with the same
 * wall-clock cap; run it on an otherwise idle machine.
 *
 *   npm run bench:diffusion                           # 240 s per configuration (~1 h in all)
 *   npm run bench:diffusion -- --only ar,mdlm,bd3lm4,bd3lm16,ar-float,mdlm-float
 *   npm run bench:diffusion -- --seconds 60 --only ar,mdlm --json
 *
 * Goals of the issue (benchmarks, not tests): BD3-LM block 4 within 6% of the AR val_bpb and MDLM
 * within 10% (the papers' gaps on OpenWebText), diffusion training ≥ 90% of AR tokens/s.
 */
import {mkdtempSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {parseArgs} from 'node:util'

import {table} from '../src/cli/output.js'
import {evaluateTarget, type EvalReport} from '../src/eval/run-eval.js'
import {loadRecipe} from '../src/recipe/recipe.js'
import {train} from '../src/train/loop.js'

const {values} = parseArgs({
  options: {
    seconds: {type: 'string', default: '240'},
    json: {type: 'boolean', default: false},
    only: {type: 'string', default: ''},
    'chain-tokens': {type: 'string', default: '65536'},
    'val-tokens': {type: 'string'},
    steps: {type: 'string', default: '16,64,128,512'},
    seed: {type: 'string', default: '1337'},
  },
})

interface Config {
  name: string
  recipe: string
  sets: string[]
  /** Which extra scores to take: the ELBO at other step counts, the chain rule. */
  diffusion: boolean
}

const float = ['quant.mode=none']
const CONFIGS: Config[] = [
  {name: 'ar', recipe: 'tiny-cpu', sets: [], diffusion: false},
  {name: 'ar-float', recipe: 'tiny-cpu', sets: float, diffusion: false},
  {name: 'mdlm', recipe: 'mdlm-tiny-cpu', sets: [], diffusion: true},
  {name: 'mdlm-float', recipe: 'mdlm-tiny-cpu', sets: float, diffusion: true},
  {name: 'bd3lm4', recipe: 'bd3lm-tiny-cpu', sets: ['objective.block_size=4'], diffusion: true},
  {name: 'bd3lm16', recipe: 'bd3lm-tiny-cpu', sets: ['objective.block_size=16'], diffusion: true},
  {name: 'bd3lm4-float', recipe: 'bd3lm-tiny-cpu', sets: ['objective.block_size=4', ...float], diffusion: true},
]
const only = values.only ? new Set(values.only.split(',')) : null
const seconds = Number(values.seconds)
const valTokens = values['val-tokens'] ? Number(values['val-tokens']) : null
const elboSteps = values.steps.split(',').map(Number)
const root = mkdtempSync(join(tmpdir(), 'golf-bench-diffusion-'))

interface Row {
  config: string
  objective: string
  quant: string
  steps: number
  tokens_per_s: number
  val_bpb: number
  bound: boolean
  val_bpb_se: number | null
  chain_bpb: number | null
  chain_tokens: number | null
  elbo_by_steps: Record<string, number>
}

const rows: Row[] = []
for (const c of CONFIGS) {
  if (only && !only.has(c.name)) continue
  const sets = [...c.sets, `train.max_wallclock_seconds=${seconds}`, 'train.max_steps=100000', `eval.val_tokens=${valTokens ?? 'null'}`]
  const recipe = loadRecipe(c.recipe, sets)
  const outDir = join(root, c.name)
  const t0 = performance.now()
  if (!values.json) process.stderr.write(`${c.name}: training ${seconds} s …\n`)
  const {summary} = await train({recipe, outDir, seed: Number(values.seed), backend: 'wasm'})
  const s = summary!
  const row: Row = {config: c.name, objective: recipe.objective.kind, quant: recipe.quant.mode, steps: s.steps, tokens_per_s: s.tokens_per_s, val_bpb: s.val_bpb, bound: s.bound ?? false, val_bpb_se: s.elbo?.val_bpb_se ?? null, chain_bpb: null, chain_tokens: null, elbo_by_steps: {}}
  if (c.diffusion) {
    const chainTokens = Math.min(valTokens ?? Infinity, Number(values['chain-tokens']))
    const chain: EvalReport = await evaluateTarget({run: outDir, mode: 'chain', valTokens: Number.isFinite(chainTokens) ? chainTokens : null, backend: 'wasm'})
    row.chain_bpb = chain.val_bpb
    row.chain_tokens = chain.tokens
    for (const T of elboSteps) {
      const e = T === recipe.eval.elbo_steps ? null : await evaluateTarget({run: outDir, mode: 'elbo', elboSteps: T, valTokens, backend: 'wasm'})
      row.elbo_by_steps[String(T)] = e ? e.val_bpb : s.val_bpb
    }
  }
  if (!values.json) process.stderr.write(`${c.name}: done in ${((performance.now() - t0) / 1000).toFixed(0)} s\n`)
  rows.push(row)
}

const ar = rows.find((r) => r.config === 'ar')
const arFloat = rows.find((r) => r.config === 'ar-float')
const ref = (r: Row) => (r.quant === 'none' ? arFloat : ar)
const gap = (r: Row) => (ref(r) ? `${(((r.val_bpb - ref(r)!.val_bpb) / ref(r)!.val_bpb) * 100).toFixed(1)}%` : '–')
const speed = (r: Row) => (ref(r) ? `${((r.tokens_per_s / ref(r)!.tokens_per_s) * 100).toFixed(0)}%` : '–')
if (values.json) console.log(JSON.stringify({bench: 'diffusion', seconds, val_tokens: valTokens, rows}))
else {
  console.log(`equal training time: ${seconds} s each on the built-in corpus, tiny-cpu shape (4×128), wasm, 2 threads; whole validation split unless --val-tokens`)
  console.log(
    table(
      ['config', 'objective', 'weights', 'steps', 'tokens/s (vs AR)', 'val_bpb', 'vs AR', 'chain bpb', ...elboSteps.map((T) => `ELBO T=${T}`)],
      rows.map((r) => [
        r.config,
        r.objective,
        r.quant === 'none' ? 'float' : 'ternary',
        String(r.steps),
        `${r.tokens_per_s.toLocaleString('en-US')} (${speed(r)})`,
        r.bound ? `≤ ${r.val_bpb.toFixed(4)} ± ${r.val_bpb_se!.toFixed(4)}` : r.val_bpb.toFixed(4),
        gap(r),
        r.chain_bpb === null ? '–' : `${r.chain_bpb.toFixed(4)} (${r.chain_tokens!.toLocaleString('en-US')} tok)`,
        ...elboSteps.map((T) => (r.elbo_by_steps[String(T)] === undefined ? '–' : `≤ ${r.elbo_by_steps[String(T)].toFixed(4)}`)),
      ]),
    ),
  )
  console.log('≤: an upper bound on the NLL (negative ELBO, Monte Carlo ± its standard error); chain: the exact likelihood of left-to-right unmasking')
}
