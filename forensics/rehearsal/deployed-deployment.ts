/**
 * The deployment as the emulator's APIs report it after `terraform apply` — not as the plan
 * says it should be: every function of the stack (ListFunctions, filtered by the config's
 * name prefix) with its configuration (GetFunction: environment, role, runtime, handler,
 * CodeSha256), its event invoke config (GetFunctionEventInvokeConfig: retries, maximum event
 * age, destinations) and event source mappings (ListEventSourceMappings); the EventBridge
 * rules and targets on the intake and default buses (ListRules, ListTargetsByRule); and the
 * drill schedule (Scheduler ListSchedules + GetSchedule). The code each function runs is
 * the ZIP under the synth output whose SHA-256 (base64) equals the deployed `CodeSha256`: a
 * function whose code matches no ZIP is refused here, before anything runs or is written.
 *
 * It has the shape the drill consumes from a deployment (`source`, the {@link DeploymentPlan}
 * data, `run`, `environment`, `deliveries`), with `source.kind = 'deployed'` and a SHA-256
 * over the configuration read back (canonical JSON of {@link DeployedConfiguration}).
 */
import { createHash } from 'node:crypto'
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import {
  GetFunctionCommand,
  GetFunctionEventInvokeConfigCommand,
  LambdaClient,
  ListEventSourceMappingsCommand,
  ListFunctionsCommand,
  ResourceNotFoundException,
  type FunctionConfiguration,
} from '@aws-sdk/client-lambda'
import { EventBridgeClient, ListRulesCommand, ListTargetsByRuleCommand } from '@aws-sdk/client-eventbridge'
import { GetScheduleCommand, ListSchedulesCommand, SchedulerClient } from '@aws-sdk/client-scheduler'
import { CreateQueueCommand, DeleteMessageCommand, GetQueueUrlCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs'
import { ListTopicsCommand, SNSClient } from '@aws-sdk/client-sns'
import { canonicalBytes } from '../canonical-json.js'
import { StorageError, ValidationError } from '../errors.js'
import type { Emulator } from '../local/emulator.js'
import type { ForensicsConfig } from '../config.js'
import { FUNCTION_KEYS, resourceNames, type AsyncInvokeRoute, type DestinationRef, type FunctionKey } from '../routing.js'
import type { ProvisionedEvidenceSide } from '../runtime/provision-local.js'
import type { DeploymentPlan, PlanFunction, PlanResolver, PlanRule } from '../runtime/synthesized-plan.js'
import { runDeployedFunction, type DeployedFunction, type DeployedRun } from './deployed-function.js'
import { LAMBDA_DELIVERY_QUEUE, type LambdaDelivery } from './member-trigger.js'
import type { AccountCredentials } from './rehearsal.js'

/** Where a deployment's description came from. */
export interface DeploymentSource {
  kind: 'plan' | 'deployed'
  /** the plan file, or (deployed) the emulator endpoint and account the APIs were read from */
  file: string
  /** SHA-256 (hex) of the plan file's bytes, or of the canonical configuration read back */
  sha256: string
}

/** One function as the Lambda API reports it. */
export interface DeployedFunctionConfig {
  name: string
  arn: string
  role: string
  runtime: string
  handler: string
  codeSha256: string
  environment: Record<string, string>
  eventInvokeConfig?: { maximumRetryAttempts: number; maximumEventAgeInSeconds: number; onSuccess?: string; onFailure?: string }
  eventSourceMappings: { eventSourceArn: string; batchSize: number; state: string }[]
}

/** Everything read back from the emulator; its canonical SHA-256 is the source's. */
export interface DeployedConfiguration {
  endpoint: string
  account: string
  region: string
  functions: DeployedFunctionConfig[]
  rules: { eventBusName: string; name: string; arn: string; state: string; pattern: Record<string, unknown> | null; targets: { id: string; arn: string; roleArn?: string }[] }[]
  schedules: { name: string; group: string; expression: string; timezone?: string; state: string; targetArn: string; input: unknown }[]
}

/** Options of {@link DeployedDeployment.read}. */
export interface ReadDeployedOptions {
  emulator: Emulator
  /** credentials of the forensics account in the emulator */
  credentials: AccountCredentials
  /** the config the stack was synthesized from: its name prefixes the functions, rules and schedule */
  config: ForensicsConfig
  /** the forensics stack's directory in the synth output (`<synth>/stacks/<stack>`): its ZIPs */
  stackDir: string
}

const arnName = (arn: string): string => arn.split(/[:/]/).pop() as string

/** A destination ARN as the routing table's reference. */
export function destinationOf(arn: string, what: string): DestinationRef {
  const service = arn.split(':')[2]
  if (service === 'lambda') return { type: 'lambda', functionName: arn.split(':')[6] as string }
  if (service === 'sqs') return { type: 'sqs', queueName: arnName(arn) }
  if (service === 'events') return { type: 'eventbridge', eventBusName: arnName(arn) }
  throw new ValidationError(`${what}: destination ${arn} is not a function, queue or bus`, { field: what })
}

function keyOf(name: string): FunctionKey {
  const key = [...FUNCTION_KEYS].sort((a, b) => b.length - a.length).find((k) => name.endsWith(`-${k}`))
  if (!key) throw new ValidationError(`the emulator runs a function ${name} that is none of ${FUNCTION_KEYS.join(', ')}`, { field: name })
  return key
}

/** Every ZIP under `dir`, by the base64 SHA-256 of its bytes (what Lambda reports as CodeSha256). */
export function zipsBySha256(dir: string): Map<string, string> {
  const out = new Map<string, string>()
  const walk = (d: string): void => {
    for (const entry of readdirSync(d)) {
      const path = join(d, entry)
      if (statSync(path).isDirectory()) walk(path)
      else if (entry.endsWith('.zip')) out.set(createHash('sha256').update(readFileSync(path)).digest('base64'), path)
    }
  }
  walk(dir)
  return out
}

async function all<T>(page: (token: string | undefined) => Promise<{ items: T[]; next?: string }>): Promise<T[]> {
  const out: T[] = []
  let token: string | undefined
  do {
    const p = await page(token)
    out.push(...p.items)
    token = p.next
  } while (token)
  return out
}

/** See the module comment. */
export class DeployedDeployment {
  readonly source: DeploymentSource
  readonly plan: DeploymentPlan
  readonly configuration: DeployedConfiguration
  /** each function's deployed configuration, with the ZIP whose SHA-256 is its CodeSha256 */
  readonly functions: (DeployedFunction & { key: FunctionKey; zipPath: string })[]
  /** the evidence side's names and URLs, as the deployed configuration names them */
  side!: ProvisionedEvidenceSide
  /** `kms:<alias>` every deployed function signs with (FORENSICS_SIGNING_KEY) */
  signingKey = ''
  /**
   * Variables added to every run for emulator stand-ins only (e.g. `AWS_ENDPOINT_URL_CLOUDTRAIL`
   * for the trail-key stand-in: the emulator has no ListPublicKeys); each is printed by the caller.
   */
  readonly standIns: Record<string, string> = {}
  readonly #emulator: Emulator
  readonly #credentials: AccountCredentials
  readonly #sqs: SQSClient
  #deliveryQueueUrl?: string
  /** every run's outcome, in order (the AWS calls each made included) */
  readonly runs: ({ key: FunctionKey; requestId: string } & DeployedRun)[] = []

  private constructor(emulator: Emulator, credentials: AccountCredentials, configuration: DeployedConfiguration, plan: DeploymentPlan, functions: DeployedDeployment['functions']) {
    this.#emulator = emulator
    this.#credentials = credentials
    this.configuration = configuration
    this.plan = plan
    this.functions = functions
    this.source = { kind: 'deployed', file: plan.file, sha256: plan.sha256 }
    this.#sqs = new SQSClient(this.#clientSettings())
  }

  #clientSettings(): { endpoint: string; region: string; credentials: AccountCredentials } {
    return { endpoint: this.#emulator.endpoint, region: this.#emulator.region, credentials: this.#credentials }
  }

  /** Reads the deployment from the emulator's APIs (see the module comment). */
  static async read(o: ReadDeployedOptions): Promise<DeployedDeployment> {
    const settings = { endpoint: o.emulator.endpoint, region: o.emulator.region, credentials: o.credentials }
    const lambda = new LambdaClient(settings)
    const events = new EventBridgeClient(settings)
    const scheduler = new SchedulerClient(settings)
    const names = resourceNames(o.config)
    const prefix = `${o.config.name}-`
    const listed = await all<FunctionConfiguration>(async (Marker) => {
      const out = await lambda.send(new ListFunctionsCommand({ ...(Marker ? { Marker } : {}) }))
      return { items: out.Functions ?? [], ...(out.NextMarker ? { next: out.NextMarker } : {}) }
    })
    const deployedNames = listed.map((f) => f.FunctionName as string).filter((n) => n.startsWith(prefix)).sort()
    if (deployedNames.length === 0) throw new StorageError(`the emulator at ${o.emulator.endpoint} has no function named ${prefix}…: is the forensics stack applied?`)
    const mappings = await all(async (Marker) => {
      const out = await lambda.send(new ListEventSourceMappingsCommand({ ...(Marker ? { Marker } : {}) }))
      return { items: out.EventSourceMappings ?? [], ...(out.NextMarker ? { next: out.NextMarker } : {}) }
    })
    const functions: DeployedFunctionConfig[] = []
    let account = ''
    for (const name of deployedNames) {
      const c = (await lambda.send(new GetFunctionCommand({ FunctionName: name }))).Configuration
      if (!c?.FunctionArn || !c.Role || !c.CodeSha256) throw new StorageError(`the emulator reports no configuration for ${name}`)
      account = c.FunctionArn.split(':')[4] as string
      let eventInvokeConfig: DeployedFunctionConfig['eventInvokeConfig']
      try {
        const e = await lambda.send(new GetFunctionEventInvokeConfigCommand({ FunctionName: name }))
        eventInvokeConfig = {
          maximumRetryAttempts: e.MaximumRetryAttempts ?? 2,
          maximumEventAgeInSeconds: e.MaximumEventAgeInSeconds ?? 21600,
          ...(e.DestinationConfig?.OnSuccess?.Destination ? { onSuccess: e.DestinationConfig.OnSuccess.Destination } : {}),
          ...(e.DestinationConfig?.OnFailure?.Destination ? { onFailure: e.DestinationConfig.OnFailure.Destination } : {}),
        }
      } catch (e) {
        if (!(e instanceof ResourceNotFoundException)) throw e
      }
      functions.push({
        name,
        arn: c.FunctionArn,
        role: c.Role,
        runtime: c.Runtime ?? '',
        handler: c.Handler ?? '',
        codeSha256: c.CodeSha256,
        environment: c.Environment?.Variables ?? {},
        ...(eventInvokeConfig ? { eventInvokeConfig } : {}),
        eventSourceMappings: mappings
          .filter((m) => m.FunctionArn === c.FunctionArn || m.FunctionArn?.endsWith(`:function:${name}`))
          .map((m) => ({ eventSourceArn: m.EventSourceArn ?? '', batchSize: m.BatchSize ?? 10, state: m.State ?? '' }))
          .sort((a, b) => a.eventSourceArn.localeCompare(b.eventSourceArn)),
      })
    }
    const rules: DeployedConfiguration['rules'] = []
    for (const bus of ['default', names.intakeEventBus]) {
      const listedRules = await all(async (NextToken) => {
        const out = await events.send(new ListRulesCommand({ EventBusName: bus, ...(NextToken ? { NextToken } : {}) }))
        return { items: out.Rules ?? [], ...(out.NextToken ? { next: out.NextToken } : {}) }
      })
      for (const r of listedRules.filter((x) => x.Name?.startsWith(prefix)).sort((a, b) => String(a.Name).localeCompare(String(b.Name)))) {
        const targets = (await events.send(new ListTargetsByRuleCommand({ Rule: r.Name, EventBusName: bus }))).Targets ?? []
        rules.push({
          eventBusName: bus,
          name: r.Name as string,
          arn: r.Arn ?? '',
          state: r.State ?? '',
          pattern: r.EventPattern ? (JSON.parse(r.EventPattern) as Record<string, unknown>) : null,
          targets: targets.map((x) => ({ id: x.Id ?? '', arn: x.Arn ?? '', ...(x.RoleArn ? { roleArn: x.RoleArn } : {}) })).sort((a, b) => a.id.localeCompare(b.id)),
        })
      }
    }
    const schedules: DeployedConfiguration['schedules'] = []
    const listedSchedules = await all(async (NextToken) => {
      const out = await scheduler.send(new ListSchedulesCommand({ NamePrefix: o.config.name, ...(NextToken ? { NextToken } : {}) }))
      return { items: out.Schedules ?? [], ...(out.NextToken ? { next: out.NextToken } : {}) }
    })
    for (const s of listedSchedules) {
      const g = await scheduler.send(new GetScheduleCommand({ Name: s.Name, GroupName: s.GroupName }))
      schedules.push({
        name: g.Name ?? '',
        group: g.GroupName ?? 'default',
        expression: g.ScheduleExpression ?? '',
        ...(g.ScheduleExpressionTimezone ? { timezone: g.ScheduleExpressionTimezone } : {}),
        state: g.State ?? '',
        targetArn: g.Target?.Arn ?? '',
        input: g.Target?.Input ? (JSON.parse(g.Target.Input) as unknown) : {},
      })
    }
    const configuration: DeployedConfiguration = { endpoint: o.emulator.endpoint, account, region: o.emulator.region, functions, rules, schedules }
    const deployment = DeployedDeployment.#fromConfiguration(o.emulator, o.credentials, configuration, o.stackDir)
    await deployment.#resolveSide(o.config)
    return deployment
  }

  /** The evidence side as deployed: queue URLs, topic ARNs and the canary from the functions' configuration. */
  async #resolveSide(config: ForensicsConfig): Promise<void> {
    const names = resourceNames(config)
    const env = (key: FunctionKey, name: string): string => {
      const v = this.functions.find((f) => f.key === key)?.environment[name]
      if (!v) throw new ValidationError(`the deployed ${names.functions[key]} has no ${name}: the deployment is not the one this config synthesizes`, { field: name })
      return v
    }
    const onFailure = this.plan.routes.map((r) => r.onFailure).find((d): d is Extract<DestinationRef, { type: 'sqs' }> => d.type === 'sqs')
    if (!onFailure) throw new ValidationError('no deployed function sends its failures to a queue: the drill watches the dead-letter queue', { field: 'OnFailure' })
    const topics = (await new SNSClient(this.#clientSettings()).send(new ListTopicsCommand({}))).Topics ?? []
    const signing = new Set(this.functions.map((f) => f.environment.FORENSICS_SIGNING_KEY).filter(Boolean))
    if (signing.size !== 1) throw new ValidationError(`the deployed functions sign with ${signing.size ? [...signing].join(', ') : 'no key'}: they must name one FORENSICS_SIGNING_KEY`, { field: 'FORENSICS_SIGNING_KEY' })
    this.signingKey = [...signing][0] as string
    const canary = this.functions.find((f) => f.key === 'drill')?.environment.FORENSICS_CANARY_BUCKET
    this.side = {
      names,
      deadLetterQueueUrl: (await this.#sqs.send(new GetQueueUrlCommand({ QueueName: onFailure.queueName }))).QueueUrl as string,
      fanOutQueueUrl: env('object-versions', 'FORENSICS_FANOUT_QUEUE_URL'),
      siemTopicArn: env('custody-recorder', 'FORENSICS_SIEM_TOPIC_ARN'),
      alertTopicArn: topics.map((t) => t.TopicArn as string).find((a) => a.endsWith(`:${names.alertTopic}`)) ?? '',
      cloudTrailArchiveBucket: config.cloudTrailArchive.bucket,
      ...(canary ? { canaryBucket: canary } : {}),
    }
  }

  /** Builds the deployment from a configuration read back; refuses code that matches no ZIP, naming the function. */
  static #fromConfiguration(emulator: Emulator, credentials: AccountCredentials, configuration: DeployedConfiguration, stackDir: string): DeployedDeployment {
    const zips = zipsBySha256(stackDir)
    const unmatched = configuration.functions.filter((f) => !zips.has(f.codeSha256))
    if (unmatched.length) {
      throw new ValidationError(
        `${unmatched.map((f) => `${f.name} (CodeSha256 ${f.codeSha256})`).join(', ')}: the deployed code matches no asset under ${stackDir}: the emulator runs code this synth did not produce; synthesize and apply again`,
        { field: unmatched[0].name },
      )
    }
    const functions = configuration.functions.map((f) => ({ key: keyOf(f.name), name: f.name, arn: f.arn, roleArn: f.role, codeSha256: f.codeSha256, environment: f.environment, zipPath: zips.get(f.codeSha256) as string }))
    const planFunctions: PlanFunction[] = functions.map((f, i) => ({
      key: f.key,
      name: f.name,
      resourceId: f.arn,
      zipPath: f.zipPath,
      handler: configuration.functions[i].handler,
      runtime: configuration.functions[i].runtime,
      environment: { ...f.environment },
    }))
    const routes: AsyncInvokeRoute[] = []
    for (const f of configuration.functions) {
      const e = f.eventInvokeConfig
      if (!e) continue
      if (!e.onSuccess || !e.onFailure) throw new ValidationError(`${f.name}: its event invoke config has no ${e.onSuccess ? 'OnFailure' : 'OnSuccess'} destination: every function's results must go somewhere`, { field: f.name })
      routes.push({
        key: keyOf(f.name),
        functionName: f.name,
        maximumRetryAttempts: e.maximumRetryAttempts,
        maximumEventAgeInSeconds: e.maximumEventAgeInSeconds,
        onSuccess: destinationOf(e.onSuccess, `${f.name} OnSuccess`),
        onFailure: destinationOf(e.onFailure, `${f.name} OnFailure`),
        evidenceWritePrefixes: [],
      })
    }
    const rules: PlanRule[] = configuration.rules
      .filter((r) => r.pattern && r.targets.some((x) => x.arn.includes(':lambda:')))
      .map((r) => ({
        name: r.name,
        eventBusName: r.eventBusName,
        pattern: r.pattern as Record<string, unknown>,
        targets: r.targets.filter((x) => x.arn.includes(':lambda:')).map((x) => ({ targetId: x.id, functionName: x.arn.split(':')[6] as string })),
      }))
    const eventSourceMappings = configuration.functions.flatMap((f) => f.eventSourceMappings.map((m) => ({ queueName: arnName(m.eventSourceArn), functionName: f.name, batchSize: m.batchSize })))
    const drillSchedule = configuration.schedules.find((s) => s.targetArn.includes(':lambda:'))
    const file = `${configuration.endpoint} (account ${configuration.account}, ${configuration.region}: Lambda, EventBridge and Scheduler APIs)`
    const plan: DeploymentPlan = {
      file,
      sha256: createHash('sha256').update(canonicalBytes(configuration)).digest('hex'),
      stackDir,
      functions: planFunctions,
      routes,
      rules,
      eventSourceMappings,
      ...(drillSchedule ? { schedule: { name: drillSchedule.name, expression: drillSchedule.expression, functionName: drillSchedule.targetArn.split(':')[6] as string, input: drillSchedule.input } } : {}),
      raw: configuration as unknown as Record<string, unknown>,
    }
    return new DeployedDeployment(emulator, credentials, configuration, plan, functions)
  }

  /** Names → the deployment's values (queue URLs and ARNs, topic, function and bus ARNs), as the emulator serves them. */
  get resolver(): PlanResolver {
    const { account, region, endpoint } = this.configuration
    const queues = new Map([[this.side.names.deadLetterQueue, this.side.deadLetterQueueUrl], [this.side.names.fanOutQueue, this.side.fanOutQueueUrl]])
    return {
      queueUrl: (name) => queues.get(name) ?? `${endpoint}/${account}/${name}`,
      queueArn: (name) => `arn:aws:sqs:${region}:${account}:${name}`,
      topicArn: (name) => (name === this.side.names.siemTopic ? this.side.siemTopicArn : `arn:aws:sns:${region}:${account}:${name}`),
      functionArn: (name) => this.functions.find((f) => f.name === name)?.arn ?? `arn:aws:lambda:${region}:${account}:function:${name}`,
      busArn: (name) => `arn:aws:events:${region}:${account}:event-bus/${name}`,
    }
  }

  /** A function by key; throws naming it when the emulator runs none. */
  function(key: FunctionKey): DeployedDeployment['functions'][number] {
    const f = this.functions.find((x) => x.key === key)
    if (!f) throw new ValidationError(`the deployment (${this.source.file}) has no ${key} function`, { field: key })
    return f
  }

  /**
   * The environment a function runs with: the deployed one, as the Lambda API reports it, plus
   * the emulator's endpoint and region and the stand-ins (credentials are the role's, per run).
   */
  environment(key: FunctionKey): Record<string, string> {
    return { ...this.function(key).environment, AWS_REGION: this.#emulator.region, AWS_ENDPOINT_URL: this.#emulator.endpoint, ...this.standIns }
  }

  /**
   * Runs a function's deployed code (the ZIP whose SHA-256 is its CodeSha256) on an event,
   * with its deployed environment, as its role; every AWS call it makes is recorded.
   */
  async run(key: FunctionKey, event: unknown, requestId?: string): Promise<DeployedRun> {
    const f = this.function(key)
    const run = await runDeployedFunction(this.#emulator, this.#credentials, { ...f, environment: { ...f.environment, ...this.standIns } }, f.zipPath, event, requestId)
    this.runs.push({ key, requestId: requestId ?? 'rehearsal', ...run })
    return run
  }

  /** The queue the emulator puts events for Lambda targets on (created when missing). */
  async deliveryQueueUrl(): Promise<string> {
    this.#deliveryQueueUrl ??= (await this.#sqs.send(new CreateQueueCommand({ QueueName: LAMBDA_DELIVERY_QUEUE }))).QueueUrl as string
    return this.#deliveryQueueUrl
  }

  /** Drains the events the deployed rules delivered to Lambda targets (waits up to `timeoutMs` for `expected`). */
  async deliveries(expected: number, timeoutMs = 30_000): Promise<(LambdaDelivery & { functionName: string })[]> {
    const url = await this.deliveryQueueUrl()
    const out: (LambdaDelivery & { functionName: string })[] = []
    const deadline = Date.now() + timeoutMs
    while (out.length < expected && Date.now() < deadline) {
      const got = await this.#sqs.send(new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }))
      for (const m of got.Messages ?? []) {
        await this.#sqs.send(new DeleteMessageCommand({ QueueUrl: url, ReceiptHandle: m.ReceiptHandle }))
        const body = JSON.parse(m.Body ?? '{}') as LambdaDelivery
        out.push({ ...body, functionName: body.functionArn.split(':')[6] as string })
      }
    }
    return out
  }
}
