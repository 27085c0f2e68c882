/**
 * The suspected principal of a containment: what kind it is (from its ARN, as CloudTrail's
 * `userIdentity.arn` gives it) and whether an ARN pattern from the config matches it.
 */
import { ValidationError } from '../errors.js'

/** What can be revoked: IAM users and role sessions; root and anything else only refused. */
export type PrincipalKind = 'iam-user' | 'assumed-role' | 'role' | 'root' | 'other'

/** A parsed principal ARN. */
export interface Principal {
  arn: string
  kind: PrincipalKind
  accountId: string
  /** user name or role name (empty for root and other) */
  name: string
  /** the IAM ARN a policy names: the role behind a session, else the ARN itself */
  iamArn: string
}

const ARN = /^arn:(aws[a-z-]*):(iam|sts)::(\d{12}):(.+)$/

/** Parses a principal ARN; throws a ValidationError naming the field when it is not one. */
export function parsePrincipal(arn: unknown, field = 'principal'): Principal {
  const m = typeof arn === 'string' ? ARN.exec(arn) : null
  if (!m || typeof arn !== 'string') {
    throw new ValidationError(`${JSON.stringify(arn)} is not a principal ARN: use the userIdentity.arn of the CloudTrail event, e.g. arn:aws:iam::111111111111:user/name or arn:aws:sts::111111111111:assumed-role/Role/session`, { field })
  }
  const [, partition, service, accountId, resource] = m
  if (service === 'iam' && resource === 'root') return { arn, kind: 'root', accountId, name: '', iamArn: arn }
  if (service === 'iam' && resource.startsWith('user/')) return { arn, kind: 'iam-user', accountId, name: resource.split('/').at(-1) as string, iamArn: arn }
  if (service === 'iam' && resource.startsWith('role/')) return { arn, kind: 'role', accountId, name: resource.split('/').at(-1) as string, iamArn: arn }
  const session = /^assumed-role\/([\w+=,.@-]+)\/[\w+=,.@-]+$/.exec(resource)
  if (service === 'sts' && session) {
    return { arn, kind: 'assumed-role', accountId, name: session[1], iamArn: `arn:${partition}:iam::${accountId}:role/${session[1]}` }
  }
  return { arn, kind: 'other', accountId, name: '', iamArn: arn }
}

/** True when an ARN pattern (`*` any run of characters, `?` one character) matches the whole ARN. */
export function arnPatternMatches(pattern: string, arn: string): boolean {
  const re = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')
  return new RegExp(`^${re}$`).test(arn)
}

/**
 * True when a pattern matches the principal: its own ARN or, for a role session, its role's
 * ARN (a pattern names `role/Name`; a role's path is not in the session ARN, so a pattern
 * with a path matches on the name after the last slash too).
 */
export function principalMatches(patterns: readonly string[], p: Principal): boolean {
  return patterns.some((pattern) => {
    if (arnPatternMatches(pattern, p.arn) || arnPatternMatches(pattern, p.iamArn)) return true
    if (p.kind !== 'assumed-role' && p.kind !== 'role') return false
    const role = /^arn:[^:]+:iam::([^:]+):role\/(?:.*\/)?([^/]+)$/.exec(pattern)
    return role !== null && arnPatternMatches(role[1], p.accountId) && arnPatternMatches(role[2], p.name)
  })
}
