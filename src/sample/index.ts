/**
 * The sampler of an objective, chosen by what the objective is (never by its name):
 * autoregressive objectives decode token by token (generate.ts); diffusion objectives denoise
 * block by block with the objective's block size (diffusion.ts).
 */
import {InputError} from '../errors.js'
import {isDiffusion, type Objective} from '../objective/types.js'
import {diffusionSample} from './diffusion.js'
import {generate} from './generate.js'
import type {SampleOptions, Sampler} from './types.js'

export type {SampleOptions, SampleOutput, Sampler} from './types.js'

/**
 * Default denoising steps per block: one per position (each step then unmasks about one
 * token), capped at 128, the step count of MDLM's reference sampler and of our ELBO.
 */
export const MAX_DEFAULT_STEPS = 128

function checkOptions(opts: SampleOptions & {steps: number | null}): void {
  if (!Number.isInteger(opts.tokens) || opts.tokens < 1) throw new InputError(`--tokens must be a positive integer, got ${opts.tokens}`)
  if (!Number.isFinite(opts.temperature) || opts.temperature < 0) throw new InputError(`--temperature must be a number >= 0, got ${opts.temperature}`)
  if (opts.topK !== null && (!Number.isInteger(opts.topK) || opts.topK < 1)) throw new InputError(`--top-k must be a positive integer, got ${opts.topK}`)
  if (opts.steps !== null && (!Number.isInteger(opts.steps) || opts.steps < 1)) throw new InputError(`--steps must be a positive integer, got ${opts.steps}`)
}

export function samplerFor(objective: Objective): Sampler {
  if (!isDiffusion(objective)) {
    return {
      sample(model, context, opts) {
        checkOptions(opts)
        if (opts.steps !== null) throw new InputError(`--steps is for diffusion objectives; this run's objective is ${objective.config.kind}`)
        return generate(model, context, opts)
      },
    }
  }
  return {
    sample(model, context, opts) {
      checkOptions(opts)
      const blockSize = objective.blockSize(opts.seqLen)
      if (opts.kv && blockSize === opts.seqLen) throw new InputError(`--kv-bits: ${objective.config.kind} denoises its whole sequence of ${opts.seqLen} as one bidirectional block; there is no cache of clean blocks to quantize`)
      return diffusionSample(model, {blockSize, maskId: objective.maskId, contextTokens: objective.contextTokens}, context, {...opts, steps: opts.steps ?? Math.min(MAX_DEFAULT_STEPS, blockSize)})
    },
  }
}
