import {Flags} from '@oclif/core'
import {GolfCommand} from '../../src/cli/base-command.js'
import {formatBytes, paint, progressReporter, table} from '../../src/cli/output.js'
import {prepareDataset, type DatasetSource, type PrepareResult} from '../../src/data/dataset.js'

export default class DataPrepare extends GolfCommand {
  static override summary = 'Tokenize a corpus into a dataset folder of official shards.'
  static override description = `Each document is written as [BOS] + tokens (no EOS). The first documents form the validation split (default: 5% of them, at least 1), the rest the training split, as the official exporter does. The folder also gets dataset.json and, for a SentencePiece tokenizer, a copy of the .model.

Sources (exactly one): --corpus brown (the built-in Brown corpus, 500 documents, ~6 MB), --text (one document per file, files in sorted path order), --jsonl (one {"text": …} object per line).`

  static override examples = [
    '<%= config.bin %> <%= command.id %> --corpus brown --out data/brown_byte260',
    "<%= config.bin %> <%= command.id %> --text 'notes/**/*.md' --tokenizer tokenizers/fineweb_1024_bpe.model --out data/notes_sp1024",
    '<%= config.bin %> <%= command.id %> --jsonl docs.jsonl --val-docs 1000 --shard-tokens 10000000 --out data/docs --force',
  ]

  static override flags = {
    corpus: Flags.string({description: 'Built-in corpus.', options: ['brown'], exactlyOne: ['corpus', 'text', 'jsonl']}),
    text: Flags.string({description: 'Text files or globs (quote globs), one document per file.', multiple: true}),
    jsonl: Flags.string({description: 'JSONL file, one {"text": …} document per line.'}),
    tokenizer: Flags.string({description: "'byte260' or a SentencePiece .model file.", default: 'byte260'}),
    out: Flags.string({description: 'Dataset folder to create.', required: true}),
    'val-docs': Flags.integer({description: 'Documents in the validation split (default: 5%, at least 1).', min: 1}),
    'shard-tokens': Flags.integer({description: 'Tokens per shard.', default: 100_000_000, min: 1}),
    force: Flags.boolean({description: 'Replace --out if it is a dataset folder golf made (one holding only dataset.json, shards and its tokenizer).'}),
  }

  async run(): Promise<PrepareResult> {
    const {flags} = await this.parse(DataPrepare)
    const source: DatasetSource = flags.corpus
      ? {kind: 'brown'}
      : flags.text
        ? {kind: 'text', patterns: flags.text}
        : {kind: 'jsonl', path: flags.jsonl as string}
    const progress = progressReporter({quiet: this.jsonEnabled()})
    const started = Date.now() // small corpora finish before any progress is worth printing
    const result = await prepareDataset({
      source,
      tokenizer: flags.tokenizer,
      out: flags.out,
      valDocs: flags['val-docs'],
      shardTokens: flags['shard-tokens'],
      force: flags.force,
      onProgress: (p) => Date.now() - started > 1000 && progress.update(`tokenizing: ${p.docs}/${p.totalDocs} documents, ${p.tokens.toLocaleString('en-US')} tokens`),
    })
    progress.done()
    if (!this.jsonEnabled()) {
      const d = result.dataset
      const c = paint()
      this.log(`${c.green('prepared')} ${result.dir}  (tokenizer ${d.tokenizer}, vocab ${d.vocab_size}, source ${d.source})`)
      this.log(
        table(
          ['split', 'docs', 'tokens', 'shards', 'size'],
          (['val', 'train'] as const).map((s) => [s, d.docs[s], d.tokens[s], result.files[s].length, formatBytes(result.files[s].length * 1024 + 2 * d.tokens[s])]),
        ),
      )
      for (const s of ['val', 'train'] as const) for (const f of result.files[s]) this.log(`  ${f}`)
    }
    return result
  }
}
