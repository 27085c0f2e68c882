/**
 * The events the inspector takes: S3 "Object Created" events as EventBridge delivers them
 * (the member stack turns EventBridge notifications on for the inspected buckets), and its
 * own `{bucket, key, versionId?, id?}`. Also the scope check against `inspection.buckets`
 * and the case id a hit's capture goes to.
 */
import { ValidationError } from '../errors.js'
import { sha256Hex } from '../hash.js'
import { validateCaseId } from '../keys.js'
import type { InspectedBucket, InspectionConfig } from './inspection-config.js'

/** One upload to inspect. */
export interface UploadEvent {
  bucket: string
  key: string
  versionId?: string
  size?: number
  /** the EventBridge event id (or the own event's `id`): names the capture a hit chains into */
  eventId: string
  time: string
  account?: string
  region?: string
}

type Obj = Record<string, unknown>
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v)
const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined)

/** Parses an EventBridge S3 Object Created event or the inspector's own event; ValidationError otherwise. */
export function parseUploadEvent(event: unknown, now: () => Date = () => new Date()): UploadEvent {
  if (!isObj(event)) throw new ValidationError('inspector event must be a JSON object: an EventBridge S3 "Object Created" event or {"bucket", "key"}', { field: '(event)' })
  if (event.source === 'aws.s3' || event['detail-type'] !== undefined) {
    if (event['detail-type'] !== 'Object Created') {
      throw new ValidationError(`inspector got an EventBridge ${JSON.stringify(event['detail-type'])} event; only S3 "Object Created" events are inspected (check the EventBridge rule's pattern)`, { field: 'detail-type' })
    }
    const detail = isObj(event.detail) ? event.detail : {}
    const bucket = str(isObj(detail.bucket) ? detail.bucket.name : undefined)
    const obj = isObj(detail.object) ? detail.object : {}
    const key = str(obj.key)
    if (!bucket || !key) throw new ValidationError('S3 Object Created event without detail.bucket.name or detail.object.key', { field: 'detail' })
    return {
      bucket, key,
      ...(str(obj['version-id']) ? { versionId: obj['version-id'] as string } : {}),
      ...(typeof obj.size === 'number' ? { size: obj.size } : {}),
      eventId: str(event.id) ?? `event:${sha256Hex(JSON.stringify(event))}`,
      time: str(event.time) ?? now().toISOString(),
      ...(str(event.account) ? { account: event.account as string } : {}),
      ...(str(event.region) ? { region: event.region as string } : {}),
    }
  }
  const bucket = str(event.bucket)
  const key = str(event.key)
  if (!bucket || !key) throw new ValidationError('inspector event needs "bucket" and "key" (or send an EventBridge S3 Object Created event)', { field: bucket ? 'key' : 'bucket' })
  return {
    bucket, key,
    ...(str(event.versionId) ? { versionId: event.versionId as string } : {}),
    eventId: str(event.id) ?? `event:${sha256Hex(JSON.stringify({ bucket, key, versionId: event.versionId ?? null }))}`,
    time: now().toISOString(),
  }
}

/** Whether `bucket`/`key` is inside the inspected buckets and prefixes. */
export function inScope(buckets: readonly InspectedBucket[], bucket: string, key: string): boolean {
  const b = buckets.find((x) => x.bucket === bucket)
  return b !== undefined && (b.prefixes.length === 0 || b.prefixes.some((p) => key.startsWith(p)))
}

/** The case a hit's capture goes to, from `inspection.caseIdTemplate`. */
export function inspectionCaseId(config: Pick<InspectionConfig, 'caseIdTemplate'>, u: UploadEvent): string {
  const id = config.caseIdTemplate
    .replaceAll('{bucket}', u.bucket.replace(/[^A-Za-z0-9._-]+/g, '-'))
    .replaceAll('{date}', u.time.slice(0, 10))
  return validateCaseId(id.slice(0, 64))
}
