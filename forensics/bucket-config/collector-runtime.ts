/**
 * What the S3 collectors' Lambda handlers return (the evidence store and signer come from
 * forensics/runtime/handler-env.ts).
 */
import type { CaptureResult } from '../capture.js'
import type { CaptureErrorRecord, CaptureStatus, Finding } from '../manifest.js'

/** What a capture handler returns (the OnSuccess destination forwards it to the recorder). */
export interface CaptureHandlerResult {
  ok: true
  caseId: string
  captureId: string
  /** `complete` / `unverified` / `partial` when committed; `pending` while a fan-out is still running */
  status: CaptureStatus | 'pending'
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
