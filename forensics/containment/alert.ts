/**
 * The alert to the security team and the OCSF finding for the SIEM: what was contained (or
 * planned), where the evidence is, and how to undo it.
 */
import type { CommittedCaptureRef, SiemFinding } from '../siem/siem-finding.js'
import { toSiemFinding } from '../siem/siem-finding.js'
import type { Manifest } from '../manifest.js'
import type { ContainmentPlan } from './plan.js'
import type { ContainmentOutcome } from './contain.js'

/** Schema id of an alert message. */
export const CONTAINMENT_ALERT_SCHEMA = 'forensics.containment-alert/v1'

/** The command that undoes a case's containment. */
export const undoCommand = (caseId: string): string => `forensics contain --undo ${caseId}`

/** The alert: an SNS subject and a JSON message naming case, bucket, principal, actions, evidence and undo. */
export function containmentAlert(plan: ContainmentPlan, evidenceKeys: readonly string[], evidenceBucket: string): { subject: string; message: string } {
  const subject = `forensics: containment applied to s3://${plan.bucket} (case ${plan.caseId})`
  const message = {
    schema: CONTAINMENT_ALERT_SCHEMA,
    caseId: plan.caseId,
    bucket: plan.bucket,
    ...(plan.accountId ? { accountId: plan.accountId } : {}),
    principal: plan.principal?.arn ?? null,
    reason: plan.reason.summary,
    actions: plan.actions.map((a) => ({ action: a.action, target: a.target })),
    evidence: evidenceKeys.map((k) => `s3://${evidenceBucket}/${k}`),
    undo: undoCommand(plan.caseId),
  }
  return { subject, message: JSON.stringify(message, null, 2) }
}

/** The OCSF Detection Finding of a containment capture: `containment-planned`, `-applied`, `-refused` or `-failed`. */
export function containmentSiemFinding(outcome: ContainmentOutcome, manifest: Manifest): SiemFinding {
  const actions = outcome.actions.map((a) => `${a.action} (${a.status})`).join(', ')
  const ref: CommittedCaptureRef = { manifestKey: outcome.manifestKey, manifestVersionId: outcome.manifestVersionId, manifestSha256: outcome.manifestSha256 }
  return toSiemFinding(
    {
      type: `containment-${outcome.status}`,
      severity: outcome.status === 'planned' ? 'medium' : 'high',
      title: `containment ${outcome.status} for s3://${outcome.bucket}${outcome.principalArn ? ` and ${outcome.principalArn}` : ''}: ${actions || 'no actions'}`,
      resource: `arn:aws:s3:::${outcome.bucket}`,
      detail: { actions: outcome.actions, undo: outcome.undo },
    },
    0,
    manifest,
    ref,
  )
}
