/**
 * `forensics drill --deployed` against what the deploy rehearsal applied into the emulator
 * (`npm run deploy:local`): the drill runs on the deployment read back from the emulator's
 * APIs (forensics/rehearsal/deployed-deployment.ts), not on the plan:
 *
 * - every function runs its deployed code (the asset whose SHA-256 is its `CodeSha256`) with
 *   its deployed environment, as its deployed role, every AWS call recorded;
 * - Lambda's async contract (retries, maximum age, OnSuccess / OnFailure) is each function's
 *   deployed event invoke config; the object-versions fan-out queue is consumed per the
 *   deployed event source mapping; the drill is invoked with the deployed schedule's input;
 * - the drill function itself runs in this process (the emulator never runs Lambda code), with
 *   its deployed environment and role, built by the same code its Lambda entry point uses
 *   (`drillDepsFromEnv`): it invokes the collectors with its own Lambda client, which reaches
 *   the runtime through a loopback Invoke stand-in (forensics/runtime/local-services.ts);
 * - a GuardDuty S3 finding on the canary, put on the forensics account's default bus, must be
 *   routed by the deployed forwarding and capture rules to both capture targets and end in
 *   sealed captures (check `deployed-rules-route`);
 * - every recorded call is evaluated against the synthesized policies (`permissions-sufficient`).
 *
 * Stand-ins for what the emulator lacks (printed, README "Emulator gaps"): the canary and the
 * trail archive buckets are created when missing (they are the account's, not the stack's),
 * the incident's CloudTrail log and digest files are delivered by the local trail, its key is
 * served as ListPublicKeys, and Lambda's asynchronous Invoke answered, by the loopback endpoint the
 * local drill uses too (forensics/runtime/local-services.ts). The two checks the drill function
 * cannot know of are stored next to its report (`drills/<id>/deployed-checks.json`).
 */
import { relative } from 'node:path'
import { CreateBucketCommand, GetBucketVersioningCommand, HeadBucketCommand, PutBucketVersioningCommand, S3Client, type BucketLocationConstraint } from '@aws-sdk/client-s3'
import { GetQueueUrlCommand, SQSClient } from '@aws-sdk/client-sqs'
import { SNSClient } from '@aws-sdk/client-sns'
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge'
import { recordAwsCalls, type RecordedCall } from '../../forensics/aws/call-recorder.js'
import { canonicalBytes } from '../../forensics/canonical-json.js'
import { parseArchiveUrl } from '../../forensics/cloudtrail/archive-layout.js'
import type { CheckResult, DrillReport, DrillResult } from '../../forensics/drill/drill-report.js'
import { createLocalTrailKey, deliverIncidentTrail } from '../../forensics/drill/local-trail.js'
import type { DrillOutcome } from '../../forensics/drill/run-drill.js'
import { StorageError } from '../../forensics/errors.js'
import type { Emulator } from '../../forensics/local/emulator.js'
import { runLocalWorkers, type SqsBatchResponse } from '../../forensics/object-versions/sqs-page-queue.js'
import type { DeploymentPolicies } from '../../forensics/permissions/deployment-policies.js'
import { loadIamSimulator } from '../../forensics/permissions/iam-simulator.js'
import { permissionsSufficient, simulatePermissions, type PermissionReport } from '../../forensics/permissions/simulate-permissions.js'
import type { DeployedDeployment, DeploymentSource } from '../../forensics/rehearsal/deployed-deployment.js'
import { roleEnvironment } from '../../forensics/rehearsal/deployed-function.js'
import type { AccountCredentials } from '../../forensics/rehearsal/rehearsal.js'
import { startLocalServices } from '../../forensics/runtime/local-services.js'
import { AwsDestinationSender } from '../../forensics/runtime/destination-sender.js'
import { LocalRuntime, type AsyncHandler, type InvocationOutcome } from '../../forensics/runtime/local-runtime.js'
import { openS3EvidenceStore } from '../../forensics/s3-evidence-store.js'
import type { FunctionKey } from '../../forensics/routing.js'
import { createDrillHandler, drillDepsFromEnv } from '../../collectors/drill.js'

