/**
 * The SQS page queue and the local fan-out workers (forensics/object-versions/sqs-page-queue.ts)
 * on a stand-in SQS: batches, failed entries, partial batch failures, idle timeout.
 */
import t from 'tap'
import type { SQSClient } from '@aws-sdk/client-sqs'
import { FANOUT_SCHEMAS, type PageMessage } from '../forensics/object-versions/fan-out.js'
import { SqsPageQueue, runLocalWorkers, type SqsRecord } from '../forensics/object-versions/sqs-page-queue.js'
import { fakeClient } from './fixtures/fake-client.js'

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
  t.equal(sqs.calls.length, 3, 'no messages, no call')

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
