/**
 * EventBridge rules that start captures: CloudTrail-recorded changes to who can reach a
 * watched bucket start a bucket-config capture; GuardDuty S3 findings start object-versions
 * and cloudtrail-slice captures. EventBridge invokes Lambda asynchronously, so each
 * function's routing-table row (retries, destinations) applies.
 */
import { CloudwatchEventRule, CloudwatchEventTarget, Construct, LambdaPermission } from './cdktf.js'

/** S3 API calls that change who can reach a bucket. */
export const S3_ACCESS_CHANGE_EVENTS = [
  'PutBucketPolicy', 'DeleteBucketPolicy', 'PutBucketAcl', 'PutBucketPublicAccessBlock', 'DeleteBucketPublicAccessBlock',
  'PutBucketEncryption', 'DeleteBucketEncryption', 'PutBucketOwnershipControls', 'DeleteBucketOwnershipControls',
] as const

/** Event pattern for CloudTrail S3 access changes; all buckets when `buckets` is empty. */
export function s3AccessChangePattern(buckets: string[]): Record<string, unknown> {
  return {
    source: ['aws.s3'],
    'detail-type': ['AWS API Call via CloudTrail'],
    detail: {
      eventSource: ['s3.amazonaws.com'],
      eventName: [...S3_ACCESS_CHANGE_EVENTS],
      ...(buckets.length > 0 ? { requestParameters: { bucketName: [...buckets] } } : {}),
    },
  }
}

/** Event pattern for GuardDuty findings about S3 buckets. */
export function guardDutyS3FindingPattern(): Record<string, unknown> {
  return {
    source: ['aws.guardduty'],
    'detail-type': ['GuardDuty Finding'],
    detail: { resource: { resourceType: ['S3Bucket'] } },
  }
}

/**
 * Every capture rule's pattern by rule suffix: the forensics rules match them on the intake
 * bus, and every account and region in scope forwards them there (event-forwarding.ts).
 */
export function triggerPatterns(watchedBuckets: string[]): Record<'s3-access-changes' | 'guardduty-s3', Record<string, unknown>> {
  return { 's3-access-changes': s3AccessChangePattern(watchedBuckets), 'guardduty-s3': guardDutyS3FindingPattern() }
}

/** A function EventBridge may invoke. */
export interface TriggerTarget {
  functionName: string
  arn: string
}

/** Options for {@link Triggers}. */
export interface TriggersOptions {
  name: string
  watchedBuckets: string[]
  bucketConfig: TriggerTarget
  objectVersions: TriggerTarget
  cloudTrailSlice: TriggerTarget
  /** Where EventBridge puts events it could not deliver. */
  deadLetterQueueArn: string
  /** The bus the rules match on (the intake bus every account and region forwards to). */
  eventBusName: string
}

/** The two capture rules and their targets. */
export class Triggers extends Construct {
  readonly accessChangeRule: CloudwatchEventRule
  readonly guardDutyRule: CloudwatchEventRule
  readonly #eventBusName: string

  constructor(scope: Construct, id: string, o: TriggersOptions) {
    super(scope, id)
    this.#eventBusName = o.eventBusName
    const patterns = triggerPatterns(o.watchedBuckets)
    this.accessChangeRule = new CloudwatchEventRule(this, 's3-access-changes', {
      name: `${o.name}-s3-access-changes`,
      description: 'CloudTrail: policy, ACL, public access block, encryption or ownership change on a watched bucket → bucket-config capture',
      eventBusName: o.eventBusName,
      eventPattern: JSON.stringify(patterns['s3-access-changes']),
    })
    this.target('s3-access-changes-bucket-config', this.accessChangeRule, o.bucketConfig, o.deadLetterQueueArn)

    this.guardDutyRule = new CloudwatchEventRule(this, 'guardduty-s3', {
      name: `${o.name}-guardduty-s3`,
      description: 'GuardDuty S3 finding → object-versions and cloudtrail-slice captures',
      eventBusName: o.eventBusName,
      eventPattern: JSON.stringify(patterns['guardduty-s3']),
    })
    this.target('guardduty-s3-object-versions', this.guardDutyRule, o.objectVersions, o.deadLetterQueueArn)
    this.target('guardduty-s3-cloudtrail-slice', this.guardDutyRule, o.cloudTrailSlice, o.deadLetterQueueArn)
  }

  private target(id: string, rule: CloudwatchEventRule, fn: TriggerTarget, dlq: string): void {
    new CloudwatchEventTarget(this, id, {
      rule: rule.name,
      eventBusName: this.#eventBusName,
      targetId: id,
      arn: fn.arn,
      retryPolicy: { maximumRetryAttempts: 8, maximumEventAgeInSeconds: 3600 },
      deadLetterConfig: { arn: dlq },
    })
    new LambdaPermission(this, `${id}-permission`, {
      statementId: `eventbridge-${id}`,
      action: 'lambda:InvokeFunction',
      functionName: fn.functionName,
      principal: 'events.amazonaws.com',
      sourceArn: rule.arn,
    })
  }
}
