/**
 * `golf eval --kv-bits` and `golf sample --kv-bits` on the built CLI (needs dist/): a tiny AR run
 * and a tiny BD3-LM run (elbo, chain) scored through a quantized cache, AR and BD3-LM sampling
 * over one, and one-line refusals (exit 2) for bad values, chunked evaluation, MDLM evaluation
 * and sampling, and a mode BD3-LM does not have.
 */
import {mkdtempSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {beforeAll, describe, expect, it} from 'vitest'

import {initBackend} from '../../src/backend/index.js'
import {train} from '../../src/train/loop.js'
import {runCli} from '../helpers/cli.js'
import {tinyDataset, tinyRecipe} from '../helpers/tiny-run.js'

let ar: string
let mdlm: string
let bd3lm: string
let data: string
let tmp: string

beforeAll(async () => {
  await initBackend('wasm', {quiet: true})
  data = await tinyDataset(8, 2000)
  tmp = mkdtempSync(join(tmpdir(), 'golf-kv-cli-'))
  ar = join(tmp, 'ar')
  mdlm = join(tmp, 'mdlm')
  bd3lm = join(tmp, 'bd3lm')
  const run = {max_steps: 2, eval_every: 0}
  await train({recipe: tinyRecipe({train: run, eval: {val_tokens: 256}}), dataDir: data, outDir: ar, seed: 1, backend: 'wasm'})
  const diffusionEval = {sliding_stride: null, val_tokens: 256, elbo_steps: 4}
  await train({recipe: tinyRecipe({objective: {kind: 'mdlm'}, train: run, eval: diffusionEval}), dataDir: data, outDir: mdlm, seed: 1, backend: 'wasm'})
  await train({recipe: tinyRecipe({objective: {kind: 'bd3lm', block_size: 8}, train: run, eval: diffusionEval}), dataDir: data, outDir: bd3lm, seed: 1, backend: 'wasm'})
}, 180_000)

describe('--kv-bits (built CLI)', () => {
  it('golf eval --kv-bits scores sliding through the quantized cache and reports its bytes', async () => {
    // tiny recipe: seq_len 32, D 32, 2 heads (Dh 16), 1 KV head, 2 layers. 3 bits, G = R = 8:
    // Q = 24 of 32 tokens quantized at 2·(16·3/8 + 4·16/8) = 28 bytes per layer, the other 8 at
    // 4·16 = 64: (24·2·28 + 8·2·64) / 32 = 74 bytes per token; fp16 4·2·1·16 = 128
    const r = await runCli(['eval', '--run', ar, '--val-tokens', '256', '--kv-bits', '3', '--kv-group', '8', '--kv-residual', '8', '--backend', 'wasm', '--json'])
    expect(r.code, r.stderr).toBe(0)
    const j = JSON.parse(r.stdout)
    expect(j.mode).toBe('sliding')
    expect(j.stride).toBe(16)
    expect(j.kv).toEqual({bits: 3, group: 8, residual: 8, bytes_per_token: 74, full_bytes_per_token: 128})
    expect(j.val_bpb).toBeGreaterThan(0)
    const plain = JSON.parse((await runCli(['eval', '--run', ar, '--val-tokens', '256', '--mode', 'sliding', '--backend', 'wasm', '--json'])).stdout)
    expect(plain.kv).toBeUndefined()
    expect(Math.abs(j.val_loss / plain.val_loss - 1)).toBeLessThan(0.05)
    const text = await runCli(['eval', '--run', ar, '--val-tokens', '256', '--kv-bits', '16', '--backend', 'wasm'])
    expect(text.code, text.stderr).toBe(0)
    expect(text.stdout).toMatch(/^KV cache fp16: 128 bytes\/token$/m)
    expect(text.stdout).toMatch(/^val_bpb \d+\.\d{4} \(sliding, stride 16\)/)
  }, 120_000)

  it('golf eval --kv-bits scores a BD3-LM run block by block over a quantized cache of clean blocks', async () => {
    // the AR run's dims (seq_len 32, Dh 16, 1 KV head, 2 layers): the same 74 bytes per token at 3 bits, G = R = 8
    const r = await runCli(['eval', '--run', bd3lm, '--val-tokens', '256', '--kv-bits', '3', '--kv-group', '8', '--kv-residual', '8', '--backend', 'wasm', '--json'])
    expect(r.code, r.stderr).toBe(0)
    const j = JSON.parse(r.stdout)
    expect([j.objective, j.mode, j.bound, j.block_size, j.elbo_steps]).toEqual(['bd3lm', 'elbo', true, 8, 4])
    expect(j.kv).toEqual({bits: 3, group: 8, residual: 8, bytes_per_token: 74, full_bytes_per_token: 128})
    const plain = JSON.parse((await runCli(['eval', '--run', bd3lm, '--val-tokens', '256', '--backend', 'wasm', '--json'])).stdout)
    expect(plain.kv).toBeUndefined()
    expect(plain.tokens).toBe(j.tokens)
    expect(Math.abs(j.val_loss / plain.val_loss - 1)).toBeLessThan(0.05) // the same seeded draws
    const chain = await runCli(['eval', '--run', bd3lm, '--val-tokens', '256', '--kv-bits', '16', '--mode', 'chain', '--backend', 'wasm'])
    expect(chain.code, chain.stderr).toBe(0)
    expect(chain.stdout).toMatch(/^val_bpb \d+\.\d{4} \(chain rule, block 8\)/m)
    expect(chain.stdout).toMatch(/^KV cache fp16: 128 bytes\/token$/m)
    // the artifact, rebuilt as the counted code does, scores the same way
    const art = join(tmp, 'bd3lm.golf')
    const packed = await runCli(['pack', bd3lm, '--out', art, '--json'])
    expect(packed.code, packed.stderr).toBe(0)
    const a = await runCli(['eval', '--artifact', art, '--data', data, '--val-tokens', '256', '--kv-bits', '2', '--kv-group', '8', '--kv-residual', '8', '--mode', 'chain', '--backend', 'wasm', '--json'])
    expect(a.code, a.stderr).toBe(0)
    const c = JSON.parse(a.stdout)
    expect([c.objective, c.mode, c.bound, c.kv.bits, c.tokens]).toEqual(['bd3lm', 'chain', false, 2, j.tokens])
  }, 120_000)

  it('golf sample --kv-bits decodes an AR run and a BD3-LM run', async () => {
    for (const run of [ar, bd3lm]) {
      const s = await runCli(['sample', '--run', run, '--prompt', 'The ', '--tokens', '12', '--kv-bits', '2', '--kv-group', '8', '--backend', 'wasm', '--json'])
      expect(s.code, s.stderr).toBe(0)
      expect(JSON.parse(s.stdout).tokens).toHaveLength(12)
    }
  }, 60_000)

  it.concurrent.each([
    ['eval: --kv-bits 5', () => ['eval', '--run', ar, '--kv-bits', '5'], /^golf: --kv-bits must be 2, 3, 4 or 16 \(fp16\), got 5$/],
    ['eval: --kv-group alone', () => ['eval', '--run', ar, '--kv-group', '8'], /^golf: --kv-group needs --kv-bits 2, 3 or 4$/],
    ['eval: --kv-residual -1', () => ['eval', '--run', ar, '--kv-bits', '2', '--kv-residual=-1'], /^golf: --kv-residual must be an integer >= 0, got -1$/],
    ['eval: a group that does not divide Dh', () => ['eval', '--run', ar, '--kv-bits', '2', '--backend', 'wasm'], /^golf: --kv-group 32 must divide the head dimension 16 .*; try --kv-group 16$/],
    ['eval: chunked', () => ['eval', '--run', ar, '--kv-bits', '4', '--kv-group', '8', '--mode', 'chunked', '--backend', 'wasm'], /^golf: --kv-bits needs --mode sliding: chunked evaluation scores each window in one full pass, with no KV cache$/],
    ['eval: MDLM', () => ['eval', '--run', mdlm, '--kv-bits', '3', '--backend', 'wasm'], /^golf: --kv-bits: mdlm models denoise the whole sequence as one bidirectional block; there is no KV cache to quantize$/],
    ['eval: BD3-LM, sliding', () => ['eval', '--run', bd3lm, '--kv-bits', '3', '--kv-group', '8', '--mode', 'sliding', '--backend', 'wasm'], /^golf: --mode sliding does not apply to bd3lm models \(their modes: elbo, chain\)$/],
    ['sample: MDLM', () => ['sample', '--run', mdlm, '--kv-bits', '3', '--kv-group', '8', '--backend', 'wasm'], /^golf: --kv-bits: mdlm denoises its whole sequence of 32 as one bidirectional block; there is no cache of clean blocks to quantize$/],
    ['sample: --kv-bits 1', () => ['sample', '--run', ar, '--kv-bits', '1'], /^golf: --kv-bits must be 2, 3, 4 or 16 \(fp16\), got 1$/],
  ])('%s → one line, exit 2', async (_, args, pattern) => {
    const r = await runCli(args())
    expect(r.code, r.stderr).toBe(2)
    expect(r.stderr.trim()).toMatch(pattern)
    expect(r.stderr.trim().split('\n')).toHaveLength(1)
  }, 60_000)
})
