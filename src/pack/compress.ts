/**
 * Outer compression of an artifact body: one byte stream in, one out, deterministic.
 *
 *   none     the bytes as they are
 *   deflate  raw DEFLATE (no zlib header or Adler-32: the container has its own CRC), pako level 9,
 *            memLevel 9, 32 KiB window
 *   brotli   node:zlib, quality 11, 16 MiB window (lgwin 24, what every brotli decoder accepts),
 *            size hint = input length
 *   lzma     .lzma ("LZMA alone") via @napi-rs/lzma
 *   xz       .xz via @napi-rs/lzma
 * `auto` tries each and keeps the smallest (ties go to the earlier name above).
 *
 * Note: @napi-rs/lzma wraps lzma-rs, whose encoder emits literals only (no match finder, no
 * preset choice): on trit payloads it is close to plain range-coded literals, and it cannot match
 * what `xz -9e` does on repetitive data. Entropy-coded trits gain nothing from any of them.
 */
import {lzma, xz} from '@napi-rs/lzma'
import pako from 'pako'
import {brotliCompressSync, brotliDecompressSync, constants} from 'node:zlib'

import {InputError} from '../errors.js'

export const COMPRESS_NAMES = ['none', 'deflate', 'brotli', 'lzma', 'xz'] as const
export type CompressName = (typeof COMPRESS_NAMES)[number]

export function isCompressName(name: string): name is CompressName {
  return (COMPRESS_NAMES as readonly string[]).includes(name)
}

function asBytes(b: Uint8Array): Uint8Array {
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength)
}

export function compress(name: CompressName, data: Uint8Array): Uint8Array {
  switch (name) {
    case 'none':
      return data
    case 'deflate':
      return pako.deflateRaw(data, {level: 9, memLevel: 9, windowBits: 15})
    case 'brotli':
      return asBytes(
        brotliCompressSync(data, {
          params: {
            [constants.BROTLI_PARAM_QUALITY]: 11,
            [constants.BROTLI_PARAM_LGWIN]: 24,
            [constants.BROTLI_PARAM_MODE]: constants.BROTLI_MODE_GENERIC,
            [constants.BROTLI_PARAM_SIZE_HINT]: data.length,
          },
        }),
      )
    case 'lzma':
      return asBytes(lzma.compressSync(data))
    case 'xz':
      return asBytes(xz.compressSync(data))
    default:
      throw new InputError(`unknown compression "${name as string}" (expected one of ${COMPRESS_NAMES.join(', ')}, auto)`)
  }
}

/** Every compression in `candidates`, keeping the smallest output. */
export function compressBest(data: Uint8Array, candidates: readonly CompressName[] = COMPRESS_NAMES): {compress: CompressName; bytes: Uint8Array} {
  let best: {compress: CompressName; bytes: Uint8Array} | undefined
  for (const name of candidates) {
    const bytes = compress(name, data)
    if (best === undefined || bytes.length < best.bytes.length) best = {compress: name, bytes}
  }
  if (best === undefined) throw new InputError('no compression to choose from')
  return best
}

/** Inverse of `compress`; a stream that does not decode is an InputError naming the format. */
export function decompress(name: CompressName, data: Uint8Array): Uint8Array {
  try {
    switch (name) {
      case 'none':
        return data
      case 'deflate':
        return pako.inflateRaw(data)
      case 'brotli':
        return asBytes(brotliDecompressSync(data))
      case 'lzma':
        return asBytes(lzma.decompressSync(data))
      case 'xz':
        return asBytes(xz.decompressSync(data))
    }
  } catch (err) {
    throw new InputError(`cannot decompress the ${name} stream: ${(err as Error).message ?? String(err)}`)
  }
  throw new InputError(`unknown compression "${name as string}"`)
}
