/**
 * The policies containment writes. Pure: the same inputs give the same documents, so a
 * plan shows exactly what an apply will put.
 */
import { canonicalJson } from '../canonical-json.js'

/** Sid of the quarantine statement (recognised on undo and in reports). */
export const QUARANTINE_SID = 'ForensicsQuarantineDenyAllButForensics'

/**
 * A bucket policy denying every S3 action on the bucket and its objects to every principal
 * but `exempt` (ARN patterns matched with `ArnNotLike` on `aws:PrincipalArn`, which is the
 * role ARN for a role session). It replaces the whole policy; the prior one is evidence.
 */
export function quarantinePolicy(bucket: string, exempt: readonly string[], partition = 'aws'): string {
  return canonicalJson({
    Version: '2012-10-17',
    Statement: [
      {
        Sid: QUARANTINE_SID,
        Effect: 'Deny',
        Principal: '*',
        Action: 's3:*',
        Resource: [`arn:${partition}:s3:::${bucket}`, `arn:${partition}:s3:::${bucket}/*`],
        Condition: { ArnNotLike: { 'aws:PrincipalArn': [...exempt] } },
      },
    ],
  })
}

/** The public access block a quarantine turns on (all four settings). */
export const QUARANTINE_PUBLIC_ACCESS_BLOCK = { BlockPublicAcls: true, IgnorePublicAcls: true, BlockPublicPolicy: true, RestrictPublicBuckets: true } as const

/** Deny-all inline policy for an IAM user (its access keys are also deactivated). */
export function userDenyAllPolicy(): string {
  return canonicalJson({ Version: '2012-10-17', Statement: [{ Sid: 'ForensicsContainmentDenyAll', Effect: 'Deny', Action: '*', Resource: '*' }] })
}

/**
 * Deny-all for every session of a role issued before `now` — what the console's "Revoke
 * active sessions" attaches: sessions started later (the legitimate owner re-assuming the
 * role after the incident) are not affected.
 */
export function roleSessionRevokePolicy(now: Date): string {
  return canonicalJson({
    Version: '2012-10-17',
    Statement: [{ Sid: 'ForensicsContainmentRevokeOlderSessions', Effect: 'Deny', Action: '*', Resource: '*', Condition: { DateLessThan: { 'aws:TokenIssueTime': now.toISOString() } } }],
  })
}
