import {execFileSync} from 'node:child_process'
import {mkdtempSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'

import {InputError} from '../../src/errors.js'
import {oneLine, openInputFile, printable, readInputFile, showPath, statInput, statInputFile} from '../../src/io/read.js'

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

})

describe.skipIf(process.platform === 'win32')('anything but a regular file is refused before it is read', () => {
  const dir = mkdtempSync(join(tmpdir(), 'golf-read-special-'))
  const fifo = join(dir, 'pipe')
  execFileSync('mkfifo', [fifo])

  it('a device (/dev/zero never ends) and a FIFO with no writer (opening it would block): one line naming it', () => {
    for (const opts of [{}, {maxBytes: 1000}]) {
      expect(() => readInputFile('/dev/zero', 'recipe', opts)).toThrow(/^recipe is a character device, expected a regular file: \/dev\/zero$/)
      expect(() => readInputFile(fifo, '--artifact', {...opts, shown: 'pipe'})).toThrow(/^--artifact is a FIFO, expected a regular file: pipe$/)
    }
    expect(() => openInputFile(fifo, 'shard')).toThrow(`shard is a FIFO, expected a regular file: ${fifo}`)
  })

  it('statInputFile: the size of a regular file, without opening anything', () => {
    writeFileSync(join(dir, 'code.py'), 'print(1)\n')
    expect(statInputFile(join(dir, 'code.py'), 'code file').size).toBe(9)
    expect(() => statInputFile(fifo, 'code file', 'pipe')).toThrow(/^code file is a FIFO, expected a regular file: pipe$/)
    expect(() => statInputFile(dir, 'code file', 'd')).toThrow(/^code file is a directory, expected a file: d$/)
    expect(() => statInputFile('/dev/null', 'code file')).toThrow(/^code file is a character device, expected a regular file: \/dev\/null$/)
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
