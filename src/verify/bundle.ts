/**
 * The counted code of a golf submission: `src/submission/main.ts` and every golf module it
 * uses (model, quantizer, training loop, codecs, evaluation), bundled by esbuild into ONE
 * minified ES module with the submitted recipe embedded. npm packages stay `import`s (tfjs,
 * pako, yaml, …: `packages: 'external'`), the way `torch` is not counted for `train_gpt.py`;
 * golf's own code is inside the file, never imported from the golf package.
 *
 * The bundle is built from the COMPILED modules (`dist/src/submission/main.js`), so it works
 * from an installed golf with no TypeScript. The same recipe and golf version always give the
 * same bytes (esbuild is deterministic; legal comments and source paths are dropped).
 */
import {build} from 'esbuild'
import {existsSync} from 'node:fs'
import {dirname, join} from 'node:path'

import {InputError} from '../errors.js'
import {writeFileAtomic} from '../io/atomic.js'
import {packageRoot} from '../paths.js'
import type {ResolvedRecipe} from '../recipe/recipe.js'

export interface CountedCode {
  /** The bundle's source text (UTF-8). */
  code: string
  /** Its size in bytes: what counts under the cap. */
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
  return {code: out.text, bytes: out.contents.byteLength}
}

/** Bundle and write the counted code atomically; returns what was written. */
export async function writeCountedCode(path: string, recipe: ResolvedRecipe, opts: CountedCodeOptions = {}): Promise<CountedCode> {
  const counted = await buildCountedCode(recipe, opts)
  await writeFileAtomic(path, counted.code)
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
