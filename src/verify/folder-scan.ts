/**
 * Walking and reading a submission folder that may be hostile. A folder someone else wrote can
 * hold a link to /etc/passwd or ~/.ssh, a FIFO that blocks whoever opens it, a 20 GB "log", or
 * folders nested thousands deep; `golf verify` must report those, never follow, hang on or
 * swallow them. So:
 *
 * - every entry is looked at with lstat, never stat: a link is not followed unless its target
 *   (after every link on the way) lies inside the folder and is a regular file; a link that
 *   leaves the folder is refused and listed, its target never opened;
 * - anything that is not a regular file or a folder (FIFO, socket, device) is skipped unopened;
 * - files are opened with O_NOFOLLOW | O_NONBLOCK and checked again with fstat, so a file
 *   swapped for a link or a FIFO after the walk is refused, not followed or waited on;
 * - each file is read at most `maxFileBytes` (a larger one is listed "too large to read", not
 *   read at all: a log's numbers are at its end, and half a log would only mislead), and the
 *   walk stops after `maxEntries` entries and does not enter folders deeper than `maxDepth`.
 *
 * `bytesRead` counts every byte read, so tests can show a big file was never read whole.
 */
import {closeSync, constants, fstatSync, lstatSync, opendirSync, openSync, readSync, readlinkSync, realpathSync, statSync, type Stats} from 'node:fs'
import {join, relative, sep} from 'node:path'

import {fileKind} from '../io/read.js'

export interface ScanLimits {
  /** Largest file read, in bytes; a larger one is listed as too large and not read. */
  maxFileBytes: number
  /** Entries (files, folders, links) looked at in all; the walk stops there. */
  maxEntries: number
  /** Folder levels entered below the submission folder (1: `logs/` but not `logs/old/`). */
  maxDepth: number
}

export const DEFAULT_SCAN_LIMITS: ScanLimits = {maxFileBytes: 16 * 2 ** 20, maxEntries: 2000, maxDepth: 3}

/** Folders that are never part of a submission: not entered, listed as skipped. */
const SKIP_DIRS = new Set(['.git', '.hg', '.svn', '__pycache__', 'node_modules', '.ipynb_checkpoints', '.venv', 'venv'])

export interface ScannedFile {
  /** Path inside the folder, `/`-separated: `train.log`, `logs/train_seed42.txt`. */
  rel: string
  /** What to open: the file itself, or the real path of a link's in-folder target. */
  abs: string
  size: number
  /** For a link to a file inside the folder: its target, relative to the folder. */
  linkTo?: string
}

export interface Refused {
  rel: string
  reason: string
}

export interface FolderScan {
  /** Real path of the folder. */
  root: string
  files: ScannedFile[]
  /** Entries not read, with why: links out, FIFOs and devices, folders too deep, the entry cap. */
  refused: Refused[]
  limits: ScanLimits
  /** Bytes read from files so far (every read through `readScanned`). */
  bytesRead: number
  /**
   * The folder (`.` or `logs/`) whose listing reached `maxEntries`: the walk stopped there, so
   * the scan is partial (files past the cap, in any folder, were not looked at). null: complete.
   */
  stoppedIn: string | null
}

function inside(path: string, root: string): boolean {
  return path === root || path.startsWith(root.endsWith(sep) ? root : root + sep)
}

