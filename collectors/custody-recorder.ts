/**
 * The custody recorder: the OnSuccess destination of every capture function (and of the
 * drill). It receives AWS's destination record, re-reads the committed manifest from the
 * evidence bucket (the store, not the payload, is the source of truth), appends the
 * case's `captured` custody entry once, and publishes a capture summary plus the
 * manifest's findings (as OCSF Detection Findings) to the SIEM bus and topic.
 *
 * Redelivery: Lambda destinations are at least once. A redelivered record finds its
 * custody entry and adds nothing; the SIEM documents are published again with the same
 * deterministic ids, so a crash between append and publish loses nothing and a SIEM can
 * de-duplicate.
 */
import { checkFunctionEnv } from '../forensics/contract/env.js'
import { IntegrityError, ValidationError } from '../forensics/errors.js'
import type { EvidenceStore } from '../forensics/evidence-store.js'
import { readCommittedCapture } from '../forensics/capture.js'
import { CustodyChain, recordCaptured, type CustodyEntry } from '../forensics/custody.js'
import type { Signer } from '../forensics/signer.js'
import { parseDestinationRecord, type DestinationRecord } from '../forensics/runtime/destination-record.js'
import { evidenceFromEnv, siemFromEnv } from '../forensics/runtime/handler-env.js'
import { captureSummary, toSiemFinding } from '../forensics/siem/siem-finding.js'
import type { SiemMessage, SiemPublisher } from '../forensics/siem/siem-publisher.js'
import { inspectionResultOf, routeInspectionResult, type RoutedInspection } from '../forensics/inspection/route-inspection.js'
import { LambdaAsyncInvoker, type AsyncInvoker } from '../forensics/drill/invoker.js'
import { LambdaClient } from '@aws-sdk/client-lambda'
import { sdkSettingsFromEnv } from '../forensics/aws/sdk-config.js'
import type { FunctionKey } from '../forensics/routing.js'

/** Collector name and version recorded as the custody actor. */
export const RECORDER = { name: 'custody-recorder', version: '1.0.0' } as const

/** What the recorder needs. */
export interface CustodyRecorderDeps {
  store: EvidenceStore
  signer: Signer
  siem: SiemPublisher
  /** the recorder's own principal, recorded as the custody actor */
  principalArn?: string
  /** starts the object-versions capture an inspection hit chains into */
  invoker?: AsyncInvoker
}

/** What one destination record led to. */
export type CustodyRecorderResult =
  | { kind: 'capture'; caseId: string; captureId: string; manifestKey: string; custody: { seq: number; hash: string; created: boolean }; published: number }
  | { kind: 'drill'; caseId: string; reportKey: string; custody: { seq: number; hash: string; created: boolean } }
  | { kind: 'pending'; caseId: string; captureId: string }
  | RoutedInspection

const MANIFEST_KEY = /^cases\/([A-Za-z0-9._-]{1,64})\/captures\/([a-z0-9][a-z0-9-]{0,40}-[0-9a-f]{20})\/manifest\.json$/
const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)

/** The manifest a capture function reported: `manifestKey`, or `caseId` + `captureId` (top level or under `manifest`). */
export function committedCaptureOf(payload: unknown): { caseId: string; captureId: string; manifestKey: string; manifestSha256?: string } | undefined {
  if (!isObj(payload)) return undefined
  const inner = isObj(payload.capture) ? payload.capture : payload
  const key = typeof inner.manifestKey === 'string' ? inner.manifestKey : undefined
  const m = isObj(inner.manifest) ? inner.manifest : inner
  const sha = typeof inner.manifestSha256 === 'string' ? inner.manifestSha256 : undefined
  if (key) {
    const hit = MANIFEST_KEY.exec(key)
    return hit ? { caseId: hit[1], captureId: hit[2], manifestKey: key, manifestSha256: sha } : undefined
  }
  if (typeof m.caseId === 'string' && typeof m.captureId === 'string') {
    return { caseId: m.caseId, captureId: m.captureId, manifestKey: `cases/${m.caseId}/captures/${m.captureId}/manifest.json`, manifestSha256: sha }
  }
  return undefined
}

