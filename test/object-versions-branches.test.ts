/**
 * Fast unit tests of the object-versions domain code (no emulator): listing pages mapped
 * into entries, copying one version (archived, refused, redelivered, short), the inventory,
 * the fan-out documents and page messages, the SQS queue and local workers, and the
 * batch handler — against an in-memory evidence store and fake SDK clients.
 */
import t from 'tap'
import { createHash } from 'node:crypto'
import { Readable } from 'node:stream'
import type { S3Client } from '@aws-sdk/client-s3'
import type { SQSClient } from '@aws-sdk/client-sqs'
import { MemoryStore } from './fixtures/memory-store.js'
import { awsError, fakeClient } from './fixtures/fake-client.js'
import { overrideStore } from './fixtures/evidence.js'
import { testSigner } from './fixtures/bundle-case.js'
import { compareEntries, listVersionEntries, type VersionEntry } from '../forensics/object-versions/list-versions.js'
import { copyVersion, existingArtifact, versionArtifactPath } from '../forensics/object-versions/copy-version.js'
import { INVENTORY_PATH, recordInventory, type InventoryEntry } from '../forensics/object-versions/inventory.js'
import { runCapture } from '../forensics/capture.js'
import { EvidenceExistsError } from '../forensics/evidence-store.js'
import { artifactKey } from '../forensics/keys.js'
import { commitFanOut, enqueueMissingPages, FANOUT_SCHEMAS, fanOutPaths, parsePageMessage, processPage, readPlan, writePage, writePlan, type FanOutPlan, type PageMessage } from '../forensics/object-versions/fan-out.js'
import { SqsPageQueue, runLocalWorkers, type SqsRecord } from '../forensics/object-versions/sqs-page-queue.js'
import { handlePageRecords } from '../forensics/object-versions/page-records.js'
import { captureObjectVersions, OBJECT_VERSIONS_COLLECTOR, validateObjectVersionsRequest } from '../forensics/object-versions/capture-object-versions.js'
import { deriveCaptureId } from '../forensics/keys.js'
import { CustodyChain } from '../forensics/custody.js'
import { objectVersionsRequest } from '../collectors/object-versions.js'
import { runCli } from './fixtures/collectors.js'

const CAP1 = 'object-versions-00000000000000000001'
const CAP2 = 'object-versions-00000000000000000002'
const CAP3 = 'object-versions-00000000000000000003'
const sha = (b: string | Buffer): string => createHash('sha256').update(b).digest('hex')
const T1 = new Date('2026-11-01T00:00:00Z')
const T2 = new Date('2026-11-02T00:00:00Z')
const T3 = new Date('2026-11-03T00:00:00Z')

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = []
  for await (const x of it) out.push(x)
  return out
}

/** A fake S3 answering ListObjectVersions from `pages` (by call order) and GetObject from `objects`. */
function fakeS3(pages: Record<string, unknown>[] | ((input: Record<string, unknown>) => unknown), objects: Record<string, string | Error> = {}) {
  let n = 0
  return fakeClient<S3Client>((name, input) => {
    if (name === 'ListObjectVersionsCommand') {
      const p = typeof pages === 'function' ? pages(input) : pages[n++]
      if (p instanceof Error) throw p
      return p
    }
    if (name === 'GetObjectCommand') {
      const o = objects[`${String(input.Key)}@${String(input.VersionId)}`]
      if (o === undefined) throw awsError('NoSuchVersion', 404)
      if (o instanceof Error) throw o
      return { Body: Readable.from([Buffer.from(o)]), ContentLength: Buffer.byteLength(o) }
    }
    throw new Error(`unexpected ${name}`)
  })
}

const version = (key: string, versionId: string, body: string, extra: Partial<VersionEntry> = {}): VersionEntry => ({ kind: 'version', key, versionId, isLatest: false, lastModified: T1.toISOString(), size: Buffer.byteLength(body), storageClass: 'STANDARD', ...extra })

t.test('listVersionEntries maps pages, follows markers and fills absent fields', async (t) => {
  const s3 = fakeS3([
    {
      IsTruncated: true,
      NextKeyMarker: 'b',
      NextVersionIdMarker: 'vb',
      Versions: [
        { Key: 'a', VersionId: 'v2', IsLatest: true, LastModified: T2, Size: 3, ETag: '"e"', StorageClass: 'GLACIER', Owner: { ID: 'o', DisplayName: 'd' }, ChecksumAlgorithm: ['SHA256'], ChecksumType: 'FULL_OBJECT' },
        { Key: 'a', VersionId: 'v1', LastModified: T1 },
        { VersionId: 'no-key' },
      ],
      DeleteMarkers: [{ Key: 'a', VersionId: 'd3', IsLatest: false, LastModified: T3, Owner: { ID: 'o' } }, { VersionId: 'no-key' }],
    },
    // an unversioned bucket's object: no version id, no time, no size
    { IsTruncated: false, Versions: [{ Key: 'b' }], DeleteMarkers: [{ Key: 'c' }] },
  ])
  const entries = await collect(listVersionEntries(s3, { bucket: 'bkt', prefix: 'p/' }, 2))
  t.same(
    entries.map((e) => `${e.kind}:${e.key}:${e.versionId}`),
    ['delete-marker:a:d3', 'version:a:v2', 'version:a:v1', 'version:b:null', 'delete-marker:c:null'],
    'sorted by key, newest first; entries without a key are skipped',
  )
  t.same(entries[0], { kind: 'delete-marker', key: 'a', versionId: 'd3', isLatest: false, lastModified: T3.toISOString(), owner: { id: 'o', displayName: undefined } })
  t.match(entries[1], { isLatest: true, size: 3, etag: '"e"', storageClass: 'GLACIER', owner: { id: 'o', displayName: 'd' }, checksumAlgorithm: ['SHA256'], checksumType: 'FULL_OBJECT' })
  t.match(entries[2], { isLatest: false, size: 0, storageClass: 'STANDARD', owner: undefined })
  t.same(entries[3], { kind: 'version', key: 'b', versionId: 'null', isLatest: false, lastModified: '', size: 0, etag: undefined, storageClass: 'STANDARD', owner: undefined, checksumAlgorithm: undefined, checksumType: undefined })
  t.same(entries[4].owner, undefined)
  t.match(s3.calls, [
    { input: { Bucket: 'bkt', Prefix: 'p/', MaxKeys: 2, KeyMarker: undefined, VersionIdMarker: undefined } },
    { input: { KeyMarker: 'b', VersionIdMarker: 'vb' } },
  ])

  // a page without Versions / DeleteMarkers, and a key-only marker, are followed too
  const s3b = fakeS3([{ IsTruncated: true, NextKeyMarker: 'k' }, { IsTruncated: false }])
  t.same(await collect(listVersionEntries(s3b, { bucket: 'bkt' })), [])
  t.match(s3b.calls, [{ input: { Prefix: '' } }, { input: { KeyMarker: 'k', VersionIdMarker: undefined } }])
})

