/**
 * The drill's containment phase on the canary bucket (after its captures are sealed):
 * `dry-run` records a quarantine plan and checks the bucket is unchanged; `apply`
 * quarantines the canary, checks the quarantine, then releases it by undo and checks the
 * prior state is back. Checks: `containment-planned`, `containment-applied`,
 * `containment-released`.
 */
import { canonicalJson } from '../canonical-json.js'
import { runContainment, type ContainmentOutcome } from '../containment/contain.js'
import { QUARANTINE_SID } from '../containment/policies.js'
import type { ContainmentSettings } from '../containment/settings.js'
import type { BucketAccessState, ContainmentTargets } from '../containment/targets.js'
import { undoContainment } from '../containment/undo.js'
import { CustodyChain, type CustodyEntry } from '../custody.js'
import type { EvidenceStore } from '../evidence-store.js'
import type { Signer } from '../signer.js'
import type { CheckResult } from './drill-report.js'

/** What the phase needs. */
export interface ContainmentPhaseDeps {
  store: EvidenceStore
  signer: Signer
  targets: ContainmentTargets
  settings: ContainmentSettings
  mode: 'dry-run' | 'apply'
  actor: CustodyEntry['actor']
}

const same = (a: BucketAccessState, b: BucketAccessState): boolean =>
  (a.policy === null || b.policy === null ? a.policy === b.policy : canonicalJson(JSON.parse(a.policy)) === canonicalJson(JSON.parse(b.policy))) && canonicalJson(a.publicAccessBlock) === canonicalJson(b.publicAccessBlock)

const check = (name: string, ok: boolean, summary: string, evidence: Record<string, unknown>): CheckResult => ({ name, verdict: ok ? 'pass' : 'fail', summary, evidence })
const failed = (name: string, e: unknown): CheckResult => check(name, false, `${name}: ${(e as Error).name}: ${(e as Error).message}`, { error: (e as Error).name })

/** Runs the phase for the drill case; never throws (a failure is a failed check). */
export async function runContainmentPhase(deps: ContainmentPhaseDeps, o: { caseId: string; bucket: string; drillId: string }): Promise<CheckResult[]> {
  const apply = deps.mode === 'apply'
  const out: CheckResult[] = []
  let before: BucketAccessState
  let outcome: ContainmentOutcome
  try {
    before = await deps.targets.getBucketAccess(o.bucket)
    outcome = await runContainment(
      { store: deps.store, signer: deps.signer, targets: deps.targets, settings: deps.settings, actor: deps.actor },
      { caseId: o.caseId, bucket: o.bucket, actions: ['quarantine-bucket'], reason: { kind: 'drill', summary: `drill ${o.drillId}: containment phase (${deps.mode})` }, trigger: { source: 'drill', id: `${o.drillId}:containment` } },
      { apply },
    )
  } catch (e) {
    return [failed('containment-planned', e)]
  }
  const planned = outcome.status === (apply ? 'applied' : 'planned') && (await deps.store.head(outcome.manifestKey)) !== undefined
  if (!apply) {
    const unchanged = same(before, await deps.targets.getBucketAccess(o.bucket))
    out.push(check('containment-planned', planned && unchanged, planned && unchanged ? `quarantine of s3://${o.bucket} planned and recorded; bucket unchanged` : `plan not recorded or bucket changed by a dry-run`, { manifestKey: outcome.manifestKey, status: outcome.status, unchanged }))
    return out
  }
  out.push(check('containment-planned', planned, `plan recorded at ${outcome.manifestKey}`, { manifestKey: outcome.manifestKey, status: outcome.status }))
  try {
    const during = await deps.targets.getBucketAccess(o.bucket)
    const entries = await new CustodyChain(deps.store, deps.signer, o.caseId).read()
    const contained = entries.some((e) => e.action === 'contained' && e.subject.captureId === outcome.captureId)
    const quarantined = (during.policy ?? '').includes(QUARANTINE_SID) && Object.values(during.publicAccessBlock ?? {}).every((v) => v === true) && during.publicAccessBlock !== null
    out.push(check('containment-applied', quarantined && contained, quarantined && contained ? `s3://${o.bucket} quarantined (deny-all policy, public access block on), contained entry recorded` : 'quarantine not in force or not recorded', { quarantined, contained }))
  } catch (e) {
    out.push(failed('containment-applied', e))
  }
  try {
    const released = await undoContainment({ store: deps.store, signer: deps.signer, targets: deps.targets, actor: deps.actor }, { caseId: o.caseId, actions: ['quarantine-bucket'], trigger: { source: 'drill', id: `${o.drillId}:release` } })
    const restored = same(before, await deps.targets.getBucketAccess(o.bucket))
    out.push(check('containment-released', restored && released.status === 'released', restored ? `s3://${o.bucket} restored by undo (policy identical in canonical JSON, public access block as before)` : 'the prior state is not back', { restored, manifestKey: released.manifestKey }))
  } catch (e) {
    out.push(failed('containment-released', e))
  }
  return out
}
