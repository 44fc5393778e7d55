/**
 * runBundle (src/verify/roundtrip.ts): the counted code's subprocess reports its exit and output,
 * and an abort kills it (golf verify --run aborts it when its own scoring fails, instead of
 * leaving a whole-split evaluation running to its end).
 */
import {describe, expect, it} from 'vitest'

import {runBundle} from '../../src/verify/roundtrip.js'

describe('runBundle', () => {
  it('returns the exit code and output', async () => {
    const r = await runBundle("console.log('hello'); console.error('err'); process.exit(3)", [])
    expect(r).toEqual({code: 3, stdout: 'hello\n', stderr: 'err\n'})
  })

  it('an abort kills the process and rejects', async () => {
    const stop = new AbortController()
    const run = runBundle('setTimeout(() => {}, 1e9)', [], {signal: stop.signal})
    setTimeout(() => stop.abort(), 200)
    await expect(run).rejects.toThrow(/abort/i)
  })
})