t.test('a truncated page without a next marker is an error, not a silent short listing', async (t) => {
  const s3 = fakeS3([{ IsTruncated: true, Versions: [{ Key: 'a', VersionId: 'v', LastModified: T1 }] }])
  await t.rejects(collect(listVersionEntries(s3, { bucket: 'bkt', prefix: '' })), { name: 'StorageError', message: /truncated without a next marker/ })
})

t.test('exact keys and the time window select entries', async (t) => {
  const page = {
    Versions: [
      { Key: 'k', VersionId: 'v1', LastModified: T1 },
      { Key: 'k', VersionId: 'v2', LastModified: T2 },
      { Key: 'k', VersionId: 'v3', LastModified: T3 },
      { Key: 'k-sibling', VersionId: 'x', LastModified: T2 },
      { Key: 'k', VersionId: 'no-time' },
    ],
    DeleteMarkers: [
      { Key: 'k', VersionId: 'd2', LastModified: T2 },
      { Key: 'k-sibling', VersionId: 'dx', LastModified: T2 },
      { Key: 'k', VersionId: 'd3', LastModified: T3 },
    ],
  }
  const s3 = fakeS3(() => page)
  const all = await collect(listVersionEntries(s3, { bucket: 'bkt', keys: ['k'] }))
  t.same(all.map((e) => e.versionId), ['d3', 'v3', 'd2', 'v2', 'v1', 'no-time'], 'only the exact key; an entry without a time sorts last')
  const windowed = await collect(listVersionEntries(s3, { bucket: 'bkt', keys: ['k'], since: T2, until: T3 }))
  t.same(windowed.map((e) => e.versionId), ['d2', 'v2'], '[since, until): T3 and T1 and the timeless entry are out')
  const sinceOnly = await collect(listVersionEntries(s3, { bucket: 'bkt', prefix: 'k', since: T3 }))
  t.same(sinceOnly.map((e) => e.versionId), ['d3', 'v3'])
  t.match(s3.calls.at(-1), { input: { Prefix: 'k' } })
})

t.test('compareEntries: key, then newest first, then version id', async (t) => {
  const e = (key: string, lastModified: string, versionId: string) => ({ key, lastModified, versionId })
  t.equal(compareEntries(e('a', '1', 'x'), e('b', '1', 'x')), -1)
  t.equal(compareEntries(e('b', '1', 'x'), e('a', '1', 'x')), 1)
  t.equal(compareEntries(e('a', '2', 'x'), e('a', '1', 'x')), -1)
  t.equal(compareEntries(e('a', '1', 'x'), e('a', '2', 'x')), 1)
  t.equal(compareEntries(e('a', '1', 'x'), e('a', '1', 'y')), -1)
  t.equal(compareEntries(e('a', '1', 'y'), e('a', '1', 'x')), 1)
  t.equal(compareEntries(e('a', '1', 'x'), e('a', '1', 'x')), 0)
})

