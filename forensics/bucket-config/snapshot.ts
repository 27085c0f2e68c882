/**
 * Reads everything that decides who can reach a bucket, one call at a time, recording each
 * call's outcome (`ok` / `absent` / `denied` / `error`): a refused call is evidence too.
 */
import {
  GetBucketAclCommand,
  GetBucketCorsCommand,
  GetBucketEncryptionCommand,
  GetBucketLifecycleConfigurationCommand,
  GetBucketLocationCommand,
  GetBucketLoggingCommand,
  GetBucketNotificationConfigurationCommand,
  GetBucketOwnershipControlsCommand,
  GetBucketPolicyCommand,
  GetBucketPolicyStatusCommand,
  GetBucketReplicationCommand,
  GetBucketTaggingCommand,
  GetBucketVersioningCommand,
  GetBucketWebsiteCommand,
  GetObjectLockConfigurationCommand,
  GetPublicAccessBlockCommand,
  type S3Client,
} from '@aws-sdk/client-s3'
import { GetPublicAccessBlockCommand as GetAccountPublicAccessBlockCommand, type S3ControlClient } from '@aws-sdk/client-s3-control'
import { RetriesExhaustedError, withRetry } from '../retry.js'

/** Schema id of a bucket-config snapshot document. */
export const BUCKET_CONFIG_SCHEMA = 'forensics.bucket-config/v1'

/** How one read went. */
export type CallOutcome = 'ok' | 'absent' | 'denied' | 'error'

/** One recorded call. */
export interface CallRecord {
  /** the S3 API operation, e.g. `GetBucketPolicy` */
  operation: string
  outcome: CallOutcome
  /** the service's error code when not `ok` */
  code?: string
  message?: string
  /** the response (SDK metadata removed); the policy is also parsed into `policy` */
  value?: unknown
}

/** The snapshot document (stored as canonical JSON). */
export interface BucketConfigSnapshot {
  schema: typeof BUCKET_CONFIG_SCHEMA
  bucket: string
  accountId?: string
  region?: string
  /** false when the bucket itself does not exist (every call answered NoSuchBucket) */
  exists: boolean
  /** calls by aspect: policy, policyStatus, acl, publicAccessBlock, accountPublicAccessBlock, ... */
  calls: Record<string, CallRecord>
}

/** The clients a snapshot reads through (already scoped to the right account and region). */
export interface BucketConfigSources {
  s3: S3Client
  /** S3 Control, for the account-level public access block (needs `accountId`) */
  s3control?: S3ControlClient
  accountId?: string
}

/** Error codes that mean "this configuration is not set". */
const ABSENT = new Set([
  'NoSuchBucketPolicy',
  'NoSuchPublicAccessBlockConfiguration',
  'OwnershipControlsNotFoundError',
  'ServerSideEncryptionConfigurationNotFoundError',
  'ObjectLockConfigurationNotFoundError',
  'NoSuchLifecycleConfiguration',
  'ReplicationConfigurationNotFoundError',
  'NoSuchCORSConfiguration',
  'NoSuchWebsiteConfiguration',
  'NoSuchTagSet',
  'NoSuchTagSetError',
])
const DENIED = new Set(['AccessDenied', 'AccessDeniedException', 'AllAccessDisabled', 'Forbidden', 'InvalidAccessKeyId', 'ExpiredToken'])

interface AwsError {
  name?: string
  message?: string
  $metadata?: { httpStatusCode?: number }
}

/** Classifies a failed call. */
export function classifyFailure(e: unknown): { outcome: CallOutcome; code: string; message: string } {
  // an exhausted retry is classified by the service's own error behind it
  const err = (e instanceof RetriesExhaustedError ? e.cause : e) as AwsError
  const code = err?.name ?? 'Error'
  const status = err?.$metadata?.httpStatusCode
  const message = `${String(err?.message ?? e).slice(0, 500)}${e instanceof RetriesExhaustedError ? ` (${e.attempts} attempts)` : ''}`
  if (ABSENT.has(code)) return { outcome: 'absent', code, message }
  if (DENIED.has(code) || status === 403) return { outcome: 'denied', code: code === 'Unknown' || code === 'Error' ? 'AccessDenied' : code, message }
  return { outcome: 'error', code, message }
}

function stripMetadata(out: unknown): unknown {
  if (out && typeof out === 'object') {
    const { $metadata: _m, ...rest } = out as Record<string, unknown>
    return JSON.parse(JSON.stringify(rest, (_k, v) => (v instanceof Date ? v.toISOString() : v)))
  }
  return out
}

type Reader = (s: BucketConfigSources, bucket: string) => Promise<unknown>

