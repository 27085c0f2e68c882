/**
 * Lambda handler of the cloudtrail-slice collector. Accepts
 *  (a) its own event: `{ caseId, start, end, filters?, archive?: "s3://BUCKET/PREFIX",
 *      accounts?, regions?, lookupRegions?, triggerId? }`, and
 *  (b) EventBridge events: a GuardDuty finding (S3 or IAM access key) or an
 *      "AWS API Call via CloudTrail" event; the slice then covers the finding's first/last
 *      seen (or the call's time) ±1 hour, filtered by its access key (else principal/bucket),
 *      from the archive in FORENSICS_TRAIL_ARCHIVE plus LookupEvents in the event's region.
 * Validation errors are permanent; the handler throws only when the capture is not committed.
 */
import { S3Client } from '@aws-sdk/client-s3'
import { CloudTrailClient } from '@aws-sdk/client-cloudtrail'
import { sdkSettingsFromEnv } from '../forensics/aws/sdk-config.js'
import { evidenceFromEnv } from '../forensics/runtime/handler-env.js'
import { ValidationError } from '../forensics/errors.js'
import type { CaptureDeps } from '../forensics/capture.js'
import { parseArchiveUrl } from '../forensics/cloudtrail/archive-layout.js'
import { captureCloudTrailSlice, type SliceCaptureRequest, type SliceCaptureResult } from '../forensics/cloudtrail/capture-slice.js'
import { makeWindow, normalizeFilters, type SliceFilters } from '../forensics/cloudtrail/filters.js'
import type { SliceDeps } from '../forensics/cloudtrail/slice.js'

/** The collector's own event. */
export interface CloudTrailSliceEvent {
  caseId: string
  start: string
  end: string
  filters?: SliceFilters
  archive?: string
  accounts?: string[]
  regions?: string[]
  lookupRegions?: string[]
  triggerId?: string
}

/** An EventBridge envelope. */
export interface EventBridgeEvent {
  version?: string
  id: string
  'detail-type': string
  source: string
  account?: string
  time?: string
  region?: string
  detail: Record<string, unknown>
}

/** What the handler returns (also the Lambda destination's responsePayload). */
export interface CloudTrailSliceResponse {
  caseId: string
  captureId: string
  manifestKey: string
  manifestSha256: string
  created: boolean
  status: string
  events: number
  files: number
  verdicts: Record<string, number>
}

const HOUR = 3600_000
const obj = (v: unknown): Record<string, unknown> => (v !== null && typeof v === 'object' ? (v as Record<string, unknown>) : {})
const str = (v: unknown): string | undefined => (typeof v === 'string' && v ? v : undefined)
const strings = (v: unknown, field: string): string[] | undefined => {
  if (v === undefined) return undefined
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) throw new ValidationError(`${field} must be a list of strings`, { field })
  return v as string[]
}
const iso = (ms: number): string => new Date(ms).toISOString()
const caseIdFrom = (prefix: string, id: string): string => `${prefix}-${id.replace(/[^A-Za-z0-9._-]/g, '_')}`.slice(0, 64)

function archiveFromEnv(env: NodeJS.ProcessEnv): SliceCaptureRequest['archive'] {
  return env.FORENSICS_TRAIL_ARCHIVE ? { location: parseArchiveUrl(env.FORENSICS_TRAIL_ARCHIVE) } : undefined
}

/** Turns an accepted event into a capture request; throws ValidationError otherwise. */
export function toSliceRequest(input: unknown, env: NodeJS.ProcessEnv = process.env): SliceCaptureRequest {
  const e = obj(input)
  if (typeof e['detail-type'] === 'string') return fromEventBridge(e as unknown as EventBridgeEvent, env)
  if (typeof e.caseId !== 'string' || typeof e.start !== 'string' || typeof e.end !== 'string') {
    throw new ValidationError('cloudtrail-slice event needs caseId, start and end (ISO 8601), or must be an EventBridge GuardDuty/CloudTrail event', { field: 'caseId' })
  }
  const ev = e as unknown as CloudTrailSliceEvent
  const archive = ev.archive ? { location: parseArchiveUrl(ev.archive), accounts: strings(ev.accounts, 'accounts'), regions: strings(ev.regions, 'regions') } : archiveFromEnv(env)
  const lookupRegions = strings(ev.lookupRegions, 'lookupRegions')
  if (!archive && !lookupRegions?.length) throw new ValidationError('nothing to read: give archive (s3://BUCKET/PREFIX, or set FORENSICS_TRAIL_ARCHIVE) and/or lookupRegions', { field: 'archive' })
  return {
    caseId: ev.caseId,
    window: makeWindow(ev.start, ev.end),
    filters: normalizeFilters(obj(ev.filters) as SliceFilters),
    archive,
    lookup: lookupRegions?.length ? { regions: lookupRegions } : undefined,
    trigger: ev.triggerId ? { source: 'invoke', id: ev.triggerId } : undefined,
  }
}

