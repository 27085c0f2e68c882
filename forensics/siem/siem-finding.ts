/**
 * What the toolkit sends to a SIEM, as documented JSON. Findings are OCSF 1.1 **Detection
 * Finding** events (`class_uid` 2004) so a SIEM that speaks OCSF ingests them unchanged;
 * what OCSF has no field for travels under `unmapped.forensics`.
 *
 * Finding (`forensics.finding/v1`):
 *
 * | our field                  | OCSF field                                     |
 * |----------------------------|------------------------------------------------|
 * | finding type               | `finding_info.types[0]`, `finding_info.analytic.name` |
 * | title                      | `finding_info.title`, `message`                |
 * | stable id (capture + index)| `finding_info.uid`                             |
 * | severity info…critical     | `severity_id` 1…5, `severity`                  |
 * | resource (bucket ARN/name) | `resources[0].uid` / `.name`, `.type`          |
 * | committed at               | `time` (epoch ms), `finding_info.created_time` |
 * | case id                    | `metadata.correlation_uid`                     |
 * | manifest key/version/sha256, capture id, collector, detail | `unmapped.forensics` |
 *
 * Capture summary (`forensics.capture-summary/v1`): case, capture, collector, status,
 * counts, manifest coordinates and the custody entry that sealed it. Drill report:
 * `forensics.drill/v1` (see forensics/drill/report.ts).
 */
import { sha256Hex } from '../hash.js'
import type { Finding, Manifest } from '../manifest.js'

/** Schema id of a finding document. */
export const FINDING_SCHEMA = 'forensics.finding/v1'
/** Schema id of a capture summary document. */
export const CAPTURE_SUMMARY_SCHEMA = 'forensics.capture-summary/v1'
/** Product metadata stamped on every finding. */
export const PRODUCT = { name: 'cdktf-forensics', vendor_name: 'cdktf-forensics', version: '0.1.0' } as const

const SEVERITY: Record<Finding['severity'], { id: number; name: string }> = {
  info: { id: 1, name: 'Informational' },
  low: { id: 2, name: 'Low' },
  medium: { id: 3, name: 'Medium' },
  high: { id: 4, name: 'High' },
  critical: { id: 5, name: 'Critical' },
}

/** Where a capture is committed and sealed. */
export interface CommittedCaptureRef {
  manifestKey: string
  manifestVersionId: string
  manifestSha256: string
}

/** The fields every OCSF Detection Finding (class 2004) of the toolkit carries. */
export interface OcsfDetectionFindingBase {
  class_uid: 2004
  class_name: 'Detection Finding'
  category_uid: 2
  category_name: 'Findings'
  activity_id: 1
  activity_name: 'Create'
  type_uid: 200401
  severity_id: number
  severity: string
  status_id: 1
  status: 'New'
  time: number
  message: string
}

/** The common OCSF fields of a Detection Finding of `severity` at `time` (epoch ms). */
export function ocsfDetectionBase(severity: Finding['severity'] | undefined, time: number, message: string): OcsfDetectionFindingBase {
  const sev = SEVERITY[severity ?? 'info'] ?? SEVERITY.info
  return {
    class_uid: 2004,
    class_name: 'Detection Finding',
    category_uid: 2,
    category_name: 'Findings',
    activity_id: 1,
    activity_name: 'Create',
    type_uid: 200401,
    severity_id: sev.id,
    severity: sev.name,
    status_id: 1,
    status: 'New',
    time,
    message,
  }
}

/** An OCSF Detection Finding plus our schema id. */
export interface SiemFinding extends OcsfDetectionFindingBase {
  schema: typeof FINDING_SCHEMA
  finding_info: {
    uid: string
    title: string
    types: string[]
    created_time: number
    analytic: { name: string; type_id: 1; type: 'Rule' }
  }
  resources: { uid: string; name: string; type: string }[]
  cloud: { provider: 'AWS'; region?: string; account?: { uid: string } }
  metadata: { version: '1.1.0'; product: typeof PRODUCT; correlation_uid: string; uid: string }
  unmapped: {
    forensics: {
      caseId: string
      captureId: string
      collector: string
      findingType: string
      manifest: CommittedCaptureRef
      detail?: Record<string, unknown>
    }
  }
}

