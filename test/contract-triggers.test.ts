/** The trigger contract (forensics/contract/triggers.ts): rows, patterns, the parser every targeted handler uses, the one case-id rule. */
import t from 'tap'
import {
  caseIdForTrigger, caseIdOf, DEFAULT_CASE_ID_TEMPLATE, isTriggerEvent, parseTriggerEvent, S3_ACCESS_CHANGE_EVENTS, S3_DATA_EVENT_NAMES, triggerOf, triggerPattern, triggerPatterns, triggerRow, triggerRules, triggerScope, triggersOf, TRIGGERS,
  type TriggerFacts,
} from '../forensics/contract/triggers.js'
import { FUNCTION_KEYS } from '../forensics/routing.js'
import { parseConfig } from '../forensics/config.js'
import { readFileSync } from 'node:fs'

const rawConfig = JSON.parse(readFileSync(new URL('../forensics.config.json', import.meta.url), 'utf8')) as unknown

const OWNER = '123456789012'
const ct = (detail: Record<string, unknown>, top: Record<string, unknown> = {}) => ({ source: 'aws.s3', 'detail-type': 'AWS API Call via CloudTrail', detail: { eventName: 'PutBucketAcl', requestParameters: { bucketName: 'bkt' }, eventID: 'e1', ...detail }, ...top })
const gd = (detail: Record<string, unknown>, top: Record<string, unknown> = {}) => ({
  source: 'aws.guardduty', 'detail-type': 'GuardDuty Finding', id: 'eb-9', account: OWNER, region: 'eu-west-1',
  detail: { id: 'f1', type: 'Policy:S3/BucketBlockPublicAccessDisabled', resource: { resourceType: 'S3Bucket', s3BucketDetails: [{ name: 'b1' }] }, service: { eventFirstSeen: '2026-11-29T10:00:00Z', eventLastSeen: '2026-11-29T11:00:00Z' }, ...detail },
  ...top,
})

t.test('the table: every row targets known functions, public access block and ownership calls as CloudTrail names them', async (t) => {
  t.same(TRIGGERS.map((r) => r.id), ['s3-access-changes', 'guardduty-s3', 'sensitive-access'])
  for (const r of TRIGGERS) for (const k of r.targets) t.ok(FUNCTION_KEYS.includes(k), `${r.id} → ${k}`)
  for (const e of ['PutBucketPublicAccessBlock', 'DeleteBucketPublicAccessBlock', 'PutBucketOwnershipControls', 'DeleteBucketOwnershipControls']) t.ok(S3_ACCESS_CHANGE_EVENTS.includes(e as never), e)
  t.notOk(S3_ACCESS_CHANGE_EVENTS.includes('PutPublicAccessBlock' as never), 'the API operation name is not what CloudTrail records for a bucket')
  t.same(triggersOf('bucket-config').map((r) => r.id), ['s3-access-changes', 'sensitive-access'])
  t.same(triggersOf('object-versions').map((r) => r.id), ['guardduty-s3', 'sensitive-access'])
  // CloudTrail rows are told apart by event name: their lists must not overlap
  const ctNames = TRIGGERS.flatMap((r) => [...(r.eventNames ?? [])])
  t.equal(new Set(ctNames).size, ctNames.length, 'no event name in two rows')
  t.same(triggersOf('custody-recorder'), [])
  t.same(triggerPattern(triggerRow('s3-access-changes'), []), { source: ['aws.s3'], 'detail-type': ['AWS API Call via CloudTrail'], detail: { eventSource: ['s3.amazonaws.com'], eventName: [...S3_ACCESS_CHANGE_EVENTS] } }, 'no watched buckets: every bucket')
  t.match(triggerPatterns(['w1'])['s3-access-changes'], { detail: { requestParameters: { bucketName: ['w1'] } } })
  t.same(triggerPatterns(['w1'])['guardduty-s3'], { source: ['aws.guardduty'], 'detail-type': ['GuardDuty Finding'], detail: { resource: { resourceType: ['S3Bucket'] } } })
})

