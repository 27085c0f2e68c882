/**
 * A whole drill run (forensics/drill/run-drill.ts) and the drill Lambda handler
 * (collectors/drill.ts) on stand-in queues, invoker and canary whose collectors never seal
 * anything: the report fails the right checks and is stored. The drill with every real
 * handler runs in drill.test.ts.
 */
import t from 'tap'
import type { S3Client } from '@aws-sdk/client-s3'
import type { SQSClient } from '@aws-sdk/client-sqs'
import type { SNSClient } from '@aws-sdk/client-sns'
import type { DrillReport } from '../forensics/drill/drill-report.js'
import { CustodyChain } from '../forensics/custody.js'
import { runDrill, type DrillDeps } from '../forensics/drill/run-drill.js'
import type { AsyncInvoker } from '../forensics/drill/invoker.js'
import type { IntegrityError } from '../forensics/errors.js'
import { createDrillHandler } from '../collectors/drill.js'
import { MemoryStore } from './fixtures/memory-store.js'
import { awsError, fakeClient } from './fixtures/fake-client.js'
import { testSignerWithPem } from './fixtures/bundle-case.js'

const store = new MemoryStore()
const { signer } = testSignerWithPem()

/** Deps whose collectors never seal anything; only the failing capture reaches the DLQ. */
function deps(over: Partial<DrillDeps> = {}): { deps: DrillDeps; invoked: { key: string; payload: unknown }[] } {
  let n = 0
  const s3 = fakeClient<S3Client>({
    PutObjectCommand: () => ({ VersionId: `v${++n}` }),
    DeleteObjectCommand: (i) => (i.VersionId ? {} : { VersionId: `dm${++n}` }),
    GetBucketPolicyCommand: () => {
      throw awsError('NoSuchBucketPolicy', 404)
    },
    PutBucketPolicyCommand: () => ({}),
    DeleteBucketPolicyCommand: () => ({}),
  })
  const dead: { Body: string; ReceiptHandle: string }[] = []
  const sqs = fakeClient<SQSClient>({
    CreateQueueCommand: () => ({ QueueUrl: 'https://q/probe' }),
    GetQueueAttributesCommand: () => ({ Attributes: { QueueArn: 'arn:aws:sqs:eu-west-1:1:probe' } }),
    SetQueueAttributesCommand: () => ({}),
    ReceiveMessageCommand: (i) => ({ Messages: i.QueueUrl === 'https://q/dlq' ? dead.splice(0) : [] }),
    DeleteMessageCommand: () => ({}),
    ChangeMessageVisibilityCommand: () => ({}),
    DeleteQueueCommand: () => ({}),
  })
  const sns = fakeClient<SNSClient>({ SubscribeCommand: () => ({ SubscriptionArn: 'arn:sub' }), UnsubscribeCommand: () => ({}) })
  const invoked: { key: string; payload: unknown }[] = []
  const invoker: AsyncInvoker = {
    async invokeAsync(key, payload) {
      invoked.push({ key, payload })
      const text = JSON.stringify(payload)
      if (text.includes(':bad-bucket')) {
        dead.push({
          Body: JSON.stringify({ version: '1.0', timestamp: 't', requestContext: { requestId: 'r', functionArn: 'arn:f', condition: 'RetriesExhausted', approximateInvokeCount: 3 }, requestPayload: payload, responsePayload: { errorType: 'ValidationError', errorMessage: 'bad' } }),
          ReceiptHandle: 'dl',
        })
      }
      if (key === 'object-versions') {
        // a custody entry naming a capture that was never committed is skipped
        const caseId = (payload as { caseId: string }).caseId
        await new CustodyChain(store, signer, caseId).append({ action: 'captured', actor: { tool: 'test' }, subject: { captureId: 'ghost-00000000000000000000' } })
      }
      // the baseline never settles; the incident captures all end on OnFailure
      return { requestId: `req-${invoked.length}`, ...(text.includes(':baseline') ? {} : { settled: Promise.resolve(false) }) }
    },
  }
  return {
    invoked,
    deps: {
      mode: 'deployed',
      store,
      signer,
      s3,
      sqs,
      sns,
      invoker,
      canaryBucket: 'canary',
      siemTopicArn: 'arn:aws:sns:eu-west-1:1:siem',
      deadLetterQueueUrl: 'https://q/dlq',
      bundles: { buildAndVerify: async () => ({ path: '/b.zip', sha256: '', files: 0, findings: ['nothing to bundle'] }) },
      ...over,
    },
  }
}
const fast = { captureTimeoutMs: 30, siemTimeoutMs: 10, pollMs: 5 }

