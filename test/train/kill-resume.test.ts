/**
 * SIGKILL `golf train` (the built CLI) at seeded random moments and at targeted ones — inside
 * each step of a checkpoint write (the test-only pause GOLF_TEST_PAUSE_AT, src/run/checkpoint.ts),
 * during a periodic evaluation, during the final evaluation — and `--resume` after every kill.
 * After each kill the checkpoint on disk must load (checked on a copy, so the resume itself
 * meets the state the kill left); at the end the run's weights, optimizer state and val
 * loss/bpb must equal an uninterrupted run's bit for bit. Needs dist/ (npx tsc -p tsconfig.json).
 *
 * Sized for < 60 s on 2 cores: a 2×64 model, 24 steps of 512 tokens, the built-in corpus.
 */
import {spawn, type ChildProcess} from 'node:child_process'
import {cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {beforeAll, describe, expect, it} from 'vitest'

import {ensureBuiltinDataset} from '../../src/data/dataset.js'
import {decodeSafetensors} from '../../src/io/safetensors.js'
import {CHECKPOINT_PAUSE_POINTS, loadCheckpoint, type CheckpointMeta} from '../../src/run/checkpoint.js'
import {RunFolder} from '../../src/run/folder.js'
import {mulberry32} from '../../src/util/random.js'
import {REPO_ROOT} from '../helpers/cli.js'

const MAX_STEPS = 24
const EVAL_EVERY = 6
const SETS = {
  'train.max_steps': MAX_STEPS,
  'train.max_wallclock_seconds': 'null', // a wall-clock cap steers the schedule: never bit-exact
  'train.checkpoint_every': 3,
  'train.eval_every': EVAL_EVERY,
  'train.log_every': 1,
  'train.workers': 1,
  'train.seq_len': 64,
  'train.batch_tokens': 512,
  'train.micro_batch_tokens': 256,
  'train.val_tokens': 8192, // a periodic evaluation long enough (~0.3 s) to be killed in
  'eval.val_tokens': 16384, // a final evaluation long enough (~0.5 s) to be killed in
  'model.model_dim': 64,
  'model.unique_blocks': 2,
  'quant.group_size': 64,
}
const FRESH = ['train', '--recipe', 'tiny-cpu', '--backend', 'wasm', ...Object.entries(SETS).flatMap(([k, v]) => ['--set', `${k}=${v}`])]

interface Proc {
  child: ChildProcess
  stderr: () => string
  exited: Promise<number | null>
  /** Resolves when a stderr line matches (or rejects when the process exits first). */
  waitFor: (re: RegExp) => Promise<string>
}

function start(args: string[], env: Record<string, string> = {}): Proc {
  const child = spawn(process.execPath, [join(REPO_ROOT, 'bin', 'run.js'), ...args], {env: {...process.env, NO_COLOR: '1', FORCE_COLOR: '0', ...env}, stdio: ['ignore', 'ignore', 'pipe']})
  let err = ''
  const watchers: Array<{re: RegExp; resolve: (l: string) => void; reject: (e: Error) => void}> = []
  let pending = ''
  child.stderr!.setEncoding('utf8').on('data', (d: string) => {
    err += d
    pending += d
    const lines = pending.split('\n')
    pending = lines.pop()!
    for (const line of lines) {
      for (const w of [...watchers]) {
        if (w.re.test(line)) {
          watchers.splice(watchers.indexOf(w), 1)
          w.resolve(line)
        }
      }
    }
  })
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => {
    for (const w of watchers.splice(0)) w.reject(new Error(`exited (${code}) before a line matched ${w.re}: ${err.slice(-400)}`))
    resolve(code)
  }))
  return {child, stderr: () => err, exited, waitFor: (re) => new Promise((resolve, reject) => watchers.push({re, resolve, reject}))}
}

const meta = (dir: string): CheckpointMeta | null => (existsSync(join(dir, 'checkpoint.json')) ? (JSON.parse(readFileSync(join(dir, 'checkpoint.json'), 'utf8')) as CheckpointMeta) : null)
const logLines = (dir: string): string[] => (existsSync(join(dir, 'train.log')) ? readFileSync(join(dir, 'train.log'), 'utf8').trim().split('\n') : [])

/**
 * What the kill left: every file under a final name whole, and the checkpoint loadable. Checked
 * on a copy, so the resume meets the folder exactly as the kill left it.
 */
