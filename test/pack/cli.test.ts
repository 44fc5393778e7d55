import {execFileSync} from 'node:child_process'
import {copyFileSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {beforeAll, describe, expect, it} from 'vitest'

import {readSafetensors} from '../../src/io/safetensors.js'
import {train} from '../../src/train/loop.js'
import {runCli} from '../helpers/cli.js'
import {tinyDataset, tinyRecipe} from '../helpers/tiny-run.js'

let dir = ''
let runDir = ''
let artifact = ''

beforeAll(async () => {
  const data = await tinyDataset(8, 2000)
  dir = mkdtempSync(join(tmpdir(), 'golf-pack-cli-'))
  runDir = join(dir, 'run')
  await train({recipe: tinyRecipe({train: {max_steps: 2, eval_every: 0}}), dataDir: data, outDir: runDir, seed: 2, backend: 'wasm'})
  artifact = join(dir, 'model.golf')
}, 120_000)

describe('golf pack | inspect | unpack', () => {
  it('pack --json prints the documented shape and writes the artifact', async () => {
    const r = await runCli(['pack', runDir, '--out', artifact, '--json'])
    expect(r.stderr).toBe('')
    expect(r.code).toBe(0)
    const j = JSON.parse(r.stdout)
    expect(Object.keys(j)).toEqual(expect.arrayContaining(['artifact_bytes', 'codec', 'compress', 'ternary', 'tensors']))
    expect(j.artifact_bytes).toBe(readFileSync(artifact).length)
    expect(j.codec).toBe('auto')
    expect(Object.keys(j.ternary)).toEqual(expect.arrayContaining(['params', 'bytes', 'bits_per_param', 'entropy_bits_per_param']))
    for (const t of j.tensors) {
      expect(Object.keys(t)).toEqual(expect.arrayContaining(['name', 'kind', 'params', 'bytes', 'bits_per_param', 'zero_frac']))
      expect(['ternary', 'float']).toContain(t.kind)
    }
    expect(j.exact).toBe(true)
  }, 60_000)

  it('refuses to overwrite --out without --force; --base3 and a different --codec disagree', async () => {
    const r = await runCli(['pack', runDir, '--out', artifact])
    expect(r.code).toBe(2)
    expect(r.stderr).toBe(`golf: ${artifact} exists: use --force to overwrite it\n`)
    const b = await runCli(['pack', runDir, '--out', join(dir, 'x.golf'), '--base3', '--codec', 'entropy'])
    expect(b.stderr).toBe('golf: --base3 and --codec entropy disagree: give one\n')
    const f = await runCli(['pack', runDir, '--out', join(dir, 'y.golf'), '--base3', '--compress', 'none', '--force', '--json'])
    expect(JSON.parse(f.stdout).tensors.filter((t: {kind: string}) => t.kind === 'ternary').every((t: {codec: string}) => t.codec === 'base3')).toBe(true)
  }, 60_000)

  it('--out is never an input (however spelled) nor a file golf did not write: one line, exit 2, the file untouched', async () => {
    const plain = join(dir, 'weights.safetensors')
    copyFileSync(join(runDir, 'checkpoint.safetensors'), plain)
    const checkpoint = readFileSync(join(runDir, 'checkpoint.safetensors'))
    const notes = join(dir, 'notes.txt')
    writeFileSync(notes, 'precious')
    const cases: Array<[string[], string]> = [
      [['pack', runDir, '--out', join(runDir, 'checkpoint.safetensors'), '--force'], `--out ${join(runDir, 'checkpoint.safetensors')} is the same file as the run file ${join(runDir, 'checkpoint.safetensors')}: golf does not write over its own input; choose another --out`],
      [['pack', join(runDir, 'checkpoint.safetensors'), '--out', `${runDir}/./config.json`], `--out ${runDir}/./config.json is the same file as the run file ${join(runDir, 'config.json')}: golf does not write over its own input; choose another --out`],
      [['pack', plain, '--ternary', 'blocks.**', '--group-size', '16', '--out', `${dir}/./weights.safetensors`, '--force'], `--out ${dir}/./weights.safetensors is the same file as the source ${plain}: golf does not write over its own input; choose another --out`],
      [['pack', runDir, '--out', notes, '--force'], `--out ${notes} exists and is not a golf artifact: --force replaces only a file golf pack wrote; move it or choose another --out`],
      [['unpack', artifact, '--out', `${dir}/./model.golf`, '--force'], `--out ${dir}/./model.golf is the same file as the artifact ${artifact}: golf does not write over its own input; choose another --out`],
      [['unpack', artifact, '--out', plain, '--force'], `--out ${plain} exists and is not a safetensors file golf unpack wrote: --force replaces only a file golf unpack wrote; move it or choose another --out`],
    ]
    const link = join(dir, 'link.golf')
    symlinkSync(artifact, link)
    cases.push([['unpack', link, '--out', artifact, '--force'], `--out ${artifact} is the same file as the artifact ${link}: golf does not write over its own input; choose another --out`])
    const before = readFileSync(artifact)
    for (const [args, message] of cases) {
      const r = await runCli(args)
      expect(r.code, args.join(' ')).toBe(2)
      expect(r.stderr, args.join(' ')).toBe(`golf: ${message}\n`)
    }
    expect(readFileSync(join(runDir, 'checkpoint.safetensors')).equals(checkpoint)).toBe(true)
    expect(readFileSync(plain).equals(checkpoint)).toBe(true)
    expect(readFileSync(artifact).equals(before)).toBe(true)
    expect(readFileSync(notes, 'utf8')).toBe('precious')
    // what golf wrote is replaced with --force
    const again = await runCli(['pack', runDir, '--out', artifact, '--force', '--json'])
    expect(again.code).toBe(0)
  }, 60_000)

  it('--compare gives a row per method with the smallest marked 0', async () => {
    const r = await runCli(['pack', runDir, '--compare', '--json'])
    expect(r.code).toBe(0)
    const rows = JSON.parse(r.stdout).compare as Array<{method: string; artifact_bytes: number | null; delta_vs_best: number | null}>
    expect(rows.map((x) => x.method)).toEqual(['base-3 + LZMA (xz -9e)', 'bitmask + LZMA (xz -9e)', '2-bit + zlib-9', 'int8 per row + zlib-9', 'entropy, no outer compression', 'golf: auto codec + auto compress'])
    const sizes = rows.filter((x) => x.artifact_bytes !== null).map((x) => x.artifact_bytes!)
    expect(rows.filter((x) => x.delta_vs_best === 0)).toHaveLength(1)
    expect(Math.min(...sizes)).toBe(rows.find((x) => x.delta_vs_best === 0)!.artifact_bytes)
    // the storage table: the run's fp16 scales and floats beside the other formats, bytes only
    const storage = JSON.parse(r.stdout).compare_storage as Array<{variant: string; scale_format: string; float_dtype: string; scale_bytes: number; float_bytes: number; artifact_bytes: number; delta_vs_trained: number}>
    expect(storage.map((x) => x.variant)).toEqual(['as trained', 'scales bf16', 'scales e4m3', 'floats bf16', 'floats e4m3_row'])
    const [trained, , e4m3Scales, , e4m3Floats] = storage
    expect([trained.scale_format, trained.float_dtype, trained.delta_vs_trained]).toEqual(['fp16', 'f16', 0])
    const groups = trained.scale_bytes / 2
    const ternaryTensors = JSON.parse(r.stdout).tensors.filter((t: {kind: string}) => t.kind === 'ternary').length
    expect(e4m3Scales.scale_bytes).toBe(groups + ternaryTensors) // one byte per group + one base byte per tensor
    expect(e4m3Floats.float_bytes).toBeLessThan(trained.float_bytes)
    expect(e4m3Scales.delta_vs_trained).toBe(e4m3Scales.artifact_bytes - trained.artifact_bytes)
    const human = await runCli(['pack', runDir, '--compare'])
    expect(human.stdout).toMatch(/^storage +scales +floats +scale bytes/m)
    expect(human.stdout).toMatch(/^scales e4m3 +e4m3 +f16 /m)
  }, 60_000)

  it('inspect and unpack read it back', async () => {
    const i = await runCli(['inspect', artifact, '--json'])
    expect(i.code).toBe(0)
    const j = JSON.parse(i.stdout)
    expect(j.checksum).toBe('ok')
    expect(j.model.recipe).toBe('tiny-test')
    expect(j.artifact_bytes).toBe(readFileSync(artifact).length)
    const out = join(dir, 'w.safetensors')
    const u = await runCli(['unpack', artifact, '--out', out])
    expect(u.code).toBe(0)
    const file = readSafetensors(out)
    expect(file.tensors.size).toBe(j.tensors.length)
    expect(JSON.parse(file.metadata.golf_manifest).model.recipe).toBe('tiny-test')
    expect((await runCli(['unpack', artifact, '--out', out])).stderr).toBe(`golf: ${out} exists: use --force to overwrite it\n`)
  }, 60_000)

  it('a truncated or altered artifact is refused with one line and exit 2', async () => {
    const bytes = readFileSync(artifact)
    const cases: Array<[string, Uint8Array, string]> = [
      ['truncated', bytes.subarray(0, bytes.length - 9), 'checksum mismatch (file altered or truncated)'],
      ['flipped', Uint8Array.from(bytes, (b, k) => (k === bytes.length >> 1 ? b ^ 0x10 : b)), 'checksum mismatch (file altered or truncated)'],
      ['magic', Uint8Array.from(bytes, (b, k) => (k === 0 ? 0x58 : b)), 'not a golf artifact (bad magic)'],
    ]
    const runs = cases.flatMap(([name, data, msg]) => {
      const path = join(dir, `${name}.golf`)
      writeFileSync(path, data)
      return [['inspect', path], ['unpack', path, '--out', join(dir, `${name}.safetensors`)]].map(async (cmd) => ({cmd, path, msg, r: await runCli(cmd)}))
    })
    for (const {cmd, path, msg, r} of await Promise.all(runs)) {
      expect(r.code, cmd.join(' ')).toBe(2)
      expect(r.stderr).toBe(`golf: ${path}: ${msg}\n`)
    }
  }, 60_000)

  it.skipIf(process.platform === 'win32')('an endless or blocking file (/dev/zero, a FIFO with no writer) is refused unread, in one line naming it', async () => {
    const fifo = join(dir, 'artifact.fifo')
    execFileSync('mkfifo', [fifo])
    const cases: Array<[string, string]> = [
      ['/dev/zero', 'golf: artifact is a character device, expected a regular file: /dev/zero\n'],
      [fifo, `golf: artifact is a FIFO, expected a regular file: ${fifo}\n`],
    ]
    const runs = cases.flatMap(([path, msg]) => [['inspect', path], ['unpack', path, '--out', join(dir, 'never.safetensors')]].map(async (cmd) => ({cmd, msg, r: await runCli(cmd)})))
    for (const {cmd, msg, r} of await Promise.all(runs)) {
      expect(r.code, cmd.join(' ')).toBe(2)
      expect(r.stderr, cmd.join(' ')).toBe(msg)
    }
  }, 30_000)
})
