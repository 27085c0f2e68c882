import type { ParseArgsConfig } from 'node:util'

/** Exit codes every command uses (DESIGN.md "Command line"). */
export const ExitCode = {
  ok: 0,
  /** verification or drill failure (findings printed) */
  failed: 1,
  /** usage or validation error */
  usage: 2,
  /** AWS or I/O failure after retries */
  io: 3,
} as const

/** Where a command writes: human text to stdout/stderr, or one JSON document. */
export interface CommandIO {
  json: boolean
  /** Writes a line of human output (suppressed with --json). */
  info(line: string): void
  /** Writes a warning/progress line to stderr (suppressed with --json). */
  progress(line: string): void
  /** Prints the single JSON document (only with --json). */
  result(doc: unknown): void
  stdout: NodeJS.WritableStream
  stderr: NodeJS.WritableStream
  env: NodeJS.ProcessEnv
  isTTY: boolean
}

/** Parsed options: the values of the command's flags plus positionals. */
export interface ParsedArgs {
  values: Record<string, string | boolean | string[] | undefined>
  positionals: string[]
}

/** One `forensics` command. */
export interface Command {
  /** e.g. `verify` or `capture bucket-config` */
  name: string
  summary: string
  /** Usage text shown by --help (after the first line). */
  usage: string
  options: NonNullable<ParseArgsConfig['options']>
  /** Allows positionals (default false). */
  positionals?: boolean
  run(args: ParsedArgs, io: CommandIO): Promise<number>
}

/** Options every command accepts. */
export const commonOptions: NonNullable<ParseArgsConfig['options']> = {
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  'evidence-bucket': { type: 'string' },
}

/** Error for bad flags; exit code 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'UsageError'
  }
}
