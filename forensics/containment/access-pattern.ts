/**
 * The EventBridge patterns that start containment on access to a sensitive bucket: the
 * `sensitive-access` row of the trigger table (forensics/contract/triggers.ts), one pattern
 * per sensitive bucket. The stacks render them as rules targeting the bucket-config and
 * object-versions captures (the custody recorder then invokes containment).
 */
import type { SensitiveBucketConfig } from '../config.js'
import { sensitiveAccessPattern } from '../contract/triggers.js'

/** One pattern per sensitive bucket. */
export function sensitiveAccessPatterns(buckets: readonly SensitiveBucketConfig[]): Record<string, unknown>[] {
  return buckets.map((b) => sensitiveAccessPattern(b))
}
