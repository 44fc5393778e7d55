import {mkdtempSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'

import {InputError} from '../../src/errors.js'
import {oneLine, printable, readInputFile, showPath, statInput} from '../../src/io/read.js'

describe('readInputFile', () => {
  const dir = mkdtempSync(join(tmpdir(), 'golf-read-'))

  it('returns the bytes of a file', () => {
    writeFileSync(join(dir, 'a.bin'), Uint8Array.of(1, 2, 3))
    expect([...readInputFile(join(dir, 'a.bin'), 'artifact')]).toEqual([1, 2, 3])
  })

  it('names what was missing, as the user wrote it, in one InputError line', () => {
    const read = () => readInputFile(join(dir, 'missing.golf'), '--artifact', 'missing.golf')
    expect(read).toThrow(InputError)
    expect(read).toThrow(/^--artifact not found: missing\.golf$/)
    expect(() => readInputFile(dir, 'safetensors file')).toThrow(`safetensors file is a directory, expected a file: ${dir}`)
  })
})

describe('readInputFile with maxBytes', () => {
  const dir = mkdtempSync(join(tmpdir(), 'golf-read-cap-'))
  writeFileSync(join(dir, 'four.bin'), Uint8Array.of(1, 2, 3, 4))

  it('reads a file up to the cap, refuses one over it before reading, in one line naming it', () => {
    expect([...readInputFile(join(dir, 'four.bin'), 'artifact', {maxBytes: 4})]).toEqual([1, 2, 3, 4])
    expect(() => readInputFile(join(dir, 'four.bin'), '--artifact', {maxBytes: 3, shown: 'four.bin'})).toThrow(/^--artifact is too large: four\.bin \(4 bytes, the limit is 3\)$/)
    expect(() => readInputFile(join(dir, 'none.bin'), 'artifact', {maxBytes: 3})).toThrow(/^artifact not found: /)
    expect(() => readInputFile(dir, 'recipe', {maxBytes: 3})).toThrow(`recipe is a directory, expected a file: ${dir}`)
  })

  it('a stream with no size (/dev/zero) is read at most one byte past the cap', () => {
    expect(() => readInputFile('/dev/zero', 'recipe', {maxBytes: 1000})).toThrow('recipe is too large: /dev/zero (more than 1000 bytes, the limit is 1000)')
    expect(readInputFile('/dev/null', 'recipe', {maxBytes: 10}).length).toBe(0)
  })
})

describe('oneLine', () => {
  it('escapes control characters and cuts long text', () => {
    expect(oneLine('a\nb\r\tc\u0000')).toBe('a\\nb\\r\\tc\\u0000')
    expect(oneLine('x'.repeat(400), 10)).toBe(`${'x'.repeat(10)}…`)
  })
})

describe('statInput', () => {
  it('returns the stats, or one InputError line naming the path as given', () => {
    const dir = mkdtempSync(join(tmpdir(), 'golf-stat-'))
    expect(statInput(dir, 'dataset folder').isDirectory()).toBe(true)
    expect(() => statInput(join(dir, 'nope'), 'dataset folder', 'data/nope')).toThrow(/^dataset folder not found: data\/nope$/)
  })
})

describe('showPath / printable', () => {
  it('escape the controls that end a line or start a terminal escape; an ordinary path is unchanged', () => {
    expect(showPath('runs/tiny-cpu s1/config.json')).toBe('runs/tiny-cpu s1/config.json')
    expect(showPath('a\nb\rc\td\u001b[2Je\u009bf\u2028g\u007f')).toBe('a\\nb\\rc\\td\\u001b[2Je\\u009bf\\u2028g\\u007f')
    expect(printable('é ✓ ' + 'x'.repeat(500))).toHaveLength(504) // never cut
  })
})
