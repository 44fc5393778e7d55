/**
 * Submission folders in the shapes the merged records really have, generated into a temporary
 * folder (no big committed files). The text is ours; the layout, file names, JSON fields and
 * log lines follow the records. Sizes and scores are written consistently (the claims agree
 * with the logs and the files), so a test can tamper with one number and expect that one
 * contradiction.
 */
import {mkdirSync, mkdtempSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {dirname, join} from 'node:path'

import {compress} from '../../src/pack/compress.js'

export function tmp(prefix = 'golf-verify-'): string {
  return mkdtempSync(join(tmpdir(), prefix))
}

/** Write `files` (path → text or bytes) under a new folder `root/name`. */
export function writeFolder(root: string, name: string, files: Record<string, string | Uint8Array | object>): string {
  const dir = join(root, name)
  mkdirSync(dir, {recursive: true})
  for (const [f, v] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, f)), {recursive: true})
    writeFileSync(join(dir, f), typeof v === 'string' || v instanceof Uint8Array ? v : JSON.stringify(v, null, 2) + '\n')
  }
  return dir
}

/** A stand-in train script of exactly `bytes` bytes (never run, only measured). */
export function script(bytes: number, seedText = 'gpt'): string {
  let s = `"""Stand-in for a train_${seedText}.py: never run, only measured."""\nimport os\nimport math\n\n`
  let i = 0
  while (s.length < bytes - 120) s += `def block_${i}(x):\n    return math.tanh(x * ${(i++ % 97) + 1}) + os.cpu_count() % ${(i % 13) + 2}\n\n`
  s += '#'.repeat(bytes - s.length - 1) + '\n'
  if (Buffer.byteLength(s) !== bytes) throw new Error('script size')
  return s
}

const README = '# Fixture entry\n\nA generated submission folder for golf verify tests.\n'

/** The lines the official train_gpt.py prints before its scores (and its own source, copied to the top). */
function officialHead(seed: number, code: string): string[] {
  return [
    'logs/run.txt',
    'val_bpb:enabled tokenizer_kind=sentencepiece tokenizer_path=./data/tokenizers/fineweb_1024_bpe.model',
    `seed:${seed}`,
    ...code.split('\n').slice(0, 12),
    '    log0(f"final_int6_lzma_roundtrip val_loss:{q_val_loss:.4f} val_bpb:{q_val_bpb:.4f}")',
    'step:0/20000 val_loss:6.9370 val_bpb:4.1078 train_time:0ms step_avg:0.01ms',
    'step:1/20000 train_loss:6.9408 train_time:24ms step_avg:23.99ms',
  ]
}

export interface SeedRun {
  seed: number
  model: number
  /** Post-quantization roundtrip score and the sliding-window one. */
  loss: number
  bpb: number
  slidingBpb: number
  steps: number
}

export const LATER_SEEDS: SeedRun[] = [
  {seed: 42, model: 15_874_114, loss: 1.9031, bpb: 1.1271, slidingBpb: 1.1037, steps: 7012},
  {seed: 1337, model: 15_869_902, loss: 1.9052, bpb: 1.1283, slidingBpb: 1.1049, steps: 7008},
  {seed: 2024, model: 15_877_310, loss: 1.9019, bpb: 1.1264, slidingBpb: 1.1030, steps: 7015},
]

function laterLog(r: SeedRun, code: string, codeBytes: number): string {
  return [
    ...officialHead(r.seed, code),
    `step:${r.steps}/20000 val_loss:1.8902 val_bpb:1.1195 train_time:600012ms step_avg:85.57ms`,
    'stopping_early: wallclock_cap train_time:600012ms step:7012/20000',
    `Serialized model int6+lzma: ${r.model} bytes`,
    `Code size: ${codeBytes} bytes`,
    `Total submission size int6+lzma: ${r.model + codeBytes} bytes`,
    `final_int6_lzma_roundtrip val_loss:${r.loss.toFixed(4)} val_bpb:${r.bpb.toFixed(4)} eval_time:2011ms`,
    `final_sliding val_loss:${(r.loss - 0.04).toFixed(4)} val_bpb:${r.slidingBpb.toFixed(4)} (stride=16, T=0.90) eval_time:81234ms`,
    '',
  ].join('\n')
}

