/**
 * Undo: every `contained` custody entry of a case not yet `released` is restored from the
 * state its containment recorded before acting — the bucket policy (byte-identical in
 * canonical JSON), the public access block, access key statuses, deny policies removed. The
 * restore is itself a capture (state before and after the undo) and each restored entry
 * gets a `released` custody entry.
 */
import { canonicalJson } from '../canonical-json.js'
import { runCapture } from '../capture.js'
import type { ContainmentAction } from '../config.js'
import { CustodyChain, recordCaptured, type CustodyEntry } from '../custody.js'
import { IntegrityError, StorageError, ValidationError } from '../errors.js'
import type { EvidenceStore } from '../evidence-store.js'
import { sha256Hex } from '../hash.js'
import { validateCaseId } from '../keys.js'
import type { Signer } from '../signer.js'
import type { StateRef } from './contain.js'
import { DENY_POLICY_NAME } from './settings.js'
import type { BucketAccessState, ContainmentTargets, UserState } from './targets.js'

/** Collector name of release captures. */
export const RELEASE_COLLECTOR = { name: 'containment-release', version: '1.0.0' } as const

/** A `contained` entry's subject. */
export interface ContainedSubject {
  action: ContainmentAction
  target: string
  bucket: string
  accountId: string | null
  before?: StateRef
  after?: StateRef
}

/** A containment step still in force. */
export interface OpenContainment {
  seq: number
  captureId: string
  containment: ContainedSubject
}

/** What undo needs. */
export interface UndoDeps {
  store: EvidenceStore
  signer: Signer
  targets: ContainmentTargets
  actor: CustodyEntry['actor']
  now?: () => Date
}

/** How one step was released. */
export interface ReleaseOutcome {
  seq: number
  action: ContainmentAction
  target: string
  status: 'released' | 'failed'
  before?: StateRef
  after?: StateRef
  error?: string
}

/** The result of an undo. */
export interface UndoOutcome {
  schema: 'forensics.containment-release/v1'
  status: 'released' | 'failed'
  caseId: string
  captureId: string
  manifestKey: string
  released: ReleaseOutcome[]
  custody: { seq: number; action: string; created: boolean }[]
}

/** The `contained` entries of a chain not yet released (alerts have nothing to undo). */
export function openContainments(entries: readonly CustodyEntry[], actions?: readonly ContainmentAction[]): OpenContainment[] {
  const released = new Set(entries.filter((e) => e.action === 'released').map((e) => (e.subject.release as { seq?: number } | undefined)?.seq))
  return entries
    .filter((e) => e.action === 'contained' && !released.has(e.seq))
    .map((e) => ({ seq: e.seq, captureId: String(e.subject.captureId), containment: e.subject.containment as ContainedSubject }))
    .filter((o) => o.containment.action !== 'alert' && (!actions || actions.includes(o.containment.action)))
}

/** Reads a recorded state and checks it against the SHA-256 the custody entry names. */
async function readState<T>(store: EvidenceStore, r: StateRef | undefined, what: string): Promise<T> {
  if (!r) throw new ValidationError(`${what} recorded no prior state: restore it by hand`, { field: 'containment' })
  const { bytes } = await store.getBytes(r.key, r.versionId)
  if (sha256Hex(bytes) !== r.sha256) throw new IntegrityError(`s3://${store.bucket}/${r.key} does not match the SHA-256 its custody entry records; refusing to restore from it (run \`forensics verify\` on a bundle of the case)`)
  return JSON.parse(bytes.toString('utf8')) as T
}

const samePolicy = (a: string | null, b: string | null): boolean => (a === null || b === null ? a === b : canonicalJson(JSON.parse(a)) === canonicalJson(JSON.parse(b)))

/**
 * Restores every open containment step of a case (or those of `actions`). Throws a
 * ValidationError when nothing is open, before anything changes; a StorageError after
 * committing when a restore failed or does not match the prior state.
 */
