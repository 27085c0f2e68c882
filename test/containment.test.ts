/**
 * Containment (forensics/containment, collectors/containment.ts, `forensics contain`) on the
 * emulator's S3, IAM, SNS, SQS and EventBridge: acceptance 1–4 of issue 15, plus the pure
 * planner, principal parsing and the sensitive-access pattern on the emulator's real matcher.
 */
import t, { type Test } from 'tap'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { CreateBucketCommand, GetBucketPolicyCommand, GetPublicAccessBlockCommand, PutBucketPolicyCommand, type S3Client } from '@aws-sdk/client-s3'
import { CreateAccessKeyCommand, CreateRoleCommand, CreateUserCommand, GetRolePolicyCommand, GetUserPolicyCommand, IAMClient, ListAccessKeysCommand, ListRolePoliciesCommand, ListUserPoliciesCommand } from '@aws-sdk/client-iam'
import { CreateTopicCommand, SNSClient, SubscribeCommand } from '@aws-sdk/client-sns'
import { CreateQueueCommand, GetQueueAttributesCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs'
import { CreateEventBusCommand, EventBridgeClient, PutEventsCommand, PutRuleCommand, PutTargetsCommand } from '@aws-sdk/client-eventbridge'
import { useEmulator } from './fixtures/emulator.js'
import { lockedStore } from './fixtures/evidence.js'
import { collectorEnv, runCli, signingKeyFile, useEmulatorEnv } from './fixtures/collectors.js'
import type { Emulator } from '../forensics/local/emulator.js'
import { createBucketConfigHandler } from '../collectors/bucket-config.js'
import { createCustodyRecorder } from '../collectors/custody-recorder.js'
import { createContainmentHandler } from '../collectors/containment.js'
import { canonicalJson } from '../forensics/canonical-json.js'
import { parseConfig, type ForensicsConfig } from '../forensics/config.js'
import { CustodyChain, type CustodyEntry } from '../forensics/custody.js'
import { containmentSettings, containmentSettingsFromEnv, DENY_POLICY_NAME, CONTAINMENT_SETTINGS_ENV } from '../forensics/containment/settings.js'
import { arnPatternMatches, parsePrincipal, principalMatches } from '../forensics/containment/principal.js'
import { containmentFromCapture, planContainment } from '../forensics/containment/plan.js'
import { parseActions } from '../cli/commands/contain.js'
import type { Manifest } from '../forensics/manifest.js'
import { QUARANTINE_SID } from '../forensics/containment/policies.js'
import { sensitiveAccessPatterns } from '../forensics/containment/access-pattern.js'
import { AwsContainmentTargets } from '../forensics/containment/targets.js'
import { runContainmentPhase } from '../forensics/drill/containment-phase.js'
import { AwsDestinationSender } from '../forensics/runtime/destination-sender.js'
import type { DestinationRecord } from '../forensics/runtime/destination-record.js'
import { MemorySiemPublisher } from '../forensics/siem/siem-publisher.js'
import type { S3EvidenceStore } from '../forensics/s3-evidence-store.js'

const ACCOUNT = '123456789012'
const BUCKET = 'sensitive-data'
const MALLORY = `arn:aws:iam::${ACCOUNT}:user/mallory`
const READER = `arn:aws:iam::${ACCOUNT}:user/app-reader`
const ADMIN = `arn:aws:iam::${ACCOUNT}:user/org-admin`

const publicPolicy = JSON.stringify({
  Version: '2012-10-17',
  Statement: [{ Sid: 'PublicRead', Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: `arn:aws:s3:::${BUCKET}/*` }],
})

function configFor(emulator: Emulator, over: { dryRun?: boolean } = {}): ForensicsConfig {
  const example = JSON.parse(readFileSync(new URL('../forensics.config.json', import.meta.url), 'utf8')) as Record<string, unknown>
  return parseConfig({
    ...example,
    forensicsAccountId: ACCOUNT,
    region: emulator.region,
    regions: [emulator.region],
    memberAccounts: [],
    evidence: { ...(example.evidence as object), breakGlassRoleArn: `arn:aws:iam::${ACCOUNT}:role/forensics-break-glass`, investigatorRoleArns: [] },
    watchedBuckets: [BUCKET],
    containment: {
      enabled: true,
      dryRun: over.dryRun ?? false,
      sensitiveBuckets: [{ bucket: BUCKET, allowedPrincipals: [READER] }],
      neverContain: [ADMIN],
      alertTopicArn: `arn:aws:sns:${emulator.region}:${ACCOUNT}:security-team`,
    },
  })
}

interface World {
  s3: S3Client
  store: S3EvidenceStore
  iam: IAMClient
  sqs: SQSClient
  events: EventBridgeClient
  env: NodeJS.ProcessEnv
  config: ForensicsConfig
  alertQueue: string
  keys: Record<string, string>
}

async function queue(sqs: SQSClient, name: string): Promise<{ url: string; arn: string }> {
  const url = (await sqs.send(new CreateQueueCommand({ QueueName: name }))).QueueUrl as string
  const arn = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['QueueArn'] }))).Attributes?.QueueArn as string
  return { url, arn }
}

