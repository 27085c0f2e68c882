/**
 * The capture manifest (`forensics.capture/v1`): the commit point of a capture. Stored as
 * canonical JSON; its detached signature covers the hex SHA-256 of those exact bytes.
 */
import { ValidationError } from './errors.js'
import { isSha256Hex } from './hash.js'

/** Schema id of a manifest. */
export const MANIFEST_SCHEMA = 'forensics.capture/v1'

/** One captured artifact: where it is stored and where it came from. */
export interface ArtifactRecord {
  /** path under the capture's `artifacts/` */
  path: string
  key: string
  versionId: string
  sha256: string
  size: number
  contentType?: string
  /** source coordinates: bucket, key, versionId, ETag, last-modified, ... */
  source?: Record<string, unknown>
}

/** Something that could not be captured, and why (a refusal is evidence too). */
export interface CaptureErrorRecord {
  what: string
  code: string
  message: string
}

/** A finding a collector derived (forwarded to the SIEM by the custody recorder). */
export interface Finding {
  type: string
  severity: 'info' | 'low' | 'medium' | 'high' | 'critical'
  title: string
  resource?: string
  detail?: Record<string, unknown>
}

/**
 * How complete and how proven a capture is: `complete` = everything captured and every
 * provable source proven; `partial` = something could not be captured (see `errors`);
 * `unverified` = everything captured, but not every source could be proven (e.g. a
 * CloudTrail log file without a valid digest; the verdicts are in `summary` and findings).
 */
export type CaptureStatus = 'complete' | 'partial' | 'unverified'

/** Every capture status, in order of weight. */
export const CAPTURE_STATUSES: readonly CaptureStatus[] = ['complete', 'unverified', 'partial']

/** A capture manifest. */
export interface Manifest {
  schema: typeof MANIFEST_SCHEMA
  caseId: string
  captureId: string
  collector: { name: string; version: string }
  trigger: { source: string; id: string }
  actor: { principalArn?: string; requestId?: string }
  target: Record<string, unknown>
  startedAt: string
  endedAt: string
  artifacts: ArtifactRecord[]
  errors: CaptureErrorRecord[]
  status: CaptureStatus
  /** the capture of the same request this one refreshes (a `--refresh`) */
  supersedes?: string
  findings: Finding[]
  summary?: Record<string, unknown>
  signing: { keyId: string; algorithm: string }
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)

/** Parses and checks a manifest's shape; throws a ValidationError naming `where`. */
export function parseManifest(bytes: Buffer | string, where: string): Manifest {
  let doc: unknown
  try {
    doc = JSON.parse(bytes.toString())
  } catch (e) {
    throw new ValidationError(`${where} is not JSON: ${(e as Error).message}`, { cause: e })
  }
  const bad = (what: string): never => {
    throw new ValidationError(`${where} is not a ${MANIFEST_SCHEMA} manifest: ${what}`)
  }
  if (!isObj(doc)) return bad('not an object')
  if (doc.schema !== MANIFEST_SCHEMA) bad(`schema is ${JSON.stringify(doc.schema)}`)
  for (const f of ['caseId', 'captureId', 'startedAt', 'endedAt'] as const) if (typeof doc[f] !== 'string') bad(`${f} missing`)
  if (!CAPTURE_STATUSES.includes(doc.status as CaptureStatus)) bad(`status must be one of ${CAPTURE_STATUSES.join(', ')}`)
  if (!Array.isArray(doc.artifacts)) return bad('artifacts missing')
  for (const [i, a] of (doc.artifacts as unknown[]).entries()) {
    if (!isObj(a) || typeof a.key !== 'string' || typeof a.path !== 'string' || typeof a.versionId !== 'string' || !isSha256Hex(a.sha256) || typeof a.size !== 'number') {
      bad(`artifacts[${i}] needs path, key, versionId, sha256 (hex) and size`)
    }
  }
  if (!Array.isArray(doc.errors)) bad('errors missing')
  return doc as unknown as Manifest
}
