/**
 * The bucket-config finding rules (forensics/bucket-config/findings.ts) on constructed
 * snapshots: what is public, cross-account or expiring now, and what weakened since the
 * previous snapshot. Snapshots of real buckets are compared in bucket-config.test.ts.
 */
import t from 'tap'
import { crossAccountPrincipals, diffBucketConfig, expiringLifecycleRules, policyStatements, publicAccessBlockFlags, publicGrants } from '../forensics/bucket-config/findings.js'
import { BUCKET_CONFIG_SCHEMA, type BucketConfigSnapshot, type CallRecord } from '../forensics/bucket-config/snapshot.js'

const OWNER = '123456789012'
const OTHER = '210987654321'
const ok = (value: unknown, operation = 'Op'): CallRecord => ({ operation, outcome: 'ok', value })
const absent = (operation = 'Op'): CallRecord => ({ operation, outcome: 'absent', code: 'NoSuchThing' })
const denied = (operation = 'Op', code?: string): CallRecord => ({ operation, outcome: 'denied', ...(code ? { code } : {}) })
const snap = (calls: Record<string, CallRecord>, over: Partial<BucketConfigSnapshot> = {}): BucketConfigSnapshot => ({ schema: BUCKET_CONFIG_SCHEMA, bucket: 'bkt', accountId: OWNER, exists: true, calls, ...over })
const policy = (...Statement: unknown[]): CallRecord => ok({ Policy: 'x', parsed: { Statement } })
const types = (fs: { type: string }[]): string[] => fs.map((f) => f.type).sort()

t.test('policy statements: absent, unknown, unparsed, a single statement', async (t) => {
  t.same(policyStatements(snap({ policy: absent() })), [])
  t.equal(policyStatements(snap({ policy: denied() })), undefined)
  t.equal(policyStatements(snap({})), undefined, 'not read at all is unknown')
  t.equal(policyStatements(snap({ policy: ok({ Policy: 'not json' }) })), undefined, 'an unparsable policy is unknown, not empty')
  t.same(policyStatements(snap({ policy: ok({ Policy: 'x', parsed: { Statement: { Effect: 'Allow' } } }) })), [{ Effect: 'Allow' }], 'a lone statement object')
  t.same(policyStatements(snap({ policy: ok({ Policy: 'x', parsed: { Statement: [1, 'x', null, { Sid: 'a' }] } }) })), [{ Sid: 'a' }], 'non-objects are ignored')
})

t.test('public grants: principals, conditions, ACL groups', async (t) => {
  t.equal(publicGrants(snap({ policy: denied(), acl: denied() })), undefined)
  const grants = publicGrants(
    snap({
      policy: policy(
        { Effect: 'Allow', Principal: { AWS: ['arn:aws:iam::1:root', '*'] }, Action: ['s3:GetObject', 's3:ListBucket'] },
        { Sid: 'Cond', Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Condition: { IpAddress: { 'aws:SourceIp': '10.0.0.0/8' } } },
        { Sid: '', Effect: 'Allow', Principal: '*', Action: 's3:PutObject', Condition: {} },
        { Effect: 'Deny', Principal: '*', Action: 's3:*' },
        { Effect: 'Allow', Principal: ['*'], Action: 's3:*' },
        { Effect: 'Allow', Principal: { Service: 'logging.s3.amazonaws.com' }, Action: 's3:PutObject' },
      ),
      acl: ok({
        Grants: [
          { Grantee: { URI: 'http://acs.amazonaws.com/groups/global/AuthenticatedUsers' }, Permission: 'WRITE' },
          { Grantee: { URI: 'http://acs.amazonaws.com/groups/s3/LogDelivery' }, Permission: 'WRITE' },
          { Grantee: { ID: 'owner' }, Permission: 'FULL_CONTROL' },
          { Permission: 'READ' },
        ],
      }),
    }),
  )!
  t.same(
    grants.map((g) => g.label),
    [
      'bucket policy statement Statement[0] grants Principal {"AWS":["arn:aws:iam::1:root","*"]} s3:GetObject, s3:ListBucket',
      'bucket policy statement "Cond" (Statement[1]) grants Principal "*" s3:GetObject (with conditions)',
      'bucket policy statement Statement[2] grants Principal "*" s3:PutObject',
      'bucket ACL grants WRITE to AuthenticatedUsers',
    ],
    'a Principal list, a Deny and a service principal are not public grants; an empty Sid is unnamed',
  )
  t.match(grants[3], { id: 'acl:http://acs.amazonaws.com/groups/global/AuthenticatedUsers:WRITE', detail: { source: 'acl', permission: 'WRITE' } })
  t.same(publicGrants(snap({ policy: absent(), acl: absent() })), [], 'no policy and no ACL: known, nothing public')
  t.same(publicGrants(snap({ policy: denied(), acl: ok({}) })), [], 'an ACL without grants')
})

