/**
 * Findings from two bucket-config snapshots of the same bucket: what changed in who can
 * reach it. Pure functions; an aspect that could not be read (denied, error) in either
 * snapshot is "unknown" and yields no finding about its content, never a false "removed".
 */
import { canonicalJson } from '../canonical-json.js'
import type { Finding } from '../manifest.js'
import type { BucketConfigSnapshot, CallRecord } from './snapshot.js'

type Obj = Record<string, unknown>
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v)
const list = (v: unknown): unknown[] => (v === undefined ? [] : Array.isArray(v) ? v : [v])

/** A grant to the public, keyed so that the same grant compares equal across snapshots. */
export interface PublicGrant {
  id: string
  /** e.g. `bucket policy statement "PublicRead" (Statement[0]) grants Principal "*" s3:GetObject` */
  label: string
  detail: Obj
}

/** A value that is known, or `undefined` when the call behind it did not answer. */
type Known<T> = T | undefined

function known(call: CallRecord | undefined): 'ok' | 'absent' | undefined {
  return call?.outcome === 'ok' || call?.outcome === 'absent' ? call.outcome : undefined
}

/** The policy's statements ([] when there is no policy), or undefined when unknown. */
export function policyStatements(s: BucketConfigSnapshot): Known<Obj[]> {
  const state = known(s.calls.policy)
  if (state === 'absent') return []
  if (state !== 'ok') return undefined
  const parsed = (s.calls.policy.value as Obj).parsed
  if (!isObj(parsed)) return undefined
  return list(parsed.Statement).filter(isObj)
}

function statementName(st: Obj, index: number): string {
  return typeof st.Sid === 'string' && st.Sid ? `"${st.Sid}" (Statement[${index}])` : `Statement[${index}]`
}

function isPublicPrincipal(principal: unknown): boolean {
  if (principal === '*') return true
  if (isObj(principal)) return list(principal.AWS).includes('*')
  return false
}

/** Public grants of a snapshot (policy `Principal: "*"` / `AWS: "*"`, ACL AllUsers / AuthenticatedUsers). */
export function publicGrants(s: BucketConfigSnapshot): Known<PublicGrant[]> {
  const statements = policyStatements(s)
  const acl = known(s.calls.acl)
  if (!statements && !acl) return undefined
  const grants: PublicGrant[] = []
  statements?.forEach((st, i) => {
    if (st.Effect !== 'Allow' || !isPublicPrincipal(st.Principal)) return
    const actions = list(st.Action).map(String).join(', ')
    const conditioned = isObj(st.Condition) && Object.keys(st.Condition).length > 0
    grants.push({
      id: `policy:${canonicalJson(st)}`,
      label: `bucket policy statement ${statementName(st, i)} grants Principal ${JSON.stringify(st.Principal)} ${actions}${conditioned ? ' (with conditions)' : ''}`,
      detail: { source: 'policy', sid: st.Sid, index: i, statement: st, conditioned },
    })
  })
  if (acl === 'ok') {
    for (const g of list((s.calls.acl.value as Obj).Grants).filter(isObj)) {
      const uri = isObj(g.Grantee) ? String(g.Grantee.URI ?? '') : ''
      const group = /\/global\/(AllUsers|AuthenticatedUsers)$/.exec(uri)?.[1]
      if (!group) continue
      grants.push({ id: `acl:${uri}:${String(g.Permission)}`, label: `bucket ACL grants ${String(g.Permission)} to ${group}`, detail: { source: 'acl', grantee: uri, permission: g.Permission } })
    }
  }
  return grants
}

/** Principals of Allow statements that belong to another account than `owner`. */
export function crossAccountPrincipals(s: BucketConfigSnapshot, owner: string | undefined): Known<PublicGrant[]> {
  const statements = policyStatements(s)
  if (!statements || !owner) return undefined
  const found: PublicGrant[] = []
  statements.forEach((st, i) => {
    if (st.Effect !== 'Allow' || !isObj(st.Principal)) return
    for (const p of list(st.Principal.AWS).map(String)) {
      const account = /^\d{12}$/.test(p) ? p : /^arn:aws[\w-]*:(?:iam|sts)::(\d{12}):/.exec(p)?.[1]
      if (!account || account === owner) continue
      found.push({ id: `principal:${p}:${canonicalJson(list(st.Action))}`, label: `bucket policy statement ${statementName(st, i)} grants ${p} (account ${account}) ${list(st.Action).map(String).join(', ')}`, detail: { sid: st.Sid, index: i, principal: p, account, statement: st } })
    }
  })
  return found
}

const PAB_FLAGS = ['BlockPublicAcls', 'IgnorePublicAcls', 'BlockPublicPolicy', 'RestrictPublicBuckets'] as const

/** The four public-access-block flags (all false when none is configured), or undefined. */
export function publicAccessBlockFlags(call: CallRecord | undefined): Known<Record<(typeof PAB_FLAGS)[number], boolean>> {
  const state = known(call)
  if (!state) return undefined
  const cfg = state === 'ok' ? ((call!.value as Obj).PublicAccessBlockConfiguration as Obj | undefined) : undefined
  return Object.fromEntries(PAB_FLAGS.map((f) => [f, cfg?.[f] === true])) as Record<(typeof PAB_FLAGS)[number], boolean>
}

