import {defineConfig} from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Training and packing tests do real (small) work on 2 CPU cores.
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Each file in its own process: tfjs keeps one global engine per process.
    pool: 'forks',
    reporters: ['default'],
  },
})
