/**
 * `npm run soak`: the object-versions fan-out at scale — 5,000 versions in 10 pages of 500,
 * the event delivered twice, three concurrent workers — with the same assertions as the
 * suite's small run (test/fixtures/fanout-scenario.ts). Takes minutes, so it is not in `npm test`.
 */
import t from 'tap'
import { SQSClient } from '@aws-sdk/client-sqs'
import { useEmulator } from '../fixtures/emulator.js'
import { signingKeyFile, useEmulatorEnv } from '../fixtures/collectors.js'
import { fanOutScenario } from '../fixtures/fanout-scenario.js'

t.test('object-versions fan-out through SQS, 5,000 versions', async (t) => {
  const emulator = await useEmulator(t)
  useEmulatorEnv(t, emulator)
  const key = signingKeyFile()
  const sqs = new SQSClient(emulator.clientConfig())
  t.teardown(() => sqs.destroy())
  const started = Date.now()
  await fanOutScenario(t, emulator, sqs, key, { versions: 5000, pageSize: 500, threshold: 1000, workers: 3 })
  t.comment(`5,000-version fan-out scenario: ${((Date.now() - started) / 1000).toFixed(1)} s`)
})