t.test('copyVersion: every outcome', async (t) => {
  const store = new MemoryStore()
  const s3 = fakeS3([], {
    'k@v1': 'hello',
    'k@cold': awsError('InvalidObjectState', 403),
    'k@cold2': awsError('InvalidObjectState', 403),
    'k@denied': awsError('AccessDenied', 403),
    'k@short': 'abc',
  })
  const src = { s3, bucket: 'src' }
  t.same(await copyVersion(src, store, 'case-1', CAP1, { ...version('k', 'dm', ''), kind: 'delete-marker' }), { status: 'delete-marker' })
  t.same(await copyVersion(src, store, 'case-1', CAP1, version('k', 'g', '', { storageClass: 'DEEP_ARCHIVE' })), { status: 'restore-required', storageClass: 'DEEP_ARCHIVE' })
  t.equal(s3.calls.length, 0, 'neither a delete marker nor an archived version is read')
  // S3 says the object is archived although the listing did not (an intelligent-tiering archive tier)
  t.same(await copyVersion(src, store, 'case-1', CAP1, version('k', 'cold', '', { storageClass: 'INTELLIGENT_TIERING' })), { status: 'restore-required', storageClass: 'INTELLIGENT_TIERING' })
  t.same(await copyVersion(src, store, 'case-1', CAP1, version('k', 'cold2', '', { storageClass: undefined })), { status: 'restore-required', storageClass: 'UNKNOWN' })
  t.match(await copyVersion(src, store, 'case-1', CAP1, version('k', 'denied', '')), { status: 'failed', code: 'AccessDenied', message: /^GetObject s3:\/\/src\/k version denied: / })

  const stored = await copyVersion(src, store, 'case-1', CAP1, version('k', 'v1', 'hello', { size: undefined }))
  t.same(stored, { status: 'stored', artifact: { path: versionArtifactPath('k', 'v1'), versionId: 'v1', sha256: sha('hello'), size: 5 } })
  // a redelivered page: the artifact exists; its SHA-256 comes from the stored checksum
  const again = await copyVersion(src, store, 'case-1', CAP1, version('k', 'v1', 'hello'))
  t.same(again, stored, 'the earlier copy is reused')
  t.equal(store.objects.size, 1)

  // the listing said 10 bytes, S3 sent 3: the copy is recorded as failed
  const s3NoLength = fakeClient<S3Client>(() => ({ Body: Readable.from([Buffer.from('abc')]) }))
  t.match(await copyVersion({ s3: s3NoLength, bucket: 'src' }, store, 'case-1', CAP1, version('k', 'short', 'x'.repeat(10))), { status: 'failed', code: 'SizeMismatch', message: /copied 3 bytes, the source has 10/ })
  t.match(await copyVersion({ s3: s3NoLength, bucket: 'src' }, store, 'case-1', CAP2, version('k', 'nosize', '', { size: undefined })), { status: 'stored', artifact: { size: 3 } }, 'without any expected size the copy stands')

  // failures of the evidence store itself are thrown (and the source stream is released)
  const body = Readable.from([Buffer.from('zz')])
  const s3Tracked = fakeClient<S3Client>(() => ({ Body: body, ContentLength: 2 }))
  const broken = overrideStore(store, { put: async () => Promise.reject(new Error('disk on fire')) })
  await t.rejects(copyVersion({ s3: s3Tracked, bucket: 'src' }, broken, 'case-1', CAP3, version('k', 'z', 'zz')), { message: 'disk on fire' })
  t.ok(body.destroyed, 'the GetObject body is destroyed')
})

t.test('existingArtifact: from the checksum, by hashing again, or a lost key', async (t) => {
  const store = new MemoryStore()
  const key = artifactKey('case-1', CAP1, 'versions/a')
  await store.put({ key, body: Buffer.from('payload') })
  t.same(await existingArtifact(store, key), { versionId: 'v1', sha256: sha('payload'), size: 7 })
  // a multipart composite checksum cannot be used: the stored bytes are hashed again
  const composite = overrideStore(store, { head: async (k: string) => ({ ...(await store.head(k))!, checksumSHA256: 'abc-2' }) })
  t.same(await existingArtifact(composite, key), { versionId: 'v1', sha256: sha('payload'), size: 7 })
  const noChecksum = overrideStore(store, { head: async (k: string) => ({ ...(await store.head(k))!, checksumSHA256: undefined }) })
  t.same(await existingArtifact(noChecksum, key), { versionId: 'v1', sha256: sha('payload'), size: 7 })
  await t.rejects(existingArtifact(store, artifactKey('case-1', CAP1, 'versions/gone')), EvidenceExistsError)
})

t.test('recordInventory: duplicates once, failures as errors, restore finding, fan-out summary', async (t) => {
  const store = new MemoryStore()
  const signer = testSigner()
  const entries: InventoryEntry[] = [
    { ...version('b', 'v1', 'x'), capture: { status: 'failed', code: 'AccessDenied', message: 'no' } },
    { ...version('a', 'v1', 'x'), capture: { status: 'restore-required', storageClass: 'GLACIER' } },
    { ...version('a', 'v1', 'x'), capture: { status: 'restore-required', storageClass: 'GLACIER' } },
    { ...version('a', 'dm', ''), kind: 'delete-marker', capture: { status: 'delete-marker' } },
  ]
  const r = await runCapture({ store, signer }, { caseId: 'case-inv', collector: { ...OBJECT_VERSIONS_COLLECTOR }, trigger: { source: 't', id: 'inv-1' }, target: { bucket: 'src' } }, async (ctx) => {
    await recordInventory(ctx, { bucket: 'src', prefix: '' }, entries, { confirmed: true, fanOut: { attempt: 'x', pages: 2 } })
  })
  t.equal(r.manifest.status, 'partial')
  t.same(r.manifest.errors, [{ what: 's3://src/b version v1', code: 'AccessDenied', message: 'no' }])
  t.match(r.manifest.findings, [{ type: 'restore-required', title: /^1 archived version/ }])
  t.same(r.manifest.summary, { bucket: 'src', entries: 3, versions: 2, deleteMarkers: 1, stored: 0, restoreRequired: 1, failed: 1, bytes: 0, fanOut: { attempt: 'x', pages: 2 } })
  const inv = r.manifest.artifacts.find((a) => a.path === INVENTORY_PATH)!
  const doc = JSON.parse((await store.getBytes(inv.key)).bytes.toString()) as { entries: InventoryEntry[] }
  t.same(doc.entries.map((e) => `${e.key}:${e.versionId}`), ['a:dm', 'a:v1', 'b:v1'], 'deduplicated and sorted')

  const empty = await runCapture({ store, signer }, { caseId: 'case-inv', collector: { ...OBJECT_VERSIONS_COLLECTOR }, trigger: { source: 't', id: 'inv-2' }, target: { bucket: 'src' } }, async (ctx) => {
    await recordInventory(ctx, { bucket: 'src', prefix: '' }, [], { confirmed: true })
  })
  t.same(empty.manifest.findings, [], 'no restore finding without archived versions')
  t.match(empty.manifest.summary, { entries: 0, fanOut: null })
})

