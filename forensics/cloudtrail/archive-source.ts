/**
 * The S3 side of the archive source: discover trail scopes under `PREFIX/AWSLogs/`, list
 * the log and digest files of a delivery range, and open objects. Only
 * `client.send(new XCommand(...))` calls live here; S3 errors become StorageErrors that
 * name the bucket/key and the permission to grant.
 */
import { GetObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3'
import { holdBody } from '../aws/response-body.js'
import { StorageError, ValidationError } from '../errors.js'
import { RetriesExhaustedError, withRetry } from '../retry.js'
import { awsLogsRoot, listPrefixes, parseDigestKey, parseLogFileKey, scopeRoot, type ArchiveLocation, type DigestFileKey, type LogFileKey, type TrailScope } from './archive-layout.js'
import type { TimeWindow } from './filters.js'

/** The S3 calls the archive source makes (an S3Client fits). */
export type S3Port = Pick<S3Client, 'send'>

/** A listed log file. */
export interface ListedLogFile extends LogFileKey {
  bucket: string
  size?: number
  etag?: string
  lastModified?: string
}

/** A listed digest file. */
export interface ListedDigestFile extends DigestFileKey {
  bucket: string
}

/** An object read whole (digests are small). */
export interface StoredObject {
  bucket: string
  key: string
  bytes: Buffer
  metadata: Record<string, string>
  versionId?: string
  etag?: string
  lastModified?: string
}

/** Coordinates of an object as it was read. */
export interface ReadCoordinates {
  versionId?: string
  etag?: string
  lastModified?: string
}

function s3Failure(action: string, bucket: string, key: string, err: unknown): StorageError | ValidationError {
  // an exhausted retry is reported by the service's own error behind it
  const e = (err instanceof RetriesExhaustedError ? err.cause : err) as Error
  const after = err instanceof RetriesExhaustedError ? ` after ${err.attempts} attempts` : ''
  const where = `s3://${bucket}/${key}`
  // a bucket that does not exist is a wrong name, not an outage: a usage error, before any capture
  if (e.name === 'NoSuchBucket') return new ValidationError(`${action} ${where} failed: NoSuchBucket: bucket ${bucket} does not exist; check the --archive bucket name`, { field: 'archive', cause: err })
  const hint = e.name === 'AccessDenied' ? `; grant ${action === 'list' ? 's3:ListBucket' : 's3:GetObject (and s3:GetObjectVersion)'} on it to the capture role` : ''
  return new StorageError(`${action} ${where} failed${after}: ${e.name}: ${e.message}${hint}`, { cause: err })
}

async function listAll(s3: S3Port, bucket: string, prefix: string, delimiter?: string): Promise<{ keys: Array<{ key: string; size?: number; etag?: string; lastModified?: string }>; prefixes: string[] }> {
  const keys: Array<{ key: string; size?: number; etag?: string; lastModified?: string }> = []
  const prefixes: string[] = []
  let token: string | undefined
  do {
    let page
    try {
      const t = token
      page = await withRetry(`listing of s3://${bucket}/${prefix}`, () => s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, Delimiter: delimiter, ContinuationToken: t })))
    } catch (err) {
      throw s3Failure('list', bucket, prefix, err)
    }
    for (const o of page.Contents ?? []) if (o.Key) keys.push({ key: o.Key, size: o.Size, etag: o.ETag, lastModified: o.LastModified?.toISOString() })
    for (const p of page.CommonPrefixes ?? []) if (p.Prefix) prefixes.push(p.Prefix)
    token = page.IsTruncated ? page.NextContinuationToken : undefined
  } while (token)
  return { keys, prefixes }
}

