import t from 'tap'
import { join } from 'node:path'
import { SQSClient, CreateQueueCommand, GetQueueAttributesCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs'
import { SNSClient, CreateTopicCommand, SubscribeCommand } from '@aws-sdk/client-sns'
import { EventBridgeClient, CreateEventBusCommand, PutRuleCommand, PutTargetsCommand } from '@aws-sdk/client-eventbridge'
import { useEmulator } from './fixtures/emulator.js'
import { lockedStore } from './fixtures/evidence.js'
import { LocalSigner } from '../forensics/signer.js'
import { runCapture } from '../forensics/capture.js'
import { CustodyChain } from '../forensics/custody.js'
import { canonicalBytes } from '../forensics/canonical-json.js'
import { sha256Hex } from '../forensics/hash.js'
import { committedCaptureOf, createCustodyRecorder, handler } from '../collectors/custody-recorder.js'
import { AwsSiemPublisher, MemorySiemPublisher } from '../forensics/siem/siem-publisher.js'
import { FINDING_SCHEMA, toSiemFinding } from '../forensics/siem/siem-finding.js'
import type { DestinationRecord } from '../forensics/runtime/destination-record.js'
import type { Manifest } from '../forensics/manifest.js'

const record = (responsePayload: unknown, over: Partial<DestinationRecord['requestContext']> = {}): DestinationRecord => ({
  version: '1.0',
  timestamp: '2026-11-29T10:00:00.000Z',
  requestContext: { requestId: 'req-1', functionArn: 'arn:aws:lambda:us-east-1:123456789012:function:forensics-bucket-config:$LATEST', condition: 'Success', approximateInvokeCount: 1, ...over },
  requestPayload: { caseId: 'case-1', bucket: 'victim' },
  responseContext: { statusCode: 200, executedVersion: '$LATEST' },
  responsePayload,
})

// first: once a set-up succeeded the entry point keeps it for the life of the process
t.test('the Lambda entry point fails without its environment, and tries again next time', async (t) => {
  const saved = { ...process.env }
  t.teardown(() => {
    process.env = saved
  })
  delete process.env.FORENSICS_EVIDENCE_BUCKET
  process.env.AWS_REGION = 'eu-west-1'
  await t.rejects(handler({}), { name: 'ValidationError', field: 'FORENSICS_EVIDENCE_BUCKET' })
  await t.rejects(handler({}), { name: 'ValidationError', field: 'FORENSICS_EVIDENCE_BUCKET' }, 'a failed set-up is not cached')
})

t.test('custody recorder on the emulator', async (t) => {
  const emulator = await useEmulator(t)
  const dir = t.testdir({})
  const { signer } = LocalSigner.fromFile(join(dir, 'key.pem'), { create: true })

  const commit = async (store: Awaited<ReturnType<typeof lockedStore>>['store'], triggerId = 'evt-1') =>
    runCapture({ store, signer }, { caseId: 'case-1', collector: { name: 'bucket-config', version: '1.0.0' }, trigger: { source: 'test', id: triggerId }, target: { bucket: 'victim', account: '123456789012', region: 'us-east-1' } }, async (ctx) => {
      await ctx.addArtifact('policy.json', Buffer.from('{"Statement":[]}'), { contentType: 'application/json' })
      ctx.findings.push({ type: 'public-grant-added', severity: 'high', title: 'policy now grants Principal * s3:GetObject', resource: 'arn:aws:s3:::victim', detail: { action: 's3:GetObject' } })
      ctx.findings.push({ type: 'versioning-suspended', severity: 'medium', title: 'versioning suspended' })
    })

  t.test('a redelivered destination record adds no second custody entry', async (t) => {
    const { store } = await lockedStore(emulator)
    const siem = new MemorySiemPublisher()
    const recorder = createCustodyRecorder({ store, signer, siem, principalArn: 'arn:aws:iam::123456789012:role/forensics-custody-recorder' })
    const c = await commit(store)
    const payload = { caseId: c.manifest.caseId, captureId: c.manifest.captureId, manifestKey: c.manifestKey, manifestSha256: c.manifestSha256 }

    const first = await recorder(record(payload))
    const again = await recorder(record(payload, { requestId: 'req-1' }))
    const viaSqsEnvelope = await recorder({ body: JSON.stringify(record(payload)) })

    t.match(first, { kind: 'capture', caseId: 'case-1', captureId: c.manifest.captureId, custody: { seq: 0, created: true }, published: 3 })
    t.match(again, { kind: 'capture', custody: { seq: 0, created: false } })
    t.match(viaSqsEnvelope, { custody: { seq: 0, created: false } })
    const chain = new CustodyChain(store, signer, 'case-1')
    const entries = await chain.read()
    t.equal(entries.length, 1, 'exactly one custody entry')
    t.match(entries[0], {
      action: 'captured',
      actor: { tool: 'custody-recorder/1.0.0', requestId: 'req-1', principalArn: 'arn:aws:iam::123456789012:role/forensics-custody-recorder' },
      subject: { key: c.manifestKey, versionId: c.manifestVersionId, sha256: c.manifestSha256, captureId: c.manifest.captureId },
    })
    t.same(await chain.verify(), [], 'chain verifies')

    // republished with the same ids, so a SIEM can de-duplicate
    t.equal(siem.messages.length, 9)
    const uids = siem.messages.filter((m) => m.kind === 'finding').map((m) => (m.document as { finding_info: { uid: string } }).finding_info.uid)
    t.equal(new Set(uids).size, 2)
    const summary = siem.messages[0]
    t.match(summary, { kind: 'capture-summary', document: { schema: 'forensics.capture-summary/v1', caseId: 'case-1', status: 'complete', artifacts: 1, findings: 2, manifest: { manifestKey: c.manifestKey, manifestSha256: c.manifestSha256 }, custody: { seq: 0, created: true }, invocation: { requestId: 'req-1', approximateInvokeCount: 1 } } })
  })

  t.test('summary and OCSF findings reach the SIEM bus and topic', async (t) => {
    const { store } = await lockedStore(emulator)
    const settings = emulator.clientConfig()
    const sqs = new SQSClient(settings)
    const sns = new SNSClient(settings)
    const events = new EventBridgeClient(settings)
    t.teardown(() => [sqs, sns, events].forEach((c) => c.destroy()))
    const queue = async (name: string) => {
      const url = (await sqs.send(new CreateQueueCommand({ QueueName: name }))).QueueUrl as string
      const arn = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['QueueArn'] }))).Attributes?.QueueArn as string
      return { url, arn }
    }
    const topicArn = (await sns.send(new CreateTopicCommand({ Name: 'forensics-siem' }))).TopicArn as string
    await events.send(new CreateEventBusCommand({ Name: 'forensics-siem' }))
    const fromTopic = await queue('from-topic')
    const fromBus = await queue('from-bus')
    await sns.send(new SubscribeCommand({ TopicArn: topicArn, Protocol: 'sqs', Endpoint: fromTopic.arn, Attributes: { RawMessageDelivery: 'true' } }))
    await events.send(new PutRuleCommand({ Name: 'all', EventBusName: 'forensics-siem', EventPattern: JSON.stringify({ source: ['cdktf-forensics'] }) }))
    await events.send(new PutTargetsCommand({ Rule: 'all', EventBusName: 'forensics-siem', Targets: [{ Id: 'q', Arn: fromBus.arn }] }))

    const siem = new AwsSiemPublisher({ events, sns, eventBusName: 'forensics-siem', topic: 'forensics-siem' })
    const recorder = createCustodyRecorder({ store, signer, siem })
    const c = await commit(store)
    await recorder(record({ manifestKey: c.manifestKey }))

    const drain = async (url: string, want: number): Promise<unknown[]> => {
      const out: unknown[] = []
      for (let i = 0; i < 30 && out.length < want; i++) {
        const r = await sqs.send(new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10 }))
        for (const m of r.Messages ?? []) out.push(JSON.parse(m.Body as string))
        if (out.length < want) await new Promise((r) => setTimeout(r, 100))
      }
      return out
    }
    const topicDocs = (await drain(fromTopic.url, 3)) as Record<string, unknown>[]
    t.equal(topicDocs.length, 3)
    const grant = topicDocs.find((d) => d.schema === FINDING_SCHEMA && (d.finding_info as { types: string[] }).types[0] === 'public-grant-added')
    t.match(grant, {
      class_uid: 2004,
      class_name: 'Detection Finding',
      category_uid: 2,
      activity_id: 1,
      type_uid: 200401,
      severity_id: 4,
      severity: 'High',
      status_id: 1,
      message: 'policy now grants Principal * s3:GetObject',
      finding_info: { title: 'policy now grants Principal * s3:GetObject', types: ['public-grant-added'], analytic: { name: 'public-grant-added' } },
      resources: [{ uid: 'arn:aws:s3:::victim', name: 'victim', type: 'AWS::S3::Bucket' }],
      cloud: { provider: 'AWS', region: 'us-east-1', account: { uid: '123456789012' } },
      metadata: { version: '1.1.0', product: { name: 'cdktf-forensics' }, correlation_uid: 'case-1' },
      unmapped: { forensics: { caseId: 'case-1', collector: 'bucket-config', findingType: 'public-grant-added', manifest: { manifestKey: c.manifestKey, manifestSha256: c.manifestSha256 }, detail: { action: 's3:GetObject' } } },
    })
    t.equal(typeof grant?.time, 'number')
    const busDocs = (await drain(fromBus.url, 3)) as Record<string, unknown>[]
    t.equal(busDocs.length, 3)
    t.same(busDocs.map((d) => d['detail-type']).sort(), ['Forensics Capture Committed', 'Forensics Finding', 'Forensics Finding'])
    t.ok(busDocs.every((d) => d.source === 'cdktf-forensics'))
    await siem.publish([]) // nothing to do
    const broken = new AwsSiemPublisher({ events, sns, eventBusName: 'no-such-bus', topic: topicArn })
    await t.rejects(broken.publish([{ kind: 'finding', subject: 's', document: {} }]), { name: 'StorageError', message: /no-such-bus/ })
  })

  t.test('refuses what it must not seal', async (t) => {
    const { store } = await lockedStore(emulator)
    const recorder = createCustodyRecorder({ store, signer, siem: new MemorySiemPublisher() })
    const c = await commit(store)
    await t.rejects(recorder(record({ manifestKey: c.manifestKey }, { condition: 'RetriesExhausted' })), { name: 'ValidationError', message: /only takes OnSuccess/ })
    await t.rejects(recorder(record({ hello: 1 })), { name: 'ValidationError', message: /names no committed manifest/ })
    await t.rejects(recorder(record({ manifestKey: 'cases/case-1/captures/bucket-config-00000000000000000000/manifest.json' })), { name: 'ValidationError', message: /was never committed/ })
    await t.rejects(recorder(record({ manifestKey: c.manifestKey, manifestSha256: '0'.repeat(64) })), { name: 'IntegrityError', message: /differs/ })
    await t.rejects(recorder({ nope: true }), { name: 'ValidationError' })
    await t.rejects(recorder(record({ status: 'pending', caseId: 'case-1' })), { name: 'ValidationError', message: /names no committed manifest/ })
    // a fanned-out capture is sealed later by its last fan-out worker: acknowledged, not retried
    t.same(await recorder(record({ ok: true, status: 'pending', caseId: 'case-1', captureId: 'object-versions-0123456789abcdef0123', created: false })), { kind: 'pending', caseId: 'case-1', captureId: 'object-versions-0123456789abcdef0123' })
    t.same(await new CustodyChain(store, signer, 'case-1').read(), [], 'nothing appended')
  })

  t.test('a drill result appends one drill entry for its report', async (t) => {
    const { store } = await lockedStore(emulator)
    const recorder = createCustodyRecorder({ store, signer, siem: new MemorySiemPublisher() })
    const bytes = canonicalBytes({ schema: 'forensics.drill/v1' })
    const put = await store.put({ key: 'drills/drill-1/report.json', body: bytes })
    const result = { schema: 'forensics.drill-result/v1', drillId: 'drill-1', caseId: 'drill-1', passed: true, failed: [], reportKey: put.key, reportVersionId: put.versionId, reportSha256: sha256Hex(bytes) }
    const a = await recorder(record(result))
    const b = await recorder(record(result))
    t.match(a, { kind: 'drill', caseId: 'drill-1', reportKey: 'drills/drill-1/report.json', custody: { seq: 0, created: true } })
    t.match(b, { custody: { seq: 0, created: false } })
    const [entry] = await new CustodyChain(store, signer, 'drill-1').read()
    t.match(entry, { action: 'drill', subject: { key: put.key, versionId: put.versionId, sha256: sha256Hex(bytes) } })
    await t.rejects(recorder(record({ ...result, reportKey: 'drills/missing/report.json', reportVersionId: undefined })), { name: 'ValidationError', message: /does not exist/ })
  })

  t.test('a drill result without hash or version seals the stored version; a malformed one is refused', async (t) => {
    const { store } = await lockedStore(emulator, { bucket: 'recorder-evidence' })
    const put = await store.put({ key: 'drills/rec-case/report.json', body: Buffer.from('{}') })
    const recorder = createCustodyRecorder({ store, signer, siem: new MemorySiemPublisher() })
    const drill = (payload: unknown): DestinationRecord => ({ ...record(payload), requestContext: { ...record(payload).requestContext, requestId: 'req-9', functionArn: 'arn:aws:lambda:eu-west-1:1:function:drill:$LATEST' } })
    const r = await recorder(drill({ schema: 'forensics.drill-result/v1', caseId: 'rec-case', reportKey: 'drills/rec-case/report.json' }))
    t.match(r, { kind: 'drill', caseId: 'rec-case', custody: { seq: 0, created: true } })
    const [entry] = await new CustodyChain(store, signer, 'rec-case').read()
    t.same(entry.subject, { key: 'drills/rec-case/report.json', versionId: put.versionId }, 'the stored version, no hash claimed')
    await t.rejects(recorder(drill({ schema: 'forensics.drill-result/v1', caseId: 7, reportKey: 'drills/x/report.json' })), { name: 'ValidationError', message: /names no committed manifest/ })
    await t.rejects(recorder(drill({ schema: 'forensics.drill-result/v1', caseId: 'rec-case', reportKey: 'drills/none/report.json', reportSha256: 'ab', reportVersionId: 'v' })), { name: 'ValidationError', message: /drill report s3:\/\/recorder-evidence\/drills\/none\/report\.json does not exist/ })
  })

  t.test('the Lambda handler builds its dependencies from the environment', async (t) => {
    const { store } = await lockedStore(emulator, { bucket: 'env-evidence' })
    const c = await commit(store, 'evt-env')
    const settings = emulator.clientConfig()
    const sns = new SNSClient(settings)
    const events = new EventBridgeClient(settings)
    t.teardown(() => [sns, events].forEach((x) => x.destroy()))
    const topicArn = (await sns.send(new CreateTopicCommand({ Name: 'env-siem' }))).TopicArn as string
    await events.send(new CreateEventBusCommand({ Name: 'env-siem' }))
    const saved = { ...process.env }
    t.teardown(() => {
      process.env = saved
    })
    Object.assign(process.env, emulator.env(), {
      FORENSICS_EVIDENCE_BUCKET: 'env-evidence',
      FORENSICS_SIGNING_KEY: `file:${join(dir, 'key.pem')}`,
      FORENSICS_SIEM_EVENT_BUS: 'env-siem',
      FORENSICS_SIEM_TOPIC_ARN: topicArn,
    })
    const out = await handler(record({ manifestKey: c.manifestKey }))
    t.match(out, { kind: 'capture', custody: { seq: 0, created: true }, published: 3 })
  })
})