t.test('cross-account principals, public access block flags, expiring lifecycle rules', async (t) => {
  const s = snap({
    policy: policy(
      { Sid: 'Acct', Effect: 'Allow', Principal: { AWS: OTHER }, Action: 's3:GetObject' },
      { Effect: 'Allow', Principal: { AWS: [`arn:aws:iam::${OWNER}:root`, `arn:aws-cn:sts::${OTHER}:assumed-role/r/s`, 'not-an-arn'] }, Action: ['s3:PutObject'] },
      { Effect: 'Allow', Principal: '*', Action: 's3:GetObject' },
      { Effect: 'Deny', Principal: { AWS: OTHER }, Action: 's3:*' },
    ),
  })
  t.equal(crossAccountPrincipals(s, undefined), undefined, 'without the owner nothing can be called cross-account')
  t.equal(crossAccountPrincipals(snap({ policy: denied() }), OWNER), undefined)
  const found = crossAccountPrincipals(s, OWNER)!
  t.same(found.map((f) => [f.detail.principal, f.detail.account]), [[OTHER, OTHER], [`arn:aws-cn:sts::${OTHER}:assumed-role/r/s`, OTHER]])
  t.match(found[0].label, /"Acct" \(Statement\[0\]\) grants 210987654321 \(account 210987654321\) s3:GetObject/)

  t.equal(publicAccessBlockFlags(undefined), undefined)
  t.equal(publicAccessBlockFlags(denied()), undefined)
  t.same(publicAccessBlockFlags(absent()), { BlockPublicAcls: false, IgnorePublicAcls: false, BlockPublicPolicy: false, RestrictPublicBuckets: false })
  t.same(publicAccessBlockFlags(ok({})), { BlockPublicAcls: false, IgnorePublicAcls: false, BlockPublicPolicy: false, RestrictPublicBuckets: false }, 'a response without a configuration')
  t.same(publicAccessBlockFlags(ok({ PublicAccessBlockConfiguration: { BlockPublicAcls: true, IgnorePublicAcls: 'true' } })), { BlockPublicAcls: true, IgnorePublicAcls: false, BlockPublicPolicy: false, RestrictPublicBuckets: false }, 'only a real true counts')

  t.same(expiringLifecycleRules(snap({ lifecycle: absent() })), [])
  t.equal(expiringLifecycleRules(snap({ lifecycle: denied() })), undefined)
  const rules = expiringLifecycleRules(
    snap({
      lifecycle: ok({
        Rules: [
          { ID: 'days', Status: 'Enabled', Expiration: { Days: 30 } },
          { ID: 'date', Status: 'Enabled', Expiration: { Date: '2027-01-01' } },
          { ID: 'markers', Status: 'Enabled', Expiration: { ExpiredObjectDeleteMarker: true } },
          { ID: 'noncurrent', Status: 'Enabled', NoncurrentVersionExpiration: { NoncurrentDays: 1 } },
          { ID: 'off', Status: 'Disabled', Expiration: { Days: 1 } },
          { ID: 'transition', Status: 'Enabled', Transitions: [{ Days: 1, StorageClass: 'GLACIER' }] },
        ],
      }),
    }),
  )!
  t.same(rules.map((r) => r.ID), ['days', 'date', 'noncurrent'], 'a delete-marker cleanup, a disabled rule and a transition expire nothing')
})

