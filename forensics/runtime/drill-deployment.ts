/**
 * The seam between the local drill and the deployment it runs on: what the drill needs from
 * a deployment, whatever built it.
 *
 * - `kind: 'plan'`: {@link PlanDeployment} (plan-deployment.ts) — the synthesized plan
 *   (`cdk.tf.json`) provisioned on the emulator by the toolkit itself;
 * - `kind: 'deployed'`: the deployment as `terraform apply` left it in the emulator
 *   (forensics/rehearsal/), read back from the applied state.
 *
 * Either way the drill runs each function from its bundled asset with the environment the
 * deployment gives it ({@link DrillDeployment.run}), takes Lambda's async contract from
 * `plan.routes`, consumes the fan-out queue per `plan.eventSourceMappings`, invokes the drill
 * with `plan.schedule.input`, and signs and verifies with {@link DrillDeployment.signingKey}.
 */
import type { FunctionKey } from '../routing.js'
import type { BundledRun } from './bundled-handler.js'
import type { ProvisionedEvidenceSide } from './provision-local.js'
import type { DeploymentPlan, PlanResolver } from './synthesized-plan.js'

/** Where the deployment's description came from: the report names it. */
export interface DeploymentSource {
  /** `plan`: a synthesized plan provisioned locally; `deployed`: read back from an applied deployment */
  kind: 'plan' | 'deployed'
  /** the file the deployment was read from (`cdk.tf.json`, or the applied state) */
  file: string
  /** SHA-256 (hex) of that file's bytes */
  sha256: string
}

/** An event the emulator's EventBridge delivered for a Lambda target of a rule. */
export interface PlanDelivery {
  /** the rule's ARN */
  rule: string
  targetId: string
  functionArn: string
  functionName: string
  event: Record<string, unknown>
}

/** What the drill needs from a deployment; see the module comment. */
export interface DrillDeployment {
  readonly source: DeploymentSource
  /** functions (with their code assets), routes, rules, event source mappings, schedule */
  readonly plan: DeploymentPlan
  /** the evidence side's names and URLs (evidence bucket, queues, SIEM bus and topic, canary) */
  readonly side: ProvisionedEvidenceSide
  /** plan references → the deployment's values (queue URLs and ARNs, topic, function and bus ARNs), e.g. the event source mapping's queue */
  readonly resolver: PlanResolver
  /** `kms:<alias or key>` the functions sign with (FORENSICS_SIGNING_KEY); the drill signs and verifies with it too */
  readonly signingKey: string
  /** a function's environment as deployed, references resolved (plus the emulator's SDK settings) */
  environment(key: FunctionKey): Record<string, string>
  /** runs a function's bundled asset on one event with {@link environment} */
  run(key: FunctionKey, event: unknown, requestId?: string): Promise<BundledRun>
  /** drains the events the emulator's EventBridge delivered to Lambda targets (waits up to `timeoutMs` for `expected`) */
  deliveries(expected: number, timeoutMs?: number): Promise<PlanDelivery[]>
}
