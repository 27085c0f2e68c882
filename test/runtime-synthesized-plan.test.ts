/** Reading a synthesized plan (forensics/runtime/synthesized-plan.ts) and running bundled assets (bundled-handler.ts, warm-containers.ts): results and refusals. */
import t from 'tap'
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { tsRegister } from './fixtures/ts.js'
import { planFunction, readDeploymentPlan, resolvePlanEnvironment, type PlanResolver } from '../forensics/runtime/synthesized-plan.js'
import { processScratchFile, runBundledHandler, unpackBundle } from '../forensics/runtime/bundled-handler.js'
import { zipSingleFile } from '../stacks/zip.js'
import { WarmContainers } from '../forensics/runtime/warm-containers.js'
import { bundledAsyncHandler } from '../forensics/runtime/bundled-async-handler.js'

const dir = mkdtempSync(join(tmpdir(), 'forensics-plan-'))
t.teardown(() => rmSync(dir, { recursive: true, force: true }))
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

t.test('the runners of bundled assets are scratch files whose folders go when the process exits', async (t) => {
  const module = pathToFileURL(join(import.meta.dirname, '..', 'forensics', 'runtime', 'bundled-handler.ts')).href
  const child = spawnSync(process.execPath, ['--import', tsRegister, '--input-type=module', '-e', `const { processScratchFile } = await import(${JSON.stringify(module)}); const f = processScratchFile('forensics-scratch-test-', 'r.mjs', 'text'); console.log(f)`], { encoding: 'utf8' })
  t.equal(child.status, 0, child.stderr)
  const file = child.stdout.trim()
  t.match(file, /forensics-scratch-test-[^/]+\/r\.mjs$/)
  t.notOk(existsSync(dirname(file)), 'its folder is removed at exit')
  // in this process: written, and there until exit
  const here = processScratchFile('forensics-scratch-test-', 'r.mjs', 'text')
  t.equal(readFileSync(here, 'utf8'), 'text')
})

t.test('bundled assets: a result, a thrown error with its field, a crash, a bad ZIP', async (t) => {
  const zip = (name: string, code: string): string => {
    const path = join(dir, `${name}.zip`)
    writeFileSync(path, zipSingleFile('index.mjs', Buffer.from(code)))
    return path
  }
  const ok = await runBundledHandler(zip('ok', 'export const handler = async (e) => ({ got: e, env: process.env.ONLY, log: process.env.FORENSICS_AWS_CALL_LOG })'), { a: 1 }, { functionName: 'f', env: { ONLY: 'this' }, recordCalls: true })
  const log = (ok.result as { log: string }).log
  t.same(ok, { ok: true, result: { got: { a: 1 }, env: 'this', log }, calls: [] })
  t.match(log, /forensics-calls-[^/]+\/calls\.jsonl$/, 'the run had a call log of its own')
  t.notOk(existsSync(dirname(log)), 'and its folder is removed after the run')
  const refused = await runBundledHandler(zip('refuse', "export const handler = async () => { const e = new Error('no'); e.name = 'ValidationError'; e.field = 'X'; throw e }"), null, { functionName: 'f', env: {} })
  t.match(refused, { ok: false, error: 'ValidationError: no', field: 'X' })
  const crash = await runBundledHandler(zip('crash', "import './missing-module.mjs'\nexport const handler = async () => 1"), {}, { functionName: 'f', env: {} })
  t.match(crash, { ok: false, error: /f exited 1: .*missing-module/s }, 'a module missing from the bundle fails the run')
  const notZip = join(dir, 'not.zip')
  writeFileSync(notZip, 'not a zip')
  t.throws(() => unpackBundle(notZip), { name: 'StorageError', message: /cannot unpack/ })
})

t.test('unpacked bundles: a use marks one used; unpacking new content removes those unused for a week', async (t) => {
  const now = Date.now()
  const dayMs = 24 * 3600_000
  const zip = (name: string, code: string): string => {
    const path = join(dir, `${name}.zip`)
    writeFileSync(path, zipSingleFile('index.mjs', Buffer.from(code)))
    return path
  }
  const age = (path: string, days: number): void => utimesSync(path, new Date(now - days * dayMs), new Date(now - days * dayMs))
  const used = unpackBundle(zip('used', `export const handler = async () => ${now}`))
  const stale = unpackBundle(zip('stale', `export const handler = async () => -${now}`))
  const recent = join(tmpdir(), 'forensics-bundle-recent-test'), other = join(tmpdir(), 'not-a-bundle-old-test')
  for (const d of [recent, other]) mkdirSync(d, { recursive: true })
  t.teardown(() => [used, stale, recent, other].forEach((d) => rmSync(d, { recursive: true, force: true })))
  for (const d of [used, stale, other]) age(d, 8)
  age(recent, 6)
  t.equal(unpackBundle(zip('used-again', `export const handler = async () => ${now}`), now), used, 'same content, same directory')
  t.ok(now - statSync(used).mtimeMs < dayMs, 'and it is marked used')
  const fresh = unpackBundle(zip('fresh', `export const handler = async () => 'new ${now}'`), now)
  t.teardown(() => rmSync(fresh, { recursive: true, force: true }))
  t.notOk(existsSync(stale), 'unused for 8 days: removed')
  t.ok(existsSync(used) && existsSync(recent), 'used since, or unused for 6 days: kept')
  t.ok(existsSync(other), 'not an unpacked bundle: kept')
  t.ok(existsSync(join(fresh, 'index.mjs')))
})

