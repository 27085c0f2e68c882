#!/usr/bin/env node
import { parseArgs } from 'node:util'
import { pathToFileURL } from 'node:url'
import { commands, type CommandEntry } from './commands/index.js'
import { ExitCode, UsageError, commonOptions, type CommandIO } from './command.js'
import { readFileSync } from 'node:fs'
import { ForensicsError, IntegrityError, StorageError, ValidationError } from '../forensics/errors.js'
import { describeCause } from './error-cause.js'

const HELP = `forensics — capture, lock, seal and verify evidence of S3 incidents

usage: forensics <command> [options]

commands:
${'{{commands}}'}

common options:
  --evidence-bucket E  evidence bucket (or FORENSICS_EVIDENCE_BUCKET, or forensics.config.json)
  --json               print one JSON document instead of text
  -h, --help           help for a command (also: forensics help COMMAND, forensics capture --help)
  --version            print the version

AWS access follows the SDK's standard environment: credential chain, AWS_PROFILE,
AWS_REGION, AWS_ENDPOINT_URL / AWS_ENDPOINT_URL_<SERVICE> (the emulator or any S3-compatible
endpoint; path-style addressing is used when an endpoint is set).

exit codes (README "Exit codes"): 0 success (capture complete or unverified); 1 verification
or drill failure, tampered evidence, or an unverified capture with --require-valid-digests;
2 usage or validation error (nothing was written); 3 AWS or I/O failure after retries, or a
partial capture (committed, something could not be captured)`

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

/** The package version (package.json next to cli/). */
export function version(): string {
  return (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version
}

/**
 * The AWS SDK prints a 9-line notice on Node < 22; the CLI says it in one line instead
 * (and only once per process), unless AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED is
 * set. Returns the line to print, or undefined.
 */
export function nodeSupportNotice(nodeVersion: string, processEnv: NodeJS.ProcessEnv): string | undefined {
  if (processEnv.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED === 'true') return undefined
  // the SDK reads this variable when its first client is built: set it before any is
  processEnv.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true'
  const major = Number(/^v?(\d+)/.exec(nodeVersion)?.[1])
  return major < 22 ? `forensics: note: Node.js ${nodeVersion}; the AWS SDK will require Node.js >= 22 from January 2027 (Lambda functions run on Node.js 22)` : undefined
}

/** The help of a command group (e.g. `capture`): its commands and how to get each one's help. */
function groupHelp(group: string): string | undefined {
  const members = commands.filter((c) => c.name.startsWith(`${group} `))
  if (!members.length) return undefined
  return `usage: forensics ${group} <kind> [options]\n\n${members.map((c) => `  ${c.name.padEnd(26)} ${c.summary}`).join('\n')}\n\nforensics ${group} <kind> --help shows the options of one kind`
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
  if (argv[0] === '--version' || argv[0] === 'version') {
    stdout.write(wantsJson ? JSON.stringify({ version: version() }) + '\n' : `forensics ${version()}\n`)
    return ExitCode.ok
  }
  // `forensics help slice` is `forensics slice --help`
  if (argv[0] === 'help' && argv.length > 1) return main([...argv.slice(1), '--help'], env, stdout, stderr)
  const { command: entry, rest } = findCommand(argv)
  if (!entry) {
    const list = commands.map((c) => `  ${c.name.padEnd(26)} ${c.summary}`).join('\n')
    const help = HELP.replace('{{commands}}', list)
    if (argv.length === 0 || argv[0] === '--help' || argv[0] === '-h' || argv[0] === 'help') {
      stdout.write(help + '\n')
      return ExitCode.ok
    }
    const group = groupHelp(argv[0])
    if (group) {
      const asked = argv.includes('--help') || argv.includes('-h')
      const kind = argv.slice(1).find((a) => !a.startsWith('-'))
      ;(asked ? stdout : stderr).write((asked ? '' : `forensics: ${kind ? `unknown ${argv[0]} kind '${kind}'` : `${argv[0]} needs a kind`}\n\n`) + group + '\n')
      return asked ? ExitCode.ok : ExitCode.usage
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
    const notice = nodeSupportNotice(process.version, process.env)
    if (notice) stderr.write(notice + '\n')
    return await command.run(parsed as { values: Record<string, string | boolean | string[] | undefined>; positionals: string[] }, io)
  } catch (err) {
    const code = exitCodeFor(err)
    const e = err as Error
    const found = describeCause(err, env)
    // a cause the message already quotes is not repeated
    const cause = found && !e.message.includes(found.replace(/^cause: (\w+: )?/, '').replace(/; endpoint .*$/, '')) ? found : undefined
    if (wantsJson) {
      const findings = err instanceof IntegrityError ? err.findings : undefined
      stdout.write(JSON.stringify({ ok: false, error: { name: e.name, message: e.message, cause, findings } }, null, 2) + '\n')
    } else {
      stderr.write(`forensics ${command.name}: ${e.message || e.name}\n`)
      if (cause) stderr.write(`  ${cause}\n`)
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
