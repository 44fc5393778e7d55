/**
 * JSON documents a user hands us (submission.json, run-folder files, sidecars): one parser, so
 * each is read the same way. A leading UTF-8 byte-order mark is dropped (editors on Windows
 * write one); a number JSON.parse turns into Infinity (`1e400`) is refused naming its field, as
 * no golf field can hold it; a syntax error is one line (V8 quotes the input, newlines included).
 */
import {InputError} from '../errors.js'
import {invalidUtf8Offset, oneLine, showPath} from './read.js'

/** `a.b[2].c` for messages; a key that is not a plain name is quoted. */
function childPath(parent: string, key: string | number): string {
  if (typeof key === 'number') return `${parent}[${key}]`
  const k = /^[A-Za-z_$][\w$-]*$/.test(key) ? key : JSON.stringify(key)
  return parent === '' ? k : `${parent}.${k}`
}

/**
 * Where a parsed document (JSON or YAML) holds a number that is not finite (Infinity, NaN): its
 * path (`val_loss`, `seed_results[0].val_bpb`, `train.lr`; '' for the document itself) and the
 * value, else null. `.inf` / `.nan` in YAML and `1e400` in JSON both parse to one.
 */
export function findNonFinite(doc: unknown, at = ''): {path: string; value: number} | null {
  if (typeof doc === 'number') return Number.isFinite(doc) ? null : {path: at, value: doc}
  if (doc === null || typeof doc !== 'object') return null
  const entries: Array<[string | number, unknown]> = Array.isArray(doc) ? doc.map((v, i) => [i, v]) : Object.entries(doc)
  for (const [k, v] of entries) {
    const hit = findNonFinite(v, childPath(at, k))
    if (hit !== null) return hit
  }
  return null
}

export type JsonRead = {ok: true; doc: unknown} | {ok: false; reason: string}

/**
 * A JSON document from text or UTF-8 bytes, or why it is not one (`not valid UTF-8 (byte offset
 * 12)`, `not valid JSON (…)`, `val_loss is not a finite number …`), the reason one line.
 */
export function readJson(input: string | Uint8Array): JsonRead {
  let text: string
  if (typeof input === 'string') text = input
  else {
    const bad = invalidUtf8Offset(input)
    if (bad >= 0) return {ok: false, reason: `not valid UTF-8 (byte offset ${bad})`}
    text = Buffer.from(input.buffer, input.byteOffset, input.byteLength).toString('utf8')
  }
  let doc: unknown
  try {
    doc = JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text)
  } catch (err) {
    return {ok: false, reason: `not valid JSON (${oneLine((err as Error).message)})`}
  }
  const inf = findNonFinite(doc)
  if (inf !== null) return {ok: false, reason: `${inf.path || 'the document'} is not a finite number (too large for a double)`}
  return {ok: true, doc}
}

/** {@link readJson}, its failure one InputError line naming `shown` (a file as messages show it). */
export function parseJson(input: string | Uint8Array, shown: string): unknown {
  const r = readJson(input)
  if (!r.ok) throw new InputError(`${showPath(shown)}: ${r.reason}`)
  return r.doc
}
