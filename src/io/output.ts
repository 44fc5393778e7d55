/**
 * Checks on a file a command is about to write (`--out`), made before any work is done, so that
 * golf never writes over what a user made:
 *   - never one of the command's own inputs, however the path is spelled (`./x`, a symlink or a
 *     hard link to it): compared by device and inode;
 *   - never a directory, nor a file in a folder that does not exist;
 *   - an existing file only with --force, and then only one golf itself wrote (`own`), or an
 *     empty one (`mktemp`'s): a user's file is refused even with --force.
 * The write itself goes through src/io/atomic.ts (temporary file + rename).
 */
import {closeSync, openSync, readSync, statSync, type Stats} from 'node:fs'
import {dirname, join, resolve} from 'node:path'

import {InputError} from '../errors.js'
import {oneLine} from './read.js'

export interface OutputInput {
  /** A file the command reads (a missing one is skipped). */
  path: string
  /** What it is, for the message ("is the same file as <what> <path>"): 'the artifact', 'the recipe'. */
  what: string
}

export interface OutputFileOptions {
  /** The flag, for messages (default '--out'). */
  flag?: string
  /** The files this command reads: --out may not be any of them. */
  inputs?: readonly OutputInput[]
  force?: boolean
  /** A file name to suggest when --out is a directory (`<dir>/<name>`). */
  fileName?: string
  /**
   * The files golf writes here, which --force may replace: `what` names them ('a golf
   * artifact'), `writer` the command ('golf pack'), `recognise` reads an existing file's start.
   */
  own?: {what: string; writer: string; recognise: (path: string) => boolean}
}

function statOrNull(path: string): Stats | null {
  try {
    return statSync(path)
  } catch {
    return null
  }
}

/** The first `n` bytes of a file (fewer if it is shorter; none if it cannot be read): for `own.recognise`. */
export function fileHead(path: string, n: number): Buffer {
  let fd: number | undefined
  try {
    fd = openSync(path, 'r')
    const buf = Buffer.alloc(n)
    return buf.subarray(0, readSync(fd, buf, 0, n, 0))
  } catch {
    return Buffer.alloc(0)
  } finally {
    if (fd !== undefined) closeSync(fd)
  }
}

/** Refuse (InputError, one line) to write `out`; see the module doc. */
export function checkOutputFile(out: string, opts: OutputFileOptions = {}): void {
  const flag = opts.flag ?? '--out'
  const shown = oneLine(out)
  const st = statOrNull(out)
  if (st) {
    for (const input of opts.inputs ?? []) {
      const s = statOrNull(input.path)
      if (s && s.dev === st.dev && s.ino === st.ino) {
        throw new InputError(`${flag} ${shown} is the same file as ${input.what} ${oneLine(input.path)}: golf does not write over its own input; choose another ${flag}`)
      }
    }
    if (st.isDirectory()) throw new InputError(`${flag} ${shown} is a directory: give a file name${opts.fileName ? `, e.g. ${oneLine(join(out, opts.fileName))}` : ''}`)
    if (!st.isFile()) throw new InputError(`${flag} ${shown} exists and is not a regular file: choose another ${flag}`)
    if (!opts.force) throw new InputError(`${shown} exists: use --force to overwrite it`)
    if (opts.own && st.size > 0 && !opts.own.recognise(out)) {
      throw new InputError(`${flag} ${shown} exists and is not ${opts.own.what}: --force replaces only a file ${opts.own.writer} wrote; move it or choose another ${flag}`)
    }
    return
  }
  const dir = dirname(resolve(out))
  if (!statOrNull(dir)?.isDirectory()) throw new InputError(`${flag} ${shown}: folder ${oneLine(dir)} does not exist`)
}
