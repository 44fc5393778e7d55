/**
 * Reading artifacts back, without tfjs: `golf unpack` (dequantized float32 safetensors) and
 * `golf inspect` (manifest summary). Both verify the checksum before decoding anything.
 */
import {fileHead} from '../io/output.js'
import {writeSafetensors} from '../io/safetensors.js'
import {type ArtifactLimits, type ArtifactManifest, type GroupSize, readArtifact} from './artifact.js'
import type {CompressName} from './compress.js'

/**
 * unpack: an artifact's dequantized weights as a float32 safetensors file (ternary: q·d exactly;
 * floats: the stored values), with the manifest JSON under the metadata key `golf_manifest`.
 * Written atomically. Returns the manifest and the number of tensors written.
 */
export function unpackToSafetensors(bytes: Uint8Array, out: string, opts: {source?: string; limits?: Partial<ArtifactLimits>} = {}): {manifest: ArtifactManifest; tensors: number; params: number} {
  const {manifest, tensors} = readArtifact(bytes, {source: opts.source, limits: opts.limits})
  const entries = new Map<string, {dtype: 'F32'; shape: number[]; data: Float32Array}>()
  let params = 0
  for (const [name, t] of tensors) {
    entries.set(name, {dtype: 'F32', shape: t.shape, data: t.data!})
    params += t.data!.length
  }
  writeSafetensors(out, entries, {golf_manifest: JSON.stringify(manifest)})
  return {manifest, tensors: entries.size, params}
}

const UNPACKED_HEADER_START = '{"__metadata__":{"golf_manifest":'

/**
 * What `golf unpack --force` may replace (src/io/output.ts): a safetensors file unpack wrote,
 * whose header starts with the `golf_manifest` metadata (the writer puts `__metadata__` first).
 */
export const UNPACK_OUTPUT = {
  what: 'a safetensors file golf unpack wrote',
  writer: 'golf unpack',
  recognise: (path: string) => fileHead(path, 8 + UNPACKED_HEADER_START.length).subarray(8).toString('latin1') === UNPACKED_HEADER_START,
}

// --- Inspect -----------------------------------------------------------------------------------

export interface ArtifactInspection {
  version: number
  artifact_bytes: number
  body_bytes: number
  manifest_bytes: number
  compress: CompressName
  /** Always 'ok' (a bad checksum throws before this is built). */
  checksum: 'ok'
  model: Record<string, unknown>
  quant: Record<string, unknown>
  params: number
  ternary_params: number
  tensors: Array<{name: string; shape: number[]; kind: 'ternary' | 'float'; codec: string; scale_format?: string; group_size?: GroupSize; params: number; bytes: number; bits_per_param: number}>
}

/** Verify (checksum first), decode every tensor (within the default limits), and summarize the manifest. */
export function inspectArtifact(bytes: Uint8Array, source = 'artifact'): ArtifactInspection {
  // One read: decompressing and decoding every tensor is the check that the file is whole.
  const {manifest, compress, bodyBytes} = readArtifact(bytes, {source, dequantize: false})
  let params = 0
  let ternaryParams = 0
  const tensors = manifest.tensors.map((t) => {
    const n = t.shape.reduce((a, b) => a * b, 1)
    params += n
    if (t.kind === 'ternary') ternaryParams += n
    const b = t.length + (t.scales_length ?? 0)
    return {
      name: t.name,
      shape: t.shape,
      kind: t.kind,
      codec: t.codec,
      ...(t.scale_format ? {scale_format: t.scale_format} : {}),
      ...(t.group_size !== undefined ? {group_size: t.group_size} : {}),
      params: n,
      bytes: b,
      bits_per_param: n === 0 ? 0 : (8 * b) / n,
    }
  })
  const manifestBytes = new TextEncoder().encode(JSON.stringify(manifest)).length
  return {
    version: manifest.version,
    artifact_bytes: bytes.length,
    body_bytes: bodyBytes,
    manifest_bytes: manifestBytes,
    compress,
    checksum: 'ok',
    model: manifest.model,
    quant: manifest.quant,
    params,
    ternary_params: ternaryParams,
    tensors,
  }
}
