/**
 * The compliance lines measure: times are judged only on 8×H100 SXM, "whole validation split" is
 * what the seeds' final evaluations and the roundtrip read, and "no validation data in training"
 * is the leakage audit of the runs' dataset ('unknown' with the reason when it cannot run).
 */
import {mkdirSync, mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {ShardWriter} from '../../src/data/shard.js'
import {complianceChecks, coverageCheck, isRecordHardware, leakageCheck, timeChecks} from '../../src/report/compliance.js'
import {loadRun, type RunRecord} from '../../src/report/ledger.js'
import {FIXTURE_RUNS} from './fixtures.js'

const SEEDS = ['tiny-cpu-s7', 'tiny-cpu-s42', 'tiny-cpu-s1337']
const H100 = '8× NVIDIA H100 80GB HBM3 (SXM5), 2 TB, torchrun'

/** The fixture seeds with summary fields replaced. */
function runs(edit: Partial<RunRecord['summary']> = {}, data?: string): RunRecord[] {
  return SEEDS.map((s) => {
    const r = loadRun(join(FIXTURE_RUNS, s))
    return {...r, summary: {...r.summary, ...edit}, config: data === undefined ? r.config : {...r.config, data}}
  })
}

let dir: string
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'golf-compliance-'))
})
afterAll(() => rmSync(dir, {recursive: true, force: true}))

describe('isRecordHardware', () => {
  it('is 8×H100 in the SXM form factor, however it is written', () => {
    for (const hw of ['8×H100 SXM', '8xH100 SXM5 80GB', '8 x NVIDIA H100 80GB HBM3', H100]) expect(isRecordHardware(hw), hw).toBe(true)
    for (const hw of ['8xH100', '8×H100 PCIe', '8× NVIDIA H100 NVL', '4×H100 SXM', '1×H100 SXM', '18xH100 SXM', '2× Intel(R) Xeon(R) CPU @ 2.20GHz, 8 GiB, wasm', '', undefined]) {
      expect(isRecordHardware(hw), String(hw)).toBe(false)
    }
  })
})

