/**
 * Scores of a dataset with a byte sidecar (CaseOps `fineweb_val_bytes_*.bin`): chunked, sliding
 * and the diffusion windows' totals count each target's bytes from the sidecar, exactly, on a
 * tiny stream computed by hand; a dataset without one scores as before.
 */
import * as tf from '@tensorflow/tfjs-core'
import '@tensorflow/tfjs-backend-cpu'
import {mkdirSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {openDataset} from '../../src/data/open.js'
import {ShardWriter, writeShard} from '../../src/data/shard.js'
import {loadValidationSlice} from '../../src/data/stream.js'
import {diffusionWindows, windowTotals} from '../../src/eval/denoise.js'
import {evaluateChunked, evaluateSliding, type ScoringModel} from '../../src/eval/evaluate.js'
import {Byte260Tokenizer} from '../../src/tokenizer/byte260.js'

/** Every target costs exactly 1 nat (representable in float32: the sums are exact). */
const oneNat: ScoringModel = {lossPerToken: (inputs) => tf.ones(inputs.shape) as tf.Tensor2D}

const table = new Byte260Tokenizer().byteTable()
const ids = (text: string) => Array.from(new TextEncoder().encode(text), (b) => b + 4)
let root: string
let withSidecar: string
let plain: string

beforeAll(async () => {
  await tf.setBackend('cpu')
  root = mkdtempSync(join(tmpdir(), 'golf-sidecar-eval-'))
  // the validation stream, 11 tokens: [BOS] h e l l o [BOS] w o r l, in shards of 4 tokens
  for (const dir of [(withSidecar = join(root, 'caseops')), (plain = join(root, 'plain'))]) {
    mkdirSync(dir)
    const w = new ShardWriter(dir, 'val', {shardTokens: 4})
    w.add([1, ...ids('hello')])
    w.add([1, ...ids('worl')])
    w.close()
  }
  // its sidecar: the original bytes of each position (a BOS has none), unlike the table's 1 per byte
  //   position  0  1  2  3  4  5  6  7  8  9  10
  writeShard(join(withSidecar, 'fineweb_val_bytes_000000.bin'), Uint16Array.from([0, 3, 1, 2, 1, 4, 0, 2, 2, 1, 5]))
  // a training shard and dataset.json, so that openDataset takes the folder
  const train = new ShardWriter(withSidecar, 'train', {shardTokens: 100})
  train.add([1, ...ids('train')])
  train.close()
  writeFileSync(join(withSidecar, 'dataset.json'), JSON.stringify({format: 'golf-dataset', version: 1, tokenizer: 'byte260', tokenizer_path: null, vocab_size: 260, bos_id: 1, docs: {train: 1, val: 2}, tokens: {train: 6, val: 11}, shard_tokens: 4, source: 'text'}))
})
afterAll(() => rmSync(root, {recursive: true, force: true}))

describe('val_bpb with a byte sidecar', () => {
  it('chunked: the targets of floor(10/4) = 2 windows, positions 1..8, get the sidecar\'s 15 bytes', () => {
    const {tokens, byteTable} = loadValidationSlice(withSidecar, {table, bosId: 1})
    const r = evaluateChunked(oneNat, tokens, byteTable, {seqLen: 4, batchSeqs: 1})
    expect([r.tokens, r.bytes]).toEqual([8, 3 + 1 + 2 + 1 + 4 + 0 + 2 + 2])
    expect(r.val_loss).toBe(1)
    expect(r.val_bpb).toBe((1 / Math.LN2) * (8 / 15))
  })

  it('sliding (T 4, stride 2): every target, positions 1..10, 21 bytes, whatever the batching', () => {
    const {tokens, byteTable} = loadValidationSlice(withSidecar, {table, bosId: 1})
    for (const batchSeqs of [1, 3]) {
      const r = evaluateSliding(oneNat, tokens, byteTable, {seqLen: 4, batchSeqs, stride: 2})
      expect([r.tokens, r.bytes]).toEqual([10, 15 + 1 + 5])
      expect(r.val_bpb).toBe((1 / Math.LN2) * (10 / 21))
    }
  })

  it('diffusion windows (ELBO, chain rule) total the same targets\' sidecar bytes', () => {
    const {tokens, byteTable} = loadValidationSlice(withSidecar, {table, bosId: 1})
    expect(windowTotals(byteTable, diffusionWindows(tokens, 4))).toEqual({tokens: 8, bytes: 15})
    expect(windowTotals(byteTable, diffusionWindows(tokens, 5))).toEqual({tokens: 10, bytes: 21})
  })

  it('a partial slice (--val-tokens 6) counts the sidecar\'s first positions', () => {
    const {tokens, byteTable} = loadValidationSlice(withSidecar, {table, bosId: 1, maxTokens: 6})
    const r = evaluateChunked(oneNat, tokens, byteTable, {seqLen: 5, batchSeqs: 1})
    expect([r.tokens, r.bytes]).toEqual([5, 3 + 1 + 2 + 1 + 4])
  })

  it('the table the dataset is opened with counts nothing alone, and a copy of the tokens is refused', async () => {
    const opened = await openDataset(withSidecar)
    expect(opened.info.byteSidecars).toEqual([join(withSidecar, 'fineweb_val_bytes_000000.bin')])
    const {tokens, byteTable} = loadValidationSlice(opened.info.dir, {table: opened.table, bosId: opened.info.bosId})
    expect(() => evaluateChunked(oneNat, tokens, opened.table, {seqLen: 4, batchSeqs: 1})).toThrow(/validation bytes are in its byte sidecars/)
    expect(() => evaluateChunked(oneNat, tokens.slice(), byteTable, {seqLen: 4, batchSeqs: 1})).toThrow(/aligned with another token array/)
    expect(evaluateChunked(oneNat, tokens, byteTable, {seqLen: 4, batchSeqs: 1}).bytes).toBe(15)
  })
})

describe('without a sidecar', () => {
  it('scores exactly as the table does', () => {
    const {tokens, byteTable} = loadValidationSlice(plain, {table, bosId: 1})
    expect(byteTable).toBe(table)
    const r = evaluateChunked(oneNat, tokens, byteTable, {seqLen: 4, batchSeqs: 1})
    expect([r.tokens, r.bytes]).toEqual([8, 7]) // h e l l o [BOS] w o: one byte each, the BOS none
    expect(r.val_bpb).toBe((1 / Math.LN2) * (8 / 7))
    expect(evaluateSliding(oneNat, tokens, byteTable, {seqLen: 4, batchSeqs: 2, stride: 2}).bytes).toBe(9)
  })
})
