/**
 * Branch coverage of the runtime pieces with stand-in clients: handler environment, SIEM
 * publisher, destination records and sender, the local runtime's edge results, and the
 * custody recorder's Lambda entry point without an environment.
 */
import t from 'tap'
import { fakeClient } from './fixtures/fake-client.js'
import { join } from 'node:path'
import type { EventBridgeClient } from '@aws-sdk/client-eventbridge'
import { SNSClient } from '@aws-sdk/client-sns'
import type { SQSClient } from '@aws-sdk/client-sqs'
import { loadConfigFile } from '../forensics/config.js'
import { projectRoot } from '../forensics/local/emulator.js'
import { asyncInvokeRoutes } from '../forensics/routing.js'
import { KmsSigner, LocalSigner } from '../forensics/signer.js'
import { requireEnv, signerFromSpec, siemFromEnv } from '../forensics/runtime/handler-env.js'
import { AwsSiemPublisher, MemorySiemPublisher, type SiemMessage } from '../forensics/siem/siem-publisher.js'
import { errorPayload, type DestinationRecord } from '../forensics/runtime/destination-record.js'
import { AwsDestinationSender, type Destination } from '../forensics/runtime/destination-sender.js'
import { LocalRuntime } from '../forensics/runtime/local-runtime.js'
import { handler as custodyRecorderHandler } from '../collectors/custody-recorder.js'

const config = loadConfigFile(join(projectRoot, 'forensics.config.json'))

/** A real SNSClient (paginators insist) whose `send` is the stand-in's. */
function realSns(fake: { client: SNSClient }): SNSClient {
  const sns = new SNSClient({ region: 'eu-west-1' })
  t.teardown(() => sns.destroy())
  return Object.assign(sns, { send: fake.client.send.bind(fake.client) })
}


t.test('handler environment', async (t) => {
  t.test('requireEnv names the missing variable', async (t) => {
    t.equal(requireEnv({ X: 'y' }, 'X'), 'y')
    t.throws(() => requireEnv({ X: '' }, 'X'), { name: 'ValidationError', field: 'X', message: /environment variable X is not set/ })
  })
  t.test('signerFromSpec: file:, kms: and anything else', async (t) => {
    const dir = t.testdir({})
    const keyFile = join(dir, 'key.pem')
    const { signer: made } = LocalSigner.fromFile(keyFile, { create: true })
    const signer = signerFromSpec(`file:${keyFile}`)
    t.type(signer, LocalSigner)
    t.equal(await signer.publicKeyPem(), await made.publicKeyPem(), 'the same key as the file')
    t.type(signerFromSpec('kms:alias/forensics-signing', { AWS_REGION: 'eu-west-1' }), KmsSigner)
    t.throws(() => signerFromSpec('vault:secret/key'), { name: 'ValidationError', field: 'FORENSICS_SIGNING_KEY', message: /must be kms:<key id> or file:<pem path>, got "vault:secret\/key"/ })
  })
  t.test('siemFromEnv needs the bus and the topic', async (t) => {
    t.throws(() => siemFromEnv({ AWS_REGION: 'eu-west-1', FORENSICS_SIEM_TOPIC_ARN: 'arn:aws:sns:eu-west-1:1:t' }), { name: 'ValidationError', field: 'FORENSICS_SIEM_EVENT_BUS' })
    t.throws(() => siemFromEnv({ AWS_REGION: 'eu-west-1', FORENSICS_SIEM_EVENT_BUS: 'bus' }), { name: 'ValidationError', field: 'FORENSICS_SIEM_TOPIC_ARN' })
    t.type(siemFromEnv({ AWS_REGION: 'eu-west-1', FORENSICS_SIEM_EVENT_BUS: 'bus', FORENSICS_SIEM_TOPIC_ARN: 'arn:aws:sns:eu-west-1:1:t' }), AwsSiemPublisher)
  })
  t.test('the custody recorder entry point fails without its environment, and tries again next time', async (t) => {
    const saved = { ...process.env }
    t.teardown(() => {
      process.env = saved
    })
    delete process.env.FORENSICS_EVIDENCE_BUCKET
    process.env.AWS_REGION = 'eu-west-1'
    await t.rejects(custodyRecorderHandler({}), { name: 'ValidationError', field: 'FORENSICS_EVIDENCE_BUCKET' })
    await t.rejects(custodyRecorderHandler({}), { name: 'ValidationError', field: 'FORENSICS_EVIDENCE_BUCKET' }, 'a failed set-up is not cached')
  })
})

