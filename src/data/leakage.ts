/**
 * Validation leakage, measured: how many validation documents of a dataset are also among its
 * training documents.
 *
 * The official exporter (openai/parameter-golf `data/download_hf_docs_and_tokenize.py`) writes
 * each document as `[BOS] + tokens` (`APPEND_EOS = False`), the first `NUM_VAL_DOCS = 50_000`
 * to `fineweb_val_*` and the rest to `fineweb_train_*`, so a clean dataset holds no validation
 * document among its training ones. It has gone wrong in practice: `prepare_caseops_data.py`'s
 * default `--val-docs 10000` put documents 10,000–49,999 of the 50,000 scored ones into the
 * training shards of 15 of 34 audited entries (openai/parameter-golf#2127).
 *
 *   1. the validation shards are streamed and every document (the tokens after its BOS) is
 *      hashed to a 53-bit key: FNV-1a and MurmurHash3 (x86, 32-bit), one 16-bit token per step;
 *   2. the training shards are streamed the same way, in chunks, each document hashed and looked
 *      up as it ends (a document may cross chunk and shard ends);
 *   3. a hit of the same length is confirmed by comparing the tokens exactly, both documents
 *      re-read from their shards by position, so a hash collision is never counted as found.
 *
 * Memory is bounded by one chunk (STREAM_CHUNK_TOKENS, 8 MiB) plus a key, a position and a
 * length per validation document (FineWeb's 50,000: a few MB): never a shard, never the training
 * set. Documents shorter than MIN_DOC_TOKENS are not looked up: short boilerplate ("Page not
 * found", a cookie notice) repeats across unrelated web pages, and an exact match of it says
 * nothing about how a split was made. The result says how many were skipped.
 */
import {InputError} from '../errors.js'
import {readDatasetInfo, type DatasetInfo} from './dataset.js'
import {ShardStreamReader, STREAM_CHUNK_TOKENS, type StreamChunk} from './shard.js'

/** Documents with fewer tokens than this (after the BOS) are not looked up (see the header). */
export const MIN_DOC_TOKENS = 32
/** Leaked documents listed in a result (the count is always complete). */
const MAX_EXAMPLES = 10
/** Tokens compared at a time when a hash hit is confirmed. */
const COMPARE_BLOCK = 1 << 16

/**
 * A document hash, folded over the document's pieces as they stream by. `update` is called once
 * per piece (not per token), so a hash given as a parameter (tests force collisions with a weak
 * one) costs nothing per token.
 */
export interface DocHash {
  readonly name: string
  /** Start a document: set the state's words. */
  reset(state: Uint32Array): void
  /** Fold `tokens[start, end)` into the state. */
  update(state: Uint32Array, tokens: Uint16Array, start: number, end: number): void
  /** The document's key, an integer in [0, 2^53), from the state and its length in tokens. */
  key(state: Uint32Array, length: number): number
}

const FNV_OFFSET = 0x811c9dc5
const FNV_PRIME = 0x01000193
const MURMUR_SEED = 0x9747b28c
const C1 = 0xcc9e2d51
const C2 = 0x1b873593

/** MurmurHash3's finalizer (fmix32). */
function fmix32(h: number): number {
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  h ^= h >>> 16
  return h >>> 0
}

/**
 * Two independent 32-bit hashes of the token sequence: FNV-1a (each token one 16-bit unit) and
 * the body of MurmurHash3 x86_32 (each token one block), finalized with the length; the key keeps
 * all 32 bits of the first and 21 of the second (53 bits, exact in a JavaScript number).
 */
export const DEFAULT_DOC_HASH: DocHash = {
  name: 'fnv1a-32 + murmur3-32 (53-bit key)',
  reset(state) {
    state[0] = FNV_OFFSET
    state[1] = MURMUR_SEED
  },
  update(state, tokens, start, end) {
    let a = state[0]
    let b = state[1]
    for (let i = start; i < end; i++) {
      const t = tokens[i]
      a = Math.imul(a ^ t, FNV_PRIME)
      let k = Math.imul(t, C1)
      k = (k << 15) | (k >>> 17)
      b ^= Math.imul(k, C2)
      b = (b << 13) | (b >>> 19)
      b = (Math.imul(b, 5) + 0xe6546b64) | 0
    }
    state[0] = a
    state[1] = b
  },
  key(state, length) {
    const a = fmix32(state[0] ^ length)
    const b = fmix32(state[1] ^ length)
    return a * 2 ** 21 + (b >>> 11)
  },
}

