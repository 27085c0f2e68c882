/**
 * `cdktf deploy` rehearsed: the synthesized forensics and member stacks applied with
 * Terraform into one emulator (two accounts), a member-account change carried to a committed
 * capture through the deployed forwarding rule, intake rule and member role, then `terraform
 * destroy`. One apply is shared by the tests of this file. It runs whenever Terraform and
 * the AWS provider are available; with CI=true their absence is a failure.
 */
import t from 'tap'
import { createHash } from 'node:crypto'
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { EventBridgeClient, ListTargetsByRuleCommand } from '@aws-sdk/client-eventbridge'
import { CreateBucketCommand, GetBucketPolicyCommand, GetObjectCommand, HeadBucketCommand, HeadObjectCommand, ListObjectVersionsCommand, S3Client } from '@aws-sdk/client-s3'
import { LambdaClient, ListFunctionsCommand, UpdateFunctionCodeCommand, UpdateFunctionConfigurationCommand } from '@aws-sdk/client-lambda'
import { ListQueuesCommand, SQSClient } from '@aws-sdk/client-sqs'
import { ListTopicsCommand, SNSClient } from '@aws-sdk/client-sns'
import { synthesizeForensicsApp } from '../stacks/app.js'
import { startEmulator, type Emulator } from '../forensics/local/emulator.js'
import { resourceNames } from '../forensics/routing.js'
import { EMULATOR_POLICY_GAPS, EMULATOR_POLICY_KEPT } from '../forensics/rehearsal/emulator-override.js'
import { DeployRehearsal, markRehearsalOutput, type AccountCredentials } from '../forensics/rehearsal/rehearsal.js'
import { terraformAvailability } from '../forensics/rehearsal/terraform.js'
import type { RecordedCall } from '../forensics/aws/call-recorder.js'
import { deploymentPolicies } from '../forensics/permissions/deployment-policies.js'
import { loadIamSimulator } from '../forensics/permissions/iam-simulator.js'
import { permissionsSufficient, renderUnusedGrants, simulatePermissions } from '../forensics/permissions/simulate-permissions.js'
import { loadDataset } from './fixtures/cloudtrail/archive.js'
import { assetOf, deployedFunction, runDeployedFunction } from '../forensics/rehearsal/deployed-function.js'
import { carryMemberTrigger } from '../forensics/rehearsal/member-trigger.js'
import { DeployedDeployment } from '../forensics/rehearsal/deployed-deployment.js'
import { enabledFunctionKeys } from '../forensics/routing.js'
import { deployedPermissionsCheck, runRehearsedDrill } from '../cli/commands/drill-rehearsed.js'

// Terraform starts its (700 MB) AWS provider several times per command: on a busy 2-core
// machine one apply of the forensics stack takes minutes.
t.setTimeout(1_800_000)
const availability = terraformAvailability()
if (!availability.available) {
  if (process.env.CI) t.fail(`the deploy rehearsal must run in CI, but cannot: ${availability.reason}`)
  else t.skip(`deploy rehearsal: did not run, ${availability.reason}`, async () => undefined)
} else {
  await rehearse(availability.toolchain)
}