/** Options of {@link runRehearsedDrill}. */
export interface RehearsedDrillOptions {
  emulator: Emulator
  /** the deployment read back from the emulator (DeployedDeployment.read) */
  deployment: DeployedDeployment
  /** credentials of the forensics account in the emulator */
  credentials: AccountCredentials
  /** the applied stacks' policies (plan + state): what the recorded calls are evaluated against */
  policies: DeploymentPolicies
  /** where the bundle goes */
  outDir: string
  log: (line: string) => void
  /** wait before Lambda retries 1 and 2 (default 200 and 400 ms; AWS: ~1 and ~2 min) */
  retryDelaysMs?: number[]
}

/** The drill's outcome, with the two checks only this path can make. */
export interface RehearsedDrillOutcome {
  /** the drill function's report, with `deployed-rules-route` and `permissions-sufficient` added */
  report: DrillReport
  result: DrillResult
  source: DeploymentSource
  extraChecks: CheckResult[]
  /** where the extra checks are stored */
  extraChecksKey: string
  permissions: PermissionReport
  calls: RecordedCall[]
  /** what stood in for what the emulator lacks */
  standIns: string[]
}

/** The GuardDuty finding the routing phase puts on the default bus (the fields the trigger contract requires). */
export function canaryFinding(o: { account: string; region: string; bucket: string; id: string; at: Date }): Record<string, unknown> {
  const at = o.at.toISOString()
  return {
    schemaVersion: '2.0',
    accountId: o.account,
    region: o.region,
    partition: 'aws',
    id: o.id,
    arn: `arn:aws:guardduty:${o.region}:${o.account}:detector/rehearsal/finding/${o.id}`,
    type: 'Policy:S3/BucketAnonymousAccessGranted',
    resource: {
      resourceType: 'S3Bucket',
      s3BucketDetails: [{ arn: `arn:aws:s3:::${o.bucket}`, name: o.bucket, type: 'Destination', createdAt: at, owner: { id: 'rehearsal' }, publicAccess: { effectivePermission: 'PUBLIC' } }],
    },
    service: { serviceName: 'guardduty', detectorId: 'rehearsal', action: { actionType: 'AWS_API_CALL', awsApiCallAction: { api: 'PutBucketPolicy', serviceName: 's3.amazonaws.com' } }, eventFirstSeen: at, eventLastSeen: at, archived: false, count: 1 },
    severity: 8,
    createdAt: at,
    updatedAt: at,
    title: `Amazon S3 Block Public Access was disabled for S3 bucket ${o.bucket}.`,
    description: 'drill rehearsal finding',
  }
}

/**
 * Calls the drill makes to prove they are refused (the one list): for these an explicit deny is
 * the purpose, not a missing permission. Any other refused call fails `permissions-sufficient`.
 */
export const INTENDED_REFUSALS: readonly { function: FunctionKey; call: string; why: string }[] = [
  { function: 'drill', call: 'S3Client DeleteObjectCommand', why: 'check evidence-delete-refused: the evidence bucket policy must refuse the delete of an evidence version' },
]

/** `permissions-sufficient` over a report, with the intended refusals (explicitly denied) set apart. */
export function deployedPermissionsCheck(report: PermissionReport, functionNames: Partial<Record<FunctionKey, string>>): CheckResult {
  const intended = report.denials.filter((d) => d.decision === 'ExplicitlyDenied' && INTENDED_REFUSALS.some((r) => functionNames[r.function] === d.function && r.call === d.call))
  const checked = permissionsSufficient({ ...report, requests: report.requests - intended.length, denials: report.denials.filter((d) => !intended.includes(d)) })
  if (!intended.length) return checked
  const why = [...new Set(intended.map((d) => INTENDED_REFUSALS.find((r) => r.call === d.call)?.why))].join('; ')
  return { ...checked, summary: `${checked.summary}; ${intended.length} refused as intended (${why})`, evidence: { ...checked.evidence, intendedRefusals: intended } }
}

