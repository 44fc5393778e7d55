/**
 * Backend benchmark (not a test): matMul GFLOP/s on the GPT reference shapes with the wasm
 * backend's own kernels vs our adapter, then a stand-in GPT training step (forward + backward)
 * in tokens/s, with its per-kernel profile.
 *
 *   node dist/bench/backend-matmul.js [--json] [--backend wasm|cpu|auto] [--steps N] [--no-step] [--no-original]
 *
 * On wasm each product is timed with the adapter (golf's GEMM by default), with the adapter on
 * XNNPACK, and (unless --no-original) with the wasm backend's own BatchMatMul.
 *
 * Reference shape: B=8, T=256, d=256, 4 heads (Dh=64), MLP ×4, 4 layers, byte vocab 260.
 */
import * as tf from '@tensorflow/tfjs-core'
import os from 'node:os'
import {describeBackend, initBackend, type BackendName} from '../src/backend/index.js'
import {formatProfile, profileKernels, type KernelProfile} from '../src/backend/profile.js'
import {installWasmAdapter, setWasmGemm, uninstallWasmAdapter, wasmGemm} from '../src/backend/wasm-adapter.js'

interface MatMulCase {
  name: string
  a: number[]
  b: number[]
  transposeA: boolean
  transposeB: boolean
}

// Batch/sequence/width of the reference step; the products a GPT step performs.
const B = 8
const T = 256
const D = 256
const H = 4
const DH = D / H
const BT = B * T
const CASES: MatMulCase[] = [
  {name: 'qkv fwd    x·W        [2048,256]·[256,768]', a: [BT, D], b: [D, 3 * D], transposeA: false, transposeB: false},
  {name: 'qkv dX     dY·Wᵀ      [2048,768]·[768,256]ᵀ', a: [BT, 3 * D], b: [D, 3 * D], transposeA: false, transposeB: true},
  {name: 'qkv dW     Xᵀ·dY      [2048,256]ᵀ·[2048,768]', a: [BT, D], b: [BT, 3 * D], transposeA: true, transposeB: false},
  {name: 'mlp fwd    x·W        [2048,256]·[256,1024]', a: [BT, D], b: [D, 4 * D], transposeA: false, transposeB: false},
  {name: 'mlp dX     dY·Wᵀ      [2048,1024]·[256,1024]ᵀ', a: [BT, 4 * D], b: [D, 4 * D], transposeA: false, transposeB: true},
  {name: 'mlp dW     Xᵀ·dY      [2048,256]ᵀ·[2048,1024]', a: [BT, D], b: [BT, 4 * D], transposeA: true, transposeB: false},
  {name: 'att S=QKᵀ  [32,256,64]·[32,256,64]ᵀ', a: [B * H, T, DH], b: [B * H, T, DH], transposeA: false, transposeB: true},
  {name: 'att Y=PV   [32,256,256]·[32,256,64]', a: [B * H, T, T], b: [B * H, T, DH], transposeA: false, transposeB: false},
  {name: 'att dP     dY·Vᵀ      [32,256,64]·[32,256,64]ᵀ', a: [B * H, T, DH], b: [B * H, T, DH], transposeA: false, transposeB: true},
  {name: 'att dV     Pᵀ·dY      [32,256,256]ᵀ·[32,256,64]', a: [B * H, T, T], b: [B * H, T, DH], transposeA: true, transposeB: false},
]

function flopsOf(c: MatMulCase): number {
  const ra = c.a.length
  const M = c.transposeA ? c.a[ra - 1] : c.a[ra - 2]
  const K = c.transposeA ? c.a[ra - 2] : c.a[ra - 1]
  const N = c.transposeB ? c.b[c.b.length - 2] : c.b[c.b.length - 1]
  const batch = c.a.slice(0, -2).reduce((x, y) => x * y, 1)
  return 2 * batch * M * K * N
}

/** Median seconds per call of `fn` over ≥ `minMs` of repeats (after one warm-up). */
function timeIt(fn: () => tf.Tensor, minMs = 600): number {
  const once = () => {
    const t0 = performance.now()
    const r = fn()
    r.dataSync()
    r.dispose()
    return performance.now() - t0
  }
  once()
  const times: number[] = []
  const start = performance.now()
  while (performance.now() - start < minMs || times.length < 3) times.push(once())
  times.sort((x, y) => x - y)
  return times[Math.floor(times.length / 2)] / 1000
}

