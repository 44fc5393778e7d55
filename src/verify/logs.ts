/**
 * Reading the train logs of Parameter Golf submissions: the lines the official `train_gpt.py`
 * and popular forks print, e.g.
 *
 *   step:13780/20000 val_loss:2.0606 val_bpb:1.2172 train_time:600038ms step_avg:43.54ms
 *   Serialized model int8+zlib: 15815847 bytes (payload:17178912 …)
 *   Code size: 47642 bytes
 *   Total submission size int8+zlib: 15863489 bytes
 *   final_int8_zlib_roundtrip val_loss:2.0727 val_bpb:1.2244 eval_time:1401ms
 *   final_int8_zlib_roundtrip_exact val_loss:2.07269931 val_bpb:1.22436570
 *   Ternary artifact: 15057568 bytes (lzma) = 15.06MB
 *   budget:15111456/16000000
 *
 * Numbers must follow the label directly, so the script source the official script copies to
 * the top of its log (`log0(f"Code size: {code_bytes} bytes")`) never matches. Every value keeps
 * the number of decimals it was printed with, so comparisons can be "agree at the precision
 * printed". Pure text functions: no file system here.
 */

/** A number as printed: value and decimals after the point. */
export interface Printed {
  value: number
  decimals: number
}

export interface ValLine {
  /** 1-based line number in the log. */
  line: number
  /** The label before `val_loss`: `step:200/20000`, `final_int8_zlib_roundtrip_exact`, … */
  label: string
  val_loss: Printed | null
  val_bpb: Printed
  /** A post-quantization (`…roundtrip…`) score. */
  roundtrip: boolean
}

export interface SizeLine {
  line: number
  label: string
  bytes: number
}

export interface ParsedLog {
  val: ValLine[]
  /** `Total submission size…: N bytes` and `budget:N/CAP` lines. */
  totals: SizeLine[]
  /** `Serialized model…`, `…artifact…: N bytes`. */
  models: SizeLine[]
  /** `Code size: N bytes`, `code: N bytes`. */
  code: SizeLine[]
  /** Does this look like a train log at all (any step/val/size line)? */
  recognised: boolean
}

function printed(s: string): Printed {
  const dot = s.indexOf('.')
  return {value: Number(s), decimals: dot < 0 ? 0 : s.length - dot - 1}
}

const NUM = '(-?\\d+(?:\\.\\d+)?(?:[eE][-+]?\\d+)?|nan|inf)'
const VAL_BPB = new RegExp(`\\bval_bpb\\s*[:=]\\s*${NUM}`, 'i')
const VAL_LOSS = new RegExp(`\\bval_loss\\s*[:=]\\s*${NUM}`, 'i')
const BYTES = '(\\d[\\d,]*)\\s*bytes\\b'
const TOTAL = new RegExp(`^\\s*(Total submission size[^:\\n]*):\\s*${BYTES}`, 'i')
const BUDGET = /\bbudget\s*[:=]\s*(\d[\d,]*)\s*\/\s*(\d[\d,]*)/i
const MODEL = new RegExp(`^\\s*((?:Serialized model|[\\w .+-]*artifact)[^:\\n]*):\\s*${BYTES}`, 'i')
const CODE = new RegExp(`^\\s*(Code size|code|code bytes)\\s*:\\s*${BYTES}`, 'i')
const STEP = /^step:\d+\/\d+\s/

const int = (s: string) => Number(s.replace(/,/g, ''))

/** Parse one log's text. */
export function parseLog(text: string): ParsedLog {
  const out: ParsedLog = {val: [], totals: [], models: [], code: [], recognised: false}
  const lines = text.split(/\r?\n/)
  lines.forEach((raw, i) => {
    const line = raw.trimEnd()
    const n = i + 1
    const bpb = VAL_BPB.exec(line)
    if (bpb && !/\{|\}/.test(line)) {
      const loss = VAL_LOSS.exec(line)
      const at = loss ? line.indexOf(loss[0]) : line.indexOf(bpb[0])
      const label = line.slice(0, at).trim().split(/\s+/).slice(0, 2).join(' ')
      out.val.push({line: n, label, val_loss: loss ? printed(loss[1]) : null, val_bpb: printed(bpb[1]), roundtrip: /roundtrip/i.test(label)})
    }
    let m = TOTAL.exec(line)
    if (m) out.totals.push({line: n, label: m[1].trim(), bytes: int(m[2])})
    m = BUDGET.exec(line)
    if (m) out.totals.push({line: n, label: `budget (cap ${int(m[2])})`, bytes: int(m[1])})
    m = MODEL.exec(line)
    if (m && !TOTAL.test(line)) out.models.push({line: n, label: m[1].trim(), bytes: int(m[2])})
    m = CODE.exec(line)
    if (m) out.code.push({line: n, label: m[1].trim(), bytes: int(m[2])})
    if (STEP.test(line)) out.recognised = true
  })
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
    const c = log.code[log.code.length - 1]
    return {line: m.line, label: `${m.label} + ${c.label}`, bytes: m.bytes + c.bytes}
  }
  return null
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
