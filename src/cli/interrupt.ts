/**
 * Ctrl-C for long commands: the first asks the work to stop at its next safe point (the command
 * polls `requested()`), a second quits at once (exit 130).
 */
import type {ProgressReporter} from './output.js'

export interface InterruptHandle {
  requested(): boolean
  /** Stop listening (call in a finally). */
  release(): void
}

export function onInterrupt(progress: ProgressReporter, message: string): InterruptHandle {
  let stop = false
  const handler = () => {
    if (stop) process.exit(130)
    stop = true
    progress.log(`interrupt: ${message} (Ctrl-C again to quit now)`)
  }
  process.on('SIGINT', handler)
  return {requested: () => stop, release: () => void process.off('SIGINT', handler)}
}
