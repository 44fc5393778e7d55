/**
 * How a score says how much of the validation split it covers (`ValCoverage`, src/data/stream.ts).
 * The official metric scores the whole split (openai/parameter-golf README: "Validation always
 * runs on the full `fineweb_val_*` split"), so a partial figure — the first `eval.val_tokens`
 * tokens, an in-training eval on `train.val_tokens` — is labelled wherever it appears: on its
 * log line, in summary.json and golf eval's output, in the report. A whole-split score keeps
 * the official line shape, with nothing appended.
 */
import type {ValCoverage} from '../data/stream.js'

const int = (n: number) => n.toLocaleString('en-US')

/**
 * Appended to the log line of a partial score, e.g. ` partial_val_tokens:65536/300269` (the
 * tokens read of the split's); '' for the whole split.
 */
export function coverageLogField(c: ValCoverage): string {
  return c.partial ? ` partial_val_tokens:${c.read_tokens}/${c.split_tokens}` : ''
}

/**
 * `whole validation split: 300,269 tokens` or `partial: first 65,536 of 300,269 validation
 * tokens — not the official metric`.
 */
export function describeCoverage(c: ValCoverage): string {
  return c.partial ? `partial: first ${int(c.read_tokens)} of ${int(c.split_tokens)} validation tokens — not the official metric` : `whole validation split: ${int(c.split_tokens)} tokens`
}

/** Is `v` a ValCoverage as golf writes it (a summary.json from an older golf has none)? */
export function isValCoverage(v: unknown): v is ValCoverage {
  if (v === null || typeof v !== 'object') return false
  const c = v as Record<string, unknown>
  const count = (x: unknown) => typeof x === 'number' && Number.isInteger(x) && x >= 0
  return count(c.read_tokens) && count(c.split_tokens) && typeof c.partial === 'boolean' && c.partial === (c.read_tokens as number) < (c.split_tokens as number)
}
