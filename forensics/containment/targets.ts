/**
 * The containment port: the reads and writes containment makes on the bucket owner's
 * account (S3 bucket policy and public access block, IAM keys and inline policies) and the
 * alert topic. `AwsContainmentTargets` adapts the SDK; a member account is reached through
 * its member role (which gains these actions only when containment is enabled).
 */
import {
  DeleteBucketPolicyCommand,
  DeletePublicAccessBlockCommand,
  GetBucketPolicyCommand,
  GetPublicAccessBlockCommand,
  PutBucketPolicyCommand,
  PutPublicAccessBlockCommand,
  S3Client,
} from '@aws-sdk/client-s3'
import {
  DeleteRolePolicyCommand,
  DeleteUserPolicyCommand,
  IAMClient,
  ListAccessKeysCommand,
  ListRolePoliciesCommand,
  ListUserPoliciesCommand,
  PutRolePolicyCommand,
  PutUserPolicyCommand,
  UpdateAccessKeyCommand,
} from '@aws-sdk/client-iam'
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns'
import { AssumeRoleCommand, GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts'
import { asPrincipal, sdkSettingsFromEnv } from '../aws/sdk-config.js'
import { StorageError, ValidationError } from '../errors.js'
import { withRetry } from '../retry.js'

/** The four public access block settings. */
export interface PublicAccessBlock {
  BlockPublicAcls: boolean
  IgnorePublicAcls: boolean
  BlockPublicPolicy: boolean
  RestrictPublicBuckets: boolean
}

/** Who can reach a bucket, as containment changes and restores it. */
export interface BucketAccessState {
  /** the policy text exactly as S3 returned it, or null when the bucket has none */
  policy: string | null
  publicAccessBlock: PublicAccessBlock | null
}

/** An IAM user's credentials and inline policies. */
export interface UserState {
  accessKeys: { accessKeyId: string; status: 'Active' | 'Inactive' }[]
  inlinePolicyNames: string[]
}

/** Port to the bucket owner's account and the alert topic. */
export interface ContainmentTargets {
  getBucketAccess(bucket: string): Promise<BucketAccessState>
  setBucketPolicy(bucket: string, policy: string | null): Promise<void>
  setPublicAccessBlock(bucket: string, pab: PublicAccessBlock | null): Promise<void>
  getUser(userName: string): Promise<UserState>
  setAccessKeyStatus(userName: string, accessKeyId: string, status: 'Active' | 'Inactive'): Promise<void>
  putUserPolicy(userName: string, policyName: string, document: string): Promise<void>
  deleteUserPolicy(userName: string, policyName: string): Promise<void>
  getRolePolicyNames(roleName: string): Promise<string[]>
  putRolePolicy(roleName: string, policyName: string, document: string): Promise<void>
  deleteRolePolicy(roleName: string, policyName: string): Promise<void>
  /** Publishes the alert; resolves to the SNS message id. */
  publishAlert(topicArn: string, subject: string, message: string): Promise<string>
}

const ABSENT = new Set(['NoSuchBucketPolicy', 'NoSuchPublicAccessBlockConfiguration', 'NoSuchEntity', 'NoSuchEntityException'])

/** {@link ContainmentTargets} over the AWS SDK. */
export class AwsContainmentTargets implements ContainmentTargets {
  constructor(private readonly clients: { s3: S3Client; iam: IAMClient; sns: SNSClient }) {}

  async #call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await withRetry(what, fn)
    } catch (e) {
      const err = e as Error
      throw new StorageError(`${what} failed: ${err.name}: ${err.message}; check the containment role (or member role) may do it`, { cause: e })
    }
  }

  async #absentAsNull<T>(what: string, fn: () => Promise<T>): Promise<T | null> {
    try {
      return await withRetry(what, fn)
    } catch (e) {
      if (ABSENT.has((e as Error).name)) return null
      throw new StorageError(`${what} failed: ${(e as Error).name}: ${(e as Error).message}; check the containment role (or member role) may do it`, { cause: e })
    }
  }

  async getBucketAccess(bucket: string): Promise<BucketAccessState> {
    const policy = await this.#absentAsNull(`GetBucketPolicy s3://${bucket}`, async () => (await this.clients.s3.send(new GetBucketPolicyCommand({ Bucket: bucket }))).Policy ?? null)
    const pab = await this.#absentAsNull(`GetPublicAccessBlock s3://${bucket}`, async () => (await this.clients.s3.send(new GetPublicAccessBlockCommand({ Bucket: bucket }))).PublicAccessBlockConfiguration)
    return {
      policy,
      publicAccessBlock: pab
        ? { BlockPublicAcls: pab.BlockPublicAcls === true, IgnorePublicAcls: pab.IgnorePublicAcls === true, BlockPublicPolicy: pab.BlockPublicPolicy === true, RestrictPublicBuckets: pab.RestrictPublicBuckets === true }
        : null,
    }
  }

  async setBucketPolicy(bucket: string, policy: string | null): Promise<void> {
    if (policy === null) await this.#call(`DeleteBucketPolicy s3://${bucket}`, () => this.clients.s3.send(new DeleteBucketPolicyCommand({ Bucket: bucket })))
    else await this.#call(`PutBucketPolicy s3://${bucket}`, () => this.clients.s3.send(new PutBucketPolicyCommand({ Bucket: bucket, Policy: policy })))
  }

  async setPublicAccessBlock(bucket: string, pab: PublicAccessBlock | null): Promise<void> {
    if (pab === null) await this.#call(`DeletePublicAccessBlock s3://${bucket}`, () => this.clients.s3.send(new DeletePublicAccessBlockCommand({ Bucket: bucket })))
    else await this.#call(`PutPublicAccessBlock s3://${bucket}`, () => this.clients.s3.send(new PutPublicAccessBlockCommand({ Bucket: bucket, PublicAccessBlockConfiguration: pab })))
  }

  async getUser(userName: string): Promise<UserState> {
    const keys = await this.#call(`ListAccessKeys ${userName}`, () => this.clients.iam.send(new ListAccessKeysCommand({ UserName: userName })))
    const policies = await this.#call(`ListUserPolicies ${userName}`, () => this.clients.iam.send(new ListUserPoliciesCommand({ UserName: userName })))
    return {
      accessKeys: (keys.AccessKeyMetadata ?? []).map((k) => ({ accessKeyId: k.AccessKeyId as string, status: k.Status === 'Active' ? 'Active' : 'Inactive' })),
      inlinePolicyNames: [...(policies.PolicyNames ?? [])].sort(),
    }
  }

  async setAccessKeyStatus(userName: string, accessKeyId: string, status: 'Active' | 'Inactive'): Promise<void> {
    await this.#call(`UpdateAccessKey ${userName} ${accessKeyId} ${status}`, () => this.clients.iam.send(new UpdateAccessKeyCommand({ UserName: userName, AccessKeyId: accessKeyId, Status: status })))
  }

  async putUserPolicy(userName: string, policyName: string, document: string): Promise<void> {
    await this.#call(`PutUserPolicy ${userName} ${policyName}`, () => this.clients.iam.send(new PutUserPolicyCommand({ UserName: userName, PolicyName: policyName, PolicyDocument: document })))
  }

  async deleteUserPolicy(userName: string, policyName: string): Promise<void> {
    await this.#absentAsNull(`DeleteUserPolicy ${userName} ${policyName}`, () => this.clients.iam.send(new DeleteUserPolicyCommand({ UserName: userName, PolicyName: policyName })))
  }

  async getRolePolicyNames(roleName: string): Promise<string[]> {
    const out = await this.#call(`ListRolePolicies ${roleName}`, () => this.clients.iam.send(new ListRolePoliciesCommand({ RoleName: roleName })))
    return [...(out.PolicyNames ?? [])].sort()
  }

  async putRolePolicy(roleName: string, policyName: string, document: string): Promise<void> {
    await this.#call(`PutRolePolicy ${roleName} ${policyName}`, () => this.clients.iam.send(new PutRolePolicyCommand({ RoleName: roleName, PolicyName: policyName, PolicyDocument: document })))
  }

  async deleteRolePolicy(roleName: string, policyName: string): Promise<void> {
    await this.#absentAsNull(`DeleteRolePolicy ${roleName} ${policyName}`, () => this.clients.iam.send(new DeleteRolePolicyCommand({ RoleName: roleName, PolicyName: policyName })))
  }

  async publishAlert(topicArn: string, subject: string, message: string): Promise<string> {
    const out = await this.#call(`Publish to ${topicArn}`, () => this.clients.sns.send(new PublishCommand({ TopicArn: topicArn, Subject: subject.slice(0, 100), Message: message })))
    return out.MessageId ?? ''
  }
}