/** One validation document found in the training shards. */
export interface LeakExample {
  /** The document's index in the validation split (0 = first, counting every document). */
  val_doc: number
  /** Its shard (file name) and the position of its BOS there. */
  val_shard: string
  val_pos: number
  /** The first training document equal to it: shard and BOS position. */
  train_shard: string
  train_pos: number
  /** Tokens after the BOS. */
  tokens: number
}

/** What `golf data audit` prints with `--json`. */
export interface LeakageResult {
  /** Absolute path of the dataset folder. */
  dataset: string
  /** Documents shorter than this were not looked up. */
  min_tokens: number
  hash: string
  val: {
    files: number
    tokens: number
    /** Tokens read (all of them unless the audit was stopped). */
    tokens_scanned: number
    /** Documents (BOS count) in the tokens read. */
    docs: number
    /** Documents hashed and looked up (docs − short). */
    docs_checked: number
    /** Documents shorter than min_tokens. */
    docs_short: number
    /** Tokens before the split's first BOS (in no document; 0 in a well-formed split). */
    tokens_outside: number
  }
  train: {
    files: number
    /** Shards read to the end (all of them unless the audit was stopped). */
    files_scanned: number
    tokens: number
    tokens_scanned: number
    /** Documents seen (BOS count), short ones included. */
    docs: number
    docs_short: number
  }
  /** Distinct validation documents found among the training documents (exact token match). */
  found: number
  /** Training documents equal to a validation document (a leaked document may appear twice). */
  occurrences: number
  /** Hash hits that exact comparison rejected (a real collision: never counted as found). */
  hash_collisions: number
  /** The first leaked documents (up to 10), with where they are. */
  examples: LeakExample[]
  /** Every validation and training shard was read to the end. */
  complete: boolean
  seconds: number
  /** Validation plus training tokens read, per second. */
  tokens_per_s: number
}

export interface LeakageProgress {
  split: 'val' | 'train'
  /** Shard being read (index into the split's files) and how many there are. */
  file: number
  files: number
  /** Tokens of the split read so far, and in all. */
  tokens: number
  total: number
  found: number
}

export interface LeakageOptions {
  /** Documents shorter than this are not looked up (default MIN_DOC_TOKENS). */
  minTokens?: number
  /** The hash (default DEFAULT_DOC_HASH); tests pass a weak one to force collisions. */
  hash?: DocHash
  /** Tokens read at a time (default STREAM_CHUNK_TOKENS). */
  chunkTokens?: number
  /** Called after every chunk. */
  onProgress?: (p: LeakageProgress) => void
  /** Polled after every chunk: true stops the audit, whose result then has `complete: false`. */
  shouldStop?: () => boolean
}

/** A document as it ended: where its first token after the BOS is in the stream, its length, its key. */
interface DocEnd {
  start: number
  length: number
  key: number
}

/** Let timers and signal handlers run (a Ctrl-C is seen between chunks). */
const yieldToEventLoop = () => new Promise<void>((done) => setImmediate(done))

/**
 * Split a stream into documents at `bosId` and hash each, calling `onDoc` as each ends. Tokens
 * before the first BOS belong to no document; returns how many there were. Stops (returning
 * early) when `afterChunk` returns true.
 */
async function scanDocuments(
  reader: ShardStreamReader,
  bosId: number,
  hash: DocHash,
  chunkTokens: number,
  onDoc: (doc: DocEnd) => void,
  afterChunk: (c: StreamChunk) => boolean,
): Promise<{outside: number; docs: number; stopped: boolean}> {
  const state = new Uint32Array(2)
  let inDoc = false
  let start = 0
  let length = 0
  let outside = 0
  let docs = 0
  const end = () => onDoc({start, length, key: hash.key(state, length)})
  for (const chunk of reader.chunks(chunkTokens)) {
    const t = chunk.tokens
    let i = 0
    while (i < t.length) {
      const b = t.indexOf(bosId, i)
      const stop = b < 0 ? t.length : b
      if (inDoc) {
        hash.update(state, t, i, stop)
        length += stop - i
      } else outside += stop - i
      if (b < 0) break
      if (inDoc) end()
      inDoc = true
      docs++
      start = chunk.start + b + 1
      length = 0
      hash.reset(state)
      i = b + 1
    }
    if (afterChunk(chunk)) return {outside, docs, stopped: true}
    await yieldToEventLoop()
  }
  if (inDoc) end()
  return {outside, docs, stopped: false}
}

