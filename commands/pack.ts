import {Args, Flags} from '@oclif/core'
import {BACKEND_NAMES, type BackendName} from '../src/backend/index.js'
import {GolfCommand} from '../src/cli/base-command.js'
import {formatBytes, paint, table} from '../src/cli/output.js'
import {InputError} from '../src/errors.js'
import {writeFileAtomic} from '../src/io/atomic.js'
import {checkOutputFile} from '../src/io/output.js'
import {FLOAT_DTYPES, type FloatDtype, type GroupSize} from '../src/pack/artifact.js'
import {TRIT_CODEC_NAMES, type TritCodecName} from '../src/pack/codecs/index.js'
import {COMPRESS_NAMES, type CompressName} from '../src/pack/compress.js'
import {type CompareRow, type StorageRow, comparePacking, compareStorage} from '../src/pack/compare.js'
import {PACK_OUTPUT, type PackedTensorRow, packInputs, packPrepared, parseFloatOverride, prepareSource} from '../src/pack/pack-model.js'
import {SCALE_FORMATS, type ScaleFormat} from '../src/quant/ternary-host.js'
import {OFFICIAL_LIMIT} from '../src/verify/limit.js'

export interface PackCommandResult {
  artifact_bytes: number
  codec: string
  compress: string
  ternary: {params: number; bytes: number; scale_bytes: number; bits_per_param: number; entropy_bits_per_param: number}
  tensors: PackedTensorRow[]
  /** Extra keys beyond the shape. */
  out: string | null
  source: string
  exact: boolean
  notes: string[]
  /** The backend the quantizer ran on. */
  backend: string
  /** Set when that is not the backend the run trained on (golf verify then measures the gap). */
  cross_backend: {trained: string; quantized: string; why: string} | null
  manifest_bytes: number
  body_bytes: number
  limit: number
  compare?: CompareRow[]
  /** --compare: the same model with its scales or floats stored in other formats (bytes only). */
  compare_storage?: StorageRow[]
}

function parseGroupSize(s: string): GroupSize {
  if (s === 'row' || s === 'tensor') return s
  const n = Number(s)
  if (!Number.isInteger(n) || n < 1) throw new InputError(`--group-size ${s}: expected a positive integer, row or tensor`)
  return n
}

export default class Pack extends GolfCommand {
  static override summary = 'Pack a trained model into one artifact file (the bytes that count under the 16 MB cap).'
  static override description = [
    'SOURCE is a golf run folder (or its checkpoint.safetensors): the quantizer settings come from the checkpoint and',
    'the packed weights are exactly what training used (checked tensor by tensor). Any other .safetensors file is',
    'packed with --ternary globs (2-D weights [out, in], groups along the last dim); the rest are stored as --float-dtype.',
    'Ternary codecs: base3 (1.6 bits/trit), 2bit, bitmask, entropy (rANS); auto keeps the smallest per tensor.',
    'Outer compression: none, deflate, brotli, lzma (pure JS, slow), xz (the xz program); auto tries none/deflate/brotli',
    '(and lzma/xz for bodies under 2 MB). --compare packs the same weights every published way and ours.',
    'A run is quantized on the backend it trained on (recorded in its checkpoint) when that loads here; otherwise (or with',
    '--backend) on another, and the result says the artifact crosses backends: golf verify then measures the gap.',
  ].join('\n')
  static override examples = [
    '<%= config.bin %> <%= command.id %> runs/tiny-cpu-s1337-20261123-141502 --out model.golf',
    '<%= config.bin %> <%= command.id %> runs/tiny-cpu-s1337-20261123-141502 --base3 --compress xz --out model.golf --json',
    '<%= config.bin %> <%= command.id %> runs/tiny-cpu-s1337-20261123-141502 --compare',
    "<%= config.bin %> <%= command.id %> model.safetensors --ternary 'blocks.*.mlp.*.weight' --group-size 128 --float 'tok_emb.weight=int8_row' --out model.golf",
  ]

  static override args = {
    source: Args.string({description: 'Run folder, its checkpoint.safetensors, or any .safetensors file.', required: true}),
  }

  static override flags = {
    out: Flags.string({char: 'o', description: 'Artifact to write (required unless --compare).'}),
    force: Flags.boolean({description: 'Overwrite --out if it is a golf artifact.'}),
    base3: Flags.boolean({description: 'Short for --codec base3.'}),
    codec: Flags.string({description: 'Trit codec for ternary tensors.', options: [...TRIT_CODEC_NAMES, 'auto']}),
    compress: Flags.string({description: 'Outer compression of the artifact body.', options: [...COMPRESS_NAMES, 'auto'], default: 'auto'}),
    compare: Flags.boolean({description: 'Pack the same weights every way and print one comparison table.'}),
    ternary: Flags.string({description: 'Safetensors input: glob of tensor names to ternarize (repeatable; * = one dotted segment, ** = anything).', multiple: true}),
    'group-size': Flags.string({description: 'Safetensors input: scale group size along the last dim (integer, row or tensor). Default 128.'}),
    'scale-format': Flags.string({description: 'Safetensors input: stored precision of the scales (e4m3: 8 bits per group under a power of two per tensor). Default fp16.', options: [...SCALE_FORMATS]}),
    'zero-correction': Flags.boolean({description: 'Safetensors input: dequantize with mean |w| over the non-zero trits (default on).', allowNo: true}),
    'float-dtype': Flags.string({description: 'Safetensors input: dtype of non-ternary tensors. Default f16.', options: [...FLOAT_DTYPES]}),
    float: Flags.string({description: 'Safetensors input: per-tensor dtype, <glob>=<dtype> (repeatable, first match wins).', multiple: true}),
    backend: Flags.string({description: "Backend for the quantizer. Default: a run's own training backend (when it loads here); wasm for .safetensors input.", options: [...BACKEND_NAMES]}),
  }

