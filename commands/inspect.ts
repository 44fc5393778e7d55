import {Args} from '@oclif/core'

import {GolfCommand} from '../src/cli/base-command.js'
import {formatBytes, table} from '../src/cli/output.js'
import {readArtifactFile} from '../src/pack/artifact.js'
import {inspectArtifact, type ArtifactInspection} from '../src/pack/unpack.js'

export default class Inspect extends GolfCommand {
  static override summary = 'Show what an artifact holds: model config, quantizer settings, tensors, sizes.'
  static override description = 'Verifies the checksum and decodes every tensor (so a file that inspects fine also unpacks), then prints the manifest summary.'
  static override examples = ['<%= config.bin %> <%= command.id %> model.golf', '<%= config.bin %> <%= command.id %> model.golf --json']

  static override args = {
    artifact: Args.string({description: 'Artifact written by golf pack.', required: true}),
  }

  async run(): Promise<ArtifactInspection> {
    const {args} = await this.parse(Inspect)
    const r = inspectArtifact(readArtifactFile(args.artifact), args.artifact)
    if (!this.jsonEnabled()) {
      this.log(`${args.artifact}: golf artifact v${r.version}, ${r.artifact_bytes.toLocaleString('en-US')} bytes (${formatBytes(r.artifact_bytes)}), ${r.compress}, checksum ${r.checksum}`)
      this.log(`body ${r.body_bytes.toLocaleString('en-US')} bytes, manifest ${r.manifest_bytes.toLocaleString('en-US')} bytes; ${r.params.toLocaleString('en-US')} params (${r.ternary_params.toLocaleString('en-US')} ternary)`)
      this.log(`model: ${JSON.stringify(r.model)}`)
      this.log(`quant: ${JSON.stringify(r.quant)}`)
      this.log('')
      this.log(
        table(
          ['tensor', 'shape', 'kind', 'codec', 'params', 'bytes', 'bits/param'],
          r.tensors.map((t) => [t.name, `[${t.shape.join(', ')}]`, t.kind, t.codec + (t.scale_format ? `/${t.scale_format}` : ''), t.params, t.bytes, t.bits_per_param.toFixed(3)]),
        ),
      )
    }
    return r
  }
}
