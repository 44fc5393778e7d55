/** `golf doctor` through the built CLI (needs dist/: npx tsc -p tsconfig.json). */
import {describe, expect, it} from 'vitest'
import {runCli} from '../helpers/cli.js'
import {packageVersion} from '../../src/backend/index.js'

const noNode = packageVersion('@tensorflow/tfjs-node') === undefined && packageVersion('@tensorflow/tfjs-node-gpu') === undefined

describe('golf doctor', () => {
  it('--json reports the machine, each backend, the auto choice and GPU visibility; exit 0', async () => {
    const {stdout, code} = await runCli(['doctor', '--json'])
    expect(code).toBe(0)
    const r = JSON.parse(stdout)
    expect(r.node).toBe(process.version)
    expect(r.cores).toBeGreaterThan(0)
    expect(r.memory.totalBytes).toBeGreaterThan(0)
    expect(r.backends.map((b: {name: string}) => b.name)).toEqual(['tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'])
    const wasm = r.backends.find((b: {name: string}) => b.name === 'wasm')
    expect(wasm).toMatchObject({package: '@tensorflow/tfjs-backend-wasm', installed: true, version: packageVersion('@tensorflow/tfjs-backend-wasm'), loads: true, error: null})
    if (noNode) {
      expect(r.backends[1]).toMatchObject({installed: false, version: null, loads: false, error: 'not installed'})
      expect(r.selected.name).toBe('wasm')
      expect(r.selected.description).toBe('backend: wasm (simd, 1 thread) — skipped tensorflow-gpu: not installed; tensorflow: not installed')
      expect(r.wasm).toMatchObject({simd: true, threads: 1})
      expect(r.wasm.gemm).toMatch(/^golf GEMM, (FMA|no FMA)$/)
      expect(r.gpu).toMatchObject({visible: false, note: r.gpu.advice[0]})
      expect(r.gpu.advice[0]).toMatch(/^no GPU backend installed \(npm install @tensorflow\/tfjs-node-gpu on a CUDA machine\)/)
      expect(Object.keys(r.gpu.cuda).sort()).toEqual(['driver', 'driverCuda', 'error', 'gpus', 'libraries', 'nvidiaSmi'])
      // with no GPU seen and no GPU package, nothing more to say
      if (r.gpu.cuda.gpus.length === 0) expect(r.gpu.advice).toHaveLength(1)
    }
  })

  it.skipIf(!noNode)('prints a table and the auto line for humans', async () => {
    const {stdout, stderr, code} = await runCli(['doctor'])
    expect(code).toBe(0)
    expect(stderr).toBe('')
    expect(stdout).toMatch(/^wasm\s+@tensorflow\/tfjs-backend-wasm\s+\d+\.\d+\.\d+\s+ok$/m)
    expect(stdout).toMatch(/^tensorflow\s+@tensorflow\/tfjs-node\s+-\s+not installed$/m)
    expect(stdout).toContain('auto → backend: wasm (simd, 1 thread) — skipped tensorflow-gpu: not installed; tensorflow: not installed')
  })
})
