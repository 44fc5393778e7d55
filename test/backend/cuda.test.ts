/**
 * The GPU path seen from outside TensorFlow (src/backend/cuda.ts): nvidia-smi and the CUDA
 * 11.2 / cuDNN 8 library scan, with their outputs faked, the advice golf doctor prints, and the
 * hardware line a run records.
 */
import {describe, expect, it} from 'vitest'

import {gpuAdvice, probeCuda, type CudaProbe, type RunCommand} from '../../src/backend/cuda.js'
import {describeGpus, hardwareString} from '../../src/backend/hardware.js'
import {isRecordHardware} from '../../src/report/compliance.js'
import {TFJS_NODE_GPU, type BackendInfo} from '../../src/backend/index.js'

const H100_QUERY = 'NVIDIA H100 80GB HBM3, 9.0, 81559, 550.54.15\nNVIDIA H100 80GB HBM3, 9.0, 81559, 550.54.15\n'
const HEADER = '| NVIDIA-SMI 550.54.15   Driver Version: 550.54.15   CUDA Version: 12.4 |\n'
const LDCONFIG_CUDA12 = '3 libs found in cache `/etc/ld.so.cache\'\n\tlibcudart.so.12 (libc6,x86-64) => /usr/local/cuda/lib64/libcudart.so.12\n\tlibcublas.so.12 (libc6,x86-64) => /usr/local/cuda/lib64/libcublas.so.12\n'

function fake(outputs: Record<string, {status: number | null; stdout?: string; error?: string}>): RunCommand {
  return (cmd, args) => {
    const key = `${cmd} ${args.join(' ')}`.trim()
    const hit = Object.entries(outputs).find(([k]) => key.startsWith(k))
    return hit ? {status: hit[1].status, stdout: hit[1].stdout ?? '', error: hit[1].error} : {status: null, stdout: '', error: 'ENOENT'}
  }
}

const wasm: BackendInfo = {name: 'wasm', tfjsBackend: 'wasm', version: '4.22.0', threads: 1, gpu: false, skipped: []}

describe('probeCuda', () => {
  it('an H100 host with only CUDA 12: the GPUs, the driver, and every CUDA 11 library missing', () => {
    const p = probeCuda({
      run: fake({'nvidia-smi --query-gpu=name,compute_cap': {status: 0, stdout: H100_QUERY}, 'nvidia-smi': {status: 0, stdout: HEADER}, 'ldconfig -p': {status: 0, stdout: LDCONFIG_CUDA12}}),
      env: {},
      platform: 'linux',
      exists: () => false,
    })
    expect(p).toMatchObject({nvidiaSmi: true, driver: '550.54.15', driverCuda: '12.4', error: null})
    expect(p.gpus).toEqual([{name: 'NVIDIA H100 80GB HBM3', computeCapability: '9.0', memoryMiB: 81559}, {name: 'NVIDIA H100 80GB HBM3', computeCapability: '9.0', memoryMiB: 81559}])
    expect(p.libraries.map((l) => l.name)).toEqual([...TFJS_NODE_GPU.libraries])
    expect(p.libraries.every((l) => l.path === null)).toBe(true)
  })

  it('finds the libraries on LD_LIBRARY_PATH first, then in the ldconfig cache', () => {
    const p = probeCuda({
      run: fake({'nvidia-smi --query-gpu=name,compute_cap': {status: 0, stdout: 'NVIDIA A100-SXM4-40GB, 8.0, 40960, 470.82\n'}, 'nvidia-smi': {status: 0, stdout: ''}, 'ldconfig -p': {status: 0, stdout: '\tlibcudnn.so.8 (libc6,x86-64) => /usr/lib/x86_64-linux-gnu/libcudnn.so.8\n'}}),
      env: {LD_LIBRARY_PATH: '/opt/cuda-11.2/lib64'},
      platform: 'linux',
      exists: (path) => path.startsWith('/opt/cuda-11.2/lib64/') && !path.endsWith('libcudnn.so.8'),
    })
    expect(p.driverCuda).toBeNull()
    const where = Object.fromEntries(p.libraries.map((l) => [l.name, l.path]))
    expect(where['libcudart.so.11.0']).toBe('/opt/cuda-11.2/lib64/libcudart.so.11.0')
    expect(where['libcudnn.so.8']).toBe('/usr/lib/x86_64-linux-gnu/libcudnn.so.8')
  })

  it('an old driver without compute_cap is asked again without it; no nvidia-smi says so; no scan off Linux', () => {
    const old = probeCuda({run: fake({'nvidia-smi --query-gpu=name,compute_cap': {status: 6}, 'nvidia-smi --query-gpu=name,memory': {status: 0, stdout: 'Tesla V100-SXM2-16GB, 16160, 418.67\n'}, 'nvidia-smi': {status: 0, stdout: ''}}), platform: 'darwin'})
    expect(old.gpus).toEqual([{name: 'Tesla V100-SXM2-16GB', computeCapability: null, memoryMiB: 16160}])
    expect(old.driver).toBe('418.67')
    expect(old.libraries).toEqual([])
    const none = probeCuda({run: fake({}), platform: 'darwin'})
    expect(none).toMatchObject({nvidiaSmi: false, gpus: [], error: 'nvidia-smi not found (no NVIDIA driver installed, or not on PATH)'})
  })
})

