/**
 * The trigger contract: the one table of what starts a capture in a deployment. Each row is
 * an EventBridge rule — its pattern, the functions it targets, the detail fields a matching
 * event must carry — and the parser every targeted handler uses, so the stack routes
 * exactly what the handlers accept (stacks/triggers.ts renders the rules from this table;
 * the handlers call {@link parseTriggerEvent} with their own function key).
 *
 * One case-id rule for every handler ({@link caseIdForTrigger}): an event that names no case
 * gets the case id of `FORENSICS_CASE_ID_TEMPLATE` (default {@link DEFAULT_CASE_ID_TEMPLATE}),
 * so both targets of one GuardDuty finding, and every change to one account on one day,
 * land in the same case.
 *
 * Adding a trigger: add a row to {@link TRIGGERS} (id, pattern, targets, required detail);
 * `parseTriggerEvent` then routes it to the targets, which must say how they capture it
 * (their request builders switch on `facts.origin`); the README table is generated from the
 * rows (test/contract.test.ts keeps it in sync).
 */
import type { ForensicsConfig, SensitiveBucketConfig } from '../config.js'
import { ValidationError } from '../errors.js'
import { validateCaseId } from '../keys.js'
import type { AsyncInvokeRoute, DestinationRef, FunctionKey } from '../routing.js'

/** `detail-type` of the CloudTrail events EventBridge delivers. */
export const CLOUDTRAIL_DETAIL_TYPE = 'AWS API Call via CloudTrail'
/** `detail-type` of GuardDuty findings. */
export const GUARDDUTY_DETAIL_TYPE = 'GuardDuty Finding'

/**
 * S3 API calls that change who can reach a bucket, as CloudTrail names them. The bucket-level
 * public access block calls are recorded as `PutBucketPublicAccessBlock` /
 * `DeleteBucketPublicAccessBlock` (the API operation is `PutPublicAccessBlock`; the
 * account-level S3 Control call keeps that name): AWS's "Amazon S3 CloudTrail events" page,
 * and detection rules written from real records (SigmaHQ `aws_cloudtrail_bucket_block_public_access_weakened`).
 */
export const S3_ACCESS_CHANGE_EVENTS = [
  'PutBucketPolicy', 'DeleteBucketPolicy', 'PutBucketAcl', 'PutBucketPublicAccessBlock', 'DeleteBucketPublicAccessBlock',
  'PutBucketEncryption', 'DeleteBucketEncryption', 'PutBucketOwnershipControls', 'DeleteBucketOwnershipControls',
] as const

/**
 * CloudTrail S3 data events on a sensitive bucket (`containment.sensitiveBuckets`) that start
 * a capture when the caller is outside the bucket's allow-list: the bucket's configuration
 * and the touched object's versions are captured, and the containment function acts on that
 * capture (issue 15).
 */
export const S3_DATA_EVENT_NAMES = [
  'GetObject', 'PutObject', 'DeleteObject', 'DeleteObjects', 'CopyObject', 'HeadObject', 'ListObjects', 'ListObjectsV2', 'ListObjectVersions',
  'GetObjectAcl', 'PutObjectAcl', 'GetObjectTagging', 'PutObjectTagging', 'RestoreObject', 'SelectObjectContent', 'CreateMultipartUpload', 'UploadPart', 'CompleteMultipartUpload',
] as const

/**
 * GuardDuty finding types about S3 buckets the contract test carries through the deployed
 * path. The rule matches every finding whose resource is an S3 bucket (new types included);
 * this list is what is proven, not a filter.
 */
export const GUARDDUTY_S3_FINDING_TYPES = [
  'Policy:S3/BucketBlockPublicAccessDisabled',
  'Policy:S3/BucketPublicAccessGranted',
  'Exfiltration:S3/AnomalousBehavior',
  'Impact:S3/AnomalousBehavior.Delete',
] as const

/** Rule ids (the rule name is `<name>-<id>`). */
export type TriggerId = 's3-access-changes' | 'guardduty-s3' | 'sensitive-access'

