/**
 * Running a slice (forensics/cloudtrail/slice.ts): an archive on the fake trail bucket scanned
 * in-process, LookupEvents, local folders, public keys, and the ordering and dedupe of events.
 * Slices of real archives on the emulator are in cloudtrail.test.ts.
 */
import t from 'tap'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'
import { ValidationError } from '../forensics/errors.js'
import { makeWindow } from '../forensics/cloudtrail/filters.js'
import { logFileKey } from '../forensics/cloudtrail/archive-layout.js'
import { dedupeAndSort, listLocalLogFiles, runSlice, sliceDirectory } from '../forensics/cloudtrail/slice.js'
import { awsError } from './fixtures/fake-client.js'
import { KEY, LOC, SCOPE, failing, fakeCloudTrail, fakeTrailBucket, keySource, putDigest, putLog, trailApi } from './fixtures/cloudtrail/fake-trail.js'

const D = (s: string): number => Date.parse(s)
const W = makeWindow('2026-11-28T00:00:00Z', '2026-11-29T00:00:00Z')

t.test('duplicate events are dropped and ties sorted by id', async (t) => {
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

t.test('the order of deduplicated events does not depend on the input order', async (t) => {
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

t.test('an archive slice gives each file a verdict and records damaged files, tampered files and a broken chain', async (t) => {
  const s3 = fakeTrailBucket('trail')
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
  s3.intercept = failing('get', awsError('AccessDenied', 403, 'Access Denied'), (input) => input.Key === good.key)
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

t.test('a local folder slice reads .json, .jsonl.gz, .ndjson and .gz files and skips digests', async (t) => {
  const dir = join(t.testdir({}), 'logs')
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
  await t.rejects(sliceDirectory(join(dir, 'nope'), W, {}), { name: 'ValidationError', field: 'from-dir', message: /nope does not exist or cannot be read \(ENOENT\)/ })
  await t.rejects(sliceDirectory(join(dir, 'a.json'), W, {}), { name: 'ValidationError', message: /is not a folder/ })
  await t.rejects(sliceDirectory(t.testdir({ 'notes.txt': 'x' }), W, {}), { name: 'ValidationError', message: /holds no log files/ })
})

t.test('without a key source, public keys come through the CloudTrail client factory', async (t) => {
  const s3 = fakeTrailBucket('trail')
  const h = (n: number): number => D('2026-11-28T00:00:00Z') + n * 3600_000
  const log = putLog(s3, h(1) + 300_000, [{ eventID: 'a', eventTime: new Date(h(1) - 60_000).toISOString() }], 'K1')
  putDigest(s3, { end: h(2), files: [log] })
  const api = trailApi([KEY.pub])
  const o = await runSlice({ window: { start: h(0), end: h(2) }, filters: {}, archive: { location: LOC } }, { s3, cloudTrailFor: () => api, workers: 0 })
  t.same(o.files.map((f) => f.verdict), ['valid'])
  t.same(api.calls.map((c) => c.name), ['ListPublicKeysCommand'])
  t.same(o.publicKeys.map((k) => k.fingerprint), ['fp-1'])
})
