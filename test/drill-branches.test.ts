/**
 * Branch coverage of the drill pieces with constructed inputs: report rendering, the
 * drill events, the canary incident and the queue probes on stand-in clients, the checks
 * on a locked emulator bucket (absent captures, retention problems, an unlocked store,
 * gzip and large artifacts), and the bundle runner's refused build.
 */
import t from 'tap'
import { fakeClient } from './fixtures/fake-client.js'
import { gzipSync } from 'node:zlib'
import { join } from 'node:path'
import { writeFileSync } from 'node:fs'
import { Readable } from 'node:stream'
import type { S3Client } from '@aws-sdk/client-s3'
import type { SQSClient } from '@aws-sdk/client-sqs'
import type { SNSClient } from '@aws-sdk/client-sns'
import { renderDrillReport, DRILL_REPORT_SCHEMA, type CheckResult, type DrillReport } from '../forensics/drill/drill-report.js'
import { defaultDrillEvents, isPublicGrantFinding } from '../forensics/drill/drill-events.js'
import { CanaryIncident } from '../forensics/drill/canary-incident.js'
import { SiemTopicProbe, waitForDeadLetter } from '../forensics/drill/queue-probes.js'
import { FINDING_SCHEMA } from '../forensics/siem/siem-finding.js'
import { DRILL_CHECKS, runDrillChecks, type DrillCapture, type DrillCheck, type DrillContext } from '../forensics/drill/drill-checks.js'
import type { CanaryChanges } from '../forensics/drill/canary-incident.js'
import { fileBundleRunner } from '../forensics/drill/bundle-runner.js'
import { runCapture } from '../forensics/capture.js'
import { CustodyChain, recordCaptured } from '../forensics/custody.js'
import type { EvidenceStore } from '../forensics/evidence-store.js'
import { runDrill, type DrillDeps } from '../forensics/drill/run-drill.js'
import type { AsyncInvoker } from '../forensics/drill/invoker.js'
import type { IntegrityError } from '../forensics/errors.js'
import { createDrillHandler } from '../collectors/drill.js'
import { custodyKey } from '../forensics/keys.js'
import { LOCAL_DRILL_CONFIG } from '../forensics/drill/local-config.js'
import { LocalSigner } from '../forensics/signer.js'
import { runLocalDrill } from '../cli/commands/drill-local.js'
import { renderTable } from '../cli/commands/cases.js'
import { createCustodyRecorder } from '../collectors/custody-recorder.js'
import { MemorySiemPublisher } from '../forensics/siem/siem-publisher.js'
import type { DestinationRecord } from '../forensics/runtime/destination-record.js'
import { useEmulator } from './fixtures/emulator.js'
import { cliEnv, runCli } from './fixtures/bundle-cli.js'
import { lockedStore, overrideStore } from './fixtures/evidence.js'
import { testSignerWithPem } from './fixtures/bundle-case.js'

const baseReport = (over: Partial<DrillReport> = {}): DrillReport => ({
  schema: DRILL_REPORT_SCHEMA,
  drillId: 'drill-x',
  caseId: 'drill-x',
  mode: 'local',
  canaryBucket: 'canary',
  evidenceBucket: 'evidence',
  startedAt: '2026-11-29T10:00:00.000Z',
  incidentAt: '2026-11-29T10:00:01.000Z',
  endedAt: '2026-11-29T10:01:00.000Z',
  passed: true,
  checks: [{ name: 'a-check', verdict: 'pass', summary: 'fine', evidence: {} }],
  captures: [],
  cleanup: { ok: true, detail: [] },
  ...over,
})

t.test('drill report rendering', async (t) => {
  t.test('a bare passing report: no timings, bundle, location or cleanup lines', async (t) => {
    const lines = renderDrillReport(baseReport())
    t.same(lines, ['drill drill-x (local) on canary bucket canary', `  PASS  ${'a-check'.padEnd(30)} fine`, 'drill passed: 1 of 1 checks'])
  })
  t.test('a failed report with every optional part', async (t) => {
    const lines = renderDrillReport(
      baseReport({
        mode: 'deployed',
        passed: false,
        timeToEvidenceMs: 1234,
        timeToCustodyMs: 5678,
        bundle: { path: '/tmp/b.zip', sha256: 'ab'.repeat(32), files: 3 },
        cleanup: { ok: false, detail: ['could not restore x', 'could not delete y'] },
        checks: [
          { name: 'one', verdict: 'pass', summary: 'ok', evidence: {} },
          { name: 'two', verdict: 'fail', summary: 'broken', evidence: {} },
          { name: 'three', verdict: 'fail', summary: 'also', evidence: {} },
        ],
      }),
      { reportLocation: 's3://evidence/drills/x/report.json' },
    )
    t.equal(lines[0], 'drill drill-x (deployed) on canary bucket canary')
    t.match(lines[2], /^ {2}FAIL {2}two +broken$/)
    t.ok(lines.includes('  time from incident to committed manifest: 1.2 s'))
    t.ok(lines.includes('  time from incident to custody entry:      5.7 s'))
    t.ok(lines.includes(`  bundle: /tmp/b.zip (sha256 ${'ab'.repeat(32)})`))
    t.ok(lines.includes('  report: s3://evidence/drills/x/report.json'))
    t.ok(lines.includes('  cleanup incomplete: could not restore x; could not delete y'))
    t.equal(lines.at(-1), 'drill FAILED: two, three')
  })
  t.test('a zero timing is still printed', async (t) => {
    t.ok(renderDrillReport(baseReport({ timeToEvidenceMs: 0 })).includes('  time from incident to committed manifest: 0.0 s'))
  })
})

