import {Flags} from '@oclif/core'
import {GolfCommand} from '../../src/cli/base-command.js'
import {onInterrupt} from '../../src/cli/interrupt.js'
import {formatDuration, paint, progressReporter} from '../../src/cli/output.js'
import {auditLeakage, describeLeakage, MIN_DOC_TOKENS, type LeakageResult} from '../../src/data/leakage.js'
import {ensureBuiltinDataset} from '../../src/data/dataset.js'
import {CheckFailedError, GolfError} from '../../src/errors.js'

export default class DataAudit extends GolfCommand {
  static override summary = 'Count the validation documents that are also in the training shards.'
  static override description = `Hashes every validation document (the tokens after its BOS), streams the training shards document by document, and looks each one up; a hash hit counts only when the two documents are equal token for token, so there are no false positives. Memory stays bounded (one 8 MiB chunk, plus a key per validation document): the 80 FineWeb train shards are never held at once.

Documents shorter than --min-tokens (default ${MIN_DOC_TOKENS}) are not looked up: short boilerplate repeats across unrelated pages. Exit 1 when any validation document is found in the training shards, 2 on bad input (a missing folder, a shard with a bad header). Ctrl-C stops the scan after the chunk being read: what was scanned is printed, marked incomplete, and the exit code is 130.`

  static override examples = [
    '<%= config.bin %> <%= command.id %> --data data/datasets/fineweb10B_sp1024',
    `<%= config.bin %> <%= command.id %> --data ~/.cache/golf/datasets/brown_byte260 --json`,
  ]

  static override flags = {
    data: Flags.string({description: 'Dataset folder (default: the built-in corpus, prepared once and cached).'}),
    'min-tokens': Flags.integer({description: 'Shortest document looked up, in tokens after the BOS.', default: MIN_DOC_TOKENS, min: 1}),
  }

  async run(): Promise<LeakageResult> {
    const {flags} = await this.parse(DataAudit)
    const progress = progressReporter({quiet: this.jsonEnabled()})
    const interrupt = onInterrupt(progress, 'stopping the scan after this chunk')
    let result: LeakageResult
    try {
      const started = Date.now()
      const dir = flags.data ?? (await ensureBuiltinDataset())
      result = await auditLeakage(dir, {
        minTokens: flags['min-tokens'],
        shouldStop: interrupt.requested,
        onProgress: (p) => {
          const elapsed = (Date.now() - started) / 1000
          if (elapsed < 1) return // a small dataset is done before progress is worth printing
          const pct = p.total > 0 ? ` (${((100 * p.tokens) / p.total).toFixed(1)}%)` : ''
          progress.update(`${p.split === 'val' ? 'hashing validation' : 'scanning train'} shard ${p.file + 1}/${p.files}: ${p.tokens.toLocaleString('en-US')}/${p.total.toLocaleString('en-US')} tokens${pct}, ${p.found} found, ${formatDuration(elapsed)}`)
        },
      })
    } finally {
      interrupt.release()
      progress.done()
    }
    if (!this.jsonEnabled()) {
      const c = paint()
      this.log(`${result.dataset}`)
      this.log(describeLeakage(result))
      for (const e of result.examples) this.log(`  validation document ${e.val_doc} (${e.val_shard} @${e.val_pos}, ${e.tokens.toLocaleString('en-US')} tokens) = ${e.train_shard} @${e.train_pos}`)
      if (result.found > result.examples.length) this.log(`  … ${(result.found - result.examples.length).toLocaleString('en-US')} more`)
      this.log(c.dim(`${result.seconds.toFixed(1)} s, ${Math.round(result.tokens_per_s).toLocaleString('en-US')} tokens/s`))
      if (result.found === 0) this.log(result.complete ? c.green('no validation document in the training shards') : c.yellow('incomplete: stopped before the end'))
    }
    // leaked documents: exit 1; stopped early: 130, as for a Ctrl-C (what was scanned says nothing of the rest)
    const exit = result.found > 0 ? 1 : result.complete ? 0 : 130
    if (exit !== 0) {
      if (this.jsonEnabled()) {
        // --json prints the result either way; the exit code says what it means
        process.stdout.write(JSON.stringify(result, null, 2) + '\n')
        this.exit(exit)
      }
      if (exit === 1) throw new CheckFailedError(`${result.found.toLocaleString('en-US')} of ${result.val.docs_checked.toLocaleString('en-US')} validation documents are in the training shards${result.complete ? '' : ' (and the scan was stopped before the end)'}`)
      throw new GolfError('interrupted: the audit was stopped before the end of the training shards', 130)
    }
    return result
  }
}
