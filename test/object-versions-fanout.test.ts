import t from 'tap'
import { SQSClient, CreateQueueCommand, GetQueueAttributesCommand } from '@aws-sdk/client-sqs'
import { useEmulator } from './fixtures/emulator.js'
import { lockedStore } from './fixtures/evidence.js'
import { collectorEnv, createVersionedBucket, runCli, seedObjects, signingKeyFile, useEmulatorEnv } from './fixtures/collectors.js'
import type { CaptureHandlerResult } from '../forensics/bucket-config/collector-runtime.js'
import { createObjectVersionsHandler as makeHandler } from '../collectors/object-versions.js'
import { runLocalWorkers } from '../forensics/object-versions/sqs-page-queue.js'
import { FANOUT_SCHEMAS, processPage, readPlan, writePlan } from '../forensics/object-versions/fan-out.js'
import { INVENTORY_PATH, type InventoryEntry } from '../forensics/object-versions/inventory.js'
import { parseManifest } from '../forensics/manifest.js'
import { CustodyChain } from '../forensics/custody.js'
import { verifyCapture } from '../forensics/verify-capture.js'

/** The handler, typed for own events (SQS batches answer with batch item failures). */
const createObjectVersionsHandler = (env: NodeJS.ProcessEnv) => {
  const h = makeHandler(env)
  return Object.assign((e: unknown) => h(e) as Promise<CaptureHandlerResult>, { sqs: h })
}

