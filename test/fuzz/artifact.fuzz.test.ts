/**
 * Fuzzing the artifact reader (container, outer decompression, manifest, every trit codec and
 * float dtype). The CRC would stop almost every random edit before decoding, which is not what
 * a hostile file does, so every property here recomputes it: the decoder behind it is what is
 * under test. Limits are set small so that "never allocates beyond a stated bound" is checked
 * against numbers a random input can actually reach.
 */
import fc from 'fast-check'
import {describe, expect, it} from 'vitest'

import {type ArtifactLimits, readArtifact, readArtifactManifest} from '../../src/pack/artifact.js'
import {TRIT_CODEC_NAMES} from '../../src/pack/codecs/index.js'
import {COMPRESS_NAMES, type CompressName, decompress, hasXzBinary} from '../../src/pack/compress.js'
import {artifactWithBody, bodyOf, compressFast, container, fixCrc, sampleArtifact, splitNoneArtifact} from './artifact-files.js'
import {byteEditsArb, decodesOrRefuses, hostileJsonValue, mutate, mutationsArb, runs} from './helpers.js'

const LIMITS: ArtifactLimits = {
  maxTensorElements: 1 << 12,
  maxTotalElements: 1 << 13,
  maxManifestBytes: 1 << 14,
  maxBodyBytes: 1 << 18,
  bodyBytesAlwaysAllowed: 1 << 16,
  maxCompressionRatio: 64,
}

const compressions: CompressName[] = COMPRESS_NAMES.filter((c) => c !== 'xz' || hasXzBinary())
const codecs = [...TRIT_CODEC_NAMES, 'auto'] as const

/** Decode under the contract and check what came back against LIMITS. */
function readBounded(bytes: Uint8Array, dequantize: boolean): void {
  const got = decodesOrRefuses('artifact', () => readArtifact(bytes, {source: 'fuzz.golf', limits: LIMITS, dequantize}))
  if (got === undefined) return
  expect(got.bodyBytes).toBeLessThanOrEqual(LIMITS.maxBodyBytes)
  let total = 0
  for (const t of got.tensors.values()) {
    const n = (t.trits ?? t.data)!.length
    expect(n).toBeLessThanOrEqual(LIMITS.maxTensorElements)
    if (t.data) expect(t.data.length).toBe(n)
    total += n
  }
  expect(total).toBeLessThanOrEqual(LIMITS.maxTotalElements)
}

// One valid artifact per codec × compression, made once (lzma and xz writing is slow).
const valid = new Map<string, Uint8Array>()
for (const codec of codecs) for (const c of compressions) valid.set(`${codec}/${c}`, sampleArtifact(codec, c))
const validNone = TRIT_CODEC_NAMES.map((codec) => sampleArtifact(codec, 'none'))

