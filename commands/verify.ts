import {Args, Flags} from '@oclif/core'

import {BACKEND_NAMES, type BackendName} from '../src/backend/index.js'
import {GolfCommand} from '../src/cli/base-command.js'
import {paint, progressReporter} from '../src/cli/output.js'
import {CheckFailedError, InputError} from '../src/errors.js'
import {verifyFolder} from '../src/verify/folder.js'
import {OFFICIAL_LIMIT, parseByteLimit} from '../src/verify/limit.js'
import {groupDigits, withCounts, type VerifyReport} from '../src/verify/report.js'
import {describeCoverage} from '../src/eval/coverage.js'
import {elboName} from '../src/eval/score.js'
import {verifyRun, type RunVerifyReport} from '../src/verify/run.js'

export default class Verify extends GolfCommand {
  static override summary = 'Check a submission: the 16,000,000-byte cap, the exact roundtrip gap, the folder.'
  static override description = `Two modes.

Run mode (--run <run dir> --artifact <file>): bytes_model is the artifact's size, bytes_code the counted code — one minified JavaScript file bundling golf's model, training and evaluation code with the run's recipe (npm libraries are not counted, as torch is not for train_gpt.py), or the --code files. The run's model and the model rebuilt from the artifact are both scored (AR: chunked; diffusion: the ELBO the artifact records; --val-tokens or the whole split) and the gap printed to 6 decimals; for golf-trained ternary runs it is exactly 0 with identical logits. The bundled file is also run on its own and must print the same val_bpb. A diffusion run's val_bpb is its negative ELBO, an upper bound (≤), scored before and after with the same noise seed.

Folder mode (a submission folder as in the official records/…, read as an untrusted folder): the metadata (submission.json, submission_<name>.json, or a JSON with submission fields; every era's fields, seed_results as a list or keyed by seed, a compliance_rerun block), README, train logs under any name or in logs/, the code with its helpers and tokenizer files. Claimed sizes within the limit and equal to the logs' size lines (also the compact artifact:…MB … code:N line, at its printed precision); bytes_code matched to the code files raw or compressed (zlib, brotli, lzma, xz), naming files outside the counted total; val_bpb/val_loss, the whole entry's and each seed's, equal to the logs at the precision printed; a diffusion entry's bound (bound: "upper", val_var_bpb) against the logs' bound lines only; the artifact's size when present. Only a contradiction fails (claim ≠ log, over the cap, a required file missing); what cannot be checked is reported as not confirmed (–) with the reason. Links out of the folder are refused, FIFOs and devices skipped, files over 16 MiB not read; a folder of more than 2,000 entries is refused whole (exit 2), never checked in part.

Exit 0 when every check passes, 1 when one fails, 2 for bad input.`

  static override examples = [
    '<%= config.bin %> <%= command.id %> --run runs/tiny-cpu-s1337 --artifact model.golf --limit 16MB',
    '<%= config.bin %> <%= command.id %> --run runs/tiny-cpu-s1337 --artifact model.golf --val-tokens 65536 --json',
    '<%= config.bin %> <%= command.id %> records/track_10min_16mb/2026-03-17_NaiveBaseline',
    '<%= config.bin %> <%= command.id %> submissions/my-entry --limit 16MiB',
  ]

  static override args = {
    folder: Args.string({description: 'Submission folder to check (omit with --run/--artifact).', required: false}),
  }

  static override flags = {
    run: Flags.string({description: 'Run folder of a golf training run (with --artifact).'}),
    artifact: Flags.string({description: 'The packed artifact of --run (golf pack).'}),
    code: Flags.string({description: 'Count these files as the code instead of the golf bundle (repeatable).', multiple: true}),
    limit: Flags.string({description: 'Size cap: bytes, or 16MB (decimal, the rule), 16MiB, 15.5MB.', default: '16MB'}),
    'val-tokens': Flags.integer({description: 'Score only the first N validation tokens (quick check); default the whole split.', min: 2}),
    'no-bundle-run': Flags.boolean({description: 'Skip running the bundled counted code as a subprocess.'}),
    backend: Flags.string({description: "Compute backend for --run mode (default: the run's own, when it loads here; a comparison on another is reported as crossing backends).", options: [...BACKEND_NAMES]}),
  }

