import t from 'tap'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { S3Client } from '@aws-sdk/client-s3'
import { SQSClient } from '@aws-sdk/client-sqs'
import { SNSClient } from '@aws-sdk/client-sns'
import { EventBridgeClient } from '@aws-sdk/client-eventbridge'
import type { LambdaClient } from '@aws-sdk/client-lambda'
import { useEmulator } from './fixtures/emulator.js'
import { fakeClient } from './fixtures/fake-client.js'
import { main } from '../cli/main.js'
import { loadConfigFile } from '../forensics/config.js'
import { projectRoot } from '../forensics/local/emulator.js'
import { resourceNames } from '../forensics/routing.js'
import { provisionEvidenceSide } from '../forensics/runtime/provision-local.js'
import { LambdaAsyncInvoker } from '../forensics/drill/invoker.js'
import { LocalSigner } from '../forensics/signer.js'
import { LOCAL_DRILL_CONFIG } from '../forensics/drill/local-config.js'
import { createDrillHandler, drillDepsFromEnv, functionNamesFromEnv, handler, waitsWithin } from '../collectors/drill.js'

const config = loadConfigFile(join(projectRoot, 'forensics.config.json'))
const names = resourceNames(config)

const sink = (): { stream: Writable; text: () => string } => {
  const chunks: Buffer[] = []
  return { stream: new Writable({ write: (c, _e, cb) => (chunks.push(Buffer.from(c)), cb()) }), text: () => Buffer.concat(chunks).toString('utf8') }
}

t.test('LambdaAsyncInvoker invokes with InvocationType Event and names the function on failure', async (t) => {
  const ok = fakeClient<LambdaClient>({ InvokeCommand: () => ({ StatusCode: 202, $metadata: { requestId: 'r-1' } }) })
  const inv = new LambdaAsyncInvoker(ok, names.functions)
  t.same(await inv.invokeAsync('bucket-config', { a: 1 }), { requestId: 'r-1' })
  t.match(ok.calls[0].input, { FunctionName: names.functions['bucket-config'], InvocationType: 'Event' })
  t.same(JSON.parse(Buffer.from(ok.calls[0].input.Payload as Uint8Array).toString()), { a: 1 })
  const sync = fakeClient<LambdaClient>({ InvokeCommand: () => ({ StatusCode: 200, $metadata: {} }) })
  await t.rejects(new LambdaAsyncInvoker(sync, names.functions).invokeAsync('drill', {}), { name: 'StorageError', message: /forensics-drill.*status 200, expected 202/ })
})

t.test('drill waits fit the Lambda timeout', async (t) => {
  t.same(waitsWithin(undefined, { pollMs: 5 }), { pollMs: 5 })
  t.same(waitsWithin(300_000, {}), { captureTimeoutMs: 120_000, deadLetterTimeoutMs: 96_000, siemTimeoutMs: 24_000 })
  t.same(waitsWithin(900_000, { captureTimeoutMs: 1000, siemTimeoutMs: 5 }), { captureTimeoutMs: 1000, deadLetterTimeoutMs: 336_000, siemTimeoutMs: 5 })
  t.match(waitsWithin(1000, {}), { captureTimeoutMs: 5000 }, 'never below a floor')
})

t.test('function names from FORENSICS_CAPTURE_FUNCTIONS', async (t) => {
  t.same(functionNamesFromEnv({ FORENSICS_CAPTURE_FUNCTIONS: JSON.stringify(names.functions) }), names.functions)
  t.throws(() => functionNamesFromEnv({}), { name: 'ValidationError', field: 'FORENSICS_CAPTURE_FUNCTIONS' })
  t.throws(() => functionNamesFromEnv({ FORENSICS_CAPTURE_FUNCTIONS: '{' }), { name: 'ValidationError', message: /not JSON/ })
  t.throws(() => functionNamesFromEnv({ FORENSICS_CAPTURE_FUNCTIONS: '{"drill":"x"}' }), { name: 'ValidationError', message: /lacks bucket-config/ })
})