/** One row of the table: one EventBridge rule. */
export interface TriggerRow {
  id: TriggerId
  /** shown in the rule's description and the README */
  description: string
  source: 'aws.s3' | 'aws.guardduty'
  detailType: string
  /** CloudTrail event names the rule matches (CloudTrail rows) */
  eventNames?: readonly string[]
  /**
   * which buckets a CloudTrail row matches: `watched` (default; one rule, every bucket when
   * none is watched) or `sensitive` (one rule `<id>-<n>` per sensitive bucket, callers outside
   * its allow-list only; no rule unless `containment.enabled` with sensitive buckets)
   */
  buckets?: 'watched' | 'sensitive'
  /** finding types the contract test proves (GuardDuty rows; the rule matches the resource type) */
  findingTypes?: readonly string[]
  /** the functions the rule targets, in target order */
  targets: readonly FunctionKey[]
  /** `detail` fields (dotted paths; `[]` = in some element) a routed event must carry */
  requiredDetail: readonly string[]
  /** how each target turns the event into a capture (README) */
  captures: Partial<Record<FunctionKey, string>>
}

/** The table. */
export const TRIGGERS: readonly TriggerRow[] = [
  {
    id: 's3-access-changes',
    description: 'CloudTrail: policy, ACL, public access block, encryption or ownership change on a watched bucket',
    source: 'aws.s3',
    detailType: CLOUDTRAIL_DETAIL_TYPE,
    eventNames: S3_ACCESS_CHANGE_EVENTS,
    targets: ['bucket-config'],
    requiredDetail: ['eventName', 'requestParameters.bucketName'],
    captures: { 'bucket-config': 'snapshots the configuration of the bucket in `requestParameters.bucketName`' },
  },
  {
    id: 'guardduty-s3',
    description: 'GuardDuty finding whose resource is an S3 bucket',
    source: 'aws.guardduty',
    detailType: GUARDDUTY_DETAIL_TYPE,
    findingTypes: GUARDDUTY_S3_FINDING_TYPES,
    targets: ['object-versions', 'cloudtrail-slice'],
    requiredDetail: ['id', 'type', 'resource.s3BucketDetails[].name', 'service.eventFirstSeen', 'service.eventLastSeen'],
    captures: {
      'object-versions': 'copies every version of the finding\'s bucket (`FORENSICS_OBJECT_VERSIONS_PREFIX`)',
      'cloudtrail-slice': 'slices the archive and LookupEvents from first to last seen ±1 h, by the finding\'s access key (else its bucket)',
    },
  },
  {
    id: 'sensitive-access',
    description: 'CloudTrail data event on a sensitive bucket by a caller outside its allow-list (containment)',
    source: 'aws.s3',
    detailType: CLOUDTRAIL_DETAIL_TYPE,
    eventNames: S3_DATA_EVENT_NAMES,
    buckets: 'sensitive',
    targets: ['bucket-config', 'object-versions'],
    requiredDetail: ['eventName', 'requestParameters.bucketName'],
    captures: {
      'bucket-config': 'snapshots the configuration of the bucket in `requestParameters.bucketName` (the custody recorder then starts containment)',
      'object-versions': 'copies the versions of the object in `requestParameters.key`; without a key, every version of the bucket (`FORENSICS_OBJECT_VERSIONS_PREFIX`)',
    },
  },
]

/** The row of a rule id. */
export function triggerRow(id: TriggerId): TriggerRow {
  return TRIGGERS.find((r) => r.id === id) as TriggerRow
}

/** Which buckets the rules match: the watched ones, and the sensitive ones when containment is on. */
export interface TriggerScope {
  watchedBuckets: readonly string[]
  /** empty unless `containment.enabled` */
  sensitiveBuckets: readonly SensitiveBucketConfig[]
}

/** The scope of a deployment's rules. */
export function triggerScope(config: Pick<ForensicsConfig, 'watchedBuckets' | 'containment'>): TriggerScope {
  return { watchedBuckets: config.watchedBuckets, sensitiveBuckets: config.containment.enabled ? config.containment.sensitiveBuckets : [] }
}

/**
 * The EventBridge pattern of a row; `watchedBuckets` narrows CloudTrail rows (empty: all
 * buckets). A `sensitive` row's patterns are per bucket: {@link sensitiveAccessPattern}.
 */
