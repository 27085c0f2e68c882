/**
 * Lambda handler of the scheduled forensics drill (EventBridge Scheduler invokes it with
 * `{ "canaryBucket": … }` or any event). It runs forensics/drill/run-drill.ts against the
 * deployed functions: collectors invoked asynchronously through the Lambda API, custody
 * chain and dead-letter queue polled. It returns the drill result (its OnSuccess
 * destination, the custody recorder, appends the `drill` custody entry) and throws when a
 * check failed, after the report is written and published, so the failure also reaches
 * the dead-letter queue and its alarm.
 */
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { SQSClient, GetQueueUrlCommand } from '@aws-sdk/client-sqs'
import { SNSClient } from '@aws-sdk/client-sns'
import { sdkSettingsFromEnv } from '../forensics/aws/sdk-config.js'
import { IntegrityError, ValidationError } from '../forensics/errors.js'
import { validateCaseId } from '../forensics/keys.js'
import { FUNCTION_KEYS, type FunctionKey } from '../forensics/routing.js'
import { checkFunctionEnv } from '../forensics/contract/env.js'
import { evidenceFromEnv, requireEnv } from '../forensics/runtime/handler-env.js'
import type { DrillResult } from '../forensics/drill/drill-report.js'
import { deployedDrillDeps } from '../forensics/drill/deployed-deps.js'
import { runDrill, type DrillDeps, type DrillOptions, type DrillOutcome } from '../forensics/drill/run-drill.js'

/** The drill event: everything optional. */
export interface DrillEvent {
  drillId?: string
  canaryBucket?: string
}

/** Options of {@link createDrillHandler}. */
export interface DrillHandlerOptions extends Omit<DrillOptions, 'drillId'> {
  /** sees every finished drill, passed or failed (the local CLI prints it) */
  onOutcome?: (outcome: DrillOutcome) => void
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)

/** The part of Lambda's context the drill uses. */
export interface DrillLambdaContext {
  getRemainingTimeInMillis?: () => number
}

/**
 * Waits that fit the function's remaining time: a Lambda timeout must not cut the drill off
 * before its report is written (a minute is kept for checks, bundle and report).
 */
export function waitsWithin(remainingMs: number | undefined, options: DrillOptions): DrillOptions {
  if (remainingMs === undefined) return options
  const budget = Math.max(remainingMs - 60_000, 10_000)
  return {
    ...options,
    captureTimeoutMs: Math.min(options.captureTimeoutMs ?? Infinity, Math.floor(budget * 0.5)),
    deadLetterTimeoutMs: Math.min(options.deadLetterTimeoutMs ?? Infinity, Math.floor(budget * 0.4)),
    siemTimeoutMs: Math.min(options.siemTimeoutMs ?? 30_000, Math.floor(budget * 0.1)),
  }
}

/** Builds the handler around a dependency factory (called once per invocation). */
export function createDrillHandler(deps: () => Promise<DrillDeps>, options: DrillHandlerOptions = {}): (event: unknown, context?: DrillLambdaContext) => Promise<DrillResult> {
  return async (event, context) => {
    const e: DrillEvent = isObj(event) ? (event as DrillEvent) : {}
    if (e.drillId !== undefined) validateCaseId(e.drillId)
    const d = await deps()
    if (!e.canaryBucket && !d.canaryBucket) throw new ValidationError('the drill has no canary bucket: set drill.canaryBucket in the config (the stack writes FORENSICS_CANARY_BUCKET) or send {"canaryBucket": "…"}', { field: 'FORENSICS_CANARY_BUCKET' })
    const { onOutcome, ...drillOptions } = options
    const waits = waitsWithin(context?.getRemainingTimeInMillis?.(), drillOptions)
    const outcome = await runDrill(e.canaryBucket ? { ...d, canaryBucket: e.canaryBucket } : d, { ...waits, ...(e.drillId ? { drillId: e.drillId } : {}) })
    onOutcome?.(outcome)
    if (!outcome.report.passed) {
      const failed = outcome.report.checks.filter((c) => c.verdict === 'fail')
      throw new IntegrityError(`drill ${outcome.report.drillId} failed ${failed.length} check(s): ${failed.map((c) => c.name).join(', ')}; report s3://${outcome.report.evidenceBucket}/${outcome.result.reportKey}`, {
        findings: failed.map((c) => `${c.name}: ${c.summary}`),
      })
    }
    return outcome.result
  }
}

/** Function names from `FORENSICS_CAPTURE_FUNCTIONS` (JSON map of key → name). */
export function functionNamesFromEnv(env: NodeJS.ProcessEnv): Record<FunctionKey, string> {
  let names: unknown
  try {
    names = JSON.parse(requireEnv(env, 'FORENSICS_CAPTURE_FUNCTIONS'))
  } catch (e) {
    if (e instanceof ValidationError) throw e
    throw new ValidationError('FORENSICS_CAPTURE_FUNCTIONS is not JSON: the stack sets it to the map of function names', { field: 'FORENSICS_CAPTURE_FUNCTIONS' })
  }
  const missing = FUNCTION_KEYS.filter((k) => !isObj(names) || typeof names[k] !== 'string')
  if (missing.length) throw new ValidationError(`FORENSICS_CAPTURE_FUNCTIONS lacks ${missing.join(', ')}`, { field: 'FORENSICS_CAPTURE_FUNCTIONS' })
  return names as Record<FunctionKey, string>
}

/** The deployed drill's dependencies from the function environment. */
export async function drillDepsFromEnv(env: NodeJS.ProcessEnv = process.env): Promise<DrillDeps> {
  const settings = sdkSettingsFromEnv(env)
  const { store, signer, s3 } = await evidenceFromEnv(env)
  const functions = functionNamesFromEnv(env)
  const sqs = new SQSClient(settings)
  const sns = new SNSClient(settings)
  // the dead-letter queue: named like the function prefix unless given
  const deadLetterQueueUrl =
    env.FORENSICS_DLQ_URL ?? (await sqs.send(new GetQueueUrlCommand({ QueueName: `${functions.drill.replace(/-drill$/, '')}-capture-dlq` }))).QueueUrl ?? ''
  const topic = requireEnv(env, 'FORENSICS_SIEM_TOPIC_ARN')
  const trailArchive = env.FORENSICS_TRAIL_ARCHIVE
  return deployedDrillDeps({
    settings,
    store,
    signer,
    s3,
    sqs,
    sns,
    functions,
    // optional: the event may name the canary bucket instead (checked by the handler)
    canaryBucket: env.FORENSICS_CANARY_BUCKET ?? '',
    siemTopicArn: topic,
    siemEventBus: env.FORENSICS_SIEM_EVENT_BUS,
    deadLetterQueueUrl,
    bundleDir: join(env.FORENSICS_DRILL_DIR ?? tmpdir(), 'forensics-drill'),
    tool: 'forensics-drill',
    trailArchive: trailArchive || undefined,
    log: (line) => console.log(line),
  })
}

let cached: ((event: unknown, context?: DrillLambdaContext) => Promise<DrillResult>) | undefined

/** Lambda entry point (give the function the longest timeout: the drill waits for Lambda's retries). */
export async function handler(event: unknown, context?: DrillLambdaContext): Promise<DrillResult> {
  // the environment the stack writes, checked against the function's schema (forensics/contract/env.ts)
  checkFunctionEnv('drill', process.env)
  cached ??= createDrillHandler(() => drillDepsFromEnv(process.env))
  return cached(event, context)
}
