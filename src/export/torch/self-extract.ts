/**
 * The PyTorch export as the records ship their code: a two-line Python file that decompresses
 * the source and runs it.
 *
 *   # train_gpt.py (golf export torch), LZMA + base85: print(X.decode()) for exec(X) shows it
 *   import lzma,base64;exec(lzma.decompress(base64.b85decode("<payload>")))
 *
 * Payload: the UTF-8 source compressed as .lzma ("LZMA alone", golf's `lzma` compressor:
 * LZMA-JS preset 6, src/pack/compress.ts), base85-encoded with Python's alphabet
 * (`base64.b85encode`, no padding). Python's `lzma.decompress` reads .lzma and .xz alike
 * (FORMAT_AUTO); .lzma is the smaller of golf's two (the tiny-cpu export, 121,403 bytes →
 * .lzma 33,472, .xz 33,520: the .xz container's index and CRC-64 cost ~50 bytes; the wrapper
 * 41,993 bytes, 35%), and LZMA-JS is pure JS, so the same source gives the same bytes on every
 * machine (`xz` is a system binary, not always installed). LZMA-JS's presets 6–9 differed by
 * ≤ 14 bytes on an earlier export; it takes ~1.5–2.5 s per export here.
 *
 * Why base85: the payload must sit in a string literal of an ASCII (UTF-8) file. Base85 costs
 * +25% and its alphabet holds neither `"` nor `\`, so it needs no escaping; it is what the
 * records use. A latin-1 str literal (`# coding: latin-1`, ~2% of escapes) would be ~7.4 KB
 * smaller (≈ 34,540 bytes for tiny-cpu) but makes a .py that is not UTF-8, which editors, diffs
 * and copy-paste mangle. (golf's own JS bundle avoids the literal altogether with a second file,
 * train_golf.br, beside its loader: src/verify/bundle.ts.)
 *
 * How it runs: Python runs the wrapper as `__main__` with `__file__` its own path and `sys.argv`
 * its arguments; `exec` with no namespace runs the source in those very globals, so the source's
 * `if __name__ == "__main__":` fires, `__file__` names the shipped file, dataclasses find their
 * module (`sys.modules["__main__"]`), and its `sys.exit(main())` exit code is the wrapper's.
 * The export's argparse names itself `train_gpt.py` (`prog`), so `--help` prints the same.
 * `python3 train_gpt.py eval --artifact model.golf --data D` behaves exactly as the raw file.
 * Tracebacks name `<string>` with the source's line numbers.
 */
import {InputError} from '../../errors.js'
import {compress, decompress} from '../../pack/compress.js'

/** The base85 digits of RFC 1924, in order: Python's `base64.b85encode` alphabet. */
export const B85_ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz!#$%&()*+-;<=>?@^_`{|}~'

/** How the payload is made, as the result and the README say it. */
export const SELF_EXTRACT_FORMAT = 'lzma-alone+base85'

const COMMENT = '# train_gpt.py (golf export torch), LZMA + base85: print(X.decode()) for exec(X) shows it'
const PREFIX = 'import lzma,base64;exec(lzma.decompress(base64.b85decode("'
const SUFFIX = '")))'

/**
 * `base64.b85encode(data)` (pad=False): each 4 bytes, big-endian, are 5 digits base 85, most
 * significant first; a last group of n < 4 bytes is zero-padded and gives its first n + 1 digits.
 */
export function b85encode(data: Uint8Array): string {
  const out: string[] = []
  for (let i = 0; i < data.length; i += 4) {
    const n = Math.min(4, data.length - i)
    let word = 0
    for (let k = 0; k < 4; k++) word = word * 256 + (k < n ? data[i + k] : 0)
    const digits = new Array<string>(5)
    for (let k = 4; k >= 0; k--) {
      digits[k] = B85_ALPHABET[word % 85]
      word = Math.floor(word / 85)
    }
    out.push(digits.slice(0, n + 1).join(''))
  }
  return out.join('')
}

const B85_VALUE = new Map([...B85_ALPHABET].map((c, i) => [c, i]))

/** `base64.b85decode(text)`: the inverse of `b85encode` (a last group of m digits is padded with `~`). */
export function b85decode(text: string): Uint8Array {
  const out: number[] = []
  for (let i = 0; i < text.length; i += 5) {
    const m = Math.min(5, text.length - i)
    if (m === 1) throw new InputError('base85: a last group of one digit encodes no byte')
    let word = 0
    for (let k = 0; k < 5; k++) {
      const c = k < m ? text[i + k] : '~'
      const v = B85_VALUE.get(c)
      if (v === undefined) throw new InputError(`base85: ${JSON.stringify(c)} at ${i + k} is not a base85 digit`)
      word = word * 85 + v
    }
    if (word > 0xffffffff) throw new InputError(`base85: the group at ${i} overflows 32 bits`)
    for (let k = 3; k >= 0; k--) out.push(Math.floor(word / 256 ** k) % 256)
    if (m < 5) out.length -= 5 - m
  }
  return Uint8Array.from(out)
}

export interface SelfExtracting {
  /** The wrapper file's bytes (ASCII). */
  bytes: Uint8Array
  /** The Python source it runs, in bytes (UTF-8). */
  raw_bytes: number
  /** The compressed source (.lzma) before base85. */
  lzma_bytes: number
}

/**
 * The self-extracting file of a Python source. Deterministic: the same source gives the same
 * bytes. Checked before it is returned: its payload decodes to the source exactly.
 */
export function selfExtractingPython(source: string | Uint8Array): SelfExtracting {
  const raw = typeof source === 'string' ? Buffer.from(source, 'utf8') : source
  const packed = compress('lzma', raw)
  const text = `${COMMENT}\n${PREFIX}${b85encode(packed)}${SUFFIX}\n`
  const bytes = Buffer.from(text, 'ascii')
  if (!Buffer.from(extractSource(bytes)).equals(Buffer.from(raw))) throw new Error('self-extract: the wrapper does not decode to the source')
  return {bytes, raw_bytes: raw.length, lzma_bytes: packed.length}
}

/** The source a wrapper written by `selfExtractingPython` runs (InputError when it is not one). */
export function extractSource(wrapper: Uint8Array): Uint8Array {
  const text = Buffer.from(wrapper).toString('latin1')
  const at = text.indexOf(PREFIX)
  const end = text.lastIndexOf(SUFFIX)
  if (at < 0 || end < at + PREFIX.length) throw new InputError(`not a self-extracting train_gpt.py (no ${PREFIX}…${SUFFIX} line)`)
  return decompress('lzma', b85decode(text.slice(at + PREFIX.length, end)))
}

/** A shell command that prints the source a wrapper runs (python3 only: no golf, no torch). */
export function readSourceCommand(file: string): string {
  return `python3 -c "import re,lzma,base64;print(lzma.decompress(base64.b85decode(re.findall(rb'\\"([^\\"]+)\\"',open('${file}','rb').read())[-1])).decode(),end='')"`
}
