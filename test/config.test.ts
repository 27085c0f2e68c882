import t, { type Test } from 'tap'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { loadConfigFile, parseConfig, LOG_RETENTION_DAYS } from '../forensics/config.js'
import { ValidationError } from '../forensics/errors.js'

const example = JSON.parse(readFileSync(new URL('../forensics.config.json', import.meta.url), 'utf8')) as Record<string, unknown>

/** The example config with `patch` applied at a dotted path (undefined removes the field). */
function withField(path: string, value: unknown): Record<string, unknown> {
  const copy = structuredClone(example)
  const parts = path.split('.')
  let o = copy as Record<string, unknown>
  for (const p of parts.slice(0, -1)) {
    o[p] = { ...((o[p] as Record<string, unknown>) ?? {}) }
    o = o[p] as Record<string, unknown>
  }
  const last = parts[parts.length - 1]
  if (value === undefined) delete o[last]
  else o[last] = value
  return copy
}

/** Asserts parseConfig throws a ValidationError naming `field` first and in its message. */
function rejects(t: Test, input: unknown, field: string, fragment?: RegExp): void {
  try {
    parseConfig(input)
    t.fail(`expected a ValidationError for ${field}`)
  } catch (e) {
    t.type(e, ValidationError)
    const err = e as ValidationError
    t.equal(err.field, field, `field is ${field}`)
    t.match(err.message, `${field}:`, 'message names the field')
    if (fragment) t.match(err.message, fragment)
  }
}

t.test('the repository default config is valid and filled with defaults', async (t) => {
  const c = parseConfig(example)
  t.match(c, {
    name: 'forensics',
    forensicsAccountId: '111111111111',
    region: 'eu-west-1',
    regions: ['eu-west-1', 'us-east-1'],
    memberAccounts: ['222222222222'],
    evidence: { retentionDays: 365, mode: 'COMPLIANCE', allowGovernanceMode: false },
    drill: { enabled: true, canaryBucket: 'forensics-canary-111111111111', timezone: 'UTC' },
    capture: { maximumRetryAttempts: 2, maximumEventAgeInSeconds: 3600, logRetentionDays: 365 },
  })
  t.equal(c.codeSigning, undefined)
})

t.test('a minimal config gets COMPLIANCE and safe defaults', async (t) => {
  const c = parseConfig({
    forensicsAccountId: '111111111111',
    region: 'us-east-1',
    evidence: { breakGlassRoleArn: 'arn:aws:iam::111111111111:role/bg' },
    cloudTrailArchive: { bucket: 'trail-archive' },
    drill: { enabled: false },
    memberRole: { externalId: 'ext-id-1' },
  })
  t.match(c, {
    name: 'forensics',
    regions: ['us-east-1'],
    memberAccounts: [],
    watchedBuckets: [],
    evidence: { mode: 'COMPLIANCE', retentionDays: 365, investigatorRoleArns: [], accessLogRetentionDays: 400 },
    cloudTrailArchive: { bucket: 'trail-archive', prefix: '' },
    drill: { enabled: false, schedule: 'cron(0 6 ? * MON *)' },
    siem: { eventBusName: 'forensics-siem', topicName: 'forensics-siem' },
    memberRole: { roleName: 'forensics-capture-readonly', externalId: 'ext-id-1' },
  })
  t.notOk('canaryBucket' in c.drill)
  t.notOk('organizationId' in c.cloudTrailArchive)
})

t.test('the home region is always in regions', async (t) => {
  t.same(parseConfig(withField('regions', ['us-east-1'])).regions, ['eu-west-1', 'us-east-1'])
})

t.test('acceptance: invalid configs fail with the field named', async (t) => {
  rejects(t, withField('evidence.retentionDays', -1), 'evidence.retentionDays', /between 1 and 36500, got -1/)
  rejects(t, withField('evidence.retentionDays', 1.5), 'evidence.retentionDays', /whole number/)
  rejects(t, withField('evidence.mode', 'GOVERNANCE'), 'evidence.mode', /allowGovernanceMode/)
  rejects(t, withField('forensicsAccountId', '12345'), 'forensicsAccountId', /12-digit/)
  rejects(t, withField('forensicsAccountId', 111111111111), 'forensicsAccountId', /must be a string/)
  rejects(t, withField('memberAccounts', ['222222222222', 'abc']), 'memberAccounts[1]', /12-digit/)
  rejects(t, withField('drill.canaryBucket', undefined), 'drill.canaryBucket', /required when drill.enabled/)
})

