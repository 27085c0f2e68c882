/**
 * The local drill: the whole pipeline on the emulator, run from the synthesized plan and the
 * bundled assets — what `cdktf deploy` would upload — nothing reaching AWS.
 *
 * 1. The stacks are synthesized for the drill's config (a current synth is reused:
 *    drill-plan.ts) and the plan `cdk.tf.json` is read (forensics/runtime/synthesized-plan.ts).
 * 2. The plan is provisioned on the emulator (PlanDeployment: evidence side, the signing key
 *    under the plan's `kms:alias/<name>-signing`, the plan's rules on the emulator's
 *    EventBridge) and checked against the contract (forensics/runtime/plan-contract.ts):
 *    a variable the handlers do not read, or a rule routing an event they refuse, stops the
 *    drill here, naming it, before anything is written.
 * 3. Lambda's async contract (retries, maximum age, destinations) comes from the plan's event
 *    invoke configs; the capture functions, the custody recorder and the inspector run from
 *    their bundled zips with the plan's environment, in warm containers reused between
 *    invocations as Lambda reuses them (a module missing from a bundle fails the drill); the fan-out queue is consumed per the plan's SQS
 *    event source mapping (queue, function, batch size).
 * 4. The drill function is invoked with the plan's schedule input. It runs in this process —
 *    it drives the local runtime as its invoker and the corruption test hook reads through
 *    its store — with the plan's environment for the drill function: evidence bucket,
 *    signing key (the same KMS key on the emulator as the bundled functions), SIEM topic and
 *    bus, dead-letter queue, trail archive, canary bucket.
 *
 * What the emulator cannot answer is served on loopback (forensics/runtime/local-services.ts):
 * Lambda's asynchronous Invoke (the custody recorder chains an inspection hit into a capture)
 * and CloudTrail's ListPublicKeys for the local trail that signs the incident's digest.
 * The canary incident's captures are invoked by the drill itself, as in a deployed drill;
 * they are not routed by the plan's EventBridge rules (the canary is not a watched bucket,
 * and a routed event's case id would not be the drill's case). The emulator always stops.
 */
import { IAMClient } from '@aws-sdk/client-iam'
import { containmentSettings } from '../../forensics/containment/settings.js'
import { AwsContainmentTargets } from '../../forensics/containment/targets.js'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join, relative } from 'node:path'
import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3'
import { SQSClient } from '@aws-sdk/client-sqs'
import { SNSClient } from '@aws-sdk/client-sns'
import { EventBridgeClient } from '@aws-sdk/client-eventbridge'
import { projectRoot, startEmulator, type Emulator } from '../../forensics/local/emulator.js'
import { startFaultProxy, type FaultKind, type FaultProxy, type FaultProxyStats } from '../../forensics/local/fault-proxy.js'
import { LOCAL_DRILL_RULES, localDrillConfig, withDrillInspection } from '../../forensics/drill/local-config.js'
import { DRILL_RULES_FILE } from '../../forensics/drill/inspection-phase.js'
import { CAPTURE_KEYS, type FunctionKey } from '../../forensics/routing.js'
import { AwsDestinationSender } from '../../forensics/runtime/destination-sender.js'
import { LocalRuntime, type AsyncHandler } from '../../forensics/runtime/local-runtime.js'
import { PlanDeployment, type EmulatorEndpoint } from '../../forensics/runtime/plan-deployment.js'
import { readDeploymentPlan, planFunction, type DeploymentPlan } from '../../forensics/runtime/synthesized-plan.js'
import { assertPlanContract } from '../../forensics/runtime/plan-contract.js'
import { bundledAsyncHandler } from '../../forensics/runtime/bundled-async-handler.js'
import { consumeSqsEventSource, type SqsEventSourceStats } from '../../forensics/runtime/sqs-event-source.js'
import { startLocalServices, type LocalServices } from '../../forensics/runtime/local-services.js'
import { checkFunctionEnv } from '../../forensics/contract/env.js'
import { sdkSettingsFromEnv } from '../../forensics/aws/sdk-config.js'
import { openS3EvidenceStore } from '../../forensics/s3-evidence-store.js'
import { AwsSiemPublisher } from '../../forensics/siem/siem-publisher.js'
import { parseArchiveUrl } from '../../forensics/cloudtrail/archive-layout.js'
import { fileBundleRunner } from '../../forensics/drill/bundle-runner.js'
import { runtimeInvoker } from '../../forensics/drill/invoker.js'
import { createLocalTrailKey, deliverIncidentTrail } from '../../forensics/drill/local-trail.js'
import { TamperingStore } from '../../forensics/drill/tampering-store.js'
import type { DrillOutcome } from '../../forensics/drill/run-drill.js'
import type { DrillCapture } from '../../forensics/drill/drill-checks.js'
import type { DrillPlanReport } from '../../forensics/drill/drill-report.js'
import { retentionFromEnv, signerFromSpec } from '../../forensics/runtime/handler-env.js'
import { ValidationError } from '../../forensics/errors.js'
import { createOnce } from '../../forensics/aws/create-once.js'
import { createDrillHandler } from '../../collectors/drill.js'
import { drillPlanFile } from './drill-plan.js'