/** The summary of one committed capture. */
export interface CaptureSummary {
  schema: typeof CAPTURE_SUMMARY_SCHEMA
  caseId: string
  captureId: string
  collector: { name: string; version: string }
  trigger: { source: string; id: string }
  status: Manifest['status']
  startedAt: string
  committedAt: string
  artifacts: number
  bytes: number
  errors: number
  findings: number
  manifest: CommittedCaptureRef
  custody: { seq: number; hash: string; created: boolean }
  invocation?: { requestId: string; functionArn: string; approximateInvokeCount: number }
}

function resourceOf(f: Finding, manifest: Manifest): { uid: string; name: string; type: string } {
  const raw = f.resource ?? (typeof manifest.target.bucket === 'string' ? manifest.target.bucket : manifest.caseId)
  const name = raw.startsWith('arn:aws:s3:::') ? raw.slice('arn:aws:s3:::'.length) : raw
  const isBucket = raw.startsWith('arn:aws:s3:::') || typeof manifest.target.bucket === 'string'
  return { uid: isBucket && !raw.startsWith('arn:') ? `arn:aws:s3:::${name}` : raw, name, type: isBucket ? 'AWS::S3::Bucket' : 'Other' }
}

/** Maps one manifest finding to an OCSF Detection Finding (deterministic: same input, same uid). */
export function toSiemFinding(f: Finding, index: number, manifest: Manifest, ref: CommittedCaptureRef): SiemFinding {
  const time = Date.parse(manifest.endedAt)
  const target = manifest.target as { account?: unknown; accountId?: unknown; region?: unknown }
  const account = target.account ?? target.accountId
  return {
    schema: FINDING_SCHEMA,
    ...ocsfDetectionBase(f.severity, time, f.title),
    finding_info: {
      // stable across redeliveries, so a SIEM can de-duplicate
      uid: sha256Hex(`${manifest.caseId}\n${manifest.captureId}\n${index}\n${f.type}`).slice(0, 32),
      title: f.title,
      types: [f.type],
      created_time: time,
      analytic: { name: f.type, type_id: 1, type: 'Rule' },
    },
    resources: [resourceOf(f, manifest)],
    cloud: {
      provider: 'AWS',
      ...(typeof target.region === 'string' ? { region: target.region } : {}),
      ...(typeof account === 'string' ? { account: { uid: account } } : {}),
    },
    metadata: { version: '1.1.0', product: PRODUCT, correlation_uid: manifest.caseId, uid: `${manifest.captureId}#${index}` },
    unmapped: {
      forensics: {
        caseId: manifest.caseId,
        captureId: manifest.captureId,
        collector: manifest.collector.name,
        findingType: f.type,
        manifest: { ...ref },
        ...(f.detail ? { detail: f.detail } : {}),
      },
    },
  }
}

/** The summary of a committed capture and the custody entry that sealed it. */
export function captureSummary(
  manifest: Manifest,
  ref: CommittedCaptureRef,
  custody: CaptureSummary['custody'],
  invocation?: CaptureSummary['invocation'],
): CaptureSummary {
  return {
    schema: CAPTURE_SUMMARY_SCHEMA,
    caseId: manifest.caseId,
    captureId: manifest.captureId,
    collector: { ...manifest.collector },
    trigger: { ...manifest.trigger },
    status: manifest.status,
    startedAt: manifest.startedAt,
    committedAt: manifest.endedAt,
    artifacts: manifest.artifacts.length,
    bytes: manifest.artifacts.reduce((n, a) => n + a.size, 0),
    errors: manifest.errors.length,
    findings: manifest.findings?.length ?? 0,
    manifest: { ...ref },
    custody,
    ...(invocation ? { invocation } : {}),
  }
}
