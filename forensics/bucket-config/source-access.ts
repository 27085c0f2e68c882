/**
 * Clients that read the bucket under investigation: in the forensics account itself, or in
 * a member account through its read-only capture role (STS AssumeRole with an external id).
 */
import { S3Client } from '@aws-sdk/client-s3'
import { S3ControlClient } from '@aws-sdk/client-s3-control'
import { AssumeRoleCommand, GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts'
import { asPrincipal, sdkSettingsFromEnv } from '../aws/sdk-config.js'
import { StorageError, ValidationError } from '../errors.js'

/** Clients scoped to the bucket owner's account and region. */
export interface SourceClients {
  s3: S3Client
  s3control: S3ControlClient
  /** the account the clients act in (undefined when STS could not tell) */
  accountId?: string
  /** the member role assumed, when one was */
  roleArn?: string
}

/** Where the bucket lives and how to get there. */
export interface SourceAccessOptions {
  /** the bucket owner's account; a different account than ours means assuming the member role */
  accountId?: string
  region?: string
  /** FORENSICS_MEMBER_ROLE_NAME, FORENSICS_MEMBER_EXTERNAL_ID, AWS_* */
  env: NodeJS.ProcessEnv
  /** RoleSessionName of the assumed role (shows in the member account's CloudTrail) */
  sessionName?: string
}

const ACCOUNT = /^\d{12}$/

interface AwsCredentials {
  accessKeyId: string
  secretAccessKey: string
  sessionToken?: string
}

/**
 * S3 Control puts the account id into the host name; with an endpoint override (the
 * emulator, an S3-compatible store) requests go to the override as they are.
 */
function s3controlClient(settings: ReturnType<typeof sdkSettingsFromEnv>, env: NodeJS.ProcessEnv, credentials?: AwsCredentials): S3ControlClient {
  const endpoint = env.AWS_ENDPOINT_URL_S3_CONTROL ?? env.AWS_ENDPOINT_URL
  return new S3ControlClient({
    region: settings.region,
    maxAttempts: settings.maxAttempts,
    ...(settings.logger ? { logger: settings.logger } : {}),
    ...(credentials ? { credentials } : {}),
    ...(endpoint ? { endpointProvider: () => ({ url: new URL(endpoint) }) } : {}),
  })
}

/** Opens the source clients, assuming the member role when the bucket is in another account. */
export async function openSourceClients(opts: SourceAccessOptions): Promise<SourceClients> {
  const { env } = opts
  if (opts.accountId !== undefined && !ACCOUNT.test(opts.accountId)) {
    throw new ValidationError(`invalid account id ${JSON.stringify(opts.accountId)}: use the 12-digit AWS account id`, { field: 'account' })
  }
  const settings = { ...sdkSettingsFromEnv(env), ...(opts.region ? { region: opts.region } : {}) }
  const sts = new STSClient(settings)
  let ownAccount: string | undefined
  try {
    ownAccount = (await sts.send(new GetCallerIdentityCommand({}))).Account
  } catch {
    // without STS we still read our own account's buckets; only the role needs STS
    ownAccount = undefined
  }
  if (!opts.accountId || opts.accountId === ownAccount) {
    return { s3: new S3Client(settings), s3control: s3controlClient(settings, env), accountId: opts.accountId ?? ownAccount }
  }
  const roleName = env.FORENSICS_MEMBER_ROLE_NAME
  if (!roleName) {
    throw new ValidationError(`bucket account ${opts.accountId} is not this account (${ownAccount ?? 'unknown'}): set FORENSICS_MEMBER_ROLE_NAME (and FORENSICS_MEMBER_EXTERNAL_ID) to the read-only capture role the member-account stack deployed`, { field: 'account' })
  }
  const roleArn = `arn:aws:iam::${opts.accountId}:role/${roleName}`
  let creds
  try {
    creds = (
      await sts.send(new AssumeRoleCommand({ RoleArn: roleArn, RoleSessionName: (opts.sessionName ?? 'forensics-capture').slice(0, 64), ExternalId: env.FORENSICS_MEMBER_EXTERNAL_ID, DurationSeconds: 3600 }))
    ).Credentials
  } catch (e) {
    throw new StorageError(`cannot assume ${roleArn}: ${(e as Error).name}: ${(e as Error).message}; check the member-account stack is deployed and trusts this account with the configured external id`, { cause: e })
  }
  if (!creds?.AccessKeyId || !creds.SecretAccessKey) throw new StorageError(`assuming ${roleArn} returned no credentials`)
  const credentials = { accessKeyId: creds.AccessKeyId, secretAccessKey: creds.SecretAccessKey, sessionToken: creds.SessionToken }
  const asRole = asPrincipal(settings, env, roleArn)
  return { s3: new S3Client({ ...asRole, credentials }), s3control: s3controlClient(asRole, env, credentials), accountId: opts.accountId, roleArn }
}
