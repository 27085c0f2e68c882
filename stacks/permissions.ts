/**
 * Least-privilege statements for each function's role, as data. No `*` actions, no delete
 * on evidence; writes only under the function's evidence prefix (from the routing table).
 * The evidence and signing keys are granted by their key policies, not here.
 */
import type { PolicyStatement } from './policy.js'
import type { AsyncInvokeRoute, DestinationRef, FunctionKey } from '../forensics/routing.js'

/** ARNs and names the statements refer to. */
export interface PermissionContext {
  accountId: string
  region: string
  evidenceBucketArn: string
  platformKeyArn: string
  watchedBuckets: string[]
  canaryBucket?: string
  cloudTrailArchive: { bucket: string; prefix: string; kmsKeyArn?: string }
  memberAccounts: string[]
  memberRoleName: string
  fanOutQueueArn: string
  deadLetterQueueArn: string
  siemTopicArn: string
  siemEventBusArn: string
  /** Function ARN by key (for the drill's invocations). */
  functionArns: Record<FunctionKey, string>
  /** Resolves a routing destination to its ARN. */
  destinationArn: (ref: DestinationRef) => string
  /** Upload inspection, when enabled: what the inspector reads. */
  inspection?: InspectionAccess
}

/** What the inspector reads: uploads in the inspected buckets/prefixes, and its rule objects. */
export interface InspectionAccess {
  buckets: { bucket: string; prefixes: string[] }[]
  ruleObjects: { bucket: string; key: string }[]
}

/** Bucket-level reads that describe who can reach a bucket (DESIGN.md "bucket-config"). */
export const BUCKET_CONFIG_READS = [
  's3:GetBucketPolicy', 's3:GetBucketPolicyStatus', 's3:GetBucketAcl', 's3:GetBucketPublicAccessBlock',
  's3:GetBucketOwnershipControls', 's3:GetEncryptionConfiguration', 's3:GetBucketVersioning',
  's3:GetBucketObjectLockConfiguration', 's3:GetBucketLogging', 's3:GetLifecycleConfiguration',
  's3:GetReplicationConfiguration', 's3:GetBucketCORS', 's3:GetBucketWebsite', 's3:GetBucketNotification',
  's3:GetBucketTagging', 's3:GetBucketLocation',
] as const

/** Object-level reads for copying versions. */
export const OBJECT_VERSION_READS = [
  's3:GetObject', 's3:GetObjectVersion', 's3:GetObjectAttributes', 's3:GetObjectVersionAttributes',
  's3:GetObjectTagging', 's3:GetObjectVersionTagging',
] as const

const bucketArn = (name: string): string => `arn:aws:s3:::${name}`

/** Evidence reads and writes under the function's own prefix. */
export function evidenceAccess(route: Pick<AsyncInvokeRoute, 'evidenceWritePrefixes'>, c: Pick<PermissionContext, 'evidenceBucketArn'>): PolicyStatement[] {
  return [
    // The evidence store checks versioning and Object Lock before it writes.
    {
      Sid: 'EvidenceBucketReads',
      Effect: 'Allow',
      Action: ['s3:ListBucket', 's3:ListBucketVersions', 's3:GetBucketVersioning', 's3:GetBucketObjectLockConfiguration'],
      Resource: c.evidenceBucketArn,
    },
    { Sid: 'EvidenceRead', Effect: 'Allow', Action: ['s3:GetObject', 's3:GetObjectVersion', 's3:GetObjectRetention', 's3:GetObjectAttributes'], Resource: `${c.evidenceBucketArn}/*` },
    {
      // Abort only discards the parts of an upload this function started; it removes no object.
      Sid: 'EvidenceWriteOwnPrefix',
      Effect: 'Allow',
      Action: ['s3:PutObject', 's3:PutObjectRetention', 's3:AbortMultipartUpload'],
      Resource: route.evidenceWritePrefixes.map((p) => `${c.evidenceBucketArn}/${p}`),
    },
  ]
}

