/**
 * The EventBridge patterns that start containment on access to a sensitive bucket: CloudTrail
 * S3 data events on the bucket by a principal outside its allow-list (`anything-but`). The
 * stacks put them on the rules that start the bucket-config and object-versions captures; the
 * containment function checks the allow-list again (wildcard entries cannot be expressed as
 * `anything-but` values, so a bucket whose allow-list has them matches every caller here).
 */
import { S3_DATA_EVENT_NAMES } from '../bucket-config/trigger-event.js'
import type { SensitiveBucketConfig } from '../config.js'

/** One pattern per sensitive bucket. */
export function sensitiveAccessPatterns(buckets: readonly SensitiveBucketConfig[]): Record<string, unknown>[] {
  return buckets.map((b) => {
    const exact = b.allowedPrincipals.filter((p) => !/[*?]/.test(p))
    const filterable = exact.length > 0 && exact.length === b.allowedPrincipals.length
    return {
      source: ['aws.s3'],
      'detail-type': ['AWS API Call via CloudTrail'],
      detail: {
        eventSource: ['s3.amazonaws.com'],
        eventName: [...S3_DATA_EVENT_NAMES],
        requestParameters: { bucketName: [b.bucket] },
        ...(filterable ? { userIdentity: { arn: [{ 'anything-but': exact }] } } : {}),
      },
    }
  })
}