t.test('diffBucketConfig without a previous snapshot reports what is risky now', async (t) => {
  t.same(diffBucketConfig(undefined, snap({}, { exists: false })), [], 'a missing bucket with nothing before')
  t.same(diffBucketConfig(snap({}, { exists: false }), snap({}, { exists: false })), [], 'still missing')
  t.match(diffBucketConfig(snap({}), snap({}, { exists: false })), [{ type: 'bucket-deleted', severity: 'high', title: 'bucket no longer exists (s3://bkt)', resource: 'arn:aws:s3:::bkt' }])
  const current = snap({
    policy: policy({ Effect: 'Allow', Principal: '*', Action: 's3:GetObject' }, { Effect: 'Allow', Principal: { AWS: OTHER }, Action: 's3:GetObject' }),
    lifecycle: ok({ Rules: [{ Status: 'Enabled', Expiration: { Days: 1 } }] }),
  })
  const fs = diffBucketConfig(snap({}, { exists: false }), current)
  t.same(types(fs), ['cross-account-principal-present', 'lifecycle-expires-versions', 'public-grant-present'], 'a previous snapshot of a missing bucket counts as none')
  t.match(fs.find((f) => f.type === 'lifecycle-expires-versions'), { title: 'lifecycle rule "" expires object versions (s3://bkt)' })
  t.same(diffBucketConfig(undefined, snap({ policy: denied(), acl: denied(), lifecycle: denied() })), [], 'nothing known, nothing reported')
  t.same(types(diffBucketConfig(undefined, snap({ policy: policy({ Effect: 'Allow', Principal: { AWS: OTHER }, Action: 's3:*' }) }, { accountId: undefined }))), [], 'no owner: no cross-account finding')
  t.same(types(diffBucketConfig(snap({}), snap({ policy: policy({ Effect: 'Allow', Principal: { AWS: OTHER }, Action: 's3:*' }) }, { accountId: undefined }))), ['cross-account-principal-added'], 'the owner comes from the previous snapshot when the current one names none')
})

