/**
 * The submission tarball refuses anything that would point or climb out of the folder when
 * unpacked (src/report/tarball.ts; kept here with the other untrusted-folder tests).
 */
import {execFileSync} from 'node:child_process'
import {mkdirSync, rmSync, symlinkSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {list} from 'tar'
import {afterAll, describe, expect, it} from 'vitest'

import {InputError} from '../../src/errors.js'
import {tarEntries, writeTarball} from '../../src/report/tarball.js'
import {tmp, writeFolder} from '../verify/folders.js'

const root = tmp('golf-tarball-')
afterAll(() => rmSync(root, {recursive: true, force: true}))
const DATE = new Date('2026-03-20T10:00:00Z')

describe('tarEntries / writeTarball on untrusted folders', () => {
  it('relative, sorted entries, even for a folder given as `x/..` or `.`-relative', async () => {
    const dir = writeFolder(root, 'sub', {'README.md': '#\n', 'logs/train.log': 'x\n'})
    expect(tarEntries(join(dir, 'logs', '..'))).toEqual(['sub/', 'sub/README.md', 'sub/logs/', 'sub/logs/train.log'])
    const file = join(root, 'sub.tar.gz')
    await writeTarball(dir, file, DATE)
    const paths: string[] = []
    await list({file, onReadEntry: (e) => paths.push(e.path)})
    expect(paths).toEqual(['sub/', 'sub/README.md', 'sub/logs/', 'sub/logs/train.log'])
    expect(paths.every((p) => !p.startsWith('/') && !p.split('/').includes('..'))).toBe(true)
  })

  it('a link inside is refused in one line, whatever it points at', () => {
    const dir = writeFolder(root, 'linked', {'README.md': '#\n'})
    symlinkSync('/etc/passwd', join(dir, 'passwd'))
    expect(() => tarEntries(dir)).toThrow(InputError)
    expect(() => tarEntries(dir)).toThrow(`${join(dir, 'passwd')}: links are not allowed in a submission tarball`)
  })

  it('the folder itself given as a link is refused (lstat, not stat)', () => {
    const dir = writeFolder(root, 'target', {'README.md': '#\n'})
    symlinkSync(dir, join(root, 'via-link'))
    expect(() => tarEntries(join(root, 'via-link'))).toThrow(`${join(root, 'via-link')}: the submission folder is a link; give the folder itself`)
  })

  it('the file-system root, a FIFO and a name with a backslash are refused', () => {
    expect(() => tarEntries('/')).toThrow('/: the file-system root cannot be a submission folder')
    const dir = writeFolder(root, 'odd', {'README.md': '#\n'})
    execFileSync('mkfifo', [join(dir, 'pipe')])
    expect(() => tarEntries(dir)).toThrow(`${join(dir, 'pipe')}: only regular files and folders can go in a submission tarball`)
    const win = writeFolder(root, 'win', {'..\\..\\evil.txt': 'x'})
    expect(() => tarEntries(win)).toThrow(`${join(win, '..\\..\\evil.txt')}: a backslash in a name (a folder separator on Windows) is not allowed in a submission tarball`)
  })

  it('a folder that does not exist is one line, not a stack trace', () => {
    mkdirSync(join(root, 'empty'))
    writeFileSync(join(root, 'file.txt'), 'x')
    expect(() => tarEntries(join(root, 'nope'))).toThrow(`${join(root, 'nope')}: not found`)
    expect(() => tarEntries(join(root, 'file.txt'))).toThrow(`${join(root, 'file.txt')}: not a folder`)
    expect(tarEntries(join(root, 'empty'))).toEqual(['empty/'])
  })
})