async function drain(sqs: SQSClient, url: string, want: number): Promise<Record<string, unknown>[]> {
  const out: Record<string, unknown>[] = []
  for (let i = 0; i < 50 && out.length < want; i++) {
    const r = await sqs.send(new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10 }))
    for (const m of r.Messages ?? []) out.push(JSON.parse(m.Body as string) as Record<string, unknown>)
    if (out.length < want) await new Promise((res) => setTimeout(res, 100))
  }
  return out
}

/** Evidence bucket, the sensitive bucket with a public policy, IAM users, the alert topic, a config file. */
async function world(t: Test, emulator: Emulator, key: { path: string }, over: { dryRun?: boolean } = {}): Promise<World> {
  const { s3, store } = await lockedStore(emulator)
  const settings = emulator.clientConfig()
  const iam = new IAMClient(settings)
  const sns = new SNSClient(settings)
  const sqs = new SQSClient(settings)
  const events = new EventBridgeClient(settings)
  t.teardown(() => [iam, sns, sqs, events].forEach((c) => c.destroy()))
  await s3.send(new CreateBucketCommand({ Bucket: BUCKET }))
  await s3.send(new PutBucketPolicyCommand({ Bucket: BUCKET, Policy: publicPolicy }))
  const keys: Record<string, string> = {}
  for (const user of ['mallory', 'app-reader', 'org-admin']) {
    await iam.send(new CreateUserCommand({ UserName: user }))
    keys[user] = (await iam.send(new CreateAccessKeyCommand({ UserName: user }))).AccessKey?.AccessKeyId as string
  }
  const topicArn = (await sns.send(new CreateTopicCommand({ Name: 'security-team' }))).TopicArn as string
  const alerts = await queue(sqs, 'security-team-inbox')
  await sns.send(new SubscribeCommand({ TopicArn: topicArn, Protocol: 'sqs', Endpoint: alerts.arn, Attributes: { RawMessageDelivery: 'true' } }))
  const config = configFor(emulator, over)
  const dir = mkdtempSync(join(tmpdir(), 'containment-'))
  const configPath = join(dir, 'forensics.config.json')
  writeFileSync(configPath, JSON.stringify(config))
  const env = collectorEnv(emulator, key.path, {
    FORENSICS_CONFIG: configPath,
    FORENSICS_CASE_ID_TEMPLATE: 'case-{bucket}',
    [CONTAINMENT_SETTINGS_ENV]: JSON.stringify(containmentSettings(config)),
  })
  return { s3, store, iam, sqs, events, env, config, alertQueue: alerts.url, keys }
}

const bucketPolicy = async (s3: S3Client): Promise<string | undefined> => {
  try {
    return (await s3.send(new GetBucketPolicyCommand({ Bucket: BUCKET }))).Policy
  } catch (e) {
    if ((e as Error).name === 'NoSuchBucketPolicy') return undefined
    throw e
  }
}
const publicAccessBlock = async (s3: S3Client): Promise<unknown> => {
  try {
    return (await s3.send(new GetPublicAccessBlockCommand({ Bucket: BUCKET }))).PublicAccessBlockConfiguration
  } catch (e) {
    if ((e as Error).name === 'NoSuchPublicAccessBlockConfiguration') return undefined
    throw e
  }
}
const keyStatus = async (iam: IAMClient, user: string): Promise<string[]> => ((await iam.send(new ListAccessKeysCommand({ UserName: user }))).AccessKeyMetadata ?? []).map((k) => k.Status as string)
const userPolicies = async (iam: IAMClient, user: string): Promise<string[]> => (await iam.send(new ListUserPoliciesCommand({ UserName: user }))).PolicyNames ?? []
const actions = (entries: readonly CustodyEntry[]): string[] => entries.map((e) => e.action)

const cloudTrailEvent = (eventName: string, principalArn: string, eventID: string, key?: string): Record<string, unknown> => ({
  version: '0',
  id: `eb-${eventID}`,
  'detail-type': 'AWS API Call via CloudTrail',
  source: 'aws.s3',
  account: ACCOUNT,
  time: '2026-11-29T10:00:00Z',
  region: 'us-east-1',
  resources: [],
  detail: {
    eventVersion: '1.09',
    userIdentity: { type: 'IAMUser', arn: principalArn },
    eventTime: '2026-11-29T10:00:00Z',
    eventSource: 's3.amazonaws.com',
    eventName,
    awsRegion: 'us-east-1',
    requestParameters: { bucketName: BUCKET, ...(key ? { key } : {}) },
    requestID: `req-${eventID}`,
    eventID,
    recipientAccountId: ACCOUNT,
  },
})

