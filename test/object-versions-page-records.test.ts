/** The fan-out worker's SQS batch handler (forensics/object-versions/page-records.ts). */
import t from 'tap'
import { OBJECT_VERSIONS_COLLECTOR } from '../forensics/object-versions/capture-object-versions.js'
import { FANOUT_SCHEMAS, writePage, writePlan, type FanOutPlan } from '../forensics/object-versions/fan-out.js'
import type { SqsRecord } from '../forensics/object-versions/sqs-page-queue.js'
import { handlePageRecords } from '../forensics/object-versions/page-records.js'
import { deriveCaptureId } from '../forensics/keys.js'
import { CustodyChain } from '../forensics/custody.js'
import { MemoryStore } from './fixtures/memory-store.js'
import { testSigner } from './fixtures/bundle-case.js'
import { fakeVersionsS3, versionEntry } from './fixtures/object-versions-source.js'

t.test('handlePageRecords: opens one source per account and region, commits with custody, reports failures', async (t) => {
  const store = new MemoryStore()
  const signer = testSigner()
  const caseId = 'case-pr'
  const captureId = deriveCaptureId(OBJECT_VERSIONS_COLLECTOR.name, 'pr-1')
  const attempt = '0123abcd-0003'
  const plan: FanOutPlan = { schema: FANOUT_SCHEMAS.plan, attempt, pages: 2, entries: 2, spec: { caseId, collector: { ...OBJECT_VERSIONS_COLLECTOR }, trigger: { source: 't', id: 'pr-1' }, target: { bucket: 'src' } }, selection: { bucket: 'src', prefix: '', accountId: '123456789012', region: 'eu-west-1' }, listingErrors: [] }
  await writePlan(store, caseId, captureId, plan)
  await writePage(store, caseId, captureId, attempt, 0, [versionEntry('a', '1', 'one')])
  await writePage(store, caseId, captureId, attempt, 1, [versionEntry('b', '1', 'two')])
  const s3 = fakeVersionsS3([], { 'a@1': 'one', 'b@1': 'two' })
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
  await writePage(store, caseId, capture2, attempt, 0, [versionEntry('a', '1', 'one')])
  const res3 = await handlePageRecords({ store, signer }, openSource, [record('y', JSON.stringify({ schema: FANOUT_SCHEMAS.message, caseId, captureId: capture2, attempt, page: 0 }))], { tool: 'test' })
  t.same(res3, { batchItemFailures: [] })
  t.match(opened.at(-1), { accountId: undefined, region: undefined })
})
