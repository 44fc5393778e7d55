/**
 * Typed arrays back to back in one new array of `make(total)` (always a copy: callers that may
 * keep a lone part as it is check `parts.length === 1` themselves).
 */
export function concatArrays<T extends Uint8Array | Uint16Array>(parts: readonly T[], make: (length: number) => T): T {
  const out = make(parts.reduce((n, p) => n + p.length, 0))
  let at = 0
  for (const p of parts) {
    out.set(p, at)
    at += p.length
  }
  return out
}
