/**
 * JSON-shaped values as Python source, for the headers of generated Python files: null → None,
 * booleans → True/False, numbers in the shortest form that reads back to the same float64 (JS
 * `String`, which Python's float parser accepts), strings as ASCII literals, objects and arrays
 * one entry per line so that a diff of two headers is a diff of the values. Arrays of numbers
 * stay on one line (a pair such as [lo, hi] reads better so). Keys whose value is undefined are
 * left out, as JSON.stringify does.
 */

/** A Python string literal of s, ASCII only (\u/\U escapes; code points, not UTF-16 units). */
export function pythonString(s: string): string {
  let out = '"'
  for (const ch of s) {
    const cp = ch.codePointAt(0)!
    if (ch === '"' || ch === '\\') out += `\\${ch}`
    else if (ch === '\n') out += '\\n'
    else if (ch === '\t') out += '\\t'
    else if (ch === '\r') out += '\\r'
    else if (cp >= 0x20 && cp < 0x7f) out += ch
    else if (cp <= 0xffff) out += `\\u${cp.toString(16).padStart(4, '0')}`
    else out += `\\U${cp.toString(16).padStart(8, '0')}`
  }
  return out + '"'
}

/** A finite number as a Python int or float literal. */
export function pythonNumber(x: number): string {
  if (!Number.isFinite(x)) throw new Error(`pythonNumber: ${x} has no Python literal here (finite numbers only)`)
  return Object.is(x, -0) ? '-0.0' : String(x)
}

/** A JSON-shaped value as Python source; nested entries indented by `indent` (4 spaces a level). */
export function pythonLiteral(value: unknown, indent = ''): string {
  if (value === null) return 'None'
  if (typeof value === 'boolean') return value ? 'True' : 'False'
  if (typeof value === 'number') return pythonNumber(value)
  if (typeof value === 'string') return pythonString(value)
  const inner = indent + '    '
  if (Array.isArray(value)) {
    if (value.length === 0) return '[]'
    if (value.every((v) => typeof v === 'number' || v === null)) return `[${value.map((v) => pythonLiteral(v)).join(', ')}]`
    return `[\n${value.map((v) => `${inner}${pythonLiteral(v, inner)},\n`).join('')}${indent}]`
  }
  if (typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined)
    if (entries.length === 0) return '{}'
    return `{\n${entries.map(([k, v]) => `${inner}${pythonString(k)}: ${pythonLiteral(v, inner)},\n`).join('')}${indent}}`
  }
  throw new Error(`pythonLiteral: a ${typeof value} has no Python literal here`)
}