export function triggerPattern(row: TriggerRow, watchedBuckets: readonly string[]): Record<string, unknown> {
  if (row.buckets === 'sensitive') throw new ValidationError(`trigger ${row.id} has one pattern per sensitive bucket; use sensitiveAccessPattern`, { field: row.id })
  if (row.source === 'aws.s3') return s3CallPattern(row, watchedBuckets.length > 0 ? { requestParameters: { bucketName: [...watchedBuckets] } } : {})
  return { source: [row.source], 'detail-type': [row.detailType], detail: { resource: { resourceType: ['S3Bucket'] } } }
}

/**
 * The pattern of the `sensitive-access` row for one sensitive bucket: its data events by a
 * principal outside its allow-list (`anything-but`). The containment function checks the
 * allow-list again: wildcard entries cannot be expressed as `anything-but` values, so a
 * bucket whose allow-list has them matches every caller here.
 */
export function sensitiveAccessPattern(bucket: SensitiveBucketConfig): Record<string, unknown> {
  const row = triggerRow('sensitive-access')
  const exact = bucket.allowedPrincipals.filter((p) => !/[*?]/.test(p))
  const filterable = exact.length > 0 && exact.length === bucket.allowedPrincipals.length
  return s3CallPattern(row, {
    requestParameters: { bucketName: [bucket.bucket] },
    ...(filterable ? { userIdentity: { arn: [{ 'anything-but': exact }] } } : {}),
  })
}

/** A CloudTrail-recorded S3 call of one of the row's event names, with more detail to match. */
function s3CallPattern(row: TriggerRow, detail: Record<string, unknown>): Record<string, unknown> {
  return { source: [row.source], 'detail-type': [row.detailType], detail: { eventSource: ['s3.amazonaws.com'], eventName: [...(row.eventNames ?? [])], ...detail } }
}

/** One EventBridge rule of a deployment: its id (the rule name is `<name>-<id>`), row and pattern. */
export interface TriggerRule {
  id: string
  row: TriggerRow
  pattern: Record<string, unknown>
}

/** Every rule a deployment has: one per row, one per sensitive bucket for a `sensitive` row. */
export function triggerRules(scope: TriggerScope): TriggerRule[] {
  return TRIGGERS.flatMap((row) => (row.buckets === 'sensitive'
    ? scope.sensitiveBuckets.map((b, i) => ({ id: `${row.id}-${i}`, row, pattern: sensitiveAccessPattern(b) }))
    : [{ id: row.id, row, pattern: triggerPattern(row, scope.watchedBuckets) }]))
}

/** Every rule's pattern by rule id (the forensics rules and every forwarding rule use them). */
export function triggerPatterns(watchedBuckets: readonly string[], sensitiveBuckets: readonly SensitiveBucketConfig[] = []): Record<string, Record<string, unknown>> {
  return Object.fromEntries(triggerRules({ watchedBuckets, sensitiveBuckets }).map((r) => [r.id, r.pattern]))
}

/** The rows that target a function. */
export function triggersOf(key: FunctionKey): TriggerRow[] {
  return TRIGGERS.filter((r) => r.targets.includes(key))
}

/** What a routed event says, whatever its source. */
export interface TriggerFacts {
  trigger: TriggerId
  /** `ct` (CloudTrail) or `gd` (GuardDuty): the `{origin}` of the case-id template */
  origin: 'ct' | 'gd'
  /** CloudTrail eventID or GuardDuty finding id */
  eventId: string
  /** the capture's idempotency id: CloudTrail eventID; for a finding, the EventBridge event id (an updated finding is a new event) */
  deliveryId: string
  /** CloudTrail event name or GuardDuty finding type */
  eventName: string
  /** CloudTrail eventTime, or the finding's first seen */
  eventTime: string
  /** the finding's last seen (GuardDuty) */
  lastSeen?: string
  account: string
  region: string
  /** the bucket(s) concerned, at least one */
  buckets: string[]
  /** the object key a CloudTrail data event names (`requestParameters.key`) */
  key?: string
  principalArn?: string
  accessKeyId?: string
  requestId?: string
}

type Obj = Record<string, unknown>
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v)
const str = (v: unknown): string | undefined => (typeof v === 'string' && v.length > 0 ? v : undefined)

/** True when `event` is an EventBridge event of some row's source and detail-type (any function). */
export function isTriggerEvent(event: unknown): event is Obj & { detail: Obj } {
  return isObj(event) && isObj(event.detail) && TRIGGERS.some((r) => r.source === event.source && r.detailType === event['detail-type'])
}

