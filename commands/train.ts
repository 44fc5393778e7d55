import {Flags} from '@oclif/core'

import {BACKEND_NAMES, type BackendName} from '../src/backend/index.js'
import {GolfCommand} from '../src/cli/base-command.js'
import {formatDuration, paint, progressReporter} from '../src/cli/output.js'
import {onInterrupt} from '../src/cli/interrupt.js'
import {trainEventRenderer} from '../src/cli/train-progress.js'
import {InputError} from '../src/errors.js'
import {describeCoverage} from '../src/eval/coverage.js'
import {loadRecipe, resolveRecipe} from '../src/recipe/recipe.js'
import {readRunConfig} from '../src/run/load.js'
import {train} from '../src/train/loop.js'
import {RunFolder, type RunSummary} from '../src/run/folder.js'

export interface TrainCommandResult {
  run_dir: string
  interrupted: boolean
  summary: RunSummary | null
}

export default class Train extends GolfCommand {
  static override summary = 'Train a ternary (BitNet b1.58) or float GPT from a recipe: autoregressive, MDLM or BD3-LM.'
  static override description = `Trains natively ternary weights (q·d with the stored scale precision in the forward pass, straight-through gradients), evaluates val_loss and val_bpb with the official byte table, and writes a run folder: train.log (official line format), config.json, metrics.jsonl, checkpoint.safetensors (+ checkpoint.json, optimizer.safetensors) and summary.json.

The recipe's objective section chooses what is trained: next-token (ar), masked diffusion (mdlm) or block diffusion (bd3lm); diffusion runs report the negative ELBO, an upper bound on the NLL. --init-from starts from another run's weights (e.g. AR → diffusion adaptation).

With no --data the built-in Brown corpus (byte260) is prepared once and cached. Ctrl-C saves a checkpoint; --resume continues it bit for bit. A run killed outright (SIGKILL, power loss) resumes from its last checkpoint, which is never left half-written (train.checkpoint_every sets how often one is written).`

  static override examples = [
    '<%= config.bin %> <%= command.id %> --recipe tiny-cpu',
    '<%= config.bin %> <%= command.id %> --recipe bitnet-b158-68m --data data/datasets/fineweb10B_sp1024 --backend tensorflow',
    '<%= config.bin %> <%= command.id %> --recipe tiny-cpu --set model.model_dim=128 --set quant.mode=none --max-steps 50',
    '<%= config.bin %> <%= command.id %> --out runs/mine --resume',
    '<%= config.bin %> <%= command.id %> --recipe mdlm-tiny-cpu --init-from runs/tiny-cpu-s1337-…   # AR → diffusion adaptation',
  ]

  static override flags = {
    recipe: Flags.string({char: 'r', description: 'Built-in recipe name or path to a recipe YAML.', default: 'tiny-cpu'}),
    data: Flags.string({description: 'Dataset folder (official shard layout). Default: the built-in corpus.'}),
    set: Flags.string({description: 'Override a recipe key, e.g. --set model.model_dim=128 (repeatable).', multiple: true, default: []}),
    seed: Flags.integer({description: 'Seed of the initial weights.', default: 1337}),
    'max-steps': Flags.integer({description: 'Override train.max_steps.', min: 1}),
    'max-wallclock': Flags.integer({description: 'Override train.max_wallclock_seconds (official rule: warmdown timed to end at the cap).', min: 1}),
    'val-tokens': Flags.integer({description: 'Evaluate on the first N validation tokens instead of the whole split.', min: 2}),
    out: Flags.string({char: 'o', description: 'Run folder (default runs/<recipe>-s<seed>-<time>); with --resume, the run to continue.'}),
    resume: Flags.boolean({description: 'Continue the run in --out from its last checkpoint.'}),
    'init-from': Flags.string({description: "Start from this run's weights (same shape; AR → MDLM/BD3-LM adds the [MASK] row)."}),
    backend: Flags.string({description: 'Compute backend.', options: [...BACKEND_NAMES], default: 'auto'}),
    // data-parallel threads; checked as train.workers by the recipe schema
    workers: Flags.string({description: "Override train.workers: threads per step (data parallel), an integer ≥ 1 or 'auto' (up to 2 on wasm/cpu, 1 on tensorflow)."}),
    note: Flags.string({description: 'Free-text note recorded in summary.json (for golf report).'}),
    tag: Flags.string({description: 'Tag recorded in summary.json (repeatable).', multiple: true, default: []}),
    baseline: Flags.string({description: 'Run folder this run is an ablation of (for the negative-results table).'}),
  }

