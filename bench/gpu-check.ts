/**
 * gpu:check — a short end-to-end check of the GPU path, for a machine with an NVIDIA GPU and
 * `@tensorflow/tfjs-node-gpu` installed: the backend loads and TensorFlow registered a GPU
 * device (it falls back to the CPU silently otherwise), a matrix product on it agrees with the
 * CPU, a few steps of a small recipe train on it (the first step's time includes start-up:
 * cuDNN/cuBLAS initialisation and, on GPUs newer than libtensorflow 2.9.1 such as H100, the
 * driver JIT-compiling kernels from PTX), then `golf pack` and `golf verify` on the result.
 *
 *   npm run gpu:check
 *   npm run gpu:check -- --steps 50 --recipe bitnet-b158-68m --set train.batch_tokens=65536 --set train.micro_batch_tokens=65536
 *   npm run gpu:check -- --data data/datasets/fineweb10B_sp1024 --keep --json
 *
 * Exit 0 when every stage passes (verify's checks may be "not confirmed", never failed), 1
 * when one fails, with one line saying which and why. Without tfjs-node-gpu it fails at once,
 * saying so; it never falls back to another backend.
 *
 * `--rehearse wasm|cpu` runs the same stages on that CPU backend instead, to test this script
 * on a machine without a GPU (golf's own tests do): every line then says REHEARSAL and the
 * result never claims a GPU.
 */
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {parseArgs} from 'node:util'
import * as tf from '@tensorflow/tfjs-core'

import {gpuAdvice, probeCuda} from '../src/backend/cuda.js'
import {describeBackend, initBackend, packageVersion, TFJS_NODE_GPU} from '../src/backend/index.js'
import {GolfError} from '../src/errors.js'
import {packSource} from '../src/pack/pack-model.js'
import {loadRecipe} from '../src/recipe/recipe.js'
import {train} from '../src/train/loop.js'
import {OFFICIAL_LIMIT} from '../src/verify/limit.js'
import {verifyRun} from '../src/verify/run.js'

const {values} = parseArgs({
  options: {
    recipe: {type: 'string', default: 'tiny-cpu'},
    set: {type: 'string', multiple: true, default: []},
    steps: {type: 'string', default: '30'},
    data: {type: 'string'},
    'val-tokens': {type: 'string', default: '65536'},
    keep: {type: 'boolean', default: false},
    json: {type: 'boolean', default: false},
    debug: {type: 'boolean', default: false},
    rehearse: {type: 'string'},
  },
})
if (values.rehearse !== undefined && values.rehearse !== 'wasm' && values.rehearse !== 'cpu') {
  process.stderr.write(`gpu:check: --rehearse ${values.rehearse}: expected wasm or cpu\n`)
  process.exit(2)
}
const rehearse = values.rehearse as 'wasm' | 'cpu' | undefined

class CheckFailed extends GolfError {
  constructor(stage: string, message: string) {
    super(`${stage}: ${message}`, 1)
  }
}

const say = (line: string) => {
  if (!values.json) console.log(rehearse ? `REHEARSAL (${rehearse}, no GPU) ${line}` : line)
}

