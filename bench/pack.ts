/**
 * Trit codec bench: bits/trit of every codec (and of codec + outer compressor) on random and
 * structured trits, against the empirical entropy; then pack and unpack time of a large tensor.
 * Usage: node dist/bench/pack.js [--json] [--n 1048576] [--big 70000000]
 * Times are wall-clock and user+system CPU of this process (one thread); on a loaded machine
 * trust the CPU figure more.
 */
import {spawnSync} from 'node:child_process'
import {deflateSync} from 'node:zlib'

import {table} from '../src/cli/output.js'
import {chooseModel} from '../src/pack/codecs/entropy.js'
import {TRIT_CODECS, TRIT_CODEC_NAMES, countTrits, encodeTrits, tritEntropyBits} from '../src/pack/codecs/index.js'
import {writeArtifact, readArtifact} from '../src/pack/artifact.js'
import {compress} from '../src/pack/compress.js'

const argv = process.argv.slice(2)
const json = argv.includes('--json')
const flag = (name: string, fallback: number): number => {
  const i = argv.indexOf(name)
  return i >= 0 ? Number(argv[i + 1]) : fallback
}
const N = flag('--n', 1 << 20)
const BIG = flag('--big', 70_000_000)

function lcg(seed: number): () => number {
  let s = seed >>> 0
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0
    return s / 2 ** 32
  }
}

function iid(n: number, zero: number, seed: number): Int8Array {
  const r = lcg(seed)
  const t = new Int8Array(n)
  for (let i = 0; i < n; i++) t[i] = r() < zero ? 0 : r() < 0.5 ? -1 : 1
  return t
}

/** Rows of 1024 whose zero rate is drawn uniformly from 5%..60%. */
function rowsVarying(n: number, seed: number): Int8Array {
  const r = lcg(seed)
  const t = new Int8Array(n)
  for (let i = 0; i < n; i += 1024) {
    const z = 0.05 + 0.55 * r()
    for (let j = i; j < Math.min(n, i + 1024); j++) t[j] = r() < z ? 0 : r() < 0.5 ? -1 : 1
  }
  return t
}

/** Laplace weights, row scale varying ×4, ternarized by absmean in groups of 128 (as trained nets look). */
function laplaceAbsmean(n: number, seed: number): Int8Array {
  const r = lcg(seed)
  const t = new Int8Array(n)
  const w = new Float64Array(128)
  let rowScale = 1
  for (let g = 0; g < n; g += 128) {
    if (g % 1024 === 0) rowScale = 0.5 + 1.5 * r()
    let mean = 0
    for (let k = 0; k < 128; k++) {
      const u = r() - 0.5
      w[k] = -rowScale * Math.sign(u) * Math.log(1 - 2 * Math.abs(u))
      mean += Math.abs(w[k]) / 128
    }
    for (let k = 0; k < 128 && g + k < n; k++) t[g + k] = Math.abs(w[k]) > mean / 2 ? Math.sign(w[k]) : 0
  }
  return t
}

let hasXz = spawnSync('xz', ['--version']).status === 0
function xz9e(data: Uint8Array): number | null {
  if (!hasXz) return null
  const out = spawnSync('xz', ['-9e', '-c', '-T1', '--format=xz'], {input: data, maxBuffer: 1 << 30})
  if (out.status !== 0) {
    hasXz = false
    return null
  }
  return out.stdout.length
}

interface RateRow {
  case: string
  zero_frac: number
  entropy: number
  [codec: string]: number | string | null
}

const cases: Array<[string, Int8Array]> = [
  ...[0.1, 0.2, 0.3, 0.4].map((z, i) => [`iid ${z * 100}% zeros`, iid(N, z, 100 + i)] as [string, Int8Array]),
  ['rows 5–60% zeros', rowsVarying(N, 7)],
  ['laplace absmean g128', laplaceAbsmean(N, 8)],
]

const rates: RateRow[] = []
for (const [name, trits] of cases) {
  const counts = countTrits(trits)
  const bpt = (bytes: number | null): number | null => (bytes === null ? null : (8 * bytes) / trits.length)
  const base3 = encodeTrits('base3', trits)
  const bitmask = encodeTrits('bitmask', trits)
  const two = encodeTrits('2bit', trits)
  const choice = chooseModel(trits, counts)
  const row: RateRow = {
    case: name,
    zero_frac: counts.zero / trits.length,
    entropy: tritEntropyBits(counts),
    base3: bpt(base3.length),
    '2bit': bpt(two.length),
    bitmask: bpt(bitmask.length),
    entropy_codec: bpt(encodeTrits('entropy', trits).length),
    entropy_model: choice.model === 0 ? 'order-0' : `zero-window ${choice.window}`,
    'base3+xz-9e': bpt(xz9e(base3)),
    'bitmask+xz-9e': bpt(xz9e(bitmask)),
    'base3+lzma-js': trits.length <= 1 << 20 ? bpt(compress('lzma', base3).length) : null,
    'base3+brotli': bpt(compress('brotli', base3).length),
    '2bit+zlib-9': bpt(deflateSync(two, {level: 9}).length),
  }
  rates.push(row)
}

