/**
 * Preparing a golf run for packing: the checkpoint's weights → the tensors its artifact stores.
 *
 * The quantizer settings, ternary tensor list and model config come from the checkpoint
 * sidecar. Ternary tensors are quantized by THE quantizer (`ternarize`) on the backend the
 * checkpoint was trained on, when it loads here: reductions (mean |w|) sum in a backend's own
 * order and fp16 scales can round the other way on another, so only the same backend gives the
 * trained bits for certain. When it does not load (or `--backend` asks for another), the run is
 * quantized on the backend that does, `exact` is false, a note says the artifact crosses
 * backends, and the manifest records `quant.quantized_on` so `golf verify` knows to measure
 * the gap rather than expect none. Float tensors are stored in the recipe's `quant.float_format`,
 * taking the values the forward pass used (already rounded to that format), so they encode
 * exactly (fp8: the per-row scales and codes found again from those values are the ones
 * training used; the safety check below proves it tensor by tensor).
 *
 * Safety check, always: every tensor rebuilt on the host from what is stored (q·d, decoded
 * floats) must equal `model.dequantizedWeights()` (on the quantizing backend) bit for bit, else
 * an Error names the tensor. When the checkpoint's quantizer was not yet active (a staged run
 * stopped early), the ternary tensors are still quantized, `exact` is false and a note says the
 * roundtrip will not be exact.
 */
import {initRecordedBackend, type BackendName} from '../backend/index.js'
import {decodeBf16, decodeF16, dequantizeFp8PerRow, encodeBf16, encodeF16, quantizeFp8PerRow} from '../quant/float-formats.js'
import {dequantizeTernary} from '../quant/ternary-host.js'
import {objectiveConfigOf, ternaryConfigOf} from '../recipe/recipe.js'
import {checkpointBackend} from '../run/checkpoint.js'
import {loadRunModel, readRunConfig} from '../run/load.js'
import {type ArtifactTensorInput, FLOAT_DTYPE_OF_FORMAT, type FloatDtype} from './artifact.js'
import {FLOAT_ACTIVATIONS} from '../quant/activations.js'
import {modelInfoOf} from './model-info.js'
import type {PreparedModel} from './pack-model.js'
import {quantizeOnDevice} from './quantize-device.js'


function sameBits(a: Float32Array, b: Float32Array): boolean {
  return a.length === b.length && Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength))
}

/** The values a float tensor of `shape` reads back as from an artifact (the run storage formats only). */
function storedFloat(data: Float32Array, shape: readonly number[], dtype: FloatDtype): Float32Array {
  if (dtype === 'f16') return decodeF16(encodeF16(data))
  if (dtype === 'bf16') return decodeBf16(encodeBf16(data))
  if (dtype === 'f32') return data
  if (dtype === 'e4m3_row' || dtype === 'e5m2_row') {
    const fmt = dtype === 'e4m3_row' ? 'e4m3' : 'e5m2'
    const cols = shape.length === 0 ? 1 : shape[shape.length - 1]
    const rows = cols === 0 ? 0 : data.length / cols
    const {codes, scales} = quantizeFp8PerRow(data, rows, cols, fmt)
    return dequantizeFp8PerRow(codes, scales, rows, cols, fmt)
  }
  throw new Error(`storedFloat: ${dtype} is not a run storage format`)
}

export async function prepareRun(source: string, runDir: string, opts: {backend?: BackendName} = {}): Promise<PreparedModel> {
  const notes: string[] = []
  const {run, config: runConfig} = readRunConfig(runDir)
  const trained = checkpointBackend(run, runConfig.backend)
  const be = await initRecordedBackend(trained, {override: opts.backend, fallback: 'wasm'})
  const backend = be.info
  if (!be.same) {
    notes.push(
      `crosses backends: the run trained on ${trained}, its quantizer runs on ${backend.name} here (${be.why}); reductions and fp16 scales may round differently, ` +
        `so the artifact may differ from the trained weights in a few values: golf verify measures the gap`,
    )
  }
  const {config, meta, model} = loadRunModel(runDir)
  try {
    const q = meta.quant
    const ternaryCfg = ternaryConfigOf(q)
    const floatDtype = q.mode === 'ternary' ? FLOAT_DTYPE_OF_FORMAT[q.float_format] : 'f32'
    const active = meta.quant.active
    const used = model.dequantizedWeights() // exactly what the forward pass multiplies by (on this backend)
    const latents = model.weights() // float shadow weights: what the quantizer takes
    const tensors: ArtifactTensorInput[] = []
    for (const spec of model.specs) {
      const forward = used.get(spec.name)!
      if (spec.ternary) {
        const latent = latents.get(spec.name)!
        const shape = spec.shape as [number, number]
        const {trits, scales} = quantizeOnDevice(latent, shape, ternaryCfg)
        if (active && !sameBits(dequantizeTernary(trits, scales, shape, ternaryCfg.groupSize), forward)) {
          throw new Error(`pack safety check: tensor "${spec.name}": q·d rebuilt from the stored trits and scales differs from what the training forward pass used (training and pack disagree)`)
        }
        tensors.push({name: spec.name, shape: [...spec.shape], kind: 'ternary', trits, scales, scaleFormat: ternaryCfg.scaleFormat, groupSize: ternaryCfg.groupSize, codec: 'auto'})
      } else {
        if (active && !sameBits(storedFloat(forward, spec.shape, floatDtype), forward)) {
          throw new Error(`pack safety check: tensor "${spec.name}": the forward pass used values that ${floatDtype} cannot hold exactly (training and pack disagree)`)
        }
        tensors.push({name: spec.name, shape: [...spec.shape], kind: 'float', data: forward, dtype: floatDtype})
      }
    }
    const hasTernary = tensors.some((t) => t.kind === 'ternary')
    const asTrained = active || (!hasTernary && floatDtype === 'f32')
    const exact = asTrained && be.same
    if (!asTrained) notes.push(`the checkpoint's quantizer was not active yet (step ${meta.step}, quant.start_frac ${q.start_frac}): its tensors are quantized now, so the roundtrip will not be exact`)
    const {active: _active, ...quantSettings} = meta.quant
    return {
      kind: 'run',
      source,
      model: {...modelInfoOf({...config.recipe, objective: objectiveConfigOf(config.recipe)}, meta.model, config.vocab_size, config.tokenizer, meta.activations?.sites ?? FLOAT_ACTIVATIONS)},
      // quantized_on only when it is not the trained backend: same-backend artifacts stay byte for byte as before
      quant: {...quantSettings, float_dtype: floatDtype, ternary_tensors: tensors.filter((t) => t.kind === 'ternary').map((t) => t.name), ...(be.same ? {} : {quantized_on: backend.name})},
      tensors,
      exact,
      notes,
      backend: backend.name,
      crossBackend: be.same ? null : {trained, quantized: backend.name, why: be.why!},
    }
  } finally {
    model.dispose()
  }
}
