/**
 * `npm run gpu:check` (bench/gpu-check.ts, run from dist/: npx tsc -p tsconfig.json). Without
 * tfjs-node-gpu it must fail at once and say so; `--rehearse wasm` runs every later stage
 * (matmul check, a few training steps, pack, verify) on wasm, so the script itself is tested
 * on machines without a GPU, and labels every line as a rehearsal.
 */
import {spawnSync} from 'node:child_process'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'

import {packageVersion} from '../../src/backend/index.js'
import {REPO_ROOT} from '../helpers/cli.js'

const script = join(REPO_ROOT, 'dist', 'bench', 'gpu-check.js')
const run = (args: string[]) => spawnSync(process.execPath, [script, ...args], {encoding: 'utf8', env: {...process.env, NO_COLOR: '1'}})

describe('gpu:check', () => {
  it.skipIf(packageVersion('@tensorflow/tfjs-node-gpu') !== undefined)('fails clearly when tfjs-node-gpu is not installed: one line, exit 1, no fallback', () => {
    const r = run([])
    expect(r.status).toBe(1)
    expect(r.stdout).toBe('')
    expect(r.stderr).toBe('gpu:check: backend: @tensorflow/tfjs-node-gpu is not installed: npm install @tensorflow/tfjs-node-gpu on a machine with an NVIDIA GPU (4.22 needs CUDA 11.2 and cuDNN 8.1; golf doctor shows what this machine has)\n')
    const j = run(['--json'])
    expect(JSON.parse(j.stdout)).toMatchObject({ok: false, error: expect.stringMatching(/tfjs-node-gpu is not installed/)})
  })

  it('--rehearse wasm runs the stages end to end and never claims a GPU', () => {
    const small = ['--steps', '3', '--val-tokens', '2048', '--set', 'model.model_dim=64', '--set', 'quant.group_size=64', '--set', 'train.batch_tokens=1024', '--set', 'train.micro_batch_tokens=1024']
    const r = run(['--rehearse', 'wasm', ...small])
    expect(r.status, r.stderr).toBe(0)
    const lines = r.stdout.trim().split('\n')
    expect(lines.every((l) => l.startsWith('REHEARSAL (wasm, no GPU) '))).toBe(true)
    expect(r.stdout).toMatch(/matmul 512×512 on the wasm backend: agrees with a plain JS product/)
    expect(r.stdout).toMatch(/train: 3 steps of 1,024 tokens; step 1 \d+ ms .*tokens\/s; val_bpb \d\.\d{4}/)
    expect(r.stdout).toMatch(/pack: [\d,]+ bytes, quantized on wasm, exact/)
    expect(r.stdout).toMatch(/✓ roundtrip exact: gap 0\.000000/)
    expect(lines.at(-1)).toBe('REHEARSAL (wasm, no GPU) gpu:check rehearsal passed: the script works; no GPU was checked')
    const bad = run(['--rehearse', 'tensorflow'])
    expect(bad.status).toBe(2)
    expect(bad.stderr).toBe('gpu:check: --rehearse tensorflow: expected wasm or cpu\n')
  }, 120_000)
})
