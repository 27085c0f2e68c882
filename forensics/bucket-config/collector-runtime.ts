/**
 * What the S3 collectors' Lambda handlers share: the evidence store and signer named by
 * the function's environment, opened once per warm container, and the handler result.
 */
import { S3Client } from '@aws-sdk/client-s3'
import { KMSClient } from '@aws-sdk/client-kms'
import { sdkSettingsFromEnv } from '../aws/sdk-config.js'
import type { CaptureResult } from '../capture.js'
import { ValidationError } from '../errors.js'
import type { RetentionPolicy } from '../evidence-store.js'
import type { CaptureErrorRecord, Finding } from '../manifest.js'
import { openS3EvidenceStore, type S3EvidenceStore } from '../s3-evidence-store.js'
import { KmsSigner, LocalSigner, type Signer } from '../signer.js'

/** Evidence access for a handler. */
export interface CollectorEvidence {
  store: S3EvidenceStore
  signer: Signer
  s3: S3Client
}

const cache = new Map<string, Promise<CollectorEvidence>>()

function retention(env: NodeJS.ProcessEnv): RetentionPolicy | undefined {
  if (!env.FORENSICS_RETENTION_DAYS) return undefined
  const days = Number(env.FORENSICS_RETENTION_DAYS)
  const mode = env.FORENSICS_RETENTION_MODE ?? 'COMPLIANCE'
  if (!Number.isInteger(days) || days < 1 || (mode !== 'COMPLIANCE' && mode !== 'GOVERNANCE')) {
    throw new ValidationError(`FORENSICS_RETENTION_DAYS/MODE must be whole days ≥ 1 and COMPLIANCE|GOVERNANCE, got ${env.FORENSICS_RETENTION_DAYS}/${mode}`, { field: 'FORENSICS_RETENTION_DAYS' })
  }
  return { mode, days }
}

/**
 * Opens the evidence store (FORENSICS_EVIDENCE_BUCKET, retention from
 * FORENSICS_RETENTION_DAYS/MODE or the bucket default) and the signer
 * (FORENSICS_SIGNING_KEY = `kms:<key>` or `file:<pem>`; required in a function).
 */
export function evidenceFromEnv(env: NodeJS.ProcessEnv): Promise<CollectorEvidence> {
  const bucket = env.FORENSICS_EVIDENCE_BUCKET
  if (!bucket) throw new ValidationError('FORENSICS_EVIDENCE_BUCKET is not set: the function needs the evidence bucket the evidence stack created', { field: 'FORENSICS_EVIDENCE_BUCKET' })
  const spec = env.FORENSICS_SIGNING_KEY
  if (!spec || !(spec.startsWith('kms:') || spec.startsWith('file:'))) {
    throw new ValidationError(`FORENSICS_SIGNING_KEY must be kms:<key id> or file:<pem path>, got ${JSON.stringify(spec ?? null)}`, { field: 'FORENSICS_SIGNING_KEY' })
  }
  const id = [bucket, spec, env.AWS_ENDPOINT_URL ?? '', env.AWS_REGION ?? '', env.FORENSICS_RETENTION_DAYS ?? '', env.FORENSICS_RETENTION_MODE ?? ''].join('\n')
  let opened = cache.get(id)
  if (!opened) {
    const settings = sdkSettingsFromEnv(env)
    const s3 = new S3Client(settings)
    const signer = spec.startsWith('kms:') ? new KmsSigner(new KMSClient(settings), spec.slice(4)) : LocalSigner.fromFile(spec.slice(5)).signer
    opened = openS3EvidenceStore({ client: s3, bucket, retention: retention(env) }).then((store) => ({ store, signer, s3 }))
    opened.catch(() => cache.delete(id))
    cache.set(id, opened)
  }
  return opened
}

/** What a capture handler returns (the OnSuccess destination forwards it to the recorder). */
export interface CaptureHandlerResult {
  ok: true
  caseId: string
  captureId: string
  /** `complete` / `partial` when committed; `pending` while a fan-out is still running */
  status: 'complete' | 'partial' | 'pending'
  created: boolean
  manifestKey?: string
  manifestVersionId?: string
  manifestSha256?: string
  findings: Finding[]
  errors: CaptureErrorRecord[]
  summary?: Record<string, unknown>
}

/** The handler result of a committed capture. */
export function committedResult(r: CaptureResult): CaptureHandlerResult {
  return {
    ok: true,
    caseId: r.manifest.caseId,
    captureId: r.manifest.captureId,
    status: r.manifest.status,
    created: r.created,
    manifestKey: r.manifestKey,
    manifestVersionId: r.manifestVersionId,
    manifestSha256: r.manifestSha256,
    findings: r.manifest.findings,
    errors: r.manifest.errors,
    summary: r.manifest.summary,
  }
}
