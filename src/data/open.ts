import {InputError} from '../errors.js'
import {requireStreamBytes, type StreamByteTable} from '../metric/bpb.js'
import {loadTokenizer} from '../tokenizer/index.js'
import {ensureBuiltinDataset, readDatasetInfo, type DatasetInfo} from './dataset.js'

/**
 * A dataset ready for scoring: its folder (the built-in corpus when none is given), checked for
 * both splits, and its tokenizer's official byte table. A dataset with byte sidecars (CaseOps)
 * counts its validation bytes with them: its table then counts nothing alone, only as the
 * `byteTable` that loadValidationSlice binds to the validation tokens (src/metric/bpb.ts).
 */
export async function openDataset(dataDir: string | undefined, onInfo?: (message: string) => void): Promise<{info: DatasetInfo; table: StreamByteTable; tokenizerName: string}> {
  let dir = dataDir
  if (!dir) {
    onInfo?.('no --data given: using the built-in Brown corpus (byte260), prepared once and cached')
    dir = await ensureBuiltinDataset()
  }
  const info = readDatasetInfo(dir)
  if (info.vocabSize === null) throw new InputError(`${dir}: cannot tell the vocabulary size (no dataset.json and an unfamiliar folder name); run golf data prepare or add dataset.json`)
  if (info.files.train.length === 0) throw new InputError(`${dir}: no train shards (fineweb_train_*.bin)`)
  if (info.files.val.length === 0) throw new InputError(`${dir}: no validation shards (fineweb_val_*.bin)`)
  const spec = info.tokenizerPath ?? info.tokenizer
  if (!spec) throw new InputError(`${dir}: no tokenizer recorded; BPB needs the tokenizer's byte table (prepare the data with golf data prepare)`)
  const tokenizer = await loadTokenizer(spec)
  const table = tokenizer.byteTable()
  if (table.vocabSize < info.vocabSize) throw new InputError(`${dir}: tokenizer ${tokenizer.name} has ${table.vocabSize} ids but the dataset's vocabulary is ${info.vocabSize}`)
  return {info, table: info.byteSidecars.length > 0 ? requireStreamBytes(table, info.byteSidecars) : table, tokenizerName: tokenizer.name}
}