describe('gpuAdvice', () => {
  const h100: CudaProbe = {
    nvidiaSmi: true,
    driver: '550.54.15',
    driverCuda: '12.4',
    gpus: [{name: 'NVIDIA H100 80GB HBM3', computeCapability: '9.0', memoryMiB: 81559}],
    libraries: TFJS_NODE_GPU.libraries.map((name) => ({name, path: null})),
    error: null,
  }

  it('a GPU seen but no GPU package: how to install, what it needs, what is missing, and the PTX JIT', () => {
    const lines = gpuAdvice(wasm, h100, null, null)
    expect(lines[0]).toBe('no GPU backend installed (npm install @tensorflow/tfjs-node-gpu on a CUDA machine); nvidia-smi sees 1 GPU (NVIDIA H100 80GB HBM3, compute capability 9.0), driver 550.54.15 for CUDA ≤ 12.4')
    expect(lines[1]).toMatch(/^@tensorflow\/tfjs-node-gpu 4\.22 needs: libtensorflow 2\.9\.1, built for CUDA 11\.2 and cuDNN 8\.1 .*falls back to the CPU without an error$/)
    expect(lines[2]).toBe(`CUDA 11.2 / cuDNN 8 libraries not found: ${TFJS_NODE_GPU.libraries.join(', ')} (install CUDA 11.2 and cuDNN 8.1 side by side, or put their lib64 folders on LD_LIBRARY_PATH)`)
    expect(lines[3]).toMatch(/^compute capability ≥ 9\.0 \(e\.g\. H100\) postdates libtensorflow 2\.9\.1: the CUDA driver JIT-compiles its kernels from PTX/)
    expect(lines).toHaveLength(4)
  })

  it('the GPU package loaded on the CPU: says training would run on the CPU', () => {
    const fellBack: BackendInfo = {name: 'tensorflow-gpu', tfjsBackend: 'tensorflow', version: '4.22.0', threads: 8, gpu: false, gpuFallback: 'x', skipped: []}
    const lines = gpuAdvice(fellBack, {...h100, libraries: h100.libraries.map((l) => ({...l, path: `/usr/local/cuda/lib64/${l.name}`}))}, '4.22.0', null)
    expect(lines[0]).toBe('@tensorflow/tfjs-node-gpu loaded but TensorFlow registered no GPU device: training would run on the CPU, silently')
    expect(lines).toContain('CUDA 11.2 / cuDNN 8 libraries: all 8 found')
  })

  it('running on a GPU: says so; another installed version is named', () => {
    const onGpu: BackendInfo = {name: 'tensorflow-gpu', tfjsBackend: 'tensorflow', version: '4.21.0', threads: 8, gpu: true, detail: 'TensorFlow 2.9.1', skipped: []}
    const lines = gpuAdvice(onGpu, {...h100, gpus: [{name: 'NVIDIA A10', computeCapability: '8.6', memoryMiB: 23028}]}, '4.21.0', null)
    expect(lines[0]).toMatch(/^TensorFlow runs on a GPU device \(TensorFlow 2\.9\.1\); nvidia-smi: 1 GPU \(NVIDIA A10, compute capability 8\.6\)/)
    expect(lines).toContain("(those are 4.22's requirements; 4.21.0 is installed: check its README)")
    expect(lines.some((l) => l.includes('PTX'))).toBe(false)
  })

  it('nothing seen, nothing installed: one line', () => {
    expect(gpuAdvice(wasm, {nvidiaSmi: false, driver: null, driverCuda: null, gpus: [], libraries: [], error: 'nvidia-smi not found'}, null, null)).toEqual(['no GPU backend installed (npm install @tensorflow/tfjs-node-gpu on a CUDA machine)'])
  })
})

describe('the hardware line of a run (src/backend/hardware.ts)', () => {
  const gpuBackend: BackendInfo = {name: 'tensorflow-gpu', tfjsBackend: 'tensorflow', version: '4.22.0', threads: 1, gpu: true, skipped: []}
  const gpu = (name: string) => ({name, computeCapability: null, memoryMiB: null})

  it('names the GPUs by model, counted in the order nvidia-smi lists them', () => {
    expect(describeGpus([])).toBeNull()
    expect(describeGpus([gpu('NVIDIA H100 80GB HBM3'), gpu('NVIDIA A100-SXM4-40GB'), gpu('NVIDIA H100 80GB HBM3')])).toBe('2× NVIDIA H100 80GB HBM3 + 1× NVIDIA A100-SXM4-40GB')
  })

  it('a GPU backend adds them; a CPU backend never asks nvidia-smi', () => {
    const eight = Array.from({length: 8}, () => gpu('NVIDIA H100 80GB HBM3'))
    expect(hardwareString(gpuBackend, () => eight)).toMatch(/^\d+× .+, \d+ GiB, tensorflow-gpu \(GPU\), nvidia-smi: 8× NVIDIA H100 80GB HBM3$/)
    // what golf report checks a record's runs against: eight SXM H100s, named as nvidia-smi does
    expect(isRecordHardware(hardwareString(gpuBackend, () => eight))).toBe(true)
    expect(isRecordHardware(hardwareString(gpuBackend, () => eight.slice(1)))).toBe(false)
    expect(hardwareString(gpuBackend, () => [])).toMatch(/, tensorflow-gpu \(GPU\)$/)
    const never = () => {
      throw new Error('asked for GPUs on a CPU backend')
    }
    expect(hardwareString(wasm, never)).toMatch(/^\d+× .+, \d+ GiB, wasm$/)
  })

  it('probeCuda without the library scan runs nvidia-smi only', () => {
    const asked: string[] = []
    const run: RunCommand = (cmd, args) => {
      asked.push(cmd)
      return fake({'nvidia-smi --query-gpu=name,compute_cap': {status: 0, stdout: H100_QUERY}, 'nvidia-smi': {status: 0, stdout: HEADER}})(cmd, args)
    }
    const p = probeCuda({run, platform: 'linux', libraries: false})
    expect(describeGpus(p.gpus)).toBe('2× NVIDIA H100 80GB HBM3')
    expect(p.libraries).toEqual([])
    expect(new Set(asked)).toEqual(new Set(['nvidia-smi']))
  })
})
