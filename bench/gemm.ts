/**
 * GEMM benchmark (not a test): GFLOP/s of the emitted wasm GEMM (`src/backend/wasm-gemm.ts`,
 * FMA and plain variants, optionally several tile shapes) against `tf.matMul` on the wasm
 * backend with our adapter's XNNPACK path (transpose flags become explicit transposes), on the
 * GPT reference shapes; 'tf golf' is `tf.matMul` through the adapter's golf path (the default). One thread. The contenders run interleaved, one call each per round, and
 * each reports its median over the rounds (the machine is shared and noisy).
 *
 *   npm run bench:gemm -- [--json] [--rounds N] [--tiles 3x12u1,4x8u1,...] [--kc N] [--mc N]
 */
import * as tf from '@tensorflow/tfjs-core'
import os from 'node:os'
import {initBackend} from '../src/backend/index.js'
import {setWasmGemm} from '../src/backend/wasm-adapter.js'
import {buildGemm, enableRelaxedSimd, tfjsHeap, type GemmShape, type TfjsWasmModule, type WasmGemm} from '../src/backend/wasm-gemm.js'

interface Case {
  name: string
  a: [number, number]
  b: [number, number]
  transposeA: boolean
  transposeB: boolean
}

const CASES: Case[] = [
  {name: 'x·W      [2048,256]·[256,256]', a: [2048, 256], b: [256, 256], transposeA: false, transposeB: false},
  {name: 'x·W      [2048,256]·[256,1024]', a: [2048, 256], b: [256, 1024], transposeA: false, transposeB: false},
  {name: 'x·W      [2048,1024]·[1024,256]', a: [2048, 1024], b: [1024, 256], transposeA: false, transposeB: false},
  {name: 'dX=dY·Wᵀ [2048,1024]·[256,1024]ᵀ', a: [2048, 1024], b: [256, 1024], transposeA: false, transposeB: true},
  {name: 'dW=Xᵀ·dY [2048,256]ᵀ·[2048,1024]', a: [2048, 256], b: [2048, 1024], transposeA: true, transposeB: false},
  {name: 'dW=Xᵀ·dY [2048,1024]ᵀ·[2048,256]', a: [2048, 1024], b: [2048, 256], transposeA: true, transposeB: false},
  {name: 'NS       [256,256]·[256,1024]', a: [256, 256], b: [256, 1024], transposeA: false, transposeB: false},
  {name: 'att 1 hd QKᵀ [256,64]·[256,64]ᵀ', a: [256, 64], b: [256, 64], transposeA: false, transposeB: true},
  {name: 'att 1 hd PV  [256,256]·[256,64]', a: [256, 256], b: [256, 64], transposeA: false, transposeB: false},
]

interface BackendWasm {
  wasm: TfjsWasmModule
  dataIdMap: {get(dataId: object): {memoryOffset: number}}
}

interface Contender {
  label: string
  /** `b` is a fresh copy each round; `bSame` one tensor throughout. */
  run(c: Case, a: tf.Tensor, b: tf.Tensor, out: tf.Tensor, bSame: tf.Tensor): void
}

function dims(c: Case): {m: number; k: number; n: number} {
  const [m, k] = c.transposeA ? [c.a[1], c.a[0]] : c.a
  const n = c.transposeB ? c.b[0] : c.b[1]
  return {m, k, n}
}

