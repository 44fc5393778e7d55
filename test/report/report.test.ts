import {XMLParser, XMLValidator} from 'fast-xml-parser'
import {cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, utimesSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {list} from 'tar'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {InputError} from '../../src/errors.js'
import {ShardWriter} from '../../src/data/shard.js'
import {writeArtifact} from '../../src/pack/artifact.js'
import {buildReport, type ReportOptions, type ReportResult} from '../../src/report/report.js'
import {mean, welchTTest} from '../../src/report/stats.js'
import {validateSubmission} from '../../src/report/submission-schema.js'
import {writeTarball} from '../../src/report/tarball.js'
import {FIXTURE_RUNS} from './fixtures.js'

const GOLDEN = join(import.meta.dirname, 'golden', 'README.md')
const DATE = '2026-03-20T10:00:00Z'

let dir: string
let opts: ReportOptions
let result: ReportResult
let readme: string

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'golf-report-'))
  const {bytes} = writeArtifact({model: {}, quant: {}, tensors: [{name: 'w', shape: [4], kind: 'float', data: Float32Array.of(1, 2, 3, 4), dtype: 'f32'}], compress: 'none'})
  writeFileSync(join(dir, 'model.golf'), bytes)
  writeFileSync(join(dir, 'train_golf.mjs'), 'x'.repeat(1000)) // a stand-in for the counted code: fixed bytes for the golden file
  opts = {runs: ['*'], cwd: FIXTURE_RUNS, out: join(dir, 'sub'), artifact: join(dir, 'model.golf'), code: join(dir, 'train_golf.mjs'), date: DATE, author: 'Ada Lovelace', githubId: 'ada', sota: 2.1, tar: true}
  result = await buildReport(opts)
  readme = readFileSync(join(dir, 'sub', 'README.md'), 'utf8')
})

afterAll(() => rmSync(dir, {recursive: true, force: true}))

