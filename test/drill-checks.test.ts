/**
 * The drill's checks (forensics/drill/drill-checks.ts) with constructed contexts on a locked
 * emulator bucket: absent captures, retention problems, an unlocked store, gzip and large
 * artifacts, a check that crashes.
 */
import t from 'tap'
import { gzipSync } from 'node:zlib'
import { Readable } from 'node:stream'
import type { CheckResult } from '../forensics/drill/drill-report.js'
import { DRILL_CHECKS, INSPECTION_CHECKS, runDrillChecks, type DrillCapture, type DrillCheck, type DrillContext } from '../forensics/drill/drill-checks.js'
import type { CanaryChanges } from '../forensics/drill/canary-incident.js'
import type { DrillInspection } from '../forensics/drill/inspection-phase.js'
import { runCapture } from '../forensics/capture.js'
import { CustodyChain, recordCaptured } from '../forensics/custody.js'
import type { EvidenceStore } from '../forensics/evidence-store.js'
import { useEmulator } from './fixtures/emulator.js'
import { lockedStore, overrideStore } from './fixtures/evidence.js'
import { testSignerWithPem } from './fixtures/bundle-case.js'
import { CreateBucketCommand, PutObjectCommand } from '@aws-sdk/client-s3'
import { captureCloudTrailSlice } from '../forensics/cloudtrail/capture-slice.js'
import { createLocalTrailKey, deliverIncidentTrail } from '../forensics/drill/local-trail.js'

