/**
 * Run the built CLI (`node bin/run.js …`) as a user would, with colour off. Needs `dist/`
 * (`npx tsc -p tsconfig.json`).
 */
import {spawn, type ChildProcessWithoutNullStreams, type ChildProcessByStdio} from 'node:child_process'
import type {Readable, Writable} from 'node:stream'
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'

export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..')

export interface CliResult {
  stdout: string
  stderr: string
  code: number
}

/** A spawned process's exit code (−1 when killed) and its whole stdout and stderr as text. */
export function collectOutput(child: ChildProcessWithoutNullStreams | ChildProcessByStdio<Writable | null, Readable, Readable>): Promise<CliResult> {
  return new Promise((resolvePromise, reject) => {
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d))
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d))
    child.on('error', reject)
    child.on('close', (code) => resolvePromise({stdout, stderr, code: code ?? -1}))
  })
}

export function runCli(
  args: string[],
  opts: {cwd?: string; env?: NodeJS.ProcessEnv; input?: string} = {},
): Promise<CliResult> {
  const child = spawn(process.execPath, [join(REPO_ROOT, 'bin', 'run.js'), ...args], {
    cwd: opts.cwd ?? process.cwd(),
    env: {...process.env, ...opts.env, NO_COLOR: '1', FORCE_COLOR: '0'},
    stdio: ['pipe', 'pipe', 'pipe'],
  })
  const result = collectOutput(child)
  child.stdin.end(opts.input ?? '')
  return result
}