t.test('drill events', async (t) => {
  t.test('the documented collector event shapes', async (t) => {
    const start = new Date('2026-11-29T10:00:00Z')
    const end = new Date('2026-11-29T10:10:00Z')
    t.same(defaultDrillEvents.bucketConfig('c', 'b', 'id-1'), { caseId: 'c', bucket: 'b', id: 'id-1' })
    t.same(defaultDrillEvents.objectVersions('c', 'b', 'p/', 'id-1'), { caseId: 'c', bucket: 'b', prefix: 'p/', id: 'id-1' })
    t.same(defaultDrillEvents.cloudTrailSlice('c', 'b', start, end, 'id-1'), { caseId: 'c', start: start.toISOString(), end: end.toISOString(), filters: { buckets: ['b'] }, triggerId: 'id-1' }, 'no archive key without an archive')
    t.match(defaultDrillEvents.cloudTrailSlice('c', 'b', start, end, 'id-1', 's3://trail/p'), { archive: 's3://trail/p' })
    t.equal(defaultDrillEvents.badBucket('d-1'), 'NOT A BUCKET d-1')
  })
  t.test('isPublicGrantFinding accepts only a public grant on the bucket', async (t) => {
    const doc = (over: Record<string, unknown>): Record<string, unknown> => ({ schema: FINDING_SCHEMA, finding_info: { types: ['public-grant-added'] }, resources: [{ name: 'canary' }], ...over })
    t.equal(isPublicGrantFinding(doc({}), 'canary'), true, 'by resource name')
    t.equal(isPublicGrantFinding(doc({ resources: [{ uid: 'arn:aws:s3:::canary' }] }), 'canary'), true, 'by resource ARN')
    t.equal(isPublicGrantFinding(doc({ finding_info: { types: ['public-grant-present'] } }), 'canary'), true)
    t.equal(isPublicGrantFinding(doc({ finding_info: { types: ['public-grant-removed'] } }), 'canary'), false, 'a removal is not a grant')
    t.equal(isPublicGrantFinding(doc({ finding_info: { types: ['encryption-off'] } }), 'canary'), false, 'not a public type')
    t.equal(isPublicGrantFinding(doc({}), 'other'), false, 'another bucket')
    t.equal(isPublicGrantFinding(doc({ resources: 'canary' }), 'canary'), false, 'resources not a list')
    t.equal(isPublicGrantFinding(doc({ resources: [null, 'canary'] }), 'canary'), false, 'resources not objects')
    t.equal(isPublicGrantFinding(doc({ finding_info: 'x' }), 'canary'), false, 'finding_info not an object')
    t.equal(isPublicGrantFinding(doc({ finding_info: { types: 'public' } }), 'canary'), false, 'types not a list')
    t.equal(isPublicGrantFinding(doc({ schema: 'other/v1' }), 'canary'), false, 'another schema')
    t.equal(isPublicGrantFinding(null, 'canary'), false)
    t.equal(isPublicGrantFinding([doc({})], 'canary'), false, 'an array is not a document')
    t.equal(isPublicGrantFinding('public-grant-added canary', 'canary'), false)
  })
})


const named = (name: string, message = name): Error => Object.assign(new Error(message), { name })

