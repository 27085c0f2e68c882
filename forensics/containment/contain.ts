/**
 * Containment, evidence first: a plan is built from the request and the case's committed
 * bucket-config capture of the bucket; the plan — and, when applied, every action's state
 * before and after — is committed as a `containment` capture; each applied action gets a
 * `contained` custody entry. Refused plans change nothing (the plan is still evidence).
 */
import { canonicalBytes } from '../canonical-json.js'
import { runCapture, type CaptureResult } from '../capture.js'
import { findPreviousSnapshot, validateBucketName } from '../bucket-config/capture-bucket-config.js'
import type { ContainmentAction } from '../config.js'
import { CustodyChain, recordCaptured, type CustodyEntry } from '../custody.js'
import { StorageError, ValidationError } from '../errors.js'
import type { EvidenceStore } from '../evidence-store.js'
import { manifestKey, validateCaseId } from '../keys.js'
import type { ArtifactRecord } from '../manifest.js'
import type { Signer } from '../signer.js'
import { containmentAlert, undoCommand } from './alert.js'
import { planContainment, type ContainmentPlan, type ContainmentRequest, type PriorCapture } from './plan.js'
import { QUARANTINE_PUBLIC_ACCESS_BLOCK, quarantinePolicy, roleSessionRevokePolicy, userDenyAllPolicy } from './policies.js'
import { parsePrincipal } from './principal.js'
import { DENY_POLICY_NAME, type ContainmentSettings } from './settings.js'
import type { ContainmentTargets } from './targets.js'

/** Collector name of containment captures. */
export const CONTAINMENT_COLLECTOR = { name: 'containment', version: '1.0.0' } as const

/** What containment needs. */
export interface ContainmentDeps {
  store: EvidenceStore
  signer: Signer
  targets: ContainmentTargets
  settings: ContainmentSettings
  /** recorded as the custody actor */
  actor: CustodyEntry['actor']
  now?: () => Date
}

/** Where one stored state is. */
export interface StateRef {
  key: string
  versionId: string
  sha256: string
}

/** How one action ended. */
export interface ActionOutcome {
  action: ContainmentAction
  target: string
  status: 'planned' | 'refused' | 'applied' | 'failed'
  reason?: string
  before?: StateRef
  after?: StateRef
  error?: string
}

/** The result of a containment run (also the containment function's response). */
export interface ContainmentOutcome {
  schema: 'forensics.containment-result/v1'
  status: 'planned' | 'applied' | 'refused' | 'failed'
  caseId: string
  bucket: string
  principalArn?: string
  captureId: string
  manifestKey: string
  manifestVersionId: string
  manifestSha256: string
  reason: ContainmentPlan['reason']
  actions: ActionOutcome[]
  custody: { seq: number; action: string; created: boolean }[]
  undo: string
}

/** A refused containment (exit code 2): the plan is evidence, nothing was changed. */
export class ContainmentRefusedError extends ValidationError {
  readonly outcome: ContainmentOutcome
  constructor(outcome: ContainmentOutcome) {
    const reasons = outcome.actions.filter((a) => a.status === 'refused').map((a) => `${a.action} ${a.target}: ${a.reason}`)
    super(`containment of s3://${outcome.bucket} in case ${outcome.caseId} refused, nothing changed (plan recorded at ${outcome.manifestKey}):\n  ${reasons.join('\n  ')}`, { field: 'containment' })
    this.name = 'ContainmentRefusedError'
    this.outcome = outcome
  }
}

/** The case's committed bucket-config capture of `bucket` taken before now, or undefined. */
export async function priorCaptureOf(store: EvidenceStore, caseId: string, bucket: string, accountId: string | undefined, now: Date): Promise<PriorCapture | undefined> {
  const prev = await findPreviousSnapshot(store, caseId, bucket, accountId)
  if (!prev || prev.endedAt > now.toISOString()) return undefined
  return { captureId: prev.captureId, manifestKey: manifestKey(caseId, prev.captureId), endedAt: prev.endedAt }
}

const ref = (a: ArtifactRecord): StateRef => ({ key: a.key, versionId: a.versionId, sha256: a.sha256 })
const json = (v: unknown): Buffer => canonicalBytes(v)

