import {describe, expect, it} from 'vitest'

import {sizeLines} from '../../src/submission/size-lines.js'
import {agreesAtPrecision, finalScore, parseLog, reportedTotal, scoreLines, sizeAgrees, sizeAgreesAsMiB, totalReadings} from '../../src/verify/logs.js'

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
    expect(log.val[3]).toEqual({line: 15, label: 'final_int8_zlib_roundtrip_exact', val_loss: {value: 2.07269931, decimals: 8}, val_bpb: {value: 1.2243657, decimals: 8}, roundtrip: true, kind: 'roundtrip', bound: false})
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
    expect(reportedTotal(log)).toEqual({line: 13, label: 'Total submission size int8+zlib', bytes: 15863489, tolerance: 0})
  })

  it('a score is a post-quantization line: the step lines before a roundtrip are not', () => {
    expect(scoreLines(log).map((v) => v.label)).toEqual(['final_int8_zlib_roundtrip', 'final_int8_zlib_roundtrip_exact'])
    expect(log.seed).toBeNull()
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

describe('parseLog: the shapes of the merged records', () => {
  it('the compact ternary line: artifact in MB with its rounding, code in bytes; the total is their sum ± the rounding', () => {
    const log = parseLog('seed:42\nartifact:15.92MB ternary:64880640(14239486B) fp:2513744(2537376B) code:70853\nfinal_ternary_roundtrip val_loss:1.9484 val_bpb:1.1539 eval_time:3011ms')
    expect(log.models).toEqual([{line: 2, label: 'artifact:15.92MB', bytes: 15_920_000, tolerance: 5000, mib_bytes: 16_693_330}])
    expect(log.code).toEqual([{line: 2, label: 'code:70853', bytes: 70853, tolerance: 0, form: null}])
    expect(log.seed).toBe(42)
    const [total] = totalReadings(log)
    expect(total).toMatchObject({bytes: 15_990_853, tolerance: 5000})
    // the record: 15,993,853 bytes agrees at the printed precision; 16,000,853 does not
    expect(sizeAgrees(15_993_853, total)).toBe(true)
    expect(sizeAgrees(15_995_854, total)).toBe(false)
    expect(sizeAgreesAsMiB(16_764_183, total)).toBe(true)
  })

  it('code size raw and compressed; key=value sizes', () => {
    const log = parseLog('Code size (uncompressed): 48800 bytes\nCode size (compressed): 2012 bytes\nartifact_bytes: 15901777\ntotal_bytes=15903789')
    expect(log.code.map((c) => [c.bytes, c.form])).toEqual([
      [48800, 'raw'],
      [2012, 'compressed'],
    ])
    expect(log.models.map((m) => m.bytes)).toEqual([15_901_777])
    expect(log.totals.map((m) => m.bytes)).toEqual([15_903_789])
  })

  it('sliding with parameters after the score, TTT, diagnostic and timestamped lines: kinds and labels', () => {
    const log = parseLog(
      [
        'step:7012/20000 val_loss:1.8902 val_bpb:1.1195 train_time:600012ms step_avg:85.57ms',
        'final_int6_roundtrip val_loss:1.9031 val_bpb:1.1271 eval_time:2011ms',
        'final_sliding val_loss:1.8631 val_bpb:1.1037 (stride=16, T=0.90) eval_time:81234ms',
        'quantized_ttt_phased val_loss:1.8811 val_bpb:1.1141 eval_time:412345ms',
        'diagnostic swa_only val_bpb:1.1302',
        '2026-04-02 10:11:12 INFO final_int6_roundtrip_exact val_loss:1.90310000 val_bpb:1.12710000',
        'epoch 3 bpb 1.2',
      ].join('\n'),
    )
    expect(log.val.map((v) => [v.label, v.kind])).toEqual([
      ['step:7012/20000', 'step'],
      ['final_int6_roundtrip', 'roundtrip'],
      ['final_sliding', 'sliding'],
      ['quantized_ttt_phased', 'ttt'],
      ['diagnostic swa_only', 'diagnostic'],
      ['final_int6_roundtrip_exact', 'roundtrip'],
    ])
    expect(log.val[2].val_bpb).toEqual({value: 1.1037, decimals: 4})
    expect(scoreLines(log).map((v) => v.kind)).toEqual(['roundtrip', 'sliding', 'ttt', 'roundtrip'])
    expect(log.val.every((v) => !v.bound)).toBe(true)
  })

  it("golf's diffusion logs: the bound lines, and the step line of a diffusion log is a bound too", () => {
    const train = parseLog(
      [
        'golf train recipe:mdlm-tiny seed:7 backend:wasm params:1000 ternary:900 objective:mdlm data:x',
        'step:40/40 val_loss:2.4103 val_bpb:1.4321 train_time:96000ms step_avg:2400.00ms',
        'final_elbo bound:upper steps:128 samples:1 seed:3 val_loss:2.4103 val_bpb:1.4321 val_bpb_se:0.0021',
      ].join('\n'),
    )
    expect(train).toMatchObject({diffusion: true, seed: 7})
    expect(train.val.map((v) => [v.kind, v.bound])).toEqual([
      ['step', true],
      ['final', true],
    ])
    // golf's counted code: the roundtrip line says bound:upper; the log has no header
    const counted = parseLog('step:40/40 val_loss:2.41 val_bpb:1.43\nfinal_roundtrip_elbo val_loss:2.41030000 val_bpb:1.43210000 bound:upper steps:128 val_bpb_se:0.00210000')
    expect(counted.val.map((v) => [v.label, v.kind, v.bound])).toEqual([
      ['step:40/40', 'step', true],
      ['final_roundtrip_elbo', 'roundtrip', true],
    ])
    // an AR log has no bound
    expect(parseLog('golf train recipe:tiny seed:1 objective:ar\nstep:4/4 val_loss:2 val_bpb:1.5').val[0].bound).toBe(false)
  })

  it('the seed a log states, not the seed in copied code or on a score line; several seeds: none', () => {
    expect(parseLog('Namespace(batch=8, seed=1337)\nstep:1/2 val_loss:2 val_bpb:1').seed).toBe(1337)
    expect(parseLog('    seed = int(os.environ.get("SEED", 7))\ntorch.manual_seed(seed=3)\nstep:1/2 val_loss:2 val_bpb:1').seed).toBeNull()
    expect(parseLog('seed:1\nseed:2').seed).toBeNull()
    expect(parseLog('--seed 99 --lr 0.1').seed).toBe(99)
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

describe("golf's own size lines (src/submission/size-lines.ts)", () => {
  it('read as the official ones: model, code and total', () => {
    const log = parseLog(['golf report: the sizes of the files this folder ships, model.golf (the artifact of seed 42) and the counted code train_golf.mjs + train_golf.br, measured when it was written', ...sizeLines(15_000_000, 57_271)].join('\n'))
    expect(log.models).toEqual([{line: 2, label: 'Serialized model golf-artifact', bytes: 15_000_000, tolerance: 0}])
    expect(log.code).toEqual([{line: 3, label: 'Code size', bytes: 57_271, tolerance: 0, form: null}])
    expect(reportedTotal(log)).toEqual({line: 4, label: 'Total submission size golf-artifact', bytes: 15_057_271, tolerance: 0})
    expect([log.val, log.seed]).toEqual([[], 42])
    expect(sizeLines(1234, null)).toEqual(['Serialized model golf-artifact: 1234 bytes'])
  })
})
