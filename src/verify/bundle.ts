/**
 * The counted code of a golf submission: `src/submission/main.ts` and every golf module it
 * uses (model, quantizer, training loop, codecs, evaluation), bundled by esbuild into ONE
 * minified ES module with the submitted recipe embedded. npm packages stay `import`s (tfjs,
 * pako, yaml, …: `packages: 'external'`), the way `torch` is not counted for `train_gpt.py`;
 * golf's own code is inside the file, never imported from the golf package.
 *
 * The bundle ships compressed and self-extracting, as two files side by side:
 *
 *   train_golf.br   the bundle, brotli (quality 11, window 2^24, text mode): ~31% of its size
 *                   (demo recipe: 179,194 → 56,168 bytes; `xz -9e` gives 57,600)
 *   train_golf.mjs  a ~1.1 KB loader: reads train_golf.br, decompresses it with node:zlib
 *                   (at most the bundle's byte length), checks its SHA-256, and runs it
 *
 * and the counted code is both files' bytes, the way the records count an LZMA-wrapped
 * `train_gpt.py`. `node train_golf.mjs train …` runs it as the raw bundle would run: the loader
 * registers module hooks (`node:module` register, Node ≥ 20.6; every other module passes through
 * to Node's own resolution and loading) that serve the decompressed source as the
 * module `file:…/train_golf.br`, so its `import`s of npm packages resolve from the folder's
 * node_modules (walking up) exactly as the raw bundle's do beside it, and nothing is written to
 * disk. A missing, corrupt or foreign payload is one line on stderr and exit 1.
 *
 * Why two files and not one: a single file must carry the payload as text in a string literal
 * (base64 +33%, base85 +25%: 14 KB more for the demo's bundle, a quarter of the counted code);
 * the second file costs nothing but its name. The loader finds the payload by its name beside
 * itself; renaming one breaks the pair (one clear line, above). `golf verify` counts a
 * `train*.br` beside the `train*.mjs` as main code (src/verify/folder-files.ts), so the claim
 * matches "train_golf.br + train_golf.mjs raw".
 *
 * The bundle is built from the COMPILED modules (`dist/src/submission/main.js`), so it works
 * from an installed golf with no TypeScript. The same recipe and golf version always give the
 * same bytes (esbuild is deterministic; legal comments and source paths are dropped; brotli is
 * deterministic for a given encoder version, which is Node's: a Node release that updates its
 * brotli may change the .br bytes, never what they decompress to).
 */
import {createHash} from 'node:crypto'
import {build, transform} from 'esbuild'
import {existsSync} from 'node:fs'
import {dirname, join} from 'node:path'
import {brotliCompressSync, constants} from 'node:zlib'

import {InputError} from '../errors.js'
import {writeFileAtomic} from '../io/atomic.js'
import {packageRoot} from '../paths.js'
import type {ResolvedRecipe} from '../recipe/recipe.js'
import {COUNTED_BYTES_KEY, COUNTED_CODE_FILES} from '../submission/counted-code.js'

/** One file of the counted code, as it is written into the submission folder. */
export interface CountedFile {
  name: string
  data: Uint8Array
}

export interface CountedCode {
  /** The bundle's source text (UTF-8): the module the loader runs. */
  code: string
  /** The bundle's size in bytes, uncompressed (not what counts). */
  rawBytes: number
  /** What the submission folder holds: the loader, then the compressed bundle. */
  files: CountedFile[]
  /** The sum of the files' bytes: what counts under the cap. */
  bytes: number
}

export interface CountedCodeOptions {
  /** Seed `train` uses when none is given (the submitted run's). Default 1337. */
  seed?: number
  /** The compiled submission entry; default `<golf>/dist/src/submission/main.js`. */
  entry?: string
  /** Skip minification (for reading it; the counted code is always minified). */
  minify?: boolean
}

/** Where the compiled entry of the counted code lives. */
export function submissionEntry(): string {
  return join(packageRoot(), 'dist', 'src', 'submission', 'main.js')
}

/** Bundle the counted code for a recipe (see the module doc). */
export async function buildCountedCode(recipe: ResolvedRecipe, opts: CountedCodeOptions = {}): Promise<CountedCode> {
  const entry = opts.entry ?? submissionEntry()
  if (!existsSync(entry)) throw new InputError(`the counted code is bundled from golf's compiled modules, but ${entry} is missing (run npm run build)`)
  const embedded = {recipe, seed: opts.seed ?? 1337}
  // A generated entry: the submission's main with the resolved recipe as a literal.
  const contents = [
    `import {runSubmission} from ${JSON.stringify('./' + entry.split(/[\\/]/).pop())}`,
    `process.exitCode = await runSubmission(process.argv.slice(2), ${JSON.stringify(embedded)})`,
  ].join('\n')
  let result
  try {
    result = await build({
      stdin: {contents, resolveDir: dirname(entry), sourcefile: 'submission-entry.js', loader: 'js'},
      bundle: true,
      minify: opts.minify ?? true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      packages: 'external',
      legalComments: 'none',
      charset: 'utf8',
      write: false,
      logLevel: 'silent',
    })
  } catch (err) {
    const first = (err as {errors?: Array<{text: string}>}).errors?.[0]?.text ?? (err as Error).message
    throw new Error(`bundling the counted code failed: ${first}`)
  }
  const out = result.outputFiles[0]
  const files = await selfExtracting(out.contents)
  return {code: out.text, rawBytes: out.contents.byteLength, files, bytes: files.reduce((a, f) => a + f.data.byteLength, 0)}
}

