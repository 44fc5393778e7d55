import {mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'
import {InputError} from '../../src/errors.js'
import {
  HEADER_BYTES,
  isByteSidecar,
  listByteSidecars,
  listShards,
  readShard,
  readShardHeader,
  shardFileName,
  ShardStreamReader,
  ShardWriter,
  splitOfShard,
  writeShard,
} from '../../src/data/shard.js'

let dir: string
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'golf-shard-'))
})
afterEach(() => rmSync(dir, {recursive: true, force: true}))

/** A reader written from the spec, independent of src/: DataView, little-endian. */
function referenceRead(bytes: Uint8Array): {header: number[]; tokens: number[]} {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const header = Array.from({length: 256}, (_, i) => view.getInt32(4 * i, true))
  const tokens = Array.from({length: header[2]}, (_, i) => view.getUint16(1024 + 2 * i, true))
  return {header, tokens}
}

function headerBytes(words: number[]): Buffer {
  const b = Buffer.alloc(1024)
  words.forEach((w, i) => b.writeInt32LE(w, 4 * i))
  return b
}

describe('shard format', () => {
  it('writes the exact bytes of a tiny shard', () => {
    const path = join(dir, 'tiny.bin')
    writeShard(path, Uint16Array.from([1, 0x0102, 0xffff]))
    const bytes = readFileSync(path)
    expect(bytes.length).toBe(1024 + 6)
    // magic 20240520 = 0x0134D888, version 1, count 3, all little-endian
    expect(bytes.subarray(0, 12).toString('hex')).toBe('88d83401' + '01000000' + '03000000')
    expect(bytes.subarray(12, 1024).every((b) => b === 0)).toBe(true)
    expect(bytes.subarray(1024).toString('hex')).toBe('0100' + '0201' + 'ffff')
  })

  it('matches an independent reader byte for byte', () => {
    const tokens = new Uint16Array(5000)
    for (let i = 0; i < tokens.length; i++) tokens[i] = (i * 7919) % 65536
    const path = join(dir, 'fineweb_val_000000.bin')
    writeShard(path, tokens)
    const ref = referenceRead(readFileSync(path))
    expect(ref.header.slice(0, 3)).toEqual([20240520, 1, 5000])
    expect(ref.header.slice(3).every((w) => w === 0)).toBe(true)
    expect(ref.tokens).toEqual(Array.from(tokens))
    expect(Array.from(readShard(path))).toEqual(Array.from(tokens))
    expect(readShardHeader(path)).toEqual({version: 1, tokenCount: 5000, fileBytes: 1024 + 10000})
  })

  it('reads a shard written by hand (as numpy would)', () => {
    const path = join(dir, 'hand.bin')
    const body = Buffer.alloc(4)
    body.writeUInt16LE(260, 0)
    body.writeUInt16LE(7, 2)
    writeFileSync(path, Buffer.concat([headerBytes([20240520, 1, 2]), body]))
    expect(Array.from(readShard(path))).toEqual([260, 7])
  })

  it('roundtrips an empty shard', () => {
    const path = join(dir, 'empty.bin')
    writeShard(path, new Uint16Array(0))
    expect(readFileSync(path).length).toBe(HEADER_BYTES)
    expect(readShard(path).length).toBe(0)
  })

  it('leaves no temporary files behind', () => {
    writeShard(join(dir, 'a.bin'), Uint16Array.from([1, 2]))
    expect(readdirSync(dir)).toEqual(['a.bin'])
  })
})

describe('shard errors name the file and the problem', () => {
  const cases: Array<[string, Buffer, RegExp]> = [
    ['short', Buffer.alloc(100), /too short for the 1024-byte header \(file has 100 bytes\)/],
    ['magic', Buffer.concat([headerBytes([12345, 1, 0])]), /wrong magic 12345 \(expected 20240520\)/],
    ['version', Buffer.concat([headerBytes([20240520, 2, 0])]), /unsupported version 2 \(expected 1\)/],
    ['size', Buffer.concat([headerBytes([20240520, 1, 10]), Buffer.alloc(6)]), /header says 10 tokens \(1044 bytes\) but file has 1030 bytes/],
  ]
  for (const [name, bytes, message] of cases) {
    it(name, () => {
      const path = join(dir, `${name}.bin`)
      writeFileSync(path, bytes)
      expect(() => readShard(path)).toThrow(InputError)
      expect(() => readShard(path)).toThrow(message)
      expect(() => readShard(path)).toThrow(path)
      expect(() => readShardHeader(path)).toThrow(message)
    })
  }

  it('token id out of vocabulary: says id and position', () => {
    const path = join(dir, 'vocab.bin')
    writeShard(path, Uint16Array.from([1, 5, 259, 260, 3]))
    expect(() => readShard(path, {vocabSize: 260})).toThrow(/token id 260 at position 3 is out of range for vocab size 260/)
    expect(readShard(path, {vocabSize: 261}).length).toBe(5)
  })

  it('missing file', () => {
    expect(() => readShard(join(dir, 'nope.bin'))).toThrow(/shard not found: .*nope\.bin/)
  })
})

