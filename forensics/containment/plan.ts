/**
 * The containment planner: from a request (CLI, a bucket-config capture with a finding at or
 * above `containment.minSeverity`, or an unauthorized data event on a sensitive bucket) and
 * the case's prior bucket-config capture, the actions to take — each `planned` or `refused`
 * with its reason. Pure; nothing here talks to AWS.
 */
import { CONTAINMENT_ACTIONS, SEVERITIES, type ContainmentAction } from '../config.js'
import { S3_DATA_EVENT_NAMES } from '../contract/triggers.js'
import type { Manifest } from '../manifest.js'
import { parsePrincipal, principalMatches, type Principal, type PrincipalKind } from './principal.js'
import type { ContainmentSettings } from './settings.js'

/** Schema id of a containment plan. */
export const CONTAINMENT_PLAN_SCHEMA = 'forensics.containment-plan/v1'


/** Why containment was asked for. */
export interface ContainmentReason {
  kind: 'finding' | 'unauthorized-access' | 'manual' | 'drill'
  /** one line, for people */
  summary: string
  detail?: Record<string, unknown>
}

/** What to contain. */
export interface ContainmentRequest {
  caseId: string
  bucket: string
  /** the bucket owner's account (another account: through the member role) */
  accountId?: string
  region?: string
  /** the suspected principal (CloudTrail `userIdentity.arn`) */
  principalArn?: string
  /** actions asked for; default: the configured ones (revoke-principal only with a principal) */
  actions?: ContainmentAction[]
  reason: ContainmentReason
  /** idempotency: the same trigger id never contains twice */
  trigger: { source: string; id: string }
}

/** The committed bucket-config capture that makes an action on the bucket allowed. */
export interface PriorCapture {
  captureId: string
  manifestKey: string
  endedAt: string
}

/** One action of a plan. */
export interface PlannedAction {
  action: ContainmentAction
  /** `s3://bucket`, the principal ARN, or the topic ARN */
  target: string
  status: 'planned' | 'refused'
  reason?: string
}

/** A containment plan (written as evidence whether or not it is applied). */
export interface ContainmentPlan {
  schema: typeof CONTAINMENT_PLAN_SCHEMA
  caseId: string
  bucket: string
  accountId?: string
  principal?: { arn: string; kind: PrincipalKind }
  reason: ContainmentReason
  trigger: { source: string; id: string }
  priorCapture: PriorCapture | null
  actions: PlannedAction[]
  /** true when any action is refused: then nothing is applied */
  refused: boolean
}

/** Builds the plan; refusals are decided here and nowhere else. */
export function planContainment(settings: ContainmentSettings, req: ContainmentRequest, prior: PriorCapture | undefined): ContainmentPlan {
  const principal: Principal | undefined = req.principalArn === undefined ? undefined : parsePrincipal(req.principalArn)
  const asked = req.actions ?? settings.actions.filter((a) => a !== 'revoke-principal' || principal !== undefined)
  const actions: PlannedAction[] = CONTAINMENT_ACTIONS.filter((a) => asked.includes(a)).map((action) => {
    const refuse = (reason: string): PlannedAction => ({ action, target: targetOf(action), status: 'refused', reason })
    if (action === 'alert') return { action, target: settings.alertTopicArn, status: 'planned' }
    if (settings.ownBuckets.includes(req.bucket)) return refuse(`s3://${req.bucket} is the toolkit's own bucket; containment never changes the evidence or access-log bucket`)
    if (!prior) {
      return refuse(`case ${req.caseId} holds no committed bucket-config capture of s3://${req.bucket}: capture first (forensics capture bucket-config --case ${req.caseId} --bucket ${req.bucket}), then contain`)
    }
    if (action === 'quarantine-bucket') return { action, target: `s3://${req.bucket}`, status: 'planned' }
    if (!principal) return refuse('no principal to revoke: pass --principal ARN (the userIdentity.arn of the suspicious call)')
    if (principal.kind === 'root') return refuse(`${principal.arn} is the account's root user: it cannot be revoked by policy; secure it by hand (password, MFA, root access keys)`)
    if (principalMatches(settings.neverContain, principal)) return refuse(`${principal.arn} is in containment.neverContain (or is a break-glass, forensics, investigator or member role): never revoked`)
    if (principal.kind !== 'iam-user' && principal.kind !== 'assumed-role') return refuse(`${principal.arn} is neither an IAM user nor a role session; revoke it by hand`)
    return { action, target: principal.arn, status: 'planned' }
  })
  function targetOf(action: ContainmentAction): string {
    return action === 'quarantine-bucket' ? `s3://${req.bucket}` : action === 'alert' ? settings.alertTopicArn : (req.principalArn ?? '(none)')
  }
  return {
    schema: CONTAINMENT_PLAN_SCHEMA,
    caseId: req.caseId,
    bucket: req.bucket,
    ...(req.accountId ? { accountId: req.accountId } : {}),
    ...(principal ? { principal: { arn: principal.arn, kind: principal.kind } } : {}),
    reason: req.reason,
    trigger: { ...req.trigger },
    priorCapture: prior ?? null,
    actions,
    refused: actions.some((a) => a.status === 'refused'),
  }
}

const rank = (s: string): number => SEVERITIES.indexOf(s as (typeof SEVERITIES)[number])

/**
 * The containment a committed bucket-config capture asks for, or undefined: (a) a finding at
 * or above `minSeverity`; (b) a capture started by an S3 data event on a sensitive bucket by
 * a principal outside its allow-list. The capture itself is the prior capture.
 */
export function containmentFromCapture(settings: ContainmentSettings, m: Manifest): ContainmentRequest | undefined {
  if (m.collector.name !== 'bucket-config' || typeof m.target.bucket !== 'string') return undefined
  const bucket = m.target.bucket
  const principalArn = m.actor.principalArn
  const base = {
    caseId: m.caseId,
    bucket,
    ...(typeof m.target.accountId === 'string' ? { accountId: m.target.accountId } : {}),
    ...(typeof m.target.region === 'string' ? { region: m.target.region } : {}),
    ...(principalArn ? { principalArn } : {}),
    trigger: { source: `capture:${m.captureId}`, id: `capture:${m.caseId}/${m.captureId}` },
  }
  const eventName = /^cloudtrail:(.+)$/.exec(m.trigger.source)?.[1]
  const sensitive = settings.sensitiveBuckets.find((b) => b.bucket === bucket)
  const dataEvent = eventName !== undefined && (S3_DATA_EVENT_NAMES as readonly string[]).includes(eventName)
  // an allow-listed caller of a data event is never the suspect, whatever the capture found
  const allowListed = dataEvent && sensitive !== undefined && principalArn !== undefined && principalMatches(sensitive.allowedPrincipals, parsePrincipal(principalArn, 'actor.principalArn'))
  if (allowListed) delete (base as { principalArn?: string }).principalArn
  const severe = (m.findings ?? []).filter((f) => rank(f.severity) >= rank(settings.minSeverity))
  if (severe.length > 0) {
    return { ...base, reason: { kind: 'finding', summary: severe[0].title, detail: { findings: severe.map((f) => ({ type: f.type, severity: f.severity, title: f.title })), captureId: m.captureId } } }
  }
  if (!dataEvent || !sensitive || !principalArn || allowListed) return undefined
  return { ...base, reason: { kind: 'unauthorized-access', summary: `${eventName} on sensitive bucket s3://${bucket} by ${principalArn}, which is not in its allow-list`, detail: { eventName, captureId: m.captureId } } }
}