t.test('SIEM publisher on stand-in clients', async (t) => {
  const msg = (i: number, over: Partial<SiemMessage> = {}): SiemMessage => ({ kind: 'finding', subject: `finding ${i}`, severity: 'High', document: { i }, ...over })
  const topicArn = 'arn:aws:sns:eu-west-1:1:siem'

  t.test('batches of ten on the bus, one SNS message each, subject made printable and short', async (t) => {
    const events = fakeClient<EventBridgeClient>({ PutEventsCommand: () => ({ FailedEntryCount: 0 }) })
    const sns = fakeClient<SNSClient>({ PublishCommand: () => ({}) })
    const pub = new AwsSiemPublisher({ events: events.client, sns: sns.client, eventBusName: 'bus', topic: topicArn })
    const messages = Array.from({ length: 11 }, (_, i) => msg(i))
    messages[3] = msg(3, { subject: `ünïcode\tand ${'x'.repeat(200)}`, severity: undefined, kind: 'drill-report' })
    await pub.publish(messages)
    t.same(events.sent.map((s) => (s.input.Entries as unknown[]).length), [10, 1])
    t.match((events.sent[0].input.Entries as Record<string, unknown>[])[3], { EventBusName: 'bus', Source: 'cdktf-forensics', DetailType: 'Forensics Drill Report', Detail: '{"i":3}' })
    t.equal(sns.sent.length, 11)
    const third = sns.sent[3].input
    t.equal(third.TopicArn, topicArn)
    t.equal(third.Subject, ` n code and ${'x'.repeat(200)}`.slice(0, 100))
    t.equal((third.Subject as string).length, 100)
    t.same(third.MessageAttributes, { kind: { DataType: 'String', StringValue: 'drill-report' } }, 'no severity attribute without a severity')
    t.same((sns.sent[0].input.MessageAttributes as Record<string, unknown>).severity, { DataType: 'String', StringValue: 'High' })
    await pub.publish([])
    t.equal(sns.sent.length, 11, 'nothing to publish sends nothing')
  })

  t.test('without a bus only SNS is used', async (t) => {
    const events = fakeClient<EventBridgeClient>({})
    const sns = fakeClient<SNSClient>({ PublishCommand: () => ({}) })
    await new AwsSiemPublisher({ events: events.client, sns: sns.client, topic: topicArn }).publish([msg(1)])
    t.equal(events.sent.length, 0)
    t.equal(sns.sent.length, 1)
  })

  t.test('rejected events fail naming the bus, the topic and EventBridge’s message', async (t) => {
    const events = fakeClient<EventBridgeClient>({ PutEventsCommand: () => ({ FailedEntryCount: 1, Entries: [{}, { ErrorCode: 'X', ErrorMessage: 'bus is full' }] }) })
    const sns = fakeClient<SNSClient>({})
    await t.rejects(new AwsSiemPublisher({ events: events.client, sns: sns.client, eventBusName: 'bus', topic: topicArn }).publish([msg(1), msg(2)]), {
      name: 'StorageError',
      message: /could not publish to the SIEM \(bus bus, topic arn:aws:sns:eu-west-1:1:siem\): EventBridge rejected 1 event\(s\): bus is full; check/,
    })
    t.equal(sns.sent.length, 0)
  })

  t.test('a topic name that does not exist: the StorageError of the lookup, unwrapped', async (t) => {
    const sns = fakeClient<SNSClient>({ ListTopicsCommand: () => ({ Topics: [{ TopicArn: 'arn:aws:sns:eu-west-1:1:other' }] }) })
    await t.rejects(new AwsSiemPublisher({ events: fakeClient<EventBridgeClient>({}).client, sns: realSns(sns), topic: 'siem' }).publish([msg(1)]), {
      name: 'StorageError',
      message: /^SNS topic siem does not exist/,
    })
  })

  t.test('a topic name is resolved once', async (t) => {
    const sns = fakeClient<SNSClient>({ ListTopicsCommand: () => ({ Topics: [{ TopicArn: topicArn }] }), PublishCommand: () => ({}) })
    const pub = new AwsSiemPublisher({ events: fakeClient<EventBridgeClient>({}).client, sns: realSns(sns), topic: 'siem' })
    await pub.publish([msg(1)])
    await pub.publish([msg(2)])
    t.same(sns.sent.map((s) => s.name), ['ListTopicsCommand', 'PublishCommand', 'PublishCommand'])
    t.equal(sns.sent[2].input.TopicArn, topicArn)
  })

  t.test('the in-memory publisher keeps everything', async (t) => {
    const mem = new MemorySiemPublisher()
    await mem.publish([msg(1)])
    await mem.publish([msg(2), msg(3)])
    t.same(mem.messages.map((m) => (m.document as { i: number }).i), [1, 2, 3])
  })
})

