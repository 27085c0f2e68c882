/**
 * The contract between the stacks and the functions, end to end on real-shaped events: the
 * stacks are synthesized into a temp dir, the plan's rules are put on the emulator's
 * EventBridge with their synthesized patterns, every event name and finding type of the
 * trigger table goes through them, and each delivery runs the function's bundled asset with
 * the plan's environment to a committed capture.
 *
 * Events: CloudTrail records are the vendored real PutBucketPolicy record
 * (test/fixtures/cloudtrail/datasets/splunk-s3-open-bucket, the accepted call) — for the other
 * event names it is the closest real record with `eventName` and `requestParameters` adapted
 * to what CloudTrail records for that call; account, region, bucket and eventID are adapted
 * to the emulator. GuardDuty findings have no vendored real record: they follow the shape of
 * GuardDuty's documented sample S3 findings (schemaVersion 2.0), one per finding type.
 */
import t from 'tap'
import { randomUUID } from 'node:crypto'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge'
import { CreateBucketCommand, HeadObjectCommand, PutBucketVersioningCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3'
import { synthesizeForensicsApp } from '../stacks/app.js'
import { parseConfig } from '../forensics/config.js'
import { LOCAL_DRILL_CONFIG } from '../forensics/drill/local-config.js'
import { GUARDDUTY_S3_FINDING_TYPES, renderTriggerTable, S3_ACCESS_CHANGE_EVENTS, triggerRules, triggerScope } from '../forensics/contract/triggers.js'
import { planFunction, readDeploymentPlan, resolvePlanEnvironment, type DeploymentPlan, type PlanResolver } from '../forensics/runtime/synthesized-plan.js'
import { assertPlanContract, planContractProblems } from '../forensics/runtime/plan-contract.js'
import { PlanDeployment } from '../forensics/runtime/plan-deployment.js'
import { asyncInvokeRoutes, type AsyncInvokeRoute, type FunctionKey } from '../forensics/routing.js'
import { useEmulator } from './fixtures/emulator.js'

const VICTIM = 'forensics-contract-victim'
const rawConfig = { ...LOCAL_DRILL_CONFIG, watchedBuckets: [VICTIM] }
const config = parseConfig(rawConfig)
const ACCOUNT = config.forensicsAccountId
const scratch = mkdtempSync(join(tmpdir(), 'forensics-contract-'))
writeFileSync(join(scratch, 'config.json'), JSON.stringify(rawConfig))
synthesizeForensicsApp({ outdir: join(scratch, 'cdktf.out'), env: { ...process.env, FORENSICS_CONFIG: join(scratch, 'config.json') } })
const planFile = join(scratch, 'cdktf.out', 'stacks', 'forensics', 'cdk.tf.json')
// one emulator for the file, reset before each test (each provisions its own deployment)
const emulator = await useEmulator(t)

/** The real, accepted PutBucketPolicy record of the vendored dataset. */
const realPutBucketPolicy = (): Record<string, unknown> => {
  const lines = readFileSync(join(import.meta.dirname, 'fixtures', 'cloudtrail', 'datasets', 'splunk-s3-open-bucket', 'events.jsonl'), 'utf8').split('\n').filter(Boolean)
  const rec = lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((r) => r.eventName === 'PutBucketPolicy' && !r.errorCode)
  if (!rec) throw new Error('no accepted PutBucketPolicy record in the dataset')
  return rec
}

/** What CloudTrail records in requestParameters for each call (besides bucketName and Host). */
const PARAMS: Record<string, (base: Record<string, unknown>) => Record<string, unknown>> = {
  PutBucketPolicy: (base) => ({ bucketPolicy: base.bucketPolicy, policy: '' }),
  DeleteBucketPolicy: () => ({ policy: '' }),
  PutBucketAcl: () => ({ acl: '', AccessControlPolicy: { AccessControlList: { Grant: [{ Grantee: { 'xsi:type': 'Group', URI: 'http://acs.amazonaws.com/groups/global/AllUsers' }, Permission: 'READ' }] }, Owner: { ID: 'owner' } } }),
  PutBucketPublicAccessBlock: () => ({ publicAccessBlock: '', PublicAccessBlockConfiguration: { xmlns: 'http://s3.amazonaws.com/doc/2006-03-01/', BlockPublicAcls: false, IgnorePublicAcls: false, BlockPublicPolicy: false, RestrictPublicBuckets: false } }),
  DeleteBucketPublicAccessBlock: () => ({ publicAccessBlock: '' }),
  PutBucketEncryption: () => ({ encryption: '', ServerSideEncryptionConfiguration: { Rule: { ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } } } }),
  DeleteBucketEncryption: () => ({ encryption: '' }),
  PutBucketOwnershipControls: () => ({ ownershipControls: '', OwnershipControls: { Rule: { ObjectOwnership: 'ObjectWriter' } } }),
  DeleteBucketOwnershipControls: () => ({ ownershipControls: '' }),
  // not routed (the rule must not deliver it)
  PutBucketVersioning: () => ({ versioning: '', VersioningConfiguration: { Status: 'Suspended' } }),
}

