import fc from 'fast-check'
import {crc32} from 'node:zlib'
import {describe, expect, it} from 'vitest'

import {InputError} from '../../src/errors.js'
import {
  ARTIFACT_OVERHEAD,
  type ArtifactInput,
  type ArtifactTensorInput,
  dequantizeTernary,
  readArtifact,
  readArtifactManifest,
  scaleGroups,
  writeArtifact,
} from '../../src/pack/artifact.js'
import {TRIT_CODEC_NAMES, type TritCodecName, encodeTrits} from '../../src/pack/codecs/index.js'
import {COMPRESS_NAMES, compress as compressBytes, hasXzBinary} from '../../src/pack/compress.js'
import {f16BitsToF32, f32ToBf16Bits, bf16BitsToF32, decodeF16, encodeF16, decodeE4m3, encodeE4m3, decodeBf16, encodeBf16, dequantizeFp8PerRow, quantizeFp8PerRow, roundScalesE4m3} from '../../src/quant/float-formats.js'
import {dequantizeTernary as quantDequantize} from '../../src/quant/ternary.js'
import {lcg, randomTrits, sameTrits} from './trits.js'

/** A small .lzma stream whose header declares `size` bytes (LZMA-JS would take seconds to write a real one). */
function lzmaHeaderClaiming(size: number): Uint8Array {
  const s = compressBytes('lzma', new Uint8Array(16))
  new DataView(s.buffer, s.byteOffset).setUint32(5, size, true)
  return s
}

/** Scales that fp16 and bf16 both hold exactly (8 significant bits, normal range). */
function scalesFor(count: number, seed: number): Float32Array {
  const r = lcg(seed)
  return Float32Array.from({length: count}, () => bf16BitsToF32(f32ToBf16Bits(0.001 + r() * 0.05)))
}

function floats(n: number, seed: number): Float32Array {
  const r = lcg(seed)
  return Float32Array.from({length: n}, () => (r() - 0.5) * 4)
}

function sample(codec: TritCodecName | 'auto' = 'base3'): ArtifactInput {
  return {
    model: {vocab: 260, dim: 64, layers: 2},
    quant: {groupSize: 32, scaleFormat: 'fp16'},
    compress: 'deflate',
    tensors: [
      {name: 'blocks.0.mlp.fc', shape: [8, 64], kind: 'ternary', trits: randomTrits(512, 0.3, 1), scales: scalesFor(16, 1), scaleFormat: 'fp16', groupSize: 32, codec},
      {name: 'blocks.0.attn.q', shape: [4, 16], kind: 'ternary', trits: randomTrits(64, 0.5, 2), scales: scalesFor(4, 2), scaleFormat: 'bf16', groupSize: 'row', codec},
      {name: 'head', shape: [3, 5], kind: 'ternary', trits: randomTrits(15, 0.1, 3), scales: Float32Array.of(0.123456789), scaleFormat: 'fp32', groupSize: 'tensor', codec},
      {name: 'tok_emb', shape: [6, 4], kind: 'float', data: floats(24, 4), dtype: 'int8_row'},
      {name: 'norm.f32', shape: [5], kind: 'float', data: floats(5, 5), dtype: 'f32'},
      {name: 'norm.f16', shape: [5], kind: 'float', data: floats(5, 6), dtype: 'f16'},
      {name: 'norm.bf16', shape: [2, 3], kind: 'float', data: floats(6, 7), dtype: 'bf16'},
      {name: 'gate.e4m3', shape: [7], kind: 'float', data: floats(7, 8), dtype: 'e4m3'},
    ],
  }
}