/**
 * A later-era record: seeds, seed_results as a list (scores are the sliding ones), artifact
 * bytes mean/max, std, hardware, a compliance block; logs `train_seed<N>.log`.
 */
export function laterRecord(root: string, name = 'later', edit?: (doc: Record<string, unknown>) => void): string {
  const code = script(21_234)
  const codeBytes = 21_234
  const vals = LATER_SEEDS.map((r) => r.slidingBpb)
  const mean = vals.reduce((a, b) => a + b, 0) / vals.length
  const std = Math.sqrt(vals.reduce((a, v) => a + (v - mean) ** 2, 0) / (vals.length - 1))
  const totals = LATER_SEEDS.map((r) => r.model + codeBytes)
  const doc: Record<string, unknown> = {
    author: 'Fixture Author',
    github_id: 'fixture',
    name: 'Int6 + sliding window, three seeds',
    blurb: 'int6 QAT, LZMA, sliding-window eval at stride 16',
    date: '2026-04-02',
    track: '10min_16mb',
    val_bpb: Number(mean.toFixed(4)),
    val_bpb_std: Number(std.toFixed(4)),
    seeds: LATER_SEEDS.map((r) => r.seed),
    seed_results: LATER_SEEDS.map((r, i) => ({seed: r.seed, val_bpb: r.slidingBpb, artifact_bytes: totals[i], steps: r.steps, step_avg_ms: 85.57, train_time_s: 600.0, eval_time_s: 83.2})),
    artifact_bytes_mean: Math.round(totals.reduce((a, b) => a + b, 0) / totals.length),
    artifact_bytes_max: Math.max(...totals),
    hardware: '8×H100 SXM',
    pytorch_version: '2.7.1',
    technique_summary: 'int6 QAT + LZMA, sliding eval',
    compliance: {train_under_600s: true, eval_under_600s: true, artifact_under_16mb: true, three_seeds: true},
  }
  edit?.(doc)
  return writeFolder(root, name, {
    'README.md': README,
    'submission.json': doc,
    'train_gpt.py': code,
    ...Object.fromEntries(LATER_SEEDS.map((r) => [`train_seed${r.seed}.log`, laterLog(r, code, codeBytes)])),
  })
}

/**
 * seed_results keyed by seed, a compliance_rerun block with its own results, logs under `logs/`
 * (`train_seed_<N>.txt`, a rerun), `quantized_ttt_phased` scores, the code counted compressed
 * (`Code size (compressed)`, the xz of the script), a helper module, a shell script and a tokenizer.
 */