interface MatMulResult {
  name: string
  gflops: number
  adapterGflopsPerS: number
  /** The adapter with XNNPACK (explicit transposes) instead of golf's GEMM. */
  xnnpackGflopsPerS?: number
  originalGflopsPerS?: number
  speedup?: number
}

/** GFLOP/s per case; on wasm also with XNNPACK and (unless `original` is false) the wasm kernel. */
function benchMatMuls(wasm: boolean, original: boolean): MatMulResult[] {
  const results: MatMulResult[] = []
  for (const c of CASES) {
    const a = tf.randomNormal(c.a)
    const b = tf.randomNormal(c.b)
    const fn = () => tf.matMul(a, b, c.transposeA, c.transposeB)
    const flops = flopsOf(c)
    const adapted = flops / timeIt(fn) / 1e9
    const r: MatMulResult = {name: c.name, gflops: flops / 1e9, adapterGflopsPerS: adapted}
    if (wasm) {
      const gemm = wasmGemm().kind
      setWasmGemm('xnnpack')
      r.xnnpackGflopsPerS = flops / timeIt(fn) / 1e9
      setWasmGemm(gemm)
      if (original) {
        uninstallWasmAdapter(['BatchMatMul'])
        r.originalGflopsPerS = flops / timeIt(fn, 300) / 1e9
        installWasmAdapter()
        r.speedup = adapted / r.originalGflopsPerS
      }
    }
    tf.dispose([a, b])
    results.push(r)
  }
  return results
}

// ---------------------------------------------------------------- stand-in GPT step
const VOCAB = 260
const LAYERS = 4

interface Params {
  [name: string]: tf.Variable
}

function makeParams(): Params {
  const p: Params = {}
  const v = (name: string, shape: number[], std: number) => (p[name] = tf.variable(tf.randomNormal(shape, 0, std), true, name))
  v('wte', [VOCAB, D], 0.02)
  v('wpe', [T, D], 0.01)
  for (let l = 0; l < LAYERS; l++) {
    v(`l${l}.qkv`, [D, 3 * D], 0.02)
    v(`l${l}.proj`, [D, D], 0.02 / Math.sqrt(2 * LAYERS))
    v(`l${l}.fc`, [D, 4 * D], 0.02)
    v(`l${l}.fc2`, [4 * D, D], 0.02 / Math.sqrt(2 * LAYERS))
  }
  return p
}

/** RMS norm over the last axis, no learned scale. */
function rmsNorm(x: tf.Tensor): tf.Tensor {
  return tf.mul(x, tf.rsqrt(tf.add(tf.mean(tf.square(x), -1, true), 1e-6)))
}

function gptLoss(p: Params, ids: tf.Tensor1D, targets: tf.Tensor1D, mask: tf.Tensor): tf.Scalar {
  let x = tf.add(tf.reshape(tf.gather(p.wte, ids), [B, T, D]), p.wpe) // (B, T, D)
  x = tf.reshape(x, [BT, D]) // (B·T, D)
  const heads = (t: tf.Tensor) => tf.reshape(tf.transpose(tf.reshape(t, [B, T, H, DH]), [0, 2, 1, 3]), [B * H, T, DH]) // (B·H, T, Dh)
  for (let l = 0; l < LAYERS; l++) {
    const qkv = tf.matMul(rmsNorm(x), p[`l${l}.qkv`]) // (B·T, 3D)
    const [q, k, v] = tf.split(qkv, 3, 1)
    const att = tf.softmax(tf.add(tf.mul(tf.matMul(heads(q), heads(k), false, true), 1 / Math.sqrt(DH)), mask)) // (B·H, T, T)
    const y = tf.reshape(tf.transpose(tf.reshape(tf.matMul(att, heads(v)), [B, H, T, DH]), [0, 2, 1, 3]), [BT, D])
    x = tf.add(x, tf.matMul(y, p[`l${l}.proj`]))
    const hdn = tf.square(tf.relu(tf.matMul(rmsNorm(x), p[`l${l}.fc`]))) // relu² (B·T, 4D)
    x = tf.add(x, tf.matMul(hdn, p[`l${l}.fc2`]))
  }
  const logits = tf.matMul(rmsNorm(x), p.wte, false, true) // tied head (B·T, V)
  const logp = tf.logSoftmax(logits)
  return tf.neg(tf.mean(tf.sum(tf.mul(tf.oneHot(targets, VOCAB), logp), -1))) as tf.Scalar
}

