/**
 * The forensics-account stack: keys, evidence locker, SIEM targets, failure alerts, the five
 * functions with their least-privilege roles and async routing, triggers and the drill
 * schedule. Every event invoke config is built from `asyncInvokeRoutes(config)`.
 */
import {
  AwsProvider, CloudwatchEventBus, CloudwatchEventBusPolicy, Construct, LambdaCodeSigningConfig, LambdaEventSourceMapping, SqsQueue,
  TerraformOutput, TerraformStack, Token,
} from './cdktf.js'
import { bundleHandlers, type BundleKey, type BundleOptions, type HandlerBundle } from './bundle.js'
import { Containment } from './containment.js'
import { CaptureFunction } from './capture-function.js'
import { DrillSchedule } from './drill-schedule.js'
import { EventForwarding } from './event-forwarding.js'
import { EvidenceLocker } from './evidence-locker.js'
import { FailureAlerts } from './failure-alerts.js'
import { destinationAccess, evidenceAccess, functionStatements, type PermissionContext } from './permissions.js'
import { PlatformKey } from './platform-key.js'
import { SiemTargets } from './siem.js'
import { policyDocument } from './policy.js'
import { Triggers, triggerPatterns, triggerScope } from './triggers.js'
import type { ForensicsConfig } from '../forensics/config.js'
import { INSPECTION_ENV, inspectionEnvironment } from '../forensics/inspection/inspection-env.js'
import { InspectionNotifications, InspectionTrigger } from './inspection.js'
import { renderFunctionEnv, type EnvName } from '../forensics/contract/env.js'
import { containmentRoute } from '../forensics/containment/route.js'
import { asyncInvokeRoutes, enabledFunctionKeys, intakeEventBusArn, resourceNames, type DestinationRef, type FunctionKey } from '../forensics/routing.js'

/** Options for {@link ForensicsStack}. */
export interface ForensicsStackOptions {
  config: ForensicsConfig
  /** Prebuilt bundles; default: {@link bundleHandlers} with `bundleOptions`. */
  bundles?: Record<BundleKey, HandlerBundle>
  bundleOptions?: BundleOptions
}

const DESCRIPTIONS: Record<FunctionKey, string> = {
  'bucket-config': 'Captures everything that defines who can reach a bucket',
  'object-versions': 'Captures object versions and delete markers, with their bytes',
  'cloudtrail-slice': 'Captures a CloudTrail slice from the archive and LookupEvents',
  'custody-recorder': 'Appends the custody entry of each capture and forwards it to the SIEM',
  drill: 'Runs the forensics drill on the canary bucket',
  inspector: 'Inspects uploads with YARA rules and hash IOCs; hits become findings and locked evidence',
}

/** Everything deployed into the forensics account. */
export class ForensicsStack extends TerraformStack {
  readonly config: ForensicsConfig
  readonly platformKey: PlatformKey
  readonly evidence: EvidenceLocker
  readonly siem: SiemTargets
  readonly failures: FailureAlerts
  readonly fanOutQueue: SqsQueue
  readonly functions: Record<FunctionKey, CaptureFunction>
  readonly triggers: Triggers
  readonly intakeBus: CloudwatchEventBus
  readonly forwarding: EventForwarding
  readonly drill?: DrillSchedule
  readonly inspection?: InspectionTrigger
  /** only with `containment.enabled` */
  readonly containment?: Containment

