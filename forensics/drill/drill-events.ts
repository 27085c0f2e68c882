/**
 * The events the drill sends each collector: each collector's own documented event shape,
 * with a trigger id unique to the drill (so a drill's captures are never confused with,
 * or de-duplicated against, anything else).
 */
import { FINDING_SCHEMA } from '../siem/siem-finding.js'

/** Builds collector events; overridable per deployment. */
export interface DrillEventBuilders {
  bucketConfig(caseId: string, bucket: string, triggerId: string): unknown
  objectVersions(caseId: string, bucket: string, prefix: string, triggerId: string): unknown
  /** `archive` is `s3://BUCKET/PREFIX` of the trail archive (undefined: the function's own setting) */
  cloudTrailSlice(caseId: string, bucket: string, start: Date, end: Date, triggerId: string, archive?: string): unknown
  /** a bucket name no capture can succeed on */
  badBucket(drillId: string): string
}

/** The documented event shapes of the collectors. */
export const defaultDrillEvents: DrillEventBuilders = {
  bucketConfig: (caseId, bucket, triggerId) => ({ caseId, bucket, id: triggerId }),
  objectVersions: (caseId, bucket, prefix, triggerId) => ({ caseId, bucket, prefix, id: triggerId }),
  cloudTrailSlice: (caseId, bucket, start, end, triggerId, archive) => ({
    caseId,
    start: start.toISOString(),
    end: end.toISOString(),
    filters: { buckets: [bucket] },
    ...(archive ? { archive } : {}),
    triggerId,
  }),
  // invalid as a bucket name (upper case, spaces): the capture fails validation on every attempt
  badBucket: (drillId) => `NOT A BUCKET ${drillId}`,
}

/** What the drill calls the finding it waits for. */
export const PUBLIC_GRANT_FINDING = 'public grant (policy or ACL grants access to everyone)'

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)

/** True for a SIEM finding document saying `bucket` now grants public access. */
export function isPublicGrantFinding(doc: unknown, bucket: string): boolean {
  if (!isObj(doc) || doc.schema !== FINDING_SCHEMA) return false
  const info = isObj(doc.finding_info) ? doc.finding_info : {}
  const types = Array.isArray(info.types) ? info.types.map(String) : []
  const resources = Array.isArray(doc.resources) ? doc.resources : []
  const onBucket = resources.some((r) => isObj(r) && (r.name === bucket || r.uid === `arn:aws:s3:::${bucket}`))
  // `public-grant-added` (against the previous snapshot) or `public-grant-present`; never a removal
  return onBucket && types.some((type) => /public/i.test(type) && !/removed/i.test(type))
}
