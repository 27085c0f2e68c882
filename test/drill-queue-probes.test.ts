/**
 * The drill's queue probes (forensics/drill/queue-probes.ts): the SIEM topic probe, and
 * picking the drill's own record off the dead-letter queue; on stand-in SQS and SNS, and on
 * the emulator behind the fault proxy when a ReceiveMessage response is lost.
 */
import t from 'tap'
import { CreateQueueCommand, GetQueueAttributesCommand, GetQueueUrlCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs'
import { CreateTopicCommand, PublishCommand, SNSClient } from '@aws-sdk/client-sns'
import { PROBE_VISIBILITY_SECONDS, SiemTopicProbe, waitForDeadLetter } from '../forensics/drill/queue-probes.js'
import { operationOf, startFaultProxy } from '../forensics/local/fault-proxy.js'
import { awsError, fakeClient, type CommandAnswers, type FakeClient } from './fixtures/fake-client.js'
import { setRetryPolicy } from '../forensics/retry.js'
import { useEmulator } from './fixtures/emulator.js'

const record = (payload: unknown): string =>
  JSON.stringify({ version: '1.0', timestamp: '2026-11-29T10:00:00.000Z', requestContext: { requestId: 'r', functionArn: 'arn:aws:lambda:eu-west-1:1:function:f', condition: 'RetriesExhausted', approximateInvokeCount: 3 }, requestPayload: payload })

/** A stand-in SQS on which the probe's queue can be created; `answers` add the other commands. */
const probeSqs = (answers: CommandAnswers): FakeClient<SQSClient> =>
  fakeClient<SQSClient>({
    CreateQueueCommand: () => ({ QueueUrl: 'https://q/probe' }),
    GetQueueAttributesCommand: () => ({ Attributes: { QueueArn: 'arn:aws:sqs:eu-west-1:1:probe' } }),
    SetQueueAttributesCommand: () => ({}),
    ...answers,
  })

t.test('the SIEM probe subscribes, drains JSON and text bodies, waits, and closes quietly', async (t) => {
  const batches: { Body?: string; ReceiptHandle?: string }[][] = [[{ Body: '{"a":1}', ReceiptHandle: 'h1' }, { Body: 'not json', ReceiptHandle: 'h2' }, {}], []]
  const sqs = probeSqs({
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

t.test('a message the SIEM probe receives twice (its first delete came too late) is kept once', async (t) => {
  const batches = [[{ MessageId: 'm1', Body: '{"n":1}', ReceiptHandle: 'h1' }], [{ MessageId: 'm1', Body: '{"n":1}', ReceiptHandle: 'h1b' }, { MessageId: 'm2', Body: '{"n":2}', ReceiptHandle: 'h2' }], []]
  const sqs = probeSqs({ ReceiveMessageCommand: () => ({ Messages: batches.shift() }), DeleteMessageCommand: () => ({}) })
  const sns = fakeClient<SNSClient>({ SubscribeCommand: () => ({ SubscriptionArn: 'arn:sub' }) })
  const probe = await SiemTopicProbe.open({ sqs, sns }, 'arn:aws:sns:eu-west-1:1:siem', 'probe')
  t.same(await probe.drain(), [{ n: 1 }, { n: 2 }])
  t.same(sqs.calls.filter((s) => s.name === 'DeleteMessageCommand').map((s) => s.input.ReceiptHandle), ['h1', 'h1b', 'h2'], 'every receipt is deleted')
  t.ok(sqs.calls.filter((s) => s.name === 'ReceiveMessageCommand').every((s) => s.input.VisibilityTimeout === PROBE_VISIBILITY_SECONDS), 'received with the short visibility timeout')
})

t.test('a poll or delete that fails transiently beyond the SDK\'s retries is tried again; a refusal ends the wait', async (t) => {
  const previous = setRetryPolicy({ baseDelayMs: 1, maxDelayMs: 2 })
  t.teardown(() => void setRetryPolicy(previous))
  const internal = () => awsError('InternalFailure', 500, 'We encountered an internal error.')
  let receives = 0
  let deletes = 0
  const sqs = probeSqs({
    ReceiveMessageCommand: () => {
      if (++receives <= 2) throw internal()
      return receives === 3 ? { Messages: [{ MessageId: 'm1', Body: '{"finding":1}', ReceiptHandle: 'h1' }] } : {}
    },
    DeleteMessageCommand: () => {
      if (++deletes === 1) throw internal()
      return {}
    },
  })
  const sns = fakeClient<SNSClient>({ SubscribeCommand: () => ({ SubscriptionArn: 'arn:sub' }) })
  const probe = await SiemTopicProbe.open({ sqs, sns }, 'arn:aws:sns:eu-west-1:1:siem', 'probe')
  t.same(await probe.waitFor((d) => (d as { finding?: number }).finding === 1, 1_000, 1), { finding: 1 }, 'found after two failed polls')
  t.equal(deletes, 2, 'the failed delete was sent again')

  const refusing = fakeClient<SQSClient>({
    ReceiveMessageCommand: () => {
      throw awsError('AccessDenied', 403)
    },
  })
  await t.rejects(waitForDeadLetter(refusing, 'https://q/dlq', () => true, 5_000, 1), { name: 'AccessDenied' }, 'a refusal is not retried')
  t.equal(refusing.calls.length, 1)
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

/** Messages waiting (visible) on the named queue. */
const waiting = async (sqs: SQSClient, name: string): Promise<number> => {
  const url = (await sqs.send(new GetQueueUrlCommand({ QueueName: name }))).QueueUrl
  const a = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['ApproximateNumberOfMessages'] }))
  return Number(a.Attributes?.ApproximateNumberOfMessages)
}

t.test('a lost ReceiveMessage response on the emulator delays the probes; it does not hide the message past their deadline', async (t) => {
  const emulator = await useEmulator(t)
  const direct = { sqs: new SQSClient(emulator.clientConfig()), sns: new SNSClient(emulator.clientConfig()) }
  // the response of the first ReceiveMessage that hands out a message is lost after the queue marked it received
  let armed = false
  const proxy = await startFaultProxy({ target: emulator.endpoint, faults: { lostResponse: 1 }, eligible: (r) => armed && operationOf(r) === 'ReceiveMessage' && !(armed = false) })
  const through = { sqs: new SQSClient({ ...emulator.clientConfig(), endpoint: proxy.endpoint }), sns: new SNSClient({ ...emulator.clientConfig(), endpoint: proxy.endpoint }) }
  t.teardown(async () => {
    for (const c of [direct.sqs, direct.sns, through.sqs, through.sns]) c.destroy()
    await proxy.close()
  })

  t.test('the SIEM probe sees the finding once, soon after the lost response', async (t) => {
    const topicArn = (await direct.sns.send(new CreateTopicCommand({ Name: 'siem-lost' }))).TopicArn as string
    const probe = await SiemTopicProbe.open(through, topicArn, 'probe-lost')
    t.teardown(() => probe.close())
    await direct.sns.send(new PublishCommand({ TopicArn: topicArn, Message: JSON.stringify({ finding: 'public grant' }) }))
    t.equal(await waiting(direct.sqs, 'probe-lost'), 1, 'the finding waits on the probe queue before the lost receive')
    armed = true
    const started = Date.now()
    // received at the lost response, the message is hidden for the probe's visibility timeout
    // (with the former 30 s, past this 15-s deadline)
    const hit = await probe.waitFor((d) => (d as { finding?: string }).finding === 'public grant', 15_000, 100)
    t.same(hit, { finding: 'public grant' }, `found before the deadline (${Date.now() - started} ms after the loss, visibility ${PROBE_VISIBILITY_SECONDS} s)`)
    t.equal(proxy.stats.faults.lostResponse, 1, 'one ReceiveMessage response was lost')
    await probe.drain()
    t.equal(probe.messages.length, 1, 'kept once')
  })

  t.test('the dead-letter wait finds its record after the lost response', async (t) => {
    const queueUrl = (await direct.sqs.send(new CreateQueueCommand({ QueueName: 'dlq-lost' }))).QueueUrl as string
    await direct.sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: record({ id: 'd-2:bad-bucket' }) }))
    t.equal(await waiting(direct.sqs, 'dlq-lost'), 1, 'the record waits before the lost receive')
    armed = true
    const before = proxy.stats.faults.lostResponse
    const hit = await waitForDeadLetter(through.sqs, queueUrl, (r) => JSON.stringify(r.requestPayload).includes('d-2:bad-bucket'), 15_000, 100)
    t.same(hit?.requestPayload, { id: 'd-2:bad-bucket' })
    t.equal(proxy.stats.faults.lostResponse, before + 1, 'one ReceiveMessage response was lost')
  })
})