function cloudTrailRecord(eventName: string, region: string): Record<string, unknown> {
  const base = realPutBucketPolicy()
  const params = base.requestParameters as Record<string, unknown>
  const identity = base.userIdentity as Record<string, unknown>
  return {
    ...base,
    eventName,
    eventID: randomUUID(),
    eventTime: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    awsRegion: region,
    recipientAccountId: ACCOUNT,
    userIdentity: { ...identity, accountId: ACCOUNT, arn: `arn:aws:iam::${ACCOUNT}:user/jose-attackrange` },
    requestParameters: { bucketName: VICTIM, Host: `${VICTIM}.s3.${region}.amazonaws.com`, ...PARAMS[eventName](params) },
    resources: [{ accountId: ACCOUNT, type: 'AWS::S3::Bucket', ARN: `arn:aws:s3:::${VICTIM}` }],
  }
}

function guardDutyFinding(type: string, region: string): Record<string, unknown> {
  const now = new Date().toISOString()
  return {
    schemaVersion: '2.0', accountId: ACCOUNT, region, partition: 'aws', id: randomUUID().replace(/-/g, ''),
    arn: `arn:aws:guardduty:${region}:${ACCOUNT}:detector/d/finding/f`, type,
    resource: {
      resourceType: 'S3Bucket',
      accessKeyDetails: { accessKeyId: 'GeneratedFindingAccessKeyId', principalId: 'GeneratedFindingPrincipalId', userName: 'GeneratedFindingUserName', userType: 'IAMUser' },
      s3BucketDetails: [{ arn: `arn:aws:s3:::${VICTIM}`, name: VICTIM, type: 'Destination', createdAt: now, owner: { id: 'owner' }, defaultServerSideEncryption: { encryptionType: 'AES256' }, publicAccess: { effectivePermission: 'NOT_PUBLIC' } }],
    },
    service: { serviceName: 'guardduty', detectorId: 'd', action: { actionType: 'AWS_API_CALL', awsApiCallAction: { api: 'GetObject', serviceName: 's3.amazonaws.com', callerType: 'Remote IP' } }, eventFirstSeen: now, eventLastSeen: now, archived: false, count: 1 },
    severity: 5, createdAt: now, updatedAt: now, title: `${type} on ${VICTIM}`, description: 'adapted from GuardDuty\'s documented sample finding',
  }
}

