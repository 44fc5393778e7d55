/**
 * `golf export torch --compressed` and `golf report --code torch`: the submission folder whose
 * counted code is golf's PyTorch export, shipped as the records ship theirs (an LZMA + base85
 * wrapper that execs the source), counted as the wrapper's bytes.
 * - without torch (any python3): the wrapper is byte-deterministic, smaller than the raw file,
 *   and decodes (in golf and in Python) to the raw export exactly; base85 is Python's;
 * - golf report --code torch on a tiny trained AR run: train_gpt.py holds the export of the exact
 *   recipe the run trained, submission.json bytes_code is its file size, golf verify passes; a
 *   recipe the export refuses is one line and exit 2, before anything is written;
 * - with torch: the wrapper prints the raw file's --help, and the README's own reproduce lines,
 *   run with python alone, train and score the shipped model.golf: the same eval output as the
 *   raw file, and golf's roundtrip val_bpb within 1e-6.
 */
import {spawnSync} from 'node:child_process'
import {cpSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {renderTorchExport} from '../../src/export/torch/export.js'
import {readArtifact} from '../../src/pack/artifact.js'
import {b85decode, b85encode, extractSource, readSourceCommand, selfExtractingPython} from '../../src/export/torch/self-extract.js'
import {loadRecipe, type ResolvedRecipe} from '../../src/recipe/recipe.js'
import {train} from '../../src/train/loop.js'
import {namedRandom} from '../../src/util/random.js'
import {runCli} from '../helpers/cli.js'
import {tinyDataset, tinyRecipe} from '../helpers/tiny-run.js'
import {describeWithTorch, peerEnv, runPython} from '../export/torch-peer.js'

const VAL_TOKENS = 256
let dir = ''
let data = ''
let recipe: ResolvedRecipe
let runDir = ''
const seen: string[] = []

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'golf-report-torch-'))
  data = await tinyDataset(8, 2000)
  recipe = tinyRecipe({train: {max_steps: 3, eval_every: 0, log_every: 1}, eval: {val_tokens: VAL_TOKENS, sliding_stride: null}})
  runDir = join(dir, 'runs', 's1')
  await train({recipe, dataDir: data, outDir: runDir, seed: 1, backend: 'wasm'})
}, 300_000)

afterAll(() => {
  rmSync(dir, {recursive: true, force: true})
  if (seen.length > 0) console.info(`report --code torch:\n  ${seen.join('\n  ')}`)
})

