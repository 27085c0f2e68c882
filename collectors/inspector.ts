/**
 * Lambda handler of the upload inspector. Takes S3 "Object Created" EventBridge events (or
 * `{bucket, key, versionId?, id?}`), reads the object once, hashes it, looks the hash up
 * in the IOC lists and scans it with the YARA rules (see forensics/inspection/).
 *
 * Returns a `forensics.inspection/v1` result; the OnSuccess destination (the custody
 * recorder) sends hits to the SIEM as OCSF Detection Findings and starts the chained
 * object-versions capture. Throws, so Lambda retries and then sends the event to the
 * dead-letter queue, when the rules do not load (nothing is inspected with part of them),
 * the event is not in scope, or the object could not be inspected (`error`).
 *
 * Environment: FORENSICS_INSPECTION (the config's `inspection` section as JSON).
 */
import { checkFunctionEnv } from '../forensics/contract/env.js'
import { S3Client } from '@aws-sdk/client-s3'
import { ForensicsError, ValidationError } from '../forensics/errors.js'
import { sdkSettingsFromEnv } from '../forensics/aws/sdk-config.js'
import { severityAtLeast, type InspectionConfig } from '../forensics/inspection/inspection-config.js'
import { inspectionFromEnv } from '../forensics/inspection/inspection-env.js'
import { INSPECTION_SCHEMA, type InspectionResult } from '../forensics/inspection/inspection-result.js'
import { Inspector } from '../forensics/inspection/inspector.js'
import { readTextLocation, s3Object } from '../forensics/inspection/object-sources.js'
import { inScope, inspectionCaseId, parseUploadEvent } from '../forensics/inspection/upload-event.js'

/** The object could not be inspected completely; Lambda retries, then the DLQ gets the event. */
export class InspectionFailed extends ForensicsError {
  constructor(message: string) {
    super(message)
    this.name = 'InspectionFailed'
  }
}

/** What the inspector needs. */
export interface InspectorDeps {
  config: InspectionConfig
  s3: S3Client
  inspector: Inspector
  now?: () => Date
}

/** Loads the rule files and IOC lists named in the config (all of them, or a ValidationError). */
export async function openConfiguredInspector(config: InspectionConfig, s3: S3Client): Promise<Inspector> {
  const rules = await Promise.all(config.rules.map((l) => readTextLocation(l, s3)))
  const iocs = await Promise.all(config.iocs.map((l) => readTextLocation(l, s3)))
  return Inspector.open({ rules, iocs, maxObjectBytes: config.maxObjectBytes, timeBudgetMs: config.timeBudgetMs })
}

/** Builds the handler around its dependencies. */
export function createInspector(deps: InspectorDeps): (event: unknown) => Promise<InspectionResult> {
  const now = deps.now ?? (() => new Date())
  return async (event) => {
    const u = parseUploadEvent(event, now)
    if (!inScope(deps.config.buckets, u.bucket, u.key)) {
      throw new ValidationError(`s3://${u.bucket}/${u.key} is not in inspection.buckets / prefixes: the EventBridge rule routed an upload the inspector does not inspect`, { field: 'detail.bucket.name' })
    }
    const verdict = await deps.inspector.inspect({ ...s3Object(deps.s3, u.bucket, u.key, u.versionId), ...(u.size !== undefined ? { size: u.size } : {}) })
    if (verdict.verdict === 'error') throw new InspectionFailed(`inspection of ${verdict.object.name} did not complete: ${verdict.reason}`)
    const chain = verdict.verdict === 'hit' && verdict.severity !== undefined && severityAtLeast(verdict.severity, deps.config.minSeverity)
    return {
      schema: INSPECTION_SCHEMA,
      eventId: u.eventId,
      inspectedAt: now().toISOString(),
      verdict,
      reportClean: deps.config.reportClean,
      ...(chain ? { capture: { caseId: inspectionCaseId(deps.config, u), bucket: u.bucket, keys: [u.key], id: `inspection:${u.eventId}` } } : {}),
      ...(u.account ? { account: u.account } : {}),
      ...(u.region ? { region: u.region } : {}),
    }
  }
}

let fromEnv: Promise<(event: unknown) => Promise<InspectionResult>> | undefined

/** Lambda entry point: configuration, rules and IOC lists loaded once per container. */
export async function handler(event: unknown): Promise<InspectionResult> {
  fromEnv ??= (async () => {
    checkFunctionEnv('inspector', process.env)
    const config = inspectionFromEnv(process.env)
    const s3 = new S3Client(sdkSettingsFromEnv(process.env))
    return createInspector({ config, s3, inspector: await openConfiguredInspector(config, s3) })
  })().catch((e: unknown) => {
    fromEnv = undefined
    throw e
  })
  return (await fromEnv)(event)
}