t.test('committedCaptureOf reads what capture functions return', async (t) => {
  const key = 'cases/c/captures/bucket-config-0123456789abcdef0123/manifest.json'
  t.same(committedCaptureOf({ manifestKey: key, manifestSha256: 'ab' }), { caseId: 'c', captureId: 'bucket-config-0123456789abcdef0123', manifestKey: key, manifestSha256: 'ab' })
  t.match(committedCaptureOf({ capture: { manifestKey: key } }), { caseId: 'c' })
  t.match(committedCaptureOf({ manifest: { caseId: 'c', captureId: 'x-0123456789abcdef0123' } }), { manifestKey: 'cases/c/captures/x-0123456789abcdef0123/manifest.json' })
  t.equal(committedCaptureOf({ manifestKey: 'drills/x/report.json' }), undefined)
  t.equal(committedCaptureOf('x'), undefined)
  t.equal(committedCaptureOf({}), undefined)
})

t.test('toSiemFinding maps severities and resources', async (t) => {
  const manifest = { caseId: 'c', captureId: 'k-0123456789abcdef0123', collector: { name: 'k', version: '1' }, endedAt: '2026-11-29T10:00:00.000Z', target: {} } as unknown as Manifest
  const ref = { manifestKey: 'm', manifestVersionId: 'v', manifestSha256: 's' }
  const f = toSiemFinding({ type: 't', severity: 'critical', title: 'x' }, 0, manifest, ref)
  t.match(f, { severity_id: 5, resources: [{ uid: 'c', name: 'c', type: 'Other' }], cloud: { provider: 'AWS' } })
  t.notOk('detail' in f.unmapped.forensics)
  t.match(toSiemFinding({ type: 't', severity: 'info', title: 'x', resource: 'some-bucket' }, 1, { ...manifest, target: { bucket: 'some-bucket' } }, ref), { severity_id: 1, resources: [{ uid: 'arn:aws:s3:::some-bucket', type: 'AWS::S3::Bucket' }] })
  t.match(toSiemFinding({ type: 't', severity: 'bogus' as 'low', title: 'x' }, 2, manifest, ref), { severity_id: 1 })
  t.match(toSiemFinding({ type: 't', severity: 'low', title: 'x', resource: 'arn:aws:iam::1:role/r' }, 3, manifest, ref), { severity_id: 2, resources: [{ uid: 'arn:aws:iam::1:role/r', type: 'Other' }] })
})
