/**
 * The export's quantizer is golf's, bit for bit: on the same weights, the trits and stored scales
 * of every ternary tensor (golf's `ternarize` on wasm against the export's `quantize`) and the
 * stored value of every float tensor (`roundToFloatFormat`) are identical. The weights are chosen
 * to reach every branch: groups with values at exactly s/2 (the |w| > s/2 test), all-zero groups
 * and groups below TERNARY_EPS, scales past fp16's range and spread over e4m3's, float values
 * from float32 subnormals to past fp16's largest, exact zeros and −0; plus plain random groups,
 * where summing in another order than golf's would round some scales differently.
 */
import * as tf from '@tensorflow/tfjs-core'
import {join} from 'node:path'
import {afterAll, beforeAll, expect, it} from 'vitest'

import {initBackend} from '../../src/backend/index.js'
import {exportedRecipe} from '../../src/export/torch/header.js'
import {readSafetensors} from '../../src/io/safetensors.js'
import type {ParamSpec} from '../../src/model/config.js'
import {roundToFloatFormat} from '../../src/quant/float-store.js'
import {quantizeOnDevice} from '../../src/pack/quantize-device.js'
import {groupLayout} from '../../src/quant/ternary.js'
import {ternaryConfigOf} from '../../src/recipe/recipe.js'
import {buildModel} from '../../src/run/build-model.js'
import {namedRandom} from '../../src/util/random.js'
import {describeWithTorch, exportRecipe, runExport, scratch, writeWeights} from './torch-peer.js'

const CONFIGS: Array<{name: string; sets: string[]}> = [
  {name: 'groups of 128, fp16 scales, fp16 floats', sets: []},
  {name: 'groups of 64, e4m3 scales, e4m3 floats', sets: ['quant.group_size=64', 'quant.scale_format=e4m3', 'quant.float_format=e4m3']},
  {name: 'row groups, bf16 scales, bf16 floats, no zero correction', sets: ['quant.group_size=row', 'quant.scale_format=bf16', 'quant.float_format=bf16', 'quant.zero_correction=false']},
  {name: 'whole-tensor groups, fp32 scales, e5m2 floats', sets: ['quant.group_size=tensor', 'quant.scale_format=fp32', 'quant.float_format=e5m2']},
  {name: 'groups of 32, fp32 scales (every ulp of a sum shows), fp32 floats', sets: ['quant.group_size=32', 'quant.scale_format=fp32', 'quant.float_format=fp32']},
]

/**
 * A ternary weight whose rows take turns: random; a tie group (80 entries ±3, 16 entries ±1, 32
 * zeros: mean |w| = 2 exactly, so the ±1 sit at exactly s/2); all zeros; values far below
 * TERNARY_EPS; values past fp16's largest scale; random at a row-dependent magnitude (e4m3's
 * per-tensor base and its smallest code).
 */
function ternaryWeight(spec: ParamSpec, seed: number): Float32Array {
  const [rows, cols] = spec.shape
  const rand = namedRandom(seed, spec.name)
  const sign = () => (rand() < 0.5 ? -1 : 1)
  const w = new Float32Array(rows * cols)
  for (let r = 0; r < rows; r++) {
    const row = w.subarray(r * cols, (r + 1) * cols)
    switch (r % 6) {
      case 0:
        for (let c = 0; c < cols; c++) row[c] = (2 * rand() - 1) / Math.sqrt(cols)
        break
      case 1:
        for (let c = 0; c < cols; c++) row[c] = (c % 128 < 80 ? 3 : c % 128 < 96 ? 1 : 0) * sign()
        break
      case 2:
        break // zeros
      case 3:
        for (let c = 0; c < cols; c++) row[c] = (2 * rand() - 1) * 1e-6
        break
      case 4:
        for (let c = 0; c < cols; c++) row[c] = (1 + rand()) * 1e5 * sign()
        break
      default:
        for (let c = 0; c < cols; c++) row[c] = (2 * rand() - 1) * 10 ** (-4 + 5 * ((r * 7919) % 97) / 97)
    }
  }
  return w
}

