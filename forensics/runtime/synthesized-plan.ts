/**
 * The deployment as the synthesized plan states it (`cdktf.out/stacks/<stack>/cdk.tf.json`,
 * what `cdktf deploy` applies): every function with its environment and code asset, every
 * event invoke config (retries, maximum age, destinations), the EventBridge rules and their
 * Lambda targets, the SQS event source mappings and the drill schedule. The local runtime
 * is built from this, not wired by hand, so what runs locally is what a deploy would run.
 *
 * References between resources (`${aws_sqs_queue.x.url}`) are resolved to resource names
 * here and to emulator values by {@link resolvePlanEnvironment}.
 */
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { ValidationError } from '../errors.js'
import { FUNCTION_KEYS, type AsyncInvokeRoute, type DestinationRef, type FunctionKey } from '../routing.js'

type Obj = Record<string, unknown>
type Resources = Record<string, Record<string, Obj>>

/** One function of the plan. */
export interface PlanFunction {
  key: FunctionKey
  name: string
  resourceId: string
  /** the code asset (the ZIP a deploy uploads), absolute */
  zipPath: string
  handler: string
  runtime: string
  /** as written in the plan (references unresolved) */
  environment: Record<string, string>
}

/** One EventBridge rule with Lambda targets. */
export interface PlanRule {
  name: string
  /** the bus name (resolved from the reference) */
  eventBusName: string
  pattern: Obj
  targets: { targetId: string; functionName: string }[]
}

/** A deployment plan read from `cdk.tf.json`. */
export interface DeploymentPlan {
  file: string
  /** SHA-256 (hex) of the plan file's bytes */
  sha256: string
  stackDir: string
  functions: PlanFunction[]
  /** Lambda's async contract per function, from the event invoke configs */
  routes: AsyncInvokeRoute[]
  rules: PlanRule[]
  eventSourceMappings: { queueName: string; functionName: string; batchSize: number }[]
  schedule?: { name: string; expression: string; functionName: string; input: unknown }
  /** the raw plan (for reference resolution) */
  raw: Obj
}

const REF = /^\$\{(aws_[a-z0-9_]+)\.([^.}]+)\.([a-z_]+)\}$/

function resources(raw: Obj): Resources {
  return (raw.resource ?? {}) as Resources
}

/** The resource a `${type.id.attr}` reference points at; throws naming the reference otherwise. */
function referenced(raw: Obj, value: unknown, what: string): { type: string; id: string; attr: string; resource: Obj } {
  const m = typeof value === 'string' ? REF.exec(value) : null
  const resource = m ? resources(raw)[m[1]]?.[m[2]] : undefined
  if (!m || !resource) throw new ValidationError(`${what}: ${JSON.stringify(value)} is not a reference to a resource of the plan`, { field: what })
  return { type: m[1], id: m[2], attr: m[3], resource }
}

function nameOf(raw: Obj, value: unknown, what: string): string {
  const r = referenced(raw, value, what)
  const name = r.resource.function_name ?? r.resource.name
  if (typeof name !== 'string') throw new ValidationError(`${what}: ${r.type}.${r.id} has no name in the plan`, { field: what })
  return name
}

function keyOf(name: string): FunctionKey {
  const key = FUNCTION_KEYS.find((k) => name.endsWith(`-${k}`))
  if (!key) throw new ValidationError(`the plan deploys a function ${name} that is none of ${FUNCTION_KEYS.join(', ')}`, { field: 'function_name' })
  return key
}

function destination(raw: Obj, value: unknown, what: string): DestinationRef {
  const r = referenced(raw, value, what)
  const name = nameOf(raw, value, what)
  if (r.type === 'aws_lambda_function') return { type: 'lambda', functionName: name }
  if (r.type === 'aws_sqs_queue') return { type: 'sqs', queueName: name }
  if (r.type === 'aws_cloudwatch_event_bus') return { type: 'eventbridge', eventBusName: name }
  throw new ValidationError(`${what}: destination ${r.type} is not a function, queue or bus`, { field: what })
}

