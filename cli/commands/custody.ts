/**
 * `forensics custody CASE`: the custody timeline of a case, with the chain verified
 * (links, hashes, signatures). A table on a terminal; one JSON document with `--json` or
 * when piped. Exit 1 when the chain does not verify, 2 when the case has no custody entries.
 */
import { CustodyChain } from '../../forensics/custody.js'
import { ValidationError } from '../../forensics/errors.js'
import { casePrefix, validateCaseId } from '../../forensics/keys.js'
import { ExitCode, UsageError, type Command } from '../command.js'
import { openEvidence } from '../context.js'
import { renderTable, wantsTable, writeJson } from './cases.js'

async function hasEvidence(store: { list(prefix: string): AsyncIterable<unknown> }, caseId: string): Promise<boolean> {
  for await (const _ of store.list(casePrefix(caseId))) return true
  return false
}

/** The `custody` command. */
export const custodyCommand: Command = {
  name: 'custody',
  summary: 'show the custody timeline of a case and verify its chain',
  usage: 'CASE [--evidence-bucket E] [--json]',
  positionals: true,
  options: {},
  async run(args, io) {
    if (args.positionals.length !== 1) throw new UsageError('name exactly one case: forensics custody CASE')
    const caseId = validateCaseId(args.positionals[0])
    const { store, signer } = await openEvidence(args, io)
    const chain = new CustodyChain(store, signer, caseId)
    const stored = await chain.readStored()
    // an unknown case is a wrong name, not an empty valid chain
    if (stored.length === 0 && !(await hasEvidence(store, caseId))) {
      throw new ValidationError(`case ${caseId} has no evidence and no custody entries in s3://${store.bucket}: check the case id (forensics cases lists them) and --evidence-bucket`, { field: 'case' })
    }
    const findings = await chain.verify()
    // captures without a single custody entry: the chain does not account for them
    if (stored.length === 0) findings.push({ code: 'gap', subject: `cases/${caseId}/custody/`, message: `case ${caseId} holds evidence but no custody entries: its captures are not in custody` })
    const entries = stored.flatMap((s) => (s.entry ? [s.entry] : []))
    if (!wantsTable(io)) writeJson(io, { caseId, bucket: store.bucket, valid: findings.length === 0, entries, findings })
    else {
      const rows = entries.map((e) => [
        String(e.seq),
        e.time,
        e.action,
        e.actor.tool ?? e.actor.principalArn ?? '',
        String(e.subject.captureId ?? e.subject.key ?? e.subject.note ?? ''),
        e.hash.slice(0, 16),
      ])
      for (const l of renderTable(['SEQ', 'TIME', 'ACTION', 'ACTOR', 'SUBJECT', 'HASH'], rows)) io.info(l)
      io.info(findings.length === 0 ? `chain valid: ${entries.length} entries, head ${entries.at(-1)?.hash}` : `chain INVALID (${findings.length}):`)
      for (const f of findings) io.info(`  ✗ ${f.subject}: ${f.message} [${f.code}]`)
    }
    return findings.length === 0 ? ExitCode.ok : ExitCode.failed
  },
}
