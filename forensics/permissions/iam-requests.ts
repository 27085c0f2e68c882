/**
 * What IAM evaluates for a recorded SDK call: the action, the resource ARN, the account that
 * owns the resource and the request's condition keys; plus the calls AWS makes on the
 * caller's behalf that need the caller's permission too (KMS through S3, SQS and SNS for
 * encrypted buckets, queues and topics). One table per service; a command missing from it
 * is an error, so a new call can never pass unchecked.
 */
import type { RecordedCall } from '../aws/call-recorder.js'
import type { DeploymentPolicies } from './deployment-policies.js'

/** One request IAM evaluates. */
export interface IamRequest {
  action: string
  resource: string
  resourceAccount: string
  context: Record<string, string>
  /** for a request AWS makes on the caller's behalf: the call it serves (`s3:PutObject`) */
  via?: string
}

/** Who made a call, where. */
export interface CallContext {
  /** the principal's role ARN */
  roleArn: string
  region: string
}

/** Raised for a recorded call the table does not know. */
export class UnmappedCallError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'UnmappedCallError'
  }
}

const accountOfArn = (arn: string): string => arn.split(':')[4] ?? ''
const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined)

type Build = (input: Record<string, unknown>, c: CallContext & { account: string; facts: DeploymentPolicies; output: Record<string, unknown> }) => Omit<IamRequest, 'resourceAccount' | 'context'> & { resourceAccount?: string; context?: Record<string, string> }

const bucketArn = (i: Record<string, unknown>): string => `arn:aws:s3:::${String(i.Bucket)}`
const objectArn = (i: Record<string, unknown>): string => `arn:aws:s3:::${String(i.Bucket)}/${String(i.Key)}`
const s3Bucket = (action: string): Build => (i) => ({ action, resource: bucketArn(i) })
const s3Object = (action: string): Build => (i) => ({ action, resource: objectArn(i) })
const s3ObjectVersioned = (plain: string, versioned: string): Build => (i) => ({ action: i.VersionId ? versioned : plain, resource: objectArn(i) })
const putObject: Build = (i) => ({
  action: 's3:PutObject',
  resource: objectArn(i),
  context: {
    ...(str(i.ServerSideEncryption) ? { 's3:x-amz-server-side-encryption': String(i.ServerSideEncryption) } : {}),
    ...(str(i.SSEKMSKeyId) ? { 's3:x-amz-server-side-encryption-aws-kms-key-id': String(i.SSEKMSKeyId) } : {}),
    ...(str(i.ObjectLockMode) ? { 's3:object-lock-mode': String(i.ObjectLockMode) } : {}),
  },
})

const queueArn = (url: unknown, region: string): string => {
  const [account, name] = new URL(String(url)).pathname.split('/').filter(Boolean).slice(-2)
  return `arn:aws:sqs:${region}:${account}:${name}`
}
const sqs = (action: string): Build => (i, c) => ({ action, resource: queueArn(i.QueueUrl, c.region) })
// KMS answers with the key ARN (the emulator with the bare key id: README "Emulator gaps")
const keyArn = (keyId: string, c: { facts: DeploymentPolicies; region: string; account: string; output: Record<string, unknown> }): string => {
  const id = str(c.output.KeyId) ?? keyId
  return id.startsWith('arn:') ? id : c.facts.aliases.get(id) ?? `arn:aws:kms:${c.region}:${c.account}:key/${id}`
}

