/**
 * Reading the train logs of Parameter Golf submissions: the lines the official `train_gpt.py`,
 * golf and the forks behind the merged records print, e.g.
 *
 *   step:13780/20000 val_loss:2.0606 val_bpb:1.2172 train_time:600038ms step_avg:43.54ms
 *   Serialized model int8+zlib: 15815847 bytes (payload:17178912 …)
 *   Code size: 47642 bytes                 Code size (compressed): 17234 bytes
 *   Total submission size int8+zlib: 15863489 bytes
 *   final_int8_zlib_roundtrip_exact val_loss:2.07269931 val_bpb:1.22436570
 *   final_sliding val_loss:2.0211 val_bpb:1.1971 (stride=16, T=0.90) eval_time:81234ms
 *   quantized_ttt_phased val_loss:2.0102 val_bpb:1.1906 eval_time:412345ms
 *   Ternary artifact: 15057568 bytes (lzma) = 15.06MB
 *   artifact:15.92MB ternary:64880640(14239486B) fp:2513744(2537376B) code:70853
 *   budget:15111456/16000000
 *   final_elbo bound:upper steps:128 … val_loss:2.3 val_bpb:1.9        (golf train, diffusion)
 *   final_roundtrip_elbo val_loss:… val_bpb:… bound:upper steps:128 …  (golf's counted code)
 *   train_shards: 1499        the training shards a run read (its data's fingerprint, below)
 *   …fineweb_8192_bpe_lossless_caps_caseops_v1_reserved.model…        a CaseOps tokenizer or dataset
 *
 * Numbers must follow their label directly, and a line with `{`/`}` is never read, so the
 * script source the official script copies to the top of its log (`log0(f"Code size:
 * {code_bytes} bytes")`) never matches. Every value keeps the number of decimals it was printed
 * with, so comparisons are "agree at the precision printed"; a size printed in MB carries its
 * rounding as a tolerance. Lines of shapes not listed here are ignored, so an unfamiliar log
 * yields fewer facts, never wrong ones. Pure text functions: no file system here.
 */

/** A number as printed: value and decimals after the point. */
export interface Printed {
  value: number
  decimals: number
}

/**
 * What a score line is:
 *   roundtrip   after quantization and dequantization (`final_int8_zlib_roundtrip…`)
 *   sliding     a sliding-window evaluation (`final_sliding…`, `…sliding_window…`)
 *   ttt         test-time training (`quantized_ttt_phased`, `…ttt…`)
 *   final       another final evaluation (`final_…`, `…_exact`, `final_elbo`)
 *   step        the periodic `step:S/N val_loss… val_bpb…` line (before quantization)
 *   diagnostic  a diagnostic measurement, not a score
 *   other       a label golf does not know
 */
export type ScoreKind = 'roundtrip' | 'sliding' | 'ttt' | 'final' | 'step' | 'diagnostic' | 'other'

export interface ValLine {
  /** 1-based line number in the log. */
  line: number
  /** The label before `val_loss`: `step:200/20000`, `final_int8_zlib_roundtrip_exact`, … */
  label: string
  val_loss: Printed | null
  val_bpb: Printed
  /** A post-quantization (`…roundtrip…`) score. */
  roundtrip: boolean
  kind: ScoreKind
  /**
   * An upper bound on the NLL (a diffusion model's negative ELBO), not a likelihood: the line
   * says `bound:upper`, `elbo` or `val_var_bpb`, or it is any score line of a diffusion log.
   */
  bound: boolean
}

export interface SizeLine {
  line: number
  label: string
  bytes: number
  /** ± bytes the printed figure allows: 0 for a count of bytes, 5,000 for `15.92MB`. */
  tolerance: number
  /** For a figure printed in `MB`: its bytes if MB meant MiB (some scripts divide by 2^20). */
  mib_bytes?: number
}

export interface CodeLine extends SizeLine {
  /** `Code size (uncompressed)` → raw, `(compressed)` → compressed, plain `Code size` → null. */
  form: 'raw' | 'compressed' | null
}

export interface ParsedLog {
  val: ValLine[]
  /** `Total submission size…: N bytes` and `budget:N/CAP` lines. */
  totals: SizeLine[]
  /** `Serialized model…`, `…artifact…: N bytes`, `artifact:15.92MB`. */
  models: SizeLine[]
  /** `Code size: N bytes`, `code: N bytes`, `Code size (compressed): N bytes`, `code:N`. */
  code: CodeLine[]
  /** The seed the log states (`seed:42`, `seed=42`, `--seed 42`, golf's header); null if none or several. */
  seed: number | null
  /**
   * A diffusion log whose scores are upper bounds (golf's `objective:mdlm`, a `bound:upper` line);
   * false for one that reports the chain rule, a likelihood (golf's header `score:chain`).
   */
  diffusion: boolean
  /** `train_shards: N` lines: how many training shards the run read. */
  train_shards: Array<{line: number; value: number}>
  /** The first line naming a CaseOps tokenizer or dataset (`…_caseops_v1…`), or null. */
  caseops_line: number | null
  /** Does this look like a train log at all (any step/val/size line)? */
  recognised: boolean
}

