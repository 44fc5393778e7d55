/**
 * Scores do not depend on how the windows are batched. golf lowers eval.batch_seqs to what the
 * backend's memory holds (src/budget/memory.ts fitBatch), so a model scored at 1, 3 or 8
 * sequences per pass must give the same val_loss and val_bpb to the last bit: on the wasm
 * backend (golf's default on CPU) and the cpu one, for AR (chunked, sliding) and diffusion (the
 * ELBO with its seeded noise, the chain).
 */
import '@tensorflow/tfjs-backend-cpu'
import * as tf from '@tensorflow/tfjs-core'
import {describe, expect, it} from 'vitest'

import {initBackend} from '../../src/backend/index.js'
import {scoreModel, type ScoreMode} from '../../src/eval/score.js'
import {objectiveFor} from '../../src/objective/index.js'
import {DEFAULT_OBJECTIVE, type ObjectiveConfig} from '../../src/objective/types.js'
import {Byte260Tokenizer} from '../../src/tokenizer/byte260.js'
import {mulberry32} from '../../src/util/random.js'
import {buildGPT, randomizeWeights, tinyConfig} from '../helpers/tiny-gpt.js'

const table = new Byte260Tokenizer().byteTable()
const rand = mulberry32(11)
// 8 windows of 16 and a partial one; BOS (1) every ~40 tokens, byte tokens otherwise
const tokens = Uint16Array.from({length: 16 * 8 + 9}, (_, i) => (i % 40 === 0 ? 1 : 4 + Math.floor(rand() * 256)))

const cases: Array<[string, ObjectiveConfig, ScoreMode, {stride?: number; elboSteps?: number}]> = [
  ['AR chunked', DEFAULT_OBJECTIVE, 'chunked', {}],
  ['AR sliding, stride 4', DEFAULT_OBJECTIVE, 'sliding', {stride: 4}],
  ['MDLM ELBO, 8 steps', {...DEFAULT_OBJECTIVE, kind: 'mdlm', shift: true}, 'elbo', {elboSteps: 8}],
  ['BD3-LM block 4, chain', {...DEFAULT_OBJECTIVE, kind: 'bd3lm', block_size: 4, shift: true}, 'chain', {}],
]

for (const backend of ['wasm', 'cpu'] as const) {
  describe(`batching on ${backend}: the same score at any eval batch`, () => {
    for (const [name, objCfg, mode, extra] of cases) {
      it(name, async () => {
        await initBackend(backend, {quiet: true})
        const objective = objectiveFor(objCfg, 261)
        const model = buildGPT(tinyConfig(261, {model_dim: 16}))
        randomizeWeights(model, 5)
        try {
          const score = (batchSeqs: number) => scoreModel(model, objective, tokens, table, {mode, seqLen: 16, batchSeqs, seed: 3, elboSamples: 1, ...extra})
          const one = score(1)
          // a score that is not a number would equal itself at every batch size
          expect(Number.isFinite(one.val_bpb) && one.val_bpb > 0, `val_bpb ${one.val_bpb}`).toBe(true)
          for (const b of [3, 8]) {
            const r = score(b)
            expect(r.val_loss, `batch ${b}`).toBe(one.val_loss)
            expect(r.val_bpb, `batch ${b}`).toBe(one.val_bpb)
            expect(r.tokens).toBe(one.tokens)
          }
        } finally {
          model.dispose()
          if (backend === 'cpu') await tf.setBackend('cpu')
        }
      }, 60_000)
    }
  })
}