t.test('the synthesized plan is the routing the code has', async (t) => {
  const plan = readDeploymentPlan(planFile)
  t.match(plan.sha256, /^[0-9a-f]{64}$/)
  const byKey = (xs: AsyncInvokeRoute[]) => [...xs].sort((a, b) => a.key.localeCompare(b.key)).map(({ evidenceWritePrefixes: _w, ...r }) => r)
  t.same(byKey(plan.routes), byKey(asyncInvokeRoutes(config)), 'event invoke configs = the routing table')
  const rules = triggerRules(triggerScope(config))
  t.same(plan.rules.map((r) => r.name).sort(), rules.map((r) => `${config.name}-${r.id}`).sort())
  for (const { id, row } of rules) {
    const rule = plan.rules.find((r) => r.name === `${config.name}-${id}`)!
    t.same(rule.targets.map((x) => x.functionName).sort(), row.targets.map((k) => `${config.name}-${k}`).sort(), `${id} targets`)
    t.equal(rule.eventBusName, `${config.name}-intake`)
  }
  t.same(plan.eventSourceMappings, [{ queueName: `${config.name}-object-versions-fanout`, functionName: `${config.name}-object-versions`, batchSize: 1 }])
  t.match(plan.schedule, { name: `${config.name}-drill`, functionName: `${config.name}-drill`, input: { canaryBucket: 'forensics-local-canary' } })
  for (const f of plan.functions) t.match(f, { runtime: 'nodejs22.x', handler: 'index.handler', zipPath: /\.zip$/ })
})

t.test('every routed event name and finding type ends in a committed capture, run by the bundled handler', async (t) => {
  const plan = readDeploymentPlan(planFile)
  // the bundled zips run in warm containers, as Lambda reuses them (and as the drill runs them):
  // each function's first delivery is its cold start, the rest reuse that process
  const deployment = await PlanDeployment.open(emulator, plan, config, { warm: true })
  t.teardown(() => deployment.close())
  const s3 = new S3Client(emulator.clientConfig())
  await s3.send(new CreateBucketCommand({ Bucket: VICTIM }))
  await s3.send(new PutBucketVersioningCommand({ Bucket: VICTIM, VersioningConfiguration: { Status: 'Enabled' } }))
  await s3.send(new PutObjectCommand({ Bucket: VICTIM, Key: 'payroll/2026-11.csv', Body: 'name,amount\nalice,1\n' }))
  // a trail archive with no log file in the window yet (an archive without AWSLogs/ is refused before any write)
  const archive = config.cloudTrailArchive
  await s3.send(new PutObjectCommand({ Bucket: archive.bucket, Key: `${archive.prefix ? `${archive.prefix}/` : ''}AWSLogs/${ACCOUNT}/CloudTrail/${emulator.region}/`, Body: '' }))
  const events = new EventBridgeClient(emulator.clientConfig())
  const bus = `${config.name}-intake`
  const put = async (source: string, detailType: string, detail: Record<string, unknown>): Promise<void> => {
    const r = await events.send(new PutEventsCommand({ Entries: [{ Source: source, DetailType: detailType, Detail: JSON.stringify(detail), EventBusName: bus }] }))
    t.equal(r.FailedEntryCount ?? 0, 0)
  }

  const runs: { what: string; key: string; delivery: Record<string, unknown> }[] = []
  for (const name of S3_ACCESS_CHANGE_EVENTS) await put('aws.s3', 'AWS API Call via CloudTrail', cloudTrailRecord(name, emulator.region))
  // a call the rule does not route, and a routed call on an unwatched bucket: no delivery
  await put('aws.s3', 'AWS API Call via CloudTrail', cloudTrailRecord('PutBucketVersioning', emulator.region))
  await put('aws.s3', 'AWS API Call via CloudTrail', { ...cloudTrailRecord('PutBucketPolicy', emulator.region), requestParameters: { bucketName: 'not-watched' } })
  for (const type of GUARDDUTY_S3_FINDING_TYPES) await put('aws.guardduty', 'GuardDuty Finding', guardDutyFinding(type, emulator.region))
  const expected = S3_ACCESS_CHANGE_EVENTS.length + 2 * GUARDDUTY_S3_FINDING_TYPES.length
  const deliveries = await deployment.deliveries(expected, 60_000)
  t.equal(deliveries.length, expected, 'one delivery per routed event and target, none for the unrouted ones')
  for (const d of deliveries) {
    const detail = d.event.detail as Record<string, unknown>
    runs.push({ what: String(detail.eventName ?? detail.type), key: d.functionName.replace(`${config.name}-`, ''), delivery: d.event })
  }
  t.same([...new Set(runs.filter((r) => r.key === 'bucket-config').map((r) => r.what))].sort(), [...S3_ACCESS_CHANGE_EVENTS].sort())
  for (const k of ['object-versions', 'cloudtrail-slice']) t.same(runs.filter((r) => r.key === k).map((r) => r.what).sort(), [...GUARDDUTY_S3_FINDING_TYPES].sort(), `${k} gets every finding type`)

  const evidenceBucket = deployment.side.names.evidenceBucket
  for (const r of runs) {
    const out = await deployment.run(r.key as FunctionKey, r.delivery)
    t.ok(out.ok, `${r.key} ← ${r.what}: ${out.error ?? 'committed'}`)
    const result = out.result as { manifestKey?: string; status?: string; caseId?: string }
    t.match(result, { status: /^(complete|partial)$/, manifestKey: /^cases\/.+\/manifest\.json$/ }, `${r.key} ← ${r.what}: a committed capture`)
    if (result?.manifestKey) await s3.send(new HeadObjectCommand({ Bucket: evidenceBucket, Key: result.manifestKey }))
    if (r.key === 'cloudtrail-slice') {
      // the emulator has no LookupEvents: the archive part is committed as partial with the failure recorded
      t.equal(result.status, 'partial', `${r.what}: LookupEvents failure recorded, archive part kept`)
    }
  }
  t.equal(await deployment.pendingDeliveries(), 0)
  s3.destroy()
  events.destroy()
})

