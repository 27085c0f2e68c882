/**
 * Lambda handler of the containment function: the OnSuccess destination of the custody
 * recorder (invoked asynchronously with the recorder's destination record). It re-reads the
 * sealed capture from the evidence bucket; a bucket-config capture with a finding at or
 * above `minSeverity`, or one started by an unauthorized data event on a sensitive bucket,
 * is contained — dry-run unless the config says otherwise. Anything else is left alone.
 * Its own OnSuccess goes to the SIEM bus (the response carries the OCSF finding), its
 * OnFailure to the dead-letter queue.
 *
 * Environment: FORENSICS_EVIDENCE_BUCKET, FORENSICS_SIGNING_KEY, FORENSICS_CONTAINMENT_SETTINGS,
 * FORENSICS_MEMBER_ROLE_NAME + FORENSICS_MEMBER_EXTERNAL_ID (buckets in member accounts).
 */
import { readCommittedCapture } from '../forensics/capture.js'
import { ContainmentRefusedError, runContainment, type ContainmentOutcome } from '../forensics/containment/contain.js'
import { containmentSiemFinding } from '../forensics/containment/alert.js'
import { containmentFromCapture } from '../forensics/containment/plan.js'
import { containmentSettingsFromEnv } from '../forensics/containment/settings.js'
import { openContainmentTargets, type ContainmentTargets } from '../forensics/containment/targets.js'
import { ValidationError } from '../forensics/errors.js'
import { parseDestinationRecord } from '../forensics/runtime/destination-record.js'
import { evidenceFromEnv } from '../forensics/runtime/handler-env.js'
import { checkFunctionEnv } from '../forensics/contract/env.js'
import type { SiemFinding } from '../forensics/siem/siem-finding.js'
import type { EvidenceStore } from '../forensics/evidence-store.js'
import type { Signer } from '../forensics/signer.js'

/** Function identity recorded as the custody actor. */
export const CONTAINMENT_FUNCTION = { name: 'containment', version: '1.0.0' } as const

/** What the handler answers (the SIEM bus receives it inside the destination record). */
export type ContainmentHandlerResult =
  | (ContainmentOutcome & { finding: SiemFinding })
  | { schema: 'forensics.containment-result/v1'; status: 'not-needed'; caseId?: string; captureId?: string; reason: string }

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)

/** A handler bound to an environment; `targets` and `evidence` replace the AWS ones (tests). */
export function createContainmentHandler(env: NodeJS.ProcessEnv, opts: { targets?: ContainmentTargets; evidence?: () => Promise<{ store: EvidenceStore; signer: Signer }> } = {}): (event: unknown) => Promise<ContainmentHandlerResult> {
  return async (event) => {
    const settings = containmentSettingsFromEnv(env)
    const record = parseDestinationRecord(event)
    if (record.requestContext.condition !== 'Success') throw new ValidationError(`destination record ${record.requestContext.requestId} has condition ${record.requestContext.condition}: containment only follows sealed captures`, { field: 'requestContext.condition' })
    const payload = record.responsePayload
    // the recorder also seals drill reports, pending fan-outs and inspection results: it has
    // one OnSuccess, so those reach here too and are left alone (not failures for the DLQ)
    if (isObj(payload) && typeof payload.kind === 'string' && payload.kind !== 'capture') {
      return { schema: 'forensics.containment-result/v1', status: 'not-needed', ...(typeof payload.caseId === 'string' ? { caseId: payload.caseId } : {}), reason: `the custody recorder's result is of kind "${payload.kind}": containment follows sealed captures only` }
    }
    if (!isObj(payload) || payload.kind !== 'capture' || typeof payload.caseId !== 'string' || typeof payload.captureId !== 'string') {
      throw new ValidationError(`destination record ${record.requestContext.requestId}: responsePayload is not a custody recorder result of kind "capture" (caseId, captureId)`, { field: 'responsePayload' })
    }
    const { store, signer } = await (opts.evidence ?? (() => evidenceFromEnv(env)))()
    const committed = await readCommittedCapture(store, payload.caseId, payload.captureId)
    if (!committed) throw new ValidationError(`capture ${payload.captureId} of case ${payload.caseId} is not committed in s3://${store.bucket}`, { field: 'responsePayload.captureId' })
    const req = containmentFromCapture(settings, committed.manifest)
    if (!req) return { schema: 'forensics.containment-result/v1', status: 'not-needed', caseId: payload.caseId, captureId: payload.captureId, reason: `no finding at or above ${settings.minSeverity} and no unauthorized access to a sensitive bucket` }
    const targets = opts.targets ?? (await openContainmentTargets({ accountId: req.accountId, region: req.region, env }))
    const actor = { tool: `${CONTAINMENT_FUNCTION.name}/${CONTAINMENT_FUNCTION.version}`, requestId: record.requestContext.requestId }
    let outcome: ContainmentOutcome
    try {
      outcome = await runContainment({ store, signer, targets, settings, actor }, req, { apply: !settings.dryRun })
    } catch (e) {
      // a refusal is a decision, not a failure: it goes to the SIEM like any other outcome
      if (!(e instanceof ContainmentRefusedError)) throw e
      outcome = e.outcome
    }
    const manifest = (await readCommittedCapture(store, outcome.caseId, outcome.captureId))!.manifest
    return { ...outcome, finding: containmentSiemFinding(outcome, manifest) }
  }
}

let fromEnv: ((event: unknown) => Promise<ContainmentHandlerResult>) | undefined

/** Lambda entry point. */
export async function handler(event: unknown): Promise<ContainmentHandlerResult> {
  checkFunctionEnv('containment', process.env)
  fromEnv ??= createContainmentHandler(process.env)
  return fromEnv(event)
}
