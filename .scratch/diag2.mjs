import * as tf from '@tensorflow/tfjs-core'
import {initBackend} from '/work/main/dist/src/backend/index.js'
import {loadRunModel} from '/work/main/dist/src/run/load.js'
await initBackend('wasm', {quiet: true})
const {model} = loadRunModel(process.argv[2])
const M = model.cfg.vocab_size - 1
const T = 16
const a = Array.from({length: T}, (_, i) => 40 + i)
a[8] = M
const b = [...a]; b[7] = 100
const opts = {causal: false, suppress: M}
const la = model.forward(tf.tensor2d([a], [1, T], 'int32'), opts).arraySync()[0]
const lb = model.forward(tf.tensor2d([b], [1, T], 'int32'), opts).arraySync()[0]
let d = 0; for (let v = 0; v < la[8].length - 1; v++) d = Math.max(d, Math.abs(la[8][v] - lb[8][v]))
console.log('max |Δ logit| at masked pos 8 when pos 7 changes:', d)
// weights magnitudes
for (const [n, v] of model.params) if (n.includes('blocks.0.attn') || n.includes('proj')) { const x = v.dataSync(); let s=0; for (const y of x) s+=y*y; console.log(n, Math.sqrt(s/x.length).toExponential(2)) }
