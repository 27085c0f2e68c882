/**
 * The bucket-config capture: one canonical JSON snapshot per run, compared with the case's
 * previous snapshot of the same bucket to produce findings for the SIEM.
 */
import { canonicalBytes } from '../canonical-json.js'
import { runCapture, type CaptureDeps, type CaptureResult } from '../capture.js'
import { ValidationError } from '../errors.js'
import type { EvidenceStore } from '../evidence-store.js'
import { sha256Hex } from '../hash.js'
import { casePrefix, encodeKeySegment } from '../keys.js'
import { parseManifest, type Manifest } from '../manifest.js'
import { diffBucketConfig } from './findings.js'
import { BUCKET_CONFIG_SCHEMA, takeBucketConfigSnapshot, type BucketConfigSnapshot, type BucketConfigSources } from './snapshot.js'

/** Collector name (also the capture id prefix). */
export const BUCKET_CONFIG_COLLECTOR = { name: 'bucket-config', version: '1.0.0' } as const

/** One bucket-config capture request. */
export interface BucketConfigRequest {
  caseId: string
  bucket: string
  accountId?: string
  region?: string
  trigger: { source: string; id: string }
  actor?: { principalArn?: string; requestId?: string }
  /** the trigger id was minted for this run (e.g. `cli:<random UUID>`): nothing can be committed under it, the redelivery check is skipped */
  freshTrigger?: boolean
}

/** A previous snapshot of the same bucket in the same case. */
export interface PreviousSnapshot {
  captureId: string
  endedAt: string
  snapshot: BucketConfigSnapshot
}

// Legacy bucket names allowed uppercase and underscores; keys only need a safe segment.
const BUCKET = /^[A-Za-z0-9._-]{3,255}$/

/** Throws unless `bucket` is a plausible S3 bucket name. */
export function validateBucketName(bucket: unknown): string {
  if (typeof bucket !== 'string' || !BUCKET.test(bucket)) {
    throw new ValidationError(`invalid bucket name ${JSON.stringify(bucket)}: use the bucket's name (3-63 characters, no s3:// prefix)`, { field: 'bucket' })
  }
  return bucket
}

/** Artifact path of a bucket's snapshot inside a capture. */
export const snapshotPath = (bucket: string): string => `bucket-config/${encodeKeySegment(bucket)}.json`

/**
 * Finds the latest committed bucket-config snapshot of `bucket` (and account) in the case,
 * other than `excludeCaptureId`. The snapshot bytes are checked against the manifest's
 * SHA-256; a mismatch throws (it is not silently compared against).
 */
export async function findPreviousSnapshot(store: EvidenceStore, caseId: string, bucket: string, accountId: string | undefined, excludeCaptureId?: string): Promise<PreviousSnapshot | undefined> {
  const prefix = `${casePrefix(caseId)}captures/${BUCKET_CONFIG_COLLECTOR.name}-`
  let best: Manifest | undefined
  for await (const { key } of store.list(prefix)) {
    if (!key.endsWith('/manifest.json')) continue
    const m = parseManifest((await store.getBytes(key)).bytes, `s3://${store.bucket}/${key}`)
    if (m.captureId === excludeCaptureId || m.target.bucket !== bucket) continue
    if ((m.target.accountId ?? undefined) !== undefined && accountId !== undefined && m.target.accountId !== accountId) continue
    if (!best || m.endedAt > best.endedAt) best = m
  }
  const artifact = best?.artifacts.find((a) => a.path === snapshotPath(bucket) || a.path.startsWith(`${snapshotPath(bucket)}~`))
  if (!best || !artifact) return undefined
  const { bytes } = await store.getBytes(artifact.key, artifact.versionId)
  if (sha256Hex(bytes) !== artifact.sha256) {
    throw new ValidationError(`previous snapshot s3://${store.bucket}/${artifact.key} does not match the SHA-256 in its manifest; run \`forensics verify\` on case ${caseId}`)
  }
  const snapshot = JSON.parse(bytes.toString('utf8')) as BucketConfigSnapshot
  if (snapshot.schema !== BUCKET_CONFIG_SCHEMA) return undefined
  return { captureId: best.captureId, endedAt: best.endedAt, snapshot }
}

/**
 * Snapshots a bucket's configuration into the case and commits the capture. Refused or
 * failed reads are recorded (the capture is then `partial`); a missing bucket is recorded
 * as such. Findings compare with the case's previous snapshot of the bucket.
 */
export async function captureBucketConfig(deps: CaptureDeps, sources: BucketConfigSources, req: BucketConfigRequest): Promise<CaptureResult> {
  const bucket = validateBucketName(req.bucket)
  const accountId = req.accountId ?? sources.accountId
  return runCapture(
    deps,
    {
      caseId: req.caseId,
      collector: { ...BUCKET_CONFIG_COLLECTOR },
      trigger: req.trigger,
      actor: req.actor,
      target: { bucket, ...(accountId ? { accountId } : {}), ...(req.region ? { region: req.region } : {}) },
      knownUncommitted: req.freshTrigger,
    },
    async (ctx) => {
      const snapshot = await takeBucketConfigSnapshot({ ...sources, accountId }, { bucket, region: req.region })
      const previous = await findPreviousSnapshot(deps.store, ctx.caseId, bucket, accountId, ctx.captureId)
      await ctx.addArtifact(snapshotPath(bucket), canonicalBytes(snapshot), { contentType: 'application/json', source: { bucket, accountId, region: req.region } })
      if (!snapshot.exists) {
        ctx.recordError({ what: `bucket s3://${bucket}`, code: 'NoSuchBucket', message: `bucket ${bucket} does not exist${accountId ? ` in account ${accountId}` : ''} (or is not visible to the capture role); check the name, --account and --region` })
      }
      for (const call of Object.values(snapshot.calls)) {
        if (call.outcome === 'denied' || call.outcome === 'error') ctx.recordError({ what: `${call.operation} s3://${bucket}`, code: call.code ?? call.outcome, message: call.message ?? call.outcome })
      }
      for (const f of diffBucketConfig(previous?.snapshot, snapshot)) {
        ctx.findings.push(previous ? { ...f, detail: { ...f.detail, previousCaptureId: previous.captureId } } : f)
      }
      ctx.summary = {
        bucket,
        exists: snapshot.exists,
        outcomes: Object.fromEntries(Object.entries(snapshot.calls).map(([aspect, c]) => [aspect, c.outcome])),
        previousCaptureId: previous?.captureId ?? null,
        findings: ctx.findings.length,
      }
    },
  )
}
