/**
 * Shared pieces of the fuzz tests (test/fuzz/*.fuzz.test.ts): how many runs, the one contract
 * every decoder of a user-supplied file must keep, mutations of valid files, and a tally of the
 * inputs tried per decoder (printed when a file finishes).
 *
 * The contract: for any input, a decoder returns (and what it returns is within the limits it
 * was given) or throws an InputError whose message is one line. Any other exception — a
 * RangeError from an allocation, a TypeError from a field of the wrong type — is a bug, and so is
 * a run slower than RUN_TIME_BOUND_MS (a hang, or work not bounded by the input).
 *
 * Sizing: the defaults keep the whole fuzz set to a few seconds per file in `npm test`;
 * `npm run fuzz` sets GOLF_FUZZ_RUNS (runs per property) much higher.
 */
import fc from 'fast-check'
import {afterAll, expect} from 'vitest'

import {InputError} from '../../src/errors.js'
import {concatArrays} from '../../src/util/concat.js'

/**
 * Runs per property: the property's small CI default, or with GOLF_FUZZ_RUNS set, that many
 * times `scale` (never fewer than the default). `scale` < 1 marks a costly run (spawning xz,
 * LZMA-JS, loading the wasm tokenizer) so that `npm run fuzz` stays within minutes.
 */
export function runs(ciDefault: number, scale = 1): number {
  const env = Number(process.env.GOLF_FUZZ_RUNS)
  return Number.isSafeInteger(env) && env > 0 ? Math.max(ciDefault, Math.round(env * scale)) : ciDefault
}

/** Longest a single decode may take. Typical runs take well under 10 ms; this is for a loaded CI machine. */
export const RUN_TIME_BOUND_MS = Number(process.env.GOLF_FUZZ_RUN_MS) || 3000

const tally = new Map<string, {tried: number; refused: number}>()
afterAll(() => {
  const rows = [...tally].map(([name, t]) => `${name}: ${t.tried} inputs (${t.refused} refused, ${t.tried - t.refused} decoded)`)
  if (rows.length > 0) console.log(`fuzz tally — ${rows.join('; ')}`)
})

/**
 * Run one decode under the contract. Returns the value, or undefined when the input was refused
 * with a one-line InputError; fails the property on any other exception or on a slow run.
 */
export function decodesOrRefuses<T>(decoder: string, f: () => T): T | undefined {
  const t = tally.get(decoder) ?? {tried: 0, refused: 0}
  tally.set(decoder, t)
  t.tried++
  const t0 = performance.now()
  try {
    return f()
  } catch (err) {
    if (!(err instanceof InputError)) {
      throw new Error(`${decoder}: not an InputError: ${(err as Error)?.constructor?.name}: ${(err as Error)?.message ?? String(err)}`, {cause: err})
    }
    expect(err.message, 'one line').not.toMatch(/[\n\r]/)
    expect(err.message.length, 'a short line').toBeLessThan(2000)
    t.refused++
    return undefined
  } finally {
    const ms = performance.now() - t0
    expect(ms, `${decoder}: one run took ${ms.toFixed(0)} ms`).toBeLessThan(RUN_TIME_BOUND_MS)
  }
}

/** The async twin of `decodesOrRefuses`. */
export async function decodesOrRefusesAsync<T>(decoder: string, f: () => Promise<T>): Promise<T | undefined> {
  const t = tally.get(decoder) ?? {tried: 0, refused: 0}
  tally.set(decoder, t)
  t.tried++
  const t0 = performance.now()
  try {
    return await f()
  } catch (err) {
    if (!(err instanceof InputError)) {
      throw new Error(`${decoder}: not an InputError: ${(err as Error)?.constructor?.name}: ${(err as Error)?.message ?? String(err)}`, {cause: err})
    }
    expect(err.message, 'one line').not.toMatch(/[\n\r]/)
    t.refused++
    return undefined
  } finally {
    const ms = performance.now() - t0
    expect(ms, `${decoder}: one run took ${ms.toFixed(0)} ms`).toBeLessThan(RUN_TIME_BOUND_MS)
  }
}

// --- Mutations ---------------------------------------------------------------------------------

/** One edit of a byte string; positions (`at`, see `frac`) fit any input length. */
export type Mutation =
  | {op: 'flip'; at: number; bit: number}
  | {op: 'set'; at: number; value: number}
  | {op: 'truncate'; at: number}
  | {op: 'extend'; bytes: Uint8Array}
  | {op: 'insert'; at: number; bytes: Uint8Array}
  | {op: 'delete'; at: number; count: number}
  | {op: 'duplicate'; at: number; count: number}