describe('fuzz: artifact reader', () => {
  it('the valid samples read back (the fuzz starts from files that decode)', () => {
    for (const [key, bytes] of valid) expect(readArtifact(bytes, {limits: LIMITS}).tensors.size, key).toBe(12)
  })

  it('random bodies behind a valid header and CRC, any compression id', () => {
    fc.assert(
      fc.property(fc.uint8Array({maxLength: 600}), fc.integer({min: 0, max: 6}), fc.boolean(), (packed, id, dq) => {
        readBounded(container(packed, id), dq)
      }),
      {numRuns: runs(400)},
    )
  })

  it('random bytes as a whole file (no valid CRC: refused, never thrown past)', () => {
    fc.assert(fc.property(fc.uint8Array({maxLength: 300}), (bytes) => readBounded(bytes, true)), {numRuns: runs(200)})
  })

  it('mutated valid files, CRC recomputed: every codec × compression', () => {
    const keys = [...valid.keys()]
    fc.assert(
      fc.property(fc.constantFrom(...keys), mutationsArb, fc.boolean(), (key, muts, dq) => {
        // Mutate only the body (bytes 7..end−4) or the header too, then make the CRC valid.
        readBounded(fixCrc(mutate(valid.get(key)!, muts)), dq)
      }),
      {numRuns: runs(600, 0.5)},
    )
  })

  it('mutated bodies, recompressed (the decoders behind decompression see every edit)', () => {
    const sources = [...valid].filter(([key]) => key.endsWith('/none')).map(([, bytes]) => bytes.subarray(7, bytes.length - 4))
    fc.assert(
      fc.property(fc.constantFrom(...sources), mutationsArb, fc.constantFrom<CompressName>('none', 'deflate', 'brotli'), fc.boolean(), (body, muts, c, dq) => {
        readBounded(artifactWithBody(mutate(body, muts), c), dq)
      }),
      {numRuns: runs(600)},
    )
  })

  it('payload bytes edited under an intact manifest (each codec and dtype decodes what it is given)', () => {
    fc.assert(
      fc.property(fc.constantFrom(...validNone), byteEditsArb, fc.boolean(), (bytes, edits, dq) => {
        const {manifest, payload} = splitNoneArtifact(bytes)
        readBounded(artifactWithBody(bodyOf(manifest, mutate(payload, edits)), 'none'), dq)
      }),
      {numRuns: runs(400)},
    )
  })

  it('manifest fields set to hostile values (shape, offsets, codec, kind, …), CRC valid', () => {
    const keys = ['name', 'shape', 'kind', 'codec', 'scale_format', 'group_size', 'offset', 'length', 'scales_offset', 'scales_length', 'extra']
    const top = ['format', 'version', 'model', 'quant', 'tensors', 'compress']
    fc.assert(
      fc.property(
        fc.constantFrom(...validNone),
        fc.array(fc.oneof(fc.tuple(fc.nat(), fc.constantFrom(...keys), hostileJsonValue), fc.tuple(fc.constant(-1), fc.constantFrom(...top), hostileJsonValue)), {minLength: 1, maxLength: 3}),
        fc.boolean(),
        (bytes, edits, dq) => {
          const {manifest, payload} = splitNoneArtifact(bytes)
          for (const [i, key, value] of edits) {
            if (i < 0) manifest[key] = value
            else if (Array.isArray(manifest.tensors) && manifest.tensors.length > 0) {
              const t = manifest.tensors[i % manifest.tensors.length]
              if (t !== null && typeof t === 'object') t[key] = value
            }
          }
          readBounded(artifactWithBody(bodyOf(manifest, payload), 'none'), dq)
        },
      ),
      {numRuns: runs(800)},
    )
  })

  it('shapes that claim more than the payload holds are refused before decoding, for every codec', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...validNone),
        fc.nat(),
        fc.array(fc.oneof(fc.integer({min: 0, max: 1 << 16}), fc.constantFrom(2 ** 20, 2 ** 28, 2 ** 31, 2 ** 40)), {minLength: 1, maxLength: 3}),
        (bytes, i, shape) => {
          const {manifest, payload} = splitNoneArtifact(bytes)
          const t = manifest.tensors[i % manifest.tensors.length]
          t.shape = shape
          t.group_size = 'tensor'
          readBounded(artifactWithBody(bodyOf(manifest, payload), 'none'), true)
        },
      ),
      {numRuns: runs(400)},
    )
  })

  it('readArtifactManifest keeps the same contract', () => {
    const keys = [...valid.keys()]
    fc.assert(
      fc.property(fc.constantFrom(...keys), mutationsArb, (key, muts) => {
        const got = decodesOrRefuses('artifact manifest', () => readArtifactManifest(fixCrc(mutate(valid.get(key)!, muts)), {source: 'fuzz.golf', limits: LIMITS}))
        if (got) expect(got.bodyBytes).toBeLessThanOrEqual(LIMITS.maxBodyBytes)
      }),
      {numRuns: runs(300)},
    )
  })

  it('the body cap holds for every compression: output ≤ cap or one refusal', () => {
    fc.assert(
      fc.property(fc.constantFrom(...compressions), fc.integer({min: 0, max: 1 << 17}), fc.integer({min: 0, max: 255}), (c, size, fill) => {
        const body = new Uint8Array(size).fill(fill)
        const bytes = artifactWithBody(body, c, compressFast(c, body))
        const packedBytes = bytes.length - 11
        const cap = Math.min(LIMITS.maxBodyBytes, Math.max(LIMITS.bodyBytesAlwaysAllowed, 64 * packedBytes))
        let err: unknown
        try {
          readArtifactManifest(bytes, {source: 'big.golf', limits: LIMITS})
        } catch (e) {
          err = e
        }
        const msg = (err as Error).message
        if (size > cap) expect(msg).toMatch(/^big\.golf: body decompresses to more than \d+ bytes/)
        else expect(msg).not.toMatch(/decompresses to more than/)
        // And the decompressor alone never returns more than asked.
        const out = decodesOrRefuses(`decompress ${c}`, () => decompress(c, bytes.subarray(7, bytes.length - 4), {maxBytes: cap}))
        if (out) expect(out.length).toBeLessThanOrEqual(cap)
      }),
      {numRuns: runs(30, 0.05)},
    )
  })
})
