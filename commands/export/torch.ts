import {Flags} from '@oclif/core'

import {GolfCommand} from '../../src/cli/base-command.js'
import {formatBytes} from '../../src/cli/output.js'
import {TORCH_EXPORT_SCOPE, writeTorchExport, type TorchExportResult} from '../../src/export/torch/export.js'
import {SELF_EXTRACT_FORMAT} from '../../src/export/torch/self-extract.js'
import {loadRecipe, recipeFiles} from '../../src/recipe/recipe.js'

export default class ExportTorch extends GolfCommand {
  static override summary = "Write a recipe's model, quantizer and trainer as one PyTorch file, train_gpt.py, for python or torchrun."
  static override description = [
    "The file holds golf's GPT (golf's parameter names, which are the official train_gpt.py state_dict names), golf's ternary quantizer and its float-storage simulation, golf's optimizers (Muon, NorMuon, AdamW groups) and schedule, the official shard loader, a training loop that writes a golf run folder, and a reader for golf's .golf artifacts, for PyTorch >= 1.13 and numpy. Its header is the resolved recipe: a diff of two exports is a diff of their recipes.",
    `What it does today: it ${TORCH_EXPORT_SCOPE}.`,
    '  python train_gpt.py train --data DATASET_DIR --out runs/t [--seed 1337] [--max-steps N]',
    '  torchrun --nproc_per_node 8 train_gpt.py train --data DATASET_DIR --out runs/t   (NCCL on CUDA, gloo on CPU; rank 0 writes the run)',
    '  golf pack runs/t -o runs/t.golf && golf verify --run runs/t --artifact runs/t.golf',
    '  python train_gpt.py forward --weights checkpoint.safetensors --tokens x.safetensors --out logits.safetensors',
    '  python train_gpt.py quantize --weights checkpoint.safetensors --out stored.safetensors',
    '  python train_gpt.py eval --artifact model.golf --data DATASET_DIR',
    `With --compressed the file is the records' self-extracting form: two lines that decompress the source (${SELF_EXTRACT_FORMAT}: golf's lzma, base85 in a string literal) and exec it: ~35% of the raw size, and it runs exactly as the raw file does (the wrapper itself needs only Python's stdlib); the result gives both sizes.`,
    "golf's tests run it against golf on the same weights: logits within 1e-4; identical trits, scales and stored floats; one optimizer step within 1e-4; the training losses of the first steps within 1e-3; artifacts decoded bit for bit; val_bpb within 1e-6.",
  ].join('\n')
  static override examples = [
    '<%= config.bin %> <%= command.id %> --recipe tiny-cpu --out train_gpt.py',
    '<%= config.bin %> <%= command.id %> --recipe ternary-unet-10l-768d --set quant.scale_format=bf16 --out train_gpt.py --json',
    '<%= config.bin %> <%= command.id %> --recipe ternary-unet-10l-768d --compressed --out submissions/mine/train_gpt.py',
  ]

  static override flags = {
    recipe: Flags.string({char: 'r', description: 'Built-in recipe name or YAML file.', required: true}),
    set: Flags.string({description: 'Override a recipe key, key=value (repeatable).', multiple: true}),
    out: Flags.string({char: 'o', description: 'Python file to write.', default: 'train_gpt.py'}),
    force: Flags.boolean({description: 'Overwrite --out if it is a file golf export torch wrote.'}),
    compressed: Flags.boolean({description: 'Write the self-extracting form (LZMA + base85 wrapper, as the records count their code) instead of the raw file.'}),
  }

  async run(): Promise<TorchExportResult> {
    const {flags} = await this.parse(ExportTorch)
    const recipe = loadRecipe(flags.recipe, flags.set ?? [])
    const inputs = recipeFiles(flags.recipe).map((path) => ({path, what: 'the recipe'}))
    const result = writeTorchExport(recipe, flags.out, {force: flags.force, compressed: flags.compressed, inputs})
    if (!this.jsonEnabled()) {
      const {raw, compressed} = result
      const size = `${result.bytes.toLocaleString('en-US')} bytes (${formatBytes(result.bytes)})`
      this.log(raw && compressed ? `${result.out}: recipe ${result.recipe}, ${size}, self-extracting: ${raw.lines.toLocaleString('en-US')} lines, ${raw.bytes.toLocaleString('en-US')} bytes raw (${compressed.format})` : `${result.out}: recipe ${result.recipe}, ${result.lines.toLocaleString('en-US')} lines, ${size}`)
      this.log(`it ${result.scope}`)
    }
    return result
  }
}