t.test('canary incident on a stand-in S3', async (t) => {
  const at = new Date('2026-11-29T10:00:00Z')
  t.test('restores a previous bucket policy and deletes every version it created, newest first', async (t) => {
    let n = 0
    const { client, sent } = fakeClient<S3Client>({
      PutObjectCommand: () => ({ VersionId: `v${++n}` }),
      DeleteObjectCommand: (i) => (i.VersionId ? {} : { VersionId: 'dm-1' }),
      GetBucketPolicyCommand: () => ({ Policy: '{"old":true}' }),
      PutBucketPolicyCommand: () => ({}),
    })
    const canary = new CanaryIncident(client, 'canary', 'd-1')
    const changes = await canary.run(() => at)
    t.same(changes.objectVersionIds, ['v1', 'v2'])
    t.equal(changes.deletedVersionId, 'v3')
    t.equal(changes.deleteMarkerVersionId, 'dm-1')
    t.equal(changes.prefix, 'drill/d-1/')
    t.same(JSON.parse(changes.policy).Statement[0].Resource, 'arn:aws:s3:::canary/drill/d-1/*')
    t.equal(changes.at, at)
    const cleanup = await canary.cleanUp()
    t.same(cleanup, { ok: true, detail: ['restored the previous bucket policy', 'deleted 4 canary object version(s) under drill/d-1/'] })
    const puts = sent.filter((s) => s.name === 'PutBucketPolicyCommand')
    t.equal(puts.at(-1)?.input.Policy, '{"old":true}', 'the old policy is put back')
    t.same(sent.filter((s) => s.name === 'DeleteObjectCommand' && s.input.VersionId).map((s) => s.input.VersionId), ['dm-1', 'v3', 'v2', 'v1'])
    t.same(await canary.cleanUp(), { ok: true, detail: [] }, 'a second clean-up has nothing left to do')
  })
  t.test('removes the policy when the bucket had none', async (t) => {
    let n = 0
    const { client, sent } = fakeClient<S3Client>({
      PutObjectCommand: () => ({ VersionId: `v${++n}` }),
      DeleteObjectCommand: (i) => (i.VersionId ? {} : { VersionId: 'dm-1' }),
      GetBucketPolicyCommand: () => {
        throw named('NoSuchBucketPolicy')
      },
      PutBucketPolicyCommand: () => ({}),
      DeleteBucketPolicyCommand: () => ({}),
    })
    const canary = new CanaryIncident(client, 'canary', 'd-2')
    await canary.run(() => at)
    const cleanup = await canary.cleanUp()
    t.equal(cleanup.ok, true)
    t.equal(cleanup.detail[0], 'removed the public-read bucket policy')
    t.ok(sent.some((s) => s.name === 'DeleteBucketPolicyCommand'))
  })
  t.test('an unversioned canary bucket fails naming the bucket; clean-up removes what was made', async (t) => {
    const { client } = fakeClient<S3Client>({ PutObjectCommand: () => ({}), DeleteObjectCommand: () => ({}) })
    const canary = new CanaryIncident(client, 'flat', 'd-3')
    await t.rejects(canary.run(), { name: 'StorageError', message: /canary incident on s3:\/\/flat failed: bucket flat returned no version id: enable versioning.*Block Public Access/ })
    t.same(await canary.cleanUp(), { ok: true, detail: [] }, 'nothing was created, no policy changed')
  })
  t.test('a refused GetBucketPolicy (not NoSuchBucketPolicy) fails the incident', async (t) => {
    let n = 0
    const { client } = fakeClient<S3Client>({
      PutObjectCommand: () => ({ VersionId: `v${++n}` }),
      DeleteObjectCommand: (i) => (i.VersionId ? {} : { VersionId: 'dm' }),
      GetBucketPolicyCommand: () => {
        throw named('AccessDenied', 'no GetBucketPolicy for you')
      },
    })
    const canary = new CanaryIncident(client, 'canary', 'd-4')
    await t.rejects(canary.run(), { name: 'StorageError', message: /no GetBucketPolicy for you/ })
    const cleanup = await canary.cleanUp()
    t.equal(cleanup.ok, true, 'the objects it made are still deleted')
    t.same(cleanup.detail, ['deleted 4 canary object version(s) under drill/d-4/'])
  })
  t.test('clean-up failures are reported, not thrown', async (t) => {
    let n = 0
    let failCleanup = false
    const { client } = fakeClient<S3Client>({
      PutObjectCommand: () => ({ VersionId: `v${++n}` }),
      DeleteObjectCommand: (i) => {
        if (failCleanup && i.VersionId === 'v2') throw new Error('object locked')
        return i.VersionId ? {} : { VersionId: 'dm' }
      },
      GetBucketPolicyCommand: () => ({ Policy: undefined }),
      PutBucketPolicyCommand: () => ({}),
      DeleteBucketPolicyCommand: () => {
        throw new Error('policy delete denied')
      },
    })
    const canary = new CanaryIncident(client, 'canary', 'd-5')
    await canary.run(() => at)
    failCleanup = true
    const cleanup = await canary.cleanUp()
    t.equal(cleanup.ok, false)
    t.same(cleanup.detail, [
      'could not restore the bucket policy of canary: policy delete denied',
      'could not delete s3://canary/drill/d-5/canary.txt version v2: object locked',
      'deleted 3 canary object version(s) under drill/d-5/',
    ])
  })
})

t.test('queue probes on stand-in SQS and SNS', async (t) => {
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
    const probe = await SiemTopicProbe.open({ sqs: sqs.client, sns: sns.client }, 'arn:aws:sns:eu-west-1:1:siem', 'probe')
    const attrs = sqs.sent.find((s) => s.name === 'SetQueueAttributesCommand')?.input.Attributes as Record<string, string>
    const policy = JSON.parse(attrs.Policy)
    t.match(policy.Statement[0], { Resource: 'arn:aws:sqs:eu-west-1:1:probe', Condition: { ArnEquals: { 'aws:SourceArn': 'arn:aws:sns:eu-west-1:1:siem' } } })
    t.match(sns.sent[0].input, { Protocol: 'sqs', Endpoint: 'arn:aws:sqs:eu-west-1:1:probe', Attributes: { RawMessageDelivery: 'true' } })
    t.same(await probe.drain(), [{ a: 1 }, 'not json', ''], 'JSON parsed, text kept as text, a missing body is empty')
    t.same(sqs.sent.filter((s) => s.name === 'DeleteMessageCommand').map((s) => s.input.ReceiptHandle), ['h1', 'h2', ''])
    t.equal(await probe.waitFor((d) => d === 'never', 30, 5), undefined, 'nothing matching: undefined when the time is up')
    t.equal(await probe.waitFor((d) => d === 'not json', 30, 5), 'not json')
    await t.resolves(probe.close(), 'unsubscribe and delete failures are ignored')
    t.same(sns.sent.at(-1)?.input, { SubscriptionArn: 'arn:sub' })
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
    const hit = await waitForDeadLetter(sqs.client, 'https://q/dlq', (r) => JSON.stringify(r.requestPayload).includes('d-1:bad-bucket'), 5_000, 1)
    t.same(hit?.requestPayload, { id: 'd-1:bad-bucket' })
    t.same(sqs.sent.filter((s) => s.name === 'ChangeMessageVisibilityCommand').map((s) => [s.input.ReceiptHandle, s.input.VisibilityTimeout]), [['g', 0], ['n', 0], ['o', 0]])
    t.same(sqs.sent.filter((s) => s.name === 'DeleteMessageCommand').map((s) => s.input.ReceiptHandle), ['mine'], 'only the drill record is deleted')
  })

  t.test('waitForDeadLetter gives up at the deadline', async (t) => {
    const sqs = fakeClient<SQSClient>({ ReceiveMessageCommand: () => ({}) })
    const started = Date.now()
    t.equal(await waitForDeadLetter(sqs.client, 'https://q/dlq', () => true, 20, 5), undefined)
    t.ok(Date.now() - started >= 20)
    t.ok(sqs.sent.length >= 2, 'it polled more than once')
  })
})

