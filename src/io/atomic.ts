/**
 * Whole-file writes that never leave a half-written file behind: the data goes to
 * `<path>.tmp-<pid>-<n>` in the same folder and is renamed over `path` only once complete
 * (rename is atomic within one file system). On failure the temporary file is removed; a
 * process killed mid-write (SIGKILL, power loss) leaves its temporary file, which
 * `removeStaleTemps` clears later (the old `path` is intact either way).
 */
import {closeSync, fsyncSync, openSync, readdirSync, renameSync, rmSync, writeSync} from 'node:fs'
import {open, rename, rm} from 'node:fs/promises'
import {basename, dirname, join} from 'node:path'

export type AtomicData = string | Uint8Array | readonly Uint8Array[]

let counter = 0

/** A temporary sibling name for `path`, unique within this process. */
export function tempSiblingPath(path: string): string {
  counter += 1
  return `${path}.tmp-${process.pid}-${counter}`
}

function chunksOf(data: AtomicData): readonly Uint8Array[] {
  if (typeof data === 'string') return [Buffer.from(data, 'utf8')]
  if (data instanceof Uint8Array) return [data]
  return data
}

/** Write `data` to `path` atomically (temp file + fsync + rename). */
export async function writeFileAtomic(path: string, data: AtomicData): Promise<void> {
  const tmp = tempSiblingPath(path)
  try {
    const fh = await open(tmp, 'w')
    try {
      for (const chunk of chunksOf(data)) {
        let off = 0
        while (off < chunk.byteLength) {
          const {bytesWritten} = await fh.write(chunk, off, chunk.byteLength - off)
          off += bytesWritten
        }
      }
      await fh.sync()
    } finally {
      await fh.close()
    }
    await rename(tmp, path)
  } catch (err) {
    await rm(tmp, {force: true})
    throw err
  }
}

export interface AtomicSyncOptions {
  /**
   * Called with the temporary file complete and synced, just before the rename. Lets the
   * checkpoint writer's test-only pause (src/run/checkpoint.ts) stop exactly there.
   */
  beforeRename?: (tmp: string) => void
}

/** Synchronous twin of {@link writeFileAtomic}. */
export function writeFileAtomicSync(path: string, data: AtomicData, opts: AtomicSyncOptions = {}): void {
  const tmp = tempSiblingPath(path)
  try {
    const fd = openSync(tmp, 'w')
    try {
      for (const chunk of chunksOf(data)) {
        let off = 0
        while (off < chunk.byteLength) off += writeSync(fd, chunk, off, chunk.byteLength - off)
      }
      fsyncSync(fd)
    } finally {
      closeSync(fd)
    }
    opts.beforeRename?.(tmp)
    renameSync(tmp, path)
  } catch (err) {
    rmSync(tmp, {force: true})
    throw err
  }
}

/**
 * fsync a folder, so the renames done in it survive a power loss (a rename is durable only once
 * its directory entry is). Best effort: some file systems refuse to open a folder for syncing.
 */
export function syncDirSync(dir: string): void {
  let fd: number | undefined
  try {
    fd = openSync(dir, 'r')
    fsyncSync(fd)
  } catch {
    // not supported here (e.g. some network file systems): the rename is still atomic
  } finally {
    if (fd !== undefined) closeSync(fd)
  }
}

function processAlive(pid: number): boolean {
  if (pid === process.pid) return true
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM' // alive, someone else's
  }
}

/**
 * Remove the temporary files that writers of `path` killed mid-write left behind (names
 * `<path>.tmp-<pid>-<n>` whose process no longer runs). Returns the names removed. Files of a
 * live process, this one included, are never touched.
 */
export function removeStaleTemps(path: string): string[] {
  const dir = dirname(path)
  const prefix = `${basename(path)}.tmp-`
  let names: string[]
  try {
    names = readdirSync(dir)
  } catch {
    return []
  }
  const removed: string[] = []
  for (const name of names) {
    if (!name.startsWith(prefix)) continue
    const m = /^(\d+)-\d+$/.exec(name.slice(prefix.length))
    if (!m || processAlive(Number(m[1]))) continue
    rmSync(join(dir, name), {force: true})
    removed.push(name)
  }
  return removed
}
