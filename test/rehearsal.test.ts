/**
 * The deploy rehearsal's parts that need no Terraform: version constraints, the emulator
 * override (endpoints, listed policy gaps, the guard against real synth outputs), finding the
 * provider mirror, the CLI configuration and the runner's error reporting (a stand-in binary);
 * of the deployed drill: destinations and assets read back, the routing phase's finding, the
 * trail-key stand-in and the intended refusals of its permission check.
 */
import t from 'tap'
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { execFileSync } from 'node:child_process'
import { CreateFunctionCommand, CreateEventSourceMappingCommand, DeleteFunctionEventInvokeConfigCommand, LambdaClient, PutFunctionEventInvokeConfigCommand, UpdateFunctionCodeCommand, UpdateFunctionConfigurationCommand } from '@aws-sdk/client-lambda'
import { CreateRoleCommand, IAMClient } from '@aws-sdk/client-iam'
import { CreateQueueCommand, SQSClient } from '@aws-sdk/client-sqs'
import { CreateTopicCommand, SNSClient } from '@aws-sdk/client-sns'
import { CreateEventBusCommand, EventBridgeClient, PutRuleCommand, PutTargetsCommand } from '@aws-sdk/client-eventbridge'
import { CreateScheduleCommand, SchedulerClient } from '@aws-sdk/client-scheduler'
import { loadConfigFile } from '../forensics/config.js'
import { projectRoot } from '../forensics/local/emulator.js'
import { resourceNames } from '../forensics/routing.js'
import { useEmulator } from './fixtures/emulator.js'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createHash } from 'node:crypto'
import { satisfiesConstraint } from '../forensics/rehearsal/version-constraint.js'
import { DeployedDeployment, destinationOf, zipsBySha256 } from '../forensics/rehearsal/deployed-deployment.js'
import { parseTriggerEvent } from '../forensics/contract/triggers.js'
import type { PermissionDenial, PermissionReport } from '../forensics/permissions/simulate-permissions.js'
import { canaryFinding, deployedPermissionsCheck, INTENDED_REFUSALS } from '../cli/commands/drill-rehearsed.js'
import {
  emulatorEndpointsFor, emulatorOverride, EMULATOR_ENDPOINTS, ENDPOINT_VARIABLES, EMULATOR_POLICY_GAPS, OVERRIDE_FILE, writeEmulatorOverride, type SynthesizedPlan,
} from '../forensics/rehearsal/emulator-override.js'
import { emulatorAccountCredentials, markRehearsalOutput } from '../forensics/rehearsal/rehearsal.js'
import {
  assertMirrorAdmitted, cliConfig, findProviderMirror, mirrorCandidates, terraformAvailability, TerraformRunner, type TerraformToolchain,
} from '../forensics/rehearsal/terraform.js'

const scratch = mkdtempSync(join(tmpdir(), 'forensics-rehearsal-units-'))

t.test('version constraints as Terraform reads them', async (t) => {
  const cases: [string, string, boolean][] = [
    ['5.100.0', '>= 5.100.0, < 7.0.0', true], ['6.25.0', '>= 5.100.0, < 7.0.0', true], ['7.0.0', '>= 5.100.0, < 7.0.0', false], ['5.99.1', '>= 5.100.0, < 7.0.0', false],
    ['6.25.0', '6.25.0', true], ['6.25.1', '= 6.25.0', false], ['6.3.0', '!= 6.3.0', false], ['6.4', '> 6.3', true], ['6.3.0', '<= 6.3', true],
    ['6.99.0', '~> 6.0', true], ['7.0.0', '~> 6.0', false], ['5.9.0', '~> 6', false], ['6.25.9', '~> 6.25.0', true], ['6.26.0', '~> 6.25.0', false],
  ]
  for (const [v, c, want] of cases) t.equal(satisfiesConstraint(v, c), want, `${v} ${want ? 'satisfies' : 'does not satisfy'} ${c}`)
  t.throws(() => satisfiesConstraint('six', '>= 5'), { name: 'ValidationError', message: /"six" is not a version/ })
  t.throws(() => satisfiesConstraint('6.0.0', '>= five'), { name: 'ValidationError' })
  t.throws(() => satisfiesConstraint('6.0.0', '>= 1 2'), { name: 'ValidationError', message: /unreadable clause/ })
})