/** The table: `<client>.<command>` → request. */
export const IAM_REQUESTS: Record<string, Build> = {
  'S3Client.PutObjectCommand': putObject,
  'S3Client.CreateMultipartUploadCommand': putObject,
  'S3Client.UploadPartCommand': s3Object('s3:PutObject'),
  'S3Client.CompleteMultipartUploadCommand': s3Object('s3:PutObject'),
  'S3Client.AbortMultipartUploadCommand': s3Object('s3:AbortMultipartUpload'),
  'S3Client.GetObjectCommand': s3ObjectVersioned('s3:GetObject', 's3:GetObjectVersion'),
  'S3Client.HeadObjectCommand': s3ObjectVersioned('s3:GetObject', 's3:GetObjectVersion'),
  'S3Client.DeleteObjectCommand': s3ObjectVersioned('s3:DeleteObject', 's3:DeleteObjectVersion'),
  'S3Client.PutObjectRetentionCommand': s3Object('s3:PutObjectRetention'),
  'S3Client.GetObjectTaggingCommand': s3ObjectVersioned('s3:GetObjectTagging', 's3:GetObjectVersionTagging'),
  'S3Client.ListObjectsV2Command': (i) => ({ action: 's3:ListBucket', resource: bucketArn(i), context: { 's3:prefix': String(i.Prefix ?? '') } }),
  'S3Client.ListObjectVersionsCommand': (i) => ({ action: 's3:ListBucketVersions', resource: bucketArn(i), context: { 's3:prefix': String(i.Prefix ?? '') } }),
  'S3Client.HeadBucketCommand': s3Bucket('s3:ListBucket'),
  'S3Client.GetBucketPolicyCommand': s3Bucket('s3:GetBucketPolicy'),
  'S3Client.PutBucketPolicyCommand': s3Bucket('s3:PutBucketPolicy'),
  'S3Client.DeleteBucketPolicyCommand': s3Bucket('s3:DeleteBucketPolicy'),
  'S3Client.GetBucketPolicyStatusCommand': s3Bucket('s3:GetBucketPolicyStatus'),
  'S3Client.GetBucketAclCommand': s3Bucket('s3:GetBucketAcl'),
  'S3Client.GetPublicAccessBlockCommand': s3Bucket('s3:GetBucketPublicAccessBlock'),
  'S3Client.GetBucketOwnershipControlsCommand': s3Bucket('s3:GetBucketOwnershipControls'),
  'S3Client.GetBucketEncryptionCommand': s3Bucket('s3:GetEncryptionConfiguration'),
  'S3Client.GetBucketVersioningCommand': s3Bucket('s3:GetBucketVersioning'),
  'S3Client.GetObjectLockConfigurationCommand': s3Bucket('s3:GetBucketObjectLockConfiguration'),
  'S3Client.GetBucketLoggingCommand': s3Bucket('s3:GetBucketLogging'),
  'S3Client.GetBucketLifecycleConfigurationCommand': s3Bucket('s3:GetLifecycleConfiguration'),
  'S3Client.GetBucketReplicationCommand': s3Bucket('s3:GetReplicationConfiguration'),
  'S3Client.GetBucketCorsCommand': s3Bucket('s3:GetBucketCORS'),
  'S3Client.GetBucketWebsiteCommand': s3Bucket('s3:GetBucketWebsite'),
  'S3Client.GetBucketNotificationConfigurationCommand': s3Bucket('s3:GetBucketNotification'),
  'S3Client.GetBucketTaggingCommand': s3Bucket('s3:GetBucketTagging'),
  'S3Client.GetBucketLocationCommand': s3Bucket('s3:GetBucketLocation'),
  // S3 Control's account-level setting: the action has no resource
  'S3ControlClient.GetPublicAccessBlockCommand': () => ({ action: 's3:GetAccountPublicAccessBlock', resource: '*' }),
  'KMSClient.SignCommand': (i, c) => ({ action: 'kms:Sign', resource: keyArn(String(i.KeyId), c), context: { 'kms:SigningAlgorithm': String(i.SigningAlgorithm ?? ''), 'kms:MessageType': String(i.MessageType ?? 'RAW') } }),
  'KMSClient.GetPublicKeyCommand': (i, c) => ({ action: 'kms:GetPublicKey', resource: keyArn(String(i.KeyId), c) }),
  'KMSClient.VerifyCommand': (i, c) => ({ action: 'kms:Verify', resource: keyArn(String(i.KeyId), c) }),
  'KMSClient.DescribeKeyCommand': (i, c) => ({ action: 'kms:DescribeKey', resource: keyArn(String(i.KeyId), c) }),
  'STSClient.AssumeRoleCommand': (i) => ({
    action: 'sts:AssumeRole',
    resource: String(i.RoleArn),
    resourceAccount: accountOfArn(String(i.RoleArn)),
    context: str(i.ExternalId) ? { 'sts:ExternalId': String(i.ExternalId) } : ({} as Record<string, string>),
  }),
  'SQSClient.SendMessageCommand': sqs('sqs:SendMessage'),
  'SQSClient.SendMessageBatchCommand': sqs('sqs:SendMessage'),
  'SQSClient.ReceiveMessageCommand': sqs('sqs:ReceiveMessage'),
  'SQSClient.DeleteMessageCommand': sqs('sqs:DeleteMessage'),
  'SQSClient.DeleteMessageBatchCommand': sqs('sqs:DeleteMessage'),
  'SQSClient.ChangeMessageVisibilityCommand': sqs('sqs:ChangeMessageVisibility'),
  'SQSClient.GetQueueAttributesCommand': sqs('sqs:GetQueueAttributes'),
  'SQSClient.SetQueueAttributesCommand': sqs('sqs:SetQueueAttributes'),
  'SQSClient.DeleteQueueCommand': sqs('sqs:DeleteQueue'),
  'SQSClient.GetQueueUrlCommand': (i, c) => ({ action: 'sqs:GetQueueUrl', resource: `arn:aws:sqs:${c.region}:${String(i.QueueOwnerAWSAccountId ?? c.account)}:${String(i.QueueName)}` }),
  'SQSClient.CreateQueueCommand': (i, c) => ({ action: 'sqs:CreateQueue', resource: `arn:aws:sqs:${c.region}:${c.account}:${String(i.QueueName)}` }),
  'SNSClient.PublishCommand': (i) => ({ action: 'sns:Publish', resource: String(i.TopicArn) }),
  'SNSClient.SubscribeCommand': (i) => ({ action: 'sns:Subscribe', resource: String(i.TopicArn) }),
  'SNSClient.UnsubscribeCommand': (i) => ({ action: 'sns:Unsubscribe', resource: String(i.SubscriptionArn).split(':').slice(0, 6).join(':') }),
  'LambdaClient.InvokeCommand': (i, c) => ({
    action: 'lambda:InvokeFunction',
    resource: String(i.FunctionName).startsWith('arn:') ? String(i.FunctionName) : `arn:aws:lambda:${c.region}:${c.account}:function:${String(i.FunctionName)}`,
  }),
  'CloudTrailClient.LookupEventsCommand': () => ({ action: 'cloudtrail:LookupEvents', resource: '*' }),
  'CloudTrailClient.ListPublicKeysCommand': () => ({ action: 'cloudtrail:ListPublicKeys', resource: '*' }),
}