const check = (name: string, ok: boolean, summary: string, evidence: Record<string, unknown>): CheckResult => ({ name, verdict: ok ? 'pass' : 'fail', summary, evidence })

/** Runs the drill on the rehearsed deployment; see the module comment. */
export async function runRehearsedDrill(o: RehearsedDrillOptions): Promise<RehearsedDrillOutcome> {
  const { emulator, deployment, log } = o
  const account = deployment.configuration.account
  const settings = { endpoint: emulator.endpoint, region: emulator.region, credentials: o.credentials, forcePathStyle: true }
  const s3 = new S3Client(settings)
  const sqs = new SQSClient(settings)
  const standIns: string[] = []

  log(`deployment: ${deployment.source.kind} ${deployment.source.file} sha256 ${deployment.source.sha256}`)
  for (const f of deployment.functions) log(`  ${f.name}: ${relative(deployment.plan.stackDir, f.zipPath)} (CodeSha256 ${f.codeSha256}) as ${f.roleArn}`)
  const drillFn = deployment.function('drill')
  const schedule = deployment.plan.schedule
  if (!schedule || schedule.functionName !== drillFn.name) throw new StorageError(`the emulator has no schedule invoking ${drillFn.name}: is the drill schedule applied?`)

  // stand-ins for what the account, not the stack, holds; and for CloudTrail
  const ensureBucket = async (bucket: string, what: string): Promise<void> => {
    try {
      await s3.send(new HeadBucketCommand({ Bucket: bucket }))
    } catch {
      await s3.send(new CreateBucketCommand({ Bucket: bucket, ...(emulator.region !== 'us-east-1' ? { CreateBucketConfiguration: { LocationConstraint: emulator.region as BucketLocationConstraint } } : {}) }))
      standIns.push(`${what} s3://${bucket} created (the account's, not the stack's)`)
    }
    if ((await s3.send(new GetBucketVersioningCommand({ Bucket: bucket }))).Status !== 'Enabled') {
      await s3.send(new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: 'Enabled' } }))
      standIns.push(`versioning enabled on ${what} s3://${bucket}`)
    }
  }
  const canary = deployment.side.canaryBucket
  if (!canary) throw new StorageError(`the deployed ${drillFn.name} names no FORENSICS_CANARY_BUCKET`)
  await ensureBucket(canary, 'canary bucket')
  const trailArchive = drillFn.environment.FORENSICS_TRAIL_ARCHIVE as string
  const archive = parseArchiveUrl(trailArchive)
  await ensureBucket(archive.bucket, 'trail archive bucket')
  const trailKey = createLocalTrailKey()
  // the drill's Lambda client invokes through these stand-ins into the runtime (set once it exists)
  let invokeInto: (name: string, payload: unknown) => string = (name) => {
    throw new Error(`${name}: the runtime is not running`)
  }
  const services = await startLocalServices({ invokeAsync: (name, payload) => invokeInto(name, payload), publicKeys: trailKey.publicKeys, region: emulator.region })
  const calls: RecordedCall[] = []
  const sink = (c: RecordedCall): void => void calls.push(c)
  let runtime: LocalRuntime | undefined
  let outcome: DrillOutcome | undefined
  // the fan-out consumers stop once this is set (also when the drill fails)
  let done = false
  const saved = { ...process.env }
  try {
    Object.assign(deployment.standIns, services.env())
    standIns.push(
      `CloudTrail log and digest files of the incident delivered into ${trailArchive} by the local trail`,
      `CloudTrail ListPublicKeys served by ${services.endpoint} (AWS_ENDPOINT_URL_CLOUDTRAIL of every function run)`,
      `Lambda asynchronous Invoke served by ${services.endpoint} into the local runtime (AWS_ENDPOINT_URL_LAMBDA of the drill and every function run)`,
    )
    await deployment.deliveryQueueUrl()
    for (const s of standIns) log(`emulator only: ${s}`)

    // the drill function acts as its deployed role, with its deployed environment
    const drillEnv: Record<string, string> = {
      ...deployment.environment('drill'),
      ...(await roleEnvironment(emulator, o.credentials, drillFn)),
      FORENSICS_DRILL_DIR: o.outDir,
    }
    // the SDK's default chain reads credentials and endpoint from the process environment, as in Lambda
    for (const k of Object.keys(process.env)) if (k.startsWith('AWS_') || k.startsWith('FORENSICS_')) delete process.env[k]
    Object.assign(process.env, drillEnv)
    const deployedHandler = (key: FunctionKey): AsyncHandler => async (event, context) => {
      const run = await deployment.run(key, event, context.awsRequestId)
      calls.push(...run.calls)
      if (!run.ok) throw new Error(run.error ?? `${context.functionName} failed`)
      return run.result
    }
    const drill = createDrillHandler(
      async () => ({
        // its own invoker (the Lambda API), reaching the runtime through the Invoke stand-in
        ...(await drillDepsFromEnv(process.env)),
        // the stored report names the deployment read back and the code each function ran
        plan: {
          kind: 'deployed',
          file: deployment.source.file,
          sha256: deployment.source.sha256,
          functions: Object.fromEntries(deployment.functions.map((f) => {
            const asset = `${relative(deployment.plan.stackDir, f.zipPath)} (CodeSha256 ${f.codeSha256})`
            return [f.key, f.key === 'drill' ? `in process as its deployed role, environment as deployed; asset ${asset} not run` : asset]
          })),
        },
        deliverTrail: async (changes) => void (await deliverIncidentTrail(s3, archive, { account, region: emulator.region }, changes, trailKey)),
        log,
      }),
      { onOutcome: (x) => (outcome = x), pollMs: 250, captureTimeoutMs: 300_000, deadLetterTimeoutMs: 120_000, siemTimeoutMs: 60_000 },
    )
    const handlers: Partial<Record<FunctionKey, AsyncHandler>> = Object.fromEntries(deployment.functions.filter((f) => f.key !== 'drill').map((f) => [f.key, deployedHandler(f.key)]))
    handlers.drill = (event) => recordAwsCalls(sink, drillFn.name, () => drill(event))
    runtime = new LocalRuntime({
      routes: deployment.plan.routes,
      handlers,
      sender: new AwsDestinationSender({ sqs, sns: new SNSClient(settings), events: new EventBridgeClient(settings) }),
      region: emulator.region,
      accountId: account,
      retryDelaysMs: o.retryDelaysMs ?? [200, 400],
      log,
    })
    // Lambda's SQS event source mappings, as deployed
    const consumers = deployment.plan.eventSourceMappings.map(async (m) => {
      const fn = deployment.functions.find((f) => f.name === m.functionName)
      if (!fn) throw new StorageError(`the event source mapping of ${m.queueName} names ${m.functionName}, which the emulator does not run`)
      const queueUrl = (await sqs.send(new GetQueueUrlCommand({ QueueName: m.queueName }))).QueueUrl as string
      log(`event source mapping: ${m.queueName} → ${fn.name} (batch size ${m.batchSize})`)
      return runLocalWorkers({
        sqs,
        queueUrl,
        workers: 1,
        done: async () => done,
        idleTimeoutMs: Number.MAX_SAFE_INTEGER,
        handle: async (event) => {
          const run = await deployment.run(fn.key, event)
          calls.push(...run.calls)
          if (!run.ok) throw new StorageError(`${fn.name} failed on a batch of ${m.queueName}: ${run.error}`)
          return run.result as SqsBatchResponse
        },
      })
    })
    const rt = runtime
    invokeInto = (name, payload) => rt.invokeAsync(name, payload).requestId
    const invocation = runtime.invokeAsync('drill', schedule.input)
    log(`invoked ${drillFn.name} asynchronously with the input of schedule ${schedule.name} (request ${invocation.requestId})`)
    const drilled = await invocation.done
    await runtime.idle()
    if (!outcome) {
      const err = drilled.record.responsePayload as { errorType?: string; errorMessage?: string } | undefined
      throw new StorageError(`the drill did not finish: ${err?.errorType ?? 'error'}: ${err?.errorMessage ?? 'unknown'} (see ${emulator.logFile})`)
    }

    // the deployed rules route a finding on the canary to both capture targets
    const findingId = `rehearsal-${outcome.report.drillId}`
    const put = await new EventBridgeClient(settings).send(new PutEventsCommand({
      Entries: [{ Source: 'aws.guardduty', DetailType: 'GuardDuty Finding', Detail: JSON.stringify(canaryFinding({ account, region: emulator.region, bucket: canary, id: findingId, at: new Date() })) }],
    }))
    if (put.FailedEntryCount) throw new StorageError(`the default bus refused the finding: ${put.Entries?.[0]?.ErrorMessage ?? 'unknown'}`)
    const expected = deployment.plan.rules.filter((r) => (r.pattern.source as string[] | undefined)?.includes('aws.guardduty')).flatMap((r) => r.targets)
    const deliveries = (await deployment.deliveries(expected.length, 60_000)).filter((d) => JSON.stringify(d.event).includes(findingId))
    const routed: InvocationOutcome[] = await Promise.all(deliveries.map((d) => runtime!.invokeAsync(d.functionName, d.event).done))
    await runtime.idle()
    done = true
    await Promise.all(consumers)
    const sealed = routed.filter((r) => r.condition === 'Success' && runtime!.outcomes.some((x) => x.key === 'custody-recorder' && x.condition === 'Success' && (x.record.requestPayload as { requestContext?: { requestId?: string } }).requestContext?.requestId === r.requestId))
    const routeCheck = check(
      'deployed-rules-route',
      expected.length > 0 && deliveries.length === expected.length && sealed.length === expected.length,
      `a GuardDuty S3 finding on ${canary} reached ${deliveries.length} of ${expected.length} capture target(s) through the deployed rules (${[...new Set(deliveries.map((d) => d.rule.split(':').pop()))].join(', ') || 'none'}); ${sealed.length} sealed in custody`,
      { finding: findingId, deliveries: deliveries.map((d) => ({ rule: d.rule, target: d.functionName })), captures: routed.map((r) => ({ function: r.functionName, condition: r.condition, manifestKey: (r.record.responsePayload as { manifestKey?: string } | undefined)?.manifestKey })) },
    )

    const permissions = await simulatePermissions(calls, o.policies, await loadIamSimulator(), { region: emulator.region })
    const extraChecks = [routeCheck, deployedPermissionsCheck(permissions, Object.fromEntries(deployment.functions.map((f) => [f.key, f.name])))]
    // stored next to the drill function's report (as the forensics account: the CLI's side)
    const store = await openS3EvidenceStore({ client: s3, bucket: deployment.side.names.evidenceBucket })
    const extraChecksKey = `drills/${outcome.report.drillId}/deployed-checks.json`
    await store.put({ key: extraChecksKey, contentType: 'application/json', body: canonicalBytes({ schema: 'forensics.deployed-drill-checks/v1', drillId: outcome.report.drillId, source: deployment.source, report: outcome.result.reportKey, checks: extraChecks }) })
    const report: DrillReport = { ...outcome.report, checks: [...outcome.report.checks, ...extraChecks], passed: outcome.report.passed && extraChecks.every((c) => c.verdict === 'pass') }
    return { report, result: outcome.result, source: deployment.source, extraChecks, extraChecksKey, permissions, calls, standIns }
  } finally {
    done = true
    runtime?.close()
    for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k]
    Object.assign(process.env, saved)
    delete deployment.standIns.AWS_ENDPOINT_URL_CLOUDTRAIL
    delete deployment.standIns.AWS_ENDPOINT_URL_LAMBDA
    await services.close()
  }
}