const msg = (over: Partial<PageMessage> & Record<string, unknown> = {}): string => JSON.stringify({ schema: FANOUT_SCHEMAS.message, caseId: 'case-fo', captureId: 'object-versions-0123456789abcdef0123', attempt: '0123abcd-0000', page: 0, ...over })

t.test('parsePageMessage refuses anything but a well-formed page message', async (t) => {
  t.same(parsePageMessage(msg()), { schema: FANOUT_SCHEMAS.message, caseId: 'case-fo', captureId: 'object-versions-0123456789abcdef0123', attempt: '0123abcd-0000', page: 0 })
  t.throws(() => parsePageMessage('{'), { name: 'ValidationError', message: /not JSON/ })
  t.throws(() => parsePageMessage('null'), { name: 'ValidationError', message: /is not a forensics.object-versions.page-message/ })
  t.throws(() => parsePageMessage(msg({ schema: 'other' as typeof FANOUT_SCHEMAS.message })), { message: /page-message/ })
  t.throws(() => parsePageMessage(msg({ attempt: 7 as unknown as string })), { message: /page-message/ })
  t.throws(() => parsePageMessage(msg({ attempt: '../../x' })), { message: /page-message/ })
  t.throws(() => parsePageMessage(msg({ page: 1.5 })), { message: /page-message/ })
  t.throws(() => parsePageMessage(msg({ page: -1 })), { message: /page-message/ })
  t.throws(() => parsePageMessage(msg({ caseId: '../etc' })), { name: 'ValidationError' })
})

t.test('fan-out documents: plan races, redeliveries, stale and foreign messages, incomplete commits', async (t) => {
  const store = new MemoryStore()
  const signer = testSigner()
  const deps = { store, signer }
  const caseId = 'case-fo'
  const captureId = deriveCaptureId(OBJECT_VERSIONS_COLLECTOR.name, 'fo-1')
  const attempt = '0123abcd-0001'
  const spec = { caseId, collector: { ...OBJECT_VERSIONS_COLLECTOR }, trigger: { source: 't', id: 'fo-1' }, target: { bucket: 'src', prefix: '' } }
  const plan: FanOutPlan = { schema: FANOUT_SCHEMAS.plan, attempt, pages: 2, entries: 3, spec, selection: { bucket: 'src', prefix: '' }, listingErrors: [{ what: 'ListObjectVersions s3://src', code: 'InternalError', message: 'late failure' }] }
  const m = (page: number, a = attempt): PageMessage => ({ schema: FANOUT_SCHEMAS.message, caseId, captureId, attempt: a, page })
  const s3 = fakeS3([], { 'a@1': 'one', 'b@1': 'two' })
  const sourceFor = async () => ({ s3, bucket: 'src' })

  await t.rejects(processPage(deps, sourceFor, m(0)), { name: 'ValidationError', message: /has no plan/ })
  t.equal(await readPlan(store, caseId, captureId), undefined)
  t.same(await writePlan(store, caseId, captureId, plan), plan)
  t.same(await writePlan(store, caseId, captureId, { ...plan, attempt: 'ffffffff-9999' }), plan, 'a second listing gets the winner’s plan')

  t.same(await processPage(deps, sourceFor, m(0, 'ffffffff-9999')), { page: 0, processed: false }, 'a message of a losing attempt is ignored')
  t.same(await processPage(deps, sourceFor, m(5)), { page: 5, processed: false }, 'a page beyond the plan is ignored')
  await t.rejects(processPage(deps, sourceFor, m(0)), { name: 'ValidationError', message: /page 0 .* is missing/ })

  await writePage(store, caseId, captureId, attempt, 0, [version('a', '1', 'one'), { ...version('a', 'dm', ''), kind: 'delete-marker' }])
  await writePage(store, caseId, captureId, attempt, 0, [version('ignored', '1', 'x')]) // a retried listing: the first page stands
  await writePage(store, caseId, captureId, attempt, 1, [version('b', '1', 'two')])

  const queued: PageMessage[][] = []
  t.equal(await enqueueMissingPages(store, { send: async (ms) => void queued.push(ms) }, caseId, captureId, plan), 2)
  t.same(queued[0].map((q) => q.page), [0, 1])

  t.same(await processPage(deps, sourceFor, m(0)), { page: 0, processed: true }, 'page 0 done, page 1 still open')
  t.same(await processPage(deps, sourceFor, m(0)), { page: 0, processed: false }, 'a redelivery only re-checks')
  await t.rejects(commitFanOut(deps, caseId, captureId, plan), { name: 'ValidationError', message: /page 1 .* is incomplete/ })
  await t.rejects(commitFanOut(deps, caseId, 'object-versions-ffffffffffffffffffff', plan), { name: 'ValidationError', message: /describes capture/ })

  const last = await processPage(deps, sourceFor, m(1), { concurrency: 2, byteBudget: 1024 })
  t.equal(last.processed, true)
  t.ok(last.committed, 'the last page commits')
  const manifest = last.committed!.manifest
  t.equal(manifest.status, 'partial', 'the listing error is recorded')
  t.same(manifest.errors, plan.listingErrors)
  t.match(manifest.summary, { entries: 3, stored: 2, deleteMarkers: 1, fanOut: { attempt, pages: 2 } })
  t.ok(manifest.artifacts.some((a) => a.path === fanOutPaths.plan))
  t.ok(manifest.artifacts.some((a) => a.path === fanOutPaths.result(attempt, 1)))
  const after = await processPage(deps, sourceFor, m(0))
  t.same([after.processed, after.committed?.manifestKey], [false, last.committed!.manifestKey], 'after the commit a message returns the committed capture')
})

