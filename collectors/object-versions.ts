/**
 * Lambda handler of the object-versions collector. Accepts
 * - its own event `{caseId, bucket, keys?|key?|prefix?, since?, until?, account?, region?, id?}`;
 * - the EventBridge events the trigger table routes to it (forensics/contract/triggers.ts):
 *   a GuardDuty S3 finding captures every version of the finding's bucket(s)
 *   (FORENSICS_OBJECT_VERSIONS_PREFIX, default all keys); a data event on a sensitive bucket
 *   (containment) captures the versions of the key it names, else of the bucket; case id by
 *   the contract's rule;
 * - SQS events from its own fan-out queue (pages of versions); answers with partial batch
 *   failures, and the worker that completes the last page commits the capture and appends
 *   its `captured` custody entry (an SQS-triggered run has no OnSuccess destination).
 *
 * Environment: FORENSICS_EVIDENCE_BUCKET, FORENSICS_SIGNING_KEY, FORENSICS_FANOUT_QUEUE_URL
 * (no fan-out without it), FORENSICS_FANOUT_THRESHOLD (default 1000 versions),
 * FORENSICS_FANOUT_PAGE_SIZE (default 500), FORENSICS_COPY_CONCURRENCY (default 16),
 * FORENSICS_MEMBER_ROLE_NAME / FORENSICS_MEMBER_EXTERNAL_ID, FORENSICS_CASE_ID_TEMPLATE.
 */
import { canonicalJson } from '../forensics/canonical-json.js'
import { ValidationError } from '../forensics/errors.js'
import { sha256Hex } from '../forensics/hash.js'
import { committedResult, type CaptureHandlerResult } from '../forensics/bucket-config/collector-runtime.js'
import { evidenceFromEnv } from '../forensics/runtime/handler-env.js'
import { openSourceClients } from '../forensics/bucket-config/source-access.js'
import { checkFunctionEnv } from '../forensics/contract/env.js'
import { caseIdOf, isTriggerEvent, parseTriggerEvent, triggerOf } from '../forensics/contract/triggers.js'
import { captureObjectVersions, OBJECT_VERSIONS_COLLECTOR, type ObjectVersionsRequest } from '../forensics/object-versions/capture-object-versions.js'
import type { FanOutPlan } from '../forensics/object-versions/fan-out.js'
import { handlePageRecords } from '../forensics/object-versions/page-records.js'
import type { SqsBatchResponse, SqsRecord } from '../forensics/object-versions/sqs-page-queue.js'
import { objectVersionsOptions } from '../forensics/object-versions/env-options.js'

/** The part of the Lambda context the handler uses. */
export interface LambdaContextLike {
  awsRequestId?: string
}

type Obj = Record<string, unknown>
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v)

function time(v: unknown, field: string): Date | undefined {
  if (v === undefined) return undefined
  const d = typeof v === 'string' ? new Date(v) : undefined
  if (!d || Number.isNaN(d.getTime())) throw new ValidationError(`object-versions event field ${field} must be an ISO 8601 time, got ${JSON.stringify(v)}`, { field })
  return d
}

