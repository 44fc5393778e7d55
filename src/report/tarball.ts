/**
 * `<name>.tar.gz` of a submission folder that is the same bytes wherever and whenever it is
 * built from the same files: entries relative to the folder's parent (`<name>/README.md`, no
 * absolute paths), sorted, regular files and folders only, every mtime set to one given date
 * (folders carry none: tar's portable mode writes 0), `portable` (no uid/gid/user names, modes
 * from a 022 umask, no OS byte or time in the gzip header).
 *
 * A tarball is unpacked by someone else, so nothing in it may point or climb out of the folder:
 * every entry is looked at with lstat (a link is refused, never followed — not even the folder
 * itself), and an entry whose path is absolute, has a `..` part or a backslash (a separator on
 * Windows) is refused. The archiver is told the same (`follow: false`) and its own view of each
 * entry is checked again, so a file swapped for a link after the listing is refused too.
 */
import {lstatSync, readdirSync, renameSync, rmSync, type Stats} from 'node:fs'
import {basename, dirname, isAbsolute, resolve} from 'node:path'
import {create, type ReadEntry} from 'tar'

import {InputError} from '../errors.js'
import {tempSiblingPath} from '../io/atomic.js'

function lstatOrFail(path: string): Stats {
  try {
    return lstatSync(path)
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    throw new InputError(code === 'ENOENT' ? `${path}: not found` : `${path}: cannot read (${code ?? (err as Error).message})`)
  }
}

/** Refuse a tar path that is absolute, climbs out (`..`) or holds a backslash. */
function assertSafeEntry(tarPath: string, shown: string): void {
  if (isAbsolute(tarPath) || /^[a-zA-Z]:/.test(tarPath)) throw new InputError(`${shown}: absolute paths are not allowed in a submission tarball`)
  if (tarPath.split('/').some((p) => p === '..')) throw new InputError(`${shown}: parent (..) paths are not allowed in a submission tarball`)
  if (tarPath.includes('\\')) throw new InputError(`${shown}: a backslash in a name (a folder separator on Windows) is not allowed in a submission tarball`)
}

/** Entries of `folder` as tar paths (`name/`, `name/a.txt`, `name/sub/`, …), sorted. */
export function tarEntries(folder: string): string[] {
  const root = resolve(folder)
  const rootStat = lstatOrFail(root)
  if (rootStat.isSymbolicLink()) throw new InputError(`${folder}: the submission folder is a link; give the folder itself`)
  if (!rootStat.isDirectory()) throw new InputError(`${folder}: not a folder`)
  const name = basename(root)
  if (name === '') throw new InputError(`${folder}: the file-system root cannot be a submission folder`)
  assertSafeEntry(`${name}/`, folder)
  const out: string[] = [`${name}/`]
  const walk = (abs: string, rel: string) => {
    for (const entry of readdirSync(abs).sort()) {
      const path = `${abs}/${entry}`
      const tarPath = `${rel}/${entry}`
      assertSafeEntry(tarPath, path)
      const st = lstatOrFail(path)
      if (st.isSymbolicLink()) throw new InputError(`${path}: links are not allowed in a submission tarball`)
      if (st.isDirectory()) {
        out.push(`${tarPath}/`)
        walk(path, tarPath)
      } else if (st.isFile()) out.push(tarPath)
      else throw new InputError(`${path}: only regular files and folders can go in a submission tarball`)
    }
  }
  walk(root, name)
  return out
}

/** Write the tarball of `folder` to `file` atomically; returns the entries in archive order. */
export async function writeTarball(folder: string, file: string, mtime: Date): Promise<string[]> {
  const root = resolve(folder)
  const entries = tarEntries(root)
  const tmp = tempSiblingPath(file)
  // what the archiver itself sees (it lstats with follow: false): anything but a file or a folder is refused
  const odd: string[] = []
  const filter = (path: string, st: Stats | ReadEntry) => {
    // creating, tar passes its lstat; a ReadEntry only appears when reading an archive
    const ok = 'isSymbolicLink' in st ? !st.isSymbolicLink() && (st.isFile() || st.isDirectory()) : st.type === 'File' || st.type === 'Directory'
    if (!ok) odd.push(path)
    return ok
  }
  try {
    await create({file: tmp, cwd: dirname(root), gzip: {level: 9}, portable: true, mtime, noDirRecurse: true, follow: false, filter}, entries)
    if (odd.length) throw new InputError(`${resolve(dirname(root), odd[0])}: changed into a link or a special file while the tarball was written; not archived`)
    renameSync(tmp, file)
  } catch (err) {
    rmSync(tmp, {force: true})
    throw err
  }
  return entries
}