t.test('GOVERNANCE is accepted only with the explicit flag', async (t) => {
  const c = parseConfig(withField('evidence', { ...(example.evidence as object), mode: 'GOVERNANCE', allowGovernanceMode: true }))
  t.equal(c.evidence.mode, 'GOVERNANCE')
  rejects(t, withField('evidence.mode', 'governance'), 'evidence.mode', /COMPLIANCE or GOVERNANCE/)
  rejects(t, withField('evidence.allowGovernanceMode', 'yes'), 'evidence.allowGovernanceMode', /true or false/)
})

t.test('every problem is listed, the first one is the field', async (t) => {
  const bad = withField('region', 'Europe')
  ;(bad.evidence as Record<string, unknown>).retentionDays = 0
  try {
    parseConfig(bad)
    t.fail('should throw')
  } catch (e) {
    const err = e as ValidationError
    t.equal(err.field, 'region')
    t.match(err.message, /2 problems/)
    t.match(err.message, /region: "Europe" is not valid/)
    t.match(err.message, /evidence\.retentionDays: must be between/)
  }
})

t.test('other field checks', async (t) => {
  t.throws(() => parseConfig(null), { name: 'ValidationError', field: '(root)', message: /must be a JSON object/ })
  t.throws(() => parseConfig([]), { name: 'ValidationError', field: '(root)' })
  rejects(t, withField('evidence', 'x'), 'evidence', /must be an object/)
  rejects(t, withField('name', 'Forensics_Prod'), 'name')
  rejects(t, withField('memberAccounts', ['111111111111']), 'memberAccounts[0]', /forensics account itself/)
  rejects(t, withField('memberAccounts', ['222222222222', '222222222222']), 'memberAccounts[1]', /twice/)
  rejects(t, withField('memberAccounts', '222222222222'), 'memberAccounts', /must be a list/)
  rejects(t, withField('evidence.breakGlassRoleArn', 'arn:aws:iam::333333333333:role/bg'), 'evidence.breakGlassRoleArn', /forensics account/)
  rejects(t, withField('evidence.breakGlassRoleArn', 'bg'), 'evidence.breakGlassRoleArn', /IAM role ARN/)
  rejects(t, withField('watchedBuckets', ['Bad_Bucket']), 'watchedBuckets[0]')
  rejects(t, withField('cloudTrailArchive.organizationId', 'org-1'), 'cloudTrailArchive.organizationId')
  rejects(t, withField('cloudTrailArchive.prefix', '/logs/'), 'cloudTrailArchive.prefix')
  rejects(t, withField('cloudTrailArchive.kmsKeyArn', 'alias/x'), 'cloudTrailArchive.kmsKeyArn')
  rejects(t, withField('drill.schedule', 'every monday'), 'drill.schedule', /Scheduler expression/)
  rejects(t, withField('drill.canaryBucket', 'payments-data-prod'), 'drill.canaryBucket', /also a watched bucket/)
  rejects(t, withField('drill.enabled', 1), 'drill.enabled')
  rejects(t, withField('capture.logRetentionDays', 100), 'capture.logRetentionDays', /CloudWatch Logs retention/)
  rejects(t, withField('capture.maximumRetryAttempts', 3), 'capture.maximumRetryAttempts')
  rejects(t, withField('capture.maximumEventAgeInSeconds', 30), 'capture.maximumEventAgeInSeconds')
  rejects(t, withField('memberRole.externalId', undefined), 'memberRole.externalId', /is required/)
  rejects(t, withField('siem.alertEmail', 'not-an-email'), 'siem.alertEmail')
  rejects(t, withField('codeSigning', {}), 'codeSigning.signingProfileVersionArns', /at least one/)
  rejects(t, withField('codeSigning', { signingProfileVersionArns: ['x'] }), 'codeSigning.signingProfileVersionArns[0]')
  t.ok(LOG_RETENTION_DAYS.includes(365))
})

t.test('optional sections are carried through', async (t) => {
  const profile = 'arn:aws:signer:eu-west-1:111111111111:/signing-profiles/forensics/abcdef1234'
  const c = parseConfig({
    ...withField('codeSigning', { signingProfileVersionArns: [profile], untrustedArtifactOnDeployment: 'Warn' }),
    siem: { eventBusName: 'siem-bus', topicName: 'siem-topic', alertEmail: 'oncall@example.com' },
  })
  t.same(c.codeSigning, { signingProfileVersionArns: [profile], untrustedArtifactOnDeployment: 'Warn' })
  t.same(c.siem, { eventBusName: 'siem-bus', topicName: 'siem-topic', alertEmail: 'oncall@example.com' })
  const k = parseConfig(withField('cloudTrailArchive.kmsKeyArn', 'arn:aws:kms:eu-west-1:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab'))
  t.match(k.cloudTrailArchive, { kmsKeyArn: /^arn:aws:kms/ })
})