/** A capture still running in fan-out workers (`status: "pending"`, no manifest yet). */
function pendingCaptureOf(payload: unknown): { caseId: string; captureId: string } | undefined {
  if (!isObj(payload) || payload.status !== 'pending' || payload.manifestKey !== undefined) return undefined
  return typeof payload.caseId === 'string' && typeof payload.captureId === 'string' ? { caseId: payload.caseId, captureId: payload.captureId } : undefined
}

/** A drill function's result: its report location. */
function drillReportOf(payload: unknown): { caseId: string; reportKey: string; reportSha256?: string; reportVersionId?: string } | undefined {
  if (!isObj(payload) || payload.schema !== 'forensics.drill-result/v1') return undefined
  if (typeof payload.caseId !== 'string' || typeof payload.reportKey !== 'string') return undefined
  return {
    caseId: payload.caseId,
    reportKey: payload.reportKey,
    reportSha256: typeof payload.reportSha256 === 'string' ? payload.reportSha256 : undefined,
    reportVersionId: typeof payload.reportVersionId === 'string' ? payload.reportVersionId : undefined,
  }
}

const brief = (e: CustodyEntry, created: boolean): { seq: number; hash: string; created: boolean } => ({ seq: e.seq, hash: e.hash, created })

/** Chains a recorder keeps read (see createCustodyRecorder). */
const RECORDER_CHAINS = 32

/** Builds the recorder around its dependencies (the Lambda `handler` builds them from the environment). */
export function createCustodyRecorder(deps: CustodyRecorderDeps): (event: unknown) => Promise<CustodyRecorderResult> {
  // A warm container keeps the chains of the cases it recently sealed: their entries are
  // immutable, so the next invocation reads only the entries written since (the listing is
  // read every time). Bounded: the least recently used chain is dropped.
  const chains = new Map<string, CustodyChain>()
  const chainOf = (caseId: string): CustodyChain => {
    const chain = chains.get(caseId) ?? new CustodyChain(deps.store, deps.signer, caseId)
    chains.delete(caseId)
    chains.set(caseId, chain)
    if (chains.size > RECORDER_CHAINS) chains.delete(chains.keys().next().value as string)
    return chain
  }
  return async (event) => {
    const record: DestinationRecord = parseDestinationRecord(event)
    const rc = record.requestContext
    if (rc.condition !== 'Success') {
      throw new ValidationError(`destination record ${rc.requestId} of ${rc.functionArn} has condition ${rc.condition}: the custody recorder only takes OnSuccess records (route failures to the dead-letter queue)`, { field: 'requestContext.condition' })
    }
    const actor = { tool: `${RECORDER.name}/${RECORDER.version}`, requestId: rc.requestId, ...(deps.principalArn ? { principalArn: deps.principalArn } : {}) }

    // an upload inspection commits no capture: it is routed (SIEM, chained capture), not sealed
    const inspection = inspectionResultOf(record.responsePayload)
    if (inspection) return routeInspectionResult(inspection, deps)

    const drill = drillReportOf(record.responsePayload)
    if (drill) {
      const chain = chainOf(drill.caseId)
      const head = await deps.store.head(drill.reportKey, drill.reportVersionId)
      if (!head) throw new ValidationError(`drill report s3://${deps.store.bucket}/${drill.reportKey} does not exist: the drill did not write it`, { field: 'responsePayload.reportKey' })
      const { entry, created } = await chain.append({
        action: 'drill',
        actor,
        subject: { key: drill.reportKey, versionId: head.versionId, ...(drill.reportSha256 ? { sha256: drill.reportSha256 } : {}) },
        sameAs: (e) => e.action === 'drill' && e.subject.key === drill.reportKey,
      })
      return { kind: 'drill', caseId: drill.caseId, reportKey: drill.reportKey, custody: brief(entry, created) }
    }

    const pending = pendingCaptureOf(record.responsePayload)
    // a fanned-out capture commits later, in the worker that completes its last page, and
    // that worker appends the custody entry: nothing to seal now, and nothing to retry
    if (pending) return { kind: 'pending', ...pending }
    const ref = committedCaptureOf(record.responsePayload)
    if (!ref) {
      throw new ValidationError(`destination record ${rc.requestId} of ${rc.functionArn}: responsePayload names no committed manifest (expected manifestKey, or caseId and captureId)`, { field: 'responsePayload' })
    }
    const committed = await readCommittedCapture(deps.store, ref.caseId, ref.captureId)
    if (!committed) {
      throw new ValidationError(`s3://${deps.store.bucket}/${ref.manifestKey} does not exist: the capture reported by ${rc.requestId} was never committed`, { field: 'responsePayload.manifestKey' })
    }
    if (ref.manifestSha256 && ref.manifestSha256 !== committed.manifestSha256) {
      throw new IntegrityError(`s3://${deps.store.bucket}/${ref.manifestKey}: stored SHA-256 ${committed.manifestSha256} differs from the ${ref.manifestSha256} the capture function reported`)
    }
    const chain = chainOf(ref.caseId)
    const { entry, created } = await recordCaptured(chain, { ...committed, captureId: ref.captureId }, actor)
    const commit = { manifestKey: committed.manifestKey, manifestVersionId: committed.manifestVersionId, manifestSha256: committed.manifestSha256 }
    const m = committed.manifest
    const messages: SiemMessage[] = [
      {
        kind: 'capture-summary',
        subject: `forensics: ${m.collector.name} capture ${m.status} for case ${m.caseId}`,
        severity: 'Informational',
        document: captureSummary(m, commit, brief(entry, created), { requestId: rc.requestId, functionArn: rc.functionArn, approximateInvokeCount: rc.approximateInvokeCount }),
      },
      ...(m.findings ?? []).map((f, i): SiemMessage => {
        const doc = toSiemFinding(f, i, m, commit)
        return { kind: 'finding', subject: `forensics finding (${doc.severity}): ${f.title}`, severity: doc.severity, document: doc }
      }),
    ]
    await deps.siem.publish(messages)
    return { kind: 'capture', caseId: ref.caseId, captureId: ref.captureId, manifestKey: ref.manifestKey, custody: brief(entry, created), published: messages.length }
  }
}