t.test('parseTriggerEvent: exactly what the table routes to the function', async (t) => {
  t.equal(isTriggerEvent(null), false)
  t.equal(isTriggerEvent({ source: 'aws.s3', 'detail-type': 'AWS API Call via CloudTrail', detail: 'x' }), false)
  t.equal(isTriggerEvent({ source: 'aws.s3', 'detail-type': 'Object Created', detail: {} }), false)
  t.equal(isTriggerEvent(ct({})), true)
  t.equal(isTriggerEvent(gd({})), true)
  // CloudTrail: the envelope's id, time, account and region stand in for the record's
  t.same(parseTriggerEvent(ct({ eventID: '', userIdentity: 'x' }, { id: 'eb-1', time: '2026-05-05T01:02:03Z', account: OWNER, region: 'ap-south-1' }), 'bucket-config'), {
    trigger: 's3-access-changes', origin: 'ct', eventId: 'eb-1', deliveryId: 'eb-1', eventName: 'PutBucketAcl', eventTime: '2026-05-05T01:02:03Z',
    account: OWNER, region: 'ap-south-1', buckets: ['bkt'], principalArn: undefined, accessKeyId: undefined, requestId: undefined,
  })
  t.match(parseTriggerEvent(ct({}), 'bucket-config'), { eventTime: '1970-01-01T00:00:00.000Z', account: '', region: '' }, 'nothing to fall back to')
  t.throws(() => parseTriggerEvent(ct({ eventName: 'PutBucketVersioning' }), 'bucket-config'), { name: 'ValidationError', field: 'detail.eventName', message: /"PutBucketVersioning" is not routed to bucket-config; rule s3-access-changes routes PutBucketPolicy/ })
  t.throws(() => parseTriggerEvent(ct({ eventName: undefined }), 'bucket-config'), { name: 'ValidationError', field: 'detail.eventName', message: /has no detail.eventName/ })
  t.throws(() => parseTriggerEvent(ct({ requestParameters: null }), 'bucket-config'), { name: 'ValidationError', field: 'detail.requestParameters.bucketName' })
  t.throws(() => parseTriggerEvent(ct({ eventID: undefined }), 'bucket-config'), { name: 'ValidationError', field: 'detail.eventID', message: /neither detail.eventID nor id/ })
  t.throws(() => parseTriggerEvent(ct({}), 'object-versions'), { name: 'ValidationError', field: 'detail.eventName', message: /"PutBucketAcl" is not routed to object-versions; rule sensitive-access routes GetObject/ })
  t.throws(() => parseTriggerEvent(ct({}), 'cloudtrail-slice'), { name: 'ValidationError', field: 'detail-type', message: /cloudtrail-slice is not a target of aws.s3 "AWS API Call via CloudTrail" events \(its triggers: aws.guardduty "GuardDuty Finding"\)/ })
  t.throws(() => parseTriggerEvent(gd({}), 'custody-recorder'), { message: /its triggers: none/ })

  // GuardDuty: finding id and type, first/last seen, buckets, access key and principal
  const f = parseTriggerEvent(gd({ resource: { s3BucketDetails: [{ name: 'b1' }, { name: 'b2' }], accessKeyDetails: { accessKeyId: 'ASIA1', principalId: 'arn:aws:iam::1:user/u' } } }), 'cloudtrail-slice')
  t.same(f, { trigger: 'guardduty-s3', origin: 'gd', eventId: 'f1', deliveryId: 'eb-9', eventName: 'Policy:S3/BucketBlockPublicAccessDisabled', eventTime: '2026-11-29T10:00:00Z', lastSeen: '2026-11-29T11:00:00Z', account: OWNER, region: 'eu-west-1', buckets: ['b1', 'b2'], accessKeyId: 'ASIA1', principalArn: 'arn:aws:iam::1:user/u' })
  const sample = parseTriggerEvent(gd({ accountId: '444455556666', region: 'us-west-2', resource: { s3BucketDetails: [{ name: 'b1' }], accessKeyDetails: { accessKeyId: 'GeneratedFindingAccessKeyId', principalId: 'AIDAEXAMPLE' } } }, { id: undefined }), 'object-versions')
  t.match(sample, { account: '444455556666', region: 'us-west-2', deliveryId: 'f1' })
  t.equal(sample.accessKeyId, undefined, 'a sample finding\'s placeholder key is no access key')
  t.equal(sample.principalArn, undefined, 'a principal id that is not an ARN is no principal')
  for (const field of ['id', 'type', 'service.eventFirstSeen', 'service.eventLastSeen']) {
    const [a, b] = field.split('.')
    const detail = b ? { service: { eventFirstSeen: 'x', eventLastSeen: 'y', [b]: undefined } } : { [a]: undefined }
    t.throws(() => parseTriggerEvent(gd(detail), 'object-versions'), { name: 'ValidationError', field: `detail.${field}` }, field)
  }
  t.throws(() => parseTriggerEvent(gd({ resource: { s3BucketDetails: [{}, { name: '' }] } }), 'object-versions'), { name: 'ValidationError', field: 'detail.resource.s3BucketDetails[].name' })
})

