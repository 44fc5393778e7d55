import {describe, expect, it} from 'vitest'

import {InputError} from '../../src/errors.js'
import {OFFICIAL_LIMIT, parseByteLimit} from '../../src/verify/limit.js'

describe('parseByteLimit', () => {
  it.each([
    ['16MB', 16_000_000],
    ['16mb', 16_000_000],
    ['16 MB', 16_000_000],
    ['16MiB', 16_777_216],
    ['15.5MB', 15_500_000],
    ['1000', 1000],
    ['16000000', OFFICIAL_LIMIT],
    ['16_000_000', 16_000_000],
    ['16,000,000', 16_000_000],
    ['500kB', 500_000],
    ['500KB', 500_000],
    ['1GB', 1_000_000_000],
    ['1KiB', 1024],
    ['0.5MiB', 524_288],
    ['1000B', 1000],
  ])('%s → %d', (s, n) => {
    expect(parseByteLimit(s)).toBe(n)
  })

  it.each(['16XB', '', 'MB', '-5MB', '16 M B', '1e6', '16MB extra', '0x10'])('rejects %j with one line naming the flag', (s) => {
    expect(() => parseByteLimit(s)).toThrow(InputError)
    expect(() => parseByteLimit(s)).toThrow(`--limit ${s}: expected bytes or a size like 16MB (decimal) or 16MiB`)
  })

  it('rejects fractions of a byte and zero', () => {
    expect(() => parseByteLimit('1.5')).toThrow('--limit 1.5: not a whole number of bytes')
    expect(() => parseByteLimit('0.0000001MB')).toThrow('not a whole number of bytes')
    expect(() => parseByteLimit('0MB')).toThrow('--limit 0MB: the limit must be positive')
  })
})