/** Options of {@link runLocalDrill}. */
export interface LocalDrillOptions {
  env: NodeJS.ProcessEnv
  /** where bundles and local report copies go (default `.forensics/drills`) */
  outDir?: string
  log: (line: string) => void
  /**
   * Test hook: after the captures are sealed, reads of the first artifact whose path
   * contains this text return manipulated bytes (`*`: the first artifact of all).
   */
  corruptArtifact?: string
  /** wait before Lambda retries 1 and 2 (default 200 and 400 ms; AWS: ~1 and ~2 min) */
  retryDelaysMs?: number[]
  /**
   * Injected faults (tests): every AWS call of the drill, set-up and bundled functions
   * included, goes through the fault proxy (forensics/local/fault-proxy.ts) with these rates.
   */
  faults?: { rates: Partial<Record<FaultKind, number>>; seed?: number }
  /**
   * Test hook: the plan to run from, given the synthesized plan file (e.g. one mutated in
   * memory: `readDeploymentPlan(file, mutatedRaw)`). Default: the file as synthesized.
   */
  plan?: (file: string) => DeploymentPlan
}

/** The outcome of a local drill, plus where its files are. */
export interface LocalDrillOutcome extends DrillOutcome {
  reportFile: string
  corrupted: string[]
  configSource: string
  /** the plan the drill ran from, and whether a current synth was reused */
  plan: { file: string; sha256: string; reused: boolean }
  /** what the fan-out consumer did (the plan's SQS event source mapping) */
  fanOut: SqsEventSourceStats
  /** what the fault proxy did, when faults were injected */
  faults?: FaultProxyStats
}

function corruptHook(store: TamperingStore, needle: string | undefined): ((captures: readonly DrillCapture[]) => Promise<void>) | undefined {
  if (!needle) return undefined
  return async (captures) => {
    const artifacts = captures.flatMap((c) => c.manifest.artifacts)
    const target = needle === '*' ? artifacts[0] : artifacts.find((a) => a.path.includes(needle))
    if (target) store.corrupt(target.key)
  }
}

/** The functions that run from their bundles (the drill runs in process; see the module comment). */
const BUNDLED: readonly FunctionKey[] = [...CAPTURE_KEYS, 'custody-recorder', 'inspector']

/** Where each function of the plan runs from, for the report. */
function planReport(plan: DeploymentPlan): DrillPlanReport {
  const functions: Record<string, string> = {}
  for (const f of plan.functions) functions[f.key] = BUNDLED.includes(f.key) ? relative(plan.stackDir, f.zipPath) : `in process (drives the local runtime), environment from the plan; asset ${relative(plan.stackDir, f.zipPath)} not run`
  return { kind: 'plan', file: plan.file, sha256: plan.sha256, functions }
}

