/**
 * `forensics capture cloudtrail --case C --start T --end T [filters] [--archive s3://B/P]
 * [--account A] [--region R] [--lookup]`: captures a provable CloudTrail slice into the
 * evidence bucket. Exit 1 when a log file fails digest validation (hash-mismatch or
 * signature-invalid): the capture is committed, and the findings are printed.
 */
import { CloudTrailClient } from '@aws-sdk/client-cloudtrail'
import { ExitCode, UsageError, type Command } from '../command.js'
import { openEvidence } from '../context.js'
import { sdkSettingsFromEnv } from '../../forensics/aws/sdk-config.js'
import { parseArchiveUrl } from '../../forensics/cloudtrail/archive-layout.js'
import { captureCloudTrailSlice } from '../../forensics/cloudtrail/capture-slice.js'
import { FILTER_USAGE, filterOptions, windowAndFilters } from './slice.js'

const BAD = new Set(['hash-mismatch', 'signature-invalid'])

/** `forensics capture cloudtrail`. */
export const captureCloudTrailCommand: Command = {
  name: 'capture cloudtrail',
  summary: 'capture a provable CloudTrail slice (S3 archive + LookupEvents, digests validated)',
  usage: `--case C --start T --end T ${FILTER_USAGE}
  sources: [--archive s3://BUCKET/PREFIX (or FORENSICS_TRAIL_ARCHIVE)] [--account A ...] [--region R ...] [--lookup]
  without --account/--region the accounts, organization ids and regions under PREFIX/AWSLogs/ are discovered;
  --lookup also queries LookupEvents in each --region (default AWS_REGION)`,
  options: { case: { type: 'string' }, archive: { type: 'string' }, account: { type: 'string', multiple: true }, region: { type: 'string', multiple: true }, lookup: { type: 'boolean' }, ...filterOptions },
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
      { s3, cloudTrailFor, progress: (l) => io.progress(l) },
      {
        caseId: v.case,
        window,
        filters,
        archive: archiveUrl ? { location: parseArchiveUrl(archiveUrl), accounts: accounts.length ? accounts : undefined, regions: regions.length ? regions : undefined } : undefined,
        lookup: lookupRegions.length ? { regions: lookupRegions } : undefined,
      },
    )
    const bad = Object.entries(r.verdicts).filter(([k]) => BAD.has(k))
    const failures = r.manifest.errors.filter((e) => ['previous-digest-missing', 'previous-digest-hash-mismatch', 'previous-signature-mismatch'].includes(e.code))
    io.result({ ok: bad.length === 0 && failures.length === 0, caseId: r.manifest.caseId, captureId: r.manifest.captureId, manifestKey: r.manifestKey, created: r.created, status: r.manifest.status, events: r.events, files: r.files, verdicts: r.verdicts, errors: r.manifest.errors })
    io.info(`${r.created ? 'captured' : 'already captured'} ${r.manifestKey} (${r.manifest.status})`)
    io.info(`${r.events} event(s) from ${r.files} log file(s); digest verdicts: ${Object.entries(r.verdicts).map(([k, n]) => `${k} ${n}`).join(', ') || 'none'}`)
    for (const e of r.manifest.errors) io.progress(`  - ${e.code}: ${e.message}`)
    return bad.length || failures.length ? ExitCode.failed : ExitCode.ok
  },
}
