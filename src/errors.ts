/**
 * Errors a user can act on. Everything golf rejects goes through one of these, so the CLI can
 * print a single clear line and exit with the documented code:
 *   2 — bad input or usage (a file, a flag, a recipe key is wrong);
 *   1 — a check ran and failed (over the size cap, a mismatch found by `golf verify`).
 * Anything else that escapes is a bug and keeps its stack trace under `--debug`.
 */
export class GolfError extends Error {
  readonly exitCode: number

  constructor(message: string, exitCode = 2) {
    super(message)
    this.name = 'GolfError'
    this.exitCode = exitCode
  }
}

/** Bad input: names the file, flag or key and says what is wrong. Exit code 2. */
export class InputError extends GolfError {
  constructor(message: string) {
    super(message, 2)
    this.name = 'InputError'
  }
}

/** A check that ran and failed (e.g. the artifact is over the cap). Exit code 1. */
export class CheckFailedError extends GolfError {
  constructor(message: string) {
    super(message, 1)
    this.name = 'CheckFailedError'
  }
}

/** Wraps a Node file-system error into one line that names the path. */
export function describeFsError(err: unknown, path: string, what = 'file'): InputError {
  const code = (err as NodeJS.ErrnoException | undefined)?.code
  if (code === 'ENOENT') return new InputError(`${what} not found: ${path}`)
  if (code === 'EISDIR') return new InputError(`${what} is a directory, expected a file: ${path}`)
  if (code === 'ENOTDIR') return new InputError(`${what} is not a directory: ${path}`)
  if (code === 'EACCES' || code === 'EPERM') return new InputError(`${what} is not readable: ${path}`)
  return new InputError(`cannot read ${what} ${path}: ${(err as Error).message}`)
}
