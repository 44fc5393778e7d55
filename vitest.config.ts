import {availableParallelism} from 'node:os'
import {defineConfig} from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Training and packing tests do real (small) work on 2 CPU cores.
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Each file in its own process: tfjs keeps one global engine per process.
    pool: 'forks',
    // Most files run one thread (wasm, one thread; the cpu backend), so two files share two cores
    // well; vitest's default (cores − 1) would run one file at a time on the 2-core CI machine.
    maxWorkers: Math.max(2, availableParallelism() - 1),
    reporters: ['default'],
  },
})
