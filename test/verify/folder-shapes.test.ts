/**
 * golf verify folder mode on generated folders in the shapes of the merged records: each passes
 * when its claims agree with its logs, a tampered claim fails naming the seed and both numbers,
 * and what cannot be checked is "not confirmed", never a failure.
 */
import {readFileSync, renameSync, rmSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterAll, describe, expect, it} from 'vitest'

import {verifyFolder} from '../../src/verify/folder.js'
import {parseLog} from '../../src/verify/logs.js'
import {checkStatus, type VerifyReport} from '../../src/verify/report.js'
import {diffusionEntry, keyedRerun, laterRecord, nonRecord, ownEstimator, script, ternaryCompact, tmp, writeFolder} from './folders.js'

const LIMIT = 16_000_000
const root = tmp()
afterAll(() => rmSync(root, {recursive: true, force: true}))

const get = (r: VerifyReport, name: string) => {
  const c = r.checks.find((x) => x.name === name)
  if (!c) throw new Error(`no check "${name}" in ${r.checks.map((x) => x.name).join(', ')}`)
  return c
}
const status = (r: VerifyReport, name: string) => checkStatus(get(r, name))
const failed = (r: VerifyReport) => r.checks.filter((c) => !c.ok).map((c) => [c.name, c.detail])
const unconfirmedNames = (r: VerifyReport) => r.checks.filter((c) => c.ok && !c.confirmed).map((c) => c.name)