t.test('commitFanOut records a version missing from its page result as failed', async (t) => {
  const store = new MemoryStore()
  const deps = { store, signer: testSigner() }
  const caseId = 'case-fo'
  const captureId = deriveCaptureId(OBJECT_VERSIONS_COLLECTOR.name, 'fo-2')
  const attempt = '0123abcd-0002'
  const plan: FanOutPlan = { schema: FANOUT_SCHEMAS.plan, attempt, pages: 1, entries: 1, spec: { caseId, collector: { ...OBJECT_VERSIONS_COLLECTOR }, trigger: { source: 't', id: 'fo-2' }, target: { bucket: 'src' } }, selection: { bucket: 'src', prefix: '' }, listingErrors: [] }
  await writePlan(store, caseId, captureId, plan)
  await writePage(store, caseId, captureId, attempt, 0, [version('a', '1', 'x')])
  await store.put({ key: artifactKey(caseId, captureId, fanOutPaths.result(attempt, 0)), body: Buffer.from(JSON.stringify({ schema: FANOUT_SCHEMAS.result, attempt, page: 0, entries: [] })) })
  const r = await commitFanOut(deps, caseId, captureId, plan)
  t.match(r.manifest.errors, [{ code: 'MissingResult', message: /page 0 result has no entry/ }])
})

t.test('SqsPageQueue: batches of ten, failed entries retried, then given up', async (t) => {
  const messages: PageMessage[] = Array.from({ length: 12 }, (_, page) => ({ schema: FANOUT_SCHEMAS.message, caseId: 'c', captureId: 'x', attempt: 'a', page }))
  let flaky = 0
  const sqs = fakeClient<SQSClient>((_n, input) => {
    const entries = input.Entries as { Id: string }[]
    // the first batch loses its entry 3 once
    if (entries.length === 10 && flaky++ === 0) return { Failed: [{ Id: '3', Code: 'InternalError' }] }
    return {}
  })
  await new SqsPageQueue(sqs, 'https://q').send(messages)
  t.same(
    sqs.calls.map((c) => (c.input.Entries as { Id: string }[]).map((e) => e.Id).join(',')),
    ['0,1,2,3,4,5,6,7,8,9', '3', '0,1'],
    'only the failed entry is sent again',
  )
  t.same(JSON.parse((sqs.calls[1].input.Entries as { MessageBody: string }[])[0].MessageBody), messages[3])
  await new SqsPageQueue(sqs, 'https://q').send([])

  const refusing = fakeClient<SQSClient>((_n, input) => ({ Failed: (input.Entries as { Id: string }[]).map((e) => ({ Id: e.Id, Code: 'KMS.AccessDenied' })) }))
  await t.rejects(new SqsPageQueue(refusing, 'https://q').send(messages.slice(0, 2)), { name: 'StorageError', message: /could not enqueue 2 .*KMS.AccessDenied/ })
  t.equal(refusing.calls.length, 5, 'five attempts')
})

t.test('runLocalWorkers: batches, partial failures, done and idle timeout', async (t) => {
  const queue = [
    { MessageId: 'm1', ReceiptHandle: 'r1', Body: 'b1', Attributes: { ApproximateReceiveCount: '1' } },
    { MessageId: 'm2', ReceiptHandle: 'r2', Body: 'b2' },
    {},
  ]
  let finished = false
  const sqs = fakeClient<SQSClient>((name) => {
    if (name === 'ReceiveMessageCommand') return queue.length ? { Messages: queue.splice(0, 3) } : {}
    return {}
  })
  const seen: SqsRecord[] = []
  const run = await runLocalWorkers({
    sqs,
    queueUrl: 'https://q',
    workers: 1,
    handle: async ({ Records }) => {
      seen.push(...Records)
      finished = true
      return { batchItemFailures: [{ itemIdentifier: 'm2' }] }
    },
    done: async () => finished,
  })
  t.same(run, { handled: 2, failed: 1, finished: true })
  t.same(seen.map((r) => [r.messageId, r.receiptHandle, r.body, r.eventSource, r.eventSourceARN]), [
    ['m1', 'r1', 'b1', 'aws:sqs', 'https://q'],
    ['m2', 'r2', 'b2', 'aws:sqs', 'https://q'],
    ['', '', '', 'aws:sqs', 'https://q'],
  ])
  t.same(seen[0].attributes, { ApproximateReceiveCount: '1' })
  t.same(seen[1].attributes, {})
  t.match(sqs.calls[0].input, { QueueUrl: 'https://q', VisibilityTimeout: 120 })
  const del = sqs.calls.find((c) => c.name === 'DeleteMessageBatchCommand')!
  t.same(del.input.Entries, [{ Id: '0', ReceiptHandle: 'r1' }, { Id: '1', ReceiptHandle: '' }], 'only the handled records are deleted')

  // done after an empty poll
  let polls = 0
  const empty = fakeClient<SQSClient>(() => ({ Messages: [] }))
  t.same(await runLocalWorkers({ sqs: empty, queueUrl: 'q', done: async () => ++polls > 1, handle: async () => ({ batchItemFailures: [] }) }), { handled: 0, failed: 0, finished: true })
  t.ok(empty.calls.length >= 4, `four workers by default, each polled until done (${empty.calls.length} polls)`)

  // all records failed: nothing deleted; then idle until the timeout
  let served = false
  const failing = fakeClient<SQSClient>((name) => (name === 'ReceiveMessageCommand' && !served ? ((served = true), { Messages: [{ MessageId: 'x', ReceiptHandle: 'rx', Body: '{}' }] }) : {}))
  const idle = await runLocalWorkers({ sqs: failing, queueUrl: 'q', workers: 2, idleTimeoutMs: 20, visibilityTimeout: 5, done: async () => false, handle: async () => ({ batchItemFailures: [{ itemIdentifier: 'x' }] }) })
  t.same(idle, { handled: 0, failed: 1, finished: false }, 'the workers give up when idle')
  t.notOk(failing.calls.some((c) => c.name === 'DeleteMessageBatchCommand'))
  t.match(failing.calls[0].input, { VisibilityTimeout: 5 })
})

