/**
 * The dependencies of a drill against deployed functions, built the same way whether the
 * drill runs as the drill Lambda (settings from its environment) or from the CLI
 * (settings from forensics.config.json).
 */
import type { S3Client } from '@aws-sdk/client-s3'
import type { SQSClient } from '@aws-sdk/client-sqs'
import type { SNSClient } from '@aws-sdk/client-sns'
import { EventBridgeClient } from '@aws-sdk/client-eventbridge'
import { LambdaClient } from '@aws-sdk/client-lambda'
import type { SdkClientSettings } from '../aws/sdk-config.js'
import type { EvidenceStore } from '../evidence-store.js'
import type { FunctionKey } from '../routing.js'
import { AwsSiemPublisher } from '../siem/siem-publisher.js'
import type { Signer } from '../signer.js'
import { fileBundleRunner } from './bundle-runner.js'
import { LambdaAsyncInvoker } from './invoker.js'
import type { DrillDeps } from './run-drill.js'

/** What the caller resolved; the rest is built here. */
export interface DeployedDrillSettings {
  settings: SdkClientSettings
  store: EvidenceStore
  signer: Signer
  s3: S3Client
  sqs: SQSClient
  sns: SNSClient
  functions: Record<FunctionKey, string>
  canaryBucket: string
  siemTopicArn: string
  /** SIEM event bus (default: the account's default bus) */
  siemEventBus?: string
  deadLetterQueueUrl: string
  /** where bundles are written */
  bundleDir: string
  /** who appears in the `bundled` custody entries */
  tool: string
  /** `s3://BUCKET/PREFIX` named in the slice event */
  trailArchive?: string
  log: (line: string) => void
}

/** Drill dependencies for deployed functions: Lambda invoker, bundle runner, SIEM publisher. */
export function deployedDrillDeps(o: DeployedDrillSettings): DrillDeps {
  return {
    mode: 'deployed',
    store: o.store,
    signer: o.signer,
    s3: o.s3,
    sqs: o.sqs,
    sns: o.sns,
    invoker: new LambdaAsyncInvoker(new LambdaClient(o.settings), o.functions),
    canaryBucket: o.canaryBucket,
    siemTopicArn: o.siemTopicArn,
    deadLetterQueueUrl: o.deadLetterQueueUrl,
    bundles: fileBundleRunner({ store: o.store, signer: o.signer, dir: o.bundleDir, actor: { tool: o.tool } }),
    siem: new AwsSiemPublisher({ events: new EventBridgeClient(o.settings), sns: o.sns, ...(o.siemEventBus ? { eventBusName: o.siemEventBus } : {}), topic: o.siemTopicArn }),
    ...(o.trailArchive ? { trailArchive: o.trailArchive } : {}),
    log: o.log,
  }
}
