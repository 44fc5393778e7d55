/** Where golf's own files live, whether run from `src/` (tests, tsx) or from `dist/`. */
import {existsSync, readFileSync} from 'node:fs'
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'

let cachedRoot: string | undefined

/** The folder holding golf's package.json (walks up from this module). */
export function packageRoot(): string {
  if (cachedRoot) return cachedRoot
  let dir = dirname(fileURLToPath(import.meta.url))
  for (;;) {
    const pkg = join(dir, 'package.json')
    if (existsSync(pkg)) {
      try {
        if (JSON.parse(readFileSync(pkg, 'utf8')).name === 'golf') return (cachedRoot = dir)
      } catch {
        // not ours: keep walking
      }
    }
    const parent = dirname(dir)
    if (parent === dir) throw new Error('cannot find the golf package root')
    dir = parent
  }
}

export function recipesDir(): string {
  return join(packageRoot(), 'recipes')
}
