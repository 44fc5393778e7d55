import {describe, expect, it} from 'vitest'

import {looksLikeSubmission, readClaims} from '../../src/verify/claims.js'

describe('looksLikeSubmission: metadata by its fields, whatever the file is called', () => {
  it('needs two submission fields, one of them a claim', () => {
    expect(looksLikeSubmission({name: 'x', val_bpb: 1.2})).toBe(true)
    expect(looksLikeSubmission({seeds: [1], seed_results: []})).toBe(true)
    expect(looksLikeSubmission({name: 'x', author: 'y'})).toBe(false) // no claim
    expect(looksLikeSubmission({vocab_size: 1024, model_dim: 512})).toBe(false) // a config
    expect(looksLikeSubmission([{val_bpb: 1}])).toBe(false)
  })
})

describe('readClaims: every seed_results shape', () => {
  it('a list with a seed in each entry; the score and bytes keys are kept', () => {
    const c = readClaims('submission.json', {val_bpb: 1.1, seeds: [42, 7], seed_results: [{seed: 42, val_bpb: 1.09, artifact_bytes: 15_900_000, steps: 7000}, {seed: 7, val_bpb: 1.11, bytes_total: 15_800_000}]})
    expect(c.seed_results.map((s) => [s.seed, s.at, s.val_bpb, s.bytes, s.bytes_key])).toEqual([
      [42, 'seed_results[0]', 1.09, 15_900_000, 'artifact_bytes'],
      [7, 'seed_results[1]', 1.11, 15_800_000, 'bytes_total'],
    ])
    expect(c.problems).toEqual([])
  })

  it('a list without seeds, parallel to `seeds`', () => {
    const c = readClaims('s.json', {val_bpb: 1.1, seeds: [1, 2], seed_results: [{val_bpb: 1.0}, {val_bpb: 1.2}]})
    expect(c.seed_results.map((s) => s.seed)).toEqual([1, 2])
  })

  it('an object keyed by seed ("42", "seed_7"), summary keys skipped; a seed keyed straight to its score', () => {
    const c = readClaims('s.json', {val_bpb: 1.1, seed_results: {'42': {val_bpb: 1.09, val_loss: 1.88}, seed_7: {val_bpb: 1.11}, mean: {val_bpb: 1.1}, '1337': 1.12}})
    expect(c.seed_results.map((s) => [s.seed, s.at, s.val_bpb, s.val_loss])).toEqual([
      [42, 'seed_results.42', 1.09, 1.88],
      [1337, 'seed_results.1337', 1.12, null],
      [7, 'seed_results.seed_7', 1.11, null],
    ])
    expect(c.seeds).toEqual([42, 1337, 7])
  })

  it('a compliance_rerun block with its own seed results is read as reruns', () => {
    const c = readClaims('s.json', {val_bpb: 1.1, seed_results: [{seed: 42, val_bpb: 1.09}], compliance_rerun: {hardware: 'H100', seed_results: {'42': {val_bpb: 1.0912, artifact_bytes: 15_900_001}}}})
    expect(c.seed_results.map((s) => [s.seed, s.rerun, s.at, s.bytes])).toEqual([
      [42, false, 'seed_results[0]', null],
      [42, true, 'compliance_rerun.seed_results.42', 15_900_001],
    ])
  })

  it('an unknown shape is reported unreadable, not guessed', () => {
    const c = readClaims('s.json', {val_bpb: 1.1, seed_results: 'see README'})
    expect(c.seed_results).toEqual([])
    expect(c.unreadable).toEqual(['seed_results is "see README": neither a list nor an object keyed by seed'])
    expect(readClaims('s.json', {val_bpb: 1, seed_results: [{val_bpb: 1}]}).unreadable).toEqual(['seed_results[0] names no seed'])
  })

  it('diffusion claims are bounds; an estimator, slice and alt score are read', () => {
    const golf = readClaims('s.json', {val_bpb: 1.43, val_var_bpb: 1.43, bound: 'upper', elbo_steps: 128})
    expect(golf).toMatchObject({bound: true, val_bpb: 1.43, val_var_bpb: null})
    const own = readClaims('s.json', {val_bpb: 1.2, val_bpb_estimator: 'chain', val_bpb_slice: 'first 1M', val_bpb_alt: {value: 1.33, estimator: 'elbo'}})
    expect(own).toMatchObject({bound: false, estimator: 'chain', slice: 'first 1M', alt: {value: 1.33, what: 'elbo'}})
    expect(readClaims('s.json', {val_var_bpb: 1.5, name: 'x'})).toMatchObject({bound: true, val_bpb: 1.5, val_bpb_key: 'val_var_bpb'})
  })

  it('known keys with the wrong type are problems; missing ones are not', () => {
    expect(readClaims('s.json', {val_bpb: '1.2', bytes_total: 1.5}).problems).toEqual(['val_bpb must be number, got "1.2"', 'bytes_total must be integer, got 1.5'])
    expect(readClaims('s.json', {val_bpb: 1.2}).problems).toEqual([])
  })
})
