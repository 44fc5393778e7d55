import {readFileSync, statSync, type Stats} from 'node:fs'

import {describeFsError} from '../errors.js'

/**
 * Read a file a user named; a file-system failure becomes one InputError line naming it as
 * `what` at `shown` (default: the path itself, e.g. the flag value before it was resolved).
 */
export function readInputFile(path: string, what: string, shown = path): Buffer {
  try {
    return readFileSync(path)
  } catch (err) {
    throw describeFsError(err, shown, what)
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