function printed(s: string): Printed {
  const dot = s.indexOf('.')
  return {value: Number(s), decimals: dot < 0 ? 0 : s.length - dot - 1}
}

const NUM = '(-?\\d+(?:\\.\\d+)?(?:[eE][-+]?\\d+)?|nan|inf)'
const VAL_BPB = new RegExp(`\\bval_bpb\\s*[:=]\\s*${NUM}`, 'i')
const VAL_VAR_BPB = new RegExp(`\\bval_var_bpb\\s*[:=]\\s*${NUM}`, 'i')
const VAL_LOSS = new RegExp(`\\bval_loss\\s*[:=]\\s*${NUM}`, 'i')
const BYTES = '(\\d[\\d,]*)\\s*bytes\\b'
const TOTAL = new RegExp(`^\\s*(Total submission size[^:\\n]*):\\s*${BYTES}`, 'i')
const BUDGET = /\bbudget\s*[:=]\s*(\d[\d,]*)\s*\/\s*(\d[\d,]*)/i
const MODEL = new RegExp(`^\\s*((?:Serialized model|[\\w .+-]*artifact)[^:\\n]*):\\s*${BYTES}`, 'i')
const CODE = new RegExp(`^\\s*(Code size(?:\\s*\\([^)\\n]*\\))?|code|code bytes|code_bytes)\\s*[:=]\\s*${BYTES}`, 'i')
/** `artifact:15.92MB …`: the compact summary line some ternary records print. */
const COMPACT_ARTIFACT = /(?:^|\s)artifact\s*[:=]\s*(\d+(?:\.\d+)?)\s*(MB|MiB|KB|kB|KiB|GB|B|bytes)?(?=\s|$)/i
const COMPACT_CODE = /(?:^|\s)code\s*[:=]\s*(\d+)\s*(?:B|bytes)?(?=\s|$)/i
/** `artifact_bytes: N`, `total_bytes=N`: key-value sizes some forks print. */
const KV_SIZE = /(?:^|[\s,;|])(artifact|model|total|submission)_bytes\s*[:=]\s*(\d[\d,]*)\b/i
const STEP = /^step:\d+\/\d+\s/
const BOUND = /\bbound\s*[:=]\s*upper\b|elbo|\bval_var_bpb\b/i
const SEED_LINE = /(?:^|[\s,;|])(?:--)?seed\s*(?:[:=]\s*|\s+)(\d{1,12})\b/i
const TRAIN_SHARDS = /(?:^|[\s,;|])train_shards\s*[:=]\s*(\d{1,9})\b/i
const CASEOPS = /caseops/i

const int = (s: string) => Number(s.replace(/,/g, ''))

const UNIT_BYTES: Record<string, number> = {b: 1, bytes: 1, kb: 1e3, kib: 2 ** 10, mb: 1e6, mib: 2 ** 20, gb: 1e9}

/** `15.92`, `MB` → 15,920,000 ± 5,000 (and the MiB reading for `MB`). */
function sizeWithUnit(num: string, unit: string | undefined): {bytes: number; tolerance: number; mib_bytes?: number} {
  const u = (unit ?? 'B').toLowerCase()
  const scale = UNIT_BYTES[u] ?? 1
  const p = printed(num)
  const half = scale === 1 ? 0 : 0.5 * 10 ** -p.decimals * scale
  const out: {bytes: number; tolerance: number; mib_bytes?: number} = {bytes: Math.round(p.value * scale), tolerance: Math.ceil(half)}
  if (u === 'mb') out.mib_bytes = Math.round(p.value * 2 ** 20)
  return out
}

function scoreKind(label: string): ScoreKind {
  if (/diag/i.test(label)) return 'diagnostic'
  if (/ttt/i.test(label)) return 'ttt'
  if (/roundtrip/i.test(label)) return 'roundtrip'
  if (/sliding/i.test(label)) return 'sliding'
  if (/^step[:\s]/i.test(label)) return 'step'
  if (/final|exact|elbo|test|result|quantized|^eval/i.test(label)) return 'final'
  return 'other'
}