describe('artifact roundtrip', () => {
  for (const codec of [...TRIT_CODEC_NAMES, 'auto'] as const) {
    it(`gives back trits, scales and dequantized weights exactly (codec ${codec})`, () => {
      const input = sample(codec)
      const {bytes, report} = writeArtifact(input)
      const {manifest, tensors} = readArtifact(bytes, {source: 'model.golf'})
      expect(manifest.format).toBe('golf-artifact')
      expect(manifest.model).toEqual({dim: 64, layers: 2, vocab: 260})
      expect(report.artifact_bytes).toBe(bytes.length)
      for (const t of input.tensors) {
        const got = tensors.get(t.name)!
        expect(got.shape).toEqual(t.shape)
        if (t.kind === 'ternary') {
          expect(sameTrits(got.trits!, t.trits)).toBe(true)
          expect(got.scales).toEqual(t.scales)
          expect(got.data).toEqual(dequantizeTernary(t.trits, t.scales, t.shape, t.groupSize))
          if (codec !== 'auto') expect(manifest.tensors.find((m) => m.name === t.name)!.codec).toBe(codec)
        }
      }
      expect(tensors.get('norm.f32')!.data).toEqual((input.tensors[4] as {data: Float32Array}).data)
      const f16 = (input.tensors[5] as {data: Float32Array}).data
      expect(tensors.get('norm.f16')!.data).toEqual(decodeF16(encodeF16(f16)))
      const bf16 = (input.tensors[6] as {data: Float32Array}).data
      expect(tensors.get('norm.bf16')!.data).toEqual(decodeBf16(encodeBf16(bf16)))
      const e4 = (input.tensors[7] as {data: Float32Array}).data
      expect(tensors.get('gate.e4m3')!.data).toEqual(decodeE4m3(encodeE4m3(e4)))
      // int8 per row: q · fp16(max|row| / 127), within half a step of the input
      const emb = (input.tensors[3] as {data: Float32Array}).data
      const back = tensors.get('tok_emb')!.data!
      for (let r = 0; r < 6; r++) {
        const step = f16BitsToF32(encodeF16(Float32Array.of(Math.max(...emb.subarray(r * 4, r * 4 + 4).map(Math.abs)) / 127))[0])
        for (let c = 0; c < 4; c++) expect(Math.abs(back[r * 4 + c] - emb[r * 4 + c])).toBeLessThanOrEqual(step / 2 + 1e-7)
      }
    })
  }

  for (const compress of COMPRESS_NAMES) {
    it(`works with outer compression ${compress}`, () => {
      const {bytes, report} = writeArtifact({...sample(), compress})
      expect(report.compress).toBe(compress)
      expect(readArtifact(bytes).manifest.compress).toBe(compress)
    })
  }

  it("'auto' compression keeps the smallest file", () => {
    const sizes = COMPRESS_NAMES.map((compress) => writeArtifact({...sample(), compress}).bytes.length)
    const auto = writeArtifact({...sample(), compress: 'auto'})
    expect(auto.bytes.length).toBe(Math.min(...sizes))
  })

  it('fast-check: random ternary tensors roundtrip through the container', () => {
    fc.assert(
      fc.property(
        fc.integer({min: 1, max: 40}),
        fc.integer({min: 1, max: 125}),
        fc.double({min: 0, max: 1, noNaN: true}),
        fc.integer(),
        fc.constantFrom(...TRIT_CODEC_NAMES, 'auto' as const),
        (rows, cols, zero, seed, codec) => {
          const trits = randomTrits(rows * cols, zero, seed)
          const scales = scalesFor(rows, seed)
          const {bytes} = writeArtifact({model: {}, quant: {}, compress: 'none', tensors: [{name: 'w', shape: [rows, cols], kind: 'ternary', trits, scales, scaleFormat: 'bf16', groupSize: 'row', codec}]})
          const got = readArtifact(bytes).tensors.get('w')!
          expect(sameTrits(got.trits!, trits)).toBe(true)
          expect(got.scales).toEqual(scales)
        },
      ),
      {numRuns: 60},
    )
  })
})

