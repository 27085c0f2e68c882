#!/usr/bin/env node
import { parseArgs } from 'node:util'
import { pathToFileURL } from 'node:url'
import { commands, type CommandEntry } from './commands/index.js'
import { ExitCode, UsageError, commonOptions, type CommandIO } from './command.js'
import { ForensicsError, IntegrityError, StorageError, ValidationError } from '../forensics/errors.js'

const HELP = `forensics — capture, lock, seal and verify evidence of S3 incidents

usage: forensics <command> [options]

commands:
${'{{commands}}'}

common options:
  --evidence-bucket E  evidence bucket (or FORENSICS_EVIDENCE_BUCKET, or forensics.config.json)
  --json               print one JSON document instead of text
  -h, --help           help for a command

AWS access follows the SDK's standard environment: credential chain, AWS_PROFILE,
AWS_REGION, AWS_ENDPOINT_URL / AWS_ENDPOINT_URL_<SERVICE> (the emulator or any S3-compatible
endpoint; path-style addressing is used when an endpoint is set).

exit codes: 0 success, 1 verification or drill failure, 2 usage or validation error,
3 AWS or I/O failure after retries`

function makeIO(json: boolean, env: NodeJS.ProcessEnv, stdout: NodeJS.WritableStream, stderr: NodeJS.WritableStream): CommandIO {
  return {
    json,
    env,
    stdout,
    stderr,
    isTTY: Boolean((stderr as NodeJS.WriteStream).isTTY) && !json,
    info: (line) => {
      if (!json) stdout.write(line + '\n')
    },
    progress: (line) => {
      if (!json) stderr.write(line + '\n')
    },
    result: (doc) => {
      if (json) stdout.write(JSON.stringify(doc, null, 2) + '\n')
    },
  }
}

/** Finds the command named by the leading words of argv (e.g. `capture bucket-config`). */
export function findCommand(argv: readonly string[]): { command?: CommandEntry; rest: string[] } {
  let best: CommandEntry | undefined
  let bestLen = 0
  for (const c of commands) {
    const words = c.name.split(' ')
    if (words.length > bestLen && words.every((w, i) => argv[i] === w)) {
      best = c
      bestLen = words.length
    }
  }
  return { command: best, rest: argv.slice(bestLen) }
}

/** Maps an error to an exit code and a message naming what to do next. */
export function exitCodeFor(err: unknown): number {
  if (err instanceof UsageError || err instanceof ValidationError) return ExitCode.usage
  if (err instanceof IntegrityError) return ExitCode.failed
  if (err instanceof StorageError) return ExitCode.io
  if (err instanceof ForensicsError) return ExitCode.io
  return ExitCode.io
}

/** Runs the CLI; resolves to the exit code. */
export async function main(
  argv: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
  stdout: NodeJS.WritableStream = process.stdout,
  stderr: NodeJS.WritableStream = process.stderr,
): Promise<number> {
  const wantsJson = argv.includes('--json')
  const { command: entry, rest } = findCommand(argv)
  if (!entry) {
    const list = commands.map((c) => `  ${c.name.padEnd(26)} ${c.summary}`).join('\n')
    const help = HELP.replace('{{commands}}', list)
    if (argv.length === 0 || argv[0] === '--help' || argv[0] === '-h' || argv[0] === 'help') {
      stdout.write(help + '\n')
      return ExitCode.ok
    }
    stderr.write(`forensics: unknown command '${argv.filter((a) => !a.startsWith('-')).join(' ')}'\n\n${help}\n`)
    return ExitCode.usage
  }
  const io = makeIO(wantsJson, env, stdout, stderr)
  const command = await entry.load()
  try {
    let parsed
    try {
      parsed = parseArgs({
        args: rest,
        options: { ...commonOptions, ...command.options },
        allowPositionals: command.positionals ?? false,
        strict: true,
      })
    } catch (err) {
      throw new UsageError((err as Error).message)
    }
    if (parsed.values.help) {
      stdout.write(`usage: forensics ${command.name} ${command.usage}\n\n${command.summary}\n`)
      return ExitCode.ok
    }
    return await command.run(parsed as { values: Record<string, string | boolean | string[] | undefined>; positionals: string[] }, io)
  } catch (err) {
    const code = exitCodeFor(err)
    const e = err as Error
    if (wantsJson) {
      const findings = err instanceof IntegrityError ? err.findings : undefined
      stdout.write(JSON.stringify({ ok: false, error: { name: e.name, message: e.message, findings } }, null, 2) + '\n')
    } else {
      stderr.write(`forensics ${command.name}: ${e.message}\n`)
      if (err instanceof UsageError) stderr.write(`usage: forensics ${command.name} ${command.usage}\n`)
      if (err instanceof IntegrityError) for (const f of err.findings) stderr.write(`  - ${f}\n`)
      if (code === ExitCode.io && !(err instanceof ForensicsError)) stderr.write(`  (${e.name}; check credentials, AWS_REGION and AWS_ENDPOINT_URL)\n`)
    }
    return code
  }
}

/* c8 ignore start */
if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main(process.argv.slice(2)).then((code) => {
    process.exitCode = code
  })
}
/* c8 ignore stop */