interface StepResult {
  msPerStep: number
  tokensPerSecond: number
  loss: number
}

function benchStep(steps: number): {run: () => StepResult; profile: () => Promise<KernelProfile>; dispose: () => void} {
  const p = makeParams()
  const ids = tf.tensor1d(Array.from({length: BT}, (_, i) => (i * 7919) % 256 + 4), 'int32')
  const targets = tf.tensor1d(Array.from({length: BT}, (_, i) => ((i + 1) * 7919) % 256 + 4), 'int32')
  const mask = tf.tidy(() => tf.mul(tf.sub(1, tf.linalg.bandPart(tf.ones([T, T]), -1, 0)), -1e9)) // (T, T) causal
  const step = () =>
    tf.tidy(() => {
      const {value, grads} = tf.variableGrads(() => gptLoss(p, ids, targets, mask))
      const loss = value.dataSync()[0]
      tf.dispose(Object.values(grads))
      return loss
    })
  return {
    run: () => {
      step() // warm-up: XNNPACK operators, heap growth
      const live = tf.memory().numTensors
      const t0 = performance.now()
      let loss = 0
      for (let i = 0; i < steps; i++) loss = step()
      const ms = (performance.now() - t0) / steps
      if (tf.memory().numTensors !== live) throw new Error(`tensor leak: ${tf.memory().numTensors - live} per ${steps} steps`)
      return {msPerStep: ms, tokensPerSecond: (BT * 1000) / ms, loss}
    },
    profile: () => profileKernels(() => void step(), {top: 15}),
    dispose: () => tf.dispose([...Object.values(p), ids, targets, mask]),
  }
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2)
  const json = argv.includes('--json')
  const flag = (name: string) => {
    const i = argv.indexOf(name)
    return i >= 0 ? argv[i + 1] : undefined
  }
  const backend = (flag('--backend') ?? 'wasm') as BackendName
  const steps = Number(flag('--steps') ?? 3)
  const info = await initBackend(backend, {quiet: true})
  const wasm = info.name === 'wasm'
  const log = (s: string) => {
    if (!json) console.log(s)
  }
  log(describeBackend(info))
  if (wasm) log(`adapter GEMM: ${JSON.stringify(wasmGemm())} (GOLF_WASM_GEMM=xnnpack selects XNNPACK)`)
  log(`load average ${os.loadavg().map((x) => x.toFixed(2)).join(' ')} on ${os.availableParallelism()} cores`)

  const matmul = benchMatMuls(wasm, !argv.includes('--no-original'))
  for (const r of matmul) {
    const xnn = r.xnnpackGflopsPerS === undefined ? '' : `   xnnpack ${r.xnnpackGflopsPerS.toFixed(2).padStart(6)}`
    const orig = r.originalGflopsPerS === undefined ? '' : `   original ${r.originalGflopsPerS.toFixed(2).padStart(6)}   ×${r.speedup!.toFixed(1)}`
    log(`${r.name.padEnd(50)} adapter ${r.adapterGflopsPerS.toFixed(2).padStart(6)} GFLOP/s${xnn}${orig}`)
  }

  let step: Record<string, unknown> | undefined
  if (!argv.includes('--no-step')) {
    const s = benchStep(steps)
    const adapted = s.run()
    log(`GPT step (4L, d256, 4 heads, T256, B8, vocab 260) fwd+bwd: ${adapted.msPerStep.toFixed(0)} ms/step, ${adapted.tokensPerSecond.toFixed(0)} tokens/s (adapter)`)
    let original: StepResult | undefined
    if (wasm && !argv.includes('--no-original')) {
      uninstallWasmAdapter(['BatchMatMul']) // keep UnsortedSegmentSum: wasm has none of its own
      original = s.run()
      installWasmAdapter()
      log(`                                                  ${original.msPerStep.toFixed(0)} ms/step, ${original.tokensPerSecond.toFixed(0)} tokens/s (original BatchMatMul)`)
    }
    const profile = await s.profile()
    log('per-kernel profile of one step (adapter):')
    log(formatProfile(profile))
    s.dispose()
    step = {adapter: adapted, original, profile}
  }
  if (json) {
    console.log(JSON.stringify({backend: info, loadavg: os.loadavg(), cores: os.availableParallelism(), matmul, step}))
  }
}

await main()
