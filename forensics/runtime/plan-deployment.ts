/**
 * A deployment on the emulator built from the synthesized plan: the evidence side
 * provisioned, the signing key created under the alias the plan's functions name, the
 * plan's EventBridge rules put on the emulator's EventBridge with their synthesized patterns
 * and Lambda targets (its matcher is real; its TestEventPattern is a stub), and each
 * function run from its bundled asset with the environment the plan gives it, references
 * resolved to the emulator's URLs and ARNs. The emulator hands events for Lambda targets to
 * the queue `emulator-lambda-deliveries` (scripts/moto_runner.py); {@link PlanDeployment.deliveries}
 * drains it.
 */
import { CreateAliasCommand, CreateKeyCommand, KMSClient } from '@aws-sdk/client-kms'
import { CreateEventBusCommand, DescribeEventBusCommand, EventBridgeClient, PutRuleCommand, PutTargetsCommand } from '@aws-sdk/client-eventbridge'
import { CreateQueueCommand, DeleteMessageCommand, GetQueueAttributesCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs'
import { ListTopicsCommand, SNSClient } from '@aws-sdk/client-sns'
import { S3Client } from '@aws-sdk/client-s3'
import type { ForensicsConfig } from '../config.js'
import type { FunctionKey } from '../routing.js'
import { runBundledHandler, type BundledRun } from './bundled-handler.js'
import { WarmContainers } from './warm-containers.js'
import { provisionEvidenceSide, type ProvisionedEvidenceSide } from './provision-local.js'
import { planFunction, resolvePlanEnvironment, type DeploymentPlan, type PlanResolver } from './synthesized-plan.js'
import type { DeploymentSource, DrillDeployment, PlanDelivery } from './drill-deployment.js'
import { ValidationError } from '../errors.js'
import { createOnce } from '../aws/create-once.js'

/** The queue the emulator puts events for Lambda targets on (scripts/moto_runner.py). */
export const LAMBDA_DELIVERY_QUEUE = 'emulator-lambda-deliveries'

/** What the emulator needs to offer. */
export interface EmulatorEndpoint {
  endpoint: string
  region: string
  clientConfig(): { endpoint: string; region: string; forcePathStyle: boolean; credentials: { accessKeyId: string; secretAccessKey: string } }
  env(): Record<string, string>
}

export type { PlanDelivery } from './drill-deployment.js'

/** See the module comment. */
export class PlanDeployment implements DrillDeployment {
  readonly plan: DeploymentPlan
  readonly side: ProvisionedEvidenceSide
  readonly #emulator: EmulatorEndpoint
  readonly #accountId: string
  readonly #sqs: SQSClient
  readonly #deliveryQueueUrl: string
  readonly #topics: Map<string, string>
  readonly #containers?: WarmContainers

  private constructor(emulator: EmulatorEndpoint, plan: DeploymentPlan, side: ProvisionedEvidenceSide, accountId: string, sqs: SQSClient, deliveryQueueUrl: string, topics: Map<string, string>, warm: boolean) {
    this.#emulator = emulator
    this.plan = plan
    this.side = side
    this.#accountId = accountId
    this.#sqs = sqs
    this.#deliveryQueueUrl = deliveryQueueUrl
    this.#topics = topics
    if (warm) this.#containers = new WarmContainers()
  }

  /**
   * Provisions the plan's deployment on the emulator (see the module comment). With `warm`,
   * functions run in warm containers reused between invocations, as Lambda reuses them
   * (warm-containers.ts; {@link PlanDeployment.close} stops them); otherwise every run is a
   * cold start in its own process.
   */
  static async open(emulator: EmulatorEndpoint, plan: DeploymentPlan, config: ForensicsConfig, opts: { warm?: boolean } = {}): Promise<PlanDeployment> {
    const settings = emulator.clientConfig()
    const sqs = new SQSClient(settings)
    const sns = new SNSClient(settings)
    const events = new EventBridgeClient(settings)
    const side = await provisionEvidenceSide({ s3: new S3Client(settings), sqs, sns, events }, config)
    // the key the functions sign with, under the alias the plan names
    const kms = new KMSClient(settings)
    const aliases = new Set(plan.functions.map((f) => f.environment.FORENSICS_SIGNING_KEY).filter((v): v is string => !!v?.startsWith('kms:alias/')))
    for (const alias of aliases) {
      const key = await kms.send(new CreateKeyCommand({ KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY', Description: `local ${alias}` }))
      await createOnce(() => kms.send(new CreateAliasCommand({ AliasName: alias.slice(4), TargetKeyId: key.KeyMetadata?.KeyId })))
    }
    const deliveryQueueUrl = (await sqs.send(new CreateQueueCommand({ QueueName: LAMBDA_DELIVERY_QUEUE }))).QueueUrl as string
    for (const rule of plan.rules) {
      try {
        await events.send(new DescribeEventBusCommand({ Name: rule.eventBusName }))
      } catch {
        await createOnce(() => events.send(new CreateEventBusCommand({ Name: rule.eventBusName })))
      }
      await events.send(new PutRuleCommand({ Name: rule.name, EventBusName: rule.eventBusName, EventPattern: JSON.stringify(rule.pattern) }))
      await events.send(new PutTargetsCommand({
        Rule: rule.name,
        EventBusName: rule.eventBusName,
        Targets: rule.targets.map((x) => ({ Id: x.targetId, Arn: `arn:aws:lambda:${emulator.region}:${config.forensicsAccountId}:function:${x.functionName}` })),
      }))
    }
    const topics = new Map<string, string>()
    for (const t of (await sns.send(new ListTopicsCommand({}))).Topics ?? []) if (t.TopicArn) topics.set(t.TopicArn.split(':').pop() as string, t.TopicArn)
    return new PlanDeployment(emulator, plan, side, config.forensicsAccountId, sqs, deliveryQueueUrl, topics, opts.warm === true)
  }

  /** The plan file this deployment was built from. */
  get source(): DeploymentSource {
    return { kind: 'plan', file: this.plan.file, sha256: this.plan.sha256 }
  }

  /** The one `kms:` key spec every evidence-writing function of the plan signs with; throws naming the functions when they disagree. */
  get signingKey(): string {
    const specs = new Map(this.plan.functions.filter((f) => f.environment.FORENSICS_SIGNING_KEY).map((f) => [f.name, f.environment.FORENSICS_SIGNING_KEY]))
    const distinct = [...new Set(specs.values())]
    if (distinct.length !== 1 || !distinct[0].startsWith('kms:')) {
      throw new ValidationError(`the plan ${this.plan.file} must give every function one kms: FORENSICS_SIGNING_KEY, got ${JSON.stringify(Object.fromEntries(specs))}`, { field: 'FORENSICS_SIGNING_KEY' })
    }
    return distinct[0]
  }

  /** Plan references → emulator values. */
  get resolver(): PlanResolver {
    const { region } = this.#emulator
    const account = this.#accountId
    const endpoint = this.#emulator.endpoint
    return {
      queueUrl: (name) => (name === this.side.names.fanOutQueue ? this.side.fanOutQueueUrl : name === this.side.names.deadLetterQueue ? this.side.deadLetterQueueUrl : `${endpoint}/${account}/${name}`),
      queueArn: (name) => `arn:aws:sqs:${region}:${account}:${name}`,
      topicArn: (name) => this.#topics.get(name) ?? `arn:aws:sns:${region}:${account}:${name}`,
      functionArn: (name) => `arn:aws:lambda:${region}:${account}:function:${name}`,
      busArn: (name) => `arn:aws:events:${region}:${account}:event-bus/${name}`,
    }
  }

  /** The environment a function runs with: the plan's, resolved, plus the emulator's SDK settings. */
  environment(key: FunctionKey): Record<string, string> {
    const fn = planFunction(this.plan, key)
    return { ...resolvePlanEnvironment(this.plan, fn, this.resolver), ...this.#emulator.env() }
  }

  /** Runs a function's bundled asset on an event (in a warm container when opened `warm`). */
  run(key: FunctionKey, event: unknown, requestId?: string): Promise<BundledRun> {
    const fn = planFunction(this.plan, key)
    const o = { functionName: fn.name, env: this.environment(key), ...(requestId ? { requestId } : {}) }
    return this.#containers ? this.#containers.run(fn.zipPath, event, o) : runBundledHandler(fn.zipPath, event, o)
  }

  /** Stops the warm containers (nothing to do for cold runs). */
  close(): void {
    this.#containers?.close()
  }

  /** Drains the events the emulator's EventBridge delivered to Lambda targets (waits up to `timeoutMs` for `expected`). */
  async deliveries(expected: number, timeoutMs = 30_000): Promise<PlanDelivery[]> {
    const out: PlanDelivery[] = []
    const deadline = Date.now() + timeoutMs
    while (out.length < expected && Date.now() < deadline) {
      const got = await this.#sqs.send(new ReceiveMessageCommand({ QueueUrl: this.#deliveryQueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }))
      for (const m of got.Messages ?? []) {
        await this.#sqs.send(new DeleteMessageCommand({ QueueUrl: this.#deliveryQueueUrl, ReceiptHandle: m.ReceiptHandle }))
        const body = JSON.parse(m.Body ?? '{}') as Omit<PlanDelivery, 'functionName'>
        out.push({ ...body, functionName: body.functionArn.split(':').pop() as string })
      }
    }
    return out
  }

  /** Messages still waiting on the delivery queue (0 when every delivery was drained). */
  async pendingDeliveries(): Promise<number> {
    const a = await this.#sqs.send(new GetQueueAttributesCommand({ QueueUrl: this.#deliveryQueueUrl, AttributeNames: ['ApproximateNumberOfMessages'] }))
    return Number(a.Attributes?.ApproximateNumberOfMessages ?? 0)
  }
}