const destination = (functionName: string, responsePayload: unknown, requestId: string): DestinationRecord => ({
  version: '1.0',
  timestamp: '2026-11-29T10:00:01.000Z',
  requestContext: { requestId, functionArn: `arn:aws:lambda:us-east-1:${ACCOUNT}:function:${functionName}:$LATEST`, condition: 'Success', approximateInvokeCount: 1 },
  requestPayload: {},
  responseContext: { statusCode: 200, executedVersion: '$LATEST' },
  responsePayload: JSON.parse(JSON.stringify(responsePayload)) as unknown,
})

/** capture function → custody recorder → containment function, each fed the previous one's destination record. */
async function chain(w: World, event: unknown, id: string): Promise<Record<string, unknown>> {
  const captured = await createBucketConfigHandler(w.env)(event, { awsRequestId: `cap-${id}` })
  const { signer } = await import('../forensics/runtime/handler-env.js').then((m) => m.evidenceFromEnv(w.env))
  const recorded = await createCustodyRecorder({ store: w.store, signer, siem: new MemorySiemPublisher() })(destination('forensics-bucket-config', captured, `cap-${id}`))
  return (await createContainmentHandler(w.env)(destination('forensics-custody-recorder', recorded, `rec-${id}`))) as unknown as Record<string, unknown>
}

