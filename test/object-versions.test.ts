import t from 'tap'
import { createHash } from 'node:crypto'
import { S3Client, PutObjectCommand, PutBucketPolicyCommand, HeadObjectCommand } from '@aws-sdk/client-s3'
import { useEmulator } from './fixtures/emulator.js'
import { lockedStore } from './fixtures/evidence.js'
import { collectorEnv, createIamUser, createVersionedBucket, deleteMarker, denyPolicy, putVersions, runCli, setIamAuth, signingKeyFile, useEmulatorEnv } from './fixtures/collectors.js'
import { runCli as runCliWith } from './fixtures/bundle-cli.js'
import type { CaptureHandlerResult } from '../forensics/bucket-config/collector-runtime.js'
import { createObjectVersionsHandler as makeHandler, objectVersionsRequest, handler } from '../collectors/object-versions.js'
import { captureObjectVersions, validateObjectVersionsRequest } from '../forensics/object-versions/capture-object-versions.js'
import { forEachBounded } from '../forensics/object-versions/bounded.js'
import { versionArtifactPath } from '../forensics/object-versions/copy-version.js'
import { INVENTORY_PATH, type InventoryEntry } from '../forensics/object-versions/inventory.js'
import { verifyCapture } from '../forensics/verify-capture.js'
import { CustodyChain } from '../forensics/custody.js'
import { S3EvidenceStore } from '../forensics/s3-evidence-store.js'
import { parseManifest } from '../forensics/manifest.js'

const sha = (s: string | Buffer): string => createHash('sha256').update(s).digest('hex')
const HOSTILE = `incident/ spaces  and ünïcødé 😀 + plus %41 percent/../dot-dot/${'long-'.repeat(150)}end`

/** The handler, typed for own events (SQS batches answer with batch item failures). */
const createObjectVersionsHandler = (env: NodeJS.ProcessEnv) => {
  const h = makeHandler(env)
  return Object.assign((e: unknown) => h(e) as Promise<CaptureHandlerResult>, { sqs: h })
}

