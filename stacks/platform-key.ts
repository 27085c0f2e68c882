/**
 * The operations key: one customer-managed KMS key (rotation on) for everything that is not
 * evidence — log groups, queues, topics, Lambda environment variables, the drill schedule.
 * Its policy lets the AWS services that encrypt with it do so only for this account.
 */
import { Construct, KmsAlias, KmsKey } from './cdktf.js'
import { keyAdministration } from './kms.js'
import { policyDocument } from './policy.js'

/** Options for {@link PlatformKey}. */
export interface PlatformKeyOptions {
  name: string
  accountId: string
  region: string
}

/** Customer-managed key for logs, SQS, SNS, Lambda environment and schedules. */
export class PlatformKey extends Construct {
  readonly key: KmsKey
  readonly alias: KmsAlias

  constructor(scope: Construct, id: string, options: PlatformKeyOptions) {
    super(scope, id)
    const { accountId, region } = options
    const root = `arn:aws:iam::${accountId}:root`
    this.key = new KmsKey(this, 'key', {
      description: `${options.name}: logs, queues, topics, function environment`,
      enableKeyRotation: true,
      deletionWindowInDays: 30,
      policy: policyDocument([
        ...keyAdministration(accountId),
        {
          // Principals of this account use the key as their IAM policies allow.
          Sid: 'AccountPrincipalsUseKeyThroughIam',
          Effect: 'Allow',
          Principal: { AWS: root },
          Action: ['kms:Encrypt', 'kms:Decrypt', 'kms:ReEncryptFrom', 'kms:ReEncryptTo', 'kms:GenerateDataKey', 'kms:GenerateDataKeyWithoutPlaintext'],
          Resource: '*',
        },
        {
          Sid: 'CloudWatchLogsEncryptsOurLogGroups',
          Effect: 'Allow',
          Principal: { Service: `logs.${region}.amazonaws.com` },
          Action: ['kms:Encrypt', 'kms:Decrypt', 'kms:ReEncryptFrom', 'kms:ReEncryptTo', 'kms:GenerateDataKey', 'kms:DescribeKey'],
          Resource: '*',
          Condition: { ArnLike: { 'kms:EncryptionContext:aws:logs:arn': `arn:aws:logs:${region}:${accountId}:log-group:*` } },
        },
        {
          // Alarms publish to the encrypted alert topic; EventBridge and Scheduler
          // dead-letter into the encrypted queue.
          Sid: 'ServicesDeliverToEncryptedTopicsAndQueues',
          Effect: 'Allow',
          Principal: { Service: ['cloudwatch.amazonaws.com', 'events.amazonaws.com', 'scheduler.amazonaws.com'] },
          Action: ['kms:Decrypt', 'kms:GenerateDataKey'],
          Resource: '*',
          Condition: { StringEquals: { 'aws:SourceAccount': accountId } },
        },
      ]),
    })
    this.alias = new KmsAlias(this, 'alias', { name: `alias/${options.name}-platform`, targetKeyId: this.key.keyId })
  }
}
