/** What every sampler takes and reports (src/sample/index.ts picks one per objective). */
import type {GPT} from '../model/gpt.js'
import type {KVQuantConfig} from '../quant/kv-cache.js'
import type {PickOptions} from './pick.js'

export interface SampleOptions extends PickOptions {
  /** New tokens to return. */
  tokens: number
  /** The training sequence length: the longest window the model sees. */
  seqLen: number
  seed: number
  /** How the KV cache stores keys and values (src/quant/kv-cache.ts); absent or null: float32. */
  kv?: KVQuantConfig | null
}

export interface SampleOutput {
  /** The new tokens (the context excluded). */
  tokens: number[]
  /** Forward passes run (prefills, decoding or denoising steps, block commits). */
  networkCalls: number
  /** Denoising steps that reused the previous probabilities because nothing had changed. */
  skippedCalls: number
  /** Denoising steps per block; null for autoregressive sampling. */
  steps: number | null
}

export interface Sampler {
  /** `steps`: denoising steps per block, null = the sampler's default; diffusion only. */
  sample(model: GPT, context: number[], opts: SampleOptions & {steps: number | null}): SampleOutput
}
