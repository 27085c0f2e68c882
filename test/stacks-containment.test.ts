/**
 * Containment in the stacks (stacks/containment.ts): deployed only with
 * `containment.enabled`, chained after the custody recorder, its own async routing, the
 * sensitive-access rules, the member role's extra policy — and acceptance 5: the IAM
 * simulator, on the synthesized policies, denies the containment role every change to the
 * evidence bucket's policy and lock configuration and to the KMS keys, while allowing the
 * containment actions on the buckets and principals it is for.
 */
import t from 'tap'
import { readFileSync } from 'node:fs'
import { Testing } from '../stacks/cdktf.js'
import { addForensicsStacks } from '../stacks/index.js'
import { parseConfig, type ForensicsConfig } from '../forensics/config.js'
import { resourceNames } from '../forensics/routing.js'
import { containmentRoute } from '../forensics/containment/route.js'
import { CONTAINMENT_SETTINGS_ENV } from '../forensics/containment/settings.js'
import { rolesOf, simulate, synthesizedPolicies } from './fixtures/iam-simulation.js'

const raw = JSON.parse(readFileSync(new URL('../forensics.config.json', import.meta.url), 'utf8')) as Record<string, unknown>
const enabled = parseConfig({
  ...raw,
  containment: {
    enabled: true,
    dryRun: false,
    sensitiveBuckets: [{ bucket: 'payments-data-prod', allowedPrincipals: ['arn:aws:iam::111111111111:role/payments-app'] }],
    alertEmail: 'security@example.com',
  },
})
const disabled = parseConfig(raw)

type Resources = Record<string, Record<string, Record<string, unknown>>>
function synth(c: ForensicsConfig): { forensics: { resource: Resources }; members: { resource: Resources }[] } {
  const app = Testing.app()
  const stacks = addForensicsStacks(app, c)
  return { forensics: JSON.parse(Testing.synth(stacks.forensics)) as { resource: Resources }, members: stacks.members.map((m) => JSON.parse(Testing.synth(m)) as { resource: Resources }) }
}
const on = synth(enabled)
const off = synth(disabled)
const names = resourceNames(enabled)
const fnName = containmentRoute(enabled).functionName

const fnsOf = (r: Resources): string[] => Object.values(r.aws_lambda_function ?? {}).map((f) => String(f.function_name))
const invokeConfigOf = (r: Resources, ref: string): Record<string, unknown> => Object.values(r.aws_lambda_function_event_invoke_config ?? {}).find((c) => String(c.function_name).includes(ref)) as Record<string, unknown>
const idOf = (r: Resources, type: string, pred: (x: Record<string, unknown>) => boolean): string => Object.entries(r[type] ?? {}).find(([, x]) => pred(x))![0]

t.test('off unless containment.enabled: no function, no topic, no rules, no member policy; the recorder routes to the SIEM bus', async (t) => {
  t.notOk(fnsOf(off.forensics.resource).includes(`${disabled.name}-containment`))
  t.notOk(Object.values(off.forensics.resource.aws_cloudwatch_event_rule ?? {}).some((r) => String(r.name).includes('sensitive-access')))
  t.notOk(Object.values(off.forensics.resource.aws_sns_topic ?? {}).some((r) => String(r.name).includes('containment')))
  for (const m of off.members) t.notOk(Object.values(m.resource.aws_iam_role_policy ?? {}).some((p) => p.name === 'containment'), 'the member role gains nothing')
  const recorder = idOf(off.forensics.resource, 'aws_lambda_function', (f) => f.function_name === resourceNames(disabled).functions['custody-recorder'])
  t.match(invokeConfigOf(off.forensics.resource, recorder), { destination_config: { on_success: { destination: /aws_cloudwatch_event_bus\./ } } })
})

t.test('enabled: capture → recorder → containment (async, own invoke config: OnSuccess SIEM bus, OnFailure DLQ); rules; topic; member policy', async (t) => {
  const R = on.forensics.resource
  t.ok(fnsOf(R).includes(fnName))
  const fnId = idOf(R, 'aws_lambda_function', (f) => f.function_name === fnName)
  const recorder = idOf(R, 'aws_lambda_function', (f) => f.function_name === names.functions['custody-recorder'])
  t.match(invokeConfigOf(R, recorder), { destination_config: { on_success: { destination: `\${aws_lambda_function.${fnId}.arn}` } } }, 'the recorder hands sealed captures to containment')
  t.match(invokeConfigOf(R, fnId), { maximum_retry_attempts: 0, destination_config: { on_success: { destination: /aws_cloudwatch_event_bus\./ }, on_failure: { destination: /aws_sqs_queue\./ } } })
  const env = (R.aws_lambda_function[fnId].environment as { variables: Record<string, string> }).variables
  t.match(JSON.parse(env[CONTAINMENT_SETTINGS_ENV]), { dryRun: false, sensitiveBuckets: [{ bucket: 'payments-data-prod' }], alertTopicArn: `arn:aws:sns:eu-west-1:111111111111:${enabled.name}-containment-alerts` })
  t.ok(Object.values(R.aws_sns_topic).some((x) => x.name === `${enabled.name}-containment-alerts`))
  t.ok(Object.values(R.aws_sns_topic_subscription).some((x) => x.endpoint === 'security@example.com'))
  const rule = Object.values(R.aws_cloudwatch_event_rule).find((r) => String(r.name).includes('sensitive-access'))!
  t.match(JSON.parse(String(rule.event_pattern)), { detail: { requestParameters: { bucketName: ['payments-data-prod'] }, userIdentity: { arn: [{ 'anything-but': ['arn:aws:iam::111111111111:role/payments-app'] }] } } })
  const targets = Object.values(R.aws_cloudwatch_event_target).filter((x) => String(x.target_id).startsWith('sensitive-access-'))
  t.equal(targets.length, 2, 'bucket-config and object-versions captures start first')
  for (const m of on.members) {
    const policy = Object.values(m.resource.aws_iam_role_policy).find((p) => p.name === 'containment')
    t.ok(policy, 'the member role gains the containment actions')
    const trust = JSON.parse(String(Object.values(m.resource.aws_iam_role)[0].assume_role_policy)) as { Statement: { Principal: { AWS: string[] } }[] }
    t.ok(trust.Statement[0].Principal.AWS.includes(`arn:aws:iam::111111111111:role/${fnName}`), 'and trusts the containment role')
  }
})

