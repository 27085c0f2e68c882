/**
 * The local drill: the whole pipeline on the emulator, nothing reaching AWS. Starts the
 * emulator, provisions the evidence side from the config (locked evidence bucket,
 * dead-letter and fan-out queues, SIEM bus and topic, trail archive, canary bucket), runs
 * every function's handler in-process under the local runtime (Lambda's async contract,
 * routed by the same table the stacks synthesize), invokes the drill function
 * asynchronously — which triggers the collectors asynchronously in turn — and always
 * stops the emulator.
 */
import { IAMClient } from '@aws-sdk/client-iam'
import { containmentSettings } from '../../forensics/containment/settings.js'
import { AwsContainmentTargets } from '../../forensics/containment/targets.js'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3'
import { SQSClient } from '@aws-sdk/client-sqs'
import { SNSClient } from '@aws-sdk/client-sns'
import { EventBridgeClient } from '@aws-sdk/client-eventbridge'
import { projectRoot, startEmulator, type Emulator } from '../../forensics/local/emulator.js'
import { startFaultProxy, type FaultKind, type FaultProxy, type FaultProxyStats } from '../../forensics/local/fault-proxy.js'
import { LOCAL_DRILL_RULES, localDrillConfig, withDrillInspection } from '../../forensics/drill/local-config.js'
import { DRILL_RULES_FILE } from '../../forensics/drill/inspection-phase.js'
import { createInspector, openConfiguredInspector } from '../../collectors/inspector.js'
import type { Inspector } from '../../forensics/inspection/inspector.js'
import { readFile } from 'node:fs/promises'
import { asyncInvokeRoutes, type FunctionKey } from '../../forensics/routing.js'
import { provisionEvidenceSide } from '../../forensics/runtime/provision-local.js'
import { AwsDestinationSender } from '../../forensics/runtime/destination-sender.js'
import { LocalRuntime, type AsyncHandler } from '../../forensics/runtime/local-runtime.js'
import { openS3EvidenceStore } from '../../forensics/s3-evidence-store.js'
import { AwsSiemPublisher } from '../../forensics/siem/siem-publisher.js'
import { parseArchiveUrl } from '../../forensics/cloudtrail/archive-layout.js'
import { fileBundleRunner } from '../../forensics/drill/bundle-runner.js'
import { runtimeInvoker } from '../../forensics/drill/invoker.js'
import { createLocalTrailKey, deliverIncidentTrail } from '../../forensics/drill/local-trail.js'
import { TamperingStore } from '../../forensics/drill/tampering-store.js'
import type { DrillOutcome } from '../../forensics/drill/run-drill.js'
import type { DrillCapture } from '../../forensics/drill/drill-checks.js'
import type { Signer } from '../../forensics/signer.js'
import { signerFromSpec } from '../../forensics/runtime/handler-env.js'
import type { EvidenceStore } from '../../forensics/evidence-store.js'
import { createCustodyRecorder } from '../../collectors/custody-recorder.js'
import { createDrillHandler } from '../../collectors/drill.js'
import { runLocalWorkers } from '../../forensics/object-versions/sqs-page-queue.js'
import { createObjectVersionsHandler } from '../../collectors/object-versions.js'
import { localCollectorHandlers, type CaptureKey, type LocalCollectorDeps } from './drill-collectors.js'

/** Options of {@link runLocalDrill}. */
export interface LocalDrillOptions {
  env: NodeJS.ProcessEnv
  /** `file:<pem>` (or `kms:<key>` on the emulator): the functions sign with it as in Lambda */
  signingKey: string
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
   * Injected faults (tests): every AWS call of the drill, set-up included, goes through
   * the fault proxy (forensics/local/fault-proxy.ts) with these per-request rates.
   */
  faults?: { rates: Partial<Record<FaultKind, number>>; seed?: number }
  /** replaces capture handlers (tests) */
  collectors?: (deps: LocalCollectorDeps) => Partial<Record<CaptureKey, AsyncHandler>>
}

