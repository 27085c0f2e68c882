/**
 * A forensics drill, end to end, through the production path: a canary incident on the
 * canary bucket, then every collector triggered asynchronously for a fresh drill case
 * (their OnSuccess destination, the custody recorder, seals each capture), plus one capture
 * that must fail into the dead-letter queue; then the named checks of drill-checks.ts; the
 * report goes to `drills/<drillId>/report.json` and the SIEM. The canary's changes are
 * reverted whatever happens. The same function runs locally (in-process runtime on the
 * emulator) and deployed (Lambda API, real queues).
 */
import { randomBytes } from 'node:crypto'
import type { S3Client } from '@aws-sdk/client-s3'
import type { SQSClient } from '@aws-sdk/client-sqs'
import type { SNSClient } from '@aws-sdk/client-sns'
import { canonicalBytes } from '../canonical-json.js'
import { readCommittedCapture } from '../capture.js'
import { CustodyChain, type CustodyEntry } from '../custody.js'
import type { EvidenceStore } from '../evidence-store.js'
import { drillReportKey } from '../keys.js'
import type { Signer } from '../signer.js'
import type { SiemPublisher } from '../siem/siem-publisher.js'
import type { DestinationRecord } from '../runtime/destination-record.js'
import { CanaryIncident, type CanaryChanges } from './canary-incident.js'
import { runInspectionPhase, type DrillInspection, type InspectionPhaseDeps } from './inspection-phase.js'
import { INSPECTION_CHECKS, DRILL_CHECKS, runDrillChecks, type BundleRunner, type DrillCapture, type DrillContext } from './drill-checks.js'
import { DRILL_REPORT_SCHEMA, DRILL_RESULT_SCHEMA, type DrillPlanReport, type DrillReport, type DrillResult } from './drill-report.js'
import { defaultDrillEvents, isPublicGrantFinding, PUBLIC_GRANT_FINDING, type DrillEventBuilders } from './drill-events.js'
import type { AsyncInvoker, QueuedInvocation } from './invoker.js'
import { SiemTopicProbe, waitForDeadLetter } from './queue-probes.js'
import { runContainmentPhase, type ContainmentPhaseDeps } from './containment-phase.js'
import type { CheckResult } from './drill-report.js'

/** The collectors a drill expects a sealed capture from. */
export const DRILL_COLLECTORS = ['bucket-config', 'object-versions', 'cloudtrail-slice'] as const

/** What a drill needs. */
export interface DrillDeps {
  mode: 'local' | 'deployed'
  store: EvidenceStore
  signer: Signer
  /** S3 access to the canary bucket */
  s3: S3Client
  sqs: SQSClient
  sns: SNSClient
  invoker: AsyncInvoker
  canaryBucket: string
  siemTopicArn: string
  deadLetterQueueUrl: string
  bundles: BundleRunner
  /** where the report is published (besides the evidence bucket) */
  siem?: SiemPublisher
  /** locally: delivers the CloudTrail records of the incident into the trail archive (the emulator has no CloudTrail) */
  deliverTrail?: (changes: CanaryChanges, drillId: string) => Promise<void>
  /** `s3://BUCKET/PREFIX` of the trail archive the slice reads (default: the function's own setting) */
  trailArchive?: string
  events?: Partial<DrillEventBuilders>
  /** the containment phase on the canary (drill.containment `dry-run` or `apply`; absent: `off`) */
  containment?: Omit<ContainmentPhaseDeps, 'store' | 'signer' | 'actor'>
  /** the inspection phase on the canary (inspection enabled on it; absent: off) */
  inspection?: Pick<InspectionPhaseDeps, 'config'> & { account: string; region: string }
  /** the deployment the drill runs on, named in the report */
  plan?: DrillPlanReport
  log?: (line: string) => void
  now?: () => Date
}

/** Options of one drill run. */
export interface DrillOptions {
  drillId?: string
  /** how long to wait for the sealed captures (default 3 min local, 15 min deployed) */
  captureTimeoutMs?: number
  /** how long to wait for the failing capture's dead-letter record (default 1 min local, 10 min deployed) */
  deadLetterTimeoutMs?: number
  /** how long to wait for the inspection phase's finding and capture (default 3 min local, 15 min deployed) */
  inspectionTimeoutMs?: number
  /** how long to wait for the SIEM finding once the captures are sealed (default 30 s) */
  siemTimeoutMs?: number
  pollMs?: number
  /** test hook, after the captures are sealed and before the checks (e.g. corrupt an artifact) */
  afterCapture?: (captures: readonly DrillCapture[]) => Promise<void>
}

/** A finished drill. */
export interface DrillOutcome {
  report: DrillReport
  result: DrillResult
}

/** A fresh drill id: `drill-<UTC time>-<random>`, usable as a case id. */
export function newDrillId(now: Date = new Date()): string {
  return `drill-${now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')}-${randomBytes(3).toString('hex')}`
}

/**
 * Polls the custody chain until `base` + one `captured` entry per invocation exist. When
 * the invoker can tell how invocations ended, those that failed are not waited for.
 */