describe('artifact bytes', () => {
  it('starts GOLF, version 1 LE, compression id; ends with the CRC-32 of the rest', () => {
    const {bytes} = writeArtifact({...sample(), compress: 'brotli'})
    expect([...bytes.subarray(0, 7)]).toEqual([0x47, 0x4f, 0x4c, 0x46, 1, 0, 2])
    const crc = new DataView(bytes.buffer, bytes.byteOffset).getUint32(bytes.length - 4, true)
    expect(crc).toBe(crc32(bytes.subarray(0, bytes.length - 4)))
  })
  it('with no compression: manifest length, manifest JSON, payloads in order', () => {
    const trits = Int8Array.of(1, -1, 0, 0, 1, -1, -1, 1, 0, 1)
    const {bytes, report} = writeArtifact({
      model: {b: 1, a: {d: 2, c: 3}},
      quant: {},
      compress: 'none',
      tensors: [{name: 'w', shape: [2, 5], kind: 'ternary', trits, scales: Float32Array.of(0.5, 0.25), scaleFormat: 'fp16', groupSize: 'row', codec: 'base3'}],
    })
    const json =
      '{"format":"golf-artifact","version":1,"model":{"a":{"c":3,"d":2},"b":1},"quant":{},' +
      '"tensors":[{"name":"w","shape":[2,5],"kind":"ternary","codec":"base3","scale_format":"fp16","group_size":"row","offset":0,"length":2,"scales_offset":2,"scales_length":4}],"compress":"none"}'
    const m = new DataView(bytes.buffer).getUint32(7, true)
    expect(m).toBe(json.length)
    expect(new TextDecoder().decode(bytes.subarray(11, 11 + m))).toBe(json)
    // the base3 trits, then the fp16 scales: 0.5 = 0x3800, 0.25 = 0x3400
    expect([...bytes.subarray(11 + m, bytes.length - 4)]).toEqual([...encodeTrits('base3', trits), 0x00, 0x38, 0x00, 0x34])
    expect(bytes.length).toBe(ARTIFACT_OVERHEAD + 4 + m + 6)
    expect(report.body_bytes).toBe(4 + m + 6)
    expect(report.ternary).toEqual({params: 10, bytes: 6, scale_bytes: 4, bits_per_param: 4.8, entropy_bits_per_param: expect.closeTo(1.5710, 3)})
    expect(report.tensors).toEqual([{name: 'w', kind: 'ternary', codec: 'base3', params: 10, bytes: 6, bits_per_param: 4.8, zero_frac: 0.3}])
  })
  it('the same input gives the same bytes, whatever the key order of model and quant', () => {
    const a = writeArtifact({...sample('auto'), model: {x: 1, y: [1, {q: 2, p: 1}]}, compress: 'auto'}).bytes
    const b = writeArtifact({...sample('auto'), model: {y: [1, {p: 1, q: 2}], x: 1}, compress: 'auto'}).bytes
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(true)
  })
})

describe('altered or truncated artifacts are rejected before decoding', () => {
  const {bytes} = writeArtifact({...sample(), compress: 'deflate'})
  const expected = (offset: number): string =>
    offset < 4 ? 'model.golf: not a golf artifact (bad magic)' : offset < 6 ? 'model.golf: unsupported artifact version' : 'model.golf: checksum mismatch (file altered or truncated)'

  it('flipping any bit pattern at any offset → one-line InputError naming the file', () => {
    for (let offset = 0; offset < bytes.length; offset++) {
      for (const flip of [1 << offset % 8, 0xff]) {
        const altered = bytes.slice()
        altered[offset] ^= flip
        let err: unknown
        try {
          readArtifact(altered, {source: 'model.golf'})
        } catch (e) {
          err = e
        }
        expect(err, `offset ${offset}`).toBeInstanceOf(InputError)
        expect((err as Error).message.startsWith(expected(offset)), `offset ${offset}: ${(err as Error).message}`).toBe(true)
        expect((err as Error).message).not.toContain('\n')
      }
    }
  })
  it('truncating at any offset → InputError', () => {
    for (let len = 0; len < bytes.length; len++) {
      expect(() => readArtifact(bytes.subarray(0, len), {source: 'model.golf'}), `length ${len}`).toThrow('model.golf: checksum mismatch (file altered or truncated)')
    }
  })
  it('names the version it cannot read', () => {
    const v2 = bytes.slice()
    v2[4] = 2
    expect(() => readArtifact(v2, {source: 'a.golf'})).toThrow('a.golf: unsupported artifact version 2 (this golf reads version 1)')
    expect(() => readArtifact(new TextEncoder().encode('PK\x03\x04 not ours'), {source: 'a.zip'})).toThrow('a.zip: not a golf artifact (bad magic)')
  })
})

