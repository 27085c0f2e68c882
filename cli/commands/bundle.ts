/**
 * `forensics bundle C [--format zip|tar.gz] [-o FILE|-] [--capture ID ...]`: downloads a
 * case as a verifiable archive and appends a `bundled` custody entry.
 */
import { userInfo } from 'node:os'
import type { Writable } from 'node:stream'
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts'
import { sdkSettingsFromEnv } from '../../forensics/aws/sdk-config.js'
import { buildBundle, type BundleProgress, type BundleResult } from '../../forensics/bundle/build-bundle.js'
import type { BundleFormat } from '../../forensics/bundle/bundle-layout.js'
import type { CustodyEntry } from '../../forensics/custody.js'
import { validateCaseId } from '../../forensics/keys.js'
import { openEvidence } from '../context.js'
import { ExitCode, UsageError, type Command, type CommandIO } from '../command.js'

function humanBytes(n: number): string {
  return n < 1024 * 1024 ? `${(n / 1024).toFixed(1)} KiB` : `${(n / 1024 / 1024).toFixed(1)} MiB`
}

/** A progress bar on stderr (bytes and files), redrawn at most every 100 ms. */
export function progressBar(stderr: NodeJS.WritableStream, label: string): { update(p: BundleProgress): void; done(): void } {
  let last = 0
  let drawn = false
  const draw = (p: BundleProgress): void => {
    const frac = p.totalBytes ? Math.min(1, p.bytes / p.totalBytes) : 1
    const width = 24
    const full = Math.round(frac * width)
    stderr.write(`\r${label} [${'#'.repeat(full)}${'-'.repeat(width - full)}] ${(frac * 100).toFixed(0).padStart(3)}%  ${humanBytes(p.bytes)}/${humanBytes(p.totalBytes)}  ${p.files}/${p.totalFiles} files `)
    drawn = true
  }
  return {
    update(p) {
      const now = Date.now()
      if (now - last >= 100 || p.files === p.totalFiles) {
        last = now
        draw(p)
      }
    },
    done() {
      if (drawn) stderr.write('\n')
    },
  }
}

/** Who is building the bundle: the AWS principal when STS answers, else the local user. */
async function whoAmI(env: NodeJS.ProcessEnv): Promise<CustodyEntry['actor']> {
  const tool = `forensics bundle (local user ${userInfo().username})`
  const sts = new STSClient({ ...sdkSettingsFromEnv(env), maxAttempts: 1 })
  try {
    const out = await sts.send(new GetCallerIdentityCommand({}), { abortSignal: AbortSignal.timeout(5000) })
    return { principalArn: out.Arn, tool }
  } catch {
    return { tool }
  } finally {
    sts.destroy()
  }
}

function pickFormat(format: unknown, output: string | undefined): BundleFormat {
  if (format === undefined) return output && /\.(tar\.gz|tgz)$/i.test(output) ? 'tar.gz' : 'zip'
  if (format === 'zip' || format === 'tar.gz') return format
  throw new UsageError(`--format must be zip or tar.gz, got ${String(format)}`)
}

/** The `bundle` command. */
export const bundleCommand: Command = {
  name: 'bundle',
  summary: 'download a case as a verifiable zip or tar.gz (artifacts, manifests, custody, SHA256SUMS, public key, report)',
  usage: `CASE [--format zip|tar.gz] [-o FILE|-] [--capture ID ...] [--no-record] [--force] [--json]
  -o FILE       where to write (default CASE.zip / CASE.tar.gz); "-" streams to stdout
  --capture ID  only this capture (repeatable); default: every committed capture
  --no-record   do not append the \`bundled\` custody entry (the bundle is byte-identical
                to any other bundle of the same case state)
  --force       replace an existing output file`,
  positionals: true,
  options: {
    format: { type: 'string' },
    output: { type: 'string', short: 'o' },
    capture: { type: 'string', multiple: true },
    'no-record': { type: 'boolean' },
    force: { type: 'boolean' },
  },
  async run(args, io: CommandIO) {
    if (args.positionals.length !== 1) throw new UsageError('name exactly one case: forensics bundle CASE')
    const caseId = validateCaseId(args.positionals[0])
    const outArg = args.values.output as string | undefined
    const format = pickFormat(args.values.format, outArg)
    const toStdout = outArg === '-'
    if (toStdout && (io.stdout as NodeJS.WriteStream).isTTY) throw new UsageError('refusing to write an archive to a terminal: redirect stdout or use -o FILE')
    const path = toStdout ? undefined : (outArg ?? `${caseId}.${format}`)
    // with -o -, stdout carries the archive: everything else goes to stderr
    const say = (line: string): void => {
      if (!io.json) (toStdout ? io.stderr : io.stdout).write(line + '\n')
    }

    const { store, signer } = await openEvidence(args, io)
    const record = !args.values['no-record']
    const actor = record ? await whoAmI(io.env) : undefined
    const bar = io.isTTY ? progressBar(io.stderr, `bundle ${caseId}`) : undefined
    let result: BundleResult
    try {
      result = await buildBundle({
        store,
        signer,
        caseId,
        format,
        captureIds: args.values.capture as string[] | undefined,
        output: path ? { path, overwrite: Boolean(args.values.force) } : { stream: io.stdout as Writable },
        recordCustody: record,
        actor,
        onProgress: bar?.update,
      })
    } finally {
      bar?.done()
    }
    if (io.json) {
      const doc = { ok: true, ...result, output: path ?? '-' }
      ;(toStdout ? io.stderr : io.stdout).write(JSON.stringify(doc, null, 2) + '\n')
      return ExitCode.ok
    }
    say(`bundle of case ${caseId}: ${path ?? 'stdout'} (${format}, ${result.files} files, ${result.captureIds.length} captures, ${humanBytes(result.size)})`)
    say(`sha256 ${result.sha256}`)
    say(result.custodyHead ? `custody: includes entries 0–${result.custodyHead.seq}` : 'custody: no entries yet')
    say(result.custodyEntry ? `custody: appended \`bundled\` entry #${result.custodyEntry.seq}` : 'custody: not recorded (--no-record)')
    say(`verify offline with: forensics verify ${path ?? 'FILE'}`)
    return ExitCode.ok
  },
}
