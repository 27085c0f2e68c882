/**
 * The slice filters (forensics/cloudtrail/filters.ts): times and windows, normalisation,
 * field extraction from events, the compiled predicate and its byte needles.
 */
import t from 'tap'
import { ValidationError } from '../forensics/errors.js'
import { bucketsOf, compileFilter, eventTimeOf, makeWindow, normalizeFilters, objectKeysOf, parseTime, passesNeedles, principalsOf, resourceArnsOfEvent, type SliceFilters } from '../forensics/cloudtrail/filters.js'

const D = (s: string): number => Date.parse(s)
const W = makeWindow('2026-11-28T00:00:00Z', '2026-11-29T00:00:00Z')

t.test('times parse with offsets and fractions; a window must end after it starts', async (t) => {
  t.equal(parseTime('2026-11-29', 'start'), D('2026-11-29T00:00:00Z'))
  t.equal(parseTime('2026-11-29T10:00+02:00', 'start'), D('2026-11-29T08:00:00Z'))
  t.equal(parseTime('2026-11-29T10:00:00.5Z', 'start'), D('2026-11-29T10:00:00.500Z'))
  t.throws(() => parseTime('yesterday', 'start'), { name: 'ValidationError', field: 'start' })
  t.throws(() => parseTime('2026-13-45T10:00Z', 'end'), ValidationError)
  t.throws(() => makeWindow('2026-11-29T10:00:00Z', '2026-11-29T10:00:00Z'), /not after start/)
})

t.test('normalizeFilters drops empty lists and duplicates and names each invalid field', async (t) => {
  t.same(normalizeFilters({}), {})
  t.same(normalizeFilters({ eventNames: [], buckets: ['b', 'b'], readOnly: false }), { buckets: ['b'], readOnly: false })
  t.throws(() => normalizeFilters({ eventNames: 'GetObject' as unknown as string[] }), { name: 'ValidationError', field: 'eventNames' })
  t.throws(() => normalizeFilters({ keys: [''] }), { name: 'ValidationError', field: 'keys' })
  t.throws(() => normalizeFilters({ accessKeyIds: [1 as unknown as string] }), { name: 'ValidationError', field: 'accessKeyIds' })
  t.throws(() => normalizeFilters({ sourceIps: ['not-an-ip'] }), { name: 'ValidationError', field: 'sourceIp' })
  t.throws(() => normalizeFilters({ principals: ['alice'] }), { name: 'ValidationError', field: 'principals' })
  t.same(normalizeFilters({ errorCode: 'any' }), { errorCode: 'any' })
  t.same(normalizeFilters({ errorCode: 'none' }), { errorCode: 'none' })
  t.same(normalizeFilters({ errorCode: ['AccessDenied', 'AccessDenied'] }), { errorCode: ['AccessDenied'] })
  t.throws(() => normalizeFilters({ errorCode: [] }), { name: 'ValidationError', field: 'errorCode' })
  t.throws(() => normalizeFilters({ errorCode: [''] }), { name: 'ValidationError', field: 'errorCode' })
  t.throws(() => normalizeFilters({ errorCode: 'some' as unknown as 'any' }), { name: 'ValidationError', field: 'errorCode' })
  t.throws(() => normalizeFilters({ readOnly: 'yes' as unknown as boolean }), { name: 'ValidationError', field: 'readOnly' })
})

t.test('buckets, keys, resource ARNs, principals and the event time are read from events', async (t) => {
  const r = {
    requestParameters: { bucketName: 'b1', key: 'k/1', nested: [{ target: 'arn:aws:sns:us-east-1:111111111111:topic' }, 'plain', null, 5] },
    resources: [{ ARN: 'arn:aws:s3:::b2' }, { ARN: 'arn:aws:s3:::b3/obj/x' }, { ARN: 'arn:aws:iam::111111111111:role/R' }, 'junk', null, { type: 'no-arn' }],
  }
  t.same(bucketsOf(r), ['b1', 'b2', 'b3'])
  t.same(objectKeysOf(r), ['k/1', 'obj/x'])
  t.same(resourceArnsOfEvent(r).sort(), ['arn:aws:iam::111111111111:role/R', 'arn:aws:s3:::b1', 'arn:aws:s3:::b1/k/1', 'arn:aws:s3:::b2', 'arn:aws:s3:::b3/obj/x', 'arn:aws:sns:us-east-1:111111111111:topic'].sort())
  t.same(resourceArnsOfEvent({ requestParameters: { bucketName: 'only' } }), ['arn:aws:s3:::only'])
  t.same(resourceArnsOfEvent({ requestParameters: { key: 'k', policy: 'arn:aws:iam::1:policy/P' } }), ['arn:aws:iam::1:policy/P'])
  t.same(resourceArnsOfEvent({ resources: 'not-a-list' }), [])
  t.same(bucketsOf({ requestParameters: null }), [])
  t.same(objectKeysOf({ requestParameters: { key: '' } }), [''], 'an empty key is still a key')
  // Nesting deeper than 32 levels is not searched.
  let deep: unknown = 'arn:aws:deep'
  for (let i = 0; i < 40; i++) deep = { x: deep }
  t.same(resourceArnsOfEvent({ requestParameters: deep as Record<string, unknown> }), [])
  let shallow: unknown = 'arn:aws:shallow'
  for (let i = 0; i < 5; i++) shallow = [shallow]
  t.same(resourceArnsOfEvent({ requestParameters: { a: shallow } }), ['arn:aws:shallow'])

  t.same(principalsOf({ userIdentity: { arn: 'arn:aws:sts::1:assumed-role/R/s', sessionContext: { sessionIssuer: { arn: 'arn:aws:iam::1:role/R' } } } }), ['arn:aws:sts::1:assumed-role/R/s', 'arn:aws:iam::1:role/R'])
  t.same(principalsOf({ userIdentity: { type: 'AWSService' } }), [])
  t.same(principalsOf({}), [])

  t.equal(eventTimeOf({ eventTime: '2026-11-28T01:00:00Z' }), D('2026-11-28T01:00:00Z'))
  t.equal(eventTimeOf({ '@timestamp': '2026-11-28T02:00:00Z' }), D('2026-11-28T02:00:00Z'))
  t.equal(eventTimeOf({ eventTime: 'garbage' }), undefined)
  t.equal(eventTimeOf({ eventTime: 5 }), undefined)
})