describe('later records: seeds, seed_results as a list, sliding scores', () => {
  it('passes: every seed matched to its own log, the headline is the mean, statistics agree', () => {
    const r = verifyFolder(laterRecord(root), {limit: LIMIT})
    expect(failed(r)).toEqual([])
    expect(unconfirmedNames(r)).toEqual(['val_loss matches logs'])
    expect(get(r, 'val_bpb matches logs').detail).toBe('1.1039 = mean of 3 logs (1.1039)')
    expect(get(r, 'seed 1337 val_bpb matches log')).toMatchObject({seed: 1337, detail: '1.1049 = 1.1049 (train_seed1337.log:25 final_sliding)'})
    expect(get(r, 'seed 2024 artifact_bytes matches log').detail).toBe('15,898,544 (train_seed2024.log:23 Total submission size int6+lzma)')
    expect(status(r, 'seed statistics')).toBe('pass')
    expect(r.seeds!.map((s) => [s.seed, s.logs, s.val_bpb?.status, s.bytes?.status])).toEqual([
      [42, ['train_seed42.log'], 'pass', 'pass'],
      [1337, ['train_seed1337.log'], 'pass', 'pass'],
      [2024, ['train_seed2024.log'], 'pass', 'pass'],
    ])
    expect(r.bytes_total).toBe(15_898_544) // artifact_bytes_max: no bytes_total in this era
  })

  it('a tampered seed score fails naming the seed and both numbers', () => {
    const r = verifyFolder(
      laterRecord(root, 'later-bpb', (d) => {
        ;(d.seed_results as Array<Record<string, unknown>>)[1].val_bpb = 1.0949
      }),
      {limit: LIMIT},
    )
    expect(failed(r)).toContainEqual(['seed 1337 val_bpb matches log', 'seed 1337 (seed_results[1]) says 1.0949, the logs report 1.1283 (train_seed1337.log:24 final_int6_lzma_roundtrip), 1.1049 (train_seed1337.log:25 final_sliding)'])
    expect(r.seeds![1].val_bpb).toEqual({claimed: 1.0949, status: 'fail', logged: 1.1049, where: 'train_seed1337.log:25 final_sliding'})
    expect(r.ok).toBe(false)
  })

  it('a tampered seed size fails naming the seed and both numbers (and the max no longer agrees)', () => {
    const r = verifyFolder(
      laterRecord(root, 'later-bytes', (d) => {
        ;(d.seed_results as Array<Record<string, unknown>>)[0].artifact_bytes = 15_795_348
      }),
      {limit: LIMIT},
    )
    expect(failed(r).map(([n]) => n)).toEqual(['seed 42 artifact_bytes matches log', 'seed statistics'])
    expect(get(r, 'seed 42 artifact_bytes matches log').detail).toBe('seed 42 (seed_results[0]) artifact_bytes says 15,795,348, the logs report 15,895,348 (train_seed42.log:23 Total submission size int6+lzma)')
  })

  it('the pre-quantization score claimed as the score fails and says which line it is', () => {
    const r = verifyFolder(
      laterRecord(root, 'later-prequant', (d) => {
        ;(d.seed_results as Array<Record<string, unknown>>)[0].val_bpb = 1.1195
      }),
      {limit: LIMIT},
    )
    expect(get(r, 'seed 42 val_bpb matches log')).toMatchObject({ok: false, detail: expect.stringMatching(/^seed 42 \(seed_results\[0\]\) says 1\.1195, which is train_seed42\.log:19 step:7012\/20000, the score before quantization; the logs' final scores are /)})
  })

  it('metadata found by its fields in a JSON not called submission*.json; submission_type record_support is read', () => {
    const dir = laterRecord(root, 'later-renamed', (d) => {
      d.submission_type = 'record_support'
    })
    renameSync(join(dir, 'submission.json'), join(dir, 'entry.json'))
    writeFileSync(join(dir, 'config.json'), JSON.stringify({model_dim: 512, vocab_size: 1024}))
    const r = verifyFolder(dir, {limit: LIMIT})
    expect(get(r, 'submission.json').detail).toBe('entry.json (found by its fields): known fields typed; track 10min_16mb, submission_type record_support')
    expect(failed(r)).toEqual([])
    expect(r.files!.metadata).toBe('entry.json')
  })
})

describe('seed_results keyed by seed, a compliance rerun, logs/ subfolder, TTT, code counted compressed', () => {
  it('passes: the reruns are matched to the rerun log; bytes_code is the xz of the script; helpers and tokenizer are named outside', () => {
    const r = verifyFolder(keyedRerun(root), {limit: LIMIT})
    expect(failed(r)).toEqual([])
    expect(get(r, 'rerun seed 42 val_bpb matches log').detail).toBe('1.1145 = 1.1145 (logs/rerun_seed_42.txt:9 quantized_ttt_phased)')
    expect(get(r, 'seed 42 val_bpb matches log').detail).toBe('1.1141 = 1.1141 (logs/train_seed_42.txt:9 quantized_ttt_phased)')
    expect(get(r, 'bytes_code matches code').detail).toMatch(
      /^submission\.json bytes_code [\d,]+ = train_gpt_fast\.py xz \(compressed\); outside the counted total: kernels\.c \(helper, 82 bytes\), run\.sh \(helper, 56 bytes\), tokenizer\/fineweb_1024_bpe\.model \(tokenizer, 2,048 bytes\)$/,
    )
    expect(r.code!.counted_as).toMatchObject({form: 'xz', files: ['train_gpt_fast.py']})
    expect(r.code!.files.map((f) => [f.file, f.role, f.counted])).toEqual([
      ['kernels.c', 'helper', false],
      ['run.sh', 'helper', false],
      ['train_gpt_fast.py', 'main', true],
      ['tokenizer/fineweb_1024_bpe.model', 'tokenizer', false],
    ])
    expect(r.code!.files[2].compressed).toMatchObject({zlib: expect.any(Number), brotli: expect.any(Number), lzma: expect.any(Number), xz: r.code!.counted_as!.bytes})
    expect(r.seeds!.map((s) => [s.seed, s.claimed_in, s.logs])).toEqual([
      [42, 'seed_results', ['logs/train_seed_42.txt']],
      [314, 'seed_results', ['logs/train_seed_314.txt']],
      [42, 'compliance_rerun', ['logs/rerun_seed_42.txt']],
    ])
  })

  it("a tampered rerun score fails naming the rerun seed; the first run's claim still passes", () => {
    const r = verifyFolder(
      keyedRerun(root, 'keyed-rerun', (d) => {
        ;((d.compliance_rerun as Record<string, Record<string, Record<string, unknown>>>).seed_results['42']).val_bpb = 1.1045
      }),
      {limit: LIMIT},
    )
    expect(failed(r)).toEqual([['rerun seed 42 val_bpb matches log', 'rerun seed 42 (compliance_rerun.seed_results.42) says 1.1045, the logs report 1.1265 (logs/rerun_seed_42.txt:8 final_int6_roundtrip), 1.1145 (logs/rerun_seed_42.txt:9 quantized_ttt_phased)']])
  })

  it('bytes_code that is neither the raw nor any compressed reading, and no log backs it: not confirmed, never passed', () => {
    const dir = keyedRerun(root, 'keyed-code', (d) => {
      d.bytes_code = 30_000
    })
    const r = verifyFolder(dir, {limit: LIMIT})
    expect(status(r, 'bytes_code matches code')).toBe('not confirmed')
    expect(get(r, 'bytes_code matches logs')).toMatchObject({ok: false}) // the logs say otherwise: that is the contradiction
  })
})

describe('the ternary record of issue #12: submission_ternary.json and the compact artifact line', () => {
  it('passes: the claimed 15,993,853 bytes agree with artifact:15.92MB + code:70853 at the printed precision; seed 42 from the log', () => {
    const r = verifyFolder(ternaryCompact(root), {limit: LIMIT})
    expect(failed(r)).toEqual([])
    expect(get(r, 'submission.json').detail).toBe('submission_ternary.json: known fields typed')
    expect(get(r, 'bytes_total matches logs').detail).toBe('15,993,853 agrees with 15,990,853 ± 5,000 (train_v3.txt:4 artifact:15.92MB + code:70853) at the precision printed')
    expect(get(r, 'bytes_code matches code').detail).toBe('train_v3.txt:4 code:70853 70,853 = train_gpt.py raw')
    expect(get(r, 'train log').detail).toBe('train_v3.txt (seed 42)')
    expect(get(r, 'size ≤ limit').detail).toBe('15,993,853 ≤ 16,000,000 bytes (6,147 to spare); 2 sizes claimed or printed, all within')
  })

  it('a total outside the rounding fails with both numbers', () => {
    const r = verifyFolder(ternaryCompact(root, 'ternary-tampered', 15_980_000), {limit: LIMIT})
    expect(failed(r)).toEqual([['bytes_total matches logs', 'submission_ternary.json says 15,980,000, the logs report 15,990,853 ± 5,000 (train_v3.txt:4 artifact:15.92MB + code:70853)']])
  })

  it('a total that fits only if the log’s MB means MiB is not confirmed, and over the cap it fails', () => {
    const r = verifyFolder(ternaryCompact(root, 'ternary-mib', 16_764_183), {limit: LIMIT})
    expect(get(r, 'bytes_total matches logs')).toMatchObject({ok: true, confirmed: false, detail: 'not confirmed: 16,764,183 agrees with train_v3.txt:4 artifact:15.92MB + code:70853 only if its MB means MiB (2^20 bytes)'})
    expect(get(r, 'size ≤ limit')).toMatchObject({ok: false, detail: 'bytes_total 16,764,183 is over the 16,000,000-byte limit by 764,183 bytes'})
  })

  it('committed code that is not the code the log measured: not confirmed, with both sizes', () => {
    const dir = ternaryCompact(root, 'ternary-code')
    writeFileSync(join(dir, 'train_gpt.py'), script(70_900))
    const r = verifyFolder(dir, {limit: LIMIT})
    expect(get(r, 'bytes_code matches code')).toMatchObject({ok: true, confirmed: false})
    expect(get(r, 'bytes_code matches code').detail).toMatch(/^not confirmed: the committed code is not the code whose size the log states \(train_v3\.txt:4 code:70853: 70,853\); committed: train_gpt\.py 70,900 raw/)
  })
})

describe('diffusion entries: bounds against bound lines only', () => {
  it('passes, labelled as an upper bound', () => {
    const r = verifyFolder(diffusionEntry(root), {limit: LIMIT})
    expect(failed(r)).toEqual([])
    expect(r.bound).toBe(true)
    expect(get(r, 'val_bpb matches logs').detail).toBe('≤ 1.4321 = 1.43210000 (train_seed7.log:6 final_roundtrip_elbo, an upper bound)')
  })

  it('a tampered bound fails with both numbers', () => {
    const r = verifyFolder(diffusionEntry(root, 'diffusion-tampered', (d) => ((d.val_bpb = 1.3321), (d.val_var_bpb = 1.3321))), {limit: LIMIT})
    expect(failed(r)).toEqual([['val_bpb matches logs', 'submission.json says ≤ 1.3321, the logs report 1.43210000 (train_seed7.log:6 final_roundtrip_elbo)']])
  })

  it('the same number without bound: "upper" / val_var_bpb is a bound passed off as a likelihood: fails', () => {
    const r = verifyFolder(
      diffusionEntry(root, 'diffusion-unlabelled', (d) => {
        delete d.bound
        delete d.val_var_bpb
      }),
      {limit: LIMIT},
    )
    expect(get(r, 'val_bpb matches logs')).toMatchObject({
      ok: false,
      detail: 'submission.json gives val_bpb 1.4321 as a likelihood (no bound: "upper", no val_var_bpb), but train_seed7.log:6 final_roundtrip_elbo prints it as an upper bound (a diffusion model\'s negative ELBO)',
    })
  })

  it('a claim on its own estimator and slice is not confirmed; the alternative the log reports is checked', () => {
    const r = verifyFolder(ownEstimator(root), {limit: LIMIT})
    expect(failed(r)).toEqual([])
    expect(get(r, 'val_bpb matches logs').detail).toMatch(/^not confirmed: submission\.json gives ≤ 1\.2012 on its own estimator chain rule, 1 token per step, slice first 1,000,000 validation tokens; the logs report /)
    expect(status(r, 'val_bpb_alt matches logs')).toBe('pass')
    expect(status(r, 'val_var_bpb matches logs')).toBe('pass')
  })
})

describe('other shapes', () => {
  it('a non-record entry with train_log_<seed>.txt logs: seeds from the claimed seeds in the names; notes are not logs', () => {
    const r = verifyFolder(nonRecord(root), {limit: LIMIT})
    expect(failed(r)).toEqual([])
    expect(get(r, 'train log').detail).toBe('train_log_7.txt (seed 7), train_log_8.txt (seed 8)')
    expect(get(r, 'seed 8 val_bpb matches log').detail).toBe('1.42 = 1.42 (train_log_8.txt:6 final_int8_zlib_roundtrip)')
  })

  it('an unknown log shape and unreadable seed results: not confirmed, not failed', () => {
    const dir = writeFolder(root, 'unknown', {
      'README.md': '# x\n',
      'submission.json': {name: 'x', date: '2026-04-01', val_bpb: 1.3, val_loss: 2.1, bytes_total: 15_000_000, bytes_code: 4000, seed_results: 'see README'},
      'train_gpt.py': script(4000),
      'train.log': 'epoch 1 | loss 3.2 | bpb 1.9\nepoch 3 | loss 2.1 | bpb 1.3\nsaved model (15.0 MB)\n',
    })
    const r = verifyFolder(dir, {limit: LIMIT})
    expect(failed(r)).toEqual([])
    expect(unconfirmedNames(r)).toEqual(['seed_results', 'bytes_total matches logs', 'bytes_code matches logs', 'val_bpb matches logs', 'val_loss matches logs'])
    expect(get(r, 'seed_results').detail).toBe('not confirmed: seed_results is "see README": neither a list nor an object keyed by seed')
    expect(get(r, 'val_bpb matches logs').detail).toBe('not confirmed: no val_bpb line in the logs')
  })

  it('no metadata at all, or no README: a required file is missing (fail)', () => {
    const bare = writeFolder(root, 'bare', {'train.log': 'step:1/1 val_loss:2 val_bpb:1.5\n', 'train_gpt.py': 'print(1)\n'})
    const r = verifyFolder(bare, {limit: LIMIT})
    expect(failed(r)).toEqual([
      ['README.md', 'missing in bare'],
      ['submission.json', 'missing: no submission.json, submission_<name>.json or other JSON with submission fields'],
    ])
    expect(status(r, 'size ≤ limit')).toBe('not confirmed')
  })

  it('a broken submission_<name>.json is named', () => {
    const dir = writeFolder(root, 'broken-json', {'README.md': '#\n', 'submission_v2.json': '{"val_bpb": 1.2,', 'train.log': 'step:1/1 val_loss:2 val_bpb:1.5\n', 'train_gpt.py': 'print(1)\n'})
    expect(get(verifyFolder(dir, {limit: LIMIT}), 'submission.json').detail).toMatch(/^submission_v2\.json: not valid JSON \(/)
  })
})

describe('the known leakage fingerprint: train_shards: 1499 with a CaseOps tokenizer', () => {
  const CASEOPS_MODEL = 'fineweb_8192_bpe_lossless_caps_caseops_v1_reserved.model'
  /** A later record whose seed-42 log opens with `lines`, plus extra files. */
  const entry = (name: string, lines: string[], extra: Record<string, string> = {}) => {
    const dir = laterRecord(root, name)
    const log = join(dir, 'train_seed42.log')
    writeFileSync(log, [...lines, readFileSync(log, 'utf8')].join('\n'))
    for (const [f, text] of Object.entries(extra)) writeFileSync(join(dir, f), text)
    return dir
  }

  it('parses the shard count and the CaseOps mention, never from the copied script source', () => {
    const log = parseLog(['    log0(f"train_shards: {len(files)}")', 'train_shards: 1499', `tokenizer_path: ./data/tokenizers/${CASEOPS_MODEL}`].join('\n'))
    expect(log.train_shards).toEqual([{line: 2, value: 1499}])
    expect(log.caseops_line).toBe(3)
  })

  it('fails naming the log lines and the source, and says how to measure it', () => {
    const r = verifyFolder(entry('caseops-leak', ['train_shards: 1499', `tokenizer_path: ./data/tokenizers/${CASEOPS_MODEL}`]), {limit: LIMIT})
    expect(failed(r)).toEqual([
      [
        'no validation data in training',
        "train_seed42.log:1 says train_shards: 1499 with a CaseOps tokenizer (train_seed42.log:2): the training-shard count of prepare_caseops_data.py's default --val-docs 10000, whose training shards hold 40,000 of the 50,000 validation documents (openai/parameter-golf#2127; the leaderboard excluded entries on it, #2146). If the data was made otherwise, measure it: golf data audit --data <dataset> counts the validation documents in the training shards",
      ],
    ])
  })

  it('a CaseOps tokenizer file in the folder counts as the CaseOps mention', () => {
    const r = verifyFolder(entry('caseops-file', ['val_tokens: 47851520 train_shards: 1499'], {[CASEOPS_MODEL]: 'not a real model'}), {limit: LIMIT})
    expect(get(r, 'no validation data in training')).toMatchObject({ok: false, confirmed: true})
    expect(get(r, 'no validation data in training').detail).toMatch(/^train_seed42\.log:1 says train_shards: 1499 with a CaseOps tokenizer \(fineweb_8192_bpe_lossless_caps_caseops_v1_reserved\.model\)/)
  })

  it('no check without the whole fingerprint: 1499 shards without CaseOps, or CaseOps with the canonical 80', () => {
    for (const [name, lines] of [
      ['shards-only', ['train_shards: 1499']],
      ['caseops-80', ['train_shards: 80', `tokenizer_path: ./data/tokenizers/${CASEOPS_MODEL}`]],
    ] as const) {
      const r = verifyFolder(entry(name, [...lines]), {limit: LIMIT})
      expect(r.checks.map((c) => c.name), name).not.toContain('no validation data in training')
      expect(failed(r), name).toEqual([])
    }
  })
})