t.test('the sensitive-access row (containment): one rule per sensitive bucket, only with containment.enabled; data events to both captures', async (t) => {
  const base = parseConfig(rawConfig)
  const sensitiveBuckets = [
    { bucket: 'payroll', allowedPrincipals: ['arn:aws:iam::111111111111:role/app'] },
    { bucket: 'hr', allowedPrincipals: ['arn:aws:iam::111111111111:role/*'] },
  ]
  const on = { ...base, containment: { ...base.containment, enabled: true, sensitiveBuckets } }
  const off = { ...base, containment: { ...base.containment, enabled: false, sensitiveBuckets } }
  t.same(triggerScope(off).sensitiveBuckets, [], 'containment off: no sensitive-access rule')
  t.same(triggerRules(triggerScope(off)).map((r) => r.id), ['s3-access-changes', 'guardduty-s3'])
  const rules = triggerRules(triggerScope(on))
  t.same(rules.map((r) => r.id), ['s3-access-changes', 'guardduty-s3', 'sensitive-access-0', 'sensitive-access-1'])
  t.same(rules[2].pattern, {
    source: ['aws.s3'], 'detail-type': ['AWS API Call via CloudTrail'],
    detail: { eventSource: ['s3.amazonaws.com'], eventName: [...S3_DATA_EVENT_NAMES], requestParameters: { bucketName: ['payroll'] }, userIdentity: { arn: [{ 'anything-but': ['arn:aws:iam::111111111111:role/app'] }] } },
  })
  t.notOk('userIdentity' in (rules[3].pattern.detail as Record<string, unknown>), 'a wildcard allow-list cannot be an anything-but: every caller matches, containment checks again')
  t.same(Object.keys(triggerPatterns(on.watchedBuckets, triggerScope(on).sensitiveBuckets)), rules.map((r) => r.id))
  t.throws(() => triggerPattern(triggerRow('sensitive-access'), []), { name: 'ValidationError', message: /one pattern per sensitive bucket/ })

  const data = ct({ eventName: 'GetObject', requestParameters: { bucketName: 'payroll', key: 'q4/salaries.csv' }, userIdentity: { arn: 'arn:aws:iam::1:user/mallory' } })
  for (const key of ['bucket-config', 'object-versions'] as const) {
    t.match(parseTriggerEvent(data, key), { trigger: 'sensitive-access', origin: 'ct', eventName: 'GetObject', buckets: ['payroll'], key: 'q4/salaries.csv', principalArn: 'arn:aws:iam::1:user/mallory' }, key)
  }
  t.equal(parseTriggerEvent(ct({ eventName: 'ListObjectsV2', requestParameters: { bucketName: 'payroll' } }), 'object-versions').key, undefined, 'a bucket-level data event names no key')
  t.throws(() => parseTriggerEvent(data, 'cloudtrail-slice'), { name: 'ValidationError', field: 'detail-type' })
})

t.test('the one case-id rule and the manifest trigger', async (t) => {
  const facts: TriggerFacts = { trigger: 's3-access-changes', origin: 'ct', eventId: 'e/1', deliveryId: 'e/1', eventName: 'PutBucketAcl', eventTime: '2026-11-29T10:00:00Z', account: OWNER, region: 'us-east-1', buckets: ['b.k.t'] }
  t.equal(DEFAULT_CASE_ID_TEMPLATE, '{origin}-{account}-{date}')
  t.equal(caseIdForTrigger(DEFAULT_CASE_ID_TEMPLATE, facts), `ct-${OWNER}-2026-11-29`)
  t.equal(caseIdForTrigger('{region}-{bucket}-{date}', facts), 'us-east-1-b.k.t-2026-11-29')
  t.equal(caseIdForTrigger('{bucket}', { ...facts, buckets: [] }), 'case', 'no bucket: a placeholder of nothing')
  t.equal(caseIdForTrigger('x'.repeat(70), facts), 'x'.repeat(64), 'cut to 64 characters')
  t.equal(caseIdForTrigger('{eventId}', { ...facts, eventId: '..' }), 'case', 'a case id of dots only becomes "case"')
  t.throws(() => caseIdForTrigger('ct-{user}', facts), { name: 'ValidationError', field: 'FORENSICS_CASE_ID_TEMPLATE', message: /uses \{user\}; known placeholders: \{origin\} \{account\} \{region\} \{bucket\} \{eventName\} \{date\} \{eventId\}/ })
  t.equal(caseIdOf({ caseId: 'named' }, facts, undefined), 'named')
  t.throws(() => caseIdOf({ caseId: '../x' }, facts, undefined), { name: 'ValidationError', field: 'caseId' })
  t.equal(caseIdOf({}, facts, '{eventName}'), 'PutBucketAcl')
  // both targets of one finding land in one case
  const finding = gd({})
  t.equal(caseIdOf(finding, parseTriggerEvent(finding, 'object-versions'), undefined), caseIdOf(finding, parseTriggerEvent(finding, 'cloudtrail-slice'), undefined))
  t.same(triggerOf(facts), { source: 'cloudtrail:PutBucketAcl', id: 'cloudtrail:e/1' })
  t.same(triggerOf(parseTriggerEvent(finding, 'object-versions')), { source: 'guardduty:Policy:S3/BucketBlockPublicAccessDisabled', id: 'guardduty:eb-9' })
})
