import t from 'tap'
import {
  S3Client,
  CreateBucketCommand,
  PutBucketPolicyCommand,
  PutPublicAccessBlockCommand,
  PutBucketEncryptionCommand,
  DeleteBucketEncryptionCommand,
  PutBucketVersioningCommand,
  PutBucketLoggingCommand,
  PutBucketLifecycleConfigurationCommand,
  PutBucketAclCommand,
} from '@aws-sdk/client-s3'
import { STSClient, AssumeRoleCommand } from '@aws-sdk/client-sts'
import { useEmulator } from './fixtures/emulator.js'
import { lockedStore } from './fixtures/evidence.js'
import { collectorEnv, createIamUser, denyPolicy, runCli, setIamAuth, signingKeyFile, useEmulatorEnv } from './fixtures/collectors.js'
import { createBucketConfigHandler, bucketConfigRequest, handler } from '../collectors/bucket-config.js'
import { captureBucketConfig, findPreviousSnapshot, validateBucketName } from '../forensics/bucket-config/capture-bucket-config.js'
import { verifyCapture } from '../forensics/verify-capture.js'
import { CustodyChain } from '../forensics/custody.js'
import type { BucketConfigSnapshot } from '../forensics/bucket-config/snapshot.js'
import type { Finding } from '../forensics/manifest.js'