t.test('handlePageRecords: opens one source per account and region, commits with custody, reports failures', async (t) => {
  const store = new MemoryStore()
  const signer = testSigner()
  const caseId = 'case-pr'
  const captureId = deriveCaptureId(OBJECT_VERSIONS_COLLECTOR.name, 'pr-1')
  const attempt = '0123abcd-0003'
  const plan: FanOutPlan = { schema: FANOUT_SCHEMAS.plan, attempt, pages: 2, entries: 2, spec: { caseId, collector: { ...OBJECT_VERSIONS_COLLECTOR }, trigger: { source: 't', id: 'pr-1' }, target: { bucket: 'src' } }, selection: { bucket: 'src', prefix: '', accountId: '123456789012', region: 'eu-west-1' }, listingErrors: [] }
  await writePlan(store, caseId, captureId, plan)
  await writePage(store, caseId, captureId, attempt, 0, [version('a', '1', 'one')])
  await writePage(store, caseId, captureId, attempt, 1, [version('b', '1', 'two')])
  const s3 = fakeS3([], { 'a@1': 'one', 'b@1': 'two' })
  const opened: unknown[] = []
  const openSource = async (sel: FanOutPlan['selection']) => {
    opened.push(sel)
    return s3
  }
  const record = (id: string, body: string): SqsRecord => ({ messageId: id, receiptHandle: `r-${id}`, body, eventSource: 'aws:sqs', eventSourceARN: 'q', attributes: {} })
  const m = (page: number) => JSON.stringify({ schema: FANOUT_SCHEMAS.message, caseId, captureId, attempt, page })
  const log: string[] = []
  const res = await handlePageRecords({ store, signer }, openSource, [record('m0', m(0)), record('bad', 'nope'), record('m1', m(1))], { tool: 'test', log: (l) => log.push(l) })
  t.same(res, { batchItemFailures: [{ itemIdentifier: 'bad' }] })
  t.match(log, [/page message bad failed: ValidationError: fan-out message is not JSON/])
  t.equal(opened.length, 1, 'one source client for both pages of the same account and region')
  t.match(opened[0], { accountId: '123456789012', region: 'eu-west-1' })
  const custody = await new CustodyChain(store, signer, caseId).read()
  t.match(custody, [{ action: 'captured', actor: { tool: 'test' }, subject: { captureId } }], 'the committing worker appended the custody entry')

  // without a log, failures go to console.error
  const errors: unknown[] = []
  const orig = console.error
  console.error = (...a: unknown[]) => void errors.push(a.join(' '))
  t.teardown(() => (console.error = orig))
  const res2 = await handlePageRecords({ store, signer }, openSource, [record('x', '[]')], { tool: 'test' })
  console.error = orig
  t.same(res2, { batchItemFailures: [{ itemIdentifier: 'x' }] })
  t.match(errors, [/page message x failed/])
  // a record whose selection names no account or region shares the "/" client
  const plan2: FanOutPlan = { ...plan, spec: { ...plan.spec, trigger: { source: 't', id: 'pr-2' } }, selection: { bucket: 'src', prefix: '' }, pages: 1 }
  const capture2 = deriveCaptureId(OBJECT_VERSIONS_COLLECTOR.name, 'pr-2')
  await writePlan(store, caseId, capture2, plan2)
  await writePage(store, caseId, capture2, attempt, 0, [version('a', '1', 'one')])
  const res3 = await handlePageRecords({ store, signer }, openSource, [record('y', JSON.stringify({ schema: FANOUT_SCHEMAS.message, caseId, captureId: capture2, attempt, page: 0 }))], { tool: 'test' })
  t.same(res3, { batchItemFailures: [] })
  t.match(opened.at(-1), { accountId: undefined, region: undefined })
})

