import t from 'tap'
import { SQSClient, CreateQueueCommand } from '@aws-sdk/client-sqs'
import { useEmulator } from './fixtures/emulator.js'
import { lockedStore } from './fixtures/evidence.js'
import { fanOutScenario } from './fixtures/fanout-scenario.js'
import { collectorEnv, createVersionedBucket, runCli, seedObjects, signingKeyFile, useEmulatorEnv } from './fixtures/collectors.js'
import type { CaptureHandlerResult } from '../forensics/bucket-config/collector-runtime.js'
import { createObjectVersionsHandler as makeHandler } from '../collectors/object-versions.js'
import { CustodyChain } from '../forensics/custody.js'

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

  t.test('paging, redelivery, concurrent workers: one committed manifest, no duplicates', async (t) => {
    // the 5,000-version run of the same scenario is `npm run soak`
    await fanOutScenario(t, emulator, sqs, key, { versions: 200, pageSize: 20, threshold: 50, workers: 3 })
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
