/**
 * AWS calls recorded through the SDK's logger middleware (against the emulator), mapped to
 * IAM requests, and evaluated with the policy simulator against policies read from a plan
 * and its applied state (here a small hand-written pair; the deploy rehearsal test uses the
 * real ones).
 */
import t from 'tap'
import { mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { CreateBucketCommand, GetBucketPolicyCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3'
import { asPrincipal, sdkSettingsFromEnv } from '../forensics/aws/sdk-config.js'
import { callRecorderLogger, callRecordingEnabled, recordAwsCalls, type RecordedCall } from '../forensics/aws/call-recorder.js'
import { deploymentPolicies, type AppliedStack } from '../forensics/permissions/deployment-policies.js'
import { iamRequestsFor, UnmappedCallError } from '../forensics/permissions/iam-requests.js'
import { loadIamSimulator } from '../forensics/permissions/iam-simulator.js'
import { permissionsSufficient, renderUnusedGrants, simulatePermissions } from '../forensics/permissions/simulate-permissions.js'
import { useEmulator } from './fixtures/emulator.js'

const ACCOUNT = '111111111111'
const ROLE = `arn:aws:iam::${ACCOUNT}:role/forensics-bucket-config`
const KEY = `arn:aws:kms:eu-west-1:${ACCOUNT}:key/k-1`

t.test('calls made inside recordAwsCalls are recorded with their function, outcome and principal', async (t) => {
  const emulator = await useEmulator(t)
  const env = { ...emulator.env() }
  const calls: RecordedCall[] = []
  await recordAwsCalls((c) => calls.push(c), 'forensics-bucket-config', async () => {
    t.ok(callRecordingEnabled(env))
    const s3 = new S3Client({ ...emulator.clientConfig(), ...sdkSettingsFromEnv(env) })
    await s3.send(new CreateBucketCommand({ Bucket: 'recorded' }))
    await s3.send(new PutObjectCommand({ Bucket: 'recorded', Key: 'a/b.json', Body: 'secret bytes' }))
    await t.rejects(s3.send(new GetBucketPolicyCommand({ Bucket: 'recorded' })))
    const member = new S3Client({ ...emulator.clientConfig(), ...asPrincipal(sdkSettingsFromEnv(env), env, 'arn:aws:iam::222222222222:role/member') })
    await member.send(new PutObjectCommand({ Bucket: 'recorded', Key: 'c', Body: 'x' }))
  })
  t.match(calls, [
    { client: 'S3Client', command: 'CreateBucketCommand', function: 'forensics-bucket-config', outcome: 'ok', input: { Bucket: 'recorded' } },
    { command: 'PutObjectCommand', input: { Bucket: 'recorded', Key: 'a/b.json' }, outcome: 'ok' },
    { command: 'GetBucketPolicyCommand', outcome: 'error', error: 'NoSuchBucketPolicy' },
    { command: 'PutObjectCommand', principal: 'arn:aws:iam::222222222222:role/member' },
  ])
  t.notOk(JSON.stringify(calls).includes('secret bytes'), 'bodies are never recorded')

  const outside: RecordedCall[] = []
  const s3 = new S3Client({ ...emulator.clientConfig(), ...sdkSettingsFromEnv(env) })
  await s3.send(new PutObjectCommand({ Bucket: 'recorded', Key: 'outside', Body: 'x' }))
  t.same(outside, [], 'calls outside a recording go nowhere')
})

t.test('FORENSICS_AWS_CALL_LOG appends each call as a JSON line attributed to the Lambda function', async (t) => {
  const file = join(mkdtempSync(join(tmpdir(), 'calls-')), 'calls.jsonl')
  const logger = callRecorderLogger({ FORENSICS_AWS_CALL_LOG: file, AWS_LAMBDA_FUNCTION_NAME: 'forensics-drill' })
  logger.info({ clientName: 'SQSClient', commandName: 'SendMessageCommand', input: { QueueUrl: 'http://q/1/dlq', MessageBody: 'payload' }, output: { MessageId: 'm' } })
  logger.error({ clientName: 'KMSClient', commandName: 'SignCommand', input: { KeyId: 'alias/x', Message: new Uint8Array([1]) }, error: { name: 'AccessDeniedException' } })
  logger.info({ message: 'not a command' })
  logger.debug()
  logger.warn()
  const lines = readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as RecordedCall)
  t.match(lines, [
    { client: 'SQSClient', command: 'SendMessageCommand', function: 'forensics-drill', input: { QueueUrl: 'http://q/1/dlq' }, outcome: 'ok' },
    { client: 'KMSClient', command: 'SignCommand', outcome: 'error', error: 'AccessDeniedException', input: { KeyId: 'alias/x' } },
  ])
  t.notOk('MessageBody' in lines[0].input, 'message bodies are left out')
  t.equal(lines.length, 2)
})

/** A small applied stack: one function role, an encrypted bucket with a deny policy, a signing key. */
function stack(): AppliedStack {
  const policy = (statements: unknown[]): string => JSON.stringify({ Version: '2012-10-17', Statement: statements })
  return {
    accountId: ACCOUNT,
    region: 'eu-west-1',
    plan: {
      resource: {
        aws_iam_role: { r: { name: 'forensics-bucket-config', assume_role_policy: policy([{ Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' }]) } },
        aws_iam_role_policy: {
          p: {
            name: 'least-privilege', role: '${aws_iam_role.r.id}',
            policy: policy([
              { Sid: 'EvidenceWriteOwnPrefix', Effect: 'Allow', Action: ['s3:PutObject', 's3:AbortMultipartUpload'], Resource: '${aws_s3_bucket.b.arn}/cases/*' },
              { Sid: 'ReadTarget', Effect: 'Allow', Action: ['s3:GetBucketPolicy', 's3:GetBucketTagging'], Resource: 'arn:aws:s3:::target' },
            ]),
          },
        },
        aws_iam_role_policy_attachment: { x: { role: '${aws_iam_role.r.name}', policy_arn: 'arn:aws:iam::aws:policy/AWSXRayDaemonWriteAccess' } },
        aws_lambda_function: { f: { function_name: 'forensics-bucket-config', role: '${aws_iam_role.r.arn}' } },
        aws_s3_bucket: { b: { bucket: 'evidence' } },
        aws_s3_bucket_server_side_encryption_configuration: { e: { bucket: '${aws_s3_bucket.b.id}', rule: [{ apply_server_side_encryption_by_default: { kms_master_key_id: '${aws_kms_key.k.arn}' } }] } },
        aws_s3_bucket_policy: { bp: { bucket: '${aws_s3_bucket.b.id}', policy: policy([{ Sid: 'DenyInsecureTransport', Effect: 'Deny', Principal: '*', Action: 's3:*', Resource: '${aws_s3_bucket.b.arn}/*', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }]) } },
        aws_kms_key: {
          k: {
            policy: policy([{ Sid: 'UseThroughS3', Effect: 'Allow', Principal: { AWS: '${aws_iam_role.r.arn}' }, Action: ['kms:GenerateDataKey', 'kms:Decrypt', 'kms:Sign'], Resource: '*', Condition: { StringEquals: { 'kms:CallerAccount': ACCOUNT } } }]),
          },
        },
        aws_kms_alias: { a: { name: 'alias/forensics-signing', target_key_id: '${aws_kms_key.k.key_id}' } },
      },
    },
    state: {
      values: {
        root_module: {
          resources: [
            { address: 'aws_iam_role.r', type: 'aws_iam_role', name: 'r', values: { arn: ROLE, id: 'forensics-bucket-config', name: 'forensics-bucket-config' } },
            { address: 'aws_s3_bucket.b', type: 'aws_s3_bucket', name: 'b', values: { arn: 'arn:aws:s3:::evidence', id: 'evidence' } },
            { address: 'aws_kms_key.k', type: 'aws_kms_key', name: 'k', values: { arn: KEY, key_id: 'k-1' } },
          ],
        },
      },
    },
  }
}

t.test('recorded calls become IAM requests, with the KMS requests S3 makes for the caller', async (t) => {
  const policies = deploymentPolicies([stack()])
  t.equal(policies.functionRoles.get('forensics-bucket-config'), ROLE)
  t.equal(policies.bucketKeys.get('evidence'), KEY)
  t.equal(policies.aliases.get('alias/forensics-signing'), KEY)
  t.same(policies.managedAttachments.get(ROLE), ['arn:aws:iam::aws:policy/AWSXRayDaemonWriteAccess'])
  const c = { roleArn: ROLE, region: 'eu-west-1' }
  const call = (command: string, input: Record<string, unknown>, client = 'S3Client'): RecordedCall => ({ client, command, input, output: {}, outcome: 'ok' })
  t.match(iamRequestsFor(call('PutObjectCommand', { Bucket: 'evidence', Key: 'cases/a/x' }), c, policies), [
    { action: 's3:PutObject', resource: 'arn:aws:s3:::evidence/cases/a/x', resourceAccount: ACCOUNT, context: { 'aws:SecureTransport': 'true', 'aws:PrincipalArn': ROLE } },
    { action: 'kms:GenerateDataKey', resource: KEY, via: 's3:PutObject', context: { 'kms:ViaService': 's3.eu-west-1.amazonaws.com', 'kms:CallerAccount': ACCOUNT } },
  ])
  t.equal(iamRequestsFor(call('HeadObjectCommand', { Bucket: 'evidence', Key: 'k', VersionId: 'v' }), c, policies).length, 1, 'HeadObject uses no key')
  t.match(iamRequestsFor(call('GetObjectCommand', { Bucket: 'evidence', Key: 'k', VersionId: 'v' }), c, policies), [{ action: 's3:GetObjectVersion' }, { action: 'kms:Decrypt' }])
  t.match(iamRequestsFor(call('ListObjectsV2Command', { Bucket: 'trail', Prefix: 'AWSLogs/' }), c, policies), [{ action: 's3:ListBucket', context: { 's3:prefix': 'AWSLogs/' } }])
  t.match(iamRequestsFor(call('SignCommand', { KeyId: 'alias/forensics-signing', SigningAlgorithm: 'ECDSA_SHA_256' }, 'KMSClient'), c, policies), [{ action: 'kms:Sign', resource: KEY, context: { 'kms:SigningAlgorithm': 'ECDSA_SHA_256' } }])
  const answered = (keyId: string): RecordedCall => ({ ...call('GetPublicKeyCommand', { KeyId: 'alias/forensics-signing' }, 'KMSClient'), output: { KeyId: keyId } })
  t.match(iamRequestsFor(answered(KEY), c, policies), [{ action: 'kms:GetPublicKey', resource: KEY }], 'the key ARN KMS answers with')
  t.match(iamRequestsFor(answered('k-1'), c, policies), [{ action: 'kms:GetPublicKey', resource: KEY }], 'a bare key id (as the emulator answers) is the key ARN in the caller\'s account')
  t.match(iamRequestsFor(call('AssumeRoleCommand', { RoleArn: 'arn:aws:iam::222222222222:role/m', ExternalId: 'x' }, 'STSClient'), c, policies), [{ action: 'sts:AssumeRole', resourceAccount: '222222222222', context: { 'sts:ExternalId': 'x' } }])
  t.match(iamRequestsFor(call('SendMessageCommand', { QueueUrl: 'http://127.0.0.1:1/111111111111/dlq' }, 'SQSClient'), c, policies), [{ action: 'sqs:SendMessage', resource: 'arn:aws:sqs:eu-west-1:111111111111:dlq' }])
  t.match(iamRequestsFor(call('PutEventsCommand', { Entries: [{ EventBusName: 'siem' }, {}] }, 'EventBridgeClient'), c, policies).map((r) => r.resource), [
    'arn:aws:events:eu-west-1:111111111111:event-bus/siem', 'arn:aws:events:eu-west-1:111111111111:event-bus/default',
  ])
  t.same(iamRequestsFor(call('GetCallerIdentityCommand', {}, 'STSClient'), c, policies), [], 'GetCallerIdentity needs no grant')
  t.throws(() => iamRequestsFor(call('DeleteBucketCommand', { Bucket: 'x' }), c, policies), UnmappedCallError)
  t.throws(() => deploymentPolicies([{ ...stack(), state: {} }]), { name: 'ValidationError', message: /which the applied state does not have/ })
})

t.test('permissions-sufficient: allowed calls pass; a missing grant, a denying key policy or an unmapped call fail it by name', async (t) => {
  const simulator = await loadIamSimulator()
  const calls: RecordedCall[] = [
    { client: 'S3Client', command: 'PutObjectCommand', input: { Bucket: 'evidence', Key: 'cases/a/x' }, output: {}, outcome: 'ok', function: 'forensics-bucket-config' },
    { client: 'S3Client', command: 'GetBucketPolicyCommand', input: { Bucket: 'target' }, output: {}, outcome: 'ok', function: 'forensics-bucket-config' },
    { client: 'KMSClient', command: 'SignCommand', input: { KeyId: 'alias/forensics-signing', SigningAlgorithm: 'ECDSA_SHA_256' }, output: { KeyId: KEY }, outcome: 'ok', function: 'forensics-bucket-config' },
  ]
  const report = await simulatePermissions(calls, deploymentPolicies([stack()]), simulator, { region: 'eu-west-1' })
  t.match(permissionsSufficient(report), { name: 'permissions-sufficient', verdict: 'pass', summary: /4 request\(s\) of 3 recorded call\(s\) allowed/ })
  t.same(report.exercisedRoles, [ROLE])
  t.match(report.unused, [
    { sid: 'EvidenceWriteOwnPrefix', action: 's3:AbortMultipartUpload', justification: /aborted/ },
    { sid: 'ReadTarget', action: 's3:GetBucketTagging' },
  ])
  t.notOk(report.unused[1].justification, 'an unjustified grant says so')
  t.match(renderUnusedGrants(report)[1], /ReadTarget s3:GetBucketTagging: UNUSED, remove it or justify it in GRANT_JUSTIFICATIONS/)

  const noTagging = stack()
  const rp = noTagging.plan.resource?.aws_iam_role_policy.p as { policy: string }
  rp.policy = rp.policy.replace('"s3:GetBucketPolicy",', '')
  const missing = permissionsSufficient(await simulatePermissions(calls, deploymentPolicies([noTagging]), simulator, { region: 'eu-west-1' }))
  t.match(missing, { verdict: 'fail', summary: `1 request(s) not allowed: S3Client GetBucketPolicyCommand by ${ROLE} (forensics-bucket-config): s3:GetBucketPolicy on arn:aws:s3:::target ImplicitlyDenied` })

  const otherAccount = stack()
  const key = otherAccount.plan.resource?.aws_kms_key.k as { policy: string }
  key.policy = key.policy.replace(`"kms:CallerAccount":"${ACCOUNT}"`, '"kms:CallerAccount":"999999999999"')
  const keyDenied = permissionsSufficient(await simulatePermissions(calls, deploymentPolicies([otherAccount]), simulator, { region: 'eu-west-1' }))
  t.match(keyDenied.summary, `kms:GenerateDataKey on ${KEY} for s3:PutObject ImplicitlyDenied`, 'the key policy is evaluated for the request S3 makes')

  const odd = permissionsSufficient(await simulatePermissions([{ client: 'S3Client', command: 'DeleteBucketCommand', input: {}, output: {}, outcome: 'ok', function: 'forensics-bucket-config' }, { client: 'S3Client', command: 'HeadBucketCommand', input: { Bucket: 'x' }, output: {}, outcome: 'ok', function: 'nobody' }], deploymentPolicies([stack()]), simulator, { region: 'eu-west-1' }))
  t.match(odd.summary, /DeleteBucketCommand by .* \? on \? unmapped; S3Client HeadBucketCommand by \(unknown\) \(nobody\)/)
  t.match(permissionsSufficient(await simulatePermissions([], deploymentPolicies([stack()]), simulator, { region: 'eu-west-1' })), { verdict: 'fail', summary: /no AWS call was recorded/ })
})