const plan: SynthesizedPlan = {
  provider: { aws: [{ region: 'eu-west-1' }, { region: 'us-east-1', alias: 'us-east-1' }] },
  resource: {
    aws_s3_bucket: { b: { bucket: 'x' } },
    aws_kms_key: { k: {} },
    aws_cloudwatch_event_rule: { r: {} },
    aws_s3_bucket_policy: {
      evidence: {
        policy: JSON.stringify({ Version: '2012-10-17', Statement: [
          { Sid: 'DenyDeletesAndLockOrPolicyChangesExceptBreakGlass', Effect: 'Deny', Principal: '*', Action: 's3:DeleteObject', Resource: '${aws_s3_bucket.b.arn}/*', Condition: { ArnNotEquals: { 'aws:PrincipalArn': 'arn:aws:iam::1:role/bg' } } },
          { Sid: 'DenyInsecureTransport', Effect: 'Deny', Principal: '*', Action: 's3:*', Resource: '${aws_s3_bucket.b.arn}', Condition: { Bool: { 'aws:SecureTransport': 'false' } } },
          { Sid: 'AllowLogs', Effect: 'Allow', Principal: '*', Action: 's3:PutObject', Resource: '${aws_s3_bucket.b.arn}/*', Condition: { StringEquals: { 'aws:SourceAccount': '1' } } },
        ] }),
      },
      logs: { policy: JSON.stringify({ Statement: [{ Sid: 'DenyInsecureTransport', Effect: 'Deny', Principal: '*', Action: 's3:*', Resource: '*', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }] }) },
      untouched: { policy: JSON.stringify({ Statement: [{ Sid: 'Plain', Effect: 'Deny', Principal: '*', Action: 's3:*', Resource: '*' }] }) },
    },
  },
}

t.test('the override points every provider configuration at the emulator for every service the plan uses', async (t) => {
  t.same(emulatorEndpointsFor(plan), ['events', 'kms', 's3', 'sts'])
  const o = emulatorOverride(plan, { endpoint: 'http://127.0.0.1:1', statePath: '/tmp/x.tfstate' })
  const providers = (o.document.provider as { aws: Record<string, unknown>[] }).aws
  t.equal(providers.length, 2, 'one per provider configuration')
  t.match(providers[1], { alias: 'us-east-1', s3_use_path_style: true, skip_credentials_validation: true })
  t.notOk(providers.some((p) => 'endpoints' in p), 'no endpoints block: the endpoints are the SDK\'s environment variables')
  t.same(o.environment, { AWS_ENDPOINT_URL: 'http://127.0.0.1:1', AWS_ENDPOINT_URL_S3: 'http://127.0.0.1:1', AWS_ENDPOINT_URL_STS: 'http://127.0.0.1:1', AWS_ENDPOINT_URL_EVENTBRIDGE: 'http://127.0.0.1:1', AWS_ENDPOINT_URL_KMS: 'http://127.0.0.1:1' }, 'every service at the emulator, and each the plan uses by name')
  t.ok(EMULATOR_ENDPOINTS.every(([, key]) => ENDPOINT_VARIABLES[key]), 'every service of the table has its variable')
  t.same(o.document.terraform, { backend: { local: { path: '/tmp/x.tfstate' } } })
  t.throws(() => emulatorEndpointsFor({ resource: { aws_dynamodb_table: {} } }), { name: 'ValidationError', message: /aws_dynamodb_table has no emulator endpoint/ })
  t.same(emulatorOverride({}, { endpoint: 'e', statePath: 's' }).endpoints, ['sts'], 'an empty plan still asks STS who it is')
})

