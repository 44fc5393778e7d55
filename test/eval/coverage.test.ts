import {describe, expect, it} from 'vitest'

import {coverageLogField, describeCoverage, isValCoverage} from '../../src/eval/coverage.js'
import {parseLog} from '../../src/verify/logs.js'

const whole = {read_tokens: 300_269, split_tokens: 300_269, partial: false}
const part = {read_tokens: 65_536, split_tokens: 300_269, partial: true}

describe('validation coverage labels', () => {
  it('a whole-split score keeps the official line; a partial one says so on it', () => {
    expect(coverageLogField(whole)).toBe('')
    expect(coverageLogField(part)).toBe(' partial_val_tokens:65536/300269')
    expect(describeCoverage(whole)).toBe('whole validation split: 300,269 tokens')
    expect(describeCoverage(part)).toBe('partial: first 65,536 of 300,269 validation tokens — not the official metric')
  })

  it('the labelled line still reads as the same score for golf verify', () => {
    const line = 'step:600/600 val_loss:1.6105 val_bpb:2.3235 train_time:240012ms step_avg:400.02ms' + coverageLogField(part)
    const log = parseLog(line)
    expect(log.val).toHaveLength(1)
    expect(log.val[0]).toMatchObject({label: 'step:600/600', kind: 'step', val_bpb: {value: 2.3235, decimals: 4}, val_loss: {value: 1.6105, decimals: 4}})
    expect([log.totals, log.models, log.code]).toEqual([[], [], []])
  })

  it('recognises the recorded shape, and refuses one whose partial flag contradicts its counts', () => {
    expect(isValCoverage(whole)).toBe(true)
    expect(isValCoverage(part)).toBe(true)
    expect(isValCoverage({...part, partial: false})).toBe(false)
    expect(isValCoverage({read_tokens: 1.5, split_tokens: 3, partial: true})).toBe(false)
    expect(isValCoverage({read_tokens: 1, split_tokens: 3})).toBe(false)
    expect(isValCoverage(null)).toBe(false)
  })
})
