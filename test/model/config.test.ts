import {describe, expect, it} from 'vitest'

import {InputError} from '../../src/errors.js'
import {
  countParams,
  DEFAULT_MODEL_CONFIG,
  globToRegExp,
  modelDims,
  paramSpecs,
  paramTotals,
  resolveModelConfig,
  type ModelConfig,
} from '../../src/model/config.js'

const tiny: ModelConfig = {...DEFAULT_MODEL_CONFIG, vocab_size: 11, model_dim: 8, num_heads: 2, num_kv_heads: 1, unique_blocks: 2, loops: 1}

describe('paramSpecs', () => {
  it('lists the official baseline in state_dict order with its exact parameter count', () => {
    const specs = paramSpecs(DEFAULT_MODEL_CONFIG)
    expect(specs.slice(0, 13).map((s) => `${s.name} [${s.shape}] ${s.group}${s.ternary ? ' T' : ''}`)).toEqual([
      'skip_weights [4,512] scalar',
      'tok_emb.weight [1024,512] embedding',
      'blocks.0.attn_scale [512] scalar',
      'blocks.0.mlp_scale [512] scalar',
      'blocks.0.resid_mix [2,512] scalar',
      'blocks.0.attn.q_gain [8] scalar',
      'blocks.0.attn.c_q.weight [512,512] matrix T',
      'blocks.0.attn.c_k.weight [256,512] matrix T',
      'blocks.0.attn.c_v.weight [256,512] matrix T',
      'blocks.0.attn.proj.weight [512,512] matrix T',
      'blocks.0.mlp.fc.weight [1024,512] matrix T',
      'blocks.0.mlp.proj.weight [512,1024] matrix T',
      'blocks.1.attn_scale [512] scalar',
    ])
    expect(specs.at(-1)!.name).toBe('blocks.8.mlp.proj.weight')
    // 17,059,912 = the `model_params` the official train_gpt.py logs for 9×512 KV4 MLP×2 V1024
    expect(countParams(specs)).toEqual({total: 17_059_912, ternary: 9 * 1_835_008, other: 17_059_912 - 9 * 1_835_008})
  })

  it('paramTotals: the count and the largest tensor of paramSpecs, by arithmetic', () => {
    const variants: ModelConfig[] = [
      DEFAULT_MODEL_CONFIG,
      tiny,
      {...tiny, embed_dim: 6, tie_embeddings: false},
      {...tiny, unique_blocks: 5, loops: 3, x0_mix: false},
      {...tiny, unet_skips: false, mlp_mult: 3, num_kv_heads: 2},
      {...tiny, vocab_size: 3, embed_dim: 40},
    ]
    for (const cfg of variants) {
      const specs = paramSpecs(cfg)
      expect(paramTotals(cfg), JSON.stringify(cfg)).toEqual({total: countParams(specs).total, largest: Math.max(...specs.map((s) => s.shape.reduce((a, b) => a * b, 1)))})
    }
    // a shape far too large to list or build is counted all the same
    expect(paramTotals({...DEFAULT_MODEL_CONFIG, model_dim: 65536}).largest).toBe(65536 * 65536 * 2)
  })

  it('factored and untied: embed_proj [D,E], head_proj [E,D], lm_head [V,E]', () => {
    const specs = paramSpecs({...tiny, embed_dim: 6, tie_embeddings: false})
    const byName = new Map(specs.map((s) => [s.name, s]))
    expect(byName.get('tok_emb.weight')!.shape).toEqual([11, 6])
    expect(byName.get('embed_proj.weight')).toEqual({name: 'embed_proj.weight', shape: [8, 6], group: 'matrix', ternary: false})
    expect(byName.get('head_proj.weight')).toEqual({name: 'head_proj.weight', shape: [6, 8], group: 'matrix', ternary: false})
    expect(byName.get('lm_head.weight')).toEqual({name: 'lm_head.weight', shape: [11, 6], group: 'embedding', ternary: false})
    expect(specs.at(-1)!.name).toBe('lm_head.weight')
  })

  it('depth recurrence: K unique blocks, U-Net skips over the L = K·R applications', () => {
    const cfg = {...tiny, unique_blocks: 2, loops: 3}
    const specs = paramSpecs(cfg)
    const blocks = new Set(specs.filter((s) => s.name.startsWith('blocks.')).map((s) => s.name.split('.')[1]))
    expect([...blocks]).toEqual(['0', '1'])
    expect(specs.find((s) => s.name === 'skip_weights')!.shape).toEqual([3, 8])
    expect(modelDims(cfg).L).toBe(6)
    expect(modelDims({...cfg, loops: 1, unique_blocks: 5}).numSkips).toBe(2) // floor(5/2)
    expect(paramSpecs({...cfg, unet_skips: false}).some((s) => s.name === 'skip_weights')).toBe(false)
    expect(paramSpecs({...cfg, x0_mix: false}).some((s) => s.name.endsWith('resid_mix'))).toBe(false)
  })

  it('marks ternary tensors by glob; scalar-group tensors never', () => {
    const specs = paramSpecs({...tiny, embed_dim: 6}, ['blocks.1.mlp.*', 'blocks.1.mlp.*.weight', '**_proj.weight', '**resid_mix'])
    expect(specs.filter((s) => s.ternary).map((s) => s.name)).toEqual([
      'embed_proj.weight',
      'blocks.1.mlp.fc.weight',
      'blocks.1.mlp.proj.weight',
      'head_proj.weight',
    ])
  })

  it('globs: * stays inside a segment, ** crosses dots, the rest is literal', () => {
    expect(globToRegExp('blocks.*.attn.c_q.weight').test('blocks.12.attn.c_q.weight')).toBe(true)
    expect(globToRegExp('blocks.*.weight').test('blocks.1.attn.c_q.weight')).toBe(false)
    expect(globToRegExp('blocks.**.weight').test('blocks.1.attn.c_q.weight')).toBe(true)
    expect(globToRegExp('tok_emb.weight').test('tok_embXweight')).toBe(false)
  })
})