t.test('only the listed conditional Denies are replaced; each is reported; an unlisted one stops the rehearsal', async (t) => {
  const o = emulatorOverride(plan, { endpoint: 'e', statePath: 's' })
  t.same(o.replaced.map((r) => `${r.resource} ${r.sid}`), ['aws_s3_bucket_policy.evidence DenyInsecureTransport', 'aws_s3_bucket_policy.logs DenyInsecureTransport'])
  t.ok(o.replaced.every((r) => r.why === EMULATOR_POLICY_GAPS.find((g) => g.sid === r.sid)?.why), 'with the reason from the one list')
  const policies = (o.document.resource as { aws_s3_bucket_policy: Record<string, { policy: string }> }).aws_s3_bucket_policy
  const sids = (id: string): string[] => (JSON.parse(policies[id].policy) as { Statement: { Sid: string }[] }).Statement.map((s) => s.Sid)
  t.same(sids('evidence'), ['DenyDeletesAndLockOrPolicyChangesExceptBreakGlass', 'AllowLogs'], 'kept: the listed keeper, and every Allow')
  t.same(sids('logs'), ['EmulatorPlaceholder'], 'a policy left empty gets a statement granting nothing')
  t.notOk(policies.untouched, 'a policy with nothing to replace is not overridden')
  t.match(policies.evidence.policy, '${aws_s3_bucket.b.arn}', 'references stay for Terraform to resolve')
  const unknown: SynthesizedPlan = { resource: { aws_s3_bucket_policy: { p: { policy: JSON.stringify({ Statement: [{ Sid: 'DenyOldTls', Effect: 'Deny', Principal: '*', Action: 's3:*', Resource: '*', Condition: { NumericLessThan: { 's3:TlsVersion': '1.2' } } }] }) } } } }
  t.throws(() => emulatorOverride(unknown, { endpoint: 'e', statePath: 's' }), { name: 'ValidationError', message: /conditional Deny "DenyOldTls" .* EMULATOR_POLICY_GAPS or EMULATOR_POLICY_KEPT/ })
})

t.test('the override is written only into a rehearsal synth output', async (t) => {
  const real = join(scratch, 'cdktf.out', 'stacks', 'forensics')
  mkdirSync(real, { recursive: true })
  t.throws(() => writeEmulatorOverride(real, plan, { endpoint: 'e', statePath: 's' }), { name: 'ValidationError', message: /never written into a deployable cdktf.out/ })
  markRehearsalOutput(join(scratch, 'cdktf.out'))
  const o = writeEmulatorOverride(real, plan, { endpoint: 'e', statePath: 's' })
  t.same(JSON.parse(readFileSync(join(real, OVERRIDE_FILE), 'utf8')), o.document)
})