t.test('object-versions on the emulator', async (t) => {
  const emulator = await useEmulator(t)
  useEmulatorEnv(t, emulator)
  const key = signingKeyFile()

  t.test('25 versions and 3 delete markers of a hostile key: all 28 recorded, bytes locked with matching SHA-256', async (t) => {
    const { s3, store } = await lockedStore(emulator)
    await createVersionedBucket(s3, 'victim')
    const bodies: string[] = []
    for (let i = 0; i < 25; i++) {
      bodies.push(`version ${i} of the hostile key ${'x'.repeat(i * 37)}`)
      await putVersions(s3, 'victim', HOSTILE, [bodies[i]])
      if (i === 7 || i === 15 || i === 24) await deleteMarker(s3, 'victim', HOSTILE)
    }
    await putVersions(s3, 'victim', `${HOSTILE}-sibling`, ['not selected: only the exact key is'])
    const env = collectorEnv(emulator, key.path)
    const r = await runCli(['capture', 'object-versions', '--case', 'case-ov', '--bucket', 'victim', '--key', HOSTILE, '--json'], env)
    t.equal(r.code, 0, r.stderr)
    const out = r.json() as { status: string; captureId: string; manifestKey: string; summary: Record<string, number> }
    t.equal(out.status, 'complete')
    t.match(out.summary, { entries: 28, versions: 25, deleteMarkers: 3, stored: 25, failed: 0, restoreRequired: 0 })

    const manifest = parseManifest((await store.getBytes(out.manifestKey)).bytes, out.manifestKey)
    const versions = manifest.artifacts.filter((a) => a.path.startsWith('versions/'))
    t.equal(versions.length, 25, '25 version artifacts')
    const expected = new Set(bodies.map(sha))
    for (const a of versions) {
      t.equal(a.source?.key, HOSTILE, 'the original key round-trips exactly')
      t.ok(expected.has(a.sha256), 'the SHA-256 is the one of a source version')
      t.equal(a.path, versionArtifactPath(HOSTILE, a.source?.versionId as string))
      const stored = await store.getBytes(a.key, a.versionId)
      t.equal(sha(stored.bytes), a.sha256, 'stored bytes match the recorded SHA-256')
      const head = await s3.send(new HeadObjectCommand({ Bucket: 'evidence', Key: a.key, VersionId: a.versionId }))
      t.equal(head.ObjectLockMode, 'COMPLIANCE', 'locked')
      t.ok(head.ObjectLockRetainUntilDate, 'retained')
    }
    t.same(new Set(versions.map((a) => a.sha256)), expected, 'every source version is there once')
    const inv = manifest.artifacts.find((a) => a.path === INVENTORY_PATH)!
    const inventory = JSON.parse((await store.getBytes(inv.key, inv.versionId)).bytes.toString()) as { entries: InventoryEntry[] }
    t.equal(inventory.entries.length, 28)
    t.ok(inventory.entries.every((e) => e.key === HOSTILE))
    t.equal(inventory.entries.filter((e) => e.kind === 'delete-marker' && e.capture.status === 'delete-marker').length, 3)
    t.equal(inventory.entries.filter((e) => e.isLatest).length, 1, 'one latest entry')
    t.match(inventory.entries.find((e) => e.isLatest), { kind: 'delete-marker' }, 'the latest entry is the last delete marker')
    t.ok(inventory.entries.filter((e) => e.kind === 'version').every((e) => e.etag && e.owner && e.lastModified && e.storageClass === 'STANDARD' && typeof e.size === 'number'))
    const v = await verifyCapture(store, 'case-ov', out.captureId, { publicKeyPem: await key.signer.publicKeyPem() })
    t.same(v.findings, [], 'the capture verifies')
    const custody = await new CustodyChain(store, key.signer, 'case-ov').read()
    t.match(custody, [{ action: 'captured', subject: { key: out.manifestKey } }])

    // storing progress on a terminal: counts, bytes and rate; nothing with --json or when piped
    const totalBytes = bodies.reduce((n, b) => n + Buffer.byteLength(b), 0)
    const tty = await runCliWith(['capture', 'object-versions', '--case', 'case-ov-tty', '--bucket', 'victim', '--key', HOSTILE], env, { stderrTTY: true })
    t.equal(tty.code, 0, tty.stderr)
    t.match(tty.stderr, new RegExp(`stored 28 version\\(s\\) and delete marker\\(s\\) of s3://victim, ${(totalBytes / 2 ** 20).toFixed(1).replace('.', '\\.')} MiB, [\\d.]+ MiB/s`), 'the last line counts all 28 entries')
    t.notMatch(r.stderr, /stored \d+ version/, 'nothing extra with --json')
    t.notMatch((await runCli(['capture', 'object-versions', '--case', 'case-ov-piped', '--bucket', 'victim', '--key', HOSTILE], env)).stderr, /stored \d+ version/, 'nothing when piped')
    s3.destroy()
  })

  t.test('archived versions are restore-required; a time window selects by last-modified', async (t) => {
    const { s3, store } = await lockedStore(emulator)
    await createVersionedBucket(s3, 'archive')
    await s3.send(new PutObjectCommand({ Bucket: 'archive', Key: 'cold/a', Body: 'glacier bytes', StorageClass: 'GLACIER' }))
    await s3.send(new PutObjectCommand({ Bucket: 'archive', Key: 'cold/b', Body: 'deep bytes', StorageClass: 'DEEP_ARCHIVE' }))
    await s3.send(new PutObjectCommand({ Bucket: 'archive', Key: 'cold/c', Body: 'warm bytes' }))
    const h = createObjectVersionsHandler(collectorEnv(emulator, key.path))
    const r = await h({ caseId: 'case-arch', bucket: 'archive', prefix: 'cold/', id: 'arch-1' })
    t.equal(r.status, 'complete', 'archived is not a failure')
    t.match(r.summary, { entries: 3, stored: 1, restoreRequired: 2, failed: 0 })
    t.match(r.findings, [{ type: 'restore-required', severity: 'info' }])
    const future = await h({ caseId: 'case-arch', bucket: 'archive', prefix: 'cold/', since: new Date(Date.now() + 3_600_000).toISOString(), id: 'arch-2' })
    t.match(future.summary, { entries: 0 }, 'nothing was modified after since')
    const past = await h({ caseId: 'case-arch', bucket: 'archive', key: 'cold/c', until: new Date(Date.now() + 3_600_000).toISOString(), since: '2020-01-01T00:00:00Z', id: 'arch-3' })
    t.match(past.summary, { entries: 1, stored: 1 })
    t.ok(store)
    s3.destroy()
  })

  t.test('a missing bucket, an access-denied bucket and refused reads end with clear errors, never complete', async (t) => {
    const { s3, store } = await lockedStore(emulator)
    const env = collectorEnv(emulator, key.path)
    const missing = await runCli(['capture', 'object-versions', '--case', 'case-err', '--bucket', 'no-such-bucket', '--prefix', '', '--json'], env)
    t.equal(missing.code, 2, 'finding 4: the CLI refuses a missing bucket before writing anything')
    t.match(missing.json(), { ok: false, error: { name: 'ValidationError', message: /bucket no-such-bucket does not exist \(NoSuchBucket\)/ } })
    const missingFn = await createObjectVersionsHandler(env)({ caseId: 'case-err', bucket: 'no-such-bucket', prefix: '', id: 'missing-1' })
    t.match(missingFn, { status: 'partial', errors: [{ what: 'ListObjectVersions s3://no-such-bucket', code: 'NoSuchBucket', message: /does not exist/ }] }, 'an event-triggered capture records it')

    // GetObject refused by an explicit Deny bucket policy (moto enforces object-level Deny)
    await createVersionedBucket(s3, 'locked-down')
    await putVersions(s3, 'locked-down', 'secret', ['a', 'b'])
    await s3.send(new PutBucketPolicyCommand({ Bucket: 'locked-down', Policy: JSON.stringify({ Version: '2012-10-17', Statement: [{ Sid: 'NoReads', Effect: 'Deny', Principal: '*', Action: 's3:GetObject', Resource: 'arn:aws:s3:::locked-down/*' }] }) }))
    const refused = await createObjectVersionsHandler(env)({ caseId: 'case-err', bucket: 'locked-down', key: 'secret', id: 'refused-1' })
    t.equal(refused.status, 'partial')
    t.match(refused.summary, { entries: 2, stored: 0, failed: 2 })
    t.match(refused.errors, [{ code: 'AccessDenied', what: /s3:\/\/locked-down\/secret version / }, { code: 'AccessDenied' }])

    // ListObjectVersions refused by an explicit Deny identity policy (moto IAM auth)
    await createVersionedBucket(s3, 'denied-list')
    const admin = await createIamUser(emulator, 'admin', denyPolicy(['iam:DeleteUser']))
    const reader = await createIamUser(emulator, 'reader', denyPolicy(['s3:ListBucketVersions']))
    await setIamAuth(emulator, true)
    t.teardown(() => setIamAuth(emulator, false))
    const adminStore = new S3EvidenceStore({ client: new S3Client({ ...emulator.clientConfig(), credentials: admin }), bucket: 'evidence', retention: store.retention })
    const readerS3 = new S3Client({ ...emulator.clientConfig(), credentials: reader })
    const denied = await captureObjectVersions({ store: adminStore, signer: key.signer }, readerS3, { caseId: 'case-err', bucket: 'denied-list', prefix: 'x', trigger: { source: 'test', id: 'denied-1' } })
    t.equal(denied.kind, 'committed')
    if (denied.kind === 'committed') {
      t.equal(denied.result.manifest.status, 'partial')
      t.match(denied.result.manifest.errors, [{ code: 'AccessDenied', message: /s3:ListBucketVersions/ }])
    }
    await setIamAuth(emulator, false)
    readerS3.destroy()
    s3.destroy()
  })

  t.test('malformed events are permanent errors (thrown, so OnFailure takes over)', async (t) => {
    const { s3 } = await lockedStore(emulator)
    const env = collectorEnv(emulator, key.path)
    const h = createObjectVersionsHandler(env)
    await t.rejects(h(42), { name: 'ValidationError', message: /expects/ })
    await t.rejects(h({ bucket: 'b' }), { name: 'ValidationError', message: /caseId/ })
    await t.rejects(h({ caseId: 'c' }), { name: 'ValidationError', message: /bucket/ })
    await t.rejects(h({ caseId: 'c', bucket: 'bkt' }), { name: 'ValidationError', message: /either keys/ })
    await t.rejects(h({ caseId: 'c', bucket: 'bkt', key: 'k', prefix: 'p' }), { name: 'ValidationError', message: /either keys/ })
    await t.rejects(h({ caseId: 'c', bucket: 'bkt', keys: 'k' }), { name: 'ValidationError', message: /list of strings/ })
    await t.rejects(h({ caseId: 'c', bucket: 'bkt', keys: [''] }), { name: 'ValidationError', message: /invalid object key/ })
    await t.rejects(h({ caseId: 'c', bucket: 'bkt', prefix: 5 }), { name: 'ValidationError', message: /prefix must be a string/ })
    await t.rejects(h({ caseId: 'c', bucket: 'bkt', prefix: 'p', since: 'yesterday' }), { name: 'ValidationError', message: /ISO 8601/ })
    await t.rejects(h({ caseId: 'c', bucket: 'bkt', prefix: 'p', since: '2026-02-01T00:00:00Z', until: '2026-01-01T00:00:00Z' }), { name: 'ValidationError', message: /before until/ })
    await t.rejects(h({ caseId: 'c', bucket: 'bkt', prefix: 'p', account: 7 }), { name: 'ValidationError', message: /account/ })
    await t.rejects(createObjectVersionsHandler({ ...env, FORENSICS_COPY_CONCURRENCY: '0' })({ caseId: 'c', bucket: 'bkt', prefix: 'p' }), { message: /FORENSICS_COPY_CONCURRENCY/ })
    // an access change goes to bucket-config only; object-versions takes CloudTrail data events (the containment row)
    const ct = { 'detail-type': 'AWS API Call via CloudTrail', source: 'aws.s3', id: 'e', detail: { eventName: 'PutBucketAcl', eventID: 'ev-1', requestParameters: { bucketName: 'bkt' } } }
    await t.rejects(h(ct), { name: 'ValidationError', field: 'detail.eventName', message: /"PutBucketAcl" is not routed to object-versions; rule sensitive-access routes GetObject/ })
    const bad = await h.sqs({ Records: [{ eventSource: 'aws:sqs', messageId: 'm1', receiptHandle: 'r', body: 'not json', eventSourceARN: 'q', attributes: {} }] })
    t.same(bad, { batchItemFailures: [{ itemIdentifier: 'm1' }] }, 'a malformed page message is a batch item failure (redelivered, then the DLQ)')
    const saved = { ...process.env }
    t.teardown(() => {
      for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k]
      Object.assign(process.env, saved)
    })
    Object.assign(process.env, env)
    await t.rejects(handler({}), { name: 'ValidationError' })
    t.equal((await runCli(['capture', 'object-versions', '--case', 'c', '--bucket', 'b'], env)).code, 2, 'CLI: --key or --prefix required')
    t.equal((await runCli(['capture', 'object-versions', '--case', 'c', '--bucket', 'b', '--prefix', 'p', '--since', 'soon'], env)).code, 2)
    s3.destroy()
  })
})

