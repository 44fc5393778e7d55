/**
 * Backend selection. This file's worker owns its tfjs engine; each test leaves wasm or cpu set.
 */
import * as tf from '@tensorflow/tfjs-core'
import {describe, expect, it} from 'vitest'
import {InputError} from '../../src/errors.js'
import {describeBackend, initBackend, initRecordedBackend, packageVersion, preferenceFor, skipReason, type BackendInfo} from '../../src/backend/index.js'

const noNode = packageVersion('@tensorflow/tfjs-node') === undefined && packageVersion('@tensorflow/tfjs-node-gpu') === undefined

describe('initBackend', () => {
  it('selects cpu and describes it', async () => {
    const info = await initBackend('cpu')
    expect(tf.getBackend()).toBe('cpu')
    expect(info).toMatchObject({name: 'cpu', tfjsBackend: 'cpu', threads: 1, gpu: false, skipped: []})
    expect(info.version).toBe(packageVersion('@tensorflow/tfjs-backend-cpu'))
    expect(describeBackend(info)).toBe('backend: cpu (1 thread)')
  })

  it('selects wasm (SIMD, one thread in Node), idempotently, with gradients registered', async () => {
    const info = await initBackend('wasm')
    expect(tf.getBackend()).toBe('wasm')
    expect(info).toMatchObject({name: 'wasm', tfjsBackend: 'wasm', threads: 1, gpu: false, simd: true})
    expect(describeBackend(info)).toBe('backend: wasm (simd, 1 thread)')
    expect(await initBackend('wasm')).toBe(info)
    expect(tf.getGradient('BatchMatMul')).toBeDefined()
    const g = tf.grad((x: tf.Tensor) => tf.sum(tf.square(x)))(tf.tensor1d([1, -2, 3]))
    expect(Array.from(g.dataSync())).toEqual([2, -4, 6])
  })

  it.skipIf(!noNode)('auto falls through the missing tfjs-node packages to wasm and says why', async () => {
    await initBackend('cpu')
    const info = await initBackend('auto')
    expect(info.name).toBe('wasm')
    expect(info.skipped).toEqual([
      {name: 'tensorflow-gpu', reason: 'not installed'},
      {name: 'tensorflow', reason: 'not installed'},
    ])
    expect(describeBackend(info)).toBe('backend: wasm (simd, 1 thread) — skipped tensorflow-gpu: not installed; tensorflow: not installed')
  })

  it.skipIf(!noNode)("'tensorflow' fails with one actionable line when tfjs-node is absent", async () => {
    const before = tf.getBackend()
    const err = await initBackend('tensorflow').catch((e: unknown) => e)
    expect(err).toBeInstanceOf(InputError)
    const message = (err as Error).message
    expect(message).not.toContain('\n')
    expect(message).toBe(
      "backend 'tensorflow' is not available (tensorflow-gpu: not installed; tensorflow: not installed): " +
        'run `npm install @tensorflow/tfjs-node-gpu` on a machine with CUDA (or @tensorflow/tfjs-node), or use --backend wasm',
    )
    expect(tf.getBackend()).toBe(before)
  })

  it('rejects an unknown backend name', async () => {
    await expect(initBackend('gpu' as never)).rejects.toThrow("unknown backend 'gpu': expected one of auto, tensorflow, wasm, cpu")
  })
})

describe('skipReason', () => {
  it('says "not installed" only when the missing module is the package itself', () => {
    const missing = Object.assign(new Error("Cannot find package '@tensorflow/tfjs-node' imported from /x.js"), {code: 'ERR_MODULE_NOT_FOUND'})
    expect(skipReason(missing, '@tensorflow/tfjs-node')).toBe('not installed')
    const nativeMissing = Object.assign(new Error("Cannot find module '/n/lib/napi-v8/tfjs_binding.node'\nRequire stack: ..."), {code: 'MODULE_NOT_FOUND'})
    expect(skipReason(nativeMissing, '@tensorflow/tfjs-node')).toBe("failed to load: Cannot find module '/n/lib/napi-v8/tfjs_binding.node'")
  })
})

describe('the backend a run recorded', () => {
  it('maps every resolved name back to the preference that selects it', () => {
    expect(['wasm', 'cpu', 'tensorflow', 'tensorflow-gpu', 'webgl'].map(preferenceFor)).toEqual(['wasm', 'cpu', 'tensorflow', 'tensorflow', null])
  })

  it('initialises it when it loads, another one on request (and says so)', async () => {
    expect(await initRecordedBackend('cpu')).toMatchObject({recorded: 'cpu', same: true, why: null, info: {name: 'cpu'}})
    expect(tf.getBackend()).toBe('cpu')
    expect(await initRecordedBackend('cpu', {override: 'wasm'})).toMatchObject({recorded: 'cpu', same: false, why: '--backend wasm was asked for', info: {name: 'wasm'}})
    expect(await initRecordedBackend('wasm', {override: 'auto'})).toMatchObject({same: true})
    expect(await initRecordedBackend('webgl')).toMatchObject({same: false, why: 'the run recorded backend "webgl", which golf does not know', info: {name: 'wasm'}})
  })

  it.skipIf(!noNode)('falls back when the recorded tensorflow backend is not installed, naming the package', async () => {
    expect(await initRecordedBackend('tensorflow-gpu', {fallback: 'cpu'})).toMatchObject({same: false, why: '@tensorflow/tfjs-node-gpu is not installed here', info: {name: 'cpu'}})
    expect(await initRecordedBackend('tensorflow')).toMatchObject({same: false, why: '@tensorflow/tfjs-node is not installed here', info: {name: 'wasm'}})
  })
})

describe('tfjs-node-gpu without a GPU device', () => {
  it('is described as running on the CPU, with why, before anything trains', () => {
    const info: BackendInfo = {name: 'tensorflow-gpu', tfjsBackend: 'tensorflow', version: '4.22.0', threads: 8, gpu: false, gpuFallback: 'TensorFlow registered no GPU device', skipped: []}
    expect(describeBackend(info)).toBe('backend: tensorflow-gpu (CPU, 8 threads) — warning: TensorFlow registered no GPU device')
    expect(describeBackend({...info, gpu: true, gpuFallback: undefined})).toBe('backend: tensorflow-gpu (GPU, 8 threads)')
  })
})
