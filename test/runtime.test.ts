import t from 'tap'
import { GetBucketVersioningCommand, GetObjectLockConfigurationCommand, S3Client } from '@aws-sdk/client-s3'
import { SQSClient, ReceiveMessageCommand, CreateQueueCommand, GetQueueAttributesCommand, SetQueueAttributesCommand } from '@aws-sdk/client-sqs'
import { SNSClient, SubscribeCommand } from '@aws-sdk/client-sns'
import { EventBridgeClient, PutRuleCommand, PutTargetsCommand } from '@aws-sdk/client-eventbridge'
import { useEmulator } from './fixtures/emulator.js'
import { parseConfig } from '../forensics/config.js'
import { asyncInvokeRoutes, resourceNames } from '../forensics/routing.js'
import { LOCAL_DRILL_CONFIG, localDrillConfig } from '../forensics/drill/local-config.js'
import { LocalRuntime, type AsyncHandler } from '../forensics/runtime/local-runtime.js'
import { AwsDestinationSender, destinationDetailType, type Destination } from '../forensics/runtime/destination-sender.js'
import { errorPayload, parseDestinationRecord, type DestinationRecord } from '../forensics/runtime/destination-record.js'
import { provisionEvidenceSide } from '../forensics/runtime/provision-local.js'
import { resolveTopicArn } from '../forensics/siem/topic.js'
import { fakeClient } from './fixtures/fake-client.js'
import { createOnce } from '../forensics/aws/create-once.js'
import { operationOf, startFaultProxy } from '../forensics/local/fault-proxy.js'

const config = parseConfig(LOCAL_DRILL_CONFIG)
const names = resourceNames(config)

