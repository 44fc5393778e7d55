/** The result of `golf verify`, shared by folder mode and run mode (what `--json` prints). */
import type {RoundtripResult} from './roundtrip.js'

export interface VerifyCheck {
  name: string
  /** false = the check failed (exit 1). */
  ok: boolean
  /** false = could not be confirmed (e.g. no such line in the logs): not a failure, shown as "–". */
  confirmed: boolean
  detail: string
}

export interface VerifyReport {
  mode: 'folder' | 'run'
  bytes_model: number | null
  bytes_code: number | null
  bytes_total: number | null
  limit: number
  within_limit: boolean
  roundtrip: Pick<RoundtripResult, 'val_bpb_before' | 'val_bpb_after' | 'gap' | 'val_loss_before' | 'val_loss_after' | 'max_logit_diff' | 'exact'> | null
  checks: VerifyCheck[]
  /** Every check passed (unconfirmed ones count as passed). */
  ok: boolean
}

export const pass = (name: string, detail: string): VerifyCheck => ({name, ok: true, confirmed: true, detail})
export const fail = (name: string, detail: string): VerifyCheck => ({name, ok: false, confirmed: true, detail})
export const unconfirmed = (name: string, detail: string): VerifyCheck => ({name, ok: true, confirmed: false, detail})

/** `15,863,489` */
export function groupDigits(n: number): string {
  return n.toLocaleString('en-US')
}

/** The cap check, shared by both modes: says by how many bytes it is over. */
export function limitCheck(total: number | null, limit: number, what = 'bytes_total'): VerifyCheck {
  const name = `size ≤ limit`
  if (total === null) return fail(name, `${what} unknown: cannot check it against the ${groupDigits(limit)}-byte limit`)
  if (total <= limit) return pass(name, `${groupDigits(total)} ≤ ${groupDigits(limit)} bytes (${groupDigits(limit - total)} to spare)`)
  return fail(name, `${what} ${groupDigits(total)} is over the ${groupDigits(limit)}-byte limit by ${groupDigits(total - limit)} bytes`)
}