async function waitForCaptured(chain: CustodyChain, base: number, invocations: readonly QueuedInvocation[], timeoutMs: number, pollMs: number): Promise<CustodyEntry[]> {
  const deadline = Date.now() + timeoutMs
  const ended: (boolean | undefined)[] = invocations.map(() => undefined)
  invocations.forEach((inv, i) => void inv.settled?.then((ok) => (ended[i] = ok)))
  for (;;) {
    const captured = (await chain.read()).filter((e) => e.action === 'captured')
    const expected = base + ended.filter((ok) => ok !== false).length
    if (captured.length >= expected || Date.now() >= deadline) return captured
    await new Promise((r) => setTimeout(r, pollMs))
  }
}

/** Runs one drill; see the module comment. Never throws for a failed check: the report says. */
export async function runDrill(deps: DrillDeps, opts: DrillOptions = {}): Promise<DrillOutcome> {
  const now = deps.now ?? (() => new Date())
  const log = deps.log ?? (() => undefined)
  const local = deps.mode === 'local'
  const startedAt = now()
  const drillId = opts.drillId ?? newDrillId(startedAt)
  const caseId = drillId
  const pollMs = opts.pollMs ?? (local ? 100 : 5000)
  const events = { ...defaultDrillEvents, ...deps.events }
  const chain = new CustodyChain(deps.store, deps.signer, caseId)
  const canary = new CanaryIncident(deps.s3, deps.canaryBucket, drillId)
  const publicKeyPem = await deps.signer.publicKeyPem()
  await deps.store.assertLocked()

  log(`drill ${drillId}: case ${caseId}, canary s3://${deps.canaryBucket}, evidence s3://${deps.store.bucket}`)
  const probe = await SiemTopicProbe.open({ sqs: deps.sqs, sns: deps.sns }, deps.siemTopicArn, `${drillId}-siem-probe`)
  let changes: CanaryChanges
  let cleanup: DrillReport['cleanup'] = { ok: true, detail: [] }
  let ctx: DrillContext
  let containmentChecks: CheckResult[] = []
  let inspection: DrillInspection | undefined
  try {
    // a baseline snapshot first, so the incident's policy change is a change
    const captureTimeoutMs = opts.captureTimeoutMs ?? (local ? 180_000 : 900_000)
    const first = await deps.invoker.invokeAsync('bucket-config', events.bucketConfig(caseId, deps.canaryBucket, `${drillId}:baseline`))
    const baseline = await waitForCaptured(chain, 0, [first], captureTimeoutMs, pollMs)
    if (baseline.length < 1) log('baseline bucket-config capture not sealed in time; continuing')

    changes = await canary.run(now)
    log(`canary incident: ${changes.objectVersionIds.length} new versions of ${changes.objectKey}, deleted ${changes.deletedKey}, public-read policy on ${changes.bucket}`)
    if (deps.deliverTrail) await deps.deliverTrail(changes, drillId)

    const windowStart = new Date(startedAt.getTime() - 5 * 60_000)
    const windowEnd = new Date(changes.at.getTime() + 5 * 60_000)
    const incident = [
      await deps.invoker.invokeAsync('bucket-config', events.bucketConfig(caseId, deps.canaryBucket, `${drillId}:incident`)),
      await deps.invoker.invokeAsync('object-versions', events.objectVersions(caseId, deps.canaryBucket, changes.prefix, `${drillId}:incident`)),
      await deps.invoker.invokeAsync('cloudtrail-slice', events.cloudTrailSlice(caseId, deps.canaryBucket, windowStart, windowEnd, `${drillId}:incident`, deps.trailArchive)),
    ]
    const badBucket = events.badBucket(drillId)
    await deps.invoker.invokeAsync('bucket-config', events.bucketConfig(caseId, badBucket, `${drillId}:bad-bucket`))
    log('triggered bucket-config, object-versions, cloudtrail-slice and one failing capture asynchronously; waiting for custody entries')

    const captured = await waitForCaptured(chain, baseline.length, incident, captureTimeoutMs, pollMs)
    const captures: DrillCapture[] = []
    for (const entry of captured) {
      const captureId = String(entry.subject.captureId ?? '')
      const committed = await readCommittedCapture(deps.store, caseId, captureId)
      if (!committed) continue
      captures.push({
        phase: baseline.some((b) => b.seq === entry.seq) ? 'baseline' : 'incident',
        collector: committed.manifest.collector.name,
        captureId,
        manifestKey: committed.manifestKey,
        manifestVersionId: committed.manifestVersionId,
        manifestSha256: committed.manifestSha256,
        manifest: committed.manifest,
        custody: entry,
      })
    }
    log(`${captures.length} capture(s) sealed in custody`)

    const siemFinding = await probe.waitFor((doc) => isPublicGrantFinding(doc, deps.canaryBucket), opts.siemTimeoutMs ?? 30_000, pollMs)
    const deadLetter: DestinationRecord | undefined = await waitForDeadLetter(
      deps.sqs,
      deps.deadLetterQueueUrl,
      (r) => JSON.stringify(r.requestPayload).includes(`${drillId}:bad-bucket`),
      opts.deadLetterTimeoutMs ?? (local ? 60_000 : 600_000),
      pollMs,
    )
    if (deps.inspection) {
      // before containment (an applied quarantine denies the upload) and the canary clean-up
      inspection = await runInspectionPhase(
        { upload: (name, body) => canary.putObject(name, body), invoker: deps.invoker, store: deps.store, signer: deps.signer, config: deps.inspection.config, waitForSiem: (match, ms) => probe.waitFor(match, ms, pollMs) },
        { drillId, bucket: deps.canaryBucket, account: deps.inspection.account, region: deps.inspection.region, now, timeoutMs: opts.inspectionTimeoutMs ?? (local ? 180_000 : 900_000), pollMs },
      )
      log(`inspection phase: uploaded s3://${deps.canaryBucket}/${inspection.key}; finding ${inspection.finding !== undefined ? 'received' : 'missing'}, capture ${inspection.capture?.manifestKey ?? 'missing'}${inspection.error ? ` (${inspection.error})` : ''}`)
    }
    if (deps.containment) {
      // before the canary is cleaned up: quarantine (or plan) and release it, evidence first
      containmentChecks = await runContainmentPhase({ ...deps.containment, store: deps.store, signer: deps.signer, actor: { tool: `drill ${drillId}` } }, { caseId, bucket: deps.canaryBucket, drillId })
      log(`containment phase (${deps.containment.mode}): ${containmentChecks.map((c) => `${c.name} ${c.verdict}`).join(', ')}`)
    }
    if (opts.afterCapture) await opts.afterCapture(captures)

    ctx = {
      caseId,
      store: deps.store,
      publicKeyPem,
      chain,
      startedAt,
      canary: changes,
      expectedCollectors: DRILL_COLLECTORS,
      captures,
      siemFinding,
      siemFindingWanted: PUBLIC_GRANT_FINDING,
      deadLetter,
      badTrigger: { collector: 'bucket-config', bucket: badBucket },
      bundles: deps.bundles,
      ...(inspection ? { inspection } : {}),
    }
  } finally {
    cleanup = await canary.cleanUp()
    await probe.close()
  }
  const checks = [...(await runDrillChecks(ctx, ctx.inspection ? [...DRILL_CHECKS, ...INSPECTION_CHECKS] : DRILL_CHECKS)), ...containmentChecks]
  const incidentAt = changes.at
  const sealed = ctx.captures.filter((c) => c.phase === 'incident')
  const latest = (xs: number[]): number | undefined => (xs.length ? Math.max(...xs) : undefined)
  const committedAt = latest(sealed.map((c) => Date.parse(c.manifest.endedAt)))
  const sealedAt = latest(sealed.map((c) => Date.parse(c.custody.time)))
  const report: DrillReport = {
    schema: DRILL_REPORT_SCHEMA,
    drillId,
    caseId,
    mode: deps.mode,
    canaryBucket: deps.canaryBucket,
    evidenceBucket: deps.store.bucket,
    startedAt: startedAt.toISOString(),
    incidentAt: incidentAt.toISOString(),
    endedAt: now().toISOString(),
    ...(committedAt !== undefined ? { timeToEvidenceMs: committedAt - incidentAt.getTime() } : {}),
    ...(sealedAt !== undefined ? { timeToCustodyMs: sealedAt - incidentAt.getTime() } : {}),
    passed: checks.every((c) => c.verdict === 'pass'),
    checks,
    captures: ctx.captures.map((c) => ({ collector: c.collector, captureId: c.captureId, manifestKey: c.manifestKey, manifestSha256: c.manifestSha256, status: c.manifest.status, artifacts: c.manifest.artifacts.length, committedAt: c.manifest.endedAt })),
    ...(ctx.bundle?.sha256 ? { bundle: { path: ctx.bundle.path, sha256: ctx.bundle.sha256, files: ctx.bundle.files } } : {}),
    cleanup,
    ...(deps.plan ? { plan: deps.plan } : {}),
  }
  const reportKey = drillReportKey(drillId)
  const stored = await deps.store.put({ key: reportKey, body: canonicalBytes(report), contentType: 'application/json' })
  const failed = checks.filter((c) => c.verdict === 'fail').map((c) => c.name)
  await deps.siem?.publish([
    {
      kind: 'drill-report',
      subject: `forensics drill ${report.passed ? 'passed' : 'FAILED'}: ${drillId}`,
      severity: report.passed ? 'pass' : 'fail',
      document: { ...report, report: { bucket: deps.store.bucket, key: reportKey, versionId: stored.versionId, sha256: stored.sha256 } },
    },
  ])
  return {
    report,
    result: { schema: DRILL_RESULT_SCHEMA, drillId, caseId, passed: report.passed, failed, reportKey, reportVersionId: stored.versionId, reportSha256: stored.sha256 },
  }
}
