import {Args, Flags} from '@oclif/core'
import {GolfCommand} from '../../src/cli/base-command.js'
import {paint, table} from '../../src/cli/output.js'
import {inspectData, type InspectResult} from '../../src/data/inspect.js'
import {formatAudit} from '../../src/tokenizer/audit.js'

export default class DataInspect extends GolfCommand {
  static override summary = 'Count shards, tokens, documents and metric bytes of a dataset or shard.'
  static override description = `Per split: shard files, tokens, documents (BOS count) and the bytes the official metric credits to the split's targets (every token but the first of the split's stream). The tokenizer comes from --tokenizer, else the dataset's dataset.json, else byte260 when every id fits.

A dataset with byte sidecars (fineweb_val_bytes_*.bin, written by CaseOps tokenizers) has its validation bytes counted from them, as every golf score of it is: the listing says so and gives the byte table's count beside them (--json: byte_sidecars, splits.val.bytes_table).

--audit also decodes every document with the tokenizer and compares the byte table with the decoded UTF-8 length. A non-zero difference is reported (in colour on a terminal) but is information, not a failure: the exit code stays 0.`

  static override examples = [
    '<%= config.bin %> <%= command.id %> data/brown_byte260',
    '<%= config.bin %> <%= command.id %> data/datasets/fineweb10B_sp1024/fineweb_val_000000.bin --audit',
    '<%= config.bin %> <%= command.id %> data/notes --tokenizer tokenizers/fineweb_1024_bpe.model --json',
  ]

  static override args = {
    path: Args.string({description: 'Dataset folder or shard file.', required: true}),
  }

  static override flags = {
    tokenizer: Flags.string({description: "'byte260' or a SentencePiece .model file (default: from dataset.json)."}),
    audit: Flags.boolean({description: 'Check the byte table against the decoded text, document by document.'}),
  }

  async run(): Promise<InspectResult> {
    const {args, flags} = await this.parse(DataInspect)
    const result = await inspectData(args.path, {tokenizer: flags.tokenizer, audit: flags.audit})
    if (!this.jsonEnabled()) {
      const c = paint()
      this.log(`${result.path}  (${result.kind}; tokenizer ${result.tokenizer}, vocab ${result.vocab_size})`)
      const splits = (['val', 'train'] as const).filter((s) => result.splits[s].files > 0)
      const header = ['split', 'files', 'tokens', 'docs', 'bytes', 'tokens/byte']
      if (flags.audit) header.push('bytes decoded', 'diff')
      this.log(
        table(
          header,
          splits.map((s) => {
            const r = result.splits[s]
            const row: Array<string | number> = [s, r.files, r.tokens, r.docs, r.bytes, r.bytes > 0 ? (Math.max(0, r.tokens - 1) / r.bytes).toFixed(4) : '-']
            if (r.audit) row.push(r.audit.bytes_decoded, r.audit.diff)
            return row
          }),
        ),
      )
      const sc = result.byte_sidecars
      if (sc) {
        const files = `${sc.files.length === 1 ? sc.files[0] : `${sc.files[0]} … ${sc.files.at(-1)}`} (${sc.counts} byte counts)`
        const tableBytes = result.splits.val.bytes_table
        this.log(
          sc.used
            ? `val bytes: from the byte sidecars ${files}, as every score of this dataset counts them${tableBytes === undefined ? '' : `; the byte table would count ${tableBytes}`}`
            : `byte sidecars ${files} beside this shard: the bytes above are the byte table's; inspect the dataset folder for the sidecars' count`,
        )
      }
      if (flags.audit) {
        for (const s of splits) {
          const a = result.splits[s].audit
          if (!a) continue
          const lines = formatAudit(a)
          const colour = a.diff === 0 ? c.green : c.yellow
          this.log(`${s}: ${colour(lines[0])}`)
          for (const line of lines.slice(1)) this.log(`  ${line}`)
        }
      }
    }
    return result
  }
}