export async function undoContainment(deps: UndoDeps, req: { caseId: string; actions?: ContainmentAction[]; trigger: { source: string; id: string } }): Promise<UndoOutcome> {
  const caseId = validateCaseId(req.caseId)
  const chain = new CustodyChain(deps.store, deps.signer, caseId)
  const open = openContainments(await chain.read(), req.actions)
  if (open.length === 0) throw new ValidationError(`case ${caseId} has no containment in force${req.actions ? ` for ${req.actions.join(', ')}` : ''}: nothing to undo (see forensics custody ${caseId})`, { field: 'case' })
  // every prior state is read and checked before anything is changed
  const priors = new Map<number, unknown>()
  for (const o of open) priors.set(o.seq, await readState(deps.store, o.containment.before, `containment step ${o.seq} (${o.containment.action})`))

  const t = deps.targets
  const result = await runCapture(
    { store: deps.store, signer: deps.signer, now: deps.now },
    { caseId, collector: { ...RELEASE_COLLECTOR }, trigger: { source: req.trigger.source, id: `${req.trigger.id}#${open.map((o) => o.seq).join(',')}` }, actor: { principalArn: deps.actor.principalArn, requestId: deps.actor.requestId }, target: { releases: open.map((o) => o.seq) } },
    async (ctx) => {
      const released: ReleaseOutcome[] = []
      for (const o of open) {
        const c = o.containment
        const out: ReleaseOutcome = { seq: o.seq, action: c.action, target: c.target, status: 'released' }
        const write = async (name: string, doc: unknown): Promise<StateRef> => {
          const a = await ctx.addArtifact(`${o.seq}-${c.action}/${name}.json`, Buffer.from(canonicalJson(doc)), { contentType: 'application/json' })
          return { key: a.key, versionId: a.versionId, sha256: a.sha256 }
        }
        try {
          if (c.action === 'quarantine-bucket') {
            const prior = priors.get(o.seq) as BucketAccessState & { bucket: string }
            out.before = await write('before', { bucket: c.bucket, ...(await t.getBucketAccess(c.bucket)) })
            await t.setBucketPolicy(c.bucket, prior.policy)
            await t.setPublicAccessBlock(c.bucket, prior.publicAccessBlock)
            const now = await t.getBucketAccess(c.bucket)
            out.after = await write('after', { bucket: c.bucket, ...now })
            if (!samePolicy(now.policy, prior.policy)) throw new IntegrityError(`s3://${c.bucket}: the restored policy differs from the one recorded before containment`)
            if (canonicalJson(now.publicAccessBlock) !== canonicalJson(prior.publicAccessBlock)) throw new IntegrityError(`s3://${c.bucket}: the restored public access block differs from the one recorded before containment`)
          } else {
            const prior = priors.get(o.seq) as { kind: string; userName?: string; roleName?: string; inlinePolicyNames: string[] } & Partial<UserState>
            const denyExisted = prior.inlinePolicyNames.includes(DENY_POLICY_NAME)
            if (prior.kind === 'iam-user' && prior.userName) {
              const user = prior.userName
              out.before = await write('before', { userName: user, ...(await t.getUser(user)) })
              for (const k of prior.accessKeys ?? []) if (k.status === 'Active') await t.setAccessKeyStatus(user, k.accessKeyId, 'Active')
              if (!denyExisted) await t.deleteUserPolicy(user, DENY_POLICY_NAME)
              const now = await t.getUser(user)
              out.after = await write('after', { userName: user, ...now })
              const want = canonicalJson((prior.accessKeys ?? []).map((k) => [k.accessKeyId, k.status]).sort())
              const got = canonicalJson(now.accessKeys.filter((k) => (prior.accessKeys ?? []).some((p) => p.accessKeyId === k.accessKeyId)).map((k) => [k.accessKeyId, k.status]).sort())
              if (want !== got) throw new IntegrityError(`${c.target}: access key statuses after the undo (${got}) differ from before containment (${want})`)
              if (!denyExisted && now.inlinePolicyNames.includes(DENY_POLICY_NAME)) throw new IntegrityError(`${c.target}: ${DENY_POLICY_NAME} is still attached`)
            } else if (prior.roleName) {
              const role = prior.roleName
              out.before = await write('before', { roleName: role, inlinePolicyNames: await t.getRolePolicyNames(role) })
              if (!denyExisted) await t.deleteRolePolicy(role, DENY_POLICY_NAME)
              const names = await t.getRolePolicyNames(role)
              out.after = await write('after', { roleName: role, inlinePolicyNames: names })
              if (!denyExisted && names.includes(DENY_POLICY_NAME)) throw new IntegrityError(`${c.target}: ${DENY_POLICY_NAME} is still attached`)
            }
          }
        } catch (e) {
          out.status = 'failed'
          out.error = `${(e as Error).name}: ${(e as Error).message}`
          ctx.recordError({ what: `undo ${c.action} ${c.target}`, code: (e as Error).name, message: (e as Error).message })
        }
        released.push(out)
      }
      ctx.summary = { released }
    },
  )
  const m = result.manifest
  const released = ((m.summary ?? {}) as { released?: ReleaseOutcome[] }).released ?? []
  const custody: UndoOutcome['custody'] = []
  const captured = await recordCaptured(chain, { ...result, captureId: m.captureId }, deps.actor)
  custody.push({ seq: captured.entry.seq, action: 'captured', created: captured.created })
  for (const r of released.filter((x) => x.status === 'released')) {
    const { entry, created } = await chain.append({
      action: 'released',
      actor: deps.actor,
      subject: { key: result.manifestKey, versionId: result.manifestVersionId, sha256: result.manifestSha256, captureId: m.captureId, release: { seq: r.seq, action: r.action, target: r.target, before: r.before, after: r.after } },
      sameAs: (e) => e.action === 'released' && (e.subject.release as { seq?: number } | undefined)?.seq === r.seq,
    })
    custody.push({ seq: entry.seq, action: 'released', created })
  }
  const outcome: UndoOutcome = { schema: 'forensics.containment-release/v1', status: released.every((r) => r.status === 'released') ? 'released' : 'failed', caseId, captureId: m.captureId, manifestKey: result.manifestKey, released, custody }
  if (outcome.status === 'failed') {
    const failed = released.filter((r) => r.status === 'failed').map((r) => `step ${r.seq} ${r.action} ${r.target}: ${r.error}`)
    throw new StorageError(`undo of case ${caseId} failed in part (recorded at ${outcome.manifestKey}); fix and run it again:\n  ${failed.join('\n  ')}`)
  }
  return outcome
}
