/**
 * The checkpoint journal (src/run/checkpoint.ts): every state a save can be killed in leaves one
 * complete checkpoint readable — the previous one before the sidecar is committed, the new one
 * after. The states are built by hand from two real saves (test/train/kill-resume.test.ts kills
 * the built CLI in them).
 */
import {copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, renameSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'

import {removeStaleTemps} from '../../src/io/atomic.js'
import {DEFAULT_MODEL_CONFIG} from '../../src/model/config.js'
import {loadCheckpoint, pendingPath, recoverCheckpoint, saveCheckpoint} from '../../src/run/checkpoint.js'
import {RunFolder} from '../../src/run/folder.js'
import {DEFAULT_QUANT} from '../../src/recipe/recipe.js'

const shapes = new Map([['w', [2, 3]]])
function save(run: RunFolder, step: number): void {
  const w = new Map([['w', Float32Array.from({length: 6}, (_, i) => step * 10 + i)]])
  const opt = new Map([['m', Float32Array.from({length: 4}, (_, i) => -step - i)]])
  saveCheckpoint(run, w, shapes, opt, {
    recipe: 't',
    seed: 1,
    step,
    train_time_ms: step,
    tokens_seen: step,
    stream: {file: 0, pos: step},
    model: DEFAULT_MODEL_CONFIG,
    quant: {...DEFAULT_QUANT, active: true},
    ternary_tensors: [],
    backend: 'wasm',
  })
}
const stepOf = (dir: string) => {
  const ck = loadCheckpoint(new RunFolder(dir), {optimizer: true})
  expect(ck.weights.get('w')![0]).toBe(ck.meta.step * 10)
  expect(ck.optimizer!.get('m')![0]).toBe(-ck.meta.step)
  return ck.meta.step
}
const tmp = () => mkdtempSync(join(tmpdir(), 'golf-ck-'))

/** A folder holding step 1's files and step 2's, as each stage of step 2's save leaves them. */
function states() {
  const one = new RunFolder(tmp())
  save(one, 1)
  const two = new RunFolder(tmp())
  save(two, 2)
  const make = (files: Array<[from: RunFolder, name: 'checkpoint' | 'optimizer' | 'checkpointMeta', as: 'final' | 'pending']>) => {
    const run = new RunFolder(tmp())
    for (const [from, name, as] of files) copyFileSync(from.path(name), as === 'final' ? run.path(name) : pendingPath(run, name as 'checkpoint' | 'optimizer'))
    return run
  }
  return {one, two, make}
}

describe('checkpoint saves killed at every stage', () => {
  it('before the commit: the previous checkpoint loads; after it: the new one, completed on load', () => {
    const {one, two, make} = states()
    const before = [
      // weights pending
      make([[one, 'checkpoint', 'final'], [one, 'optimizer', 'final'], [one, 'checkpointMeta', 'final'], [two, 'checkpoint', 'pending']]),
      // both pending, sidecar not yet replaced
      make([[one, 'checkpoint', 'final'], [one, 'optimizer', 'final'], [one, 'checkpointMeta', 'final'], [two, 'checkpoint', 'pending'], [two, 'optimizer', 'pending']]),
    ]
    for (const run of before) expect(stepOf(run.dir)).toBe(1)
    const after = [
      // committed, nothing moved
      make([[one, 'checkpoint', 'final'], [one, 'optimizer', 'final'], [two, 'checkpointMeta', 'final'], [two, 'checkpoint', 'pending'], [two, 'optimizer', 'pending']]),
      // weights moved, optimizer pending
      make([[two, 'checkpoint', 'final'], [one, 'optimizer', 'final'], [two, 'checkpointMeta', 'final'], [two, 'optimizer', 'pending']]),
      // the very first save, committed: no final files yet
      make([[two, 'checkpointMeta', 'final'], [two, 'checkpoint', 'pending'], [two, 'optimizer', 'pending']]),
    ]
    for (const run of after) {
      expect(stepOf(run.dir)).toBe(2)
      // loading finished the save: the files are in place, nothing pending
      expect(readdirSync(run.dir).sort()).toEqual(['checkpoint.json', 'checkpoint.safetensors', 'optimizer.safetensors'])
      expect(readFileSync(run.path('checkpoint')).equals(readFileSync(two.path('checkpoint')))).toBe(true)
    }
  })

  it('the next save finishes a committed save or drops uncommitted leftovers, then writes its own', () => {
    const {one, two, make} = states()
    const committed = make([[one, 'checkpoint', 'final'], [one, 'optimizer', 'final'], [two, 'checkpointMeta', 'final'], [two, 'checkpoint', 'pending'], [two, 'optimizer', 'pending']])
    recoverCheckpoint(committed)
    expect(existsSync(pendingPath(committed, 'checkpoint'))).toBe(false)
    expect(stepOf(committed.dir)).toBe(2)
    const leftovers = make([[one, 'checkpoint', 'final'], [one, 'optimizer', 'final'], [one, 'checkpointMeta', 'final'], [two, 'checkpoint', 'pending']])
    save(leftovers, 3)
    expect(stepOf(leftovers.dir)).toBe(3)
    expect(readdirSync(leftovers.dir).sort()).toEqual(['checkpoint.json', 'checkpoint.safetensors', 'optimizer.safetensors'])
  })

  it('a tensor file that matches neither the sidecar nor a pending twin is reported, naming it', () => {
    const {one, two, make} = states()
    const mixed = make([[one, 'checkpoint', 'final'], [one, 'optimizer', 'final'], [two, 'checkpointMeta', 'final']])
    expect(() => loadCheckpoint(mixed)).toThrow(/checkpoint\.safetensors does not match its checkpoint sidecar \(size or digest differs\): the file was changed or half-written/)
    const gone = make([[two, 'checkpointMeta', 'final']])
    expect(() => loadCheckpoint(gone)).toThrow(/checkpoint\.safetensors is missing \(the checkpoint sidecar expects it\)/)
  })
})

describe('removeStaleTemps', () => {
  it('removes the temporary files of dead writers only', () => {
    const dir = tmp()
    const path = join(dir, 'checkpoint.json')
    // pid 2^22 + 1 is above Linux's pid_max default: no such process
    const dead = `${path}.tmp-4194305-1`
    const mine = `${path}.tmp-${process.pid}-7`
    for (const p of [dead, mine, path]) writeFileSync(p, 'x')
    expect(removeStaleTemps(path)).toEqual(['checkpoint.json.tmp-4194305-1'])
    expect(readdirSync(dir).sort()).toEqual(['checkpoint.json', `checkpoint.json.tmp-${process.pid}-7`])
    renameSync(mine, path)
  })
})