/** Permission to deliver to the function's async destinations. */
export function destinationAccess(route: Pick<AsyncInvokeRoute, 'onSuccess' | 'onFailure'>, c: Pick<PermissionContext, 'destinationArn' | 'platformKeyArn'>): PolicyStatement[] {
  const out: PolicyStatement[] = []
  for (const [sid, ref] of [['OnSuccessDestination', route.onSuccess], ['OnFailureDestination', route.onFailure]] as const) {
    const arn = c.destinationArn(ref)
    if (ref.type === 'lambda') out.push({ Sid: sid, Effect: 'Allow', Action: 'lambda:InvokeFunction', Resource: arn })
    else if (ref.type === 'sqs') out.push({ Sid: sid, Effect: 'Allow', Action: 'sqs:SendMessage', Resource: arn })
    else out.push({ Sid: sid, Effect: 'Allow', Action: 'events:PutEvents', Resource: arn })
  }
  // The queues and topics are encrypted with the platform key.
  out.push({ Sid: 'PlatformKeyForQueuesAndTopics', Effect: 'Allow', Action: ['kms:GenerateDataKey', 'kms:Decrypt'], Resource: c.platformKeyArn })
  return out
}

/** Reading member-account buckets goes through the member role (external id checked there). */
function memberAccess(c: PermissionContext): PolicyStatement[] {
  if (c.memberAccounts.length === 0) return []
  return [{
    Sid: 'AssumeMemberReadOnlyRole',
    Effect: 'Allow',
    Action: 'sts:AssumeRole',
    Resource: c.memberAccounts.map((a) => `arn:aws:iam::${a}:role/${c.memberRoleName}`),
  }]
}

function targetBuckets(c: PermissionContext): string[] {
  return [...c.watchedBuckets, ...(c.canaryBucket ? [c.canaryBucket] : [])]
}

function bucketConfigReads(c: PermissionContext): PolicyStatement[] {
  const buckets = targetBuckets(c)
  return [
    ...(buckets.length > 0 ? [{ Sid: 'ReadTargetBucketConfiguration', Effect: 'Allow' as const, Action: [...BUCKET_CONFIG_READS], Resource: buckets.map(bucketArn) }] : []),
    // Account-level setting: the action has no resource to scope to.
    { Sid: 'ReadAccountPublicAccessBlock', Effect: 'Allow', Action: 's3:GetAccountPublicAccessBlock', Resource: '*' },
  ]
}

function objectVersionReads(c: PermissionContext): PolicyStatement[] {
  // an inspection hit chains into an object-versions capture of the inspected key
  const buckets = [...new Set([...targetBuckets(c), ...(c.inspection?.buckets.map((b) => b.bucket) ?? [])])]
  return [
    ...(buckets.length > 0
      ? [
          { Sid: 'ListTargetVersions', Effect: 'Allow' as const, Action: ['s3:ListBucket', 's3:ListBucketVersions'], Resource: buckets.map(bucketArn) },
          { Sid: 'ReadTargetVersions', Effect: 'Allow' as const, Action: [...OBJECT_VERSION_READS], Resource: buckets.map((b) => `${bucketArn(b)}/*`) },
        ]
      : []),
    {
      Sid: 'FanOutQueue',
      Effect: 'Allow',
      Action: ['sqs:SendMessage', 'sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:GetQueueAttributes', 'sqs:ChangeMessageVisibility'],
      Resource: c.fanOutQueueArn,
    },
  ]
}

function cloudTrailReads(c: PermissionContext): PolicyStatement[] {
  const a = c.cloudTrailArchive
  const logs = a.prefix ? `${a.prefix}/AWSLogs/` : 'AWSLogs/'
  const out: PolicyStatement[] = [
    {
      Sid: 'ListTrailArchive',
      Effect: 'Allow',
      Action: 's3:ListBucket',
      Resource: bucketArn(a.bucket),
      Condition: { StringLike: { 's3:prefix': [a.prefix ? `${a.prefix}/` : '', `${logs}*`] } },
    },
    // a log file listed with its version id is read at that version (GetObject with VersionId)
    { Sid: 'ReadTrailArchive', Effect: 'Allow', Action: ['s3:GetObject', 's3:GetObjectVersion'], Resource: `${bucketArn(a.bucket)}/${logs}*` },
    // LookupEvents and ListPublicKeys (digest validation) have no resource-level scoping.
    { Sid: 'LookupManagementEvents', Effect: 'Allow', Action: ['cloudtrail:LookupEvents', 'cloudtrail:ListPublicKeys'], Resource: '*' },
  ]
  if (a.kmsKeyArn) out.push({ Sid: 'DecryptTrailArchive', Effect: 'Allow', Action: 'kms:Decrypt', Resource: a.kmsKeyArn })
  return out
}

function siemPublish(c: PermissionContext): PolicyStatement[] {
  return [
    { Sid: 'PublishToSiemTopic', Effect: 'Allow', Action: 'sns:Publish', Resource: c.siemTopicArn },
    { Sid: 'PublishToSiemBus', Effect: 'Allow', Action: 'events:PutEvents', Resource: c.siemEventBusArn },
  ]
}