/** Calls every principal may make without a grant. */
const UNCONDITIONAL = new Set(['STSClient.GetCallerIdentityCommand'])

/** The bus of one PutEvents entry (a name, an ARN, or the default bus). */
function busArn(name: unknown, c: { region: string; account: string }): string {
  const bus = str(name) ?? 'default'
  return bus.startsWith('arn:') ? bus : `arn:aws:events:${c.region}:${c.account}:event-bus/${bus}`
}

/** The requests IAM evaluates for one recorded call (empty for calls needing no grant). */
export function iamRequestsFor(call: RecordedCall, c: CallContext, facts: DeploymentPolicies): IamRequest[] {
  const id = `${call.client}.${call.command}`
  if (UNCONDITIONAL.has(id)) return []
  const account = accountOfArn(c.roleArn)
  const base = { 'aws:SecureTransport': 'true', 'aws:PrincipalArn': c.roleArn, 'aws:PrincipalAccount': account, 'aws:RequestedRegion': c.region }
  if (id === 'EventBridgeClient.PutEventsCommand') {
    const entries = (call.input.Entries as { EventBusName?: string }[] | undefined) ?? [{}]
    return [...new Set(entries.map((e) => busArn(e.EventBusName, { region: c.region, account })))].map((resource) => ({ action: 'events:PutEvents', resource, resourceAccount: accountOfArn(resource), context: base }))
  }
  const build = IAM_REQUESTS[id]
  if (!build) throw new UnmappedCallError(`no IAM mapping for ${call.client} ${call.command} (made by ${c.roleArn}): add it to IAM_REQUESTS in forensics/permissions/iam-requests.ts`)
  const r = build(call.input, { ...c, account, facts, output: call.output })
  const resourceAccount = r.resourceAccount ?? (r.resource.startsWith('arn:aws:s3:::') ? facts.bucketAccounts.get(r.resource.slice(13).split('/')[0]) ?? account : accountOfArn(r.resource) || account)
  // KMS puts the caller's account into every request's context
  const kms: Record<string, string> = r.action.startsWith('kms:') ? { 'kms:CallerAccount': account } : {}
  const request: IamRequest = { action: r.action, resource: r.resource, resourceAccount, context: { ...base, ...kms, ...(r.context ?? {}) } }
  return [request, ...impliedRequests(request, call.command, c, facts)]
}

/**
 * Requests AWS makes with the caller's permission: S3 uses the bucket's default-encryption
 * key (GenerateDataKey to write, Decrypt to read), SQS and SNS the queue's or topic's key.
 */
function impliedRequests(r: IamRequest, command: string, c: CallContext, facts: DeploymentPolicies): IamRequest[] {
  const kms = (action: string, key: string, service: string): IamRequest => ({
    action, resource: key, resourceAccount: accountOfArn(key), via: r.action,
    context: { ...r.context, 'kms:ViaService': `${service}.${c.region}.amazonaws.com`, 'kms:CallerAccount': accountOfArn(c.roleArn) },
  })
  if (r.resource.startsWith('arn:aws:s3:::')) {
    const key = facts.bucketKeys.get(r.resource.slice(13).split('/')[0])
    if (!key) return []
    // HeadObject, UploadPart and CompleteMultipartUpload use no key of the caller's
    if (command === 'PutObjectCommand') return [kms('kms:GenerateDataKey', key, 's3')]
    if (command === 'CreateMultipartUploadCommand') return [kms('kms:GenerateDataKey', key, 's3'), kms('kms:Decrypt', key, 's3')]
    if (command === 'GetObjectCommand') return [kms('kms:Decrypt', key, 's3')]
    return []
  }
  const key = facts.messageKeys.get(r.resource)
  if (!key) return []
  if (r.action === 'sqs:SendMessage' || r.action === 'sns:Publish') return [kms('kms:GenerateDataKey', key, r.action.split(':')[0]), kms('kms:Decrypt', key, r.action.split(':')[0])]
  if (r.action === 'sqs:ReceiveMessage') return [kms('kms:Decrypt', key, 'sqs')]
  return []
}