/** Are the two spans equal, token for token? Read block by block: memory stays bounded. */
function sameTokens(a: ShardStreamReader, aStart: number, b: ShardStreamReader, bStart: number, length: number, bufs: [Uint16Array, Uint16Array]): boolean {
  for (let done = 0; done < length; done += COMPARE_BLOCK) {
    const n = Math.min(COMPARE_BLOCK, length - done)
    const x = a.read(aStart + done, bufs[0].subarray(0, n))
    const y = b.read(bStart + done, bufs[1].subarray(0, n))
    for (let i = 0; i < n; i++) if (x[i] !== y[i]) return false
  }
  return true
}

function fileName(path: string): string {
  return path.slice(Math.max(path.lastIndexOf('/'), path.lastIndexOf('\\')) + 1)
}

/**
 * Audit a dataset folder: every validation document looked up among the training documents.
 * InputError (exit 2, one line naming the file) when the folder is missing, has no shards of a
 * split, or a shard's header is bad.
 */
export async function auditLeakage(dir: string, opts: LeakageOptions = {}): Promise<LeakageResult> {
  const info: DatasetInfo = readDatasetInfo(dir)
  if (info.files.val.length === 0) throw new InputError(`${dir}: no validation shards (fineweb_val_*.bin) to audit`)
  if (info.files.train.length === 0) throw new InputError(`${dir}: no train shards (fineweb_train_*.bin) to audit`)
  const minTokens = opts.minTokens ?? MIN_DOC_TOKENS
  if (!Number.isInteger(minTokens) || minTokens < 1) throw new InputError(`--min-tokens must be a positive integer, got ${minTokens}`)
  const hash = opts.hash ?? DEFAULT_DOC_HASH
  const chunkTokens = opts.chunkTokens ?? STREAM_CHUNK_TOKENS
  const stop = opts.shouldStop ?? (() => false)
  const t0 = performance.now()

  // Headers of both splits are checked before any token is read.
  const val = new ShardStreamReader(info.files.val)
  const train = new ShardStreamReader(info.files.train)
  try {
    // 1. hash the validation documents
    const valStart: number[] = []
    const valLength: number[] = []
    const valOrdinal: number[] = []
    const byKey = new Map<number, number | number[]>()
    let ordinal = 0
    let valShort = 0
    let valScanned = 0
    const valScan = await scanDocuments(
      val,
      info.bosId,
      hash,
      chunkTokens,
      (d) => {
        const n = ordinal++
        if (d.length < minTokens) {
          valShort++
          return
        }
        const idx = valStart.length
        valStart.push(d.start)
        valLength.push(d.length)
        valOrdinal.push(n)
        const had = byKey.get(d.key)
        if (had === undefined) byKey.set(d.key, idx)
        else if (typeof had === 'number') byKey.set(d.key, [had, idx])
        else had.push(idx)
      },
      (c) => {
        valScanned = c.start + c.tokens.length
        opts.onProgress?.({split: 'val', file: c.file, files: val.files.length, tokens: valScanned, total: val.tokens, found: 0})
        return stop()
      },
    )

    // no BOS anywhere: the split holds no document (a wrong bos_id, or shards written without one), so nothing can be audited
    const noBos = (split: string) => new InputError(`${dir}: the ${split} shards hold no BOS token (id ${info.bosId}), so no document to audit: is the dataset's bos_id the one its shards were written with?`)
    if (!valScan.stopped && ordinal === 0 && val.tokens > 0) throw noBos('validation')

    // 2. look up every training document
    const found = new Uint8Array(valStart.length)
    const examples: LeakExample[] = []
    const bufs: [Uint16Array, Uint16Array] = [new Uint16Array(COMPARE_BLOCK), new Uint16Array(COMPARE_BLOCK)]
    let nFound = 0
    let occurrences = 0
    let collisions = 0
    let trainShort = 0
    let filesScanned = 0
    let tokensScanned = 0
    const confirm = (d: DocEnd, idx: number): boolean => {
      if (valLength[idx] !== d.length) {
        collisions++
        return false
      }
      if (!sameTokens(val, valStart[idx], train, d.start, d.length, bufs)) {
        collisions++
        return false
      }
      if (found[idx] === 0) {
        found[idx] = 1
        nFound++
        if (examples.length < MAX_EXAMPLES) {
          const v = val.locate(valStart[idx] - 1)
          const t = train.locate(d.start - 1)
          examples.push({val_doc: valOrdinal[idx], val_shard: fileName(val.files[v.file]), val_pos: v.pos, train_shard: fileName(train.files[t.file]), train_pos: t.pos, tokens: d.length})
        }
      }
      return true
    }
    const trainScan = valScan.stopped
      ? {outside: 0, docs: 0, stopped: true}
      : await scanDocuments(
          train,
          info.bosId,
          hash,
          chunkTokens,
          (d) => {
            if (d.length < minTokens) {
              trainShort++
              return
            }
            const hit = byKey.get(d.key)
            if (hit === undefined) return
            let matched = false
            if (typeof hit === 'number') matched = confirm(d, hit)
            else for (const idx of hit) matched = confirm(d, idx) || matched
            if (matched) occurrences++
          },
          (c) => {
            tokensScanned = c.start + c.tokens.length
            if (c.pos + c.tokens.length === train.counts[c.file]) filesScanned = c.file + 1
            opts.onProgress?.({split: 'train', file: c.file, files: train.files.length, tokens: tokensScanned, total: train.tokens, found: nFound})
            return stop()
          },
        )
    if (!trainScan.stopped && trainScan.docs === 0 && train.tokens > 0) throw noBos('train')
    if (!trainScan.stopped) {
      filesScanned = train.files.length
      tokensScanned = train.tokens
    }
    const seconds = (performance.now() - t0) / 1000
    if (!valScan.stopped) valScanned = val.tokens
    const read = valScanned + tokensScanned
    return {
      dataset: info.dir,
      min_tokens: minTokens,
      hash: hash.name,
      val: {files: val.files.length, tokens: val.tokens, tokens_scanned: valScanned, docs: ordinal, docs_checked: valStart.length, docs_short: valShort, tokens_outside: valScan.outside},
      train: {files: train.files.length, files_scanned: filesScanned, tokens: train.tokens, tokens_scanned: tokensScanned, docs: trainScan.docs, docs_short: trainShort},
      found: nFound,
      occurrences,
      hash_collisions: collisions,
      examples,
      complete: !valScan.stopped && !trainScan.stopped,
      seconds,
      tokens_per_s: seconds > 0 ? read / seconds : 0,
    }
  } finally {
    val.close()
    train.close()
  }
}

