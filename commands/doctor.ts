import {GolfCommand} from '../src/cli/base-command.js'
import {formatBytes, paint, table} from '../src/cli/output.js'
import {runDoctor, type DoctorReport} from '../src/backend/doctor.js'

export default class Doctor extends GolfCommand {
  static override summary = 'Report the machine and which tfjs backends are available.'
  static override description = `Node version, platform, cores and memory; for each backend (tensorflow-gpu, tensorflow, wasm, cpu) whether its package is installed and loads, with its version or load error; the backend --backend auto selects; wasm SIMD and threads. The GPU path: whether TensorFlow registered a GPU device (tfjs-node-gpu falls back to the CPU without an error), the GPUs and driver nvidia-smi reports, whether the CUDA 11.2 / cuDNN 8 libraries tfjs-node-gpu 4.22's libtensorflow 2.9.1 loads can be found, and the PTX JIT start-up of GPUs newer than it (H100). npm run gpu:check runs a short end-to-end check on the GPU. Always exits 0.`

  static override examples = ['<%= config.bin %> <%= command.id %>', '<%= config.bin %> <%= command.id %> --json']

  async run(): Promise<DoctorReport> {
    await this.parse(Doctor)
    const r = await runDoctor()
    if (!this.jsonEnabled()) {
      const c = paint()
      this.log(`node ${r.node} on ${r.platform} (${r.arch}), ${r.cores} cores (${r.cpuModel}), memory ${formatBytes(r.memory.totalBytes)} (${formatBytes(r.memory.freeBytes)} free)`)
      this.log('')
      this.log(
        table(
          ['backend', 'package', 'version', 'status'],
          r.backends.map((b) => [b.name, b.package, b.version ?? '-', b.loads ? c.green('ok') : c.yellow(b.error ?? 'unavailable')]),
        ),
      )
      this.log('')
      this.log(`auto → ${r.selected.description}`)
      if (r.wasm.simd !== null) this.log(`wasm: ${r.wasm.simd ? 'SIMD' : 'no SIMD'}, ${r.wasm.threads} thread(s), matrix products on ${r.wasm.gemm}; ${r.wasm.note}`)
      for (const line of r.gpu.advice) this.log(`gpu: ${line}`)
    }
    return r
  }
}
