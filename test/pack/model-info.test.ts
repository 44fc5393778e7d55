/**
 * An artifact's model section against its tensor table: a config that disagrees with the tensors
 * (another width, a tensor missing or extra, a depth no table could hold) is refused in one line
 * naming the file and the tensor, before any tensor is decoded or a model of the config's size
 * is built.
 */
import {beforeAll, describe, expect, it} from 'vitest'

import {initBackend} from '../../src/backend/index.js'
import {InputError} from '../../src/errors.js'
import {readArtifactManifest, type ArtifactTensorInput} from '../../src/pack/artifact.js'
import {artifactModelInfo} from '../../src/pack/model-info.js'
import {rebuildFromArtifact} from '../../src/submission/rebuild.js'
import {artifactWith, SMALL, smallTensors} from '../helpers/tiny-artifact.js'

const infoOf = (bytes: Uint8Array) => artifactModelInfo(readArtifactManifest(bytes, {source: 'm.golf'}).manifest, 'm.golf')

describe('artifactModelInfo: the tensor table against model.config', () => {
  it('accepts a table that is exactly the config\'s parameters', () => {
    expect(infoOf(artifactWith(SMALL)).config).toEqual(SMALL)
  })

  it('a tensor of another shape: one line naming the file, the tensor and both shapes', () => {
    const read = () => infoOf(artifactWith({...SMALL, model_dim: 65536}))
    expect(read).toThrow(InputError)
    expect(read).toThrow(/^m\.golf: tensor "skip_weights" has shape \[1, 8\] in the tensor table, model\.config needs \[1, 65536\]$/)
    expect(() => infoOf(artifactWith({...SMALL, mlp_mult: 3}))).toThrow(/^m\.golf: tensor "blocks\.0\.mlp\.fc\.weight" has shape \[16, 8\] in the tensor table, model\.config needs \[24, 8\]$/)
  })

  it('a tensor missing from the table, or one the config has no parameter for', () => {
    expect(() => infoOf(artifactWith({...SMALL, tie_embeddings: false}))).toThrow(/^m\.golf: tensor "lm_head\.weight" is missing from the tensor table: model\.config needs it, shape \[260, 8\]$/)
    const extra: ArtifactTensorInput = {name: 'extra.weight', shape: [2], kind: 'float', data: new Float32Array(2), dtype: 'f32'}
    expect(() => infoOf(artifactWith(SMALL, [...smallTensors(), extra]))).toThrow(/^m\.golf: tensor "extra\.weight" in the tensor table is not a parameter of the model model\.config describes$/)
  })

  it('a depth no table holds is refused by its count, without listing its parameters', () => {
    expect(() => infoOf(artifactWith({...SMALL, unique_blocks: 100_000_000}))).toThrow(/^m\.golf: model\.config describes 1,000,000,002 tensors \(unique_blocks 100000000\), the tensor table holds 22$/)
  })
})

describe('rebuildFromArtifact', () => {
  beforeAll(async () => {
    await initBackend('wasm', {quiet: true})
  })

  it('refuses a config wider than its tensors before building the model', () => {
    // model_dim 2048 would be a ~90M-parameter model built only to find its tensors are 8 wide
    expect(() => rebuildFromArtifact(artifactWith({...SMALL, model_dim: 2048}), {source: 'wide.golf'})).toThrow(/^wide\.golf: tensor "skip_weights" has shape \[1, 8\] in the tensor table, model\.config needs \[1, 2048\]$/)
    const {model} = rebuildFromArtifact(artifactWith(SMALL), {source: 'ok.golf'})
    expect(model.cfg).toEqual(SMALL)
    model.dispose()
  })
})