/** The values at a dotted path (`a.b[].c`); empty when absent. */
function valuesAt(root: unknown, path: string): unknown[] {
  let cur: unknown[] = [root]
  for (const part of path.split('.')) {
    const many = part.endsWith('[]')
    const name = many ? part.slice(0, -2) : part
    cur = cur.flatMap((v) => {
      const x = isObj(v) ? v[name] : undefined
      if (many) return Array.isArray(x) ? x : []
      return x === undefined || x === null || x === '' ? [] : [x]
    })
  }
  return cur
}

/**
 * Parses an EventBridge event routed to `key` by the table; throws a ValidationError naming
 * the field when no row routes it to `key`, its event name is not the row's, or a required
 * detail field is missing (permanent: retrying cannot fix the event).
 */
export function parseTriggerEvent(event: Obj, key: FunctionKey): TriggerFacts {
  const rows = triggersOf(key).filter((r) => r.source === event.source && r.detailType === event['detail-type'])
  if (rows.length === 0) {
    const routed = triggersOf(key).map((r) => `${r.source} "${r.detailType}"`).join(', ') || 'none'
    throw new ValidationError(`${key} is not a target of ${String(event.source)} "${String(event['detail-type'])}" events (its triggers: ${routed}); send its own event instead`, { field: 'detail-type' })
  }
  const detail = event.detail as Obj
  // CloudTrail rows are told apart by event name (their name lists are disjoint)
  const row = rows.find((r) => !r.eventNames || r.eventNames.includes(String(detail.eventName)))
  if (!row) {
    if (valuesAt(detail, 'eventName').length === 0) throw new ValidationError(`CloudTrail event for ${key} has no detail.eventName`, { field: 'detail.eventName' })
    throw new ValidationError(`CloudTrail event ${JSON.stringify(detail.eventName)} is not routed to ${key}; ${rows.map((r) => `rule ${r.id} routes ${(r.eventNames ?? []).join(', ')}`).join('; ')}`, { field: 'detail.eventName' })
  }
  for (const path of row.requiredDetail) {
    if (valuesAt(detail, path).length === 0) throw new ValidationError(`${row.id} event for ${key} has no detail.${path}`, { field: `detail.${path}` })
  }
  const envelopeId = str(event.id)
  if (row.source === 'aws.s3') {
    const eventId = str(detail.eventID) ?? envelopeId
    if (!eventId) throw new ValidationError(`CloudTrail ${String(detail.eventName)} event has neither detail.eventID nor id`, { field: 'detail.eventID' })
    const identity = isObj(detail.userIdentity) ? detail.userIdentity : {}
    return {
      trigger: row.id,
      origin: 'ct',
      eventId,
      deliveryId: eventId,
      eventName: String(detail.eventName),
      eventTime: str(detail.eventTime) ?? str(event.time) ?? new Date(0).toISOString(),
      account: str(detail.recipientAccountId) ?? str(event.account) ?? '',
      region: str(detail.awsRegion) ?? str(event.region) ?? '',
      buckets: [String(valuesAt(detail, 'requestParameters.bucketName')[0])],
      ...(str(valuesAt(detail, 'requestParameters.key')[0]) ? { key: String(valuesAt(detail, 'requestParameters.key')[0]) } : {}),
      principalArn: str(identity.arn),
      accessKeyId: str(identity.accessKeyId),
      requestId: str(detail.requestID),
    }
  }
  const resource = detail.resource as Obj
  const buckets = valuesAt(detail, 'resource.s3BucketDetails[].name').map(String)
  const ak = str(valuesAt(resource, 'accessKeyDetails.accessKeyId')[0])
  const principal = valuesAt(resource, 'accessKeyDetails.principalId')[0]
  return {
    trigger: row.id,
    origin: 'gd',
    eventId: String(detail.id),
    deliveryId: envelopeId ?? String(detail.id),
    eventName: String(detail.type),
    eventTime: String(valuesAt(detail, 'service.eventFirstSeen')[0]),
    lastSeen: String(valuesAt(detail, 'service.eventLastSeen')[0]),
    account: str(detail.accountId) ?? str(event.account) ?? '',
    region: str(detail.region) ?? str(event.region) ?? '',
    buckets,
    // GuardDuty's sample findings carry a placeholder key id: no filter on it
    ...(ak && ak !== 'GeneratedFindingAccessKeyId' ? { accessKeyId: ak } : {}),
    ...(typeof principal === 'string' && principal.startsWith('arn:') ? { principalArn: principal } : {}),
  }
}

