/**
 * Lambda handler of the bucket-config collector. Accepts its own event
 * `{caseId, bucket, account?, region?, id?}` or the EventBridge events the trigger table
 * routes to it (forensics/contract/triggers.ts: CloudTrail policy / ACL / public access
 * block / encryption / ownership changes, and S3 data events on a sensitive bucket by a caller
 * outside its allow-list, the containment trigger; case id by the contract's one rule). Returns the
 * committed capture with its findings; throws only when nothing could be committed.
 *
 * Environment: FORENSICS_EVIDENCE_BUCKET, FORENSICS_SIGNING_KEY (kms:<key> | file:<pem>),
 * FORENSICS_RETENTION_DAYS/MODE (optional), FORENSICS_CASE_ID_TEMPLATE,
 * FORENSICS_MEMBER_ROLE_NAME + FORENSICS_MEMBER_EXTERNAL_ID (cross-account reads).
 */
import { canonicalJson } from '../forensics/canonical-json.js'
import { ValidationError } from '../forensics/errors.js'
import { sha256Hex } from '../forensics/hash.js'
import { BUCKET_CONFIG_COLLECTOR, captureBucketConfig, type BucketConfigRequest } from '../forensics/bucket-config/capture-bucket-config.js'
import { committedResult, type CaptureHandlerResult } from '../forensics/bucket-config/collector-runtime.js'
import { evidenceFromEnv } from '../forensics/runtime/handler-env.js'
import { openSourceClients } from '../forensics/bucket-config/source-access.js'
import { checkFunctionEnv } from '../forensics/contract/env.js'
import { caseIdOf, isTriggerEvent, parseTriggerEvent, triggerOf } from '../forensics/contract/triggers.js'

/** The collector's own event. */
export interface BucketConfigEvent {
  caseId: string
  bucket: string
  account?: string
  region?: string
  /** idempotency id; defaults to the Lambda request id, else a hash of the event */
  id?: string
}

/** The part of the Lambda context the handler uses. */
export interface LambdaContextLike {
  awsRequestId?: string
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)
const optString = (e: Record<string, unknown>, f: string): string | undefined => {
  if (e[f] === undefined) return undefined
  if (typeof e[f] !== 'string' || e[f] === '') throw new ValidationError(`bucket-config event field ${f} must be a non-empty string`, { field: f })
  return e[f] as string
}

/** Turns any accepted event into a capture request; throws a ValidationError otherwise. */
export function bucketConfigRequest(event: unknown, env: NodeJS.ProcessEnv, context?: LambdaContextLike): BucketConfigRequest {
  if (isTriggerEvent(event)) {
    // exactly what the trigger table routes here (forensics/contract/triggers.ts)
    const t = parseTriggerEvent(event, 'bucket-config')
    return {
      caseId: caseIdOf(event, t, env.FORENSICS_CASE_ID_TEMPLATE),
      bucket: t.buckets[0],
      accountId: t.account || undefined,
      region: t.region || undefined,
      trigger: triggerOf(t),
      actor: { principalArn: t.principalArn, requestId: t.requestId },
    }
  }
  if (!isObj(event)) throw new ValidationError(`bucket-config expects {caseId, bucket, account?, region?} or an EventBridge CloudTrail event, got ${JSON.stringify(event)?.slice(0, 200)}`, { field: 'event' })
  if (typeof event.caseId !== 'string') throw new ValidationError('bucket-config event has no caseId (a string): say which case the snapshot belongs to', { field: 'caseId' })
  if (typeof event.bucket !== 'string') throw new ValidationError('bucket-config event has no bucket (a string)', { field: 'bucket' })
  const id = optString(event, 'id') ?? context?.awsRequestId ?? `event:${sha256Hex(canonicalJson(event))}`
  return {
    caseId: event.caseId,
    bucket: event.bucket,
    accountId: optString(event, 'account'),
    region: optString(event, 'region'),
    trigger: { source: 'event', id },
  }
}

/** A handler bound to an environment (tests pass their own). */
export function createBucketConfigHandler(env: NodeJS.ProcessEnv): (event: unknown, context?: LambdaContextLike) => Promise<CaptureHandlerResult> {
  return async (event, context) => {
    const req = bucketConfigRequest(event, env, context)
    const { store, signer } = await evidenceFromEnv(env)
    const sources = await openSourceClients({ accountId: req.accountId, region: req.region, env, sessionName: `forensics-${BUCKET_CONFIG_COLLECTOR.name}` })
    const result = await captureBucketConfig({ store, signer }, sources, { ...req, accountId: req.accountId ?? sources.accountId })
    return committedResult(result)
  }
}

/** Lambda entry point. */
export async function handler(event: unknown, context?: LambdaContextLike): Promise<CaptureHandlerResult> {
  // the environment the stack writes, checked against the function's schema (forensics/contract/env.ts)
  checkFunctionEnv('bucket-config', process.env)
  return createBucketConfigHandler(process.env)(event, context)
}
