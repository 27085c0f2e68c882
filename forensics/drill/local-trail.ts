/**
 * Local stand-in for CloudTrail delivery. The emulator records no CloudTrail, so a local
 * drill delivers the incident's API calls itself: one real-format log file (gzipped
 * `{"Records":[…]}` under `AWSLogs/<account>/CloudTrail/<region>/YYYY/MM/DD/`) in the
 * trail archive bucket, exactly where a trail would put it, and the digest file that
 * proves it (real format: `CloudTrail-Digest/`, SHA256withRSA signature in
 * `x-amz-meta-signature`), signed with a local trail key that {@link LocalTrailKey.publicKeys}
 * serves as CloudTrail's ListPublicKeys would. So the drill's slice is provable. Deployed
 * drills never use this: there the real trail delivers.
 */
import { createHash, generateKeyPairSync, randomBytes, randomUUID, sign, type KeyObject } from 'node:crypto'
import { gzipSync } from 'node:zlib'
import { S3Client, PutObjectCommand } from '@aws-sdk/client-s3'
import { digestFileKey, logFileKey, type ArchiveLocation } from '../cloudtrail/archive-layout.js'
import type { PublicKeySource } from '../cloudtrail/digest-validation.js'
import type { CanaryChanges } from './canary-incident.js'

/** Who the local trail says made the calls. */
export const DRILL_PRINCIPAL = { user: 'forensics-drill', accessKeyId: 'AKIAFORENSICSDRILL01' }

/** The CloudTrail records of a canary incident (data events + the management event). */
export function incidentRecords(changes: CanaryChanges, account: string, region: string): Record<string, unknown>[] {
  const identity = {
    type: 'IAMUser',
    principalId: 'AIDAFORENSICSDRILL01',
    arn: `arn:aws:iam::${account}:user/${DRILL_PRINCIPAL.user}`,
    accountId: account,
    accessKeyId: DRILL_PRINCIPAL.accessKeyId,
    userName: DRILL_PRINCIPAL.user,
  }
  const at = changes.at.getTime()
  const base = (i: number, eventName: string, management: boolean, requestParameters: Record<string, unknown>, resources: Record<string, unknown>[]): Record<string, unknown> => ({
    eventVersion: '1.09',
    userIdentity: identity,
    eventTime: new Date(at - (5 - i) * 1000).toISOString().replace(/\.\d+Z$/, 'Z'),
    eventSource: 's3.amazonaws.com',
    eventName,
    awsRegion: region,
    sourceIPAddress: '127.0.0.1',
    userAgent: 'forensics-drill',
    requestParameters,
    responseElements: null,
    requestID: randomBytes(8).toString('hex').toUpperCase(),
    eventID: randomUUID(),
    readOnly: false,
    resources,
    eventType: 'AwsApiCall',
    managementEvent: management,
    recipientAccountId: account,
    eventCategory: management ? 'Management' : 'Data',
  })
  const bucketRes = { accountId: account, type: 'AWS::S3::Bucket', ARN: `arn:aws:s3:::${changes.bucket}` }
  const objRes = (key: string): Record<string, unknown> => ({ type: 'AWS::S3::Object', ARN: `arn:aws:s3:::${changes.bucket}/${key}` })
  return [
    base(0, 'PutObject', false, { bucketName: changes.bucket, key: changes.objectKey }, [objRes(changes.objectKey), bucketRes]),
    base(1, 'PutObject', false, { bucketName: changes.bucket, key: changes.objectKey }, [objRes(changes.objectKey), bucketRes]),
    base(2, 'PutObject', false, { bucketName: changes.bucket, key: changes.deletedKey }, [objRes(changes.deletedKey), bucketRes]),
    base(3, 'DeleteObject', false, { bucketName: changes.bucket, key: changes.deletedKey }, [objRes(changes.deletedKey), bucketRes]),
    base(4, 'PutBucketPolicy', true, { bucketName: changes.bucket, bucketPolicy: JSON.parse(changes.policy), policy: [''] }, [bucketRes]),
  ]
}

/** The local trail's signing key and the ListPublicKeys answer that names it. */
export interface LocalTrailKey {
  privateKey: KeyObject
  fingerprint: string
  /** answers as ListPublicKeys does: the PKCS#1 DER value, its MD5 fingerprint and validity */
  publicKeys: PublicKeySource
}

/** A fresh RSA 2048 trail key (CloudTrail signs digests with SHA256withRSA). */
export function createLocalTrailKey(now: Date = new Date()): LocalTrailKey {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
  const value = publicKey.export({ format: 'der', type: 'pkcs1' })
  const fingerprint = createHash('md5').update(value).digest('hex')
  const validityStart = new Date(now.getTime() - 86_400_000).toISOString()
  return { privateKey, fingerprint, publicKeys: { listPublicKeys: async () => [{ fingerprint, value, validityStart }] } }
}

const HOUR = 3600_000
const iso = (ms: number): string => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z')

/**
 * Writes the incident's log file into the archive and, with a trail key, the digest file
 * covering its delivery hour; resolves to the log file's key.
 */
export async function deliverIncidentTrail(s3: S3Client, archive: ArchiveLocation, scope: { account: string; region: string }, changes: CanaryChanges, trailKey?: LocalTrailKey): Promise<string> {
  const at = changes.at.getTime()
  const key = logFileKey(archive, scope, at, randomBytes(8).toString('hex'))
  const plain = Buffer.from(JSON.stringify({ Records: incidentRecords(changes, scope.account, scope.region) }))
  await s3.send(new PutObjectCommand({ Bucket: archive.bucket, Key: key, Body: gzipSync(plain), ContentType: 'application/json', ContentEncoding: 'gzip' }))
  if (!trailKey) return key
  const start = Math.floor(at / HOUR) * HOUR
  const digestKey = digestFileKey(archive, scope, 'forensics-drill-trail', scope.region, start + HOUR)
  const doc = {
    awsAccountId: scope.account,
    digestStartTime: iso(start),
    digestEndTime: iso(start + HOUR),
    digestS3Bucket: archive.bucket,
    digestS3Object: digestKey,
    digestPublicKeyFingerprint: trailKey.fingerprint,
    digestSignatureAlgorithm: 'SHA256withRSA',
    newestEventTime: iso(at),
    oldestEventTime: iso(at - 5000),
    previousDigestS3Bucket: null,
    previousDigestS3Object: null,
    previousDigestHashValue: null,
    previousDigestHashAlgorithm: null,
    previousDigestSignature: null,
    logFiles: [{ s3Bucket: archive.bucket, s3Object: key, hashValue: createHash('sha256').update(plain).digest('hex'), hashAlgorithm: 'SHA-256', newestEventTime: iso(at), oldestEventTime: iso(at - 5000) }],
  }
  const digest = Buffer.from(JSON.stringify(doc))
  // what CloudTrail signs: end time, bucket/key, hex SHA-256 of the uncompressed digest, previous signature
  const toSign = `${doc.digestEndTime}\n${doc.digestS3Bucket}/${doc.digestS3Object}\n${createHash('sha256').update(digest).digest('hex')}\nnull`
  const signature = sign('sha256', Buffer.from(toSign), trailKey.privateKey).toString('hex')
  await s3.send(new PutObjectCommand({ Bucket: archive.bucket, Key: digestKey, Body: gzipSync(digest), ContentType: 'application/json', ContentEncoding: 'gzip', Metadata: { signature, 'signature-algorithm': 'SHA256withRSA' } }))
  return key
}