t.test('containment on the emulator', async (t) => {
  const emulator = await useEmulator(t)
  useEmulatorEnv(t, emulator)
  const key = signingKeyFile()

  t.test('acceptance 1: a public-policy incident, contained through the chain; the alert and the SIEM finding arrive', async (t) => {
    const w = await world(t, emulator, key)
    // the SIEM bus receives the containment function's OnSuccess record
    await w.events.send(new CreateEventBusCommand({ Name: 'forensics-siem' }))
    const siemQueue = await queue(w.sqs, 'siem-inbox')
    await w.events.send(new PutRuleCommand({ Name: 'containment-results', EventBusName: 'forensics-siem', EventPattern: JSON.stringify({ source: ['lambda'] }) }))
    await w.events.send(new PutTargetsCommand({ Rule: 'containment-results', EventBusName: 'forensics-siem', Targets: [{ Id: 'q', Arn: siemQueue.arn }] }))

    const out = await chain(w, cloudTrailEvent('PutBucketPolicy', MALLORY, 'ct-public'), 'public')
    t.match(out, { status: 'applied', caseId: `case-${BUCKET}`, bucket: BUCKET, principalArn: MALLORY })
    t.same((out.actions as { action: string; status: string }[]).map((a) => [a.action, a.status]), [['quarantine-bucket', 'applied'], ['revoke-principal', 'applied'], ['alert', 'applied']])

    const policy = JSON.parse((await bucketPolicy(w.s3)) as string) as { Statement: { Sid: string; Effect: string; Condition: unknown }[] }
    t.equal(policy.Statement.length, 1, 'the quarantine policy replaced the public one')
    t.match(policy.Statement[0], { Sid: QUARANTINE_SID, Effect: 'Deny', Condition: { ArnNotLike: { 'aws:PrincipalArn': [`arn:aws:iam::${ACCOUNT}:role/forensics-break-glass`, `arn:aws:iam::${ACCOUNT}:role/forensics-*`, 'arn:aws:iam::*:role/forensics-capture-readonly'] } } })
    t.same(await publicAccessBlock(w.s3), { BlockPublicAcls: true, IgnorePublicAcls: true, BlockPublicPolicy: true, RestrictPublicBuckets: true })

    const before = (out.actions as { before: { key: string; versionId: string } }[])[0].before
    const prior = JSON.parse((await w.store.getBytes(before.key, before.versionId)).bytes.toString('utf8')) as { policy: string; publicAccessBlock: unknown }
    t.equal(prior.policy, publicPolicy, 'the prior policy is evidence, byte for byte as S3 returned it')
    t.equal(prior.publicAccessBlock, null)

    const entries = await new CustodyChain(w.store, key.signer, `case-${BUCKET}`).read()
    t.same(actions(entries), ['captured', 'captured', 'contained', 'contained', 'contained'], 'the bucket-config capture is sealed before anything is contained')
    t.same(entries.slice(2).map((e) => (e.subject.containment as { action: string }).action), ['quarantine-bucket', 'revoke-principal', 'alert'])
    t.same(await new CustodyChain(w.store, key.signer, `case-${BUCKET}`).verify(), [], 'the chain verifies')

    const [alert] = await drain(w.sqs, w.alertQueue, 1)
    t.match(alert, { schema: 'forensics.containment-alert/v1', caseId: `case-${BUCKET}`, bucket: BUCKET, principal: MALLORY, undo: `forensics contain --undo case-${BUCKET}` })
    t.same((alert.actions as { action: string }[]).map((a) => a.action), ['quarantine-bucket', 'revoke-principal', 'alert'])
    t.ok((alert.evidence as string[]).some((k) => k.endsWith('/quarantine-bucket/before.json')), 'the alert names the evidence keys')

    await new AwsDestinationSender({ sqs: w.sqs, sns: new SNSClient(emulator.clientConfig()), events: w.events }).send(
      { type: 'eventbridge', eventBusName: 'forensics-siem' },
      destination('forensics-containment', out, 'cont-public'),
    )
    const [siem] = await drain(w.sqs, siemQueue.url, 1)
    t.match(siem, { 'detail-type': 'Lambda Function Invocation Result - Success', detail: { responsePayload: { finding: { class_uid: 2004, severity: 'High', finding_info: { types: ['containment-applied'] }, resources: [{ uid: `arn:aws:s3:::${BUCKET}` }] } } } })
  })

  t.test('acceptance 1, dry-run: the bucket is unchanged and the plan is evidence', async (t) => {
    const w = await world(t, emulator, key, { dryRun: true })
    const out = await chain(w, cloudTrailEvent('PutBucketPolicy', MALLORY, 'ct-dry'), 'dry')
    t.match(out, { status: 'planned', finding: { finding_info: { types: ['containment-planned'] } } })
    t.equal(await bucketPolicy(w.s3), publicPolicy, 'policy untouched')
    t.equal(await publicAccessBlock(w.s3), undefined, 'no public access block added')
    t.same(await keyStatus(w.iam, 'mallory'), ['Active'])
    t.same(await drain(w.sqs, w.alertQueue, 0), [], 'no alert for a plan')
    const manifest = JSON.parse((await w.store.getBytes(out.manifestKey as string)).bytes.toString('utf8')) as { artifacts: { path: string; key: string }[] }
    t.same(manifest.artifacts.map((a) => a.path), ['plan.json'])
    const plan = JSON.parse((await w.store.getBytes(manifest.artifacts[0].key)).bytes.toString('utf8')) as Record<string, unknown>
    t.match(plan, { schema: 'forensics.containment-plan/v1', bucket: BUCKET, principal: { arn: MALLORY, kind: 'iam-user' }, refused: false, reason: { kind: 'finding' } })
    t.same(actions(await new CustodyChain(w.store, key.signer, `case-${BUCKET}`).read()), ['captured', 'captured'], 'the plan is sealed in custody; nothing contained')

    // the same plan from the CLI, which is dry-run unless --apply
    const cli = await runCli(['contain', `case-${BUCKET}`, '--bucket', BUCKET, '--principal', MALLORY, '--json'], w.env)
    t.equal(cli.code, 0, cli.stderr)
    t.match(cli.json(), { status: 'planned' })
    t.equal(await bucketPolicy(w.s3), publicPolicy)
  })

  t.test('acceptance 2: an unauthorized GetObject revokes the IAM user after the capture; an allow-listed caller triggers nothing', async (t) => {
    const w = await world(t, emulator, key)
    // a private bucket: only the access decides (a public policy is a high finding on its own)
    await w.s3.send(new PutBucketPolicyCommand({ Bucket: BUCKET, Policy: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: READER }, Action: 's3:GetObject', Resource: `arn:aws:s3:::${BUCKET}/*` }] }) }))
    // the rule pattern, on the emulator's real EventBridge matcher
    const matched = await queue(w.sqs, 'sensitive-access')
    const [pattern] = sensitiveAccessPatterns(w.config.containment.sensitiveBuckets)
    await w.events.send(new PutRuleCommand({ Name: 'sensitive-access', EventPattern: JSON.stringify(pattern) }))
    await w.events.send(new PutTargetsCommand({ Rule: 'sensitive-access', Targets: [{ Id: 'q', Arn: matched.arn }] }))
    for (const [who, id] of [[MALLORY, 'ct-get-m'], [READER, 'ct-get-r']]) {
      const e = cloudTrailEvent('GetObject', who, id, 'customers.csv')
      await w.events.send(new PutEventsCommand({ Entries: [{ Source: e.source as string, DetailType: e['detail-type'] as string, Detail: JSON.stringify(e.detail) }] }))
    }
    const delivered = await drain(w.sqs, matched.url, 2)
    t.same(delivered.map((d) => ((d.detail as Record<string, unknown>).userIdentity as { arn: string }).arn), [MALLORY], 'only the caller outside the allow-list matches')

    const reader = await chain(w, cloudTrailEvent('GetObject', READER, 'ct-get-r', 'customers.csv'), 'reader')
    t.match(reader, { status: 'not-needed' }, 'a misrouted allow-listed event is still not contained')
    t.same(await keyStatus(w.iam, 'app-reader'), ['Active'])

    const out = await chain(w, cloudTrailEvent('GetObject', MALLORY, 'ct-get-m', 'customers.csv'), 'mallory')
    t.match(out, { status: 'applied', principalArn: MALLORY })
    t.same(await keyStatus(w.iam, 'mallory'), ['Inactive'], 'keys deactivated')
    t.equal((await w.iam.send(new ListAccessKeysCommand({ UserName: 'mallory' }))).AccessKeyMetadata?.[0].AccessKeyId, w.keys.mallory, 'never deleted')
    const deny = JSON.parse(decodeURIComponent((await w.iam.send(new GetUserPolicyCommand({ UserName: 'mallory', PolicyName: DENY_POLICY_NAME }))).PolicyDocument as string)) as { Statement: unknown[] }
    t.match(deny.Statement, [{ Effect: 'Deny', Action: '*', Resource: '*' }])
    const entries = await new CustodyChain(w.store, key.signer, `case-${BUCKET}`).read()
    const lastCapture = entries.filter((e) => e.action === 'captured' && String(e.subject.captureId).startsWith('bucket-config-')).at(-1) as CustodyEntry
    const firstContained = entries.find((e) => e.action === 'contained') as CustodyEntry
    t.ok(lastCapture.seq < firstContained.seq, 'the capture of the access is sealed before the first containment step')
    t.match(out, { reason: { kind: 'unauthorized-access' } })
    t.match(out.actions, [{ action: 'quarantine-bucket', status: 'applied' }, { action: 'revoke-principal', status: 'applied' }, { action: 'alert', status: 'applied' }])
  })

  t.test('acceptance 3: without a prior capture, for root and for neverContain: refused with exit 2, nothing changed', async (t) => {
    const w = await world(t, emulator, key)
    const noCapture = await runCli(['contain', 'case-3', '--bucket', BUCKET, '--principal', MALLORY, '--apply'], w.env)
    t.equal(noCapture.code, 2)
    t.match(noCapture.stderr, /holds no committed bucket-config capture of s3:\/\/sensitive-data: capture first \(forensics capture bucket-config --case case-3 --bucket sensitive-data\)/)
    t.equal(await bucketPolicy(w.s3), publicPolicy)
    t.equal(await publicAccessBlock(w.s3), undefined)
    t.same(await keyStatus(w.iam, 'mallory'), ['Active'])

    t.equal((await runCli(['capture', 'bucket-config', '--case', 'case-3', '--bucket', BUCKET], w.env)).code, 0)
    for (const principal of [`arn:aws:iam::${ACCOUNT}:root`, ADMIN, `arn:aws:sts::${ACCOUNT}:assumed-role/forensics-break-glass/alice`]) {
      const r = await runCli(['contain', 'case-3', '--bucket', BUCKET, '--principal', principal, '--apply', '--json'], w.env)
      t.equal(r.code, 2, principal)
      const doc = r.json() as { outcome: { status: string; actions: { action: string; status: string; reason?: string }[] } }
      t.equal(doc.outcome.status, 'refused')
      t.match(doc.outcome.actions.find((a) => a.action === 'revoke-principal'), { status: 'refused', reason: principal.endsWith(':root') ? /root user/ : /neverContain/ })
    }
    t.equal(await bucketPolicy(w.s3), publicPolicy, 'bucket unchanged after every refusal')
    t.equal(await publicAccessBlock(w.s3), undefined)
    t.same(await userPolicies(w.iam, 'org-admin'), [])
    t.same(await keyStatus(w.iam, 'org-admin'), ['Active'])
    t.same(await drain(w.sqs, w.alertQueue, 0), [], 'no alert')
    const entries = await new CustodyChain(w.store, key.signer, 'case-3').read()
    t.notOk(entries.some((e) => e.action === 'contained'), 'no contained entry')
    t.equal(entries.filter((e) => e.action === 'captured').length, 5, 'each refusal is recorded as a sealed plan (plus the bucket-config capture)')

    const bad = await runCli(['contain', 'case-3', '--bucket', BUCKET, '--principal', 'mallory', '--apply'], w.env)
    t.equal(bad.code, 2)
    t.match(bad.stderr, /is not a principal ARN/)
    t.equal((await new CustodyChain(w.store, key.signer, 'case-3').read()).length, entries.length, 'bad input writes nothing')
    const unknown = await runCli(['contain', 'case-3', '--bucket', BUCKET, '--actions', 'nuke'], w.env)
    t.equal(unknown.code, 2)
    t.match(unknown.stderr, /unknown containment action "nuke"/)
  })

  t.test('acceptance 4: undo restores the canonical policy, the public access block, key status, removes deny policies; released entries', async (t) => {
    const w = await world(t, emulator, key)
    await w.iam.send(new CreateRoleCommand({ RoleName: 'suspect-role', AssumeRolePolicyDocument: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: ACCOUNT }, Action: 'sts:AssumeRole' }] }) }))
    t.equal((await runCli(['capture', 'bucket-config', '--case', 'case-4', '--bucket', BUCKET], w.env)).code, 0)
    const applied = await runCli(['contain', 'case-4', '--bucket', BUCKET, '--principal', MALLORY, '--apply', '--json'], w.env)
    t.equal(applied.code, 0, applied.stderr)
    t.match(applied.json(), { status: 'applied', undo: 'forensics contain --undo case-4' })
    const session = `arn:aws:sts::${ACCOUNT}:assumed-role/suspect-role/session-1`
    const role = await runCli(['contain', 'case-4', '--bucket', BUCKET, '--principal', session, '--actions', 'revoke-principal', '--apply', '--json'], w.env)
    t.equal(role.code, 0, role.stderr)
    const revoke = JSON.parse(decodeURIComponent((await w.iam.send(new GetRolePolicyCommand({ RoleName: 'suspect-role', PolicyName: DENY_POLICY_NAME }))).PolicyDocument as string)) as { Statement: { Condition: { DateLessThan: Record<string, string> } }[] }
    t.match(revoke.Statement[0], { Effect: 'Deny', Action: '*', Condition: { DateLessThan: { 'aws:TokenIssueTime': /^\d{4}-\d\d-\d\dT/ } } })
    t.not(await bucketPolicy(w.s3), publicPolicy)
    t.same(await keyStatus(w.iam, 'mallory'), ['Inactive'])

    const undo = await runCli(['contain', '--undo', 'case-4', '--json'], w.env)
    t.equal(undo.code, 0, undo.stderr)
    t.match(undo.json(), { status: 'released' })
    t.equal(canonicalJson(JSON.parse((await bucketPolicy(w.s3)) as string)), canonicalJson(JSON.parse(publicPolicy)), 'policy byte-identical in canonical JSON')
    t.equal(await publicAccessBlock(w.s3), undefined, 'no public access block, as before')
    t.same(await keyStatus(w.iam, 'mallory'), ['Active'])
    t.same(await userPolicies(w.iam, 'mallory'), [])
    t.same((await w.iam.send(new ListRolePoliciesCommand({ RoleName: 'suspect-role' }))).PolicyNames, [])

    const entries = await new CustodyChain(w.store, key.signer, 'case-4').read()
    const contained = entries.filter((e) => e.action === 'contained' && (e.subject.containment as { action: string }).action !== 'alert').map((e) => e.seq)
    const released = entries.filter((e) => e.action === 'released').map((e) => (e.subject.release as { seq: number }).seq)
    t.same(released.sort(), contained.sort(), 'every containment step released once')
    t.same(await new CustodyChain(w.store, key.signer, 'case-4').verify(), [])

    const again = await runCli(['contain', '--undo', 'case-4'], w.env)
    t.equal(again.code, 2)
    t.match(again.stderr, /no containment in force/)
    const text = await runCli(['contain', 'case-4', '--bucket', BUCKET, '--principal', MALLORY], w.env)
    t.equal(text.code, 0, text.stderr)
    t.match(text.stdout, /containment planned for s3:\/\/sensitive-data in case case-4 \(dry-run: nothing changed; --apply to act\)/)
    t.match(text.stdout, /planned\s+revoke-principal\s+arn:aws:iam::123456789012:user\/mallory/)
    t.same(await keyStatus(w.iam, 'mallory'), ['Active'], 'a dry-run changes nothing')
    const mixed = await runCli(['contain', '--undo', 'case-4', '--bucket', BUCKET], w.env)
    t.equal(mixed.code, 2)
    t.match(mixed.stderr, /--undo takes only the case/)
  })

  t.test('the drill phase: dry-run plans and leaves the canary alone; apply quarantines, then releases by undo', async (t) => {
    const w = await world(t, emulator, key)
    t.equal((await runCli(['capture', 'bucket-config', '--case', 'drill-1', '--bucket', BUCKET], w.env)).code, 0)
    const targets = new AwsContainmentTargets({ s3: w.s3, iam: w.iam, sns: new SNSClient(emulator.clientConfig()) })
    const deps = { store: w.store, signer: key.signer, targets, settings: containmentSettings(w.config), actor: { tool: 'drill test' } }
    const dry = await runContainmentPhase({ ...deps, mode: 'dry-run' }, { caseId: 'drill-1', bucket: BUCKET, drillId: 'drill-1' })
    t.match(dry, [{ name: 'containment-planned', verdict: 'pass' }])
    t.equal(dry.length, 1)
    t.equal(await bucketPolicy(w.s3), publicPolicy)
    const applied = await runContainmentPhase({ ...deps, mode: 'apply' }, { caseId: 'drill-1', bucket: BUCKET, drillId: 'drill-2' })
    t.same(applied.map((c) => [c.name, c.verdict]), [['containment-planned', 'pass'], ['containment-applied', 'pass'], ['containment-released', 'pass']], JSON.stringify(applied))
    t.equal(canonicalJson(JSON.parse((await bucketPolicy(w.s3)) as string)), canonicalJson(JSON.parse(publicPolicy)))
    t.same(actions(await new CustodyChain(w.store, key.signer, 'drill-1').read()), ['captured', 'captured', 'captured', 'contained', 'captured', 'released'])
    // without a prior capture the phase fails its check instead of acting
    const none = await runContainmentPhase({ ...deps, mode: 'apply' }, { caseId: 'drill-none', bucket: BUCKET, drillId: 'drill-3' })
    t.match(none, [{ name: 'containment-planned', verdict: 'fail', summary: /ContainmentRefusedError/ }])
  })
})