t.test('local runtime against the emulator', async (t) => {
  const emulator = await useEmulator(t)
  const settings = emulator.clientConfig()
  const clients = { s3: new S3Client(settings), sqs: new SQSClient(settings), sns: new SNSClient(settings), events: new EventBridgeClient(settings) }
  t.teardown(() => Object.values(clients).forEach((c) => c.destroy()))
  const sender = new AwsDestinationSender(clients)

  const receiveAll = async (queueUrl: string, want = 1): Promise<string[]> => {
    const out: string[] = []
    for (let i = 0; i < 20 && out.length < want; i++) {
      const r = await clients.sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }))
      for (const m of r.Messages ?? []) out.push(m.Body as string)
      if (out.length < want) await new Promise((r) => setTimeout(r, 100))
    }
    return out
  }

  const runtimeWith = (handlers: Record<string, AsyncHandler>, extra: { now?: () => number; retryDelaysMs?: number[] } = {}): LocalRuntime =>
    new LocalRuntime({ routes: asyncInvokeRoutes(config), handlers, sender, region: config.region, accountId: config.forensicsAccountId, retryDelaysMs: extra.retryDelaysMs ?? [20, 40], now: extra.now })

  t.test('a handler that fails twice then succeeds is retried and ends on OnSuccess with approximateInvokeCount 3', async (t) => {
    await provisionEvidenceSide(clients, config)
    let calls = 0
    const seen: number[] = []
    const recorded: DestinationRecord[] = []
    const attemptsAt: number[] = []
    const runtime = runtimeWith({
      'bucket-config': async (event, ctx) => {
        calls++
        attemptsAt.push(Date.now())
        seen.push(ctx.attempt)
        t.same(event, { caseId: 'c1', bucket: 'b' }, 'each attempt gets the original event')
        if (calls < 3) throw new Error(`throttled ${calls}`)
        return { manifestKey: 'cases/c1/captures/x/manifest.json' }
      },
      'custody-recorder': async (event) => {
        recorded.push(parseDestinationRecord(event))
        return { ok: true }
      },
    })
    const { requestId, done } = runtime.invokeAsync('bucket-config', { caseId: 'c1', bucket: 'b' })
    const outcome = await done
    await runtime.idle()
    t.equal(calls, 3)
    t.same(seen, [1, 2, 3])
    t.ok(attemptsAt[1] - attemptsAt[0] >= 15 && attemptsAt[2] - attemptsAt[1] >= 35, 'back-off between attempts grows')
    t.equal(outcome.condition, 'Success')
    t.same(outcome.destination, { type: 'lambda', functionName: names.functions['custody-recorder'] })
    t.equal(recorded.length, 1, 'the custody recorder got the record')
    const r = recorded[0]
    t.same(Object.keys(r).sort(), ['requestContext', 'requestPayload', 'responseContext', 'responsePayload', 'timestamp', 'version'])
    t.match(r, {
      version: '1.0',
      requestContext: { requestId, functionArn: `arn:aws:lambda:us-east-1:123456789012:function:${names.functions['bucket-config']}:$LATEST`, condition: 'Success', approximateInvokeCount: 3 },
      requestPayload: { caseId: 'c1', bucket: 'b' },
      responseContext: { statusCode: 200, executedVersion: '$LATEST' },
      responsePayload: { manifestKey: 'cases/c1/captures/x/manifest.json' },
    })
    t.notOk(r.responseContext && 'functionError' in r.responseContext, 'no functionError on success')
    t.ok(!Number.isNaN(Date.parse(r.timestamp)))
    // the recorder's own success goes to the SIEM bus (routing), and it is recorded too
    const recorderOutcome = runtime.outcomes.find((o) => o.key === 'custody-recorder')
    t.same(recorderOutcome?.destination, { type: 'eventbridge', eventBusName: names.siemEventBus })
    t.notOk(recorderOutcome?.deliveryError)
  })

  t.test('a handler that always fails lands in the OnFailure queue with the error', async (t) => {
    const side = await provisionEvidenceSide(clients, config)
    let calls = 0
    const runtime = runtimeWith({
      'object-versions': async () => {
        calls++
        const e = new Error('bucket no-such-bucket does not exist')
        e.name = 'NoSuchBucket'
        throw e
      },
    })
    const { requestId, done } = runtime.invokeAsync('object-versions', { caseId: 'c2', bucket: 'no-such-bucket' })
    const outcome = await done
    t.equal(calls, 3, 'first attempt + 2 retries')
    t.equal(outcome.condition, 'RetriesExhausted')
    const bodies = await receiveAll(side.deadLetterQueueUrl)
    t.equal(bodies.length, 1)
    const r = JSON.parse(bodies[0]) as DestinationRecord
    t.match(r, {
      version: '1.0',
      requestContext: { requestId, condition: 'RetriesExhausted', approximateInvokeCount: 3 },
      requestPayload: { caseId: 'c2', bucket: 'no-such-bucket' },
      responseContext: { statusCode: 200, executedVersion: '$LATEST', functionError: 'Unhandled' },
      responsePayload: { errorType: 'NoSuchBucket', errorMessage: 'bucket no-such-bucket does not exist' },
    })
    t.ok(Array.isArray((r.responsePayload as { trace: unknown }).trace))
  })

  t.test('an event older than the maximum age is dropped to OnFailure without running', async (t) => {
    const side = await provisionEvidenceSide(clients, config)
    let calls = 0
    const runtime = runtimeWith({
      'cloudtrail-slice': async () => {
        calls++
        return {}
      },
    })
    const maxAgeMs = config.capture.maximumEventAgeInSeconds * 1000
    const { done } = runtime.invokeAsync('cloudtrail-slice', { caseId: 'c3' }, { enqueuedAt: Date.now() - maxAgeMs - 1000 })
    const outcome = await done
    t.equal(calls, 0, 'never ran')
    t.equal(outcome.condition, 'EventAgeExceeded')
    const [body] = await receiveAll(side.deadLetterQueueUrl)
    const r = JSON.parse(body) as DestinationRecord
    t.match(r, { requestContext: { condition: 'EventAgeExceeded', approximateInvokeCount: 0 }, requestPayload: { caseId: 'c3' } })
    t.notOk('responseContext' in r)
    t.notOk('responsePayload' in r)
  })

  t.test('an event that ages out while waiting for a retry goes to OnFailure after the attempts made', async (t) => {
    await provisionEvidenceSide(clients, config)
    let clock = 1_000_000
    let calls = 0
    const runtime = runtimeWith(
      {
        'bucket-config': async () => {
          calls++
          clock += config.capture.maximumEventAgeInSeconds * 1000 + 1 // the attempt took the whole age budget
          throw new Error('slow')
        },
      },
      { now: () => clock },
    )
    const outcome = await runtime.invokeAsync('bucket-config', {}).done
    t.equal(calls, 1)
    t.equal(outcome.condition, 'EventAgeExceeded')
    t.equal(outcome.record.requestContext.approximateInvokeCount, 1)
  })

  t.test('the drill is not retried; destination delivery errors are reported, not thrown', async (t) => {
    // nothing provisioned: the DLQ does not exist
    let calls = 0
    const lines: string[] = []
    const runtime = new LocalRuntime({
      routes: asyncInvokeRoutes(config),
      handlers: {
        drill: async () => {
          calls++
          throw new Error('canary bucket missing')
        },
      },
      sender,
      region: config.region,
      accountId: config.forensicsAccountId,
      log: (l) => lines.push(l),
    })
    const outcome = await runtime.invokeAsync(names.functions.drill, {}).done
    t.equal(calls, 1, 'maximumRetryAttempts 0 for the drill')
    t.equal(outcome.condition, 'RetriesExhausted')
    t.match(outcome.deliveryError, /could not deliver .* sqs forensics-capture-dlq/)
    t.ok(lines.some((l) => l.includes('destination record not delivered')))
  })

  t.test('a function without a handler fails like a broken deployment; unknown functions are refused', async (t) => {
    await provisionEvidenceSide(clients, config)
    const runtime = runtimeWith({}, { retryDelaysMs: [1] })
    const outcome = await runtime.invokeAsync('bucket-config', undefined).done
    t.equal(outcome.condition, 'RetriesExhausted')
    t.match(outcome.record.responsePayload, { errorType: 'ValidationError', errorMessage: /no handler/ })
    t.same(outcome.record.requestPayload, null)
    t.throws(() => runtime.invokeAsync('nope', {}), { name: 'ValidationError', message: /no function "nope"/ })
    await runtime.idle()
    runtime.close()
  })

  t.test('close() cancels pending retries', async (t) => {
    const runtime = runtimeWith({ 'bucket-config': async () => Promise.reject(new Error('x')) }, { retryDelaysMs: [10_000] })
    runtime.invokeAsync('bucket-config', {})
    await new Promise((r) => setTimeout(r, 50))
    runtime.close()
    t.pass('no timer keeps the process alive')
  })

  t.test('destination records reach SNS topics and EventBridge buses in AWS envelopes', async (t) => {
    const side = await provisionEvidenceSide(clients, config)
    const tap = (await clients.sqs.send(new CreateQueueCommand({ QueueName: 'tap' }))).QueueUrl as string
    const tapArn = (await clients.sqs.send(new GetQueueAttributesCommand({ QueueUrl: tap, AttributeNames: ['QueueArn'] }))).Attributes?.QueueArn as string
    await clients.sqs.send(new SetQueueAttributesCommand({ QueueUrl: tap, Attributes: { Policy: JSON.stringify({ Statement: [{ Effect: 'Allow', Principal: '*', Action: 'sqs:SendMessage', Resource: tapArn }] }) } }))
    await clients.sns.send(new SubscribeCommand({ TopicArn: side.alertTopicArn, Protocol: 'sqs', Endpoint: tapArn, Attributes: { RawMessageDelivery: 'true' } }))
    await clients.events.send(new PutRuleCommand({ Name: 'all-lambda', EventBusName: names.siemEventBus, EventPattern: JSON.stringify({ source: ['lambda'] }) }))
    await clients.events.send(new PutTargetsCommand({ Rule: 'all-lambda', EventBusName: names.siemEventBus, Targets: [{ Id: 'tap', Arn: tapArn }] }))

    const record: DestinationRecord = {
      version: '1.0',
      timestamp: new Date().toISOString(),
      requestContext: { requestId: 'r-1', functionArn: 'arn:aws:lambda:us-east-1:123456789012:function:f:$LATEST', condition: 'RetriesExhausted', approximateInvokeCount: 3 },
      requestPayload: { a: 1 },
      responseContext: { statusCode: 200, executedVersion: '$LATEST', functionError: 'Unhandled' },
      responsePayload: errorPayload(new Error('boom')),
    }
    await sender.send({ type: 'sns', topicName: names.alertTopic }, record)
    await sender.send({ type: 'sns', topicName: names.alertTopic }, record) // cached ARN
    await sender.send({ type: 'eventbridge', eventBusName: names.siemEventBus }, record)
    const bodies = await receiveAll(tap, 3)
    t.equal(bodies.length, 3)
    const docs = bodies.map((b) => JSON.parse(b))
    const viaBus = docs.find((d) => d['detail-type'])
    t.match(viaBus, { source: 'lambda', 'detail-type': 'Lambda Function Invocation Result - Failure', detail: { requestContext: { requestId: 'r-1' } } })
    t.same(parseDestinationRecord(viaBus), record, 'an EventBridge envelope parses back to the record')
    t.same(docs.filter((d) => !d['detail-type']), [record, record], 'SNS raw delivery carries the record')
    t.same(parseDestinationRecord({ Message: JSON.stringify(record) }), record, 'SNS envelope')
    t.same(parseDestinationRecord({ body: JSON.stringify(record) }), record, 'SQS envelope')
    t.equal(destinationDetailType({ ...record, requestContext: { ...record.requestContext, condition: 'Success' } }), 'Lambda Function Invocation Result - Success')
    await t.rejects(sender.send({ type: 'sns', topicName: 'missing-topic' }, record), { name: 'StorageError', message: /missing-topic/ })
    await t.rejects(sender.send({ type: 'eventbridge', eventBusName: 'missing-bus' }, record), { name: 'StorageError' })
    t.equal(await resolveTopicArn(clients.sns, side.siemTopicArn), side.siemTopicArn, 'an ARN is taken as is')
    await provisionEvidenceSide(clients, config) // idempotent
  })

  t.test('provisioning counts a create whose response was lost as done; a name owned by someone else stays an error', async (t) => {
    // each bucket and bus create loses its first response after the emulator made the resource
    const seen = new Set<string>()
    const proxy = await startFaultProxy({
      target: emulator.endpoint,
      faults: { lostResponse: 1 },
      eligible: (r) => {
        const call = `${operationOf(r)} ${r.headers.host} ${r.url} ${r.headers['x-amz-target'] ?? ''}`
        if (!/^(PutBucket|CreateEventBus) /.test(call) || seen.has(call)) return false
        return seen.add(call) !== undefined
      },
    })
    const cfg = { ...settings, endpoint: proxy.endpoint }
    const through = { s3: new S3Client(cfg), sqs: new SQSClient(cfg), sns: new SNSClient(cfg), events: new EventBridgeClient(cfg) }
    t.teardown(async () => {
      Object.values(through).forEach((c) => c.destroy())
      await proxy.close()
    })
    const side = await provisionEvidenceSide(through, config)
    t.equal(proxy.stats.faults.lostResponse, 4, 'evidence, archive and canary buckets and the SIEM bus each lost a response')
    const lock = await clients.s3.send(new GetObjectLockConfigurationCommand({ Bucket: names.evidenceBucket }))
    t.match(lock.ObjectLockConfiguration?.Rule?.DefaultRetention, { Mode: config.evidence.mode, Days: config.evidence.retentionDays }, 'the evidence bucket was still locked')
    t.equal((await clients.s3.send(new GetBucketVersioningCommand({ Bucket: side.canaryBucket }))).Status, 'Enabled', 'the canary was still versioned')
    t.equal(await createOnce(() => Promise.reject(Object.assign(new Error('exists'), { name: 'ResourceAlreadyExistsException' }))), undefined)
    await t.rejects(createOnce(() => Promise.reject(Object.assign(new Error('taken'), { name: 'BucketAlreadyExists' }))), { name: 'BucketAlreadyExists' }, 'a bucket name someone else owns is refused')
  })
})