t.test('object-versions fan-out through SQS', async (t) => {
  const emulator = await useEmulator(t)
  useEmulatorEnv(t, emulator)
  const key = signingKeyFile()
  const sqs = new SQSClient(emulator.clientConfig())
  t.teardown(() => sqs.destroy())

  t.test('5,000 versions: one committed manifest, no duplicates, the same event twice still one manifest', async (t) => {
    const { s3, store } = await lockedStore(emulator)
    await createVersionedBucket(s3, 'big')
    await seedObjects(s3, 'big', 'data/', 5000, 2)
    await seedObjects(s3, 'big', 'other/', 5)
    const queueUrl = (await sqs.send(new CreateQueueCommand({ QueueName: 'fanout' }))).QueueUrl!
    const env = collectorEnv(emulator, key.path, { FORENSICS_FANOUT_QUEUE_URL: queueUrl, FORENSICS_FANOUT_THRESHOLD: '1000', FORENSICS_FANOUT_PAGE_SIZE: '500' })
    const h = createObjectVersionsHandler(env)
    const event = { caseId: 'case-fan', bucket: 'big', prefix: 'data/', id: 'incident-42' }

    const first = await h(event)
    t.match(first, { status: 'pending', created: false, summary: { fanOut: { pages: 10, entries: 5000, enqueued: 10 } } })
    const second = await h(event)
    t.match(second, { status: 'pending', captureId: first.captureId, summary: { fanOut: { pages: 10, enqueued: 10 } } }, 'a redelivered event re-enqueues the unfinished pages of the same plan')
    const queued = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['ApproximateNumberOfMessages'] }))
    t.equal(queued.Attributes?.ApproximateNumberOfMessages, '20', 'every page twice in the queue')

    const manifestKey = `cases/case-fan/captures/${first.captureId}/manifest.json`
    const run = await runLocalWorkers({ sqs, queueUrl, handle: (e) => h.sqs(e), workers: 3, done: async () => (await store.head(manifestKey)) !== undefined, idleTimeoutMs: 20_000 })
    t.ok(run.finished, 'the pool stopped because the capture committed')
    t.equal(run.failed, 0)

    const third = await h(event)
    t.match(third, { status: 'complete', created: false, manifestKey }, 'after the commit the event returns the committed capture')

    const manifests: string[] = []
    for await (const { key: k } of store.list('cases/case-fan/captures/')) if (k.endsWith('/manifest.json')) manifests.push(k)
    t.same(manifests, [manifestKey], 'exactly one manifest')
    const manifest = parseManifest((await store.getBytes(manifestKey)).bytes, manifestKey)
    t.equal(manifest.status, 'complete')
    const versions = manifest.artifacts.filter((a) => a.path.startsWith('versions/'))
    t.equal(versions.length, 5000, 'every version once')
    t.equal(new Set(versions.map((a) => `${String(a.source?.key)}\n${String(a.source?.versionId)}`)).size, 5000, 'no duplicate source versions')
    t.equal(new Set(manifest.artifacts.map((a) => a.path)).size, manifest.artifacts.length, 'no duplicate paths')
    t.equal(manifest.artifacts.filter((a) => a.path.startsWith('fanout/')).length, 21, 'plan + 10 pages + 10 results are evidence too')
    t.match(manifest.summary, { entries: 5000, stored: 5000, failed: 0, fanOut: { pages: 10 } })
    const inv = manifest.artifacts.find((a) => a.path === INVENTORY_PATH)!
    const inventory = JSON.parse((await store.getBytes(inv.key, inv.versionId)).bytes.toString()) as { entries: InventoryEntry[] }
    t.equal(inventory.entries.length, 5000)
    t.ok(inventory.entries.every((e) => e.key.startsWith('data/')), 'only the prefix')
    const custody = await new CustodyChain(store, key.signer, 'case-fan').read()
    t.equal(custody.filter((e) => e.action === 'captured').length, 1, 'one captured custody entry, appended by the committing worker')

    const v = await verifyCapture(store, 'case-fan', first.captureId, { publicKeyPem: await key.signer.publicKeyPem() })
    t.same(v.findings, [], 'the fan-out capture verifies')

    // late and stale messages only find the committed capture
    const plan = (await readPlan(store, 'case-fan', first.captureId))!
    const late = await processPage({ store, signer: key.signer }, async () => ({ s3, bucket: 'big' }), { schema: FANOUT_SCHEMAS.message, caseId: 'case-fan', captureId: first.captureId, attempt: plan.attempt, page: 3 })
    t.match(late, { processed: false, committed: { created: false } })
    t.equal((await writePlan(store, 'case-fan', first.captureId, { ...plan, attempt: '00000000-0000-0000-0000-000000000000' })).attempt, plan.attempt, 'the first plan written wins')
    s3.destroy()
  })

  t.test('the CLI runs the same fan-out with a local worker pool', async (t) => {
    const { s3, store } = await lockedStore(emulator)
    await createVersionedBucket(s3, 'mid')
    await seedObjects(s3, 'mid', 'p/', 60, 2)
    const queueUrl = (await sqs.send(new CreateQueueCommand({ QueueName: 'cli-fanout' }))).QueueUrl!
    const env = collectorEnv(emulator, key.path, { FORENSICS_FANOUT_QUEUE_URL: queueUrl, FORENSICS_FANOUT_THRESHOLD: '20', FORENSICS_FANOUT_PAGE_SIZE: '7', FORENSICS_LOCAL_WORKERS: '2' })
    const r = await runCli(['capture', 'object-versions', '--case', 'case-cli', '--bucket', 'mid', '--prefix', 'p/'], env)
    t.equal(r.code, 0, r.stderr)
    t.match(r.stderr, /fanning out 60 versions in 9 pages/)
    t.match(r.stdout, /60 entries: 60 stored, 0 delete markers, 0 restore required, 0 failed/)
    const custody = await new CustodyChain(store, key.signer, 'case-cli').read()
    t.equal(custody.filter((e) => e.action === 'captured').length, 1, 'worker and CLI append the same captured entry once')
    // a small set under the threshold is captured in the coordinator itself
    const small = await createObjectVersionsHandler(env)({ caseId: 'case-cli', bucket: 'mid', prefix: 'p/0000', id: 'small' })
    t.match(small, { status: 'complete', summary: { entries: 20, fanOut: null } })
    const missing = await createObjectVersionsHandler(env)({ caseId: 'case-cli', bucket: 'nope-nope', prefix: '', id: 'gone' })
    t.match(missing, { status: 'partial', errors: [{ code: 'NoSuchBucket' }] }, 'a listing failure in fan-out mode commits a partial capture')
    s3.destroy()
  })
})