t.test('the provider comes from a plugin mirror when one holds it, and only from there', async (t) => {
  const mirror = join(scratch, 'mirror')
  const platform = `${process.platform}_${process.arch === 'x64' ? 'amd64' : process.arch}`
  t.same(mirrorCandidates({ FORENSICS_TF_PLUGIN_MIRROR: mirror }), [mirror])
  t.ok(mirrorCandidates({ HOME: '/h' }).includes('/h/.terraform.d/plugins'), "Terraform's implied mirror folders")
  t.equal(findProviderMirror({ FORENSICS_TF_PLUGIN_MIRROR: mirror }), undefined, 'an empty folder is no mirror')
  mkdirSync(join(mirror, 'registry.terraform.io', 'hashicorp', 'aws', '5.100.0', platform), { recursive: true })
  mkdirSync(join(mirror, 'registry.terraform.io', 'hashicorp', 'aws', '4.0.0', 'other_platform'), { recursive: true })
  const found = findProviderMirror({ FORENSICS_TF_PLUGIN_MIRROR: mirror })
  t.same(found, { path: mirror, awsVersions: ['5.100.0'] }, 'versions for this platform only')
  const toolchain: TerraformToolchain = { binary: 'terraform', version: '1.11.4', mirror: found as NonNullable<typeof found> }
  t.match(cliConfig(toolchain), /filesystem_mirror \{\n {4}path {4}= ".*mirror"\n {4}include = \["registry.terraform.io\/hashicorp\/aws"\]/)
  t.match(cliConfig(toolchain), /direct \{\n {4}exclude = \["registry.terraform.io\/hashicorp\/aws"\]/)
  t.match(cliConfig({ binary: 'terraform', version: '1' }), /no local plugin mirror/)
  t.doesNotThrow(() => assertMirrorAdmitted(toolchain, '>= 5.100.0, < 7.0.0', 'forensics'))
  t.doesNotThrow(() => assertMirrorAdmitted({ binary: 'terraform', version: '1' }, '6.25.0', 'forensics'), 'no mirror: the registry decides')
  t.throws(() => assertMirrorAdmitted(toolchain, '6.25.0', 'forensics'), { name: 'TerraformError', message: /stack forensics requires the AWS provider 6.25.0, but the plugin mirror .* has only 5.100.0/ })
})

t.test('without a terraform binary the rehearsal says why; the runner names the stack, the errors and the log', async (t) => {
  const missing = terraformAvailability({ ...process.env, FORENSICS_TERRAFORM: join(scratch, 'no-terraform') })
  t.match(missing, { available: false, reason: /no terraform binary .*no-terraform/ })
  const fake = join(scratch, 'fake-terraform')
  writeFileSync(fake, `#!/bin/sh
if [ "$1" = version ]; then echo '{"terraform_version":"9.9.9"}'; exit 0; fi
if [ "$1" = apply ]; then echo "aws_s3_bucket.x: Creating..."; echo "│ Error: creating S3 Bucket: BucketAlreadyExists" >&2; exit 1; fi
echo "ran $* with $TF_CLI_CONFIG_FILE"
`)
  chmodSync(fake, 0o755)
  const available = terraformAvailability({ ...process.env, FORENSICS_TERRAFORM: fake, FORENSICS_TF_PLUGIN_MIRROR: join(scratch, 'nowhere') })
  t.match(available, { available: true, toolchain: { binary: fake, version: '9.9.9' } })
  if (!available.available) return
  const stackDir = join(scratch, 'stack-a')
  mkdirSync(stackDir)
  const runner = new TerraformRunner(available.toolchain, join(scratch, 'work'), {})
  const ok = await runner.mustRun(stackDir, ['init'])
  t.match(ok.stdout, `ran init -no-color with ${runner.cliConfigFile}`)
  const state = await runner.run(stackDir, ['state', 'list'])
  t.match(state.stdout, 'ran state list with', '`state` gets no -no-color')
  await t.rejects(runner.mustRun(stackDir, ['apply']), { name: 'TerraformError', message: /terraform apply of stack stack-a failed \(exit 1\): Error: creating S3 Bucket: BucketAlreadyExists; full output in .*stack-a-apply-/ })
  await t.rejects(new TerraformRunner({ binary: join(scratch, 'gone'), version: '0' }, join(scratch, 'work2'), {}).run(stackDir, ['init']), { name: 'TerraformError', message: /could not run/ })
})

t.test('deployed destinations, assets by CodeSha256 and the GuardDuty finding of the routing phase', async (t) => {
  t.same(destinationOf('arn:aws:lambda:eu-west-1:111111111111:function:forensics-custody-recorder', 'x'), { type: 'lambda', functionName: 'forensics-custody-recorder' })
  t.same(destinationOf('arn:aws:sqs:eu-west-1:111111111111:forensics-capture-dlq', 'x'), { type: 'sqs', queueName: 'forensics-capture-dlq' })
  t.same(destinationOf('arn:aws:events:eu-west-1:111111111111:event-bus/forensics-siem', 'x'), { type: 'eventbridge', eventBusName: 'forensics-siem' })
  t.throws(() => destinationOf('arn:aws:sns:eu-west-1:111111111111:t', 'forensics-drill OnSuccess'), { name: 'ValidationError', message: /forensics-drill OnSuccess: destination arn:aws:sns:.* is not a function, queue or bus/ })

  const assets = join(scratch, 'assets')
  mkdirSync(join(assets, 'a', 'H1'), { recursive: true })
  mkdirSync(join(assets, 'b', 'H2'), { recursive: true })
  writeFileSync(join(assets, 'a', 'H1', 'a.zip'), 'zip a')
  writeFileSync(join(assets, 'b', 'H2', 'b.zip'), 'zip b')
  writeFileSync(join(assets, 'b', 'H2', 'notes.txt'), 'not code')
  const zips = zipsBySha256(assets)
  t.equal(zips.size, 2, 'only ZIPs count')
  t.equal(zips.get(createHash('sha256').update('zip a').digest('base64')), join(assets, 'a', 'H1', 'a.zip'), 'keyed as Lambda reports CodeSha256 (base64 SHA-256 of the bytes)')

  const finding = canaryFinding({ account: '111111111111', region: 'eu-west-1', bucket: 'canary', id: 'f-1', at: new Date('2026-12-02T10:00:00Z') })
  const event = { source: 'aws.guardduty', 'detail-type': 'GuardDuty Finding', id: 'e-1', account: '111111111111', region: 'eu-west-1', time: '2026-12-02T10:00:00Z', detail: finding }
  for (const key of ['object-versions', 'cloudtrail-slice'] as const) t.match(parseTriggerEvent(event, key), { origin: 'gd' }, `the finding carries every field the contract requires of ${key}`)
})

t.test('permissions-sufficient of the deployed drill: only the listed refusal, explicitly denied, is set apart', async (t) => {
  const names = { drill: 'forensics-drill', 'bucket-config': 'forensics-bucket-config' }
  const denial = (fn: string, decision: PermissionDenial['decision']): PermissionDenial => ({ function: fn, role: `arn:aws:iam::111111111111:role/${fn}`, call: 'S3Client DeleteObjectCommand', action: 's3:DeleteObjectVersion', resource: 'arn:aws:s3:::evidence/cases/x', decision })
  const report = (denials: PermissionDenial[]): PermissionReport => ({ simulator: 'sim', calls: 10, requests: 12, allowed: 12 - denials.length, denials, exercisedRoles: [], unused: [] })
  const intended = deployedPermissionsCheck(report([denial('forensics-drill', 'ExplicitlyDenied')]), names)
  t.match(intended, { verdict: 'pass', summary: /^11 request\(s\) of 10 recorded call\(s\) allowed .*; 1 refused as intended \(check evidence-delete-refused/ })
  t.equal((intended.evidence.intendedRefusals as unknown[]).length, 1)
  t.match(deployedPermissionsCheck(report([denial('forensics-drill', 'ImplicitlyDenied')]), names), { verdict: 'fail', summary: /S3Client DeleteObjectCommand by .*forensics-drill/ }, 'not denied by a policy: a missing grant, whoever calls')
  t.match(deployedPermissionsCheck(report([denial('forensics-bucket-config', 'ExplicitlyDenied')]), names), { verdict: 'fail' }, 'another function\'s refused delete is not the drill\'s probe')
  t.match(deployedPermissionsCheck(report([]), names), { verdict: 'pass', summary: /^12 request\(s\) of 10/ })
  t.ok(INTENDED_REFUSALS.every((r) => r.why.length > 0), 'each listed refusal says why')
})

t.test('the deployment is read back from the emulator\'s APIs (no Terraform needed): configuration, routes, mappings, rules, schedule; refusals name the function', async (t) => {
  const emulator = await useEmulator(t, { reset: false })
  const config = loadConfigFile(join(projectRoot, 'forensics.config.json'))
  const names = resourceNames(config)
  const credentials = await emulatorAccountCredentials(emulator, config.forensicsAccountId)
  const settings = { endpoint: emulator.endpoint, region: emulator.region, credentials }
  const account = config.forensicsAccountId
  const arn = (service: string, rest: string): string => `arn:aws:${service}:${emulator.region}:${account}:${rest}`
  // a stack directory with one asset per function, as the synth writes them
  const stackDir = join(scratch, 'read-back', 'stacks', config.name)
  // each asset is zipped once: zip stores file times (2 s resolution), so zipping again can change the bytes
  const zipped = new Map<string, Buffer>()
  const zipOf = (key: string): Buffer => {
    const done = zipped.get(key)
    if (done) return done
    const dir = join(stackDir, 'assets', `${key}_code`, 'H')
    mkdirSync(dir, { recursive: true })
    writeFileSync(join(dir, 'index.mjs'), `export const handler = async () => '${key}'\n`)
    execFileSync('zip', ['-qX', `${key}.zip`, 'index.mjs'], { cwd: dir })
    const zip = readFileSync(join(dir, `${key}.zip`))
    zipped.set(key, zip)
    return zip
  }
  const iam = new IAMClient(settings)
  const role = (await iam.send(new CreateRoleCommand({ RoleName: 'forensics-fn', AssumeRolePolicyDocument: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' }] }) }))).Role?.Arn as string
  const sqs = new SQSClient(settings)
  const dlq = (await sqs.send(new CreateQueueCommand({ QueueName: names.deadLetterQueue }))).QueueUrl as string
  const fanOut = (await sqs.send(new CreateQueueCommand({ QueueName: names.fanOutQueue }))).QueueUrl as string
  const topic = (await new SNSClient(settings).send(new CreateTopicCommand({ Name: names.siemTopic }))).TopicArn as string
  const signing = `kms:alias/${config.name}-signing`
  const env: Record<string, Record<string, string>> = {
    'bucket-config': { FORENSICS_SIGNING_KEY: signing },
    'object-versions': { FORENSICS_SIGNING_KEY: signing, FORENSICS_FANOUT_QUEUE_URL: fanOut },
    'custody-recorder': { FORENSICS_SIGNING_KEY: signing, FORENSICS_SIEM_TOPIC_ARN: topic },
    drill: { FORENSICS_SIGNING_KEY: signing, FORENSICS_CANARY_BUCKET: 'canary', FORENSICS_DLQ_URL: dlq },
  }
  const lambda = new LambdaClient(settings)
  for (const [key, variables] of Object.entries(env)) {
    await lambda.send(new CreateFunctionCommand({ FunctionName: names.functions[key as 'drill'], Role: role, Runtime: 'nodejs22.x', Handler: 'index.handler', Code: { ZipFile: zipOf(key) }, Environment: { Variables: variables } }))
  }
  await lambda.send(new CreateFunctionCommand({ FunctionName: 'someone-else', Role: role, Runtime: 'nodejs22.x', Handler: 'index.handler', Code: { ZipFile: Buffer.from(zipOf('drill')) } }))
  await lambda.send(new PutFunctionEventInvokeConfigCommand({
    FunctionName: names.functions['bucket-config'], MaximumRetryAttempts: 1, MaximumEventAgeInSeconds: 600,
    DestinationConfig: { OnSuccess: { Destination: arn('lambda', `function:${names.functions['custody-recorder']}`) }, OnFailure: { Destination: arn('sqs', names.deadLetterQueue) } },
  }))
  await lambda.send(new CreateEventSourceMappingCommand({ FunctionName: names.functions['object-versions'], EventSourceArn: arn('sqs', names.fanOutQueue), BatchSize: 1 }))
  const events = new EventBridgeClient(settings)
  await events.send(new CreateEventBusCommand({ Name: names.intakeEventBus }))
  const pattern = { source: ['aws.s3'] }
  await events.send(new PutRuleCommand({ Name: `${config.name}-s3-access-changes`, EventBusName: names.intakeEventBus, EventPattern: JSON.stringify(pattern) }))
  await events.send(new PutTargetsCommand({ Rule: `${config.name}-s3-access-changes`, EventBusName: names.intakeEventBus, Targets: [{ Id: 'bucket-config', Arn: arn('lambda', `function:${names.functions['bucket-config']}`) }] }))
  await events.send(new PutRuleCommand({ Name: 'not-ours', EventPattern: JSON.stringify(pattern) }))
  await new SchedulerClient(settings).send(new CreateScheduleCommand({
    Name: `${config.name}-drill`, ScheduleExpression: 'cron(0 6 ? * MON *)', FlexibleTimeWindow: { Mode: 'OFF' },
    Target: { Arn: arn('lambda', `function:${names.functions.drill}`), RoleArn: role, Input: JSON.stringify({ canaryBucket: 'canary' }) },
  }))

  const read = (): Promise<DeployedDeployment> => DeployedDeployment.read({ emulator, credentials, config, stackDir })
  const d = await read()
  t.match(d.source, { kind: 'deployed', file: new RegExp(`^${emulator.endpoint} \\(account ${account}`), sha256: /^[0-9a-f]{64}$/ })
  t.equal((await read()).source.sha256, d.source.sha256, 'the same configuration, the same SHA-256')
  t.same(d.functions.map((f) => f.key).sort(), ['bucket-config', 'custody-recorder', 'drill', 'object-versions'], 'only the stack\'s functions (by name prefix)')
  t.equal(d.function('drill').zipPath, join(stackDir, 'assets', 'drill_code', 'H', 'drill.zip'), 'each with the asset of its CodeSha256')
  t.same(d.plan.routes, [{ key: 'bucket-config', functionName: names.functions['bucket-config'], maximumRetryAttempts: 1, maximumEventAgeInSeconds: 600, onSuccess: { type: 'lambda', functionName: names.functions['custody-recorder'] }, onFailure: { type: 'sqs', queueName: names.deadLetterQueue }, evidenceWritePrefixes: [] }])
  t.same(d.plan.eventSourceMappings, [{ queueName: names.fanOutQueue, functionName: names.functions['object-versions'], batchSize: 1 }])
  t.same(d.plan.rules, [{ name: `${config.name}-s3-access-changes`, eventBusName: names.intakeEventBus, pattern, targets: [{ targetId: 'bucket-config', functionName: names.functions['bucket-config'] }] }])
  t.match(d.plan.schedule, { name: `${config.name}-drill`, expression: 'cron(0 6 ? * MON *)', functionName: names.functions.drill, input: { canaryBucket: 'canary' } })
  t.match(d.side, { deadLetterQueueUrl: dlq, fanOutQueueUrl: fanOut, siemTopicArn: topic, canaryBucket: 'canary' })
  t.equal(d.signingKey, signing)
  t.match(d.environment('drill'), { FORENSICS_CANARY_BUCKET: 'canary', AWS_ENDPOINT_URL: emulator.endpoint })
  t.equal(d.resolver.queueUrl(names.deadLetterQueue), dlq)
  t.throws(() => d.function('inspector'), { name: 'ValidationError', message: /has no inspector function/ })

  await lambda.send(new PutFunctionEventInvokeConfigCommand({ FunctionName: names.functions.drill, DestinationConfig: { OnSuccess: { Destination: arn('lambda', `function:${names.functions['custody-recorder']}`) } } }))
  await t.rejects(read(), { name: 'ValidationError', message: `${names.functions.drill}: its event invoke config has no OnFailure destination` })
  await lambda.send(new DeleteFunctionEventInvokeConfigCommand({ FunctionName: names.functions.drill }))
  await lambda.send(new PutFunctionEventInvokeConfigCommand({ FunctionName: names.functions.drill, DestinationConfig: { OnSuccess: { Destination: arn('sns', 'x') }, OnFailure: { Destination: arn('sqs', names.deadLetterQueue) } } }))
  await t.rejects(read(), { name: 'ValidationError', message: /OnSuccess: destination arn:aws:sns:.* is not a function, queue or bus/ })
  await lambda.send(new DeleteFunctionEventInvokeConfigCommand({ FunctionName: names.functions.drill }))
  await lambda.send(new UpdateFunctionConfigurationCommand({ FunctionName: names.functions.drill, Environment: { Variables: { ...env.drill, FORENSICS_SIGNING_KEY: 'kms:alias/other' } } }))
  await t.rejects(read(), { name: 'ValidationError', message: /sign with kms:alias\/forensics-signing, kms:alias\/other: they must name one FORENSICS_SIGNING_KEY/ })
  await lambda.send(new UpdateFunctionCodeCommand({ FunctionName: names.functions['custody-recorder'], ZipFile: Buffer.concat([zipOf('custody-recorder'), Buffer.from('x')]) }))
  await t.rejects(read(), { name: 'ValidationError', message: new RegExp(`^${names.functions['custody-recorder']} \\(CodeSha256 [^)]+\\): the deployed code matches no asset under ${stackDir}`) })
  await t.rejects(DeployedDeployment.read({ emulator, credentials, config: { ...config, name: 'absent' }, stackDir }), { name: 'StorageError', message: /has no function named absent-…: is the forensics stack applied\?/ })
})