  async run(): Promise<PackCommandResult> {
    const {args, flags} = await this.parse(Pack)
    if (flags.base3 && flags.codec !== undefined && flags.codec !== 'base3') throw new InputError(`--base3 and --codec ${flags.codec} disagree: give one`)
    const codec = (flags.base3 ? 'base3' : (flags.codec ?? 'auto')) as TritCodecName | 'auto'
    if (!flags.out && !flags.compare) throw new InputError('--out is required (the artifact to write), unless --compare')
    if (flags.out) checkOutputFile(flags.out, {inputs: packInputs(args.source), force: flags.force, own: PACK_OUTPUT})

    const prepared = await prepareSource(args.source, {
      ternary: flags.ternary,
      groupSize: flags['group-size'] === undefined ? undefined : parseGroupSize(flags['group-size']),
      scaleFormat: flags['scale-format'] as ScaleFormat | undefined,
      zeroCorrection: flags['zero-correction'],
      floatDtype: flags['float-dtype'] as FloatDtype | undefined,
      floatOverrides: flags.float?.map(parseFloatOverride),
      backend: flags.backend as BackendName | undefined,
    })
    const packed = packPrepared(prepared, {codec, compress: flags.compress as CompressName | 'auto'})
    if (flags.out) await writeFileAtomic(flags.out, packed.bytes)
    const compare = flags.compare ? comparePacking(prepared) : undefined
    const compareStorageRows = flags.compare ? compareStorage(prepared, packed.report.compress) : undefined

    const r = packed.report
    const result: PackCommandResult = {
      artifact_bytes: r.artifact_bytes,
      codec: r.codec,
      compress: r.compress,
      ternary: r.ternary,
      tensors: r.tensors,
      out: flags.out ?? null,
      source: args.source,
      exact: prepared.exact,
      notes: prepared.notes,
      backend: prepared.backend,
      cross_backend: prepared.crossBackend,
      manifest_bytes: r.manifest_bytes,
      body_bytes: r.body_bytes,
      limit: OFFICIAL_LIMIT,
      ...(compare ? {compare} : {}),
      ...(compareStorageRows ? {compare_storage: compareStorageRows} : {}),
    }
    if (!this.jsonEnabled()) this.printHuman(result)
    return result
  }

  private printHuman(r: PackCommandResult): void {
    const c = paint()
    const pct = (x: number) => `${(100 * x).toFixed(1)}%`
    this.log(
      table(
        ['tensor', 'kind', 'codec', 'params', 'bytes', 'bits/param', 'zeros', 'entropy bound'],
        r.tensors.map((t) => [t.name, t.kind, t.codec, t.params, t.bytes, t.bits_per_param.toFixed(3), pct(t.zero_frac), t.entropy_bits_per_param === null ? '—' : t.entropy_bits_per_param.toFixed(3)]),
      ),
    )
    const t = r.ternary
    this.log('')
    this.log(`ternary: ${t.params.toLocaleString('en-US')} params in ${t.bytes.toLocaleString('en-US')} bytes (${t.scale_bytes.toLocaleString('en-US')} of scales): ${t.bits_per_param.toFixed(4)} bits/param, entropy bound ${t.entropy_bits_per_param.toFixed(4)} bits/trit + scales`)
    const fits = r.artifact_bytes <= r.limit
    const line = `artifact: ${r.artifact_bytes.toLocaleString('en-US')} bytes (${formatBytes(r.artifact_bytes)}; ${r.compress}), ${fits ? '' : 'OVER '}${((100 * r.artifact_bytes) / r.limit).toFixed(2)}% of ${r.limit.toLocaleString('en-US')} before counted code`
    this.log(fits ? c.green(line) : c.red(line))
    if (r.out) this.log(`wrote ${r.out}`)
    for (const n of r.notes) this.log(c.yellow(`note: ${n}`))
    if (r.compare) {
      this.log('')
      this.log(
        table(
          ['method', 'ternary bytes', 'artifact bytes', 'bits/param', 'Δ vs best'],
          r.compare.map((m) => [
            m.method + (m.compress !== 'auto' && m.codec === 'auto' ? ` (${m.compress})` : ''),
            m.ternary_bytes ?? '—',
            m.artifact_bytes ?? '—',
            m.bits_per_param === null ? '—' : m.bits_per_param.toFixed(4),
            m.delta_vs_best === null ? (m.note ?? '—') : m.delta_vs_best === 0 ? 'best' : `+${m.delta_vs_best.toLocaleString('en-US')}`,
          ]),
        ),
      )
      this.log('ternary bytes: trits + scales of the ternary tensors, compressed alone by the method; bits/param over ternary params')
    }
    if (r.compare_storage) {
      const n = (x: number) => x.toLocaleString('en-US')
      this.log('')
      this.log(
        table(
          ['storage', 'scales', 'floats', 'scale bytes', 'float bytes', 'artifact bytes', 'Δ vs trained'],
          r.compare_storage.map((s) => [s.variant, s.scale_format ?? '—', s.float_dtype ?? '—', n(s.scale_bytes), n(s.float_bytes), n(s.artifact_bytes), s.delta_vs_trained === 0 ? '—' : `${s.delta_vs_trained > 0 ? '+' : ''}${n(s.delta_vs_trained)}`]),
        ),
      )
      this.log(`scale/float bytes before outer compression (${r.compress}); other formats are rounded from this model's stored values: bytes only, train with quant.scale_format / quant.float_format to use one`)
    }
  }
}
