/**
 * Fast unit tests of the bucket-config domain code (no emulator): the finding rules on
 * constructed snapshots, the snapshot reader on a fake S3, the capture and its previous
 * snapshot on an in-memory store, CloudTrail event parsing, the handler environment, and
 * the source clients against a local fake STS endpoint.
 */
import t, { type Test } from 'tap'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { S3Client } from '@aws-sdk/client-s3'
import type { S3ControlClient } from '@aws-sdk/client-s3-control'
import { MemoryStore } from './fixtures/memory-store.js'
import { awsError, fakeClient } from './fixtures/fake-client.js'
import { testSigner } from './fixtures/bundle-case.js'
import { signingKeyFile } from './fixtures/collectors.js'
import { crossAccountPrincipals, diffBucketConfig, expiringLifecycleRules, policyStatements, publicAccessBlockFlags, publicGrants } from '../forensics/bucket-config/findings.js'
import { BUCKET_CONFIG_SCHEMA, classifyFailure, takeBucketConfigSnapshot, type BucketConfigSnapshot, type CallRecord } from '../forensics/bucket-config/snapshot.js'
import { captureBucketConfig, findPreviousSnapshot, snapshotPath } from '../forensics/bucket-config/capture-bucket-config.js'
import { caseIdFromTemplate, isCloudTrailEvent, parseCloudTrailEvent, type CloudTrailTrigger } from '../forensics/bucket-config/trigger-event.js'
import { committedResult } from '../forensics/bucket-config/collector-runtime.js'
import { evidenceFromEnv } from '../forensics/runtime/handler-env.js'
import { openSourceClients } from '../forensics/bucket-config/source-access.js'
import { bucketConfigRequest } from '../collectors/bucket-config.js'
import { runCli } from './fixtures/collectors.js'

const OWNER = '123456789012'
const OTHER = '210987654321'
const ok = (value: unknown, operation = 'Op'): CallRecord => ({ operation, outcome: 'ok', value })
const absent = (operation = 'Op'): CallRecord => ({ operation, outcome: 'absent', code: 'NoSuchThing' })
const denied = (operation = 'Op', code?: string): CallRecord => ({ operation, outcome: 'denied', ...(code ? { code } : {}) })
const snap = (calls: Record<string, CallRecord>, over: Partial<BucketConfigSnapshot> = {}): BucketConfigSnapshot => ({ schema: BUCKET_CONFIG_SCHEMA, bucket: 'bkt', accountId: OWNER, exists: true, calls, ...over })
const policy = (...Statement: unknown[]): CallRecord => ok({ Policy: 'x', parsed: { Statement } })
const types = (fs: { type: string }[]): string[] => fs.map((f) => f.type).sort()

t.test('policy statements: absent, unknown, unparsed, a single statement', async (t) => {
  t.same(policyStatements(snap({ policy: absent() })), [])
  t.equal(policyStatements(snap({ policy: denied() })), undefined)
  t.equal(policyStatements(snap({})), undefined, 'not read at all is unknown')
  t.equal(policyStatements(snap({ policy: ok({ Policy: 'not json' }) })), undefined, 'an unparsable policy is unknown, not empty')
  t.same(policyStatements(snap({ policy: ok({ Policy: 'x', parsed: { Statement: { Effect: 'Allow' } } }) })), [{ Effect: 'Allow' }], 'a lone statement object')
  t.same(policyStatements(snap({ policy: ok({ Policy: 'x', parsed: { Statement: [1, 'x', null, { Sid: 'a' }] } }) })), [{ Sid: 'a' }], 'non-objects are ignored')
})