t.test('nothing sealed: the report fails the capture checks, has no timings or bundle, and is stored', async (t) => {
  const { deps: d, invoked } = deps()
  const { report, result } = await runDrill(d, { ...fast, drillId: 'drill-fake-1' })
  t.same(invoked.map((i) => i.key), ['bucket-config', 'bucket-config', 'object-versions', 'cloudtrail-slice', 'bucket-config'])
  t.notOk('archive' in (invoked[3].payload as object), 'no trail archive named')
  t.same(report.captures, [], 'the ghost custody entry is skipped')
  t.equal(report.timeToEvidenceMs, undefined)
  t.equal(report.timeToCustodyMs, undefined)
  t.equal(report.bundle, undefined)
  t.equal(report.mode, 'deployed')
  t.equal(report.passed, false)
  t.same(result.failed, ['captures-committed', 'cloudtrail-slice-provable', 'evidence-delete-refused', 'bundle-builds-and-verifies', 'siem-public-grant-finding'])
  t.match(report.checks.find((c) => c.name === 'failure-reached-dlq'), { verdict: 'pass', summary: 'RetriesExhausted after 3 attempt(s): ValidationError' })
  t.same(report.cleanup, { ok: true, detail: ['removed the public-read bucket policy', 'deleted 4 canary object version(s) under drill/drill-fake-1/'] })
  const stored = JSON.parse((await store.getBytes(result.reportKey, result.reportVersionId)).bytes.toString('utf8')) as DrillReport
  t.equal(stored.drillId, 'drill-fake-1')
  t.equal(stored.passed, false)
})

t.test('the handler: a failed drill throws an IntegrityError naming the checks after onOutcome saw it', async (t) => {
  const { deps: d } = deps()
  const lines: string[] = []
  const seen: DrillReport[] = []
  const handle = createDrillHandler(async () => ({ ...d, log: (l) => lines.push(l) }), { ...fast, onOutcome: (o) => seen.push(o.report) })
  const err = await handle({ drillId: 'drill-fake-2', canaryBucket: 'other-canary' }).then(
    () => undefined,
    (e: unknown) => e as IntegrityError,
  )
  t.equal(err?.name, 'IntegrityError')
  t.match(err?.message, /^drill drill-fake-2 failed 5 check\(s\): captures-committed, cloudtrail-slice-provable, evidence-delete-refused, bundle-builds-and-verifies, siem-public-grant-finding; report s3:\/\/memory-evidence\/drills\/drill-fake-2\/report\.json$/)
  t.match(err?.findings, [/^captures-committed: no sealed capture from bucket-config, object-versions, cloudtrail-slice$/, 'cloudtrail-slice-provable: no CloudTrail slice capture of the incident', 'evidence-delete-refused: no evidence object to try deleting', /^bundle-builds-and-verifies: /, /^siem-public-grant-finding: /])
  t.equal(seen[0]?.canaryBucket, 'other-canary', 'the event names the canary bucket')
  t.ok(lines.includes('baseline bucket-config capture not sealed in time; continuing'))
  await t.rejects(handle({ drillId: '../escape' }), { name: 'ValidationError' }, 'an invalid drill id is refused before anything runs')
})

t.test('the handler runs a drill for any event, with a fresh drill id', async (t) => {
  const { deps: d } = deps()
  const seen: DrillReport[] = []
  const handle = createDrillHandler(async () => d, { ...fast, onOutcome: (o) => seen.push(o.report) })
  await t.rejects(handle('scheduled'), { name: 'IntegrityError' })
  t.match(seen[0]?.drillId, /^drill-\d{8}T\d{6}Z-[0-9a-f]{6}$/)
  t.equal(seen[0]?.canaryBucket, 'canary')
})

