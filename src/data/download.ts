/**
 * Download the published challenge data, like the official `data/cached_challenge_fineweb.py`:
 * read `datasets/manifest.json` from the Hugging Face dataset repo, find the variant's dataset
 * (`fineweb10B_<variant>`) and its tokenizer, then fetch every validation shard, the first N
 * training shards and the tokenizer files. Local layout (as the official script's):
 *
 *   <out>/manifest.json
 *   <out>/datasets/<dataset>/fineweb_{val,train}_NNNNNN.bin   (+ our dataset.json)
 *   <out>/tokenizers/<tokenizer files>
 *
 * Each file streams into `<file>.part`; an interrupted download resumes with an HTTP Range
 * request (a server that ignores Range answers 200 and the file restarts from zero), and the
 * finished file is renamed into place. Files already present are skipped.
 */
import {createWriteStream, existsSync, statSync} from 'node:fs'
import {mkdir, rename, rm} from 'node:fs/promises'
import {basename, isAbsolute, join, normalize, relative, resolve, sep} from 'node:path'
import {Readable} from 'node:stream'
import {pipeline} from 'node:stream/promises'
import {CheckFailedError, InputError} from '../errors.js'
import {writeFileAtomic} from '../io/atomic.js'
import {oneLine} from '../io/read.js'
import {DATASET_FILE, type DatasetJson} from './dataset.js'
import {DEFAULT_SHARD_TOKENS, listShards, readShard, readShardHeader, shardFileName} from './shard.js'

export const DEFAULT_REPO = 'willdepueoai/parameter-golf'
export const DEFAULT_ENDPOINT = 'https://huggingface.co'
/** Folder of the repo that holds manifest.json, datasets/ and tokenizers/. */
export const REMOTE_ROOT = 'datasets'
export const VARIANTS = ['byte260', 'sp512', 'sp1024', 'sp2048', 'sp4096', 'sp8192'] as const
export type Variant = (typeof VARIANTS)[number]

export function datasetNameFor(variant: string): string {
  return `fineweb10B_${variant}`
}

export interface ManifestDataset {
  name: string
  tokenizer_name?: string
  vocab_size?: number
  bos_id?: number
  stats?: {files_train?: number; files_val?: number; docs_val?: number; docs_train?: number}
}

export interface ManifestTokenizer {
  name: string
  model_path?: string
  vocab_path?: string
  path?: string
  vocab_size?: number
  bos_id?: number
}

export interface Manifest {
  shard_size?: number
  datasets?: ManifestDataset[]
  tokenizers?: ManifestTokenizer[]
}

export interface DownloadProgress {
  /** Path relative to `out` of the file being fetched. */
  file: string
  index: number
  count: number
  bytes: number
  /** From Content-Length / Content-Range, when the server says. */
  totalBytes: number | null
  bytesPerSecond: number
}

export interface DownloadOptions {
  variant: string
  trainShards: number
  out: string
  /** Default: `$HF_ENDPOINT`, else https://huggingface.co. */
  endpoint?: string
  repo?: string
  /** Attempts per file when the connection breaks (each resumes where the last stopped). */
  attempts?: number
  onProgress?: (p: DownloadProgress) => void
  onFileDone?: (file: string, status: 'downloaded' | 'skipped', bytes: number) => void
}

export interface DownloadResult {
  endpoint: string
  repo: string
  dataset: string
  /** Absolute path of the dataset folder (holding the shards and dataset.json). */
  dir: string
  /** Paths relative to `out`. */
  downloaded: string[]
  skipped: string[]
  bytes_downloaded: number
  tokenizer_files: string[]
  dataset_json: DatasetJson
}

function endpointOf(opts: DownloadOptions): string {
  return (opts.endpoint ?? process.env.HF_ENDPOINT ?? DEFAULT_ENDPOINT).replace(/\/+$/, '')
}

function resolveUrl(endpoint: string, repo: string, remotePath: string): string {
  const encoded = remotePath.split('/').map(encodeURIComponent).join('/')
  return `${endpoint}/datasets/${repo}/resolve/main/${encoded}`
}