t.test('public grants: principals, conditions, ACL groups', async (t) => {
  t.equal(publicGrants(snap({ policy: denied(), acl: denied() })), undefined)
  const grants = publicGrants(
    snap({
      policy: policy(
        { Effect: 'Allow', Principal: { AWS: ['arn:aws:iam::1:root', '*'] }, Action: ['s3:GetObject', 's3:ListBucket'] },
        { Sid: 'Cond', Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Condition: { IpAddress: { 'aws:SourceIp': '10.0.0.0/8' } } },
        { Sid: '', Effect: 'Allow', Principal: '*', Action: 's3:PutObject', Condition: {} },
        { Effect: 'Deny', Principal: '*', Action: 's3:*' },
        { Effect: 'Allow', Principal: ['*'], Action: 's3:*' },
        { Effect: 'Allow', Principal: { Service: 'logging.s3.amazonaws.com' }, Action: 's3:PutObject' },
      ),
      acl: ok({
        Grants: [
          { Grantee: { URI: 'http://acs.amazonaws.com/groups/global/AuthenticatedUsers' }, Permission: 'WRITE' },
          { Grantee: { URI: 'http://acs.amazonaws.com/groups/s3/LogDelivery' }, Permission: 'WRITE' },
          { Grantee: { ID: 'owner' }, Permission: 'FULL_CONTROL' },
          { Permission: 'READ' },
        ],
      }),
    }),
  )!
  t.same(
    grants.map((g) => g.label),
    [
      'bucket policy statement Statement[0] grants Principal {"AWS":["arn:aws:iam::1:root","*"]} s3:GetObject, s3:ListBucket',
      'bucket policy statement "Cond" (Statement[1]) grants Principal "*" s3:GetObject (with conditions)',
      'bucket policy statement Statement[2] grants Principal "*" s3:PutObject',
      'bucket ACL grants WRITE to AuthenticatedUsers',
    ],
    'a Principal list, a Deny and a service principal are not public grants; an empty Sid is unnamed',
  )
  t.match(grants[3], { id: 'acl:http://acs.amazonaws.com/groups/global/AuthenticatedUsers:WRITE', detail: { source: 'acl', permission: 'WRITE' } })
  t.same(publicGrants(snap({ policy: absent(), acl: absent() })), [], 'no policy and no ACL: known, nothing public')
  t.same(publicGrants(snap({ policy: denied(), acl: ok({}) })), [], 'an ACL without grants')
})

t.test('cross-account principals, public access block flags, expiring lifecycle rules', async (t) => {
  const s = snap({
    policy: policy(
      { Sid: 'Acct', Effect: 'Allow', Principal: { AWS: OTHER }, Action: 's3:GetObject' },
      { Effect: 'Allow', Principal: { AWS: [`arn:aws:iam::${OWNER}:root`, `arn:aws-cn:sts::${OTHER}:assumed-role/r/s`, 'not-an-arn'] }, Action: ['s3:PutObject'] },
      { Effect: 'Allow', Principal: '*', Action: 's3:GetObject' },
      { Effect: 'Deny', Principal: { AWS: OTHER }, Action: 's3:*' },
    ),
  })
  t.equal(crossAccountPrincipals(s, undefined), undefined, 'without the owner nothing can be called cross-account')
  t.equal(crossAccountPrincipals(snap({ policy: denied() }), OWNER), undefined)
  const found = crossAccountPrincipals(s, OWNER)!
  t.same(found.map((f) => [f.detail.principal, f.detail.account]), [[OTHER, OTHER], [`arn:aws-cn:sts::${OTHER}:assumed-role/r/s`, OTHER]])
  t.match(found[0].label, /"Acct" \(Statement\[0\]\) grants 210987654321 \(account 210987654321\) s3:GetObject/)

  t.equal(publicAccessBlockFlags(undefined), undefined)
  t.equal(publicAccessBlockFlags(denied()), undefined)
  t.same(publicAccessBlockFlags(absent()), { BlockPublicAcls: false, IgnorePublicAcls: false, BlockPublicPolicy: false, RestrictPublicBuckets: false })
  t.same(publicAccessBlockFlags(ok({})), { BlockPublicAcls: false, IgnorePublicAcls: false, BlockPublicPolicy: false, RestrictPublicBuckets: false }, 'a response without a configuration')
  t.same(publicAccessBlockFlags(ok({ PublicAccessBlockConfiguration: { BlockPublicAcls: true, IgnorePublicAcls: 'true' } })), { BlockPublicAcls: true, IgnorePublicAcls: false, BlockPublicPolicy: false, RestrictPublicBuckets: false }, 'only a real true counts')

  t.same(expiringLifecycleRules(snap({ lifecycle: absent() })), [])
  t.equal(expiringLifecycleRules(snap({ lifecycle: denied() })), undefined)
  const rules = expiringLifecycleRules(
    snap({
      lifecycle: ok({
        Rules: [
          { ID: 'days', Status: 'Enabled', Expiration: { Days: 30 } },
          { ID: 'date', Status: 'Enabled', Expiration: { Date: '2027-01-01' } },
          { ID: 'markers', Status: 'Enabled', Expiration: { ExpiredObjectDeleteMarker: true } },
          { ID: 'noncurrent', Status: 'Enabled', NoncurrentVersionExpiration: { NoncurrentDays: 1 } },
          { ID: 'off', Status: 'Disabled', Expiration: { Days: 1 } },
          { ID: 'transition', Status: 'Enabled', Transitions: [{ Days: 1, StorageClass: 'GLACIER' }] },
        ],
      }),
    }),
  )!
  t.same(rules.map((r) => r.ID), ['days', 'date', 'noncurrent'], 'a delete-marker cleanup, a disabled rule and a transition expire nothing')
})