function gemmContender(label: string, gemm: WasmGemm, backend: BackendWasm): Contender {
  const at = (t: tf.Tensor) => backend.dataIdMap.get(t.dataId).memoryOffset
  return {
    label,
    run: (c, a, b, out) => {
      const {m, k, n} = dims(c)
      gemm.run({m, n, k, a: at(a), aRowStride: c.transposeA ? 1 : k, aColStride: c.transposeA ? m : 1, b: at(b), transposeB: c.transposeB, c: at(out)})
    },
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((x, y) => x - y)
  return s[Math.floor(s.length / 2)]
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2)
  const flag = (n: string) => {
    const i = argv.indexOf(n)
    return i >= 0 ? argv[i + 1] : undefined
  }
  const json = argv.includes('--json')
  const rounds = Number(flag('--rounds') ?? 15)
  const tiles = (flag('--tiles') ?? '3x12u1,4x8u1').split(',').map((s) => s.split(/[xu]/).map(Number))
  const blocking: Partial<GemmShape> = {}
  if (flag('--kc')) blocking.kc = Number(flag('--kc'))
  if (flag('--mc')) blocking.mc = Number(flag('--mc'))
  const log = (s: string) => {
    if (!json) console.log(s)
  }

  await initBackend('wasm', {quiet: true})
  const fma = enableRelaxedSimd()
  const backend = tf.backend() as unknown as BackendWasm
  const heap = tfjsHeap(backend.wasm)
  // XNNPACK caches its packed B per tensor id: in training every product meets a new B (weights
  // are reassigned each step, gradients and transposes are new tensors), so 'tfjs' gets a fresh
  // copy of B each round; 'tfjs same B' reuses one (XNNPACK's best case).
  const xnnpack = (fn: () => void) => {
    setWasmGemm('xnnpack')
    try {
      fn()
    } finally {
      setWasmGemm('golf')
    }
  }
  const contenders: Contender[] = [
    {label: 'tfjs', run: (c, a, b) => xnnpack(() => tf.matMul(a, b, c.transposeA, c.transposeB).dispose())},
    {label: 'tfjs same B', run: (c, a, _b, _out, bSame) => xnnpack(() => tf.matMul(a, bSame, c.transposeA, c.transposeB).dispose())},
    // the adapter's golf path: tf.matMul → BatchMatMul kernel → wasm-gemm (default variant)
    {label: 'tf golf', run: (c, a, b) => tf.matMul(a, b, c.transposeA, c.transposeB).dispose()},
  ]
  for (const [mr, nr, unroll = 1] of tiles) {
    const shape = {...blocking, mr, nr, unroll}
    const tile = `${mr}x${nr}u${unroll}`
    if (fma) contenders.push(gemmContender(`fma ${tile}`, buildGemm(heap, {variant: 'fma', shape}), backend))
    contenders.push(gemmContender(`plain ${tile}`, buildGemm(heap, {variant: 'plain', shape}), backend))
  }
  log(`relaxed SIMD: ${fma ? 'yes' : 'no'}; load average ${os.loadavg().map((x) => x.toFixed(2)).join(' ')} on ${os.availableParallelism()} cores; ${rounds} rounds`)
  log(`${'shape'.padEnd(36)}${contenders.map((c) => c.label.padStart(13)).join('')}   GFLOP/s (median)`)

  const results: Array<{name: string; gflopsPerS: Record<string, number>; maxAbsDiff: Record<string, number>}> = []
  for (const c of CASES) {
    const {m, k, n} = dims(c)
    const a = tf.randomNormal(c.a)
    const b = tf.randomNormal(c.b)
    const out = tf.zeros([m, n])
    let ref = tf.zeros([1])
    xnnpack(() => (ref = tf.matMul(a, b, c.transposeA, c.transposeB)))
    const refData = ref.dataSync()
    const maxAbsDiff: Record<string, number> = {}
    // warm-up (lets V8 tier the emitted code up to TurboFan) and a correctness check
    for (const ct of contenders) {
      for (let i = 0; i < 3; i++) ct.run(c, a, b, out, b)
      if (!ct.label.startsWith('tf')) {
        const got = out.dataSync()
        let worst = 0
        for (let i = 0; i < got.length; i++) worst = Math.max(worst, Math.abs(got[i] - refData[i]))
        maxAbsDiff[ct.label] = worst
      }
    }
    const times = contenders.map(() => [] as number[])
    for (let r = 0; r < rounds; r++) {
      contenders.forEach((ct, i) => {
        const fresh = tf.mul(b, 1) // new memory, new id (outside the timing)
        const t0 = performance.now()
        ct.run(c, a, fresh, out, b)
        times[i].push(performance.now() - t0)
        fresh.dispose()
      })
    }
    const flops = 2 * m * n * k
    const gflopsPerS = Object.fromEntries(contenders.map((ct, i) => [ct.label, flops / (median(times[i]) / 1000) / 1e9]))
    log(`${c.name.padEnd(36)}${contenders.map((ct) => gflopsPerS[ct.label].toFixed(1).padStart(13)).join('')}`)
    results.push({name: c.name, gflopsPerS, maxAbsDiff})
    tf.dispose([a, b, out, ref])
  }
  if (!json) {
    const diffs = results.flatMap((r) => Object.entries(r.maxAbsDiff).map(([l, d]) => `${l} ${d.toExponential(1)}`))
    log(`largest |ours − tfjs| per shape and contender: ${diffs.join(', ')}`)
  } else {
    console.log(JSON.stringify({relaxedSimd: fma, loadavg: os.loadavg(), rounds, results}))
  }
}

await main()
