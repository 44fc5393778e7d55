import {Flags} from '@oclif/core'
import {GolfCommand} from '../../src/cli/base-command.js'
import {formatBytes, formatDuration, progressReporter} from '../../src/cli/output.js'
import {DEFAULT_REPO, downloadDataset, VARIANTS, type DownloadResult} from '../../src/data/download.js'

export default class DataDownload extends GolfCommand {
  static override summary = 'Download the challenge FineWeb shards and tokenizer from Hugging Face.'
  static override description = `Mirrors the official data/cached_challenge_fineweb.py: reads datasets/manifest.json of the dataset repo, then fetches every validation shard, the first N training shards and the variant's tokenizer into <out>/datasets/fineweb10B_<variant>/ and <out>/tokenizers/, and writes a dataset.json next to the shards.

Interrupted downloads resume (HTTP Range on <file>.part); files already present are skipped. The endpoint is $HF_ENDPOINT when set, else https://huggingface.co.`

  static override examples = [
    '<%= config.bin %> <%= command.id %> --variant sp1024 --train-shards 1',
    'HF_ENDPOINT=https://hf-mirror.example <%= config.bin %> <%= command.id %> --variant byte260 --train-shards 0 --out data',
  ]

  static override flags = {
    variant: Flags.string({description: 'Tokenizer family.', options: [...VARIANTS], default: 'sp1024'}),
    'train-shards': Flags.integer({description: 'Training shards to fetch (100M tokens each).', default: 1, min: 0}),
    out: Flags.string({description: 'Download folder.', default: 'data'}),
    repo: Flags.string({description: 'Hugging Face dataset repo.', default: DEFAULT_REPO}),
  }

  async run(): Promise<DownloadResult> {
    const {flags} = await this.parse(DataDownload)
    const progress = progressReporter({quiet: this.jsonEnabled(), everyMs: 5000})
    const result = await downloadDataset({
      variant: flags.variant,
      trainShards: flags['train-shards'],
      out: flags.out,
      repo: flags.repo,
      onProgress: (p) => {
        const of = p.totalBytes === null ? '' : ` / ${formatBytes(p.totalBytes)}`
        const eta = p.totalBytes === null || p.bytesPerSecond <= 0 ? '' : `  ETA ${formatDuration((p.totalBytes - p.bytes) / p.bytesPerSecond)}`
        progress.update(`[${p.index + 1}/${p.count}] ${p.file}  ${formatBytes(p.bytes)}${of}  ${(p.bytesPerSecond / 1e6).toFixed(1)} MB/s${eta}`)
      },
      onFileDone: (file, status, bytes) => progress.log(`${status === 'skipped' ? 'have' : 'got '} ${file} (${formatBytes(bytes)})`),
    })
    progress.done()
    if (!this.jsonEnabled()) {
      this.log(`${result.dataset}: ${result.downloaded.length} file(s) downloaded (${formatBytes(result.bytes_downloaded)}), ${result.skipped.length} already present`)
      this.log(`dataset folder: ${result.dir}`)
    }
    return result
  }
}
