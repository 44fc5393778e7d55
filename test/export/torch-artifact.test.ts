/**
 * The export reads golf's artifact as golf does and scores it the same:
 * - decoding: artifacts written by golf's writer with every trit codec, scale format, group
 *   layout, float dtype and outer compression, decoded by golf's reader and by the export's
 *   `unpack`, compared bit for bit (values, trits, scales);
 * - the byte table: byte260 and a SentencePiece model (the sp1024 fixture), against golf's;
 * - the score: an AR model's artifact evaluated by `golf eval --artifact` and by the export's
 *   `eval` on the built-in corpus, chunked and sliding: the same targets, the same bytes, val_bpb
 *   within 1e-6.
 */
import {cpSync, readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterAll, beforeAll, expect, it} from 'vitest'

import {initBackend} from '../../src/backend/index.js'
import {ensureBuiltinDataset} from '../../src/data/dataset.js'
import {writeShard} from '../../src/data/shard.js'
import {loadValidationTokens} from '../../src/data/stream.js'
import {exportedRecipe} from '../../src/export/torch/header.js'
import {readSafetensors} from '../../src/io/safetensors.js'
import {readArtifact, writeArtifact, type ArtifactTensorInput, type FloatDtype} from '../../src/pack/artifact.js'
import {TRIT_CODEC_NAMES, type TritCodecName} from '../../src/pack/codecs/index.js'
import type {CompressName} from '../../src/pack/compress.js'
import {modelInfoOf} from '../../src/pack/model-info.js'
import {quantizeOnDevice} from '../../src/pack/quantize-device.js'
import type {GroupSize, ScaleFormat} from '../../src/quant/ternary.js'
import {ternaryConfigOf} from '../../src/recipe/recipe.js'
import {buildModel} from '../../src/run/build-model.js'
import {Byte260Tokenizer, parseSentencePieceModel, buildByteTable} from '../../src/tokenizer/index.js'
import {namedRandom} from '../../src/util/random.js'
import {runCli} from '../helpers/cli.js'
import {FIXTURES} from '../tokenizer/fixtures.js'
import {describeWithTorch, exportRecipe, randomizeGolfWeights, runExport, runPython, scratch} from './torch-peer.js'

const summary: string[] = []

beforeAll(async () => {
  await initBackend('wasm', {quiet: true})
})

afterAll(() => {
  if (summary.length > 0) console.info(`export torch, artifacts:\n  ${summary.join('\n  ')}`)
})

/** Random weights [rows, cols], some rows mostly zero after quantization (the entropy coder's zero-window model then pays). */
function weights(name: string, rows: number, cols: number): Float32Array {
  const rand = namedRandom(3, name)
  return Float32Array.from({length: rows * cols}, (_, i) => (2 * rand() - 1) * (Math.floor(i / cols) % 4 === 0 ? 0.05 + 3 * (rand() < 0.05 ? 1 : 0) : 1))
}

/** A ternary tensor as golf's quantizer makes it. */
function ternaryTensor(name: string, shape: [number, number], groupSize: GroupSize, scaleFormat: ScaleFormat, codec: TritCodecName | 'auto'): ArtifactTensorInput {
  const {trits, scales} = quantizeOnDevice(weights(name, ...shape), shape, {groupSize, scaleFormat, zeroCorrection: true})
  return {name, shape, kind: 'ternary', trits, scales, scaleFormat, groupSize, codec}
}

function floatTensor(name: string, shape: number[], dtype: FloatDtype): ArtifactTensorInput {
  const rand = namedRandom(5, name)
  const n = shape.reduce((a, b) => a * b, 1)
  return {name, shape, kind: 'float', dtype, data: Float32Array.from({length: n}, (_, i) => (i % 17 === 0 ? 0 : (2 * rand() - 1) * 10 ** (4 * rand() - 2)))}
}

const bits = (x: Float32Array) => new Uint32Array(x.buffer, x.byteOffset, x.length)

function sameBits(a: Float32Array, b: Float32Array): boolean {
  if (a.length !== b.length) return false
  const x = bits(a)
  const y = bits(b)
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false
  return true
}