function drillActions(c: PermissionContext): PolicyStatement[] {
  const canary = c.canaryBucket
  return [
    ...(canary
      ? [
          {
            // The drill's incident: a policy change on its canary bucket, restored afterwards.
            Sid: 'CanaryIncidentBucket',
            Effect: 'Allow' as const,
            Action: ['s3:ListBucket', 's3:ListBucketVersions', 's3:GetBucketPolicy', 's3:PutBucketPolicy', 's3:DeleteBucketPolicy'],
            Resource: bucketArn(canary),
          },
          // Deletes are allowed on the canary bucket only: the incident and its cleanup.
          {
            Sid: 'CanaryIncidentObjects',
            Effect: 'Allow' as const,
            Action: ['s3:PutObject', 's3:GetObject', 's3:GetObjectVersion', 's3:DeleteObject', 's3:DeleteObjectVersion'],
            Resource: `${bucketArn(canary)}/*`,
          },
        ]
      : []),
    {
      Sid: 'InvokeCollectors',
      Effect: 'Allow',
      Action: 'lambda:InvokeFunction',
      Resource: [c.functionArns['bucket-config'], c.functionArns['object-versions'], c.functionArns['cloudtrail-slice']],
    },
    {
      // Proves the report reaches the SIEM topic: a short-lived queue subscribed to it.
      Sid: 'SiemProbeQueues',
      Effect: 'Allow',
      Action: ['sqs:CreateQueue', 'sqs:GetQueueAttributes', 'sqs:SetQueueAttributes', 'sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:DeleteQueue'],
      Resource: `arn:aws:sqs:${c.region}:${c.accountId}:drill-*-siem-probe`,
    },
    { Sid: 'SiemProbeSubscription', Effect: 'Allow', Action: ['sns:Subscribe', 'sns:Unsubscribe'], Resource: c.siemTopicArn },
    {
      // Finds the drill's own failed invocations in the dead-letter queue.
      Sid: 'WatchDeadLetterQueue',
      Effect: 'Allow',
      Action: ['sqs:GetQueueUrl', 'sqs:GetQueueAttributes', 'sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:ChangeMessageVisibility'],
      Resource: c.deadLetterQueueArn,
    },
  ]
}

/** The inspector reads uploads (only under the inspected prefixes) and its rule files / IOC lists. */
function inspectorReads(c: PermissionContext): PolicyStatement[] {
  const i = c.inspection
  if (!i) return []
  const uploads = i.buckets.flatMap((b) => (b.prefixes.length === 0 ? [`${bucketArn(b.bucket)}/*`] : b.prefixes.map((p) => `${bucketArn(b.bucket)}/${p}*`)))
  return [
    { Sid: 'ReadInspectedUploads', Effect: 'Allow', Action: ['s3:GetObject', 's3:GetObjectVersion'], Resource: uploads },
    ...(i.ruleObjects.length > 0 ? [{ Sid: 'ReadInspectionRules', Effect: 'Allow' as const, Action: 's3:GetObject', Resource: i.ruleObjects.map((o) => `${bucketArn(o.bucket)}/${o.key}`) }] : []),
  ]
}

/** The recorder starts the object-versions capture an inspection hit chains into. */
function chainedCaptures(c: PermissionContext): PolicyStatement[] {
  return c.inspection ? [{ Sid: 'ChainInspectionCaptures', Effect: 'Allow', Action: 'lambda:InvokeFunction', Resource: c.functionArns['object-versions'] }] : []
}

/** The full statement list for one function's role. */
export function functionStatements(route: AsyncInvokeRoute, c: PermissionContext): PolicyStatement[] {
  const own: Record<FunctionKey, () => PolicyStatement[]> = {
    'bucket-config': () => [...bucketConfigReads(c), ...memberAccess(c)],
    'object-versions': () => [...objectVersionReads(c), ...memberAccess(c)],
    'cloudtrail-slice': () => [...cloudTrailReads(c), ...memberAccess(c)],
    'custody-recorder': () => [...siemPublish(c), ...chainedCaptures(c)],
    drill: () => [...drillActions(c), ...siemPublish(c)],
    inspector: () => inspectorReads(c),
  }
  // the inspector touches no evidence: the capture it chains into writes it
  const evidence = route.key === 'inspector' ? [] : evidenceAccess(route, c)
  return [...evidence, ...own[route.key](), ...destinationAccess(route, c)]
}
