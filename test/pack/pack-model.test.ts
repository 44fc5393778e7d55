import {mkdtempSync, readFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import * as tf from '@tensorflow/tfjs-core'
import {beforeAll, describe, expect, it} from 'vitest'

import {initBackend} from '../../src/backend/index.js'
import {InputError} from '../../src/errors.js'
import {writeSafetensors} from '../../src/io/safetensors.js'
import {GPT} from '../../src/model/gpt.js'
import {readArtifact} from '../../src/pack/artifact.js'
import {packPrepared, packSource, parseFloatOverride, prepareSource} from '../../src/pack/pack-model.js'
import {unpackToSafetensors} from '../../src/pack/unpack.js'
import {f32ToBf16Bits, bf16BitsToF32} from '../../src/quant/float-formats.js'
import {DEFAULT_TERNARY} from '../../src/quant/ternary.js'
import {loadRunModel} from '../../src/run/load.js'
import {train} from '../../src/train/loop.js'
import {readSafetensors} from '../../src/io/safetensors.js'
import {tinyDataset, tinyRecipe} from '../helpers/tiny-run.js'

function bytesOf(a: Float32Array): Buffer {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength)
}

let runDir = ''
let stagedDir = ''
let dataDir = ''

beforeAll(async () => {
  dataDir = await tinyDataset(8, 2000)
  const root = mkdtempSync(join(tmpdir(), 'golf-pack-'))
  runDir = join(root, 'run')
  stagedDir = join(root, 'staged')
  await train({recipe: tinyRecipe({train: {max_steps: 3, eval_every: 0}}), dataDir, outDir: runDir, seed: 3, backend: 'wasm'})
  // staged quantization that never switched on: the checkpoint is a float model
  await train({recipe: tinyRecipe({train: {max_steps: 2, eval_every: 0}, quant: {start_frac: 0.99}}), dataDir, outDir: stagedDir, seed: 3, backend: 'wasm'})
}, 120_000)

describe('pack a golf run', () => {
  it('unpack(pack(run)) is, byte for byte, what the training forward pass used', async () => {
    const packed = await packSource(runDir)
    expect(packed.prepared.exact).toBe(true)
    expect(packed.prepared.notes).toEqual([])
    const {model} = loadRunModel(runDir)
    expect(model.quantActive).toBe(true)
    const used = model.dequantizedWeights()
    const {tensors, manifest} = readArtifact(packed.bytes)
    expect([...tensors.keys()]).toEqual([...used.keys()])
    const ternary = model.specs.filter((s) => s.ternary).map((s) => s.name)
    expect(ternary.length).toBeGreaterThan(0)
    expect(manifest.quant.ternary_tensors).toEqual(ternary)
    for (const [name, w] of used) {
      const t = tensors.get(name)!
      expect(t.kind, name).toBe(ternary.includes(name) ? 'ternary' : 'float')
      expect(bytesOf(t.data!).equals(bytesOf(w)), name).toBe(true)
    }
    // float tensors are stored as fp16 (the tiny recipe's float_format default)
    expect(manifest.tensors.filter((t) => t.kind === 'float').every((t) => t.codec === 'f16')).toBe(true)
    expect(manifest.model).toMatchObject({config: model.cfg, recipe: 'tiny-test', seq_len: 32, vocab_size: 260, tokenizer: 'byte260'})

    // logits of the unpacked weights (plain float model) = logits of the run's model, bit for bit
    const dir = mkdtempSync(join(tmpdir(), 'golf-unpack-'))
    const out = join(dir, 'w.safetensors')
    unpackToSafetensors(packed.bytes, out)
    const file = readSafetensors(out)
    expect(JSON.parse(file.metadata.golf_manifest)).toEqual(manifest)
    const plain = new GPT(model.cfg, {seed: 0, ternary: {patterns: [], config: DEFAULT_TERNARY}})
    plain.loadWeights(new Map([...file.tensors].map(([n, t]) => [n, t.data as Float32Array])))
    const tokens = tf.tensor2d(Int32Array.from({length: 64}, (_, i) => (i * 37) % 260), [2, 32], 'int32')
    const a = model.forward(tokens)
    const b = plain.forward(tokens)
    expect(bytesOf(a.dataSync() as Float32Array).equals(bytesOf(b.dataSync() as Float32Array))).toBe(true)
    for (const t of [tokens, a, b]) t.dispose()
    model.dispose()
    plain.dispose()
  }, 60_000)

  it('gives the same bytes for the same input, from the folder or its checkpoint file', async () => {
    const a = await packSource(runDir, {codec: 'auto', compress: 'brotli'})
    const b = await packSource(join(runDir, 'checkpoint.safetensors'), {codec: 'auto', compress: 'brotli'})
    expect(Buffer.from(a.bytes).equals(Buffer.from(b.bytes))).toBe(true)
    const c = packPrepared(a.prepared, {codec: 'base3', compress: 'none'})
    expect(c.report.tensors.filter((t) => t.kind === 'ternary').every((t) => t.codec === 'base3')).toBe(true)
    expect(c.report.compress).toBe('none')
  }, 60_000)

  it('a run whose quantizer never switched on is packed, and says the roundtrip is not exact', async () => {
    const packed = await packSource(stagedDir)
    expect(packed.prepared.exact).toBe(false)
    expect(packed.prepared.notes.join('\n')).toMatch(/quantizer was not active yet \(step 2, quant.start_frac 0.99\).*will not be exact/)
    expect(packed.report.ternary.params).toBeGreaterThan(0)
  }, 60_000)

  it('refuses foreign-file flags on a run', async () => {
    await expect(prepareSource(runDir, {groupSize: 64})).rejects.toThrow(`--group-size applies to plain safetensors files; ${runDir} is a golf run, whose checkpoint carries its quantizer settings`)
  })
})

