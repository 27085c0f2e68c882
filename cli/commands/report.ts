/**
 * `forensics report CASE [-o FILE|-] [--capture ID ...] [--force] [--json]`: writes the
 * case's self-contained report.html (the same page every bundle carries) without building
 * a bundle or touching the custody chain.
 */
import type { Writable } from 'node:stream'
import { validateCaseId } from '../../forensics/keys.js'
import { writeCaseReport } from '../../forensics/report/write-report.js'
import { openEvidence } from '../context.js'
import { ExitCode, UsageError, type Command } from '../command.js'

/** The `report` command. */
export const reportCommand: Command = {
  name: 'report',
  summary: 'write the case report (report.html: timeline, findings, custody, artifacts) without bundling',
  usage: `CASE [-o FILE|-] [--capture ID ...] [--force] [--json]
  -o FILE       where to write (default CASE.report.html); "-" writes the page to stdout
  --capture ID  only this capture (repeatable); default: every committed capture
  --force       replace an existing output file

The page is self-contained (no network, no external script or font; readable without
JavaScript) and byte-identical to the report.html in a bundle of the same case state.
Exit 1 (page written) when the custody chain does not verify.`,
  positionals: true,
  options: {
    output: { type: 'string', short: 'o' },
    capture: { type: 'string', multiple: true },
    force: { type: 'boolean' },
  },
  async run(args, io) {
    if (args.positionals.length !== 1) throw new UsageError('name exactly one case: forensics report CASE')
    const caseId = validateCaseId(args.positionals[0])
    const outArg = args.values.output as string | undefined
    const toStdout = outArg === '-'
    if (toStdout && io.json) throw new UsageError('--json prints a summary on stdout: write the page to a file with -o FILE')
    const path = toStdout ? undefined : (outArg ?? `${caseId}.report.html`)
    const { store, signer } = await openEvidence(args, io)
    const r = await writeCaseReport({
      store,
      signer,
      caseId,
      captureIds: args.values.capture as string[] | undefined,
      output: path ? { path, overwrite: Boolean(args.values.force) } : { stream: io.stdout as Writable },
    })
    // the page is written either way (it shows the problems); the exit code says the chain is broken
    const code = r.custody.valid ? ExitCode.ok : ExitCode.failed
    if (io.json) {
      io.result({ ok: r.custody.valid, ...r, output: path ?? '-' })
      return code
    }
    // with -o -, stdout carries the page: the summary goes to stderr
    const say = (line: string): void => void (toStdout ? io.stderr : io.stdout).write(line + '\n')
    const findings = Object.entries(r.findings).map(([s, n]) => `${n} ${s}`).join(', ') || 'none'
    say(`report of case ${caseId}: ${path ?? 'stdout'} (${r.size} bytes, sha256 ${r.sha256})`)
    say(`  ${r.captureIds.length} captures (${r.signatures.verified} of ${r.signatures.total} signatures verify), ${r.events.total} CloudTrail events (${r.events.shown} shown), findings: ${findings}`)
    say(`  custody: ${r.custody.entries} entries${r.custody.head ? `, head #${r.custody.head.seq}` : ''}, chain ${r.custody.valid ? 'valid' : 'INVALID'}; signing key ${r.signingKey.fingerprint}`)
    if (!r.custody.valid) say(`the custody chain does NOT verify: the report's Custody section and \`forensics custody ${caseId}\` name each problem`)
    if (path) say(`open it in a browser: file://${path.startsWith('/') ? '' : `${process.cwd()}/`}${path}`)
    return code
  },
}