t.test('mutations: the plan renaming a variable or routing an event the handler refuses fails naming it', async (t) => {
  const raw = JSON.parse(readFileSync(planFile, 'utf8')) as { resource: Record<string, Record<string, Record<string, unknown>>> }
  // rename FORENSICS_TRAIL_ARCHIVE on cloudtrail-slice (in memory)
  const slice = Object.values(raw.resource.aws_lambda_function).find((f) => String(f.function_name).endsWith('-cloudtrail-slice'))!
  const vars = (slice.environment as { variables: Record<string, string> }).variables
  vars.FORENSICS_CLOUDTRAIL_ARCHIVE = vars.FORENSICS_TRAIL_ARCHIVE
  delete vars.FORENSICS_TRAIL_ARCHIVE
  // the rule routes an event name the handler does not accept (as if it were dropped from the handler)
  const rule = Object.values(raw.resource.aws_cloudwatch_event_rule).find((r) => r.name === `${config.name}-s3-access-changes`)!
  const pattern = JSON.parse(String(rule.event_pattern)) as { detail: { eventName: string[] } }
  pattern.detail.eventName.push('PutBucketVersioning')
  rule.event_pattern = JSON.stringify(pattern)
  const plan = readDeploymentPlan(planFile, raw)
  const deployment = await PlanDeployment.open(emulator, plan, config)
  const s3 = new S3Client(emulator.clientConfig())
  await s3.send(new CreateBucketCommand({ Bucket: VICTIM }))
  const events = new EventBridgeClient(emulator.clientConfig())
  await events.send(new PutEventsCommand({ Entries: [
    { Source: 'aws.s3', DetailType: 'AWS API Call via CloudTrail', Detail: JSON.stringify(cloudTrailRecord('PutBucketVersioning', emulator.region)), EventBusName: `${config.name}-intake` },
    { Source: 'aws.guardduty', DetailType: 'GuardDuty Finding', Detail: JSON.stringify(guardDutyFinding(GUARDDUTY_S3_FINDING_TYPES[0], emulator.region)), EventBusName: `${config.name}-intake` },
  ] }))
  const deliveries = await deployment.deliveries(3, 60_000)
  const find = (fn: string) => deliveries.find((d) => d.functionName === `${config.name}-${fn}`)!
  const refused = await deployment.run('bucket-config', find('bucket-config').event)
  t.match(refused, { ok: false, field: 'detail.eventName', error: /"PutBucketVersioning" is not routed to bucket-config/ })
  const cold = await deployment.run('cloudtrail-slice', find('cloudtrail-slice').event)
  t.match(cold, { ok: false, field: 'FORENSICS_TRAIL_ARCHIVE', error: /FORENSICS_TRAIL_ARCHIVE is not set on cloudtrail-slice/ })
  t.ok((await deployment.run('object-versions', find('object-versions').event)).ok, 'the unmutated function still captures')
  s3.destroy()
  events.destroy()
})

