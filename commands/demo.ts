import {Flags} from '@oclif/core'

import {BACKEND_NAMES, type BackendName} from '../src/backend/index.js'
import {GolfCommand} from '../src/cli/base-command.js'
import {paint, progressReporter} from '../src/cli/output.js'
import {onInterrupt} from '../src/cli/interrupt.js'
import {trainEventRenderer} from '../src/cli/train-progress.js'
import {runDemo, type DemoResult} from '../src/demo.js'
import {describeCoverage} from '../src/eval/coverage.js'
import {CheckFailedError} from '../src/errors.js'

export default class Demo extends GolfCommand {
  static override summary = 'Run the whole job on the built-in default: prepare, train tiny-cpu, pack, verify, report.'
  static override description = `No GPU, no download: the built-in Brown corpus (byte260) is prepared once and cached, the tiny-cpu recipe trains for about 4 minutes on 2 cores, the model is packed, verified against the 16,000,000-byte cap with its exact roundtrip gap, and a submission folder is rendered under submissions/<recipe>-demo (replacing the previous demo's). Every score is on the whole validation split of the built-in corpus (300,269 tokens), as the official metric scores it.

--recipe mdlm-tiny-cpu or bd3lm-tiny-cpu runs the same pipeline for a diffusion model, whose score is its ELBO: an upper bound on the NLL.`
  static override examples = ['<%= config.bin %> <%= command.id %>', '<%= config.bin %> <%= command.id %> --set train.max_wallclock_seconds=60 --json', '<%= config.bin %> <%= command.id %> --recipe mdlm-tiny-cpu']

  static override flags = {
    dir: Flags.string({description: 'Folder to write runs/ and submissions/ into.', default: '.'}),
    recipe: Flags.string({description: 'The recipe to run (a built-in name or a YAML file).', default: 'tiny-cpu'}),
    seed: Flags.integer({description: 'Seed of the initial weights.', default: 1337}),
    set: Flags.string({description: 'Override a recipe key (repeatable), e.g. train.max_wallclock_seconds=60.', multiple: true, default: []}),
    backend: Flags.string({description: 'Compute backend.', options: [...BACKEND_NAMES], default: 'auto'}),
  }

  async run(): Promise<DemoResult> {
    const {flags} = await this.parse(Demo)
    const progress = progressReporter()
    const c = paint(process.stderr)
    const interrupt = onInterrupt(progress, 'stopping after this step')
    try {
      const r = await runDemo({
        root: flags.dir,
        recipe: flags.recipe,
        seed: flags.seed,
        sets: flags.set,
        backend: flags.backend as BackendName,
        onEvent: trainEventRenderer(progress),
        onStage: (line) => progress.log(c.bold(line)),
        interrupted: interrupt.requested,
      })
      progress.done()
      if (r.interrupted) {
        if (!this.jsonEnabled()) this.log(`interrupted; the run's checkpoint is in ${r.run_dir}`)
        return r
      }
      if (!this.jsonEnabled()) {
        const o = paint()
        const mark = (ok: boolean) => (ok ? o.green('✓') : o.red('✗'))
        this.log(`${o.bold(r.bound ? 'val_bpb ≤' : 'val_bpb')} ${r.val_bpb_before?.toFixed(6) ?? '?'} as trained, ${r.val_bpb_roundtrip?.toFixed(6) ?? '?'} rebuilt from the artifact: gap ${r.roundtrip_gap?.toFixed(6) ?? '?'}${r.bound ? ' (upper bounds: the ELBO, same seeded noise)' : ''}`)
        if (r.val_coverage) this.log(`  ${r.val_coverage.partial ? o.yellow(describeCoverage(r.val_coverage)) : describeCoverage(r.val_coverage)}`)
        this.log(`${mark(r.within_limit)} ${r.bytes_total?.toLocaleString('en-US') ?? '?'} bytes total (model ${r.bytes_model.toLocaleString('en-US')} + code ${r.bytes_code?.toLocaleString('en-US') ?? '?'}) of ${r.limit.toLocaleString('en-US')}`)
        this.log(`${mark(r.verify_ok)} golf verify ${r.verify_ok ? 'passed' : 'failed'}`)
        this.log(`run: ${r.run_dir}`)
        this.log(`artifact: ${r.artifact}`)
        this.log(`submission: ${r.submission_dir}`)
      }
      if (!r.verify_ok) throw new CheckFailedError('the demo\'s verification failed (see the checks above)')
      return r
    } finally {
      interrupt.release()
      progress.done()
    }
  }
}