t.test('requests', async (t) => {
  // a GuardDuty S3 finding captures the finding's bucket
  const gd = (buckets: string[]) => ({ 'detail-type': 'GuardDuty Finding', source: 'aws.guardduty', id: 'eb', account: '123456789012', region: 'eu-west-1', detail: { id: 'f1', type: 'Exfiltration:S3/AnomalousBehavior', resource: { resourceType: 'S3Bucket', s3BucketDetails: buckets.map((name) => ({ name })) }, service: { eventFirstSeen: '2026-11-29T10:00:00Z', eventLastSeen: '2026-11-29T10:05:00Z' } } })
  t.match(objectVersionsRequest(gd(['bkt']), {}), { caseId: 'gd-123456789012-2026-11-29', bucket: 'bkt', prefix: '', keys: undefined, trigger: { source: 'guardduty:Exfiltration:S3/AnomalousBehavior', id: 'guardduty:eb' }, region: 'eu-west-1' })
  t.match(objectVersionsRequest(gd(['bkt']), { FORENSICS_OBJECT_VERSIONS_PREFIX: 'data/' }), { prefix: 'data/', keys: undefined })
  t.throws(() => objectVersionsRequest(gd(['b1', 'b2']), {}), { name: 'ValidationError', field: 'detail.resource.s3BucketDetails', message: /names 2 buckets \(b1, b2\)/ })
  t.throws(() => objectVersionsRequest(gd([]), {}), { name: 'ValidationError', field: 'detail.resource.s3BucketDetails[].name' })
  t.equal(objectVersionsRequest({ caseId: 'c', bucket: 'b', prefix: '' }, {}, { awsRequestId: 'r1' }).trigger.id, 'r1')
  // a data event on a sensitive bucket (the containment row) captures the key it names, else the bucket
  const data = (eventName: string, params: Record<string, string>) => ({ 'detail-type': 'AWS API Call via CloudTrail', source: 'aws.s3', id: 'eb', account: '123456789012', region: 'eu-west-1', detail: { eventName, eventID: 'ev-9', eventTime: '2026-11-29T10:00:00Z', requestParameters: params, userIdentity: { arn: 'arn:aws:iam::123456789012:user/mallory' } } })
  t.match(objectVersionsRequest(data('GetObject', { bucketName: 'bkt', key: 'a b' }), { FORENSICS_OBJECT_VERSIONS_PREFIX: 'data/' }), { caseId: 'ct-123456789012-2026-11-29', bucket: 'bkt', keys: ['a b'], prefix: undefined, trigger: { source: 'cloudtrail:GetObject', id: 'cloudtrail:ev-9' }, actor: { principalArn: 'arn:aws:iam::123456789012:user/mallory' } })
  t.match(objectVersionsRequest(data('ListObjectsV2', { bucketName: 'bkt' }), { FORENSICS_OBJECT_VERSIONS_PREFIX: 'data/' }), { bucket: 'bkt', prefix: 'data/', keys: undefined })
  t.same(validateObjectVersionsRequest({ caseId: 'c', bucket: 'bkt', keys: ['k'], since: new Date('2026-01-01T00:00:00Z'), accountId: '123456789012', region: 'us-east-1', trigger: { source: 's', id: 'i' } }), { bucket: 'bkt', keys: ['k'], since: '2026-01-01T00:00:00.000Z', accountId: '123456789012', region: 'us-east-1' })
  t.throws(() => validateObjectVersionsRequest({ caseId: 'c', bucket: 'bkt', keys: ['k'], since: new Date('x'), trigger: { source: 's', id: 'i' } }), { message: /since is not a valid time/ })

  // bounded: never more than `concurrency` in flight, the budget holds heavy items back, failures stop the pull
  let inflight = 0
  let peak = 0
  let pulled = 0
  async function* items(): AsyncGenerator<number> {
    for (let i = 0; i < 50; i++) {
      pulled++
      yield i
    }
  }
  await forEachBounded(items(), { concurrency: 4 }, async () => {
    peak = Math.max(peak, ++inflight)
    await new Promise((r) => setTimeout(r, 2))
    inflight--
  })
  t.equal(peak, 4)
  let heavyPeak = 0
  inflight = 0
  await forEachBounded([10, 10, 10, 10, 100], { concurrency: 8, budget: 25, weight: (w) => w }, async () => {
    heavyPeak = Math.max(heavyPeak, ++inflight)
    await new Promise((r) => setTimeout(r, 2))
    inflight--
  })
  t.equal(heavyPeak, 2, 'the budget of 25 admits two items of 10; the item of 100 runs alone')
  pulled = 0
  await t.rejects(
    forEachBounded(items(), { concurrency: 2 }, async (i) => {
      if (i === 3) throw new Error('boom')
      await new Promise((r) => setTimeout(r, 5))
    }),
    { message: 'boom' },
  )
  t.ok(pulled < 10, `the producer stopped after the failure (pulled ${pulled})`)
})

