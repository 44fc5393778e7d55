import {describe, expect, it} from 'vitest'

import {agreesAtPrecision, finalScore, parseLog, reportedTotal} from '../../src/verify/logs.js'

// Line formats of the official train_gpt.py and of popular forks (numbers made up).
const OFFICIAL = `logs/run.txt
val_bpb:enabled tokenizer_kind=sentencepiece tokenizer_path=./data/tokenizers/fineweb_1024_bpe.model
    log0(f"Code size: {code_bytes} bytes")
    log0(f"final_int8_zlib_roundtrip val_loss:{q_val_loss:.4f} val_bpb:{q_val_bpb:.4f}")
step:0/20000 val_loss:6.9370 val_bpb:4.1078 train_time:0ms step_avg:0.01ms
step:1/20000 train_loss:6.9408 train_time:24ms step_avg:23.99ms
step:13780/20000 val_loss:2.0606 val_bpb:1.2172 train_time:600038ms step_avg:43.54ms
stopping_early: wallclock_cap train_time:600038ms step:13780/20000
Serialized model: 67224983 bytes
Code size: 47642 bytes
Total submission size: 67272625 bytes
Serialized model int8+zlib: 15815847 bytes (payload:17178912 raw_torch:17224025 payload_ratio:3.91x)
Total submission size int8+zlib: 15863489 bytes
final_int8_zlib_roundtrip val_loss:2.0727 val_bpb:1.2244 eval_time:1401ms
final_int8_zlib_roundtrip_exact val_loss:2.07269931 val_bpb:1.22436570
`

describe('parseLog: official train_gpt.py lines', () => {
  const log = parseLog(OFFICIAL)

  it('finds val lines with their labels and printed precision, not the f-strings of the copied source', () => {
    expect(log.val.map((v) => v.label)).toEqual(['step:0/20000', 'step:13780/20000', 'final_int8_zlib_roundtrip', 'final_int8_zlib_roundtrip_exact'])
    expect(log.val[3]).toEqual({line: 15, label: 'final_int8_zlib_roundtrip_exact', val_loss: {value: 2.07269931, decimals: 8}, val_bpb: {value: 1.2243657, decimals: 8}, roundtrip: true})
    expect(log.val[1].roundtrip).toBe(false)
  })

  it('the score is the last roundtrip line', () => {
    expect(finalScore(log)?.label).toBe('final_int8_zlib_roundtrip_exact')
  })

  it('sizes: totals, serialized models and code size; the total is the last total line', () => {
    expect(log.totals.map((t) => t.bytes)).toEqual([67272625, 15863489])
    expect(log.models.map((m) => [m.label, m.bytes])).toEqual([
      ['Serialized model', 67224983],
      ['Serialized model int8+zlib', 15815847],
    ])
    expect(log.code.map((c) => c.bytes)).toEqual([47642])
    expect(reportedTotal(log)).toEqual({line: 13, label: 'Total submission size int8+zlib', bytes: 15863489})
  })
})

describe('parseLog: other formats', () => {
  it('ternary entries: "Ternary artifact", indented "code:", "= 15.11MB" suffix, _exact roundtrip', () => {
    const log = parseLog(
      [
        'Code size: 53888 bytes',
        'Ternary artifact: 15057568 bytes (lzma) = 15.06MB',
        '  lzma: 15057568 bytes = 15.06MB',
        '  code: 53888 bytes',
        'Total submission size: 15111456 bytes = 15.11MB',
        'final_ternary_roundtrip val_loss:2.0310 val_bpb:1.2029 eval_time:64360ms',
        'final_ternary_roundtrip_exact val_loss:2.03099029 val_bpb:1.20286685',
      ].join('\n'),
    )
    expect(log.models.map((m) => m.bytes)).toEqual([15057568])
    expect(log.code.map((c) => c.bytes)).toEqual([53888, 53888])
    expect(reportedTotal(log)?.bytes).toBe(15111456)
    expect(finalScore(log)?.val_bpb).toEqual({value: 1.20286685, decimals: 8})
  })

  it('budget:N/16000000 stands in for a total; model + code when nothing else', () => {
    expect(reportedTotal(parseLog('step:100/200 val_loss:2.5 val_bpb:1.5\nbudget:15990123/16000000 ok'))).toMatchObject({bytes: 15990123})
    expect(reportedTotal(parseLog('Serialized model mixed-int5int6+zstd: 15425120 bytes\nCode size: 56721 bytes'))?.bytes).toBe(15481841)
    expect(reportedTotal(parseLog('nothing here'))).toBeNull()
  })

  it('sliding-window and plain val_bpb lines; no roundtrip line → the last val line', () => {
    const log = parseLog('step:10/10 val_loss:2.2 val_bpb:1.3\nfinal_sliding_window stride:64 val_loss:2.1000 val_bpb:1.2500')
    expect(finalScore(log)).toMatchObject({label: 'final_sliding_window stride:64', val_bpb: {value: 1.25, decimals: 4}, roundtrip: false})
    expect(parseLog('val_bpb=1.234').val[0]).toMatchObject({val_loss: null, val_bpb: {value: 1.234, decimals: 3}})
  })

  it('an unfamiliar log is not recognised', () => {
    expect(parseLog('epoch 1 loss 3.2\nepoch 2 loss 3.0').recognised).toBe(false)
  })
})

describe('agreesAtPrecision', () => {
  it('agrees within half a unit of the last printed digit of the less precise number', () => {
    expect(agreesAtPrecision(1.2243657, {value: 1.2244, decimals: 4})).toBe(true)
    expect(agreesAtPrecision(1.22436570, {value: 1.2243657, decimals: 8})).toBe(true)
    expect(agreesAtPrecision(1.2029, {value: 1.20286685, decimals: 8})).toBe(true)
    expect(agreesAtPrecision(1.2035, {value: 1.20286685, decimals: 8})).toBe(false)
    expect(agreesAtPrecision(1.21687994, {value: 1.2243657, decimals: 8})).toBe(false)
    expect(agreesAtPrecision(1.22436571, {value: 1.2243657, decimals: 8})).toBe(false)
  })
})