t.test('acceptance 5: the simulator denies the containment role the evidence bucket policy, lock configuration and keys', async (t) => {
  const policies = synthesizedPolicies([
    { plan: on.forensics as never, accountId: enabled.forensicsAccountId, region: enabled.region },
    ...on.members.map((m, i) => ({ plan: m as never, accountId: enabled.memberAccounts[i], region: enabled.region })),
  ])
  const role = rolesOf(policies).find((r) => r.arn.endsWith(`:role/${fnName}`))!
  t.ok(role, 'the containment role is synthesized')
  const account = enabled.forensicsAccountId
  const evidence = `arn:aws:s3:::${names.evidenceBucket}`
  const evidencePolicy = policies.resourcePolicies.get(evidence)
  const denied: string[] = []
  for (const action of ['s3:PutBucketPolicy', 's3:DeleteBucketPolicy', 's3:PutBucketObjectLockConfiguration', 's3:PutBucketPublicAccessBlock', 's3:PutBucketVersioning', 's3:PutLifecycleConfiguration', 's3:DeleteBucket']) {
    for (const [bucket, resourcePolicy] of [[evidence, evidencePolicy], [`arn:aws:s3:::${names.accessLogBucket}`, policies.resourcePolicies.get(`arn:aws:s3:::${names.accessLogBucket}`)]] as const) {
      const verdict = await simulate(role, { action, resource: bucket, resourceAccountId: account, ...(resourcePolicy ? { resourcePolicy } : {}) })
      t.not(verdict, 'Allowed', `${action} on ${bucket}`)
      denied.push(`${action} ${bucket.split(':::')[1]}: ${verdict}`)
    }
  }
  // on its own captures it may set retention (a write with Object Lock headers needs
  // s3:PutObjectRetention, as for every capture role; COMPLIANCE refuses shortening), never elsewhere
  for (const [action, path] of [['s3:DeleteObjectVersion', 'containment-0123456789abcdef0123'], ['s3:BypassGovernanceRetention', 'containment-0123456789abcdef0123'], ['s3:PutObjectLegalHold', 'containment-0123456789abcdef0123'], ['s3:PutObjectRetention', 'bucket-config-0123456789abcdef0123']]) {
    const verdict = await simulate(role, { action, resource: `${evidence}/cases/c/captures/${path}/manifest.json`, resourceAccountId: account, ...(evidencePolicy ? { resourcePolicy: evidencePolicy } : {}) })
    t.not(verdict, 'Allowed', `${action} on evidence objects (${path})`)
  }
  const keys = [...policies.resourcePolicies.entries()].filter(([arn]) => arn.startsWith('arn:aws:kms:'))
  t.ok(keys.length >= 2, `${keys.length} KMS keys`)
  for (const [keyArn, keyPolicy] of keys) {
    for (const action of ['kms:ScheduleKeyDeletion', 'kms:DisableKey', 'kms:PutKeyPolicy', 'kms:CreateGrant']) {
      const verdict = await simulate(role, { action, resource: keyArn, resourceAccountId: account, resourcePolicy: keyPolicy })
      t.not(verdict, 'Allowed', `${action} on ${keyArn}`)
      denied.push(`${action} ${keyArn.split('/').pop()}: ${verdict}`)
    }
  }
  t.comment(`containment role, denied: ${denied.length} calls`)

  // not vacuous: what containment is for is allowed, and only there
  t.equal(await simulate(role, { action: 's3:PutBucketPolicy', resource: 'arn:aws:s3:::payments-data-prod', resourceAccountId: account }), 'Allowed', 'quarantine a sensitive bucket')
  t.equal(await simulate(role, { action: 's3:PutBucketPublicAccessBlock', resource: 'arn:aws:s3:::payments-data-prod', resourceAccountId: account }), 'Allowed')
  t.not(await simulate(role, { action: 's3:PutBucketPolicy', resource: 'arn:aws:s3:::some-other-bucket', resourceAccountId: account }), 'Allowed', 'not an unwatched bucket')
  t.equal(await simulate(role, { action: 'iam:UpdateAccessKey', resource: `arn:aws:iam::${account}:user/mallory`, resourceAccountId: account }), 'Allowed', 'deactivate a user\'s keys')
  t.equal(await simulate(role, { action: 'iam:PutRolePolicy', resource: `arn:aws:iam::${account}:role/suspect`, resourceAccountId: account }), 'Allowed', 'revoke a role\'s sessions')
  t.not(await simulate(role, { action: 'iam:DeleteAccessKey', resource: `arn:aws:iam::${account}:user/mallory`, resourceAccountId: account }), 'Allowed', 'keys are never deleted')
  for (const protectedRole of [names.functions['bucket-config'], fnName, 'forensics-break-glass']) {
    t.equal(await simulate(role, { action: 'iam:PutRolePolicy', resource: `arn:aws:iam::${account}:role/${protectedRole}`, resourceAccountId: account }), 'ExplicitlyDenied', `never the toolkit's role ${protectedRole}`)
  }
})
