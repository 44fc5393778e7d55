import {Flags} from '@oclif/core'

import {readArtifactFile} from '../src/submission/rebuild.js'
import {GolfCommand} from '../src/cli/base-command.js'
import {paint, table} from '../src/cli/output.js'
import {InputError} from '../src/errors.js'
import {type BudgetPrediction, type SolveResult, DEFAULT_ZERO_FRAC, predictBudget, solveBudget, calibrationFromArtifact} from '../src/pack/budget.js'
import {TRIT_CODEC_NAMES, type TritCodecName} from '../src/pack/codecs/index.js'
import {loadRecipe} from '../src/recipe/recipe.js'
import {parseByteLimit} from '../src/verify/limit.js'

export type BudgetResult = BudgetPrediction & {solve?: SolveResult}

export default class Budget extends GolfCommand {
  static override summary = 'Predict the artifact bytes of a recipe before training, and solve for a size that fits.'
  static override description = [
    'Per component: ternary trits (codec size model at --zero-frac), scales, float tensors, manifest, container and',
    'counted code (--code-bytes, else the real bundle). --solve <key> finds the largest value of an integer recipe key',
    '(≤ the recipe\'s) that fits --limit, skipping values the recipe rejects.',
  ].join('\n')
  static override examples = [
    '<%= config.bin %> <%= command.id %> --recipe ternary-unet-10l-768d',
    '<%= config.bin %> <%= command.id %> --recipe ternary-unet-10l-768d --set model.mlp_mult=5 --solve model.model_dim --json',
    '<%= config.bin %> <%= command.id %> --recipe my.yaml --limit 15.9MB --zero-frac 0.4 --code-bytes 60000',
  ]

  static override flags = {
    recipe: Flags.string({char: 'r', description: 'Built-in recipe name or YAML file.', required: true}),
    set: Flags.string({description: 'Override a recipe key, key=value (repeatable).', multiple: true}),
    limit: Flags.string({description: 'Byte limit: 16MB = 16,000,000 (decimal), 16MiB, or plain bytes.', default: '16MB'}),
    solve: Flags.string({description: 'Integer recipe key to maximise under the limit, e.g. model.model_dim.'}),
    'zero-frac': Flags.string({description: `Fraction of zero trits to assume (default ${DEFAULT_ZERO_FRAC}, or the --calibrate artifact's).`}),
    calibrate: Flags.string({description: 'Artifact (.golf) of an earlier or smaller run of the recipe: use its measured zero fraction and float/scale compression.'}),
    'code-bytes': Flags.integer({description: 'Counted code bytes (default: bundle the real counted code).', min: 0}),
    codec: Flags.string({description: 'Trit codec the pack will use.', options: [...TRIT_CODEC_NAMES, 'auto'], default: 'auto'}),
  }

  async run(): Promise<BudgetResult> {
    const {flags} = await this.parse(Budget)
    const limit = parseByteLimit(flags.limit)
    const zeroFrac = flags['zero-frac'] === undefined ? undefined : Number(flags['zero-frac'])
    if (zeroFrac !== undefined && (!Number.isFinite(zeroFrac) || zeroFrac < 0 || zeroFrac >= 1)) throw new InputError(`--zero-frac ${flags['zero-frac']}: expected a fraction in [0, 1)`)
    const calibration = flags.calibrate ? calibrationFromArtifact(readArtifactFile(flags.calibrate), flags.calibrate) : undefined
    const sets = flags.set ?? []
    const opts = {limit, zeroFrac, calibration, codeBytes: flags['code-bytes'], codec: flags.codec as TritCodecName | 'auto'}
    const recipe = loadRecipe(flags.recipe, sets)
    const prediction = await predictBudget(recipe, opts)
    let result: BudgetResult = prediction
    if (flags.solve) {
      const solve = await solveBudget((extra) => loadRecipe(flags.recipe, [...sets, ...extra]), flags.solve, opts)
      result = {...prediction, solve}
    }
    if (!this.jsonEnabled()) this.printHuman(result)
    return result
  }

  private printHuman(r: BudgetResult): void {
    const c = paint()
    const n = (x: number) => x.toLocaleString('en-US')
    this.log(`recipe ${r.recipe}: ${n(r.params.total)} params (${n(r.params.ternary)} ternary), zero fraction ${r.zero_frac.toFixed(4)}, codec ${r.codec}`)
    const comp = r.components
    this.log(
      table(
        ['component', 'bytes'],
        [
          ['ternary trits', n(comp.ternary_trits)],
          ['ternary scales (compressed)', n(comp.ternary_scales)],
          ['float tensors (compressed)', n(comp.float_tensors)],
          ['manifest (compressed)', n(comp.manifest)],
          ['container', n(comp.container)],
          [`counted code (${r.code_bytes_source})`, n(comp.counted_code)],
          ['total', n(r.total_bytes)],
        ],
      ),
    )
    const line = `${n(r.total_bytes)} of ${n(r.limit)} bytes: ${r.fits ? `fits, ${n(r.headroom)} to spare` : `OVER by ${n(-r.headroom)}`}`
    this.log(r.fits ? c.green(line) : c.red(line))
    if (r.solve) {
      const s = r.solve
      if (s.value === null) this.log(c.red(`--solve ${s.key}: no value ≤ ${s.original} fits ${n(r.limit)} bytes`))
      else this.log(`--solve ${s.key}: largest value that fits is ${s.value} (recipe: ${s.original}), predicted ${n(s.prediction!.total_bytes)} bytes`)
    }
  }
}