t.test('parseDestinationRecord names what is wrong', async (t) => {
  const ok = { version: '1.0', timestamp: 't', requestContext: { requestId: 'r', functionArn: 'a', condition: 'Success', approximateInvokeCount: 1 }, requestPayload: {} }
  t.same(parseDestinationRecord(ok), ok)
  t.throws(() => parseDestinationRecord('x'), { name: 'ValidationError', field: '(root)' })
  t.throws(() => parseDestinationRecord({ body: 'not json' }), { name: 'ValidationError', field: '(root)' })
  t.throws(() => parseDestinationRecord({ ...ok, version: '2' }), { name: 'ValidationError', field: 'version' })
  t.throws(() => parseDestinationRecord({ ...ok, timestamp: 1 }), { name: 'ValidationError', field: 'timestamp' })
  t.throws(() => parseDestinationRecord({ ...ok, requestContext: undefined }), { name: 'ValidationError', field: 'requestContext' })
  t.throws(() => parseDestinationRecord({ ...ok, requestContext: { ...ok.requestContext, requestId: '' } }), { name: 'ValidationError', field: 'requestContext.requestId' })
  t.throws(() => parseDestinationRecord({ ...ok, requestContext: { ...ok.requestContext, functionArn: 1 } }), { name: 'ValidationError', field: 'requestContext.functionArn' })
  t.throws(() => parseDestinationRecord({ ...ok, requestContext: { ...ok.requestContext, condition: 'Maybe' } }), { name: 'ValidationError', field: 'requestContext.condition' })
  t.throws(() => parseDestinationRecord({ ...ok, requestContext: { ...ok.requestContext, approximateInvokeCount: '1' } }), { name: 'ValidationError', field: 'requestContext.approximateInvokeCount' })
  const { requestPayload: _p, ...noPayload } = ok
  t.throws(() => parseDestinationRecord(noPayload), { name: 'ValidationError', field: 'requestPayload' })
  t.match(errorPayload('plain'), { errorType: 'Error', errorMessage: 'plain' })
})