t.test('objectVersionsRequest: field checks, key and keys combined, the event hash as trigger id', async (t) => {
  t.throws(() => objectVersionsRequest({ caseId: 'c', bucket: 'b', prefix: 'p', until: 5 }, {}), { name: 'ValidationError', message: /until must be an ISO 8601 time, got 5/ })
  t.throws(() => objectVersionsRequest({ caseId: 'c', bucket: 'b', prefix: 'p', id: '' }, {}), { message: /id must be a non-empty string/ })
  const r = objectVersionsRequest({ caseId: 'c', bucket: 'b', key: 'k1', keys: ['k2'] }, {})
  t.same(r.keys, ['k1', 'k2'], 'key and keys combine')
  t.match(r.trigger.id, /^event:[0-9a-f]{64}$/, 'without an id or request id, the event hash')
  const gd = { 'detail-type': 'GuardDuty Finding', source: 'aws.guardduty', caseId: 'named-case', detail: { id: 'f2', type: 'Policy:S3/BucketBlockPublicAccessDisabled', resource: { s3BucketDetails: [{ name: 'bkt' }] }, service: { eventFirstSeen: '2026-11-29T10:00:00Z', eventLastSeen: '2026-11-29T10:00:00Z' } } }
  t.match(objectVersionsRequest(gd, {}), { caseId: 'named-case', prefix: '', accountId: undefined, region: undefined, trigger: { source: 'guardduty:Policy:S3/BucketBlockPublicAccessDisabled', id: 'guardduty:f2' } })
})

