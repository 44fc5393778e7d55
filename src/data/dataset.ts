/**
 * Dataset folders: official shards (`fineweb_{train,val}_NNNNNN.bin`) plus a `dataset.json`
 * saying which tokenizer wrote them. `prepareDataset` builds one from text (each document
 * `[BOS] + tokens`, the first documents forming the validation split, as the official
 * exporter does); `readDatasetInfo` reads one back, inferring what it can for folders
 * downloaded without `dataset.json`.
 */
import {createReadStream, existsSync, lstatSync, readdirSync, statSync} from 'node:fs'
import {copyFile, mkdir, readFile, rename, rm} from 'node:fs/promises'
import {homedir} from 'node:os'
import {basename, dirname, join, relative, resolve} from 'node:path'
import {Ajv} from 'ajv'
import {glob, isDynamicPattern} from 'tinyglobby'
import {describeFsError, InputError} from '../errors.js'
import {tempSiblingPath, writeFileAtomic} from '../io/atomic.js'
import {parseJson} from '../io/json.js'
import {assertRegularFile, decodeUtf8, invalidUtf8Offset, oneLine, readInputFile, showPath, statInput, statInputFile} from '../io/read.js'
import {loadTokenizer} from '../tokenizer/index.js'
import {brownDocuments} from './brown.js'
import {DEFAULT_SHARD_TOKENS, listByteSidecars, listShards, ShardWriter, type Split} from './shard.js'

export const DATASET_FILE = 'dataset.json'
/** Largest `dataset.json` read (a real one is under 1 KB): refused before reading. */
export const MAX_DATASET_JSON_BYTES = 1 << 20

export type DatasetSourceKind = 'brown' | 'text' | 'jsonl' | 'download'

/** The contents of `dataset.json`. */
export interface DatasetJson {
  format: 'golf-dataset'
  version: 1
  /** `byte260`, or the file name of the SentencePiece `.model`. */
  tokenizer: string
  /** Path of the `.model` relative to the dataset folder, or null for byte260. */
  tokenizer_path: string | null
  vocab_size: number
  bos_id: number
  docs: {train: number; val: number}
  tokens: {train: number; val: number}
  shard_tokens: number
  source: DatasetSourceKind
}

export interface DatasetInfo {
  /** Absolute path of the folder. */
  dir: string
  /** `dataset.json` as read, or null when the folder has none (e.g. an official download). */
  meta: DatasetJson | null
  /** From `dataset.json`, else inferred from the folder name (`…_sp1024` → 1024, `…byte260` → 260), else null. */
  vocabSize: number | null
  bosId: number
  /** `byte260`, a `.model` file name, or null if unknown. */
  tokenizer: string | null
  /** Absolute path of the `.model`, or null (byte260 or unknown). */
  tokenizerPath: string | null
  /** Absolute shard paths per split, in stream order. */
  files: {train: string[]; val: string[]}
  /** Absolute paths of the validation byte sidecars (`fineweb_val_bytes_*.bin`, CaseOps datasets), sorted; [] when none. */
  byteSidecars: string[]
}

const datasetSchema = {
  type: 'object',
  required: ['format', 'version', 'tokenizer', 'tokenizer_path', 'vocab_size', 'bos_id', 'docs', 'tokens', 'shard_tokens', 'source'],
  properties: {
    format: {const: 'golf-dataset'},
    version: {const: 1},
    tokenizer: {type: 'string', minLength: 1},
    tokenizer_path: {type: ['string', 'null']},
    vocab_size: {type: 'integer', minimum: 1, maximum: 65536},
    bos_id: {type: 'integer', minimum: 0, maximum: 65535},
    docs: {$ref: '#/$defs/splitCounts'},
    tokens: {$ref: '#/$defs/splitCounts'},
    shard_tokens: {type: 'integer', minimum: 1},
    source: {enum: ['brown', 'text', 'jsonl', 'download']},
  },
  $defs: {
    splitCounts: {
      type: 'object',
      required: ['train', 'val'],
      properties: {train: {type: 'integer', minimum: 0}, val: {type: 'integer', minimum: 0}},
    },
  },
} as const

const validateDatasetJson = new Ajv({allErrors: false}).compile(datasetSchema)

