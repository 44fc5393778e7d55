/**
 * The base of every golf command: `--json` and `--debug` everywhere, and one error policy.
 * A GolfError becomes one line on stderr and its exit code (2 bad input, 1 failed check);
 * any other error is a bug: one line too, with the stack only under `--debug`.
 */
import {Command, Errors, Flags, type Interfaces} from '@oclif/core'
import {GolfError} from '../errors.js'
import {printable} from '../io/read.js'

export abstract class GolfCommand extends Command {
  static override enableJsonFlag = true

  static override baseFlags = {
    debug: Flags.boolean({description: 'Print stack traces for errors.', helpGroup: 'GLOBAL'}),
  }

  protected get debugEnabled(): boolean {
    return this.argv.includes('--debug')
  }

  protected override async catch(err: Error & {exitCode?: number; oclif?: {exit?: number}}): Promise<unknown> {
    if (err instanceof Errors.ExitError) throw err
    // oclif's own parse errors (unknown flag, bad option, missing arg): exit 2 and ONE line —
    // oclif appends a usage block to the message; the first line is the error itself.
    if (err instanceof Errors.CLIError && !(err instanceof GolfError)) {
      if (this.debugEnabled && err.stack) process.stderr.write(err.stack + '\n')
      const exit = err.oclif?.exit ?? 2
      const lines = err.message.split('\n').map((l) => l.trim()).filter((l) => l !== '')
      // "Missing 1 required arg:" names the argument on the next line; "Parsing --flag" says
      // what is wrong with the flag's value on the next line
      const joinNext = lines[0] !== undefined && lines[1] !== undefined && (lines[0].endsWith(':') || /^Parsing --\S+$/.test(lines[0]))
      const first = joinNext ? `${lines[0]}${lines[0].endsWith(':') ? ' ' : ': '}${lines[1].replace(/\s+/g, ' ')}` : (lines[0] ?? err.message)
      const line = `${first.trim()} (see: golf ${this.id?.replace(/:/g, ' ') ?? ''} --help)`
      if (this.jsonEnabled()) process.stdout.write(JSON.stringify({error: {message: line, exit}}) + '\n')
      else process.stderr.write(`golf: ${line}\n`)
      this.exit(exit)
    }
    const exit = err instanceof GolfError ? err.exitCode : 1
    if (this.debugEnabled && err.stack) process.stderr.write(err.stack + '\n')
    // one line, whatever file names or values the message quotes (a newline or an ESC in a name is escaped)
    const message = printable(err instanceof GolfError ? err.message : `internal error: ${err.message} (run with --debug for the stack)`)
    if (this.jsonEnabled()) {
      process.stdout.write(JSON.stringify({error: {message, exit}}) + '\n')
      this.exit(exit)
    }
    process.stderr.write(`golf: ${message}\n`)
    this.exit(exit)
  }
}

export type GolfFlags<T extends typeof Command> = Interfaces.InferredFlags<(typeof GolfCommand)['baseFlags'] & T['flags']>