t.test('captureObjectVersions: fan-out, resumption, early listing failures and own failures', async (t) => {
  const signer = testSigner()
  const trigger = (id: string) => ({ source: 't', id })
  const listing = (n: number, failAt?: number) => {
    const versions = Array.from({ length: n }, (_, i) => ({ Key: `k${String(i).padStart(3, '0')}`, VersionId: '1', LastModified: T1, Size: 1 }))
    return (input: Record<string, unknown>) => {
      const start = Number(input.KeyMarker ?? 0)
      if (failAt !== undefined && start >= failAt) throw awsError('InternalError', 500, 'listing broke')
      const next = start + 2
      return { Versions: versions.slice(start, next), IsTruncated: next < n, NextKeyMarker: next < n ? String(next) : undefined }
    }
  }
  const objects = Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`k${String(i).padStart(3, '0')}@1`, 'x']))

  // above the threshold: pages go to the queue; the listing fails after some pages
  const store = new MemoryStore()
  const sent: PageMessage[] = []
  const queue = { send: async (ms: PageMessage[]) => void sent.push(...ms) }
  const s3 = fakeS3(listing(10, 6), objects)
  const out = await captureObjectVersions({ store, signer }, s3, { caseId: 'case-cov', bucket: 'src', prefix: '', trigger: trigger('fan-1') }, { fanOut: { threshold: 2, pageSize: 4, queue } })
  t.match(out, { kind: 'pending', caseId: 'case-cov', pages: 2, entries: 6, enqueued: 2 })
  t.same(sent.map((s) => s.page), [0, 1])
  const captureId = deriveCaptureId(OBJECT_VERSIONS_COLLECTOR.name, 'fan-1')
  const plan = (await readPlan(store, 'case-cov', captureId))!
  t.match(plan.listingErrors, [{ what: 'ListObjectVersions s3://src', code: 'InternalError', message: 'listing broke' }])
  // the trigger delivered again: the missing pages are enqueued again, nothing is listed
  const listed = s3.calls.length
  const again = await captureObjectVersions({ store, signer }, s3, { caseId: 'case-cov', bucket: 'src', prefix: '', trigger: trigger('fan-1') }, { fanOut: { threshold: 2, pageSize: 4, queue } })
  t.match(again, { kind: 'pending', pages: 2, entries: 6, enqueued: 2 })
  t.equal(s3.calls.length, listed, 'the plan is reused')
  for (const m of sent.slice(0, 2)) await processPage({ store, signer }, async () => ({ s3, bucket: 'src' }), m)
  const done = await captureObjectVersions({ store, signer }, s3, { caseId: 'case-cov', bucket: 'src', prefix: '', trigger: trigger('fan-1') }, { fanOut: { threshold: 2, pageSize: 4, queue } })
  t.match(done, { kind: 'committed', result: { manifest: { status: 'partial', summary: { stored: 6 } } } }, 'once committed, the capture is returned')

  // exactly pageSize entries: no empty last page
  const even = await captureObjectVersions({ store, signer }, fakeS3(listing(8), objects), { caseId: 'case-cov', bucket: 'src', prefix: '', trigger: trigger('fan-2') }, { fanOut: { threshold: 2, pageSize: 4, queue } })
  t.match(even, { kind: 'pending', pages: 2, entries: 8 })

  // the listing fails before the threshold: what was listed is captured right away, the failure recorded
  const early = await captureObjectVersions({ store, signer }, fakeS3(listing(10, 2), objects), { caseId: 'case-cov', bucket: 'missing', prefix: '', trigger: trigger('fan-3') }, { fanOut: { threshold: 5, pageSize: 4, queue } })
  t.match(early, { kind: 'committed', result: { manifest: { status: 'partial', summary: { entries: 2, stored: 2 }, errors: [{ code: 'InternalError' }] } } })
  const small = await captureObjectVersions({ store, signer }, fakeS3(listing(3), objects), { caseId: 'case-cov', bucket: 'src', prefix: '', trigger: trigger('fan-4') }, { fanOut: { threshold: 5, pageSize: 4, queue } })
  t.match(small, { kind: 'committed', result: { manifest: { status: 'complete', summary: { entries: 3 } } } }, 'a small set is captured in this run')
  const denied = await captureObjectVersions({ store, signer }, fakeS3(() => awsError('AccessDenied', 403)), { caseId: 'case-cov', bucket: 'src', prefix: '', trigger: trigger('fan-5') }, { fanOut: { threshold: 5, pageSize: 4, queue } })
  t.match(denied, { kind: 'committed', result: { manifest: { errors: [{ code: 'AccessDenied', message: /s3:ListBucketVersions/ }] } } })

  // without fan-out, a failure of the evidence store aborts the capture instead of being recorded
  const failing = overrideStore(store, {
    put: async (i) => {
      if (i.key.includes('/versions/')) throw new EvidenceExistsError('memory-evidence', i.key)
      return store.put(i)
    },
    head: async (k, v) => (k.includes('/versions/') ? undefined : store.head(k, v)),
  })
  await t.rejects(captureObjectVersions({ store: failing, signer }, fakeS3(listing(1), objects), { caseId: 'case-cov', bucket: 'src', prefix: '', trigger: trigger('own-1') }), EvidenceExistsError)
  // ... while a failure of the source listing is recorded, and the versions listed before it
  // are captured (not dropped because their copies were still in flight)
  const partial = await captureObjectVersions({ store, signer }, fakeS3(listing(6, 2), objects), { caseId: 'case-cov', bucket: 'src', prefix: '', trigger: trigger('src-1') }, { concurrency: 2, byteBudget: 10 })
  t.match(partial, { kind: 'committed', result: { manifest: { status: 'partial', errors: [{ what: 'ListObjectVersions s3://src', code: 'InternalError', message: 'listing broke' }], summary: { entries: 2, stored: 2 } } } })
  const nobucket = await captureObjectVersions({ store, signer }, fakeS3(() => awsError('NoSuchBucket', 404)), { caseId: 'case-cov', bucket: 'gone', prefix: '', trigger: trigger('src-2') })
  t.match(nobucket, { kind: 'committed', result: { manifest: { errors: [{ code: 'NoSuchBucket', message: /the bucket does not exist/ }] } } })

  // a failure of the evidence store while writing a fan-out page is thrown, not taken for "exists"
  const pageFails = overrideStore(new MemoryStore(), { put: async () => Promise.reject(new Error('store down')) })
  await t.rejects(writePage(pageFails, 'case-cov', captureId, 'aaaaaaaa-0000', 0, []), { message: 'store down' })
})