  async run(): Promise<VerifyReport> {
    const {args, flags} = await this.parse(Verify)
    const limit = parseByteLimit(flags.limit)
    let report: VerifyReport
    if (flags.run || flags.artifact) {
      if (args.folder) throw new InputError(`give either a submission folder (${args.folder}) or --run/--artifact, not both`)
      if (!flags.run) throw new InputError('--artifact needs --run <run folder> (the run it was packed from)')
      if (!flags.artifact) throw new InputError('--run needs --artifact <file> (pack it with golf pack)')
      const progress = progressReporter({quiet: this.jsonEnabled()})
      try {
        report = await verifyRun({
          runDir: flags.run,
          artifactPath: flags.artifact,
          limit,
          codeFiles: flags.code,
          valTokens: flags['val-tokens'],
          confirmBundle: !flags['no-bundle-run'],
          backend: flags.backend as BackendName | undefined,
          onProgress: (d, t, label) => progress.update(`${label}: ${d.toLocaleString('en-US')}/${t.toLocaleString('en-US')} tokens`),
        })
      } finally {
        progress.done()
      }
    } else {
      if (!args.folder) throw new InputError('give a submission folder, or --run <run dir> --artifact <file>')
      if (flags.code) throw new InputError('--code applies to --run mode; in folder mode the code is the folder\'s')
      if (flags['val-tokens']) throw new InputError('--val-tokens applies to --run mode')
      if (flags.backend) throw new InputError('--backend applies to --run mode (folder mode computes nothing)')
      report = verifyFolder(args.folder, {limit})
    }
    report = withCounts(report)
    if (!this.jsonEnabled()) this.printReport(report)
    if (!report.ok) {
      if (this.jsonEnabled()) {
        // --json prints the report either way; the exit code says it failed
        process.stdout.write(JSON.stringify(report, null, 2) + '\n')
        this.exit(1)
      }
      const failed = report.checks.filter((c) => !c.ok)
      // the human checklist is already printed; the error line names the first failure
      throw new CheckFailedError(`${failed.length} check${failed.length === 1 ? '' : 's'} failed: ${failed[0].name}: ${failed[0].detail}`)
    }
    return report
  }

  private printReport(r: VerifyReport & Partial<Pick<RunVerifyReport, 'elbo' | 'roundtrip_detail'>>): void {
    const c = paint()
    const n = (v: number | null) => (v === null ? '?' : `${groupDigits(v)} bytes`)
    this.log(`bytes_model  ${n(r.bytes_model)}`)
    this.log(`bytes_code   ${n(r.bytes_code)}`)
    this.log(`bytes_total  ${n(r.bytes_total)}  (limit ${groupDigits(r.limit)}${r.limit === OFFICIAL_LIMIT ? ', the official cap' : ''})`)
    if (r.roundtrip) {
      const rt = r.roundtrip
      const e = r.elbo
      // a diffusion run's score is a bound: say so on the line that shows it
      this.log(`val_bpb before  ${e ? '≤ ' : ''}${rt.val_bpb_before.toFixed(6)}  (the run's model${e ? `; ${elboName(e.steps)}, an upper bound` : ''})`)
      this.log(`val_bpb after   ${e ? '≤ ' : ''}${rt.val_bpb_after.toFixed(6)}  (rebuilt from the artifact${e ? `; same noise, seed ${e.seed}` : ''})`)
      this.log(`gap             ${rt.gap.toFixed(6)}`)
      if (rt.exact) this.log(c.green('exact: identical logits (max |Δlogit| = 0)'))
      else this.log(`max |Δlogit|    ${rt.max_logit_diff.toExponential(3)}`)
      const cov = r.roundtrip_detail?.val_coverage
      if (cov) this.log(`scored on       ${cov.partial ? c.yellow(describeCoverage(cov)) : describeCoverage(cov)}`)
    }
    this.log('')
    for (const check of r.checks) {
      const mark = !check.ok ? c.red('✗') : check.confirmed ? c.green('✓') : c.yellow('–')
      this.log(`${mark} ${check.name}: ${check.detail}`)
    }
    const failed = r.checks.filter((x) => !x.ok).length
    const unconf = r.checks.filter((x) => x.ok && !x.confirmed).length
    const passed = r.checks.length - failed - unconf
    this.log('')
    this.log(`${passed} passed, ${failed} failed, ${unconf} not confirmed`)
  }
}
