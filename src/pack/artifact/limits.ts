/**
 * What the artifact reader is willing to decode. The CRC guards against accidents, not intent: a
 * crafted file with a valid checksum can claim a tensor of 2^31 elements in a ten-byte entropy
 * payload, or a brotli body of a gigabyte of zeros in a hundred bytes. So every size the reader
 * takes from the file is checked against these limits BEFORE anything of that size is allocated,
 * and a file over one is refused with one line naming it.
 *
 * Defaults, and why:
 *   maxTensorElements       2^28 (268,435,456)  elements of one tensor; its trits take 256 MiB,
 *                                               its dequantized float32 values 1 GiB
 *   maxTotalElements        2^28                elements of all tensors together: what bounds the
 *                                               reader's memory. A 16 MB ternary artifact holds
 *                                               ~80M parameters at 1.6 bits each, so this leaves
 *                                               over 3× headroom
 *   maxManifestBytes        16 MiB              a real manifest is a few hundred bytes per tensor
 *   maxBodyBytes            1 GiB               decompressed body, absolute bound
 *   bodyBytesAlwaysAllowed  16 MiB              a body up to this size is always decoded, whatever
 *                                               its compression ratio (the whole submission is
 *                                               under 16 MB, and trit payloads are already dense:
 *                                               a real body is about the size of the file)
 *   maxCompressionRatio     64                  beyond that, the body may be at most 64× the
 *                                               compressed stream
 * so the body cap is min(maxBodyBytes, max(bodyBytesAlwaysAllowed, 64 × compressed bytes)).
 */
import {InputError} from '../../errors.js'

export interface ArtifactLimits {
  /** Most elements one tensor may have. */
  maxTensorElements: number
  /** Most elements all tensors may have together. */
  maxTotalElements: number
  /** Largest manifest, in bytes. */
  maxManifestBytes: number
  /** Largest decompressed body, in bytes, whatever the file. */
  maxBodyBytes: number
  /** A decompressed body up to this many bytes is always allowed. */
  bodyBytesAlwaysAllowed: number
  /** Beyond `bodyBytesAlwaysAllowed`, the body may be at most this many times the compressed stream. */
  maxCompressionRatio: number
}

export const DEFAULT_ARTIFACT_LIMITS: Readonly<ArtifactLimits> = Object.freeze({
  maxTensorElements: 2 ** 28,
  maxTotalElements: 2 ** 28,
  maxManifestBytes: 16 * 2 ** 20,
  maxBodyBytes: 2 ** 30,
  bodyBytesAlwaysAllowed: 16 * 2 ** 20,
  maxCompressionRatio: 64,
})

/** The defaults with `over` applied; each given limit must be a non-negative number. */
export function resolveArtifactLimits(over: Partial<ArtifactLimits> = {}): ArtifactLimits {
  const limits = {...DEFAULT_ARTIFACT_LIMITS}
  for (const key of Object.keys(DEFAULT_ARTIFACT_LIMITS) as Array<keyof ArtifactLimits>) {
    const v = over[key]
    if (v === undefined) continue
    const ok = key === 'maxCompressionRatio' ? Number.isFinite(v) && v >= 0 : Number.isSafeInteger(v) && v >= 0
    if (!ok) throw new InputError(`artifact limit ${key} must be a non-negative ${key === 'maxCompressionRatio' ? 'number' : 'integer'}, got ${String(v)}`)
    limits[key] = v
  }
  return limits
}

/** Most bytes the body of an artifact whose compressed stream has `compressedBytes` may decompress to. */
export function bodyCap(compressedBytes: number, limits: ArtifactLimits): number {
  return Math.min(limits.maxBodyBytes, Math.max(limits.bodyBytesAlwaysAllowed, Math.floor(limits.maxCompressionRatio * compressedBytes)))
}

/** How `bodyCap` came about, for the refusal message. */
export function describeBodyCap(compressedBytes: number, limits: ArtifactLimits): string {
  return `cap: the larger of ${limits.bodyBytesAlwaysAllowed} bytes and ${limits.maxCompressionRatio} × the ${compressedBytes}-byte compressed body, at most ${limits.maxBodyBytes}`
}