/** Every aspect read, in order: [aspect, operation, reader]. */
const READERS: ReadonlyArray<[string, string, Reader]> = [
  ['location', 'GetBucketLocation', (s, b) => s.s3.send(new GetBucketLocationCommand({ Bucket: b }))],
  ['policy', 'GetBucketPolicy', (s, b) => s.s3.send(new GetBucketPolicyCommand({ Bucket: b }))],
  ['policyStatus', 'GetBucketPolicyStatus', (s, b) => s.s3.send(new GetBucketPolicyStatusCommand({ Bucket: b }))],
  ['acl', 'GetBucketAcl', (s, b) => s.s3.send(new GetBucketAclCommand({ Bucket: b }))],
  ['publicAccessBlock', 'GetPublicAccessBlock', (s, b) => s.s3.send(new GetPublicAccessBlockCommand({ Bucket: b }))],
  ['ownershipControls', 'GetBucketOwnershipControls', (s, b) => s.s3.send(new GetBucketOwnershipControlsCommand({ Bucket: b }))],
  ['encryption', 'GetBucketEncryption', (s, b) => s.s3.send(new GetBucketEncryptionCommand({ Bucket: b }))],
  ['versioning', 'GetBucketVersioning', (s, b) => s.s3.send(new GetBucketVersioningCommand({ Bucket: b }))],
  ['objectLock', 'GetObjectLockConfiguration', (s, b) => s.s3.send(new GetObjectLockConfigurationCommand({ Bucket: b }))],
  ['logging', 'GetBucketLogging', (s, b) => s.s3.send(new GetBucketLoggingCommand({ Bucket: b }))],
  ['lifecycle', 'GetBucketLifecycleConfiguration', (s, b) => s.s3.send(new GetBucketLifecycleConfigurationCommand({ Bucket: b }))],
  ['replication', 'GetBucketReplication', (s, b) => s.s3.send(new GetBucketReplicationCommand({ Bucket: b }))],
  ['cors', 'GetBucketCors', (s, b) => s.s3.send(new GetBucketCorsCommand({ Bucket: b }))],
  ['website', 'GetBucketWebsite', (s, b) => s.s3.send(new GetBucketWebsiteCommand({ Bucket: b }))],
  ['notifications', 'GetBucketNotificationConfiguration', (s, b) => s.s3.send(new GetBucketNotificationConfigurationCommand({ Bucket: b }))],
  ['tags', 'GetBucketTagging', (s, b) => s.s3.send(new GetBucketTaggingCommand({ Bucket: b }))],
]

/** The aspects a snapshot records, in order (the account-level public access block last). */
export const SNAPSHOT_ASPECTS: readonly string[] = [...READERS.map(([aspect]) => aspect), 'accountPublicAccessBlock']

async function call(operation: string, read: () => Promise<unknown>): Promise<CallRecord> {
  try {
    // a throttled or failing read is repeated before it is recorded as an `error`: a
    // transient fault is not evidence about the bucket
    const value = stripMetadata(await withRetry(operation, read))
    return { operation, outcome: 'ok', value }
  } catch (e) {
    return { operation, ...classifyFailure(e) }
  }
}

/**
 * Takes one snapshot. Never throws for a refused or failed call (each is recorded); when
 * the bucket does not exist the snapshot says so (`exists: false`) and stops there.
 */
export async function takeBucketConfigSnapshot(sources: BucketConfigSources, target: { bucket: string; region?: string }): Promise<BucketConfigSnapshot> {
  const calls: Record<string, CallRecord> = {}
  const snapshot: BucketConfigSnapshot = { schema: BUCKET_CONFIG_SCHEMA, bucket: target.bucket, accountId: sources.accountId, region: target.region, exists: true, calls }
  // the independent reads go out together; S3 answers each on its own
  const records = await Promise.all(READERS.map(([, operation, read]) => call(operation, () => read(sources, target.bucket))))
  READERS.forEach(([aspect], i) => (calls[aspect] = records[i]))
  if (records.every((r) => r.code === 'NoSuchBucket')) {
    snapshot.exists = false
    for (const aspect of Object.keys(calls)) if (aspect !== 'location') delete calls[aspect]
    return snapshot
  }
  const policy = calls.policy
  if (policy.outcome === 'ok') {
    const text = (policy.value as { Policy?: string }).Policy ?? ''
    try {
      policy.value = { Policy: text, parsed: JSON.parse(text) as unknown }
    } catch {
      policy.value = { Policy: text }
    }
  }
  if (sources.s3control && sources.accountId) {
    const { s3control, accountId } = sources
    calls.accountPublicAccessBlock = await call('GetPublicAccessBlock (account)', () => s3control.send(new GetAccountPublicAccessBlockCommand({ AccountId: accountId })))
  } else {
    calls.accountPublicAccessBlock = { operation: 'GetPublicAccessBlock (account)', outcome: 'error', code: 'AccountUnknown', message: 'the account id of the bucket owner is not known, so the account-level public access block was not read; pass --account' }
  }
  return snapshot
}
