import {isUtf8} from 'node:buffer'
import {closeSync, constants, fstatSync, openSync, readFileSync, readSync, statSync, type Stats} from 'node:fs'

import {describeFsError, InputError} from '../errors.js'

export interface ReadInputOptions {
  /** How the path appears in messages (default: the path itself, e.g. the flag value as typed). */
  shown?: string
  /** Refuse a file larger than this many bytes, before reading it (its size is measured by `fstat`). */
  maxBytes?: number
}

/** What a file that is not a regular file is, for messages: "a FIFO", "a character device", … */
export function fileKind(st: Stats): string {
  if (st.isDirectory()) return 'a directory'
  if (st.isFIFO()) return 'a FIFO'
  if (st.isSocket()) return 'a socket'
  if (st.isCharacterDevice()) return 'a character device'
  if (st.isBlockDevice()) return 'a block device'
  return 'not a regular file'
}

/**
 * Refuse anything but a regular file in one InputError line naming it: a FIFO would block its
 * reader, /dev/zero never ends, a directory has no bytes.
 */
export function assertRegularFile(st: Stats, what: string, shown: string): void {
  if (st.isFile()) return
  if (st.isDirectory()) throw new InputError(`${what} is a directory, expected a file: ${shown}`)
  throw new InputError(`${what} is ${fileKind(st)}, expected a regular file: ${shown}`)
}

/**
 * Open a file a user named for reading, refusing anything but a regular file (see
 * `assertRegularFile`). Opened with O_NONBLOCK, so a FIFO with no writer is refused, not waited
 * on. The caller closes `fd`.
 */
export function openInputFile(path: string, what: string, shown = path): {fd: number; size: number} {
  let fd: number
  try {
    fd = openSync(path, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0))
  } catch (err) {
    throw describeFsError(err, shown, what)
  }
  try {
    const st = fstatSync(fd)
    assertRegularFile(st, what, shown)
    return {fd, size: st.size}
  } catch (err) {
    closeSync(fd)
    throw err instanceof InputError ? err : describeFsError(err, shown, what)
  }
}

/**
 * Read a file a user named; a file-system failure, or a path that is not a regular file (a
 * directory, FIFO, device), becomes one InputError line naming it as `what` at `shown`
 * (default: the path itself, e.g. the flag value before it was resolved). The third argument is
 * either `shown` or the options; with `maxBytes`, a larger file is refused with
 * "<what> is too large: <shown> (N bytes, the limit is M)" without being read.
 */
export function readInputFile(path: string, what: string, shownOrOpts: string | ReadInputOptions = {}): Buffer {
  const opts = typeof shownOrOpts === 'string' ? {shown: shownOrOpts} : shownOrOpts
  const shown = opts.shown ?? path
  const max = opts.maxBytes ?? Infinity
  const tooLarge = (size: string): InputError => new InputError(`${what} is too large: ${shown} (${size} bytes, the limit is ${max})`)
  const {fd, size} = openInputFile(path, what, shown)
  try {
    if (size > max) throw tooLarge(String(size))
    if (max === Infinity) return readFileSync(fd)
    // one byte past the size: a file that grew since fstat is read at most to the cap
    const buf = Buffer.allocUnsafe(Math.min(size, max) + 1)
    let n = 0
    while (n < buf.length) {
      const got = readSync(fd, buf, n, buf.length - n, null)
      if (got === 0) break
      n += got
    }
    if (n > max) throw tooLarge(`more than ${max}`)
    return buf.subarray(0, n)
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

/** `statInput` of a path that must be a regular file (its size is what is wanted): nothing is opened. */
export function statInputFile(path: string, what: string, shown = path): Stats {
  const st = statInput(path, what, shown)
  assertRegularFile(st, what, shown)
  return st
}

/** C0 and C1 controls, DEL, and the Unicode line/paragraph separators: what can end a line or start a terminal escape. */
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g
const ESCAPES: Record<string, string> = {'\n': '\\n', '\r': '\\r', '\t': '\\t'}

function escapeControls(text: string): string {
  return text.replace(CONTROL, (c) => ESCAPES[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
}

/**
 * A message made safe for one line: control characters (a newline inside quoted JSON text, as
 * V8's JSON.parse errors quote the input) are written as escapes, and very long text is cut.
 */
export function oneLine(message: string, maxChars = 300): string {
  const flat = escapeControls(message)
  return flat.length > maxChars ? `${flat.slice(0, maxChars)}…` : flat
}

/**
 * A file name or path as golf prints it: control characters (newline, ESC, …) written as
 * escapes, so a hostile name cannot forge an output line or a terminal escape. An ordinary path
 * is shown unchanged.
 */
export function showPath(path: string): string {
  return escapeControls(path)
}

/** {@link showPath} for a whole message line that may hold such names (never cut, unlike {@link oneLine}). */
export function printable(line: string): string {
  return escapeControls(line)
}

/** Offset of the first byte that is not part of valid UTF-8 (as a fatal TextDecoder decides), or -1. */
export function invalidUtf8Offset(bytes: Uint8Array): number {
  if (isUtf8(bytes)) return -1
  let i = 0
  while (i < bytes.length) {
    const b = bytes[i]
    if (b < 0x80) {
      i++
      continue
    }
    // lead byte → sequence length and the allowed range of the second byte (no overlongs, no surrogates, ≤ U+10FFFF)
    const [n, lo, hi] = b >= 0xc2 && b <= 0xdf ? [2, 0x80, 0xbf] : b === 0xe0 ? [3, 0xa0, 0xbf] : b === 0xed ? [3, 0x80, 0x9f] : b >= 0xe1 && b <= 0xef ? [3, 0x80, 0xbf] : b === 0xf0 ? [4, 0x90, 0xbf] : b === 0xf4 ? [4, 0x80, 0x8f] : b >= 0xf1 && b <= 0xf3 ? [4, 0x80, 0xbf] : [0, 0, 0]
    if (n === 0 || i + n > bytes.length) return i
    if (bytes[i + 1] < lo || bytes[i + 1] > hi) return i
    for (let k = 2; k < n; k++) if (bytes[i + k] < 0x80 || bytes[i + k] > 0xbf) return i
    i += n
  }
  return -1
}

/**
 * Bytes a user handed us as UTF-8 text; invalid UTF-8 is one InputError line naming `shown` and
 * the byte offset of the first bad sequence (never silently replaced: byte counts depend on it).
 */
export function decodeUtf8(bytes: Uint8Array, shown: string): string {
  const bad = invalidUtf8Offset(bytes)
  if (bad >= 0) throw new InputError(`${showPath(shown)}: not valid UTF-8 (byte offset ${bad})`)
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8')
}