/** A float tensor over float32's range: magnitudes 10^-40 … 10^6, exact zeros and −0. */
function floatWeight(spec: ParamSpec, seed: number): Float32Array {
  const rand = namedRandom(seed, spec.name)
  const n = spec.shape.reduce((a, b) => a * b, 1)
  return Float32Array.from({length: n}, (_, i) => {
    if (i % 37 === 0) return 0
    if (i % 41 === 0) return -0
    const mag = 10 ** (-40 + 46 * rand())
    return (rand() < 0.5 ? -1 : 1) * (i % 3 === 0 ? mag : (2 * rand() - 1) * 2) // a third spread wide, the rest ordinary
  })
}

const bitsOf = (x: Float32Array) => new Uint32Array(x.buffer, x.byteOffset, x.length)

const summary: string[] = []

beforeAll(async () => {
  await initBackend('wasm', {quiet: true})
})

afterAll(() => {
  if (summary.length > 0) console.info(`export torch, quantizer against golf's (wasm):\n  ${summary.join('\n  ')}`)
})

describeWithTorch('golf export torch: the quantizer', (python) => {
  it.each(CONFIGS)('identical trits, scales and stored floats: $name', async ({name, sets}) => {
    const dir = scratch('quant')
    const {recipe, file} = exportRecipe(dir, 'tiny-cpu', sets)
    const model = buildModel(exportedRecipe(recipe), 1)
    const weights = new Map(model.specs.map((s) => [s.name, s.ternary ? ternaryWeight(s, 3) : floatWeight(s, 3)]))
    writeWeights(join(dir, 'w.safetensors'), model, weights)
    await runExport(python, file, ['quantize', '--weights', join(dir, 'w.safetensors'), '--out', join(dir, 'q.safetensors')])
    const stored = readSafetensors(join(dir, 'q.safetensors')).tensors
    const cfg = ternaryConfigOf(recipe.quant)

    let groups = 0
    let groupsDiffering = 0
    let floats = 0
    let floatsDiffering = 0
    let zeroTrits = 0
    let trits = 0
    for (const spec of model.specs) {
      const w = weights.get(spec.name)!
      if (spec.ternary) {
        const shape = spec.shape as [number, number]
        const {trits: golfTrits, scales: golfScales} = quantizeOnDevice(w, shape, cfg)
        const golf = {q: golfTrits, scales: golfScales}
        const q = stored.get(`${spec.name}.trits`)!
        const scales = stored.get(`${spec.name}.scales`)!
        expect(q.dtype).toBe('I8')
        expect(q.shape).toEqual(shape)
        const {groupLen, numGroups} = groupLayout(shape, cfg.groupSize)
        expect(scales.data.length).toBe(numGroups)
        const a = bitsOf(golf.scales)
        const b = bitsOf(scales.data as Float32Array)
        const tq = q.data as Int8Array
        for (let g = 0; g < numGroups; g++) {
          let same = a[g] === b[g]
          for (let i = g * groupLen; same && i < (g + 1) * groupLen; i++) same = golf.q[i] === tq[i]
          if (!same) groupsDiffering++
        }
        groups += numGroups
        trits += tq.length
        zeroTrits += tq.filter((t) => t === 0).length
      } else {
        const golf = tf.tidy(() => Float32Array.from(roundToFloatFormat(tf.tensor(w, spec.shape), recipe.quant.float_format).dataSync()))
        const t = stored.get(spec.name)!
        expect(t.shape).toEqual(spec.shape)
        const a = bitsOf(golf)
        const b = bitsOf(t.data as Float32Array)
        for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) floatsDiffering++
        floats += a.length
      }
    }
    summary.push(`${name}: ${groupsDiffering} of ${groups} groups differ (trits or scale bits; ${zeroTrits} of ${trits} trits are 0), ${floatsDiffering} of ${floats} stored floats differ`)
    expect(groupsDiffering).toBe(0)
    expect(floatsDiffering).toBe(0)
    model.dispose()
  })
})