t.test('diffBucketConfig without a previous snapshot reports what is risky now', async (t) => {
  t.same(diffBucketConfig(undefined, snap({}, { exists: false })), [], 'a missing bucket with nothing before')
  t.same(diffBucketConfig(snap({}, { exists: false }), snap({}, { exists: false })), [], 'still missing')
  t.match(diffBucketConfig(snap({}), snap({}, { exists: false })), [{ type: 'bucket-deleted', severity: 'high', title: 'bucket no longer exists (s3://bkt)', resource: 'arn:aws:s3:::bkt' }])
  const current = snap({
    policy: policy({ Effect: 'Allow', Principal: '*', Action: 's3:GetObject' }, { Effect: 'Allow', Principal: { AWS: OTHER }, Action: 's3:GetObject' }),
    lifecycle: ok({ Rules: [{ Status: 'Enabled', Expiration: { Days: 1 } }] }),
  })
  const fs = diffBucketConfig(snap({}, { exists: false }), current)
  t.same(types(fs), ['cross-account-principal-present', 'lifecycle-expires-versions', 'public-grant-present'], 'a previous snapshot of a missing bucket counts as none')
  t.match(fs.find((f) => f.type === 'lifecycle-expires-versions'), { title: 'lifecycle rule "" expires object versions (s3://bkt)' })
  t.same(diffBucketConfig(undefined, snap({ policy: denied(), acl: denied(), lifecycle: denied() })), [], 'nothing known, nothing reported')
  t.same(types(diffBucketConfig(undefined, snap({ policy: policy({ Effect: 'Allow', Principal: { AWS: OTHER }, Action: 's3:*' }) }, { accountId: undefined }))), [], 'no owner: no cross-account finding')
  t.same(types(diffBucketConfig(snap({}), snap({ policy: policy({ Effect: 'Allow', Principal: { AWS: OTHER }, Action: 's3:*' }) }, { accountId: undefined }))), ['cross-account-principal-added'], 'the owner comes from the previous snapshot when the current one names none')
})