/** The case-id rule when an event names no case: `FORENSICS_CASE_ID_TEMPLATE`, else this. */
export const DEFAULT_CASE_ID_TEMPLATE = '{origin}-{account}-{date}'

/**
 * The one case-id rule: a template with `{origin}` (`ct`/`gd`), `{account}`, `{region}`,
 * `{bucket}`, `{eventName}`, `{date}` (UTC day of the event) and `{eventId}`; substituted
 * values are reduced to the characters a case id allows, and the result is cut to 64.
 */
export function caseIdForTrigger(template: string, t: TriggerFacts): string {
  const values: Record<string, string> = {
    origin: t.origin,
    account: t.account,
    region: t.region,
    bucket: t.buckets[0] ?? '',
    eventName: t.eventName,
    date: t.eventTime.slice(0, 10),
    eventId: t.eventId,
  }
  const id = template.replace(/\{(\w+)\}/g, (_m, name: string) => {
    if (!(name in values)) throw new ValidationError(`FORENSICS_CASE_ID_TEMPLATE uses {${name}}; known placeholders: ${Object.keys(values).map((k) => `{${k}}`).join(' ')}`, { field: 'FORENSICS_CASE_ID_TEMPLATE' })
    return values[name].replace(/[^A-Za-z0-9._-]+/g, '-')
  })
  return validateCaseId(id.slice(0, 64).replace(/^[.]*$/, 'case'))
}

/** The case of a routed event: its own `caseId` when it carries one, else the template's. */
export function caseIdOf(event: Obj, facts: TriggerFacts, template: string | undefined): string {
  return typeof event.caseId === 'string' ? validateCaseId(event.caseId) : caseIdForTrigger(template ?? DEFAULT_CASE_ID_TEMPLATE, facts)
}

/** The trigger recorded in a manifest (source and idempotency id) for a routed event. */
export function triggerOf(facts: TriggerFacts): { source: string; id: string } {
  return facts.origin === 'ct' ? { source: `cloudtrail:${facts.eventName}`, id: `cloudtrail:${facts.eventId}` } : { source: `guardduty:${facts.eventName}`, id: `guardduty:${facts.deliveryId}` }
}

/** How a destination reads in the README. */
function destinationText(d: DestinationRef): string {
  if (d.type === 'lambda') return `\`${d.functionName}\` (Lambda)`
  if (d.type === 'sqs') return `\`${d.queueName}\` (SQS dead-letter queue)`
  return `\`${d.eventBusName}\` (EventBridge bus)`
}

/**
 * The README's trigger → function → destinations table, generated from {@link TRIGGERS}
 * and the routing table (test/contract.test.ts keeps README.md in sync with it).
 */
export function renderTriggerTable(routes: readonly AsyncInvokeRoute[], name: string): string {
  const lines = ['| rule | matches | function | captures | OnSuccess | OnFailure |', '|---|---|---|---|---|---|']
  for (const row of TRIGGERS) {
    const matches = row.eventNames
      ? `CloudTrail ${row.eventNames.map((e) => `\`${e}\``).join(', ')} ${row.buckets === 'sensitive' ? 'on a sensitive bucket by a caller outside its allow-list (`containment.enabled`; one rule per bucket)' : 'on a watched bucket'}`
      : `${row.detailType} on an S3 bucket (proven: ${(row.findingTypes ?? []).map((f) => `\`${f}\``).join(', ')})`
    for (const key of row.targets) {
      const route = routes.find((r) => r.key === key)
      if (!route) throw new ValidationError(`trigger ${row.id} targets ${key}, which has no routing-table row`, { field: key })
      lines.push(`| \`${name}-${row.id}${row.buckets === 'sensitive' ? '-<n>' : ''}\` | ${matches} | \`${route.functionName}\` | ${row.captures[key] ?? ''} | ${destinationText(route.onSuccess)} | ${destinationText(route.onFailure)} |`)
    }
  }
  return lines.join('\n')
}
