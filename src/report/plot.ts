/**
 * The report's plot: train loss and val_bpb against step, one colour per seed, rendered
 * headless to SVG with vega-lite → vega (`renderer: 'none'`: no browser, no canvas).
 * Every plotted point is a symbol mark with an aria-label ("step: 40; val_bpb: 1.83; seed: …"),
 * which keeps the SVG accessible and lets tests find the data in it.
 */
import * as vega from 'vega'
import * as vl from 'vega-lite'

import type {RunRecord} from './ledger.js'

export interface PlotPoint {
  step: number
  value: number
  seed: string
  metric: 'train_loss' | 'val_bpb'
}

/** The points of the main runs: every train_loss line and every (non-sliding) val_bpb line. */
export function plotPoints(runs: readonly RunRecord[]): PlotPoint[] {
  const out: PlotPoint[] = []
  for (const r of runs) {
    const seed = `seed ${r.summary.seed}`
    for (const m of r.metrics) {
      if (typeof m.train_loss === 'number' && Number.isFinite(m.train_loss)) out.push({step: m.step, value: m.train_loss, seed, metric: 'train_loss'})
      if (typeof m.val_bpb === 'number' && Number.isFinite(m.val_bpb) && m.sliding_stride === undefined) out.push({step: m.step, value: m.val_bpb, seed, metric: 'val_bpb'})
    }
    // a run without metrics still has its final score
    if (!r.metrics.some((m) => typeof m.val_bpb === 'number')) out.push({step: r.summary.steps, value: r.summary.val_bpb, seed, metric: 'val_bpb'})
  }
  return out
}

function panel(metric: PlotPoint['metric'], title: string) {
  const x = {field: 'step', type: 'quantitative', title: 'step'}
  const y = {field: metric, type: 'quantitative', title, scale: {zero: false}}
  const color = {field: 'seed', type: 'nominal', title: null}
  return {
    title,
    width: 560,
    height: 200,
    transform: [{filter: {field: 'metric', equal: metric}}, {calculate: 'datum.value', as: metric}],
    layer: [
      // the line is decoration (aria off); each point carries its own label
      {mark: {type: 'line', strokeWidth: 1.5, aria: false}, encoding: {x, y, color}},
      {mark: {type: 'point', filled: true, size: 24}, encoding: {x, y, color, tooltip: [{field: 'step'}, {field: metric}, {field: 'seed'}]}},
    ],
  }
}

/**
 * The vega-lite spec (exposed for tests and for anyone who wants to restyle it). `bound`: the
 * val_bpb points are upper bounds (a diffusion model's negative ELBO) and the panel says so.
 */
export function plotSpec(points: readonly PlotPoint[], opts: {bound?: boolean} = {}): Record<string, unknown> {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    description: 'val_bpb and train loss against step',
    data: {values: points},
    vconcat: [panel('val_bpb', opts.bound ? 'val_bpb ≤ (upper bound: negative ELBO)' : 'val_bpb'), panel('train_loss', 'train loss (nats)')],
    config: {font: 'sans-serif', view: {stroke: '#ddd'}},
  }
}

/** Render the spec to an SVG string. */
export async function renderPlotSvg(points: readonly PlotPoint[], opts: {bound?: boolean} = {}): Promise<string> {
  const compiled = vl.compile(plotSpec(points, opts) as unknown as vl.TopLevelSpec).spec
  const view = new vega.View(vega.parse(compiled), {renderer: 'none'})
  try {
    return await view.toSVG()
  } finally {
    view.finalize()
  }
}
