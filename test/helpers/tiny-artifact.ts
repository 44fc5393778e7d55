/** Artifacts of a tiny model whose manifest records any config: for tests of a config that disagrees with its tensors. */
import {DEFAULT_MODEL_CONFIG, type ModelConfig, paramSpecs} from '../../src/model/config.js'
import {writeArtifact, type ArtifactTensorInput} from '../../src/pack/artifact.js'

/** 260 ids (byte260), D 8, 2 heads, 1 KV head, MLP×2, two blocks (one U-Net skip). */
export const SMALL: ModelConfig = {...DEFAULT_MODEL_CONFIG, vocab_size: 260, model_dim: 8, num_heads: 2, num_kv_heads: 1, mlp_mult: 2, unique_blocks: 2, loops: 1}

/** SMALL's parameters: zeros, stored f32. */
export function smallTensors(): ArtifactTensorInput[] {
  return paramSpecs(SMALL, []).map((s) => ({name: s.name, shape: s.shape, kind: 'float', data: new Float32Array(s.shape.reduce((a, b) => a * b, 1)), dtype: 'f32'}))
}

/** An artifact whose manifest records `config` (seq_len 16, byte260) over `tensors` (default: SMALL's). */
export function artifactWith(config: ModelConfig, tensors: ArtifactTensorInput[] = smallTensors()): Uint8Array {
  return writeArtifact({model: {config, seq_len: 16, vocab_size: 260, tokenizer: 'byte260'}, quant: {}, tensors, compress: 'none'}).bytes
}
