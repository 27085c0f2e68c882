/**
 * Reading a bucket's configuration (forensics/bucket-config/snapshot.ts) on a stand-in S3:
 * how each answer, refusal and absence is recorded. The emulator run is in
 * bucket-config.test.ts.
 */
import t from 'tap'
import type { S3Client } from '@aws-sdk/client-s3'
import type { S3ControlClient } from '@aws-sdk/client-s3-control'
import { BUCKET_CONFIG_SCHEMA, classifyFailure, takeBucketConfigSnapshot } from '../forensics/bucket-config/snapshot.js'
import { awsError, fakeClient } from './fixtures/fake-client.js'
import { fakeBucketConfigS3 } from './fixtures/bucket-config.js'

const OWNER = '123456789012'

t.test('classifyFailure: absent, denied by code or by status, other errors', async (t) => {
  t.same(classifyFailure(awsError('NoSuchTagSet', 404, 'none')), { outcome: 'absent', code: 'NoSuchTagSet', message: 'none' })
  t.same(classifyFailure(awsError('ExpiredToken', 400, 'exp')), { outcome: 'denied', code: 'ExpiredToken', message: 'exp' })
  t.same(classifyFailure(awsError('Unknown', 403, 'x')), { outcome: 'denied', code: 'AccessDenied', message: 'x' }, 'a bare 403 is AccessDenied')
  t.same(classifyFailure(awsError('Error', 403, 'x')), { outcome: 'denied', code: 'AccessDenied', message: 'x' })
  t.same(classifyFailure(awsError('SignatureDoesNotMatch', 403, 'x')), { outcome: 'denied', code: 'SignatureDoesNotMatch', message: 'x' })
  t.same(classifyFailure('socket hang up'), { outcome: 'error', code: 'Error', message: 'socket hang up' }, 'a thrown string')
  t.same(classifyFailure(undefined), { outcome: 'error', code: 'Error', message: 'undefined' })
  t.equal(classifyFailure(new Error('y'.repeat(900))).message.length, 500, 'messages are cut')
})

t.test('takeBucketConfigSnapshot: responses, unparsable policy, missing bucket, the account-level block', async (t) => {
  const s3 = fakeBucketConfigS3({
    GetBucketPolicyCommand: { Policy: '{not json', $metadata: { httpStatusCode: 200 } },
    GetBucketVersioningCommand: { Status: 'Enabled', $metadata: {} },
    GetBucketLoggingCommand: { LoggingEnabled: { TargetBucket: 'logs' }, When: new Date('2026-01-01T00:00:00Z') },
    GetBucketTaggingCommand: awsError('NoSuchTagSet', 404),
    GetBucketAclCommand: awsError('AccessDenied', 403),
    GetBucketLocationCommand: null,
  })
  const control = fakeClient<S3ControlClient>(() => ({ PublicAccessBlockConfiguration: { BlockPublicAcls: true } }))
  const s = await takeBucketConfigSnapshot({ s3, s3control: control, accountId: OWNER }, { bucket: 'bkt', region: 'eu-west-1' })
  t.match(s, { schema: BUCKET_CONFIG_SCHEMA, bucket: 'bkt', accountId: OWNER, region: 'eu-west-1', exists: true })
  t.same(s.calls.policy, { operation: 'GetBucketPolicy', outcome: 'ok', value: { Policy: '{not json' } }, 'the raw text is kept, nothing parsed')
  t.same(s.calls.versioning.value, { Status: 'Enabled' }, 'SDK metadata removed')
  t.same(s.calls.logging.value, { LoggingEnabled: { TargetBucket: 'logs' }, When: '2026-01-01T00:00:00.000Z' }, 'dates as ISO strings')
  t.same(s.calls.location, { operation: 'GetBucketLocation', outcome: 'ok', value: null }, 'a response that is not an object is kept as it is')
  t.match(s.calls.tags, { outcome: 'absent', code: 'NoSuchTagSet' })
  t.match(s.calls.acl, { outcome: 'denied', code: 'AccessDenied' })
  t.same(s.calls.accountPublicAccessBlock, { operation: 'GetPublicAccessBlock (account)', outcome: 'ok', value: { PublicAccessBlockConfiguration: { BlockPublicAcls: true } } })
  t.match(control.calls, [{ input: { AccountId: OWNER } }])

  const noPolicyText = await takeBucketConfigSnapshot({ s3: fakeBucketConfigS3({ GetBucketPolicyCommand: {} }), s3control: control }, { bucket: 'bkt' })
  t.same(noPolicyText.calls.policy.value, { Policy: '' }, 'a policy response without text')
  t.match(noPolicyText.calls.accountPublicAccessBlock, { outcome: 'error', code: 'AccountUnknown', message: /pass --account/ }, 'without the account id the account-level block is not read')
  t.same(noPolicyText.calls.policyStatus.value, {})

  const gone = await takeBucketConfigSnapshot({ s3: fakeClient<S3Client>(() => Promise.reject(awsError('NoSuchBucket', 404))), accountId: OWNER }, { bucket: 'gone' })
  t.equal(gone.exists, false)
  t.same(Object.keys(gone.calls), ['location'], 'only the location call is kept')
})