  async run(): Promise<TrainCommandResult> {
    const {flags} = await this.parse(Train)
    const sets = [...flags.set]
    if (flags['max-steps']) sets.push(`train.max_steps=${flags['max-steps']}`)
    if (flags.workers) sets.push(`train.workers=${flags.workers}`)
    if (flags['max-wallclock']) sets.push(`train.max_wallclock_seconds=${flags['max-wallclock']}`)
    if (flags['val-tokens']) sets.push(`eval.val_tokens=${flags['val-tokens']}`, `train.val_tokens=${flags['val-tokens']}`)

    let recipe
    let seed = flags.seed
    let dataDir = flags.data
    if (flags.resume && flags['init-from']) throw new InputError('--init-from starts a new run; it cannot be combined with --resume')
    if (flags.resume) {
      if (!flags.out) throw new InputError('--resume needs --out <run folder> to continue')
      const {config} = readRunConfig(flags.out)
      RunFolder.open(flags.out) // refuses a run with no checkpoint now, before the backend prints anything
      // the run's resolved recipe (name and description included), with this call's overrides
      recipe = resolveRecipe(config.recipe as unknown as Record<string, unknown>, {where: `${flags.out}/config.json`, sets})
      seed = config.seed
      dataDir = dataDir ?? config.data
    } else {
      recipe = loadRecipe(flags.recipe, sets)
      if (flags.out) RunFolder.checkNew(flags.out) // before the backend and data load: one line
    }

    const progress = progressReporter()
    const onEvent = trainEventRenderer(progress)
    const interrupt = onInterrupt(progress, 'finishing this step and saving a checkpoint')
    try {
      const result = await train({
        recipe,
        dataDir,
        outDir: flags.out,
        seed,
        backend: flags.backend as BackendName,
        resume: flags.resume,
        initFrom: flags['init-from'],
        note: flags.note,
        tags: flags.tag,
        baseline: flags.baseline ?? null,
        onEvent,
        interrupted: interrupt.requested,
      })
      progress.done()
      if (!this.jsonEnabled()) {
        if (result.alreadyFinished) {
          this.log(`${result.runDir} had already finished at step ${result.stepsDone}: nothing to do (its summary.json is unchanged)`)
        } else if (result.interrupted) {
          this.log(`interrupted after step ${result.stepsDone}; checkpoint saved in ${result.runDir}`)
          this.log(`resume with: golf train --out ${result.runDir} --resume`)
        } else if (result.summary) {
          const s = result.summary
          const out = paint()
          // a diffusion run's score is its negative ELBO: an upper bound, printed as one
          const bound = s.bound && s.elbo ? ` ≤` : ''
          const boundNote = s.bound && s.elbo ? ` ± ${s.elbo.val_bpb_se.toFixed(4)} (upper bound: ${s.elbo.steps === 0 ? 'continuous-time' : `${s.elbo.steps}-step`} ELBO)` : ''
          this.log(
            `${out.bold('val_bpb' + bound)} ${out.green(s.val_bpb.toFixed(4))}${boundNote}  val_loss ${s.val_loss.toFixed(4)}` +
              (s.sliding ? `  sliding(stride ${s.sliding.stride}) val_bpb ${s.sliding.val_bpb.toFixed(4)}` : '') +
              `  steps ${s.steps}  ${formatDuration(s.train_time_ms / 1000)}  ${s.tokens_per_s.toLocaleString('en-US')} tok/s`,
          )
          // a score on part of the validation split is not the official metric: say so under it
          if (s.val_coverage?.partial) this.log(out.yellow(describeCoverage(s.val_coverage)))
          this.log(`run folder: ${result.runDir}`)
        }
      }
      return {run_dir: result.runDir, interrupted: result.interrupted, summary: result.summary}
    } finally {
      interrupt.release()
      progress.done()
    }
  }
}
