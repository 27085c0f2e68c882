/**
 * `forensics capture cloudtrail --case C --start T --end T [filters] [--archive s3://B/P]
 * [--account A] [--region R] [--lookup] [--refresh] [--require-valid-digests]`: captures a
 * CloudTrail slice into the evidence bucket and seals it into the case's custody chain.
 * Exit codes follow cli/capture-exit.ts: 1 when a log file fails digest validation
 * (hash-mismatch, signature-invalid, not-covered) or, with --require-valid-digests, when any
 * file is not digest-valid; 3 when the capture is partial.
 */
import { CloudTrailClient } from '@aws-sdk/client-cloudtrail'
import { sealCapture } from '../../forensics/capture.js'
import { captureExitCode } from '../capture-exit.js'
import { ExitCode, UsageError, type Command } from '../command.js'
import { openEvidence } from '../context.js'
import { sdkSettingsFromEnv } from '../../forensics/aws/sdk-config.js'
import { parseArchiveUrl } from '../../forensics/cloudtrail/archive-layout.js'
import { captureCloudTrailSlice } from '../../forensics/cloudtrail/capture-slice.js'
import { FILTER_USAGE, filterOptions, windowAndFilters } from './slice.js'

/** `forensics capture cloudtrail`. */
export const captureCloudTrailCommand: Command = {
  name: 'capture cloudtrail',
  summary: 'capture a CloudTrail slice (S3 archive + LookupEvents) with a digest verdict per log file',
  usage: `--case C --start T --end T ${FILTER_USAGE}
  sources: [--archive s3://BUCKET/PREFIX (or FORENSICS_TRAIL_ARCHIVE)] [--account A ...] [--region R ...] [--lookup]
  without --account/--region the accounts, organization ids and regions under PREFIX/AWSLogs/ are discovered;
  --lookup also queries LookupEvents in each --region (default AWS_REGION)
  [--refresh] capture the same request again (late-delivered files); the new capture records supersedes and what changed
  [--require-valid-digests] exit 1 unless every log file is digest-valid (status complete)`,
  options: { case: { type: 'string' }, archive: { type: 'string' }, account: { type: 'string', multiple: true }, region: { type: 'string', multiple: true }, lookup: { type: 'boolean' }, refresh: { type: 'boolean' }, 'require-valid-digests': { type: 'boolean' }, ...filterOptions },
  async run(args, io) {
    const v = args.values
    if (typeof v.case !== 'string') throw new UsageError('--case C is required')
    const { window, filters } = windowAndFilters(args)
    const archiveUrl = typeof v.archive === 'string' ? v.archive : io.env.FORENSICS_TRAIL_ARCHIVE
    const regions = (v.region as string[] | undefined) ?? []
    const accounts = (v.account as string[] | undefined) ?? []
    const lookupRegions = v.lookup ? (regions.length ? regions : [io.env.AWS_REGION ?? io.env.AWS_DEFAULT_REGION].filter((r): r is string => !!r)) : []
    if (!archiveUrl && !v.lookup) throw new UsageError('nothing to read: pass --archive s3://BUCKET/PREFIX (or set FORENSICS_TRAIL_ARCHIVE) and/or --lookup')
    if (v.lookup && !lookupRegions.length) throw new UsageError('--lookup needs --region R or AWS_REGION')
    const { store, signer, s3 } = await openEvidence(args, io)
    const settings = sdkSettingsFromEnv(io.env)
    const clients = new Map<string, CloudTrailClient>()
    const cloudTrailFor = (region: string): CloudTrailClient => {
      let c = clients.get(region)
      if (!c) clients.set(region, (c = new CloudTrailClient({ ...settings, region })))
      return c
    }
    const r = await captureCloudTrailSlice(
      { store, signer },
      // listing and scanning progress only where someone watches: a terminal, not --json or a pipe
      { s3, cloudTrailFor, progress: io.isTTY ? (l) => io.progress(l) : undefined },
      {
        caseId: v.case,
        window,
        filters,
        archive: archiveUrl ? { location: parseArchiveUrl(archiveUrl), accounts: accounts.length ? accounts : undefined, regions: regions.length ? regions : undefined } : undefined,
        lookup: lookupRegions.length ? { regions: lookupRegions } : undefined,
        refresh: v.refresh === true,
      },
    )
    await sealCapture({ store, signer }, r, { tool: 'forensics-cli' })
    const code = captureExitCode(r.manifest, { requireValidDigests: v['require-valid-digests'] === true })
    const m = r.manifest
    io.result({ ok: code === ExitCode.ok, caseId: m.caseId, captureId: m.captureId, manifestKey: r.manifestKey, created: r.created, status: m.status, supersedes: m.supersedes, changes: r.changes, events: r.events, files: r.files, verdicts: r.verdicts, findings: m.findings, errors: m.errors })
    io.info(`${r.created ? 'captured' : 'already captured (add --refresh to capture late-delivered files)'} ${r.manifestKey} (${m.status})`)
    if (r.changes) {
      const c = r.changes
      io.info(`supersedes ${c.supersedes}: files +${c.files.added.length} -${c.files.removed.length} ~${c.files.changed.length}; events ${c.events.before} -> ${c.events.after} (+${c.events.added} -${c.events.removed})`)
    }
    io.info(`${r.events} event(s) from ${r.files} log file(s); digest verdicts: ${Object.entries(r.verdicts).map(([k, n]) => `${k} ${n}`).join(', ') || 'none'}`)
    for (const f of m.findings) io.info(`  [${f.severity}] ${f.title}`)
    for (const e of m.errors) io.progress(`  - ${e.code}: ${e.message}`)
    return code
  },
}