t.test('CLI: valid --since/--until pass to the evidence check; bad ones are usage errors', async (t) => {
  const ok = await runCli(['capture', 'object-versions', '--case', 'c', '--bucket', 'b', '--prefix', 'p', '--since', '2026-01-01T00:00:00Z', '--until', '2026-02-01T00:00:00Z'], {})
  t.equal(ok.code, 2)
  t.match(ok.stderr, /no evidence bucket/, 'the times were accepted; the missing evidence bucket is what stops it')
  const bad = await runCli(['capture', 'object-versions', '--case', 'c', '--bucket', 'b', '--prefix', 'p', '--until', 'later'], {})
  t.equal(bad.code, 2)
  t.match(bad.stderr, /--until 'later' is not an ISO 8601 time/)
  const rolled = await runCli(['capture', 'object-versions', '--case', 'c', '--bucket', 'b', '--prefix', 'p', '--since', '2023-02-30T00:00:00Z'], {})
  t.equal(rolled.code, 2, 'finding 6: no calendar roll-over')
  t.match(rolled.stderr, /2023-02 has no day 30/)
  t.match((await runCli(['capture', 'object-versions', '--bucket', 'b', '--prefix', 'p'], {})).stderr, /--case and --bucket are required/)
})

t.test('forEachBounded lets running tasks settle when the item stream fails', async (t) => {
  const settled: number[] = []
  async function* items(): AsyncGenerator<number> {
    yield 1
    yield 2
    throw new Error('listing broke')
  }
  await t.rejects(
    forEachBounded(items(), { concurrency: 4 }, async (n) => {
      await new Promise((r) => setTimeout(r, 30))
      settled.push(n)
    }),
    { message: 'listing broke' },
  )
  t.same(settled.sort(), [1, 2], 'both running tasks finished before the error surfaced')
})
