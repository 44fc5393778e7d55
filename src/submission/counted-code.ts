/**
 * What the counted code ships as, shared by its builder (`src/verify/bundle.ts`), `golf report`
 * and the bundle itself; no dependencies, so any of them can import it.
 *
 * The self-extracting loader tells the bundle it runs what is counted: before importing the
 * decompressed bundle it sets `globalThis[Symbol.for(COUNTED_BYTES_KEY)]` to its own bytes plus
 * the payload's, as measured on disk. The bundle's own module is then the payload, whose size
 * alone is not the count.
 */

/** The files a submission folder holds the counted code in: the loader `node` runs, and the compressed bundle beside it. */
export const COUNTED_CODE_FILES = {loader: 'train_golf.mjs', payload: 'train_golf.br'} as const

export const COUNTED_BYTES_KEY = 'golf.counted_code_bytes'

/** The counted bytes the loader measured, or null when the bundle was not started by it. */
export function loaderCountedBytes(): number | null {
  const v = (globalThis as Record<symbol, unknown>)[Symbol.for(COUNTED_BYTES_KEY)]
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? v : null
}