/** Turns an own or CloudTrail event into a capture request; throws a ValidationError otherwise. */
export function objectVersionsRequest(event: unknown, env: NodeJS.ProcessEnv, context?: LambdaContextLike): ObjectVersionsRequest {
  if (isTriggerEvent(event)) {
    // exactly what the trigger table routes here (forensics/contract/triggers.ts)
    const t = parseTriggerEvent(event, 'object-versions')
    if (t.buckets.length > 1) throw new ValidationError(`${t.eventName} finding ${t.eventId} names ${t.buckets.length} buckets (${t.buckets.join(', ')}); object-versions captures one bucket per event: invoke it once per bucket`, { field: 'detail.resource.s3BucketDetails' })
    return {
      caseId: caseIdOf(event, t, env.FORENSICS_CASE_ID_TEMPLATE),
      bucket: t.buckets[0],
      // a data event on a sensitive bucket (containment) captures the touched object's versions when it names one
      ...(t.trigger === 'sensitive-access' && t.key !== undefined ? { keys: [t.key] } : { prefix: env.FORENSICS_OBJECT_VERSIONS_PREFIX ?? '' }),
      accountId: t.account || undefined,
      region: t.region || undefined,
      trigger: triggerOf(t),
      actor: { principalArn: t.principalArn, requestId: t.requestId },
    }
  }
  if (!isObj(event)) throw new ValidationError(`object-versions expects {caseId, bucket, keys|prefix, ...}, a GuardDuty S3 finding or an SQS batch, got ${JSON.stringify(event)?.slice(0, 200)}`, { field: 'event' })
  if (typeof event.caseId !== 'string') throw new ValidationError('object-versions event has no caseId (a string)', { field: 'caseId' })
  if (typeof event.bucket !== 'string') throw new ValidationError('object-versions event has no bucket (a string)', { field: 'bucket' })
  let keys: string[] | undefined
  if (event.key !== undefined) keys = [event.key as string]
  if (event.keys !== undefined) {
    if (!Array.isArray(event.keys) || event.keys.some((k) => typeof k !== 'string')) throw new ValidationError('object-versions event field keys must be a list of strings', { field: 'keys' })
    keys = [...(keys ?? []), ...(event.keys as string[])]
  }
  if (event.prefix !== undefined && typeof event.prefix !== 'string') throw new ValidationError('object-versions event field prefix must be a string', { field: 'prefix' })
  for (const f of ['account', 'region', 'id'] as const) {
    if (event[f] !== undefined && (typeof event[f] !== 'string' || event[f] === '')) throw new ValidationError(`object-versions event field ${f} must be a non-empty string`, { field: f })
  }
  return {
    caseId: event.caseId,
    bucket: event.bucket,
    keys,
    prefix: event.prefix as string | undefined,
    since: time(event.since, 'since'),
    until: time(event.until, 'until'),
    accountId: event.account as string | undefined,
    region: event.region as string | undefined,
    trigger: { source: 'event', id: (event.id as string | undefined) ?? context?.awsRequestId ?? `event:${sha256Hex(canonicalJson(event))}` },
  }
}

// a spread visits holes too (`every` skips them: found by fuzzing, `{Records: [,]}` crashed)
function isSqsEvent(event: unknown): event is { Records: SqsRecord[] } {
  return isObj(event) && Array.isArray(event.Records) && event.Records.length > 0 && [...(event.Records as unknown[])].every((r) => isObj(r) && r.eventSource === 'aws:sqs')
}

/** The handler's answer to an own or CloudTrail event. */
export type ObjectVersionsHandlerResult = CaptureHandlerResult

/** A handler bound to an environment (tests and the CLI's local workers pass their own). */
export function createObjectVersionsHandler(env: NodeJS.ProcessEnv): {
  (event: { Records: SqsRecord[] }, context?: LambdaContextLike): Promise<SqsBatchResponse>
  (event: unknown, context?: LambdaContextLike): Promise<ObjectVersionsHandlerResult | SqsBatchResponse>
} {
  const handle = async (event: unknown, context?: LambdaContextLike): Promise<ObjectVersionsHandlerResult | SqsBatchResponse> => {
    if (isSqsEvent(event)) return handlePages(env, event.Records)
    const req = objectVersionsRequest(event, env, context)
    const { store, signer } = await evidenceFromEnv(env)
    const sources = await openSourceClients({ accountId: req.accountId, region: req.region, env, sessionName: `forensics-${OBJECT_VERSIONS_COLLECTOR.name}` })
    const outcome = await captureObjectVersions({ store, signer }, sources.s3, { ...req, accountId: req.accountId ?? sources.accountId }, objectVersionsOptions(env))
    if (outcome.kind === 'committed') return committedResult(outcome.result)
    return { ok: true, caseId: outcome.caseId, captureId: outcome.captureId, status: 'pending', created: false, findings: [], errors: [], summary: { fanOut: { pages: outcome.pages, entries: outcome.entries, enqueued: outcome.enqueued } } }
  }
  return handle as ReturnType<typeof createObjectVersionsHandler>
}

async function handlePages(env: NodeJS.ProcessEnv, records: SqsRecord[]): Promise<SqsBatchResponse> {
  const { store, signer } = await evidenceFromEnv(env)
  const { concurrency } = objectVersionsOptions({ ...env, FORENSICS_FANOUT_QUEUE_URL: '' })
  const openSource = async (sel: FanOutPlan['selection']) =>
    (await openSourceClients({ accountId: sel.accountId, region: sel.region, env, sessionName: `forensics-${OBJECT_VERSIONS_COLLECTOR.name}` })).s3
  return handlePageRecords({ store, signer }, openSource, records, { concurrency, tool: `lambda:${OBJECT_VERSIONS_COLLECTOR.name}` })
}

/** Lambda entry point. */
export async function handler(event: unknown, context?: LambdaContextLike): Promise<ObjectVersionsHandlerResult | SqsBatchResponse> {
  // the environment the stack writes, checked against the function's schema (forensics/contract/env.ts)
  checkFunctionEnv('object-versions', process.env)
  return createObjectVersionsHandler(process.env)(event, context)
}
