import {mkdtempSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'

import {InputError} from '../../src/errors.js'
import {readInputFile, statInput} from '../../src/io/read.js'

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

describe('statInput', () => {
  it('returns the stats, or one InputError line naming the path as given', () => {
    const dir = mkdtempSync(join(tmpdir(), 'golf-stat-'))
    expect(statInput(dir, 'dataset folder').isDirectory()).toBe(true)
    expect(() => statInput(join(dir, 'nope'), 'dataset folder', 'data/nope')).toThrow(/^dataset folder not found: data\/nope$/)
  })
})