async function rehearse(toolchain: Extract<ReturnType<typeof terraformAvailability>, { available: true }>['toolchain']): Promise<void> {
  const workDir = mkdtempSync(join(tmpdir(), 'forensics-rehearsal-'))
  const synthDir = join(workDir, 'cdktf.out')
  mkdirSync(synthDir)
  const { stacks } = synthesizeForensicsApp({ outdir: synthDir, env: { ...process.env, FORENSICS_CONFIG: join(import.meta.dirname, '..', 'forensics.config.json') } })
  markRehearsalOutput(synthDir)
  const config = stacks.forensics.config
  const names = resourceNames(config)
  const member = config.memberAccounts[0]
  const memberStack = stacks.members[0].node.id

  const emulator: Emulator = await startEmulator({ region: config.region, awsManagedPolicies: true })
  // the member stack's destroy runs while the forensics-account tests go on (below)
  let memberDestroyed: ReturnType<DeployRehearsal['destroy']> | undefined = undefined
  t.teardown(async () => {
    await memberDestroyed?.catch(() => undefined)
    if (!t.passing()) t.comment(`emulator log (${emulator.logFile}):\n${emulator.readLog().split('\n').slice(-40).join('\n')}`)
    await emulator.stop()
    // states, Terraform logs and the drill's bundle are kept for a look when something failed
    if (t.passing()) rmSync(workDir, { recursive: true, force: true })
    else t.comment(`rehearsal files kept in ${workDir}`)
  })
  const lines: string[] = []
  const rehearsal = await DeployRehearsal.prepare({
    emulator, toolchain, synthDir, workDir, log: (l) => lines.push(l),
    stacks: [{ name: config.name, accountId: config.forensicsAccountId }, { name: memberStack, accountId: member }],
  })
  const as = (c: AccountCredentials): { endpoint: string; region: string; credentials: AccountCredentials; forcePathStyle: true } => ({ endpoint: emulator.endpoint, region: emulator.region, credentials: c, forcePathStyle: true })
  const F = rehearsal.credentials(config.forensicsAccountId)
  const M = rehearsal.credentials(member)

  // the plans and states as applied, kept for the permission simulations (the member stack is
  // destroyed while the forensics-account tests run)
  let applied: { accountId: string; region: string; plan: ReturnType<DeployRehearsal['plan']>; state: ReturnType<DeployRehearsal['state']> }[] = []
  await t.test('the first apply of each stack creates every planned resource', async (t) => {
    t.same(rehearsal.stacks.filter((s) => s.readsOtherStacks).map((s) => s.name), [], 'no stack reads another\'s state: they are applied at the same time')
    const runs = await rehearsal.applyAll()
    for (const s of rehearsal.stacks) {
      const run = runs.get(s.name)
      t.equal(run?.code, 0, `${s.name} applied on the first try`)
      t.equal(run?.resources, s.planned, `${s.name}: ${run?.resources} resources in ${run?.seconds.toFixed(0)} s`)
      const planned = Object.entries(rehearsal.plan(s.name).resource ?? {}).flatMap(([type, byId]) => Object.keys(byId).map((id) => `${type}.${id}`))
      t.same(rehearsal.stateList(s.name).sort(), planned.sort(), `${s.name}: the state holds exactly the planned resources`)
    }
    t.ok(lines.some((l) => l.includes('plugin mirror') || l.includes('registry')), 'the provider source is reported')
    applied = [config.name, memberStack].map((n) => ({ accountId: rehearsal.stack(n).accountId, region: config.region, plan: rehearsal.plan(n), state: rehearsal.state(n) }))
  })

  await t.test('the emulator gets the bucket policies without the listed statements; the plan keeps them', async (t) => {
    const deployed = JSON.parse((await new S3Client(as(F)).send(new GetBucketPolicyCommand({ Bucket: names.evidenceBucket }))).Policy ?? '{}') as { Statement: { Sid: string }[] }
    const sids = deployed.Statement.map((s) => s.Sid)
    for (const gap of EMULATOR_POLICY_GAPS) t.notOk(sids.includes(gap.sid), `${gap.sid} replaced in the emulator`)
    for (const kept of EMULATOR_POLICY_KEPT) t.ok(sids.includes(kept.sid), `${kept.sid} kept`)
    const plan = readFileSync(join(synthDir, 'stacks', config.name, 'cdk.tf.json'), 'utf8')
    for (const gap of EMULATOR_POLICY_GAPS) t.ok(plan.includes(`"Sid\\":\\"${gap.sid}\\"`), `${gap.sid} is still in the synthesized plan`)
    const replaced = rehearsal.stack(config.name).replaced
    t.same(new Set(replaced.map((r) => r.sid)), new Set(EMULATOR_POLICY_GAPS.map((g) => g.sid)), 'each replacement is reported')
    t.ok(replaced.every((r) => lines.some((l) => l.includes(r.resource) && l.includes(r.sid))), 'and printed')
  })

  let manifestKey = ''
  const recorded: RecordedCall[] = []
  await t.test('a member-account PutBucketPolicy reaches a committed capture through the forwarding rule and the member role', async (t) => {
    const watched = config.watchedBuckets[0]
    // A real CloudTrail PutBucketPolicy record (vendored dataset), adapted to the member
    // account, region and a watched bucket; the emulator has no CloudTrail, so it is put on
    // the member's default bus as CloudTrail's EventBridge integration would.
    const real = loadDataset('splunk-s3-open-bucket').find((e) => e.eventName === 'PutBucketPolicy') as Record<string, unknown>
    const record = {
      ...real,
      awsRegion: config.region,
      recipientAccountId: member,
      eventID: '5f0d5d1e-0000-4000-8000-000000000014',
      eventTime: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
      requestParameters: { ...(real.requestParameters as object), bucketName: watched },
      userIdentity: { ...(real.userIdentity as object), accountId: member, arn: `arn:aws:iam::${member}:user/jose-attackrange` },
      resources: [{ accountId: member, type: 'AWS::S3::Bucket', ARN: `arn:aws:s3:::${watched}` }],
    }
    const { delivery: delivered, run } = await carryMemberTrigger({
      emulator, forensics: F, member: M, memberAccountId: member, bucket: watched, record,
      functionName: names.functions['bucket-config'], stackDir: rehearsal.stack(config.name).dir,
    })
    const forwarding = await new EventBridgeClient(as(M)).send(new ListTargetsByRuleCommand({ Rule: `${config.name}-forward-s3-access-changes` }))
    t.match(forwarding.Targets, [{ Arn: `arn:aws:events:${config.region}:${config.forensicsAccountId}:event-bus/${names.intakeEventBus}`, RoleArn: `arn:aws:iam::${member}:role/${names.eventForwarderRole}` }], 'the member forwards to the intake bus with its forwarding role')
    t.equal(delivered.rule, `arn:aws:events:${config.region}:${config.forensicsAccountId}:rule/${names.intakeEventBus}/${config.name}-s3-access-changes`, 'matched by the deployed capture rule on the intake bus')
    t.match(delivered.event, { source: 'aws.s3', 'detail-type': 'AWS API Call via CloudTrail', detail: { recipientAccountId: member, eventName: 'PutBucketPolicy', eventID: record.eventID } })
    recorded.push(...run.calls)
    t.ok(run.ok, `bucket-config ran from its deployed asset: ${run.error ?? 'ok'}`)
    const result = run.result as { manifestKey: string; status: string }
    t.match(result, { manifestKey: /^cases\/.+\/manifest\.json$/ })
    manifestKey = result.manifestKey
    const memberRole = `arn:aws:iam::${member}:role/${names.memberRole}`
    t.ok(run.calls.some((c) => c.command === 'AssumeRoleCommand' && c.input.RoleArn === memberRole && c.outcome === 'ok'), 'the capture assumed the member read-only role')
    t.ok(run.calls.some((c) => c.command === 'GetBucketPolicyCommand' && c.principal === memberRole && c.input.Bucket === watched && c.outcome === 'ok'), 'and read the policy as that role')
    const s3F = new S3Client(as(F))
    const manifest = JSON.parse(await (await s3F.send(new GetObjectCommand({ Bucket: names.evidenceBucket, Key: manifestKey }))).Body!.transformToString()) as Record<string, unknown>
    t.match(manifest, { status: 'complete', target: { bucket: watched, accountId: member } }, 'the capture is committed in the deployed evidence bucket')
  })

  // nothing below acts in the member account: its destroy goes on meanwhile (asserted last)
  memberDestroyed = rehearsal.destroy(memberStack)

  await t.test('permissions-sufficient: every recorded call is allowed by the synthesized policies; one missing action fails it, naming call and role', async (t) => {
    // a capture in the forensics account too (the canary bucket), so the function's own reads are exercised
    const canary = config.drill.canaryBucket as string
    await new S3Client(as(F)).send(new CreateBucketCommand({ Bucket: canary, CreateBucketConfiguration: { LocationConstraint: config.region as 'eu-west-1' } }))
    const bucketConfig = await deployedFunction(emulator, F, names.functions['bucket-config'])
    const own = await runDeployedFunction(emulator, F, bucketConfig, assetOf(rehearsal.stack(config.name).dir, bucketConfig.name), { caseId: 'rehearsal-canary', bucket: canary, id: 'rehearsal:canary' })
    t.ok(own.ok, `capture of the canary bucket: ${own.error ?? 'ok'}`)
    recorded.push(...own.calls)

    const policies = deploymentPolicies(applied)
    const simulator = await loadIamSimulator()
    const report = await simulatePermissions(recorded, policies, simulator, { region: config.region })
    const check = permissionsSufficient(report)
    t.equal(check.verdict, 'pass', check.summary)
    t.ok(report.requests > report.calls, `${report.requests} requests for ${report.calls} calls: KMS requests S3 makes with the caller's permission are evaluated too`)
    const bucketConfigRole = policies.functionRoles.get(bucketConfig.name) as string
    const unjustified = report.unused.filter((u) => u.role === bucketConfigRole && !u.justification)
    t.same(unjustified, [], 'every grant of the bucket-config role is used by these captures or justified in GRANT_JUSTIFICATIONS')
    t.comment(renderUnusedGrants(report).filter((l) => l.startsWith(bucketConfigRole)).join('\n'))

    // the real evidence bucket policy is evaluated, not the emulator's copy
    const evidenceKey = policies.bucketKeys.get(names.evidenceBucket) as string
    const put = (context: Record<string, string>): Promise<{ decision: string }> => simulator.evaluate({
      principal: bucketConfigRole,
      request: { action: 's3:PutObject', resource: `arn:aws:s3:::${names.evidenceBucket}/cases/x/captures/y/a.json`, resourceAccount: config.forensicsAccountId, context: { 'aws:SecureTransport': 'true', 'aws:PrincipalArn': bucketConfigRole, ...context } },
      identityPolicies: policies.rolePolicies.get(bucketConfigRole) ?? [],
      resourcePolicy: policies.resourcePolicies.get(`arn:aws:s3:::${names.evidenceBucket}`),
    })
    t.equal((await put({})).decision, 'Allowed', 'a put relying on default encryption is allowed')
    t.equal((await put({ 's3:x-amz-server-side-encryption': 'AES256' })).decision, 'ExplicitlyDenied', 'a put asking for SSE-S3 is refused by the bucket policy')
    t.equal((await put({ 's3:x-amz-server-side-encryption': 'aws:kms', 's3:x-amz-server-side-encryption-aws-kms-key-id': `${evidenceKey}-other` })).decision, 'ExplicitlyDenied', 'so is one naming another key')
    t.equal((await put({ 'aws:SecureTransport': 'false' })).decision, 'ExplicitlyDenied', 'and one over plain HTTP')

    // one needed action removed from the member role: the check fails naming the call and the role
    const memberRole = `arn:aws:iam::${member}:role/${names.memberRole}`
    const withoutGetBucketPolicy = deploymentPolicies(applied)
    for (const p of withoutGetBucketPolicy.rolePolicies.get(memberRole) ?? []) {
      for (const st of p.document.Statement) if (Array.isArray(st.Action)) st.Action = st.Action.filter((a) => a !== 's3:GetBucketPolicy')
    }
    const broken = permissionsSufficient(await simulatePermissions(recorded, withoutGetBucketPolicy, simulator, { region: config.region }))
    t.equal(broken.verdict, 'fail')
    t.match(broken.summary, `S3Client GetBucketPolicyCommand by ${memberRole}`)
    t.match(broken.summary, 's3:GetBucketPolicy on arn:aws:s3:::payments-data-prod ImplicitlyDenied')

    // and the signing key's policy is evaluated too
    const signingKey = policies.aliases.get(`alias/${config.name}-signing`) as string
    const withoutSign = deploymentPolicies(applied)
    const keyPolicy = withoutSign.resourcePolicies.get(signingKey)
    if (keyPolicy) keyPolicy.Statement = keyPolicy.Statement.filter((st) => st.Sid !== 'ToolkitFunctionsSign')
    const unsigned = permissionsSufficient(await simulatePermissions(recorded, withoutSign, simulator, { region: config.region }))
    t.match(unsigned.summary, `KMSClient SignCommand by ${bucketConfigRole} (${bucketConfig.name}): kms:Sign on ${signingKey}`)
  })

  await t.test('forensics drill --deployed runs on the deployment the emulator reports and passes every check, permissions-sufficient included', async (t) => {
    const stackDir = rehearsal.stack(config.name).dir
    const deployment = await DeployedDeployment.read({ emulator, credentials: F, config, stackDir })
    t.equal(deployment.source.kind, 'deployed')
    t.match(deployment.source.sha256, /^[0-9a-f]{64}$/, 'a SHA-256 over the configuration read back')
    t.same(deployment.functions.map((f) => f.key).sort(), [...enabledFunctionKeys(config)].sort(), 'every deployed function, read by its name prefix')
    for (const f of deployment.functions) t.equal(createHash('sha256').update(readFileSync(f.zipPath)).digest('base64'), f.codeSha256, `${f.name} runs the asset whose SHA-256 is its CodeSha256`)
    const bucketConfigRoute = deployment.plan.routes.find((r) => r.key === 'bucket-config')
    t.match(bucketConfigRoute, { maximumRetryAttempts: config.capture.maximumRetryAttempts, maximumEventAgeInSeconds: config.capture.maximumEventAgeInSeconds, onSuccess: { type: 'lambda', functionName: names.functions['custody-recorder'] }, onFailure: { type: 'sqs', queueName: names.deadLetterQueue } }, 'the async contract is the deployed event invoke config')
    t.match(deployment.plan.eventSourceMappings, [{ functionName: names.functions['object-versions'], batchSize: 1 }], 'the deployed event source mapping')
    t.match(deployment.plan.schedule, { functionName: names.functions.drill, input: { canaryBucket: config.drill.canaryBucket } }, 'the deployed drill schedule')
    t.ok(deployment.plan.rules.some((r) => r.eventBusName === names.intakeEventBus && r.targets.some((x) => x.functionName === names.functions['bucket-config'])), 'the deployed capture rules on the intake bus')
    t.notMatch(JSON.stringify(deployment.functions.map((f) => f.environment)), /\$\{/, 'environments hold the deployed values, not the plan\'s references')
    t.equal(deployment.environment('drill').FORENSICS_DLQ_URL, deployment.side.deadLetterQueueUrl, 'the drill watches the deployed OnFailure queue')
    t.equal(deployment.resolver.queueUrl(names.fanOutQueue), deployment.environment('object-versions').FORENSICS_FANOUT_QUEUE_URL, 'names resolve to the deployed values')
    t.equal(deployment.resolver.topicArn(names.siemTopic), deployment.environment('custody-recorder').FORENSICS_SIEM_TOPIC_ARN)
    t.equal(deployment.resolver.functionArn(names.functions.drill), deployment.function('drill').arn)

    const drillLines: string[] = []
    const outcome = await runRehearsedDrill({ emulator, deployment, credentials: F, policies: deploymentPolicies(applied), outDir: join(workDir, 'drills'), log: (l) => drillLines.push(l) })
    const failed = outcome.report.checks.filter((c) => c.verdict !== 'pass')
    t.same(failed.map((c) => `${c.name}: ${c.summary}`), [], 'every check passes')
    t.ok(outcome.report.passed, 'the drill passed')
    t.equal(outcome.report.mode, 'deployed')
    for (const name of ['permissions-sufficient', 'deployed-rules-route', 'bundle-builds-and-verifies', 'captures-committed', 'failure-reached-dlq']) t.ok(outcome.report.checks.some((c) => c.name === name), `check ${name} ran`)
    const ran = new Set(deployment.runs.map((r) => r.key))
    for (const key of ['bucket-config', 'object-versions', 'cloudtrail-slice', 'custody-recorder'] as const) t.ok(ran.has(key), `${key} ran from its deployed code`)
    t.ok(outcome.calls.some((c) => c.function === names.functions.drill), 'the drill function\'s own calls are recorded (as its role)')
    t.ok(outcome.calls.some((c) => c.function === names.functions.drill && c.command === 'InvokeCommand' && c.input.FunctionName === names.functions['object-versions'] && c.outcome === 'ok'), 'it invokes the collectors with its own Lambda client (simulated against its role)')
    t.ok(outcome.permissions.exercisedRoles.length >= 5, `${outcome.permissions.exercisedRoles.length} roles exercised`)
    t.ok(drillLines.some((l) => l.includes(deployment.source.sha256)), 'the printed output names the deployment and its SHA-256')
    t.match(outcome.report.plan, { kind: 'deployed', file: deployment.source.file, sha256: deployment.source.sha256 }, 'the report names the deployment read back')
    t.match(outcome.report.plan?.functions['bucket-config'], `(CodeSha256 ${deployment.function('bucket-config').codeSha256})`, 'and the code each function ran')
    await new S3Client(as(F)).send(new HeadObjectCommand({ Bucket: names.evidenceBucket, Key: outcome.extraChecksKey }))
    t.comment(outcome.report.checks.map((c) => `${c.verdict} ${c.name}: ${c.summary}`).join('\n'))

    // one needed action removed from the drill's role: the drill's check fails, naming the call and the role
    const drillRole = deployment.function('drill').roleArn
    const withoutPut = deploymentPolicies(applied)
    for (const p of withoutPut.rolePolicies.get(drillRole) ?? []) {
      p.document.Statement = p.document.Statement.filter((st) => st.Action !== 's3:PutObject')
      for (const st of p.document.Statement) if (Array.isArray(st.Action)) st.Action = st.Action.filter((a) => a !== 's3:PutObject')
    }
    const functionNames = Object.fromEntries(deployment.functions.map((f) => [f.key, f.name]))
    const broken = deployedPermissionsCheck(await simulatePermissions(outcome.calls, withoutPut, await loadIamSimulator(), { region: config.region }), functionNames)
    t.equal(broken.verdict, 'fail', 'without s3:PutObject the drill role does not suffice')
    t.match(broken.summary, `S3Client PutObjectCommand by ${drillRole} (${names.functions.drill}): s3:PutObject on arn:aws:s3:::${names.evidenceBucket}/`)
  })

  await t.test('a deployed function whose code matches no asset fails the deployed drill naming it, before anything is written', async (t) => {
    const s3F = new S3Client(as(F))
    const count = async (): Promise<number> => ((await s3F.send(new ListObjectVersionsCommand({ Bucket: names.evidenceBucket }))).Versions ?? []).length
    const before = await count()
    const stackDir = rehearsal.stack(config.name).dir
    // the configuration is read back, not taken from the plan: a changed environment shows, and changes the SHA-256
    const lambda = new LambdaClient(as(F))
    const read = (): Promise<DeployedDeployment> => DeployedDeployment.read({ emulator, credentials: F, config, stackDir })
    const first = await read()
    await lambda.send(new UpdateFunctionConfigurationCommand({ FunctionName: names.functions['bucket-config'], Environment: { Variables: { ...first.function('bucket-config').environment, FORENSICS_RETENTION_DAYS: '400' } } }))
    const changed = await read()
    t.equal(changed.function('bucket-config').environment.FORENSICS_RETENTION_DAYS, '400', 'the environment the Lambda API reports')
    t.not(changed.source.sha256, first.source.sha256, 'a different configuration, a different SHA-256')
    const other = Buffer.concat([readFileSync(assetOf(stackDir, names.functions['bucket-config'])), Buffer.from('not the synthesized asset')])
    await lambda.send(new UpdateFunctionCodeCommand({ FunctionName: names.functions['bucket-config'], ZipFile: other }))
    await t.rejects(read(), { name: 'ValidationError', message: new RegExp(`^${names.functions['bucket-config']} \\(CodeSha256 [^)]+\\): the deployed code matches no asset`) })
    t.equal(await count(), before, 'nothing was written to the evidence bucket')
  })

  await t.test('terraform destroy leaves the evidence bucket with its evidence and keys, and removes the rest', async (t) => {
    const s3F = new S3Client(as(F))
    const before = (await s3F.send(new ListObjectVersionsCommand({ Bucket: names.evidenceBucket }))).Versions ?? []
    t.ok(before.length > 0, 'the bucket holds evidence')
    const memberDestroy = await (memberDestroyed ?? rehearsal.destroy(memberStack))
    t.equal(memberDestroy.code, 0, 'the member stack goes')
    t.same(memberDestroy.remaining, [])
    const destroy = await rehearsal.destroy(config.name)
    t.not(destroy.code, 0, 'the destroy of the forensics stack is refused')
    const errors = destroy.tail.split('\n').filter((l) => /^(│ )?Error: /.test(l))
    t.ok(errors.length > 0 && errors.every((l) => l.includes(names.evidenceBucket) || l.includes(names.accessLogBucket)), `refused only by the evidence locker's buckets:\n${errors.join('\n')}`)
    t.comment(`left in state: ${destroy.remaining.join(', ')}`)
    const evidenceBucketAddress = destroy.remaining.find((a) => /^aws_s3_bucket\.evidence_[0-9A-F]+$/.test(a))
    t.ok(evidenceBucketAddress, 'the evidence bucket stays in state')
    t.equal(destroy.remaining.filter((a) => /^aws_kms_key\.evidence_(evidence|signing)-key_/.test(a)).length, 2, 'so do its encryption and signing keys (the bucket depends on them)')
    // what else may stay: the locker's own configuration (S3 refuses to unlock a bucket that holds
    // locked objects), and the roles the keys' policies name; nothing of the functions, queues,
    // topics, rules, buses, schedule, alarms or the platform key
    const outside = destroy.remaining.filter((a) => !/^aws_(s3_bucket[a-z_]*|kms_key)\.evidence_/.test(a) && !/^aws_iam_role\.[a-z-]+_role_/.test(a))
    t.same(outside, [], 'nothing outside the evidence locker stays but the roles its keys name')
    t.notOk(destroy.remaining.some((a) => a.startsWith('aws_kms_alias.')), 'the key aliases go')

    await s3F.send(new HeadBucketCommand({ Bucket: names.evidenceBucket }))
    const after = (await s3F.send(new ListObjectVersionsCommand({ Bucket: names.evidenceBucket }))).Versions ?? []
    t.same(after.map((v) => `${v.Key}@${v.VersionId}`).sort(), before.map((v) => `${v.Key}@${v.VersionId}`).sort(), 'every evidence version is still there')
    const head = await s3F.send(new HeadObjectCommand({ Bucket: names.evidenceBucket, Key: manifestKey }))
    t.equal(head.ObjectLockMode, 'COMPLIANCE', 'still locked')
    if (destroy.remaining.some((a) => a.startsWith('aws_s3_bucket.evidence_access-logs_'))) {
      const logs = (await s3F.send(new ListObjectVersionsCommand({ Bucket: names.accessLogBucket }))).Versions ?? []
      t.ok(logs.length > 0, `the access-log bucket stays only because it holds ${logs.length} access log(s) of the evidence bucket`)
    } else {
      await t.rejects(s3F.send(new HeadBucketCommand({ Bucket: names.accessLogBucket })), 'the empty access-log bucket is gone')
    }
    t.same((await new LambdaClient(as(F)).send(new ListFunctionsCommand({}))).Functions ?? [], [], 'no function is left')
    t.same(((await new SQSClient(as(F)).send(new ListQueuesCommand({ QueueNamePrefix: config.name }))).QueueUrls ?? []), [], 'no queue is left')
    t.same(((await new SNSClient(as(F)).send(new ListTopicsCommand({}))).Topics ?? []).filter((x) => x.TopicArn?.includes(`:${config.name}`)), [], 'no topic is left')
  })
}