t.test('each drill check on constructed contexts', async (t) => {
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
  const check = (name: string): DrillCheck => [...DRILL_CHECKS, ...INSPECTION_CHECKS].find((c) => c.name === name) as DrillCheck
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

  t.test('evidence-delete-refused: nothing to delete fails, a bare manifest is a target, an unlocked store fails', async (t) => {
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

  t.test('bundle-builds-and-verifies: passes with a verifying bundle, fails listing its findings', async (t) => {
    const ctx = ctxOf()
    t.match(await run('bundle-builds-and-verifies', ctx), { verdict: 'pass', summary: '/b.zip (2 files) verifies' })
    t.equal(ctx.bundle?.files, 2, 'the bundle is kept for the report')
    const bad = await run('bundle-builds-and-verifies', ctxOf({ bundles: { buildAndVerify: async () => ({ path: '/b.zip', sha256: '', files: 0, findings: ['x: bad [hash]', 'y: gone [member]'] }) } }))
    t.match(bad, { verdict: 'fail', summary: 'bundle /b.zip does not verify: x: bad [hash]; y: gone [member]' })
  })

  t.test('custody-chain-valid: passes on a valid chain, fails naming each problem', async (t) => {
    t.match(await run('custody-chain-valid', ctxOf({ chain: fakeChain([], []) })), { verdict: 'pass', summary: '0 entries, head null…', evidence: { head: null, entries: 0 } })
    const r = await run('custody-chain-valid', ctxOf({ chain: fakeChain([{ code: 'gap', subject: 'seq 2' }, { code: 'fork', subject: 'seq 3' }], [{ hash: 'a'.repeat(64), action: 'captured' }]) }))
    t.match(r, { verdict: 'fail', summary: '2 chain problem(s): gap seq 2; fork seq 3', evidence: { head: 'a'.repeat(64), actions: ['captured'] } })
    const real = await run('custody-chain-valid', ctxOf())
    t.equal(real.verdict, 'pass', real.summary)
  })

  t.test('siem-public-grant-finding: fails without the finding, passes with it', async (t) => {
    t.match(await run('siem-public-grant-finding', ctxOf()), { verdict: 'fail', summary: 'no public grant finding for canary arrived on the SIEM topic', evidence: { message: null } })
    t.match(await run('siem-public-grant-finding', ctxOf({ siemFinding: { id: 1 } })), { verdict: 'pass', evidence: { message: { id: 1 } } })
  })

  t.test('failure-reached-dlq: fails without the record, passes naming its condition and error', async (t) => {
    const rc = { requestId: 'r', functionArn: 'arn:f', condition: 'RetriesExhausted' as const, approximateInvokeCount: 3 }
    t.match(await run('failure-reached-dlq', ctxOf()), { verdict: 'fail', summary: 'no destination record for the failing bucket-config capture of NOT A BUCKET on the dead-letter queue', evidence: { record: null } })
    const withError = await run('failure-reached-dlq', ctxOf({ deadLetter: { version: '1.0', timestamp: 't', requestContext: rc, requestPayload: {}, responsePayload: { errorType: 'ValidationError' } } }))
    t.match(withError, { verdict: 'pass', summary: 'RetriesExhausted after 3 attempt(s): ValidationError' })
    const aged = await run('failure-reached-dlq', ctxOf({ deadLetter: { version: '1.0', timestamp: 't', requestContext: { ...rc, condition: 'EventAgeExceeded', approximateInvokeCount: 0 }, requestPayload: {} } }))
    t.match(aged, { verdict: 'pass', summary: 'EventAgeExceeded after 0 attempt(s): error' })
  })

  const upload: DrillInspection = { bucket: 'canary', key: 'drill/d/inspection/eicar-test.txt', versionId: 'v1', sha256: 'a'.repeat(64), caseId: 'inspection-canary-2026-01-01' }
  const inspCapture = { captureId: 'object-versions-0123456789abcdef0123', manifestKey: 'cases/inspection-canary-2026-01-01/captures/x/manifest.json', collector: 'object-versions', artifact: { key: 'cases/x/a', versionId: 'e1', sha256: 'a'.repeat(64) } }

  t.test('inspection-hit-routed: fails naming the check when no finding arrived (or the phase did not run), passes with it', async (t) => {
    const none = await run('inspection-hit-routed', ctxOf({ inspection: upload }))
    t.match(none, { name: 'inspection-hit-routed', verdict: 'fail', summary: 'no inspection finding for s3://canary/drill/d/inspection/eicar-test.txt arrived on the SIEM topic', evidence: { message: null } })
    const broken = await run('inspection-hit-routed', ctxOf({ inspection: { ...upload, error: 'StorageError: PutObject denied' } }))
    t.match(broken, { verdict: 'fail', summary: /\(StorageError: PutObject denied\)$/, evidence: { error: 'StorageError: PutObject denied' } })
    t.match(await run('inspection-hit-routed', ctxOf()), { verdict: 'fail', summary: 'the inspection phase did not run' })
    t.match(await run('inspection-hit-routed', ctxOf({ inspection: { ...upload, finding: { class_uid: 2004 } } })), { verdict: 'pass', evidence: { message: { class_uid: 2004 } } })
  })

  t.test('inspection-hit-captured: fails without a capture, from another collector, or with other bytes; passes on the uploaded SHA-256', async (t) => {
    t.match(await run('inspection-hit-captured', ctxOf({ inspection: upload })), { name: 'inspection-hit-captured', verdict: 'fail', summary: 'no committed capture of s3://canary/drill/d/inspection/eicar-test.txt in case inspection-canary-2026-01-01', evidence: { capture: null } })
    t.match(await run('inspection-hit-captured', ctxOf()), { verdict: 'fail', summary: 'the inspection phase did not run' })
    t.match(await run('inspection-hit-captured', ctxOf({ inspection: { ...upload, capture: { ...inspCapture, collector: 'bucket-config' } } })), { verdict: 'fail', summary: /is from bucket-config, not object-versions$/ })
    const other = await run('inspection-hit-captured', ctxOf({ inspection: { ...upload, capture: { ...inspCapture, artifact: { ...inspCapture.artifact, sha256: 'b'.repeat(64) } } } }))
    t.match(other, { verdict: 'fail', summary: `the captured artifact cases/x/a has SHA-256 ${'b'.repeat(64)}, the uploaded file ${'a'.repeat(64)}` })
    const ok = await run('inspection-hit-captured', ctxOf({ inspection: { ...upload, capture: inspCapture } }))
    t.match(ok, { verdict: 'pass', summary: `${inspCapture.manifestKey} holds s3://canary/drill/d/inspection/eicar-test.txt with the uploaded SHA-256` })
  })

  t.test('a check that throws fails with the error as evidence, and the others still run', async (t) => {
    const boom: DrillCheck = { name: 'boom', description: 'throws', run: async () => Promise.reject(new RangeError('out of range')) }
    const results = await runDrillChecks(ctxOf({ siemFinding: {} }), [boom, check('siem-public-grant-finding')])
    t.same(results[0], { name: 'boom', verdict: 'fail', summary: 'check could not run: out of range', evidence: { error: 'RangeError', message: 'out of range' } })
    t.equal(results[1].verdict, 'pass')
  })

  t.test('cloudtrail-slice-provable: the local trail delivers a signed digest, so the slice is complete; a tampered log file is hash-mismatch', async (t) => {
    const { s3 } = await lockedStore(emulator, { bucket: 'provable-evidence' })
    await s3.send(new CreateBucketCommand({ Bucket: 'drill-trail' }))
    const archive = { bucket: 'drill-trail', prefix: 'ct' }
    const trailKey = createLocalTrailKey()
    const logKey = await deliverIncidentTrail(s3, archive, { account: '123456789012', region: 'us-east-1' }, canary, trailKey)
    const window = { start: canary.at.getTime() - 60_000, end: canary.at.getTime() + 60_000 }
    const sliced = await captureCloudTrailSlice({ store, signer }, { s3, publicKeys: trailKey.publicKeys, workers: 0 }, { caseId, window, filters: {}, archive: { location: archive }, trigger: { source: 'test', id: 'provable' } })
    t.same(sliced.verdicts, { valid: 1 })
    t.equal(sliced.manifest.status, 'complete')
    const { entry } = await recordCaptured(chain, { ...sliced, captureId: sliced.manifest.captureId }, { tool: 'test' })
    const asDrill = (c: typeof sliced): DrillCapture => ({ phase: 'incident', collector: 'cloudtrail-slice', captureId: c.manifest.captureId, manifestKey: c.manifestKey, manifestVersionId: c.manifestVersionId, manifestSha256: c.manifestSha256, manifest: c.manifest, custody: entry })
    const ok = await run('cloudtrail-slice-provable', ctxOf({ captures: [asDrill(sliced)] }))
    t.match(ok, { verdict: 'pass', summary: /^1 log file\(s\) digest-valid; 5 event\(s\) provable$/ })

    // the same file changed after delivery
    await s3.send(new PutObjectCommand({ Bucket: 'drill-trail', Key: logKey, Body: gzipSync('{"Records":[]}') }))
    const tampered = await captureCloudTrailSlice({ store, signer }, { s3, publicKeys: trailKey.publicKeys, workers: 0 }, { caseId, window, filters: {}, archive: { location: archive }, trigger: { source: 'test', id: 'tampered' } })
    t.same(tampered.verdicts, { 'hash-mismatch': 1 })
    t.match(tampered.manifest.findings, [{ type: 'cloudtrail-digest-hash-mismatch', severity: 'high' }])
    const bad = await run('cloudtrail-slice-provable', ctxOf({ captures: [asDrill(tampered)] }))
    t.match(bad, { verdict: 'fail', summary: '1 of 1 log file(s) not digest-valid (hash-mismatch 1); capture status unverified' })
    // without the trail key nothing is validated
    const unkeyed = await captureCloudTrailSlice({ store, signer }, { s3, workers: 0 }, { caseId, window, filters: {}, archive: { location: archive }, trigger: { source: 'test', id: 'unkeyed' } })
    t.match(await run('cloudtrail-slice-provable', ctxOf({ captures: [asDrill(unkeyed)] })), { verdict: 'fail', summary: /not digest-valid \(unvalidated 1\)/ })
    t.match(await run('cloudtrail-slice-provable', ctxOf({ captures: [] })), { verdict: 'fail', summary: 'no CloudTrail slice capture of the incident' })
    const empty = { ...asDrill(sliced), manifest: { ...sliced.manifest, summary: {} } }
    t.match(await run('cloudtrail-slice-provable', ctxOf({ captures: [empty] })), { verdict: 'fail', summary: /scanned no archive log file/ })
    s3.destroy()
  })
})
