/**
 * The object-versions capture (forensics/object-versions/capture-object-versions.ts) on the
 * in-memory store and a stand-in source: fan-out above the threshold, resumption, listing
 * failures recorded, evidence-store failures thrown, and request validation. The capture of
 * a real bucket runs in object-versions.test.ts.
 */
import t from 'tap'
import { captureObjectVersions, OBJECT_VERSIONS_COLLECTOR, validateObjectVersionsRequest } from '../forensics/object-versions/capture-object-versions.js'
import { processPage, readPlan, writePage, type PageMessage } from '../forensics/object-versions/fan-out.js'
import { EvidenceExistsError } from '../forensics/evidence-store.js'
import { deriveCaptureId } from '../forensics/keys.js'
import { MemoryStore } from './fixtures/memory-store.js'
import { awsError } from './fixtures/fake-client.js'
import { overrideStore } from './fixtures/evidence.js'
import { testSigner } from './fixtures/bundle-case.js'
import { T1, T2, fakeVersionsS3 } from './fixtures/object-versions-source.js'

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
  const s3 = fakeVersionsS3(listing(10, 6), objects)
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
  const even = await captureObjectVersions({ store, signer }, fakeVersionsS3(listing(8), objects), { caseId: 'case-cov', bucket: 'src', prefix: '', trigger: trigger('fan-2') }, { fanOut: { threshold: 2, pageSize: 4, queue } })
  t.match(even, { kind: 'pending', pages: 2, entries: 8 })

  // the listing fails before the threshold: what was listed is captured right away, the failure recorded
  const early = await captureObjectVersions({ store, signer }, fakeVersionsS3(listing(10, 2), objects), { caseId: 'case-cov', bucket: 'missing', prefix: '', trigger: trigger('fan-3') }, { fanOut: { threshold: 5, pageSize: 4, queue } })
  t.match(early, { kind: 'committed', result: { manifest: { status: 'partial', summary: { entries: 2, stored: 2 }, errors: [{ code: 'InternalError' }] } } })
  const small = await captureObjectVersions({ store, signer }, fakeVersionsS3(listing(3), objects), { caseId: 'case-cov', bucket: 'src', prefix: '', trigger: trigger('fan-4') }, { fanOut: { threshold: 5, pageSize: 4, queue } })
  t.match(small, { kind: 'committed', result: { manifest: { status: 'complete', summary: { entries: 3 } } } }, 'a small set is captured in this run')
  const denied = await captureObjectVersions({ store, signer }, fakeVersionsS3(() => awsError('AccessDenied', 403)), { caseId: 'case-cov', bucket: 'src', prefix: '', trigger: trigger('fan-5') }, { fanOut: { threshold: 5, pageSize: 4, queue } })
  t.match(denied, { kind: 'committed', result: { manifest: { errors: [{ code: 'AccessDenied', message: /s3:ListBucketVersions/ }] } } })

  // without fan-out, a failure of the evidence store aborts the capture instead of being recorded
  const failing = overrideStore(store, {
    put: async (i) => {
      if (i.key.includes('/versions/')) throw new EvidenceExistsError('memory-evidence', i.key)
      return store.put(i)
    },
    head: async (k, v) => (k.includes('/versions/') ? undefined : store.head(k, v)),
  })
  await t.rejects(captureObjectVersions({ store: failing, signer }, fakeVersionsS3(listing(1), objects), { caseId: 'case-cov', bucket: 'src', prefix: '', trigger: trigger('own-1') }), EvidenceExistsError)
  // ... while a failure of the source listing is recorded, and the versions listed before it
  // are captured (not dropped because their copies were still in flight)
  const partial = await captureObjectVersions({ store, signer }, fakeVersionsS3(listing(6, 2), objects), { caseId: 'case-cov', bucket: 'src', prefix: '', trigger: trigger('src-1') }, { concurrency: 2, byteBudget: 10 })
  t.match(partial, { kind: 'committed', result: { manifest: { status: 'partial', errors: [{ what: 'ListObjectVersions s3://src', code: 'InternalError', message: 'listing broke' }], summary: { entries: 2, stored: 2 } } } })
  const nobucket = await captureObjectVersions({ store, signer }, fakeVersionsS3(() => awsError('NoSuchBucket', 404)), { caseId: 'case-cov', bucket: 'gone', prefix: '', trigger: trigger('src-2') })
  t.match(nobucket, { kind: 'committed', result: { manifest: { errors: [{ code: 'NoSuchBucket', message: /the bucket does not exist/ }] } } })

  // a failure of the evidence store while writing a fan-out page is thrown, not taken for "exists"
  const pageFails = overrideStore(new MemoryStore(), { put: async () => Promise.reject(new Error('store down')) })
  await t.rejects(writePage(pageFails, 'case-cov', captureId, 'aaaaaaaa-0000', 0, []), { message: 'store down' })
})

t.test('validateObjectVersionsRequest names each invalid field', async (t) => {
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
