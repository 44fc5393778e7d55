/**
 * What is in a dataset folder or a shard file: per split, shards, tokens, documents (BOS
 * count) and the bytes the official metric credits to its targets. Each split is one stream,
 * the shards concatenated in order; every token but the stream's first is a target, and a
 * target's previous token may sit in the previous shard. With `audit`, the byte table is also
 * checked against the tokenizer's own decoding, document by document.
 *
 * A dataset with byte sidecars (`fineweb_val_bytes_*.bin`, CaseOps) has its validation bytes
 * counted from them, as every score of it is (src/data/stream.ts `loadValidationByteCounts`,
 * with the same checks), and the table's count beside them.
 */
import {basename, dirname, resolve} from 'node:path'
import {InputError} from '../errors.js'
import {statInput} from '../io/read.js'
import {countTargetBytes, withStreamBytes} from '../metric/bpb.js'
import {auditByteCounts, type ByteAudit} from '../tokenizer/audit.js'
import {loadTokenizer} from '../tokenizer/index.js'
import type {Tokenizer} from '../tokenizer/types.js'
import {concatArrays} from '../util/concat.js'
import {readDatasetInfo, type DatasetInfo} from './dataset.js'
import {isByteSidecar, listByteSidecars, readShard, readShardHeader, splitOfShard, type Split} from './shard.js'
import {loadValidationByteCounts, loadValidationTokens} from './stream.js'

export interface SplitReport {
  files: number
  tokens: number
  /** Documents: number of BOS ids. */
  docs: number
  /** Target bytes: by the official byte table, or the byte sidecars' counts (`byte_sidecars.used`). */
  bytes: number
  /** With the byte sidecars used: the target bytes the official byte table would count. */
  bytes_table?: number
  /** With audit: UTF-8 bytes of the tokenizer's decoding of each document. */
  bytes_decoded?: number
  audit?: ByteAudit
}

export interface InspectResult {
  /** Absolute path inspected. */
  path: string
  kind: 'dataset' | 'shard'
  /** `byte260` or the `.model` file name used for the byte count. */
  tokenizer: string
  vocab_size: number
  bos_id: number
  splits: Record<Split, SplitReport>
  /**
   * The validation byte sidecars (`fineweb_val_bytes_*.bin`, file names) beside the shards, and
   * how many counts they hold, or null when there are none. `used`: the val split's `bytes` are
   * theirs (a dataset folder); a single shard is counted by the table.
   */
  byte_sidecars: {files: string[]; counts: number; used: boolean} | null
}

export interface InspectOptions {
  /** `byte260` or a `.model` path; default from `dataset.json`, else byte260 when ids fit. */
  tokenizer?: string
  audit?: boolean
}

function maxTokenId(files: readonly string[]): number {
  let max = -1
  for (const f of files) {
    const tokens = readShard(f)
    for (let i = 0; i < tokens.length; i++) if (tokens[i] > max) max = tokens[i]
  }
  return max
}

async function chooseTokenizer(target: string, info: DatasetInfo | null, allFiles: string[], flag?: string): Promise<Tokenizer> {
  if (flag) return loadTokenizer(flag)
  if (info?.tokenizerPath) return loadTokenizer(info.tokenizerPath)
  if (info?.tokenizer === 'byte260') return loadTokenizer('byte260')
  const max = maxTokenId(allFiles)
  if (max < 260) return loadTokenizer('byte260')
  throw new InputError(`cannot tell which tokenizer wrote ${target} (token ids reach ${max}): pass --tokenizer <path.model>`)
}

/** Document arrays (`[BOS, …]`) of a split stream; tokens before the first BOS are skipped. */
function* documents(files: readonly string[], bosId: number, vocabSize: number): Generator<Uint16Array> {
  let pending: Uint16Array[] = [] // pieces of the current document, possibly across shards
  let started = false
  const join = (parts: Uint16Array[]): Uint16Array => (parts.length === 1 ? parts[0] : concatArrays(parts, (n) => new Uint16Array(n)))
  for (const file of files) {
    const tokens = readShard(file, {vocabSize})
    let start = 0
    for (let i = 0; i < tokens.length; i++) {
      if (tokens[i] !== bosId) continue
      if (started) {
        pending.push(tokens.subarray(start, i))
        yield join(pending)
      }
      pending = []
      started = true
      start = i
    }
    if (started) pending.push(tokens.subarray(start))
  }
  if (started && pending.length > 0) yield join(pending)
}

