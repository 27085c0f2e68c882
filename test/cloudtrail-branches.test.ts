// Fast unit tests for the edge paths of the CloudTrail slice modules: pure functions,
// in-memory gzip buffers and a fake S3 (no emulator).
import t from 'tap'
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { gzipSync, gunzipSync } from 'node:zlib'
import { createHash, generateKeyPairSync, sign } from 'node:crypto'
import { GetObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3'
import { ListPublicKeysCommand, LookupEventsCommand } from '@aws-sdk/client-cloudtrail'
import { ValidationError, StorageError } from '../forensics/errors.js'
import {
  bucketsOf,
  compileFilter,
  eventTimeOf,
  makeWindow,
  normalizeFilters,
  objectKeysOf,
  parseTime,
  passesNeedles,
  principalsOf,
  resourceArnsOfEvent,
  type SliceFilters,
} from '../forensics/cloudtrail/filters.js'
import { compileIpMatcher, parseIp } from '../forensics/cloudtrail/cidr.js'
import { RecordSplitter, SplitError } from '../forensics/cloudtrail/record-splitter.js'
import { scanLogFile } from '../forensics/cloudtrail/log-file-scan.js'
import { publicKeyFromValue, validateDigests, verifyDigestSignature, type DigestDocument, type TrailPublicKey } from '../forensics/cloudtrail/digest-validation.js'
import {
  compactUtc,
  dayFolders,
  deliveryRange,
  digestFileKey,
  logFileKey,
  parseArchiveUrl,
  parseDigestKey,
  parseLogFileKey,
  scopeRoot,
} from '../forensics/cloudtrail/archive-layout.js'
import { discoverScopes, getObject, listDigestFiles, listLogFiles, openObject, type ListedDigestFile, type StoredObject } from '../forensics/cloudtrail/archive-source.js'
import { chooseLookupAttribute, cloudTrailPublicKeys, lookupEvents } from '../forensics/cloudtrail/lookup-source.js'
import { buildSliceDocument, eventLines, publicKeysDocument } from '../forensics/cloudtrail/slice-document.js'
import { dedupeAndSort, listLocalLogFiles, runSlice, sliceDirectory, type SliceOutcome } from '../forensics/cloudtrail/slice.js'
import { ScanPool, workerEntry } from '../forensics/cloudtrail/scan-pool.js'
import { sliceRequestId } from '../forensics/cloudtrail/capture-slice.js'
import { toSliceRequest } from '../collectors/cloudtrail-slice.js'
import { windowAndFilters } from '../cli/commands/slice.js'
import { main } from '../cli/main.js'

const D = (s: string): number => Date.parse(s)
const W = makeWindow('2026-11-28T00:00:00Z', '2026-11-29T00:00:00Z')
const tmp = mkdtempSync(join(tmpdir(), 'ctb-'))
t.teardown(() => rmSync(tmp, { recursive: true, force: true }))

async function* chunks(...parts: Array<Buffer | string>): AsyncGenerator<Uint8Array> {
  for (const p of parts) yield typeof p === 'string' ? Buffer.from(p) : p
}

function split(parts: Array<string | Buffer>, limits?: { maxRecordBytes?: number }): { records: string[]; where: number[]; s: RecordSplitter } {
  const records: string[] = []
  const where: number[] = []
  const s = new RecordSplitter((raw, w) => {
    records.push(raw.toString('utf8'))
    where.push(w)
  }, limits)
  for (const p of parts) s.push(typeof p === 'string' ? Buffer.from(p) : p)
  s.end()
  return { records, where, s }
}

const named = (name: string, message = name): Error => Object.assign(new Error(message), { name })

// ---------------------------------------------------------------- filters

t.test('filters: times and windows', async (t) => {
  t.equal(parseTime('2026-11-29', 'start'), D('2026-11-29T00:00:00Z'))
  t.equal(parseTime('2026-11-29T10:00+02:00', 'start'), D('2026-11-29T08:00:00Z'))
  t.equal(parseTime('2026-11-29T10:00:00.5Z', 'start'), D('2026-11-29T10:00:00.500Z'))
  t.throws(() => parseTime('yesterday', 'start'), { name: 'ValidationError', field: 'start' })
  t.throws(() => parseTime('2026-13-45T10:00Z', 'end'), ValidationError)
  t.throws(() => makeWindow('2026-11-29T10:00:00Z', '2026-11-29T10:00:00Z'), /not after start/)
})

t.test('filters: normalizeFilters checks and drops', async (t) => {
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

t.test('filters: field extraction', async (t) => {
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

t.test('filters: compiled predicate and needles per kind', async (t) => {
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

// ---------------------------------------------------------------- cidr

t.test('cidr: parsing and matching', async (t) => {
  t.same(parseIp('10.0.0.1'), { bits: 32, value: 0x0a000001n })
  t.same(parseIp('::ffff:10.0.0.1'), { bits: 32, value: 0x0a000001n }, 'IPv4-mapped compares as IPv4')
  t.same(parseIp('::1'), { bits: 128, value: 1n })
  t.same(parseIp('::'), { bits: 128, value: 0n })
  t.same(parseIp('2001:db8::'), { bits: 128, value: 0x20010db8n << 96n })
  t.same(parseIp('fe80::1%eth0'), { bits: 128, value: (0xfe80n << 112n) | 1n })
  t.same(parseIp('1:2:3:4:5:6:7:8'), { bits: 128, value: 0x00010002000300040005000600070008n })
  t.same(parseIp('64:ff9b::192.0.2.33'), { bits: 128, value: (0x64ff9bn << 96n) | 0xc0000221n })
  t.equal(parseIp('s3.amazonaws.com'), undefined)
  t.equal(parseIp('AWS Internal'), undefined)

  const v4 = compileIpMatcher('10.0.0.0/8')
  t.equal(v4.source, '10.0.0.0/8')
  t.ok(v4.matches('10.200.1.1'))
  t.ok(v4.matches('::ffff:10.1.1.1'))
  t.notOk(v4.matches('11.0.0.1'))
  t.notOk(v4.matches('::a00:1'), 'an IPv6 address is not in an IPv4 block')
  t.notOk(v4.matches('s3.amazonaws.com'))
  t.ok(compileIpMatcher('0.0.0.0/0').matches('8.8.8.8'))
  t.ok(compileIpMatcher('2001:db8::/32').matches('2001:db8:ffff::1'))
  t.notOk(compileIpMatcher('2001:db8::/32').matches('2001:db9::1'))
  t.ok(compileIpMatcher('2001:db8::7').matches('2001:db8:0:0:0:0:0:7'))
  t.ok(compileIpMatcher('::ffff:10.0.0.0/104').matches('10.9.9.9'), 'a mapped /104 is an IPv4 /8')
  t.notOk(compileIpMatcher('::ffff:10.0.0.0/104').matches('11.0.0.1'))
  t.ok(compileIpMatcher('::ffff:10.0.0.0/64').matches('1.2.3.4'), 'a mapped prefix shorter than 96 covers every IPv4 address')
  for (const bad of ['x', '10.0.0.0/33', '10.0.0.0/', '10.0.0.0/ab', '10.0.0.0/1234', '::/129', 'foo/8']) {
    t.throws(() => compileIpMatcher(bad), { name: 'ValidationError', field: 'sourceIp' }, bad)
  }
})

// ---------------------------------------------------------------- record splitter

t.test('record splitter: document split at every byte, with escapes', async (t) => {
  const recs = ['{"a":"x\\"}y","b":[1,{"c":"]"}]}', '{"k":"back\\\\"}', '{"e":"\\\\\\""}', '{}']
  const text = `{ "Records" : [ ${recs.join(' ,\n')} ] }`
  const whole = split([text])
  t.same(whole.records, recs)
  t.equal(whole.s.format, 'document')
  const bytes = [...Buffer.from(text)].map((b) => Buffer.from([b]))
  const one = split(bytes)
  t.same(one.records, recs, 'one byte at a time')
  t.same(one.where, [1, 2, 3, 4])
  // Split every way into two chunks.
  for (let i = 1; i < text.length; i++) t.same(split([text.slice(0, i), text.slice(i)]).records, recs, `split at ${i}`)
})

t.test('record splitter: backslash runs across chunk ends', async (t) => {
  // A string ending in an escaped backslash, split inside the run, then more records.
  const parts = ['{"Records":[{"a":"x\\', '\\', '"},{"b":"q\\', '"', '"}]}']
  const r = split(parts)
  t.same(r.records, ['{"a":"x\\\\"}', '{"b":"q\\""}'])
  // A chunk made only of backslashes inside a string.
  const r2 = split(['{"Records":[{"a":"', '\\\\', '\\\\', '"}]}'])
  t.same(r2.records, ['{"a":"\\\\\\\\"}'])
})

t.test('record splitter: JSON lines and detection', async (t) => {
  const lines = split(['{"a":1}\r\n', '\n  \t\n{"b"', ':2}\n{"c":3}'])
  t.same(lines.records, ['{"a":1}', '{"b":2}', '{"c":3}'])
  t.same(lines.where, [1, 4, 5])
  t.equal(lines.s.format, 'lines')
  // An object that is not {"Records":...} is a JSON line.
  t.same(split(['{"foo":1}\n']).records, ['{"foo":1}'])
  // A short head that could still become {"Records": is held until decided.
  t.same(split(['{"Rec', 'ords": [{"x":1}', ']}']).records, ['{"x":1}'])
  t.equal(split(['{"Rec', 'ords": [{"x":1}', ']}']).s.format, 'document')
  // Undecided at end: treated as lines.
  const short = split(['{"Re'])
  t.equal(short.s.format, 'lines')
  t.same(short.records, ['{"Re'])
  const empty = split([])
  t.equal(empty.s.format, 'unknown')
  t.equal(empty.s.records, 0)
  t.equal(split(['  \n ']).s.format, 'unknown')
  // Trailing bytes after the closing bracket are ignored.
  t.same(split(['{"Records":[{"a":1}]}\n{"junk"']).records, ['{"a":1}'])
})

t.test('record splitter: structural errors and limits', async (t) => {
  t.throws(() => split(['{"Records":[{"a":1} x {"b":2}]}']), { name: 'SplitError', message: /unexpected byte 'x' between records after record #1/ })
  t.throws(() => split(['{"Records":[{"a":1},{"b":']), { message: /unterminated record #2/ })
  t.throws(() => split(['{"Records":[{"a":1}']), { message: /Records array is not closed .* after 1 records/ })
  t.throws(() => split(['{"Records":[{"a":"', 'x'.repeat(40), '"}]}'], { maxRecordBytes: 16 }), { message: /record #1 is longer than 16 bytes/ })
  t.throws(() => split(['{"a":1}\n{"b":"', 'x'.repeat(40)], { maxRecordBytes: 16 }), { message: /line 2 is longer than 16 bytes/ })
  t.ok(new SplitError('m') instanceof Error)
  t.equal(new SplitError('m').name, 'SplitError')
  // A long line within the limit spanning chunks is fine.
  t.same(split(['{"a":"', 'x'.repeat(10), '"}'], { maxRecordBytes: 64 }).records, [`{"a":"${'x'.repeat(10)}"}`])
})

// ---------------------------------------------------------------- log file scan

t.test('scanLogFile: formats, damage and record problems', async (t) => {
  const f = compileFilter(normalizeFilters({ eventNames: ['GetObject'] }), W)
  const ev = (i: number, extra: Record<string, unknown> = {}): Record<string, unknown> => ({ eventID: `e${i}`, eventTime: `2026-11-28T0${i}:00:00Z`, eventName: 'GetObject', ...extra })
  const doc = Buffer.from(JSON.stringify({ Records: [ev(1), ev(2, { eventName: 'PutObject' }), ev(3, { eventID: undefined }), { eventName: 'GetObject' }, ev(4, { eventTime: '2026-11-27T00:00:00Z' })] }))

  const plain = await scanLogFile(chunks(Buffer.alloc(0), doc), f)
  t.equal(plain.format, 'document')
  t.equal(plain.records, 5)
  t.equal(plain.undated, 1)
  t.equal(plain.size, doc.length)
  t.equal(plain.sha256, plain.uncompressedSha256, 'plain bytes hash the same stored and uncompressed')
  t.same(plain.matched.map((m) => m.id.slice(0, 7)), ['e1', 'sha256:'])
  t.equal(plain.oldestEventTime, D('2026-11-27T00:00:00Z'))
  t.equal(plain.newestEventTime, D('2026-11-28T03:00:00Z'))

  const gz = gzipSync(doc)
  const z = await scanLogFile(chunks(gz.subarray(0, 10), gz.subarray(10)), f)
  t.equal(z.error, undefined)
  t.equal(z.size, gz.length)
  t.equal(z.uncompressedSize, doc.length)
  t.equal(z.uncompressedSha256, createHash('sha256').update(doc).digest('hex'))
  t.equal(z.sha256, createHash('sha256').update(gz).digest('hex'))
  t.equal(z.matched.length, 2)

  const truncated = await scanLogFile(chunks(gz.subarray(0, gz.length - 20)), f)
  t.match(truncated.error, /truncated|not closed/)
  t.equal(truncated.sha256, createHash('sha256').update(gz.subarray(0, gz.length - 20)).digest('hex'))

  const corrupt = Buffer.from(gz)
  corrupt.fill(0x55, 12, 40)
  const bad = await scanLogFile(chunks(corrupt.subarray(0, 30), corrupt.subarray(30)), f)
  t.match(bad.error, /gzip data is corrupt/)
  t.equal(bad.size, corrupt.length, 'the stored bytes are hashed to the end')

  // A structural error inside a gzip member stops the scan with that error.
  const broken = await scanLogFile(chunks(gzipSync('{"Records":[{"eventName":"GetObject"} ! ]}')), f)
  t.match(broken.error, /unexpected byte '!'/)
  const brokenPlain = await scanLogFile(chunks('{"Records":[{"a":1} ! ]}'), f)
  t.match(brokenPlain.error, /unexpected byte '!'/)

  const empty = await scanLogFile(chunks(), f)
  t.equal(empty.records, 0)
  t.equal(empty.error, undefined)
  t.equal(empty.format, 'unknown')

  const lines = ['{"eventTime":"2026-11-28T01:00:00Z","eventName":"GetObject","eventID":"l1"}', '[1,2]', '{"eventName":"GetObject",}', 'null', '{"eventName":"Get\\u004fbject","eventTime":"2026-11-28T01:00:00Z"}', '{"eventName":"ListBuckets"}'].join('\n')
  const jl = await scanLogFile(chunks(lines), f)
  t.equal(jl.format, 'lines')
  t.equal(jl.records, 6)
  t.equal(jl.badRecords, 3)
  t.match(jl.problems.join('|'), /line 2: not a JSON object\|line 3: .*\|line 4: not a JSON object/)
  t.same(jl.matched.map((m) => m.id.slice(0, 7)), ['l1', 'sha256:'], 'an escaped value is parsed rather than skipped by the needles')

  // At most 10 problems are kept.
  const many = await scanLogFile(chunks(Array.from({ length: 15 }, () => 'x').join('\n')), compileFilter({}, W))
  t.equal(many.badRecords, 15)
  t.equal(many.problems.length, 10)
  const docBad = await scanLogFile(chunks('{"Records":[{"a":}]}'), compileFilter({}, W))
  t.match(docBad.problems[0], /^record 1: /)
})

// ---------------------------------------------------------------- archive layout

t.test('archive layout: keys, urls and ranges', async (t) => {
  const loc = parseArchiveUrl('s3://trail-logs/ct/')
  t.same(loc, { bucket: 'trail-logs', prefix: 'ct' })
  t.same(parseArchiveUrl('s3://trail-logs'), { bucket: 'trail-logs', prefix: '' })
  t.throws(() => parseArchiveUrl('https://x/y'), { name: 'ValidationError', field: 'archive' })
  t.throws(() => parseArchiveUrl('s3://A'), ValidationError)
  t.equal(scopeRoot({ bucket: 'b', prefix: '' }, '111111111111'), 'AWSLogs/111111111111')
  t.equal(scopeRoot(loc, '111111111111', 'o-abcdefghij'), 'ct/AWSLogs/o-abcdefghij/111111111111')
  const at = D('2026-11-28T10:05:00Z')
  const lk = logFileKey(loc, { account: '111111111111', orgId: 'o-abcdefghij', region: 'eu-west-1' }, at, 'AbC123')
  t.same(parseLogFileKey(lk), { key: lk, orgId: 'o-abcdefghij', account: '111111111111', region: 'eu-west-1', time: at })
  t.equal(parseLogFileKey(lk.replace('.json.gz', '.json'))?.time, at, 'an uncompressed .json file')
  t.equal(parseLogFileKey('AWSLogs/111111111111/CloudTrail/eu-west-1/2026/11/28/111111111111_CloudTrail_eu-west-1_20261399T9999Z_x.json.gz'), undefined, 'impossible time')
  t.equal(parseLogFileKey('random/key.json.gz'), undefined)
  const dk = digestFileKey(loc, { account: '111111111111', region: 'eu-west-1' }, 'my_trail', 'us-east-1', D('2026-11-28T11:00:00Z'), true)
  t.same(parseDigestKey(dk), { key: dk, orgId: undefined, account: '111111111111', region: 'eu-west-1', trailName: 'my_trail', homeRegion: 'us-east-1', time: D('2026-11-28T11:00:00Z'), backfill: true })
  t.equal(parseDigestKey(digestFileKey(loc, { account: '111111111111', region: 'eu-west-1' }, 't', 'us-east-1', D('2026-11-28T11:00:00Z')))?.backfill, false)
  t.equal(parseDigestKey(dk.replace('20261128T110000Z', '20261128T996000Z')), undefined)
  t.equal(parseDigestKey(lk), undefined)
  t.equal(compactUtc(D('2026-01-02T03:04:05Z'), true), '20260102T030405Z')
  t.equal(compactUtc(D('2026-01-02T03:04:05Z'), false), '20260102T0304Z')
  t.same(deliveryRange(W, { beforeMs: 1, afterMs: 2 }), { start: W.start - 1, end: W.end + 2 })
  t.same(dayFolders({ start: D('2026-12-31T23:00:00Z'), end: D('2027-01-01T00:00:01Z') }), ['2026/12/31/', '2027/01/01/'])
  t.same(dayFolders({ start: D('2026-12-31T00:00:00Z'), end: D('2026-12-31T00:00:00Z') }), [])
})

// ---------------------------------------------------------------- fake S3 and archive

interface FakeObject {
  body: Buffer
  metadata?: Record<string, string>
  versionId?: string
  etag?: string
}

class FakeS3 {
  objects = new Map<string, FakeObject>()
  calls: string[] = []
  /** returns an error to throw for a call, or undefined */
  fail: (kind: 'list' | 'get', input: Record<string, unknown>) => Error | undefined = () => undefined
  constructor(readonly bucket: string) {}
  put(key: string, body: Buffer, metadata?: Record<string, string>): void {
    this.objects.set(key, { body, metadata, versionId: `v-${this.objects.size}`, etag: `"${createHash('md5').update(body).digest('hex')}"` })
  }
  async send(cmd: unknown): Promise<unknown> {
    if (cmd instanceof ListObjectsV2Command) {
      const i = cmd.input
      this.calls.push(`list ${i.Prefix ?? ''}`)
      const e = this.fail('list', i as unknown as Record<string, unknown>)
      if (e) throw e
      if (i.Bucket !== this.bucket) throw named('NoSuchBucket', 'The specified bucket does not exist')
      const keys = [...this.objects.keys()].filter((k) => k.startsWith(i.Prefix ?? '')).sort()
      const contents: string[] = []
      const prefixes = new Set<string>()
      for (const k of keys) {
        const rest = k.slice((i.Prefix ?? '').length)
        const d = i.Delimiter ? rest.indexOf(i.Delimiter) : -1
        if (d >= 0) prefixes.add((i.Prefix ?? '') + rest.slice(0, d + 1))
        else contents.push(k)
      }
      // Two keys per page, to exercise continuation.
      const start = Number(i.ContinuationToken ?? 0)
      const page = contents.slice(start, start + 2)
      const more = start + 2 < contents.length
      return {
        Contents: page.length ? page.map((k) => ({ Key: k, Size: this.objects.get(k)!.body.length, ETag: this.objects.get(k)!.etag, LastModified: new Date(D('2026-11-28T12:00:00Z')) })) : undefined,
        CommonPrefixes: start === 0 && prefixes.size ? [...prefixes].map((p) => ({ Prefix: p })) : undefined,
        IsTruncated: more,
        NextContinuationToken: more ? String(start + 2) : undefined,
      }
    }
    if (cmd instanceof GetObjectCommand) {
      const i = cmd.input
      this.calls.push(`get ${i.Key ?? ''}`)
      const e = this.fail('get', i as unknown as Record<string, unknown>)
      if (e) throw e
      const o = i.Bucket === this.bucket ? this.objects.get(i.Key ?? '') : undefined
      if (!o) throw named('NoSuchKey', 'The specified key does not exist.')
      if (i.VersionId && i.VersionId !== o.versionId) throw named('NoSuchVersion', 'The specified version does not exist.')
      if (i.IfMatch && i.IfMatch !== o.etag) throw named('PreconditionFailed', 'At least one of the pre-conditions you specified did not hold')
      const body = o.body
      return {
        Body: Object.assign(
          (async function* () {
            yield new Uint8Array(body)
          })(),
          { transformToByteArray: async () => new Uint8Array(body) },
        ),
        Metadata: o.metadata,
        VersionId: o.versionId,
        ETag: o.etag,
        LastModified: new Date(D('2026-11-28T12:00:00Z')),
      }
    }
    throw new Error(`unexpected command ${String(cmd)}`)
  }
}

interface Key {
  sign(text: string): string
  pub: TrailPublicKey
}

function makeKey(fingerprint: string): Key {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 1024 })
  return {
    sign: (text) => sign('sha256', Buffer.from(text), privateKey).toString('hex'),
    pub: { fingerprint, value: publicKey.export({ format: 'der', type: 'pkcs1' }), validityStart: '2020-01-01T00:00:00.000Z' },
  }
}

const KEY = makeKey('fp-1')
const LOC = { bucket: 'trail', prefix: 'ct' }
const SCOPE = { account: '111111111111', region: 'us-east-1' }

interface DigestSpec {
  end: number
  files: Array<{ key: string; hash: string }>
  prev?: { key: string; hash: string; signature: string }
  backfill?: boolean
}

/** Writes a signed digest into the fake S3; returns its key, hash and signature. */
function putDigest(s3: FakeS3, spec: DigestSpec, opts: { key?: Key; metadata?: Record<string, string>; tamper?: (doc: Record<string, unknown>) => void } = {}): { key: string; hash: string; signature: string } {
  const k = opts.key ?? KEY
  const dk = digestFileKey(LOC, SCOPE, 'trail', 'us-east-1', spec.end, spec.backfill)
  const doc: Record<string, unknown> = {
    awsAccountId: SCOPE.account,
    digestStartTime: new Date(spec.end - 3600_000).toISOString(),
    digestEndTime: new Date(spec.end).toISOString(),
    digestS3Bucket: LOC.bucket,
    digestS3Object: dk,
    digestPublicKeyFingerprint: k.pub.fingerprint,
    previousDigestS3Bucket: spec.prev ? LOC.bucket : null,
    previousDigestS3Object: spec.prev?.key ?? null,
    previousDigestHashValue: spec.prev?.hash ?? null,
    previousDigestSignature: spec.prev?.signature ?? null,
    logFiles: spec.files.map((f) => ({ s3Bucket: LOC.bucket, s3Object: f.key, hashValue: f.hash })),
  }
  const plain = Buffer.from(JSON.stringify(doc))
  const hash = createHash('sha256').update(plain).digest('hex')
  const signature = k.sign(`${String(doc.digestEndTime)}\n${LOC.bucket}/${dk}\n${hash}\n${spec.prev?.signature ?? 'null'}`)
  opts.tamper?.(doc)
  s3.put(dk, gzipSync(JSON.stringify(doc)), opts.metadata ?? { signature, 'signature-algorithm': 'SHA256withRSA' })
  return { key: dk, hash, signature }
}

function putLog(s3: FakeS3, at: number, events: Array<Record<string, unknown>>, unique: string): { key: string; hash: string } {
  const k = logFileKey(LOC, SCOPE, at, unique)
  const plain = Buffer.from(JSON.stringify({ Records: events }))
  s3.put(k, gzipSync(plain))
  return { key: k, hash: createHash('sha256').update(plain).digest('hex') }
}

const listedOf = (s3: FakeS3, ...keys: string[]): ListedDigestFile[] => keys.map((k) => ({ ...parseDigestKey(k)!, bucket: s3.bucket }))
const reader = (s3: FakeS3) => (b: string, k: string): Promise<StoredObject | undefined> => getObject(s3, b, k)
const keySource = (...keys: TrailPublicKey[]): { listPublicKeys: () => Promise<TrailPublicKey[]>; calls: number } => {
  const src = {
    calls: 0,
    listPublicKeys: async (): Promise<TrailPublicKey[]> => {
      src.calls++
      return keys
    },
  }
  return src
}

// ---------------------------------------------------------------- archive source

t.test('archive source: discovery, listing and S3 errors', async (t) => {
  const s3 = new FakeS3('trail')
  const at = D('2026-11-28T10:05:00Z')
  putLog(s3, at, [], 'A1')
  putLog(s3, at + 60_000, [], 'A2')
  putLog(s3, at + 120_000, [], 'A3')
  putLog(s3, D('2026-11-25T10:05:00Z'), [], 'OLD')
  s3.put(logFileKey(LOC, SCOPE, at, 'X').replace(/[^/]+$/, 'not-a-log.txt'), Buffer.from('x'))
  s3.put(logFileKey(LOC, { account: '222222222222', orgId: 'o-abcdefghij', region: 'eu-west-1' }, at, 'B1'), Buffer.from('x'))
  s3.put('ct/AWSLogs/o-abcdefghij/not-an-account/x', Buffer.from('x'))
  s3.put('ct/AWSLogs/README/x', Buffer.from('x'))
  s3.put('ct/AWSLogs/top-level-file', Buffer.from('x'))
  putDigest(s3, { end: D('2026-11-28T12:00:00Z'), files: [] })
  putDigest(s3, { end: D('2026-11-28T11:00:00Z'), files: [] })

  const scopes = await discoverScopes(s3, LOC)
  t.same(scopes.map((s) => `${s.root}|${s.orgId ?? ''}|${s.region}`).sort(), ['ct/AWSLogs/111111111111||us-east-1', 'ct/AWSLogs/o-abcdefghij/222222222222|o-abcdefghij|eu-west-1'])
  const only = await discoverScopes(s3, LOC, { accounts: ['111111111111'], regions: ['us-east-1', 'us-west-2'] })
  t.same(only.map((s) => s.region), ['us-east-1', 'us-west-2'], 'given regions are not listed')

  const scope = scopes.find((s) => s.account === '111111111111')!
  const range = { start: D('2026-11-28T00:00:00Z'), end: D('2026-11-28T10:07:00Z') }
  const logs = await listLogFiles(s3, 'trail', scope, range)
  t.same(logs.map((l) => l.key.split('_').pop()), ['A1.json.gz', 'A2.json.gz'], 'only files in [start, end), across pages')
  t.equal(logs[0].size, s3.objects.get(logs[0].key)!.body.length)
  t.equal(logs[0].lastModified, '2026-11-28T12:00:00.000Z')
  const digests = await listDigestFiles(s3, 'trail', scope, { start: D('2026-11-28T00:00:00Z'), end: D('2026-11-29T00:00:00Z') })
  t.same(digests.map((d) => d.time), [D('2026-11-28T11:00:00Z'), D('2026-11-28T12:00:00Z')], 'sorted by time')

  await t.rejects(discoverScopes(s3, { bucket: 'nope', prefix: '' }), { name: 'StorageError', message: /list s3:\/\/nope\/AWSLogs\/ failed: NoSuchBucket: .*check the --archive bucket name/ })
  s3.fail = (kind) => (kind === 'list' ? named('AccessDenied', 'Access Denied') : undefined)
  await t.rejects(listLogFiles(s3, 'trail', scope, range), { message: /grant s3:ListBucket on it/ })
  s3.fail = (kind) => (kind === 'get' ? named('AccessDenied', 'Access Denied') : undefined)
  await t.rejects(getObject(s3, 'trail', logs[0].key), { message: /read s3:\/\/trail\/.* failed: AccessDenied: Access Denied; grant s3:GetObject/ })
  await t.rejects(openObject(s3, 'trail', logs[0].key), StorageError)
  s3.fail = () => named('SlowDown', 'Please reduce your request rate')
  await t.rejects(getObject(s3, 'trail', logs[0].key), { message: /SlowDown: Please reduce your request rate$/ })
  s3.fail = () => undefined

  t.equal(await getObject(s3, 'trail', 'missing'), undefined)
  const got = await getObject(s3, 'trail', logs[0].key)
  t.equal(got?.versionId, 'v-0')
  t.same(got?.metadata, {})
  const coords = {}
  await openObject(s3, 'trail', logs[0].key, coords)
  t.same(coords, { versionId: 'v-0', etag: s3.objects.get(logs[0].key)!.etag, lastModified: '2026-11-28T12:00:00.000Z' })
  await t.rejects(openObject(s3, 'trail', logs[0].key, {}, { versionId: 'v-9' }), { message: /NoSuchVersion/ })
  await t.rejects(openObject(s3, 'trail', logs[0].key, {}, { etag: '"other"' }), { message: /PreconditionFailed/ })
  const pinned = await openObject(s3, 'trail', logs[0].key, {}, { etag: s3.objects.get(logs[0].key)!.etag })
  t.ok(pinned, 'pinned by ETag when there is no versionId')
})

// ---------------------------------------------------------------- digest validation

t.test('digest validation: signatures, keys and verdicts', async (t) => {
  const s3 = new FakeS3('trail')
  const h = (n: number): number => D('2026-11-28T00:00:00Z') + n * 3600_000
  const f1 = putLog(s3, h(0) + 300_000, [], 'F1')
  const f2 = putLog(s3, h(1) + 300_000, [], 'F2')
  const d1 = putDigest(s3, { end: h(1), files: [f1] })
  const d2 = putDigest(s3, { end: h(2), files: [f2], prev: d1 })
  const other = makeKey('fp-2')

  const keys = keySource(KEY.pub)
  const v = await validateDigests(listedOf(s3, d1.key, d2.key), reader(s3), keys)
  t.same(v.digests.map((d) => d.status), ['valid', 'valid'])
  t.same(v.chain, [])
  t.equal(keys.calls, 2, 'one key lookup per distinct period')
  t.same([...v.keysUsed.keys()], ['fp-1'])
  t.same(v.judge({ bucket: 'trail', key: f1.key, time: h(0) + 300_000, uncompressedSha256: f1.hash }), { verdict: 'valid', digest: d1.key })
  t.match(v.judge({ bucket: 'trail', key: f1.key, time: h(0) + 300_000, uncompressedSha256: 'beef' }), { verdict: 'hash-mismatch', reason: /the file changed after delivery/ })
  t.match(v.judge({ bucket: 'trail', key: 'x', time: h(1) + 30 * 60_000, uncompressedSha256: 'x' }), { verdict: 'not-covered', digest: d2.key })
  t.match(v.judge({ bucket: 'trail', key: 'x', time: h(5), uncompressedSha256: 'x' }), { verdict: 'digest-missing', reason: /no digest covering the delivery time 2026-11-28T05:00:00.000Z/ })

  // Unreadable: not gzip, not JSON, missing fields. A missing object is skipped.
  s3.put(digestFileKey(LOC, SCOPE, 'trail', 'us-east-1', h(3)), Buffer.from('plain'))
  s3.put(digestFileKey(LOC, SCOPE, 'trail', 'us-east-1', h(4)), gzipSync('{"digestStartTime":"x"}'))
  const u = await validateDigests(listedOf(s3, digestFileKey(LOC, SCOPE, 'trail', 'us-east-1', h(3)), digestFileKey(LOC, SCOPE, 'trail', 'us-east-1', h(4)), digestFileKey(LOC, SCOPE, 'trail', 'us-east-1', h(9))), reader(s3), keySource())
  t.same(u.digests.map((d) => d.status), ['unreadable', 'unreadable'])
  t.match(u.digests[0].reason, /cannot be read: /)
  t.match(u.digests[1].reason, /missing field\(s\) digestEndTime, digestS3Bucket/)
  t.equal(u.digests[1].logFiles, 0)
  t.equal(u.objects.size, 2)

  // Each signature problem is reported on its digest and its files become signature-invalid.
  const cases: Array<[string, (s: FakeS3) => { key: string }, RegExp]> = [
    ['moved', (s) => putDigest(s, { end: h(6), files: [f1] }, { tamper: (d) => (d.digestS3Object = 'elsewhere.json.gz') }), /it has been moved/],
    ['no metadata', (s) => putDigest(s, { end: h(6), files: [f1] }, { metadata: {} }), /has no x-amz-meta-signature/],
    ['other algorithm', (s) => putDigest(s, { end: h(6), files: [f1] }, { metadata: { signature: 'ab', 'signature-algorithm': 'SHA1withRSA' } }), /uses signature algorithm SHA1withRSA/],
    ['unknown key', (s) => putDigest(s, { end: h(6), files: [f1] }, { key: other }), /no public key with fingerprint fp-2 in region us-east-1/],
    ['altered', (s) => putDigest(s, { end: h(6), files: [f1] }, { tamper: (d) => (d.awsAccountId = '999999999999') }), /does not verify with key fp-1/],
    ['not hex', (s) => putDigest(s, { end: h(6), files: [f1] }, { metadata: { signature: 'zz', 'signature-algorithm': 'SHA256withRSA' } }), /does not verify/],
  ]
  for (const [name, put, reason] of cases) {
    const s = new FakeS3('trail')
    const d = put(s)
    const r = await validateDigests(listedOf(s, d.key), reader(s), keySource(KEY.pub))
    t.equal(r.digests[0].status, 'signature-invalid', name)
    t.match(r.digests[0].reason, reason, name)
    t.match(r.judge({ bucket: 'trail', key: f1.key, time: 0, uncompressedSha256: f1.hash }), { verdict: 'signature-invalid', digest: d.key }, name)
  }

  // A key whose value cannot be loaded.
  const sBad = new FakeS3('trail')
  const dBad = putDigest(sBad, { end: h(6), files: [] })
  const rBad = await validateDigests(listedOf(sBad, dBad.key), reader(sBad), keySource({ fingerprint: 'fp-1', value: Buffer.from([0x30, 0x03, 0x02, 0x01]) }))
  t.match(rBad.digests[0].reason, /public key fp-1 cannot be loaded/)

  // A file listed by an invalid digest and a valid one is judged by the valid one.
  const sTwo = new FakeS3('trail')
  const dInvalid = putDigest(sTwo, { end: h(6), files: [f1] }, { metadata: {} })
  const dValid = putDigest(sTwo, { end: h(7), files: [f1] })
  const rTwo = await validateDigests(listedOf(sTwo, dInvalid.key, dValid.key), reader(sTwo), keySource(KEY.pub))
  t.same(rTwo.judge({ bucket: 'trail', key: f1.key, time: 0, uncompressedSha256: f1.hash }), { verdict: 'valid', digest: dValid.key })
})

t.test('digest validation: backfill digests look up keys by generation time', async (t) => {
  const s3 = new FakeS3('trail')
  const end = D('2026-11-28T02:00:00Z')
  const d = putDigest(s3, { end, files: [], backfill: true }, { metadata: {} })
  // Re-put with the backfill metadata and a valid signature.
  const obj = s3.objects.get(d.key)!
  const doc = JSON.parse(gunzipSync(obj.body).toString()) as DigestDocument
  const hash = createHash('sha256').update(gunzipSync(obj.body)).digest('hex')
  const signature = KEY.sign(`${doc.digestEndTime}\n${doc.digestS3Bucket}/${doc.digestS3Object}\n${hash}\nnull`)
  obj.metadata = { signature, 'signature-algorithm': 'SHA256withRSA', 'backfill-generation-timestamp': '2026-11-29T08:00:00Z' }
  const asked: string[] = []
  const keys = {
    listPublicKeys: async (_r: string, start: Date): Promise<TrailPublicKey[]> => {
      asked.push(start.toISOString())
      return start.getTime() > D('2026-11-29T00:00:00Z') ? [KEY.pub] : []
    },
  }
  const r = await validateDigests(listedOf(s3, d.key), reader(s3), keys)
  t.equal(r.digests[0].status, 'valid')
  t.equal(r.digests[0].backfill, true)
  t.same(asked, ['2026-11-27T02:00:00.000Z', '2026-11-29T07:00:00.000Z'])

  // Without a usable generation timestamp there is no second lookup.
  obj.metadata = { signature, 'signature-algorithm': 'SHA256withRSA' }
  asked.length = 0
  const r2 = await validateDigests(listedOf(s3, d.key), reader(s3), keys)
  t.equal(r2.digests[0].status, 'signature-invalid')
  t.equal(asked.length, 1)
  t.same(r2.chain, [], 'backfill digests are not chained')
})

t.test('digest validation: chain findings', async (t) => {
  const s3 = new FakeS3('trail')
  const h = (n: number): number => D('2026-11-28T00:00:00Z') + n * 3600_000
  const f = putLog(s3, h(2) + 300_000, [], 'F')
  const d1 = putDigest(s3, { end: h(1), files: [] })
  const d2 = putDigest(s3, { end: h(2), files: [] , prev: d1 })
  const d3 = putDigest(s3, { end: h(3), files: [f], prev: d2 })
  // Only d3 is listed: d2 is read to check the link.
  const r = await validateDigests(listedOf(s3, d3.key), reader(s3), keySource(KEY.pub))
  t.same(r.chain, [])
  t.ok(r.objects.has(`trail/${d2.key}`), 'the previous digest is kept')

  // The previous digest was deleted.
  s3.objects.delete(d2.key)
  const missing = await validateDigests(listedOf(s3, d3.key), reader(s3), keySource(KEY.pub))
  t.match(missing.chain, [{ kind: 'previous-digest-missing', digest: d3.key, previous: d2.key }])
  t.match(missing.judge({ bucket: 'trail', key: f.key, time: 0, uncompressedSha256: f.hash }), { verdict: 'valid', reason: /chain before this digest is broken/ })

  // The previous digest was replaced (different bytes and signature).
  putDigest(s3, { end: h(2), files: [f], prev: d1 })
  const replaced = await validateDigests(listedOf(s3, d1.key, d2.key, d3.key), reader(s3), keySource(KEY.pub))
  t.same(replaced.chain.map((c) => c.kind), ['previous-digest-hash-mismatch', 'previous-signature-mismatch'])

  // A previous key that does not look like a digest is not read.
  const s4 = new FakeS3('trail')
  const d4 = putDigest(s4, { end: h(3), files: [], prev: { key: 'ct/odd-name', hash: 'x', signature: 'y' } })
  s4.put('ct/odd-name', Buffer.from('x'))
  const odd = await validateDigests(listedOf(s4, d4.key), reader(s4), keySource(KEY.pub))
  t.same(odd.chain.map((c) => c.kind), ['previous-digest-missing'])

  // A previous digest that is not gzip: hash mismatch, not a crash.
  const s5 = new FakeS3('trail')
  const p5 = digestFileKey(LOC, SCOPE, 'trail', 'us-east-1', h(1))
  s5.put(p5, Buffer.from('not gzip'), { signature: 'sig' })
  const d5 = putDigest(s5, { end: h(2), files: [], prev: { key: p5, hash: 'abc', signature: 'sig' } })
  const r5 = await validateDigests(listedOf(s5, d5.key), reader(s5), keySource(KEY.pub))
  t.match(r5.chain, [{ kind: 'previous-digest-hash-mismatch', message: /hashes to undefined/ }])

  // A chain that starts again after an earlier digest.
  const s6 = new FakeS3('trail')
  const a = putDigest(s6, { end: h(1), files: [] })
  const b = putDigest(s6, { end: h(5), files: [] })
  const r6 = await validateDigests(listedOf(s6, a.key, b.key), reader(s6), keySource(KEY.pub))
  t.match(r6.chain, [{ kind: 'chain-restart', digest: b.key }])
})

t.test('digest validation: key formats', async (t) => {
  const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 1024 })
  const pkcs1 = publicKey.export({ format: 'der', type: 'pkcs1' })
  const spki = publicKey.export({ format: 'der', type: 'spki' })
  const pem = publicKey.export({ format: 'pem', type: 'spki' }).toString()
  for (const v of [pkcs1, spki, Buffer.from(pkcs1.toString('base64')), Buffer.from(spki.toString('base64'))]) {
    t.equal(publicKeyFromValue(v).export({ format: 'pem', type: 'spki' }).toString(), pem)
  }
  t.throws(() => publicKeyFromValue(Buffer.from('????')))
  const doc = { digestEndTime: 'e', digestS3Bucket: 'b', digestS3Object: 'o', previousDigestSignature: null } as unknown as DigestDocument
  t.notOk(verifyDigestSignature(doc, 'h', 'abc', KEY.pub), 'odd-length hex is rejected')
  t.ok(verifyDigestSignature(doc, 'h', KEY.sign('e\nb/o\nh\nnull'), KEY.pub))
})

// ---------------------------------------------------------------- lookup source

interface FakePage {
  Events?: Array<{ EventId?: string; CloudTrailEvent?: string; EventTime?: Date }>
  NextToken?: string
}

function fakeCloudTrail(pages: Array<FakePage | Error>): { send: (c: unknown) => Promise<unknown>; inputs: Array<Record<string, unknown>> } {
  const inputs: Array<Record<string, unknown>> = []
  return {
    inputs,
    send: async (c: unknown) => {
      inputs.push((c as { input: Record<string, unknown> }).input)
      const p = pages.shift()
      if (!p) throw new Error('no more pages')
      if (p instanceof Error) throw p
      return p
    },
  }
}

t.test('lookup source: attribute choice', async (t) => {
  t.equal(chooseLookupAttribute({}), null)
  t.same(chooseLookupAttribute({ accessKeyIds: ['A'], eventNames: ['E'] }), { key: 'AccessKeyId', values: ['A'] })
  t.same(chooseLookupAttribute({ principals: ['arn:aws:iam::111111111111:user/path/alice', 'arn:aws:sts::111111111111:assumed-role/R/alice'] }), { key: 'Username', values: ['alice'] })
  t.same(chooseLookupAttribute({ principals: ['arn:aws:iam::111111111111:role/R'], buckets: ['b'] }), { key: 'ResourceName', values: ['b'] })
  t.same(chooseLookupAttribute({ eventSources: ['s3.amazonaws.com'] }), { key: 'EventSource', values: ['s3.amazonaws.com'] })
  t.same(chooseLookupAttribute({ readOnly: false }), { key: 'ReadOnly', values: ['false'] })
  t.same(chooseLookupAttribute({ eventNames: ['a', 'b', 'c', 'd', 'e'], eventSources: ['1', '2', '3', '4'] }), { key: 'EventSource', values: ['1', '2', '3', '4'] }, 'the fewest values when all have many')
})

t.test('lookup source: paging, filtering, throttling and errors', async (t) => {
  const ev = (id: string, time: string, name = 'GetObject'): string => JSON.stringify({ eventID: id, eventTime: time, eventName: name })
  const ct = fakeCloudTrail([
    named('ThrottlingException', 'Rate exceeded'),
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
    named('TooManyRequestsException', 'slow down'),
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
  t.equal(ct.inputs[2].NextToken, 'n1')
  t.same(ct.inputs[0].LookupAttributes, [{ AttributeKey: 'EventName', AttributeValue: 'GetObject' }])
  t.ok(slept.length >= 2, 'backs off and spaces calls')

  // No attribute: one unfiltered series; real sleep when not given.
  const plain = fakeCloudTrail([{ Events: [] }])
  const r2 = await lookupEvents({}, W, { regions: ['eu-west-1'], clientFor: () => plain })
  t.equal(r2.attribute, null)
  t.equal(plain.inputs[0].LookupAttributes, undefined)

  await t.rejects(lookupEvents({}, W, { regions: ['us-east-1'], clientFor: () => fakeCloudTrail([named('AccessDeniedException', 'no')]) }), { name: 'StorageError', message: /LookupEvents in us-east-1 failed: AccessDeniedException: no; grant cloudtrail:LookupEvents/ })
  await t.rejects(lookupEvents({}, W, { regions: ['us-east-1'], clientFor: () => fakeCloudTrail([named('InvalidTimeRangeException', 'bad')]) }), { message: /failed: InvalidTimeRangeException: bad$/ })
  await t.rejects(
    lookupEvents({}, W, { regions: ['us-east-1'], clientFor: () => fakeCloudTrail([named('ThrottlingException', 'x'), named('ThrottlingException', 'x')]), maxAttempts: 2, baseDelayMs: 1, sleep: async () => undefined }),
    { message: /still throttled after 2 attempts/ },
  )
})

t.test('lookup source: ListPublicKeys', async (t) => {
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
  t.equal(ct.inputs[1].NextToken, 't')
  t.same(await src.listPublicKeys('us-east-1', new Date(0), new Date(1)), [], 'a page without a list')
  const denied = cloudTrailPublicKeys(() => fakeCloudTrail([named('AccessDeniedException', 'nope')]))
  await t.rejects(denied.listPublicKeys('eu-west-1', new Date(0), new Date(1)), { name: 'StorageError', message: /ListPublicKeys in eu-west-1 failed: AccessDeniedException: nope; grant cloudtrail:ListPublicKeys/ })
})

// ---------------------------------------------------------------- slice, document

const outcome = (o: Partial<SliceOutcome>): SliceOutcome => ({ request: { window: W, filters: {} }, events: [], duplicatesDropped: 0, files: [], scopes: [], digests: [], chain: [], digestObjects: [], publicKeys: [], errors: [], ...o })

t.test('slice document: counts with absent identities', async (t) => {
  const events = [
    { time: 1, id: 'a', json: JSON.stringify({ eventName: 'GetObject', sourceIPAddress: '1.1.1.1', userIdentity: { arn: 'arn:aws:iam::1:user/u' } }) },
    { time: 2, id: 'b', json: JSON.stringify({ userIdentity: { invokedBy: 's3.amazonaws.com' } }) },
    { time: 3, id: 'c', json: JSON.stringify({ userIdentity: { principalId: 'P1', type: 'AWSAccount' } }) },
    { time: 4, id: 'd', json: JSON.stringify({ userIdentity: { principalId: 'P2' } }) },
    { time: 5, id: 'e', json: JSON.stringify({ eventName: 'GetObject', userIdentity: {} }) },
    { time: 6, id: 'f', json: JSON.stringify({ eventName: 'A' }) },
  ]
  const doc = buildSliceDocument(outcome({ events, files: [{ source: 'dir', matched: 1, verdict: 'valid' } as SliceOutcome['files'][number], { source: 'dir', matched: 0 } as SliceOutcome['files'][number]] }))
  t.same(doc.counts.byEventName, { '(none)': 3, A: 1, GetObject: 2 })
  t.same(Object.keys(doc.counts.byEventName), ['(none)', 'A', 'GetObject'], 'sorted')
  t.same(doc.counts.byPrincipal, { '(none)': 2, 'AWSAccount:P1': 1, 'arn:aws:iam::1:user/u': 1, 'principal:P2': 1, 's3.amazonaws.com': 1 })
  t.same(doc.counts.bySourceIp, { '(none)': 5, '1.1.1.1': 1 })
  t.same(doc.counts.byVerdict, { valid: 1 })
  t.equal(doc.counts.filesWithMatches, 1)
  t.equal(doc.sources.archive, undefined)
  t.equal(doc.window.start, '2026-11-28T00:00:00.000Z')
  const withArchive = buildSliceDocument(outcome({ request: { window: W, filters: {}, archive: { location: LOC } }, scopes: [{ root: 'r', account: '1', region: 'x' }], publicKeys: [{ ...KEY.pub }] }))
  t.same(withArchive.sources.archive, { bucket: 'trail', prefix: 'ct', scopes: [{ account: '1', orgId: undefined, region: 'x' }] })
  t.same(withArchive.publicKeys, [{ fingerprint: 'fp-1', validityStart: '2020-01-01T00:00:00.000Z', validityEnd: undefined }])
  const pk = publicKeysDocument(outcome({ publicKeys: [KEY.pub] }), (v) => `PEM ${v.length}`)
  t.same(pk, [{ fingerprint: 'fp-1', validityStart: '2020-01-01T00:00:00.000Z', validityEnd: undefined, valueBase64: KEY.pub.value.toString('base64'), pem: `PEM ${KEY.pub.value.length}` }])
  let text = ''
  for await (const c of eventLines(events.slice(0, 2))) text += String(c)
  t.equal(text, events[0].json + '\n' + events[1].json + '\n')
})

t.test('slice: dedupe and sort ties', async (t) => {
  const r = dedupeAndSort([
    { time: 2, id: 'b', json: '{"z":1}' },
    { time: 1, id: 'x', json: '{"b":1}' },
    { time: 1, id: 'x', json: '{"a":1}' },
    { time: 1, id: 'a', json: '{}' },
    { time: 2, id: 'b', json: '{"z":1}' },
  ])
  t.same(r.events.map((e) => `${e.time}${e.id}${e.json}`), ['1a{}', '1x{"a":1}', '2b{"z":1}'])
  t.equal(r.dropped, 2)
})

t.test('slice: archive over a fake S3 (in-process scan)', async (t) => {
  const s3 = new FakeS3('trail')
  const h = (n: number): number => D('2026-11-28T00:00:00Z') + n * 3600_000
  const ev = (id: string, n: number): Record<string, unknown> => ({ eventID: id, eventTime: new Date(h(n) - 600_000).toISOString(), eventName: 'GetObject', sourceIPAddress: '10.0.0.1' })
  const good = putLog(s3, h(1) + 300_000, [ev('a', 1), ev('b', 1)], 'G1')
  const tampered = putLog(s3, h(1) + 600_000, [ev('c', 1)], 'G2')
  const damagedKey = logFileKey(LOC, SCOPE, h(1) + 900_000, 'G3')
  s3.put(damagedKey, gzipSync('{"Records":[{"eventID":"d","eventTime":"2026-11-28T00:50:00Z","eventName":"GetObject"},{"eventName":"GetObject",},'))
  const d1 = putDigest(s3, { end: h(2), files: [good, { key: tampered.key, hash: 'f'.repeat(64) }] })
  putDigest(s3, { end: h(3), files: [], prev: { key: 'ct/missing', hash: 'x', signature: d1.signature } })

  const lines: string[] = []
  const filters = { eventNames: ['GetObject'] }
  const o = await runSlice({ window: { start: h(0), end: h(2) }, filters, archive: { location: LOC } }, { s3, publicKeys: keySource(KEY.pub), workers: 0, progress: (l) => lines.push(l) })
  t.same(o.events.map((e) => e.id), ['a', 'b', 'c', 'd'])
  t.same(o.files.map((f) => f.verdict), ['valid', 'hash-mismatch', 'not-covered'])
  t.same(o.errors.map((e) => e.code).sort(), ['BadLogFile', 'BadRecords', 'previous-digest-missing'].sort())
  t.match(o.errors.find((e) => e.code === 'BadRecords')?.message, /1 record\(s\) are not JSON objects \(record 2: /)
  t.equal(o.publicKeys.length, 1)
  t.equal(o.digestObjects.length, 2)
  t.match(lines.join('\n'), /1 account\/region scope\(s\)[\s\S]*3 log file\(s\)/)

  // Without a key source: digests are not validated, files get no verdict.
  const noKeys = await runSlice({ window: { start: h(0), end: h(2) }, filters, archive: { location: LOC } }, { s3, workers: 0 })
  t.ok(noKeys.errors.some((e) => e.code === 'DigestsNotValidated'))
  t.same(noKeys.files.map((f) => f.verdict), [undefined, undefined, undefined])

  // A file that cannot be opened is recorded with the error.
  s3.fail = (kind, input) => (kind === 'get' && input.Key === good.key ? named('AccessDenied', 'Access Denied') : undefined)
  const denied = await runSlice({ window: { start: h(0), end: h(2) }, filters, archive: { location: LOC } }, { s3, publicKeys: keySource(KEY.pub), workers: 0 })
  const df = denied.files.find((f) => f.key === good.key)!
  t.match(df.error, /AccessDenied/)
  t.equal(df.matched, 0)
  t.equal(df.etag, s3.objects.get(good.key)!.etag, 'the listed ETag when the read failed')

  await t.rejects(runSlice({ window: W, filters: {}, archive: { location: LOC } }, {}), { name: 'TypeError', message: /needs an S3 client/ })
  await t.rejects(runSlice({ window: W, filters: {}, lookup: { regions: ['us-east-1'] } }, {}), { name: 'TypeError', message: /needs a CloudTrail client factory/ })
  await t.rejects(runSlice({ window: W, filters: { principals: ['bob'] } }, {}), ValidationError)

  // LookupEvents only: problems become errors, duplicates of the archive are dropped.
  const ct = fakeCloudTrail([{ Events: [{ EventId: 'a', CloudTrailEvent: JSON.stringify(ev('a', 1)) }, { EventId: 'z', CloudTrailEvent: '{' }] }])
  const lk = await runSlice({ window: { start: h(0), end: h(2) }, filters, lookup: { regions: ['us-east-1'] } }, { cloudTrailFor: () => ct, lookupOptions: { sleep: async () => undefined } })
  t.equal(lk.lookup?.events, 1)
  t.same(lk.lookup?.regions, ['us-east-1'])
  t.match(lk.errors, [{ code: 'BadLookupEvent' }])
})

t.test('slice: local folders', async (t) => {
  const dir = join(tmp, 'logs')
  mkdirSync(join(dir, 'sub', 'CloudTrail-Digest'), { recursive: true })
  const e = (id: string): string => JSON.stringify({ eventID: id, eventTime: '2026-11-28T01:00:00Z', eventName: 'GetObject' })
  writeFileSync(join(dir, 'a.json'), JSON.stringify({ Records: [JSON.parse(e('1')), JSON.parse(e('2'))] }))
  writeFileSync(join(dir, 'sub', 'b.jsonl.gz'), gzipSync(`${e('2')}\n${e('3')}\nnot json\n`))
  writeFileSync(join(dir, 'sub', 'c.ndjson'), `${e('4')}\n`)
  writeFileSync(join(dir, 'sub', 'd.gz'), gzipSync(e('5')))
  writeFileSync(join(dir, 'sub', 'CloudTrail-Digest', 'x.json.gz'), gzipSync('{}'))
  writeFileSync(join(dir, 'notes.txt'), 'x')
  t.same((await listLocalLogFiles(dir)).map((p) => p.slice(dir.length + 1)), ['a.json', 'sub/b.jsonl.gz', 'sub/c.ndjson', 'sub/d.gz'])
  const o = await sliceDirectory(dir, W, { eventNames: ['GetObject'] }, { workers: 0 })
  t.same(o.events.map((x) => x.id), ['1', '2', '3', '4', '5'])
  t.equal(o.duplicatesDropped, 1)
  t.match(o.errors, [{ code: 'BadRecords', what: join(dir, 'sub', 'b.jsonl.gz') }])
  await t.rejects(sliceDirectory(join(tmp, 'nope'), W, {}), { code: 'ENOENT' })
})

t.test('scan pool: in-process and worker scans of streams and paths', async (t) => {
  t.match(workerEntry().pathname, /scan-worker\.ts$/)
  const doc = gzipSync(JSON.stringify({ Records: [{ eventID: 'a', eventTime: '2026-11-28T01:00:00Z' }] }))
  const path = join(tmp, 'one.json.gz')
  writeFileSync(path, doc)
  const local = new ScanPool({}, W, { workers: 0 })
  t.equal(local.workers, 0)
  t.equal((await local.scan({ kind: 'path', path })).matched.length, 1)
  await local.close()

  const pool = new ScanPool({}, W, { workers: 1, window: 1 })
  t.teardown(() => pool.close())
  t.equal(pool.workers, 1)
  const many = Array.from({ length: 6 }, (_, i) => doc.subarray(i * 10, i * 10 + 10)).concat([doc.subarray(60)])
  const [a, b] = await Promise.all([pool.scan({ kind: 'stream', open: async () => chunks(...many) }), pool.scan({ kind: 'path', path })])
  t.equal(a.matched.length, 1, 'a streamed file in small chunks with one chunk in flight')
  t.equal(b.matched.length, 1, 'a second file waits for the busy worker')
  await t.rejects(pool.scan({ kind: 'stream', open: async () => Promise.reject(new Error('open failed')) }), /open failed/)
  const failing = async function* (): AsyncGenerator<Uint8Array> {
    yield doc.subarray(0, 10)
    throw new Error('connection reset')
  }
  const aborted = await pool.scan({ kind: 'stream', open: async () => failing() })
  t.match(aborted.error, /reading the file failed: connection reset/)
  t.equal((await pool.scan({ kind: 'path', path })).matched.length, 1, 'the worker is free again after failures')
})

// ---------------------------------------------------------------- requests, collector, CLI

t.test('capture request identity', async (t) => {
  const a = sliceRequestId({ window: W, filters: { eventNames: ['A'] } })
  t.equal(a.length, 32)
  t.equal(a, sliceRequestId({ window: W, filters: { eventNames: ['A'] } }))
  t.not(a, sliceRequestId({ window: W, filters: { eventNames: ['A'] }, lookup: { regions: ['us-east-1'] } }))
  t.not(a, sliceRequestId({ window: W, filters: { eventNames: ['A'] }, archive: { location: LOC } }))
})

t.test('collector: own events and EventBridge events', async (t) => {
  const env = { FORENSICS_TRAIL_ARCHIVE: 's3://trail/ct' }
  const own = toSliceRequest({ caseId: 'c1', start: '2026-11-28T00:00:00Z', end: '2026-11-28T01:00:00Z', archive: 's3://other/p', accounts: ['111111111111'], regions: ['us-east-1'], lookupRegions: ['us-east-1'], triggerId: 't1', filters: { eventNames: ['GetObject'] } }, {})
  t.match(own, { caseId: 'c1', archive: { location: { bucket: 'other', prefix: 'p' }, accounts: ['111111111111'], regions: ['us-east-1'] }, lookup: { regions: ['us-east-1'] }, trigger: { source: 'invoke', id: 't1' }, filters: { eventNames: ['GetObject'] } })
  const fromEnv = toSliceRequest({ caseId: 'c1', start: '2026-11-28T00:00:00Z', end: '2026-11-28T01:00:00Z' }, env)
  t.same(fromEnv.archive, { location: { bucket: 'trail', prefix: 'ct' } })
  t.equal(fromEnv.lookup, undefined)
  t.equal(fromEnv.trigger, undefined)
  t.same(fromEnv.filters, {})
  t.throws(() => toSliceRequest({ caseId: 'c1', start: '2026-11-28T00:00:00Z', end: '2026-11-28T01:00:00Z' }, {}), { name: 'ValidationError', field: 'archive' })
  t.throws(() => toSliceRequest({ caseId: 'c1', start: 'x', end: '2026-11-28T01:00:00Z' }, env), { name: 'ValidationError', field: 'start' })
  t.throws(() => toSliceRequest({ caseId: 'c1', start: '2026-11-28T00:00:00Z', end: '2026-11-28T01:00:00Z', lookupRegions: 'us-east-1' }, env), { name: 'ValidationError', field: 'lookupRegions' })
  t.throws(() => toSliceRequest({ caseId: 'c1', start: '2026-11-28T00:00:00Z', end: '2026-11-28T01:00:00Z', archive: 's3://bbb/p', accounts: [1] }, env), { name: 'ValidationError', field: 'accounts' })
  t.throws(() => toSliceRequest(null, env), { name: 'ValidationError', field: 'caseId' })
  t.throws(() => toSliceRequest({ caseId: 'c' }, env), /needs caseId, start and end/)

  const gd = (detail: Record<string, unknown>, extra: Record<string, unknown> = {}): unknown => ({ id: 'ev-1', 'detail-type': 'GuardDuty Finding', source: 'aws.guardduty', region: 'eu-west-1', detail, ...extra })
  const g1 = toSliceRequest(gd({ id: 'f/1', service: { eventFirstSeen: '2026-11-28T10:00:00Z', eventLastSeen: '2026-11-28T11:00:00Z' }, resource: { accessKeyDetails: { accessKeyId: 'AKIA9' } } }), {})
  t.match(g1, { caseId: 'gd-f_1', filters: { accessKeyIds: ['AKIA9'] }, lookup: { regions: ['eu-west-1'] }, archive: undefined, trigger: { source: 'aws.guardduty', id: 'ev-1' } })
  t.same(g1.window, { start: D('2026-11-28T09:00:00Z'), end: D('2026-11-28T12:00:00Z') })
  const g2 = toSliceRequest(gd({ createdAt: '2026-11-28T10:00:00Z', updatedAt: '2026-11-28T10:30:00Z', resource: { accessKeyDetails: { accessKeyId: 'GeneratedFindingAccessKeyId' }, s3BucketDetails: [{ name: 'b1' }, { name: '' }, {}] } }), env)
  t.same(g2.filters, { buckets: ['b1'] })
  t.equal(g2.caseId, 'gd-ev-1')
  const g3 = toSliceRequest(gd({ id: 'x' }, { time: '2026-11-28T10:00:00Z' }), env)
  t.same(g3.filters, {})
  t.throws(() => toSliceRequest(gd({ id: 'x' }), env), { name: 'ValidationError', field: 'detail.service' })
  t.throws(() => toSliceRequest(gd({}, { region: undefined }), {}), /set FORENSICS_TRAIL_ARCHIVE or deliver events with a region/)
  const regionFromEnv = toSliceRequest(gd({ createdAt: '2026-11-28T10:00:00Z', updatedAt: '2026-11-28T10:00:00Z' }, { region: undefined }), { AWS_REGION: 'ap-south-1' })
  t.same(regionFromEnv.lookup, { regions: ['ap-south-1'] })

  const api = (detail: Record<string, unknown>, extra: Record<string, unknown> = {}): unknown => ({ id: 'ev-2', 'detail-type': 'AWS API Call via CloudTrail', source: 'aws.s3', region: 'us-east-1', detail, ...extra })
  const c1 = toSliceRequest(api({ eventID: 'e1', eventTime: '2026-11-28T10:00:00Z', requestID: 'r1', userIdentity: { arn: 'arn:aws:sts::1:assumed-role/R/s', accessKeyId: 'ASIA1' } }), {})
  t.match(c1, { caseId: 'ct-e1', filters: { accessKeyIds: ['ASIA1'] }, actor: { principalArn: 'arn:aws:sts::1:assumed-role/R/s', requestId: 'r1' }, trigger: { source: 'aws.cloudtrail', id: 'ev-2' } })
  const c2 = toSliceRequest(api({ eventTime: '2026-11-28T10:00:00Z', userIdentity: { arn: 'arn:aws:sts::1:assumed-role/R/s', sessionContext: { sessionIssuer: { arn: 'arn:aws:iam::1:role/R' } } } }), {})
  t.same(c2.filters, { principals: ['arn:aws:iam::1:role/R'] })
  t.equal(c2.caseId, 'ct-ev-2')
  const c3 = toSliceRequest(api({ userIdentity: { arn: 'arn:aws:iam::1:user/u' } }, { time: '2026-11-28T10:00:00Z' }), {})
  t.same(c3.filters, { principals: ['arn:aws:iam::1:user/u'] })
  t.same(toSliceRequest(api({ eventTime: '2026-11-28T10:00:00Z' }), {}).filters, {})
  t.throws(() => toSliceRequest(api({}), {}), { name: 'ValidationError', field: 'detail.eventTime' })
  t.throws(() => toSliceRequest({ id: 'x', 'detail-type': 'Object Created', source: 'aws.s3', region: 'us-east-1', detail: {} }, {}), { name: 'ValidationError', field: 'detail-type', message: /does not handle EventBridge events of type 'Object Created' from aws.s3/ })
})

function sink(): { stream: Writable; text: () => string } {
  let s = ''
  return { stream: new Writable({ write: (c, _e, cb) => ((s += String(c)), cb()) }), text: () => s }
}

t.test('cli: filter flags', async (t) => {
  const args = (values: Record<string, string | boolean | string[] | undefined>): { values: typeof values; positionals: string[] } => ({ values: { start: '2026-11-28T00:00:00Z', end: '2026-11-28T01:00:00Z', ...values }, positionals: [] })
  const all = windowAndFilters(args({ principal: ['arn:aws:iam::1:user/u'], 'access-key': 'AKIA1', 'source-ip': ['10.0.0.0/8'], 'event-name': ['A', 'B'], 'event-source': ['s3.amazonaws.com'], bucket: ['b'], 'key-prefix': ['p/'], 'resource-arn': ['arn:aws:s3:::b'], error: 'AccessDenied,,NoSuchKey', 'write-only': true }))
  t.same(all.filters, { principals: ['arn:aws:iam::1:user/u'], accessKeyIds: ['AKIA1'], sourceIps: ['10.0.0.0/8'], eventNames: ['A', 'B'], eventSources: ['s3.amazonaws.com'], buckets: ['b'], keyPrefixes: ['p/'], resourceArns: ['arn:aws:s3:::b'], errorCode: ['AccessDenied', 'NoSuchKey'], readOnly: false })
  t.same(all.window, { start: D('2026-11-28T00:00:00Z'), end: D('2026-11-28T01:00:00Z') })
  t.same(windowAndFilters(args({ error: 'any', 'read-only': true, key: ['k'] })).filters, { errorCode: 'any', readOnly: true, keys: ['k'] })
  t.same(windowAndFilters(args({ error: 'none' })).filters, { errorCode: 'none' })
  t.throws(() => windowAndFilters(args({ start: undefined })), { name: 'UsageError', message: /--start and --end are required/ })
  t.throws(() => windowAndFilters(args({ key: ['k'], 'key-prefix': ['p'] })), /--key or --key-prefix, not both/)
  t.throws(() => windowAndFilters(args({ 'read-only': true, 'write-only': true })), /--read-only or --write-only, not both/)
  t.throws(() => windowAndFilters(args({ error: ',' })), { name: 'ValidationError', field: 'errorCode' })
})

t.test('cli: slice and capture cloudtrail usage paths', async (t) => {
  const dir = join(tmp, 'cli')
  mkdirSync(dir, { recursive: true })
  const e = (id: string): string => JSON.stringify({ eventID: id, eventTime: '2026-11-28T00:30:00Z', eventName: 'GetObject' })
  writeFileSync(join(dir, 'a.jsonl'), `${e('1')}\n${e('1')}\nbroken\n`)
  const base = ['--start', '2026-11-28T00:00:00Z', '--end', '2026-11-28T01:00:00Z']

  let out = sink()
  let err = sink()
  t.equal(await main(['slice', '--from-dir', dir, ...base], {}, out.stream, err.stream), 0)
  t.equal(out.text(), e('1') + '\n')
  t.match(err.text(), /warning: .*1 record\(s\) are not JSON objects[\s\S]*1 event\(s\) from 1 file\(s\), 1 duplicate\(s\) dropped/)

  out = sink()
  err = sink()
  t.equal(await main(['slice', '--from-dir', dir, ...base, '--json'], {}, out.stream, err.stream), 0)
  const doc = JSON.parse(out.text()) as { ok: boolean; slice: { counts: { events: number } }; events: unknown[] }
  t.equal(doc.slice.counts.events, 1)
  t.same(doc.events, [JSON.parse(e('1'))])

  out = sink()
  err = sink()
  t.equal(await main(['slice', ...base], {}, out.stream, err.stream), 2)
  t.match(err.text(), /--from-dir DIR is required/)

  const cap = async (argv: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; err: string }> => {
    const o = sink()
    const er = sink()
    const code = await main(['capture', 'cloudtrail', ...argv], env, o.stream, er.stream)
    return { code, err: er.text() }
  }
  t.match(await cap(base), { code: 2, err: /--case C is required/ })
  t.match(await cap(['--case', 'c', ...base]), { code: 2, err: /nothing to read: pass --archive/ })
  t.match(await cap(['--case', 'c', ...base, '--lookup']), { code: 2, err: /--lookup needs --region R or AWS_REGION/ })
  t.match(await cap(['--case', 'c', '--start', '2026-11-28T00:00:00Z']), { code: 2, err: /--start and --end are required/ })
})

// ---------------------------------------------------------------- more edges

t.test('filters: a sourceIPAddress equal to the filter text matches', async (t) => {
  // CloudTrail writes non-addresses there; the filter's own text still matches literally.
  const f = compileFilter(normalizeFilters({ sourceIps: ['10.0.0.0/8'] }), W)
  t.ok(f.matches({ sourceIPAddress: '10.0.0.0/8' }))
  t.notOk(f.matches({ sourceIPAddress: 'AWS Internal' }))
})

t.test('digest validation: logFiles that is not a list', async (t) => {
  const s3 = new FakeS3('trail')
  const d = putDigest(s3, { end: D('2026-11-28T01:00:00Z'), files: [] }, { tamper: (doc) => (doc.logFiles = null) })
  const r = await validateDigests(listedOf(s3, d.key), reader(s3), keySource(KEY.pub))
  t.equal(r.digests[0].logFiles, 0)
  t.equal(r.digests[0].status, 'signature-invalid', 'the document was changed after signing')
  t.equal(r.judge({ bucket: 'trail', key: 'x', time: D('2026-11-28T00:30:00Z'), uncompressedSha256: 'x' }).verdict, 'not-covered')
})

t.test('archive source: a standard and a backfill digest of the same time', async (t) => {
  const s3 = new FakeS3('trail')
  const end = D('2026-11-28T01:00:00Z')
  putDigest(s3, { end, files: [], backfill: true })
  putDigest(s3, { end, files: [] })
  const scope = { root: scopeRoot(LOC, SCOPE.account), ...SCOPE }
  const listed = await listDigestFiles(s3, 'trail', scope, { start: D('2026-11-28T00:00:00Z'), end: D('2026-11-29T00:00:00Z') })
  t.same(listed.map((d) => d.backfill), [true, false], 'ties are ordered by key')
})

t.test('scanLogFile: gzip input larger than the inflater buffer', async (t) => {
  const events = Array.from({ length: 3000 }, (_, i) => ({ eventID: createHash('sha256').update(String(i)).digest('hex'), eventTime: '2026-11-28T01:00:00Z', eventName: i % 2 ? 'GetObject' : 'PutObject' }))
  const plain = Buffer.from(JSON.stringify({ Records: events }))
  const gz = gzipSync(plain)
  t.ok(gz.length > 64 * 1024, `${gz.length} compressed bytes in one chunk`)
  const r = await scanLogFile(chunks(gz), compileFilter(normalizeFilters({ eventNames: ['GetObject'] }), W))
  t.equal(r.error, undefined)
  t.equal(r.records, 3000)
  t.equal(r.matched.length, 1500)
  t.equal(r.uncompressedSha256, createHash('sha256').update(plain).digest('hex'))
})

t.test('slice: dedupe ordering is total', async (t) => {
  const input = [
    { time: 1, id: 'b', json: '{"2"}' },
    { time: 1, id: 'a', json: '{"1"}' },
    { time: 1, id: 'b', json: '{"1"}' },
    { time: 1, id: 'a', json: '{"2"}' },
    { time: 0, id: 'z', json: '{}' },
  ]
  const fwd = dedupeAndSort(input)
  const rev = dedupeAndSort([...input].reverse())
  t.same(fwd.events, rev.events, 'independent of input order')
  t.same(fwd.events.map((e) => e.id + e.json), ['z{}', 'a{"1"}', 'b{"1"}'])
})

// A minimal in-memory evidence store for capture tests.
class Store {
  readonly bucket = 'evidence'
  readonly retention = { mode: 'COMPLIANCE' as const, days: 1 }
  readonly objects = new Map<string, { bytes: Buffer; versionId: string; metadata: Record<string, string> }>()
  async assertLocked(): Promise<void> {}
  async put(input: { key: string; body: Buffer | NodeJS.ReadableStream; metadata?: Record<string, string> }): Promise<{ key: string; versionId: string; sha256: string; size: number }> {
    if (this.objects.has(input.key)) {
      const { EvidenceExistsError } = await import('../forensics/evidence-store.js')
      throw new EvidenceExistsError(this.bucket, input.key)
    }
    let bytes: Buffer
    if (Buffer.isBuffer(input.body)) bytes = input.body
    else {
      const parts: Buffer[] = []
      for await (const c of input.body as AsyncIterable<Buffer>) parts.push(Buffer.from(c))
      bytes = Buffer.concat(parts)
    }
    const versionId = `v${this.objects.size + 1}`
    this.objects.set(input.key, { bytes, versionId, metadata: input.metadata ?? {} })
    return { key: input.key, versionId, sha256: createHash('sha256').update(bytes).digest('hex'), size: bytes.length }
  }
  async getBytes(key: string): Promise<{ bytes: Buffer; versionId: string }> {
    const o = this.objects.get(key)
    if (!o) throw new Error(`no such key ${key}`)
    return { bytes: o.bytes, versionId: o.versionId }
  }
  async get(key: string): Promise<{ body: NodeJS.ReadableStream; versionId: string; size: number }> {
    const { Readable } = await import('node:stream')
    const o = await this.getBytes(key)
    return { body: Readable.from([o.bytes]), versionId: o.versionId, size: o.bytes.length }
  }
  async head(key: string): Promise<Record<string, unknown> | undefined> {
    const o = this.objects.get(key)
    if (!o) return undefined
    return { key, versionId: o.versionId, size: o.bytes.length, checksumSHA256: createHash('sha256').update(o.bytes).digest('base64'), retentionMode: 'COMPLIANCE', retainUntil: new Date(Date.now() + 86_400_000), metadata: o.metadata }
  }
  async *list(prefix: string): AsyncIterable<{ key: string; size: number }> {
    for (const key of [...this.objects.keys()].filter((k) => k.startsWith(prefix)).sort()) yield { key, size: this.objects.get(key)!.bytes.length }
  }
  async tryDelete(): Promise<string | undefined> {
    return 'AccessDenied'
  }
}

t.test('capture slice: copies, changed files, failed copies and repeats', async (t) => {
  const { captureCloudTrailSlice } = await import('../forensics/cloudtrail/capture-slice.js')
  const { LocalSigner } = await import('../forensics/signer.js')
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  const signer = new LocalSigner(privateKey.export({ format: 'pem', type: 'pkcs8' }).toString())
  const s3 = new FakeS3('trail')
  const h = (n: number): number => D('2026-11-28T00:00:00Z') + n * 3600_000
  const ev = (id: string): Record<string, unknown> => ({ eventID: id, eventTime: new Date(h(1) - 600_000).toISOString(), eventName: 'GetObject', userIdentity: { arn: 'arn:aws:iam::111111111111:user/u' } })
  const stable = putLog(s3, h(1) + 300_000, [ev('a')], 'S1')
  const changing = putLog(s3, h(1) + 600_000, [ev('b')], 'S2')
  const gone = putLog(s3, h(1) + 900_000, [ev('c')], 'S3')
  putLog(s3, h(1) + 1200_000, [{ ...ev('n'), eventName: 'PutObject' }], 'S4')
  putDigest(s3, { end: h(2), files: [stable, changing, gone] })
  // The pinned re-read (with a versionId) sees other bytes for one file and fails for another.
  const send = s3.send.bind(s3)
  s3.send = async (cmd: unknown): Promise<unknown> => {
    if (cmd instanceof GetObjectCommand && cmd.input.VersionId) {
      if (cmd.input.Key === changing.key) {
        const r = (await send(cmd)) as Record<string, unknown>
        const other = gzipSync('{"Records":[]}')
        return { ...r, Body: (async function* () { yield new Uint8Array(other) })() }
      }
      if (cmd.input.Key === gone.key) throw named('NoSuchVersion', 'The specified version does not exist.')
    }
    return send(cmd)
  }
  const store = new Store()
  const req = { caseId: 'case-ct', window: { start: h(0), end: h(2) }, filters: { eventNames: ['GetObject'] }, archive: { location: LOC } }
  const deps = { store: store as unknown as import('../forensics/evidence-store.js').EvidenceStore, signer, now: () => new Date(D('2026-11-28T12:00:00Z')) }
  const r = await captureCloudTrailSlice(deps, { s3, publicKeys: keySource(KEY.pub), workers: 0 }, req)
  t.equal(r.created, true)
  t.equal(r.events, 3)
  t.equal(r.files, 4)
  t.same(r.verdicts, { 'not-covered': 1, valid: 3 })
  t.same(r.manifest.errors.map((e) => e.code).sort(), ['ChangedDuringCapture', 'StorageError'])
  t.match(r.manifest.errors.find((e) => e.code === 'ChangedDuringCapture')?.message, /changed during the capture/)
  const keys = [...store.objects.keys()].map((k) => k.replace(/^.*\/captures\/[^/]+\//, ''))
  t.ok(keys.some((k) => k.startsWith('artifacts/logs/trail/') || k.includes('logs/trail/')), keys.join('\n'))
  t.ok(keys.some((k) => k.endsWith('.metadata.json')))
  t.ok(keys.some((k) => k.endsWith('public-keys.json')))
  t.notOk(keys.some((k) => k.includes('_S4.json.gz')), 'files without matches are not copied')

  // The same request again is the same capture: the headline comes from the manifest.
  const again = await captureCloudTrailSlice(deps, { s3, publicKeys: keySource(KEY.pub), workers: 0 }, req)
  t.equal(again.created, false)
  t.equal(again.events, 3)
  t.equal(again.files, 4)
  t.same(again.verdicts, r.verdicts)
})

/** A fake CloudTrail answering ListPublicKeys with `keys` and LookupEvents with `events`. */
function trailApi(keys: TrailPublicKey[], events: Array<Record<string, unknown>> = []): { send: (c: unknown) => Promise<unknown>; names: string[] } {
  const names: string[] = []
  return {
    names,
    send: async (c: unknown) => {
      if (c instanceof ListPublicKeysCommand) {
        names.push('ListPublicKeys')
        return { PublicKeyList: keys.map((k) => ({ Fingerprint: k.fingerprint, Value: new Uint8Array(k.value) })) }
      }
      if (c instanceof LookupEventsCommand) {
        names.push('LookupEvents')
        return { Events: events.map((e) => ({ EventId: String(e.eventID), CloudTrailEvent: JSON.stringify(e) })) }
      }
      throw new Error('unexpected command')
    },
  }
}

t.test('slice: public keys through the CloudTrail client factory', async (t) => {
  const s3 = new FakeS3('trail')
  const h = (n: number): number => D('2026-11-28T00:00:00Z') + n * 3600_000
  const log = putLog(s3, h(1) + 300_000, [{ eventID: 'a', eventTime: new Date(h(1) - 60_000).toISOString() }], 'K1')
  putDigest(s3, { end: h(2), files: [log] })
  const api = trailApi([KEY.pub])
  const o = await runSlice({ window: { start: h(0), end: h(2) }, filters: {}, archive: { location: LOC } }, { s3, cloudTrailFor: () => api, workers: 0 })
  t.same(o.files.map((f) => f.verdict), ['valid'])
  t.same(api.names, ['ListPublicKeys'])
  t.same(o.publicKeys.map((k) => k.fingerprint), ['fp-1'])
})

t.test('scanLogFile: a structural error early in a multi-chunk gzip file', async (t) => {
  const padding = Array.from({ length: 2000 }, (_, i) => createHash('sha256').update(String(i)).digest('hex')).join('')
  const gz = gzipSync(`{"Records":[{"eventID":"a"} ! {"pad":"${padding}"}]}`)
  const parts = Array.from({ length: Math.ceil(gz.length / 1024) }, (_, i) => gz.subarray(i * 1024, i * 1024 + 1024))
  const r = await scanLogFile(chunks(...parts), compileFilter({}, W))
  t.match(r.error, /unexpected byte '!'/)
  t.equal(r.size, gz.length, 'the remaining stored bytes are still hashed')
  t.equal(r.sha256, createHash('sha256').update(gz).digest('hex'))
})

t.test('collector handler and lookup-only capture', async (t) => {
  const { createHandler } = await import('../collectors/cloudtrail-slice.js')
  const { LocalSigner } = await import('../forensics/signer.js')
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  const signer = new LocalSigner(privateKey.export({ format: 'pem', type: 'pkcs8' }).toString())
  const store = new Store()
  const api = trailApi([], [{ eventID: 'l1', eventTime: '2026-11-28T00:30:00Z', eventName: 'GetObject' }, { eventID: 'l2', eventTime: '2026-11-28T00:40:00Z', eventName: 'PutObject' }])
  const handler = createHandler({
    capture: async () => ({ store: store as unknown as import('../forensics/evidence-store.js').EvidenceStore, signer }),
    slice: { cloudTrailFor: () => api, lookupOptions: { sleep: async () => undefined } },
    env: {},
  })
  const r = await handler({ caseId: 'case-l', start: '2026-11-28T00:00:00Z', end: '2026-11-28T01:00:00Z', lookupRegions: ['us-east-1'], filters: { eventNames: ['GetObject'] }, triggerId: 'trig-1' })
  t.match(r, { caseId: 'case-l', created: true, status: 'complete', events: 1, files: 0, verdicts: {} })
  t.match(r.manifestKey, /^cases\/case-l\//)
  t.same(api.names, ['LookupEvents'])
  const manifest = JSON.parse(store.objects.get(r.manifestKey)!.bytes.toString()) as { trigger: unknown; target: { archive: unknown; lookupRegions: unknown } }
  t.same(manifest.trigger, { source: 'invoke', id: 'trig-1' })
  t.equal(manifest.target.archive, null)
  t.same(manifest.target.lookupRegions, ['us-east-1'])
  await t.rejects(handler({ caseId: 'x' }), ValidationError)
})

t.test('cli: capture cloudtrail reads its sources from the environment', async (t) => {
  const base = ['capture', 'cloudtrail', '--case', 'c', '--start', '2026-11-28T00:00:00Z', '--end', '2026-11-28T01:00:00Z', '--json']
  const run = async (argv: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; out: string }> => {
    const o = sink()
    const code = await main([...base, ...argv], env, o.stream, sink().stream)
    return { code, out: o.text() }
  }
  // Both get past the source checks and stop at the missing evidence bucket.
  const viaRegion = await run(['--lookup'], { AWS_DEFAULT_REGION: 'us-east-1' })
  const viaArchive = await run([], { FORENSICS_TRAIL_ARCHIVE: 's3://trail/ct' })
  for (const r of [viaRegion, viaArchive]) {
    t.equal(r.code, 2, r.out)
    t.notMatch(r.out, /nothing to read|--lookup needs/)
    t.match(r.out, /evidence|bucket/i)
  }
})

t.test('cli: slice without duplicates', async (t) => {
  const dir = join(tmp, 'cli-nodup')
  mkdirSync(dir, { recursive: true })
  writeFileSync(join(dir, 'a.jsonl'), JSON.stringify({ eventID: '1', eventTime: '2026-11-28T00:30:00Z' }) + '\n')
  const out = sink()
  const err = sink()
  t.equal(await main(['slice', '--from-dir', dir, '--start', '2026-11-28T00:00:00Z', '--end', '2026-11-28T01:00:00Z'], {}, out.stream, err.stream), 0)
  t.equal(err.text(), '1 event(s) from 1 file(s)\n')
})

t.test('scanLogFile: a record closed by a mismatched bracket', async (t) => {
  // The splitter counts brackets, not their kinds: `{"a":[1}]` closes at `]`.
  const r = await scanLogFile(chunks('{"Records":[{"a":[1}],{"eventID":"b","eventTime":"2026-11-28T01:00:00Z"}]}'), compileFilter({}, W))
  t.equal(r.badRecords, 1)
  t.same(r.problems, ['record 1: not a JSON object'])
  t.same(r.matched.map((m) => m.id), ['b'])
})

t.test('capture slice: recorded slice errors and a committed manifest without a summary', async (t) => {
  const { captureCloudTrailSlice } = await import('../forensics/cloudtrail/capture-slice.js')
  const { LocalSigner } = await import('../forensics/signer.js')
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  const signer = new LocalSigner(privateKey.export({ format: 'pem', type: 'pkcs8' }).toString())
  const store = new Store()
  const deps = { store: store as unknown as import('../forensics/evidence-store.js').EvidenceStore, signer }
  const ct = { send: async (): Promise<unknown> => ({ Events: [{ EventId: 'bad', CloudTrailEvent: '{' }, { EventId: 'ok', CloudTrailEvent: JSON.stringify({ eventID: 'ok', eventTime: '2026-11-28T00:10:00Z' }) }] }) }
  const req = { caseId: 'case-e', window: makeWindow('2026-11-28T00:00:00Z', '2026-11-28T01:00:00Z'), filters: {}, lookup: { regions: ['us-east-1'] } }
  const slice = { cloudTrailFor: () => ct, lookupOptions: { sleep: async () => undefined } }
  const r = await captureCloudTrailSlice(deps, slice, req)
  t.equal(r.manifest.status, 'partial')
  t.match(r.manifest.errors, [{ code: 'BadLookupEvent', message: /event bad has no parseable CloudTrailEvent/ }])
  t.equal(r.events, 1)
  // A manifest committed without a summary (another collector version): zero headline.
  const stored = store.objects.get(r.manifestKey)!
  const m = JSON.parse(stored.bytes.toString()) as Record<string, unknown>
  delete m.summary
  stored.bytes = Buffer.from(JSON.stringify(m))
  const again = await captureCloudTrailSlice(deps, slice, req)
  t.equal(again.created, false)
  t.same({ events: again.events, files: again.files, verdicts: again.verdicts }, { events: 0, files: 0, verdicts: {} })
})

t.test('capture slice: a digest from an unversioned bucket', async (t) => {
  const { captureCloudTrailSlice } = await import('../forensics/cloudtrail/capture-slice.js')
  const { LocalSigner } = await import('../forensics/signer.js')
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  const signer = new LocalSigner(privateKey.export({ format: 'pem', type: 'pkcs8' }).toString())
  const s3 = new FakeS3('trail')
  const h = (n: number): number => D('2026-11-28T00:00:00Z') + n * 3600_000
  const log = putLog(s3, h(1) + 300_000, [{ eventID: 'a', eventTime: new Date(h(1) - 60_000).toISOString() }], 'U1')
  const d = putDigest(s3, { end: h(2), files: [log] })
  s3.objects.get(d.key)!.versionId = undefined
  const store = new Store()
  const r = await captureCloudTrailSlice({ store: store as unknown as import('../forensics/evidence-store.js').EvidenceStore, signer }, { s3, publicKeys: keySource(KEY.pub), workers: 0 }, { caseId: 'case-u', window: { start: h(0), end: h(2) }, filters: {}, archive: { location: LOC } })
  t.same(r.verdicts, { valid: 1 })
  const side = [...store.objects.entries()].find(([k]) => k.endsWith('.metadata.json'))
  t.ok(side, 'the digest has a metadata sidecar')
  t.match(JSON.parse(side![1].bytes.toString()), { key: d.key, versionId: null, metadata: { signature: d.signature } })
})
