/**
 * The drill's inspection phase on the canary bucket (after its captures are sealed): the
 * canary uploads the EICAR anti-malware test string (harmless), the inspector is invoked
 * asynchronously with the S3 "Object Created" event EventBridge would deliver, and its
 * result takes the production path (the custody recorder: an OCSF Detection Finding to
 * the SIEM, and for a hit at or above `inspection.minSeverity` an object-versions capture
 * of the key, sealed in the inspection case). The phase gathers what arrived; the checks
 * `inspection-hit-routed` and `inspection-hit-captured` (drill-checks.ts) judge it.
 */
import { readCommittedCapture } from '../capture.js'
import { CustodyChain } from '../custody.js'
import type { EvidenceStore } from '../evidence-store.js'
import { sha256Hex } from '../hash.js'
import type { InspectionConfig } from '../inspection/inspection-config.js'
import { INSPECTION_FINDING_SCHEMA } from '../inspection/inspection-result.js'
import { inspectionCaseId, parseUploadEvent } from '../inspection/upload-event.js'
import type { Signer } from '../signer.js'
import type { AsyncInvoker } from './invoker.js'

/** The rule file shipped with the project that matches {@link DRILL_TEST_FILE}. */
export const DRILL_RULES_FILE = 'forensics/drill/drill-rules.yar'

/** The EICAR test string (harmless); split here so this source file is not itself a match. */
export const DRILL_TEST_FILE = 'X5O!P%@AP[4\\PZX54(P^)7CC)7}$' + 'EICAR-STANDARD-ANTIVIRUS-' + 'TEST-FILE!$H+H*'

/** What the inspection phase saw, for the checks. */
export interface DrillInspection {
  bucket: string
  key: string
  versionId: string
  sha256: string
  /** the case a hit's capture goes to (inspection.caseIdTemplate) */
  caseId: string
  /** the Detection Finding on the SIEM topic (undefined: none arrived) */
  finding?: unknown
  /** the committed capture holding the uploaded version (undefined: none sealed in time) */
  capture?: { captureId: string; manifestKey: string; collector: string; artifact?: { key: string; versionId: string; sha256: string } }
  /** why the phase stopped early */
  error?: string
}

/** What the phase needs. */
export interface InspectionPhaseDeps {
  /** puts `drill/<drillId>/<name>` on the canary (removed by its clean-up); returns the version id */
  upload: (name: string, body: Buffer) => Promise<string>
  invoker: AsyncInvoker
  store: EvidenceStore
  signer: Signer
  config: Pick<InspectionConfig, 'buckets' | 'caseIdTemplate'>
  /** finds a message on the SIEM topic the drill watches */
  waitForSiem: (match: (doc: unknown) => boolean, timeoutMs: number) => Promise<unknown>
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)

/** An inspection Detection Finding on s3://bucket/key (version). */
export function isInspectionFindingFor(doc: unknown, bucket: string, key: string, versionId: string): boolean {
  if (!isObj(doc) || doc.schema !== INSPECTION_FINDING_SCHEMA || !Array.isArray(doc.resources)) return false
  return doc.resources.some((r) => isObj(r) && isObj(r.data) && r.data.bucket === bucket && r.data.key === key && r.data.versionId === versionId)
}

/** The test file's name under the canary prefix `drill/<drillId>/`. */
export const DRILL_UPLOAD_NAME = 'inspection/eicar-test.txt'

/** Runs the phase; never throws (what is missing is for the checks to fail on). */
export async function runInspectionPhase(
  deps: InspectionPhaseDeps,
  o: { drillId: string; bucket: string; account: string; region: string; now: () => Date; timeoutMs: number; pollMs: number },
): Promise<DrillInspection> {
  const key = `drill/${o.drillId}/${DRILL_UPLOAD_NAME}`
  const body = Buffer.from(DRILL_TEST_FILE)
  const sha256 = sha256Hex(body)
  let seen: DrillInspection = { bucket: o.bucket, key, versionId: '', sha256, caseId: '' }
  try {
    const versionId = await deps.upload(DRILL_UPLOAD_NAME, body)
    // the event EventBridge delivers for the upload (EventBridge rules do not feed the local runtime)
    const event = {
      version: '0',
      id: `${o.drillId}-inspection`,
      'detail-type': 'Object Created',
      source: 'aws.s3',
      account: o.account,
      time: o.now().toISOString(),
      region: o.region,
      resources: [`arn:aws:s3:::${o.bucket}`],
      detail: { bucket: { name: o.bucket }, object: { key, size: body.length, 'version-id': versionId }, reason: 'PutObject' },
    }
    const caseId = inspectionCaseId(deps.config, parseUploadEvent(event))
    seen = { ...seen, versionId, caseId }
    await deps.invoker.invokeAsync('inspector', event)
    const deadline = Date.now() + o.timeoutMs
    const finding = await deps.waitForSiem((doc) => isInspectionFindingFor(doc, o.bucket, key, versionId), o.timeoutMs)
    if (finding !== undefined) seen = { ...seen, finding }
    const chain = new CustodyChain(deps.store, deps.signer, caseId)
    for (;;) {
      for (const entry of (await chain.read()).filter((e) => e.action === 'captured')) {
        const committed = await readCommittedCapture(deps.store, caseId, String(entry.subject.captureId ?? ''))
        const artifact = committed?.manifest.artifacts.find((a) => a.source?.key === key && a.source?.versionId === versionId)
        if (committed && artifact) {
          return { ...seen, capture: { captureId: committed.manifest.captureId, manifestKey: committed.manifestKey, collector: committed.manifest.collector.name, artifact: { key: artifact.key, versionId: artifact.versionId, sha256: artifact.sha256 } } }
        }
      }
      if (Date.now() >= deadline) return seen
      await new Promise((r) => setTimeout(r, o.pollMs))
    }
  } catch (e) {
    // the SDK's attempts, when it gave up on a request: what a failure this deep in a drill needs
    const attempts = (e as { $metadata?: { attempts?: number } }).$metadata?.attempts
    return { ...seen, error: `${(e as Error).name}: ${(e as Error).message}${attempts ? ` (after ${attempts} attempt(s))` : ''}` }
  }
}