t.test('principals: kinds from the ARN, patterns with wildcards, a role pattern with a path matches its sessions', async (t) => {
  t.match(parsePrincipal(MALLORY), { kind: 'iam-user', name: 'mallory', accountId: ACCOUNT })
  t.match(parsePrincipal(`arn:aws:iam::${ACCOUNT}:user/team/bob`), { kind: 'iam-user', name: 'bob' })
  t.match(parsePrincipal(`arn:aws:iam::${ACCOUNT}:root`), { kind: 'root' })
  t.match(parsePrincipal(`arn:aws:sts::${ACCOUNT}:assumed-role/App/s1`), { kind: 'assumed-role', name: 'App', iamArn: `arn:aws:iam::${ACCOUNT}:role/App` })
  t.match(parsePrincipal(`arn:aws:iam::${ACCOUNT}:role/path/App`), { kind: 'role', name: 'App' })
  t.match(parsePrincipal(`arn:aws:sts::${ACCOUNT}:federated-user/carol`), { kind: 'other' })
  t.throws(() => parsePrincipal('mallory'), { name: 'ValidationError', message: /is not a principal ARN/ })
  t.throws(() => parsePrincipal(42, 'actor'), { name: 'ValidationError' })
  t.ok(arnPatternMatches('arn:aws:iam::*:role/app-?', 'arn:aws:iam::1:role/app-1'))
  t.notOk(arnPatternMatches('arn:aws:iam::*:role/app-?', 'arn:aws:iam::1:role/app-12'))
  t.notOk(arnPatternMatches('arn:aws:iam::1:role/a.b', 'arn:aws:iam::1:role/aXb'), 'dots are literal')
  const session = parsePrincipal(`arn:aws:sts::${ACCOUNT}:assumed-role/App/s1`)
  t.ok(principalMatches([`arn:aws:iam::${ACCOUNT}:role/team/App`], session), 'role path pattern matches the session')
  t.ok(principalMatches([`arn:aws:iam::*:role/App`], session))
  t.notOk(principalMatches([`arn:aws:iam::${ACCOUNT}:role/Other`], session))
  t.notOk(principalMatches([`arn:aws:iam::${ACCOUNT}:role/App`], parsePrincipal(MALLORY)), 'a role pattern never matches a user')
})

