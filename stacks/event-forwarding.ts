/**
 * Trigger events reach the forensics account's rules from every account and region in
 * scope. CloudTrail and GuardDuty put an event on the default bus of the account and region
 * where it happened; there, one forwarding rule per trigger pattern sends it to the
 * forensics account's intake bus, through a role EventBridge assumes to put events. The
 * capture rules (triggers.ts) match on the intake bus, so a bucket in a member account or in
 * another region is captured like one next to the functions.
 */
import { AwsProvider, CloudwatchEventRule, CloudwatchEventTarget, Construct, IamRole, IamRolePolicy } from './cdktf.js'
import { policyDocument, serviceTrustPolicy } from './policy.js'

/** Options for {@link EventForwarding}. */
export interface EventForwardingOptions {
  /** Resource name prefix (`config.name`). */
  name: string
  /** The account the rules and the role are created in. */
  accountId: string
  /** The region of the stack's default provider. */
  homeRegion: string
  /** Every region whose events are forwarded (one rule per pattern in each). */
  regions: string[]
  /** ARN of the forensics account's intake bus. */
  intakeBusArn: string
  /** Name of the forwarding role (IAM is global: one role serves every region). */
  roleName: string
  /** Forwarded patterns by rule suffix (the capture rules' patterns: triggers.ts). */
  patterns: Record<string, Record<string, unknown>>
  /** Tags every resource of the aliased regional providers gets (as the stack's default provider). */
  defaultTags?: Record<string, string>
}

/** The forwarding role and, for each region and pattern, a rule targeting the intake bus. */
export class EventForwarding extends Construct {
  readonly role: IamRole
  readonly rules: { region: string; pattern: string; rule: CloudwatchEventRule; target: CloudwatchEventTarget }[] = []

  constructor(scope: Construct, id: string, o: EventForwardingOptions) {
    super(scope, id)
    this.role = new IamRole(this, 'role', {
      name: o.roleName,
      description: `Lets EventBridge forward trigger events from account ${o.accountId} to the forensics intake bus`,
      assumeRolePolicy: serviceTrustPolicy('events.amazonaws.com', o.accountId),
    })
    const policy = new IamRolePolicy(this, 'policy', {
      name: 'forward-to-intake-bus',
      role: this.role.id,
      policy: policyDocument([{ Sid: 'PutEventsOnIntakeBus', Effect: 'Allow', Action: 'events:PutEvents', Resource: o.intakeBusArn }]),
    })
    for (const region of o.regions) {
      // EventBridge rules are regional: each region needs its own provider configuration.
      const provider = region === o.homeRegion
        ? undefined
        : new AwsProvider(this, `aws-${region}`, {
            region, alias: region, allowedAccountIds: [o.accountId],
            ...(o.defaultTags ? { defaultTags: [{ tags: o.defaultTags }] } : {}),
          })
      for (const [key, pattern] of Object.entries(o.patterns)) {
        const rule = new CloudwatchEventRule(this, `${region}-${key}`, {
          name: `${o.name}-forward-${key}`,
          description: `Forwards ${key} trigger events of ${o.accountId}/${region} to the forensics intake bus`,
          eventPattern: JSON.stringify(pattern),
          ...(provider ? { provider } : {}),
        })
        const target = new CloudwatchEventTarget(this, `${region}-${key}-target`, {
          rule: rule.name,
          targetId: 'forensics-intake',
          arn: o.intakeBusArn,
          roleArn: this.role.arn,
          // EventBridge retries a failed delivery for 24 hours (its default) before dropping it.
          ...(provider ? { provider } : {}),
          dependsOn: [policy],
        })
        this.rules.push({ region, pattern: key, rule, target })
      }
    }
  }
}