/** A manifest path must stay inside `out` (no absolute paths, no `..`). */
function safeRelative(path: string, what: string): string {
  const norm = normalize(path).split(sep).join('/')
  if (path === '' || isAbsolute(path) || norm.startsWith('../') || norm === '..') {
    throw new InputError(`manifest.json: ${what} path '${path}' leaves the download folder`)
  }
  return norm
}

function networkError(err: unknown, endpoint: string): InputError {
  const cause = (err as {cause?: {code?: string; message?: string}}).cause
  const why = cause?.code ?? cause?.message ?? (err as Error).message
  return new InputError(`cannot reach ${endpoint} (${why}): check your network or set HF_ENDPOINT`)
}

async function get(url: string, endpoint: string, headers: Record<string, string> = {}): Promise<Response> {
  let res: Response
  try {
    res = await fetch(url, {headers, redirect: 'follow'})
  } catch (err) {
    throw networkError(err, endpoint)
  }
  return res
}

function httpError(res: Response, url: string): InputError {
  return new InputError(`GET ${url}: HTTP ${res.status} ${res.statusText}`.trimEnd())
}

/** Total size from `Content-Range: bytes a-b/total`, or null. */
function rangeTotal(res: Response): {start: number; total: number | null} | null {
  const m = /^bytes (\d+)-\d+\/(\d+|\*)$/.exec(res.headers.get('content-range') ?? '')
  if (!m) return null
  return {start: Number(m[1]), total: m[2] === '*' ? null : Number(m[2])}
}

/**
 * Fetch one file to `dest` via `dest.part`, resuming a partial `.part`. Returns bytes received.
 * Throws a one-line InputError on HTTP errors and unreachable hosts; a broken body throws the
 * stream error (the caller retries, resuming).
 */
async function fetchToFile(
  url: string,
  dest: string,
  endpoint: string,
  progress: (bytes: number, total: number | null) => void,
): Promise<number> {
  const part = dest + '.part'
  const have = existsSync(part) ? statSync(part).size : 0
  const res = await get(url, endpoint, have > 0 ? {Range: `bytes=${have}-`} : {})
  let append = false
  let total: number | null = null
  if (res.status === 206 && have > 0) {
    const range = rangeTotal(res)
    if (!range || range.start !== have) {
      await res.body?.cancel()
      await rm(part, {force: true})
      throw new Error(`server answered a different range than asked for ${url}; restarting`)
    }
    append = true
    total = range.total
  } else if (res.status === 416 && have > 0) {
    // Nothing past what we have: the .part is complete if the server's size agrees.
    await res.body?.cancel()
    const m = /\/(\d+)$/.exec(res.headers.get('content-range') ?? '')
    if (m && Number(m[1]) === have) {
      await rename(part, dest)
      return 0
    }
    await rm(part, {force: true})
    throw new Error(`range not satisfiable for ${url}; restarting`)
  } else if (res.ok) {
    const len = res.headers.get('content-length')
    total = len === null ? null : Number(len)
  } else {
    await res.body?.cancel()
    // Server trouble is worth another attempt; anything else (404, 401, …) is final.
    if (res.status >= 500) throw new Error(`HTTP ${res.status} ${res.statusText}`.trimEnd())
    throw httpError(res, url)
  }
  if (!res.body) throw new InputError(`GET ${url}: empty response body`)

  let received = 0
  const start = append ? have : 0
  const counter = async function* (source: AsyncIterable<Uint8Array>) {
    for await (const chunk of source) {
      received += chunk.byteLength
      progress(start + received, total)
      yield chunk
    }
  }
  await pipeline(Readable.fromWeb(res.body as import('node:stream/web').ReadableStream<Uint8Array>), counter, createWriteStream(part, {flags: append ? 'a' : 'w'}))
  const size = statSync(part).size
  if (total !== null && size !== total) {
    throw new Error(`${basename(dest)}: got ${size} of ${total} bytes`)
  }
  await rename(part, dest)
  return received
}

async function fetchJson<T>(url: string, endpoint: string): Promise<T> {
  const res = await get(url, endpoint)
  if (!res.ok) {
    await res.body?.cancel()
    throw httpError(res, url)
  }
  try {
    return (await res.json()) as T
  } catch (err) {
    throw new InputError(`GET ${url}: not valid JSON (${(err as Error).message})`)
  }
}

