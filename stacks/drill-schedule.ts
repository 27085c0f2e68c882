/**
 * The scheduled drill: an EventBridge Scheduler schedule that invokes the drill function
 * (asynchronously, so the drill's routing row applies) against the canary bucket.
 */
import { Construct, IamRole, IamRolePolicy, SchedulerSchedule } from './cdktf.js'
import { policyDocument, serviceTrustPolicy } from './policy.js'

/** Options for {@link DrillSchedule}. */
export interface DrillScheduleOptions {
  scheduleName: string
  accountId: string
  expression: string
  timezone: string
  canaryBucket: string
  drillFunctionArn: string
  deadLetterQueueArn: string
  kmsKeyArn: string
}

/** The input the schedule sends to the drill function. */
export function drillScheduleInput(canaryBucket: string): Record<string, unknown> {
  return { source: 'forensics.drill', trigger: 'schedule', canaryBucket }
}

/** Scheduler schedule plus the role it invokes the drill with. */
export class DrillSchedule extends Construct {
  readonly schedule: SchedulerSchedule
  readonly role: IamRole

  constructor(scope: Construct, id: string, o: DrillScheduleOptions) {
    super(scope, id)
    this.role = new IamRole(this, 'role', {
      name: `${o.scheduleName}-scheduler`,
      description: 'Lets EventBridge Scheduler invoke the drill function and dead-letter undeliverable runs',
      assumeRolePolicy: serviceTrustPolicy('scheduler.amazonaws.com', o.accountId),
    })
    const policy = new IamRolePolicy(this, 'policy', {
      name: 'invoke-drill',
      role: this.role.id,
      policy: policyDocument([
        { Sid: 'InvokeDrill', Effect: 'Allow', Action: 'lambda:InvokeFunction', Resource: o.drillFunctionArn },
        { Sid: 'DeadLetter', Effect: 'Allow', Action: 'sqs:SendMessage', Resource: o.deadLetterQueueArn },
        { Sid: 'PlatformKey', Effect: 'Allow', Action: ['kms:Decrypt', 'kms:GenerateDataKey'], Resource: o.kmsKeyArn },
      ]),
    })
    this.schedule = new SchedulerSchedule(this, 'schedule', {
      name: o.scheduleName,
      description: `Forensics drill on ${o.canaryBucket}`,
      scheduleExpression: o.expression,
      scheduleExpressionTimezone: o.timezone,
      flexibleTimeWindow: { mode: 'OFF' },
      kmsKeyArn: o.kmsKeyArn,
      target: {
        arn: o.drillFunctionArn,
        roleArn: this.role.arn,
        input: JSON.stringify(drillScheduleInput(o.canaryBucket)),
        // A drill that fails must fail loudly once, not be retried into a pass.
        retryPolicy: { maximumRetryAttempts: 0 },
        deadLetterConfig: { arn: o.deadLetterQueueArn },
      },
      dependsOn: [policy],
    })
  }
}
