/**
 * Containment in the forensics account (only with `containment.enabled`): the containment
 * function, its role (only the containment actions, only on watched and sensitive buckets,
 * IAM users and non-toolkit roles; explicitly never the evidence or access-log bucket, their
 * policies or lock configuration, nor any KMS key), its async routing row
 * (forensics/containment/route.ts) and the alert topic when none is configured. The rules that
 * start captures on unauthorized data events on sensitive buckets are the trigger table's
 * `sensitive-access` row (stacks/triggers.ts).
 */
import { Construct, SnsTopic, SnsTopicSubscription, Token } from './cdktf.js'
import type { HandlerBundle } from './bundle.js'
import { CaptureFunction } from './capture-function.js'
import type { PolicyStatement } from './policy.js'
import type { ForensicsConfig } from '../forensics/config.js'
import { renderFunctionEnv, type EnvName } from '../forensics/contract/env.js'
import { containmentRoute } from '../forensics/containment/route.js'
import { CONTAINMENT_SETTINGS_ENV, containmentAlertTopicName, containmentSettings } from '../forensics/containment/settings.js'
import { resourceNames } from '../forensics/routing.js'

/** S3 actions containment takes on a bucket (Put/DeletePublicAccessBlock both need `s3:PutBucketPublicAccessBlock`). */
export const CONTAINMENT_S3_ACTIONS = ['s3:GetBucketPolicy', 's3:PutBucketPolicy', 's3:DeleteBucketPolicy', 's3:GetBucketPublicAccessBlock', 's3:PutBucketPublicAccessBlock'] as const
/** IAM actions containment takes on a user (keys deactivated, never deleted). */
export const CONTAINMENT_USER_ACTIONS = ['iam:ListAccessKeys', 'iam:UpdateAccessKey', 'iam:ListUserPolicies', 'iam:PutUserPolicy', 'iam:DeleteUserPolicy'] as const
/** IAM actions containment takes on a role (the session-revoking inline policy). */
export const CONTAINMENT_ROLE_ACTIONS = ['iam:ListRolePolicies', 'iam:PutRolePolicy', 'iam:DeleteRolePolicy'] as const
/** What containment must never do to the toolkit's own buckets and keys, denied explicitly. */
export const EVIDENCE_PROTECTED_ACTIONS = [
  's3:PutBucketPolicy', 's3:DeleteBucketPolicy', 's3:PutBucketPublicAccessBlock', 's3:PutBucketObjectLockConfiguration', 's3:PutBucketVersioning',
  's3:PutLifecycleConfiguration', 's3:DeleteBucket', 's3:DeleteObject', 's3:DeleteObjectVersion', 's3:BypassGovernanceRetention', 's3:PutObjectLegalHold',
] as const
const KMS_PROTECTED_ACTIONS = ['kms:PutKeyPolicy', 'kms:ScheduleKeyDeletion', 'kms:DisableKey', 'kms:DisableKeyRotation', 'kms:CreateGrant', 'kms:RevokeGrant', 'kms:UpdateKeyDescription', 'kms:DeleteAlias', 'kms:UpdateAlias'] as const

/** ARNs the containment statements refer to. */
export interface ContainmentPermissionContext {
  accountId: string
  /** watched and sensitive buckets (and the drill's canary) */
  buckets: string[]
  evidenceBucketArn: string
  accessLogBucketArn: string
  alertTopicArn: string
  memberAccounts: string[]
  memberRoleName: string
  /** roles that must never be revoked: the toolkit's own, break-glass, the member role */
  protectedRoleArns: string[]
}

/** The containment role's statements (destinations and evidence access are added by the stack). */
export function containmentStatements(c: ContainmentPermissionContext): PolicyStatement[] {
  const out: PolicyStatement[] = []
  if (c.buckets.length > 0) out.push({ Sid: 'ContainTargetBuckets', Effect: 'Allow', Action: [...CONTAINMENT_S3_ACTIONS], Resource: c.buckets.map((b) => `arn:aws:s3:::${b}`) })
  out.push(
    { Sid: 'RevokeUsers', Effect: 'Allow', Action: [...CONTAINMENT_USER_ACTIONS], Resource: `arn:aws:iam::${c.accountId}:user/*` },
    { Sid: 'RevokeRoleSessions', Effect: 'Allow', Action: [...CONTAINMENT_ROLE_ACTIONS], Resource: `arn:aws:iam::${c.accountId}:role/*` },
    { Sid: 'NeverTheToolkitRoles', Effect: 'Deny', Action: [...CONTAINMENT_ROLE_ACTIONS.filter((a) => a !== 'iam:ListRolePolicies')], Resource: c.protectedRoleArns },
    { Sid: 'AlertSecurityTeam', Effect: 'Allow', Action: 'sns:Publish', Resource: c.alertTopicArn },
    { Sid: 'NeverTheEvidenceBuckets', Effect: 'Deny', Action: [...EVIDENCE_PROTECTED_ACTIONS], Resource: [c.evidenceBucketArn, `${c.evidenceBucketArn}/*`, c.accessLogBucketArn, `${c.accessLogBucketArn}/*`] },
    { Sid: 'NeverTheKeys', Effect: 'Deny', Action: [...KMS_PROTECTED_ACTIONS], Resource: '*' },
  )
  if (c.memberAccounts.length > 0) {
    out.push({ Sid: 'ContainInMemberAccounts', Effect: 'Allow', Action: 'sts:AssumeRole', Resource: c.memberAccounts.map((a) => `arn:aws:iam::${a}:role/${c.memberRoleName}`) })
  }
  return out
}

