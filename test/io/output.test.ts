import {linkSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'

import {InputError} from '../../src/errors.js'
import {checkOutputFile, fileHead} from '../../src/io/output.js'

let dir: string
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'golf-output-'))
})
afterEach(() => rmSync(dir, {recursive: true, force: true}))

const own = {what: 'a golf thing', writer: 'golf thing', recognise: (p: string) => fileHead(p, 5).toString('latin1') === 'THING'}

describe('checkOutputFile', () => {
  it('refuses an input however its path is spelled: ./, a symlink to it, a hard link', () => {
    const input = join(dir, 'in.bin')
    writeFileSync(input, 'THING mine')
    symlinkSync(input, join(dir, 'link.bin'))
    linkSync(input, join(dir, 'hard.bin'))
    const inputs = [{path: input, what: 'the source'}]
    for (const out of [input, join(dir, '.', 'in.bin'), join(dir, 'link.bin'), join(dir, 'hard.bin')]) {
      // refused with --force too, and before "exists": the message names the input
      expect(() => checkOutputFile(out, {inputs, force: true, own})).toThrow(
        new InputError(`--out ${out} is the same file as the source ${input}: golf does not write over its own input; choose another --out`),
      )
    }
    // the other way round: the input given through a link, --out the file itself
    expect(() => checkOutputFile(input, {inputs: [{path: join(dir, 'link.bin'), what: 'the artifact'}]})).toThrow(/^--out .*in\.bin is the same file as the artifact .*link\.bin:/)
    expect(readFileSync(input, 'utf8')).toBe('THING mine')
  })

  it('an existing file needs --force, and then must be one golf wrote (or empty)', () => {
    const mine = join(dir, 'notes.txt')
    writeFileSync(mine, 'precious')
    expect(() => checkOutputFile(mine, {own})).toThrow(new InputError(`${mine} exists: use --force to overwrite it`))
    expect(() => checkOutputFile(mine, {own, force: true, flag: '-o'})).toThrow(
      new InputError(`-o ${mine} exists and is not a golf thing: --force replaces only a file golf thing wrote; move it or choose another -o`),
    )
    const ours = join(dir, 'old.thing')
    writeFileSync(ours, 'THING old')
    expect(() => checkOutputFile(ours, {own, force: true})).not.toThrow()
    const empty = join(dir, 'empty')
    writeFileSync(empty, '')
    expect(() => checkOutputFile(empty, {own, force: true})).not.toThrow()
    // without a recogniser, --force replaces any regular file
    expect(() => checkOutputFile(mine, {force: true})).not.toThrow()
  })

  it('refuses a directory, a non-regular file and a missing folder; a new file is fine', () => {
    mkdirSync(join(dir, 'sub'))
    expect(() => checkOutputFile(join(dir, 'sub'), {force: true, fileName: 'x.py'})).toThrow(new InputError(`--out ${join(dir, 'sub')} is a directory: give a file name, e.g. ${join(dir, 'sub', 'x.py')}`))
    expect(() => checkOutputFile('/dev/null', {force: true})).toThrow(new InputError('--out /dev/null exists and is not a regular file: choose another --out'))
    expect(() => checkOutputFile(join(dir, 'nope', 'x'))).toThrow(new InputError(`--out ${join(dir, 'nope', 'x')}: folder ${join(dir, 'nope')} does not exist`))
    expect(() => checkOutputFile(join(dir, 'new.bin'), {inputs: [{path: join(dir, 'missing'), what: 'the source'}]})).not.toThrow()
  })
})

describe('fileHead', () => {
  it('reads at most n bytes, and nothing from a missing file', () => {
    writeFileSync(join(dir, 'f'), 'abc')
    expect(fileHead(join(dir, 'f'), 2).toString()).toBe('ab')
    expect(fileHead(join(dir, 'f'), 10).toString()).toBe('abc')
    expect(fileHead(join(dir, 'missing'), 4).length).toBe(0)
  })
})
