/**
 * The fan-out documents of a large object-versions capture (forensics/object-versions/fan-out.ts)
 * on the in-memory store: page messages, plan races, redeliveries, stale and foreign
 * messages, and the single commit. The fan-out through real SQS runs in
 * object-versions-fanout.test.ts and drill.test.ts.
 */
import t from 'tap'
import { OBJECT_VERSIONS_COLLECTOR } from '../forensics/object-versions/capture-object-versions.js'
import { commitFanOut, enqueueMissingPages, FANOUT_SCHEMAS, fanOutPaths, parsePageMessage, processPage, readPlan, writePage, writePlan, type FanOutPlan, type PageMessage } from '../forensics/object-versions/fan-out.js'
import { artifactKey, deriveCaptureId } from '../forensics/keys.js'
import { MemoryStore } from './fixtures/memory-store.js'
import { testSigner } from './fixtures/bundle-case.js'
import { fakeVersionsS3, versionEntry } from './fixtures/object-versions-source.js'

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
  const s3 = fakeVersionsS3([], { 'a@1': 'one', 'b@1': 'two' })
  const sourceFor = async () => ({ s3, bucket: 'src' })

  await t.rejects(processPage(deps, sourceFor, m(0)), { name: 'ValidationError', message: /has no plan/ })
  t.equal(await readPlan(store, caseId, captureId), undefined)
  t.same(await writePlan(store, caseId, captureId, plan), plan)
  t.same(await writePlan(store, caseId, captureId, { ...plan, attempt: 'ffffffff-9999' }), plan, 'a second listing gets the winner’s plan')

  t.same(await processPage(deps, sourceFor, m(0, 'ffffffff-9999')), { page: 0, processed: false }, 'a message of a losing attempt is ignored')
  t.same(await processPage(deps, sourceFor, m(5)), { page: 5, processed: false }, 'a page beyond the plan is ignored')
  await t.rejects(processPage(deps, sourceFor, m(0)), { name: 'ValidationError', message: /page 0 .* is missing/ })

  await writePage(store, caseId, captureId, attempt, 0, [versionEntry('a', '1', 'one'), { ...versionEntry('a', 'dm', ''), kind: 'delete-marker' }])
  await writePage(store, caseId, captureId, attempt, 0, [versionEntry('ignored', '1', 'x')]) // a retried listing: the first page stands
  await writePage(store, caseId, captureId, attempt, 1, [versionEntry('b', '1', 'two')])

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
  await writePage(store, caseId, captureId, attempt, 0, [versionEntry('a', '1', 'x')])
  await store.put({ key: artifactKey(caseId, captureId, fanOutPaths.result(attempt, 0)), body: Buffer.from(JSON.stringify({ schema: FANOUT_SCHEMAS.result, attempt, page: 0, entries: [] })) })
  const r = await commitFanOut(deps, caseId, captureId, plan)
  t.match(r.manifest.errors, [{ code: 'MissingResult', message: /page 0 result has no entry/ }])
})
