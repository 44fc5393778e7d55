/** Renders training events: a redrawn status line on a terminal, plain log lines elsewhere. */
import {formatDuration, paint, progressReporter, type ProgressReporter} from './output.js'
import type {TrainEvent} from '../train/loop.js'

export function trainEventRenderer(progress: ProgressReporter = progressReporter()): (e: TrainEvent) => void {
  const c = paint(process.stderr)
  return (e) => {
    if (e.kind === 'info') progress.log(c.dim(e.message))
    else if (e.kind === 'log') progress.log(e.line)
    else if (e.kind === 'step') {
      progress.update(
        `step ${e.step}/${e.maxSteps}  loss ${e.trainLoss.toFixed(4)}  ${Math.round(e.tokensPerS).toLocaleString('en-US')} tok/s  seq ${e.seqLen}  lr×${e.lr.toFixed(3)}  ETA ${formatDuration(e.etaS)}`,
      )
    } else progress.update(`${e.label}: ${e.done.toLocaleString('en-US')}/${e.total.toLocaleString('en-US')} tokens`)
  }
}