t.test('the planner: refusals decided in one place; what a capture asks for', async (t) => {
  const fake = { region: 'us-east-1' } as Emulator
  const settings = containmentSettings(configFor(fake))
  const prior = { captureId: 'bucket-config-0123456789abcdef0123', manifestKey: 'k', endedAt: '2026-11-29T10:00:00.000Z' }
  const req = { caseId: 'c', bucket: BUCKET, reason: { kind: 'manual' as const, summary: 'test' }, trigger: { source: 'test', id: '1' } }
  t.same(planContainment(settings, req, prior).actions.map((a) => a.action), ['quarantine-bucket', 'alert'], 'no principal: no revoke by default')
  t.match(planContainment(settings, { ...req, actions: ['revoke-principal'] }, prior), { refused: true, actions: [{ status: 'refused', reason: /no principal to revoke/ }] })
  t.match(planContainment(settings, { ...req, principalArn: `arn:aws:sts::${ACCOUNT}:federated-user/carol`, actions: ['revoke-principal'] }, prior), { actions: [{ status: 'refused', reason: /neither an IAM user nor a role session/ }] })
  t.match(planContainment(settings, { ...req, bucket: settings.ownBuckets[0] }, prior), { refused: true, actions: [{ status: 'refused', reason: /toolkit's own bucket/ }, { action: 'alert', status: 'planned' }] })
  t.match(planContainment(settings, { ...req, principalArn: MALLORY }, undefined), { refused: true, priorCapture: null })

  const manifest = (over: Record<string, unknown>): Manifest => ({ schema: 'forensics.capture/v1', caseId: 'c', captureId: 'bucket-config-0123456789abcdef0123', collector: { name: 'bucket-config', version: '1' }, trigger: { source: 'cloudtrail:PutBucketPolicy', id: 'x' }, actor: { principalArn: MALLORY }, target: { bucket: BUCKET }, startedAt: '', endedAt: '', artifacts: [], errors: [], status: 'complete', findings: [], signing: { keyId: 'k', algorithm: 'a' }, ...over }) as Manifest
  t.equal(containmentFromCapture(settings, manifest({})), undefined, 'no finding, not a data event')
  t.equal(containmentFromCapture(settings, manifest({ findings: [{ type: 'x', severity: 'medium', title: 'm' }] })), undefined, 'below minSeverity')
  t.match(containmentFromCapture(settings, manifest({ findings: [{ type: 'x', severity: 'critical', title: 'public' }] })), { principalArn: MALLORY, reason: { kind: 'finding', summary: 'public' } })
  t.equal(containmentFromCapture(settings, manifest({ collector: { name: 'object-versions', version: '1' } })), undefined)
  t.equal(containmentFromCapture(settings, manifest({ trigger: { source: 'cloudtrail:GetObject', id: 'x' }, target: { bucket: 'other-bucket' } })), undefined, 'not a sensitive bucket')
  t.match(containmentFromCapture(settings, manifest({ trigger: { source: 'cloudtrail:GetObject', id: 'x' } })), { reason: { kind: 'unauthorized-access' } })
  const allowed = containmentFromCapture(settings, manifest({ trigger: { source: 'cloudtrail:GetObject', id: 'x' }, actor: { principalArn: READER }, findings: [{ type: 'x', severity: 'high', title: 'h' }] }))
  t.match(allowed, { reason: { kind: 'finding' } })
  t.notOk(allowed && 'principalArn' in allowed, 'an allow-listed caller is never the suspect')
})

t.test('settings from the environment, CLI action lists, the handler refuses what it cannot follow', async (t) => {
  t.throws(() => containmentSettingsFromEnv({}), { name: 'ValidationError', message: /is not set/ })
  t.throws(() => containmentSettingsFromEnv({ [CONTAINMENT_SETTINGS_ENV]: '{' }), { message: /is not JSON/ })
  t.throws(() => containmentSettingsFromEnv({ [CONTAINMENT_SETTINGS_ENV]: '{}' }), { message: /lacks/ })
  t.same(parseActions(undefined), undefined)
  t.same(parseActions('alert, quarantine-bucket'), ['alert', 'quarantine-bucket'])
  t.same(parseActions(['alert', 'revoke-principal']), ['alert', 'revoke-principal'])
  t.throws(() => parseActions(','), { name: 'UsageError' })
  const env = { [CONTAINMENT_SETTINGS_ENV]: JSON.stringify(containmentSettings(configFor({ region: 'us-east-1' } as Emulator))) }
  const handle = createContainmentHandler(env)
  const record = destination('forensics-custody-recorder', { kind: 'drill', caseId: 'c' }, 'r1')
  // the recorder's one OnSuccess also carries drill reports and inspection results: left alone, not failed to the DLQ
  t.match(await handle(record), { status: 'not-needed', caseId: 'c', reason: /kind "drill": containment follows sealed captures only/ })
  t.match(await handle(destination('forensics-custody-recorder', { kind: 'inspection', verdict: 'hit', object: 's3://b/k' }, 'r2')), { status: 'not-needed', reason: /kind "inspection"/ })
  await t.rejects(handle(destination('forensics-custody-recorder', { caseId: 'c' }, 'r3')), { name: 'ValidationError', message: /not a custody recorder result of kind "capture"/ })
  await t.rejects(handle({ ...record, requestContext: { ...record.requestContext, condition: 'RetriesExhausted' } }), { name: 'ValidationError', message: /only follows sealed captures/ })
})
