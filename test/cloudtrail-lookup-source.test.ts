/**
 * The LookupEvents and ListPublicKeys source (forensics/cloudtrail/lookup-source.ts) on a
 * stand-in CloudTrail: the attribute chosen, paging, client-side filtering, throttling and
 * errors. The recorded-response server run is in cloudtrail.test.ts.
 */
import t from 'tap'
import { makeWindow, normalizeFilters } from '../forensics/cloudtrail/filters.js'
import { chooseLookupAttribute, cloudTrailPublicKeys, lookupEvents } from '../forensics/cloudtrail/lookup-source.js'
import { awsError } from './fixtures/fake-client.js'
import { fakeCloudTrail, type FakePage } from './fixtures/cloudtrail/fake-trail.js'

const D = (s: string): number => Date.parse(s)
const W = makeWindow('2026-11-28T00:00:00Z', '2026-11-29T00:00:00Z')

t.test('LookupEvents uses the most selective single attribute', async (t) => {
  t.equal(chooseLookupAttribute({}), null)
  t.same(chooseLookupAttribute({ accessKeyIds: ['A'], eventNames: ['E'] }), { key: 'AccessKeyId', values: ['A'] })
  t.same(chooseLookupAttribute({ principals: ['arn:aws:iam::111111111111:user/path/alice', 'arn:aws:sts::111111111111:assumed-role/R/alice'] }), { key: 'Username', values: ['alice'] })
  t.same(chooseLookupAttribute({ principals: ['arn:aws:iam::111111111111:role/R'], buckets: ['b'] }), { key: 'ResourceName', values: ['b'] })
  t.same(chooseLookupAttribute({ eventSources: ['s3.amazonaws.com'] }), { key: 'EventSource', values: ['s3.amazonaws.com'] })
  t.same(chooseLookupAttribute({ readOnly: false }), { key: 'ReadOnly', values: ['false'] })
  t.same(chooseLookupAttribute({ eventNames: ['a', 'b', 'c', 'd', 'e'], eventSources: ['1', '2', '3', '4'] }), { key: 'EventSource', values: ['1', '2', '3', '4'] }, 'the fewest values when all have many')
})

