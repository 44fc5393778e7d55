/**
 * Terminal output policy in one place: colour through chalk only on a TTY without NO_COLOR,
 * progress lines redrawn in place on a terminal and printed as plain log lines elsewhere.
 */
import {Chalk, type ChalkInstance} from 'chalk'

export function colourEnabled(stream: NodeJS.WriteStream = process.stdout): boolean {
  if (process.env.NO_COLOR !== undefined && process.env.NO_COLOR !== '') return false
  if (process.env.FORCE_COLOR !== undefined && process.env.FORCE_COLOR !== '0') return true
  return Boolean(stream.isTTY)
}

/** A chalk instance that is a no-op when colour is off for the given stream. */
export function paint(stream: NodeJS.WriteStream = process.stdout): ChalkInstance {
  return new Chalk({level: colourEnabled(stream) ? 1 : 0})
}

export interface ProgressReporter {
  /** Report progress; on a TTY redraws one status line, elsewhere prints at most every `everyMs`. */
  update(line: string): void
  /** Print a line that stays (a log line), keeping any status line below it. */
  log(line: string): void
  /** Clear the status line. */
  done(): void
}

/** Progress on stderr: a redrawn status line on a terminal, throttled plain lines elsewhere. */
export function progressReporter(opts: {quiet?: boolean; everyMs?: number; stream?: NodeJS.WriteStream} = {}): ProgressReporter {
  const stream = opts.stream ?? process.stderr
  const tty = Boolean(stream.isTTY)
  const everyMs = opts.everyMs ?? 10_000
  let last = 0
  let shown = false
  const clear = () => {
    if (tty && shown) stream.write('\r\x1b[2K')
    shown = false
  }
  return {
    update(line) {
      if (opts.quiet) return
      if (tty) {
        clear()
        stream.write(line.slice(0, Math.max(20, (stream.columns ?? 120) - 1)))
        shown = true
      } else {
        const now = Date.now()
        if (now - last >= everyMs) {
          stream.write(line + '\n')
          last = now
        }
      }
    },
    log(line) {
      if (opts.quiet) return
      clear()
      stream.write(line + '\n')
    },
    done() {
      clear()
    },
  }
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?'
  const s = Math.round(seconds)
  const h = Math.floor(s / 3600)
  const m = Math.floor((s % 3600) / 60)
  const r = s % 60
  if (h > 0) return `${h}h${String(m).padStart(2, '0')}m`
  if (m > 0) return `${m}m${String(r).padStart(2, '0')}s`
  return `${r}s`
}

export function formatBytes(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)} GB`
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)} MB`
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)} kB`
  return `${n} B`
}

/** Render rows as an aligned plain-text table (numbers right-aligned). */
export function table(header: string[], rows: Array<Array<string | number>>): string {
  const cells = [header, ...rows.map((r) => r.map((c) => String(c)))]
  const widths = header.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)))
  const numeric = header.map((_, i) => rows.length > 0 && rows.every((r) => typeof r[i] === 'number' || /^[-+]?[\d.,]+%?$/.test(String(r[i]))))
  return cells
    .map((r) => r.map((c, i) => (numeric[i] ? (c ?? '').padStart(widths[i]) : (c ?? '').padEnd(widths[i]))).join('  ').trimEnd())
    .join('\n')
}
