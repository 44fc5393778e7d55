/**
 * `golf export torch` as a user runs it (the built CLI): the file it writes, its header (the
 * recipe, so two exports differ only where their recipes do), what its help and the file say
 * they can do, and one line + exit 2 for every bad input. Needs a python3 (any: the file is only
 * compiled here), not torch.
 */
import {spawnSync} from 'node:child_process'
import {mkdirSync, readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {beforeAll, describe, expect, it} from 'vitest'

import {REPO_ROOT, runCli} from '../helpers/cli.js'
import {scratch} from './torch-peer.js'

let dir = ''

beforeAll(() => {
  dir = scratch('cli')
})

describe('golf export torch', () => {
  it('writes train_gpt.py and returns a typed result', async () => {
    const out = join(dir, 'train_gpt.py')
    const r = await runCli(['export', 'torch', '--recipe', 'tiny-cpu', '--out', out, '--json'])
    expect(r.stderr).toBe('')
    expect(r.code).toBe(0)
    const j = JSON.parse(r.stdout)
    expect(Object.keys(j).sort()).toEqual(['bytes', 'lines', 'out', 'recipe', 'scope', 'sha256'])
    const text = readFileSync(out, 'utf8')
    expect(j.bytes).toBe(Buffer.byteLength(text))
    expect(j.recipe).toBe('tiny-cpu')
    expect(j.scope).toMatch(/^trains autoregressive and diffusion recipes \(ar, mdlm, bd3lm.* ELBO, an upper bound/)
    expect(text).toMatch(/^RECIPE = \{\n {4}"name": "tiny-cpu",/m)
    expect(text).toContain('diffusion models by golf\'s seeded Monte-Carlo ELBO,\nan UPPER BOUND on the NLL')
    expect(text).not.toContain('@@GOLF_HEADER@@')
    // it compiles (any python3: compiling imports nothing)
    const py = spawnSync('python3', ['-m', 'py_compile', out], {encoding: 'utf8'})
    expect(py.status, py.stderr).toBe(0)
  })

  it('two exports differ exactly where their recipes do', async () => {
    const a = join(dir, 'a.py')
    const b = join(dir, 'b.py')
    expect((await runCli(['export', 'torch', '--recipe', 'tiny-cpu', '--out', a])).code).toBe(0)
    expect((await runCli(['export', 'torch', '--recipe', 'tiny-cpu', '--set', 'model.model_dim=256', '--set', 'quant.scale_format=bf16', '--out', b])).code).toBe(0)
    const la = readFileSync(a, 'utf8').split('\n')
    const lb = readFileSync(b, 'utf8').split('\n')
    expect(lb).toHaveLength(la.length)
    const changed = la.flatMap((line, i) => (line === lb[i] ? [] : [[line.trim(), lb[i].trim()]]))
    expect(changed).toEqual([
      ['"model_dim": 128,', '"model_dim": 256,'],
      ['"scale_format": "fp16",', '"scale_format": "bf16",'],
    ])
  })

  it('--help says what the file can do and what it cannot', async () => {
    const r = await runCli(['export', 'torch', '--help'])
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/torchrun\s+--nproc_per_node\s+8\s+train_gpt\.py\s+train/)
    expect(r.stdout).toMatch(/trains\s+autoregressive\s+and\s+diffusion\s+recipes/)
    expect(r.stdout).toMatch(/--recipe/)
  })

  it('bad input: one line on stderr and exit 2', async () => {
    const exists = join(dir, 'exists.py')
    writeFileSync(exists, '# mine\n')
    const sub = join(dir, 'folder')
    mkdirSync(sub)
    const activations = join(dir, 'act.yaml')
    writeFileSync(activations, 'name: act\nextends: tiny-cpu\nactivations:\n  - from_step: 0\n    sites: a8\n')
    const cases: Array<[string[], RegExp]> = [
      [['--recipe', 'no-such-recipe'], /^golf: unknown recipe "no-such-recipe"/],
      [['--recipe', 'tiny-cpu', '--set', 'model.nope=1'], /^golf: recipe tiny-cpu\.yaml: model: unknown config key "nope"/],
      [['--recipe', 'tiny-cpu', '--set', 'model.num_heads=3'], /num_heads/],
      [['--recipe', 'tiny-cpu', '--out', exists], /exists: use --force to overwrite it$/],
      [['--recipe', 'tiny-cpu', '--out', sub], /is a directory/],
      [['--recipe', 'tiny-cpu', '--out', join(dir, 'missing', 'x.py')], /does not exist$/],
      [['--recipe', activations, '--out', join(dir, 'act.py')], /activations/],
      [['--out', join(dir, 'x.py')], /Missing required flag/],
    ]
    for (const [args, message] of cases) {
      const r = await runCli(['export', 'torch', ...args])
      expect(r.code, args.join(' ')).toBe(2)
      const lines = r.stderr.trimEnd().split('\n')
      expect(lines, args.join(' ')).toHaveLength(1)
      expect(lines[0], args.join(' ')).toMatch(message)
    }
    expect(readFileSync(exists, 'utf8')).toBe('# mine\n')
  })

  it('--out is never the recipe (or the one it extends), nor with --force a file golf did not write', async () => {
    const parent = join(dir, 'parent.yaml')
    writeFileSync(parent, readFileSync(join(REPO_ROOT, 'recipes', 'tiny-cpu.yaml')))
    const child = join(dir, 'child.yaml')
    writeFileSync(child, 'name: child\nextends: parent.yaml\ntrain:\n  max_steps: 3\n')
    const official = join(dir, 'official.py')
    writeFileSync(official, '# the official train_gpt.py\n')
    const cases: Array<[string[], string]> = [
      [['--recipe', child, '--out', child, '--force'], `--out ${child} is the same file as the recipe ${child}: golf does not write over its own input; choose another --out`],
      [['--recipe', child, '--out', `${dir}/./parent.yaml`, '--force'], `--out ${dir}/./parent.yaml is the same file as the recipe ${parent}: golf does not write over its own input; choose another --out`],
      [['--recipe', 'tiny-cpu', '--out', official, '--force'], `--out ${official} exists and is not a golf export torch file: --force replaces only a file golf export torch wrote; move it or choose another --out`],
    ]
    for (const [args, message] of cases) {
      const r = await runCli(['export', 'torch', ...args])
      expect(r.code, args.join(' ')).toBe(2)
      expect(r.stderr, args.join(' ')).toBe(`golf: ${message}\n`)
    }
    expect(readFileSync(parent, 'utf8')).toBe(readFileSync(join(REPO_ROOT, 'recipes', 'tiny-cpu.yaml'), 'utf8'))
    expect(readFileSync(child, 'utf8')).toMatch(/^name: child\n/)
    expect(readFileSync(official, 'utf8')).toBe('# the official train_gpt.py\n')
    // an export, raw or self-extracting, is replaced with --force
    const own = join(dir, 'own.py')
    expect((await runCli(['export', 'torch', '--recipe', child, '--out', own, '--compressed'])).code).toBe(0)
    expect((await runCli(['export', 'torch', '--recipe', child, '--out', own, '--force'])).code).toBe(0)
    expect((await runCli(['export', 'torch', '--recipe', child, '--out', own, '--force'])).code).toBe(0)
  })
})