/** Walk `dir` (a folder the caller checked exists) within `limits`. Reads no file contents. */
export function scanFolder(dir: string, limits: ScanLimits = DEFAULT_SCAN_LIMITS): FolderScan {
  const root = realpathSync(dir)
  const scan: FolderScan = {root, files: [], refused: [], limits, bytesRead: 0, stoppedIn: null}
  let entries = 0

  const walk = (absDir: string, relDir: string, depth: number) => {
    const names: string[] = []
    let d
    try {
      d = opendirSync(absDir)
    } catch (err) {
      scan.refused.push({rel: relDir || '.', reason: `cannot list: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`})
      return
    }
    try {
      // one entry at a time: a folder with a million names is not loaded whole
      for (let e = d.readSync(); e !== null; e = d.readSync()) {
        if (entries >= limits.maxEntries) {
          scan.stoppedIn ??= relDir ? `${relDir}/` : '.'
          break
        }
        entries++
        names.push(e.name)
      }
    } finally {
      d.closeSync()
    }
    names.sort()
    for (const name of names) {
      const abs = join(absDir, name)
      const rel = relDir ? `${relDir}/${name}` : name
      let st: Stats
      try {
        st = lstatSync(abs)
      } catch (err) {
        scan.refused.push({rel, reason: `cannot read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`})
        continue
      }
      if (st.isSymbolicLink()) {
        let target = '?'
        try {
          target = readlinkSync(abs)
        } catch {
          // the reason below says enough
        }
        let real: string
        try {
          real = realpathSync(abs)
        } catch {
          scan.refused.push({rel, reason: `link to ${target} that leads nowhere: not followed`})
          continue
        }
        if (!inside(real, root)) {
          scan.refused.push({rel, reason: `link to ${target}, outside the folder: refused, not read`})
          continue
        }
        const t = statSync(real)
        // a link to a folder inside is not entered: links are how walks loop
        if (t.isFile()) scan.files.push({rel, abs: real, size: t.size, linkTo: relative(root, real).split(sep).join('/')})
        else scan.refused.push({rel, reason: `link to ${target}, ${t.isDirectory() ? 'a folder: not entered' : `${fileKind(t)}: skipped`}`})
      } else if (st.isDirectory()) {
        if (SKIP_DIRS.has(name)) scan.refused.push({rel: `${rel}/`, reason: 'not part of a submission: not entered'})
        else if (depth >= limits.maxDepth) scan.refused.push({rel: `${rel}/`, reason: `deeper than ${limits.maxDepth} folder levels: not entered`})
        else walk(abs, rel, depth + 1)
      } else if (st.isFile()) scan.files.push({rel, abs, size: st.size})
      else scan.refused.push({rel, reason: `${fileKind(st)}: skipped, not opened`})
    }
  }
  walk(root, '', 0)
  if (scan.stoppedIn) scan.refused.push({rel: scan.stoppedIn, reason: `more than ${limits.maxEntries} entries: stopped there, the rest was not looked at`})
  return scan
}

export type ReadResult = {ok: true; bytes: Buffer} | {ok: false; reason: string}

/**
 * Read a scanned file: at most `maxBytes` (default the scan's cap), refusing links, non-regular
 * files and anything over the cap without reading it.
 */
export function readScanned(scan: FolderScan, file: ScannedFile, maxBytes = scan.limits.maxFileBytes): ReadResult {
  return readBounded(scan, file, maxBytes, false)
}

/** The first `n` bytes of a file (to tell text from binary), under the same rules. */
export function readHead(scan: FolderScan, file: ScannedFile, n: number): ReadResult {
  return readBounded(scan, file, n, true)
}

function readBounded(scan: FolderScan, file: ScannedFile, maxBytes: number, head: boolean): ReadResult {
  const tooLarge = (n: number) => ({ok: false as const, reason: `too large to read (${n.toLocaleString('en-US')} bytes, cap ${maxBytes.toLocaleString('en-US')})`})
  if (!head && file.size > maxBytes) return tooLarge(file.size)
  let fd: number
  try {
    fd = openSync(file.abs, constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0) | (constants.O_NONBLOCK ?? 0))
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    return {ok: false, reason: code === 'ELOOP' ? 'became a link after the folder was listed: not followed' : `cannot open: ${code ?? (err as Error).message}`}
  }
  try {
    const st = fstatSync(fd)
    if (!st.isFile()) return {ok: false, reason: `${fileKind(st)}: not read`}
    if (!head && st.size > maxBytes) return tooLarge(st.size)
    // one byte more than the cap: a file that grew since fstat is caught, not read on
    const buf = Buffer.allocUnsafe(Math.min(st.size, maxBytes) + (head ? 0 : 1))
    let n = 0
    while (n < buf.length) {
      const got = readSync(fd, buf, n, buf.length - n, n)
      if (got === 0) break
      n += got
    }
    scan.bytesRead += n
    if (!head && n > maxBytes) return tooLarge(n)
    return {ok: true, bytes: buf.subarray(0, n)}
  } finally {
    closeSync(fd)
  }
}