/** The invoker for chained captures, when FORENSICS_CAPTURE_FUNCTIONS (JSON: key → function name) is set. */
export function invokerFromEnv(env: NodeJS.ProcessEnv): { invoker?: AsyncInvoker } {
  const raw = env.FORENSICS_CAPTURE_FUNCTIONS
  if (!raw) return {}
  let names: Record<FunctionKey, string>
  try {
    names = JSON.parse(raw) as Record<FunctionKey, string>
  } catch (cause) {
    throw new ValidationError(`FORENSICS_CAPTURE_FUNCTIONS is not JSON: ${(cause as Error).message}`, { cause, field: 'FORENSICS_CAPTURE_FUNCTIONS' })
  }
  return { invoker: new LambdaAsyncInvoker(new LambdaClient(sdkSettingsFromEnv(env)), names) }
}

let fromEnv: Promise<(event: unknown) => Promise<CustodyRecorderResult>> | undefined

/** Lambda entry point: dependencies from the environment (see forensics/runtime/handler-env.ts). */
export async function handler(event: unknown): Promise<CustodyRecorderResult> {
  // the environment the stack writes, checked against the function's schema (forensics/contract/env.ts)
  checkFunctionEnv('custody-recorder', process.env)
  fromEnv ??= evidenceFromEnv()
    .then(({ store, signer }) => createCustodyRecorder({ store, signer, siem: siemFromEnv(), ...invokerFromEnv(process.env) }))
    .catch((e: unknown) => {
      fromEnv = undefined
      throw e
    })
  return (await fromEnv)(event)
}