function time(fn: () => void): {wall_ms: number; cpu_ms: number} {
  const c0 = process.cpuUsage()
  const t0 = performance.now()
  fn()
  const wall = performance.now() - t0
  const c = process.cpuUsage(c0)
  return {wall_ms: Math.round(wall), cpu_ms: Math.round((c.user + c.system) / 1000)}
}

const big = laplaceAbsmean(BIG, 9)
const speed: Array<{codec: string; n: number; bytes: number; pack: {wall_ms: number; cpu_ms: number}; unpack: {wall_ms: number; cpu_ms: number}}> = []
for (const name of TRIT_CODEC_NAMES) {
  let bytes: Uint8Array = new Uint8Array(0)
  let back: Int8Array = new Int8Array(0)
  const pack = time(() => {
    bytes = TRIT_CODECS[name].encode(big)
  })
  const unpack = time(() => {
    back = TRIT_CODECS[name].decode(bytes, big.length)
  })
  if (!Buffer.from(back.buffer, back.byteOffset, back.length).equals(Buffer.from(big.buffer))) throw new Error(`${name}: roundtrip failed`)
  speed.push({codec: name, n: big.length, bytes: bytes.length, pack, unpack})
}

// The whole artifact path on BIG ternary params: writeArtifact (auto codec, no outer compression)
// and readArtifact (checksum, decode, dequantize), as golf pack / unpack run them.
const groups = Math.ceil(BIG / 128)
const scales = new Float32Array(groups).fill(0.015625)
const shape = [BIG / 128, 128]
let artifact: Uint8Array = new Uint8Array(0)
const artifactPack = time(() => {
  artifact = writeArtifact({model: {}, quant: {}, compress: 'none', tensors: [{name: 'w', shape, kind: 'ternary', trits: big, scales, scaleFormat: 'fp16', groupSize: 128, codec: 'auto'}]}).bytes
})
const artifactUnpack = time(() => {
  readArtifact(artifact)
})
const artifactRow = {n: BIG, bytes: artifact.length, pack: artifactPack, unpack: artifactUnpack}

if (json) {
  console.log(JSON.stringify({n: N, big: BIG, xz_binary: hasXz, rates, speed, artifact: artifactRow}))
} else {
  const cols = ['entropy', 'entropy_codec', 'base3', '2bit', 'bitmask', 'base3+xz-9e', 'bitmask+xz-9e', 'base3+lzma-js', 'base3+brotli', '2bit+zlib-9']
  console.log(`bits/trit on ${N.toLocaleString()} trits (entropy = empirical order-0; xz-9e = the xz binary${hasXz ? '' : ', not found'})`)
  console.log(
    table(
      ['case', 'zeros', ...cols, 'model'],
      rates.map((r) => [r.case, r.zero_frac.toFixed(3), ...cols.map((c) => (r[c] === null ? '—' : (r[c] as number).toFixed(4))), r.entropy_model as string]),
    ),
  )
  console.log(`\npack / unpack of ${BIG.toLocaleString()} trits (laplace absmean g128), one thread`)
  console.log(
    table(
      ['codec', 'bytes', 'bits/trit', 'pack wall ms', 'pack cpu ms', 'unpack wall ms', 'unpack cpu ms'],
      speed.map((s) => [s.codec, s.bytes, ((8 * s.bytes) / s.n).toFixed(4), s.pack.wall_ms, s.pack.cpu_ms, s.unpack.wall_ms, s.unpack.cpu_ms]),
    ),
  )
  console.log(`\nartifact of ${BIG.toLocaleString()} ternary params (auto codec, groups of 128, fp16 scales): ${artifactRow.bytes.toLocaleString()} bytes; pack ${artifactPack.wall_ms} ms wall / ${artifactPack.cpu_ms} ms cpu, unpack (checksum + decode + q·d) ${artifactUnpack.wall_ms} ms wall / ${artifactUnpack.cpu_ms} ms cpu`)
}
