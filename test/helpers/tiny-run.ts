/**
 * A tiny dataset and recipe for training tests: a few KB of English (Brown corpus text, the
 * same the built-in dataset uses) as byte260 documents, and a 2-layer, 32-wide model.
 */
import {mkdirSync, mkdtempSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {brownDocuments} from '../../src/data/brown.js'
import {prepareDataset} from '../../src/data/dataset.js'
import {resolveRecipe, type ResolvedRecipe} from '../../src/recipe/recipe.js'

export async function tinyDataset(docs = 24, charsPerDoc = 3000): Promise<string> {
  const root = mkdtempSync(join(tmpdir(), 'golf-tiny-'))
  const textDir = join(root, 'text')
  mkdirSync(textDir)
  brownDocuments()
    .slice(0, docs)
    .forEach((d, i) => writeFileSync(join(textDir, `doc${String(i).padStart(3, '0')}.txt`), d.text.slice(0, charsPerDoc)))
  const out = join(root, 'data')
  await prepareDataset({source: {kind: 'text', patterns: [join(textDir, '*.txt')]}, tokenizer: 'byte260', out, valDocs: 2})
  return out
}

/** The tiny recipe with sections merged key by key (a section given as a list or a string, such as `activations`, replaces). */
export function tinyRecipe(over: Record<string, Record<string, unknown> | unknown[] | string> = {}): ResolvedRecipe {
  const base: Record<string, Record<string, unknown>> = {
    model: {vocab_size: 260, model_dim: 32, num_heads: 2, num_kv_heads: 1, mlp_mult: 2, unique_blocks: 2, loops: 1},
    quant: {mode: 'ternary', group_size: 16, scale_format: 'fp16'},
    optim: {muon_momentum_warmup_steps: 5},
    train: {seq_len: 32, batch_tokens: 256, micro_batch_tokens: 128, max_steps: 8, warmup_steps: 0, warmdown_iters: null, warmdown_frac: 0.5, log_every: 2, eval_every: 4, val_tokens: 512, checkpoint_every: 0},
    eval: {val_tokens: 1024, sliding_stride: 16, batch_seqs: 4},
  }
  const doc: Record<string, unknown> = {name: 'tiny-test'}
  for (const k of new Set([...Object.keys(base), ...Object.keys(over)])) {
    const o = over[k]
    doc[k] = typeof o === 'string' || Array.isArray(o) ? o : {...(base[k] ?? {}), ...(o ?? {})}
  }
  return resolveRecipe(doc, {where: 'tiny-test'})
}
