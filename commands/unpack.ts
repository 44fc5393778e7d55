import {Args, Flags} from '@oclif/core'

import {GolfCommand} from '../src/cli/base-command.js'
import {checkOutputFile} from '../src/io/output.js'
import {readArtifactFile} from '../src/pack/artifact.js'
import {UNPACK_OUTPUT, unpackToSafetensors} from '../src/pack/unpack.js'

export interface UnpackResult {
  artifact: string
  out: string
  tensors: number
  params: number
}

export default class Unpack extends GolfCommand {
  static override summary = 'Write an artifact\'s weights as a float32 safetensors file.'
  static override description =
    'Ternary tensors come out as q·d exactly (what the training forward pass used), float tensors as their stored values. The manifest JSON is kept in the safetensors metadata under golf_manifest. The checksum is verified before anything is decoded.'
  static override examples = ['<%= config.bin %> <%= command.id %> model.golf --out checkpoint.safetensors']

  static override args = {
    artifact: Args.string({description: 'Artifact written by golf pack.', required: true}),
  }

  static override flags = {
    out: Flags.string({char: 'o', description: 'Safetensors file to write.', required: true}),
    force: Flags.boolean({description: 'Overwrite --out if it is a safetensors file golf unpack wrote.'}),
  }

  async run(): Promise<UnpackResult> {
    const {args, flags} = await this.parse(Unpack)
    checkOutputFile(flags.out, {inputs: [{path: args.artifact, what: 'the artifact'}], force: flags.force, own: UNPACK_OUTPUT})
    const {tensors, params} = unpackToSafetensors(readArtifactFile(args.artifact), flags.out, {source: args.artifact})
    if (!this.jsonEnabled()) this.log(`wrote ${flags.out}: ${tensors} tensors, ${params.toLocaleString('en-US')} float32 values`)
    return {artifact: args.artifact, out: flags.out, tensors, params}
  }
}