/**
 * Plans and — with `apply` and nothing refused — applies containment. Resolves to the
 * outcome; throws {@link ContainmentRefusedError} when any action is refused, and a
 * StorageError (after committing what was done) when an action failed.
 */
export async function runContainment(deps: ContainmentDeps, req: ContainmentRequest, opts: { apply: boolean }): Promise<ContainmentOutcome> {
  const now = deps.now ?? (() => new Date())
  const caseId = validateCaseId(req.caseId)
  const bucket = validateBucketName(req.bucket)
  if (req.principalArn !== undefined) parsePrincipal(req.principalArn)
  const prior = await priorCaptureOf(deps.store, caseId, bucket, req.accountId, now())
  const plan = planContainment(deps.settings, { ...req, caseId, bucket }, prior)
  const mode = plan.refused ? 'refused' : opts.apply ? 'apply' : 'dry-run'

  const result = await runCapture(
    { store: deps.store, signer: deps.signer, now },
    {
      caseId,
      collector: { ...CONTAINMENT_COLLECTOR },
      trigger: { source: req.trigger.source, id: `${req.trigger.id}#${mode}` },
      actor: { principalArn: deps.actor.principalArn, requestId: deps.actor.requestId },
      target: { bucket, ...(req.accountId ? { accountId: req.accountId } : {}), ...(req.principalArn ? { principalArn: req.principalArn } : {}), mode },
    },
    async (ctx) => {
      const planRecord = await ctx.addArtifact('plan.json', json(plan), { contentType: 'application/json' })
      const actions: ActionOutcome[] = plan.actions.map((a) => ({ ...a }))
      if (mode === 'apply') {
        const keys = [planRecord.key]
        for (const outcome of actions) {
          try {
            await applyAction(deps, plan, outcome, keys, now(), async (path, doc) => ref(await ctx.addArtifact(path, json(doc), { contentType: 'application/json' })))
            outcome.status = 'applied'
          } catch (e) {
            outcome.status = 'failed'
            outcome.error = `${(e as Error).name}: ${(e as Error).message}`
            ctx.recordError({ what: `${outcome.action} ${outcome.target}`, code: (e as Error).name, message: (e as Error).message })
          }
          if (outcome.before) keys.push(outcome.before.key)
          if (outcome.after) keys.push(outcome.after.key)
        }
      }
      ctx.summary = { mode, reason: plan.reason, plan: { refused: plan.refused, priorCapture: plan.priorCapture }, actions }
    },
  )
  return sealContainment(deps, result)
}

/** Runs one action: state before, the change, state after (each written as evidence). */
async function applyAction(
  deps: ContainmentDeps,
  plan: ContainmentPlan,
  outcome: ActionOutcome,
  evidenceKeys: string[],
  now: Date,
  write: (path: string, doc: unknown) => Promise<StateRef>,
): Promise<void> {
  const t = deps.targets
  if (outcome.action === 'quarantine-bucket') {
    const before = await t.getBucketAccess(plan.bucket)
    outcome.before = await write('quarantine-bucket/before.json', { bucket: plan.bucket, ...before })
    const partition = /^arn:(aws[a-z-]*):/.exec(deps.settings.alertTopicArn)?.[1] ?? 'aws'
    await t.setBucketPolicy(plan.bucket, quarantinePolicy(plan.bucket, deps.settings.exemptPrincipals, partition))
    await t.setPublicAccessBlock(plan.bucket, { ...QUARANTINE_PUBLIC_ACCESS_BLOCK })
    outcome.after = await write('quarantine-bucket/after.json', { bucket: plan.bucket, ...(await t.getBucketAccess(plan.bucket)) })
  } else if (outcome.action === 'revoke-principal') {
    const p = parsePrincipal(outcome.target)
    if (p.kind === 'iam-user') {
      const before = await t.getUser(p.name)
      outcome.before = await write('revoke-principal/before.json', { kind: p.kind, principalArn: p.arn, userName: p.name, ...before })
      // keys are deactivated, never deleted: deleting would destroy evidence of which key was used
      for (const k of before.accessKeys) if (k.status === 'Active') await t.setAccessKeyStatus(p.name, k.accessKeyId, 'Inactive')
      await t.putUserPolicy(p.name, DENY_POLICY_NAME, userDenyAllPolicy())
      outcome.after = await write('revoke-principal/after.json', { kind: p.kind, principalArn: p.arn, userName: p.name, ...(await t.getUser(p.name)) })
    } else {
      const before = await t.getRolePolicyNames(p.name)
      outcome.before = await write('revoke-principal/before.json', { kind: p.kind, principalArn: p.arn, roleName: p.name, inlinePolicyNames: before })
      const policy = roleSessionRevokePolicy(now)
      await t.putRolePolicy(p.name, DENY_POLICY_NAME, policy)
      outcome.after = await write('revoke-principal/after.json', { kind: p.kind, principalArn: p.arn, roleName: p.name, inlinePolicyNames: await t.getRolePolicyNames(p.name), revokePolicy: JSON.parse(policy) })
    }
  } else {
    const { subject, message } = containmentAlert(plan, evidenceKeys, deps.store.bucket)
    outcome.before = await write('alert/message.json', { topicArn: outcome.target, subject, message })
    const messageId = await t.publishAlert(outcome.target, subject, message)
    outcome.after = await write('alert/sent.json', { topicArn: outcome.target, messageId })
  }
}

