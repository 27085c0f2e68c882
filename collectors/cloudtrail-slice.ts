/**
 * Lambda handler of the cloudtrail-slice collector. Accepts
 *  (a) its own event: `{ caseId, start, end, filters?, archive?: "s3://BUCKET/PREFIX",
 *      accounts?, regions?, lookupRegions?, triggerId? }`, and
 *  (b) the EventBridge events the trigger table routes to it (forensics/contract/triggers.ts):
 *      a GuardDuty S3 finding; the slice covers its first/last seen ±1 hour, filtered by its
 *      access key (else its bucket), from the archive in FORENSICS_TRAIL_ARCHIVE plus
 *      LookupEvents in the finding's region. A failing LookupEvents leaves the archive part
 *      committed as `partial` with the failure recorded.
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
import { checkFunctionEnv } from '../forensics/contract/env.js'
import { caseIdOf, isTriggerEvent, parseTriggerEvent, triggerOf } from '../forensics/contract/triggers.js'

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
const strings = (v: unknown, field: string): string[] | undefined => {
  if (v === undefined) return undefined
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) throw new ValidationError(`${field} must be a list of strings`, { field })
  return v as string[]
}
const iso = (ms: number): string => new Date(ms).toISOString()

function archiveFromEnv(env: NodeJS.ProcessEnv): SliceCaptureRequest['archive'] {
  return env.FORENSICS_TRAIL_ARCHIVE ? { location: parseArchiveUrl(env.FORENSICS_TRAIL_ARCHIVE) } : undefined
}

/** Turns an accepted event into a capture request; throws ValidationError otherwise. */
export function toSliceRequest(input: unknown, env: NodeJS.ProcessEnv = process.env): SliceCaptureRequest {
  const e = obj(input)
  if (isTriggerEvent(e)) return fromEventBridge(e, env)
  if (typeof e.caseId !== 'string' || typeof e.start !== 'string' || typeof e.end !== 'string') {
    throw new ValidationError('cloudtrail-slice event needs caseId, start and end (ISO 8601), or must be a GuardDuty S3 finding delivered by EventBridge', { field: 'caseId' })
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

function fromEventBridge(e: Record<string, unknown>, env: NodeJS.ProcessEnv): SliceCaptureRequest {
  // exactly what the trigger table routes here (forensics/contract/triggers.ts)
  const t = parseTriggerEvent(e, 'cloudtrail-slice')
  const lookup = t.region ? { regions: [t.region] } : undefined
  const archive = archiveFromEnv(env)
  if (!archive && !lookup) throw new ValidationError('set FORENSICS_TRAIL_ARCHIVE or deliver events with a region', { field: 'archive' })
  const first = Date.parse(t.eventTime)
  const last = Date.parse(t.lastSeen ?? t.eventTime)
  if (!Number.isFinite(first) || !Number.isFinite(last)) throw new ValidationError(`${t.eventName} finding ${t.eventId} has no valid service.eventFirstSeen/eventLastSeen`, { field: 'detail.service' })
  const filters: SliceFilters = t.accessKeyId ? { accessKeyIds: [t.accessKeyId] } : { buckets: t.buckets }
  return { caseId: caseIdOf(e, t, env.FORENSICS_CASE_ID_TEMPLATE), window: makeWindow(iso(first - HOUR), iso(last + HOUR)), filters, archive, lookup, trigger: triggerOf(t), actor: { principalArn: t.principalArn } }
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
  // the environment the stack writes, checked against the function's schema (forensics/contract/env.ts)
  checkFunctionEnv('cloudtrail-slice', process.env)
  cached ??= createHandler(defaultDeps(process.env))
  return cached(event)
}
/* c8 ignore stop */
