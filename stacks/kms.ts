/**
 * Key policy building blocks shared by the toolkit's KMS keys. The account root gets key
 * administration only (no cryptographic use), so a key is used exactly by the principals
 * its policy names and cannot be locked out; crypto-shredding actions (`ScheduleKeyDeletion`,
 * `DisableKey`) can be reserved for the break-glass role.
 */
import type { PolicyStatement } from './policy.js'

/** Administration actions (no Encrypt/Decrypt/Sign). */
export const KEY_ADMIN_ACTIONS = [
  'kms:CreateAlias', 'kms:CreateGrant', 'kms:DeleteAlias', 'kms:DescribeKey', 'kms:EnableKey', 'kms:EnableKeyRotation',
  'kms:GetKeyPolicy', 'kms:GetKeyRotationStatus', 'kms:ListAliases', 'kms:ListGrants', 'kms:ListKeyPolicies',
  'kms:ListResourceTags', 'kms:PutKeyPolicy', 'kms:RevokeGrant', 'kms:TagResource', 'kms:UntagResource',
  'kms:UpdateAlias', 'kms:UpdateKeyDescription', 'kms:CancelKeyDeletion', 'kms:GetPublicKey',
] as const

/** Actions that make a key (and everything it protects) unusable. */
export const KEY_DESTRUCTION_ACTIONS = ['kms:ScheduleKeyDeletion', 'kms:DisableKey', 'kms:DisableKeyRotation'] as const

/** Root administration statement; destruction goes to `destroyers` when given, else to root too. */
export function keyAdministration(accountId: string, destroyers?: string[]): PolicyStatement[] {
  const root = `arn:aws:iam::${accountId}:root`
  const statements: PolicyStatement[] = [
    { Sid: 'AccountAdministersKey', Effect: 'Allow', Principal: { AWS: root }, Action: [...KEY_ADMIN_ACTIONS], Resource: '*' },
  ]
  statements.push({
    Sid: 'KeyDestruction',
    Effect: 'Allow',
    Principal: { AWS: destroyers && destroyers.length > 0 ? destroyers : root },
    Action: [...KEY_DESTRUCTION_ACTIONS],
    Resource: '*',
  })
  return statements
}