  constructor(scope: Construct, id: string, options: ForensicsStackOptions) {
    super(scope, id)
    const config = (this.config = options.config)
    const names = resourceNames(config)
    const routes = asyncInvokeRoutes(config)
    const { forensicsAccountId: accountId, region } = config
    const bundles = options.bundles ?? bundleHandlers(options.bundleOptions)

    const tags = { 'forensics:stack': id }
    new AwsProvider(this, 'aws', { region, allowedAccountIds: [accountId], defaultTags: [{ tags }] })
    this.platformKey = new PlatformKey(this, 'platform-key', { name: config.name, accountId, region })
    const kmsKeyArn = this.platformKey.key.arn
    this.siem = new SiemTargets(this, 'siem', { eventBusName: names.siemEventBus, topicName: names.siemTopic, kmsKeyArn })
    this.failures = new FailureAlerts(this, 'failures', {
      accountId, queueName: names.deadLetterQueue, alertTopicName: names.alertTopic, kmsKeyArn,
      ...(config.siem.alertEmail ? { alertEmail: config.siem.alertEmail } : {}),
    })
    this.fanOutQueue = new SqsQueue(this, 'object-versions-fan-out', {
      name: names.fanOutQueue,
      kmsMasterKeyId: kmsKeyArn,
      kmsDataKeyReusePeriodSeconds: 300,
      // Lambda requires the visibility timeout to cover the function timeout; 6× absorbs retries.
      visibilityTimeoutSeconds: Math.min(config.capture.timeoutSeconds * 6, 43200),
      messageRetentionSeconds: 345600,
      redrivePolicy: JSON.stringify({ deadLetterTargetArn: this.failures.queue.arn, maxReceiveCount: 5 }),
    })
    const signing = config.codeSigning
      ? new LambdaCodeSigningConfig(this, 'code-signing', {
          description: `${config.name}: only signed handler bundles`,
          allowedPublishers: { signingProfileVersionArns: config.codeSigning.signingProfileVersionArns },
          policies: { untrustedArtifactOnDeployment: config.codeSigning.untrustedArtifactOnDeployment },
        })
      : undefined

    const archive = config.cloudTrailArchive
    const trailArchive = `s3://${archive.bucket}${archive.prefix ? `/${archive.prefix}` : ''}`
    const evidence = {
      FORENSICS_EVIDENCE_BUCKET: names.evidenceBucket,
      FORENSICS_SIGNING_KEY: `kms:alias/${config.name}-signing`,
      FORENSICS_RETENTION_MODE: config.evidence.mode,
      FORENSICS_RETENTION_DAYS: String(config.evidence.retentionDays),
    }
    const member = { FORENSICS_MEMBER_ROLE_NAME: names.memberRole, FORENSICS_MEMBER_EXTERNAL_ID: config.memberRole.externalId }
    const siem = { FORENSICS_SIEM_EVENT_BUS: names.siemEventBus, FORENSICS_SIEM_TOPIC_ARN: this.siem.topic.arn }
    // each function's environment, rendered through its schema (forensics/contract/env.ts):
    // a missing or invalid required value, or a variable nobody reads, fails the synth
    const values: Record<FunctionKey, Partial<Record<EnvName, string>>> = {
      'bucket-config': { ...evidence, ...member },
      'object-versions': { ...evidence, ...member, FORENSICS_FANOUT_QUEUE_URL: this.fanOutQueue.url },
      'cloudtrail-slice': { ...evidence, FORENSICS_TRAIL_ARCHIVE: trailArchive },
      'custody-recorder': {
        ...evidence, ...siem,
        // inspection hits chain into object-versions captures started by the recorder
        ...(config.inspection.enabled ? { FORENSICS_CAPTURE_FUNCTIONS: JSON.stringify({ 'object-versions': names.functions['object-versions'] }) } : {}),
      },
      drill: {
        ...evidence, ...siem,
        FORENSICS_CANARY_BUCKET: config.drill.canaryBucket,
        FORENSICS_CAPTURE_FUNCTIONS: JSON.stringify(names.functions),
        FORENSICS_DLQ_URL: this.failures.queue.url,
        FORENSICS_TRAIL_ARCHIVE: trailArchive,
      },
      inspector: { FORENSICS_INSPECTION: inspectionEnvironment(config.inspection)[INSPECTION_ENV] },
    }
    this.functions = {} as Record<FunctionKey, CaptureFunction>
    const deployed = enabledFunctionKeys(config)
    for (const key of deployed) {
      this.functions[key] = new CaptureFunction(this, key, {
        functionName: names.functions[key],
        description: DESCRIPTIONS[key],
        bundle: bundles[key],
        accountId, region, kmsKeyArn,
        logRetentionDays: config.capture.logRetentionDays,
        reservedConcurrency: config.capture.reservedConcurrency,
        timeoutSeconds: config.capture.timeoutSeconds,
        memoryMb: config.capture.memoryMb,
        environment: renderFunctionEnv(key, values[key], { isUnresolved: (v) => Token.isUnresolved(v) }),
        ...(signing ? { codeSigningConfigArn: signing.arn } : {}),
      })
    }
    if (config.containment.enabled) {
      this.containment = new Containment(this, 'containment', { config, bundle: bundles.containment, kmsKeyArn, environment: { ...evidence, ...member }, ...(signing ? { codeSigningConfigArn: signing.arn } : {}) })
    }
    // the inspector writes no evidence (the capture it chains into does)
    const roleArns = [...deployed.filter((k) => k !== 'inspector').map((k) => this.functions[k].role.arn), ...(this.containment ? [this.containment.function.role.arn] : [])]

    this.evidence = new EvidenceLocker(this, 'evidence', {
      name: config.name, accountId, region,
      bucketName: names.evidenceBucket,
      accessLogBucketName: names.accessLogBucket,
      retentionDays: config.evidence.retentionDays,
      mode: config.evidence.mode,
      accessLogRetentionDays: config.evidence.accessLogRetentionDays,
      breakGlassRoleArn: config.evidence.breakGlassRoleArn,
      writerRoleArns: roleArns,
      readerRoleArns: config.evidence.investigatorRoleArns,
    })

    const destinationArn = (ref: DestinationRef): string => {
      if (ref.type === 'lambda') {
        if (this.containment && ref.functionName === containmentRoute(config).functionName) return this.containment.function.arn
        const key = deployed.find((k) => names.functions[k] === ref.functionName)
        if (!key) throw new Error(`routing table names an unknown function ${ref.functionName}`)
        return this.functions[key].arn
      }
      if (ref.type === 'sqs') {
        if (ref.queueName !== names.deadLetterQueue) throw new Error(`routing table names an unknown queue ${ref.queueName}`)
        return this.failures.queue.arn
      }
      if (ref.eventBusName !== names.siemEventBus) throw new Error(`routing table names an unknown event bus ${ref.eventBusName}`)
      return this.siem.bus.arn
    }
    const context: PermissionContext = {
      accountId, region,
      evidenceBucketArn: this.evidence.bucket.arn,
      platformKeyArn: kmsKeyArn,
      watchedBuckets: config.watchedBuckets,
      ...(config.drill.canaryBucket ? { canaryBucket: config.drill.canaryBucket } : {}),
      cloudTrailArchive: archive,
      memberAccounts: config.memberAccounts,
      memberRoleName: names.memberRole,
      fanOutQueueArn: this.fanOutQueue.arn,
      deadLetterQueueArn: this.failures.queue.arn,
      siemTopicArn: this.siem.topic.arn,
      siemEventBusArn: this.siem.bus.arn,
      functionArns: Object.fromEntries(deployed.map((k) => [k, this.functions[k].arn])) as Record<FunctionKey, string>,
      destinationArn,
      ...(config.inspection.enabled ? { inspection: { buckets: config.inspection.buckets, ruleObjects: [...config.inspection.rules, ...config.inspection.iocs] } } : {}),
    }
    for (const route of routes) {
      const fn = this.functions[route.key]
      fn.attachPolicy(functionStatements(route, context))
      fn.routeAsync(route, { onSuccessArn: destinationArn(route.onSuccess), onFailureArn: destinationArn(route.onFailure) })
    }

    if (this.containment) {
      const route = containmentRoute(config)
      this.containment.function.attachPolicy([
        ...evidenceAccess(route, context),
        ...this.containment.statements({ evidenceBucketArn: this.evidence.bucket.arn, accessLogBucketArn: `arn:aws:s3:::${names.accessLogBucket}` }),
        ...destinationAccess(route, context),
      ])
      this.containment.function.routeAsync(route, { onSuccessArn: destinationArn(route.onSuccess), onFailureArn: destinationArn(route.onFailure) })
    }

    new LambdaEventSourceMapping(this, 'object-versions-fan-out-mapping', {
      eventSourceArn: this.fanOutQueue.arn,
      functionName: this.functions['object-versions'].arn,
      batchSize: 1,
      functionResponseTypes: ['ReportBatchItemFailures'],
      scalingConfig: { maximumConcurrency: Math.max(2, config.capture.reservedConcurrency) },
    })

    // Trigger events of every account and region in scope arrive on the intake bus; this
    // account's own regions forward there like the member accounts do (event-forwarding.ts).
    this.intakeBus = new CloudwatchEventBus(this, 'intake-bus', { name: names.intakeEventBus })
    if (config.memberAccounts.length > 0) {
      new CloudwatchEventBusPolicy(this, 'intake-bus-policy', {
        eventBusName: this.intakeBus.name,
        policy: policyDocument([{
          Sid: 'MemberAccountsForwardTriggerEvents',
          Effect: 'Allow',
          Principal: { AWS: config.memberAccounts.map((a) => `arn:aws:iam::${a}:root`) },
          Action: 'events:PutEvents',
          Resource: this.intakeBus.arn,
        }]),
      })
    }
    const ruleScope = triggerScope(config)
    const patterns = triggerPatterns(ruleScope.watchedBuckets, ruleScope.sensitiveBuckets)
    this.forwarding = new EventForwarding(this, 'forwarding', {
      name: config.name, accountId, homeRegion: region, regions: config.regions,
      intakeBusArn: intakeEventBusArn(config), roleName: names.eventForwarderRole, patterns, defaultTags: tags,
    })
    for (const { target } of this.forwarding.rules) target.node.addDependency(this.intakeBus)

    this.triggers = new Triggers(this, 'triggers', {
      name: config.name,
      eventBusName: this.intakeBus.name,
      scope: ruleScope,
      targets: Object.fromEntries(deployed.map((k) => [k, this.target(k)])),
      deadLetterQueueArn: this.failures.queue.arn,
    })

    if (config.inspection.enabled) {
      this.inspection = new InspectionTrigger(this, 'inspection', {
        name: config.name,
        buckets: config.inspection.buckets,
        inspector: this.target('inspector'),
        deadLetterQueueArn: this.failures.queue.arn,
        eventBusName: this.intakeBus.name,
      })
      new InspectionNotifications(this, 'inspection-notifications', { accountId, buckets: config.inspection.buckets })
    }

    if (config.drill.enabled && config.drill.canaryBucket) {
      this.drill = new DrillSchedule(this, 'drill-schedule', {
        scheduleName: names.drillSchedule,
        accountId,
        expression: config.drill.schedule,
        timezone: config.drill.timezone,
        canaryBucket: config.drill.canaryBucket,
        drillFunctionArn: this.functions.drill.arn,
        deadLetterQueueArn: this.failures.queue.arn,
        kmsKeyArn,
      })
    }

    new TerraformOutput(this, 'evidence_bucket', { value: this.evidence.bucket.bucket, description: 'FORENSICS_EVIDENCE_BUCKET for the CLI' })
    new TerraformOutput(this, 'signing_key', { value: `kms:${this.evidence.signingKeyAlias.name}`, description: 'FORENSICS_SIGNING_KEY for the CLI' })
    new TerraformOutput(this, 'dead_letter_queue_url', { value: this.failures.queue.url })
    new TerraformOutput(this, 'siem_topic_arn', { value: this.siem.topic.arn })
    new TerraformOutput(this, 'siem_event_bus', { value: this.siem.bus.name })
    new TerraformOutput(this, 'intake_event_bus_arn', { value: this.intakeBus.arn, description: 'where member accounts forward trigger events' })
  }

  private target(key: FunctionKey): { functionName: string; arn: string } {
    return { functionName: this.functions[key].function.functionName, arn: this.functions[key].arn }
  }
}
