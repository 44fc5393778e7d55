import {deflateSync} from 'node:zlib'
import {describe, expect, it} from 'vitest'

import {compress} from '../../src/pack/compress.js'
import {codeReadings, compressedSizes, matchCode, type CodeFile} from '../../src/verify/code-size.js'
import {script} from './folders.js'

describe('code sizes raw and compressed', () => {
  const code = Buffer.from(script(20_000))
  const sizes = compressedSizes(code)

  it('zlib, brotli, lzma and xz of the file, each smaller than the raw code', () => {
    expect(sizes.zlib).toBe(deflateSync(code, {level: 9}).length)
    expect(sizes.xz).toBe(compress('xz', code).length)
    expect(sizes.lzma).toBe(compress('lzma', code).length)
    for (const k of ['zlib', 'brotli', 'lzma', 'xz'] as const) expect(sizes[k]).toBeLessThan(code.length)
  })

  const files: CodeFile[] = [
    {file: 'train_gpt.py', bytes: code.length, role: 'main', compressed: sizes},
    {file: 'utils.py', bytes: 1000, role: 'helper'},
    {file: 'tok.model', bytes: 5000, role: 'tokenizer'},
  ]

  it('the claim is matched to one reading: a file raw or compressed, or main + helpers raw; tokenizers never count', () => {
    const r = codeReadings(files)
    expect(matchCode(20_000, r).exact).toEqual({files: ['train_gpt.py'], form: 'raw', bytes: 20_000})
    expect(matchCode(sizes.xz!, r).exact).toMatchObject({files: ['train_gpt.py'], form: 'xz'})
    expect(matchCode(21_000, r).exact).toEqual({files: ['train_gpt.py', 'utils.py'], form: 'raw', bytes: 21_000})
    expect(matchCode(25_000, r).exact).toBeNull()
  })

  it('a compressed size a few bytes off is near, never exact; a raw size off by one is neither', () => {
    const r = codeReadings(files)
    expect(matchCode(sizes.xz! + 5, r)).toMatchObject({exact: null, near: {form: expect.stringMatching(/xz|lzma|brotli|zlib/)}})
    expect(matchCode(19_999, r)).toEqual({exact: null, near: null})
  })
})
