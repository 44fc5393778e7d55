import {Flags} from '@oclif/core'

import {GolfCommand} from '../src/cli/base-command.js'
import {formatBytes, paint, progressReporter} from '../src/cli/output.js'
import {InputError} from '../src/errors.js'
import {deltaSide} from '../src/report/readme.js'
import {buildReport, type ReportResult} from '../src/report/report.js'
import {parseByteLimit} from '../src/verify/limit.js'
import {printable, showPath} from '../src/io/read.js'

export default class Report extends GolfCommand {
  static override summary = 'Render a submission folder (README, submission.json, plot, logs, artifact, code) from runs.'
  static override description = `Reads the run folders (--runs: folders or globs), splits them into the seeds of the submitted config (runs without --baseline) and ablations (runs trained with --baseline <run>; the change is computed from the configs), and writes --out:
  README.md        headline, per-seed table with Mean/Std, architecture from the recipe, negative results judged against seed noise, compliance checklist, significance, reproduce commands
  submission.json  the official fields, validated against a schema
  val_bpb.svg      val_bpb and train loss against step
  train_seed<N>.log, model.golf (packed from the first seed, or --artifact), train_golf.mjs + train_golf.br (the counted code: a loader and golf's brotli-compressed bundle; --code <file>: that file, under its own name; --code torch: train_gpt.py, golf export torch's file for the runs' recipe, self-extracting as the records ship theirs (LZMA + base85), counted as the wrapper's bytes, and the README's reproduce lines are its python3 train_gpt.py train/eval)
A diffusion run's val_bpb is its negative ELBO, an upper bound: it is marked ≤ everywhere, submission.json adds val_var_bpb, bound, elbo_steps and objective, and AR and diffusion runs are never seeds of one entry (a diffusion ablation of an AR baseline gets no verdict: a bound against a likelihood is not like for like).
The compliance checklist measures: the time limits are judged only for runs timed on 8×H100 SXM (elsewhere they are not confirmed), and "no validation data in training" runs golf data audit on the dataset the runs were trained on (config.json data; --no-data-audit skips it).
The README's val_bpb is labelled partial when the runs scored only the first eval.val_tokens of the validation split (the official metric scores all of it), and the checklist's "whole validation split" line fails then.
sizes.log holds the official size lines (Serialized model …, Code size …, Total submission size …) measured from the files shipped, so golf verify confirms bytes_total and bytes_code against a log.
With --sota <bpb>, both record rules: the README's (Δ ≥ 0.005 nats at p < 0.01, a one-sided t-test of the seeds' val_loss against SOTA − 0.005 nats) and, with --sota-seeds <bpb,bpb,…> (the previous record's per-seed val_bpb; --sota defaults to their mean), the leaderboard's practice: a one-sided Welch t-test against those seeds, kept at p < 0.25. An existing non-empty --out is replaced only with --force.`

  static override examples = [
    '<%= config.bin %> <%= command.id %> --runs "runs/tiny-cpu-*" --out submissions/tiny-cpu',
    '<%= config.bin %> <%= command.id %> --runs runs/a runs/b runs/c --out submissions/mine --author "Ada L." --github-id ada --sota 1.2244 --tar',
    '<%= config.bin %> <%= command.id %> --runs "runs/mine-s*" --out submissions/mine --sota 1.0611 --sota-seeds 1.05989,1.06125,1.06209',
    '<%= config.bin %> <%= command.id %> --runs "runs/*" --out submissions/mine --artifact model.golf --json',
    '<%= config.bin %> <%= command.id %> --runs "runs/mine-s*" --out submissions/mine --code torch',
  ]