export function keyedRerun(root: string, name = 'keyed', edit?: (doc: Record<string, unknown>) => void): string {
  const code = script(18_800, 'gpt_fast')
  const xz = compress('xz', Buffer.from(code)).length
  const runs = [
    {seed: 42, model: 15_901_777, loss: 1.8811, bpb: 1.1141, steps: 6900},
    {seed: 314, model: 15_899_001, loss: 1.8825, bpb: 1.1151, steps: 6893},
  ]
  const rerun = {seed: 42, model: 15_901_777, loss: 1.8817, bpb: 1.1145, steps: 6897}
  const log = (r: typeof rerun) =>
    [
      `run_id:keyed seed:${r.seed} world_size:8`,
      'step:0/20000 val_loss:6.9370 val_bpb:4.1078 train_time:0ms step_avg:0.01ms',
      `step:${r.steps}/20000 val_loss:1.9001 val_bpb:1.1254 train_time:599870ms step_avg:86.94ms`,
      `Serialized model int6+lzma: ${r.model} bytes`,
      `Code size (uncompressed): ${code.length} bytes`,
      `Code size (compressed): ${xz} bytes`,
      `Total submission size int6+lzma: ${r.model + xz} bytes`,
      `final_int6_roundtrip val_loss:${(r.loss + 0.02).toFixed(4)} val_bpb:${(r.bpb + 0.012).toFixed(4)} eval_time:2140ms`,
      `quantized_ttt_phased val_loss:${r.loss.toFixed(4)} val_bpb:${r.bpb.toFixed(4)} eval_time:412345ms`,
      '',
    ].join('\n')
  const doc: Record<string, unknown> = {
    author: 'Fixture Author',
    name: 'TTT phased, keyed seed results',
    date: '2026-04-20T08:00:00Z',
    track: 'record',
    val_bpb: Number(((runs[0].bpb + runs[1].bpb) / 2).toFixed(4)),
    val_loss: Number(((runs[0].loss + runs[1].loss) / 2).toFixed(4)),
    bytes_code: xz,
    seed_results: Object.fromEntries(runs.map((r) => [String(r.seed), {val_bpb: r.bpb, val_loss: r.loss, artifact_bytes: r.model + xz, steps: r.steps}])),
    compliance_rerun: {hardware: '8×H100 SXM (rerun)', seed_results: {[String(rerun.seed)]: {val_bpb: rerun.bpb, artifact_bytes: rerun.model + xz}}},
  }
  edit?.(doc)
  return writeFolder(root, name, {
    'README.md': README,
    'submission.json': doc,
    'train_gpt_fast.py': code,
    'kernels.c': '/* helper kernel, compiled at run time */\nint add(int a, int b) { return a + b; }\n',
    'run.sh': '#!/bin/sh\ntorchrun --nproc_per_node=8 train_gpt_fast.py\n',
    'tokenizer/fineweb_1024_bpe.model': new Uint8Array(2048).fill(7),
    ...Object.fromEntries(runs.map((r) => [`logs/train_seed_${r.seed}.txt`, log(r)])),
    'logs/rerun_seed_42.txt': log(rerun),
  })
}

/**
 * The ternary record of issue #12: `submission_ternary.json`, a `train_v<N>.txt` log stating its
 * seed, and the compact size line `artifact:15.92MB ternary:P(BB) fp:P(BB) code:N`.
 */
export function ternaryCompact(root: string, name = 'ternary', total = 15_993_853): string {
  const codeBytes = 70_853
  return writeFolder(root, name, {
    'README.md': README,
    'submission_ternary.json': {author: 'Fixture Author', github_id: 'fixture', name: 'Ternary 64M', blurb: 'base-3 packing', date: '2026-03-30', val_bpb: 1.1539, val_loss: 1.9484, bytes_total: total, seeds: [42]},
    'train_gpt.py': script(codeBytes),
    'train_v3.txt': [
      'seed:42',
      'step:0/9000 val_loss:6.9311 val_bpb:4.1050 train_time:0ms step_avg:0.01ms',
      'step:9000/9000 val_loss:1.9401 val_bpb:1.1490 train_time:598000ms step_avg:66.44ms',
      'artifact:15.92MB ternary:64880640(14239486B) fp:2513744(2537376B) code:70853',
      'final_ternary_roundtrip val_loss:1.9484 val_bpb:1.1539 eval_time:3011ms',
      '',
    ].join('\n'),
  })
}

/**
 * A diffusion entry as golf's counted code logs it: `final_roundtrip_elbo … bound:upper`, the
 * step line a bound too; the claim `bound: "upper"` with `val_var_bpb`.
 */
