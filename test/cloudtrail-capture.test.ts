import t from 'tap'
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'
import { Writable } from 'node:stream'
import { S3Client, CreateBucketCommand, GetObjectCommand, ListObjectsV2Command, PutBucketVersioningCommand, PutObjectCommand } from '@aws-sdk/client-s3'
import { spawnSync } from 'node:child_process'
import { CloudTrailClient } from '@aws-sdk/client-cloudtrail'
import { useEmulator } from './fixtures/emulator.js'
import { createLockedBucket } from './fixtures/evidence.js'
import { buildArchive, generateEvents, makeTrailKey, uploadArchive } from './fixtures/cloudtrail/archive.js'
import { startCloudTrailServer } from './fixtures/cloudtrail/cloudtrail-server.js'
import { main } from '../cli/main.js'
import { createHandler, toSliceRequest } from '../collectors/cloudtrail-slice.js'
import { S3EvidenceStore } from '../forensics/s3-evidence-store.js'
import { LocalSigner } from '../forensics/signer.js'
import { makeWindow } from '../forensics/cloudtrail/filters.js'
import { captureCloudTrailSlice, sliceRequestId } from '../forensics/cloudtrail/capture-slice.js'
import { ValidationError } from '../forensics/errors.js'
import { MemoryStore } from './fixtures/memory-store.js'
import { awsError, fakeClient } from './fixtures/fake-client.js'
import { testSigner } from './fixtures/bundle-case.js'
import { KEY, LOC, bodyOf, fakeTrailBucket, keySource, putDigest, putLog, trailApi } from './fixtures/cloudtrail/fake-trail.js'
import { parseArchiveUrl } from '../forensics/cloudtrail/archive-layout.js'

const D = (s: string): number => Date.parse(s)
const W = makeWindow('2026-11-28T00:00:00Z', '2026-11-29T00:00:00Z')
const tmp = mkdtempSync(join(tmpdir(), 'ctc-'))
t.teardown(() => rmSync(tmp, { recursive: true, force: true }))
// one emulator and one trail signing key for the file: the two emulator tests use distinct buckets
const emulator = await useEmulator(t, { reset: false })
const key = makeTrailKey()

function sink(): { stream: Writable; text: () => string } {
  let s = ''
  return { stream: new Writable({ write: (c, _e, cb) => ((s += String(c)), cb()) }), text: () => s }
}

