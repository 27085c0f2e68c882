/**
 * What happens to an inspector result on its OnSuccess path (run by the custody recorder,
 * the OnSuccess destination of every function): a hit goes to the SIEM as an OCSF
 * Detection Finding and, at or above `inspection.minSeverity`, starts an object-versions
 * capture of the key (its bytes and every version become locked evidence). A clean verdict
 * is counted, and sent only with `inspection.reportClean`; `skipped-too-large` and
 * `deleted` verdicts are sent (informational): an upload nobody could inspect is news.
 */
import { ValidationError } from '../errors.js'
import type { AsyncInvoker } from '../drill/invoker.js'
import type { SiemMessage, SiemPublisher } from '../siem/siem-publisher.js'
import { INSPECTION_SCHEMA, toInspectionFinding, type InspectionResult } from './inspection-result.js'

/** What routing one result did. */
export interface RoutedInspection {
  kind: 'inspection'
  verdict: InspectionResult['verdict']['verdict']
  object: string
  /** SIEM documents published (0 for a clean verdict unless reportClean) */
  published: number
  /** the object-versions capture started, with its request id */
  capture?: { caseId: string; requestId: string }
  /** `clean` verdicts are counted here (one per record), not sent */
  counted: boolean
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)

/** The inspector result in a destination record's payload, if it is one. */
export function inspectionResultOf(payload: unknown): InspectionResult | undefined {
  if (!isObj(payload) || payload.schema !== INSPECTION_SCHEMA) return undefined
  if (!isObj(payload.verdict) || typeof payload.verdict.verdict !== 'string' || typeof payload.eventId !== 'string') {
    throw new ValidationError(`${INSPECTION_SCHEMA} result without verdict or eventId`, { field: 'responsePayload' })
  }
  return payload as unknown as InspectionResult
}

/** Publishes and chains one result (see the module comment). */
export async function routeInspectionResult(r: InspectionResult, deps: { siem: SiemPublisher; invoker?: AsyncInvoker }): Promise<RoutedInspection> {
  const v = r.verdict
  const base = { kind: 'inspection' as const, verdict: v.verdict, object: v.object.name }
  const send = v.verdict !== 'clean' || r.reportClean
  const messages: SiemMessage[] = []
  if (send) {
    const doc = toInspectionFinding(r)
    messages.push({ kind: 'finding', subject: `forensics inspection (${doc.severity}): ${doc.message}`, severity: doc.severity, document: doc })
  }
  let capture: RoutedInspection['capture']
  if (r.capture) {
    if (!deps.invoker) throw new ValidationError(`inspection hit on ${v.object.name} asks for a capture, but the recorder has no FORENSICS_CAPTURE_FUNCTIONS to start it with`, { field: 'FORENSICS_CAPTURE_FUNCTIONS' })
    // capture first: the evidence matters more than the message, and a retry of this
    // record re-invokes with the same id, which the capture answers idempotently
    const q = await deps.invoker.invokeAsync('object-versions', r.capture)
    capture = { caseId: r.capture.caseId, requestId: q.requestId }
  }
  await deps.siem.publish(messages)
  return { ...base, published: messages.length, counted: !send, ...(capture ? { capture } : {}) }
}