/** Runs the full local drill; see the module comment. */
export async function runLocalDrill(opts: LocalDrillOptions): Promise<LocalDrillOutcome> {
  const loaded = localDrillConfig(projectRoot, opts.env)
  const source = loaded.source
  // the drill's EICAR upload to the canary is inspected with the shipped drill rule (on the emulator only)
  const config = withDrillInspection(loaded.config)
  opts.log(`config: ${source}`)
  const planFile = await drillPlanFile(projectRoot, config, opts.log)
  const plan = opts.plan ? opts.plan(planFile.file) : readDeploymentPlan(planFile.file)
  opts.log(`plan: ${plan.file} (sha256 ${plan.sha256}${planFile.reused ? ', current synth reused' : ', synthesized now'})`)
  let emulator: Emulator | undefined
  let runtime: LocalRuntime | undefined
  let savedEnv: NodeJS.ProcessEnv | undefined
  let proxy: FaultProxy | undefined
  let services: LocalServices | undefined
  let opened: PlanDeployment | undefined
  try {
    emulator = await startEmulator({ region: config.region })
    if (opts.faults) {
      proxy = await startFaultProxy({ target: emulator.endpoint, faults: opts.faults.rates, seed: opts.faults.seed })
      opts.log(`fault proxy on ${proxy.endpoint}: ${JSON.stringify(opts.faults.rates)}`)
    }
    const endpoint = proxy?.endpoint ?? emulator.endpoint
    // the local trail signs its digests; the bundled slice asks ListPublicKeys for its key
    const trailKey = createLocalTrailKey()
    services = await startLocalServices({
      invokeAsync: (name, payload) => (runtime as LocalRuntime).invokeAsync(name, payload).requestId,
      publicKeys: trailKey.publicKeys,
      region: config.region,
    })
    const localServices = services
    // every SDK client, in this process or in a bundle's, reaches the emulator (through the proxy) and the stand-ins
    const awsEnv = { ...emulator.env(), AWS_ENDPOINT_URL: endpoint, ...localServices.env() }
    const started = emulator
    const target: EmulatorEndpoint = {
      endpoint,
      region: started.region,
      clientConfig: () => ({ ...started.clientConfig(), endpoint }),
      env: () => awsEnv,
    }
    savedEnv = { ...process.env }
    Object.assign(process.env, awsEnv)
    opts.log(`emulator: moto ${emulator.motoVersion} on ${emulator.endpoint} (log ${emulator.logFile})`)
    // the drill function's clients, built as every client of the toolkit is (sdkSettingsFromEnv: 5 attempts)
    const settings = { ...sdkSettingsFromEnv(awsEnv), ...target.clientConfig() }
    const clients = { s3: new S3Client(settings), sqs: new SQSClient(settings), sns: new SNSClient(settings), events: new EventBridgeClient(settings) }
    const deployment = await PlanDeployment.open(target, plan, config, { warm: true })
    opened = deployment
    const side = deployment.side
    // nothing is written before the plan is known to meet the handlers' contract
    assertPlanContract(plan, config, (key) => deployment.environment(key))
    opts.log(`provisioned from the plan: evidence s3://${side.names.evidenceBucket} (${config.evidence.mode} ${config.evidence.retentionDays} d), signing key ${deployment.signingKey}, dead-letter queue ${side.names.deadLetterQueue}, SIEM bus ${side.names.siemEventBus} and topic ${side.names.siemTopic}, canary s3://${side.canaryBucket}, ${plan.rules.length} EventBridge rule(s)`)
    const report = planReport(plan)
    for (const [key, from] of Object.entries(report.functions)) opts.log(`  ${key.padEnd(18)} ${from}`)

    if (config.inspection.enabled) {
      await createOnce(() => clients.s3.send(new CreateBucketCommand({ Bucket: LOCAL_DRILL_RULES.bucket, ...(config.region !== 'us-east-1' ? { CreateBucketConfiguration: { LocationConstraint: config.region as never } } : {}) })))
      await clients.s3.send(new PutObjectCommand({ Bucket: LOCAL_DRILL_RULES.bucket, Key: LOCAL_DRILL_RULES.key, Body: await readFile(join(projectRoot, DRILL_RULES_FILE)) }))
      opts.log(`inspection: drill rule ${DRILL_RULES_FILE} at s3://${LOCAL_DRILL_RULES.bucket}/${LOCAL_DRILL_RULES.key}; inspected ${config.inspection.buckets.map((b) => `s3://${b.bucket}/${b.prefixes.join('|')}`).join(', ')}`)
    }

    // the drill function's environment is the plan's
    const drillEnv = deployment.environment('drill')
    checkFunctionEnv('drill', drillEnv)
    if (drillEnv.FORENSICS_SIGNING_KEY !== deployment.signingKey) {
      throw new ValidationError(`the plan's drill function signs with ${drillEnv.FORENSICS_SIGNING_KEY}, the other functions with ${deployment.signingKey}: one key signs a case`, { field: 'FORENSICS_SIGNING_KEY' })
    }
    const store = new TamperingStore(await openS3EvidenceStore({ client: clients.s3, bucket: drillEnv.FORENSICS_EVIDENCE_BUCKET, retention: retentionFromEnv(drillEnv) }))
    const signer = signerFromSpec(deployment.signingKey, drillEnv)
    const siem = new AwsSiemPublisher({ events: clients.events, sns: clients.sns, eventBusName: drillEnv.FORENSICS_SIEM_EVENT_BUS, topic: drillEnv.FORENSICS_SIEM_TOPIC_ARN })
    const trailArchive = drillEnv.FORENSICS_TRAIL_ARCHIVE
    const outDir = opts.outDir ?? join(projectRoot, '.forensics', 'drills')
    let outcome: DrillOutcome | undefined

    const drill = createDrillHandler(
      async () => ({
        mode: 'local',
        store,
        signer,
        s3: clients.s3,
        sqs: clients.sqs,
        sns: clients.sns,
        invoker: runtimeInvoker(runtime as LocalRuntime),
        canaryBucket: drillEnv.FORENSICS_CANARY_BUCKET ?? '',
        siemTopicArn: drillEnv.FORENSICS_SIEM_TOPIC_ARN,
        deadLetterQueueUrl: drillEnv.FORENSICS_DLQ_URL,
        bundles: fileBundleRunner({ store, signer, dir: outDir, actor: { tool: 'forensics-drill' } }),
        siem,
        deliverTrail: async (changes) => {
          await deliverIncidentTrail(clients.s3, parseArchiveUrl(trailArchive), { account: config.forensicsAccountId, region: config.region }, changes, trailKey)
        },
        trailArchive,
        // drill.containment: dry-run (default) records a plan; apply quarantines the canary, then releases it by undo
        ...(config.drill.containment !== 'off'
          ? { containment: { mode: config.drill.containment, settings: containmentSettings(config), targets: new AwsContainmentTargets({ s3: clients.s3, iam: new IAMClient(settings), sns: clients.sns }) } }
          : {}),
        ...(config.inspection.enabled ? { inspection: { config: config.inspection, account: config.forensicsAccountId, region: config.region } } : {}),
        plan: report,
        log: opts.log,
      }),
      { afterCapture: corruptHook(store, opts.corruptArtifact), onOutcome: (o) => (outcome = o) },
    )
    const handlers: Partial<Record<FunctionKey, AsyncHandler>> = {
      // no Lambda timeout locally: the drill's own waits apply
      drill: (event) => drill(event),
    }
    for (const f of plan.functions) if (BUNDLED.includes(f.key)) handlers[f.key] = bundledAsyncHandler(deployment, f.key)
    runtime = new LocalRuntime({
      routes: plan.routes,
      handlers,
      sender: new AwsDestinationSender(clients),
      region: config.region,
      accountId: config.forensicsAccountId,
      retryDelaysMs: opts.retryDelaysMs ?? [200, 400],
      log: opts.log,
    })
    // Lambda's SQS event source mappings of the plan (the object-versions fan-out queue)
    let drillDone = false
    const consumers = plan.eventSourceMappings.map((m) => {
      const fn = plan.functions.find((f) => f.name === m.functionName)
      if (!fn) throw new ValidationError(`the plan maps queue ${m.queueName} to ${m.functionName}, which it does not deploy`, { field: 'aws_lambda_event_source_mapping' })
      opts.log(`event source mapping: ${m.queueName} → ${fn.name} (batch size ${m.batchSize}, bundled)`)
      return consumeSqsEventSource({
        sqs: clients.sqs,
        queueUrl: deployment.resolver.queueUrl(m.queueName),
        queueArn: deployment.resolver.queueArn(m.queueName),
        region: config.region,
        batchSize: m.batchSize,
        invoke: async (event) => {
          const out = await deployment.run(fn.key, event)
          if (!out.ok) throw new Error(out.error)
          return out.result
        },
        done: () => drillDone,
      })
    })
    const input = plan.schedule?.input ?? {}
    const invocation = runtime.invokeAsync('drill', input)
    opts.log(`invoked ${planFunction(plan, 'drill').name} asynchronously with ${plan.schedule ? `the input of schedule ${plan.schedule.name}` : 'an empty event (the plan has no drill schedule)'}: ${JSON.stringify(input)} (request ${invocation.requestId})`)
    const drillOutcome = await invocation.done
    await runtime.idle()
    drillDone = true
    const stats = (await Promise.all(consumers)).reduce((a, s) => ({ batches: a.batches + s.batches, handled: a.handled + s.handled, failed: a.failed + s.failed }), { batches: 0, handled: 0, failed: 0 })
    if (stats.batches > 0) opts.log(`fan-out workers handled ${stats.handled} page(s), ${stats.failed} failed (${stats.batches} batch(es))`)
    if (!outcome) {
      const err = drillOutcome.record.responsePayload as { errorType?: string; errorMessage?: string } | undefined
      throw new Error(`the drill did not finish: ${err?.errorType ?? 'error'}: ${err?.errorMessage ?? 'unknown'} (see ${emulator.logFile})`)
    }
    const done: DrillOutcome = outcome
    const dir = join(outDir, done.report.drillId)
    await mkdir(dir, { recursive: true })
    const reportFile = join(dir, 'report.json')
    await writeFile(reportFile, JSON.stringify(done.report, null, 2) + '\n')
    Object.values(clients).forEach((c) => c.destroy())
    return {
      ...done,
      reportFile,
      corrupted: store.corruptedKeys,
      configSource: source,
      plan: { file: plan.file, sha256: plan.sha256, reused: planFile.reused },
      fanOut: stats,
      ...(proxy ? { faults: { ...proxy.stats, faults: { ...proxy.stats.faults } } } : {}),
    }
  } finally {
    runtime?.close()
    opened?.close()
    if (savedEnv) process.env = savedEnv
    await services?.close()
    await proxy?.close()
    await emulator?.stop()
  }
}