describe('pack any safetensors file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'golf-foreign-'))
  const file = join(dir, 'model.safetensors')
  const w = Float32Array.from({length: 8 * 32}, (_, i) => Math.sin(i * 0.7) * 0.1)
  const bias = Float32Array.from({length: 8}, (_, i) => i / 8)
  const emb = Uint16Array.from({length: 4 * 8}, (_, i) => f32ToBf16Bits((i - 16) / 32))
  beforeAll(async () => {
    await initBackend('wasm', {quiet: true})
    writeSafetensors(file, new Map<string, {dtype: 'F32' | 'BF16'; shape: number[]; data: Float32Array | Uint16Array}>([
      ['layer.0.fc.weight', {dtype: 'F32', shape: [8, 32], data: w}],
      ['layer.0.fc.bias', {dtype: 'F32', shape: [8], data: bias}],
      ['emb', {dtype: 'BF16', shape: [4, 8], data: emb}],
    ]))
  })

  it('ternarizes the matching 2-D tensors with the shared quantizer and stores the rest as floats', async () => {
    const packed = await packSource(file, {ternary: ['layer.*.fc.weight'], groupSize: 16, scaleFormat: 'bf16', floatOverrides: [parseFloatOverride('emb=bf16')], compress: 'none'})
    const {tensors, manifest} = readArtifact(packed.bytes)
    expect(manifest.quant).toMatchObject({group_size: 16, scale_format: 'bf16', ternary: ['layer.*.fc.weight'], float_dtype: 'f16'})
    const t = tensors.get('layer.0.fc.weight')!
    expect(t.kind).toBe('ternary')
    expect(t.scales!.length).toBe(16)
    // the quantizer itself, on device, gives the same q·d
    const {ternarize} = await import('../../src/quant/ternary.js')
    const r = ternarize(tf.tensor2d(w, [8, 32]), {groupSize: 16, scaleFormat: 'bf16', zeroCorrection: true})
    expect(bytesOf(t.data!).equals(bytesOf(r.deq.dataSync() as Float32Array))).toBe(true)
    r.q.dispose()
    r.scales.dispose()
    r.deq.dispose()
    expect(manifest.tensors.find((m) => m.name === 'layer.0.fc.bias')!.codec).toBe('f16')
    expect(Array.from(tensors.get('emb')!.data!)).toEqual(Array.from(emb, (h) => bf16BitsToF32(h)))
  })

  it('one-line errors for globs that match nothing, bad group sizes and bad --float', async () => {
    await expect(packSource(file, {ternary: ['nope.*']})).rejects.toThrow(`--ternary nope.*: matches no tensor in ${file}`)
    await expect(packSource(file, {ternary: ['layer.**'], groupSize: 12})).rejects.toThrow(`${file}: tensor "layer.0.fc.weight": ternary: group size 12 does not divide the input dimension 32 of a [8, 32] weight`)
    expect(() => parseFloatOverride('emb=fp64')).toThrow('--float emb=fp64: unknown dtype "fp64" (expected one of f32, f16, bf16, e4m3, int8_row, e4m3_row, e5m2_row)')
    expect(() => parseFloatOverride('=f16')).toThrow(InputError)
    await expect(packSource(join(dir, 'missing.safetensors'))).rejects.toThrow(`pack source not found: ${join(dir, 'missing.safetensors')}`)
  })

  it('is deterministic', async () => {
    const a = await packSource(file, {ternary: ['**.weight'], groupSize: 8})
    const b = await packSource(file, {ternary: ['**.weight'], groupSize: 8})
    expect(Buffer.from(a.bytes).equals(Buffer.from(b.bytes))).toBe(true)
    expect(readFileSync(file).length).toBeGreaterThan(0)
  })
})