t.test('errorPayload of odd throwables', async (t) => {
  const nameless = new Error('no name')
  nameless.name = ''
  t.match(errorPayload(nameless), { errorType: 'Error', errorMessage: 'no name' })
  const noStack = new TypeError('flat')
  noStack.stack = undefined
  t.same(errorPayload(noStack), { errorType: 'TypeError', errorMessage: 'flat', trace: [] })
})

t.test('an EventBridge destination that rejects the entry without a message fails naming the request and the bus', async (t) => {
  const record: DestinationRecord = { version: '1.0', timestamp: 't', requestContext: { requestId: 'req-1', functionArn: 'arn:aws:lambda:eu-west-1:1:function:f:$LATEST', condition: 'Success', approximateInvokeCount: 1 }, requestPayload: {} }
  const events = fakeClient<EventBridgeClient>({ PutEventsCommand: () => ({ FailedEntryCount: 1, Entries: [{}] }) })
  const sender = new AwsDestinationSender({ events, sns: fakeClient<SNSClient>({}), sqs: fakeClient<SQSClient>({}) })
  await t.rejects(sender.send({ type: 'eventbridge', eventBusName: 'bus' }, record), { name: 'StorageError', message: /req-1 to eventbridge bus: PutEvents rejected the entry/ })
  t.match(events.calls[0].input.Entries, [{ Resources: ['arn:aws:lambda:eu-west-1:1:function:f'], DetailType: 'Lambda Function Invocation Result - Success' }])
})