describe('bad input to writeArtifact', () => {
  const w = (over: Partial<Extract<ArtifactTensorInput, {kind: 'ternary'}>>): ArtifactInput => ({
    model: {},
    quant: {},
    compress: 'none',
    tensors: [{name: 'w', shape: [2, 4], kind: 'ternary', trits: new Int8Array(8), scales: Float32Array.of(1, 1), scaleFormat: 'fp16', groupSize: 'row', codec: 'base3', ...over}],
  })
  it('scales not exactly representable in the stored format', () => {
    expect(() => writeArtifact(w({scales: Float32Array.of(1, 0.1)}))).toThrow('tensor "w": scale 1 (0.10000000149011612) is not exactly representable in fp16')
    expect(() => writeArtifact(w({scales: Float32Array.of(1, 1 + 2 ** -10), scaleFormat: 'bf16'}))).toThrow('is not exactly representable in bf16')
    expect(() => writeArtifact(w({scales: Float32Array.of(1, 1 + 2 ** -10), scaleFormat: 'fp16'}))).not.toThrow()
  })
  it('counts that do not fit the shape', () => {
    expect(() => writeArtifact(w({trits: new Int8Array(7)}))).toThrow('tensor "w": 7 trits do not fill shape [2, 4]')
    expect(() => writeArtifact(w({scales: Float32Array.of(1)}))).toThrow('tensor "w": 1 scales given, groups of row need 2')
    expect(() => writeArtifact(w({groupSize: 3}))).toThrow('group size 3 does not divide the row length 4 of shape [2, 4]')
  })
  it("what the reader's limits would refuse: a tensor over 2^28 elements, or all of them together", () => {
    // refused from the shapes alone, before the data is looked at
    expect(() => writeArtifact(w({shape: [2 ** 14 + 1, 2 ** 14]}))).toThrow('tensor w has 268,451,840 elements: an artifact reader accepts at most 268,435,456 per tensor')
    const two = w({shape: [2 ** 13, 2 ** 14]})
    two.tensors.push({...two.tensors[0], name: 'v', shape: [2 ** 13 + 1, 2 ** 14]})
    expect(() => writeArtifact(two)).toThrow('the tensors have 268,451,840 elements together: an artifact reader accepts at most 268,435,456')
  })
  it('duplicate names, bad trits, unknown codec', () => {
    const twice = w({})
    twice.tensors.push(twice.tensors[0])
    expect(() => writeArtifact(twice)).toThrow('tensor "w" appears twice')
    expect(() => writeArtifact(w({trits: Int8Array.of(0, 0, 0, 3, 0, 0, 0, 0)}))).toThrow('trit 3 is 3, expected -1, 0 or 1')
    expect(() => writeArtifact(w({codec: 'base9' as never}))).toThrow('tensor "w": unknown trit codec "base9"')
  })
})

describe('dequantizeTernary', () => {
  it('is q × d per group, bit-identical to the quantizer host helper', () => {
    for (const [shape, g] of [[[4, 8], 4], [[4, 8], 'row'], [[4, 8], 'tensor'], [[3, 6], 2]] as const) {
      const n = shape[0] * shape[1]
      const trits = randomTrits(n, 0.3, n)
      const scales = scalesFor(scaleGroups([...shape], g).numGroups, 9)
      const ours = dequantizeTernary(trits, scales, [...shape], g)
      expect(ours).toEqual(quantDequantize(trits, scales, [shape[0], shape[1]], g))
      for (let i = 0; i < n; i++) {
        const d = g === 'tensor' ? scales[0] : g === 'row' ? scales[Math.floor(i / shape[1])] : scales[Math.floor(i / g)]
        expect(Object.is(ours[i], trits[i] === 0 ? 0 : trits[i] * d)).toBe(true)
      }
    }
  })
})