/** The outcome of a local drill, plus where its files are. */
export interface LocalDrillOutcome extends DrillOutcome {
  reportFile: string
  corrupted: string[]
  configSource: string
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

/** Runs the full local drill; see the module comment. */
export async function runLocalDrill(opts: LocalDrillOptions): Promise<LocalDrillOutcome> {
  const loaded = localDrillConfig(projectRoot, opts.env)
  const source = loaded.source
  // the drill's EICAR upload to the canary is inspected with the shipped drill rule (on the emulator only)
  const config = withDrillInspection(loaded.config)
  opts.log(`config: ${source}`)
  let inspector: Promise<Inspector> | undefined
  let emulator: Emulator | undefined
  let runtime: LocalRuntime | undefined
  let savedEnv: NodeJS.ProcessEnv | undefined
  let proxy: FaultProxy | undefined
  try {
    emulator = await startEmulator({ region: config.region })
    if (opts.faults) {
      proxy = await startFaultProxy({ target: emulator.endpoint, faults: opts.faults.rates, seed: opts.faults.seed })
      opts.log(`fault proxy on ${proxy.endpoint}: ${JSON.stringify(opts.faults.rates)}`)
    }
    const endpoint = proxy?.endpoint ?? emulator.endpoint
    // handlers build SDK clients as in Lambda, from the process environment: point it at the emulator
    const awsEnv = { ...emulator.env(), AWS_ENDPOINT_URL: endpoint }
    const emulatorEnv: NodeJS.ProcessEnv = { ...opts.env, ...awsEnv }
    savedEnv = { ...process.env }
    Object.assign(process.env, awsEnv)
    opts.log(`emulator: moto ${emulator.motoVersion} on ${emulator.endpoint} (log ${emulator.logFile})`)
    const settings = { ...emulator.clientConfig(), endpoint }
    const clients = { s3: new S3Client(settings), sqs: new SQSClient(settings), sns: new SNSClient(settings), events: new EventBridgeClient(settings) }
    const side = await provisionEvidenceSide(clients, config)
    opts.log(`provisioned: evidence s3://${side.names.evidenceBucket} (${config.evidence.mode} ${config.evidence.retentionDays} d), dead-letter queue ${side.names.deadLetterQueue}, SIEM bus ${side.names.siemEventBus} and topic ${side.names.siemTopic}, canary s3://${side.canaryBucket}`)

    if (config.inspection.enabled) {
      await clients.s3.send(new CreateBucketCommand({ Bucket: LOCAL_DRILL_RULES.bucket, ...(config.region !== 'us-east-1' ? { CreateBucketConfiguration: { LocationConstraint: config.region as never } } : {}) }))
      await clients.s3.send(new PutObjectCommand({ Bucket: LOCAL_DRILL_RULES.bucket, Key: LOCAL_DRILL_RULES.key, Body: await readFile(join(projectRoot, DRILL_RULES_FILE)) }))
      opts.log(`inspection: drill rule ${DRILL_RULES_FILE} at s3://${LOCAL_DRILL_RULES.bucket}/${LOCAL_DRILL_RULES.key}; inspected ${config.inspection.buckets.map((b) => `s3://${b.bucket}/${b.prefixes.join('|')}`).join(', ')}`)
    }
    const store = new TamperingStore(await openS3EvidenceStore({ client: clients.s3, bucket: side.names.evidenceBucket }))
    const signer: Signer = signerFromSpec(opts.signingKey, emulatorEnv)
    const siem = new AwsSiemPublisher({ events: clients.events, sns: clients.sns, eventBusName: side.names.siemEventBus, topic: side.siemTopicArn })
    const archive = config.cloudTrailArchive
    const trailArchive = `s3://${archive.bucket}${archive.prefix ? `/${archive.prefix}` : ''}`
    const outDir = opts.outDir ?? join(projectRoot, '.forensics', 'drills')
    let outcome: DrillOutcome | undefined

    // the local trail signs its digests; the CloudTrail collector gets the key as ListPublicKeys would serve it
    const trailKey = createLocalTrailKey()
    const collectorDeps: LocalCollectorDeps = {
      trailKeys: trailKey.publicKeys,
      store: store as EvidenceStore,
      signer,
      s3: clients.s3,
      sqs: clients.sqs,
      fanOutQueueUrl: side.fanOutQueueUrl,
      env: { ...emulatorEnv, FORENSICS_TRAIL_ARCHIVE: trailArchive, FORENSICS_EVIDENCE_BUCKET: side.names.evidenceBucket, FORENSICS_SIGNING_KEY: opts.signingKey, FORENSICS_FANOUT_QUEUE_URL: side.fanOutQueueUrl },
    }
    const drill = createDrillHandler(
      async () => ({
        mode: 'local',
        store,
        signer,
        s3: clients.s3,
        sqs: clients.sqs,
        sns: clients.sns,
        invoker: runtimeInvoker(runtime as LocalRuntime),
        canaryBucket: side.canaryBucket as string,
        siemTopicArn: side.siemTopicArn,
        deadLetterQueueUrl: side.deadLetterQueueUrl,
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
        log: opts.log,
      }),
      { afterCapture: corruptHook(store, opts.corruptArtifact), onOutcome: (o) => (outcome = o) },
    )
    const handlers: Partial<Record<FunctionKey, AsyncHandler>> = {
      ...localCollectorHandlers(collectorDeps),
      ...opts.collectors?.(collectorDeps),
      // a hit's chained capture is started through the runtime, as the recorder's Lambda client would
      'custody-recorder': createCustodyRecorder({ store, signer, siem, invoker: { invokeAsync: (key, payload) => runtimeInvoker(runtime as LocalRuntime).invokeAsync(key, payload) } }),
      // the inspector loads its rules once (as per container), on its first invocation
      ...(config.inspection.enabled
        ? {
            inspector: async (event: unknown) => {
              inspector ??= openConfiguredInspector(config.inspection, clients.s3)
              return createInspector({ config: config.inspection, s3: clients.s3, inspector: await inspector })(event)
            },
          }
        : {}),
      // no Lambda timeout locally: the drill's own waits apply
      drill: (event) => drill(event),
    }
    runtime = new LocalRuntime({
      routes: asyncInvokeRoutes(config),
      handlers,
      sender: new AwsDestinationSender(clients),
      region: config.region,
      accountId: config.forensicsAccountId,
      retryDelaysMs: opts.retryDelaysMs ?? [200, 400],
      log: opts.log,
    })
    // Lambda's SQS event source mapping of the object-versions fan-out queue
    let drillDone = false
    const fanOutWorkers = runLocalWorkers({
      sqs: clients.sqs,
      queueUrl: side.fanOutQueueUrl,
      handle: (event) => createObjectVersionsHandler(collectorDeps.env)(event),
      workers: 2,
      done: async () => drillDone,
      idleTimeoutMs: Number.MAX_SAFE_INTEGER,
    })
    const invocation = runtime.invokeAsync('drill', {})
    opts.log(`invoked ${side.names.functions.drill} asynchronously (request ${invocation.requestId})`)
    const drillOutcome = await invocation.done
    await runtime.idle()
    drillDone = true
    const fanOut = await fanOutWorkers
    if (fanOut.handled + fanOut.failed > 0) opts.log(`fan-out workers handled ${fanOut.handled} page(s), ${fanOut.failed} failed`)
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
    return { ...done, reportFile, corrupted: store.corruptedKeys, configSource: source, ...(proxy ? { faults: { ...proxy.stats, faults: { ...proxy.stats.faults } } } : {}) }
  } finally {
    await (await inspector?.catch(() => undefined))?.close()
    runtime?.close()
    if (savedEnv) process.env = savedEnv
    await proxy?.close()
    await emulator?.stop()
  }
}
