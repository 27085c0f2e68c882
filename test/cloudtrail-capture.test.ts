import t from 'tap'
import { mkdtempSync, rmSync, mkdirSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'
import { Writable } from 'node:stream'
import { S3Client, GetObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3'
import { CloudTrailClient } from '@aws-sdk/client-cloudtrail'
import { useEmulator } from './fixtures/emulator.js'
import { createLockedBucket } from './fixtures/evidence.js'
import { buildArchive, generateEvents, makeTrailKey, uploadArchive } from './fixtures/cloudtrail/archive.js'
import { startCloudTrailServer } from './fixtures/cloudtrail/cloudtrail-server.js'
import { main } from '../cli/main.js'
import { createHandler, toSliceRequest } from '../collectors/cloudtrail-slice.js'
import { S3EvidenceStore } from '../forensics/s3-evidence-store.js'
import { LocalSigner } from '../forensics/signer.js'
import { parseArchiveUrl } from '../forensics/cloudtrail/archive-layout.js'

const D = (s: string): number => Date.parse(s)
const tmp = mkdtempSync(join(tmpdir(), 'ctc-'))
t.teardown(() => rmSync(tmp, { recursive: true, force: true }))

function sink(): { stream: Writable; text: () => string } {
  let s = ''
  return { stream: new Writable({ write: (c, _e, cb) => ((s += String(c)), cb()) }), text: () => s }
}

t.test('capture cloudtrail: CLI and Lambda handler commit a provable slice', async (t) => {
  const emulator = await useEmulator(t, { reset: false })
  const s3 = new S3Client(emulator.clientConfig())
  const key = makeTrailKey()
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
      slice: { s3, cloudTrailFor: (r) => new CloudTrailClient({ endpoint: server.endpoint, region: r, credentials: { accessKeyId: 'a', secretAccessKey: 'b' } }), lookupOptions: { rps: 50 } },
      env: { FORENSICS_TRAIL_ARCHIVE: 's3://trail-archive/ct' },
    })
    const own = await handler({ caseId: 'case-3', start: '2026-11-28T00:00:00Z', end: '2026-11-28T04:00:00Z', filters: { buckets: ['payroll-data'] }, archive: 's3://trail-archive/ct', triggerId: 'x1' })
    t.equal(own.status, 'complete')
    t.ok(own.events > 0 && own.created)
    const gd = await handler({
      version: '0', id: 'ev-1', 'detail-type': 'GuardDuty Finding', source: 'aws.guardduty', region: 'us-east-1', time: '2026-11-28T02:00:00Z',
      detail: { id: 'f00d', type: 'Exfiltration:S3/AnomalousBehavior', resource: { resourceType: 'S3Bucket', accessKeyDetails: { accessKeyId: 'ASIAEXFIL0000000004' }, s3BucketDetails: [{ name: 'payroll-data' }] }, service: { eventFirstSeen: '2026-11-28T01:30:00Z', eventLastSeen: '2026-11-28T02:00:00Z' } },
    })
    t.equal(gd.caseId, 'gd-f00d')
    t.ok(gd.events > 0)
    const ct = toSliceRequest({ id: 'e2', 'detail-type': 'AWS API Call via CloudTrail', source: 'aws.s3', region: 'us-east-1', detail: events[0] }, { FORENSICS_TRAIL_ARCHIVE: 's3://trail-archive/ct' })
    t.same(ct.filters, { accessKeyIds: [(events[0].userIdentity as { accessKeyId: string }).accessKeyId] })
    t.equal(ct.window.end - ct.window.start, 2 * 3600_000)
    await t.rejects(handler({ caseId: 'c' }), { name: 'ValidationError' })
    await t.rejects(handler({ id: 'x', 'detail-type': 'Other', source: 'aws.ec2', detail: {} }), { name: 'ValidationError', message: /does not handle/ })
    t.throws(() => toSliceRequest({ caseId: 'c', start: '2026-11-28T00:00:00Z', end: '2026-11-28T01:00:00Z' }, {}), { name: 'ValidationError', message: /nothing to read/ })
    t.throws(() => toSliceRequest({ caseId: 'c', start: '2026-11-28T00:00:00Z', end: '2026-11-28T01:00:00Z', archive: 's3://b/p', accounts: 'x' }, {}), { name: 'ValidationError' })
    t.throws(() => toSliceRequest({ id: 'x', 'detail-type': 'GuardDuty Finding', source: 'aws.guardduty', region: 'us-east-1', detail: {} }, {}), { message: /eventFirstSeen/ })
    t.throws(() => toSliceRequest({ id: 'x', 'detail-type': 'AWS API Call via CloudTrail', source: 'aws.s3', region: 'us-east-1', detail: {} }, {}), { message: /eventTime/ })
    t.throws(() => toSliceRequest({ id: 'x', 'detail-type': 'AWS API Call via CloudTrail', source: 'aws.s3', detail: {} }, {}), { message: /FORENSICS_TRAIL_ARCHIVE/ })
  })
})

t.test('forensics slice --from-dir prints JSON lines', async (t) => {
  const dir = join(tmp, 'dir')
  mkdirSync(dir)
  const ev = generateEvents('111111111111', 'us-east-1', D('2026-11-28T00:00:00Z'), D('2026-11-28T01:00:00Z'), 100, 8)
  writeFileSync(join(dir, 'a.json.gz'), gzipSync(JSON.stringify({ Records: ev })))
  writeFileSync(join(dir, 'b.jsonl'), 'not json\n')
  const o = sink()
  const e = sink()
  t.equal(await main(['slice', '--from-dir', dir, '--start', '2026-11-28T00:00:00Z', '--end', '2026-11-28T01:00:00Z', '--event-name', 'PutObject', '--write-only', '--error', 'none'], process.env, o.stream, e.stream), 0)
  const lines = o.text().trim().split('\n').map((l) => JSON.parse(l) as { eventName: string; errorCode?: string })
  t.equal(lines.length, ev.filter((x) => x.eventName === 'PutObject' && !x.errorCode).length)
  t.match(e.text(), /warning: .*b\.jsonl/)
  const j = sink()
  t.equal(await main(['slice', '--from-dir', dir, '--start', '2026-11-28T00:00:00Z', '--end', '2026-11-28T01:00:00Z', '--error', 'AccessDenied,NoSuchKey', '--read-only', '--json'], process.env, j.stream, sink().stream), 0)
  const doc = JSON.parse(j.text()) as { slice: { counts: { events: number } }; events: unknown[] }
  t.equal(doc.events.length, doc.slice.counts.events)
  t.equal(await main(['slice', '--start', 'a', '--end', 'b'], process.env, sink().stream, sink().stream), 2)
  t.equal(await main(['slice', '--from-dir', dir, '--start', '2026-11-28T00:00:00Z', '--end', '2026-11-28T01:00:00Z', '--key', 'a', '--key-prefix', 'b'], process.env, sink().stream, sink().stream), 2)
  t.equal(await main(['slice', '--from-dir', dir, '--start', '2026-11-28T00:00:00Z', '--end', '2026-11-28T01:00:00Z', '--read-only', '--write-only'], process.env, sink().stream, sink().stream), 2)
  t.equal(await main(['slice', '--from-dir', dir, '--end', '2026-11-28T01:00:00Z'], process.env, sink().stream, sink().stream), 2)
})
