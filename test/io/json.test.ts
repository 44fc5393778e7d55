import {describe, expect, it} from 'vitest'

import {InputError} from '../../src/errors.js'
import {findNonFinite, parseJson, readJson} from '../../src/io/json.js'

describe('parseJson', () => {
  it('drops a leading byte-order mark, from text or bytes', () => {
    expect(parseJson('\ufeff{"a": 1}', 'x.json')).toEqual({a: 1})
    expect(parseJson(Buffer.from('\ufeff[1]', 'utf8'), 'x.json')).toEqual([1])
  })

  it('refuses a number that parses as infinity, naming its field', () => {
    expect(() => parseJson('{"seed_results": [{"val_bpb": 1}, {"val_bpb": -1e400}]}', 'submission.json')).toThrow(InputError)
    expect(() => parseJson('{"seed_results": [{"val_bpb": 1}, {"val_bpb": -1e400}]}', 'submission.json')).toThrow(/^submission\.json: seed_results\[1\]\.val_bpb is not a finite number \(too large for a double\)$/)
    expect(() => parseJson('1e999', 'a.json')).toThrow(/^a\.json: the document is not a finite number/)
  })

  it('names the byte offset of invalid UTF-8, and keeps a syntax error on one line', () => {
    expect(readJson(Uint8Array.of(0x7b, 0x22, 0xc3, 0x28, 0x22, 0x7d))).toEqual({ok: false, reason: 'not valid UTF-8 (byte offset 2)'})
    expect(readJson(Uint8Array.of(0x5b, 0xed, 0xa0, 0x80, 0x5d))).toEqual({ok: false, reason: 'not valid UTF-8 (byte offset 1)'}) // a UTF-16 surrogate
    expect(readJson(Buffer.from('["é", "€", "😀"]'))).toEqual({ok: true, doc: ['é', '€', '😀']})
    expect(() => parseJson('{"a":\n\n', 'bad\nname.json')).toThrow(/^bad\\nname\.json: not valid JSON \([^\n]*\)$/)
  })

  it('findNonFinite finds NaN and infinities in parsed YAML too', () => {
    expect(findNonFinite({train: {lr: 0.1, z_loss: Number.NaN}})).toEqual({path: 'train.z_loss', value: Number.NaN})
    expect(findNonFinite({activations: [{from: -Infinity}]})).toEqual({path: 'activations[0].from', value: -Infinity})
    expect(findNonFinite({'a b': [1, 2]})).toBeNull()
  })
})