t.test('capture cloudtrail: CLI and Lambda handler commit a provable slice', async (t) => {
  const s3 = new S3Client(emulator.clientConfig())
  t.teardown(() => s3.destroy())
  const server = await startCloudTrailServer({ publicKeys: [{ der: key.der, fingerprint: key.fingerprint, start: D('2020-01-01T00:00:00Z'), end: D('2030-01-01T00:00:00Z') }] })
  t.teardown(() => server.close())
  const events = generateEvents('111111111111', 'us-east-1', D('2026-11-28T00:00:00Z'), D('2026-11-28T04:00:00Z'), 200, 5)
  server.state.events = events
  const loc = parseArchiveUrl('s3://trail-archive/ct')
  const archive = buildArchive(loc, [{ account: '111111111111', orgId: 'o-abcdefghij', region: 'us-east-1', trailName: 'org', events }], key, { fileEveryMs: 3600_000 })
  await uploadArchive(s3, archive)
  await createLockedBucket(s3, 'evidence')
  const pem = join(tmp, 'k.pem')
  LocalSigner.fromFile(pem, { create: true })
  // The SDK reads credentials and endpoints from process.env itself.
  const saved = { ...process.env }
  Object.assign(process.env, emulator.env(), { AWS_ENDPOINT_URL_CLOUDTRAIL: server.endpoint })
  t.teardown(() => {
    for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k]
    Object.assign(process.env, saved)
  })
  const env = { ...process.env, FORENSICS_SIGNING_KEY: `file:${pem}`, FORENSICS_EVIDENCE_BUCKET: 'evidence' }

  const out = sink()
  const err = sink()
  const argv = ['capture', 'cloudtrail', '--case', 'case-1', '--start', '2026-11-28T01:00:00Z', '--end', '2026-11-28T03:00:00Z', '--event-name', 'GetObject', '--source-ip', '203.0.113.0/24', '--archive', 's3://trail-archive/ct', '--lookup', '--region', 'us-east-1', '--json']
  const code = await main(argv, env, out.stream, err.stream)
  t.equal(code, 0, err.text() + out.text())
  const doc = JSON.parse(out.text()) as { ok: boolean; manifestKey: string; events: number; verdicts: Record<string, number>; created: boolean }
  t.ok(doc.ok)
  t.ok(doc.events > 0, `${doc.events} events`)
  t.ok(doc.verdicts.valid > 0)
  const listed = await s3.send(new ListObjectsV2Command({ Bucket: 'evidence', Prefix: 'cases/case-1/' }))
  const keys = (listed.Contents ?? []).map((o) => o.Key!)
  for (const want of ['events.jsonl.gz', 'slice.json', 'public-keys.json']) t.ok(keys.some((k) => k.endsWith(`/artifacts/${want}`)), `${want} stored`)
  t.ok(keys.some((k) => /\/artifacts\/logs\/trail-archive\/ct\/AWSLogs\/o-abcdefghij\/111111111111\/CloudTrail\//.test(k)), 'original log files stored under their S3 coordinates')
  t.ok(keys.some((k) => k.endsWith('.json.gz.metadata.json') && k.includes('/digests/')), 'digest signature metadata stored')
  const sliceKey = keys.find((k) => k.endsWith('/artifacts/slice.json'))!
  const slice = JSON.parse(await (await s3.send(new GetObjectCommand({ Bucket: 'evidence', Key: sliceKey }))).Body!.transformToString()) as { counts: { events: number }; sources: { lookup: { attribute: { key: string } } } }
  t.equal(slice.counts.events, doc.events)
  t.equal(slice.sources.lookup.attribute.key, 'EventName')

  const again = sink()
  t.equal(await main(argv, env, again.stream, sink().stream), 0)
  t.equal((JSON.parse(again.text()) as { created: boolean }).created, false, 'the same slice is captured once')

  t.test('text output and usage errors', async (t) => {
    const o = sink()
    const e = sink()
    t.equal(await main(['capture', 'cloudtrail', '--case', 'case-2', '--start', '2026-11-28T01:00:00Z', '--end', '2026-11-28T03:00:00Z', '--archive', 's3://trail-archive/ct', '--account', '111111111111', '--region', 'us-east-1'], env, o.stream, e.stream), 0, e.text())
    t.match(o.text(), /captured cases\/case-2\/.*event\(s\) from/s)
    t.equal(await main(['capture', 'cloudtrail', '--case', 'c', '--start', '2026-11-28T01:00:00Z', '--end', '2026-11-28T03:00:00Z'], { ...env, FORENSICS_TRAIL_ARCHIVE: '' }, sink().stream, e.stream), 2)
    t.equal(await main(['capture', 'cloudtrail', '--start', 'x', '--end', 'y'], env, sink().stream, sink().stream), 2)
    t.equal(await main(['capture', 'cloudtrail', '--case', 'c', '--start', '2026-11-28T03:00:00Z', '--end', '2026-11-28T01:00:00Z', '--lookup'], env, sink().stream, sink().stream), 2)
    t.equal(await main(['capture', 'cloudtrail', '--case', 'c', '--start', '2026-11-28T01:00:00Z', '--end', '2026-11-28T03:00:00Z', '--lookup'], { ...env, AWS_REGION: '', AWS_DEFAULT_REGION: '' }, sink().stream, sink().stream), 2)
    t.equal(await main(['capture', 'cloudtrail', '--case', 'c', '--start', '2026-11-28T01:00:00Z', '--end', '2026-11-28T03:00:00Z', '--lookup', '--source-ip', 'nope'], env, sink().stream, sink().stream), 2)
  })

  t.test('the Lambda handler: own event and EventBridge events', async (t) => {
    const store = new S3EvidenceStore({ client: s3, bucket: 'evidence', retention: { mode: 'COMPLIANCE', days: 1 } })
    const signer = LocalSigner.fromFile(pem).signer
    const handler = createHandler({
      capture: async () => ({ store, signer }),
      // scanned on this thread: the CLI captures around it run the default worker pool
      slice: { s3, cloudTrailFor: (r) => new CloudTrailClient({ endpoint: server.endpoint, region: r, credentials: { accessKeyId: 'a', secretAccessKey: 'b' } }), lookupOptions: { rps: 50 }, workers: 0 },
      env: { FORENSICS_TRAIL_ARCHIVE: 's3://trail-archive/ct' },
    })
    const own = await handler({ caseId: 'case-3', start: '2026-11-28T00:00:00Z', end: '2026-11-28T04:00:00Z', filters: { buckets: ['payroll-data'] }, archive: 's3://trail-archive/ct', triggerId: 'x1' })
    t.equal(own.status, 'complete')
    t.ok(own.events > 0 && own.created)
    const gd = await handler({
      version: '0', id: 'ev-1', 'detail-type': 'GuardDuty Finding', source: 'aws.guardduty', account: '111111111111', region: 'us-east-1', time: '2026-11-28T02:00:00Z',
      detail: { id: 'f00d', type: 'Exfiltration:S3/AnomalousBehavior', resource: { resourceType: 'S3Bucket', accessKeyDetails: { accessKeyId: 'ASIAEXFIL0000000004' }, s3BucketDetails: [{ name: 'payroll-data' }] }, service: { eventFirstSeen: '2026-11-28T01:30:00Z', eventLastSeen: '2026-11-28T02:00:00Z' } },
    })
    t.equal(gd.caseId, 'gd-111111111111-2026-11-28', 'the contract\'s one case-id rule')
    t.ok(gd.events > 0)
    await t.rejects(handler({ caseId: 'c' }), { name: 'ValidationError' })
    await t.rejects(handler({ id: 'x', 'detail-type': 'Other', source: 'aws.ec2', detail: {} }), { name: 'ValidationError', message: /needs caseId, start and end/ })
    t.throws(() => toSliceRequest({ caseId: 'c', start: '2026-11-28T00:00:00Z', end: '2026-11-28T01:00:00Z' }, {}), { name: 'ValidationError', message: /nothing to read/ })
    t.throws(() => toSliceRequest({ caseId: 'c', start: '2026-11-28T00:00:00Z', end: '2026-11-28T01:00:00Z', archive: 's3://b/p', accounts: 'x' }, {}), { name: 'ValidationError' })
    t.throws(() => toSliceRequest({ id: 'x', 'detail-type': 'GuardDuty Finding', source: 'aws.guardduty', region: 'us-east-1', detail: {} }, {}), { name: 'ValidationError', field: 'detail.id' })
    // the trigger table routes CloudTrail access changes to bucket-config only
    t.throws(() => toSliceRequest({ id: 'x', 'detail-type': 'AWS API Call via CloudTrail', source: 'aws.s3', region: 'us-east-1', detail: events[0] }, {}), { field: 'detail-type', message: /cloudtrail-slice is not a target of aws.s3 "AWS API Call via CloudTrail" events/ })
  })
})

t.test('capture request identity', async (t) => {
  const a = sliceRequestId({ window: W, filters: { eventNames: ['A'] } })
  t.equal(a.length, 32)
  t.equal(a, sliceRequestId({ window: W, filters: { eventNames: ['A'] } }))
  t.not(a, sliceRequestId({ window: W, filters: { eventNames: ['A'] }, lookup: { regions: ['us-east-1'] } }))
  t.not(a, sliceRequestId({ window: W, filters: { eventNames: ['A'] }, archive: { location: LOC } }))
})

t.test('capture slice: copies, changed files, failed copies and repeats', async (t) => {
  const signer = testSigner()
  const s3 = fakeTrailBucket('trail')
  const h = (n: number): number => D('2026-11-28T00:00:00Z') + n * 3600_000
  const ev = (id: string): Record<string, unknown> => ({ eventID: id, eventTime: new Date(h(1) - 600_000).toISOString(), eventName: 'GetObject', userIdentity: { arn: 'arn:aws:iam::111111111111:user/u' } })
  const stable = putLog(s3, h(1) + 300_000, [ev('a')], 'S1')
  const changing = putLog(s3, h(1) + 600_000, [ev('b')], 'S2')
  const gone = putLog(s3, h(1) + 900_000, [ev('c')], 'S3')
  putLog(s3, h(1) + 1200_000, [{ ...ev('n'), eventName: 'PutObject' }], 'S4')
  putDigest(s3, { end: h(2), files: [stable, changing, gone] })
  // The pinned re-read (with a versionId) sees other bytes for one file and fails for another.
  s3.intercept = async (kind, input, next) => {
    if (kind === 'get' && input.VersionId) {
      if (input.Key === changing.key) return { ...((await next()) as Record<string, unknown>), Body: bodyOf(gzipSync('{"Records":[]}')) }
      if (input.Key === gone.key) throw awsError('NoSuchVersion', 404, 'The specified version does not exist.')
    }
    return next()
  }
  const store = new MemoryStore()
  const req = { caseId: 'case-ct', window: { start: h(0), end: h(2) }, filters: { eventNames: ['GetObject'] }, archive: { location: LOC } }
  const deps = { store: store, signer, now: () => new Date(D('2026-11-28T12:00:00Z')) }
  const r = await captureCloudTrailSlice(deps, { s3, publicKeys: keySource(KEY.pub), workers: 0 }, req)
  t.equal(r.created, true)
  t.equal(r.events, 3)
  t.equal(r.files, 4)
  t.same(r.verdicts, { 'not-covered': 1, valid: 3 })
  t.same(r.manifest.errors.map((e) => e.code).sort(), ['ChangedDuringCapture', 'StorageError'])
  t.match(r.manifest.errors.find((e) => e.code === 'ChangedDuringCapture')?.message, /changed during the capture/)
  const keys = [...store.objects.keys()].map((k) => k.replace(/^.*\/captures\/[^/]+\//, ''))
  t.ok(keys.some((k) => k.startsWith('artifacts/logs/trail/') || k.includes('logs/trail/')), keys.join('\n'))
  t.ok(keys.some((k) => k.endsWith('.metadata.json')))
  t.ok(keys.some((k) => k.endsWith('public-keys.json')))
  t.notOk(keys.some((k) => k.includes('_S4.json.gz')), 'files without matches are not copied')

  // The same request again is the same capture: the headline comes from the manifest.
  const again = await captureCloudTrailSlice(deps, { s3, publicKeys: keySource(KEY.pub), workers: 0 }, req)
  t.equal(again.created, false)
  t.equal(again.events, 3)
  t.equal(again.files, 4)
  t.same(again.verdicts, r.verdicts)
})

t.test('capture slice: recorded slice errors and a committed manifest without a summary', async (t) => {
  const signer = testSigner()
  const store = new MemoryStore()
  const deps = { store: store, signer }
  const ct = fakeClient<CloudTrailClient>(() => ({ Events: [{ EventId: 'bad', CloudTrailEvent: '{' }, { EventId: 'ok', CloudTrailEvent: JSON.stringify({ eventID: 'ok', eventTime: '2026-11-28T00:10:00Z' }) }] }))
  const req = { caseId: 'case-e', window: makeWindow('2026-11-28T00:00:00Z', '2026-11-28T01:00:00Z'), filters: {}, lookup: { regions: ['us-east-1'] } }
  const slice = { cloudTrailFor: () => ct, lookupOptions: { sleep: async () => undefined } }
  const r = await captureCloudTrailSlice(deps, slice, req)
  t.equal(r.manifest.status, 'partial')
  t.match(r.manifest.errors, [{ code: 'BadLookupEvent', message: /event bad has no parseable CloudTrailEvent/ }])
  t.equal(r.events, 1)
  // A manifest committed without a summary (another collector version): zero headline.
  const stored = store.objects.get(r.manifestKey)!
  const m = JSON.parse(stored.bytes.toString()) as Record<string, unknown>
  delete m.summary
  stored.bytes = Buffer.from(JSON.stringify(m))
  const again = await captureCloudTrailSlice(deps, slice, req)
  t.equal(again.created, false)
  t.same({ events: again.events, files: again.files, verdicts: again.verdicts }, { events: 0, files: 0, verdicts: {} })
})

t.test('capture slice: a failing LookupEvents leaves the archive part committed as partial, the failure recorded', async (t) => {
  const signer = testSigner()
  const s3 = fakeTrailBucket('trail')
  const h = (n: number): number => D('2026-11-28T00:00:00Z') + n * 3600_000
  const log = putLog(s3, h(1) + 300_000, [{ eventID: 'arch-1', eventTime: new Date(h(1) - 60_000).toISOString(), eventName: 'GetObject' }], 'L1')
  putDigest(s3, { end: h(2), files: [log] })
  const denied = Object.assign(new Error('User is not authorized to perform: cloudtrail:LookupEvents'), { name: 'AccessDeniedException', $metadata: { httpStatusCode: 400 } })
  const ct = fakeClient<CloudTrailClient>({ LookupEventsCommand: () => { throw denied } })
  const store = new MemoryStore()
  const req = { caseId: 'case-lf', window: { start: h(0), end: h(2) }, filters: {}, archive: { location: LOC }, lookup: { regions: ['eu-west-1'] } }
  const r = await captureCloudTrailSlice({ store, signer }, { s3, cloudTrailFor: () => ct, publicKeys: keySource(KEY.pub), workers: 0, lookupOptions: { sleep: async () => undefined } }, req)
  t.equal(r.created, true, 'committed, not thrown away')
  t.equal(r.manifest.status, 'partial')
  t.equal(r.events, 1, 'the archive\'s events are kept')
  t.match(r.manifest.errors, [{ what: 'LookupEvents eu-west-1', code: 'AccessDeniedException', message: /^LookupEvents in eu-west-1 failed: AccessDeniedException: User is not authorized.*; the archive part is committed/ }])
  t.ok([...store.objects.keys()].some((k) => k.includes('/artifacts/logs/trail/')), 'the archive\'s log file is in the capture')
  t.match(r.manifest.target, { lookupRegions: ['eu-west-1'] })

  // both sources answering: one capture holding both, deduplicated
  const ok = fakeClient<CloudTrailClient>({ LookupEventsCommand: () => ({ Events: [{ EventId: 'arch-1', CloudTrailEvent: JSON.stringify({ eventID: 'arch-1', eventTime: new Date(h(1) - 60_000).toISOString() }) }, { EventId: 'lk-1', CloudTrailEvent: JSON.stringify({ eventID: 'lk-1', eventTime: new Date(h(1)).toISOString() }) }] }) })
  const both = await captureCloudTrailSlice({ store: new MemoryStore(), signer }, { s3, cloudTrailFor: () => ok, publicKeys: keySource(KEY.pub), workers: 0, lookupOptions: { sleep: async () => undefined } }, { ...req, caseId: 'case-both' })
  t.equal(both.manifest.status, 'complete')
  t.equal(both.events, 2, 'arch-1 from both sources counted once')

  // LookupEvents alone failing: nothing to commit, the capture fails (Lambda retries, then the DLQ)
  await t.rejects(captureCloudTrailSlice({ store: new MemoryStore(), signer }, { cloudTrailFor: () => ct, lookupOptions: { sleep: async () => undefined } }, { caseId: 'case-lo', window: req.window, filters: {}, lookup: req.lookup }))
})

t.test('capture slice: a digest from an unversioned bucket', async (t) => {
  const signer = testSigner()
  const s3 = fakeTrailBucket('trail')
  const h = (n: number): number => D('2026-11-28T00:00:00Z') + n * 3600_000
  const log = putLog(s3, h(1) + 300_000, [{ eventID: 'a', eventTime: new Date(h(1) - 60_000).toISOString() }], 'U1')
  const d = putDigest(s3, { end: h(2), files: [log] })
  s3.objects.get(d.key)!.versionId = undefined
  const store = new MemoryStore()
  const r = await captureCloudTrailSlice({ store: store, signer }, { s3, publicKeys: keySource(KEY.pub), workers: 0 }, { caseId: 'case-u', window: { start: h(0), end: h(2) }, filters: {}, archive: { location: LOC } })
  t.same(r.verdicts, { valid: 1 })
  const side = [...store.objects.entries()].find(([k]) => k.endsWith('.metadata.json'))
  t.ok(side, 'the digest has a metadata sidecar')
  t.match(JSON.parse(side![1].bytes.toString()), { key: d.key, versionId: null, metadata: { signature: d.signature } })
})

t.test('collector: own events and EventBridge events', async (t) => {
  const env = { FORENSICS_TRAIL_ARCHIVE: 's3://trail/ct' }
  const own = toSliceRequest({ caseId: 'c1', start: '2026-11-28T00:00:00Z', end: '2026-11-28T01:00:00Z', archive: 's3://other/p', accounts: ['111111111111'], regions: ['us-east-1'], lookupRegions: ['us-east-1'], triggerId: 't1', filters: { eventNames: ['GetObject'] } }, {})
  t.match(own, { caseId: 'c1', archive: { location: { bucket: 'other', prefix: 'p' }, accounts: ['111111111111'], regions: ['us-east-1'] }, lookup: { regions: ['us-east-1'] }, trigger: { source: 'invoke', id: 't1' }, filters: { eventNames: ['GetObject'] } })
  const fromEnv = toSliceRequest({ caseId: 'c1', start: '2026-11-28T00:00:00Z', end: '2026-11-28T01:00:00Z' }, env)
  t.same(fromEnv.archive, { location: { bucket: 'trail', prefix: 'ct' } })
  t.equal(fromEnv.lookup, undefined)
  t.equal(fromEnv.trigger, undefined)
  t.same(fromEnv.filters, {})
  t.throws(() => toSliceRequest({ caseId: 'c1', start: '2026-11-28T00:00:00Z', end: '2026-11-28T01:00:00Z' }, {}), { name: 'ValidationError', field: 'archive' })
  t.throws(() => toSliceRequest({ caseId: 'c1', start: 'x', end: '2026-11-28T01:00:00Z' }, env), { name: 'ValidationError', field: 'start' })
  t.throws(() => toSliceRequest({ caseId: 'c1', start: '2026-11-28T00:00:00Z', end: '2026-11-28T01:00:00Z', lookupRegions: 'us-east-1' }, env), { name: 'ValidationError', field: 'lookupRegions' })
  t.throws(() => toSliceRequest({ caseId: 'c1', start: '2026-11-28T00:00:00Z', end: '2026-11-28T01:00:00Z', archive: 's3://bbb/p', accounts: [1] }, env), { name: 'ValidationError', field: 'accounts' })
  t.throws(() => toSliceRequest(null, env), { name: 'ValidationError', field: 'caseId' })
  t.throws(() => toSliceRequest({ caseId: 'c' }, env), /needs caseId, start and end/)

  const seen = { eventFirstSeen: '2026-11-28T10:00:00Z', eventLastSeen: '2026-11-28T11:00:00Z' }
  const gd = (detail: Record<string, unknown>, extra: Record<string, unknown> = {}): unknown => ({ id: 'ev-1', 'detail-type': 'GuardDuty Finding', source: 'aws.guardduty', account: '111122223333', region: 'eu-west-1', detail: { id: 'f/1', type: 'Exfiltration:S3/AnomalousBehavior', service: seen, resource: { resourceType: 'S3Bucket', s3BucketDetails: [{ name: 'b1' }] }, ...detail }, ...extra })
  const g1 = toSliceRequest(gd({ resource: { accessKeyDetails: { accessKeyId: 'AKIA9', principalId: 'arn:aws:iam::1:user/u' }, s3BucketDetails: [{ name: 'b1' }] } }), {})
  t.match(g1, { caseId: 'gd-111122223333-2026-11-28', filters: { accessKeyIds: ['AKIA9'] }, lookup: { regions: ['eu-west-1'] }, archive: undefined, trigger: { source: 'guardduty:Exfiltration:S3/AnomalousBehavior', id: 'guardduty:ev-1' }, actor: { principalArn: 'arn:aws:iam::1:user/u' } })
  t.same(g1.window, { start: D('2026-11-28T09:00:00Z'), end: D('2026-11-28T12:00:00Z') })
  const g2 = toSliceRequest(gd({ resource: { accessKeyDetails: { accessKeyId: 'GeneratedFindingAccessKeyId' }, s3BucketDetails: [{ name: 'b1' }, { name: '' }, {}] } }), env)
  t.same(g2.filters, { buckets: ['b1'] }, 'the sample finding\'s placeholder key is no filter: the bucket is')
  t.equal(toSliceRequest(gd({}, { caseId: 'named' }), env).caseId, 'named', 'a case named by the event wins')
  t.equal(toSliceRequest(gd({ accountId: '444455556666' }), { ...env, FORENSICS_CASE_ID_TEMPLATE: '{origin}-{bucket}-{eventId}' }).caseId, 'gd-b1-f-1')
  t.throws(() => toSliceRequest(gd({ service: { eventFirstSeen: 'yesterday', eventLastSeen: 'today' } }), env), { name: 'ValidationError', field: 'detail.service' })
  t.throws(() => toSliceRequest(gd({ service: { eventFirstSeen: '2026-11-28T10:00:00Z' } }), env), { name: 'ValidationError', field: 'detail.service.eventLastSeen' })
  t.throws(() => toSliceRequest(gd({}, { region: undefined }), {}), /set FORENSICS_TRAIL_ARCHIVE or deliver events with a region/)
  t.throws(() => toSliceRequest({ id: 'x', 'detail-type': 'Object Created', source: 'aws.s3', region: 'us-east-1', detail: {} }, {}), { name: 'ValidationError', field: 'caseId' })
})

t.test('collector handler and lookup-only capture', async (t) => {
  const signer = testSigner()
  const store = new MemoryStore()
  const api = trailApi([], [{ eventID: 'l1', eventTime: '2026-11-28T00:30:00Z', eventName: 'GetObject' }, { eventID: 'l2', eventTime: '2026-11-28T00:40:00Z', eventName: 'PutObject' }])
  const handler = createHandler({
    capture: async () => ({ store: store, signer }),
    slice: { cloudTrailFor: () => api, lookupOptions: { sleep: async () => undefined } },
    env: {},
  })
  const r = await handler({ caseId: 'case-l', start: '2026-11-28T00:00:00Z', end: '2026-11-28T01:00:00Z', lookupRegions: ['us-east-1'], filters: { eventNames: ['GetObject'] }, triggerId: 'trig-1' })
  t.match(r, { caseId: 'case-l', created: true, status: 'complete', events: 1, files: 0, verdicts: {} })
  t.match(r.manifestKey, /^cases\/case-l\//)
  t.same(api.calls.map((c) => c.name), ['LookupEventsCommand'])
  const manifest = JSON.parse(store.objects.get(r.manifestKey)!.bytes.toString()) as { trigger: unknown; target: { archive: unknown; lookupRegions: unknown } }
  t.same(manifest.trigger, { source: 'invoke', id: 'trig-1' })
  t.equal(manifest.target.archive, null)
  t.same(manifest.target.lookupRegions, ['us-east-1'])
  await t.rejects(handler({ caseId: 'x' }), ValidationError)
})

t.test('CLI CloudTrail captures are evidence-grade (findings 1-4, 6) on the emulator', async (t) => {
  const s3 = new S3Client(emulator.clientConfig())
  t.teardown(() => s3.destroy())
  const server = await startCloudTrailServer({ publicKeys: [{ der: key.der, fingerprint: key.fingerprint, start: D('2020-01-01T00:00:00Z'), end: D('2030-01-01T00:00:00Z') }] })
  t.teardown(() => server.close())
  const events = generateEvents('222222222222', 'us-east-1', D('2026-11-28T00:00:00Z'), D('2026-11-28T04:00:00Z'), 120, 9)
  const scope = { account: '222222222222', region: 'us-east-1', trailName: 'acct', events }
  const upload = async (bucket: string, pick: (o: { key: string }) => boolean = () => true): Promise<ReturnType<typeof buildArchive>> => {
    const a = buildArchive(parseArchiveUrl(`s3://${bucket}/ct`), [scope], key, { fileEveryMs: 3600_000 })
    await uploadArchive(s3, { ...a, objects: a.objects.filter(pick) })
    return a
  }
  await createLockedBucket(s3, 'evidence-g')
  const pem = join(tmp, 'g.pem')
  LocalSigner.fromFile(pem, { create: true })
  const saved = { ...process.env }
  Object.assign(process.env, emulator.env(), { AWS_ENDPOINT_URL_CLOUDTRAIL: server.endpoint })
  t.teardown(() => {
    for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k]
    Object.assign(process.env, saved)
  })
  const env = { ...process.env, FORENSICS_SIGNING_KEY: `file:${pem}`, FORENSICS_EVIDENCE_BUCKET: 'evidence-g' }
  const window = ['--start', '2026-11-28T01:00:00Z', '--end', '2026-11-28T03:00:00Z']
  const run = async (argv: string[]): Promise<{ code: number; doc: Record<string, unknown>; err: string; out: string }> => {
    const o = sink()
    const e = sink()
    const code = await main(argv, env, o.stream, e.stream)
    let doc: Record<string, unknown> = {}
    try {
      doc = JSON.parse(o.text()) as Record<string, unknown>
    } catch {
      // text output
    }
    return { code, doc, err: e.text(), out: o.text() }
  }
  const caseKeys = async (caseId: string): Promise<string[]> => ((await s3.send(new ListObjectsV2Command({ Bucket: 'evidence-g', Prefix: `cases/${caseId}/` }))).Contents ?? []).map((o) => o.Key!)
  const capture = (caseId: string, archive: string, ...more: string[]): string[] => ['capture', 'cloudtrail', '--case', caseId, ...window, '--archive', archive, '--json', ...more]

  t.test('finding 1: a CLI CloudTrail capture gets its captured custody entry', async (t) => {
    await upload('trail-ok')
    const r = await run(capture('g-ok', 's3://trail-ok/ct'))
    t.equal(r.code, 0, r.err + r.out)
    t.match(r.doc, { ok: true, status: 'complete', created: true })
    t.same(Object.keys(r.doc.verdicts as object), ['valid'], 'every file digest-valid')
    const custody = await run(['custody', 'g-ok', '--json'])
    t.equal(custody.code, 0)
    const entries = custody.doc.entries as Array<{ action: string; subject: { captureId?: string; key?: string } }>
    t.same(entries.map((e) => [e.action, e.subject.captureId]), [['captured', r.doc.captureId]])
    t.equal(entries[0].subject.key, r.doc.manifestKey)
    // finding 8: progress on stderr only on a terminal, never with --json or when piped
    const tty = async (argv: string[]): Promise<string> => {
      const e = sink()
      Object.assign(e.stream, { isTTY: true })
      await main(argv, env, sink().stream, e.stream)
      return e.text()
    }
    t.match(await tty(['capture', 'cloudtrail', '--case', 'g-tty', ...window, '--archive', 's3://trail-ok/ct']), /archive s3:\/\/trail-ok\/ct: 1 account\/region scope\(s\)[\s\S]*log file\(s\)[\s\S]*scanned (\d+)\/\1 file\(s\), [\d.]+ MiB, \d+ event\(s\) matched, [\d.]+ MiB\/s/)
    t.equal(await tty(capture('g-tty-json', 's3://trail-ok/ct')), '', 'nothing extra with --json')
    const piped = await run(['capture', 'cloudtrail', '--case', 'g-piped', ...window, '--archive', 's3://trail-ok/ct'])
    t.equal(piped.code, 0)
    t.notMatch(piped.err, /scope\(s\)/, 'nothing when piped')
    const again = await run(capture('g-ok', 's3://trail-ok/ct'))
    t.equal(again.code, 0)
    t.equal(((await run(['custody', 'g-ok', '--json'])).doc.entries as unknown[]).length, 1, 'a repeated request keeps its one entry')
  })

  t.test('finding 2: a tampered log file is hash-mismatch (exit 1, high finding); files without digests are unverified', async (t) => {
    const a = await upload('trail-tamper')
    const victim = a.logKeys.find((k) => k.includes('20261128T0205Z'))!
    await s3.send(new PutObjectCommand({ Bucket: 'trail-tamper', Key: victim, Body: gzipSync(JSON.stringify({ Records: [] })) }))
    const bad = await run(capture('g-tamper', 's3://trail-tamper/ct'))
    t.equal(bad.code, 1, bad.err)
    t.match(bad.doc, { ok: false, status: 'unverified', verdicts: { 'hash-mismatch': 1 } })
    t.match(bad.doc.findings, [{ type: 'cloudtrail-digest-hash-mismatch', severity: 'high', resource: `s3://trail-tamper/${victim}` }])

    await upload('trail-nodigest', (o) => !o.key.includes('CloudTrail-Digest'))
    const unproven = await run(capture('g-nodigest', 's3://trail-nodigest/ct'))
    t.equal(unproven.code, 0, 'unverified is committed and reported, not a failure by default')
    t.match(unproven.doc, { status: 'unverified', ok: true })
    t.notOk('valid' in (unproven.doc.verdicts as object), 'no file is valid without digests')
    t.match(unproven.doc.findings, [{ type: 'cloudtrail-digest-digest-missing', severity: 'medium' }])
    const strict = await run(capture('g-nodigest', 's3://trail-nodigest/ct', '--require-valid-digests'))
    t.equal(strict.code, 1, '--require-valid-digests exits 1 on an unverified capture')
    t.match(strict.doc, { ok: false, created: false, status: 'unverified' })
    const text = await run(['capture', 'cloudtrail', '--case', 'g-nodigest', ...window, '--archive', 's3://trail-nodigest/ct'])
    t.match(text.out, /\(unverified\)[\s\S]*digest verdicts: digest-missing \d+[\s\S]*\[medium\] \d+ CloudTrail log file\(s\) have no digest/)
  })

  t.test('finding 3: --refresh captures late-delivered files as a new capture that supersedes the old one', async (t) => {
    const late = (k: { key: string }): boolean => k.key.includes('20261128T0205Z')
    const a = await upload('trail-late', (o) => !late(o))
    const first = await run(capture('g-late', 's3://trail-late/ct'))
    t.equal(first.code, 0, first.err)
    await uploadArchive(s3, { ...a, objects: a.objects.filter(late) })
    const same = await run(['capture', 'cloudtrail', '--case', 'g-late', ...window, '--archive', 's3://trail-late/ct'])
    t.match(same.out, /already captured \(add --refresh to capture late-delivered files\)/)
    const refreshed = await run(capture('g-late', 's3://trail-late/ct', '--refresh'))
    t.equal(refreshed.code, 0, refreshed.err)
    t.match(refreshed.doc, { created: true, supersedes: first.doc.captureId })
    t.not(refreshed.doc.captureId, first.doc.captureId)
    const changes = refreshed.doc.changes as { files: { added: string[]; removed: string[]; changed: string[] }; events: { before: number; after: number; added: number } }
    t.same(changes.files, { added: [`s3://trail-late/${a.logKeys.find((k) => late({ key: k }))}`], removed: [], changed: [] })
    t.equal(changes.events.before, first.doc.events)
    t.equal(changes.events.after, refreshed.doc.events)
    t.ok(changes.events.added > 0 && changes.events.after === changes.events.before + changes.events.added, JSON.stringify(changes.events))
    const second = await run(capture('g-late', 's3://trail-late/ct', '--refresh'))
    t.match(second.doc, { created: true, supersedes: refreshed.doc.captureId, changes: { files: { added: [], removed: [], changed: [] }, events: { added: 0, removed: 0 } } }, 'a refresh supersedes the latest capture of the request')
    const entries = (await run(['custody', 'g-late', '--json'])).doc.entries as Array<{ subject: { captureId: string } }>
    t.same(entries.map((e) => e.subject.captureId), [first.doc.captureId, refreshed.doc.captureId, second.doc.captureId], 'every capture is in custody')
    const text = await run(['capture', 'cloudtrail', '--case', 'g-late', ...window, '--archive', 's3://trail-late/ct', '--refresh'])
    t.match(text.out, /supersedes cloudtrail-slice-[0-9a-f]+: files \+0 -0 ~0; events \d+ -> \d+ \(\+0 -0\)/)
  })

  t.test('finding 4: a wrong --archive is refused before anything is written (exit 2)', async (t) => {
    await upload('trail-wrong')
    const wrong = await run(['capture', 'cloudtrail', '--case', 'g-wrong', ...window, '--archive', 's3://trail-wrong/logs'])
    t.equal(wrong.code, 2)
    t.match(wrong.err, /--archive s3:\/\/trail-wrong\/logs is not a CloudTrail archive: there is no logs\/AWSLogs\/; s3:\/\/trail-wrong\/logs\/ is empty/)
    const parent = await run(['capture', 'cloudtrail', '--case', 'g-wrong', ...window, '--archive', 's3://trail-wrong'])
    t.equal(parent.code, 2)
    t.match(parent.err, /there is no AWSLogs\/; s3:\/\/trail-wrong\/ holds ct\/: use --archive s3:\/\/trail-wrong\/ct|holds ct\//)
    const account = await run(['capture', 'cloudtrail', '--case', 'g-wrong', ...window, '--archive', 's3://trail-wrong/ct', '--account', '999999999999'])
    t.equal(account.code, 2)
    t.match(account.err, /account\(s\) 999999999999 have no logs .*found 222222222222/)
    const nobucket = await run(['capture', 'cloudtrail', '--case', 'g-wrong', ...window, '--archive', 's3://no-such-trail-bucket/ct'])
    t.equal(nobucket.code, 2)
    t.match(nobucket.err, /NoSuchBucket: bucket no-such-trail-bucket does not exist/)
    t.same(await caseKeys('g-wrong'), [], 'nothing was written for the case')
  })

  t.test('acceptance: one case with CLI captures of all three kinds bundles, verifies and passes sha256sum -c', async (t) => {
    await upload('trail-all')
    await s3.send(new CreateBucketCommand({ Bucket: 'src-all' }))
    await s3.send(new PutBucketVersioningCommand({ Bucket: 'src-all', VersioningConfiguration: { Status: 'Enabled' } }))
    for (const body of ['v1', 'v2']) await s3.send(new PutObjectCommand({ Bucket: 'src-all', Key: 'reports/q1.csv', Body: body }))
    const kinds = [
      ['capture', 'bucket-config', '--case', 'g-all', '--bucket', 'src-all', '--json'],
      ['capture', 'object-versions', '--case', 'g-all', '--bucket', 'src-all', '--prefix', 'reports/', '--json'],
      capture('g-all', 's3://trail-all/ct'),
    ]
    for (const argv of kinds) {
      const r = await run(argv)
      t.equal(r.code, 0, `${argv[1]}: ${r.err}${r.out}`)
      t.equal(r.doc.status, 'complete', argv[1])
    }
    const custody = (await run(['custody', 'g-all', '--json'])).doc.entries as Array<{ action: string }>
    t.same(custody.map((e) => e.action), ['captured', 'captured', 'captured'], 'each kind sealed into custody')
    const file = join(tmp, 'g-all.zip')
    const built = await run(['bundle', 'g-all', '-o', file])
    t.equal(built.code, 0, built.err)
    const verified = await run(['verify', file])
    t.equal(verified.code, 0, verified.out + verified.err)
    const out = join(tmp, 'g-all')
    mkdirSync(out)
    const unzip = spawnSync('unzip', ['-q', file], { cwd: out, encoding: 'utf8' })
    t.equal(unzip.status, 0, unzip.stderr)
    const sums = spawnSync('sha256sum', ['-c', 'SHA256SUMS'], { cwd: out, encoding: 'utf8' })
    t.equal(sums.status, 0, sums.stdout + sums.stderr)
    t.notMatch(sums.stdout, /FAILED/)
    t.match(readFileSync(join(out, 'REPORT.md'), 'utf8'), /Captures: 3 \(3 complete, 0 unverified, 0 partial\)[\s\S]*CloudTrail digest verdicts: valid \d+/)
    const cases = (await run(['cases', '--json'])).doc.cases as Array<{ caseId: string; digestVerdicts?: Record<string, number> }>
    t.match(cases.find((c) => c.caseId === 'g-all'), { digestVerdicts: { valid: Number } })
    t.match(cases.find((c) => c.caseId === 'g-nodigest'), { digestVerdicts: { 'digest-missing': Number } }, 'forensics cases shows the verdict counts')
  })

  t.test('finding 6: a partial CloudTrail capture exits 3 like every partial capture; custody of an unknown case exits 2', async (t) => {
    // no digests: a truncated file that a digest lists would be hash-mismatch (exit 1, which weighs more)
    const a = await upload('trail-partial', (o) => !o.key.includes('CloudTrail-Digest'))
    const cut = a.objects.find((o) => o.key.includes('20261128T0205Z'))!
    await s3.send(new PutObjectCommand({ Bucket: 'trail-partial', Key: cut.key, Body: cut.body.subarray(0, cut.body.length - 30) }))
    const r = await run(capture('g-partial', 's3://trail-partial/ct'))
    t.equal(r.code, 3, r.err)
    t.match(r.doc, { ok: false, status: 'partial', errors: [{ what: `s3://trail-partial/${cut.key}` }] })
    t.ok((await caseKeys('g-partial')).some((k) => k.endsWith('/manifest.json')), 'the partial capture is committed')
    const unknown = await run(['custody', 'no-such-case'])
    t.equal(unknown.code, 2)
    t.match(unknown.err, /case no-such-case has no evidence and no custody entries in s3:\/\/evidence-g: check the case id/)
  })
})