const lastSegment = (p: string): string => p.replace(/\/$/, '').replace(/^.*\//, '')

/**
 * Finds the (org,) account and region folders under `PREFIX/AWSLogs/`. `accounts` and
 * `regions`, when given, restrict what is returned (regions are then not listed).
 */
export async function discoverScopes(s3: S3Port, loc: ArchiveLocation, only: { accounts?: string[]; regions?: string[] } = {}): Promise<TrailScope[]> {
  const root = awsLogsRoot(loc)
  const top = await listAll(s3, loc.bucket, root, '/')
  const accounts: Array<{ account: string; orgId?: string }> = []
  for (const p of top.prefixes) {
    const name = lastSegment(p)
    if (/^\d{12}$/.test(name)) accounts.push({ account: name })
    else if (/^o-[a-z0-9]{10,32}$/.test(name)) {
      const inner = await listAll(s3, loc.bucket, p, '/')
      for (const q of inner.prefixes) {
        const acct = lastSegment(q)
        if (/^\d{12}$/.test(acct)) accounts.push({ account: acct, orgId: name })
      }
    }
  }
  if (accounts.length === 0) await refuseArchiveWithoutLogs(s3, loc, top.prefixes)
  const unknown = (only.accounts ?? []).filter((want) => !accounts.some((a) => a.account === want))
  if (unknown.length) {
    throw new ValidationError(`account(s) ${unknown.join(', ')} have no logs under s3://${loc.bucket}/${root}; found ${accounts.map((a) => a.account).join(', ')}: check --account`, { field: 'account' })
  }
  const scopes: TrailScope[] = []
  for (const a of accounts) {
    if (only.accounts?.length && !only.accounts.includes(a.account)) continue
    const base = scopeRoot(loc, a.account, a.orgId)
    let regions = only.regions
    if (!regions?.length) regions = (await listAll(s3, loc.bucket, `${base}/CloudTrail/`, '/')).prefixes.map(lastSegment)
    for (const region of regions) scopes.push({ root: base, account: a.account, orgId: a.orgId, region })
  }
  return scopes
}

/**
 * A prefix without account folders under `AWSLogs/` is almost always a wrong `--archive`:
 * refused before anything is captured, naming what the prefix does hold so the fix is plain.
 */
async function refuseArchiveWithoutLogs(s3: S3Port, loc: ArchiveLocation, underAwsLogs: string[]): Promise<never> {
  const root = awsLogsRoot(loc)
  const here = await listAll(s3, loc.bucket, loc.prefix ? `${loc.prefix}/` : '', '/')
  const seen = [...here.prefixes, ...here.keys.map((k) => k.key)].slice(0, 10)
  const nested = seen.find((p) => p.endsWith('/AWSLogs/'))
  const what = underAwsLogs.length ? `${root} holds no account folders (found ${underAwsLogs.slice(0, 10).join(', ')})` : `there is no ${root}`
  const found = seen.length ? `; s3://${loc.bucket}/${loc.prefix ? loc.prefix + '/' : ''} holds ${seen.join(', ')}` : `; s3://${loc.bucket}/${loc.prefix ? loc.prefix + '/' : ''} is empty`
  const fix = nested ? `: use --archive s3://${loc.bucket}/${nested.replace(/\/?AWSLogs\/$/, '')}` : ': give the prefix a trail delivers to (the folder holding AWSLogs/)'
  throw new ValidationError(`--archive s3://${loc.bucket}/${loc.prefix} is not a CloudTrail archive: ${what}${found}${fix}`, { field: 'archive' })
}

/** Log files of a scope whose delivery time lies in `range` (listing only the day folders it touches). */
export async function listLogFiles(s3: S3Port, bucket: string, scope: TrailScope, range: TimeWindow): Promise<ListedLogFile[]> {
  const out: ListedLogFile[] = []
  for (const prefix of listPrefixes(scope, range, 'CloudTrail')) {
    const { keys } = await listAll(s3, bucket, prefix)
    for (const o of keys) {
      const k = parseLogFileKey(o.key)
      if (k && k.time >= range.start && k.time < range.end) out.push({ ...k, bucket, size: o.size, etag: o.etag, lastModified: o.lastModified })
    }
  }
  return out
}

/** Digest files (standard and backfill) of a scope whose key time lies in `range`. */
export async function listDigestFiles(s3: S3Port, bucket: string, scope: TrailScope, range: TimeWindow): Promise<ListedDigestFile[]> {
  const out: ListedDigestFile[] = []
  for (const prefix of listPrefixes(scope, range, 'CloudTrail-Digest')) {
    const { keys } = await listAll(s3, bucket, prefix)
    for (const o of keys) {
      const k = parseDigestKey(o.key)
      if (k && k.time >= range.start && k.time < range.end) out.push({ ...k, bucket })
    }
  }
  return out.sort((a, b) => a.time - b.time || a.key.localeCompare(b.key))
}

/**
 * Opens an object for streaming; `coords` receives its versionId/ETag as read. With
 * `pin`, reads exactly that version (or fails when the ETag changed).
 */
export async function openObject(s3: S3Port, bucket: string, key: string, coords: ReadCoordinates = {}, pin?: ReadCoordinates): Promise<AsyncIterable<Uint8Array>> {
  try {
    const r = await withRetry(`read of s3://${bucket}/${key}`, () => s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, VersionId: pin?.versionId, IfMatch: pin?.versionId ? undefined : pin?.etag })))
    coords.versionId = r.VersionId
    coords.etag = r.ETag
    coords.lastModified = r.LastModified?.toISOString()
    return holdBody(r.Body as AsyncIterable<Uint8Array>)
  } catch (err) {
    throw s3Failure('read', bucket, key, err)
  }
}

/** Reads a whole (small) object with its metadata; undefined when it does not exist. */
export async function getObject(s3: S3Port, bucket: string, key: string): Promise<StoredObject | undefined> {
  try {
    // the whole read is one operation: a body cut mid-stream is read again
    return await withRetry(`read of s3://${bucket}/${key}`, async () => {
      const r = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }))
      const bytes = Buffer.from(await r.Body!.transformToByteArray())
      return { bucket, key, bytes, metadata: { ...(r.Metadata ?? {}) }, versionId: r.VersionId, etag: r.ETag, lastModified: r.LastModified?.toISOString() }
    })
  } catch (err) {
    if ((err as Error).name === 'NoSuchKey') return undefined
    throw s3Failure('read', bucket, key, err)
  }
}