describe('hostile artifacts with a valid CRC are refused before anything is allocated', () => {
  /** An uncompressed artifact whose manifest `edit` rewrote, with the CRC recomputed (layout: src/pack/artifact/format.ts). */
  function rewriteManifest(bytes: Uint8Array, edit: (m: {tensors: Array<Record<string, unknown>>} & Record<string, unknown>) => void): Uint8Array {
    const body = bytes.subarray(7, bytes.length - 4) // compress 'none': the body as is
    const m = new DataView(body.buffer, body.byteOffset).getUint32(0, true)
    const manifest = JSON.parse(new TextDecoder().decode(body.subarray(4, 4 + m)))
    edit(manifest)
    const json = new TextEncoder().encode(JSON.stringify(manifest))
    const payload = body.subarray(4 + m)
    const out = new Uint8Array(7 + 4 + json.length + payload.length + 4)
    const view = new DataView(out.buffer)
    out.set(bytes.subarray(0, 7), 0)
    view.setUint32(7, json.length, true)
    out.set(json, 11)
    out.set(payload, 11 + json.length)
    view.setUint32(out.length - 4, crc32(out.subarray(0, out.length - 4)), true)
    return out
  }
  /** One all-zero entropy-coded tensor: its payload is 9 bytes however many trits it claims. */
  const zeros = writeArtifact({
    model: {},
    quant: {},
    compress: 'none',
    tensors: [{name: 'w', shape: [16, 16], kind: 'ternary', trits: new Int8Array(256), scales: Float32Array.of(0.5), scaleFormat: 'fp16', groupSize: 'tensor', codec: 'entropy'}],
  }).bytes

  it('an entropy tensor claiming 2^31 elements: one line, in well under a second', () => {
    const {manifest} = readArtifactManifest(zeros)
    expect(manifest.tensors[0].length).toBe(9) // model byte, 2 × u16 frequencies, u32 state: no data
    const hostile = rewriteManifest(zeros, (m) => (m.tensors[0].shape = [2 ** 31]))
    const t0 = performance.now()
    let err: unknown
    try {
      readArtifact(hostile, {source: 'evil.golf'})
    } catch (e) {
      err = e
    }
    expect(performance.now() - t0).toBeLessThan(250)
    expect(err).toBeInstanceOf(InputError)
    expect((err as Error).message).toBe('evil.golf: tensor "w" has 2147483648 elements (shape [2147483648]), over the limit of 268435456 per tensor')
    // The same file within the limit decodes (the payload really does hold any number of zeros).
    const fine = rewriteManifest(zeros, (m) => (m.tensors[0].shape = [1000, 1000]))
    const trits = readArtifact(fine, {dequantize: false}).tensors.get('w')!.trits!
    expect(trits.length === 1_000_000 && trits.every((t) => t === 0)).toBe(true)
    expect(() => readArtifact(fine, {source: 'a.golf', limits: {maxTensorElements: 999_999}})).toThrow('a.golf: tensor "w" has 1000000 elements (shape [1000, 1000]), over the limit of 999999 per tensor')
  })

  it('the total over all tensors is capped too', () => {
    const two = rewriteManifest(zeros, (m) => {
      m.tensors[0].shape = [3000]
      m.tensors.push({...m.tensors[0], name: 'v'})
    })
    expect(readArtifact(two, {limits: {maxTotalElements: 6000}}).tensors.size).toBe(2)
    expect(() => readArtifact(two, {source: 'a.golf', limits: {maxTotalElements: 5999}})).toThrow('a.golf: the tensors hold more than 5999 elements in all (the limit), passed at tensor "v"')
    expect(() => readArtifactManifest(two, {source: 'a.golf', limits: {maxTotalElements: 5999}})).toThrow(/over|more than 5999/)
  })

  it('shapes whose product overflows, too many dimensions, bad offsets, duplicate names', () => {
    const read = (edit: Parameters<typeof rewriteManifest>[1]): (() => unknown) => () => readArtifact(rewriteManifest(zeros, edit), {source: 'a.golf'})
    expect(read((m) => (m.tensors[0].shape = [1e308, 1e308]))).toThrow(/^a\.golf: corrupt manifest: tensor entry .* has no valid name\/shape$/)
    expect(read((m) => (m.tensors[0].shape = [2 ** 26, 2 ** 26, 2 ** 26]))).toThrow('a.golf: tensor "w" has about 3.02e+23 elements (shape [67108864, 67108864, 67108864]), over the limit of 268435456 per tensor')
    expect(read((m) => (m.tensors[0].shape = Array(40).fill(1)))).toThrow('a.golf: corrupt manifest: tensor "w" has 40 dimensions (at most 32)')
    expect(read((m) => (m.tensors[0].length = 2 ** 40))).toThrow('a.golf: corrupt manifest: tensor "w" bytes 0+1099511627776 lie outside the 11-byte payload')
    expect(read((m) => (m.tensors[0].scales_offset = -1))).toThrow('a.golf: corrupt manifest: tensor "w" scales bytes -1+2 lie outside the 11-byte payload')
    expect(read((m) => m.tensors.push(m.tensors[0]))).toThrow('a.golf: corrupt manifest: tensor "w" appears twice')
    expect(read((m) => Object.assign(m.tensors[0], {name: 'a\nb', codec: 'bogus'}))).toThrow('a.golf: tensor "a\\nb": unknown trit codec "bogus"')
    expect(read((m) => (m.tensors[0].group_size = '\n'))).toThrow('a.golf: tensor "w": group size must be a positive integer, \'row\' or \'tensor\', got \\n')
    expect(read((m) => (m.model = []))).toThrow('a.golf: corrupt manifest: model is not a JSON object')
  })

  it('a manifest over its size limit', () => {
    expect(() => readArtifactManifest(zeros, {source: 'a.golf', limits: {maxManifestBytes: 100}})).toThrow(/^a\.golf: manifest is \d+ bytes, over the limit of 100$/)
  })

  it('fp8 rows and e4m3 scales: sizes that do not match, a NaN base, a missing scale block', () => {
    const fp8 = writeArtifact({
      model: {},
      quant: {},
      compress: 'none',
      tensors: [
        {name: 'w', shape: [2, 4], kind: 'ternary', trits: new Int8Array(8), scales: Float32Array.of(0.5, 0.25), scaleFormat: 'e4m3', groupSize: 'row', codec: 'base3'},
        {name: 'emb', shape: [2, 3], kind: 'float', data: Float32Array.of(1, 2, 3, 4, 5, 6), dtype: 'e4m3_row'},
      ],
    }).bytes
    expect(readArtifact(fp8).tensors.size).toBe(2)
    const read = (edit: Parameters<typeof rewriteManifest>[1]): (() => unknown) => () => readArtifact(rewriteManifest(fp8, edit), {source: 'a.golf'})
    expect(read((m) => (m.tensors[0].scales_length = 2))).toThrow('a.golf: tensor "w": 2 scale bytes, expected 3')
    expect(read((m) => (m.tensors[1].codec = 'e5m2_row'))).not.toThrow()
    expect(read((m) => (m.tensors[1].shape = [3, 2]))).toThrow('a.golf: tensor "emb": e4m3_row sizes 6+4, expected 6+6')
    expect(read((m) => (m.tensors[1].length = 5))).toThrow('a.golf: tensor "emb": e4m3_row sizes 5+4, expected 6+4')
    expect(read((m) => delete m.tensors[1].scales_offset)).toThrow('a.golf: corrupt manifest: tensor "emb" scales bytes undefined+4 lie outside')
    // the base byte sits right after the 2 bytes of base-3 trits
    const {manifest} = readArtifactManifest(fp8)
    const nan = Uint8Array.from(fp8)
    const at = 7 + 4 + new DataView(fp8.buffer).getUint32(7, true) + manifest.tensors[0].scales_offset!
    expect(nan[at]).toBe(118)
    nan[at] = 255
    new DataView(nan.buffer).setUint32(nan.length - 4, crc32(nan.subarray(0, nan.length - 4)), true)
    expect(() => readArtifact(nan, {source: 'a.golf'})).toThrow('a.golf: tensor "w": e4m3 scales: base byte 255 (e8m0 NaN)')
  })

  for (const compress of COMPRESS_NAMES.filter((c) => c !== 'none' && (c !== 'xz' || hasXzBinary()))) {
    it(`a ${compress} body that decompresses past the cap is refused with the cap named`, () => {
      // 1 MiB of zeros compresses to a few hundred bytes at most: over the 64 KiB floor set here.
      const big = new Uint8Array(1 << 20)
      const packed = compress === 'lzma' ? lzmaHeaderClaiming(big.length) : compressBytes(compress, big)
      const bytes = new Uint8Array(7 + packed.length + 4)
      bytes.set([0x47, 0x4f, 0x4c, 0x46, 1, 0, COMPRESS_NAMES.indexOf(compress)])
      bytes.set(packed, 7)
      new DataView(bytes.buffer).setUint32(bytes.length - 4, crc32(bytes.subarray(0, bytes.length - 4)), true)
      const limits = {bodyBytesAlwaysAllowed: 1 << 16, maxCompressionRatio: 64, maxBodyBytes: 1 << 30}
      const cap = Math.max(1 << 16, 64 * packed.length)
      expect(cap).toBeLessThan(big.length)
      const t0 = performance.now()
      expect(() => readArtifact(bytes, {source: 'bomb.golf', limits})).toThrow(
        new RegExp(`^bomb\\.golf: body decompresses to more than ${cap} bytes${compress === 'lzma' ? ' \\(its header declares 1048576\\)' : ''} \\(cap: the larger of 65536 bytes and 64 × the ${packed.length}-byte compressed body, at most 1073741824\\)$`),
      )
      expect(performance.now() - t0).toBeLessThan(1000)
      // With the defaults (16 MiB always allowed) the same body is decompressed, and found not to be an artifact.
      if (compress !== 'lzma') expect(() => readArtifact(bytes, {source: 'bomb.golf'})).toThrow(/^bomb\.golf: corrupt manifest: /)
    })
  }
})