describe('names and listing', () => {
  it('formats 6-digit names', () => {
    expect(shardFileName('train', 0)).toBe('fineweb_train_000000.bin')
    expect(shardFileName('val', 42)).toBe('fineweb_val_000042.bin')
    expect(splitOfShard('x/fineweb_val_000001.bin')).toBe('val')
    expect(splitOfShard('fineweb_train_000001.bin')).toBe('train')
    expect(splitOfShard('tokens.bin')).toBeNull()
    // a CaseOps byte sidecar holds byte counts, not tokens of a split
    expect(splitOfShard('x/fineweb_val_bytes_000000.bin')).toBeNull()
    expect(isByteSidecar('x/fineweb_val_bytes_000000.bin')).toBe(true)
    expect(isByteSidecar('fineweb_val_000000.bin')).toBe(false)
  })

  it('the validation listing leaves the byte sidecars out; they are listed on their own', () => {
    const d = mkdtempSync(join(tmpdir(), 'golf-sidecar-list-'))
    try {
      for (const n of ['fineweb_val_000001.bin', 'fineweb_val_000000.bin', 'fineweb_val_bytes_000001.bin', 'fineweb_val_bytes_000000.bin', 'fineweb_train_000000.bin']) writeFileSync(join(d, n), '')
      const names = (files: string[]) => files.map((p) => p.slice(d.length + 1))
      expect(names(listShards(d, 'val'))).toEqual(['fineweb_val_000000.bin', 'fineweb_val_000001.bin'])
      expect(names(listShards(d, 'train'))).toEqual(['fineweb_train_000000.bin'])
      expect(names(listByteSidecars(d))).toEqual(['fineweb_val_bytes_000000.bin', 'fineweb_val_bytes_000001.bin'])
      expect(listByteSidecars(dir)).toEqual([])
    } finally {
      rmSync(d, {recursive: true, force: true})
    }
  })

  it('lists a split like sorted(glob("fineweb_{split}_*.bin"))', () => {
    for (const n of ['fineweb_train_000002.bin', 'fineweb_train_000000.bin', 'fineweb_val_000000.bin', 'fineweb_train_000001.bin.part', 'fineweb_train_000010.bin', 'other.bin']) {
      writeFileSync(join(dir, n), '')
    }
    expect(listShards(dir, 'train').map((p) => p.slice(dir.length + 1))).toEqual([
      'fineweb_train_000000.bin',
      'fineweb_train_000002.bin',
      'fineweb_train_000010.bin',
    ])
    expect(listShards(dir, 'val').map((p) => p.slice(dir.length + 1))).toEqual(['fineweb_val_000000.bin'])
    expect(() => listShards(join(dir, 'missing'), 'train')).toThrow(/dataset folder not found/)
  })
})

describe('ShardWriter', () => {
  it('splits documents across shard boundaries like the official exporter', () => {
    const w = new ShardWriter(dir, 'train', {shardTokens: 4})
    w.add([1, 10, 11]) // 3 tokens
    w.add(Uint16Array.from([1, 20, 21, 22, 23])) // 5 tokens: fills shard 0, all of shard 1
    w.add([1, 30]) // 2 tokens: shard 2 (partial)
    const r = w.close()
    expect(r).toEqual({split: 'train', files: [0, 1, 2].map((i) => join(dir, shardFileName('train', i))), docs: 3, tokens: 10})
    expect(Array.from(readShard(r.files[0]))).toEqual([1, 10, 11, 1])
    expect(Array.from(readShard(r.files[1]))).toEqual([20, 21, 22, 23])
    expect(Array.from(readShard(r.files[2]))).toEqual([1, 30])
  })

  it('writes no empty trailing shard and grows its buffer past the initial size', () => {
    const w = new ShardWriter(dir, 'val', {shardTokens: 100_000})
    const doc = new Uint16Array(70_000).fill(9)
    doc[0] = 1
    w.add(doc)
    w.add(doc)
    const r = w.close()
    expect(r.files.length).toBe(2)
    expect(readShardHeader(r.files[0]).tokenCount).toBe(100_000)
    expect(readShardHeader(r.files[1]).tokenCount).toBe(40_000)
    expect(readShard(r.files[0])[70_000]).toBe(1) // the second document starts in shard 0 …
    expect(readShard(r.files[1]).every((t) => t === 9)).toBe(true) // … and ends in shard 1
  })

  it('rejects ids that do not fit uint16', () => {
    const w = new ShardWriter(dir, 'train', {shardTokens: 8})
    expect(() => w.add([1, 70000])).toThrow(/does not fit in uint16/)
  })
})

describe('ShardStreamReader', () => {
  const write = (counts: number[]) => {
    let next = 0
    return counts.map((n, i) => {
      const path = join(dir, shardFileName('train', i))
      writeShard(path, Uint16Array.from({length: n}, () => next++))
      return path
    })
  }

  it('reads the shards as one stream: chunks in order (empty shards skipped), any span across shard ends', () => {
    const files = write([5, 0, 7, 3])
    const r = new ShardStreamReader(files)
    try {
      expect([r.tokens, r.counts, r.starts]).toEqual([15, [5, 0, 7, 3], [0, 5, 5, 12]])
      const seen: Array<[number, number, number, number[]]> = []
      for (const c of r.chunks(4)) seen.push([c.file, c.pos, c.start, Array.from(c.tokens)])
      expect(seen).toEqual([
        [0, 0, 0, [0, 1, 2, 3]],
        [0, 4, 4, [4]],
        [2, 0, 5, [5, 6, 7, 8]],
        [2, 4, 9, [9, 10, 11]],
        [3, 0, 12, [12, 13, 14]],
      ])
      expect(Array.from(r.read(3, new Uint16Array(11)))).toEqual([3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13])
      expect(Array.from(r.read(14, new Uint16Array(1)))).toEqual([14])
      expect(r.locate(5)).toEqual({file: 2, pos: 0})
      expect(r.locate(12)).toEqual({file: 3, pos: 0})
      expect(() => r.read(10, new Uint16Array(6))).toThrow(RangeError)
    } finally {
      r.close()
    }
  })

  it('checks every header when made: a bad shard is named before any token is read', () => {
    const files = write([4, 4])
    writeFileSync(files[1], Buffer.alloc(1024 + 3))
    expect(() => new ShardStreamReader(files)).toThrow(`shard ${files[1]}: wrong magic 0 (expected 20240520); not a shard file`)
  })
})
