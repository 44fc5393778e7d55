/**
 * Which file of a submission folder is what, by name and by content: records call their
 * metadata `submission.json` or `submission_<name>.json` (or something else holding the same
 * fields), their logs `train.log`, `train_seed42.log`, `train_seed_42.txt`, `train_v2.txt`,
 * `eval_log_42.txt`, `log_<what>.txt` or put them under `logs/`, keep code as `train_gpt.py`,
 * `train_<name>.py`, helper modules and scripts, and sometimes ship a tokenizer. So:
 *
 * - metadata: a JSON object with submission fields (claims.ts), preferring `submission.json`,
 *   then `submission*.json`, then any other; a `submission*.json` that does not parse is a problem;
 * - logs: a `.log`, or any text file (`.txt`, `.out`, no extension) with score or size lines;
 * - code: `.py`/`.mjs`/`.js` named `train*` (the main files the code claim can be), and a
 *   `train*.br` (golf's counted code ships as the loader `train_golf.mjs` + the compressed bundle
 *   `train_golf.br`: both are main, and the claim is their sum), other code (`.py`, `.c`, `.sh`,
 *   …) as helpers, `.model`/`.vocab` as tokenizer files;
 * - artifacts: `.golf`, `.ptz` and compressed model files, measured, read only for `.golf`.
 *
 * Everything goes through folder-scan.ts: bounded reads, no links out of the folder.
 */
import {extname} from 'node:path'

import {readJson} from '../io/json.js'
import {looksLikeSubmission} from './claims.js'
import {readHead, readScanned, type FolderScan, type Refused, type ScannedFile} from './folder-scan.js'
import {parseLog, type ParsedLog} from './logs.js'

export interface FolderLog {
  file: string
  log: ParsedLog
  /** The seed: from the file name, else a seed line in the log, else (folder.ts) a claimed seed in the name. */
  seed: number | null
  seedFrom: 'name' | 'log' | 'claims' | null
  /** Named as a rerun (`rerun`, `repro`, `compliance` in its path). */
  rerun: boolean
}

export interface FolderFiles {
  readme: string | null
  /** Metadata candidates, the one to check first. */
  metadata: Array<{file: string; doc: Record<string, unknown>; by: 'name' | 'content'}>
  /** `submission*.json` files that could not be read as an object: the entry's metadata is broken. */
  metadataErrors: Array<{file: string; reason: string}>
  logs: FolderLog[]
  /** Code files with their bytes (read for the compressed sizes of main files). */
  code: Array<{file: string; bytes: number; role: 'main' | 'helper'; data: Uint8Array | null}>
  tokenizers: Array<{file: string; bytes: number}>
  artifacts: Array<{file: string; bytes: number; scanned: ScannedFile}>
  /** Files that could not be read (too large, changed while reading), plus what the scan refused. */
  refused: Refused[]
}

const CODE_EXT = new Set(['.py', '.mjs', '.js', '.cjs', '.c', '.h', '.cc', '.cpp', '.cu', '.cuh', '.sh', '.pyx', '.ts'])
const MAIN_EXT = new Set(['.py', '.mjs', '.js', '.cjs'])
/** A compressed payload of the counted code (golf's `train_golf.br`): main when named `train*`. */
const PAYLOAD_EXT = new Set(['.br'])
const TOKENIZER_EXT = new Set(['.model', '.vocab'])
/** `model.golf`, `final_model.int8.ptz`, `model.pt.xz`: a packed model, not a compressed log. */
const ARTIFACT_RE = /\.(golf|ptz)$|(model|artifact|weights|\.pt|\.bin)[^/]*\.(xz|lzma|br|zst|zstd)$/i
const TEXT_EXT = new Set(['.log', '.txt', '.out', '.err', '.text', ''])

const base = (rel: string) => rel.slice(rel.lastIndexOf('/') + 1)

/** `train_seed42.log`, `train_seed_42.txt`, `log_seed1337.txt`, `seed7.out` → the seed. */
export function seedFromName(rel: string): number | null {
  const m = /(?:^|[^a-z])seeds?[_-]?(\d{1,12})(?!\d)/i.exec(base(rel))
  return m ? Number(m[1]) : null
}

function utf8(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8')
}