async function main(): Promise<Record<string, unknown>> {
  const steps = Number(values.steps)
  const valTokens = Number(values['val-tokens'])
  if (!Number.isInteger(steps) || steps < 2) throw new GolfError(`--steps ${values.steps}: expected an integer ≥ 2 (step 1 is start-up)`, 2)
  if (!Number.isInteger(valTokens) || valTokens < 2) throw new GolfError(`--val-tokens ${values['val-tokens']}: expected an integer ≥ 2`, 2)

  // 1. the package, then the device
  const installed = packageVersion(TFJS_NODE_GPU.package)
  if (installed === undefined && !rehearse) {
    throw new CheckFailed('backend', `${TFJS_NODE_GPU.package} is not installed: npm install ${TFJS_NODE_GPU.package} on a machine with an NVIDIA GPU (${TFJS_NODE_GPU.version} needs CUDA ${TFJS_NODE_GPU.cuda} and cuDNN ${TFJS_NODE_GPU.cudnn}; golf doctor shows what this machine has)`)
  }
  const backend = await initBackend(rehearse ?? 'tensorflow')
  say(describeBackend(backend))
  if (!rehearse && backend.name !== 'tensorflow-gpu') throw new CheckFailed('backend', `${TFJS_NODE_GPU.package} ${installed} did not load, ${backend.name} did: ${backend.skipped.map((s) => `${s.name}: ${s.reason}`).join('; ')}`)
  if (!rehearse && !backend.gpu) {
    for (const line of gpuAdvice(backend, probeCuda(), installed ?? null, null).slice(1)) say(`  ${line}`)
    throw new CheckFailed('backend', `TensorFlow registered no GPU device: it would train on the CPU (see the lines above, or golf doctor)`)
  }
  const device = rehearse ? `the ${rehearse} backend` : 'the GPU'

  // 2. one op on the device against the CPU
  const n = 512
  const a = Float32Array.from({length: n * n}, (_, i) => Math.sin(i) / 8)
  const b = Float32Array.from({length: n * n}, (_, i) => Math.cos(i * 0.7) / 8)
  const t0 = performance.now()
  const prod = tf.tidy(() => tf.matMul(tf.tensor2d(a, [n, n]), tf.tensor2d(b, [n, n])).dataSync() as Float32Array)
  const firstOpMs = performance.now() - t0
  let worst = 0
  for (const [r, c] of [[0, 0], [1, 7], [n - 1, n - 1], [200, 311], [n / 2, 3]]) {
    let ref = 0
    for (let k = 0; k < n; k++) ref += a[r * n + k] * b[k * n + c]
    worst = Math.max(worst, Math.abs(prod[r * n + c] - ref) / Math.max(Math.abs(ref), 1e-3))
  }
  // TF32 tensor cores round inputs to 10 bits of mantissa: 1e-2 relative is their worst case here
  if (!(worst < 1e-2)) throw new CheckFailed('matmul', `a ${n}×${n} product on ${device} differs from a plain JS product by ${worst.toExponential(2)} relative (NVIDIA_TF32_OVERRIDE=0 turns TF32 off)`)
  say(`matmul ${n}×${n} on ${device}: agrees with a plain JS product to ${worst.toExponential(1)} relative; first op ${firstOpMs.toFixed(0)} ms (device start-up)`)

  // 3. train a few steps
  const root = mkdtempSync(join(tmpdir(), 'golf-gpu-check-'))
  const runDir = join(root, 'run')
  const recipe = loadRecipe(values.recipe!, [
    `train.max_steps=${steps}`,
    'train.max_wallclock_seconds=null',
    'train.checkpoint_every=0',
    'train.eval_every=0',
    'train.workers=1',
    `eval.val_tokens=${valTokens}`,
    `train.val_tokens=${valTokens}`,
    ...(values.set ?? []),
  ])
  const stepTimes: number[] = []
  let last = 0
  const result = await train({
    recipe,
    dataDir: values.data,
    outDir: runDir,
    seed: 1337,
    backend: rehearse ?? 'tensorflow',
    onEvent: (e) => {
      if (e.kind === 'step') {
        stepTimes.push(e.trainTimeMs - last)
        last = e.trainTimeMs
      } else if (e.kind === 'info') say(`  ${e.message}`)
    },
  })
  const s = result.summary!
  const steady = stepTimes.slice(1)
  const steadyMs = steady.reduce((x, y) => x + y, 0) / steady.length
  const tokensPerS = recipe.train.batch_tokens / (steadyMs / 1000)
  say(`train: ${s.steps} steps of ${recipe.train.batch_tokens.toLocaleString('en-US')} tokens; step 1 ${stepTimes[0].toFixed(0)} ms (start-up and kernel compilation), then ${steadyMs.toFixed(1)} ms/step = ${Math.round(tokensPerS).toLocaleString('en-US')} tokens/s; val_bpb ${s.val_bpb.toFixed(4)}`)

  // 4. pack and verify on the same backend
  const packed = await packSource(runDir)
  const artifact = join(root, 'model.golf')
  writeFileSync(artifact, packed.bytes)
  say(`pack: ${packed.bytes.length.toLocaleString('en-US')} bytes, quantized on ${packed.prepared.backend}${packed.prepared.exact ? ', exact' : ''}`)
  for (const note of packed.prepared.notes) say(`  note: ${note}`)
  const report = await verifyRun({runDir, artifactPath: artifact, limit: OFFICIAL_LIMIT, valTokens})
  for (const c of report.checks) say(`  ${!c.ok ? '✗' : c.confirmed ? '✓' : '–'} ${c.name}: ${c.detail}`)
  if (!values.keep) rmSync(root, {recursive: true, force: true})
  else say(`kept ${root}`)
  const failed = report.checks.filter((c) => !c.ok)
  if (failed.length > 0) throw new CheckFailed('verify', `${failed[0].name}: ${failed[0].detail}`)
  say(rehearse ? 'gpu:check rehearsal passed: the script works; no GPU was checked' : 'gpu:check passed')
  return {
    ok: true,
    rehearsal: rehearse ?? null,
    backend: backend.name,
    tensorflow: backend.detail ?? null,
    matmul_rel_err: worst,
    first_op_ms: Math.round(firstOpMs),
    steps: s.steps,
    first_step_ms: Math.round(stepTimes[0]),
    step_ms: Number(steadyMs.toFixed(1)),
    tokens_per_s: Math.round(tokensPerS),
    val_bpb: s.val_bpb,
    artifact_bytes: packed.bytes.length,
    pack_exact: packed.prepared.exact,
    verify: report.checks.map((c) => ({name: c.name, ok: c.ok, confirmed: c.confirmed, detail: c.detail})),
    ...(values.keep ? {kept: root} : {}),
  }
}

try {
  const out = await main()
  if (values.json) console.log(JSON.stringify(out))
} catch (err) {
  const e = err as Error & {exitCode?: number}
  if (values.debug && e.stack) process.stderr.write(e.stack + '\n')
  const message = err instanceof GolfError ? e.message : `internal error: ${e.message} (run with --debug for the stack)`
  if (values.json) console.log(JSON.stringify({ok: false, error: message}))
  process.stderr.write(`gpu:check: ${message}\n`)
  process.exitCode = err instanceof GolfError ? e.exitCode : 1
}