t.test('validateObjectVersionsRequest: every field', async (t) => {
  const base = { caseId: 'c', bucket: 'bkt', trigger: { source: 's', id: 'i' } }
  t.throws(() => validateObjectVersionsRequest({ ...base }), { name: 'ValidationError', field: 'keys', message: /either keys/ })
  t.throws(() => validateObjectVersionsRequest({ ...base, keys: [], prefix: undefined }), { message: /either keys/ }, 'an empty key list is no keys')
  t.throws(() => validateObjectVersionsRequest({ ...base, keys: ['a'], prefix: '' }), { message: /either keys/ })
  t.throws(() => validateObjectVersionsRequest({ ...base, keys: ['a', ''] }), { name: 'ValidationError', field: 'keys', message: /invalid object key "": 1-1024 bytes/ })
  t.throws(() => validateObjectVersionsRequest({ ...base, keys: [7 as unknown as string] }), { message: /invalid object key "7"/ })
  t.throws(() => validateObjectVersionsRequest({ ...base, keys: ['é'.repeat(513)] }), { message: /invalid object key/ }, '1026 bytes')
  t.same(validateObjectVersionsRequest({ ...base, keys: ['k'.repeat(1024)] }).keys, ['k'.repeat(1024)])
  t.throws(() => validateObjectVersionsRequest({ ...base, prefix: 5 as unknown as string }), { name: 'ValidationError', field: 'prefix' })
  t.throws(() => validateObjectVersionsRequest({ ...base, prefix: 'p'.repeat(1025) }), { name: 'ValidationError', field: 'prefix' })
  t.throws(() => validateObjectVersionsRequest({ ...base, prefix: 'p', until: '2026-01-01' as unknown as Date }), { name: 'ValidationError', field: 'until', message: /until is not a valid time/ })
  t.throws(() => validateObjectVersionsRequest({ ...base, prefix: 'p', since: T2, until: T2 }), { name: 'ValidationError', field: 'since', message: /must be before until/ })
  t.throws(() => validateObjectVersionsRequest({ ...base, bucket: 's3://x', prefix: '' }), { name: 'ValidationError', field: 'bucket' })
  t.same(validateObjectVersionsRequest({ ...base, prefix: '', since: T1, until: T2 }), { bucket: 'bkt', prefix: '', since: T1.toISOString(), until: T2.toISOString() })
})

t.test('objectVersionsRequest: remaining field checks', async (t) => {
  t.throws(() => objectVersionsRequest({ caseId: 'c', bucket: 'b', prefix: 'p', until: 5 }, {}), { name: 'ValidationError', message: /until must be an ISO 8601 time, got 5/ })
  t.throws(() => objectVersionsRequest({ caseId: 'c', bucket: 'b', prefix: 'p', id: '' }, {}), { message: /id must be a non-empty string/ })
  const r = objectVersionsRequest({ caseId: 'c', bucket: 'b', key: 'k1', keys: ['k2'] }, {})
  t.same(r.keys, ['k1', 'k2'], 'key and keys combine')
  t.match(r.trigger.id, /^event:[0-9a-f]{64}$/, 'without an id or request id, the event hash')
  const ct = { 'detail-type': 'AWS API Call via CloudTrail', caseId: 'named-case', detail: { eventName: 'PutObject', eventID: 'e1', requestParameters: { bucketName: 'bkt', key: 'k' } } }
  t.match(objectVersionsRequest(ct, {}), { caseId: 'named-case', keys: ['k'], accountId: undefined, region: undefined, trigger: { source: 'cloudtrail:PutObject' } })
  t.match(objectVersionsRequest({ ...ct, caseId: undefined, detail: { ...ct.detail, eventName: 'PutBucketAcl' } }, {}), { prefix: '', keys: undefined })
})

t.test('CLI: valid --since/--until pass to the evidence check; bad ones are usage errors', async (t) => {
  const ok = await runCli(['capture', 'object-versions', '--case', 'c', '--bucket', 'b', '--prefix', 'p', '--since', '2026-01-01T00:00:00Z', '--until', '2026-02-01T00:00:00Z'], {})
  t.equal(ok.code, 2)
  t.match(ok.stderr, /no evidence bucket/, 'the times were accepted; the missing evidence bucket is what stops it')
  const bad = await runCli(['capture', 'object-versions', '--case', 'c', '--bucket', 'b', '--prefix', 'p', '--until', 'later'], {})
  t.equal(bad.code, 2)
  t.match(bad.stderr, /--until must be an ISO 8601 time .*got later/)
  t.match((await runCli(['capture', 'object-versions', '--bucket', 'b', '--prefix', 'p'], {})).stderr, /--case and --bucket are required/)
})

t.test('forEachBounded lets running tasks settle when the item stream fails', async (t) => {
  const { forEachBounded } = await import('../forensics/object-versions/bounded.js')
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
