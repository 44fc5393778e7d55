/**
 * The size lines of a submission's log, in the shape the official `train_gpt.py` prints them
 * after serializing (`Serialized model int8+zlib: N bytes`, `Code size: N bytes`, `Total
 * submission size int8+zlib: N bytes`), golf's artifact named where the official script names
 * int8+zlib. The counted code prints them after packing (src/submission/main.ts); golf report
 * writes them, measured from the files it ships, to the submission folder's `sizes.log`, so that
 * golf verify's folder mode (src/verify/logs.ts) confirms bytes_total and bytes_code.
 */
export const SIZE_FORMAT = 'golf-artifact'

/** The model line, then (when the code's size is known) the code and total lines. */
export function sizeLines(modelBytes: number, codeBytes: number | null): string[] {
  const model = `Serialized model ${SIZE_FORMAT}: ${modelBytes} bytes`
  return codeBytes === null ? [model] : [model, `Code size: ${codeBytes} bytes`, `Total submission size ${SIZE_FORMAT}: ${modelBytes + codeBytes} bytes`]
}