describe('the self-extracting train_gpt.py', () => {
  it('is byte-deterministic, smaller than the raw export, and decodes to it (golf and python3)', () => {
    for (const name of ['tiny-cpu', 'ternary-unet-10l-768d']) {
      const source = renderTorchExport(loadRecipe(name))
      const raw = Buffer.byteLength(source)
      const t0 = Date.now()
      const a = selfExtractingPython(source)
      const ms = Date.now() - t0
      const b = selfExtractingPython(source)
      expect(Buffer.from(a.bytes).equals(Buffer.from(b.bytes)), name).toBe(true)
      expect(a.raw_bytes).toBe(raw)
      expect(a.bytes.length).toBeLessThan(raw / 2)
      expect(Buffer.from(extractSource(a.bytes)).toString('utf8')).toBe(source)
      const text = Buffer.from(a.bytes).toString('latin1')
      expect(text).toMatch(/^# [^\n]*\nimport lzma,base64;exec\(lzma\.decompress\(base64\.b85decode\("[^"\\]+"\)\)\)\n$/)
      expect([...text].every((c) => c.charCodeAt(0) < 128)).toBe(true)
      const file = join(dir, `${name}.py`)
      writeFileSync(file, a.bytes)
      // what the README tells a reader to run prints the source exactly (python3 alone)
      const read = spawnSync('sh', ['-c', readSourceCommand(`${name}.py`)], {cwd: dir, encoding: 'utf8', maxBuffer: 2 ** 26})
      expect(read.status, read.stderr).toBe(0)
      expect(read.stdout).toBe(source)
      const compiled = spawnSync('python3', ['-m', 'py_compile', file], {encoding: 'utf8'})
      expect(compiled.status, compiled.stderr).toBe(0)
      seen.push(`${name}: raw ${raw.toLocaleString('en-US')} bytes → .lzma ${a.lzma_bytes.toLocaleString('en-US')} → wrapper ${a.bytes.length.toLocaleString('en-US')} bytes (${((100 * a.bytes.length) / raw).toFixed(1)}%), built in ${ms} ms`)
    }
  })

  it("base85 is Python's base64.b85encode, every tail length", () => {
    const rand = namedRandom(9, 'b85')
    const cases = [new Uint8Array(0), Uint8Array.of(0), Uint8Array.of(255, 255, 255, 255, 255), new Uint8Array(9).fill(255), new Uint8Array(7), ...Array.from({length: 24}, (_, n) => Uint8Array.from({length: n}, () => Math.floor(256 * rand())))]
    const hex = cases.map((c) => Buffer.from(c).toString('hex'))
    const py = spawnSync('python3', ['-c', 'import base64,sys\nfor h in sys.stdin.read().split(","): print(base64.b85encode(bytes.fromhex(h)).decode())'], {input: hex.join(','), encoding: 'utf8'})
    expect(py.status, py.stderr).toBe(0)
    const expected = py.stdout.split('\n').slice(0, cases.length)
    expect(cases.map(b85encode)).toEqual(expected)
    for (const c of cases) expect(Buffer.from(b85decode(b85encode(c))).equals(Buffer.from(c))).toBe(true)
  })

  it('golf export torch --compressed writes it and gives raw and compressed sizes', async () => {
    const raw = join(dir, 'raw.py')
    const packed = join(dir, 'packed.py')
    const r = await runCli(['export', 'torch', '--recipe', 'tiny-cpu', '--out', raw, '--json'])
    expect(r.code, r.stderr).toBe(0)
    const c = await runCli(['export', 'torch', '--recipe', 'tiny-cpu', '--out', packed, '--compressed', '--json'])
    expect(c.code, c.stderr).toBe(0)
    const plain = JSON.parse(r.stdout)
    const j = JSON.parse(c.stdout)
    expect(Object.keys(j).sort()).toEqual(['bytes', 'compressed', 'lines', 'out', 'raw', 'recipe', 'scope', 'sha256'])
    expect(j.bytes).toBe(statSync(packed).size)
    expect(j.lines).toBe(2)
    expect(j.raw).toEqual({bytes: plain.bytes, lines: plain.lines, sha256: plain.sha256})
    expect(j.compressed.format).toBe('lzma-alone+base85')
    expect(Buffer.from(extractSource(readFileSync(packed))).equals(readFileSync(raw))).toBe(true)
    // an existing --out without --force: one line, exit 2
    const again = await runCli(['export', 'torch', '--recipe', 'tiny-cpu', '--out', packed, '--compressed'])
    expect(again.code).toBe(2)
    expect(again.stderr.trim().split('\n')).toEqual([expect.stringMatching(/packed\.py exists: use --force to overwrite it$/)])
  })
})

/** golf report --code torch on the tiny run, through the built CLI. */
async function reportTorch(out: string, runs: string): Promise<{code: number; stdout: string; stderr: string}> {
  return runCli(['report', '--runs', runs, '--out', out, '--code', 'torch', '--author', 'Ada', '--github-id', 'ada', '--date', '2026-03-20', '--json'])
}

describe('golf report --code torch', () => {
  let out = ''
  beforeAll(async () => {
    out = join(dir, 'sub')
    const t0 = Date.now()
    const r = await reportTorch(out, runDir)
    expect(r.code, r.stderr).toBe(0)
    seen.push(`golf report --code torch: ${Date.now() - t0} ms`)
  }, 300_000)

  it('ships train_gpt.py, the export of the run recipe, self-extracting, and counts its bytes', () => {
    const files = JSON.parse(readFileSync(join(out, 'submission.json'), 'utf8'))
    const wrapper = readFileSync(join(out, 'train_gpt.py'))
    expect(files.bytes_code).toBe(wrapper.byteLength)
    expect(files.bytes_total).toBe(files.bytes_model + wrapper.byteLength)
    expect(existsSync(join(out, 'train_golf.mjs')) || existsSync(join(out, 'train_golf.br'))).toBe(false)
    // exactly the recipe the run trained (config.json's), exported
    const trained = JSON.parse(readFileSync(join(runDir, 'config.json'), 'utf8')).recipe
    expect(trained).toEqual(recipe)
    expect(Buffer.from(extractSource(wrapper)).toString('utf8')).toBe(renderTorchExport(recipe))
    expect(readFileSync(join(out, 'sizes.log'), 'utf8')).toContain(`\nCode size: ${wrapper.byteLength} bytes\n`)
    const readme = readFileSync(join(out, 'README.md'), 'utf8')
    expect(readme).toContain(`With the counted code alone (\`train_gpt.py\`, ${wrapper.byteLength.toLocaleString('en-US')} bytes; PyTorch >= 1.13 and numpy):`)
    expect(readme).toContain('\npython3 train_gpt.py train --data path/to/data --out runs/seed1 --seed 1\n')
    expect(readme).toContain(`\npython3 train_gpt.py eval --artifact model.golf --data path/to/data --val-tokens ${VAL_TOKENS}\n`)
    expect(readme).toContain(readSourceCommand('train_gpt.py'))
    // the artifact is packed so that Python's standard library reads it (not brotli)
    expect(['none', 'deflate', 'lzma', 'xz']).toContain(readArtifact(readFileSync(join(out, 'model.golf'))).compress)
    seen.push(`tiny run: train_gpt.py ${wrapper.byteLength.toLocaleString('en-US')} bytes (raw ${Buffer.byteLength(renderTorchExport(recipe)).toLocaleString('en-US')}), model.golf ${files.bytes_model.toLocaleString('en-US')}, total ${files.bytes_total.toLocaleString('en-US')}`)
  })

  it('golf verify passes on the folder: the code claim is train_gpt.py as shipped', async () => {
    const v = await runCli(['verify', out, '--json'])
    expect(v.code, v.stdout + v.stderr).toBe(0)
    const report = JSON.parse(v.stdout)
    expect(report.checks.filter((c: {ok: boolean}) => !c.ok)).toEqual([])
    const size = statSync(join(out, 'train_gpt.py')).size
    expect(report.checks.find((c: {name: string}) => c.name === 'bytes_code matches code')).toMatchObject({ok: true, confirmed: true, detail: `submission.json bytes_code ${size.toLocaleString('en-US')} = train_gpt.py raw`})
    expect(report.checks.find((c: {name: string}) => c.name === 'bytes_code matches logs')).toMatchObject({ok: true, confirmed: true})
  })

  it('--force replaces a folder it wrote with --code torch', async () => {
    const r = await runCli(['report', '--runs', runDir, '--out', out, '--code', 'torch', '--date', '2026-03-20', '--no-roundtrip', '--force', '--json'])
    expect(r.code, r.stderr).toBe(0)
  })

  it('a recipe the export refuses is one line and exit 2, and nothing is written', async () => {
    const refused = join(dir, 'runs-refused', 's1')
    cpSync(runDir, refused, {recursive: true})
    const config = JSON.parse(readFileSync(join(refused, 'config.json'), 'utf8'))
    config.recipe.activations = loadRecipe('ternary-bd3lm-a4.8-tiny-cpu').activations
    writeFileSync(join(refused, 'config.json'), JSON.stringify(config, null, 2))
    const target = join(dir, 'sub-refused')
    const line = '--code torch: run s1: recipe tiny-test: activations (activation quantization, 2 stages) is not in the PyTorch export yet; export a recipe with float activations'
    const r = await runCli(['report', '--runs', refused, '--out', target, '--code', 'torch'])
    expect(r.code).toBe(2)
    expect(r.stderr.trim().split('\n')).toEqual([`golf: ${line}`])
    const j = await reportTorch(target, refused)
    expect(j.code).toBe(2)
    expect(JSON.parse(j.stdout).error).toEqual({message: line, exit: 2})
    expect(existsSync(target)).toBe(false)
  })
})

describeWithTorch('golf report --code torch: the folder reproduces its val_bpb with python alone', (python) => {
  let out = ''
  beforeAll(async () => {
    out = join(dir, 'sub-py')
    const r = await reportTorch(out, runDir)
    expect(r.code, r.stderr).toBe(0)
  }, 300_000)

  it('prints the raw export’s --help', async () => {
    // the raw file: the source the wrapper carries (the export of the run's recipe, checked above)
    const raw = join(dir, 'raw-recipe.py')
    writeFileSync(raw, extractSource(readFileSync(join(out, 'train_gpt.py'))))
    for (const args of [['--help'], ['eval', '--help'], ['train', '--help']]) {
      const a = await runPython(python, [raw, ...args])
      const b = await runPython(python, [join(out, 'train_gpt.py'), ...args])
      expect(b, args.join(' ')).toEqual(a)
      expect(a.code).toBe(0)
    }
    // bad input: the same one line and exit 2
    const a = await runPython(python, [raw, 'eval', '--artifact', 'missing.golf', '--data', data])
    const b = await runPython(python, [join(out, 'train_gpt.py'), 'eval', '--artifact', 'missing.golf', '--data', data])
    expect(b).toEqual(a)
    expect(a.code).toBe(2)
  })

  it("the README's reproduce lines, run with python: train, and score model.golf as golf does", async () => {
    const sub = JSON.parse(readFileSync(join(out, 'submission.json'), 'utf8'))
    const readme = readFileSync(join(out, 'README.md'), 'utf8')
    const lines = readme.split('\n').filter((l) => l.startsWith('python3 train_gpt.py '))
    expect(lines.map((l) => l.split(' ')[2])).toEqual(['train', 'eval'])
    const argsOf = (line: string) => line.split(' ').slice(1).map((a) => (a === 'path/to/data' ? data : a))
    // as a reader runs them: from the folder
    const py = (args: string[]) => spawnSync(python, args, {cwd: out, encoding: 'utf8', env: peerEnv(), timeout: 300_000})
    const t0 = Date.now()
    // the train line, for one step: its flags parse and it writes a golf run folder
    const t = py([...argsOf(lines[0]), '--max-steps', '1'])
    expect(t.status, t.stderr).toBe(0)
    expect(JSON.parse(readFileSync(join(out, 'runs', 'seed1', 'summary.json'), 'utf8')).steps).toBe(1)
    const trainMs = Date.now() - t0
    // the eval line scores the shipped model.golf
    const e = py(argsOf(lines[1]))
    expect(e.status, e.stderr).toBe(0)
    const m = /^final_eval val_loss:(\S+) val_bpb:(\S+) tokens:(\d+) bytes:(\d+)$/m.exec(e.stdout)
    expect(m, e.stdout).not.toBeNull()
    // the raw export on the same artifact prints the same
    const raw = join(dir, 'raw-recipe.py')
    const r = py([raw, ...argsOf(lines[1]).slice(1)])
    expect(r.status, r.stderr).toBe(0)
    expect(r.stdout).toBe(e.stdout)
    const bpb = Number(m![2])
    // golf's own score of the shipped artifact (the report's roundtrip)
    expect(Math.abs(bpb - sub.val_bpb)).toBeLessThanOrEqual(1e-6)
    seen.push(`python train_gpt.py (self-extracting): 1 training step in ${trainMs} ms; eval val_bpb ${bpb.toFixed(8)}, golf ${sub.val_bpb.toFixed(8)}, |Δ| ${Math.abs(bpb - sub.val_bpb).toExponential(2)}`)
  })
})