/**
 * What the member role gains when containment is enabled: the containment actions on the
 * watched and sensitive buckets and on the account's users and roles (never its own role).
 */
export function memberContainmentStatements(o: { memberAccountId: string; buckets: string[]; memberRoleName: string }): PolicyStatement[] {
  return [
    ...(o.buckets.length > 0 ? [{ Sid: 'ContainTargetBuckets', Effect: 'Allow' as const, Action: [...CONTAINMENT_S3_ACTIONS], Resource: o.buckets.map((b) => `arn:aws:s3:::${b}`) }] : []),
    { Sid: 'RevokeUsers', Effect: 'Allow', Action: [...CONTAINMENT_USER_ACTIONS], Resource: `arn:aws:iam::${o.memberAccountId}:user/*` },
    { Sid: 'RevokeRoleSessions', Effect: 'Allow', Action: [...CONTAINMENT_ROLE_ACTIONS], Resource: `arn:aws:iam::${o.memberAccountId}:role/*` },
    { Sid: 'NeverItself', Effect: 'Deny', Action: ['iam:PutRolePolicy', 'iam:DeleteRolePolicy'], Resource: `arn:aws:iam::${o.memberAccountId}:role/${o.memberRoleName}` },
  ]
}

/** The buckets containment may act on: watched (sensitive ones are watched) plus the drill's canary. */
export const containmentBuckets = (config: ForensicsConfig): string[] => [...new Set([...config.watchedBuckets, ...(config.drill.canaryBucket ? [config.drill.canaryBucket] : [])])]

/** Options of {@link Containment}. */
export interface ContainmentOptions {
  config: ForensicsConfig
  bundle: HandlerBundle
  kmsKeyArn: string
  codeSigningConfigArn?: string
  /** the evidence and member-role variables; the settings are added here and all rendered through the schema (forensics/contract/env.ts) */
  environment: Partial<Record<EnvName, string>>
}

/** The containment function and its alert topic. */
export class Containment extends Construct {
  readonly function: CaptureFunction
  readonly alertTopicArn: string
  readonly alertTopic?: SnsTopic
  readonly #config: ForensicsConfig

  constructor(scope: Construct, id: string, o: ContainmentOptions) {
    super(scope, id)
    const { config } = o
    this.#config = config
    const route = containmentRoute(config)
    const settings = containmentSettings(config)
    if (config.containment.alertTopicArn) this.alertTopicArn = config.containment.alertTopicArn
    else {
      this.alertTopic = new SnsTopic(this, 'alerts', { name: containmentAlertTopicName(config), kmsMasterKeyId: o.kmsKeyArn })
      if (config.containment.alertEmail) new SnsTopicSubscription(this, 'alert-email', { topicArn: this.alertTopic.arn, protocol: 'email', endpoint: config.containment.alertEmail })
      this.alertTopicArn = this.alertTopic.arn
    }
    this.function = new CaptureFunction(this, 'function', {
      functionName: route.functionName,
      description: 'Contains a captured incident: quarantines the bucket, revokes the principal, alerts (dry-run unless configured)',
      bundle: o.bundle,
      accountId: config.forensicsAccountId,
      region: config.region,
      kmsKeyArn: o.kmsKeyArn,
      logRetentionDays: config.capture.logRetentionDays,
      reservedConcurrency: config.capture.reservedConcurrency,
      timeoutSeconds: config.capture.timeoutSeconds,
      memoryMb: config.capture.memoryMb,
      environment: renderFunctionEnv(route.key, { ...o.environment, [CONTAINMENT_SETTINGS_ENV]: JSON.stringify(settings) }, { isUnresolved: (v) => Token.isUnresolved(v) }),
      ...(o.codeSigningConfigArn ? { codeSigningConfigArn: o.codeSigningConfigArn } : {}),
    })
  }

  /** The statements of the containment role (besides evidence access and destinations). */
  statements(c: { evidenceBucketArn: string; accessLogBucketArn: string }): PolicyStatement[] {
    const config = this.#config
    const names = resourceNames(config)
    return containmentStatements({
      accountId: config.forensicsAccountId,
      buckets: containmentBuckets(config),
      evidenceBucketArn: c.evidenceBucketArn,
      accessLogBucketArn: c.accessLogBucketArn,
      alertTopicArn: this.alertTopicArn,
      memberAccounts: config.memberAccounts,
      memberRoleName: names.memberRole,
      protectedRoleArns: [config.evidence.breakGlassRoleArn, `arn:aws:iam::${config.forensicsAccountId}:role/${config.name}-*`, ...config.evidence.investigatorRoleArns],
    })
  }
}
