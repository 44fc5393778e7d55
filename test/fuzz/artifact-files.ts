/** Valid artifacts to mutate, and the tools to rebuild one around an edited body (CRC recomputed). */
import {spawnSync} from 'node:child_process'
import {crc32} from 'node:zlib'

import {type ArtifactInput, writeArtifact} from '../../src/pack/artifact.js'
import {type TritCodecName} from '../../src/pack/codecs/index.js'
import {type CompressName, compress, hasXzBinary} from '../../src/pack/compress.js'
import {randomTrits} from '../pack/trits.js'

const IDS: Record<CompressName, number> = {none: 0, deflate: 1, brotli: 2, lzma: 3, xz: 4}

/** A small model with every codec, scale format, group size and float dtype (12 tensors). */
export function sampleInput(codec: TritCodecName | 'auto', compression: CompressName, seed = 1): ArtifactInput {
  const halves = Float32Array.from({length: 8}, (_, i) => 2 ** -(i % 5))
  return {
    model: {vocab: 260, dim: 16, layers: 1},
    quant: {groupSize: 8, scaleFormat: 'fp16'},
    compress: compression,
    tensors: [
      {name: 'blocks.0.mlp.fc', shape: [4, 16], kind: 'ternary', trits: randomTrits(64, 0.3, seed), scales: halves, scaleFormat: 'fp16', groupSize: 8, codec},
      {name: 'blocks.0.attn.q', shape: [2, 8], kind: 'ternary', trits: randomTrits(16, 0.5, seed + 1), scales: halves.subarray(0, 2), scaleFormat: 'bf16', groupSize: 'row', codec},
      {name: 'zeros', shape: [3, 7], kind: 'ternary', trits: new Int8Array(21), scales: Float32Array.of(0.25), scaleFormat: 'fp32', groupSize: 'tensor', codec},
      {name: 'empty', shape: [0, 4], kind: 'ternary', trits: new Int8Array(0), scales: new Float32Array(0), scaleFormat: 'fp16', groupSize: 'row', codec},
      {name: 'tok_emb', shape: [3, 4], kind: 'float', data: Float32Array.from({length: 12}, (_, i) => i - 5.5), dtype: 'int8_row'},
      {name: 'norm.f32', shape: [3], kind: 'float', data: Float32Array.of(1, -2, 3.5), dtype: 'f32'},
      {name: 'norm.f16', shape: [2], kind: 'float', data: Float32Array.of(0.5, -1), dtype: 'f16'},
      {name: 'norm.bf16', shape: [2], kind: 'float', data: Float32Array.of(2, 0), dtype: 'bf16'},
      {name: 'gate', shape: [], kind: 'float', data: Float32Array.of(0.75), dtype: 'e4m3'},
      {name: 'blocks.0.attn.k', shape: [2, 16], kind: 'ternary', trits: randomTrits(32, 0.4, seed + 2), scales: Float32Array.of(0.5, 0.25, 0.375, 2 ** -12), scaleFormat: 'e4m3', groupSize: 8, codec},
      {name: 'emb.e4m3_row', shape: [3, 5], kind: 'float', data: Float32Array.from({length: 15}, (_, i) => (i - 7) * 0.3), dtype: 'e4m3_row'},
      {name: 'gain.e5m2_row', shape: [4], kind: 'float', data: Float32Array.of(1e-3, -2, 0, 7), dtype: 'e5m2_row'},
    ],
  }
}

export function sampleArtifact(codec: TritCodecName | 'auto', compression: CompressName, seed = 1): Uint8Array {
  return writeArtifact(sampleInput(codec, compression, seed)).bytes
}

/** The container around an already compressed body: header, body, CRC of all before it. */
export function container(packed: Uint8Array, id: number, version = 1): Uint8Array {
  const out = new Uint8Array(7 + packed.length + 4)
  const view = new DataView(out.buffer)
  out.set([0x47, 0x4f, 0x4c, 0x46], 0)
  view.setUint16(4, version, true)
  out[6] = id
  out.set(packed, 7)
  view.setUint32(out.length - 4, crc32(out.subarray(0, out.length - 4)), true)
  return out
}

/** An artifact holding `body` compressed with `compression`, with a valid CRC. */
export function artifactWithBody(body: Uint8Array, compression: CompressName, packed = compress(compression, body)): Uint8Array {
  return container(packed, IDS[compression])
}

/**
 * `compress`, but .lzma streams come from `xz --format=lzma` (LZMA-JS takes seconds per 100 KB)
 * with the size written into the header as golf's writer does (xz writes "unknown").
 */
export function compressFast(compression: CompressName, body: Uint8Array): Uint8Array {
  if (compression !== 'lzma' || !hasXzBinary()) return compress(compression, body)
  const out = new Uint8Array(spawnSync('xz', ['--format=lzma', '-1', '-c'], {input: body}).stdout)
  const view = new DataView(out.buffer)
  view.setUint32(5, body.length % 2 ** 32, true)
  view.setUint32(9, Math.floor(body.length / 2 ** 32), true)
  return out
}

/** The same file with its CRC made valid again (after editing bytes 0..end−4). */
export function fixCrc(bytes: Uint8Array): Uint8Array {
  if (bytes.length < 4) return bytes
  const out = Uint8Array.from(bytes)
  new DataView(out.buffer).setUint32(out.length - 4, crc32(out.subarray(0, out.length - 4)), true)
  return out
}

/** Split an uncompressed (`none`) artifact into its manifest object and payload bytes. */
export function splitNoneArtifact(bytes: Uint8Array): {manifest: Record<string, unknown> & {tensors: Array<Record<string, unknown>>}; payload: Uint8Array} {
  const body = bytes.subarray(7, bytes.length - 4)
  const m = new DataView(body.buffer, body.byteOffset, body.byteLength).getUint32(0, true)
  return {manifest: JSON.parse(new TextDecoder().decode(body.subarray(4, 4 + m))), payload: body.slice(4 + m)}
}

/** A body of this manifest (as JSON, any value) and payload. */
export function bodyOf(manifest: unknown, payload: Uint8Array): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(manifest))
  const body = new Uint8Array(4 + json.length + payload.length)
  new DataView(body.buffer).setUint32(0, json.length, true)
  body.set(json, 4)
  body.set(payload, 4 + json.length)
  return body
}
