/**
 * Preparing a plain safetensors file (e.g. from PyTorch) for packing: 2-D tensors whose names
 * match a `ternary` glob (`*` = one dotted segment, `**` = anything) are ternarized with the
 * given group size, scale format and zero correction (weights `[out, in]`, groups along the
 * last dim); every other tensor is stored as `floatDtype` (default f16) unless a
 * `floatOverrides` glob says otherwise. F16/BF16/F8 inputs are widened with `toFloat32` first.
 * Tensor order: the file's.
 */
import {basename} from 'node:path'

import {currentBackend, initBackend} from '../backend/index.js'
import {InputError} from '../errors.js'
import {readSafetensors, toFloat32} from '../io/safetensors.js'
import {globToRegExp} from '../model/config.js'
import type {TernaryConfig} from '../quant/ternary.js'
import type {ArtifactTensorInput} from './artifact.js'
import type {PackOptions, PreparedModel} from './pack-model.js'
import {quantizeOnDevice} from './quantize-device.js'

export async function prepareSafetensors(path: string, opts: PackOptions): Promise<PreparedModel> {
  const notes: string[] = []
  const patterns = opts.ternary ?? []
  const groupSize = opts.groupSize ?? 128
  const scaleFormat = opts.scaleFormat ?? 'fp16'
  const zeroCorrection = opts.zeroCorrection ?? true
  const floatDtype = opts.floatDtype ?? 'f16'
  const overrides = (opts.floatOverrides ?? []).map((o) => ({...o, re: globToRegExp(o.pattern)}))
  const res = patterns.map((p) => ({p, re: globToRegExp(p), hits: 0}))
  const file = readSafetensors(path)
  let backend = currentBackend()?.name ?? 'none'
  const cfg: TernaryConfig = {groupSize, scaleFormat, zeroCorrection}
  const tensors: ArtifactTensorInput[] = []
  for (const [name, t] of file.tensors) {
    const data = toFloat32(t)
    const match = res.filter((r) => r.re.test(name))
    for (const r of match) r.hits++
    if (match.length > 0 && t.shape.length === 2 && data.length > 0) {
      if (backend === 'none') backend = (await initBackend(opts.backend ?? 'wasm', {quiet: true})).name
      const shape = t.shape as [number, number]
      let q: {trits: Int8Array; scales: Float32Array}
      try {
        q = quantizeOnDevice(data, shape, cfg)
      } catch (err) {
        if (err instanceof InputError) throw new InputError(`${path}: tensor "${name}": ${err.message}`)
        throw err
      }
      tensors.push({name, shape: [...t.shape], kind: 'ternary', ...q, scaleFormat, groupSize, codec: 'auto'})
    } else {
      if (match.length > 0) notes.push(`tensor "${name}" matches --ternary but is not a non-empty 2-D matrix (shape [${t.shape.join(', ')}]): stored as a float`)
      const dtype = overrides.find((o) => o.re.test(name))?.dtype ?? floatDtype
      tensors.push({name, shape: [...t.shape], kind: 'float', data, dtype})
    }
  }
  for (const r of res) if (r.hits === 0) throw new InputError(`--ternary ${r.p}: matches no tensor in ${path}`)
  for (const o of overrides) if (![...file.tensors.keys()].some((n) => o.re.test(n))) throw new InputError(`--float ${o.pattern}=${o.dtype}: matches no tensor in ${path}`)
  return {
    kind: 'safetensors',
    source: path,
    model: {source: 'safetensors', file: basename(path)},
    quant: {
      ternary: [...patterns],
      group_size: groupSize,
      scale_format: scaleFormat,
      zero_correction: zeroCorrection,
      float_dtype: floatDtype,
      float_overrides: (opts.floatOverrides ?? []).map((o) => `${o.pattern}=${o.dtype}`),
    },
    tensors,
    exact: false,
    notes,
    backend,
    crossBackend: null,
  }
}
