/**
 * bench:export-torch — training throughput of `golf export torch`'s train_gpt.py (PyTorch on the
 * CPU) against golf's own trainer (wasm) on the same recipe, seed and data, at the reference
 * shape of bench:train (byte vocabulary, 4 layers, width 256, 4 heads, MLP ×4, sequence 256,
 * 2,048 tokens per step, ternary, Muon) unless --no-reference. The two run in alternating rounds
 * (golf, export, golf, export, …) so they share the machine's drift; tokens/s is each run's
 * training tokens over its training time from step --skip on (metrics.jsonl: evaluations and
 * the first steps' warm-up are left out), and the table gives the export's figure as a ratio of
 * golf's from the same round.
 *
 *   npm run bench:export-torch                          # tiny-cpu at the reference shape, 2 rounds of 30 steps
 *   npm run bench:export-torch -- --recipe bd3lm-tiny-cpu --steps 20 --json
 *   npm run bench:export-torch -- --threads 1           # both on one thread (golf: train.workers=1)
 *
 * Needs a python with torch (GOLF_PYTHON, python3 or /usr/bin/python3). Run it on an idle machine.
 */
import {spawn} from 'node:child_process'
import {mkdtempSync, readFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {parseArgs} from 'node:util'

import {table} from '../src/cli/output.js'
import {ensureBuiltinDataset} from '../src/data/dataset.js'
import {writeTorchExport} from '../src/export/torch/export.js'
import {torchEnv, torchPython} from '../src/export/torch/python.js'
import {loadRecipe} from '../src/recipe/recipe.js'
import {train} from '../src/train/loop.js'

const {values} = parseArgs({
  options: {
    recipe: {type: 'string', default: 'tiny-cpu'},
    set: {type: 'string', multiple: true, default: []},
    'no-reference': {type: 'boolean', default: false},
    steps: {type: 'string', default: '30'},
    skip: {type: 'string', default: '5'},
    rounds: {type: 'string', default: '2'},
    threads: {type: 'string', default: '2'},
    seed: {type: 'string', default: '1337'},
    json: {type: 'boolean', default: false},
  },
})

const steps = Number(values.steps)
const skip = Number(values.skip)
const threads = Number(values.threads)
if (!(steps > skip + 1)) throw new Error(`--steps ${steps} must exceed --skip ${skip} + 1`)
const REFERENCE = ['model.model_dim=256', 'model.num_heads=4', 'model.num_kv_heads=4', 'model.mlp_mult=4', 'model.unique_blocks=4', 'train.seq_len=256', 'train.batch_tokens=2048', 'train.micro_batch_tokens=2048']
const sets = [
  ...(values['no-reference'] ? [] : REFERENCE),
  `train.max_steps=${steps}`,
  'train.max_wallclock_seconds=null',
  'train.log_every=1',
  'train.eval_every=0',
  'train.checkpoint_every=0',
  'eval.val_tokens=4096',
  `train.workers=${threads}`,
  ...values.set,
]
const recipe = loadRecipe(values.recipe, sets)
const {python, reason} = torchPython()
if (!python) throw new Error(`bench:export-torch needs PyTorch: ${reason}`)
const root = mkdtempSync(join(tmpdir(), 'golf-bench-export-torch-'))
const file = join(root, 'train_gpt.py')
writeTorchExport(recipe, file)
const data = await ensureBuiltinDataset()
if (!values.json) process.stderr.write(`runs in ${root} (${python}, ${reason}; ${threads} thread${threads === 1 ? '' : 's'} each)\n`)

/** Training tokens per second from step `skip` to the last step of a run folder's metrics.jsonl. */
function steadyTokensPerS(runDir: string): {tokens_per_s: number; steps: number} {
  const lines = readFileSync(join(runDir, 'metrics.jsonl'), 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as {step?: number; train_loss?: number; tokens_seen?: number; train_time_ms?: number})
    .filter((m) => m.train_loss !== undefined && m.tokens_seen !== undefined && m.train_time_ms !== undefined)
  const from = lines.find((m) => m.step === skip)
  const last = lines[lines.length - 1]
  if (!from || !last || last.step === from.step) throw new Error(`${runDir}/metrics.jsonl: no training steps after step ${skip}`)
  return {tokens_per_s: ((last.tokens_seen! - from.tokens_seen!) / (last.train_time_ms! - from.train_time_ms!)) * 1000, steps: last.step! - from.step!}
}

function runExport(out: string): Promise<void> {
  return new Promise((done, fail) => {
    const env = {...torchEnv(), OMP_NUM_THREADS: String(threads)}
    const child = spawn(python!, [file, 'train', '--data', data, '--out', out, '--seed', values.seed], {env, stdio: ['ignore', 'ignore', 'pipe']})
    let err = ''
    child.stderr.on('data', (d: Buffer) => (err += d.toString()))
    child.on('error', fail)
    child.on('close', (code) => (code === 0 ? done() : fail(new Error(`train_gpt.py train exited ${code}:\n${err}`))))
  })
}

interface Round {
  round: number
  golf_tokens_per_s: number
  export_tokens_per_s: number
  ratio: number
}
const rounds: Round[] = []
for (let i = 0; i < Number(values.rounds); i++) {
  const golfDir = join(root, `golf-${i}`)
  const exportDir = join(root, `export-${i}`)
  await train({recipe, outDir: golfDir, seed: Number(values.seed), backend: 'wasm'})
  await runExport(exportDir)
  const g = steadyTokensPerS(golfDir).tokens_per_s
  const e = steadyTokensPerS(exportDir).tokens_per_s
  const r = {round: i + 1, golf_tokens_per_s: Math.round(g), export_tokens_per_s: Math.round(e), ratio: e / g}
  rounds.push(r)
  process.stderr.write(JSON.stringify(r) + '\n')
}

if (values.json) console.log(JSON.stringify({bench: 'export-torch', recipe: recipe.name, sets, threads, steps, skip, python, torch: reason, rounds}))
else {
  console.log(`training throughput, ${recipe.name}${values['no-reference'] ? '' : ' at the reference shape (4×256, seq 256, 2,048 tokens/step)'}, ${threads} thread(s) each, steps ${skip}–${steps}; golf: wasm, train_gpt.py: ${reason}`)
  console.log(table(['round', 'golf tokens/s', 'train_gpt.py tokens/s', 'train_gpt.py / golf'], rounds.map((r) => [String(r.round), r.golf_tokens_per_s.toLocaleString('en-US'), r.export_tokens_per_s.toLocaleString('en-US'), `×${r.ratio.toFixed(2)}`])))
}
