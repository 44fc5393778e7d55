/**
 * THE quantizer (`ternarize`, src/quant/ternary.ts) run once on one weight for packing, with
 * the results copied to the host: trits as int8 and the stored scales. Shared by both pack
 * sources (golf runs and plain safetensors files).
 */
import * as tf from '@tensorflow/tfjs-core'

import {ternaryQToInt8} from '../quant/ternary-host.js'
import {ternarize, type TernaryConfig} from '../quant/ternary.js'

export function quantizeOnDevice(data: Float32Array, shape: [number, number], cfg: TernaryConfig): {trits: Int8Array; scales: Float32Array} {
  const w = tf.tensor2d(data, shape, 'float32')
  const {q, scales, deq} = ternarize(w, cfg)
  try {
    return {trits: ternaryQToInt8(q.dataSync() as Float32Array), scales: Float32Array.from(scales.dataSync() as Float32Array)}
  } finally {
    for (const t of [w, q, scales, deq]) t.dispose()
  }
}
