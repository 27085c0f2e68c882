/**
 * Concurrency and redelivery (issue 16): 50 captures committed at once into one case, each
 * sealed by its own custody append; and every event of every collector delivered three
 * times at once (Lambda's at-least-once delivery), its OnSuccess record too.
 */
import t from 'tap'
import { S3Client } from '@aws-sdk/client-s3'
import { useEmulator } from './fixtures/emulator.js'
import { createLockedBucket } from './fixtures/evidence.js'
import { collectorEnv, createVersionedBucket, putVersions, signingKeyFile, useEmulatorEnv } from './fixtures/collectors.js'
import { auditCase } from './fixtures/fault-suite.js'
import { buildArchive, generateEvents, makeTrailKey, uploadArchive } from './fixtures/cloudtrail/archive.js'
import { runCapture } from '../forensics/capture.js'
import { CustodyChain, recordCaptured } from '../forensics/custody.js'
import { S3EvidenceStore } from '../forensics/s3-evidence-store.js'
import { parseArchiveUrl } from '../forensics/cloudtrail/archive-layout.js'
import { createBucketConfigHandler } from '../collectors/bucket-config.js'
import { createObjectVersionsHandler } from '../collectors/object-versions.js'
import { createHandler as createSliceHandler } from '../collectors/cloudtrail-slice.js'
import { createCustodyRecorder } from '../collectors/custody-recorder.js'
import { MemorySiemPublisher } from '../forensics/siem/siem-publisher.js'

t.test('concurrency and redelivery on the emulator', async (t) => {
  const emulator = await useEmulator(t)
  const s3 = new S3Client(emulator.clientConfig())
  t.teardown(() => s3.destroy())
  const key = signingKeyFile()
  const store = new S3EvidenceStore({ client: s3, bucket: 'evidence', retention: { mode: 'COMPLIANCE', days: 1 } })

  t.test('50 concurrent captures into one case: 50 `captured` entries, one chain, no fork, no gap', async (t) => {
    await createLockedBucket(s3, 'evidence')
    const results = await Promise.all(
      Array.from({ length: 50 }, async (_, i) => {
        const r = await runCapture({ store, signer: key.signer }, { caseId: 'busy', collector: { name: 'test-collector', version: '1.0.0' }, trigger: { source: 'test', id: `writer-${i}` }, target: { i } }, async (ctx) => {
          await ctx.addArtifact('note.txt', Buffer.from(`capture ${i}`))
        })
        // an independent chain object per writer, as 50 recorder invocations would have
        return recordCaptured(new CustodyChain(store, key.signer, 'busy'), { ...r, captureId: r.manifest.captureId }, { tool: `writer-${i}` })
      }),
    )
    t.ok(results.every((r) => r.created), 'every writer appended its own entry')
    t.same(results.map((r) => r.entry.seq).sort((a, b) => a - b), Array.from({ length: 50 }, (_, i) => i), 'seq 0..49')
    const audit = await auditCase(store, s3, key.signer, 'busy')
    t.equal(audit.manifestKeys.length, 50)
    t.equal(audit.custodyEntries, 50)
    t.same(audit.wrong, [], 'valid chain: no fork, no gap, one entry per manifest')
  })

  t.test('every event delivered 3× at once: no duplicate manifest, no duplicate entry', async (t) => {
    await createLockedBucket(s3, 'evidence')
    await createVersionedBucket(s3, 'src')
    await putVersions(s3, 'src', 'k', ['one', 'two'])
    const trailKey = makeTrailKey()
    const D = (s: string): number => Date.parse(s)
    const events = generateEvents('111111111111', 'us-east-1', D('2026-11-28T00:00:00Z'), D('2026-11-28T02:00:00Z'), 20, 3)
    await uploadArchive(s3, buildArchive(parseArchiveUrl('s3://trail/ct'), [{ account: '111111111111', region: 'us-east-1', trailName: 'org', events }], trailKey, { fileEveryMs: 3600_000 }))
    useEmulatorEnv(t, emulator)
    const env = collectorEnv(emulator, key.path)
    const bucketConfig = createBucketConfigHandler(env)
    const objectVersions = createObjectVersionsHandler(env)
    const publicKeys = { listPublicKeys: async () => [{ fingerprint: trailKey.fingerprint, value: trailKey.der, validityStart: '2020-01-01T00:00:00Z' }] }
    const slice = createSliceHandler({ capture: async () => ({ store, signer: key.signer }), slice: { s3, publicKeys, workers: 0 }, env: {} })
    const siem = new MemorySiemPublisher()
    const recorder = createCustodyRecorder({ store, signer: key.signer, siem })

    const invocations: Array<{ fn: string; event: unknown; run: () => Promise<unknown> }> = []
    for (let i = 0; i < 3; i++) {
      const bc = { caseId: 'redelivered', bucket: 'src', id: `bc-${i}` }
      const ov = { caseId: 'redelivered', bucket: 'src', keys: ['k'], id: `ov-${i}` }
      const ct = { caseId: 'redelivered', start: '2026-11-28T00:00:00Z', end: '2026-11-28T02:00:00Z', archive: 's3://trail/ct', triggerId: `ct-${i}` }
      invocations.push({ fn: 'bucket-config', event: bc, run: () => bucketConfig(bc) }, { fn: 'object-versions', event: ov, run: () => objectVersions(ov) }, { fn: 'cloudtrail-slice', event: ct, run: () => slice(ct) })
    }
    // each event three times at once, as at-least-once delivery may
    const results = await Promise.all(invocations.flatMap((inv) => [inv, inv, inv].map(async (x) => ({ fn: x.fn, event: x.event, result: (await x.run()) as { captureId: string; created: boolean } }))))
    const byEvent = new Map<string, Set<string>>()
    for (const r of results) {
      const k = JSON.stringify(r.event)
      byEvent.set(k, (byEvent.get(k) ?? new Set()).add(r.result.captureId))
    }
    t.equal(byEvent.size, 9)
    t.ok([...byEvent.values()].every((ids) => ids.size === 1), 'the three deliveries of an event answer with one capture')
    t.equal(results.filter((r) => r.result.created).length, 9, 'each event committed exactly once')

    // every OnSuccess record delivered three times at once too
    const records = results.map((r, i) => ({
      version: '1.0',
      timestamp: new Date().toISOString(),
      requestContext: { requestId: `req-${i}`, functionArn: `arn:aws:lambda:us-east-1:111111111111:function:forensics-${r.fn}`, condition: 'Success', approximateInvokeCount: 1 },
      requestPayload: r.event,
      responseContext: { statusCode: 200, executedVersion: '$LATEST' },
      responsePayload: r.result,
    }))
    const sealed = await Promise.all([...records, ...records, ...records].map((rec) => recorder(rec)))
    t.equal(sealed.filter((s) => s.kind === 'capture' && s.custody.created).length, 9, 'one custody entry per capture')
    const audit = await auditCase(store, s3, key.signer, 'redelivered')
    t.equal(audit.manifestKeys.length, 9, 'nine manifests')
    t.equal(audit.custodyEntries, 9, 'nine custody entries')
    t.same(audit.wrong, [], 'no duplicate manifest or entry; valid chain')
  })
})