t.test('the plan contract the drill checks: the synthesized plan meets it; every departure is named', async (t) => {
  const resolver: PlanResolver = { queueUrl: (n) => `https://sqs/${n}`, queueArn: (n) => `arn:aws:sqs:r:1:${n}`, topicArn: (n) => `arn:aws:sns:r:1:${n}`, functionArn: (n) => `arn:aws:lambda:r:1:function:${n}`, busArn: (n) => `arn:aws:events:r:1:event-bus/${n}` }
  const env = (plan: DeploymentPlan) => (key: FunctionKey) => resolvePlanEnvironment(plan, planFunction(plan, key), resolver)
  const plan = readDeploymentPlan(planFile)
  t.same(planContractProblems(plan, config, env(plan)), [], 'as synthesized')
  t.doesNotThrow(() => assertPlanContract(plan, config, env(plan)))

  const raw = JSON.parse(readFileSync(planFile, 'utf8')) as { resource: Record<string, Record<string, Record<string, unknown>>> }
  const drill = Object.values(raw.resource.aws_lambda_function).find((f) => String(f.function_name).endsWith('-drill'))!
  ;(drill.environment as { variables: Record<string, string> }).variables.FORENSICS_RETENTION_DAYS = '0'
  const rules = raw.resource.aws_cloudwatch_event_rule
  const [accessId] = Object.entries(rules).find(([, r]) => r.name === `${config.name}-s3-access-changes`)!
  delete rules[accessId]
  const guardDuty = Object.values(rules).find((r) => r.name === `${config.name}-guardduty-s3`)!
  guardDuty.event_pattern = JSON.stringify({ ...JSON.parse(String(guardDuty.event_pattern)), source: ['aws.securityhub'] })
  const targets = raw.resource.aws_cloudwatch_event_target
  const [sliceTarget] = Object.entries(targets).find(([, x]) => String(x.target_id).endsWith('-cloudtrail-slice'))!
  delete targets[sliceTarget]
  const mutated = readDeploymentPlan(planFile, raw)
  t.same(planContractProblems(mutated, config, env(mutated)), [
    `${config.name}-drill: environment variable FORENSICS_RETENTION_DAYS of drill must be a whole number ≥ 1, got "0"`,
    `the plan has no rule ${config.name}-s3-access-changes (trigger s3-access-changes → bucket-config)`,
    `rule ${config.name}-guardduty-s3 targets ${config.name}-object-versions, the trigger contract ${config.name}-cloudtrail-slice, ${config.name}-object-versions`,
    `rule ${config.name}-guardduty-s3 matches {"source":["aws.securityhub"],"detail-type":["GuardDuty Finding"],"detail":{"resource":{"resourceType":["S3Bucket"]}}}, the trigger contract {"source":["aws.guardduty"],"detail-type":["GuardDuty Finding"],"detail":{"resource":{"resourceType":["S3Bucket"]}}}`,
  ])
  t.throws(() => assertPlanContract(mutated, config, env(mutated)), { name: 'ValidationError', field: 'plan', message: /breaks the contract between the stacks and the functions:\n {2}- .*FORENSICS_RETENTION_DAYS[\s\S]*synthesize again/ })
})

t.test('README: the trigger → function → destinations table is the one the contract generates', async (t) => {
  const readme = readFileSync(join(import.meta.dirname, '..', 'README.md'), 'utf8')
  const m = /<!-- trigger-table:start -->\n([\s\S]*?)\n<!-- trigger-table:end -->/.exec(readme)
  t.ok(m, 'README.md has the generated table between its markers')
  const local = parseConfig(LOCAL_DRILL_CONFIG)
  t.equal(m?.[1], renderTriggerTable(asyncInvokeRoutes(local), local.name), 'regenerate it with renderTriggerTable(asyncInvokeRoutes(config), config.name) for the built-in local config')
  t.throws(() => renderTriggerTable([], 'x'), { name: 'ValidationError', message: /trigger s3-access-changes targets bucket-config, which has no routing-table row/ })
})