t.test('drill checks with constructed contexts', async (t) => {
  const emulator = await useEmulator(t, { reset: false })
  const { store } = await lockedStore(emulator, { bucket: 'checks-evidence' })
  const { signer } = testSignerWithPem()
  const publicKeyPem = await signer.publicKeyPem()
  const startedAt = new Date(Date.now() - 60_000)
  const canary: CanaryChanges = {
    bucket: 'canary',
    prefix: 'drill/d/',
    objectKey: 'drill/d/canary.txt',
    objectVersionIds: ['ver-1', 'ver-2'],
    deletedKey: 'drill/d/to-be-deleted.txt',
    deletedVersionId: 'ver-3',
    deleteMarkerVersionId: 'MARKER-abc123',
    policy: '{}',
    at: new Date(),
  }
  const caseId = 'case-checks'
  const chain = new CustodyChain(store, signer, caseId)

  /** Commits a capture (versioned sources) and seals it, returning it as the drill saw it. */
  async function capture(phase: DrillCapture['phase'], collector: string, triggerId: string, artifacts: { path: string; body: Buffer; versionId?: string }[]): Promise<DrillCapture> {
    const r = await runCapture(
      { store, signer },
      { caseId, collector: { name: collector, version: '1.0.0' }, trigger: { source: 'test', id: triggerId }, target: { bucket: 'canary' } },
      async (ctx) => {
        for (const a of artifacts) await ctx.addArtifact(a.path, a.body, { source: { bucket: 'canary', key: a.path, ...(a.versionId ? { versionId: a.versionId } : {}) } })
      },
    )
    const { entry } = await recordCaptured(chain, { ...r, captureId: r.manifest.captureId }, { tool: 'test' })
    return { phase, collector, captureId: r.manifest.captureId, manifestKey: r.manifestKey, manifestVersionId: r.manifestVersionId, manifestSha256: r.manifestSha256, manifest: r.manifest, custody: entry }
  }

  const big = Buffer.alloc(1024 * 1024 + 10, 0x61)
  big.write('MARKER-abc123', 5000)
  const versions = [
    { path: 'v/ver-1', body: Buffer.from('one'), versionId: 'ver-1' },
    { path: 'v/ver-2', body: Buffer.from('two'), versionId: 'ver-2' },
    { path: 'v/ver-3', body: Buffer.from('three'), versionId: 'ver-3' },
  ]
  const baseline = await capture('baseline', 'bucket-config', 'baseline', [])
  const ovGzip = await capture('incident', 'object-versions', 'gz', [...versions, { path: 'listing.json.gz', body: gzipSync('{"deleteMarkers":["MARKER-abc123"]}') }])
  const ovBig = await capture('incident', 'object-versions', 'big', [versions[0], { path: 'listing.bin', body: big }])

  const fakeChain = (findings: { code: string; subject: string }[], entries: { hash: string; action: string }[]): CustodyChain => ({ verify: async () => findings, read: async () => entries }) as unknown as CustodyChain
  const ctxOf = (over: Partial<DrillContext> = {}): DrillContext => ({
    caseId,
    store,
    publicKeyPem,
    chain,
    startedAt,
    canary,
    expectedCollectors: ['bucket-config', 'object-versions'],
    captures: [],
    siemFindingWanted: 'public grant',
    badTrigger: { collector: 'bucket-config', bucket: 'NOT A BUCKET' },
    bundles: { buildAndVerify: async () => ({ path: '/b.zip', sha256: 'f'.repeat(64), files: 2, findings: [] }) },
    ...over,
  })
  const check = (name: string): DrillCheck => DRILL_CHECKS.find((c) => c.name === name) as DrillCheck
  const run = async (name: string, ctx: DrillContext): Promise<CheckResult> => (await runDrillChecks(ctx, [check(name)]))[0]

  t.test('captures-committed names the collector without a sealed incident capture', async (t) => {
    const r = await run('captures-committed', ctxOf({ captures: [baseline, ovGzip] }))
    t.equal(r.verdict, 'fail')
    t.equal(r.summary, 'no sealed capture from bucket-config', 'the baseline capture does not count')
    t.same(r.evidence.missing, ['bucket-config'])
    const ok = await run('captures-committed', ctxOf({ captures: [ovGzip], expectedCollectors: ['object-versions'] }))
    t.match(ok, { verdict: 'pass', summary: '1 captures committed and sealed in custody' })
  })

  t.test('artifacts-match-sha256: a gzip listing artifact records the delete marker', async (t) => {
    const r = await run('artifacts-match-sha256', ctxOf({ captures: [baseline, ovGzip] }))
    t.equal(r.verdict, 'pass', r.summary)
    t.match(r.summary, /^4 artifacts in 2 captures re-read with matching SHA-256$/)
    t.same(r.evidence.canaryVersionsNotCaptured, [])
  })

  t.test('artifacts-match-sha256: a delete marker named in the manifest itself', async (t) => {
    const ovManifest = await capture('incident', 'object-versions', 'manifest', [...versions, { path: 'v/MARKER-abc123.marker', body: Buffer.from('{}'), versionId: 'MARKER-abc123' }])
    const r = await run('artifacts-match-sha256', ctxOf({ captures: [ovManifest] }))
    t.equal(r.verdict, 'pass', r.summary)
    t.same(r.evidence.canaryVersionsNotCaptured, [])
  })

  t.test('artifacts-match-sha256: missing versions, and a marker only in an artifact over 1 MiB, are not captured', async (t) => {
    const r = await run('artifacts-match-sha256', ctxOf({ captures: [ovBig] }))
    t.equal(r.verdict, 'fail')
    t.same(r.evidence.canaryVersionsNotCaptured, ['ver-2', 'ver-3', 'MARKER-abc123 (delete marker)'])
    t.equal(r.summary, 'the object-versions capture lacks canary version(s) ver-2, ver-3, MARKER-abc123 (delete marker)')
  })

  t.test('artifacts-match-sha256: no object-versions capture, nothing to look for', async (t) => {
    const ctx = ctxOf({ captures: [baseline] })
    const [r, retention] = await runDrillChecks(ctx, [check('artifacts-match-sha256'), check('retention-on-evidence')])
    t.match(r, { verdict: 'pass', evidence: { artifactsVerified: 0, captures: 1, canaryVersionsNotCaptured: [] } })
    t.equal(retention.verdict, 'pass', 'both checks share one verification of the captures')
  })

  t.test('artifacts-match-sha256: bytes that changed after capture fail naming the artifact', async (t) => {
    const target = ovGzip.manifest.artifacts.find((a) => a.path === 'v/ver-1') as { key: string }
    const tampered = overrideStore(store, {
      get: async (k, v) => {
        const got = await store.get(k, v)
        if (k !== target.key) return got
        got.body.resume()
        return { ...got, body: Readable.from([Buffer.from('ONE')]) }
      },
    })
    const r = await run('artifacts-match-sha256', ctxOf({ store: tampered, captures: [ovGzip] }))
    t.equal(r.verdict, 'fail')
    t.match(r.summary, new RegExp(`^1 artifact\\(s\\) fail: hash-mismatch .*${target.key.replace(/[.]/g, '\\.')}`))
    t.match(r.evidence.mismatches, [{ code: 'hash-mismatch' }])
  })

  t.test('retention-on-evidence passes on the locked bucket', async (t) => {
    const r = await run('retention-on-evidence', ctxOf({ captures: [ovGzip] }))
    t.equal(r.verdict, 'pass', r.summary)
    t.match(r.summary, /^\d+ evidence objects retained COMPLIANCE for 1 day\(s\)$/)
  })

  t.test('retention-on-evidence: no retention, or a shorter one, fails naming the objects', async (t) => {
    const keys: string[] = []
    for await (const o of store.list(`cases/${caseId}/`)) keys.push(o.key)
    const [none, short] = keys
    const odd = overrideStore(store, {
      head: async (k, v) => {
        const h = await store.head(k, v)
        if (!h) return h
        if (k === none) return { ...h, retentionMode: undefined, retainUntil: undefined }
        if (k === short) return { ...h, retentionMode: 'GOVERNANCE', retainUntil: new Date(startedAt.getTime() + 3_600_000) }
        return h
      },
    })
    const r = await run('retention-on-evidence', ctxOf({ store: odd, captures: [] }))
    t.equal(r.verdict, 'fail')
    t.equal(r.summary, `2 evidence object(s) lack retention: ${none}, ${short}`)
    t.match(r.evidence.problems, [
      { key: none, message: `s3://checks-evidence/${none} has no Object Lock retention` },
      { key: short, message: new RegExp(`s3://checks-evidence/${short} is retained GOVERNANCE until .*, less than COMPLIANCE 1 days`) },
    ])
  })

  t.test('evidence-delete-refused', async (t) => {
    t.match(await run('evidence-delete-refused', ctxOf({ captures: [] })), { verdict: 'fail', summary: 'no evidence object to try deleting', evidence: {} })
    const manifestOnly = await run('evidence-delete-refused', ctxOf({ captures: [baseline] }))
    t.equal(manifestOnly.verdict, 'pass', 'a capture without artifacts: its manifest is the target')
    t.match(manifestOnly.evidence, { key: baseline.manifestKey, versionId: baseline.manifestVersionId, stillPresent: true })
    t.match(manifestOnly.summary, /refused with AccessDenied/)
    const unlocked = { ...store, bucket: store.bucket, retention: store.retention, head: store.head.bind(store), tryDelete: async () => undefined } as unknown as EvidenceStore
    const r = await run('evidence-delete-refused', ctxOf({ store: unlocked, captures: [baseline, ovGzip] }))
    t.equal(r.verdict, 'fail')
    t.match(r.summary, new RegExp(`^DeleteObject of s3://checks-evidence/${ovGzip.manifest.artifacts[0].key} version .* was NOT refused`))
    t.match(r.evidence, { refusal: null, stillPresent: true })
  })

  t.test('bundle-builds-and-verifies', async (t) => {
    const ctx = ctxOf()
    t.match(await run('bundle-builds-and-verifies', ctx), { verdict: 'pass', summary: '/b.zip (2 files) verifies' })
    t.equal(ctx.bundle?.files, 2, 'the bundle is kept for the report')
    const bad = await run('bundle-builds-and-verifies', ctxOf({ bundles: { buildAndVerify: async () => ({ path: '/b.zip', sha256: '', files: 0, findings: ['x: bad [hash]', 'y: gone [member]'] }) } }))
    t.match(bad, { verdict: 'fail', summary: 'bundle /b.zip does not verify: x: bad [hash]; y: gone [member]' })
  })

  t.test('custody-chain-valid', async (t) => {
    t.match(await run('custody-chain-valid', ctxOf({ chain: fakeChain([], []) })), { verdict: 'pass', summary: '0 entries, head null…', evidence: { head: null, entries: 0 } })
    const r = await run('custody-chain-valid', ctxOf({ chain: fakeChain([{ code: 'gap', subject: 'seq 2' }, { code: 'fork', subject: 'seq 3' }], [{ hash: 'a'.repeat(64), action: 'captured' }]) }))
    t.match(r, { verdict: 'fail', summary: '2 chain problem(s): gap seq 2; fork seq 3', evidence: { head: 'a'.repeat(64), actions: ['captured'] } })
    const real = await run('custody-chain-valid', ctxOf())
    t.equal(real.verdict, 'pass', real.summary)
  })

  t.test('siem-public-grant-finding', async (t) => {
    t.match(await run('siem-public-grant-finding', ctxOf()), { verdict: 'fail', summary: 'no public grant finding for canary arrived on the SIEM topic', evidence: { message: null } })
    t.match(await run('siem-public-grant-finding', ctxOf({ siemFinding: { id: 1 } })), { verdict: 'pass', evidence: { message: { id: 1 } } })
  })

  t.test('failure-reached-dlq', async (t) => {
    const rc = { requestId: 'r', functionArn: 'arn:f', condition: 'RetriesExhausted' as const, approximateInvokeCount: 3 }
    t.match(await run('failure-reached-dlq', ctxOf()), { verdict: 'fail', summary: 'no destination record for the failing bucket-config capture of NOT A BUCKET on the dead-letter queue', evidence: { record: null } })
    const withError = await run('failure-reached-dlq', ctxOf({ deadLetter: { version: '1.0', timestamp: 't', requestContext: rc, requestPayload: {}, responsePayload: { errorType: 'ValidationError' } } }))
    t.match(withError, { verdict: 'pass', summary: 'RetriesExhausted after 3 attempt(s): ValidationError' })
    const aged = await run('failure-reached-dlq', ctxOf({ deadLetter: { version: '1.0', timestamp: 't', requestContext: { ...rc, condition: 'EventAgeExceeded', approximateInvokeCount: 0 }, requestPayload: {} } }))
    t.match(aged, { verdict: 'pass', summary: 'EventAgeExceeded after 0 attempt(s): error' })
  })

  t.test('a check that throws fails with the error as evidence, and the others still run', async (t) => {
    const boom: DrillCheck = { name: 'boom', description: 'throws', run: async () => Promise.reject(new RangeError('out of range')) }
    const results = await runDrillChecks(ctxOf({ siemFinding: {} }), [boom, check('siem-public-grant-finding')])
    t.same(results[0], { name: 'boom', verdict: 'fail', summary: 'check could not run: out of range', evidence: { error: 'RangeError', message: 'out of range' } })
    t.equal(results[1].verdict, 'pass')
  })

  t.test('the bundle runner reports a refused build as findings and rethrows other errors', async (t) => {
    const dir = t.testdir({})
    const ok = await fileBundleRunner({ store, signer, dir }).buildAndVerify(caseId)
    t.same(ok.findings, [], 'the untampered case verifies')
    t.ok(ok.files > 0)
    t.match(ok.sha256, /^[0-9a-f]{64}$/)
    const other = testSignerWithPem().signer
    const refused = await fileBundleRunner({ store, signer: other, dir }).buildAndVerify(caseId)
    t.equal(refused.sha256, '')
    t.equal(refused.files, 0)
    t.match(refused.findings[0], /^bundle not built: manifest s3:\/\/checks-evidence\/.* does not verify with signing key/)
    const broken = overrideStore(store, {
      list: () => ({
        [Symbol.asyncIterator]: () => ({ next: () => Promise.reject(new TypeError('listing broke')) }),
      }),
    })
    await t.rejects(fileBundleRunner({ store: broken, signer, dir }).buildAndVerify(caseId), { name: 'TypeError', message: 'listing broke' })
  })
})

