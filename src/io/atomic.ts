/**
 * Whole-file writes that never leave a half-written file behind: the data goes to
 * `<path>.tmp-<pid>-<n>` in the same folder and is renamed over `path` only once complete
 * (rename is atomic within one file system). On failure the temporary file is removed.
 */
import {closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync} from 'node:fs'
import {open, rename, rm} from 'node:fs/promises'

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

/** Synchronous twin of {@link writeFileAtomic}. */
export function writeFileAtomicSync(path: string, data: AtomicData): void {
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
    renameSync(tmp, path)
  } catch (err) {
    rmSync(tmp, {force: true})
    throw err
  }
}
