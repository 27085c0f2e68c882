/**
 * Triggers shared by the S3 collectors: the EventBridge-delivered CloudTrail event of an S3
 * API call (`detail-type: "AWS API Call via CloudTrail"`), and the case id rule applied
 * when such an event names no case.
 */
import { ValidationError } from '../errors.js'
import { validateCaseId } from '../keys.js'

/** CloudTrail event names that make the bucket-config collector snapshot a bucket. */
export const BUCKET_CONFIG_EVENT_NAMES = [
  'PutBucketPolicy',
  'DeleteBucketPolicy',
  'PutBucketAcl',
  'PutPublicAccessBlock',
  'DeleteBucketPublicAccessBlock',
  'PutBucketVersioning',
  'PutBucketLifecycleConfiguration',
  'PutBucketLifecycle',
  'PutBucketEncryption',
  'DeleteBucketEncryption',
] as const

/**
 * CloudTrail S3 data events on a sensitive bucket (`containment.sensitiveBuckets`) that the
 * EventBridge rule forwards when the caller is outside the bucket's allow-list: they start a
 * capture of the bucket configuration (and of the touched object's versions), and the
 * containment function acts on that capture.
 */
export const S3_DATA_EVENT_NAMES = [
  'GetObject', 'PutObject', 'DeleteObject', 'DeleteObjects', 'CopyObject', 'HeadObject', 'ListObjects', 'ListObjectsV2', 'ListObjectVersions',
  'GetObjectAcl', 'PutObjectAcl', 'GetObjectTagging', 'PutObjectTagging', 'RestoreObject', 'SelectObjectContent', 'CreateMultipartUpload', 'UploadPart', 'CompleteMultipartUpload',
] as const

/** What a CloudTrail-triggered capture needs from the event. */
export interface CloudTrailTrigger {
  /** CloudTrail's eventID (stable across EventBridge redeliveries) */
  eventId: string
  eventName: string
  eventTime: string
  bucket: string
  /** object key, for object-level events */
  key?: string
  account: string
  region: string
  principalArn?: string
  requestId?: string
}

type Obj = Record<string, unknown>
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v)
const str = (v: unknown): string | undefined => (typeof v === 'string' && v.length > 0 ? v : undefined)

/** True when `event` looks like an EventBridge event carrying a CloudTrail record. */
export function isCloudTrailEvent(event: unknown): event is Obj {
  return isObj(event) && event['detail-type'] === 'AWS API Call via CloudTrail' && isObj(event.detail)
}

/**
 * Parses an EventBridge CloudTrail event for one of `eventNames`; throws a ValidationError
 * naming what is missing (a permanent error: retrying cannot fix the event).
 */
export function parseCloudTrailEvent(event: Obj, eventNames: readonly string[]): CloudTrailTrigger {
  const detail = event.detail as Obj
  const eventName = str(detail.eventName)
  if (!eventName || !eventNames.includes(eventName)) {
    throw new ValidationError(`CloudTrail event ${JSON.stringify(eventName ?? null)} does not trigger this collector; expected one of ${eventNames.join(', ')}`, { field: 'detail.eventName' })
  }
  const params = isObj(detail.requestParameters) ? detail.requestParameters : {}
  const bucket = str(params.bucketName)
  if (!bucket) throw new ValidationError(`CloudTrail ${eventName} event has no requestParameters.bucketName`, { field: 'detail.requestParameters.bucketName' })
  const eventId = str(detail.eventID) ?? str(event.id)
  if (!eventId) throw new ValidationError(`CloudTrail ${eventName} event has neither detail.eventID nor id`, { field: 'detail.eventID' })
  const identity = isObj(detail.userIdentity) ? detail.userIdentity : {}
  return {
    eventId,
    eventName,
    eventTime: str(detail.eventTime) ?? str(event.time) ?? new Date(0).toISOString(),
    bucket,
    key: str(params.key),
    account: str(detail.recipientAccountId) ?? str(event.account) ?? '',
    region: str(detail.awsRegion) ?? str(event.region) ?? '',
    principalArn: str(identity.arn),
    requestId: str(detail.requestID),
  }
}

/** The rule used when an event names no case: `FORENSICS_CASE_ID_TEMPLATE`, else this. */
export const DEFAULT_CASE_ID_TEMPLATE = 'ct-{account}-{date}'

/**
 * Builds a case id from a template with `{account}`, `{region}`, `{bucket}`, `{eventName}`,
 * `{date}` (UTC day of the event) and `{eventId}`; substituted values are reduced to the
 * characters a case id allows, and the result is cut to 64 characters.
 */
export function caseIdFromTemplate(template: string, t: CloudTrailTrigger): string {
  const values: Record<string, string> = {
    account: t.account,
    region: t.region,
    bucket: t.bucket,
    eventName: t.eventName,
    date: t.eventTime.slice(0, 10),
    eventId: t.eventId,
  }
  const unknownName = /\{(\w+)\}/g
  const id = template.replace(unknownName, (_m, name: string) => {
    if (!(name in values)) throw new ValidationError(`FORENSICS_CASE_ID_TEMPLATE uses {${name}}; known placeholders: ${Object.keys(values).map((k) => `{${k}}`).join(' ')}`, { field: 'FORENSICS_CASE_ID_TEMPLATE' })
    return values[name].replace(/[^A-Za-z0-9._-]+/g, '-')
  })
  return validateCaseId(id.slice(0, 64).replace(/^[.]+$/, 'case'))
}