/**
 * Where an edit lands: a value in [0, 1) is a fraction of the length, spread evenly over the file;
 * a value k ≥ 1 is byte k − 1 from the start (headers live there, so a third of the edits go there).
 */
const frac = fc.oneof(
  {weight: 2, arbitrary: fc.noBias(fc.integer({min: 0, max: 2 ** 30 - 1})).map((i) => i / 2 ** 30)},
  {weight: 1, arbitrary: fc.integer({min: 1, max: 64})},
)

function position(at: number, length: number): number {
  return at >= 1 ? Math.min(length, at - 1) : Math.floor(at * length)
}

export const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  {weight: 4, arbitrary: fc.record({op: fc.constant('flip' as const), at: frac, bit: fc.integer({min: 0, max: 7})})},
  {weight: 3, arbitrary: fc.record({op: fc.constant('set' as const), at: frac, value: fc.constantFrom(0, 1, 0x7f, 0x80, 0xff, 0xfe, 0x20, 0x22, 0x30, 0x39)})},
  {weight: 1, arbitrary: fc.record({op: fc.constant('truncate' as const), at: frac})},
  {weight: 1, arbitrary: fc.record({op: fc.constant('extend' as const), bytes: fc.uint8Array({minLength: 1, maxLength: 64})})},
  {weight: 1, arbitrary: fc.record({op: fc.constant('insert' as const), at: frac, bytes: fc.uint8Array({minLength: 1, maxLength: 16})})},
  {weight: 1, arbitrary: fc.record({op: fc.constant('delete' as const), at: frac, count: fc.integer({min: 1, max: 16})})},
  {weight: 1, arbitrary: fc.record({op: fc.constant('duplicate' as const), at: frac, count: fc.integer({min: 1, max: 64})})},
)

/** 1–4 mutations in a row. */
export const mutationsArb = fc.array(mutationArb, {minLength: 1, maxLength: 4})

/** 1–4 in-place byte edits (length kept): what gets past a parser that checks structure. */
export const byteEditsArb: fc.Arbitrary<Mutation[]> = fc.array(
  fc.oneof(
    fc.record({op: fc.constant('flip' as const), at: frac, bit: fc.integer({min: 0, max: 7})}),
    fc.record({op: fc.constant('set' as const), at: frac, value: fc.integer({min: 0, max: 255})}),
  ),
  {minLength: 1, maxLength: 4},
)

export function mutate(input: Uint8Array, mutations: readonly Mutation[]): Uint8Array {
  let b: Uint8Array = Uint8Array.from(input)
  for (const m of mutations) {
    const at = 'at' in m ? position(m.at, b.length) : 0
    switch (m.op) {
      case 'flip':
        if (b.length > 0) b[Math.min(at, b.length - 1)] ^= 1 << m.bit
        break
      case 'set':
        if (b.length > 0) b[Math.min(at, b.length - 1)] = m.value
        break
      case 'truncate':
        b = b.slice(0, at)
        break
      case 'extend':
        b = concat(b, m.bytes)
        break
      case 'insert':
        b = concat(b.subarray(0, at), m.bytes, b.subarray(at))
        break
      case 'delete':
        b = concat(b.subarray(0, at), b.subarray(at + m.count))
        break
      case 'duplicate':
        b = concat(b.subarray(0, at + m.count), b.subarray(at, at + m.count), b.subarray(at + m.count))
        break
    }
  }
  return b
}

export function concat(...parts: Uint8Array[]): Uint8Array {
  return concatArrays(parts, (n) => new Uint8Array(n))
}

/** JSON values a hostile file might put in a field: wrong types, huge and negative numbers, edge cases. */
export const hostileJsonValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.integer({min: -3, max: 70_000}),
  fc.constantFrom(0, -1, 1, 2 ** 31, 2 ** 32, 2 ** 53, 2 ** 60, 1e308, 0.5, -0.0, 2 ** 28, 2 ** 28 + 1),
  fc.double(),
  fc.string({maxLength: 12}),
  fc.constantFrom(null, true, false, '', '\n', '__proto__'),
  fc.array(fc.oneof(fc.integer({min: -2, max: 300}), fc.constantFrom(2 ** 31, 2 ** 40, 0.5, 1e300)), {maxLength: 5}),
  fc.constantFrom([], [0], [2 ** 31], [65536, 65536], [2 ** 14, 2 ** 14, 2 ** 14], Array(40).fill(1)),
  fc.dictionary(fc.string({maxLength: 4}), fc.integer(), {maxKeys: 3}),
)