/** Parse and check a `dataset.json` (text or bytes: a byte-order mark is dropped, invalid UTF-8 refused); `path` is for the error message. */
export function parseDatasetJson(text: string | Uint8Array, path: string): DatasetJson {
  const value = parseJson(text, path)
  if (!validateDatasetJson(value)) {
    const e = validateDatasetJson.errors?.[0]
    const key = e ? (e.instancePath.replace(/^\//, '').replace(/\//g, '.') || (e.params as {missingProperty?: string}).missingProperty || '(root)') : '(root)'
    const detail = e?.keyword === 'required' ? 'is missing' : e?.keyword === 'const' || e?.keyword === 'enum' ? `must be ${JSON.stringify((e.params as {allowedValue?: unknown}).allowedValue ?? (e.params as {allowedValues?: unknown}).allowedValues)}` : (e?.message ?? 'is invalid')
    throw new InputError(`${path}: key '${key}' ${detail}`)
  }
  const meta = value as unknown as DatasetJson
  if (meta.bos_id >= meta.vocab_size) throw new InputError(`${path}: key 'bos_id' ${meta.bos_id} is outside the vocabulary (0..${meta.vocab_size - 1})`)
  return meta
}

function inferVocab(dir: string): number | null {
  const name = basename(dir)
  if (/byte260$/.test(name)) return 260
  const m = /_sp(\d+)$/.exec(name)
  return m ? Number(m[1]) : null
}

/**
 * Describe a dataset folder. InputError when the folder is missing, is not a folder, has a
 * bad `dataset.json`, or holds no shards at all.
 */
export function readDatasetInfo(dir: string): DatasetInfo {
  const abs = resolve(dir)
  const st = statInput(abs, 'dataset folder', dir)
  if (!st.isDirectory()) throw new InputError(`dataset folder is not a directory: ${dir}`)
  const files = {train: listShards(abs, 'train'), val: listShards(abs, 'val')}
  if (files.train.length === 0 && files.val.length === 0) {
    throw new InputError(`no shards (fineweb_train_*.bin / fineweb_val_*.bin) in ${dir}`)
  }
  const byteSidecars = listByteSidecars(abs)
  const jsonPath = join(abs, DATASET_FILE)
  if (existsSync(jsonPath)) {
    const bytes = readInputFile(jsonPath, 'dataset file', {shown: join(dir, DATASET_FILE), maxBytes: MAX_DATASET_JSON_BYTES})
    const meta = parseDatasetJson(bytes, join(dir, DATASET_FILE))
    return {
      dir: abs,
      meta,
      vocabSize: meta.vocab_size,
      bosId: meta.bos_id,
      tokenizer: meta.tokenizer,
      tokenizerPath: meta.tokenizer_path === null ? null : resolve(abs, meta.tokenizer_path),
      files,
      byteSidecars,
    }
  }
  // An official download without dataset.json: `<root>/datasets/fineweb10B_sp1024/` with the
  // model at `<root>/tokenizers/fineweb_1024_bpe.model`.
  const vocabSize = inferVocab(abs)
  let tokenizer: string | null = null
  let tokenizerPath: string | null = null
  if (vocabSize === 260 && /byte260$/.test(basename(abs))) {
    tokenizer = 'byte260'
  } else if (vocabSize !== null) {
    const candidate = resolve(abs, '..', '..', 'tokenizers', `fineweb_${vocabSize}_bpe.model`)
    if (existsSync(candidate)) {
      tokenizer = basename(candidate)
      tokenizerPath = candidate
    }
  }
  return {dir: abs, meta: null, vocabSize, bosId: 1, tokenizer, tokenizerPath, files, byteSidecars}
}

// ---------------------------------------------------------------------------------------------
// Sources

export type DatasetSource = {kind: 'brown'} | {kind: 'text'; patterns: string[]} | {kind: 'jsonl'; path: string}

interface DocumentSource {
  count: number
  texts(): AsyncIterable<string>
}

/** Files named by paths or globs, sorted by absolute path (code point order), deduplicated. */
export async function resolveTextFiles(patterns: readonly string[]): Promise<string[]> {
  if (patterns.length === 0) throw new InputError('--text: give at least one file or glob')
  const found = new Set<string>()
  for (const p of patterns) {
    if (isDynamicPattern(p)) {
      const matches = await glob([p], {absolute: true, onlyFiles: true, expandDirectories: false})
      if (matches.length === 0) throw new InputError(`--text: no files match ${p}`)
      for (const m of matches) found.add(resolve(m))
    } else {
      const st = statInput(p, 'text file')
      if (st.isDirectory()) throw new InputError(`--text: ${p} is a directory; give files or a glob such as ${join(p, '*.txt')}`)
      assertRegularFile(st, 'text file', p) // a FIFO would block the read, /dev/zero never end
      found.add(resolve(p))
    }
  }
  return [...found].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
}

/**
 * The lines of a file as bytes, with their line numbers and the byte offset each starts at (a
 * trailing `\r` dropped): read as bytes so that invalid UTF-8 can be named where it is instead
 * of being replaced (the byte count of every document feeds val_bpb).
 */
async function* byteLines(path: string): AsyncIterable<{line: number; offset: number; bytes: Buffer}> {
  let pending: Buffer[] = [] // the current line's bytes from earlier chunks
  let start = 0 // file offset of the current line
  let line = 0
  const take = (last: Buffer): Buffer => {
    const all = pending.length > 0 ? Buffer.concat([...pending, last]) : last
    pending = []
    return all.at(-1) === 0x0d ? all.subarray(0, -1) : all
  }
  let read = 0 // file offset of the chunk
  for await (const chunk of createReadStream(path) as AsyncIterable<Buffer>) {
    let from = 0
    let nl: number
    while ((nl = chunk.indexOf(0x0a, from)) >= 0) {
      yield {line: ++line, offset: start, bytes: take(chunk.subarray(from, nl))}
      from = nl + 1
      start = read + from
    }
    if (from < chunk.length) pending.push(chunk.subarray(from))
    read += chunk.length
  }
  if (pending.length > 0) yield {line: ++line, offset: start, bytes: take(Buffer.alloc(0))}
}

const isBlank = (bytes: Buffer) => bytes.every((b) => b === 0x20 || b === 0x09 || b === 0x0d || b === 0x0b || b === 0x0c)

async function* jsonlTexts(path: string): AsyncIterable<string> {
  for await (const {line, offset, bytes} of byteLines(path)) {
    if (isBlank(bytes)) continue
    const bad = invalidUtf8Offset(bytes)
    if (bad >= 0) throw new InputError(`${showPath(path)}:${line}: not valid UTF-8 (byte offset ${offset + bad})`)
    let value: unknown
    try {
      value = JSON.parse(bytes.toString('utf8'))
    } catch {
      throw new InputError(`${showPath(path)}:${line}: not valid JSON`)
    }
    const text = (value as {text?: unknown} | null)?.text
    if (typeof text !== 'string') throw new InputError(`${showPath(path)}:${line}: expected an object with a string "text" field`)
    yield text
  }
}

async function countJsonlDocs(path: string): Promise<number> {
  let n = 0
  for await (const {bytes} of byteLines(path)) if (!isBlank(bytes)) n += 1
  return n
}

async function openSource(source: DatasetSource): Promise<DocumentSource> {
  switch (source.kind) {
    case 'brown': {
      const docs = brownDocuments()
      return {
        count: docs.length,
        async *texts() {
          for (const d of docs) yield d.text
        },
      }
    }
    case 'text': {
      const files = await resolveTextFiles(source.patterns)
      return {
        count: files.length,
        async *texts() {
          for (const f of files) {
            let bytes: Buffer
            try {
              bytes = await readFile(f)
            } catch (err) {
              throw describeFsError(err, f, 'text file')
            }
            // refused, not replaced: a U+FFFD in place of a bad byte would change the byte count val_bpb divides by
            yield decodeUtf8(bytes, f)
          }
        },
      }
    }
    case 'jsonl': {
      statInputFile(source.path, 'JSONL file')
      const count = await countJsonlDocs(source.path)
      return {count, texts: () => jsonlTexts(source.path)}
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Prepare

export interface PrepareProgress {
  docs: number
  totalDocs: number
  tokens: number
}

export interface PrepareOptions {
  source: DatasetSource
  /** `byte260` or a path to a SentencePiece `.model`. */
  tokenizer: string
  out: string
  /** Documents for the validation split (the first ones); default round(5%), at least 1. */
  valDocs?: number
  shardTokens?: number
  /** Replace an existing `out`: only a dataset folder golf made (see assertReplaceableDataset). */
  force?: boolean
  /** With force: replace whatever `out` holds (golf's own cache folder only). */
  replaceAny?: boolean
  onProgress?: (p: PrepareProgress) => void
}

export interface PrepareResult {
  /** Absolute path of the dataset folder. */
  dir: string
  dataset: DatasetJson
  /** Shard file names per split (inside `dir`). */
  files: {train: string[]; val: string[]}
}

/** The default validation size: 5% of the documents, rounded, at least 1. */
export function defaultValDocs(totalDocs: number): number {
  return Math.max(1, Math.round(totalDocs * 0.05))
}

function isNonEmptyDir(path: string): boolean {
  try {
    return statSync(path).isDirectory() ? readdirSync(path).length > 0 : true
  } catch {
    return false
  }
}

/** Names golf writes into a dataset folder: shards, byte sidecars, their downloads' `.part` files, dataset.json and its temporary files. */
function isDatasetFile(name: string, tokenizerFile: string | null): boolean {
  return /^fineweb_(?:train|val|val_bytes)_\w+\.bin(?:\.part)?$/.test(name) || name === DATASET_FILE || name.startsWith(`${DATASET_FILE}.tmp-`) || name === tokenizerFile
}

/**
 * What --force may replace: a dataset folder golf made (prepared or downloaded: its dataset.json
 * says `format: golf-dataset`) holding only files golf writes there, and nothing else — not
 * someone's folder of notes, texts or a repository. An empty folder needs no --force.
 */
function assertReplaceableDataset(out: string, shown: string): void {
  let entries: string[]
  try {
    entries = readdirSync(out)
  } catch (err) {
    throw describeFsError(err, shown, '--out')
  }
  if (entries.length === 0) return
  let meta: Partial<DatasetJson> | null = null
  try {
    meta = JSON.parse(readInputFile(join(out, DATASET_FILE), DATASET_FILE, {maxBytes: MAX_DATASET_JSON_BYTES}).toString('utf8')) as Partial<DatasetJson>
  } catch {
    // no dataset.json, or not one golf wrote: refused below
  }
  if (meta === null || typeof meta !== 'object' || meta.format !== 'golf-dataset') {
    throw new InputError(`--out ${oneLine(shown)} is not a dataset folder golf made (no golf ${DATASET_FILE} in it): --force replaces only a dataset folder golf wrote; choose another --out`)
  }
  // the SentencePiece .model that prepare copied in, named by dataset.json
  const tokenizerFile = typeof meta.tokenizer_path === 'string' && basename(meta.tokenizer_path) === meta.tokenizer_path ? meta.tokenizer_path : null
  const foreign = entries.filter((e) => !isDatasetFile(e, tokenizerFile) || !lstatSync(join(out, e)).isFile())
  if (foreign.length > 0) {
    const names = foreign.slice(0, 3).map((e) => oneLine(e)).join(', ') + (foreign.length > 3 ? `, … (${foreign.length} in all)` : '')
    throw new InputError(`--out ${oneLine(shown)} holds files golf does not write in a dataset folder (${names}): --force replaces only a dataset folder golf wrote; move them or choose another --out`)
  }
}

/**
 * Tokenize a corpus into a dataset folder. Builds in a temporary sibling folder and renames
 * it into place at the end, so `out` is either absent, the old dataset, or the complete new one.
 */
export async function prepareDataset(opts: PrepareOptions): Promise<PrepareResult> {
  const out = resolve(opts.out)
  const shardTokens = opts.shardTokens ?? DEFAULT_SHARD_TOKENS
  if (!Number.isInteger(shardTokens) || shardTokens < 1 || shardTokens > 0x7fffffff) {
    throw new InputError(`--shard-tokens must be a positive integer below 2^31, got ${shardTokens}`)
  }
  if (existsSync(out) && !statSync(out).isDirectory()) throw new InputError(`--out ${opts.out} exists and is not a directory`)
  if (!opts.force && isNonEmptyDir(out)) throw new InputError(`--out ${opts.out} exists; use --force to overwrite`)
  if (opts.force && existsSync(out) && !opts.replaceAny) assertReplaceableDataset(out, opts.out)

  const tokenizer = await loadTokenizer(opts.tokenizer)
  if (tokenizer.vocabSize > 65536) throw new InputError(`tokenizer ${opts.tokenizer}: vocab size ${tokenizer.vocabSize} does not fit uint16 shards`)
  // every document starts with BOS: a model without one (SentencePiece's bos_id -1) or with an id outside its vocabulary cannot write shards
  if (!Number.isInteger(tokenizer.bosId) || tokenizer.bosId < 0 || tokenizer.bosId >= tokenizer.vocabSize) {
    throw new InputError(`tokenizer ${opts.tokenizer}: ${tokenizer.bosId === -1 ? 'has no BOS token (bos_id -1)' : `bos_id ${tokenizer.bosId} is outside its vocabulary (0..${tokenizer.vocabSize - 1})`}: shards start every document with BOS; train the model with a BOS id (spm_train --bos_id=1)`)
  }
  const source = await openSource(opts.source)
  if (source.count < 2) throw new InputError(`the corpus has ${source.count} document(s); a dataset needs at least 2 (validation + training)`)
  const valDocs = opts.valDocs ?? defaultValDocs(source.count)
  if (!Number.isInteger(valDocs) || valDocs < 1 || valDocs >= source.count) {
    throw new InputError(`--val-docs must be between 1 and ${source.count - 1} for this corpus of ${source.count} documents, got ${valDocs}`)
  }

  await mkdir(dirname(out), {recursive: true})
  const tmp = tempSiblingPath(out)
  await mkdir(tmp)
  try {
    const writers: Record<Split, ShardWriter> = {
      val: new ShardWriter(tmp, 'val', {shardTokens}),
      train: new ShardWriter(tmp, 'train', {shardTokens}),
    }
    let docs = 0
    let tokens = 0
    for await (const text of source.texts()) {
      const ids = tokenizer.encode(text)
      const doc = new Uint16Array(ids.length + 1)
      doc[0] = tokenizer.bosId
      doc.set(ids, 1)
      writers[docs < valDocs ? 'val' : 'train'].add(doc)
      docs += 1
      tokens += doc.length
      opts.onProgress?.({docs, totalDocs: source.count, tokens})
    }
    const val = writers.val.close()
    const train = writers.train.close()

    let tokenizerPath: string | null = null
    if (tokenizer.kind === 'sentencepiece') {
      tokenizerPath = basename(opts.tokenizer)
      await copyFile(opts.tokenizer, join(tmp, tokenizerPath))
    }
    const dataset: DatasetJson = {
      format: 'golf-dataset',
      version: 1,
      tokenizer: tokenizer.kind === 'byte260' ? 'byte260' : basename(opts.tokenizer),
      tokenizer_path: tokenizerPath,
      vocab_size: tokenizer.vocabSize,
      bos_id: tokenizer.bosId,
      docs: {train: train.docs, val: val.docs},
      tokens: {train: train.tokens, val: val.tokens},
      shard_tokens: shardTokens,
      source: opts.source.kind,
    }
    await writeFileAtomic(join(tmp, DATASET_FILE), JSON.stringify(dataset, null, 2) + '\n')
    // checked again: files may have been put there while the corpus was tokenized
    if (opts.force && existsSync(out) && !opts.replaceAny) assertReplaceableDataset(out, opts.out)
    await swapIntoPlace(tmp, out, Boolean(opts.force), opts.out)
    return {
      dir: out,
      dataset,
      files: {train: train.files.map((f) => relative(tmp, f)), val: val.files.map((f) => relative(tmp, f))},
    }
  } catch (err) {
    await rm(tmp, {recursive: true, force: true})
    throw err
  }
}

async function swapIntoPlace(tmp: string, out: string, force: boolean, shownOut: string): Promise<void> {
  if (force && existsSync(out)) {
    const old = tempSiblingPath(out) + '-old'
    await rename(out, old)
    try {
      await rename(tmp, out)
    } catch (err) {
      await rename(old, out)
      throw err
    }
    await rm(old, {recursive: true, force: true})
    return
  }
  try {
    await rename(tmp, out) // replaces an empty folder; fails if another process got there first
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'ENOTEMPTY' || code === 'EEXIST') throw new InputError(`--out ${shownOut} exists; use --force to overwrite`)
    throw err
  }
}

// ---------------------------------------------------------------------------------------------
// The built-in dataset

/** golf's cache folder: `$GOLF_CACHE_DIR`, else `$XDG_CACHE_HOME/golf`, else `~/.cache/golf`. */
export function cacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.GOLF_CACHE_DIR) return resolve(env.GOLF_CACHE_DIR)
  if (env.XDG_CACHE_HOME) return resolve(env.XDG_CACHE_HOME, 'golf')
  return join(homedir(), '.cache', 'golf')
}

/** Where the built-in Brown + byte260 dataset lives. */
export function builtinDatasetDir(env: NodeJS.ProcessEnv = process.env): string {
  return join(cacheDir(env), 'datasets', 'brown_byte260')
}

/**
 * The built-in dataset (Brown corpus, byte260), prepared on first use. Safe when several
 * processes race: each builds privately and the first rename wins.
 */
export async function ensureBuiltinDataset(opts: {onProgress?: (p: PrepareProgress) => void} = {}): Promise<string> {
  const dir = builtinDatasetDir()
  if (existsSync(join(dir, DATASET_FILE))) return dir
  try {
    // A folder without dataset.json here is debris (builds are renamed in whole): replace it.
    await prepareDataset({source: {kind: 'brown'}, tokenizer: 'byte260', out: dir, force: existsSync(dir), replaceAny: true, onProgress: opts.onProgress})
  } catch (err) {
    if (!existsSync(join(dir, DATASET_FILE))) throw err
  }
  return dir
}