describeWithTorch('golf export torch: artifacts', (python) => {
  let file = ''
  let dir = ''
  beforeAll(() => {
    dir = scratch('artifact')
    file = exportRecipe(dir, 'tiny-cpu').file
  })

  const tensors = (): ArtifactTensorInput[] => [
    ...TRIT_CODEC_NAMES.map((codec, i) => ternaryTensor(`t.${codec}`, [64, 256], ([128, 'row', 'tensor', 32] as const)[i], (['fp16', 'bf16', 'fp32', 'e4m3'] as const)[i], codec)),
    ternaryTensor('t.odd', [3, 35], 'row', 'e4m3', 'base3'), // 105 trits: a last base-3 byte of 0 trits, 2bit/bitmask tails
    ternaryTensor('t.odd2', [5, 7], 7, 'fp16', '2bit'),
    ternaryTensor('t.odd3', [5, 9], 'tensor', 'bf16', 'bitmask'),
    ternaryTensor('t.order0', [8, 64], 64, 'fp16', 'entropy'), // under 4096 trits: the order-0 model
    ...(['f32', 'f16', 'bf16', 'e4m3', 'int8_row', 'e4m3_row', 'e5m2_row'] as const).flatMap((dtype) => [floatTensor(`f.${dtype}.2d`, [12, 40], dtype), floatTensor(`f.${dtype}.1d`, [33], dtype), floatTensor(`f.${dtype}.3d`, [2, 3, 5], dtype)]),
    floatTensor('f.scalar', [], 'f16'),
  ]

  it.each(['none', 'deflate', 'lzma', 'xz'] as CompressName[])('decodes every codec, scale format and dtype bit for bit: %s', async (compress) => {
    const input = tensors()
    const {bytes} = writeArtifact({model: {note: 'codec test'}, quant: {}, tensors: input, compress})
    const path = join(dir, `codecs-${compress}.golf`)
    writeFileSync(path, bytes)
    const golf = readArtifact(bytes).tensors
    await runExport(python, file, ['unpack', '--artifact', path, '--out', join(dir, `unpacked-${compress}.safetensors`)])
    const py = readSafetensors(join(dir, `unpacked-${compress}.safetensors`)).tensors
    let compared = 0
    for (const t of input) {
      const g = golf.get(t.name)!
      const values = py.get(t.name)!
      expect(values.shape, t.name).toEqual(t.shape)
      expect(sameBits(g.data!, values.data as Float32Array), `${t.name} values`).toBe(true)
      if (t.kind === 'ternary') {
        expect(Array.from(py.get(`${t.name}.trits`)!.data as Int8Array), `${t.name} trits`).toEqual(Array.from(g.trits!))
        expect(sameBits(g.scales!, py.get(`${t.name}.scales`)!.data as Float32Array), `${t.name} scales`).toBe(true)
      }
      compared += g.data!.length
    }
    if (compress === 'none') summary.push(`decode: ${input.length} tensors (${compared} values) bit-identical under none, deflate, lzma and xz`)
  })

  it('says in one line what to do with a brotli body when Python has no brotli', async () => {
    const path = join(dir, 'codecs-brotli.golf')
    writeFileSync(path, writeArtifact({model: {}, quant: {}, tensors: tensors().slice(0, 2), compress: 'brotli'}).bytes)
    const hasBrotli = (await runPython(python, ['-c', 'import brotli'])).code === 0
    const r = await runPython(python, [file, 'unpack', '--artifact', path, '--out', join(dir, 'b.safetensors')])
    if (hasBrotli) expect(r.code).toBe(0)
    else {
      expect(r.code).toBe(2)
      expect(r.stderr).toMatch(/^train_gpt\.py: the artifact body is brotli-compressed .*golf pack --compress xz/)
      expect(r.stderr.trim().split('\n')).toHaveLength(1)
    }
  })

  it('builds the official byte table: byte260 and SentencePiece', async () => {
    const b260 = new Byte260Tokenizer().byteTable()
    const sp = buildByteTable(parseSentencePieceModel(new Uint8Array(readFileSync(join(FIXTURES, 'sp1024.model'))), 'sp1024.model').pieces)
    for (const [spec, table] of [['byte260', b260], [join(FIXTURES, 'sp1024.model'), sp]] as const) {
      const t = JSON.parse(await runExport(python, file, ['byte-table', '--tokenizer', spec]))
      expect(t.base_bytes, spec).toEqual(Array.from(table.baseBytes))
      expect(t.has_leading_space, spec).toEqual(Array.from(table.hasLeadingSpace))
      expect(t.is_boundary, spec).toEqual(Array.from(table.isBoundary))
    }
  })

  it('scores an artifact as golf eval --artifact does: chunked and sliding, val_bpb within 1e-6', async () => {
    const data = await ensureBuiltinDataset()
    // a tiny-cpu model, random weights, quantized and stored as golf packs a run
    const {recipe} = exportRecipe(dir, 'tiny-cpu')
    const model = buildModel(exportedRecipe(recipe), 1)
    const w = randomizeGolfWeights(model, 21)
    for (const [i, v] of w.get('tok_emb.weight')!.entries()) w.get('tok_emb.weight')![i] = 0.1 * v // logits of a few nats, as a trained model's
    const cfg = ternaryConfigOf(recipe.quant)
    const input: ArtifactTensorInput[] = model.specs.map((s) => {
      if (!s.ternary) return {name: s.name, shape: s.shape, kind: 'float', dtype: 'f16', data: w.get(s.name)!}
      const {trits, scales} = quantizeOnDevice(w.get(s.name)!, s.shape as [number, number], cfg)
      return {name: s.name, shape: s.shape, kind: 'ternary', trits, scales, scaleFormat: cfg.scaleFormat, groupSize: cfg.groupSize, codec: 'auto'}
    })
    model.dispose()
    const artifact = join(dir, 'model.golf')
    writeFileSync(artifact, writeArtifact({model: modelInfoOf(recipe, exportedRecipe(recipe).model, 260, 'byte260'), quant: {...recipe.quant}, tensors: input, compress: 'xz'}).bytes)

    for (const [mode, extra, tokens] of [['chunked', [], 32_768], ['sliding', ['--stride', '64'], 8_192]] as const) {
      const args = ['--artifact', artifact, '--data', data, '--val-tokens', String(tokens), ...extra]
      const g = await runCli(['eval', ...args, '--mode', mode, '--json'])
      expect(g.code, g.stderr).toBe(0)
      const golf = JSON.parse(g.stdout)
      const py = JSON.parse(await runExport(python, file, ['eval', ...args, '--json']))
      expect(py.tokens).toBe(golf.tokens)
      expect(py.bytes).toBe(golf.bytes)
      const diff = Math.abs(py.val_bpb - golf.val_bpb)
      summary.push(`eval ${mode}${mode === 'sliding' ? ' (stride 64)' : ''}, first ${tokens} validation tokens: golf val_bpb ${golf.val_bpb.toFixed(8)}, torch ${py.val_bpb.toFixed(8)}, |Δ| ${diff.toExponential(2)}`)
      expect(diff).toBeLessThanOrEqual(1e-6)
    }

    // a CaseOps-style dataset: the byte sidecar is no validation shard, and its counts are the bytes
    const caseops = join(dir, 'caseops')
    cpSync(data, caseops, {recursive: true})
    const counts = Uint16Array.from(loadValidationTokens(data), (id, p) => (id === 1 ? 0 : 1 + (p % 3))) // BOS (id 1) 0, else 1–3 by position
    writeShard(join(caseops, 'fineweb_val_bytes_000000.bin'), counts)
    const args = ['--artifact', artifact, '--data', caseops, '--val-tokens', '8192']
    const g = await runCli(['eval', ...args, '--json'])
    expect(g.code, g.stderr).toBe(0)
    const golf = JSON.parse(g.stdout)
    expect(golf.bytes).toBe(counts.subarray(1, 1 + golf.tokens).reduce((a, b) => a + b, 0))
    const py = JSON.parse(await runExport(python, file, ['eval', ...args, '--json']))
    expect([py.tokens, py.bytes]).toEqual([golf.tokens, golf.bytes])
    expect(Math.abs(py.val_bpb - golf.val_bpb)).toBeLessThanOrEqual(1e-6)
  })
})