export function diffusionEntry(root: string, name = 'diffusion', edit?: (doc: Record<string, unknown>) => void): string {
  const code = script(9_000, 'golf')
  const doc: Record<string, unknown> = {
    author: 'Fixture Author',
    github_id: 'fixture',
    name: 'MDLM ternary',
    blurb: 'masked diffusion; the score is the negative ELBO, an upper bound',
    date: '2026-05-01',
    track: 'non-record',
    val_loss: 2.4103,
    val_bpb: 1.4321,
    val_var_bpb: 1.4321,
    bound: 'upper',
    elbo_steps: 128,
    objective: 'mdlm',
    bytes_model: 15_200_000,
    bytes_code: 9_000,
    bytes_total: 15_209_000,
    seeds: [7],
    non_record_reason: 'a bound, not a likelihood',
  }
  edit?.(doc)
  return writeFolder(root, name, {
    'README.md': README,
    'submission.json': doc,
    'train_golf.mjs': code,
    'train_seed7.log': [
      'golf train recipe:mdlm-tiny seed:7 backend:wasm params:1000 ternary:900 objective:mdlm data:datasets/x',
      'step:40/40 val_loss:2.4103 val_bpb:1.4321 train_time:96000ms step_avg:2400.00ms',
      'Serialized model golf-artifact: 15200000 bytes',
      'Code size: 9000 bytes',
      'Total submission size golf-artifact: 15209000 bytes',
      'final_roundtrip_elbo val_loss:2.41030000 val_bpb:1.43210000 bound:upper steps:128 val_bpb_se:0.00210000',
      '',
    ].join('\n'),
  })
}

/** A claim on its own estimator and slice (`val_bpb_estimator`, `val_bpb_slice`, `val_bpb_alt`), the log on another. */
export function ownEstimator(root: string, name = 'estimator'): string {
  return writeFolder(root, name, {
    'README.md': README,
    'submission.json': {
      author: 'Fixture Author',
      name: 'Diffusion, chain-rule estimate',
      date: '2026-05-03',
      val_bpb: 1.2012,
      val_bpb_estimator: 'chain rule, 1 token per step',
      val_bpb_slice: 'first 1,000,000 validation tokens',
      val_bpb_alt: 1.3377,
      val_var_bpb: 1.3377,
      bound: 'upper',
      bytes_total: 14_000_000,
    },
    'train_gpt.py': script(5_000),
    'train.log': ['objective:mdlm', 'step:100/100 val_loss:2.2608 val_bpb:1.3377 train_time:1000ms step_avg:10.00ms', 'Total submission size: 14000000 bytes', 'final_elbo bound:upper steps:128 samples:1 seed:0 val_loss:2.2608 val_bpb:1.3377 val_bpb_se:0.0011', ''].join('\n'),
  })
}

/** A non-record entry: `non_record_reason`, logs `train_log_<seed>.txt` and `log_<what>.txt`, code `train_<name>.py`. */
export function nonRecord(root: string, name = 'nonrecord'): string {
  const code = script(12_345, 'tiny')
  const log = (seed: number, bpb: string) =>
    [`config: layers=4 dim=256`, `step:500/500 val_loss:2.9 val_bpb:${bpb} train_time:5000ms step_avg:10.00ms`, `Serialized model int8+zlib: 3000000 bytes`, `Code size: 12345 bytes`, `Total submission size int8+zlib: 3012345 bytes`, `final_int8_zlib_roundtrip val_loss:2.91 val_bpb:${bpb} eval_time:900ms`, ''].join('\n')
  return writeFolder(root, name, {
    'README.md': README,
    'submission.json': {author: 'Fixture Author', name: 'Tiny on one GPU', date: '2026-04-11', track: 'non-record', non_record_reason: 'trained on 1×A100', val_bpb: 1.41, bytes_total: 3_012_345, bytes_code: 12_345, seeds: [7, 8], seed_results: [{seed: 7, val_bpb: 1.4}, {seed: 8, val_bpb: 1.42}]},
    'train_tiny.py': code,
    'train_log_7.txt': log(7, '1.40'),
    'train_log_8.txt': log(8, '1.42'),
    'log_notes.txt': 'sweep notes: lr 0.02 was best\n',
  })
}