t.test('deployed drill against an account without the functions', async (t) => {
  const emulator = await useEmulator(t)
  const settings = emulator.clientConfig()
  const clients = { s3: new S3Client(settings), sqs: new SQSClient(settings), sns: new SNSClient(settings), events: new EventBridgeClient(settings) }
  t.teardown(() => Object.values(clients).forEach((c) => c.destroy()))
  const dir = t.testdir({})
  const keyFile = join(dir, 'key.pem')
  LocalSigner.fromFile(keyFile, { create: true })
  const saved = { ...process.env }
  t.teardown(() => {
    process.env = saved
  })
  Object.assign(process.env, emulator.env())

  t.test('forensics drill --deployed fails with exit 3 naming the function it could not invoke', async (t) => {
    await provisionEvidenceSide(clients, config)
    const out = sink()
    const err = sink()
    const code = await main(['drill', '--deployed', '--out', join(dir, 'drills')], { ...process.env, FORENSICS_SIGNING_KEY: `file:${keyFile}` }, out.stream, err.stream)
    t.equal(code, 3)
    t.match(err.text(), new RegExp(`could not invoke ${names.functions['bucket-config']} asynchronously`))
  })

  t.test('a config that names no canary bucket is a configuration error (exit 2) naming the field', async (t) => {
    await provisionEvidenceSide(clients, config)
    const configFile = join(dir, 'no-canary.json')
    writeFileSync(configFile, JSON.stringify({ ...LOCAL_DRILL_CONFIG, drill: { enabled: false } }))
    const out = sink()
    const err = sink()
    const code = await main(['drill', '--deployed', '--out', join(dir, 'drills')], { ...process.env, FORENSICS_EVIDENCE_BUCKET: names.evidenceBucket, FORENSICS_CONFIG: configFile }, out.stream, err.stream)
    t.equal(code, 2, 'a configuration error, not an AWS failure')
    t.match(err.text(), 'drill.canaryBucket is not configured')
  })

  t.test('the drill Lambda handler builds its dependencies from the function environment', async (t) => {
    const side = await provisionEvidenceSide(clients, config)
    const env = {
      ...process.env,
      FORENSICS_EVIDENCE_BUCKET: names.evidenceBucket,
      FORENSICS_SIGNING_KEY: `file:${keyFile}`,
      FORENSICS_CAPTURE_FUNCTIONS: JSON.stringify(names.functions),
      FORENSICS_CANARY_BUCKET: config.drill.canaryBucket,
      FORENSICS_SIEM_TOPIC_ARN: side.siemTopicArn,
      FORENSICS_DRILL_DIR: dir,
    }
    const deps = await drillDepsFromEnv(env)
    t.match(deps, { mode: 'deployed', canaryBucket: config.drill.canaryBucket, siemTopicArn: side.siemTopicArn, deadLetterQueueUrl: side.deadLetterQueueUrl })
    t.equal(deps.store.bucket, names.evidenceBucket)
    t.equal(deps.trailArchive, undefined)
    const withBus = await drillDepsFromEnv({ ...env, FORENSICS_DLQ_URL: 'https://example/q', FORENSICS_SIEM_EVENT_BUS: names.siemEventBus, FORENSICS_TRAIL_ARCHIVE: 's3://trail/prefix' })
    t.equal(withBus.deadLetterQueueUrl, 'https://example/q')
    t.equal(withBus.trailArchive, 's3://trail/prefix')
    const run = createDrillHandler(() => drillDepsFromEnv(env))
    await t.rejects(run({ drillId: 'drill-test-1' }), { name: 'StorageError', message: /could not invoke/ })
    await t.rejects(run({ drillId: 'not a case id' }), { name: 'ValidationError' })
    Object.assign(process.env, { FORENSICS_EVIDENCE_BUCKET: names.evidenceBucket, FORENSICS_SIGNING_KEY: `file:${keyFile}`, FORENSICS_CAPTURE_FUNCTIONS: JSON.stringify(names.functions), FORENSICS_CANARY_BUCKET: config.drill.canaryBucket, FORENSICS_SIEM_TOPIC_ARN: side.siemTopicArn, FORENSICS_DRILL_DIR: dir })
    // cold start: the environment is checked against the drill's schema (forensics/contract/env.ts)
    await t.rejects(handler('scheduled'), { name: 'ValidationError', field: 'FORENSICS_SIEM_EVENT_BUS', message: /FORENSICS_SIEM_EVENT_BUS is not set on drill/ })
    Object.assign(process.env, { FORENSICS_SIEM_EVENT_BUS: names.siemEventBus, FORENSICS_DLQ_URL: side.deadLetterQueueUrl, FORENSICS_TRAIL_ARCHIVE: 'trail/prefix' })
    await t.rejects(handler('scheduled'), { name: 'ValidationError', field: 'FORENSICS_TRAIL_ARCHIVE', message: /must be s3:\/\/BUCKET/ })
    process.env.FORENSICS_TRAIL_ARCHIVE = 's3://trail/prefix'
    await t.rejects(handler('scheduled', { getRemainingTimeInMillis: () => 300_000 }), { name: 'StorageError' })
    await t.rejects(createDrillHandler(async () => ({ ...(await drillDepsFromEnv(env)), canaryBucket: '' }))({}), { name: 'ValidationError', field: 'FORENSICS_CANARY_BUCKET' })
  })
})
