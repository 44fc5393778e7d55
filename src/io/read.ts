import {closeSync, fstatSync, openSync, readFileSync, readSync, statSync, type Stats} from 'node:fs'

import {describeFsError, InputError} from '../errors.js'

export interface ReadInputOptions {
  /** How the path appears in messages (default: the path itself, e.g. the flag value as typed). */
  shown?: string
  /**
   * Refuse a file larger than this many bytes, before reading it (a regular file is measured by
   * `fstat`; anything else — a pipe, /dev/zero — is read at most maxBytes + 1 bytes).
   */
  maxBytes?: number
}

/**
 * Read a file a user named; a file-system failure becomes one InputError line naming it as
 * `what` at `shown` (default: the path itself, e.g. the flag value before it was resolved).
 * The third argument is either `shown` or the options; with `maxBytes`, a larger file is refused
 * with "<what> is too large: <shown> (N bytes, the limit is M)" without being read.
 */
export function readInputFile(path: string, what: string, shownOrOpts: string | ReadInputOptions = {}): Buffer {
  const opts = typeof shownOrOpts === 'string' ? {shown: shownOrOpts} : shownOrOpts
  const shown = opts.shown ?? path
  if (opts.maxBytes === undefined) {
    try {
      return readFileSync(path)
    } catch (err) {
      throw describeFsError(err, shown, what)
    }
  }
  const max = opts.maxBytes
  const tooLarge = (size: string): InputError => new InputError(`${what} is too large: ${shown} (${size} bytes, the limit is ${max})`)
  let fd: number
  try {
    fd = openSync(path, 'r')
  } catch (err) {
    throw describeFsError(err, shown, what)
  }
  try {
    const st = fstatSync(fd)
    if (st.isFile()) {
      if (st.size > max) throw tooLarge(String(st.size))
      return readFileSync(fd)
    }
    // Not a regular file (a directory fails in readSync with EISDIR): read in chunks, at most
    // one byte past the cap.
    const chunks: Buffer[] = []
    let total = 0
    for (;;) {
      const chunk = Buffer.allocUnsafe(Math.min(1 << 16, max + 1 - total))
      const n = readSync(fd, chunk, 0, chunk.length, null)
      if (n === 0) break
      chunks.push(chunk.subarray(0, n))
      total += n
      if (total > max) throw tooLarge(`more than ${max}`)
    }
    return Buffer.concat(chunks, total)
  } catch (err) {
    if (err instanceof InputError) throw err
    throw describeFsError(err, shown, what)
  } finally {
    closeSync(fd)
  }
}

/** `statSync` of a path a user named, with the same one-line InputError as `readInputFile`. */
export function statInput(path: string, what: string, shown = path): Stats {
  try {
    return statSync(path)
  } catch (err) {
    throw describeFsError(err, shown, what)
  }
}

/**
 * A message made safe for one line: control characters (a newline inside quoted JSON text, as
 * V8's JSON.parse errors quote the input) are written as escapes, and very long text is cut.
 */
export function oneLine(message: string, maxChars = 300): string {
  const escapes: Record<string, string> = {'\n': '\\n', '\r': '\\r', '\t': '\\t'}
  const flat = message.replace(/[\u0000-\u001f\u007f\u2028\u2029]/g, (c) => escapes[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
  return flat.length > maxChars ? `${flat.slice(0, maxChars)}…` : flat
}
