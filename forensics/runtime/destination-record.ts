/**
 * Lambda's asynchronous-invocation destination record, exactly as AWS delivers it to an
 * OnSuccess / OnFailure destination (SQS message body, SNS message, EventBridge `detail`,
 * or the event of a destination function):
 *
 * ```json
 * { "version": "1.0", "timestamp": "2026-11-29T10:00:00.000Z",
 *   "requestContext": { "requestId": "…", "functionArn": "arn:aws:lambda:…:function:name:$LATEST",
 *                       "condition": "Success" | "RetriesExhausted" | "EventAgeExceeded",
 *                       "approximateInvokeCount": 1 },
 *   "requestPayload": { …the original event… },
 *   "responseContext": { "statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled" },
 *   "responsePayload": { …the handler's result, or { errorType, errorMessage, trace } } }
 * ```
 *
 * An event dropped for its age never ran: it has `approximateInvokeCount: 0` and neither
 * `responseContext` nor `responsePayload`.
 */
import { ValidationError } from '../errors.js'

/** Why the record was sent. */
export type DestinationCondition = 'Success' | 'RetriesExhausted' | 'EventAgeExceeded'

/** The record AWS sends to a destination. */
export interface DestinationRecord<Req = unknown, Res = unknown> {
  version: '1.0'
  timestamp: string
  requestContext: {
    requestId: string
    functionArn: string
    condition: DestinationCondition
    approximateInvokeCount: number
  }
  requestPayload: Req
  responseContext?: {
    statusCode: number
    executedVersion: string
    functionError?: 'Handled' | 'Unhandled'
  }
  responsePayload?: Res
}

/** What Lambda puts in `responsePayload` when a handler throws. */
export interface FunctionErrorPayload {
  errorType: string
  errorMessage: string
  trace: string[]
}

/** The ARN Lambda records for the unqualified (`$LATEST`) version of a function. */
export function functionArn(region: string, accountId: string, functionName: string): string {
  return `arn:aws:lambda:${region}:${accountId}:function:${functionName}:$LATEST`
}

/** The error payload Lambda's Node.js runtime produces for a thrown error. */
export function errorPayload(err: unknown): FunctionErrorPayload {
  const e = err instanceof Error ? err : new Error(String(err))
  return { errorType: e.name || 'Error', errorMessage: e.message, trace: (e.stack ?? '').split('\n').filter(Boolean) }
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)

/**
 * Checks that `event` is a destination record (throws a {@link ValidationError} naming the
 * field otherwise). Accepts the record itself, an EventBridge event carrying it as
 * `detail`, or an SQS/SNS envelope whose body/message is the record as JSON.
 */
export function parseDestinationRecord(event: unknown): DestinationRecord {
  let doc: unknown = event
  if (isObj(doc) && isObj(doc.detail) && typeof doc['detail-type'] === 'string') doc = doc.detail
  if (isObj(doc) && typeof doc.Message === 'string') doc = safeJson(doc.Message)
  if (isObj(doc) && typeof doc.body === 'string') doc = safeJson(doc.body)
  const bad = (field: string, what: string): never => {
    throw new ValidationError(`not a Lambda destination record: ${field} ${what} (the custody recorder is the OnSuccess destination of the capture functions)`, { field })
  }
  if (!isObj(doc)) return bad('(root)', 'is not an object')
  if (doc.version !== '1.0') bad('version', `is ${JSON.stringify(doc.version)}, expected "1.0"`)
  if (typeof doc.timestamp !== 'string') bad('timestamp', 'is missing')
  const rc = doc.requestContext
  if (!isObj(rc)) return bad('requestContext', 'is missing')
  if (typeof rc.requestId !== 'string' || rc.requestId === '') bad('requestContext.requestId', 'is missing')
  if (typeof rc.functionArn !== 'string') bad('requestContext.functionArn', 'is missing')
  if (!['Success', 'RetriesExhausted', 'EventAgeExceeded'].includes(rc.condition as string)) bad('requestContext.condition', `is ${JSON.stringify(rc.condition)}`)
  if (typeof rc.approximateInvokeCount !== 'number') bad('requestContext.approximateInvokeCount', 'is missing')
  if (!('requestPayload' in doc)) bad('requestPayload', 'is missing')
  return doc as unknown as DestinationRecord
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}