describe('fp8 floats and 8-bit scales', () => {
  it('exact bytes: e4m3 scales (e8m0 base, then one code per group), e4m3_row / e5m2_row (codes, then fp16 per row)', () => {
    const {bytes, report} = writeArtifact({
      model: {},
      quant: {},
      compress: 'none',
      tensors: [
        // 0.5 and 0.25 under P = 2^-9 (448 · 2^-10 < 0.5 ≤ 448 · 2^-9): codes 256 = 0x78, 128 = 0x70; base 127 - 9 = 118
        {name: 'w', shape: [2, 5], kind: 'ternary', trits: Int8Array.of(1, -1, 0, 0, 1, -1, -1, 1, 0, 1), scales: Float32Array.of(0.5, 0.25), scaleFormat: 'e4m3', groupSize: 'row', codec: 'base3'},
        // row 0: max 448 → s = 1 (fp16 0x3c00): 448 → 0x7e, -1 → 0xb8, 0.5 → 0x30; row 1: zeros → s = 2^-14 (0x0400)
        {name: 'emb', shape: [2, 3], kind: 'float', data: Float32Array.of(448, -1, 0.5, 0, 0, 0), dtype: 'e4m3_row'},
        // one row (a 1-D tensor): max 56 → s = 56 / 57344 = 2^-10 (0x1400): 57344 → 0x7b, -28672 → 0xf7, 512 → 0x60
        {name: 'gain', shape: [3], kind: 'float', data: Float32Array.of(56, -28, 0.5), dtype: 'e5m2_row'},
      ],
    })
    const m = new DataView(bytes.buffer).getUint32(7, true)
    const manifest = JSON.parse(new TextDecoder().decode(bytes.subarray(11, 11 + m)))
    expect(manifest.tensors.map((t: {codec: string; scale_format?: string; length: number; scales_length: number}) => [t.codec, t.scale_format, t.length, t.scales_length])).toEqual([
      ['base3', 'e4m3', 2, 3],
      ['e4m3_row', undefined, 6, 4],
      ['e5m2_row', undefined, 3, 2],
    ])
    const trits = encodeTrits('base3', Int8Array.of(1, -1, 0, 0, 1, -1, -1, 1, 0, 1))
    expect([...bytes.subarray(11 + m, bytes.length - 4)]).toEqual([...trits, 118, 0x78, 0x70, 0x7e, 0xb8, 0x30, 0, 0, 0, 0x00, 0x3c, 0x00, 0x04, 0x7b, 0xf7, 0x60, 0x00, 0x14])
    expect(report.ternary.scale_bytes).toBe(3)
    expect(report.tensors.map((t) => t.bytes)).toEqual([5, 10, 5])
    const back = readArtifact(bytes)
    expect(Array.from(back.tensors.get('w')!.scales!)).toEqual([0.5, 0.25])
    expect(Array.from(back.tensors.get('emb')!.data!)).toEqual([448, -1, 0.5, 0, 0, 0])
    expect(Array.from(back.tensors.get('gain')!.data!)).toEqual([56, -28, 0.5])
  })

  it('random tensors read back as the host encoder stores them, bit for bit, every codec and compression', () => {
    const r = lcg(21)
    const d = Float32Array.from({length: 24}, () => 0.001 + r() * 0.3)
    const stored = roundScalesE4m3(d)
    const emb = Float32Array.from({length: 40 * 16}, (_, i) => (r() - 0.5) * 2 ** ((i >> 4) % 9 - 6))
    for (const codec of [...TRIT_CODEC_NAMES, 'auto'] as const) {
      for (const compress of ['none', 'deflate', 'brotli'] as const) {
        const {bytes} = writeArtifact({
          model: {},
          quant: {},
          compress,
          tensors: [
            {name: 'w', shape: [6, 128], kind: 'ternary', trits: randomTrits(768, 0.3, 4), scales: stored, scaleFormat: 'e4m3', groupSize: 32, codec},
            {name: 'emb', shape: [40, 16], kind: 'float', data: emb, dtype: 'e4m3_row'},
            {name: 'proj', shape: [16, 40], kind: 'float', data: emb, dtype: 'e5m2_row'},
            {name: 'scalar', shape: [], kind: 'float', data: Float32Array.of(-0.3), dtype: 'e4m3_row'},
          ],
        })
        const {tensors} = readArtifact(bytes)
        expect(Buffer.from(tensors.get('w')!.scales!.buffer).equals(Buffer.from(stored.buffer))).toBe(true)
        for (const [name, rows, cols, fmt] of [['emb', 40, 16, 'e4m3'], ['proj', 16, 40, 'e5m2'], ['scalar', 1, 1, 'e4m3']] as const) {
          const src = name === 'scalar' ? Float32Array.of(-0.3) : emb
          const q = quantizeFp8PerRow(src, rows, cols, fmt)
          const want = dequantizeFp8PerRow(q.codes, q.scales, rows, cols, fmt)
          expect(Buffer.from(tensors.get(name)!.data!.buffer).equals(Buffer.from(want.buffer))).toBe(true)
        }
      }
    }
  })

  it('refuses e4m3 scales that are not codes times one power of two', () => {
    const w = (scales: Float32Array): ArtifactInput => ({
      model: {},
      quant: {},
      compress: 'none',
      tensors: [{name: 'w', shape: [2, 4], kind: 'ternary', trits: new Int8Array(8), scales, scaleFormat: 'e4m3', groupSize: 'row', codec: 'base3'}],
    })
    expect(() => writeArtifact(w(Float32Array.of(1, 0.3)))).toThrow(`tensor "w": scale 1 (${Math.fround(0.3)}) is not exactly an e4m3 code times the tensor's power-of-two base 2^-8`)
    expect(() => writeArtifact(w(Float32Array.of(448, 0.5)))).not.toThrow()
    expect(() => writeArtifact(w(Float32Array.of(448, 2 ** -10)))).toThrow(/scale 1 .* is not exactly an e4m3 code/) // below the smallest code under 2^0
  })
})