t.test('destination records and sender', async (t) => {
  t.test('errorPayload of odd throwables', async (t) => {
    const nameless = new Error('no name')
    nameless.name = ''
    t.match(errorPayload(nameless), { errorType: 'Error', errorMessage: 'no name' })
    const noStack = new TypeError('flat')
    noStack.stack = undefined
    t.same(errorPayload(noStack), { errorType: 'TypeError', errorMessage: 'flat', trace: [] })
    t.match(errorPayload('a string'), { errorType: 'Error', errorMessage: 'a string' })
  })
  t.test('an EventBridge destination that rejects the entry without a message', async (t) => {
    const record: DestinationRecord = { version: '1.0', timestamp: 't', requestContext: { requestId: 'req-1', functionArn: 'arn:aws:lambda:eu-west-1:1:function:f:$LATEST', condition: 'Success', approximateInvokeCount: 1 }, requestPayload: {} }
    const events = fakeClient<EventBridgeClient>({ PutEventsCommand: () => ({ FailedEntryCount: 1, Entries: [{}] }) })
    const sender = new AwsDestinationSender({ events: events.client, sns: fakeClient<SNSClient>({}).client, sqs: fakeClient<SQSClient>({}).client })
    await t.rejects(sender.send({ type: 'eventbridge', eventBusName: 'bus' }, record), { name: 'StorageError', message: /req-1 to eventbridge bus: PutEvents rejected the entry/ })
    t.match(events.sent[0].input.Entries, [{ Resources: ['arn:aws:lambda:eu-west-1:1:function:f'], DetailType: 'Lambda Function Invocation Result - Success' }])
  })
})

t.test('local runtime edge results', async (t) => {
  const routes = asyncInvokeRoutes(config)
  const sent: { destination: Destination; record: DestinationRecord }[] = []
  const sender = { send: async (destination: Destination, record: DestinationRecord) => void sent.push({ destination, record }) }
  const runtimeWith = (handlers: ConstructorParameters<typeof LocalRuntime>[0]['handlers'], retryDelaysMs?: number[]): LocalRuntime => {
    const rt = new LocalRuntime({ routes, handlers, sender, region: config.region, accountId: config.forensicsAccountId, ...(retryDelaysMs ? { retryDelaysMs } : {}) })
    t.teardown(() => rt.close())
    return rt
  }

  t.test('a handler returning nothing succeeds with a null response payload', async (t) => {
    const rt = runtimeWith({ 'custody-recorder': async () => undefined })
    const o = await rt.invokeAsync('custody-recorder', { a: 1 }).done
    t.equal(o.condition, 'Success')
    t.equal(o.record.responsePayload, null)
    t.same(o.record.requestPayload, { a: 1 })
  })

  t.test('a handler throwing undefined fails as an Error; no retry delays means retries at once', async (t) => {
    let calls = 0
    const rt = runtimeWith(
      {
        'custody-recorder': async () => {
          calls++
          throw undefined
        },
      },
      [],
    )
    const o = await rt.invokeAsync('custody-recorder', {}).done
    t.equal(o.condition, 'RetriesExhausted')
    t.equal(calls, config.capture.maximumRetryAttempts + 1)
    t.match(o.record.responsePayload, { errorType: 'Error', errorMessage: 'handler threw undefined' })
    t.equal(o.record.requestContext.approximateInvokeCount, calls)
  })

  t.test('without retry delays set, the first retry waits about a second', async (t) => {
    const attempts: number[] = []
    const rt = runtimeWith({
      'custody-recorder': async (_e, ctx) => {
        attempts.push(Date.now())
        if (ctx.attempt === 1) throw new Error('first attempt fails')
        return { ok: true }
      },
    })
    const o = await rt.invokeAsync('custody-recorder', {}).done
    t.equal(o.condition, 'Success')
    t.same(o.record.responsePayload, { ok: true })
    t.equal(attempts.length, 2)
    t.ok(attempts[1] - attempts[0] >= 900, `waited ${attempts[1] - attempts[0]} ms`)
  })
})