  static override flags = {
    runs: Flags.string({description: 'Run folders or globs (repeatable; quote globs).', multiple: true, required: true}),
    out: Flags.string({char: 'o', description: 'Submission folder to write, e.g. submissions/<name>.', required: true}),
    author: Flags.string({description: 'Author name for submission.json.'}),
    'github-id': Flags.string({description: 'GitHub user id for submission.json.'}),
    name: Flags.string({description: 'Submission name (default: the folder name).'}),
    blurb: Flags.string({description: 'One-paragraph description (default: generated from the runs).'}),
    track: Flags.string({description: 'Leaderboard track.', options: ['record', 'non-record'], default: 'non-record'}),
    sota: Flags.string({description: 'Current best val_bpb: test the README record rule (≥ 0.005 nats better at p < 0.01).'}),
    'sota-seeds': Flags.string({description: "The previous record's per-seed val_bpb, comma-separated: adds the leaderboard's one-sided Welch test (p < 0.25)."}),
    limit: Flags.string({description: 'Size cap (decimal MB as the rules say).', default: '16MB'}),
    artifact: Flags.string({description: 'Ship this artifact instead of packing the first seed\'s run.'}),
    code: Flags.string({description: 'Ship this file as the counted code instead of bundling golf\'s for the recipe; "torch": golf export torch\'s train_gpt.py of the runs\' recipe, self-extracting (a file named torch: ./torch).'}),
    date: Flags.string({description: 'Submission date, ISO 8601 (default: now); also the tarball mtime.'}),
    'noise-floor': Flags.string({description: 'bpb an ablation must move to count when there is a single main seed.', default: '0.005'}),
    roundtrip: Flags.boolean({description: 'Measure the shipped artifact\'s roundtrip val_bpb (needs the run\'s checkpoint).', default: true, allowNo: true}),
    'data-audit': Flags.boolean({description: 'Count the validation documents in the runs\' training shards (golf data audit) for the compliance line.', default: true, allowNo: true}),
    tar: Flags.boolean({description: 'Also write <out>.tar.gz (sorted entries, fixed mtimes, no links).'}),
    force: Flags.boolean({description: 'Replace an existing --out folder / tarball.'}),
  }

  async run(): Promise<ReportResult> {
    const {flags} = await this.parse(Report)
    const number = (flag: string, v: string | undefined): number | undefined => {
      if (v === undefined) return undefined
      const x = Number(v)
      if (v.trim() === '' || !Number.isFinite(x) || x <= 0) throw new InputError(`--${flag} ${v}: expected a positive number`)
      return x
    }
    const progress = progressReporter({quiet: this.jsonEnabled(), everyMs: 0})
    let result: ReportResult
    try {
      result = await buildReport({
        runs: flags.runs,
        out: flags.out,
        author: flags.author,
        githubId: flags['github-id'],
        name: flags.name,
        blurb: flags.blurb,
        track: flags.track as 'record' | 'non-record',
        sota: number('sota', flags.sota),
        sotaSeeds: flags['sota-seeds'] === undefined ? undefined : flags['sota-seeds'].split(',').map((x) => number('sota-seeds', x.trim())!),
        limit: parseByteLimit(flags.limit),
        artifact: flags.artifact,
        code: flags.code,
        date: flags.date,
        noiseFloor: number('noise-floor', flags['noise-floor']),
        roundtrip: flags.roundtrip,
        dataAudit: flags['data-audit'],
        tar: flags.tar,
        force: flags.force,
        onProgress: (line) => progress.log(line),
      })
    } finally {
      progress.done()
    }
    if (!this.jsonEnabled()) {
      const c = paint()
      const s = result.submission
      const std = result.val_bpb_std
      const le = result.bound ? '≤ ' : ''
      this.log(`${c.bold('val_bpb')} ${le}${c.green(result.val_bpb_mean.toFixed(4))}${std !== null ? ` ± ${std.toFixed(4)}` : ''} over ${result.seeds.length} seed(s)${result.bound ? ' (upper bound: negative ELBO)' : ''}  bytes_total ${s.bytes_total.toLocaleString('en-US')} (${formatBytes(s.bytes_total)})`)
      for (const a of result.ablations) this.log(`  ablation ${printable(a.change.join(', ')) || '(no change)'}: Δ ${deltaSide(a)}${a.delta >= 0 ? '+' : ''}${a.delta.toFixed(4)} → ${a.verdict}`)
      if (result.significance) this.log(`  ${result.significance.statement}`)
      if (result.significance?.welch) this.log(`  ${result.significance.welch.statement}`)
      for (const item of result.compliance) {
        const mark = item.status === 'pass' ? c.green('✓') : item.status === 'fail' ? c.red('✗') : c.yellow('–')
        this.log(`  ${mark} ${item.name}`)
      }
      for (const w of result.warnings) this.log(c.yellow(`warning: ${printable(w)}`))
      this.log(printable(`wrote ${result.out}: ${result.files.join(', ')}`))
      if (result.tarball) this.log(`wrote ${showPath(result.tarball)}`)
    }
    return result
  }
}
