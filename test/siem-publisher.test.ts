/**
 * The SIEM publisher (forensics/siem/siem-publisher.ts) on stand-in clients: batching,
 * subjects and attributes, rejected events and topic-name lookup. Delivery through real
 * EventBridge and SNS is covered on the emulator in custody-recorder.test.ts.
 */
import t from 'tap'
import type { EventBridgeClient } from '@aws-sdk/client-eventbridge'
import { SNSClient } from '@aws-sdk/client-sns'
import { AwsSiemPublisher, MemorySiemPublisher, type SiemMessage } from '../forensics/siem/siem-publisher.js'
import { fakeClient, type FakeClient } from './fixtures/fake-client.js'

const msg = (i: number, over: Partial<SiemMessage> = {}): SiemMessage => ({ kind: 'finding', subject: `finding ${i}`, severity: 'High', document: { i }, ...over })
const topicArn = 'arn:aws:sns:eu-west-1:1:siem'

/** A real SNSClient (its paginators check the client class) whose `send` is the stand-in's. */
function realSns(fake: FakeClient<SNSClient>): SNSClient {
  const sns = new SNSClient({ region: 'eu-west-1' })
  t.teardown(() => sns.destroy())
  return Object.assign(sns, { send: fake.send.bind(fake) })
}

t.test('batches of ten on the bus, one SNS message each, subject made printable and short', async (t) => {
  const events = fakeClient<EventBridgeClient>({ PutEventsCommand: () => ({ FailedEntryCount: 0 }) })
  const sns = fakeClient<SNSClient>({ PublishCommand: () => ({}) })
  const pub = new AwsSiemPublisher({ events, sns, eventBusName: 'bus', topic: topicArn })
  const messages = Array.from({ length: 11 }, (_, i) => msg(i))
  messages[3] = msg(3, { subject: `ünïcode\tand ${'x'.repeat(200)}`, severity: undefined, kind: 'drill-report' })
  await pub.publish(messages)
  t.same(events.calls.map((s) => (s.input.Entries as unknown[]).length), [10, 1])
  t.match((events.calls[0].input.Entries as Record<string, unknown>[])[3], { EventBusName: 'bus', Source: 'cdktf-forensics', DetailType: 'Forensics Drill Report', Detail: '{"i":3}' })
  t.equal(sns.calls.length, 11)
  const third = sns.calls[3].input
  t.equal(third.TopicArn, topicArn)
  t.equal(third.Subject, ` n code and ${'x'.repeat(200)}`.slice(0, 100))
  t.equal((third.Subject as string).length, 100)
  t.same(third.MessageAttributes, { kind: { DataType: 'String', StringValue: 'drill-report' } }, 'no severity attribute without a severity')
  t.same((sns.calls[0].input.MessageAttributes as Record<string, unknown>).severity, { DataType: 'String', StringValue: 'High' })
  await pub.publish([])
  t.equal(sns.calls.length, 11, 'nothing to publish sends nothing')
  t.equal(events.calls.length, 2)
})

t.test('without a bus only SNS is used', async (t) => {
  const events = fakeClient<EventBridgeClient>({})
  const sns = fakeClient<SNSClient>({ PublishCommand: () => ({}) })
  await new AwsSiemPublisher({ events, sns, topic: topicArn }).publish([msg(1)])
  t.equal(events.calls.length, 0)
  t.equal(sns.calls.length, 1)
})

t.test('rejected events fail naming the bus, the topic and EventBridge’s message', async (t) => {
  const events = fakeClient<EventBridgeClient>({ PutEventsCommand: () => ({ FailedEntryCount: 1, Entries: [{}, { ErrorCode: 'X', ErrorMessage: 'bus is full' }] }) })
  const sns = fakeClient<SNSClient>({})
  await t.rejects(new AwsSiemPublisher({ events, sns, eventBusName: 'bus', topic: topicArn }).publish([msg(1), msg(2)]), {
    name: 'StorageError',
    message: /could not publish to the SIEM \(bus bus, topic arn:aws:sns:eu-west-1:1:siem\): EventBridge rejected 1 event\(s\): bus is full; check/,
  })
  t.equal(sns.calls.length, 0)
})

t.test('a topic name that does not exist: the StorageError of the lookup, unwrapped', async (t) => {
  const sns = fakeClient<SNSClient>({ ListTopicsCommand: () => ({ Topics: [{ TopicArn: 'arn:aws:sns:eu-west-1:1:other' }] }) })
  await t.rejects(new AwsSiemPublisher({ events: fakeClient<EventBridgeClient>({}), sns: realSns(sns), topic: 'siem' }).publish([msg(1)]), {
    name: 'StorageError',
    message: /^SNS topic siem does not exist/,
  })
})

t.test('a topic name is resolved once', async (t) => {
  const sns = fakeClient<SNSClient>({ ListTopicsCommand: () => ({ Topics: [{ TopicArn: topicArn }] }), PublishCommand: () => ({}) })
  const pub = new AwsSiemPublisher({ events: fakeClient<EventBridgeClient>({}), sns: realSns(sns), topic: 'siem' })
  await pub.publish([msg(1)])
  await pub.publish([msg(2)])
  t.same(sns.calls.map((s) => s.name), ['ListTopicsCommand', 'PublishCommand', 'PublishCommand'])
  t.equal(sns.calls[2].input.TopicArn, topicArn)
})

t.test('the in-memory publisher keeps everything, in order', async (t) => {
  const mem = new MemorySiemPublisher()
  await mem.publish([msg(1)])
  await mem.publish([msg(2), msg(3)])
  t.same(mem.messages.map((m) => (m.document as { i: number }).i), [1, 2, 3])
})