const OWNER = '123456789012'
const publicPolicy = (bucket: string): string =>
  JSON.stringify({
    Version: '2012-10-17',
    Statement: [
      { Sid: 'OwnerRead', Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${OWNER}:root` }, Action: 's3:GetObject', Resource: `arn:aws:s3:::${bucket}/*` },
      { Sid: 'PublicRead', Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: `arn:aws:s3:::${bucket}/*` },
    ],
  })
const privatePolicy = (bucket: string): string =>
  JSON.stringify({ Version: '2012-10-17', Statement: [{ Sid: 'OwnerRead', Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${OWNER}:root` }, Action: 's3:GetObject', Resource: `arn:aws:s3:::${bucket}/*` }] })

const cloudTrailEvent = (eventName: string, bucket: string, eventID: string): Record<string, unknown> => ({
  version: '0',
  id: `eb-${eventID}`,
  'detail-type': 'AWS API Call via CloudTrail',
  source: 'aws.s3',
  account: OWNER,
  time: '2026-11-29T10:00:00Z',
  region: 'us-east-1',
  resources: [],
  detail: {
    eventVersion: '1.09',
    userIdentity: { type: 'IAMUser', arn: `arn:aws:iam::${OWNER}:user/mallory` },
    eventTime: '2026-11-29T10:00:00Z',
    eventSource: 's3.amazonaws.com',
    eventName,
    awsRegion: 'us-east-1',
    requestParameters: { bucketName: bucket },
    requestID: 'REQ1',
    eventID,
    recipientAccountId: OWNER,
  },
})

const types = (fs: readonly Finding[]): string[] => fs.map((f) => f.type).sort()

t.test('bucket-config on the emulator', async (t) => {
  const emulator = await useEmulator(t)
  useEmulatorEnv(t, emulator)
  const key = signingKeyFile()

  t.test('public, then reverted: before / during / after yields added then removed, naming the statement', async (t) => {
    const { s3, store } = await lockedStore(emulator)
    await s3.send(new CreateBucketCommand({ Bucket: 'watched' }))
    await s3.send(new PutBucketPolicyCommand({ Bucket: 'watched', Policy: privatePolicy('watched') }))
    const env = collectorEnv(emulator, key.path, { FORENSICS_CASE_ID_TEMPLATE: 'case-{bucket}' })

    const before = await runCli(['capture', 'bucket-config', '--case', 'case-watched', '--bucket', 'watched', '--json'], env)
    t.equal(before.code, 0, before.stderr)
    const b = before.json()
    t.equal(b.status, 'complete')
    t.same(b.findings, [], 'a private bucket has nothing to report')

    await s3.send(new PutBucketPolicyCommand({ Bucket: 'watched', Policy: publicPolicy('watched') }))
    const during = await createBucketConfigHandler(env)(cloudTrailEvent('PutBucketPolicy', 'watched', 'ct-1'))
    t.equal(during.caseId, 'case-watched', 'case id from FORENSICS_CASE_ID_TEMPLATE')
    t.equal(during.status, 'complete')
    const added = during.findings.filter((f) => f.type === 'public-grant-added')
    t.equal(added.length, 1, 'exactly one public grant added')
    t.match(added[0], { severity: 'critical', resource: 'arn:aws:s3:::watched', detail: { sid: 'PublicRead', index: 1, previousCaptureId: b.captureId } })
    t.match(added[0].title, /"PublicRead" \(Statement\[1\]\) grants Principal "\*" s3:GetObject/)
    t.notOk(during.findings.some((f) => f.type === 'cross-account-principal-added'), 'the owner account is not cross-account')

    const again = await createBucketConfigHandler(env)(cloudTrailEvent('PutBucketPolicy', 'watched', 'ct-1'))
    t.equal(again.created, false, 'a redelivered CloudTrail event returns the committed capture')
    t.equal(again.manifestKey, during.manifestKey)

    await s3.send(new PutBucketPolicyCommand({ Bucket: 'watched', Policy: privatePolicy('watched') }))
    const after = await runCli(['capture', 'bucket-config', '--case', 'case-watched', '--bucket', 'watched', '--json'], env)
    t.equal(after.code, 0, after.stderr)
    const a = after.json() as { findings: Finding[]; captureId: string; manifestKey: string }
    t.same(types(a.findings), ['public-grant-removed'])
    t.match(a.findings[0], { severity: 'info', detail: { sid: 'PublicRead', previousCaptureId: during.captureId } })

    for (const c of [b.captureId as string, during.captureId, a.captureId]) {
      const v = await verifyCapture(store, 'case-watched', c, { publicKeyPem: await key.signer.publicKeyPem() })
      t.same(v.findings, [], `capture ${c} verifies`)
    }
    const custody = await new CustodyChain(store, key.signer, 'case-watched').read()
    t.equal(custody.filter((e) => e.action === 'captured').length, 2, 'the CLI appended a captured entry per capture (the Lambda path leaves it to the recorder)')
    const prev = await findPreviousSnapshot(store, 'case-watched', 'watched', OWNER)
    t.equal(prev?.captureId, a.captureId, 'the latest snapshot is the one compared next')
    t.equal(prev?.snapshot.calls.policy.outcome, 'ok')
    s3.destroy()
  })

  t.test('calls refused by an explicit Deny policy are recorded as denied', async (t) => {
    const { s3, store } = await lockedStore(emulator)
    await s3.send(new CreateBucketCommand({ Bucket: 'guarded' }))
    const admin = await createIamUser(emulator, 'admin', denyPolicy(['iam:DeleteUser']))
    const reader = await createIamUser(emulator, 'reader', denyPolicy(['s3:GetBucketAcl', 's3:GetBucketPolicy', 's3:GetBucketTagging']))
    await setIamAuth(emulator, true)
    t.teardown(() => setIamAuth(emulator, false))
    const adminS3 = new S3Client({ ...emulator.clientConfig(), credentials: admin })
    const readerS3 = new S3Client({ ...emulator.clientConfig(), credentials: reader })
    const { S3EvidenceStore } = await import('../forensics/s3-evidence-store.js')
    const adminStore = new S3EvidenceStore({ client: adminS3, bucket: store.bucket, retention: store.retention })
    // moto 5.2.1 miscomputes SigV4 for a query value containing '/' (ListObjectsV2 prefix):
    // listings of the evidence bucket run with authentication briefly off
    const realList = adminStore.list.bind(adminStore)
    adminStore.list = async function* (prefix: string) {
      await setIamAuth(emulator, false)
      const items = []
      for await (const i of realList(prefix)) items.push(i)
      await setIamAuth(emulator, true)
      yield* items
    }
    const r = await captureBucketConfig({ store: adminStore, signer: key.signer }, { s3: readerS3, accountId: OWNER }, { caseId: 'case-deny', bucket: 'guarded', trigger: { source: 'test', id: 'deny-1' } })
    t.equal(r.manifest.status, 'partial', 'refusals make the capture partial, not a crash')
    const denied = r.manifest.errors.filter((e) => e.code === 'AccessDenied').map((e) => e.what.split(' ')[0]).sort()
    t.same(denied, ['GetBucketAcl', 'GetBucketPolicy', 'GetBucketTagging'])
    const snap = JSON.parse((await adminStore.getBytes(r.manifest.artifacts[0].key)).bytes.toString()) as BucketConfigSnapshot
    t.equal(snap.calls.acl.outcome, 'denied')
    t.equal(snap.calls.policy.outcome, 'denied')
    t.equal(snap.calls.versioning.outcome, 'ok', 'what is allowed is still read')
    t.equal(snap.calls.publicAccessBlock.outcome, 'absent')
    t.equal(snap.calls.accountPublicAccessBlock.outcome, 'error', 'the account-level read needs an S3 Control client')
    t.same(r.manifest.findings, [], 'an unreadable policy is not reported as public or private')
    adminS3.destroy()
    readerS3.destroy()
    s3.destroy()
  })

  t.test('weakening public access block, encryption, versioning, logging and lifecycle is reported', async (t) => {
    const { s3 } = await lockedStore(emulator)
    await s3.send(new CreateBucketCommand({ Bucket: 'hardened' }))
    // S3 accepts the log-delivery-write canned ACL on buckets; the SDK's enum omits it
    await s3.send(new CreateBucketCommand({ Bucket: 'hardened-logs', ACL: 'log-delivery-write' as never }))
    const pab = { BlockPublicAcls: true, IgnorePublicAcls: true, BlockPublicPolicy: true, RestrictPublicBuckets: true }
    await s3.send(new PutPublicAccessBlockCommand({ Bucket: 'hardened', PublicAccessBlockConfiguration: pab }))
    await s3.send(new PutBucketEncryptionCommand({ Bucket: 'hardened', ServerSideEncryptionConfiguration: { Rules: [{ ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] } }))
    await s3.send(new PutBucketVersioningCommand({ Bucket: 'hardened', VersioningConfiguration: { Status: 'Enabled' } }))
    await s3.send(new PutBucketLoggingCommand({ Bucket: 'hardened', BucketLoggingStatus: { LoggingEnabled: { TargetBucket: 'hardened-logs', TargetPrefix: 'logs/' } } }))
    const env = collectorEnv(emulator, key.path)
    const h = createBucketConfigHandler(env)
    const first = await h({ caseId: 'case-h', bucket: 'hardened', id: 'h-1' })
    t.same(first.findings, [], 'a hardened bucket: no findings on the first snapshot')
    t.equal(first.summary?.outcomes && (first.summary.outcomes as Record<string, string>).accountPublicAccessBlock, 'absent', 'account-level block read through S3 Control')

    await s3.send(new PutPublicAccessBlockCommand({ Bucket: 'hardened', PublicAccessBlockConfiguration: { ...pab, BlockPublicPolicy: false, RestrictPublicBuckets: false } }))
    await s3.send(new DeleteBucketEncryptionCommand({ Bucket: 'hardened' }))
    await s3.send(new PutBucketVersioningCommand({ Bucket: 'hardened', VersioningConfiguration: { Status: 'Suspended' } }))
    await s3.send(new PutBucketLoggingCommand({ Bucket: 'hardened', BucketLoggingStatus: {} }))
    await s3.send(new PutBucketLifecycleConfigurationCommand({ Bucket: 'hardened', LifecycleConfiguration: { Rules: [{ ID: 'purge', Status: 'Enabled', Filter: { Prefix: '' }, NoncurrentVersionExpiration: { NoncurrentDays: 1 } }] } }))
    await s3.send(new PutBucketAclCommand({ Bucket: 'hardened', ACL: 'public-read' }))
    await s3.send(new PutBucketPolicyCommand({ Bucket: 'hardened', Policy: JSON.stringify({ Version: '2012-10-17', Statement: [{ Sid: 'Partner', Effect: 'Allow', Principal: { AWS: ['arn:aws:iam::999999999999:root'] }, Action: 's3:GetObject', Resource: 'arn:aws:s3:::hardened/*' }] }) }))
    const second = await h({ caseId: 'case-h', bucket: 'hardened', id: 'h-2' })
    t.same(types(second.findings), ['cross-account-principal-added', 'encryption-removed', 'lifecycle-expires-versions', 'logging-disabled', 'public-access-block-weakened', 'public-grant-added', 'versioning-suspended'])
    t.match(second.findings.find((f) => f.type === 'public-access-block-weakened')?.title, /bucket-level public access block weakened: BlockPublicPolicy, RestrictPublicBuckets turned off/)
    t.match(second.findings.find((f) => f.type === 'public-grant-added')?.title, /bucket ACL grants READ to AllUsers/)
    t.match(second.findings.find((f) => f.type === 'cross-account-principal-added')?.detail, { account: '999999999999', sid: 'Partner' })
    t.match(second.findings.find((f) => f.type === 'lifecycle-expires-versions')?.title, /"purge" expires object versions/)
    s3.destroy()
  })

  t.test('a missing bucket: the CLI refuses it before writing anything (exit 2); the function records it as partial', async (t) => {
    const { s3, store } = await lockedStore(emulator)
    await s3.send(new CreateBucketCommand({ Bucket: 'gone' }))
    const env = collectorEnv(emulator, key.path)
    t.equal((await runCli(['capture', 'bucket-config', '--case', 'case-gone', '--bucket', 'gone'], env)).code, 0)
    const { DeleteBucketCommand } = await import('@aws-sdk/client-s3')
    await s3.send(new DeleteBucketCommand({ Bucket: 'gone' }))
    const keysOf = async (): Promise<string[]> => {
      const out: string[] = []
      for await (const { key } of store.list('cases/case-gone/')) out.push(key)
      return out
    }
    const before = await keysOf()
    const r = await runCli(['capture', 'bucket-config', '--case', 'case-gone', '--bucket', 'gone'], env)
    t.equal(r.code, 2, 'finding 4: a typo is refused, not committed')
    t.match(r.stderr, /bucket gone does not exist \(NoSuchBucket\); check --bucket, --account and --region\. Nothing was captured\./)
    t.same(await keysOf(), before, 'no artifact, manifest or custody entry was written')
    const gone = await createBucketConfigHandler(env)({ caseId: 'case-gone', bucket: 'gone', id: 'y' })
    t.equal(gone.status, 'partial', 'a bucket deleted during an incident is evidence when an event triggered the capture')
    t.match(gone.findings, [{ severity: 'high', title: /bucket no longer exists/ }])
    const missing = await createBucketConfigHandler(env)({ caseId: 'case-gone', bucket: 'never-there', id: 'x' })
    t.equal(missing.status, 'partial')
    t.match(missing.errors, [{ code: 'NoSuchBucket' }])
    t.same(missing.findings, [], 'never seen before, nothing to compare')
    t.notOk(await store.head('cases/case-gone/captures/none/manifest.json'))
    s3.destroy()
  })

  t.test('cross-account: the member role is assumed with the external id', async (t) => {
    const { s3 } = await lockedStore(emulator)
    const sts = new STSClient(emulator.clientConfig())
    const c = (await sts.send(new AssumeRoleCommand({ RoleArn: 'arn:aws:iam::111111111111:role/forensics-read', RoleSessionName: 'setup' }))).Credentials!
    const member = new S3Client({ ...emulator.clientConfig(), credentials: { accessKeyId: c.AccessKeyId!, secretAccessKey: c.SecretAccessKey!, sessionToken: c.SessionToken } })
    await member.send(new CreateBucketCommand({ Bucket: 'member-data' }))
    await member.send(new PutBucketPolicyCommand({ Bucket: 'member-data', Policy: publicPolicy('member-data') }))
    const env = collectorEnv(emulator, key.path, { FORENSICS_MEMBER_ROLE_NAME: 'forensics-read', FORENSICS_MEMBER_EXTERNAL_ID: 'ext-123' })
    const r = await createBucketConfigHandler(env)({ caseId: 'case-x', bucket: 'member-data', account: '111111111111', id: 'x-1' })
    t.equal(r.status, 'complete', 'read through the member role')
    t.same(types(r.findings), ['cross-account-principal-present', 'public-grant-present'], 'first snapshot: what is risky now is reported as present')
    const without = createBucketConfigHandler(collectorEnv(emulator, key.path))
    await t.rejects(without({ caseId: 'case-x', bucket: 'member-data', account: '111111111111' }), { name: 'ValidationError', message: /FORENSICS_MEMBER_ROLE_NAME/ })
    await t.rejects(without({ caseId: 'case-x', bucket: 'member-data', account: '1111' }), { name: 'ValidationError', message: /12-digit/ })
    member.destroy()
    s3.destroy()
  })

  t.test('malformed events are permanent errors that reach OnFailure', async (t) => {
    const { s3 } = await lockedStore(emulator)
    const env = collectorEnv(emulator, key.path)
    const h = createBucketConfigHandler(env)
    await t.rejects(h('not an event'), { name: 'ValidationError', message: /expects \{caseId, bucket/ })
    await t.rejects(h({ bucket: 'b' }), { name: 'ValidationError', message: /no caseId/ })
    await t.rejects(h({ caseId: 'c' }), { name: 'ValidationError', message: /no bucket/ })
    await t.rejects(h({ caseId: 'c', bucket: 'bkt', region: 5 }), { name: 'ValidationError', message: /region must be a non-empty string/ })
    await t.rejects(h({ caseId: '../etc', bucket: 'bkt' }), { name: 'ValidationError', message: /invalid case id/ })
    await t.rejects(h({ caseId: 'c', bucket: 's3://x' }), { name: 'ValidationError', message: /invalid bucket name/ })
    // neither an access change nor a data event (GetObject on a sensitive bucket starts containment's capture)
    await t.rejects(h(cloudTrailEvent('CreateBucket', 'bkt', 'e1')), { name: 'ValidationError', field: 'detail.eventName', message: /"CreateBucket" is not routed to bucket-config; rule s3-access-changes routes .*; rule sensitive-access routes .*GetObject/ })
    const noBucket = cloudTrailEvent('PutBucketAcl', 'bkt', 'e2')
    ;(noBucket.detail as Record<string, unknown>).requestParameters = {}
    await t.rejects(h(noBucket), { name: 'ValidationError', message: /bucketName/ })
    const noId = cloudTrailEvent('PutBucketAcl', 'bkt', '')
    delete noId.id
    await t.rejects(h(noId), { name: 'ValidationError', message: /eventID/ })
    await t.rejects(createBucketConfigHandler({ ...env, FORENSICS_CASE_ID_TEMPLATE: '{nope}' })(cloudTrailEvent('PutBucketAcl', 'bkt', 'e3')), { message: /known placeholders/ })
    await t.rejects(createBucketConfigHandler({ ...env, FORENSICS_EVIDENCE_BUCKET: '' })({ caseId: 'c', bucket: 'bkt' }), { message: /FORENSICS_EVIDENCE_BUCKET/ })
    await t.rejects(createBucketConfigHandler({ ...env, FORENSICS_SIGNING_KEY: 'local' })({ caseId: 'c', bucket: 'bkt' }), { message: /FORENSICS_SIGNING_KEY/ })
    await t.rejects(createBucketConfigHandler({ ...env, FORENSICS_RETENTION_DAYS: 'x' })({ caseId: 'c', bucket: 'bkt' }), { message: /FORENSICS_RETENTION_DAYS/ })
    await t.rejects(createBucketConfigHandler({ ...env, FORENSICS_EVIDENCE_BUCKET: 'no-such-evidence' })({ caseId: 'c', bucket: 'bkt' }), { name: 'EvidenceBucketError' })
    const saved = { ...process.env }
    t.teardown(() => {
      for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k]
      Object.assign(process.env, saved)
    })
    Object.assign(process.env, env)
    await t.rejects(handler({}), { name: 'ValidationError' }, 'the Lambda entry reads process.env')
    t.equal((await runCli(['capture', 'bucket-config', '--case', 'c'], env)).code, 2, 'CLI: --bucket missing is a usage error')
    s3.destroy()
  })
})

t.test('requests and names', async (t) => {
  t.equal(bucketConfigRequest({ caseId: 'c', bucket: 'bkt' }, {}, { awsRequestId: 'req-1' }).trigger.id, 'req-1', 'the Lambda request id is stable across async retries')
  const a = bucketConfigRequest({ caseId: 'c', bucket: 'bkt' }, {})
  t.equal(a.trigger.id, bucketConfigRequest({ bucket: 'bkt', caseId: 'c' }, {}).trigger.id, 'without ids, the same event gives the same trigger id')
  const ct = bucketConfigRequest({ ...cloudTrailEvent('DeleteBucketPolicy', 'bkt', 'e9'), caseId: 'given' }, { FORENSICS_CASE_ID_TEMPLATE: 'x' })
  t.equal(ct.caseId, 'given', 'a case id on the event wins over the template')
  t.match(ct, { trigger: { source: 'cloudtrail:DeleteBucketPolicy', id: 'cloudtrail:e9' }, actor: { principalArn: `arn:aws:iam::${OWNER}:user/mallory`, requestId: 'REQ1' } })
  t.equal(bucketConfigRequest(cloudTrailEvent('PutBucketAcl', 'my_bucket', 'e1'), {}).caseId, `ct-${OWNER}-2026-11-29`, 'the default rule')
  t.equal(bucketConfigRequest(cloudTrailEvent('PutBucketAcl', 'bkt', 'a:b/c'), { FORENSICS_CASE_ID_TEMPLATE: 'ct_{eventName}.{eventId}' }).caseId, 'ct_PutBucketAcl.a-b-c', 'substituted values are sanitised')
  t.throws(() => bucketConfigRequest(cloudTrailEvent('PutBucketAcl', 'bkt', 'e1'), { FORENSICS_CASE_ID_TEMPLATE: 'a/{bucket}' }), { name: 'ValidationError', message: /invalid case id/ })
  t.equal(validateBucketName('legacy_Bucket'), 'legacy_Bucket')
})

const ct = (detail: Record<string, unknown>, top: Record<string, unknown> = {}) => ({ 'detail-type': 'AWS API Call via CloudTrail', source: 'aws.s3', detail: { eventName: 'PutBucketAcl', requestParameters: { bucketName: 'bkt' }, eventID: 'e1', ...detail }, ...top })

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

t.test('CLI: --case and --bucket are required', async (t) => {
  for (const argv of [['--case', 'c'], ['--bucket', 'b']]) {
    const r = await runCli(['capture', 'bucket-config', ...argv], {})
    t.equal(r.code, 2)
    t.match(r.stderr, /--case and --bucket are required/)
  }
  t.match((await runCli(['capture', 'bucket-config', '--case', 'c', '--bucket', 'b'], {})).stderr, /no evidence bucket/)
})