/** Brotli at its densest for text: quality 11, the largest window, text mode, the size known. */
export function compressBundle(bundle: Uint8Array): Uint8Array {
  return brotliCompressSync(bundle, {
    params: {
      [constants.BROTLI_PARAM_MODE]: constants.BROTLI_MODE_TEXT,
      [constants.BROTLI_PARAM_QUALITY]: 11,
      [constants.BROTLI_PARAM_LGWIN]: 24,
      [constants.BROTLI_PARAM_SIZE_HINT]: bundle.byteLength,
    },
  })
}

/**
 * The module hooks the loader registers (they run on Node's hooks thread): the payload's URL
 * resolves to itself and loads as an ES module from the decompressed source it was handed.
 * Written minified, without `?` (a ternary would start the URL's query).
 */
const HOOKS =
  'let u,s;export function initialize(d){u=d.url;s=d.source}' +
  'export function resolve(x,c,n){return x===u&&{url:u,shortCircuit:!0}||n(x,c)}' +
  'export function load(x,c,n){return x===u&&{format:"module",source:s,shortCircuit:!0}||n(x,c)}'

/** A data: URL of `code`, escaping only what the URL parser would cut or strip (`%`, `#`, `?`, whitespace other than spaces). */
function hooksUrl(code: string): string {
  return 'data:text/javascript,' + code.replace(/[%#?\t\n\r\f\v]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0'))
}

/**
 * The loader (minified by esbuild; the placeholders are JSON literals). Exit 1 with one line
 * when the payload is missing, does not decompress, is longer than the bundle, or is not the
 * bundle it was built with (length and SHA-256); the count it hands the bundle is measured.
 */
function loaderSource(payload: string, rawBytes: number, sha256: string): string {
  const [P, N, H] = [payload, rawBytes, sha256].map((v) => JSON.stringify(v))
  return `
import {readFileSync, statSync} from 'node:fs'
import {register} from 'node:module'
import {createHash} from 'node:crypto'
import {brotliDecompressSync} from 'node:zlib'
const fail = (why) => {
  console.error('error: ' + why)
  process.exit(1)
}
const url = new URL(${P}, import.meta.url)
let source
try {
  const packed = readFileSync(url)
  source = brotliDecompressSync(packed, {maxOutputLength: ${N}})
  if (source.length !== ${N} || createHash('sha256').update(source).digest('base64') !== ${H}) throw Error('not the bundle this loader was built for')
  globalThis[Symbol.for(${JSON.stringify(COUNTED_BYTES_KEY)})] = packed.length + statSync(new URL(import.meta.url)).size
} catch (e) {
  fail(${P} + ", golf's compressed counted code beside this loader, " + (e.code === 'ENOENT' ? 'is missing' : 'is corrupt: ' + e.message))
}
register(${JSON.stringify(hooksUrl(HOOKS))}, {data: {url: url.href, source: source.toString()}})
await import(url.href).catch((e) => fail(process.env.GOLF_DEBUG ? e.stack : e.message))
`
}

/** The counted files for a bundle: the loader and the compressed bundle (see the module doc). */
export async function selfExtracting(bundle: Uint8Array): Promise<CountedFile[]> {
  const sha256 = createHash('sha256').update(bundle).digest('base64')
  const loader = await transform(loaderSource(COUNTED_CODE_FILES.payload, bundle.byteLength, sha256), {
    minify: true,
    format: 'esm',
    target: 'node20',
    legalComments: 'none',
    charset: 'utf8',
    logLevel: 'silent',
  })
  return [
    {name: COUNTED_CODE_FILES.loader, data: Buffer.from(loader.code.trimEnd() + '\n', 'utf8')},
    {name: COUNTED_CODE_FILES.payload, data: compressBundle(bundle)},
  ]
}

/** Bundle the counted code and write its files into `dir` (each atomically); returns what was written. */
export async function writeCountedCode(dir: string, recipe: ResolvedRecipe, opts: CountedCodeOptions = {}): Promise<CountedCode> {
  const counted = await buildCountedCode(recipe, opts)
  for (const f of counted.files) await writeFileAtomic(join(dir, f.name), f.data)
  return counted
}

/**
 * Module specifiers a bundle imports (static `from "…"` and dynamic `import("…")` with a
 * literal): for a proper counted file, only npm packages and `node:` builtins.
 */
export function bundleImports(code: string): string[] {
  const out = new Set<string>()
  for (const m of code.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s*)(["'])([^"'\n]+)\1/g)) out.add(m[2])
  return [...out].sort()
}