describe('time limits', () => {
  const statuses = (items: ReturnType<typeof timeChecks>) => items.map((c) => [c.name, c.status])

  it('on other hardware: not confirmed, under or over 600 s, with the measured time and why', () => {
    const under = timeChecks(runs())
    expect(statuses(under)).toEqual([
      ['train ≤ 600 s', 'unknown'],
      ['eval ≤ 600 s', 'unknown'],
    ])
    expect(under[0].detail).toBe('not confirmed: measured longest seed trained 96.0 s on 2× Intel(R) Xeon(R) CPU @ 2.20GHz, 8 GiB, wasm; the rule is timed on 8×H100 SXM')
    const over = timeChecks(runs({train_time_ms: 7_200_000, eval_time_ms: 900_000}))
    expect(statuses(over)).toEqual([
      ['train ≤ 600 s', 'unknown'],
      ['eval ≤ 600 s', 'unknown'],
    ])
    expect(over[0].detail).toMatch(/7200\.0 s on .*; the rule is timed on 8×H100 SXM; over 600 s on other hardware is no contradiction either$/)
    expect(over[1].detail).toContain('longest final evaluation 900.0 s (measured by golf train)')
  })

  it('on 8×H100 SXM: pass within 600 s, fail over it; an eval upper bound over it stays unknown', () => {
    expect(statuses(timeChecks(runs({hardware: H100, eval_time_ms: 500_000})))).toEqual([
      ['train ≤ 600 s', 'pass'],
      ['eval ≤ 600 s', 'pass'],
    ])
    const over = timeChecks(runs({hardware: H100, train_time_ms: 612_500, eval_time_ms: 601_000}))
    expect(statuses(over)).toEqual([
      ['train ≤ 600 s', 'fail'],
      ['eval ≤ 600 s', 'fail'],
    ])
    expect(over[0].detail).toBe(`longest seed trained 612.5 s on ${H100}: over the 600 s limit by 12.5 s`)
    // no eval_time_ms: wall-clock minus training, an upper bound (fixture runs: 14 s)
    const bound = timeChecks(runs({hardware: H100, finished_at: '2026-03-18T09:30:00.000Z'}))
    expect(statuses(bound)).toEqual([
      ['train ≤ 600 s', 'pass'],
      ['eval ≤ 600 s', 'unknown'],
    ])
    expect(bound[1].detail).toMatch(/^not confirmed: evaluation at most \d+\.\d s \(run wall-clock minus training time.*an upper bound over the 600 s limit$/)
  })

  it('one seed on other hardware makes the lines unknown', () => {
    const mixed = runs({hardware: H100})
    mixed[1] = {...mixed[1], summary: {...mixed[1].summary, hardware: '8xH100 PCIe'}}
    expect(timeChecks(mixed).map((c) => c.status)).toEqual(['unknown', 'unknown'])
  })
})

describe('no validation data in training', () => {
  function dataset(name: string, leak: boolean): string {
    const out = join(dir, name)
    mkdirSync(out)
    const doc = (k: number) => [1, ...Array.from({length: 64}, (_, i) => 4 + ((i * 31 + k * 17) % 250))]
    const val = new ShardWriter(out, 'val', {shardTokens: 100})
    for (let k = 0; k < 5; k++) val.add(doc(k))
    val.close()
    const train = new ShardWriter(out, 'train', {shardTokens: 100})
    for (let k = 5; k < 20; k++) train.add(doc(k))
    if (leak) train.add(doc(2))
    train.close()
    return out
  }

  it('measured on the runs\' dataset: pass when none is found, fail naming the count when one is', async () => {
    const lines: string[] = []
    const clean = await leakageCheck(runs({}, dataset('clean', false)), {cwd: dir, onProgress: (l) => lines.push(l)})
    expect(clean.status).toBe('pass')
    expect(clean.detail).toMatch(/^measured \(golf data audit\): 5 of 5 validation documents \(325 tokens; none shorter than 32 tokens, the minimum checked\) hashed and looked up in all 15 documents of the 10 train shards \(975 tokens\): 0 found$/)
    expect(lines[0]).toBe(`leakage audit: hashing the validation documents of ${join(dir, 'clean')}`)
    const leaky = await leakageCheck(runs({}, dataset('leaky', true)), {cwd: dir})
    expect(leaky.status).toBe('fail')
    expect(leaky.detail).toContain(': 1 found (1 training document, confirmed token for token)')
  })

  it('unknown with the reason: the dataset is not here, a shard is bad, or the audit was skipped', async () => {
    const missing = await leakageCheck(runs(), {cwd: FIXTURE_RUNS})
    expect(missing).toEqual({name: 'no validation data in training', status: 'unknown', detail: "unknown: the runs' dataset datasets/brown_byte260 is not on this machine; run golf data audit --data <dataset> where it is"})
    const empty = join(dir, 'empty')
    mkdirSync(empty)
    expect((await leakageCheck(runs({}, empty), {cwd: dir})).detail).toBe(`unknown: the audit of ${empty} could not run: no shards (fineweb_train_*.bin / fineweb_val_*.bin) in ${empty}`)
    expect((await leakageCheck(runs({}, dataset('skipped', true)), {cwd: dir, audit: false})).status).toBe('unknown')
  })

  it('the checklist in order, the leakage line last', () => {
    const items = complianceChecks(runs(), 1000, 16_000_000, {name: 'no validation data in training', status: 'pass', detail: 'x'})
    expect(items.map((c) => [c.name, c.status])).toEqual([
      ['3+ seeds', 'pass'],
      ['train ≤ 600 s', 'unknown'],
      ['eval ≤ 600 s', 'unknown'],
      ['bytes_total ≤ 16,000,000', 'pass'],
      ['whole validation split', 'unknown'],
      ['no validation data in training', 'pass'],
    ])
  })
})

describe('the whole-validation-split line', () => {
  const whole = {read_tokens: 300_269, split_tokens: 300_269, partial: false}
  const part = {read_tokens: 65_536, split_tokens: 300_269, partial: true}

  it('passes when every seed (and the roundtrip) read the whole split', () => {
    expect(coverageCheck(runs({val_coverage: whole}), whole)).toEqual({name: 'whole validation split', status: 'pass', detail: 'all 300,269 tokens (seed 7, seed 42, seed 1337, the roundtrip)'})
  })

  it('fails on a partial score: measured not to be the official metric', () => {
    expect(coverageCheck(runs({val_coverage: part}), part)).toEqual({
      name: 'whole validation split',
      status: 'fail',
      detail: 'partial: first 65,536 of 300,269 validation tokens — not the official metric (seed 7, seed 42, seed 1337, the roundtrip)',
    })
    // one partial score among whole ones is enough
    expect(coverageCheck(runs({val_coverage: whole}), part)).toMatchObject({status: 'fail', detail: 'partial: first 65,536 of 300,269 validation tokens — not the official metric (the roundtrip)'})
  })

  it('is unknown for runs that recorded nothing (an older golf), with what their recipe asked', () => {
    // the fixture runs have no val_coverage and eval.val_tokens 65536
    expect(coverageCheck(runs())).toEqual({
      name: 'whole validation split',
      status: 'unknown',
      detail: "not recorded: summary.json has no val_coverage (a run from an older golf); its recipe's eval.val_tokens is 65,536 (the first tokens only, if the split is larger) (seed 7, seed 42, seed 1337)",
    })
  })
})
