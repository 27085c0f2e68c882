/** Reading a synthesized plan (forensics/runtime/synthesized-plan.ts) and running bundled assets (bundled-handler.ts): the refusals. */
import t from 'tap'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { planFunction, readDeploymentPlan, resolvePlanEnvironment, type PlanResolver } from '../forensics/runtime/synthesized-plan.js'
import { runBundledHandler, unpackBundle } from '../forensics/runtime/bundled-handler.js'
import { zipSingleFile } from '../stacks/zip.js'

const dir = mkdtempSync(join(tmpdir(), 'forensics-plan-'))
const fn = (name: string, env: Record<string, string> = {}) => ({ function_name: name, filename: `assets/${name}.zip`, handler: 'index.handler', runtime: 'nodejs22.x', environment: { variables: env } })
const write = (plan: unknown): string => {
  const file = join(dir, `plan-${Math.random().toString(36).slice(2)}.json`)
  writeFileSync(file, JSON.stringify(plan))
  return file
}
const resolver: PlanResolver = { queueUrl: (n) => `url:${n}`, queueArn: (n) => `qarn:${n}`, topicArn: (n) => `tarn:${n}`, functionArn: (n) => `farn:${n}`, busArn: (n) => `barn:${n}` }

t.test('plans: defaults, references resolved, refusals naming the resource', async (t) => {
  const plan = readDeploymentPlan(write({
    resource: {
      aws_lambda_function: { a: fn('p-bucket-config', { Q: '${aws_sqs_queue.q.url}', QA: '${aws_sqs_queue.q.arn}', T: '${aws_sns_topic.t.arn}', F: '${aws_lambda_function.a.arn}', B: '${aws_cloudwatch_event_bus.b.arn}', L: 'literal' }), d: fn('p-drill') },
      aws_sqs_queue: { q: { name: 'queue' } },
      aws_sns_topic: { t: { name: 'topic' } },
      aws_cloudwatch_event_bus: { b: { name: 'bus' } },
      aws_lambda_function_event_invoke_config: { c: { function_name: '${aws_lambda_function.a.function_name}', destination_config: { on_success: { destination: '${aws_cloudwatch_event_bus.b.arn}' }, on_failure: { destination: '${aws_sqs_queue.q.arn}' } } } },
      aws_cloudwatch_event_rule: { r: { name: 'rule', event_pattern: '{"source":["x"]}' }, none: { name: 'no-lambda-target', event_pattern: '{}' } },
      aws_cloudwatch_event_target: { x: { rule: '${aws_cloudwatch_event_rule.r.name}', arn: '${aws_lambda_function.d.arn}', target_id: 'tx' }, y: { rule: '${aws_cloudwatch_event_rule.none.name}', arn: 'arn:aws:sqs:q', target_id: 'ty' } },
      aws_lambda_event_source_mapping: { m: { event_source_arn: '${aws_sqs_queue.q.arn}', function_name: '${aws_lambda_function.a.arn}' } },
    },
  }))
  t.same(plan.routes, [{ key: 'bucket-config', functionName: 'p-bucket-config', maximumRetryAttempts: 2, maximumEventAgeInSeconds: 21600, onSuccess: { type: 'eventbridge', eventBusName: 'bus' }, onFailure: { type: 'sqs', queueName: 'queue' }, evidenceWritePrefixes: [] }], 'Lambda\'s defaults where the plan sets none')
  t.same(plan.rules, [{ name: 'rule', eventBusName: 'default', pattern: { source: ['x'] }, targets: [{ targetId: 'tx', functionName: 'p-drill' }] }], 'rules without a Lambda target are not the runtime\'s')
  t.same(plan.eventSourceMappings, [{ queueName: 'queue', functionName: 'p-bucket-config', batchSize: 10 }])
  t.equal(plan.schedule, undefined)
  t.same(resolvePlanEnvironment(plan, planFunction(plan, 'bucket-config'), resolver), { Q: 'url:queue', QA: 'qarn:queue', T: 'tarn:topic', F: 'farn:p-bucket-config', B: 'barn:bus', L: 'literal' })
  t.throws(() => planFunction(plan, 'object-versions'), { name: 'ValidationError', field: 'object-versions', message: /deploys no object-versions function/ })

  const bad = (resource: Record<string, unknown>) => () => readDeploymentPlan(write({ resource: { aws_lambda_function: { a: fn('p-bucket-config') }, aws_sqs_queue: { q: { name: 'queue' } }, aws_sns_topic: { t: { name: 'topic' }, n: {} }, ...resource } }))
  t.throws(bad({ aws_lambda_function: { z: fn('p-something') } }), { name: 'ValidationError', field: 'function_name', message: /p-something that is none of/ })
  t.throws(bad({ aws_lambda_function_event_invoke_config: { c: { function_name: 'p-bucket-config' } } }), { name: 'ValidationError', message: /"p-bucket-config" is not a reference to a resource of the plan/ })
  t.throws(bad({ aws_lambda_function_event_invoke_config: { c: { function_name: '${aws_lambda_function.a.function_name}', destination_config: { on_success: { destination: '${aws_sns_topic.t.arn}' } } } } }), { message: /destination aws_sns_topic is not a function, queue or bus/ })
  t.throws(bad({ aws_lambda_event_source_mapping: { m: { event_source_arn: '${aws_sns_topic.n.arn}', function_name: '${aws_lambda_function.a.arn}' } } }), { message: /aws_sns_topic.n has no name in the plan/ })
  const odd = readDeploymentPlan(write({ resource: { aws_lambda_function: { a: fn('p-bucket-config', { X: '${aws_sqs_queue.q.id}' }) }, aws_sqs_queue: { q: { name: 'queue' } }, aws_scheduler_schedule: { s: { name: 's', schedule_expression: 'rate(1 day)', target: { arn: '${aws_lambda_function.a.arn}' } } } } }))
  t.match(odd.schedule, { name: 's', functionName: 'p-bucket-config', input: {} })
  t.throws(() => resolvePlanEnvironment(odd, odd.functions[0], resolver), { name: 'ValidationError', field: 'X', message: /cannot resolve \$\{aws_sqs_queue.q.id\} \(aws_sqs_queue.id\) locally/ })
})

t.test('bundled assets: a result, a thrown error with its field, a crash, a bad ZIP', async (t) => {
  const zip = (name: string, code: string): string => {
    const path = join(dir, `${name}.zip`)
    writeFileSync(path, zipSingleFile('index.mjs', Buffer.from(code)))
    return path
  }
  const ok = await runBundledHandler(zip('ok', 'export const handler = async (e) => ({ got: e, env: process.env.ONLY })'), { a: 1 }, { functionName: 'f', env: { ONLY: 'this' }, recordCalls: true })
  t.same(ok, { ok: true, result: { got: { a: 1 }, env: 'this' }, calls: [] })
  const refused = await runBundledHandler(zip('refuse', "export const handler = async () => { const e = new Error('no'); e.name = 'ValidationError'; e.field = 'X'; throw e }"), null, { functionName: 'f', env: {} })
  t.match(refused, { ok: false, error: 'ValidationError: no', field: 'X' })
  const crash = await runBundledHandler(zip('crash', "import './missing-module.mjs'\nexport const handler = async () => 1"), {}, { functionName: 'f', env: {} })
  t.match(crash, { ok: false, error: /f exited 1: .*missing-module/s }, 'a module missing from the bundle fails the run')
  const notZip = join(dir, 'not.zip')
  writeFileSync(notZip, 'not a zip')
  t.throws(() => unpackBundle(notZip), { name: 'StorageError', message: /cannot unpack/ })
})
