/**
 * Nothing is silently lost: failed async invocations (Lambda OnFailure destinations),
 * undeliverable EventBridge and Scheduler targets and poisoned fan-out messages all land in
 * one encrypted dead-letter queue, and any message there raises an alarm on an encrypted
 * SNS topic.
 */
import { CloudwatchMetricAlarm, Construct, SnsTopic, SnsTopicPolicy, SnsTopicSubscription, SqsQueue, SqsQueuePolicy } from './cdktf.js'
import { policyDocument } from './policy.js'

/** Options for {@link FailureAlerts}. */
export interface FailureAlertsOptions {
  accountId: string
  queueName: string
  alertTopicName: string
  kmsKeyArn: string
  /** Subscribed to the alert topic when given (AWS sends a confirmation mail). */
  alertEmail?: string
}

/** Dead-letter queue, its depth alarm and the alert topic. */
export class FailureAlerts extends Construct {
  readonly queue: SqsQueue
  readonly alertTopic: SnsTopic
  readonly alarm: CloudwatchMetricAlarm

  constructor(scope: Construct, id: string, o: FailureAlertsOptions) {
    super(scope, id)
    this.queue = new SqsQueue(this, 'dlq', {
      name: o.queueName,
      kmsMasterKeyId: o.kmsKeyArn,
      kmsDataKeyReusePeriodSeconds: 300,
      messageRetentionSeconds: 1209600, // 14 days, the SQS maximum: time to investigate
    })
    // EventBridge rules and Scheduler dead-letter undeliverable events here; Lambda
    // destinations use the function role instead.
    new SqsQueuePolicy(this, 'dlq-policy', {
      queueUrl: this.queue.url,
      policy: policyDocument([{
        Sid: 'EventBridgeAndSchedulerDeadLetters',
        Effect: 'Allow',
        Principal: { Service: ['events.amazonaws.com', 'scheduler.amazonaws.com'] },
        Action: 'sqs:SendMessage',
        Resource: this.queue.arn,
        Condition: { StringEquals: { 'aws:SourceAccount': o.accountId } },
      }]),
    })
    this.alertTopic = new SnsTopic(this, 'alerts', { name: o.alertTopicName, kmsMasterKeyId: o.kmsKeyArn })
    new SnsTopicPolicy(this, 'alerts-policy', {
      arn: this.alertTopic.arn,
      policy: policyDocument([{
        Sid: 'CloudWatchAlarmsPublish',
        Effect: 'Allow',
        Principal: { Service: 'cloudwatch.amazonaws.com' },
        Action: 'sns:Publish',
        Resource: this.alertTopic.arn,
        Condition: { StringEquals: { 'aws:SourceAccount': o.accountId } },
      }]),
    })
    if (o.alertEmail) {
      new SnsTopicSubscription(this, 'alert-email', { topicArn: this.alertTopic.arn, protocol: 'email', endpoint: o.alertEmail })
    }
    this.alarm = new CloudwatchMetricAlarm(this, 'dlq-depth', {
      alarmName: `${o.queueName}-not-empty`,
      alarmDescription: `A capture, custody record or drill failed after its retries: inspect the messages in ${o.queueName}.`,
      namespace: 'AWS/SQS',
      metricName: 'ApproximateNumberOfMessagesVisible',
      dimensions: { QueueName: o.queueName },
      statistic: 'Maximum',
      period: 60,
      evaluationPeriods: 1,
      threshold: 0,
      comparisonOperator: 'GreaterThanThreshold',
      treatMissingData: 'notBreaching',
      actionsEnabled: true,
      alarmActions: [this.alertTopic.arn],
      okActions: [this.alertTopic.arn],
    })
  }
}
