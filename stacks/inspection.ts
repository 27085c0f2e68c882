/**
 * Upload inspection infrastructure (only with `inspection.enabled`): the EventBridge rule
 * on the intake bus that sends S3 "Object Created" events of the inspected buckets and
 * prefixes to the inspector, and the bucket notification setting that makes S3 emit those
 * events (deployed by the stack of the account owning each bucket).
 */
import { CloudwatchEventRule, CloudwatchEventTarget, Construct, LambdaPermission, S3BucketNotification } from './cdktf.js'
import type { InspectedBucket } from '../forensics/inspection/inspection-config.js'
import type { TriggerTarget } from './triggers.js'

/** The pattern of inspected uploads: one `$or` branch per bucket, keys by prefix. */
export function inspectionUploadPattern(buckets: readonly InspectedBucket[]): Record<string, unknown> {
  const branches = buckets.map((b) => ({
    bucket: { name: [b.bucket] },
    ...(b.prefixes.length > 0 ? { object: { key: b.prefixes.map((p) => ({ prefix: p })) } } : {}),
  }))
  return {
    source: ['aws.s3'],
    'detail-type': ['Object Created'],
    detail: branches.length === 1 ? branches[0] : { $or: branches },
  }
}

/** Rule suffix of the forwarded and matched pattern. */
export const INSPECTION_PATTERN_KEY = 'inspection-uploads'

/** Options of {@link InspectionTrigger}. */
export interface InspectionTriggerOptions {
  name: string
  buckets: readonly InspectedBucket[]
  inspector: TriggerTarget
  deadLetterQueueArn: string
  /** the intake bus every account and region forwards to */
  eventBusName: string
}

/** The uploads rule and its target (EventBridge invokes the inspector asynchronously: its routing row applies). */
export class InspectionTrigger extends Construct {
  readonly rule: CloudwatchEventRule

  constructor(scope: Construct, id: string, o: InspectionTriggerOptions) {
    super(scope, id)
    this.rule = new CloudwatchEventRule(this, 'uploads', {
      name: `${o.name}-${INSPECTION_PATTERN_KEY}`,
      description: 'S3 Object Created in an inspected bucket/prefix → inspector',
      eventBusName: o.eventBusName,
      eventPattern: JSON.stringify(inspectionUploadPattern(o.buckets)),
    })
    new CloudwatchEventTarget(this, 'inspector', {
      rule: this.rule.name,
      eventBusName: o.eventBusName,
      targetId: 'inspector',
      arn: o.inspector.arn,
      retryPolicy: { maximumRetryAttempts: 8, maximumEventAgeInSeconds: 3600 },
      deadLetterConfig: { arn: o.deadLetterQueueArn },
    })
    new LambdaPermission(this, 'permission', {
      statementId: 'eventbridge-inspection-uploads',
      action: 'lambda:InvokeFunction',
      functionName: o.inspector.functionName,
      principal: 'events.amazonaws.com',
      sourceArn: this.rule.arn,
    })
  }
}

/**
 * Turns EventBridge notifications on for the inspected buckets of one account. Note that
 * `aws_s3_bucket_notification` owns the bucket's whole notification configuration: other
 * notifications of these buckets must be declared here too, or they are removed.
 */
export class InspectionNotifications extends Construct {
  constructor(scope: Construct, id: string, o: { accountId: string; buckets: readonly InspectedBucket[] }) {
    super(scope, id)
    for (const b of o.buckets.filter((x) => x.account === o.accountId)) {
      new S3BucketNotification(this, b.bucket.replace(/[^a-z0-9-]/g, '-'), { bucket: b.bucket, eventbridge: true })
    }
  }
}