t.test('diffBucketConfig against a previous snapshot reports each weakening', async (t) => {
  const pab = (on: boolean) => ok({ PublicAccessBlockConfiguration: { BlockPublicAcls: on, IgnorePublicAcls: on, BlockPublicPolicy: true, RestrictPublicBuckets: on } })
  const prev = snap({
    policy: policy({ Sid: 'Old', Effect: 'Allow', Principal: '*', Action: 's3:GetObject' }),
    acl: ok({ Grants: [] }),
    publicAccessBlock: pab(true),
    accountPublicAccessBlock: pab(true),
    encryption: ok({ ServerSideEncryptionConfiguration: { Rules: [] } }),
    versioning: ok({ Status: 'Enabled', MFADelete: 'Enabled' }),
    logging: ok({ LoggingEnabled: { TargetBucket: 'logs' } }),
    lifecycle: ok({ Rules: [{ ID: 'keep', Status: 'Enabled', Expiration: { Days: 365 } }] }),
    tags: ok({ TagSet: [] }),
    cors: absent(),
    website: denied(),
  })
  const current = snap({
    policy: policy({ Sid: 'New', Effect: 'Allow', Principal: '*', Action: 's3:PutObject' }, { Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${OTHER}:root` }, Action: 's3:GetObject' }),
    acl: ok({ Grants: [{ Grantee: { URI: 'http://acs.amazonaws.com/groups/global/AllUsers' }, Permission: 'READ' }] }),
    publicAccessBlock: absent(),
    accountPublicAccessBlock: pab(false),
    encryption: absent(),
    versioning: ok({}),
    logging: ok({}),
    lifecycle: ok({ Rules: [{ ID: 'keep', Status: 'Enabled', Expiration: { Days: 365 } }, { ID: 'purge', Status: 'Enabled', NoncurrentVersionExpiration: { NoncurrentDays: 1 } }] }),
    tags: denied('GetBucketTagging'),
    cors: denied('GetBucketCors', 'AllAccessDisabled'),
    website: denied('GetBucketWebsite'),
    replication: denied('GetBucketReplication'),
  })
  const fs = diffBucketConfig(prev, current)
  t.same(types(fs), [
    'configuration-unreadable',
    'configuration-unreadable',
    'cross-account-principal-added',
    'encryption-removed',
    'lifecycle-expires-versions',
    'logging-disabled',
    'mfa-delete-disabled',
    'public-access-block-weakened',
    'public-access-block-weakened',
    'public-grant-added',
    'public-grant-added',
    'public-grant-removed',
    'versioning-suspended',
  ])
  const titles = fs.map((f) => f.title)
  t.ok(titles.includes('bucket-level public access block weakened: BlockPublicAcls, IgnorePublicAcls, RestrictPublicBuckets, BlockPublicPolicy turned off (s3://bkt)') || titles.some((x) => /^bucket-level public access block weakened: BlockPublicAcls, IgnorePublicAcls, BlockPublicPolicy, RestrictPublicBuckets turned off/.test(x)), 'an absent block turns every flag off')
  t.ok(titles.some((x) => /^account-level public access block weakened: BlockPublicAcls, IgnorePublicAcls, RestrictPublicBuckets turned off/.test(x)), 'only the flags that went from on to off')
  t.ok(titles.includes('versioning suspended (now off) (s3://bkt)'))
  t.ok(titles.includes('lifecycle rule "purge" expires object versions (s3://bkt)'), 'only the new rule')
  t.ok(titles.includes('GetBucketTagging is now refused (AccessDenied); it was readable in the previous snapshot (s3://bkt)'))
  t.ok(titles.includes('GetBucketCors is now refused (AllAccessDisabled); it was readable in the previous snapshot (s3://bkt)'), 'absent was readable too')
  t.notOk(titles.some((x) => /GetBucket(Website|Replication)/.test(x)), 'refused before, or not read before: no finding')
  t.match(fs.find((f) => f.type === 'public-grant-removed'), { severity: 'info', title: /"Old"/ })

  // unknown on one side: no content findings at all
  const unknown = snap({ policy: denied(), acl: denied(), publicAccessBlock: denied(), encryption: denied(), versioning: denied(), logging: denied(), lifecycle: denied() })
  t.same(diffBucketConfig(prev, unknown).filter((f) => f.type !== 'configuration-unreadable'), [], 'nothing unreadable is called removed')
  t.same(types(diffBucketConfig(unknown, current)), ['cross-account-principal-added', 'lifecycle-expires-versions', 'lifecycle-expires-versions', 'public-grant-added', 'public-grant-added'], 'against an unknown before everything risky is added; nothing is removed')
  const suspended = diffBucketConfig(snap({ versioning: ok({ Status: 'Enabled' }) }), snap({ versioning: ok({ Status: 'Suspended', MFADelete: 'Disabled' }) }))
  t.same(suspended.map((f) => f.title), ['versioning suspended (now Suspended) (s3://bkt)'])
  t.same(diffBucketConfig(snap({ logging: ok({}) }), snap({ logging: ok({}) })), [], 'logging that was never on is not disabled')
  t.same(diffBucketConfig(snap({ logging: ok({ LoggingEnabled: {} }) }), snap({ logging: denied() })).map((f) => f.type), ['configuration-unreadable'])
})

/** A fake S3 whose calls answer from `answers` by command name (a thrown Error for failures). */
function fakeS3(answers: Record<string, unknown>) {
  return fakeClient<S3Client>((name) => {
    const a = name in answers ? answers[name] : { $metadata: { httpStatusCode: 200 } }
    if (a instanceof Error) throw a
    return a
  })
}

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
  const s3 = fakeS3({
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

  const noPolicyText = await takeBucketConfigSnapshot({ s3: fakeS3({ GetBucketPolicyCommand: {} }), s3control: control }, { bucket: 'bkt' })
  t.same(noPolicyText.calls.policy.value, { Policy: '' }, 'a policy response without text')
  t.match(noPolicyText.calls.accountPublicAccessBlock, { outcome: 'error', code: 'AccountUnknown', message: /pass --account/ }, 'without the account id the account-level block is not read')
  t.same(noPolicyText.calls.policyStatus.value, {})

  const gone = await takeBucketConfigSnapshot({ s3: fakeClient<S3Client>(() => Promise.reject(awsError('NoSuchBucket', 404))), accountId: OWNER }, { bucket: 'gone' })
  t.equal(gone.exists, false)
  t.same(Object.keys(gone.calls), ['location'], 'only the location call is kept')
})

t.test('captureBucketConfig and findPreviousSnapshot on an in-memory store', async (t) => {
  const store = new MemoryStore()
  const signer = testSigner()
  const deps = { store, signer }
  const publicPolicy = JSON.stringify({ Statement: [{ Effect: 'Allow', Principal: '*', Action: 's3:GetObject' }] })
  const sources = (policyText?: string) => ({ s3: fakeS3({ GetBucketPolicyCommand: policyText === undefined ? awsError('NoSuchBucketPolicy', 404) : { Policy: policyText } }) })
  const req = (id: string, over: Record<string, unknown> = {}) => ({ caseId: 'case-bc', bucket: 'bkt', trigger: { source: 't', id }, ...over })

  await t.rejects(captureBucketConfig(deps, sources(), req('bad', { bucket: 's3://bkt' })), { name: 'ValidationError', field: 'bucket', message: /invalid bucket name "s3:\/\/bkt"/ })
  t.equal(store.objects.size, 0, 'nothing written for an invalid bucket name')
  const first = await captureBucketConfig(deps, sources(), req('one'))
  t.equal(first.manifest.status, 'partial', 'the account-level block is unknown without an account')
  t.match(first.manifest.errors, [{ what: 'GetPublicAccessBlock (account) s3://bkt', code: 'AccountUnknown' }])
  t.same(first.manifest.target, { bucket: 'bkt' })
  t.match(first.manifest.summary, { exists: true, previousCaptureId: null, findings: 0 })
  const second = await captureBucketConfig(deps, sources(publicPolicy), req('two', { region: 'eu-west-1' }))
  t.match(second.manifest.findings, [{ type: 'public-grant-added', detail: { previousCaptureId: first.manifest.captureId } }])
  t.same(second.manifest.target, { bucket: 'bkt', region: 'eu-west-1' })
  t.match(second.manifest.summary, { previousCaptureId: first.manifest.captureId })

  // another account's snapshot of a same-named bucket is not "previous"
  const other = await captureBucketConfig(deps, { ...sources(), accountId: OTHER }, req('three'))
  t.same(other.manifest.target, { bucket: 'bkt', accountId: OTHER })
  t.equal((await findPreviousSnapshot(store, 'case-bc', 'bkt', OWNER))?.captureId, second.manifest.captureId, 'the latest of the owner (or of unknown account)')
  t.equal((await findPreviousSnapshot(store, 'case-bc', 'bkt', OTHER))?.captureId, other.manifest.captureId)
  t.equal((await findPreviousSnapshot(store, 'case-bc', 'other-bucket', undefined)), undefined)
  t.equal((await findPreviousSnapshot(store, 'case-none', 'bkt', undefined)), undefined)

  // a missing bucket: recorded, with the account when known
  const gone = await captureBucketConfig(deps, { s3: fakeClient<S3Client>(() => Promise.reject(awsError('NoSuchBucket', 404))) }, req('gone', { bucket: 'gone-bucket', accountId: OWNER }))
  t.match(gone.manifest.errors, [{ what: 'bucket s3://gone-bucket', code: 'NoSuchBucket', message: /does not exist in account 123456789012/ }])
  t.match(committedResult(gone), { ok: true, status: 'partial', created: true, summary: { exists: false } })
  const gone2 = await captureBucketConfig(deps, { s3: fakeClient<S3Client>(() => Promise.reject(awsError('NoSuchBucket', 404))) }, req('gone2', { bucket: 'gone-bucket' }))
  t.match(gone2.manifest.errors.find((e) => e.code === 'NoSuchBucket'), { message: /^bucket gone-bucket does not exist \(or is not visible/ })
  t.match(gone2.manifest.findings, [], 'no finding: the bucket was missing before too')

  // a snapshot of another schema is not compared against
  const artifact = second.manifest.artifacts.find((a) => a.path === snapshotPath('bkt'))!
  const foreign = await captureBucketConfig(deps, sources(), req('four', { bucket: 'bkt2' }))
  const a2 = foreign.manifest.artifacts.find((a) => a.path === snapshotPath('bkt2'))!
  const obj2 = store.objects.get(a2.key)!
  const doc = JSON.parse(obj2.bytes.toString()) as Record<string, unknown>
  const rewritten = Buffer.from(JSON.stringify({ ...doc, schema: 'forensics.bucket-config/v0' }))
  store.objects.set(a2.key, { ...obj2, bytes: rewritten })
  const { createHash } = await import('node:crypto')
  // keep the manifest consistent with the rewritten bytes, so only the schema differs
  const mKey = foreign.manifestKey
  const m = JSON.parse(store.objects.get(mKey)!.bytes.toString()) as { artifacts: { path: string; sha256: string }[] }
  m.artifacts.find((a) => a.path === snapshotPath('bkt2'))!.sha256 = createHash('sha256').update(rewritten).digest('hex')
  store.objects.set(mKey, { ...store.objects.get(mKey)!, bytes: Buffer.from(JSON.stringify(m)) })
  t.equal(await findPreviousSnapshot(store, 'case-bc', 'bkt2', undefined), undefined, 'an unknown schema is not a previous snapshot')

  // tampered bytes of the previous snapshot: refused, never silently compared
  const obj = store.objects.get(artifact.key)!
  store.objects.set(artifact.key, { ...obj, bytes: Buffer.from(obj.bytes.toString().replace('"ok"', '"denied"')) })
  await t.rejects(findPreviousSnapshot(store, 'case-bc', 'bkt', OWNER), { name: 'ValidationError', message: /does not match the SHA-256 in its manifest; run `forensics verify` on case case-bc/ })
  await t.rejects(captureBucketConfig(deps, sources(), req('five', { accountId: OWNER })), { name: 'ValidationError', message: /does not match the SHA-256/ })
})

const ct = (detail: Record<string, unknown>, top: Record<string, unknown> = {}) => ({ 'detail-type': 'AWS API Call via CloudTrail', detail: { eventName: 'PutBucketAcl', requestParameters: { bucketName: 'bkt' }, eventID: 'e1', ...detail }, ...top })

t.test('CloudTrail events: detection, fallbacks, refusals', async (t) => {
  t.equal(isCloudTrailEvent(null), false)
  t.equal(isCloudTrailEvent({ 'detail-type': 'AWS API Call via CloudTrail', detail: 'x' }), false)
  t.equal(isCloudTrailEvent({ 'detail-type': 'Object Created', detail: {} }), false)
  t.equal(isCloudTrailEvent(ct({})), true)
  // the envelope's id, time, account and region stand in for the record's
  t.same(parseCloudTrailEvent(ct({ eventID: '', userIdentity: 'x' }, { id: 'eb-1', time: '2026-05-05T01:02:03Z', account: OWNER, region: 'ap-south-1' }), ['PutBucketAcl']), {
    eventId: 'eb-1',
    eventName: 'PutBucketAcl',
    eventTime: '2026-05-05T01:02:03Z',
    bucket: 'bkt',
    key: undefined,
    account: OWNER,
    region: 'ap-south-1',
    principalArn: undefined,
    requestId: undefined,
  })
  t.match(parseCloudTrailEvent(ct({}), ['PutBucketAcl']), { eventTime: '1970-01-01T00:00:00.000Z', account: '', region: '' }, 'nothing to fall back to')
  t.throws(() => parseCloudTrailEvent(ct({ eventName: undefined }), ['PutBucketAcl']), { name: 'ValidationError', field: 'detail.eventName', message: /^CloudTrail event null does not trigger/ })
  t.throws(() => parseCloudTrailEvent(ct({ eventName: 'GetObject' }), ['PutBucketAcl', 'PutBucketPolicy']), { message: /"GetObject" does not trigger this collector; expected one of PutBucketAcl, PutBucketPolicy/ })
  t.throws(() => parseCloudTrailEvent(ct({ requestParameters: null }), ['PutBucketAcl']), { name: 'ValidationError', field: 'detail.requestParameters.bucketName' })
  t.throws(() => parseCloudTrailEvent(ct({ eventID: undefined }), ['PutBucketAcl']), { name: 'ValidationError', field: 'detail.eventID', message: /neither detail.eventID nor id/ })

  const trig: CloudTrailTrigger = { eventId: 'e/1', eventName: 'PutBucketAcl', eventTime: '2026-11-29T10:00:00Z', bucket: 'b.k.t', account: OWNER, region: 'us-east-1' }
  t.equal(caseIdFromTemplate('{region}-{bucket}-{date}', trig), 'us-east-1-b.k.t-2026-11-29')
  t.equal(caseIdFromTemplate('x'.repeat(70), trig), 'x'.repeat(64), 'cut to 64 characters')
  t.equal(caseIdFromTemplate('{eventId}', { ...trig, eventId: '..' }), 'case', 'a case id of dots only becomes "case"')
  t.throws(() => caseIdFromTemplate('ct-{user}', trig), { name: 'ValidationError', field: 'FORENSICS_CASE_ID_TEMPLATE', message: /uses \{user\}; known placeholders: \{account\} \{region\} \{bucket\} \{eventName\} \{date\} \{eventId\}/ })
})

t.test('bucketConfigRequest: own events and CloudTrail events', async (t) => {
  t.throws(() => bucketConfigRequest(undefined, {}), { name: 'ValidationError', field: 'event', message: /got undefined/ })
  t.throws(() => bucketConfigRequest([], {}), { name: 'ValidationError', field: 'event' })
  t.throws(() => bucketConfigRequest({ caseId: 'c', bucket: 'b', account: '' }, {}), { name: 'ValidationError', field: 'account', message: /account must be a non-empty string/ })
  t.throws(() => bucketConfigRequest({ caseId: 'c', bucket: 'b', region: 5 }, {}), { name: 'ValidationError', field: 'region' })
  t.match(bucketConfigRequest({ caseId: 'c', bucket: 'b', id: 'mine', account: OWNER, region: 'eu-west-1' }, {}, { awsRequestId: 'r' }), { trigger: { source: 'event', id: 'mine' }, accountId: OWNER, region: 'eu-west-1' }, 'an explicit id wins over the request id')
  const r = bucketConfigRequest(ct({}), {})
  t.match(r, { caseId: 'ct--1970-01-01', bucket: 'bkt', accountId: undefined, region: undefined, trigger: { source: 'cloudtrail:PutBucketAcl', id: 'cloudtrail:e1' } }, 'an event without account or region')
  t.match(bucketConfigRequest(ct({ recipientAccountId: OWNER, awsRegion: 'eu-west-1', userIdentity: { arn: 'arn:x' }, requestID: 'R' }), {}), { accountId: OWNER, region: 'eu-west-1', actor: { principalArn: 'arn:x', requestId: 'R' } })
})

/** A local endpoint answering the AWS query (STS) and REST (S3) calls the runtime makes. */
async function fakeAws(t: Test, answer: (action: string, req: IncomingMessage, body: string) => { status: number; body: string }): Promise<string> {
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let body = ''
    req.on('data', (c: Buffer) => (body += c.toString()))
    req.on('end', () => {
      const action = new URLSearchParams(body).get('Action') ?? `${req.method} ${req.url}`
      const a = answer(action, req, body)
      res.writeHead(a.status, { 'content-type': 'text/xml' })
      res.end(a.body)
    })
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  t.teardown(() => new Promise<void>((r) => server.close(() => r())))
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}

const stsError = (code: string) => ({ status: 403, body: `<ErrorResponse><Error><Type>Sender</Type><Code>${code}</Code><Message>${code} by test</Message></Error><RequestId>r</RequestId></ErrorResponse>` })
const identity = (account: string) => ({ status: 200, body: `<GetCallerIdentityResponse><GetCallerIdentityResult><Arn>arn:aws:iam::${account}:user/u</Arn><UserId>U</UserId><Account>${account}</Account></GetCallerIdentityResult><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></GetCallerIdentityResponse>` })
const assumed = (creds: string) => ({ status: 200, body: `<AssumeRoleResponse><AssumeRoleResult>${creds}</AssumeRoleResult><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></AssumeRoleResponse>` })
/** The SDK reads endpoint and credentials from process.env: point them at the fake (restored at teardown). */
function awsProcessEnv(t: Test, endpoint: string): void {
  const saved = { ...process.env }
  Object.assign(process.env, { AWS_ENDPOINT_URL: endpoint, AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test' })
  delete process.env.AWS_PROFILE
  t.teardown(() => {
    for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k]
    Object.assign(process.env, saved)
  })
}
const awsEnv = (endpoint: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv => ({ AWS_ENDPOINT_URL: endpoint, AWS_REGION: 'us-east-1', ...extra })

t.test('openSourceClients: own account, member role, refusals', async (t) => {
  await t.rejects(openSourceClients({ accountId: '12345', env: {} }), { name: 'ValidationError', field: 'account', message: /12-digit/ })

  let assumeBody = ''
  let mode: 'deny' | 'empty' | 'ok' = 'deny'
  let stsUp = true
  const endpoint = await fakeAws(t, (action, _req, body) => {
    if (action === 'GetCallerIdentity') return stsUp ? identity(OWNER) : stsError('InvalidClientTokenId')
    if (action === 'AssumeRole') {
      assumeBody = body
      if (mode === 'deny') return stsError('AccessDenied')
      if (mode === 'empty') return assumed('')
      return assumed('<Credentials><AccessKeyId>AK</AccessKeyId><SecretAccessKey>SK</SecretAccessKey><SessionToken>ST</SessionToken><Expiration>2099-01-01T00:00:00Z</Expiration></Credentials>')
    }
    return { status: 500, body: '' }
  })
  awsProcessEnv(t, endpoint)
  const own = await openSourceClients({ env: awsEnv(endpoint), region: 'eu-central-1' })
  t.same([own.accountId, own.roleArn, await own.s3.config.region()], [OWNER, undefined, 'eu-central-1'], 'our own account, the requested region')
  const same = await openSourceClients({ accountId: OWNER, env: awsEnv(endpoint) })
  t.same([same.accountId, same.roleArn], [OWNER, undefined])

  await t.rejects(openSourceClients({ accountId: OTHER, env: awsEnv(endpoint) }), { name: 'ValidationError', message: `bucket account ${OTHER} is not this account (${OWNER}): set FORENSICS_MEMBER_ROLE_NAME (and FORENSICS_MEMBER_EXTERNAL_ID) to the read-only capture role the member-account stack deployed` })
  const member = awsEnv(endpoint, { FORENSICS_MEMBER_ROLE_NAME: 'capture', FORENSICS_MEMBER_EXTERNAL_ID: 'ext' })
  await t.rejects(openSourceClients({ accountId: OTHER, env: member }), { name: 'StorageError', message: new RegExp(`^cannot assume arn:aws:iam::${OTHER}:role/capture: AccessDenied: AccessDenied by test; check the member-account stack`) })
  mode = 'empty'
  await t.rejects(openSourceClients({ accountId: OTHER, env: member, sessionName: 's'.repeat(80) }), { name: 'StorageError', message: `assuming arn:aws:iam::${OTHER}:role/capture returned no credentials` })
  mode = 'ok'
  const assumedClients = await openSourceClients({ accountId: OTHER, env: { ...member, AWS_ENDPOINT_URL_S3_CONTROL: `${endpoint}/control` } })
  t.same([assumedClients.accountId, assumedClients.roleArn], [OTHER, `arn:aws:iam::${OTHER}:role/capture`])
  t.match(await assumedClients.s3.config.credentials(), { accessKeyId: 'AK', secretAccessKey: 'SK', sessionToken: 'ST' }, 'the S3 client acts with the role’s credentials')
  t.match(decodeURIComponent(assumeBody), /ExternalId=ext/, 'the external id is sent')

  // STS unreachable: our own buckets are still readable, another account's are not
  stsUp = false
  const blind = await openSourceClients({ env: awsEnv(endpoint) })
  t.equal(blind.accountId, undefined)
  await t.rejects(openSourceClients({ accountId: OTHER, env: awsEnv(endpoint) }), { message: /is not this account \(unknown\)/ })
})

t.test('evidenceFromEnv: required settings, retention, the signer, failures not cached', async (t) => {
  t.throws(() => evidenceFromEnv({}), { name: 'ValidationError', field: 'FORENSICS_EVIDENCE_BUCKET' })
  t.throws(() => evidenceFromEnv({ FORENSICS_EVIDENCE_BUCKET: 'ev' }), { name: 'ValidationError', field: 'FORENSICS_SIGNING_KEY', message: /got null/ })
  t.throws(() => evidenceFromEnv({ FORENSICS_EVIDENCE_BUCKET: 'ev', FORENSICS_SIGNING_KEY: 'arn:aws:kms:x' }), { name: 'ValidationError', field: 'FORENSICS_SIGNING_KEY', message: /got "arn:aws:kms:x"/ })
  const key = signingKeyFile()
  let versioningCalls = 0
  const endpoint = await fakeAws(t, (action) => {
    if (/versioning/.test(action)) versioningCalls++
    return { status: 404, body: '<Error><Code>NoSuchBucket</Code><Message>gone</Message></Error>' }
  })
  awsProcessEnv(t, endpoint)
  const base = awsEnv(endpoint, { FORENSICS_EVIDENCE_BUCKET: 'ev-missing', FORENSICS_SIGNING_KEY: `file:${key.path}` })
  for (const [days, mode] of [['0', undefined], ['1.5', undefined], ['x', undefined], ['3', 'LEGAL']] as const) {
    t.throws(() => evidenceFromEnv({ ...base, FORENSICS_RETENTION_DAYS: days, ...(mode ? { FORENSICS_RETENTION_MODE: mode } : {}) }), { name: 'ValidationError', field: 'FORENSICS_RETENTION_DAYS', message: new RegExp(`got ${days.replace('.', '\\.')}/${mode ?? 'COMPLIANCE'}`) })
  }
  const env = { ...base, FORENSICS_RETENTION_DAYS: '3', FORENSICS_RETENTION_MODE: 'GOVERNANCE' }
  const p1 = evidenceFromEnv(env)
  t.equal(evidenceFromEnv({ ...env }), p1, 'the same settings share one opening')
  await t.rejects(p1, { name: 'EvidenceBucketError', message: /s3:\/\/ev-missing does not exist/ })
  const p2 = evidenceFromEnv(env)
  t.not(p2, p1, 'a failed opening is not cached')
  await t.rejects(p2, { name: 'EvidenceBucketError' })
  t.equal(versioningCalls, 2)
  // kms: signer, default retention read from the bucket (which is missing here)
  const kms = evidenceFromEnv({ ...base, FORENSICS_SIGNING_KEY: 'kms:alias/forensics' })
  await t.rejects(kms, { name: 'EvidenceBucketError' })
})

t.test('CLI: --case and --bucket are required', async (t) => {
  for (const argv of [['--case', 'c'], ['--bucket', 'b']]) {
    const r = await runCli(['capture', 'bucket-config', ...argv], {})
    t.equal(r.code, 2)
    t.match(r.stderr, /--case and --bucket are required/)
  }
  t.match((await runCli(['capture', 'bucket-config', '--case', 'c', '--bucket', 'b'], {})).stderr, /no evidence bucket/)
})
