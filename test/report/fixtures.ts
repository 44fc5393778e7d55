import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'

/** Hand-made run folders: three seeds of tiny-cpu (40 steps) and two single-seed ablations of seed 1337. */
export const FIXTURE_RUNS = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'runs')
