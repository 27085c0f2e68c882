/**
 * Provisions the evidence side of a deployment on the emulator, from the same config and
 * resource names the stacks use: the Object-Locked evidence bucket (default retention from
 * `evidence.retentionDays` / `evidence.mode`), the dead-letter and fan-out queues, the SIEM
 * bus and topic, the alert topic, the CloudTrail archive bucket and the drill's canary
 * bucket. Idempotent: what exists is left alone, and a create whose response was lost counts
 * as done (aws/create-once.ts).
 */
import {
  S3Client,
  CreateBucketCommand,
  PutObjectLockConfigurationCommand,
  PutBucketVersioningCommand,
  HeadBucketCommand,
} from '@aws-sdk/client-s3'
import { SQSClient, CreateQueueCommand } from '@aws-sdk/client-sqs'
import { SNSClient, CreateTopicCommand } from '@aws-sdk/client-sns'
import { EventBridgeClient, CreateEventBusCommand, DescribeEventBusCommand } from '@aws-sdk/client-eventbridge'
import type { ForensicsConfig } from '../config.js'
import { createOnce } from '../aws/create-once.js'
import { resourceNames, type ResourceNames } from '../routing.js'

/** The AWS clients provisioning uses. */
export interface ProvisionClients {
  s3: S3Client
  sqs: SQSClient
  sns: SNSClient
  events: EventBridgeClient
}

/** What was provisioned. */
export interface ProvisionedEvidenceSide {
  names: ResourceNames
  deadLetterQueueUrl: string
  fanOutQueueUrl: string
  siemTopicArn: string
  alertTopicArn: string
  cloudTrailArchiveBucket: string
  canaryBucket?: string
}

async function bucketExists(s3: S3Client, bucket: string): Promise<boolean> {
  try {
    await s3.send(new HeadBucketCommand({ Bucket: bucket }))
    return true
  } catch {
    return false
  }
}

/** Creates the evidence side on the emulator (see the module comment). */
export async function provisionEvidenceSide(clients: ProvisionClients, config: ForensicsConfig): Promise<ProvisionedEvidenceSide> {
  const names = resourceNames(config)
  const { s3, sqs, sns, events } = clients
  if (!(await bucketExists(s3, names.evidenceBucket))) {
    await createOnce(() => s3.send(new CreateBucketCommand({ Bucket: names.evidenceBucket, ObjectLockEnabledForBucket: true })))
    await s3.send(
      new PutObjectLockConfigurationCommand({
        Bucket: names.evidenceBucket,
        ObjectLockConfiguration: { ObjectLockEnabled: 'Enabled', Rule: { DefaultRetention: { Mode: config.evidence.mode, Days: config.evidence.retentionDays } } },
      }),
    )
  }
  for (const bucket of [config.cloudTrailArchive.bucket, config.drill.canaryBucket]) {
    if (!bucket || (await bucketExists(s3, bucket))) continue
    await createOnce(() => s3.send(new CreateBucketCommand({ Bucket: bucket })))
    await s3.send(new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: 'Enabled' } }))
  }
  const queue = async (name: string): Promise<string> => (await sqs.send(new CreateQueueCommand({ QueueName: name }))).QueueUrl as string
  const topic = async (name: string): Promise<string> => (await sns.send(new CreateTopicCommand({ Name: name }))).TopicArn as string
  try {
    await events.send(new DescribeEventBusCommand({ Name: names.siemEventBus }))
  } catch {
    await createOnce(() => events.send(new CreateEventBusCommand({ Name: names.siemEventBus })))
  }
  return {
    names,
    deadLetterQueueUrl: await queue(names.deadLetterQueue),
    fanOutQueueUrl: await queue(names.fanOutQueue),
    siemTopicArn: await topic(names.siemTopic),
    alertTopicArn: await topic(names.alertTopic),
    cloudTrailArchiveBucket: config.cloudTrailArchive.bucket,
    ...(config.drill.canaryBucket ? { canaryBucket: config.drill.canaryBucket } : {}),
  }
}