export function sortFolder(scan: FolderScan): FolderFiles {
  const found: FolderFiles = {readme: null, metadata: [], metadataErrors: [], logs: [], code: [], tokenizers: [], artifacts: [], refused: [...scan.refused]}
  const read = (f: ScannedFile): Uint8Array | null => {
    const r = readScanned(scan, f)
    if (r.ok) return r.bytes
    found.refused.push({rel: f.rel, reason: r.reason})
    return null
  }
  for (const f of scan.files) {
    const name = base(f.rel)
    const lower = name.toLowerCase()
    const ext = extname(lower)
    const atRoot = !f.rel.includes('/')
    if (atRoot && /^readme(\.(md|markdown|txt|rst))?$/.test(lower)) {
      // the README is only needed present; the first one found wins (README.md sorts first)
      found.readme ??= f.rel
      continue
    }
    if (ARTIFACT_RE.test(lower)) {
      found.artifacts.push({file: f.rel, bytes: f.size, scanned: f})
      continue
    }
    if (ext === '.json') {
      const named = /^submission([_-].*)?\.json$/.test(lower) || /submission/.test(lower)
      const bytes = read(f)
      if (bytes === null) {
        if (named) found.metadataErrors.push({file: f.rel, reason: found.refused.at(-1)!.reason})
        continue
      }
      const json = readJson(bytes)
      if (!json.ok) {
        if (named) found.metadataErrors.push({file: f.rel, reason: json.reason})
        continue
      }
      const doc = json.doc
      if (looksLikeSubmission(doc)) found.metadata.push({file: f.rel, doc, by: named ? 'name' : 'content'})
      else if (named) found.metadataErrors.push({file: f.rel, reason: doc !== null && typeof doc === 'object' && !Array.isArray(doc) ? 'a JSON object without submission fields (val_bpb, bytes_total, seed_results, …)' : 'expected a JSON object'})
      continue
    }
    if (TOKENIZER_EXT.has(ext)) {
      found.tokenizers.push({file: f.rel, bytes: f.size})
      continue
    }
    if (CODE_EXT.has(ext) || (PAYLOAD_EXT.has(ext) && /^train/.test(lower))) {
      const main = (MAIN_EXT.has(ext) || PAYLOAD_EXT.has(ext)) && /^train/.test(lower)
      // main files are read for their compressed sizes; helpers only measured
      found.code.push({file: f.rel, bytes: f.size, role: main ? 'main' : 'helper', data: main ? read(f) : null})
      continue
    }
    if (TEXT_EXT.has(ext) && !/^requirements.*\.txt$/.test(lower)) {
      if (ext === '') {
        // no extension: read only if it starts as text
        const head = readHead(scan, f, 4096)
        if (!head.ok || head.bytes.includes(0)) continue
      }
      const bytes = read(f)
      if (bytes === null) continue
      const log = parseLog(utf8(bytes))
      // a .txt etc. counts as a log only when it reads like one (records also keep code as .txt)
      const isLog = ext === '.log' || log.val.length > 0 || log.totals.length > 0 || log.models.length > 0 || log.code.length > 0
      if (!isLog) continue
      const nameSeed = seedFromName(f.rel)
      found.logs.push({file: f.rel, log, seed: nameSeed ?? log.seed, seedFrom: nameSeed !== null ? 'name' : log.seed !== null ? 'log' : null, rerun: /rerun|re-run|repro|compliance/i.test(f.rel)})
    }
  }
  // no train* file: the root's .py/.mjs files are the candidates for the counted code
  if (!found.code.some((c) => c.role === 'main')) {
    for (const c of found.code) {
      if (!c.file.includes('/') && MAIN_EXT.has(extname(c.file.toLowerCase()))) {
        c.role = 'main'
        const f = scan.files.find((x) => x.rel === c.file)!
        c.data = read(f)
      }
    }
  }
  const rank = (m: FolderFiles['metadata'][number]) => (m.file.toLowerCase() === 'submission.json' ? 0 : m.by === 'name' ? 1 : 2) + (m.file.includes('/') ? 3 : 0)
  found.metadata.sort((a, b) => rank(a) - rank(b) || a.file.localeCompare(b.file))
  return found
}