t.test('runDrill and the drill handler on stand-in queues, invoker and canary', async (t) => {
  const emulator = await useEmulator(t, { reset: false })
  const { store } = await lockedStore(emulator, { bucket: 'rundrill-evidence' })
  const { signer } = testSignerWithPem()

  /** Deps whose collectors never seal anything; only the failing capture reaches the DLQ. */
  function deps(over: Partial<DrillDeps> = {}): { deps: DrillDeps; invoked: { key: string; payload: unknown }[] } {
    let n = 0
    const s3 = fakeClient<S3Client>({
      PutObjectCommand: () => ({ VersionId: `v${++n}` }),
      DeleteObjectCommand: (i) => (i.VersionId ? {} : { VersionId: `dm${++n}` }),
      GetBucketPolicyCommand: () => {
        throw named('NoSuchBucketPolicy')
      },
      PutBucketPolicyCommand: () => ({}),
      DeleteBucketPolicyCommand: () => ({}),
    }).client
    const dead: { Body: string; ReceiptHandle: string }[] = []
    const sqs = fakeClient<SQSClient>({
      CreateQueueCommand: () => ({ QueueUrl: 'https://q/probe' }),
      GetQueueAttributesCommand: () => ({ Attributes: { QueueArn: 'arn:aws:sqs:eu-west-1:1:probe' } }),
      SetQueueAttributesCommand: () => ({}),
      ReceiveMessageCommand: (i) => ({ Messages: i.QueueUrl === 'https://q/dlq' ? dead.splice(0) : [] }),
      DeleteMessageCommand: () => ({}),
      ChangeMessageVisibilityCommand: () => ({}),
      DeleteQueueCommand: () => ({}),
    }).client
    const sns = fakeClient<SNSClient>({ SubscribeCommand: () => ({ SubscriptionArn: 'arn:sub' }), UnsubscribeCommand: () => ({}) }).client
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
    t.same(result.failed, ['captures-committed', 'evidence-delete-refused', 'bundle-builds-and-verifies', 'siem-public-grant-finding'])
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
    t.match(err?.message, /^drill drill-fake-2 failed 4 check\(s\): captures-committed, evidence-delete-refused, bundle-builds-and-verifies, siem-public-grant-finding; report s3:\/\/rundrill-evidence\/drills\/drill-fake-2\/report\.json$/)
    t.match(err?.findings, [/^captures-committed: no sealed capture from bucket-config, object-versions, cloudtrail-slice$/, 'evidence-delete-refused: no evidence object to try deleting', /^bundle-builds-and-verifies: /, /^siem-public-grant-finding: /])
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
})

t.test('forensics cases and custody: empty buckets, odd keys, unreadable entries, other actors', async (t) => {
  const emulator = await useEmulator(t, { reset: false })
  const { store } = await lockedStore(emulator, { bucket: 'cli-evidence' })
  const { signer, pem } = testSignerWithPem()
  const dir = t.testdir({})
  const env: NodeJS.ProcessEnv = { ...cliEnv(emulator, dir, pem, 'cli-evidence'), FORENSICS_RETENTION_DAYS: '1' }

  t.test('an empty bucket on a terminal', async (t) => {
    const cases = await runCli(['cases'], env, { stdoutTTY: true })
    t.equal(cases.code, 0, cases.stderr)
    t.match(cases.stderr + cases.stdout.toString(), 'no cases in s3://cli-evidence')
    const custody = await runCli(['custody', 'nothing-here'], env, { stdoutTTY: true })
    t.equal(custody.code, 0, custody.stderr)
    t.match(custody.stderr + custody.stdout.toString(), 'case nothing-here has no custody entries in s3://cli-evidence')
  })

  t.test('cases skip stray keys, sort by id and mark an unreadable latest entry', async (t) => {
    await store.put({ key: 'cases/stray-object', body: Buffer.from('x') })
    const chain = new CustodyChain(store, signer, 'zz-case')
    await chain.append({ action: 'note', actor: { principalArn: 'arn:aws:iam::1:user/alice' }, subject: { key: 'some/key' } })
    await chain.append({ action: 'note', actor: {}, subject: {} })
    await store.put({ key: custodyKey('aa-case', 0), body: Buffer.from('not json') })
    // listed after zz-case ('-' sorts before '/'), reported before it
    await new CustodyChain(store, signer, 'zz').append({ action: 'note', actor: { tool: 'test' }, subject: { note: 'n' } })
    await store.put({ key: 'cases/bare-case/notes.txt', body: Buffer.from('no custody yet') })
    const r = await runCli(['cases', '--json'], env)
    t.equal(r.code, 0, r.stderr)
    const doc = JSON.parse(r.stdout.toString()) as { cases: { caseId: string; custodyEntries: number; lastAction?: string; lastTime?: string }[] }
    t.same(doc.cases.map((c) => c.caseId), ['aa-case', 'bare-case', 'zz', 'zz-case'], 'sorted by case id, and no case for the stray key')
    t.match(doc.cases[0], { custodyEntries: 1, lastAction: '(unreadable)' })
    t.equal(doc.cases[0].lastTime, undefined)
    t.same(doc.cases[1], { caseId: 'bare-case', captures: 0, custodyEntries: 0 })
    t.match(doc.cases[3], { custodyEntries: 2, lastAction: 'note' })
    const table = await runCli(['cases'], env, { stdoutTTY: true })
    const text = table.stderr + table.stdout.toString()
    t.match(text, /aa-case +0 +1 +\(unreadable\)\n/)
    t.match(text, /bare-case +0 +0\n/, 'no custody: empty action and time cells')
  })

  t.test('forensics drill --deployed with a config that names no canary bucket', async (t) => {
    const config = join(dir, 'no-canary.json')
    writeFileSync(config, JSON.stringify({ ...LOCAL_DRILL_CONFIG, drill: { enabled: false } }))
    const { FORENSICS_SIGNING_KEY: _key, ...noKey } = env
    const r = await runCli(['drill', '--deployed', '--out', join(dir, 'drills')], { ...noKey, FORENSICS_CONFIG: config })
    t.equal(r.code, 2, 'a configuration error, not an AWS failure')
    t.match(r.stderr, 'drill.canaryBucket is not configured')
  })

  t.test('renderTable pads rows shorter than the headers', async (t) => {
    t.same(renderTable(['A', 'BB', 'C'], [['x'], ['yyy', 'z', 'w']]), ['A    BB  C', '---  --  -', 'x', 'yyy  z   w'])
  })

  t.test('the custody recorder: a drill result without hash or version, and a malformed one', async (t) => {
    const { store: rs } = await lockedStore(emulator, { bucket: 'recorder-evidence' })
    const put = await rs.put({ key: 'drills/rec-case/report.json', body: Buffer.from('{}') })
    const recorder = createCustodyRecorder({ store: rs, signer, siem: new MemorySiemPublisher() })
    const rec = (payload: unknown): DestinationRecord => ({ version: '1.0', timestamp: 't', requestContext: { requestId: 'req-9', functionArn: 'arn:aws:lambda:eu-west-1:1:function:drill:$LATEST', condition: 'Success', approximateInvokeCount: 1 }, requestPayload: {}, responsePayload: payload })
    const r = await recorder(rec({ schema: 'forensics.drill-result/v1', caseId: 'rec-case', reportKey: 'drills/rec-case/report.json' }))
    t.match(r, { kind: 'drill', caseId: 'rec-case', custody: { seq: 0, created: true } })
    const [entry] = await new CustodyChain(rs, signer, 'rec-case').read()
    t.same(entry.subject, { key: 'drills/rec-case/report.json', versionId: put.versionId }, 'the stored version, no hash claimed')
    await t.rejects(recorder(rec({ schema: 'forensics.drill-result/v1', caseId: 7, reportKey: 'drills/x/report.json' })), { name: 'ValidationError', message: /names no committed manifest/ })
    await t.rejects(recorder(rec({ schema: 'forensics.drill-result/v1', caseId: 'rec-case', reportKey: 'drills/none/report.json', reportSha256: 'ab', reportVersionId: 'v' })), { name: 'ValidationError', message: /drill report s3:\/\/recorder-evidence\/drills\/none\/report\.json does not exist/ })
  })

  t.test('the custody timeline shows a principal, a key, and blanks', async (t) => {
    const r = await runCli(['custody', 'zz-case'], env, { stdoutTTY: true })
    t.equal(r.code, 0, r.stderr)
    const text = r.stderr + r.stdout.toString()
    t.match(text, /0 +\S+ +note +arn:aws:iam::1:user\/alice +some\/key +[0-9a-f]{16}/)
    t.match(text, /\n1 +\S+ +note +[0-9a-f]{16}\n/, 'no actor, no subject: empty cells')
    t.match(text, /chain valid: 2 entries/)
  })
})

t.test('a local drill whose config names no canary bucket fails with the drill function’s error', async (t) => {
  const dir = t.testdir({ 'forensics.config.json': JSON.stringify({ ...LOCAL_DRILL_CONFIG, drill: { enabled: false } }) })
  const keyFile = join(dir, 'key.pem')
  LocalSigner.fromFile(keyFile, { create: true })
  const lines: string[] = []
  const saved = { ...process.env }
  t.teardown(() => {
    process.env = saved
  })
  await t.rejects(
    runLocalDrill({ env: { ...process.env, FORENSICS_CONFIG: join(dir, 'forensics.config.json') }, signingKey: `file:${keyFile}`, outDir: join(dir, 'drills'), log: (l) => lines.push(l), retryDelaysMs: [1, 1] }),
    { message: /^the drill did not finish: StorageError: canary incident on s3:\/\/undefined failed: .*\(see .*\)$/ },
  )
  t.match(lines[0], `config: ${join(dir, 'forensics.config.json')}`)
  t.ok(lines.some((l) => /canary undefined|canary s3:\/\/undefined/.test(l)) || lines.some((l) => l.startsWith('provisioned:')), 'the evidence side was provisioned')
  t.same(process.env, saved, 'the process environment is restored')
})
