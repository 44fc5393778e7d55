import {Flags} from '@oclif/core'

import {BACKEND_NAMES, type BackendName} from '../src/backend/index.js'
import {GolfCommand} from '../src/cli/base-command.js'
import {paint, progressReporter} from '../src/cli/output.js'
import {InputError} from '../src/errors.js'
import {evaluateTarget, type EvalReport} from '../src/eval/run-eval.js'
import {describeCoverage} from '../src/eval/coverage.js'
import {describeScore, type ScoreMode} from '../src/eval/score.js'
import {describeKV, kvQuantConfig} from '../src/quant/kv-cache.js'

export default class Eval extends GolfCommand {
  static override summary = 'Score a run or an artifact: chunked or sliding (AR), ELBO bound or chain rule (diffusion).'
  static override description = `Scores on the whole validation split, as the official metric does, with the official byte table (--val-tokens N: its first N tokens only, a partial figure labelled as one).

AR models: chunked (the official evaluation, the default) or sliding (--stride).
Diffusion models (MDLM, BD3-LM): elbo (the default, unless the recipe's eval.score says chain) is the negative ELBO of the T-step discrete-time process (--elbo-steps, default 128; 0 = continuous time), an UPPER BOUND on the NLL, estimated by Monte Carlo (--elbo-samples draws per window, --seed; the same seed gives the same number) with its standard error, or computed exactly by enumerating mask patterns (--estimator exact, blocks of at most 12 tokens). chain is the exact log-likelihood of unmasking one token per step in a fixed order (--order left-to-right, or random): a likelihood, not a bound; it costs one forward per token of a block.

--kv-bits 2|3|4: score through a KV cache quantized as KIVI does (keys per channel, values per token, in groups of --kv-group; the last --kv-residual tokens exact), or 16 (fp16); reports the cache's bytes per token beside the score. AR models: sliding mode (the default under it). BD3-LM models: elbo or chain, each block denoised over a cache of the clean blocks before it, as the sampler reads them (two forwards per block). MDLM has no clean blocks to cache.`

  static override examples = [
    '<%= config.bin %> <%= command.id %> --run runs/mdlm-tiny-cpu-s1337-… --mode elbo --elbo-steps 128',
    '<%= config.bin %> <%= command.id %> --run runs/bd3lm-tiny-cpu-s1337-… --mode chain --val-tokens 16384 --json',
    '<%= config.bin %> <%= command.id %> --artifact model.golf --data data/brown --mode sliding --stride 64',
    '<%= config.bin %> <%= command.id %> --run runs/tiny-cpu-s1337-… --kv-bits 2 --stride 64',
    '<%= config.bin %> <%= command.id %> --run runs/bd3lm-tiny-cpu-s1337-… --kv-bits 2 --kv-group 16 --mode chain',
  ]

  static override flags = {
    run: Flags.string({description: 'Run folder written by golf train.'}),
    artifact: Flags.string({description: 'Artifact written by golf pack (rebuilt as the counted code does).'}),
    data: Flags.string({description: "Dataset folder (default: the run's)."}),
    mode: Flags.string({description: 'chunked | sliding (AR), elbo | chain (diffusion). Default: the run\'s or artifact\'s reported score (AR: chunked; diffusion: its eval.score, else elbo).', options: ['chunked', 'sliding', 'elbo', 'chain']}),
    'val-tokens': Flags.integer({description: 'Score only the first N validation tokens.', min: 2}),
    stride: Flags.integer({description: 'sliding: stride (default: the recipe\'s).', min: 1}),
    'elbo-steps': Flags.integer({description: 'elbo: denoising steps T (0 = continuous time).', min: 0}),
    'elbo-samples': Flags.integer({description: 'elbo: Monte-Carlo draws per window (2+ gives a within-window standard error).', min: 1}),
    estimator: Flags.string({description: 'elbo: mc (Monte Carlo) or exact (enumerates masks; blocks ≤ 12).', options: ['mc', 'exact']}),
    order: Flags.string({description: 'chain: unmasking order.', options: ['left-to-right', 'random']}),
    seed: Flags.integer({description: 'Seed of the ELBO noise / random chain orders (default: the recipe\'s eval.elbo_seed).', min: 0}),
    'batch-seqs': Flags.integer({description: 'Sequences per forward pass.', min: 1}),
    'kv-bits': Flags.integer({description: 'sliding (AR), elbo or chain (BD3-LM): quantize the KV cache to 2, 3 or 4 bits (KIVI), or 16 (fp16).'}),
    'kv-group': Flags.integer({description: 'KV quantization group: tokens per key group, channels per value group (default 32).'}),
    'kv-residual': Flags.integer({description: 'Most recent tokens kept exact in the KV cache (default 32).'}),
    backend: Flags.string({description: 'Compute backend.', options: [...BACKEND_NAMES], default: 'auto'}),
  }

  async run(): Promise<EvalReport> {
    const {flags} = await this.parse(Eval)
    if (!flags.run && !flags.artifact) throw new InputError('golf eval needs --run <run folder> or --artifact <file>')
    const kv = kvQuantConfig({bits: flags['kv-bits'], group: flags['kv-group'], residual: flags['kv-residual']})
    const progress = progressReporter({quiet: this.jsonEnabled()})
    try {
      const r = await evaluateTarget({
        run: flags.run,
        artifact: flags.artifact,
        data: flags.data,
        mode: flags.mode as ScoreMode | undefined,
        valTokens: flags['val-tokens'],
        stride: flags.stride,
        elboSteps: flags['elbo-steps'],
        elboSamples: flags['elbo-samples'],
        estimator: flags.estimator as 'mc' | 'exact' | undefined,
        order: flags.order as 'left-to-right' | 'random' | undefined,
        seed: flags.seed,
        batchSeqs: flags['batch-seqs'],
        kv,
        backend: flags.backend as BackendName,
        onProgress: (d, t) => progress.update(`eval: ${d.toLocaleString('en-US')}/${t.toLocaleString('en-US')}`),
      })
      progress.done()
      if (!this.jsonEnabled()) {
        const out = paint()
        this.log(`${out.bold(describeScore(r))}  val_loss ${r.val_loss.toFixed(4)}${r.bound ? ' (bound)' : ''}`)
        if (r.kv) this.log(describeKV(r.kv))
        this.log(`${r.objective} model, ${r.mode}: ${r.tokens.toLocaleString('en-US')} tokens, ${r.bytes.toLocaleString('en-US')} bytes, ${r.seconds.toFixed(1)} s (${r.tokens_per_s.toLocaleString('en-US')} tokens/s), ${r.backend}`)
        // the official metric scores the whole split: a --val-tokens score says it is partial
        this.log(r.val_coverage.partial ? out.yellow(describeCoverage(r.val_coverage)) : describeCoverage(r.val_coverage))
        if (r.mode === 'elbo' && r.se_method === 'between-window') this.log('standard error from the spread between windows (one draw each): it overstates the Monte-Carlo error; --elbo-samples 2+ measures it within windows')
      }
      return r
    } finally {
      progress.done()
    }
  }
}