describe('resolveModelConfig', () => {
  it('merges overrides onto the defaults', () => {
    expect(resolveModelConfig({model_dim: 256, loops: 2})).toEqual({...DEFAULT_MODEL_CONFIG, model_dim: 256, loops: 2})
  })

  it('rejects unknown keys and bad values, naming the key', () => {
    expect(() => resolveModelConfig({n_layer: 3}, 'r.yaml: model')).toThrow(InputError)
    expect(() => resolveModelConfig({n_layer: 3}, 'r.yaml: model')).toThrow(/^r\.yaml: model: unknown config key "n_layer" \(known: vocab_size, /)
    expect(() => resolveModelConfig({num_heads: 3})).toThrow('model.num_heads: must divide model_dim 512, got 3')
    expect(() => resolveModelConfig({num_kv_heads: 3})).toThrow('model.num_kv_heads: must divide num_heads 8, got 3')
    expect(() => resolveModelConfig({model_dim: 24, num_heads: 8})).toThrow('model.num_heads: head_dim model_dim/num_heads = 3 must be even for RoPE')
    expect(() => resolveModelConfig({loops: 0})).toThrow('model.loops: must be a positive integer, got 0')
    expect(() => resolveModelConfig({qk_norm: 'yes'})).toThrow('model.qk_norm: must be true or false, got "yes"')
    expect(() => resolveModelConfig({logit_softcap: -1})).toThrow('model.logit_softcap: must be null or a number >= 0, got -1')
    expect(() => resolveModelConfig({embed_dim: 1.5})).toThrow('model.embed_dim: must be a positive integer, got 1.5')
    expect(resolveModelConfig({logit_softcap: null, embed_dim: 128}).embed_dim).toBe(128)
  })
})
