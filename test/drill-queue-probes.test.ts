/**
 * The drill's queue probes (forensics/drill/queue-probes.ts) on stand-in SQS and SNS: the
 * SIEM topic probe, and picking the drill's own record off the dead-letter queue.
 */
import t from 'tap'
import type { SQSClient } from '@aws-sdk/client-sqs'
import type { SNSClient } from '@aws-sdk/client-sns'
import { SiemTopicProbe, waitForDeadLetter } from '../forensics/drill/queue-probes.js'
import { fakeClient } from './fixtures/fake-client.js'

const record = (payload: unknown): string =>
  JSON.stringify({ version: '1.0', timestamp: '2026-11-29T10:00:00.000Z', requestContext: { requestId: 'r', functionArn: 'arn:aws:lambda:eu-west-1:1:function:f', condition: 'RetriesExhausted', approximateInvokeCount: 3 }, requestPayload: payload })

t.test('the SIEM probe subscribes, drains JSON and text bodies, waits, and closes quietly', async (t) => {
  const batches: { Body?: string; ReceiptHandle?: string }[][] = [[{ Body: '{"a":1}', ReceiptHandle: 'h1' }, { Body: 'not json', ReceiptHandle: 'h2' }, {}], []]
  const sqs = fakeClient<SQSClient>({
    CreateQueueCommand: () => ({ QueueUrl: 'https://q/probe' }),
    GetQueueAttributesCommand: () => ({ Attributes: { QueueArn: 'arn:aws:sqs:eu-west-1:1:probe' } }),
    SetQueueAttributesCommand: () => ({}),
    ReceiveMessageCommand: () => ({ Messages: batches.shift() }),
    DeleteMessageCommand: () => ({}),
    DeleteQueueCommand: () => {
      throw new Error('already gone')
    },
  })
  const sns = fakeClient<SNSClient>({
    SubscribeCommand: () => ({ SubscriptionArn: 'arn:sub' }),
    UnsubscribeCommand: () => {
      throw new Error('no such subscription')
    },
  })
  const probe = await SiemTopicProbe.open({ sqs, sns }, 'arn:aws:sns:eu-west-1:1:siem', 'probe')
  const attrs = sqs.calls.find((s) => s.name === 'SetQueueAttributesCommand')?.input.Attributes as Record<string, string>
  const policy = JSON.parse(attrs.Policy)
  t.match(policy.Statement[0], { Resource: 'arn:aws:sqs:eu-west-1:1:probe', Condition: { ArnEquals: { 'aws:SourceArn': 'arn:aws:sns:eu-west-1:1:siem' } } })
  t.match(sns.calls[0].input, { Protocol: 'sqs', Endpoint: 'arn:aws:sqs:eu-west-1:1:probe', Attributes: { RawMessageDelivery: 'true' } })
  t.same(await probe.drain(), [{ a: 1 }, 'not json', ''], 'JSON parsed, text kept as text, a missing body is empty')
  t.same(sqs.calls.filter((s) => s.name === 'DeleteMessageCommand').map((s) => s.input.ReceiptHandle), ['h1', 'h2', ''])
  t.equal(await probe.waitFor((d) => d === 'never', 30, 5), undefined, 'nothing matching: undefined when the time is up')
  t.equal(await probe.waitFor((d) => d === 'not json', 30, 5), 'not json')
  await t.resolves(probe.close(), 'unsubscribe and delete failures are ignored')
  t.same(sns.calls.at(-1)?.input, { SubscriptionArn: 'arn:sub' })
})

t.test('waitForDeadLetter takes its own record and leaves the others visible', async (t) => {
  const batches = [
    [
      { Body: 'garbage', ReceiptHandle: 'g' },
      { Body: '{"not":"a record"}', ReceiptHandle: 'n' },
      { Body: record({ id: 'someone-else' }), ReceiptHandle: 'o' },
    ],
    [{ Body: record({ id: 'd-1:bad-bucket' }), ReceiptHandle: 'mine' }],
  ]
  const sqs = fakeClient<SQSClient>({
    ReceiveMessageCommand: () => ({ Messages: batches.shift() }),
    DeleteMessageCommand: () => ({}),
    ChangeMessageVisibilityCommand: (i) => {
      if (i.ReceiptHandle === 'n') throw new Error('receipt expired')
      return {}
    },
  })
  const hit = await waitForDeadLetter(sqs, 'https://q/dlq', (r) => JSON.stringify(r.requestPayload).includes('d-1:bad-bucket'), 5_000, 1)
  t.same(hit?.requestPayload, { id: 'd-1:bad-bucket' })
  t.same(sqs.calls.filter((s) => s.name === 'ChangeMessageVisibilityCommand').map((s) => [s.input.ReceiptHandle, s.input.VisibilityTimeout]), [['g', 0], ['n', 0], ['o', 0]])
  t.same(sqs.calls.filter((s) => s.name === 'DeleteMessageCommand').map((s) => s.input.ReceiptHandle), ['mine'], 'only the drill record is deleted')
})

t.test('waitForDeadLetter gives up at the deadline', async (t) => {
  const sqs = fakeClient<SQSClient>({ ReceiveMessageCommand: () => ({}) })
  const started = Date.now()
  t.equal(await waitForDeadLetter(sqs, 'https://q/dlq', () => true, 20, 5), undefined)
  t.ok(Date.now() - started >= 20)
  t.ok(sqs.calls.length >= 2, 'it polled more than once')
})