/** Reads a plan file (or a plan already parsed from it, e.g. mutated in memory by a test). */
export function readDeploymentPlan(file: string, parsed?: Obj): DeploymentPlan {
  const bytes = readFileSync(file)
  const raw = parsed ?? (JSON.parse(bytes.toString('utf8')) as Obj)
  const R = resources(raw)
  const stackDir = dirname(file)
  const functions: PlanFunction[] = Object.entries(R.aws_lambda_function ?? {}).map(([id, f]) => ({
    key: keyOf(String(f.function_name)),
    name: String(f.function_name),
    resourceId: id,
    zipPath: join(stackDir, String(f.filename)),
    handler: String(f.handler),
    runtime: String(f.runtime),
    environment: { ...(((f.environment as Obj | undefined)?.variables ?? {}) as Record<string, string>) },
  }))
  const routes: AsyncInvokeRoute[] = Object.entries(R.aws_lambda_function_event_invoke_config ?? {}).map(([id, c]) => {
    const name = nameOf(raw, c.function_name, `aws_lambda_function_event_invoke_config.${id}.function_name`)
    const d = (c.destination_config ?? {}) as { on_success?: { destination?: string }; on_failure?: { destination?: string } }
    return {
      key: keyOf(name),
      functionName: name,
      maximumRetryAttempts: Number(c.maximum_retry_attempts ?? 2),
      maximumEventAgeInSeconds: Number(c.maximum_event_age_in_seconds ?? 21600),
      onSuccess: destination(raw, d.on_success?.destination, `aws_lambda_function_event_invoke_config.${id}.on_success`),
      onFailure: destination(raw, d.on_failure?.destination, `aws_lambda_function_event_invoke_config.${id}.on_failure`),
      evidenceWritePrefixes: [],
    }
  })
  const targets = Object.values(R.aws_cloudwatch_event_target ?? {})
  const rules: PlanRule[] = []
  for (const [id, rule] of Object.entries(R.aws_cloudwatch_event_rule ?? {})) {
    const ruleRef = `\${aws_cloudwatch_event_rule.${id}.name}`
    const lambdaTargets = targets.filter((x) => x.rule === ruleRef && typeof x.arn === 'string' && x.arn.startsWith('${aws_lambda_function.'))
    if (lambdaTargets.length === 0 || typeof rule.event_pattern !== 'string') continue
    rules.push({
      name: String(rule.name),
      eventBusName: rule.event_bus_name ? nameOf(raw, rule.event_bus_name, `aws_cloudwatch_event_rule.${id}.event_bus_name`) : 'default',
      pattern: JSON.parse(rule.event_pattern) as Obj,
      targets: lambdaTargets.map((x) => ({ targetId: String(x.target_id), functionName: nameOf(raw, x.arn, `aws_cloudwatch_event_target.${String(x.target_id)}.arn`) })),
    })
  }
  const eventSourceMappings = Object.entries(R.aws_lambda_event_source_mapping ?? {}).map(([id, m]) => ({
    queueName: nameOf(raw, m.event_source_arn, `aws_lambda_event_source_mapping.${id}.event_source_arn`),
    functionName: nameOf(raw, m.function_name, `aws_lambda_event_source_mapping.${id}.function_name`),
    batchSize: Number(m.batch_size ?? 10),
  }))
  const [schedule] = Object.values(R.aws_scheduler_schedule ?? {}).map((s) => {
    const target = s.target as Obj
    return { name: String(s.name), expression: String(s.schedule_expression), functionName: nameOf(raw, target.arn, 'aws_scheduler_schedule.target.arn'), input: typeof target.input === 'string' ? (JSON.parse(target.input) as unknown) : {} }
  })
  return { file, sha256: createHash('sha256').update(bytes).digest('hex'), stackDir, functions, routes, rules, eventSourceMappings, ...(schedule ? { schedule } : {}), raw }
}

/** A function of the plan by key; throws naming it when the plan has none. */
export function planFunction(plan: DeploymentPlan, key: FunctionKey): PlanFunction {
  const f = plan.functions.find((x) => x.key === key)
  if (!f) throw new ValidationError(`the plan ${plan.file} deploys no ${key} function`, { field: key })
  return f
}

/** How plan references become values where the functions run (the emulator's URLs and ARNs). */
export interface PlanResolver {
  queueUrl(name: string): string
  queueArn(name: string): string
  topicArn(name: string): string
  functionArn(name: string): string
  busArn(name: string): string
}

/** A function's environment with every reference resolved; throws naming an unresolvable one. */
export function resolvePlanEnvironment(plan: DeploymentPlan, fn: PlanFunction, resolver: PlanResolver): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [name, value] of Object.entries(fn.environment)) {
    if (!value.includes('${')) {
      out[name] = value
      continue
    }
    const what = `${fn.name} environment ${name}`
    const r = referenced(plan.raw, value, what)
    const resourceName = nameOf(plan.raw, value, what)
    const key = `${r.type}.${r.attr}`
    const resolved =
      key === 'aws_sqs_queue.url' ? resolver.queueUrl(resourceName)
        : key === 'aws_sqs_queue.arn' ? resolver.queueArn(resourceName)
          : key === 'aws_sns_topic.arn' ? resolver.topicArn(resourceName)
            : key === 'aws_lambda_function.arn' ? resolver.functionArn(resourceName)
              : key === 'aws_cloudwatch_event_bus.arn' ? resolver.busArn(resourceName)
                : undefined
    if (resolved === undefined) throw new ValidationError(`${what}: cannot resolve ${value} (${key}) locally`, { field: name })
    out[name] = resolved
  }
  return out
}