const int = (n: number) => n.toLocaleString('en-US')

/**
 * The audit in one sentence, for the report's compliance line and the command's summary:
 * what was hashed, what was scanned, what was found.
 */
export function describeLeakage(r: LeakageResult): string {
  const short = r.val.docs_short > 0 ? `; ${int(r.val.docs_short)} shorter than ${r.min_tokens} tokens not checked` : `; none shorter than ${r.min_tokens} tokens, the minimum checked`
  const scanned = r.complete
    ? `all ${int(r.train.docs)} documents of the ${int(r.train.files)} train shard${r.train.files === 1 ? '' : 's'} (${int(r.train.tokens)} tokens)`
    : `${int(r.train.files_scanned)} of ${int(r.train.files)} train shards (${int(r.train.tokens_scanned)} of ${int(r.train.tokens)} tokens; stopped before the end)`
  const hits = r.hash_collisions > 0 ? `; ${int(r.hash_collisions)} hash hit${r.hash_collisions === 1 ? '' : 's'} rejected by exact comparison` : ''
  const val = r.val.tokens_scanned < r.val.tokens ? `the first ${int(r.val.tokens_scanned)} of ${int(r.val.tokens)} tokens; stopped before the end` : `${int(r.val.tokens)} tokens`
  return `${int(r.val.docs_checked)} of ${int(r.val.docs)} validation documents (${val}${short}) hashed and looked up in ${scanned}: ${int(r.found)} found${r.found > 0 ? ` (${int(r.occurrences)} training document${r.occurrences === 1 ? '' : 's'}, confirmed token for token)` : ''}${hits}`
}