function fromEventBridge(e: EventBridgeEvent, env: NodeJS.ProcessEnv): SliceCaptureRequest {
  // the event id is the capture's idempotency key: EventBridge always sends one (found by fuzzing: a number crashed)
  if (typeof e.id !== 'string' || !e.id) throw new ValidationError(`EventBridge event of type '${String(e['detail-type'])}' has no id (a non-empty string): it cannot be captured idempotently`, { field: 'id' })
  const d = obj(e.detail)
  const region = e.region ?? env.AWS_REGION
  const lookup = region ? { regions: [region] } : undefined
  const archive = archiveFromEnv(env)
  if (!archive && !lookup) throw new ValidationError('set FORENSICS_TRAIL_ARCHIVE or deliver events with a region', { field: 'archive' })
  if (e.source === 'aws.guardduty') {
    const resource = obj(d.resource)
    const svc = obj(d.service)
    const first = Date.parse(str(svc.eventFirstSeen) ?? str(d.createdAt) ?? e.time ?? '')
    const last = Date.parse(str(svc.eventLastSeen) ?? str(d.updatedAt) ?? e.time ?? '')
    if (!Number.isFinite(first) || !Number.isFinite(last)) throw new ValidationError(`GuardDuty finding ${String(d.id)} has no service.eventFirstSeen/eventLastSeen`, { field: 'detail.service' })
    const ak = str(obj(resource.accessKeyDetails).accessKeyId)
    const buckets = (Array.isArray(resource.s3BucketDetails) ? resource.s3BucketDetails : []).map((b) => str(obj(b).name)).filter((b): b is string => !!b)
    const filters: SliceFilters = ak && ak !== 'GeneratedFindingAccessKeyId' ? { accessKeyIds: [ak] } : buckets.length ? { buckets } : {}
    return { caseId: caseIdFrom('gd', String(d.id ?? e.id)), window: makeWindow(iso(first - HOUR), iso(last + HOUR)), filters, archive, lookup, trigger: { source: 'aws.guardduty', id: e.id } }
  }
  if (e['detail-type'] === 'AWS API Call via CloudTrail') {
    const t = Date.parse(str(d.eventTime) ?? e.time ?? '')
    if (!Number.isFinite(t)) throw new ValidationError('CloudTrail event has no eventTime', { field: 'detail.eventTime' })
    const id = obj(d.userIdentity)
    const ak = str(id.accessKeyId)
    const principal = str(obj(obj(id.sessionContext).sessionIssuer).arn) ?? str(id.arn)
    const filters: SliceFilters = ak ? { accessKeyIds: [ak] } : principal ? { principals: [principal] } : {}
    return { caseId: caseIdFrom('ct', str(d.eventID) ?? e.id), window: makeWindow(iso(t - HOUR), iso(t + HOUR)), filters, archive, lookup, trigger: { source: 'aws.cloudtrail', id: e.id }, actor: { principalArn: str(id.arn), requestId: str(d.requestID) } }
  }
  throw new ValidationError(`cloudtrail-slice does not handle EventBridge events of type '${e['detail-type']}' from ${e.source}; send a GuardDuty finding, an "AWS API Call via CloudTrail" event or the collector's own event`, { field: 'detail-type' })
}

/** Everything the handler needs; tests pass their own. */
export interface CloudTrailSliceDeps {
  capture: () => Promise<CaptureDeps>
  slice: SliceDeps
  env?: NodeJS.ProcessEnv
}

/** Builds a handler bound to deps. */
export function createHandler(deps: CloudTrailSliceDeps): (event: unknown) => Promise<CloudTrailSliceResponse> {
  return async (event) => {
    const req = toSliceRequest(event, deps.env)
    const r: SliceCaptureResult = await captureCloudTrailSlice(await deps.capture(), deps.slice, req)
    return { caseId: r.manifest.caseId, captureId: r.manifest.captureId, manifestKey: r.manifestKey, manifestSha256: r.manifestSha256, created: r.created, status: r.manifest.status, events: r.events, files: r.files, verdicts: r.verdicts }
  }
}

/* c8 ignore start */
function defaultDeps(env: NodeJS.ProcessEnv): CloudTrailSliceDeps {
  const settings = sdkSettingsFromEnv(env)
  const s3 = new S3Client(settings)
  const clients = new Map<string, CloudTrailClient>()
  const cloudTrailFor = (region: string): CloudTrailClient => {
    let c = clients.get(region)
    if (!c) clients.set(region, (c = new CloudTrailClient({ ...settings, region })))
    return c
  }
  return {
    env,
    slice: { s3, cloudTrailFor },
    capture: () => evidenceFromEnv(env),
  }
}

let cached: ((event: unknown) => Promise<CloudTrailSliceResponse>) | undefined

/** The Lambda entry point. */
export async function handler(event: unknown): Promise<CloudTrailSliceResponse> {
  cached ??= createHandler(defaultDeps(process.env))
  return cached(event)
}
/* c8 ignore stop */
