/**
 * Size limits as a user types them. The challenge's cap is decimal: 16MB = 16,000,000 bytes
 * (not 16MiB = 16,777,216). Units: B, kB/KB, MB, GB (powers of 1000) and KiB, MiB, GiB (powers
 * of 1024), any letter case except that `i` marks the binary ones; plain digits are bytes
 * (`16_000_000` and `16,000,000` too). A fraction is fine if the result is a whole number of
 * bytes (`15.5MB`).
 */
import {InputError} from '../errors.js'

/** The official cap: code bytes + compressed model bytes ≤ 16,000,000. */
export const OFFICIAL_LIMIT = 16_000_000

const UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  kib: 2 ** 10,
  mib: 2 ** 20,
  gib: 2 ** 30,
}

/** `16MB` → 16000000, `16MiB` → 16777216, `15.5MB` → 15500000, `1000` → 1000. */
export function parseByteLimit(s: string, flag = '--limit'): number {
  const bad = () => new InputError(`${flag} ${s}: expected bytes or a size like 16MB (decimal) or 16MiB`)
  const m = /^\s*(\d+(?:[_,]\d{3})*(?:\.\d+)?|\.\d+)\s*([a-z]*)\s*$/i.exec(s)
  if (!m) throw bad()
  const unit = UNITS[m[2].toLowerCase()]
  if (unit === undefined) throw bad()
  const num = m[1].replace(/[_,]/g, '')
  // Exact decimal arithmetic: "15.5" × 1e6 without float error (scale by the fraction's digits).
  const [whole, frac = ''] = num.split('.')
  const scaled = BigInt(whole || '0') * 10n ** BigInt(frac.length) + BigInt(frac || '0')
  const total = scaled * BigInt(unit)
  const div = 10n ** BigInt(frac.length)
  if (total % div !== 0n) throw new InputError(`${flag} ${s}: not a whole number of bytes`)
  const bytes = total / div
  if (bytes <= 0n) throw new InputError(`${flag} ${s}: the limit must be positive`)
  if (bytes > BigInt(Number.MAX_SAFE_INTEGER)) throw bad()
  return Number(bytes)
}
