import t from 'tap'
import { readFileSync } from 'node:fs'
import { parseConfig } from '../forensics/config.js'
import { asyncInvokeRoutes, CAPTURE_KEYS, enabledFunctionKeys, FUNCTION_KEYS, resourceNames, routeFor } from '../forensics/routing.js'

const config = parseConfig(JSON.parse(readFileSync(new URL('../forensics.config.json', import.meta.url), 'utf8')))

t.test('resource names derive from name, account and region', async (t) => {
  const n = resourceNames(config)
  t.same(n.functions, {
    'bucket-config': 'forensics-bucket-config',
    'object-versions': 'forensics-object-versions',
    'cloudtrail-slice': 'forensics-cloudtrail-slice',
    'custody-recorder': 'forensics-custody-recorder',
    drill: 'forensics-drill',
    inspector: 'forensics-inspector',
  })
  t.equal(n.evidenceBucket, 'forensics-evidence-111111111111-eu-west-1')
  t.equal(n.accessLogBucket, 'forensics-access-logs-111111111111-eu-west-1')
  t.equal(n.deadLetterQueue, 'forensics-capture-dlq')
  t.equal(n.siemEventBus, 'forensics-siem')
  t.equal(n.memberRole, 'forensics-capture-readonly')
})

t.test('one route per function, in order, with both destinations', async (t) => {
  const routes = asyncInvokeRoutes(config)
  t.same(routes.map((r) => r.key), FUNCTION_KEYS.filter((k) => k !== 'inspector'), 'the inspector only with inspection.enabled')
  for (const r of routes) {
    t.ok(r.onSuccess, `${r.key} has OnSuccess`)
    t.same(r.onFailure, { type: 'sqs', queueName: 'forensics-capture-dlq' }, `${r.key} fails into the DLQ`)
    t.equal(r.maximumEventAgeInSeconds, 3600)
  }
})

t.test('captures and the drill are sealed by the custody recorder', async (t) => {
  for (const key of [...CAPTURE_KEYS, 'drill' as const]) {
    t.same(routeFor(config, key).onSuccess, { type: 'lambda', functionName: 'forensics-custody-recorder' }, key)
  }
  for (const key of CAPTURE_KEYS) {
    t.equal(routeFor(config, key).maximumRetryAttempts, 2)
    t.same(routeFor(config, key).evidenceWritePrefixes, ['cases/*/captures/*'])
  }
})

t.test('the recorder forwards to the SIEM bus instead of itself; the drill is not retried', async (t) => {
  const recorder = routeFor(config, 'custody-recorder')
  t.same(recorder.onSuccess, { type: 'eventbridge', eventBusName: 'forensics-siem' })
  t.same(recorder.evidenceWritePrefixes, ['cases/*/custody/*'])
  const drill = routeFor(config, 'drill')
  t.equal(drill.maximumRetryAttempts, 0)
  t.same(drill.evidenceWritePrefixes, ['drills/*', 'cases/drill-*/custody/*'], 'reports, and the bundled entries of its own drill cases')
})

t.test('the table follows the config', async (t) => {
  const c = parseConfig({
    ...JSON.parse(readFileSync(new URL('../forensics.config.json', import.meta.url), 'utf8')),
    name: 'ir',
    capture: { maximumRetryAttempts: 0, maximumEventAgeInSeconds: 600 },
    siem: { eventBusName: 'soc-bus', topicName: 'soc-topic' },
  })
  const r = routeFor(c, 'bucket-config')
  t.match(r, { functionName: 'ir-bucket-config', maximumRetryAttempts: 0, maximumEventAgeInSeconds: 600, onSuccess: { functionName: 'ir-custody-recorder' } })
  t.same(routeFor(c, 'custody-recorder').onSuccess, { type: 'eventbridge', eventBusName: 'soc-bus' })
})

t.test('the inspector is routed only when inspection is enabled: OnSuccess → recorder, OnFailure → DLQ, no evidence writes', async (t) => {
  t.throws(() => routeFor(config, 'inspector'), /inspector is not deployed with this config/)
  const raw = JSON.parse(readFileSync(new URL('../forensics.config.json', import.meta.url), 'utf8')) as Record<string, unknown>
  const on = parseConfig({ ...raw, inspection: { enabled: true, buckets: [{ bucket: 'uploads-bucket' }], rules: ['s3://rules-bucket/r.yar'] } })
  t.same(enabledFunctionKeys(on), [...FUNCTION_KEYS])
  t.match(routeFor(on, 'inspector'), {
    onSuccess: { type: 'lambda', functionName: 'forensics-custody-recorder' },
    onFailure: { type: 'sqs', queueName: 'forensics-capture-dlq' },
    maximumRetryAttempts: 2,
    evidenceWritePrefixes: [],
  })
})
