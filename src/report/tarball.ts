/**
 * `<name>.tar.gz` of a submission folder that is the same bytes wherever and whenever it is
 * built from the same files: entries relative to the folder's parent (`<name>/README.md`, no
 * absolute paths), sorted, regular files and folders only (a link is refused), every mtime set
 * to one given date (folders carry none: tar's portable mode writes 0), `portable` (no uid/gid/user names, modes from a 022 umask, no OS byte or
 * time in the gzip header).
 */
import {lstatSync, readdirSync, renameSync, rmSync} from 'node:fs'
import {basename, dirname, join} from 'node:path'
import {create} from 'tar'

import {InputError} from '../errors.js'
import {tempSiblingPath} from '../io/atomic.js'

/** Entries of `folder` as tar paths (`name/`, `name/a.txt`, `name/sub/`, …), sorted. */
export function tarEntries(folder: string): string[] {
  const name = basename(folder)
  const out: string[] = [`${name}/`]
  const walk = (abs: string, rel: string) => {
    for (const entry of readdirSync(abs).sort()) {
      const path = join(abs, entry)
      const st = lstatSync(path)
      const tarPath = `${rel}/${entry}`
      if (st.isSymbolicLink()) throw new InputError(`${path}: links are not allowed in a submission tarball`)
      if (st.isDirectory()) {
        out.push(`${tarPath}/`)
        walk(path, tarPath)
      } else if (st.isFile()) out.push(tarPath)
      else throw new InputError(`${path}: only regular files and folders can go in a submission tarball`)
    }
  }
  walk(folder, name)
  return out
}

/** Write the tarball of `folder` to `file` atomically; returns the entries in archive order. */
export async function writeTarball(folder: string, file: string, mtime: Date): Promise<string[]> {
  const entries = tarEntries(folder)
  const tmp = tempSiblingPath(file)
  try {
    await create({file: tmp, cwd: dirname(folder), gzip: {level: 9}, portable: true, mtime, noDirRecurse: true, follow: false}, entries)
    renameSync(tmp, file)
  } catch (err) {
    rmSync(tmp, {force: true})
    throw err
  }
  return entries
}