function inspectSplit(files: readonly string[], tokenizer: Tokenizer, vocabSize: number, bosId: number, audit: boolean): SplitReport {
  const table = tokenizer.byteTable()
  const report: SplitReport = {files: files.length, tokens: 0, docs: 0, bytes: 0}
  let prev = -1
  for (const file of files) {
    const tokens = readShard(file, {vocabSize})
    if (tokens.length === 0) continue
    report.tokens += tokens.length
    for (let i = 0; i < tokens.length; i++) if (tokens[i] === bosId) report.docs += 1
    // The first target of a later shard is predicted from the last token of the one before.
    if (prev >= 0) report.bytes += countTargetBytes(table, [prev, tokens[0]], 1, 2)
    report.bytes += countTargetBytes(table, tokens, 1, tokens.length)
    prev = tokens[tokens.length - 1]
  }
  if (audit) {
    const a = auditByteCounts(tokenizer, documents(files, bosId, vocabSize))
    report.bytes_decoded = a.bytes_decoded
    report.audit = a
  }
  return report
}

/** Inspect a dataset folder or a single shard file. */
export async function inspectData(target: string, opts: InspectOptions = {}): Promise<InspectResult> {
  const abs = resolve(target)
  const st = statInput(abs, 'dataset or shard', target)
  let info: DatasetInfo | null = null
  let files: Record<Split, string[]>
  if (st.isDirectory()) {
    info = readDatasetInfo(abs)
    files = info.files
  } else {
    if (isByteSidecar(basename(abs))) throw new InputError(`${target} is a validation byte sidecar (a byte count per validation token, not tokens): inspect its dataset folder, ${dirname(target)}`)
    readShardHeader(abs) // fail early, with the shard's own message, on a file that is not a shard
    const split = splitOfShard(basename(abs)) ?? 'train'
    files = {train: [], val: []}
    files[split].push(abs)
    // A shard inside a dataset folder uses that folder's dataset.json for its tokenizer.
    try {
      info = readDatasetInfo(dirname(abs))
    } catch {
      info = null
    }
  }
  const allFiles = [...files.val, ...files.train]
  const tokenizer = await chooseTokenizer(target, info, allFiles, opts.tokenizer)
  const vocabSize = info?.meta ? info.meta.vocab_size : tokenizer.vocabSize
  if (info?.meta && opts.tokenizer && tokenizer.vocabSize !== info.meta.vocab_size) {
    throw new InputError(`--tokenizer ${opts.tokenizer} has vocab size ${tokenizer.vocabSize} but ${target} was written with ${info.meta.vocab_size}`)
  }
  const bosId = info?.meta ? info.meta.bos_id : tokenizer.bosId
  const splits = {
    train: inspectSplit(files.train, tokenizer, vocabSize, bosId, Boolean(opts.audit)),
    val: inspectSplit(files.val, tokenizer, vocabSize, bosId, Boolean(opts.audit)),
  }
  const sidecars = info ? listByteSidecars(info.dir) : []
  let byteSidecars: InspectResult['byte_sidecars'] = null
  if (sidecars.length > 0) {
    const counts = sidecars.reduce((n, f) => n + readShardHeader(f).tokenCount, 0)
    const used = st.isDirectory()
    if (used) {
      // the metric's bytes: the sidecars' counts of the val stream's targets (every token but the first)
      const tokens = loadValidationTokens(abs, {vocabSize})
      const perToken = loadValidationByteCounts(abs, tokens, {bosId})!
      splits.val.bytes_table = splits.val.bytes
      splits.val.bytes = countTargetBytes(withStreamBytes(tokenizer.byteTable(), tokens, perToken), tokens, 1, tokens.length)
    }
    byteSidecars = {files: sidecars.map((f) => basename(f)), counts, used}
  }
  return {path: abs, kind: st.isDirectory() ? 'dataset' : 'shard', tokenizer: tokenizer.name, vocab_size: vocabSize, bos_id: bosId, splits, byte_sidecars: byteSidecars}
}
