/**
 * Fuzzing the safetensors reader: random bytes, mutated valid files, and header edits (dtype,
 * shape, data_offsets set to hostile values, header length recomputed). Each read returns
 * tensors whose bytes fit in the file, or refuses with one InputError line.
 */
import fc from 'fast-check'
import {describe, expect, it} from 'vitest'

import {type SafeTensor, decodeSafetensors, encodeSafetensors, toFloat32} from '../../src/io/safetensors.js'
import {concat, decodesOrRefuses, hostileJsonValue, mutate, mutationsArb, runs} from './helpers.js'

function readBounded(bytes: Uint8Array): void {
  const got = decodesOrRefuses('safetensors', () => decodeSafetensors(bytes, 'fuzz.safetensors'))
  if (got === undefined) return
  let total = 0
  for (const t of got.tensors.values()) {
    total += t.data.byteLength
    expect(toFloat32(t).length).toBe(t.data.length)
  }
  // Every tensor's bytes come from the file: together never more than the file holds.
  expect(total).toBeLessThanOrEqual(bytes.length)
}

const valid: Uint8Array[] = [
  encodeSafetensors({}),
  encodeSafetensors({w: {dtype: 'F32', shape: [2, 3], data: Float32Array.of(1, 2, 3, 4, 5, 6)}}, {golf_manifest: '{"a":1}'}),
  encodeSafetensors(
    new Map<string, SafeTensor>([
      ['a', {dtype: 'BF16', shape: [4], data: Uint16Array.of(1, 2, 3, 4)}],
      ['b', {dtype: 'I64', shape: [1], data: BigInt64Array.of(-5n)}],
      ['c', {dtype: 'U8', shape: [0, 3], data: new Uint8Array(0)}],
      ['d', {dtype: 'F8_E4M3', shape: [], data: Uint8Array.of(0x38)}],
      ['e', {dtype: 'I8', shape: [3], data: Int8Array.of(-1, 0, 1)}],
    ]),
  ),
]

/** Rebuild a file from a (possibly edited) header object and the original data region. */
function withHeader(header: unknown, data: Uint8Array): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header))
  const len = new Uint8Array(8)
  new DataView(len.buffer).setBigUint64(0, BigInt(json.length), true)
  return concat(len, json, data)
}

function split(bytes: Uint8Array): {header: Record<string, Record<string, unknown>>; data: Uint8Array} {
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true))
  return {header: JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n))), data: bytes.slice(8 + n)}
}

describe('fuzz: safetensors reader', () => {
  it('random bytes, and random bytes behind a plausible header length', () => {
    fc.assert(
      fc.property(fc.uint8Array({maxLength: 300}), fc.boolean(), (bytes, framed) => {
        if (framed && bytes.length >= 8) new DataView(bytes.buffer, bytes.byteOffset).setBigUint64(0, BigInt(bytes.length % 64), true)
        readBounded(bytes)
      }),
      {numRuns: runs(400)},
    )
  })

  it('mutated valid files', () => {
    fc.assert(fc.property(fc.nat({max: valid.length - 1}), mutationsArb, (i, muts) => readBounded(mutate(valid[i], muts))), {numRuns: runs(600)})
  })

  it('header fields set to hostile values', () => {
    const fields = ['dtype', 'shape', 'data_offsets']
    fc.assert(
      fc.property(
        fc.nat({max: valid.length - 1}),
        fc.array(fc.tuple(fc.nat(), fc.constantFrom(...fields), hostileJsonValue), {minLength: 1, maxLength: 3}),
        fc.option(fc.tuple(fc.string({maxLength: 8}), hostileJsonValue)),
        (i, edits, extra) => {
          const {header, data} = split(valid[i])
          const names = Object.keys(header).filter((k) => k !== '__metadata__')
          for (const [j, key, value] of edits) if (names.length > 0) header[names[j % names.length]][key] = value
          if (extra) (header as Record<string, unknown>)[extra[0]] = extra[1]
          readBounded(withHeader(header, data))
        },
      ),
      {numRuns: runs(600)},
    )
  })
})
