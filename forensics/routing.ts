/**
 * Resource names and the async-invoke routing table, derived from the config by pure
 * functions. The stacks build every `aws_lambda_function_event_invoke_config` from
 * {@link asyncInvokeRoutes}; the local runtime reads the same table to reproduce Lambda's
 * async contract (retries, maximum event age, OnSuccess / OnFailure destination records).
 */
import type { ForensicsConfig } from './config.js'
import { containmentFunctionName } from './containment/route.js'

/** Every Lambda function the toolkit deploys, by its collector file name. */
export const FUNCTION_KEYS = ['bucket-config', 'object-versions', 'cloudtrail-slice', 'custody-recorder', 'drill'] as const

/** One of {@link FUNCTION_KEYS}. */
export type FunctionKey = (typeof FUNCTION_KEYS)[number]

/** The capture functions proper (the ones whose success the custody recorder seals). */
export const CAPTURE_KEYS = ['bucket-config', 'object-versions', 'cloudtrail-slice'] as const satisfies readonly FunctionKey[]

/** Where an async invocation result goes. */
export type DestinationRef =
  | { type: 'lambda'; functionName: string }
  | { type: 'sqs'; queueName: string }
  | { type: 'eventbridge'; eventBusName: string }

/** How one function is invoked asynchronously and where its results go. */
export interface AsyncInvokeRoute {
  key: FunctionKey
  functionName: string
  /** Lambda retries after the first failed attempt (0–2). */
  maximumRetryAttempts: number
  /** Events older than this go to `onFailure` without running (60–21600 s). */
  maximumEventAgeInSeconds: number
  onSuccess: DestinationRef
  onFailure: DestinationRef
  /** The evidence key patterns this function may write (`s3:PutObject` is scoped to them). */
  evidenceWritePrefixes: string[]
}

/** Names of the shared resources, fixed by the config so every consumer agrees. */
export interface ResourceNames {
  functions: Record<FunctionKey, string>
  evidenceBucket: string
  accessLogBucket: string
  deadLetterQueue: string
  fanOutQueue: string
  siemEventBus: string
  siemTopic: string
  alertTopic: string
  memberRole: string
  drillSchedule: string
  /** The forensics account's bus every account and region in scope forwards trigger events to. */
  intakeEventBus: string
  /** The role EventBridge uses, in each account, to forward trigger events to the intake bus. */
  eventForwarderRole: string
}

/** ARN of the intake bus (in the forensics account's home region): the target of every forwarding rule. */
export function intakeEventBusArn(config: ForensicsConfig): string {
  return `arn:aws:events:${config.region}:${config.forensicsAccountId}:event-bus/${resourceNames(config).intakeEventBus}`
}

/** Derives every resource name from the config (name prefix, account, region). */
export function resourceNames(config: ForensicsConfig): ResourceNames {
  const p = config.name
  const functions = Object.fromEntries(FUNCTION_KEYS.map((k) => [k, `${p}-${k}`])) as Record<FunctionKey, string>
  return {
    functions,
    // Bucket names are global: account and region make them unique and predictable.
    evidenceBucket: `${p}-evidence-${config.forensicsAccountId}-${config.region}`,
    accessLogBucket: `${p}-access-logs-${config.forensicsAccountId}-${config.region}`,
    deadLetterQueue: `${p}-capture-dlq`,
    fanOutQueue: `${p}-object-versions-fanout`,
    siemEventBus: config.siem.eventBusName,
    siemTopic: config.siem.topicName,
    alertTopic: `${p}-alerts`,
    memberRole: config.memberRole.roleName,
    drillSchedule: `${p}-drill`,
    intakeEventBus: `${p}-intake`,
    eventForwarderRole: `${p}-event-forwarder`,
  }
}

/**
 * Evidence keys each function writes (DESIGN.md "Evidence bucket layout"): captures write
 * capture artifacts and manifests, the recorder the custody chain, the drill its reports
 * and the `bundled` custody entries of its own drill cases (`drill-…`).
 */
const WRITE_PREFIXES: Record<FunctionKey, string[]> = {
  'bucket-config': ['cases/*/captures/*'],
  'object-versions': ['cases/*/captures/*'],
  'cloudtrail-slice': ['cases/*/captures/*'],
  'custody-recorder': ['cases/*/custody/*'],
  drill: ['drills/*', 'cases/drill-*/custody/*'],
}

/**
 * The routing table: one row per function, in {@link FUNCTION_KEYS} order.
 *
 * - captures and the drill: OnSuccess → custody recorder (which appends the custody entry),
 *   OnFailure → the dead-letter queue;
 * - the custody recorder: OnSuccess → the SIEM event bus (a recorder routing to itself
 *   would loop) or, with `containment.enabled`, the containment function (its row:
 *   forensics/containment/route.ts), OnFailure → the dead-letter queue;
 * - the drill is not retried: a drill that fails must fail loudly, once.
 */
export function asyncInvokeRoutes(config: ForensicsConfig): AsyncInvokeRoute[] {
  const names = resourceNames(config)
  const onFailure: DestinationRef = { type: 'sqs', queueName: names.deadLetterQueue }
  const toRecorder: DestinationRef = { type: 'lambda', functionName: names.functions['custody-recorder'] }
  const toSiem: DestinationRef = { type: 'eventbridge', eventBusName: names.siemEventBus }
  // capture → custody recorder → containment: only sealed captures are ever contained
  const afterRecorder: DestinationRef = config.containment?.enabled ? { type: 'lambda', functionName: containmentFunctionName(config) } : toSiem
  return FUNCTION_KEYS.map((key) => ({
    key,
    functionName: names.functions[key],
    maximumRetryAttempts: key === 'drill' ? 0 : config.capture.maximumRetryAttempts,
    maximumEventAgeInSeconds: config.capture.maximumEventAgeInSeconds,
    onSuccess: key === 'custody-recorder' ? afterRecorder : toRecorder,
    onFailure,
    evidenceWritePrefixes: WRITE_PREFIXES[key],
  }))
}

/** The row for one function. */
export function routeFor(config: ForensicsConfig, key: FunctionKey): AsyncInvokeRoute {
  return asyncInvokeRoutes(config).find((r) => r.key === key) as AsyncInvokeRoute
}