describe('golf report on the fixture runs (3 seeds + 2 ablations)', () => {
  it('writes the submission folder and nothing else', () => {
    expect(result.files).toEqual(['README.md', 'model.golf', 'sizes.log', 'submission.json', 'train_golf.mjs', 'train_seed1337.log', 'train_seed42.log', 'train_seed7.log', 'val_bpb.svg'])
    expect(readdirSync(dir).sort()).toEqual(['model.golf', 'sub', 'sub.tar.gz', 'train_golf.mjs'])
    expect(readFileSync(join(dir, 'sub', 'train_seed42.log'), 'utf8')).toBe(readFileSync(join(FIXTURE_RUNS, 'tiny-cpu-s42', 'train.log'), 'utf8'))
  })

  it('renders the README as the golden file (up to the reproduce section)', () => {
    const body = readme.slice(0, readme.indexOf('## Reproduce'))
    if (process.env.UPDATE_GOLDEN) writeFileSync(GOLDEN, body)
    expect(body).toBe(readFileSync(GOLDEN, 'utf8'))
  })

  it('has the per-seed table with exact Mean and Std rows', () => {
    expect(readme).toContain(
      [
        '| seed | steps | ms/step | val_bpb | roundtrip val_bpb | artifact bytes |',
        '| --- | ---: | ---: | ---: | ---: | ---: |',
        '| 7 | 40 | 2400.00 | 2.0290 | — | 198 |',
        '| 42 | 40 | 2400.00 | 2.0350 | — | — |',
        '| 1337 | 40 | 2400.00 | 2.0310 | — | — |',
        '| **Mean** | 40.0 | 2400.00 | 2.0317 | — | — |',
        '| **Std** | 0.0 | 0.00 | 0.0031 | — | — |',
      ].join('\n'),
    )
    expect(readme).toMatch(/^\*\*val_bpb 2\.0317 ± 0\.0031\*\* \(mean ± std over 3 seeds\) · \*\*1,198 bytes\*\* total/m)
  })

  it('judges the ablations against seed noise: one hurts, one has no measurable effect', () => {
    expect(readme).toContain('| `quant.group_size 128 → 64` | 1337 | 2.0330 | 2.0317 (main seeds, mean of 3) | +0.0013 | no measurable effect | \\|Δ\\| ≤ 2σ = 0.0061 |')
    expect(readme).toContain('| `model.mlp_mult 4 → 2`<br>half-width MLP to buy bytes | 1337 | 2.0712 | 2.0317 (main seeds, mean of 3) | +0.0395 | **hurts** | \\|Δ\\| > 2σ = 0.0061 |')
    expect(result.ablations.map((a) => [a.change, a.verdict])).toEqual([
      [['quant.group_size 128 → 64'], 'no measurable effect'],
      [['model.mlp_mult 4 → 2'], 'hurts'],
    ])
  })

  it('states compliance, significance and the reproduce commands', () => {
    // CPU runs: the time limits are not confirmed; the fixtures' dataset is not on this machine
    expect(result.compliance.map((c) => [c.name, c.status])).toEqual([
      ['3+ seeds', 'pass'],
      ['train ≤ 600 s', 'unknown'],
      ['eval ≤ 600 s', 'unknown'],
      ['bytes_total ≤ 16,000,000', 'pass'],
      ['whole validation split', 'unknown'],
      ['no validation data in training', 'unknown'],
    ])
    expect(readme).toContain('- ❔ **eval ≤ 600 s** — not confirmed: measured evaluation at most 14.0 s (run wall-clock minus training time')
    expect(readme).toContain("- ❔ **no validation data in training** — unknown: the runs' dataset datasets/brown_byte260 is not on this machine")
    expect(result.significance?.record).toBe(true)
    expect(readme).toContain('Caveat: these runs were evaluated on brown_byte260, not the official FineWeb validation split')
    // the fixture runs scored the first 65,536 validation tokens; tiny-cpu now scores the whole split
    expect(readme).toContain('golf train --recipe tiny-cpu --seed 7 --set eval.val_tokens=65536 --set train.eval_every=20 --set train.max_steps=40\n')
    expect(readme).toContain('node train_golf.mjs train --data path/to/brown_byte260 --out runs/seed1337 --seed 1337\n')
    expect(readme).toContain('![val_bpb and train loss against step](val_bpb.svg)')
  })

  it('writes a submission.json that validates against the schema, with values from the runs', () => {
    const sub = JSON.parse(readFileSync(join(dir, 'sub', 'submission.json'), 'utf8'))
    expect(validateSubmission(sub)).toEqual([])
    expect(sub).toMatchObject({
      author: 'Ada Lovelace',
      github_id: 'ada',
      name: 'sub',
      date: DATE,
      track: 'non-record',
      val_loss: 1.406097,
      val_bpb: 2.029,
      bytes_model: 198,
      bytes_code: 1000,
      bytes_total: 1198,
      seeds: [7, 42, 1337],
      step_stop: 40,
      wallclock_seconds: 96,
      significance: {sota_bpb: 2.1, record: true},
    })
    expect(sub.val_bpb_std).toBeCloseTo(0.0030550504633038, 14)
    expect(sub.seed_results.map((r: {seed: number; val_bpb: number}) => [r.seed, r.val_bpb])).toEqual([[7, 2.029], [42, 2.035], [1337, 2.031]])
    expect(validateSubmission({...sub, bytes_total: 5})).toEqual(['bytes_total 5 is not bytes_code 1000 + bytes_model 198'])
    expect(validateSubmission({...sub, date: 'yesterday'})).toEqual(['date must match pattern "^\\d{4}-\\d{2}-\\d{2}(T\\d{2}:\\d{2}(:\\d{2}(\\.\\d+)?)?(Z|[+-]\\d{2}:?\\d{2})?)?$"'])
    const {seeds: _s, ...noSeeds} = sub
    expect(validateSubmission(noSeeds)).toEqual(['seeds is missing'])
  })

  it('plots every point: the SVG parses as XML and labels each val_bpb and train-loss point', () => {
    const svg = readFileSync(join(dir, 'sub', 'val_bpb.svg'), 'utf8')
    expect(XMLValidator.validate(svg)).toBe(true)
    const doc = new XMLParser({ignoreAttributes: false}).parse(svg)
    expect(doc.svg).toBeDefined()
    const labels = [...svg.matchAll(/aria-label="(step: [^"]*)"/g)].map((m) => m[1])
    // 3 seeds × (eval at step 20 + final at 40) and 3 seeds × 5 train-loss lines
    expect(labels.filter((l) => l.includes('; val_bpb: '))).toHaveLength(6)
    expect(labels.filter((l) => l.includes('; train_loss: '))).toHaveLength(15)
    expect(labels).toContain('step: 40; val_bpb: 2.035; seed: seed 42')
  })

  it('writes a deterministic tarball: sorted entries, fixed mtimes, relative paths, no links or owners', async () => {
    const tarball = join(dir, 'sub.tar.gz')
    const entries: Array<{path: string; type: string; mtime: number | undefined; uname: string | undefined; uid: number | undefined}> = []
    await list({file: tarball, onReadEntry: (e) => entries.push({path: e.path, type: e.type, mtime: e.mtime?.getTime(), uname: e.header.uname, uid: e.header.uid})})
    expect(entries.map((e) => e.path)).toEqual(['sub/', ...result.files.map((f) => `sub/${f}`)])
    for (const e of entries) {
      expect(e.path.startsWith('/')).toBe(false)
      expect(['File', 'Directory']).toContain(e.type)
      // files carry the submission date; the folder none (portable mode writes 0)
      expect(e.mtime).toBe(e.type === 'File' ? Date.parse(DATE) : undefined)
      expect(e.uname ?? '').toBe('')
    }
    // the same folder with other file times gives the same bytes
    utimesSync(join(dir, 'sub', 'README.md'), new Date(0), new Date(0))
    const again = join(dir, 'again.tar.gz')
    await writeTarball(join(dir, 'sub'), again, new Date(DATE))
    expect(Buffer.compare(readFileSync(again), readFileSync(tarball))).toBe(0)
    rmSync(again)
  })

  it('ships a --code file under its own name and runs a Python one with python3 (golf export torch)', async () => {
    writeFileSync(join(dir, 'train_gpt.py'), '# train_gpt.py\n'.repeat(40))
    const r = await buildReport({...opts, out: join(dir, 'torch'), code: join(dir, 'train_gpt.py'), tar: false})
    expect(r.files).toContain('train_gpt.py')
    expect(r.files).not.toContain('train_golf.mjs')
    const md = readFileSync(join(dir, 'torch', 'README.md'), 'utf8')
    expect(md).toContain('python3 train_gpt.py train --data path/to/brown_byte260 --out runs/seed1337 --seed 1337')
    expect(md).toContain('python3 train_gpt.py eval --artifact model.golf --data path/to/brown_byte260')
    writeFileSync(join(dir, 'README.md'), 'x')
    await expect(buildReport({...opts, out: join(dir, 'clash'), code: join(dir, 'README.md'), tar: false})).rejects.toThrow(`--code ${join(dir, 'README.md')}: the submission folder has its own README.md; give the counted code another name`)
    expect(existsSync(join(dir, 'clash'))).toBe(false)
  })

  it('never replaces a non-empty folder without force, and cleans up after a failure', async () => {
    await expect(buildReport({...opts, tar: false})).rejects.toThrow(`--out ${join(dir, 'sub')} already exists and is not empty (use --force to replace it)`)
    await expect(buildReport({...opts, out: join(dir, 'other'), artifact: join(dir, 'nope.golf')})).rejects.toThrow(`--artifact not found: ${join(dir, 'nope.golf')}`)
    // a file that is not a golf artifact, or a truncated one, is refused before anything ships
    writeFileSync(join(dir, 'notes.txt'), 'not an artifact at all')
    await expect(buildReport({...opts, out: join(dir, 'other'), artifact: join(dir, 'notes.txt')})).rejects.toBeInstanceOf(InputError)
    await expect(buildReport({...opts, out: join(dir, 'other'), artifact: join(dir, 'notes.txt')})).rejects.toThrow(`--artifact ${join(dir, 'notes.txt')}: not a golf artifact (bad magic)`)
    writeFileSync(join(dir, 'cut.golf'), readFileSync(join(dir, 'model.golf')).subarray(0, 20))
    await expect(buildReport({...opts, out: join(dir, 'other'), artifact: join(dir, 'cut.golf')})).rejects.toThrow(`--artifact ${join(dir, 'cut.golf')}: checksum mismatch (file altered or truncated)`)
    expect(readdirSync(dir).filter((f) => f.includes('.tmp-'))).toEqual([])
    expect(existsSync(join(dir, 'other'))).toBe(false)
    const again = await buildReport({...opts, force: true, track: 'record', sota: 2.04})
    expect(again.submission).not.toHaveProperty('seeds')
    expect(again.significance?.record).toBe(false)
    expect(readFileSync(join(dir, 'sub', 'README.md'), 'utf8')).toContain('Not significant: ')
  })

  it('--force never deletes the current folder, a folder holding an input, or files golf did not write', async () => {
    // the runs' own folder, and the current folder (the reported bug: `--runs run --out . --force`)
    const runsCopy = mkdtempSync(join(tmpdir(), 'golf-report-force-'))
    cpSync(FIXTURE_RUNS, runsCopy, {recursive: true})
    const before = readdirSync(runsCopy).sort()
    await expect(buildReport({...opts, cwd: runsCopy, out: '.', force: true, tar: false})).rejects.toThrow(`--out ${runsCopy} is the current folder or holds it: --force will not replace it`)
    await expect(buildReport({...opts, cwd: dir, runs: [join(runsCopy, '*')], out: runsCopy, force: true, tar: false})).rejects.toThrow(new RegExp(`^--out ${runsCopy} holds an input of this report \\(${runsCopy}/`))
    await expect(buildReport({...opts, out: dir, force: true, tar: false})).rejects.toThrow(`--out ${dir} holds an input of this report (${join(dir, 'model.golf')})`)
    expect(readdirSync(runsCopy).sort()).toEqual(before)
    // a folder with someone's notes in it
    const mine = join(dir, 'mine')
    mkdirSync(mine)
    writeFileSync(join(mine, 'README.md'), 'my notes')
    writeFileSync(join(mine, 'notes.txt'), 'do not delete')
    await expect(buildReport({...opts, out: mine, force: true, tar: false})).rejects.toThrow(`--out ${mine} holds files golf report does not write (notes.txt): --force replaces only a submission folder golf wrote`)
    expect(readFileSync(join(mine, 'notes.txt'), 'utf8')).toBe('do not delete')
    rmSync(runsCopy, {recursive: true, force: true})
  })

  it('audits the dataset the runs were trained on: a leaked validation document fails the line and is a non-record reason', async () => {
    const data = join(dir, 'leaky-data')
    mkdirSync(data)
    const doc = (k: number) => [1, ...Array.from({length: 40}, (_, i) => 4 + ((i * 7 + k * 13) % 250))]
    const val = new ShardWriter(data, 'val')
    for (let k = 0; k < 3; k++) val.add(doc(k))
    val.close()
    const train = new ShardWriter(data, 'train')
    for (const k of [3, 4, 1, 5]) train.add(doc(k))
    train.close()
    const runsCopy = join(dir, 'runs-leaky')
    cpSync(FIXTURE_RUNS, runsCopy, {recursive: true})
    for (const run of readdirSync(runsCopy)) {
      const path = join(runsCopy, run, 'config.json')
      writeFileSync(path, JSON.stringify({...JSON.parse(readFileSync(path, 'utf8')), data}, null, 2))
    }
    const lines: string[] = []
    const r = await buildReport({...opts, cwd: runsCopy, out: join(dir, 'sub-leaky'), tar: false, onProgress: (l) => lines.push(l)})
    const item = r.compliance.find((c) => c.name === 'no validation data in training')!
    expect(item.status).toBe('fail')
    expect(item.detail).toMatch(/^measured \(golf data audit\): 3 of 3 validation documents .*: 1 found \(1 training document, confirmed token for token\)$/)
    expect(r.submission.non_record_reason).toContain('no validation data in training: measured (golf data audit)')
    expect(lines).toContain(`leakage audit: hashing the validation documents of ${data}`)
    const skipped = await buildReport({...opts, cwd: runsCopy, out: join(dir, 'sub-skipped'), tar: false, dataAudit: false})
    expect(skipped.compliance.find((c) => c.name === 'no validation data in training')!.status).toBe('unknown')
  })

  it('hardware: CPU runs give a non-record reason (and a warning on the record track); 8×H100 SXM runs are judged on time', async () => {
    expect(result.submission.non_record_reason).toContain('trained on 2× Intel(R) Xeon(R) CPU @ 2.20GHz, 8 GiB, wasm, not 8×H100 SXM')
    const record = await buildReport({...opts, out: join(dir, 'sub-record'), tar: false, track: 'record'})
    expect(record.warnings).toContain('track record, but the runs were not timed on 8×H100 SXM (2× Intel(R) Xeon(R) CPU @ 2.20GHz, 8 GiB, wasm): the time limits are not confirmed')
    const runsCopy = join(dir, 'runs-h100')
    cpSync(FIXTURE_RUNS, runsCopy, {recursive: true})
    for (const run of readdirSync(runsCopy)) {
      const path = join(runsCopy, run, 'summary.json')
      writeFileSync(path, JSON.stringify({...JSON.parse(readFileSync(path, 'utf8')), hardware: '8×H100 SXM', eval_time_ms: 455_000}, null, 2))
    }
    const h100 = await buildReport({...opts, cwd: runsCopy, out: join(dir, 'sub-h100'), tar: false})
    expect(h100.compliance.slice(1, 3).map((c) => [c.name, c.status, c.detail])).toEqual([
      ['train ≤ 600 s', 'pass', 'longest seed trained 96.0 s on 8×H100 SXM'],
      ['eval ≤ 600 s', 'pass', 'longest final evaluation 455.0 s (measured by golf train) on 8×H100 SXM'],
    ])
    expect(h100.submission.non_record_reason).not.toContain('trained on')
  })

  /** The fixture runs with val_coverage recorded in their summaries. */
  function runsWithCoverage(name: string, coverage: object): string {
    const runsCopy = join(dir, name)
    cpSync(FIXTURE_RUNS, runsCopy, {recursive: true})
    for (const run of readdirSync(runsCopy)) {
      const path = join(runsCopy, run, 'summary.json')
      writeFileSync(path, JSON.stringify({...JSON.parse(readFileSync(path, 'utf8')), val_coverage: coverage}, null, 2))
    }
    return runsCopy
  }

  it('a partial score is labelled under the headline, in submission.json, and fails the whole-split line', async () => {
    const partial = {read_tokens: 65_536, split_tokens: 300_269, partial: true}
    const r = await buildReport({...opts, cwd: runsWithCoverage('runs-partial', partial), out: join(dir, 'sub-partial'), tar: false})
    const text = readFileSync(join(dir, 'sub-partial', 'README.md'), 'utf8')
    const label = 'partial: first 65,536 of 300,269 validation tokens — not the official metric'
    expect(text).toMatch(new RegExp(`^\\*\\*val_bpb 2\\.0317 ± 0\\.0031\\*\\* .*\n\n\\*\\*${label}\\*\\*: every val_bpb below is on that slice\\.\n`, 'm'))
    expect(text).toContain(`- **Evaluation**: ${label}, sequence length 256`)
    expect(text).toContain(`- ❌ **whole validation split** — ${label} (seed 7, seed 42, seed 1337)`)
    expect(r.submission.val_coverage).toEqual(partial)
    expect(r.submission.non_record_reason).toContain(`whole validation split: ${label}`)
    const sub = JSON.parse(readFileSync(join(dir, 'sub-partial', 'submission.json'), 'utf8'))
    expect(validateSubmission(sub)).toEqual([])
    expect(validateSubmission({...sub, val_coverage: {...partial, partial: false}})).toEqual(['val_coverage.partial false does not match read_tokens 65536 of split_tokens 300269'])

    const whole = {read_tokens: 300_269, split_tokens: 300_269, partial: false}
    const w = await buildReport({...opts, cwd: runsWithCoverage('runs-whole', whole), out: join(dir, 'sub-whole'), tar: false})
    expect(w.compliance.find((c) => c.name === 'whole validation split')).toEqual({name: 'whole validation split', status: 'pass', detail: 'all 300,269 tokens (seed 7, seed 42, seed 1337)'})
    expect(readFileSync(join(dir, 'sub-whole', 'README.md'), 'utf8')).toContain('- **Evaluation**: whole validation split: 300,269 tokens, sequence length 256')
    expect(w.submission.non_record_reason).not.toContain('whole validation split')
  })

  it('shows both record rules, each with its verdict, in the README table and submission.json', async () => {
    // the fixture seeds' val_bpb 2.029, 2.035, 2.031 against a previous record's 2.040, 2.046, 2.043
    const prev = [2.04, 2.046, 2.043]
    const r = await buildReport({...opts, out: join(dir, 'sub-welch'), tar: false, sota: 2.043, sotaSeeds: prev})
    const s = r.significance!
    const loss = [1.406097, 1.410255, 1.407483] // seeds 7, 42, 1337
    // README rule: Δ = SOTA in nats − mean loss, with the runs' own nats per bpb
    expect(s.delta_nats).toBeCloseTo(2.043 * s.nats_per_bpb - mean(loss), 12)
    // 0.0079 nats better, past the margin, but 3 seeds with this spread do not show it at p < 0.01
    expect(s.delta_nats).toBeGreaterThan(0.005)
    expect(s.p!).toBeGreaterThan(0.01)
    expect(s.record).toBe(false)
    // leaderboard practice: Welch on val_bpb against the record's seeds (scipy: t = −4.5846, dof 3.999, p = 0.00508)
    const w = welchTTest([2.029, 2.035, 2.031], prev)
    expect(s.welch).toMatchObject({sota_seeds_bpb: prev, passes: true})
    expect(s.welch!.t).toBeCloseTo(w.t, 12)
    expect(s.welch!.dof).toBeCloseTo(w.dof, 12)
    expect(s.welch!.p).toBeCloseTo(w.pLess, 14)
    const text = readFileSync(join(dir, 'sub-welch', 'README.md'), 'utf8')
    expect(text).toContain('| rule | measured | verdict |')
    expect(text).toMatch(/^\| README: Δ ≥ 0\.005 nats at p < 0\.01 \| Δ = 0\.00\d{3} nats \(SOTA 2\.043 bpb\); one-sided t = \S+, dof 2, p = \S+ \| ❌ not a record \|$/m)
    expect(text).toMatch(new RegExp(`^\\| leaderboard: one-sided Welch vs the previous record's seeds, p < 0\\.25 \\| Δ = −0\\.01133 bpb \\(3 vs 3 seeds\\); t = ${w.t.toFixed(3)}, dof ${w.dof.toFixed(2)}, p = ${w.pLess.toFixed(4)} \\| ✅ passes \\|$`, 'm'))
    const sub = JSON.parse(readFileSync(join(dir, 'sub-welch', 'submission.json'), 'utf8'))
    expect(validateSubmission(sub)).toEqual([])
    expect(sub.significance).toMatchObject({sota_bpb: 2.043, margin_nats: 0.005, alpha: 0.01, dof: 2, record: false, welch: {sota_seeds_bpb: prev, alpha: 0.25, passes: true}})
    expect(sub.significance.welch.p).toBeCloseTo(w.pLess, 14)
    // --sota defaults to the mean of the record's seeds; without seeds the Welch row says it was not run
    const bySeeds = await buildReport({...opts, out: join(dir, 'sub-seeds'), tar: false, sota: undefined, sotaSeeds: prev})
    expect(bySeeds.significance!.sota_bpb).toBeCloseTo(mean(prev), 14)
    expect(readme).toContain("| leaderboard: one-sided Welch vs the previous record's seeds, p < 0.25 | not run: no `--sota-seeds` | ❔ not tested |")
    expect(result.submission.significance).not.toHaveProperty('welch')
    await expect(buildReport({...opts, out: join(dir, 'sub-bad'), tar: false, sotaSeeds: [2.04, -1]})).rejects.toThrow('--sota-seeds: -1 is not a positive val_bpb')
  })
})
