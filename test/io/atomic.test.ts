import {mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'
import {writeFileAtomic, writeFileAtomicSync} from '../../src/io/atomic.js'

let dir: string
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'golf-atomic-'))
})
afterEach(() => rmSync(dir, {recursive: true, force: true}))

describe('writeFileAtomic', () => {
  it('writes strings, bytes and chunk lists, replacing the old file', async () => {
    const p = join(dir, 'f')
    writeFileSync(p, 'old')
    await writeFileAtomic(p, 'héllo')
    expect(readFileSync(p, 'utf8')).toBe('héllo')
    await writeFileAtomic(p, [Uint8Array.from([1, 2]), Uint8Array.from([3])])
    expect(Array.from(readFileSync(p))).toEqual([1, 2, 3])
    writeFileAtomicSync(p, Uint8Array.from([9]))
    expect(Array.from(readFileSync(p))).toEqual([9])
    expect(readdirSync(dir)).toEqual(['f'])
  })

  it('leaves the old file and no temporary file when the write fails', async () => {
    const p = join(dir, 'missing-dir', 'f')
    await expect(writeFileAtomic(p, 'x')).rejects.toThrow(/ENOENT/)
    expect(() => writeFileAtomicSync(p, 'x')).toThrow(/ENOENT/)
    // renaming onto a directory fails after the data was written: the temp file must go
    const target = join(dir, 'adir')
    rmSync(target, {force: true, recursive: true})
    const {mkdirSync} = await import('node:fs')
    mkdirSync(join(target, 'x'), {recursive: true})
    await expect(writeFileAtomic(target, 'data')).rejects.toThrow()
    expect(readdirSync(dir).sort()).toEqual(['adir'])
  })
})