t.test('warm containers: reused between invocations, one at a time, a dead one replaced; errors keep their name and field', async (t) => {
  const zip = (name: string, code: string): string => {
    const path = join(dir, `${name}.zip`)
    writeFileSync(path, zipSingleFile('index.mjs', Buffer.from(code)))
    return path
  }
  const pool = new WarmContainers()
  t.teardown(() => pool.close())
  // module state survives between invocations of one container, as in Lambda
  const counter = zip('counter', "let n = 0\nexport const handler = async (e, ctx) => { if (e === 'die') process.exit(7); if (e === 'refuse') { const x = new Error('no'); x.name = 'ValidationError'; x.field = 'F'; throw x } return { n: ++n, env: process.env.ONLY, id: ctx.awsRequestId, pid: process.pid } }")
  const o = { functionName: 'counter', env: { ONLY: 'this' } }
  const first = await pool.run(counter, null, { ...o, requestId: 'r1' })
  const second = await pool.run(counter, null, o)
  t.match(first, { ok: true, result: { n: 1, env: 'this', id: 'r1' } })
  t.match(second, { ok: true, result: { n: 2, id: 'local', pid: (first.result as { pid: number }).pid } }, 'the warm container served the second invocation')
  const both = await Promise.all([pool.run(counter, null, o), pool.run(counter, null, o)])
  t.equal(new Set(both.map((r) => (r.result as { pid: number }).pid)).size, 2, 'concurrent invocations get a container each')
  t.match(await pool.run(counter, 'refuse', o), { ok: false, error: 'ValidationError: no', field: 'F' })
  t.match(await pool.run(counter, 'die', o), { ok: false, error: /^counter exited 7: / })
  t.match(await pool.run(counter, null, o), { ok: true, result: { n: /\d+/ } }, 'a dead container is replaced')
  t.match(await pool.run(zip('broken', "import './missing-module.mjs'\nexport const handler = async () => 1"), null, { functionName: 'broken', env: {} }), { ok: false, error: /^broken exited 1: .*missing-module/s }, 'a module missing from the bundle fails the invocation')
  const failing = bundledAsyncHandler({ run: (_k, e) => pool.run(counter, e, o) }, 'bucket-config')
  const ctx = { awsRequestId: 'r', functionName: 'p-bucket-config', invokedFunctionArn: 'arn', attempt: 1 }
  await t.rejects(failing('refuse', ctx), { name: 'ValidationError', message: 'no', field: 'F', functionName: 'p-bucket-config' })
  await t.rejects(failing('die', ctx), { name: 'Runtime.ExitError', message: /^counter exited 7/ })
  t.match(await failing(null, ctx), { n: /\d+/ })
  t.ok(pool.size >= 1)
  pool.close()
  t.match(await pool.run(counter, null, o), { ok: false, error: /the local runtime is closed/ })
  t.equal(pool.size, 0)
})

t.test('a bundle that starts a worker thread runs (cold and warm)', async (t) => {
  const path = join(dir, 'worker.zip')
  // a worker from a file, as the inspector's scan pool starts one (it inherits the runner's execArgv)
  const code = "import { Worker } from 'node:worker_threads'\nimport { writeFileSync, mkdtempSync, rmSync } from 'node:fs'\nimport { join } from 'node:path'\nimport { tmpdir } from 'node:os'\nexport const handler = async () => { const d = mkdtempSync(join(tmpdir(), 'w-')); const f = join(d, 'w.mjs'); writeFileSync(f, \"import { parentPort } from 'node:worker_threads'; parentPort.postMessage(42)\"); return new Promise((res, rej) => { const w = new Worker(f); w.once('message', (m) => { rmSync(d, { recursive: true, force: true }); res(m) }); w.once('error', rej) }) }"
  writeFileSync(path, zipSingleFile('index.mjs', Buffer.from(code)))
  t.match(await runBundledHandler(path, null, { functionName: 'w', env: {} }), { ok: true, result: 42 })
  const pool = new WarmContainers()
  t.teardown(() => pool.close())
  t.match(await pool.run(path, null, { functionName: 'w', env: {} }), { ok: true, result: 42 })
})
