/**
 * Reading the manifest out of a decompressed body, and checking it before anything it describes
 * is decoded: every tensor has a name and a shape, its element count is within the limits (one
 * tensor and all together), and its bytes lie inside the payload. Nothing here allocates more
 * than the manifest text itself.
 */
import {InputError} from '../../errors.js'
import {oneLine} from '../../io/read.js'
import type {CompressName} from '../compress.js'
import {ARTIFACT_VERSION, type ArtifactManifest, MAX_RANK, isRowScaledDtype} from './format.js'
import type {ArtifactLimits} from './limits.js'

export function corruptManifest(source: string, what: string): InputError {
  return new InputError(`${source}: corrupt manifest: ${what}`)
}

/** A tensor name as messages show it: quoted, control characters escaped, cut when very long. */
export function quoteName(name: string): string {
  return JSON.stringify(name.length > 120 ? `${name.slice(0, 120)}…` : name)
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v)
}

/**
 * Elements of a shape, or Infinity once the product passes `max` (so a shape of huge dimensions
 * never reaches a float product that is inexact or infinite). A zero dimension makes 0.
 */
function boundedCount(shape: number[], max: number): number {
  if (shape.includes(0)) return 0
  let n = 1
  for (const d of shape) {
    n *= d
    if (n > max) return Infinity
  }
  return n
}

/**
 * Split a decompressed body into its manifest and payload, checking the manifest against the
 * body and `limits`. Every failure is one InputError line naming `source`.
 */
export function parseManifest(body: Uint8Array, compress: CompressName, source: string, limits: ArtifactLimits): {manifest: ArtifactManifest; payload: Uint8Array} {
  const corrupt = (what: string): InputError => corruptManifest(source, what)
  if (body.length < 4) throw corrupt('body shorter than 4 bytes')
  const m = new DataView(body.buffer, body.byteOffset, body.byteLength).getUint32(0, true)
  if (4 + m > body.length) throw corrupt(`manifest length ${m} runs past the body`)
  if (m > limits.maxManifestBytes) throw new InputError(`${source}: manifest is ${m} bytes, over the limit of ${limits.maxManifestBytes}`)
  let manifest: ArtifactManifest
  try {
    manifest = JSON.parse(new TextDecoder('utf-8', {fatal: true}).decode(body.subarray(4, 4 + m))) as ArtifactManifest
  } catch (err) {
    // V8 quotes the offending text, newlines included: keep the message on one line.
    throw corrupt(oneLine((err as Error).message))
  }
  if (!isObject(manifest) || manifest.format !== 'golf-artifact') throw corrupt('format is not "golf-artifact"')
  if (manifest.version !== ARTIFACT_VERSION) throw corrupt(`says version ${oneLine(JSON.stringify(manifest.version) ?? 'none', 40)}, header says ${ARTIFACT_VERSION}`)
  if (manifest.compress !== compress) throw corrupt(`says compression ${oneLine(String(manifest.compress), 40)}, header says ${compress}`)
  if (!isObject(manifest.model)) throw corrupt('model is not a JSON object')
  if (!isObject(manifest.quant)) throw corrupt('quant is not a JSON object')
  if (!Array.isArray(manifest.tensors)) throw corrupt('tensors is not a list')
  const payload = body.subarray(4 + m)
  const inside = (what: string, off: unknown, len: unknown): void => {
    if (!Number.isSafeInteger(off) || !Number.isSafeInteger(len) || (off as number) < 0 || (len as number) < 0 || (off as number) + (len as number) > payload.length) {
      throw corrupt(`${what} bytes ${oneLine(String(off), 40)}+${oneLine(String(len), 40)} lie outside the ${payload.length}-byte payload`)
    }
  }
  const seen = new Set<string>()
  let total = 0
  for (const t of manifest.tensors as unknown[]) {
    if (!isObject(t) || typeof t.name !== 'string' || !Array.isArray(t.shape) || !t.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw corrupt(`tensor entry ${oneLine(JSON.stringify(t)?.slice(0, 80) ?? String(t))} has no valid name/shape`)
    }
    const name = quoteName(t.name)
    if (seen.has(t.name)) throw corrupt(`tensor ${name} appears twice`)
    seen.add(t.name)
    const shape = t.shape as number[]
    if (shape.length > MAX_RANK) throw corrupt(`tensor ${name} has ${shape.length} dimensions (at most ${MAX_RANK})`)
    const n = boundedCount(shape, limits.maxTensorElements)
    if (n > limits.maxTensorElements) {
      throw new InputError(`${source}: tensor ${name} has ${elementsShown(shape)} elements (shape [${shape.join(', ')}]), over the limit of ${limits.maxTensorElements} per tensor`)
    }
    total += n
    if (total > limits.maxTotalElements) throw new InputError(`${source}: the tensors hold more than ${limits.maxTotalElements} elements in all (the limit), passed at tensor ${name}`)
    inside(`tensor ${name}`, t.offset, t.length)
    if (t.scales_offset !== undefined || t.kind === 'ternary' || isRowScaledDtype(t.codec)) inside(`tensor ${name} scales`, t.scales_offset, t.scales_length)
  }
  return {manifest, payload}
}

/** The element count of a shape for a message: exact while it is, else an approximation. */
function elementsShown(shape: number[]): string {
  const n = shape.reduce((a, b) => a * b, 1)
  return Number.isSafeInteger(n) ? String(n) : `about ${n.toPrecision(3)}`
}
