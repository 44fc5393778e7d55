import {mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {afterAll, describe, expect, it} from 'vitest'

import {InputError} from '../../src/errors.js'
import {
  type SafeTensor,
  decodeSafetensors,
  encodeSafetensors,
  readSafetensors,
  toFloat32,
  writeSafetensors,
} from '../../src/io/safetensors.js'

const dir = mkdtempSync(join(tmpdir(), 'golf-safetensors-'))
afterAll(() => rmSync(dir, {recursive: true, force: true}))

/** 8-byte LE length + header JSON padded with spaces to a multiple of 8 + data bytes. */
function handBuilt(headerJson: string, data: number[]): Uint8Array {
  const json = Buffer.from(headerJson, 'utf8')
  const pad = (8 - (json.length % 8)) % 8
  const len = Buffer.alloc(8)
  len.writeBigUInt64LE(BigInt(json.length + pad))
  return new Uint8Array(Buffer.concat([len, json, Buffer.alloc(pad, 0x20), Buffer.from(data)]))
}

const f32le = (...v: number[]) => [...Buffer.from(new Float32Array(v).buffer)]

describe('safetensors writer: golden bytes', () => {
  it('matches the reference serializer byte for byte (one F32 tensor, header exactly 64 bytes)', () => {
    const out = encodeSafetensors({'attn.0': {dtype: 'F32', shape: [1, 2, 3], data: new Float32Array([0, 1, 2, 3, 4, 5])}})
    const want = Buffer.from(
      '4000000000000000' +
        Buffer.from('{"attn.0":{"dtype":"F32","shape":[1,2,3],"data_offsets":[0,24]}}').toString('hex') +
        '00000000' + '0000803f' + '00000040' + '00004040' + '00008040' + '0000a040',
      'hex',
    )
    expect(Buffer.from(out).toString('hex')).toBe(want.toString('hex'))
  })

  it('pads the header with spaces to a multiple of 8', () => {
    const out = encodeSafetensors({attn0: {dtype: 'F32', shape: [1, 1, 2, 3], data: new Float32Array([0, 1, 2, 3, 4, 5])}})
    expect(Buffer.from(out.subarray(0, 8)).readBigUInt64LE()).toBe(72n)
    const header = Buffer.from(out.subarray(8, 80)).toString('utf8')
    expect(header).toBe('{"attn0":{"dtype":"F32","shape":[1,1,2,3],"data_offsets":[0,24]}}' + ' '.repeat(7))
    expect(out.length).toBe(8 + 72 + 24)
  })

  it('writes empty files and metadata like the reference', () => {
    expect(Buffer.from(encodeSafetensors({})).toString('hex')).toBe('0800000000000000' + Buffer.from('{}      ').toString('hex'))
    const withMeta = encodeSafetensors({}, {framework: 'pt'})
    expect(Buffer.from(withMeta).toString('latin1')).toBe('\x28\0\0\0\0\0\0\0{"__metadata__":{"framework":"pt"}}     ')
  })

  // What `safetensors.torch.save_file({"weight": float32 [[1,2],[3,4]], "step": int64 [7],
  // "half": float16 [1.0]}, path, metadata={"format": "pt"})` writes: tensors ordered by dtype
  // alignment (I64, F32, F16), metadata first, compact JSON, space padding.
  const torchHeader =
    '{"__metadata__":{"format":"pt"},' +
    '"step":{"dtype":"I64","shape":[1],"data_offsets":[0,8]},' +
    '"weight":{"dtype":"F32","shape":[2,2],"data_offsets":[8,24]},' +
    '"half":{"dtype":"F16","shape":[1],"data_offsets":[24,26]}}'
  const torchFixture = handBuilt(torchHeader, [7, 0, 0, 0, 0, 0, 0, 0, ...f32le(1, 2, 3, 4), 0x00, 0x3c])

  it('reads a file laid out as safetensors.torch.save_file writes it', () => {
    const path = join(dir, 'torch.safetensors')
    writeFileSync(path, torchFixture)
    const {tensors, metadata} = readSafetensors(path)
    expect(metadata).toEqual({format: 'pt'})
    expect([...tensors.keys()].sort()).toEqual(['half', 'step', 'weight'])
    const step = tensors.get('step')!
    expect(step.dtype).toBe('I64')
    expect(step.data).toBeInstanceOf(BigInt64Array)
    expect(Array.from(step.data as BigInt64Array)).toEqual([7n])
    expect(tensors.get('weight')).toEqual({dtype: 'F32', shape: [2, 2], data: new Float32Array([1, 2, 3, 4])})
    expect(tensors.get('half')).toEqual({dtype: 'F16', shape: [1], data: new Uint16Array([0x3c00])})
    expect(Array.from(toFloat32(tensors.get('half')!))).toEqual([1])
  })

  it('writes that same file byte for byte, whatever the insertion order', () => {
    const out = encodeSafetensors(
      new Map<string, SafeTensor>([
        ['half', {dtype: 'F16', shape: [1], data: new Uint16Array([0x3c00])}],
        ['weight', {dtype: 'F32', shape: [2, 2], data: new Float32Array([1, 2, 3, 4])}],
        ['step', {dtype: 'I64', shape: [1], data: new BigInt64Array([7n])}],
      ]),
      {format: 'pt'},
    )
    expect(Buffer.from(out).toString('hex')).toBe(Buffer.from(torchFixture).toString('hex'))
  })

  it('keeps integer-like names in sorted data order (no JS object key reordering)', () => {
    const t = (v: number): SafeTensor => ({dtype: 'U8', shape: [1], data: new Uint8Array([v])})
    const out = encodeSafetensors({b: t(1), '10': t(2), '2': t(3)})
    const n = Number(Buffer.from(out.subarray(0, 8)).readBigUInt64LE())
    const header = Buffer.from(out.subarray(8, 8 + n)).toString().trimEnd()
    expect(header).toBe(
      '{"10":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"2":{"dtype":"U8","shape":[1],"data_offsets":[1,2]},' +
        '"b":{"dtype":"U8","shape":[1],"data_offsets":[2,3]}}',
    )
    expect(Array.from(out.subarray(8 + n))).toEqual([2, 3, 1])
  })
})

describe('safetensors roundtrip', () => {
  it('roundtrips every dtype through a file, atomically, leaving no temporary files', () => {
    const tensors = new Map<string, SafeTensor>([
      ['f32', {dtype: 'F32', shape: [2, 3], data: new Float32Array([1.5, -2, 3e-8, 0, Infinity, -0])}],
      ['f64', {dtype: 'F64', shape: [2], data: new Float64Array([Math.PI, -1e300])}],
      ['f16', {dtype: 'F16', shape: [3], data: new Uint16Array([0x3c00, 0xc000, 0x0001])}],
      ['bf16', {dtype: 'BF16', shape: [2], data: new Uint16Array([0x3f80, 0x4049])}],
      ['i8', {dtype: 'I8', shape: [4], data: new Int8Array([-128, -1, 0, 127])}],
      ['u8', {dtype: 'U8', shape: [2, 2], data: new Uint8Array([0, 1, 254, 255])}],
      ['i32', {dtype: 'I32', shape: [2], data: new Int32Array([-2147483648, 2147483647])}],
      ['i64', {dtype: 'I64', shape: [3], data: new BigInt64Array([-(2n ** 63n), 0n, 2n ** 62n])}],
      ['scalar', {dtype: 'F32', shape: [], data: new Float32Array([42])}],
      ['empty', {dtype: 'F32', shape: [0, 4], data: new Float32Array(0)}],
    ])
    const path = join(dir, 'all.safetensors')
    writeFileSync(path, 'old contents')
    writeSafetensors(path, tensors, {step: '12', recipe: 'tiny'})
    expect(readdirSync(dir).filter((f) => f.includes('.tmp-'))).toEqual([])
    const back = readSafetensors(path)
    expect(back.metadata).toEqual({recipe: 'tiny', step: '12'})
    expect(back.tensors.size).toBe(tensors.size)
    for (const [name, t] of tensors) expect(back.tensors.get(name), name).toEqual(t)
    // writing what was read gives the same bytes (deterministic)
    expect(Buffer.from(encodeSafetensors(back.tensors, back.metadata)).equals(readFileSync(path))).toBe(true)
  })

  it('toFloat32 converts every dtype', () => {
    expect(Array.from(toFloat32({dtype: 'BF16', shape: [2], data: new Uint16Array([0x3f80, 0xc0a0])}))).toEqual([1, -5])
    expect(Array.from(toFloat32({dtype: 'F16', shape: [2], data: new Uint16Array([0x3555, 0x7bff])}))).toEqual([0.333251953125, 65504])
    expect(Array.from(toFloat32({dtype: 'F64', shape: [1], data: new Float64Array([0.1])}))).toEqual([Math.fround(0.1)])
    expect(Array.from(toFloat32({dtype: 'I64', shape: [2], data: new BigInt64Array([-3n, 1n << 40n])}))).toEqual([-3, 2 ** 40])
    expect(Array.from(toFloat32({dtype: 'I8', shape: [2], data: new Int8Array([-7, 9])}))).toEqual([-7, 9])
    expect(Array.from(toFloat32({dtype: 'F8_E4M3', shape: [2], data: new Uint8Array([0x38, 0xfe])}))).toEqual([1, -448])
    const f = new Float32Array([1, 2])
    const g = toFloat32({dtype: 'F32', shape: [2], data: f})
    expect(g).toEqual(f)
    expect(g).not.toBe(f)
  })

  it('rejects data that does not match its dtype or shape when writing', () => {
    expect(() => encodeSafetensors({a: {dtype: 'F32', shape: [3], data: new Float32Array(2)}})).toThrow(
      'safetensors: tensor a has shape [3] but 2 elements',
    )
    expect(() => encodeSafetensors({a: {dtype: 'F16', shape: [2], data: new Float32Array(2)}})).toThrow(
      'safetensors: tensor a is F16 but its data is a Float32Array',
    )
    expect(() => encodeSafetensors({a: {dtype: 'Q4' as never, shape: [1], data: new Uint8Array(1)}})).toThrow(/unknown dtype "Q4"/)
  })
})

describe('safetensors reader: validation', () => {
  const good = '{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}'
  const cases: Array<[string, Uint8Array, RegExp]> = [
    ['too short', new Uint8Array(5), /5 bytes, too short for the 8-byte header length/],
    ['header length past the end', (() => {
      const b = handBuilt(good, f32le(1, 2))
      Buffer.from(b.buffer).writeBigUInt64LE(1000n, 0)
      return b
    })(), /header length 1000 runs past the end of the file \(72 bytes\)/],
    ['header length over the limit', (() => {
      const b = handBuilt(good, f32le(1, 2))
      Buffer.from(b.buffer).writeBigUInt64LE(2n ** 40n, 0)
      return b
    })(), /header length 1099511627776 is over the 100000000-byte limit/],
    ['not JSON', handBuilt('{"a":', []), /header is not UTF-8 JSON/],
    ['not an object', handBuilt('[1,2]', []), /header is not a JSON object/],
    ['unknown dtype', handBuilt('{"a":{"dtype":"F17","shape":[2],"data_offsets":[0,8]}}', f32le(1, 2)), /tensor a has unknown dtype "F17"/],
    ['bad shape', handBuilt('{"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}}', f32le(1, 2)), /tensor a has an invalid shape \[-2\]/],
    ['offsets out of range', handBuilt('{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}', f32le(1, 2)), /tensor a data_offsets \[0, 16\] are out of range \(data is 8 bytes\)/],
    ['byte count vs shape', handBuilt('{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}', f32le(1, 2)), /tensor a has 8 bytes but F32 \[3\] needs 12/],
    ['overlap', handBuilt('{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}', f32le(1, 2)), /tensor b data_offsets \[4, 8\] overlap another tensor/],
    ['gap', handBuilt('{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}', f32le(1, 2)), /gap in the data region before tensor a \(bytes 0..4 belong to no tensor\)/],
    ['trailing bytes', handBuilt('{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}', f32le(1, 2)), /4 bytes after the last tensor belong to no tensor/],
    ['metadata not strings', handBuilt('{"__metadata__":{"step":3}}', []), /__metadata__ value of step is not a string/],
  ]
  for (const [what, bytes, message] of cases) {
    it(`rejects ${what} with an InputError naming the file`, () => {
      const path = join(dir, `bad-${what.replace(/\W+/g, '-')}.safetensors`)
      writeFileSync(path, bytes)
      let err: unknown
      try {
        readSafetensors(path)
      } catch (e) {
        err = e
      }
      expect(err).toBeInstanceOf(InputError)
      expect((err as Error).message).toMatch(message)
      expect((err as Error).message.startsWith(`${path}: not a valid safetensors file: `)).toBe(true)
    })
  }

  it('accepts the valid variant of those files', () => {
    const {tensors} = decodeSafetensors(handBuilt(good, f32le(1, 2)))
    expect(tensors.get('a')).toEqual({dtype: 'F32', shape: [2], data: new Float32Array([1, 2])})
  })

  it('names a missing file', () => {
    const path = join(dir, 'nope.safetensors')
    expect(() => readSafetensors(path)).toThrow(`safetensors file not found: ${path}`)
  })
})