/**
 * Appends the capture's `captured` entry and one `contained` entry per applied action (each
 * once: a redelivered trigger finds them), and turns the committed summary into the outcome.
 */
async function sealContainment(deps: ContainmentDeps, result: CaptureResult): Promise<ContainmentOutcome> {
  const m = result.manifest
  const summary = (m.summary ?? {}) as { mode?: string; reason?: ContainmentPlan['reason']; actions?: ActionOutcome[] }
  const actions = summary.actions ?? []
  const chain = new CustodyChain(deps.store, deps.signer, m.caseId)
  const custody: ContainmentOutcome['custody'] = []
  const captured = await recordCaptured(chain, { ...result, captureId: m.captureId }, deps.actor)
  custody.push({ seq: captured.entry.seq, action: 'captured', created: captured.created })
  // a failed action that got as far as recording its prior state may have changed something: it is undoable too
  for (const a of actions.filter((x) => x.status === 'applied' || (x.status === 'failed' && x.before && x.action !== 'alert'))) {
    const { entry, created } = await chain.append({
      action: 'contained',
      actor: deps.actor,
      subject: { key: result.manifestKey, versionId: result.manifestVersionId, sha256: result.manifestSha256, captureId: m.captureId, containment: { action: a.action, target: a.target, status: a.status, bucket: m.target.bucket, accountId: m.target.accountId ?? null, before: a.before, after: a.after } },
      sameAs: (e) => e.action === 'contained' && e.subject.captureId === m.captureId && (e.subject.containment as { action?: string } | undefined)?.action === a.action,
    })
    custody.push({ seq: entry.seq, action: 'contained', created })
  }
  const status = summary.mode === 'refused' ? 'refused' : summary.mode === 'dry-run' ? 'planned' : actions.some((a) => a.status === 'failed') ? 'failed' : 'applied'
  const outcome: ContainmentOutcome = {
    schema: 'forensics.containment-result/v1',
    status,
    caseId: m.caseId,
    bucket: String(m.target.bucket),
    ...(typeof m.target.principalArn === 'string' ? { principalArn: m.target.principalArn } : {}),
    captureId: m.captureId,
    manifestKey: result.manifestKey,
    manifestVersionId: result.manifestVersionId,
    manifestSha256: result.manifestSha256,
    reason: summary.reason ?? { kind: 'manual', summary: '(not recorded)' },
    actions,
    custody,
    undo: undoCommand(m.caseId),
  }
  if (status === 'refused') throw new ContainmentRefusedError(outcome)
  if (status === 'failed') {
    const failed = actions.filter((a) => a.status === 'failed').map((a) => `${a.action} ${a.target}: ${a.error}`)
    throw new StorageError(`containment of s3://${outcome.bucket} in case ${outcome.caseId} failed in part (what was done is recorded at ${outcome.manifestKey}; undo with \`${outcome.undo}\`):\n  ${failed.join('\n  ')}`)
  }
  return outcome
}
