import {mkdtempSync, readFileSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {beforeAll, describe, expect, it} from 'vitest'

import {runCli} from '../helpers/cli.js'
import {tinyDataset} from '../helpers/tiny-run.js'

let data: string
let dir: string
let recipe: string

beforeAll(async () => {
  data = await tinyDataset()
  dir = mkdtempSync(join(tmpdir(), 'golf-cli-train-'))
  recipe = join(dir, 'tiny.yaml')
  writeFileSync(join(dir, 'notes.txt'), 'mine')
  writeFileSync(
    recipe,
    [
      'extends: tiny-cpu',
      'name: tiny-test',
      'model: {model_dim: 32, num_heads: 2, num_kv_heads: 1, mlp_mult: 2, unique_blocks: 2}',
      'quant: {group_size: 16}',
      'train: {seq_len: 32, batch_tokens: 128, micro_batch_tokens: 128, max_steps: 3, eval_every: 0, val_tokens: 256, log_every: 1, checkpoint_every: 0}',
      'eval: {val_tokens: 256, batch_seqs: 4}',
      '',
    ].join('\n'),
  )
})

describe('golf train / golf sample (built CLI)', () => {
  it('trains a run end to end and prints the summary as JSON; sample prints text', async () => {
    const out = join(dir, 'run')
    const r = await runCli(['train', '--recipe', recipe, '--data', data, '--out', out, '--backend', 'wasm', '--json'])
    expect(r.code, r.stderr).toBe(0)
    const result = JSON.parse(r.stdout)
    expect(result.run_dir).toBe(out)
    expect(result.summary.steps).toBe(3)
    expect(result.summary.recipe).toBe('tiny-test')
    expect(result.summary.val_bpb).toBeGreaterThan(0)
    // progress and log lines go to stderr, never into the JSON on stdout
    expect(r.stderr).toMatch(/step:3\/3 val_loss:/)
    expect(readFileSync(join(out, 'train.log'), 'utf8')).toMatch(/^golf train recipe:tiny-test seed:1337 backend:wasm/)

    const s = await runCli(['sample', '--run', out, '--prompt', 'The ', '--tokens', '20', '--backend', 'wasm', '--json'])
    expect(s.code, s.stderr).toBe(0)
    const sample = JSON.parse(s.stdout)
    expect(sample.tokens).toHaveLength(20)
    expect(typeof sample.text).toBe('string')
    const again = JSON.parse((await runCli(['sample', '--run', out, '--prompt', 'The ', '--tokens', '20', '--backend', 'wasm', '--json'])).stdout)
    expect(again.tokens).toEqual(sample.tokens) // seeded sampling

    // the recipe scored the first 256 validation tokens: summary.json and golf eval say partial
    expect(result.summary.val_coverage).toMatchObject({read_tokens: 256, partial: true})
    const e = await runCli(['eval', '--run', out, '--val-tokens', '256', '--backend', 'wasm'])
    expect(e.code, e.stderr).toBe(0)
    expect(e.stdout).toMatch(/^partial: first 256 of [\d,]+ validation tokens — not the official metric$/m)
    const whole = await runCli(['eval', '--run', out, '--backend', 'wasm', '--json'])
    expect(whole.code, whole.stderr).toBe(0)
    const cov = JSON.parse(whole.stdout).val_coverage
    expect(cov).toEqual({read_tokens: result.summary.val_coverage.split_tokens, split_tokens: result.summary.val_coverage.split_tokens, partial: false})
  })

  it.concurrent.each([
    [['train', '--bogus'], /^golf: Nonexistent flag: --bogus/],
    [['train', '--recipe', 'nope'], /^golf: unknown recipe "nope" \(built-in: /],
    [['train', '--set', 'model.model_dim=abc'], /^golf: recipe tiny-cpu\.yaml: model\.model_dim: must be a positive integer, got "abc"/],
    [['train', '--set', 'nodot=1'], /^golf: --set nodot=1: the key must name a section and a setting/],
    [['train', '--resume'], /^golf: --resume needs --out <run folder> to continue/],
    [['train', '--backend', 'tensorflow', '--max-steps', '1'], /^golf: backend 'tensorflow' is not available/],
    [['sample', '--run', '/nonexistent/run'], /^golf: run folder not found: \/nonexistent\/run/],
    [['sample', '--run', '.', '--temperature', 'hot'], /^golf: --temperature must be a number >= 0, got hot/],
    [['train', '--max-steps', '0'], /^golf: Parsing --max-steps: Expected an integer greater than or equal to 1 but received: 0 \(see: golf train --help\)/],
    [['train', '--recipe', 'tiny-cpu', '--init-from', 'x', '--resume', '--out', 'y'], /^golf: --init-from starts a new run; it cannot be combined with --resume/],
    [['eval', '--run', '/nonexistent/run'], /^golf: run folder not found: \/nonexistent\/run/],
    [['eval'], /^golf: golf eval needs --run <run folder> or --artifact <file>/],
    // an existing file as the run folder: refused before anything loads, the file untouched (checked below)
    [['train', '--out', 'notes.txt'], /^golf: run folder notes\.txt is an existing file, not a folder \(choose another --out\)\n$/],
    [['train', '--out', 'notes.txt/run'], /^golf: run folder notes\.txt\/run: .*notes\.txt is a file, not a folder \(choose another --out\)\n$/],
  ])('%j → one line, exit 2', async (args, pattern) => {
    const r = await runCli(args as string[], {cwd: dir})
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(pattern as RegExp)
    expect(r.stderr.trim().split('\n')).toHaveLength(1)
    expect(readFileSync(join(dir, 'notes.txt'), 'utf8')).toBe('mine')
  })
})
