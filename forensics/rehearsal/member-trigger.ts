/**
 * A member-account change carried through the deployed event path to a committed capture:
 * the member changes a watched bucket's policy, the CloudTrail record of it goes onto the
 * member's default bus (the emulator has no CloudTrail), the member's forwarding rule sends
 * it to the forensics intake bus, the capture rule there matches it, and the event its
 * bucket-config target receives (the emulator hands it to `emulator-lambda-deliveries`) runs
 * the deployed function, which reads the bucket through the member role.
 */
import { randomUUID } from 'node:crypto'
import { CreateQueueCommand, DeleteMessageCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs'
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge'
import { CreateBucketCommand, PutBucketPolicyCommand, S3Client, type BucketLocationConstraint } from '@aws-sdk/client-s3'
import { StorageError } from '../errors.js'
import type { Emulator } from '../local/emulator.js'
import { assetOf, deployedFunction, runDeployedFunction, type DeployedFunction, type DeployedRun } from './deployed-function.js'
import type { AccountCredentials } from './rehearsal.js'

/** The queue the emulator puts events for Lambda targets on (scripts/moto_runner.py). */
export const LAMBDA_DELIVERY_QUEUE = 'emulator-lambda-deliveries'

/** An event the emulator's EventBridge delivered for a Lambda target. */
export interface LambdaDelivery {
  rule: string
  targetId: string
  functionArn: string
  event: Record<string, unknown>
}

/** Options of {@link carryMemberTrigger}. */
export interface MemberTriggerOptions {
  emulator: Emulator
  forensics: AccountCredentials
  member: AccountCredentials
  memberAccountId: string
  /** a watched bucket (the capture rule's pattern names the watched buckets) */
  bucket: string
  /** the bucket-config function's name and its stack directory (for the asset) */
  functionName: string
  stackDir: string
  /**
   * The CloudTrail record to put on the member's bus, as CloudTrail would (default: the
   * fields CloudTrail records for PutBucketPolicy, built here).
   */
  record?: Record<string, unknown>
  /** how long to wait for the delivery (default 60 s) */
  timeoutMs?: number
}

/** What happened on the way. */
export interface MemberTriggerOutcome {
  policy: Record<string, unknown>
  record: Record<string, unknown>
  delivery: LambdaDelivery
  fn: DeployedFunction
  run: DeployedRun
}

/** The fields CloudTrail records for a PutBucketPolicy (a documented `AwsApiCall` record). */
export function putBucketPolicyRecord(o: { account: string; region: string; bucket: string; policy: Record<string, unknown>; eventID: string; eventTime: string }): Record<string, unknown> {
  return {
    eventVersion: '1.11',
    userIdentity: { type: 'IAMUser', accountId: o.account, arn: `arn:aws:iam::${o.account}:user/rehearsal`, userName: 'rehearsal' },
    eventTime: o.eventTime,
    eventSource: 's3.amazonaws.com',
    eventName: 'PutBucketPolicy',
    awsRegion: o.region,
    sourceIPAddress: '192.0.2.10',
    userAgent: 'forensics-rehearsal',
    requestParameters: { bucketName: o.bucket, bucketPolicy: o.policy, Host: `${o.bucket}.s3.${o.region}.amazonaws.com`, policy: '' },
    responseElements: null,
    requestID: o.eventID.slice(0, 16).toUpperCase(),
    eventID: o.eventID,
    readOnly: false,
    resources: [{ accountId: o.account, type: 'AWS::S3::Bucket', ARN: `arn:aws:s3:::${o.bucket}` }],
    eventType: 'AwsApiCall',
    managementEvent: true,
    recipientAccountId: o.account,
    eventCategory: 'Management',
  }
}

/** Carries a member-account policy change to a committed capture; see the module comment. */
export async function carryMemberTrigger(o: MemberTriggerOptions): Promise<MemberTriggerOutcome> {
  const as = (credentials: AccountCredentials): { endpoint: string; region: string; credentials: AccountCredentials; forcePathStyle: true } => ({ endpoint: o.emulator.endpoint, region: o.emulator.region, credentials, forcePathStyle: true })
  const sqs = new SQSClient(as(o.forensics))
  const queueUrl = (await sqs.send(new CreateQueueCommand({ QueueName: LAMBDA_DELIVERY_QUEUE }))).QueueUrl as string
  const s3 = new S3Client(as(o.member))
  await s3.send(new CreateBucketCommand({ Bucket: o.bucket, CreateBucketConfiguration: { LocationConstraint: o.emulator.region as BucketLocationConstraint } }))
  const policy = { Version: '2012-10-17', Statement: [{ Sid: 'AllowPublicRead', Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: `arn:aws:s3:::${o.bucket}/*` }] }
  await s3.send(new PutBucketPolicyCommand({ Bucket: o.bucket, Policy: JSON.stringify(policy) }))
  const record = o.record ?? putBucketPolicyRecord({
    account: o.memberAccountId, region: o.emulator.region, bucket: o.bucket, policy,
    eventID: randomUUID(), eventTime: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
  })
  const put = await new EventBridgeClient(as(o.member)).send(new PutEventsCommand({ Entries: [{ Source: 'aws.s3', DetailType: 'AWS API Call via CloudTrail', Detail: JSON.stringify(record) }] }))
  if (put.FailedEntryCount) throw new StorageError(`the member account's default bus refused the event: ${put.Entries?.[0]?.ErrorMessage ?? 'unknown error'}`)

  const fn = await deployedFunction(o.emulator, o.forensics, o.functionName)
  const deadline = Date.now() + (o.timeoutMs ?? 60_000)
  let delivery: LambdaDelivery | undefined
  while (!delivery && Date.now() < deadline) {
    const got = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }))
    for (const m of got.Messages ?? []) {
      await sqs.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: m.ReceiptHandle }))
      const body = JSON.parse(m.Body ?? '{}') as LambdaDelivery
      const detail = body.event?.detail as { eventID?: unknown } | undefined
      if (body.functionArn === fn.arn && detail?.eventID === record.eventID) delivery = body
    }
  }
  if (!delivery) throw new StorageError(`the member account's ${String(record.eventName)} never reached ${fn.name}: check the forwarding rule, the intake bus policy and the capture rule`)
  const run = await runDeployedFunction(o.emulator, o.forensics, fn, assetOf(o.stackDir, fn.name), delivery.event)
  return { policy, record, delivery, fn, run }
}