t.test('the compiled predicate matches each filter kind; its needles pre-filter raw bytes', async (t) => {
  const ev = {
    eventTime: '2026-11-28T01:00:00Z',
    eventName: 'GetObject',
    eventSource: 's3.amazonaws.com',
    sourceIPAddress: '203.0.113.9',
    readOnly: true,
    userIdentity: { arn: 'arn:aws:iam::111111111111:user/alice', accessKeyId: 'AKIA1' },
    requestParameters: { bucketName: 'b', key: 'reports/x.csv' },
  }
  const yes = (f: SliceFilters, r: Record<string, unknown> = ev): boolean => compileFilter(normalizeFilters(f), W).matches(r)
  t.ok(yes({}))
  t.ok(yes({ principals: ['arn:aws:iam::111111111111:user/alice'] }))
  t.notOk(yes({ principals: ['arn:aws:iam::111111111111:user/bob'] }))
  t.ok(yes({ accessKeyIds: ['AKIA1'] }))
  t.notOk(yes({ accessKeyIds: ['AKIA1'] }, { ...ev, userIdentity: {} }))
  t.ok(yes({ sourceIps: ['203.0.113.0/24'] }))
  t.notOk(yes({ sourceIps: ['203.0.113.0/24'] }, { ...ev, sourceIPAddress: undefined }))
  t.ok(yes({ sourceIps: ['::ffff:203.0.113.9'] }))
  t.notOk(yes({ eventNames: ['PutObject'] }))
  t.notOk(yes({ eventNames: ['PutObject'] }, { ...ev, eventName: undefined }))
  t.ok(yes({ eventSources: ['s3.amazonaws.com'] }))
  t.notOk(yes({ eventSources: ['iam.amazonaws.com'] }, { ...ev, eventSource: undefined }))
  t.ok(yes({ buckets: ['b'] }))
  t.ok(yes({ keys: ['reports/x.csv'] }))
  t.ok(yes({ keyPrefixes: ['reports/'] }))
  t.notOk(yes({ keyPrefixes: ['tmp/'] }))
  t.notOk(yes({ keys: ['other'], keyPrefixes: ['tmp/'] }))
  t.ok(yes({ resourceArns: ['arn:aws:s3:::b/reports/x.csv'] }))
  t.notOk(yes({ resourceArns: ['arn:aws:s3:::c'] }))
  t.notOk(yes({ errorCode: 'any' }))
  t.ok(yes({ errorCode: 'any' }, { ...ev, errorCode: 'AccessDenied' }))
  t.ok(yes({ errorCode: 'none' }))
  t.ok(yes({ errorCode: 'none' }, { ...ev, errorCode: null }))
  t.notOk(yes({ errorCode: 'none' }, { ...ev, errorCode: 'AccessDenied' }))
  t.ok(yes({ errorCode: ['AccessDenied'] }, { ...ev, errorCode: 'AccessDenied' }))
  t.notOk(yes({ errorCode: ['AccessDenied'] }))
  t.ok(yes({ readOnly: true }))
  t.notOk(yes({ readOnly: false }))

  // Needles: one group per literal kind; IPv6 or CIDR source filters add none.
  t.same(compileFilter(normalizeFilters({ sourceIps: ['203.0.113.9'] }), W).needles.map((g) => g.map(String)), [['203.0.113.9']])
  t.same(compileFilter(normalizeFilters({ sourceIps: ['203.0.113.0/24'] }), W).needles, [])
  t.same(compileFilter(normalizeFilters({ errorCode: 'any' }), W).needles.map((g) => g.map(String)), [['"errorCode"']])
  t.same(compileFilter(normalizeFilters({ errorCode: 'none', readOnly: true, resourceArns: ['arn:x'] }), W).needles, [])
  t.same(compileFilter(normalizeFilters({ keys: ['a'], keyPrefixes: ['p/'] }), W).needles.map((g) => g.map(String)), [['a', 'p/']])
  const needles = compileFilter(normalizeFilters({ eventNames: ['GetObject', 'PutObject'], buckets: ['bkt-1'] }), W).needles
  t.ok(passesNeedles(Buffer.from('{"eventName":"PutObject","bucketName":"bkt-1"}'), needles))
  t.notOk(passesNeedles(Buffer.from('{"eventName":"PutObject","bucketName":"bkt-2"}'), needles))
  t.notOk(passesNeedles(Buffer.from('{"eventName":"ListBuckets"}'), needles))
  t.ok(passesNeedles(Buffer.from('anything'), []))
})