/** Enabled lifecycle rules that expire current or noncurrent versions. */
export function expiringLifecycleRules(s: BucketConfigSnapshot): Known<Obj[]> {
  const state = known(s.calls.lifecycle)
  if (state === 'absent') return []
  if (state !== 'ok') return undefined
  return list((s.calls.lifecycle.value as Obj).Rules)
    .filter(isObj)
    .filter((r) => r.Status === 'Enabled' && (isObj(r.NoncurrentVersionExpiration) || (isObj(r.Expiration) && (r.Expiration.Days !== undefined || r.Expiration.Date !== undefined))))
}

function added<T extends { id: string }>(before: Known<T[]>, after: Known<T[]>): T[] {
  if (!after) return []
  const ids = new Set((before ?? []).map((g) => g.id))
  return after.filter((g) => !ids.has(g.id))
}

/**
 * Findings of `current` compared with `previous` (the case's earlier snapshot of the same
 * bucket). Without a previous snapshot, what is risky now is reported as present.
 */
export function diffBucketConfig(previous: BucketConfigSnapshot | undefined, current: BucketConfigSnapshot): Finding[] {
  const resource = `arn:aws:s3:::${current.bucket}`
  const findings: Finding[] = []
  const add = (type: string, severity: Finding['severity'], title: string, detail?: Obj): void => {
    findings.push({ type, severity, title: `${title} (s3://${current.bucket})`, resource, detail })
  }
  if (!current.exists) {
    if (previous?.exists) add('bucket-deleted', 'high', 'bucket no longer exists')
    return findings
  }
  const owner = current.accountId ?? previous?.accountId
  const prev = previous?.exists ? previous : undefined

  const nowPublic = publicGrants(current)
  if (!prev) {
    for (const g of nowPublic ?? []) add('public-grant-present', 'high', `public grant present: ${g.label}`, g.detail)
    for (const p of crossAccountPrincipals(current, owner) ?? []) add('cross-account-principal-present', 'medium', `cross-account principal present: ${p.label}`, p.detail)
    for (const r of expiringLifecycleRules(current) ?? []) add('lifecycle-expires-versions', 'medium', `lifecycle rule ${JSON.stringify(r.ID ?? '')} expires object versions`, { rule: r })
    return findings
  }

  const wasPublic = publicGrants(prev)
  for (const g of added(wasPublic, nowPublic)) add('public-grant-added', 'critical', `public grant added: ${g.label}`, g.detail)
  if (wasPublic && nowPublic) for (const g of added(nowPublic, wasPublic)) add('public-grant-removed', 'info', `public grant removed: ${g.label}`, g.detail)
  for (const p of added(crossAccountPrincipals(prev, owner), crossAccountPrincipals(current, owner))) add('cross-account-principal-added', 'high', `cross-account principal added: ${p.label}`, p.detail)

  for (const [aspect, level] of [['publicAccessBlock', 'bucket'], ['accountPublicAccessBlock', 'account']] as const) {
    const before = publicAccessBlockFlags(prev.calls[aspect])
    const after = publicAccessBlockFlags(current.calls[aspect])
    if (!before || !after) continue
    const weakened = PAB_FLAGS.filter((f) => before[f] && !after[f])
    if (weakened.length) add('public-access-block-weakened', 'high', `${level}-level public access block weakened: ${weakened.join(', ')} turned off`, { level, before, after })
  }

  if (known(prev.calls.encryption) === 'ok' && known(current.calls.encryption) === 'absent') {
    add('encryption-removed', 'high', 'default encryption removed', { before: prev.calls.encryption.value })
  }
  const vBefore = prev.calls.versioning?.outcome === 'ok' ? (prev.calls.versioning.value as Obj) : undefined
  const vAfter = current.calls.versioning?.outcome === 'ok' ? (current.calls.versioning.value as Obj) : undefined
  if (vBefore && vAfter) {
    if (vBefore.Status === 'Enabled' && vAfter.Status !== 'Enabled') add('versioning-suspended', 'high', `versioning suspended (now ${String(vAfter.Status ?? 'off')})`, { before: vBefore, after: vAfter })
    if (vBefore.MFADelete === 'Enabled' && vAfter.MFADelete !== 'Enabled') add('mfa-delete-disabled', 'high', 'MFA delete disabled', { before: vBefore, after: vAfter })
  }
  const lBefore = prev.calls.logging?.outcome === 'ok' ? (prev.calls.logging.value as Obj) : undefined
  const lAfter = current.calls.logging?.outcome === 'ok' ? (current.calls.logging.value as Obj) : undefined
  if (lBefore?.LoggingEnabled && lAfter && !lAfter.LoggingEnabled) add('logging-disabled', 'medium', 'server access logging disabled', { before: lBefore.LoggingEnabled })

  const rules = (s: BucketConfigSnapshot): Known<PublicGrant[]> => expiringLifecycleRules(s)?.map((r) => ({ id: canonicalJson(r), label: String(r.ID ?? ''), detail: { rule: r } }))
  for (const r of added(rules(prev), rules(current))) add('lifecycle-expires-versions', 'medium', `lifecycle rule ${JSON.stringify(r.label)} expires object versions`, r.detail)

  for (const [aspect, call] of Object.entries(current.calls)) {
    if (call.outcome === 'denied' && known(prev.calls[aspect])) add('configuration-unreadable', 'low', `${call.operation} is now refused (${call.code ?? 'AccessDenied'}); it was readable in the previous snapshot`, { aspect })
  }
  return findings
}
