import t from 'tap'
import { readFileSync } from 'node:fs'
import { Testing } from '../stacks/cdktf.js'
import { addForensicsStacks } from '../stacks/app.js'
import { parseConfig, type ForensicsConfig } from '../forensics/config.js'
import { asyncInvokeRoutes, enabledFunctionKeys } from '../forensics/routing.js'
import { LocalRuntime } from '../forensics/runtime/local-runtime.js'
import { localDrillConfig, LOCAL_DRILL_CONFIG } from '../forensics/drill/local-config.js'
import { projectRoot } from '../forensics/local/emulator.js'

type Resources = Record<string, Record<string, Record<string, unknown>>>

/** One normalized routing row: what Lambda does with an async invocation of a function. */
interface Row {
  functionName: string
  maximumRetryAttempts: number
  maximumEventAgeInSeconds: number
  onSuccess: string
  onFailure: string
}

/** Resolves `${aws_x.id.arn}` to `<kind>:<name>` by looking the resource up in the synthesized JSON. */
function destinationOf(resources: Resources, token: string): string {
  const m = /^\$\{(aws_[a-z_]+)\.([^.]+)\.(arn|function_name)\}$/.exec(token)
  if (!m) throw new Error(`unexpected destination ${token}`)
  const r = resources[m[1]]?.[m[2]]
  if (!r) throw new Error(`${token} names no synthesized resource`)
  const kind = { aws_lambda_function: 'lambda', aws_sqs_queue: 'sqs', aws_cloudwatch_event_bus: 'eventbridge', aws_sns_topic: 'sns' }[m[1]]
  return `${kind}:${String(r.function_name ?? r.name)}`
}

/** The routing the stacks deploy: every aws_lambda_function_event_invoke_config, resolved. */
function synthesizedRouting(config: ForensicsConfig): Row[] {
  const app = Testing.app()
  const { forensics } = addForensicsStacks(app, config)
  const resources = (JSON.parse(Testing.synth(forensics)) as { resource: Resources }).resource
  return Object.values(resources.aws_lambda_function_event_invoke_config ?? {})
    .map((c) => {
      const dc = c.destination_config as { on_success: { destination: string }; on_failure: { destination: string } }
      return {
        functionName: destinationOf(resources, String(c.function_name)).replace(/^lambda:/, ''),
        maximumRetryAttempts: c.maximum_retry_attempts as number,
        maximumEventAgeInSeconds: c.maximum_event_age_in_seconds as number,
        onSuccess: destinationOf(resources, dc.on_success.destination),
        onFailure: destinationOf(resources, dc.on_failure.destination),
      }
    })
    .sort((a, b) => a.functionName.localeCompare(b.functionName))
}

/** The routing the local runtime actually applies, asked function by function. */
function localRouting(config: ForensicsConfig): Row[] {
  // built exactly as cli/commands/drill-local.ts builds the local drill's runtime
  const runtime = new LocalRuntime({ routes: asyncInvokeRoutes(config), handlers: {}, sender: { send: async () => undefined }, region: config.region, accountId: config.forensicsAccountId })
  const name = (d: { type: string; functionName?: string; queueName?: string; eventBusName?: string; topicName?: string }): string => `${d.type}:${d.functionName ?? d.queueName ?? d.eventBusName ?? d.topicName}`
  return enabledFunctionKeys(config).map((k) => runtime.route(k))
    .map((r) => ({ functionName: r.functionName, maximumRetryAttempts: r.maximumRetryAttempts, maximumEventAgeInSeconds: r.maximumEventAgeInSeconds, onSuccess: name(r.onSuccess), onFailure: name(r.onFailure) }))
    .sort((a, b) => a.functionName.localeCompare(b.functionName))
}

t.test('the local runtime routes exactly like the synthesized event invoke configs', async (t) => {
  const { config } = localDrillConfig(projectRoot, {})
  const deployed = synthesizedRouting(config)
  const local = localRouting(config)
  t.equal(deployed.length, enabledFunctionKeys(config).length, 'one event invoke config per deployed function')
  t.same(local, deployed)
  // and the table is not trivially equal: it has retries, ages and all three destination kinds
  t.ok(deployed.some((r) => r.onSuccess.startsWith('lambda:')) && deployed.some((r) => r.onSuccess.startsWith('eventbridge:')) && deployed.every((r) => r.onFailure.startsWith('sqs:')))
})

t.test('a changed config changes both sides the same way', async (t) => {
  const raw = JSON.parse(readFileSync(new URL('../forensics.config.json', import.meta.url), 'utf8')) as Record<string, unknown>
  const config = parseConfig({ ...raw, name: 'other', capture: { ...(raw.capture as object), maximumRetryAttempts: 1, maximumEventAgeInSeconds: 120 }, siem: { eventBusName: 'x-bus', topicName: 'x-topic' } })
  const deployed = synthesizedRouting(config)
  t.same(localRouting(config), deployed)
  t.ok(deployed.some((r) => r.maximumRetryAttempts === 1 && r.maximumEventAgeInSeconds === 120))
  t.ok(deployed.some((r) => r.onSuccess === 'eventbridge:x-bus'))
  t.same(localRouting(parseConfig(LOCAL_DRILL_CONFIG)), synthesizedRouting(parseConfig(LOCAL_DRILL_CONFIG)), 'the built-in local config too')
  const inspecting = parseConfig({ ...raw, inspection: { enabled: true, buckets: [{ bucket: 'uploads-bucket' }], rules: ['s3://rules-bucket/r.yar'] } })
  const rows = synthesizedRouting(inspecting)
  t.same(localRouting(inspecting), rows, 'with the inspector')
  t.ok(rows.some((r) => r.functionName === 'forensics-inspector' && r.onSuccess === 'lambda:forensics-custody-recorder'))
})