/** Lines that are code, not output: the copied script source, argument parsing. */
function looksLikeCode(line: string): boolean {
  return /\bdef |\bos\.environ|getenv|add_argument|\bimport |\(\s*\w+\s*=/.test(line)
}

/** Parse one log's text. */
export function parseLog(text: string): ParsedLog {
  const out: ParsedLog = {val: [], totals: [], models: [], code: [], seed: null, diffusion: false, train_shards: [], caseops_line: null, recognised: false}
  const seeds = new Set<number>()
  let diffusionObjective = false
  let chainScored = false
  let boundLine = false
  const lines = text.split(/\r?\n/)
  lines.forEach((raw, i) => {
    const line = raw.trimEnd()
    const n = i + 1
    if (/[{}]/.test(line)) return
    const bpb = VAL_BPB.exec(line) ?? VAL_VAR_BPB.exec(line)
    if (bpb) {
      const loss = VAL_LOSS.exec(line)
      const at = Math.min(loss ? line.indexOf(loss[0]) : Infinity, line.indexOf(bpb[0]))
      // a timestamp or log level before the label (`2026-03-19 12:00:01 INFO final_…`) is not the label
      const words = line.slice(0, at).trim().split(/\s+/).filter(Boolean)
      while (words.length && /^[\d:.,\-T/Z+]+$|^\[?(INFO|DEBUG|WARN|WARNING|LOG)\]?:?$|^\[[^\]]*\]$/i.test(words[0])) words.shift()
      const label = words.slice(0, 2).join(' ')
      const kind = scoreKind(words.join(' '))
      out.val.push({line: n, label, val_loss: loss ? printed(loss[1]) : null, val_bpb: printed(bpb[1]), roundtrip: kind === 'roundtrip', kind, bound: BOUND.test(line)})
    } else if (!looksLikeCode(line)) {
      // a seed stated on its own line or in a header (`golf train … seed:42 …`), not on a score
      // line (golf's final_elbo line names the seed of its noise)
      const s = SEED_LINE.exec(line)
      if (s) seeds.add(Number(s[1]))
    } else if (/^\s*Namespace\(/.test(line)) {
      // argparse's printout of the arguments
      const s = /\bseed=(\d{1,12})\b/.exec(line)
      if (s) seeds.add(Number(s[1]))
    }
    if (/\bobjective\s*[:=]\s*(mdlm|bd3lm|diffusion)\b/i.test(line)) diffusionObjective = true
    if (/\bscore\s*[:=]\s*chain\b/i.test(line)) chainScored = true
    if (/\bbound\s*[:=]\s*upper\b/i.test(line)) boundLine = true
    const shards = TRAIN_SHARDS.exec(line)
    if (shards) out.train_shards.push({line: n, value: Number(shards[1])})
    if (out.caseops_line === null && CASEOPS.test(line)) out.caseops_line = n
    let m = TOTAL.exec(line)
    if (m) out.totals.push({line: n, label: m[1].trim(), bytes: int(m[2]), tolerance: 0})
    m = BUDGET.exec(line)
    if (m) out.totals.push({line: n, label: `budget (cap ${int(m[2])})`, bytes: int(m[1]), tolerance: 0})
    m = MODEL.exec(line)
    if (m && !TOTAL.test(line)) out.models.push({line: n, label: m[1].trim(), bytes: int(m[2]), tolerance: 0})
    m = CODE.exec(line)
    if (m) {
      const label = m[1].trim()
      out.code.push({line: n, label, bytes: int(m[2]), tolerance: 0, form: /uncompressed|raw/i.test(label) ? 'raw' : /compress|lzma|xz|zlib|brotli|zstd/i.test(label) ? 'compressed' : null})
    }
    const art = MODEL.test(line) ? null : COMPACT_ARTIFACT.exec(line)
    if (art) {
      out.models.push({line: n, label: `artifact:${art[1]}${art[2] ?? ''}`, ...sizeWithUnit(art[1], art[2])})
      const c = COMPACT_CODE.exec(line)
      if (c) out.code.push({line: n, label: `code:${c[1]}`, bytes: Number(c[1]), tolerance: 0, form: null})
    }
    m = KV_SIZE.exec(line)
    if (m) (/total|submission/i.test(m[1]) ? out.totals : out.models).push({line: n, label: `${m[1]}_bytes`, bytes: int(m[2]), tolerance: 0})
    if (STEP.test(line)) out.recognised = true
  })
  // a diffusion model's scores are its bound unless the log says it reports the chain rule; a
  // log with a bound line is a diffusion log, and its step lines are bounds too
  if ((diffusionObjective && !chainScored) || boundLine || out.val.some((v) => v.bound)) {
    out.diffusion = true
    for (const v of out.val) v.bound = true
  }
  out.seed = seeds.size === 1 ? [...seeds][0] : null
  if (out.val.length || out.totals.length || out.models.length || out.code.length) out.recognised = true
  return out
}

/**
 * The score a log reports: the last `…roundtrip…` line (the most precise one when a rounded
 * and an `_exact` line come together), else the last validation line.
 */
export function finalScore(log: ParsedLog): ValLine | null {
  const rt = log.val.filter((v) => v.roundtrip)
  const pool = rt.length ? rt : log.val
  return pool.length ? pool[pool.length - 1] : null
}

/**
 * Score lines a claimed score may be: roundtrip, sliding, TTT and other final lines, and the last
 * step line when nothing was measured after quantization (golf's own logs: the trained model is
 * the packed one). A step line before a roundtrip line scores the unquantized model: not a score.
 */
export function scoreLines(log: ParsedLog): ValLine[] {
  const afterQuant = log.val.some((v) => v.kind === 'roundtrip' || v.kind === 'ttt')
  const steps = log.val.filter((v) => v.kind === 'step')
  const lastStep = steps.at(-1)
  return log.val.filter((v) => v.kind === 'roundtrip' || v.kind === 'sliding' || v.kind === 'ttt' || v.kind === 'final' || (v === lastStep && !afterQuant))
}

/**
 * The total size a log reports: the last `Total submission size…` line, else the last
 * `budget:N/CAP`, else the last serialized model + the last code size.
 */
export function reportedTotal(log: ParsedLog): SizeLine | null {
  const totals = log.totals.filter((t) => !t.label.startsWith('budget'))
  if (totals.length) return totals[totals.length - 1]
  const budget = log.totals.filter((t) => t.label.startsWith('budget'))
  if (budget.length) return budget[budget.length - 1]
  if (log.models.length && log.code.length) {
    const m = log.models[log.models.length - 1]
    const c = log.code.filter((x) => x.form !== 'raw').at(-1) ?? log.code[log.code.length - 1]
    return sumLine(m, c)
  }
  return null
}

function sumLine(m: SizeLine, c: SizeLine): SizeLine {
  return {line: m.line, label: `${m.label} + ${c.label}`, bytes: m.bytes + c.bytes, tolerance: m.tolerance + c.tolerance, ...(m.mib_bytes !== undefined ? {mib_bytes: m.mib_bytes + c.bytes} : {})}
}

/**
 * Every reading of the whole submission's size in a log: each total line, and each model size
 * plus each code size (for logs that print the two and no total).
 */
export function totalReadings(log: ParsedLog): SizeLine[] {
  const out = [...log.totals]
  for (const m of log.models.slice(-20)) for (const c of log.code.slice(-5)) out.push(sumLine(m, c))
  return out
}

/** Does a size line allow `bytes`? Exact counts must be equal; `15.92MB` allows its rounding. */
export function sizeAgrees(bytes: number, s: SizeLine): boolean {
  return Math.abs(bytes - s.bytes) <= s.tolerance
}

/** Does the MiB reading of an `MB` figure allow `bytes` (when the decimal one does not)? */
export function sizeAgreesAsMiB(bytes: number, s: SizeLine): boolean {
  return s.mib_bytes !== undefined && Math.abs(bytes - s.mib_bytes) <= Math.ceil(s.tolerance * 1.048576)
}

/** `15,863,489` or `15.92MB (15,920,000 ± 5,000)`. */
export function showSize(s: SizeLine): string {
  const n = s.bytes.toLocaleString('en-US')
  return s.tolerance ? `${n} ± ${s.tolerance.toLocaleString('en-US')}` : n
}

/**
 * Do a claimed and a logged number agree at the precision printed? They may differ by half a
 * unit in the last place of the less precise of the two.
 */
export function agreesAtPrecision(claimed: number, logged: Printed, claimedDecimals = decimalsOf(claimed)): boolean {
  const d = Math.min(logged.decimals, claimedDecimals)
  return Math.abs(claimed - logged.value) <= 0.5 * 10 ** -d + 1e-12
}

/** Decimals in the shortest printing of a number (JSON numbers keep theirs). */
export function decimalsOf(x: number): number {
  const s = String(x)
  if (/e/i.test(s)) return 20
  const dot = s.indexOf('.')
  return dot < 0 ? 0 : s.length - dot - 1
}

/** `1.22436570` keeps its printed form when shown back. */
export function showPrinted(p: Printed): string {
  return p.value.toFixed(p.decimals)
}
