/**
 * The artifact: one file holding everything needed to rebuild a model (what counts under the
 * 16,000,000-byte cap next to the code). This module only gathers the pieces, which live in
 * `src/pack/artifact/`:
 *
 *   format.ts    the file layout (read this first), constants, manifest and report types
 *   writer.ts    `writeArtifact`: tensors → the exact bytes, and a report of where they went
 *   reader.ts    `verifyArtifact`, `readArtifact`, `readArtifactManifest`: checksum, capped
 *                decompression, then decoding — bounded by the limits below
 *   manifest.ts  parsing and checking the manifest before anything it describes is decoded
 *   limits.ts    what a file may make the reader allocate (DEFAULT_ARTIFACT_LIMITS, why)
 *   scales.ts    scale groups, stored scales, dequantization (q × d, exactly)
 */
export {
  ARTIFACT_MAGIC,
  ARTIFACT_OVERHEAD,
  ARTIFACT_VERSION,
  type ArtifactInput,
  type ArtifactManifest,
  type ArtifactTensorInput,
  FLOAT_DTYPES,
  FLOAT_DTYPE_OF_FORMAT,
  type FloatDtype,
  type GroupSize,
  MAX_RANK,
  type ManifestTensor,
  type PackReport,
  type PackReportTensor,
  type ReadTensor,
  type ScaleFormat,
  u16le,
} from './artifact/format.js'
export {type ArtifactLimits, DEFAULT_ARTIFACT_LIMITS, bodyCap, resolveArtifactLimits} from './artifact/limits.js'
export {type ReadArtifactOptions, readArtifact, readArtifactFile, readArtifactManifest, verifyArtifact} from './artifact/reader.js'
export {dequantizeTernary, encodeScales, scaleGroups} from './artifact/scales.js'
export {canonical, encodeFloat, writeArtifact} from './artifact/writer.js'
