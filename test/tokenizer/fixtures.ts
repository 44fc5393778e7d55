/** Shared access to the bundled SentencePiece fixtures (see test/fixtures/tokenizers/README.md). */
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { SentencePieceTokenizer } from '../../src/tokenizer/sentencepiece.js'

export const FIXTURES = fileURLToPath(new URL('../fixtures/tokenizers/', import.meta.url))
export const SP1024 = `${FIXTURES}sp1024.model`

/** The sample lines Google's encoder was run on (one per line). */
export function sampleLines(): string[] {
  const lines = readFileSync(`${FIXTURES}sample.txt`, 'utf8').split('\n')
  if (lines.at(-1) === '') lines.pop()
  return lines
}

export function expectedIds(file: string): number[][] {
  return JSON.parse(readFileSync(`${FIXTURES}${file}`, 'utf8')).ids
}

/** sp1024.model with its standalone "▁" piece renamed, as patch-nospace.mjs does. */
export function noSpaceModelBytes(): Buffer {
  const bytes = Buffer.from(readFileSync(SP1024))
  const at = bytes.indexOf(Buffer.from([0x0a, 0x0a, 0x0a, 0x03, 0xe2, 0x96, 0x81, 0x15]))
  if (at < 0) throw new Error('fixture sp1024.model has no standalone ▁ piece')
  Buffer.from('※').copy(bytes, at + 4)
  return bytes
}

export function loadNoSpace(): Promise<SentencePieceTokenizer> {
  return SentencePieceTokenizer.fromBytes(noSpaceModelBytes(), 'sp1024-nospace')
}
