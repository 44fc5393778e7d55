import {cpSync, mkdtempSync, readFileSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'

import {InputError} from '../../src/errors.js'
import {parseIsoDate, verifyFolder} from '../../src/verify/folder.js'
import {REPO_ROOT} from '../helpers/cli.js'

const FIX = join(REPO_ROOT, 'test', 'fixtures', 'submissions')
const LIMIT = 16_000_000
const check = (r: ReturnType<typeof verifyFolder>, name: string) => {
  const c = r.checks.find((x) => x.name === name)
  if (!c) throw new Error(`no check "${name}" in ${r.checks.map((x) => x.name).join(', ')}`)
  return c
}
const state = (c: {ok: boolean; confirmed: boolean}) => (!c.ok ? 'fail' : c.confirmed ? 'pass' : 'unconfirmed')

describe('verifyFolder on good fixtures', () => {
  it('an official-style int8 entry passes every check', () => {
    const r = verifyFolder(join(FIX, 'good-int8'), {limit: LIMIT})
    expect(r.checks.map((c) => [c.name, state(c)])).toEqual([
      ['README.md', 'pass'],
      ['submission.json', 'pass'],
      ['date', 'pass'],
      ['train log', 'pass'],
      ['code', 'pass'],
      ['size ≤ limit', 'pass'],
      ['bytes_code matches code', 'pass'],
      ['bytes_total matches logs', 'pass'],
      ['bytes_code matches logs', 'pass'],
      ['val_bpb matches logs', 'pass'],
      ['val_loss matches logs', 'pass'],
    ])
    expect(r).toMatchObject({ok: true, bytes_total: 15_816_190, bytes_code: 343, bytes_model: 15_815_847, within_limit: true, roundtrip: null})
    expect(check(r, 'val_bpb matches logs').detail).toBe('1.2243657 = 1.22436570 (train.log:27 final_int8_zlib_roundtrip_exact)')
  })

  it('three seed logs: val_bpb is their mean; bytes add up; code kept as .txt is not a log', () => {
    const r = verifyFolder(join(FIX, 'good-ternary-seeds'), {limit: LIMIT})
    expect(r.ok).toBe(true)
    expect(check(r, 'train log').detail).toBe('train_seed1337.log (seed 1337), train_seed42.log (seed 42), train_seed7.log (seed 7)')
    expect(check(r, 'val_bpb matches logs').detail).toBe('1.20306524 = mean of 3 logs (1.20306524)')
    expect(check(r, 'bytes add up').detail).toBe('bytes_model + bytes_code = 15,057,911')
  })

  it('an unfamiliar log format: what it cannot confirm is "not confirmed", not a failure', () => {
    const r = verifyFolder(join(FIX, 'unfamiliar-log'), {limit: LIMIT})
    expect(r.ok).toBe(true)
    for (const name of ['bytes_total matches logs', 'bytes_code matches logs', 'val_bpb matches logs', 'val_loss matches logs']) {
      expect(state(check(r, name))).toBe('unconfirmed')
    }
    expect(check(r, 'val_bpb matches logs').detail).toBe('not confirmed: no val_bpb line in the logs')
  })
})

describe('verifyFolder on broken fixtures', () => {
  it('over the cap: says by how many bytes; --limit 16MiB lets it pass', () => {
    const r = verifyFolder(join(FIX, 'over-limit'), {limit: LIMIT})
    expect(r.ok).toBe(false)
    expect(r.within_limit).toBe(false)
    expect(check(r, 'size ≤ limit')).toMatchObject({ok: false, detail: 'bytes_total 16,000,243 is over the 16,000,000-byte limit by 243 bytes'})
    expect(r.checks.filter((c) => !c.ok).map((c) => c.name)).toEqual(['size ≤ limit'])
    expect(verifyFolder(join(FIX, 'over-limit'), {limit: 16 * 2 ** 20}).ok).toBe(true)
  })

  it('claims that disagree with the logs; the code file differs from the code the log measured', () => {
    const r = verifyFolder(join(FIX, 'mismatch'), {limit: LIMIT})
    expect(r.checks.filter((c) => !c.ok).map((c) => [c.name, c.detail])).toEqual([
      ['bytes_total matches logs', 'submission.json says 15,815,769, the logs report 15,816,190 (train.log:25 Total submission size int8+zlib)'],
      ['bytes_code matches logs', 'submission.json says 841, the logs report 343'],
      ['val_bpb matches logs', 'submission.json says 1.21687994, the logs report 1.22436570 (train.log:27 final_int8_zlib_roundtrip_exact)'],
      ['val_loss matches logs', 'submission.json says 2.06035852, the logs report 2.07269931 (train.log:27 final_int8_zlib_roundtrip_exact)'],
    ])
    // which files count, raw or compressed, is the submitter's claim: no reading matches, so not confirmed
    expect(state(check(r, 'bytes_code matches code'))).toBe('unconfirmed')
    expect(check(r, 'bytes_code matches code').detail).toMatch(/^not confirmed: submission\.json bytes_code 841 is none of the readings of the committed code \(train_gpt\.py 343 raw \(zlib \d+, brotli \d+, lzma \d+, xz \d+\)\)/)
  })

  it('bad types and a bad date in submission.json', () => {
    const r = verifyFolder(join(FIX, 'bad-json'), {limit: LIMIT})
    expect(check(r, 'submission.json')).toMatchObject({ok: false, detail: 'submission.json: val_bpb must be number, got "1.2"; bytes_total must be integer, got null'})
    expect(check(r, 'date')).toMatchObject({ok: false, detail: '"2026-13-45" is not an ISO 8601 date (e.g. 2026-03-19 or 2026-03-19T12:00:00Z)'})
    // bytes_total is malformed (a failure above); the cap is still checked on the size the log prints
    expect(check(r, 'size ≤ limit')).toMatchObject({ok: true, confirmed: true, detail: '443 ≤ 16,000,000 bytes (15,999,557 to spare)'})
  })

  it('missing README, log and code', () => {
    const r = verifyFolder(join(FIX, 'missing-files'), {limit: LIMIT})
    expect(r.checks.filter((c) => !c.ok).map((c) => c.name)).toEqual(['README.md', 'train log', 'code'])
  })

  it('submission.json missing or not JSON', () => {
    const dir = mkdtempSync(join(tmpdir(), 'golf-verify-'))
    cpSync(join(FIX, 'good-int8'), dir, {recursive: true})
    writeFileSync(join(dir, 'submission.json'), '{"author": ')
    const r = verifyFolder(dir, {limit: LIMIT})
    expect(check(r, 'submission.json').ok).toBe(false)
    expect(check(r, 'submission.json').detail).toMatch(/^submission\.json: not valid JSON \(/)
  })

  it('submission.json with a byte-order mark is read; a number too large for a double is refused naming its field', () => {
    const dir = mkdtempSync(join(tmpdir(), 'golf-verify-'))
    cpSync(join(FIX, 'good-int8'), dir, {recursive: true})
    const text = readFileSync(join(dir, 'submission.json'), 'utf8')
    writeFileSync(join(dir, 'submission.json'), '\ufeff' + text)
    expect(check(verifyFolder(dir, {limit: LIMIT}), 'submission.json')).toMatchObject({ok: true, detail: 'submission.json: known fields typed'})
    writeFileSync(join(dir, 'submission.json'), text.replace('"val_loss": 2.07269931', '"val_loss": 1e400'))
    expect(check(verifyFolder(dir, {limit: LIMIT}), 'submission.json')).toMatchObject({ok: false, detail: 'submission.json: val_loss is not a finite number (too large for a double)'})
    writeFileSync(join(dir, 'submission.json'), Buffer.concat([Buffer.from('{"author": "'), Buffer.of(0xff), Buffer.from('"}')]))
    expect(check(verifyFolder(dir, {limit: LIMIT}), 'submission.json').detail).toBe('submission.json: not valid UTF-8 (byte offset 12)')
  })

  it('an artifact in the folder must have bytes_total − bytes_code bytes', () => {
    const dir = mkdtempSync(join(tmpdir(), 'golf-verify-'))
    cpSync(join(FIX, 'good-int8'), dir, {recursive: true})
    writeFileSync(join(dir, 'final_model.int8.ptz'), new Uint8Array(1000))
    expect(check(verifyFolder(dir, {limit: LIMIT}), 'artifact final_model.int8.ptz')).toMatchObject({ok: false, detail: '1,000 bytes, submission.json implies 15,815,847 (bytes_total − bytes_code)'})
  })

  it('a path that is not a folder is bad input', () => {
    expect(() => verifyFolder(join(FIX, 'nope'), {limit: LIMIT})).toThrow(InputError)
    expect(() => verifyFolder(join(FIX, 'make-fixtures.mjs'), {limit: LIMIT})).toThrow(/^not a folder: /)
  })
})

describe('parseIsoDate', () => {
  it.each(['2026-03-19', '2026-03-18T00:05:35Z', '2026-04-01T10:00:00+02:00', '2026-03-19T08:10:00.123Z', '2024-02-29'])('accepts %s', (s) => {
    expect(parseIsoDate(s)).not.toBeNull()
  })
  it.each(['2026-13-45', '2025-02-29', '19/03/2026', 'March 19, 2026', '2026-03-19T25:00:00Z', ''])('rejects %j', (s) => {
    expect(parseIsoDate(s)).toBeNull()
  })
})
