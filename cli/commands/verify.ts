/**
 * `forensics verify FILE [--json]`: verifies a bundle offline. Exit 0 only when every
 * check holds, 1 with findings (each naming the file inside the bundle), 2 when FILE is
 * not a readable zip or tar.gz.
 */
import { verifyBundleFile } from '../../forensics/bundle/verify-bundle.js'
import { ExitCode, UsageError, type Command } from '../command.js'

/** The `verify` command. */
export const verifyCommand: Command = {
  name: 'verify',
  summary: 'verify a bundle offline: hashes, SHA256SUMS, manifest signatures, custody chain, missing and unlisted files',
  usage: 'FILE [--json]',
  positionals: true,
  options: {},
  async run(args, io) {
    if (args.positionals.length !== 1) throw new UsageError('name exactly one bundle file: forensics verify FILE')
    const v = await verifyBundleFile(args.positionals[0])
    if (io.json) io.result(v)
    else {
      const head = v.custodyHead ? `custody entries 0–${v.custodyHead.seq}` : 'no custody entries'
      io.info(`bundle ${v.file} (${v.format}): ${v.ok ? 'OK' : `${v.findings.length} finding${v.findings.length === 1 ? '' : 's'}`}`)
      io.info(`  case ${v.caseId ?? '(unknown)'}, ${v.captures} captures, ${v.members} files (${v.bytes} bytes), ${head}`)
      io.info(`  checks: ${v.checks.map((c) => `${c.name} ${c.findings ? `✗${c.findings}` : '✓'}`).join(', ')}`)
      for (const f of v.findings) io.info(`  ✗ ${f.member}: ${f.message} [${f.check}]`)
    }
    return v.ok ? ExitCode.ok : ExitCode.failed
  },
}
