import {Flags} from '@oclif/core'

import {initBackend, BACKEND_NAMES, type BackendName} from '../src/backend/index.js'
import {GolfCommand} from '../src/cli/base-command.js'
import {InputError} from '../src/errors.js'
import {objectiveFor, type ObjectiveKind} from '../src/objective/index.js'
import {kvQuantConfig} from '../src/quant/kv-cache.js'
import {objectiveConfigOf} from '../src/recipe/recipe.js'
import {samplerFor} from '../src/sample/index.js'
import {loadTokenizer} from '../src/tokenizer/index.js'
import {readDatasetInfo} from '../src/data/dataset.js'
import {loadRunModel} from '../src/run/load.js'

export interface SampleResult {
  run: string
  prompt: string
  text: string
  tokens: number[]
  /** The run's training objective, which decides how it samples. */
  objective: ObjectiveKind
  /** Denoising steps per block (diffusion); null for AR. */
  steps: number | null
  network_calls: number
  /** Denoising steps that reused the previous step's probabilities (nothing had changed). */
  skipped_calls: number
  /** New tokens per second of sampling (model loading excluded). */
  tokens_per_s: number
}

export default class Sample extends GolfCommand {
  static override summary = 'Generate text from a trained run.'
  static override description =
    'Loads the run\'s checkpoint (ternary weights as q·d, exactly as trained) and continues the prompt, after a BOS token as every training document starts. AR runs decode token by token; MDLM runs denoise one sequence of seq_len; BD3-LM runs denoise block by block over the clean blocks before. --kv-bits stores the KV cache as KIVI quantizes it (AR, BD3-LM).'
  static override examples = [
    '<%= config.bin %> <%= command.id %> --run runs/tiny-cpu-s1337-20261123-141502 --prompt "The jury said" --tokens 200',
    '<%= config.bin %> <%= command.id %> --run runs/mdlm-tiny-cpu-s1337-20261123-141502 --tokens 100 --steps 64',
  ]

  static override flags = {
    run: Flags.string({description: 'Run folder written by golf train.', required: true}),
    prompt: Flags.string({description: 'Text to continue.', default: ''}),
    tokens: Flags.integer({description: 'Tokens to generate.', default: 200, min: 1}),
    temperature: Flags.string({description: 'Sampling temperature (0 = greedy).', default: '0.8'}),
    'top-k': Flags.integer({description: 'Sample among the k most likely tokens only.', min: 1}),
    steps: Flags.integer({description: 'Diffusion only: denoising steps per block (default: the block size, at most 128).', min: 1}),
    seed: Flags.integer({description: 'Sampling seed.', default: 1}),
    'kv-bits': Flags.integer({description: 'Quantize the KV cache to 2, 3 or 4 bits (KIVI), or 16 (fp16); AR and BD3-LM.'}),
    'kv-group': Flags.integer({description: 'KV quantization group: tokens per key group, channels per value group (default 32).'}),
    'kv-residual': Flags.integer({description: 'Most recent tokens kept exact in the KV cache (default 32).'}),
    backend: Flags.string({description: 'Compute backend.', options: [...BACKEND_NAMES], default: 'auto'}),
  }

  async run(): Promise<SampleResult> {
    const {flags} = await this.parse(Sample)
    const temperature = Number(flags.temperature)
    if (!Number.isFinite(temperature) || temperature < 0) throw new InputError(`--temperature must be a number >= 0, got ${flags.temperature}`)
    const kv = kvQuantConfig({bits: flags['kv-bits'], group: flags['kv-group'], residual: flags['kv-residual']})
    await initBackend(flags.backend as BackendName, {quiet: true})
    const {model, config} = loadRunModel(flags.run)
    try {
      const objective = objectiveFor(objectiveConfigOf(config.recipe), model.cfg.vocab_size) // no objective in old runs: ar
      const info = readDatasetInfo(config.data)
      const tokenizer = await loadTokenizer(info.tokenizerPath ?? info.tokenizer ?? config.tokenizer)
      const context = [tokenizer.bosId, ...tokenizer.encode(flags.prompt)]
      const banned = [tokenizer.padId, tokenizer.bosId, tokenizer.eosId, tokenizer.unkId].filter((i) => i >= 0)
      const opts = {tokens: flags.tokens, temperature, topK: flags['top-k'] ?? null, seqLen: config.recipe.train.seq_len, seed: flags.seed, banned, steps: flags.steps ?? null, kv}
      const t0 = performance.now()
      const out = samplerFor(objective).sample(model, context, opts)
      const seconds = (performance.now() - t0) / 1000
      const text = tokenizer.decode(out.tokens)
      if (!this.jsonEnabled()) this.log(flags.prompt + text)
      return {
        run: flags.run,
        prompt: flags.prompt,
        text,
        tokens: out.tokens,
        objective: objective.config.kind,
        steps: out.steps,
        network_calls: out.networkCalls,
        skipped_calls: out.skippedCalls,
        tokens_per_s: out.tokens.length / seconds,
      }
    } finally {
      model.dispose()
    }
  }
}
