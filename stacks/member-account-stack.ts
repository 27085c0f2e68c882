/**
 * Deployed into each member account: a read-only capture role that only the forensics
 * account's capture roles may assume, and only with the external id; and the forwarding of
 * trigger events, from every region in scope, to the forensics account's intake bus.
 */
import { AwsProvider, Construct, IamRole, IamRolePolicy, TerraformStack } from './cdktf.js'
import { EventForwarding } from './event-forwarding.js'
import { BUCKET_CONFIG_READS, OBJECT_VERSION_READS } from './permissions.js'
import { policyDocument } from './policy.js'
import { memberContainmentStatements } from './containment.js'

/** Options for {@link MemberAccountStack}. */
export interface MemberAccountStackOptions {
  memberAccountId: string
  region: string
  forensicsAccountId: string
  roleName: string
  externalId: string
  /** Role names (in the forensics account) allowed to assume the member role. */
  captureRoleNames: string[]
  /** With `containment.enabled`: the buckets the member role may contain (it gains the containment actions only then). */
  containment?: { buckets: string[] }
}

/** What the member account forwards to the forensics account. */
export interface MemberForwardingOptions {
  /** Resource name prefix (`config.name`). */
  name: string
  /** Regions whose trigger events are forwarded. */
  regions: string[]
  intakeBusArn: string
  forwarderRoleName: string
  patterns: Record<string, Record<string, unknown>>
}

/** Read-only capture role in one member account. */
export class MemberCaptureRole extends Construct {
  readonly role: IamRole

  constructor(scope: Construct, id: string, o: MemberAccountStackOptions) {
    super(scope, id)
    this.role = new IamRole(this, 'role', {
      name: o.roleName,
      description: `Read-only forensic capture, assumed from account ${o.forensicsAccountId}`,
      maxSessionDuration: 3600,
      assumeRolePolicy: policyDocument([{
        Sid: 'ForensicsCaptureRolesWithExternalId',
        Effect: 'Allow',
        Principal: { AWS: o.captureRoleNames.map((n) => `arn:aws:iam::${o.forensicsAccountId}:role/${n}`) },
        Action: 'sts:AssumeRole',
        Condition: { StringEquals: { 'sts:ExternalId': o.externalId } },
      }]),
    })
    new IamRolePolicy(this, 'policy', {
      name: 'read-only-capture',
      role: this.role.id,
      // An incident can involve any bucket of the account: reads on all of them, nothing else.
      policy: policyDocument([
        { Sid: 'ReadBucketConfiguration', Effect: 'Allow', Action: [...BUCKET_CONFIG_READS, 's3:ListBucket', 's3:ListBucketVersions'], Resource: 'arn:aws:s3:::*' },
        { Sid: 'ReadObjectVersions', Effect: 'Allow', Action: [...OBJECT_VERSION_READS], Resource: 'arn:aws:s3:::*/*' },
        { Sid: 'AccountLevelReads', Effect: 'Allow', Action: ['s3:GetAccountPublicAccessBlock', 'cloudtrail:LookupEvents'], Resource: '*' },
      ]),
    })
    if (o.containment) {
      new IamRolePolicy(this, 'containment-policy', {
        name: 'containment',
        role: this.role.id,
        policy: policyDocument(memberContainmentStatements({ memberAccountId: o.memberAccountId, buckets: o.containment.buckets, memberRoleName: o.roleName })),
      })
    }
  }
}

/** Stack for one member account (deploy it with that account's credentials). */
export class MemberAccountStack extends TerraformStack {
  readonly captureRole: MemberCaptureRole
  readonly forwarding: EventForwarding

  constructor(scope: Construct, id: string, o: MemberAccountStackOptions & { forwarding: MemberForwardingOptions }) {
    super(scope, id)
    const tags = { 'forensics:stack': id }
    // allowedAccountIds refuses to apply with credentials of any other account.
    new AwsProvider(this, 'aws', { region: o.region, allowedAccountIds: [o.memberAccountId], defaultTags: [{ tags }] })
    this.captureRole = new MemberCaptureRole(this, 'capture-role', o)
    const f = o.forwarding
    this.forwarding = new EventForwarding(this, 'forwarding', {
      name: f.name, accountId: o.memberAccountId, homeRegion: o.region, regions: f.regions,
      intakeBusArn: f.intakeBusArn, roleName: f.forwarderRoleName, patterns: f.patterns, defaultTags: tags,
    })
  }
}