function checkReadable(dir: string): {step: number | null} {
  if (!existsSync(dir)) return {step: null} // killed before the run folder was made
  for (const name of readdirSync(dir)) {
    if (name.endsWith('.safetensors')) expect(() => decodeSafetensors(readFileSync(join(dir, name)), name), name).not.toThrow()
    if (name.endsWith('.json')) expect(() => JSON.parse(readFileSync(join(dir, name), 'utf8')), name).not.toThrow()
  }
  if (!existsSync(join(dir, 'checkpoint.json'))) return {step: null}
  const copy = join(mkdtempSync(join(tmpdir(), 'golf-kill-copy-')), 'run')
  cpSync(dir, copy, {recursive: true})
  const ck = loadCheckpoint(new RunFolder(copy), {optimizer: true})
  rmSync(copy, {recursive: true, force: true})
  return {step: ck.meta.step}
}

type Plan = {kind: 'pause'; point: string} | {kind: 'eval'} | {kind: 'final-eval'} | {kind: 'random'; inStartup: boolean; fraction: number}

let root: string
beforeAll(async () => {
  await ensureBuiltinDataset() // prepared once here, never by two processes racing
  root = mkdtempSync(join(tmpdir(), 'golf-kill-'))
})

describe('golf train survives SIGKILL at any moment; --resume ends bit for bit where an uninterrupted run does', () => {
  it('kills during steps, checkpoint writes and evaluations', async () => {
    const t0 = performance.now()
    const reference = join(root, 'reference')
    const refStart = performance.now()
    const ref = start([...FRESH, '--out', reference])
    const firstStep = ref.waitFor(/^step:1\//).then(() => performance.now() - refStart)
    expect(await ref.exited, ref.stderr()).toBe(0)
    const runMs = performance.now() - refStart
    const startupMs = await firstStep

    // Seeded random moments over what is left of the run in each process: a third of them in
    // its start-up (a kill while the resumed process loads its checkpoint is a moment too),
    // the rest in its training, at most 90% of the way so a random kill never lets the run
    // finish before the targeted ones have run.
    const rand = mulberry32(20261201)
    const randomKill = (): Plan => ({kind: 'random', inStartup: rand() < 1 / 3, fraction: 0.9 * rand()})
    const plans: Plan[] = [{kind: 'eval'}] // first, while periodic evaluations remain
    for (const point of CHECKPOINT_PAUSE_POINTS) plans.push({kind: 'pause', point: `checkpoint-write:${point}`}, randomKill())
    plans.push({kind: 'final-eval'}, randomKill())

    const out = join(root, 'killed')
    const tally = new Map<string, {tried: number; survived: number}>()
    let lastStep = 0
    for (const plan of plans) {
      const m = meta(out)
      if (m && m.step === MAX_STEPS && existsSync(join(out, 'summary.json'))) break // finished: nothing left to kill
      const args = m ? ['train', '--out', out, '--resume'] : [...FRESH, '--out', out]
      if (!m && existsSync(out) && !existsSync(join(out, 'config.json'))) {
        // killed between making the folder and writing config.json: it is empty, and a fresh start takes it
        expect(readdirSync(out)).toEqual([])
      } else if (!m && existsSync(out)) {
        // killed before its first checkpoint: --resume says so in one line, then the user starts again
        const r = start(['train', '--out', out, '--resume'])
        expect(await r.exited).toBe(2)
        expect(r.stderr().trim()).toMatch(/^golf: cannot resume .*: the run stopped before its first checkpoint \(no checkpoint\.json\): remove the folder and start the run again$/)
        rmSync(out, {recursive: true, force: true})
      }
      const linesBefore = logLines(out).length
      const p = start(args, plan.kind === 'pause' ? {GOLF_TEST_PAUSE_AT: plan.point} : {})
      let moment: string
      if (plan.kind === 'pause') {
        await p.waitFor(new RegExp(`^golf-test: paused at ${plan.point}$`))
        moment = plan.point
      } else if (plan.kind === 'eval') {
        // the step line of an evaluation step is logged just before that evaluation starts
        await p.waitFor(new RegExp(`^step:(${EVAL_EVERY}|${2 * EVAL_EVERY}|${3 * EVAL_EVERY})/${MAX_STEPS} train_loss`))
        moment = 'eval'
      } else if (plan.kind === 'final-eval') {
        if (m?.step === MAX_STEPS) {
          // an earlier kill already landed after the last step: this resume goes straight to
          // the final checkpoint (a few ms) and evaluation, right after its run line
          await p.waitFor(/^run .* steps max$/)
          await new Promise((r) => setTimeout(r, 150))
        } else {
          await p.waitFor(new RegExp(`^step:${MAX_STEPS}/${MAX_STEPS} train_loss`))
          // the final checkpoint is written before the final evaluation: kill once it is committed
          while (meta(out)?.step !== MAX_STEPS) await new Promise((r) => setTimeout(r, 2))
        }
        moment = 'final-eval'
      } else if (plan.inStartup) {
        await new Promise((r) => setTimeout(r, plan.fraction * startupMs))
        moment = 'random'
      } else {
        await p.waitFor(/^step:\d+\//)
        const left = ((MAX_STEPS - (m?.step ?? 0)) / MAX_STEPS) * (runMs - startupMs)
        await new Promise((r) => setTimeout(r, plan.fraction * left))
        moment = 'random'
      }
      const alive = p.child.exitCode === null
      p.child.kill('SIGKILL')
      const code = await p.exited
      if (!alive) {
        expect(code, p.stderr()).toBe(0) // it finished before the kill: not a kill
        continue
      }
      // where did it land? (for the tally; the checks below hold wherever it landed)
      const newLines = logLines(out).slice(linesBefore)
      const last = newLines.at(-1) ?? ''
      if (moment === 'random') moment = newLines.length === 0 ? 'random: start-up / resume' : /val_loss/.test(last) ? 'random: after an evaluation' : 'random: during a step'
      if (moment === 'eval') {
        const step = Number(/^step:(\d+)/.exec(last)?.[1])
        // killed after that step's line, before its evaluation logged a result
        expect(last, `eval: ${last}`).toMatch(/train_loss/)
        expect(step % EVAL_EVERY, last).toBe(0)
      }
      if (moment === 'final-eval') {
        expect(meta(out)?.step).toBe(MAX_STEPS)
        expect(existsSync(join(out, 'summary.json'))).toBe(false)
        expect(newLines.some((l) => l.startsWith(`step:${MAX_STEPS}/${MAX_STEPS} val_loss`))).toBe(false)
      }
      const t = tally.get(moment) ?? {tried: 0, survived: 0}
      t.tried++
      tally.set(moment, t)
      const {step} = checkReadable(out)
      if (step !== null) {
        expect(step, 'a checkpoint never goes back').toBeGreaterThanOrEqual(lastStep)
        lastStep = step
      }
      t.survived++ // readable; the final comparison below confirms the resume
    }

    // the last resume runs to the end
    const fin = start(['train', '--out', out, '--resume'])
    expect(await fin.exited, fin.stderr()).toBe(0)
    const a = loadCheckpoint(new RunFolder(reference), {optimizer: true})
    const b = loadCheckpoint(new RunFolder(out), {optimizer: true})
    expect(b.meta.step).toBe(MAX_STEPS)
    for (const [k, v] of a.weights) expect(Buffer.from(b.weights.get(k)!.buffer).equals(Buffer.from(v.buffer)), k).toBe(true)
    for (const [k, v] of a.optimizer!) expect(Buffer.from(b.optimizer!.get(k)!.buffer).equals(Buffer.from(v.buffer)), k).toBe(true)
    const sa = JSON.parse(readFileSync(join(reference, 'summary.json'), 'utf8'))
    const sb = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'))
    expect(sb.val_loss).toBe(sa.val_loss)
    expect(sb.val_bpb).toBe(sa.val_bpb)
    expect(sb.steps).toBe(MAX_STEPS)
    // nothing half-done is left behind once a save has run
    expect(readdirSync(out).filter((n) => /\.pending$|\.tmp-/.test(n))).toEqual([])
    // metrics.jsonl holds every step once, with the uninterrupted run's values
    const scores = (dir: string) =>
      readFileSync(join(dir, 'metrics.jsonl'), 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as {step: number; train_loss?: number; val_loss?: number; final?: boolean})
        .map((m) => [m.step, m.train_loss ?? null, m.val_loss ?? null, m.final ?? false])
    expect(scores(out)).toEqual(scores(reference))

    const tried = [...tally.values()].reduce((s, t) => s + t.tried, 0)
    const survived = [...tally.values()].reduce((s, t) => s + t.survived, 0)
    expect(tally.get('checkpoint-write:committed')?.tried).toBe(1)
    expect(tally.get('eval')?.tried).toBe(1)
    expect(tally.get('final-eval')?.tried).toBe(1)
    expect(tried).toBeGreaterThanOrEqual(10)
    console.log(
      `kills survived ${survived}/${tried} (${[...tally].map(([k, t]) => `${k} ${t.survived}/${t.tried}`).join(', ')}); ` +
        `uninterrupted run ${(runMs / 1000).toFixed(1)} s, whole test ${((performance.now() - t0) / 1000).toFixed(1)} s; val_bpb ${sb.val_bpb}`,
    )
  })
})
