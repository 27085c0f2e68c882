/**
 * What the inspector function returns (its OnSuccess destination record's
 * `responsePayload`, schema `forensics.inspection/v1`) and the OCSF 1.1 Detection Finding
 * a hit becomes on the SIEM (`class_uid` 2004, like every finding of the toolkit; see
 * forensics/siem/siem-finding.ts):
 *
 * | our field                        | OCSF field                                         |
 * |----------------------------------|----------------------------------------------------|
 * | rule names / IOC list            | `finding_info.types`, `finding_info.analytic.name` |
 * | highest severity                 | `severity_id`, `severity`                          |
 * | object (`arn:aws:s3:::b/k`)      | `resources[0]` (`AWS::S3::Object`, `data.versionId`) |
 * | SHA-256                          | `evidences[0].file.hashes[0]` (algorithm_id 3)     |
 * | verdict, matches, capture chained| `unmapped.forensics`                               |
 */
import { ocsfDetectionBase, type OcsfDetectionFindingBase } from '../siem/siem-finding.js'
import { sha256Hex } from '../hash.js'
import { PRODUCT } from '../siem/siem-finding.js'
import type { Verdict } from './inspect-object.js'

/** Schema of the inspector's result. */
export const INSPECTION_SCHEMA = 'forensics.inspection/v1'
/** Schema of an inspection finding on the SIEM. */
export const INSPECTION_FINDING_SCHEMA = 'forensics.inspection-finding/v1'

/** The capture a hit chains into: the object-versions event the router sends. */
export interface ChainedCapture {
  caseId: string
  bucket: string
  keys: string[]
  id: string
}

/** The inspector function's result. */
export interface InspectionResult {
  schema: typeof INSPECTION_SCHEMA
  /** the triggering event's id (EventBridge `id`) */
  eventId: string
  inspectedAt: string
  verdict: Verdict
  /** set when the verdict is a hit at or above `inspection.minSeverity` */
  capture?: ChainedCapture
  /** `inspection.reportClean` at the time: clean verdicts go to the SIEM too */
  reportClean: boolean
  /** where the verdict came from: account and region of the upload */
  account?: string
  region?: string
}

/** An OCSF Detection Finding about an inspected object. */
export interface InspectionFinding extends OcsfDetectionFindingBase {
  schema: typeof INSPECTION_FINDING_SCHEMA
  finding_info: { uid: string; title: string; types: string[]; created_time: number; analytic: { name: string; type_id: 1; type: 'Rule' } }
  resources: { uid: string; name: string; type: 'AWS::S3::Object'; data: { bucket?: string; key?: string; versionId?: string } }[]
  evidences: { file: { name: string; size?: number; hashes: { algorithm_id: 3; algorithm: 'SHA-256'; value: string }[] } }[]
  cloud: { provider: 'AWS'; region?: string; account?: { uid: string } }
  metadata: { version: '1.1.0'; product: typeof PRODUCT; uid: string; correlation_uid?: string }
  unmapped: { forensics: { verdict: Verdict['verdict']; rules: Verdict['rules']; iocs: Verdict['iocs']; capture?: ChainedCapture; eventId: string } }
}

/** Names what matched: the rules, then the IOC lists. */
export function matchNames(v: Verdict): string[] {
  return [...v.rules.map((r) => `yara:${r.rule}`), ...v.iocs.map((i) => `ioc:${i.list}`)]
}

/** The Detection Finding for a result (a hit, or a clean verdict when clean ones are reported). */
export function toInspectionFinding(r: InspectionResult): InspectionFinding {
  const v = r.verdict
  const time = Date.parse(r.inspectedAt)
  const names = matchNames(v)
  const title = v.verdict === 'hit' ? `malicious content in ${v.object.name}: ${names.join(', ')}` : `${v.verdict}: ${v.object.name}`
  const uid = sha256Hex(`${r.eventId}\n${v.object.name}\n${v.sha256 ?? ''}\n${v.verdict}`).slice(0, 32)
  return {
    schema: INSPECTION_FINDING_SCHEMA,
    ...ocsfDetectionBase(v.severity, time, title),
    finding_info: {
      uid,
      title,
      types: v.verdict === 'hit' ? names : [`inspection-${v.verdict}`],
      created_time: time,
      analytic: { name: names[0] ?? 'inspection', type_id: 1, type: 'Rule' },
    },
    resources: [
      {
        uid: v.object.bucket !== undefined ? `arn:aws:s3:::${v.object.bucket}/${v.object.key}` : v.object.name,
        name: v.object.key ?? v.object.name,
        type: 'AWS::S3::Object',
        data: { bucket: v.object.bucket, key: v.object.key, versionId: v.object.versionId },
      },
    ],
    evidences: v.sha256 ? [{ file: { name: v.object.key ?? v.object.name, size: v.size, hashes: [{ algorithm_id: 3, algorithm: 'SHA-256', value: v.sha256 }] } }] : [],
    cloud: { provider: 'AWS', ...(r.region ? { region: r.region } : {}), ...(r.account ? { account: { uid: r.account } } : {}) },
    metadata: { version: '1.1.0', product: PRODUCT, uid, ...(r.capture ? { correlation_uid: r.capture.caseId } : {}) },
    unmapped: { forensics: { verdict: v.verdict, rules: v.rules, iocs: v.iocs, eventId: r.eventId, ...(r.capture ? { capture: r.capture } : {}) } },
  }
}
