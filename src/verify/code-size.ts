/**
 * The counted code of a submission folder, raw and compressed. Which files count toward
 * `bytes_code`, and whether raw or compressed, is the submitter's claim: records count
 * train_gpt.py raw, or compressed (an LZMA/zlib-wrapped script, or code stored inside the
 * artifact), or with helper modules. So golf measures the plausible readings — each main file
 * alone and the main files together, raw and as zlib, brotli, lzma and xz — and says which one
 * the claim matches, and which helper and tokenizer files fall outside it.
 *
 * A compressed size depends on the compressor's settings: xz here is `xz -9e` (Python's
 * `lzma.compress(…, preset=9 | PRESET_EXTREME)`), zlib level 9, brotli quality 11; a submitter's
 * other preset gives other bytes. So only an exact match confirms; a near one (within 2%) is
 * reported as near, never as confirmed.
 */
import {brotliCompressSync, constants, deflateSync} from 'node:zlib'

import {compress, hasXzBinary} from '../pack/compress.js'
import type {CodeReport, CompressedSizes} from './report.js'

export type CodeForm = 'raw' | 'zlib' | 'brotli' | 'lzma' | 'xz'

/** LZMA-JS runs at ~13 s per MB: code larger than this is not lzma-compressed (xz is shown). */
export const LZMA_JS_MAX_BYTES = 128 * 1024

/** The compressed sizes of one file. */
export function compressedSizes(data: Uint8Array): CompressedSizes {
  const out: CompressedSizes = {}
  const skipped: string[] = []
  out.zlib = deflateSync(data, {level: 9}).length
  out.brotli = brotliCompressSync(data, {params: {[constants.BROTLI_PARAM_QUALITY]: 11, [constants.BROTLI_PARAM_SIZE_HINT]: data.length}}).length
  if (data.length <= LZMA_JS_MAX_BYTES) out.lzma = compress('lzma', data).length
  else skipped.push(`lzma: LZMA-JS is skipped above ${LZMA_JS_MAX_BYTES / 1024} KiB (see xz)`)
  if (hasXzBinary()) out.xz = compress('xz', data).length
  else skipped.push('xz: the xz program is not installed')
  if (skipped.length) out.skipped = skipped
  return out
}

export interface CodeFile {
  file: string
  bytes: number
  role: 'main' | 'helper' | 'tokenizer'
  /** Compressed sizes (main files only). */
  compressed?: CompressedSizes
}

/** One reading of the code's size: some files, one form. */
export interface CodeReading {
  files: string[]
  form: CodeForm
  bytes: number
}

/** Every reading the claim may be: each main file in each form, the main files together raw, main + helpers raw. */
export function codeReadings(files: readonly CodeFile[]): CodeReading[] {
  const main = files.filter((f) => f.role === 'main')
  const helpers = files.filter((f) => f.role === 'helper')
  const out: CodeReading[] = []
  for (const f of main) {
    out.push({files: [f.file], form: 'raw', bytes: f.bytes})
    for (const form of ['zlib', 'brotli', 'lzma', 'xz'] as const) {
      const b = f.compressed?.[form]
      if (b !== undefined) out.push({files: [f.file], form, bytes: b})
    }
  }
  const sum = (fs: CodeFile[]) => fs.reduce((a, f) => a + f.bytes, 0)
  if (main.length > 1) out.push({files: main.map((f) => f.file), form: 'raw', bytes: sum(main)})
  if (main.length && helpers.length) out.push({files: [...main, ...helpers].map((f) => f.file), form: 'raw', bytes: sum([...main, ...helpers])})
  return out
}

/** The reading equal to `claim`, else the nearest compressed one within 2% (or null). */
export function matchCode(claim: number, readings: readonly CodeReading[]): {exact: CodeReading | null; near: CodeReading | null} {
  const exact = readings.find((r) => r.bytes === claim) ?? null
  if (exact) return {exact, near: null}
  let near: CodeReading | null = null
  for (const r of readings) {
    if (r.form === 'raw' || Math.abs(r.bytes - claim) > Math.max(64, 0.02 * r.bytes)) continue
    if (!near || Math.abs(r.bytes - claim) < Math.abs(near.bytes - claim)) near = r
  }
  return {exact: null, near}
}

/** `train_gpt.py xz` / `train_gpt.py + utils.py raw` */
export function showReading(r: CodeReading): string {
  return `${r.files.join(' + ')} ${r.form}`
}

/** `train_gpt.py 47,642 raw (zlib 14,102, brotli 12,877, lzma 12,950, xz 12,996)` */
export function showCodeFile(f: CodeFile): string {
  const c = f.compressed
  const forms = c ? (['zlib', 'brotli', 'lzma', 'xz'] as const).filter((k) => c[k] !== undefined).map((k) => `${k} ${c[k]!.toLocaleString('en-US')}`) : []
  return `${f.file} ${f.bytes.toLocaleString('en-US')} raw${forms.length ? ` (${forms.join(', ')})` : ''}`
}

/** The JSON `code` block: every file with its role, whether it is counted, and what the claim matched. */
export function codeReport(files: readonly CodeFile[], counted: CodeReading | null): CodeReport {
  return {
    kind: 'folder',
    files: files.map((f) => ({file: f.file, bytes: f.bytes, role: f.role, counted: counted ? counted.files.includes(f.file) : null, ...(f.compressed ? {compressed: f.compressed} : {})})),
    counted_as: counted ? {form: counted.form, files: counted.files, bytes: counted.bytes} : null,
  }
}
