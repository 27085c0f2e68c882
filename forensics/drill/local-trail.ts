/**
 * Local stand-in for CloudTrail delivery. The emulator records no CloudTrail, so a local
 * drill delivers the incident's API calls itself: one real-format log file (gzipped
 * `{"Records":[…]}` under `AWSLogs/<account>/CloudTrail/<region>/YYYY/MM/DD/`) in the
 * trail archive bucket, exactly where a trail would put it. Deployed drills never use this:
 * there the real trail delivers.
 */
import { randomBytes, randomUUID } from 'node:crypto'
import { gzipSync } from 'node:zlib'
import { S3Client, PutObjectCommand } from '@aws-sdk/client-s3'
import { logFileKey, type ArchiveLocation } from '../cloudtrail/archive-layout.js'
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

/** Writes the incident's log file into the archive; resolves to its key. */
export async function deliverIncidentTrail(s3: S3Client, archive: ArchiveLocation, scope: { account: string; region: string }, changes: CanaryChanges): Promise<string> {
  const key = logFileKey(archive, scope, changes.at.getTime(), randomBytes(8).toString('hex'))
  const body = gzipSync(JSON.stringify({ Records: incidentRecords(changes, scope.account, scope.region) }))
  await s3.send(new PutObjectCommand({ Bucket: archive.bucket, Key: key, Body: body, ContentType: 'application/json', ContentEncoding: 'gzip' }))
  return key
}