t.test('diffBucketConfig against a previous snapshot reports each weakening', async (t) => {
  const pab = (on: boolean) => ok({ PublicAccessBlockConfiguration: { BlockPublicAcls: on, IgnorePublicAcls: on, BlockPublicPolicy: true, RestrictPublicBuckets: on } })
  const prev = snap({
    policy: policy({ Sid: 'Old', Effect: 'Allow', Principal: '*', Action: 's3:GetObject' }),
    acl: ok({ Grants: [] }),
    publicAccessBlock: pab(true),
    accountPublicAccessBlock: pab(true),
    encryption: ok({ ServerSideEncryptionConfiguration: { Rules: [] } }),
    versioning: ok({ Status: 'Enabled', MFADelete: 'Enabled' }),
    logging: ok({ LoggingEnabled: { TargetBucket: 'logs' } }),
    lifecycle: ok({ Rules: [{ ID: 'keep', Status: 'Enabled', Expiration: { Days: 365 } }] }),
    tags: ok({ TagSet: [] }),
    cors: absent(),
    website: denied(),
  })
  const current = snap({
    policy: policy({ Sid: 'New', Effect: 'Allow', Principal: '*', Action: 's3:PutObject' }, { Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${OTHER}:root` }, Action: 's3:GetObject' }),
    acl: ok({ Grants: [{ Grantee: { URI: 'http://acs.amazonaws.com/groups/global/AllUsers' }, Permission: 'READ' }] }),
    publicAccessBlock: absent(),
    accountPublicAccessBlock: pab(false),
    encryption: absent(),
    versioning: ok({}),
    logging: ok({}),
    lifecycle: ok({ Rules: [{ ID: 'keep', Status: 'Enabled', Expiration: { Days: 365 } }, { ID: 'purge', Status: 'Enabled', NoncurrentVersionExpiration: { NoncurrentDays: 1 } }] }),
    tags: denied('GetBucketTagging'),
    cors: denied('GetBucketCors', 'AllAccessDisabled'),
    website: denied('GetBucketWebsite'),
    replication: denied('GetBucketReplication'),
  })
  const fs = diffBucketConfig(prev, current)
  t.same(types(fs), [
    'configuration-unreadable',
    'configuration-unreadable',
    'cross-account-principal-added',
    'encryption-removed',
    'lifecycle-expires-versions',
    'logging-disabled',
    'mfa-delete-disabled',
    'public-access-block-weakened',
    'public-access-block-weakened',
    'public-grant-added',
    'public-grant-added',
    'public-grant-removed',
    'versioning-suspended',
  ])
  const titles = fs.map((f) => f.title)
  t.ok(titles.includes('bucket-level public access block weakened: BlockPublicAcls, IgnorePublicAcls, RestrictPublicBuckets, BlockPublicPolicy turned off (s3://bkt)') || titles.some((x) => /^bucket-level public access block weakened: BlockPublicAcls, IgnorePublicAcls, BlockPublicPolicy, RestrictPublicBuckets turned off/.test(x)), 'an absent block turns every flag off')
  t.ok(titles.some((x) => /^account-level public access block weakened: BlockPublicAcls, IgnorePublicAcls, RestrictPublicBuckets turned off/.test(x)), 'only the flags that went from on to off')
  t.ok(titles.includes('versioning suspended (now off) (s3://bkt)'))
  t.ok(titles.includes('lifecycle rule "purge" expires object versions (s3://bkt)'), 'only the new rule')
  t.ok(titles.includes('GetBucketTagging is now refused (AccessDenied); it was readable in the previous snapshot (s3://bkt)'))
  t.ok(titles.includes('GetBucketCors is now refused (AllAccessDisabled); it was readable in the previous snapshot (s3://bkt)'), 'absent was readable too')
  t.notOk(titles.some((x) => /GetBucket(Website|Replication)/.test(x)), 'refused before, or not read before: no finding')
  t.match(fs.find((f) => f.type === 'public-grant-removed'), { severity: 'info', title: /"Old"/ })

  // unknown on one side: no content findings at all
  const unknown = snap({ policy: denied(), acl: denied(), publicAccessBlock: denied(), encryption: denied(), versioning: denied(), logging: denied(), lifecycle: denied() })
  t.same(diffBucketConfig(prev, unknown).filter((f) => f.type !== 'configuration-unreadable'), [], 'nothing unreadable is called removed')
  t.same(types(diffBucketConfig(unknown, current)), ['cross-account-principal-added', 'lifecycle-expires-versions', 'lifecycle-expires-versions', 'public-grant-added', 'public-grant-added'], 'against an unknown before everything risky is added; nothing is removed')
  const suspended = diffBucketConfig(snap({ versioning: ok({ Status: 'Enabled' }) }), snap({ versioning: ok({ Status: 'Suspended', MFADelete: 'Disabled' }) }))
  t.same(suspended.map((f) => f.title), ['versioning suspended (now Suspended) (s3://bkt)'])
  t.same(diffBucketConfig(snap({ logging: ok({}) }), snap({ logging: ok({}) })), [], 'logging that was never on is not disabled')
  t.same(diffBucketConfig(snap({ logging: ok({ LoggingEnabled: {} }) }), snap({ logging: denied() })).map((f) => f.type), ['configuration-unreadable'])
})