t.test('LookupEvents pages, filters client-side, backs off when throttled, and names the permission on refusal', async (t) => {
  const ev = (id: string, time: string, name = 'GetObject'): string => JSON.stringify({ eventID: id, eventTime: time, eventName: name })
  const ct = fakeCloudTrail([
    awsError('ThrottlingException', undefined, 'Rate exceeded'),
    {
      Events: [
        { EventId: 'a', CloudTrailEvent: ev('a', '2026-11-28T01:00:00Z') },
        { EventId: 'b', CloudTrailEvent: ev('b', '2026-11-28T01:00:00Z', 'PutObject') },
        { EventId: 'c', CloudTrailEvent: 'not json' },
        { CloudTrailEvent: undefined },
        { EventId: 'd', CloudTrailEvent: JSON.stringify({ eventName: 'GetObject' }), EventTime: new Date('2026-11-28T02:00:00Z') },
        { CloudTrailEvent: JSON.stringify({ eventName: 'GetObject', eventTime: '2026-11-28T03:00:00Z' }) },
        { EventId: 'e', CloudTrailEvent: ev('e', '2026-11-30T01:00:00Z') },
        { EventId: 'f', CloudTrailEvent: JSON.stringify({ eventName: 'GetObject' }) },
      ],
      NextToken: 'n1',
    },
    awsError('TooManyRequestsException', undefined, 'slow down'),
    { Events: undefined },
  ])
  let clock = 0
  const slept: number[] = []
  const r = await lookupEvents(normalizeFilters({ eventNames: ['GetObject'] }), W, {
    regions: ['us-east-1'],
    clientFor: () => ct,
    rps: 10,
    now: () => clock,
    sleep: async (ms) => {
      slept.push(ms)
      clock += ms
    },
  })
  t.same(r.attribute, { key: 'EventName', values: ['GetObject'] })
  t.equal(r.calls, 4)
  t.equal(r.throttled, 2)
  t.equal(r.returned, 8)
  t.same(r.problems, ['LookupEvents in us-east-1: event c has no parseable CloudTrailEvent', 'LookupEvents in us-east-1: event ? has no parseable CloudTrailEvent'])
  t.same(r.events.map((e) => e.id.slice(0, 7)), ['a', 'd', 'sha256:'])
  t.equal(r.events[1].time, D('2026-11-28T02:00:00Z'), 'the API EventTime when the event has none')
  t.equal(ct.calls[2].input.NextToken, 'n1')
  t.same(ct.calls[0].input.LookupAttributes, [{ AttributeKey: 'EventName', AttributeValue: 'GetObject' }])
  t.ok(slept.length >= 2, 'backs off and spaces calls')

  // No attribute: one unfiltered series; real sleep when not given.
  const plain = fakeCloudTrail([{ Events: [] }])
  const r2 = await lookupEvents({}, W, { regions: ['eu-west-1'], clientFor: () => plain })
  t.equal(r2.attribute, null)
  t.equal(plain.calls[0].input.LookupAttributes, undefined)

  await t.rejects(lookupEvents({}, W, { regions: ['us-east-1'], clientFor: () => fakeCloudTrail([awsError('AccessDeniedException', undefined, 'no')]) }), { name: 'StorageError', message: /LookupEvents in us-east-1 failed: AccessDeniedException: no; grant cloudtrail:LookupEvents/ })
  await t.rejects(lookupEvents({}, W, { regions: ['us-east-1'], clientFor: () => fakeCloudTrail([awsError('InvalidTimeRangeException', undefined, 'bad')]) }), { message: /failed: InvalidTimeRangeException: bad$/ })
  await t.rejects(
    lookupEvents({}, W, { regions: ['us-east-1'], clientFor: () => fakeCloudTrail([awsError('ThrottlingException', undefined, 'x'), awsError('ThrottlingException', undefined, 'x')]), maxAttempts: 2, baseDelayMs: 1, sleep: async () => undefined }),
    { message: /still throttled after 2 attempts/ },
  )
})

t.test('ListPublicKeys pages and skips keys without a fingerprint or value', async (t) => {
  const ct = fakeCloudTrail([
    { PublicKeyList: [{ Fingerprint: 'a', Value: new Uint8Array([1, 2]), ValidityStartTime: new Date('2026-01-01T00:00:00Z') }, { Fingerprint: 'no-value' }], NextToken: 't' } as FakePage,
    { PublicKeyList: [{ Fingerprint: 'b', Value: new Uint8Array([3]), ValidityEndTime: new Date('2027-01-01T00:00:00Z') }, { Value: new Uint8Array([4]) }] } as FakePage,
    {} as FakePage,
  ])
  const src = cloudTrailPublicKeys(() => ct)
  const keys = await src.listPublicKeys('us-east-1', new Date(0), new Date(1))
  t.same(keys, [
    { fingerprint: 'a', value: Buffer.from([1, 2]), validityStart: '2026-01-01T00:00:00.000Z', validityEnd: undefined },
    { fingerprint: 'b', value: Buffer.from([3]), validityStart: undefined, validityEnd: '2027-01-01T00:00:00.000Z' },
  ])
  t.equal(ct.calls[1].input.NextToken, 't')
  t.same(await src.listPublicKeys('us-east-1', new Date(0), new Date(1)), [], 'a page without a list')
  const denied = cloudTrailPublicKeys(() => fakeCloudTrail([awsError('AccessDeniedException', undefined, 'nope')]))
  await t.rejects(denied.listPublicKeys('eu-west-1', new Date(0), new Date(1)), { name: 'StorageError', message: /ListPublicKeys in eu-west-1 failed: AccessDeniedException: nope; grant cloudtrail:ListPublicKeys/ })
})