t.test('a sourceIPAddress equal to the filter text matches', async (t) => {
  // CloudTrail writes non-addresses there; the filter's own text still matches literally.
  const f = compileFilter(normalizeFilters({ sourceIps: ['10.0.0.0/8'] }), W)
  t.ok(f.matches({ sourceIPAddress: '10.0.0.0/8' }))
  t.notOk(f.matches({ sourceIPAddress: 'AWS Internal' }))
})

t.test('finding 6: instants are strict ISO 8601: calendar fields are checked, never rolled over', async (t) => {
  t.throws(() => parseTime('2023-02-30T00:00:00Z', 'start'), { name: 'ValidationError', field: 'start', message: /2023-02 has no day 30/ })
  t.throws(() => parseTime('2023-02-29', 'start'), /has no day 29/)
  t.equal(parseTime('2024-02-29T00:00:00Z', 'start'), D('2024-02-29T00:00:00Z'), 'a leap day exists')
  t.throws(() => parseTime('2023-00-10T00:00:00Z', 'end'), /month 00 does not exist/)
  t.throws(() => parseTime('2023-01-10T24:00:00Z', 'end'), /out of range/)
  t.throws(() => parseTime('2023-01-10T10:60Z', 'end'), /out of range/)
  t.throws(() => parseTime('2023-01-10T10:00:00+25:00', 'end'), /out of range/)
})

t.test('finding 7: a role ARN or an assumed-role ARN without session matches every session; --user names a user; bucket ARNs', async (t) => {
  const ev = (arn: string, issuer?: string, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
    eventTime: '2026-11-28T01:00:00Z',
    userIdentity: { type: issuer ? 'AssumedRole' : 'IAMUser', arn, ...(issuer ? { sessionContext: { sessionIssuer: { arn: issuer } } } : {}), ...extra },
    requestParameters: { bucketName: 'logs-bucket' },
  })
  const s1 = ev('arn:aws:sts::111111111111:assumed-role/Admin/alice', 'arn:aws:iam::111111111111:role/Admin')
  const s2 = ev('arn:aws:sts::111111111111:assumed-role/Admin/bob', 'arn:aws:iam::111111111111:role/Admin')
  const other = ev('arn:aws:sts::111111111111:assumed-role/AdminX/carol', 'arn:aws:iam::111111111111:role/AdminX')
  const user = ev('arn:aws:iam::111111111111:user/ops/benjamin', undefined, { userName: 'benjamin' })
  const f = (filters: SliceFilters): ((r: Record<string, unknown>) => boolean) => {
    const c = compileFilter(normalizeFilters(filters), W)
    return (r) => c.matches(r) && passesNeedles(Buffer.from(JSON.stringify(r)), c.needles)
  }
  const role = f({ principals: ['arn:aws:iam::111111111111:role/Admin'] })
  t.same([s1, s2, other, user].map(role), [true, true, false, false], 'a role ARN matches all its sessions')
  const noSession = f({ principals: ['arn:aws:sts::111111111111:assumed-role/Admin'] })
  t.same([s1, s2, other, user].map(noSession), [true, true, false, false], 'an assumed-role ARN without session matches all its sessions, not AdminX')
  const one = f({ principals: ['arn:aws:sts::111111111111:assumed-role/Admin/alice'] })
  t.same([s1, s2].map(one), [true, false], 'with the session only that session')
  const byName = f({ userNames: ['benjamin'] })
  t.same([s1, user, ev('arn:aws:iam::111111111111:user/benjaminx')].map(byName), [false, true, false])
  t.throws(() => normalizeFilters({ principals: ['benjamin'] }), { name: 'ValidationError', message: /for a user name use --user benjamin/ })
  t.same(normalizeFilters({ buckets: ['arn:aws:s3:::logs-bucket', 'logs-bucket'] }), { buckets: ['logs-bucket'] }, 'a bucket ARN is its name')
  t.same([s1].map(f({ buckets: ['arn:aws:s3:::logs-bucket'] })), [true])
  t.throws(() => normalizeFilters({ buckets: ['arn:aws:s3:::logs-bucket/key'] }), { field: 'buckets', message: /--bucket logs-bucket with --key/ })
})