t.test('local runtime results with a stand-in destination sender', async (t) => {
  const routes = asyncInvokeRoutes(config)
  const sent: { destination: Destination; record: DestinationRecord }[] = []
  const sender = { send: async (destination: Destination, record: DestinationRecord) => void sent.push({ destination, record }) }
  const runtimeWith = (handlers: ConstructorParameters<typeof LocalRuntime>[0]['handlers'], opts: { retryDelaysMs?: number[]; log?: (l: string) => void } = {}): LocalRuntime => {
    const rt = new LocalRuntime({ routes, handlers, sender, region: config.region, accountId: config.forensicsAccountId, ...opts })
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
      { retryDelaysMs: [] },
    )
    const o = await rt.invokeAsync('custody-recorder', {}).done
    t.equal(o.condition, 'RetriesExhausted')
    t.equal(calls, config.capture.maximumRetryAttempts + 1)
    t.match(o.record.responsePayload, { errorType: 'Error', errorMessage: 'handler threw undefined' })
    t.equal(o.record.requestContext.approximateInvokeCount, calls)
  })

  t.test('without retry delays set, the first retry is scheduled a second later', async (t) => {
    const lines: string[] = []
    let calls = 0
    const rt = runtimeWith(
      {
        'custody-recorder': async () => {
          calls++
          throw new Error('first attempt fails')
        },
      },
      { log: (l) => lines.push(l) },
    )
    rt.invokeAsync('custody-recorder', {})
    for (let i = 0; i < 100 && lines.length === 0; i++) await new Promise((r) => setTimeout(r, 5))
    rt.close()
    t.match(lines, [/: attempt 1 failed \(Error: first attempt fails\); retrying in 1000 ms$/])
    t.equal(calls, 1, 'the retry is not run early')
  })
})

t.test('localDrillConfig: FORENSICS_CONFIG, forensics.config.json, or the built-in config', async (t) => {
  const dir = t.testdir({ 'forensics.config.json': JSON.stringify({ ...LOCAL_DRILL_CONFIG, name: 'fromfile' }), 'other.json': JSON.stringify({ ...LOCAL_DRILL_CONFIG, name: 'fromenv' }) })
  t.equal(localDrillConfig(dir, {}).config.name, 'fromfile')
  t.equal(localDrillConfig(dir, { FORENSICS_CONFIG: `${dir}/other.json` }).config.name, 'fromenv')
  const empty = t.testdir({})
  t.match(localDrillConfig(empty, {}), { config: { name: 'forensics' }, source: /built-in/ })
})
