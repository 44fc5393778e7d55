/**
 * bench:attention — causal attention alone, forward + backward (gradients w.r.t. q, k and v),
 * full (T, T) scores vs query tiles of several heights, interleaved in one process (one call of
 * each variant per round, so all see the same machine load). Prints the median ms per call, of
 * wall time and of this process's CPU time (user + system: on a shared machine the CPU time
 * barely counts the time spent waiting for a core, so it is the steadier figure).
 *
 *   node dist/bench/attention.js                              # reference shape, wasm
 *   node dist/bench/attention.js --seq-len 256,512,1024 --blocks 32,64,128 --rounds 9
 *   node dist/bench/attention.js --json --backend cpu
 *
 * Reference shape (GOLF.md): B=8, H=4 heads of Dh=64, KV=4, T=256.
 */
import * as tf from '@tensorflow/tfjs-core'
import {loadavg} from 'node:os'
import {parseArgs} from 'node:util'

import {describeBackend, initBackend, type BackendName} from '../src/backend/index.js'
import {attention, causalBlock, causalMask, type CausalMask} from '../src/model/attention.js'

const {values} = parseArgs({
  options: {
    json: {type: 'boolean', default: false},
    backend: {type: 'string', default: 'wasm'},
    'seq-len': {type: 'string', default: '256'},
    blocks: {type: 'string', default: '32,64,128'},
    batch: {type: 'string', default: '8'},
    heads: {type: 'string', default: '4'},
    'kv-heads': {type: 'string', default: '4'},
    'head-dim': {type: 'string', default: '64'},
    rounds: {type: 'string', default: '7'},
  },
})

const list = (s: string) => s.split(',').map(Number)
const [B, H, KV, Dh, rounds] = [values.batch, values.heads, values['kv-heads'], values['head-dim'], values.rounds].map(Number)

const info = await initBackend(values.backend as BackendName, {quiet: true})

interface Row {
  T: number
  /** 'full' or the tile height. */
  variant: string
  medianMs: number
  medianCpuMs: number
  /** Median CPU time relative to the full path's (< 1: faster). */
  vsFull: number
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}

const rows: Row[] = []
for (const T of list(values['seq-len'])) {
  const q = tf.randomNormal([B, H, T, Dh]) as tf.Tensor4D
  const k = tf.randomNormal([B, KV, T, Dh]) as tf.Tensor4D
  const v = tf.randomNormal([B, KV, T, Dh]) as tf.Tensor4D
  const dy = tf.randomNormal([B, H, T, Dh])
  const variants: Array<{name: string; mask: CausalMask}> = [{name: 'full', mask: causalMask(T, T)}]
  for (const b of list(values.blocks)) if (b < T) variants.push({name: String(b), mask: causalMask(T, b)})
  const grad = tf.grads((qq: tf.Tensor, kk: tf.Tensor, vv: tf.Tensor) => tf.sum(tf.mul(attention(qq as tf.Tensor4D, kk as tf.Tensor4D, vv as tf.Tensor4D, mask), dy)))
  let mask = variants[0].mask
  const once = (m: CausalMask) => {
    mask = m
    const t0 = performance.now()
    const c0 = process.cpuUsage()
    const gs = grad([q, k, v])
    for (const g of gs) g.dataSync()
    const c = process.cpuUsage(c0)
    const ms = performance.now() - t0
    tf.dispose(gs)
    return {ms, cpuMs: (c.user + c.system) / 1000}
  }
  for (const x of variants) once(x.mask) // warm-up
  const times = variants.map(() => ({ms: [] as number[], cpuMs: [] as number[]}))
  for (let r = 0; r < rounds; r++) {
    variants.forEach((x, i) => {
      const t = once(x.mask)
      times[i].ms.push(t.ms)
      times[i].cpuMs.push(t.cpuMs)
    })
  }
  const full = median(times[0].cpuMs)
  variants.forEach((x, i) => {
    const cpu = median(times[i].cpuMs)
    rows.push({T, variant: x.name, medianMs: median(times[i].ms), medianCpuMs: cpu, vsFull: cpu / full})
  })
  tf.dispose([q, k, v, dy, ...variants.flatMap((x) => x.mask.tiles)])
}

if (values.json) {
  console.log(JSON.stringify({backend: info.name, shape: {B, H, KV, Dh}, rounds, causalBlock: Object.fromEntries(list(values['seq-len']).map((T) => [T, causalBlock(T)])), rows}))
} else {
  console.log(describeBackend(info))
  console.log(`attention fwd+bwd, B=${B} H=${H} KV=${KV} Dh=${Dh}, median of ${rounds} interleaved rounds; load ${loadavg()[0].toFixed(2)}`)
  for (const r of rows) {
    const note = r.variant === 'full' ? '' : `  ×${r.vsFull.toFixed(2)}${Number(r.variant) === causalBlock(r.T) ? '  (causalBlock)' : ''}`
    console.log(`T=${String(r.T).padStart(5)}  ${r.variant.padStart(5)}  wall ${r.medianMs.toFixed(1).padStart(7)} ms  cpu ${r.medianCpuMs.toFixed(1).padStart(7)} ms${note}`)
  }
}