function tokenizerArtifacts(t: ManifestTokenizer): string[] {
  const paths = [t.model_path, t.vocab_path, t.path].filter((p): p is string => typeof p === 'string' && p !== '')
  if (paths.length === 0) throw new InputError(`manifest.json: tokenizer '${t.name}' lists no files (model_path, vocab_path or path)`)
  return paths.map((p) => safeRelative(p, `tokenizer '${t.name}'`))
}

/** Download a variant's validation shards, the first `trainShards` training shards and its tokenizer. */
export async function downloadDataset(opts: DownloadOptions): Promise<DownloadResult> {
  const endpoint = endpointOf(opts)
  const repo = opts.repo ?? DEFAULT_REPO
  const out = resolve(opts.out)
  const attempts = opts.attempts ?? 3
  if (!Number.isInteger(opts.trainShards) || opts.trainShards < 0) {
    throw new InputError(`--train-shards must be a non-negative integer, got ${opts.trainShards}`)
  }
  const datasetName = datasetNameFor(opts.variant)
  const manifestUrl = resolveUrl(endpoint, repo, `${REMOTE_ROOT}/manifest.json`)
  const manifest = await fetchJson<Manifest>(manifestUrl, endpoint)
  const entry = manifest.datasets?.find((d) => d.name === datasetName)
  if (!entry) {
    const names = (manifest.datasets ?? []).map((d) => d.name).join(', ') || 'none'
    throw new InputError(`--variant ${opts.variant}: dataset ${datasetName} is not in the manifest (it has: ${names})`)
  }
  const filesTrain = Number(entry.stats?.files_train)
  const filesVal = Number(entry.stats?.files_val)
  if (!Number.isInteger(filesTrain) || !Number.isInteger(filesVal)) {
    throw new InputError(`manifest.json: dataset ${datasetName} lacks stats.files_train / stats.files_val`)
  }
  if (opts.trainShards > filesTrain) {
    throw new InputError(`--train-shards ${opts.trainShards}: ${opts.variant} has only ${filesTrain} training shards`)
  }
  const tokEntry = manifest.tokenizers?.find((t) => t.name === entry.tokenizer_name)
  if (!tokEntry) throw new InputError(`manifest.json: tokenizer '${entry.tokenizer_name}' of ${datasetName} is not listed`)
  const tokFiles = tokenizerArtifacts(tokEntry)
  manifestNumbers(opts.variant, entry, tokEntry, manifest) // refused before any download

  const datasetRel = `datasets/${datasetName}`
  const plan: string[] = []
  for (let i = 0; i < filesVal; i++) plan.push(`${datasetRel}/${shardFileName('val', i)}`)
  for (let i = 0; i < opts.trainShards; i++) plan.push(`${datasetRel}/${shardFileName('train', i)}`)
  plan.push(...tokFiles)

  await mkdir(out, {recursive: true})
  await writeFileAtomic(join(out, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n')

  const downloaded: string[] = []
  const skipped: string[] = []
  let bytesDownloaded = 0
  for (const [index, rel] of plan.entries()) {
    const dest = join(out, ...rel.split('/'))
    if (existsSync(dest)) {
      skipped.push(rel)
      opts.onFileDone?.(rel, 'skipped', statSync(dest).size)
      continue
    }
    await mkdir(resolve(dest, '..'), {recursive: true})
    const url = resolveUrl(endpoint, repo, `${REMOTE_ROOT}/${rel}`)
    const t0 = Date.now()
    const report = (bytes: number, totalBytes: number | null) =>
      opts.onProgress?.({file: rel, index, count: plan.length, bytes, totalBytes, bytesPerSecond: bytes / Math.max(1e-3, (Date.now() - t0) / 1000)})
    let lastErr: unknown
    let ok = false
    for (let attempt = 1; attempt <= attempts && !ok; attempt++) {
      try {
        bytesDownloaded += await fetchToFile(url, dest, endpoint, report)
        ok = true
      } catch (err) {
        if (err instanceof InputError) throw err
        lastErr = err
      }
    }
    if (!ok) {
      const why = (lastErr as Error)?.message ?? String(lastErr)
      throw new InputError(`download of ${rel} failed after ${attempts} attempts (${why}); run again to resume`)
    }
    if (rel.endsWith('.bin')) {
      try {
        readShardHeader(dest)
      } catch (err) {
        await rm(dest, {force: true})
        throw new CheckFailedError(`downloaded ${rel} is not a valid shard (${(err as Error).message}); it was removed`)
      }
    }
    downloaded.push(rel)
    opts.onFileDone?.(rel, 'downloaded', statSync(dest).size)
  }

  const datasetDir = join(out, 'datasets', datasetName)
  const datasetJson = await writeDownloadedDatasetJson(datasetDir, out, opts.variant, entry, tokEntry, tokFiles, manifest)
  return {
    endpoint,
    repo,
    dataset: datasetName,
    dir: datasetDir,
    downloaded,
    skipped,
    bytes_downloaded: bytesDownloaded,
    tokenizer_files: tokFiles,
    dataset_json: datasetJson,
  }
}

/**
 * The manifest's numbers for a dataset, checked before anything is downloaded (they end up in
 * dataset.json, and the BOS id splits documents): vocab_size within uint16 shards, bos_id inside
 * the vocabulary, shard_size a positive integer.
 */
function manifestNumbers(variant: string, entry: ManifestDataset, tok: ManifestTokenizer, manifest: Manifest): {bosId: number; vocabSize: number; shardTokens: number} {
  const bad = (key: string, want: string, got: unknown) => new InputError(`manifest.json: dataset ${oneLine(entry.name)}: ${key} must be ${want}, got ${oneLine(JSON.stringify(got) ?? String(got), 60)}`)
  const vocabFromName = variant === 'byte260' ? 260 : Number(/^sp(\d+)$/.exec(variant)?.[1] ?? NaN)
  const vocabSize: unknown = entry.vocab_size ?? tok.vocab_size ?? vocabFromName
  if (entry.vocab_size === undefined && tok.vocab_size === undefined && !Number.isInteger(vocabFromName)) throw new InputError(`manifest.json: no vocab_size for ${oneLine(entry.name)}`)
  if (!Number.isInteger(vocabSize) || (vocabSize as number) < 1 || (vocabSize as number) > 65536) throw bad('vocab_size', 'an integer in 1..65536 (uint16 shards)', vocabSize)
  const bosId: unknown = entry.bos_id ?? tok.bos_id ?? 1
  if (!Number.isInteger(bosId) || (bosId as number) < 0 || (bosId as number) >= (vocabSize as number)) throw bad('bos_id', `an id in 0..${(vocabSize as number) - 1}`, bosId)
  const shardTokens: unknown = manifest.shard_size ?? DEFAULT_SHARD_TOKENS
  if (!Number.isInteger(shardTokens) || (shardTokens as number) < 1) throw bad('shard_size', 'a positive integer', shardTokens)
  return {bosId: bosId as number, vocabSize: vocabSize as number, shardTokens: shardTokens as number}
}

/** dataset.json for the downloaded shards: counts come from the files on disk. */
async function writeDownloadedDatasetJson(
  datasetDir: string,
  out: string,
  variant: string,
  entry: ManifestDataset,
  tok: ManifestTokenizer,
  tokFiles: string[],
  manifest: Manifest,
): Promise<DatasetJson> {
  const {bosId, vocabSize, shardTokens} = manifestNumbers(variant, entry, tok, manifest)
  const count = (split: 'train' | 'val') => {
    let docs = 0
    let tokens = 0
    for (const f of listShards(datasetDir, split)) {
      const t = readShard(f)
      tokens += t.length
      for (let i = 0; i < t.length; i++) if (t[i] === bosId) docs += 1
    }
    return {docs, tokens}
  }
  const train = count('train')
  const val = count('val')
  const model = tokFiles.find((f) => f.endsWith('.model')) ?? null
  const json: DatasetJson = {
    format: 'golf-dataset',
    version: 1,
    tokenizer: model ? basename(model) : 'byte260',
    tokenizer_path: model ? relative(datasetDir, join(out, ...model.split('/'))).split(sep).join('/') : null,
    vocab_size: vocabSize,
    bos_id: bosId,
    docs: {train: train.docs, val: val.docs},
    tokens: {train: train.tokens, val: val.tokens},
    shard_tokens: shardTokens,
    source: 'download',
  }
  await writeFileAtomic(join(datasetDir, DATASET_FILE), JSON.stringify(json, null, 2) + '\n')
  return json
}