t.test('loadConfigFile reads JSON files and names the file on errors', async (t) => {
  const dir = t.testdir()
  const good = join(dir, 'good.json')
  writeFileSync(good, JSON.stringify(example))
  t.equal(loadConfigFile(good).forensicsAccountId, '111111111111')
  const broken = join(dir, 'broken.json')
  writeFileSync(broken, '{ "name": ')
  t.throws(() => loadConfigFile(broken), { name: 'ValidationError', field: '(file)', message: /broken\.json is not valid JSON/ })
  t.throws(() => loadConfigFile(join(dir, 'missing.json')), { name: 'ValidationError', field: '(file)', message: /cannot read forensics config .*missing\.json/ })
})

t.test('containment: off, dry-run and every action by default; the section is validated field by field', async (t) => {
  const c = parseConfig(example)
  t.same(c.containment, { enabled: false, minSeverity: 'high', dryRun: true, actions: ['quarantine-bucket', 'revoke-principal', 'alert'], sensitiveBuckets: [], neverContain: [] })
  t.equal(c.drill.containment, 'dry-run')
  const on = parseConfig(
    withField('containment', {
      enabled: true,
      dryRun: false,
      minSeverity: 'critical',
      actions: ['alert', 'quarantine-bucket'],
      sensitiveBuckets: [{ bucket: 'payments-data-prod', allowedPrincipals: ['arn:aws:iam::111111111111:role/payments-*'] }],
      neverContain: ['arn:aws:iam::*:role/OrganizationAccountAccessRole'],
      alertTopicArn: 'arn:aws:sns:eu-west-1:111111111111:security-team',
    }),
  )
  t.match(on.containment, { enabled: true, dryRun: false, minSeverity: 'critical', actions: ['quarantine-bucket', 'alert'], alertTopicArn: 'arn:aws:sns:eu-west-1:111111111111:security-team' })
  t.same(on.containment.sensitiveBuckets, [{ bucket: 'payments-data-prod', allowedPrincipals: ['arn:aws:iam::111111111111:role/payments-*'] }])

  rejects(t, withField('containment.minSeverity', 'severe'), 'containment.minSeverity')
  rejects(t, withField('containment.actions', ['quarantine-bucket', 'delete-bucket']), 'containment.actions[1]')
  rejects(t, withField('containment.neverContain', ['alice']), 'containment.neverContain[0]')
  rejects(t, withField('containment.alertTopicArn', 'security-team'), 'containment.alertTopicArn')
  rejects(t, withField('containment', { alertTopicArn: 'arn:aws:sns:eu-west-1:111111111111:t', alertEmail: 'sec@example.com' }), 'containment.alertEmail', /only used for the topic the stack creates/)
  rejects(t, withField('containment.sensitiveBuckets', 'payments-data-prod'), 'containment.sensitiveBuckets', /must be a list/)
  rejects(t, withField('containment.sensitiveBuckets', ['payments-data-prod']), 'containment.sensitiveBuckets[0]', /must be an object/)
  rejects(t, withField('containment.sensitiveBuckets', [{ bucket: 'Not_A_Bucket' }]), 'containment.sensitiveBuckets.0.bucket')
  rejects(t, withField('containment.sensitiveBuckets', [{ bucket: 'unwatched-bucket' }]), 'containment.sensitiveBuckets', /unwatched-bucket is not in watchedBuckets/)
  rejects(t, withField('containment.sensitiveBuckets', [{ bucket: 'payments-data-prod', allowedPrincipals: 'x' }]), 'containment.sensitiveBuckets.0.allowedPrincipals')
  rejects(t, withField('containment.sensitiveBuckets', [{ bucket: 'payments-data-prod', allowedPrincipals: ['bob'] }]), 'containment.sensitiveBuckets.0.allowedPrincipals[0]')
  rejects(t, withField('containment.sensitiveBuckets', [{ bucket: 'payments-data-prod' }, { bucket: 'payments-data-prod' }]), 'containment.sensitiveBuckets.1.bucket', /listed twice/)
  const own = structuredClone(example) as Record<string, unknown>
  own.watchedBuckets = ['forensics-evidence-111111111111-eu-west-1', 'forensics-canary-111111111111']
  own.containment = { sensitiveBuckets: [{ bucket: 'forensics-evidence-111111111111-eu-west-1' }] }
  rejects(t, own, 'drill.canaryBucket')
  own.watchedBuckets = ['forensics-evidence-111111111111-eu-west-1']
  rejects(t, own, 'containment.sensitiveBuckets.0.bucket', /never changes the evidence/)
  own.containment = { sensitiveBuckets: [{ bucket: 'forensics-canary-111111111111' }] }
  rejects(t, own, 'containment.sensitiveBuckets.0.bucket', /canary/)
  rejects(t, withField('drill.containment', 'always'), 'drill.containment')
})
