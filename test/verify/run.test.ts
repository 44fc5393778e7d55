/**
 * Run mode end to end on a tiny golf-trained ternary run: the exact roundtrip (gap 0, identical
 * logits), the counted-code bundle (self-contained, runs alone, prints the same val_bpb; shipped
 * as a loader + its brotli-compressed form, which runs alone too and refuses a bad payload), and
 * the built CLI (`golf verify --run … --artifact …`); and on a tiny MDLM run, whose val_bpb is
 * the negative ELBO (an upper bound) and is reported as one. Needs dist/ (npx tsc -p tsconfig.json).
 */
import {spawnSync} from 'node:child_process'
import {mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {brotliDecompressSync} from 'node:zlib'
import {beforeAll, describe, expect, it} from 'vitest'

import {initBackend} from '../../src/backend/index.js'
import {packSource} from '../../src/pack/pack-model.js'
import {evaluateArtifact} from '../../src/submission/rebuild.js'
import {train} from '../../src/train/loop.js'
import {readRunConfig} from '../../src/run/load.js'
import {COUNTED_CODE_FILES} from '../../src/submission/counted-code.js'
import {buildCountedCode, bundleImports, compressBundle, type CountedCode} from '../../src/verify/bundle.js'
import {dependencyRoot, roundtrip, runBundle} from '../../src/verify/roundtrip.js'
import {verifyRun} from '../../src/verify/run.js'
import {REPO_ROOT, runCli} from '../helpers/cli.js'
import {tinyDataset, tinyRecipe} from '../helpers/tiny-run.js'

const VAL = 512
let data: string
let runDir: string
let artifact: string
let artifactBytes: number

beforeAll(async () => {
  await initBackend('wasm', {quiet: true})
  data = await tinyDataset(8, 2000)
  const root = mkdtempSync(join(tmpdir(), 'golf-verify-run-'))
  runDir = join(root, 'run')
  await train({recipe: tinyRecipe({train: {max_steps: 4, eval_every: 0}, eval: {sliding_stride: null, val_tokens: VAL}}), dataDir: data, outDir: runDir, seed: 3, backend: 'wasm'})
  artifact = join(root, 'model.golf')
  const {bytes} = await packSource(runDir, {codec: 'auto'})
  writeFileSync(artifact, bytes)
  artifactBytes = bytes.length
}, 120_000)

describe('roundtrip (in-process)', () => {
  it('a golf-trained ternary run rebuilds exactly: gap 0, identical logits', async () => {
    const r = await roundtrip({runDir, artifactPath: artifact, valTokens: VAL, backend: 'wasm'})
    expect(r.quant_active).toBe(true)
    expect(r.max_logit_diff).toBe(0)
    expect(r.gap).toBe(0)
    expect(r.val_loss_after).toBe(r.val_loss_before)
    expect(r.exact).toBe(true)
    expect(r.tokens).toBe(Math.floor((VAL - 1) / 32) * 32)
    expect(r.val_bpb_before).toBeGreaterThan(0)
  })

  it('an artifact of another model is refused', async () => {
    await expect(roundtrip({runDir, artifactPath: join(runDir, 'config.json'), valTokens: VAL, backend: 'wasm'})).rejects.toThrow(/config\.json: not a golf artifact \(bad magic\)/)
  })
})

/** Write the counted files into a fresh folder with only node_modules beside them (as runBundle does for the raw bundle). */
function shippedFolder(files: CountedCode['files']): string {
  const dir = mkdtempSync(join(tmpdir(), 'golf-shipped-'))
  for (const f of files) writeFileSync(join(dir, f.name), f.data)
  symlinkSync(dependencyRoot(), join(dir, 'node_modules'), 'junction')
  return dir
}

/** `node train_golf.mjs …` from that folder. */
function runLoader(dir: string, args: string[]): {code: number; stdout: string; stderr: string} {
  const r = spawnSync(process.execPath, [join(dir, COUNTED_CODE_FILES.loader), ...args], {cwd: dir, encoding: 'utf8', env: {...process.env, GOLF_DEBUG: ''}})
  return {code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr}
}

describe('the counted code bundle', () => {
  let code: string
  let built: CountedCode
  beforeAll(async () => {
    const {config} = readRunConfig(runDir)
    built = await buildCountedCode(config.recipe, {seed: config.seed})
    code = built.code
    expect(built.rawBytes).toBe(Buffer.byteLength(code))
  }, 60_000)

  it('imports only npm packages and node builtins: golf itself is inside', () => {
    const imports = bundleImports(code)
    expect(imports).toContain('@tensorflow/tfjs-core')
    for (const spec of imports) {
      expect(spec.startsWith('.') || spec.startsWith('/') || spec === 'golf' || spec.startsWith('golf/')).toBe(false)
    }
    // nothing of the building machine: no absolute path of the golf checkout
    expect(code.includes(REPO_ROOT)).toBe(false)
    // the recipe is embedded
    expect(code).toMatch(/\bname:"tiny-test"/)
  })

  it('is deterministic: the same bundle, loader and payload bytes', async () => {
    const {config} = readRunConfig(runDir)
    const again = await buildCountedCode(config.recipe, {seed: config.seed})
    expect(again.code).toBe(code)
    expect(again.files.map((f) => f.name)).toEqual([COUNTED_CODE_FILES.loader, COUNTED_CODE_FILES.payload])
    for (const [i, f] of again.files.entries()) expect(Buffer.from(f.data).equals(Buffer.from(built.files[i].data)), f.name).toBe(true)
  }, 60_000)

  it('ships compressed: the payload decompresses to the bundle byte for byte, and the count is the files on disk', () => {
    const [loader, payload] = built.files
    expect(brotliDecompressSync(payload.data).equals(Buffer.from(code, 'utf8'))).toBe(true)
    expect(Buffer.from(payload.data).equals(Buffer.from(compressBundle(Buffer.from(code, 'utf8'))))).toBe(true)
    expect(payload.data.byteLength).toBeLessThan(built.rawBytes / 3)
    expect(loader.data.byteLength).toBeLessThan(1200)
    const dir = shippedFolder(built.files)
    try {
      expect(built.bytes).toBe(statSync(join(dir, loader.name)).size + statSync(join(dir, payload.name)).size)
    } finally {
      rmSync(dir, {recursive: true, force: true})
    }
  })

  it('a missing, corrupt, truncated or foreign payload: one line naming it, exit 1, the bundle never runs', async () => {
    const dir = shippedFolder(built.files)
    try {
      const payload = join(dir, COUNTED_CODE_FILES.payload)
      const good = Buffer.from(built.files[1].data)
      const flipped = Buffer.from(good)
      flipped[flipped.length >> 1] ^= 0x20
      const other = compressBundle(Buffer.from(code.replace('tiny-test', 'tiny-tesT'), 'utf8'))
      const bomb = compressBundle(Buffer.alloc(4 * built.rawBytes, 0x20))
      const cases: Array<[string, Uint8Array | null, RegExp]> = [
        ['missing', null, /is missing$/],
        ['not brotli', Buffer.from('hello, world: not brotli at all'), /is corrupt: /],
        ['a flipped byte', flipped, /is corrupt: /],
        ['truncated', good.subarray(0, good.length - 100), /is corrupt: /],
        ['another bundle', other, /is corrupt: not the bundle this loader was built for$/],
        ['longer than the bundle', bomb, /is corrupt: /],
      ]
      for (const [what, bytes, why] of cases) {
        if (bytes === null) rmSync(payload)
        else writeFileSync(payload, bytes)
        const r = runLoader(dir, ['eval', '--artifact', artifact, '--data', data])
        expect(r.code, what).toBe(1)
        expect(r.stdout, what).toBe('')
        const lines = r.stderr.split('\n').filter((l) => l !== '')
        expect(lines, what).toHaveLength(1)
        expect(lines[0], what).toMatch(new RegExp(`^error: ${COUNTED_CODE_FILES.payload.replace('.', '\\.')}, golf's compressed counted code beside this loader, `))
        expect(lines[0], what).toMatch(why)
      }
    } finally {
      rmSync(dir, {recursive: true, force: true})
    }
  }, 30_000)

  it('runs alone (only node_modules beside it), raw and as shipped (loader + payload), and prints the in-process val_bpb', async () => {
    const inProcess = await evaluateArtifact({artifact, dataDir: data, valTokens: VAL, slidingStride: null, backend: 'wasm', batchSeqs: 4})
    const args = ['eval', '--artifact', artifact, '--data', data, '--val-tokens', String(VAL), '--stride', '0', '--json', '--backend', 'wasm']
    const dir = shippedFolder(built.files)
    try {
      for (const res of [await runBundle(code, args), runLoader(dir, args)]) {
        expect(res.stderr).toBe('')
        expect(res.code).toBe(0)
        const lines = res.stdout.trim().split('\n')
        expect(lines[0]).toBe(`Serialized model golf-artifact: ${artifactBytes} bytes`)
        expect(lines[1]).toBe(`final_roundtrip val_loss:${inProcess.score.val_loss.toFixed(8)} val_bpb:${inProcess.score.val_bpb.toFixed(8)} partial_val_tokens:${VAL}/${inProcess.val_coverage.split_tokens}`)
        const json = JSON.parse(lines[lines.length - 1])
        expect(json.val_bpb).toBe(inProcess.score.val_bpb)
        expect(json.val_loss).toBe(inProcess.score.val_loss)
        expect(json.val_coverage).toEqual({read_tokens: VAL, split_tokens: inProcess.val_coverage.split_tokens, partial: true})
      }
      // bad input reaches the bundle through the loader: its own one line, exit 2
      expect(runLoader(dir, ['eval', '--data', data])).toMatchObject({code: 2, stderr: 'error: --artifact is required (see --help)\n'})
    } finally {
      rmSync(dir, {recursive: true, force: true})
    }
  }, 60_000)

  it('bad input to the bundle: one line, exit 2', async () => {
    const res = await runBundle(code, ['eval', '--data', data])
    expect(res).toMatchObject({code: 2, stderr: 'error: --artifact is required (see --help)\n'})
    const res2 = await runBundle(code, ['frobnicate'])
    expect(res2.code).toBe(2)
  }, 30_000)
})

describe('golf verify --run (built CLI)', () => {
  it('prints sizes and gap 0.000000, exits 0', async () => {
    const r = await runCli(['verify', '--run', runDir, '--artifact', artifact, '--val-tokens', String(VAL), '--limit', '16MB'])
    // stderr holds only progress lines (no errors)
    expect(r.stderr.split('\n').filter((l) => l !== '' && !/^eval \((run|artifact)\): /.test(l))).toEqual([])
    expect(r.code).toBe(0)
    expect(r.stdout).toContain(`bytes_model  ${artifactBytes.toLocaleString('en-US')} bytes`)
    expect(r.stdout).toMatch(/^gap {13}0\.000000$/m)
    expect(r.stdout).toMatch(/^val_bpb before  \d\.\d{6}  \(the run's model\)$/m)
    expect(r.stdout).not.toContain('ELBO')
    expect(r.stdout).toContain('exact: identical logits (max |Δlogit| = 0)')
    expect(r.stdout).toMatch(/^✓ counted code reproduces: node submission\.mjs eval prints val_bpb \d\.\d{6}, as in-process$/m)
  }, 120_000)

  it('--json: the documented shape; bytes_total = artifact + bundle', async () => {
    const r = await runCli(['verify', '--run', runDir, '--artifact', artifact, '--val-tokens', String(VAL), '--json', '--no-bundle-run'])
    expect(r.code).toBe(0)
    const j = JSON.parse(r.stdout)
    expect(j.bytes_model).toBe(statSync(artifact).size)
    expect(j.bytes_total).toBe(j.bytes_model + j.bytes_code)
    expect(j.limit).toBe(16_000_000)
    expect(j.within_limit).toBe(true)
    expect(j.roundtrip).toMatchObject({gap: 0})
    expect(j.roundtrip.val_bpb_after).toBe(j.roundtrip.val_bpb_before)
    expect(j.checks.map((c: {name: string}) => c.name)).toEqual(['size ≤ limit', 'roundtrip exact'])
    expect(j).toMatchObject({objective: 'ar', bound: false, elbo: null})
    expect(j.checks[1].detail).toBe('gap 0.000000, identical logits (max |Δlogit| = 0)')
  }, 120_000)

  it('--limit 1000: exit 1 and by how many bytes it is over', async () => {
    expect(readFileSync(artifact).length).toBe(artifactBytes)
    const r = await runCli(['verify', '--run', runDir, '--artifact', artifact, '--val-tokens', String(VAL), '--limit', '1000', '--no-bundle-run', '--json'])
    expect(r.code).toBe(1)
    const j = JSON.parse(r.stdout)
    expect(j.within_limit).toBe(false)
    const over = j.bytes_total - 1000
    expect(j.checks[0]).toEqual({name: 'size ≤ limit', ok: false, confirmed: true, detail: `bytes_total ${j.bytes_total.toLocaleString('en-US')} is over the 1,000-byte limit by ${over.toLocaleString('en-US')} bytes`})
    const human = await runCli(['verify', '--run', runDir, '--artifact', artifact, '--val-tokens', String(VAL), '--limit', '1000', '--no-bundle-run'])
    expect(human.code).toBe(1)
    expect(human.stderr.split('\n').filter((l) => l.startsWith('golf:')).join('\n') + '\n').toBe(`golf: 1 check failed: size ≤ limit: bytes_total ${j.bytes_total.toLocaleString('en-US')} is over the 1,000-byte limit by ${over.toLocaleString('en-US')} bytes\n`)
  }, 120_000)

  it('bad input: exit 2, one line', async () => {
    const r = await runCli(['verify', '--run', runDir, '--artifact', artifact, '--limit', '16XB'])
    expect(r).toMatchObject({code: 2, stderr: 'golf: --limit 16XB: expected bytes or a size like 16MB (decimal) or 16MiB\n'})
    const r2 = await runCli(['verify', '--run', runDir])
    expect(r2).toMatchObject({code: 2, stderr: 'golf: --run needs --artifact <file> (pack it with golf pack)\n'})
    const r3 = await runCli(['verify', '--run', runDir, '--artifact', join(runDir, 'missing.golf')])
    expect(r3.code).toBe(2)
    expect(r3.stderr).toMatch(/^golf: artifact not found: .*missing\.golf\n$/)
  }, 60_000)
})

describe('golf verify --run on a tiny MDLM run: the gap is on the ELBO bound', () => {
  let mdlmRun: string
  let mdlmArtifact: string

  beforeAll(async () => {
    const root = mkdtempSync(join(tmpdir(), 'golf-verify-mdlm-'))
    mdlmRun = join(root, 'run')
    const recipe = tinyRecipe({objective: {kind: 'mdlm'}, train: {max_steps: 4, eval_every: 0}, eval: {sliding_stride: null, val_tokens: VAL, elbo_steps: 64, elbo_seed: 5}})
    const {summary} = await train({recipe, dataDir: data, outDir: mdlmRun, seed: 3, backend: 'wasm'})
    expect(summary).toMatchObject({objective: 'mdlm', bound: true})
    mdlmArtifact = join(root, 'model.golf')
    writeFileSync(mdlmArtifact, (await packSource(mdlmRun, {codec: 'auto'})).bytes)
  }, 120_000)

  it('in-process: gap 0 on the 64-step ELBO with noise seed 5, the bundle reproduces the bound', async () => {
    const r = await verifyRun({runDir: mdlmRun, artifactPath: mdlmArtifact, limit: 16_000_000, valTokens: VAL, backend: 'wasm'})
    expect(r.ok).toBe(true)
    expect(r).toMatchObject({objective: 'mdlm', bound: true, elbo: {steps: 64, samples: 1, seed: 5}, roundtrip: {gap: 0, exact: true}})
    expect(r.roundtrip_detail).toMatchObject({objective: 'mdlm', bound: true, max_logit_diff: 0})
    expect(r.checks.map((c) => [c.name, c.detail])).toEqual([
      ['size ≤ limit', expect.stringMatching(/ bytes \([\d,]+ to spare\)$/)],
      ['roundtrip exact', 'gap 0.000000 on the 64-step ELBO upper bound (same noise before and after, seed 5), identical logits (max |Δlogit| = 0)'],
      ['counted code reproduces', `node submission.mjs eval prints val_bpb ≤ ${r.roundtrip!.val_bpb_after.toFixed(6)} (the same ELBO bound), as in-process`],
    ])
  }, 120_000)

  it('built CLI: labels val_bpb as a bound, gap 0.000000; --json carries objective and bound', async () => {
    const h = await runCli(['verify', '--run', mdlmRun, '--artifact', mdlmArtifact, '--val-tokens', String(VAL), '--no-bundle-run'])
    expect(h.code, h.stderr).toBe(0)
    expect(h.stdout).toMatch(/^val_bpb before  ≤ \d\.\d{6}  \(the run's model; 64-step ELBO, an upper bound\)$/m)
    expect(h.stdout).toMatch(/^val_bpb after   ≤ \d\.\d{6}  \(rebuilt from the artifact; same noise, seed 5\)$/m)
    expect(h.stdout).toMatch(/^gap {13}0\.000000$/m)
    expect(h.stdout).toContain('✓ roundtrip exact: gap 0.000000 on the 64-step ELBO upper bound (same noise before and after, seed 5), identical logits')
    const j = JSON.parse((await runCli(['verify', '--run', mdlmRun, '--artifact', mdlmArtifact, '--val-tokens', String(VAL), '--no-bundle-run', '--json'])).stdout)
    expect(j).toMatchObject({objective: 'mdlm', bound: true, elbo: {steps: 64, samples: 1, seed: 5}, roundtrip: {gap: 0, exact: true}})
    expect(j.roundtrip.val_bpb_after).toBe(j.roundtrip.val_bpb_before)
  }, 120_000)
})
