import * as tf from '@tensorflow/tfjs-core'

/**
 * Peak bytes of live tensor data (each data buffer once) while `fn` runs, above what was live
 * before. `tf.memory().numBytes` counts every tensor object (the clones a tape saves, every
 * reshape) and so overstates the heap; this hooks the engine where a data buffer is created and
 * freed instead.
 */
export function measurePeak(fn: () => void): number {
  const eng = tf.engine() as unknown as {
    state: {tensorInfo: WeakMap<object, {bytes: number}>}
    trackTensor: (t: {dataId: object}, b: unknown) => void
    removeDataId: (d: object, b: unknown) => void
  }
  const track = eng.trackTensor
  const remove = eng.removeDataId
  let live = 0
  let peak = 0
  eng.trackTensor = function (t, b) {
    const fresh = !eng.state.tensorInfo.has(t.dataId)
    track.call(eng, t, b)
    if (fresh) peak = Math.max(peak, (live += eng.state.tensorInfo.get(t.dataId)!.bytes))
  }
  eng.removeDataId = function (d, b) {
    live -= eng.state.tensorInfo.get(d)?.bytes ?? 0
    remove.call(eng, d, b)
  }
  try {
    fn()
  } finally {
    eng.trackTensor = track
    eng.removeDataId = remove
  }
  return peak
}
