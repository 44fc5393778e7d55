/** A fake Hugging Face for download tests: a local HTTP server, never the internet. */
import {createServer, type Server} from 'node:http'
import type {AddressInfo} from 'node:net'
import {encodeShard} from '../../src/data/shard.js'

/** A fake Hugging Face: serves files under /datasets/<repo>/resolve/main/, with Range support. */
export interface FakeHub {
  endpoint: string
  requests: Array<{path: string; range?: string}>
  /** Files whose next `n` responses are cut off halfway. */
  drop: Map<string, number>
  ignoreRange: boolean
  close(): Promise<void>
}

export const REPO = 'willdepueoai/parameter-golf'

function shardBytes(tokens: number[]): Buffer {
  return Buffer.concat(encodeShard(Uint16Array.from(tokens)))
}

export function hubFiles(): Map<string, Buffer> {
  const files = new Map<string, Buffer>()
  const manifest = {
    shard_size: 1000,
    datasets: [
      {name: 'fineweb10B_sp1024', tokenizer_name: 'sp_bpe_1024', vocab_size: 1024, bos_id: 1, stats: {files_train: 3, files_val: 1}},
      {name: 'fineweb10B_byte260', tokenizer_name: 'pure_byte_260', vocab_size: 260, bos_id: 1, stats: {files_train: 1, files_val: 1}},
    ],
    tokenizers: [
      {name: 'sp_bpe_1024', model_path: 'tokenizers/fineweb_1024_bpe.model', vocab_path: 'tokenizers/fineweb_1024_bpe.vocab'},
      {name: 'pure_byte_260', path: 'tokenizers/fineweb_pure_byte_260.json'},
    ],
  }
  files.set('datasets/manifest.json', Buffer.from(JSON.stringify(manifest)))
  const big = Array.from({length: 3000}, (_, i) => (i % 50 === 0 ? 1 : 4 + (i % 900)))
  files.set('datasets/datasets/fineweb10B_sp1024/fineweb_val_000000.bin', shardBytes(big))
  for (let i = 0; i < 3; i++) files.set(`datasets/datasets/fineweb10B_sp1024/fineweb_train_00000${i}.bin`, shardBytes([1, 10 + i, 20, 1, 30]))
  files.set('datasets/tokenizers/fineweb_1024_bpe.model', Buffer.from('model-bytes'))
  files.set('datasets/tokenizers/fineweb_1024_bpe.vocab', Buffer.from('vocab-bytes'))
  files.set('datasets/datasets/fineweb10B_byte260/fineweb_val_000000.bin', shardBytes([1, 100, 101]))
  files.set('datasets/datasets/fineweb10B_byte260/fineweb_train_000000.bin', shardBytes([1, 200]))
  files.set('datasets/tokenizers/fineweb_pure_byte_260.json', Buffer.from('{}'))
  return files
}

export async function startHub(files = hubFiles()): Promise<FakeHub> {
  const prefix = `/datasets/${REPO}/resolve/main/`
  const hub = {requests: [], drop: new Map<string, number>(), ignoreRange: false} as unknown as FakeHub
  const server: Server = createServer((req, res) => {
    const url = decodeURIComponent(req.url ?? '')
    const rel = url.startsWith(prefix) ? url.slice(prefix.length) : ''
    hub.requests.push({path: rel, range: req.headers.range})
    const body = files.get(rel)
    if (!body) {
      res.writeHead(404, 'Not Found').end('missing')
      return
    }
    let start = 0
    const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '')
    if (m && !hub.ignoreRange) {
      start = Number(m[1])
      if (start >= body.length) {
        res.writeHead(416, {'Content-Range': `bytes */${body.length}`}).end()
        return
      }
      res.writeHead(206, {'Content-Length': body.length - start, 'Content-Range': `bytes ${start}-${body.length - 1}/${body.length}`})
    } else {
      res.writeHead(200, {'Content-Length': body.length})
    }
    const left = hub.drop.get(rel) ?? 0
    if (left > 0) {
      hub.drop.set(rel, left - 1)
      const half = start + Math.floor((body.length - start) / 2)
      res.write(body.subarray(start, half), () => setTimeout(() => res.destroy(), 20))
      return
    }
    res.end(body.subarray(start))
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  hub.endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  hub.close = () => new Promise<void>((r) => server.close(() => r()))
  return hub
}
