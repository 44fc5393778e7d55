import {Flags} from '@oclif/core'

import {initBackend, BACKEND_NAMES, type BackendName} from '../src/backend/index.js'
import {GolfCommand} from '../src/cli/base-command.js'
import {InputError} from '../src/errors.js'
import {generate} from '../src/sample/generate.js'
import {loadTokenizer} from '../src/tokenizer/index.js'
import {readDatasetInfo} from '../src/data/dataset.js'
import {loadRunModel} from '../src/run/load.js'

export interface SampleResult {
  run: string
  prompt: string
  text: string
  tokens: number[]
}

export default class Sample extends GolfCommand {
  static override summary = 'Generate text from a trained run.'
  static override description = 'Loads the run\'s checkpoint (ternary weights as q·d, exactly as trained) and continues the prompt, after a BOS token as every training document starts.'
  static override examples = ['<%= config.bin %> <%= command.id %> --run runs/tiny-cpu-s1337-20261123-141502 --prompt "The jury said" --tokens 200']

  static override flags = {
    run: Flags.string({description: 'Run folder written by golf train.', required: true}),
    prompt: Flags.string({description: 'Text to continue.', default: ''}),
    tokens: Flags.integer({description: 'Tokens to generate.', default: 200, min: 1}),
    temperature: Flags.string({description: 'Sampling temperature (0 = greedy).', default: '0.8'}),
    'top-k': Flags.integer({description: 'Sample among the k most likely tokens only.', min: 1}),
    seed: Flags.integer({description: 'Sampling seed.', default: 1}),
    backend: Flags.string({description: 'Compute backend.', options: [...BACKEND_NAMES], default: 'auto'}),
  }

  async run(): Promise<SampleResult> {
    const {flags} = await this.parse(Sample)
    const temperature = Number(flags.temperature)
    if (!Number.isFinite(temperature) || temperature < 0) throw new InputError(`--temperature must be a number >= 0, got ${flags.temperature}`)
    await initBackend(flags.backend as BackendName, {quiet: true})
    const {model, config} = loadRunModel(flags.run)
    const info = readDatasetInfo(config.data)
    const tokenizer = await loadTokenizer(info.tokenizerPath ?? info.tokenizer ?? config.tokenizer)
    const context = [tokenizer.bosId, ...tokenizer.encode(flags.prompt)]
    const banned = [tokenizer.padId, tokenizer.bosId, tokenizer.eosId, tokenizer.unkId].filter((i) => i >= 0)
    const out = generate(model, context, {tokens: flags.tokens, temperature, topK: flags['top-k'] ?? null, seqLen: config.recipe.train.seq_len, seed: flags.seed, banned})
    const text = tokenizer.decode(out)
    if (!this.jsonEnabled()) this.log(flags.prompt + text)
    model.dispose()
    return {run: flags.run, prompt: flags.prompt, text, tokens: out}
  }
}