/**
 * Opens the targets for a bucket owner's account: this account's credentials, or the member
 * role (`FORENSICS_MEMBER_ROLE_NAME`, `FORENSICS_MEMBER_EXTERNAL_ID`) for another account.
 * The alert topic is always published to with this account's credentials.
 */
export async function openContainmentTargets(opts: { accountId?: string; region?: string; env: NodeJS.ProcessEnv }): Promise<AwsContainmentTargets> {
  const settings = { ...sdkSettingsFromEnv(opts.env), ...(opts.region ? { region: opts.region } : {}) }
  const sns = new SNSClient(sdkSettingsFromEnv(opts.env))
  if (opts.accountId === undefined) return new AwsContainmentTargets({ s3: new S3Client(settings), iam: new IAMClient(settings), sns })
  if (!/^\d{12}$/.test(opts.accountId)) throw new ValidationError(`invalid account id ${JSON.stringify(opts.accountId)}: use the 12-digit AWS account id`, { field: 'account' })
  const sts = new STSClient(settings)
  const own = await sts.send(new GetCallerIdentityCommand({})).then((r) => r.Account, () => undefined)
  if (own === undefined || own === opts.accountId) return new AwsContainmentTargets({ s3: new S3Client(settings), iam: new IAMClient(settings), sns })
  const roleName = opts.env.FORENSICS_MEMBER_ROLE_NAME
  if (!roleName) throw new ValidationError(`bucket account ${opts.accountId} is not this account (${own}): set FORENSICS_MEMBER_ROLE_NAME (and FORENSICS_MEMBER_EXTERNAL_ID) to the member role`, { field: 'account' })
  const roleArn = `arn:aws:iam::${opts.accountId}:role/${roleName}`
  let creds
  try {
    creds = (await sts.send(new AssumeRoleCommand({ RoleArn: roleArn, RoleSessionName: 'forensics-containment', ExternalId: opts.env.FORENSICS_MEMBER_EXTERNAL_ID, DurationSeconds: 3600 }))).Credentials
  } catch (e) {
    throw new StorageError(`cannot assume ${roleArn}: ${(e as Error).name}: ${(e as Error).message}; check the member-account stack is deployed with containment enabled`, { cause: e })
  }
  if (!creds?.AccessKeyId || !creds.SecretAccessKey) throw new StorageError(`assuming ${roleArn} returned no credentials`)
  const credentials = { accessKeyId: creds.AccessKeyId, secretAccessKey: creds.SecretAccessKey, sessionToken: creds.SessionToken }
  const asRole = { ...asPrincipal(settings, opts.env, roleArn), credentials }
  return new AwsContainmentTargets({ s3: new S3Client(asRole), iam: new IAMClient(asRole), sns })
}
