/** The objective a recipe names, bound to its model's id count. */
import {InputError} from '../errors.js'
import {arTokenBatch} from './ar.js'
import {bd3lmObjective} from './bd3lm.js'
import {mdlmObjective} from './mdlm.js'
import type {Objective, ObjectiveConfig} from './types.js'

export * from './types.js'

function arObjective(config: ObjectiveConfig): Objective {
  return {
    config,
    diffusion: false,
    chunkTokens: (B, T) => B * T + 1,
    trainBatch: (chunk, B, T) => arTokenBatch(chunk, B, T),
  }
}

/** The objective of `config` for a model with `modelVocab` ids. */
export function objectiveFor(config: ObjectiveConfig, modelVocab: number): Objective {
  if (config.kind === 'ar') return arObjective(config)
  if (config.kind === 'mdlm') return mdlmObjective(config, modelVocab)
  if (config.kind === 'bd3lm') return bd3lmObjective(config, modelVocab)
  throw new InputError(`objective.kind must be ar, mdlm or bd3lm, got ${JSON.stringify((config as {kind: unknown}).kind)}`)
}