t.test('the inspection phase: the EICAR upload is inspected through the invoker; nothing routed fails both checks by name', async (t) => {
  const config = { buckets: [{ bucket: 'canary', prefixes: ['drill/'], account: '111111111111' }], caseIdTemplate: 'inspection-{bucket}-{date}' }
  const { deps: d, invoked } = deps({ inspection: { config, account: '111111111111', region: 'eu-west-1' } })
  const lines: string[] = []
  const { report, result } = await runDrill({ ...d, log: (l) => lines.push(l), now: () => new Date('2026-03-04T05:06:07Z') }, { ...fast, inspectionTimeoutMs: 30, drillId: 'drill-fake-3' })
  const call = invoked.find((i) => i.key === 'inspector')
  t.match(call?.payload, { 'detail-type': 'Object Created', source: 'aws.s3', id: 'drill-fake-3-inspection', account: '111111111111', region: 'eu-west-1', detail: { bucket: { name: 'canary' }, object: { key: 'drill/drill-fake-3/inspection/eicar-test.txt', size: 68, 'version-id': /^v\d+$/ } } })
  t.ok(result.failed.includes('inspection-hit-routed') && result.failed.includes('inspection-hit-captured'))
  t.match(report.checks.find((c) => c.name === 'inspection-hit-routed'), { verdict: 'fail', summary: 'no inspection finding for s3://canary/drill/drill-fake-3/inspection/eicar-test.txt arrived on the SIEM topic' })
  t.match(report.checks.find((c) => c.name === 'inspection-hit-captured'), { verdict: 'fail', summary: 'no committed capture of s3://canary/drill/drill-fake-3/inspection/eicar-test.txt in case inspection-canary-2026-03-04' })
  t.ok(lines.some((l) => /^inspection phase: uploaded s3:\/\/canary\/drill\/drill-fake-3\/inspection\/eicar-test\.txt; finding missing, capture missing$/.test(l)))
  t.match(report.cleanup.detail, [/./, /deleted 5 canary object version\(s\)/], 'the test upload is cleaned up with the canary')
})

t.test('the inspection phase: an inspector that cannot be invoked fails both checks with the error', async (t) => {
  const { deps: d } = deps({ inspection: { config: { buckets: [], caseIdTemplate: 'inspection-{bucket}' }, account: '111111111111', region: 'eu-west-1' } })
  const invoker: AsyncInvoker = { invokeAsync: async (key, payload) => (key === 'inspector' ? Promise.reject(new Error('inspector not deployed')) : d.invoker.invokeAsync(key, payload)) }
  const { report } = await runDrill({ ...d, invoker }, { ...fast, inspectionTimeoutMs: 30, drillId: 'drill-fake-4' })
  for (const name of ['inspection-hit-routed', 'inspection-hit-captured']) {
    t.match(report.checks.find((c) => c.name === name), { verdict: 'fail', summary: /\(Error: inspector not deployed\)$/, evidence: { error: 'Error: inspector not deployed' } }, name)
  }
  // an AWS error the SDK gave up on says after how many attempts
  const sdkError = Object.assign(awsError('InternalFailure', 500, 'We encountered an internal error.'), { $metadata: { httpStatusCode: 500, attempts: 5 } })
  const failing: AsyncInvoker = { invokeAsync: async (key, payload) => (key === 'inspector' ? Promise.reject(sdkError) : d.invoker.invokeAsync(key, payload)) }
  const second = await runDrill({ ...d, invoker: failing }, { ...fast, inspectionTimeoutMs: 30, drillId: 'drill-fake-4b' })
  t.match(second.report.checks.find((c) => c.name === 'inspection-hit-routed'), { verdict: 'fail', evidence: { error: 'InternalFailure: We encountered an internal error. (after 5 attempt(s))' } })
})

t.test('the inspection phase: a canary that returns no version id for the test upload fails both checks naming the fix', async (t) => {
  let n = 0
  const s3 = fakeClient<S3Client>({
    PutObjectCommand: (i) => (String(i.Key).includes('/inspection/') ? {} : { VersionId: `v${++n}` }),
    DeleteObjectCommand: (i) => (i.VersionId ? {} : { VersionId: `dm${++n}` }),
    GetBucketPolicyCommand: () => {
      throw awsError('NoSuchBucketPolicy', 404)
    },
    PutBucketPolicyCommand: () => ({}),
    DeleteBucketPolicyCommand: () => ({}),
  })
  const { deps: d, invoked } = deps({ s3, inspection: { config: { buckets: [], caseIdTemplate: 'inspection-{bucket}' }, account: '111111111111', region: 'eu-west-1' } })
  const { report } = await runDrill(d, { ...fast, inspectionTimeoutMs: 30, drillId: 'drill-fake-5' })
  t.notOk(invoked.some((i) => i.key === 'inspector'), 'nothing to inspect: the inspector is not invoked')
  t.match(report.checks.find((c) => c.name === 'inspection-hit-captured'), { verdict: 'fail', summary: /in case \(none\) \(StorageError: bucket canary returned no version id for drill\/drill-fake-5\/inspection\/eicar-test\.txt: enable versioning on the canary bucket\)$/ })
})
