/** Lambda's SQS event source mapping, locally (forensics/runtime/sqs-event-source.ts), on the emulator's SQS. */
import t from 'tap'
import { CreateQueueCommand, GetQueueAttributesCommand, SendMessageBatchCommand, SQSClient } from '@aws-sdk/client-sqs'
import { consumeSqsEventSource } from '../forensics/runtime/sqs-event-source.js'
import type { SqsRecord } from '../forensics/object-versions/sqs-page-queue.js'
import { useEmulator } from './fixtures/emulator.js'

t.test('batches of the mapping\'s size; partial failures and failed invocations are received again and retried', async (t) => {
  const emulator = await useEmulator(t)
  const sqs = new SQSClient(emulator.clientConfig())
  t.teardown(() => sqs.destroy())
  const queueUrl = (await sqs.send(new CreateQueueCommand({ QueueName: 'fan-out' }))).QueueUrl as string
  await sqs.send(new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: ['a', 'b', 'c', 'd', 'e'].map((b, i) => ({ Id: String(i), MessageBody: b })) }))
  const seen: string[][] = []
  const attempts = new Map<string, number>()
  const done = new Set<string>()
  const stats = await consumeSqsEventSource({
    sqs,
    queueUrl,
    queueArn: 'arn:aws:sqs:us-east-1:123456789012:fan-out',
    region: 'us-east-1',
    batchSize: 2,
    pollers: 1,
    invoke: async (event: { Records: SqsRecord[] }) => {
      seen.push(event.Records.map((r) => r.body))
      for (const r of event.Records) {
        t.match(r, { eventSource: 'aws:sqs', eventSourceARN: 'arn:aws:sqs:us-east-1:123456789012:fan-out', awsRegion: 'us-east-1', attributes: { ApproximateReceiveCount: /\d/ } })
        attempts.set(r.body, (attempts.get(r.body) ?? 0) + 1)
      }
      // 'b' fails once as a batch item, 'd' once as a failed invocation (the whole batch again)
      if (event.Records.some((r) => r.body === 'd') && attempts.get('d') === 1) throw new Error('invocation failed')
      const failures = event.Records.filter((r) => r.body === 'b' && attempts.get('b') === 1).map((r) => ({ itemIdentifier: r.messageId }))
      for (const r of event.Records) if (!failures.some((f) => f.itemIdentifier === r.messageId)) done.add(r.body)
      return { batchItemFailures: failures }
    },
    done: () => done.size === 5,
    retryDelaySeconds: 0,
  })
  t.ok(seen.every((b) => b.length <= 2), `no batch above the mapping's size: ${JSON.stringify(seen)}`)
  t.same([...done].sort(), ['a', 'b', 'c', 'd', 'e'])
  t.equal(attempts.get('b'), 2, 'the reported item failure was retried')
  t.equal(attempts.get('a'), 1, 'the batch\'s other record was not')
  t.equal(attempts.get('d'), 2, 'the failed invocation was retried')
  t.equal(stats.handled, 5)
  t.ok(stats.failed >= 2)
  t.equal(stats.batches, seen.length)
  const left = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }))
  t.same([left.Attributes?.ApproximateNumberOfMessages, left.Attributes?.ApproximateNumberOfMessagesNotVisible], ['0', '0'], 'everything handled was deleted')
})
