/**
 * Reading the CloudTrail archive bucket (forensics/cloudtrail/archive-source.ts) on the fake
 * trail bucket: scope discovery, paged listings, pinned reads, and S3 errors that name the fix.
 */
import t from 'tap'
import { StorageError } from '../forensics/errors.js'
import { logFileKey, scopeRoot } from '../forensics/cloudtrail/archive-layout.js'
import { discoverScopes, getObject, listDigestFiles, listLogFiles, openObject } from '../forensics/cloudtrail/archive-source.js'
import { awsError } from './fixtures/fake-client.js'
import { LOC, SCOPE, failing, fakeTrailBucket, putDigest, putLog } from './fixtures/cloudtrail/fake-trail.js'

const D = (s: string): number => Date.parse(s)

t.test('scopes are discovered, listings follow pages within [start, end), reads are pinned, S3 errors name the permission to grant', async (t) => {
  const s3 = fakeTrailBucket('trail')
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

  await t.rejects(discoverScopes(s3, { bucket: 'nope', prefix: '' }), { name: 'ValidationError', message: /list s3:\/\/nope\/AWSLogs\/ failed: NoSuchBucket: .*check the --archive bucket name/ })
  s3.intercept = failing('list', awsError('AccessDenied', 403, 'Access Denied'))
  await t.rejects(listLogFiles(s3, 'trail', scope, range), { message: /grant s3:ListBucket on it/ })
  s3.intercept = failing('get', awsError('AccessDenied', 403, 'Access Denied'))
  await t.rejects(getObject(s3, 'trail', logs[0].key), { message: /read s3:\/\/trail\/.* failed: AccessDenied: Access Denied; grant s3:GetObject/ })
  await t.rejects(openObject(s3, 'trail', logs[0].key), StorageError)
  s3.intercept = () => Promise.reject(awsError('SlowDown', 503, 'Please reduce your request rate'))
  await t.rejects(getObject(s3, 'trail', logs[0].key), { message: /SlowDown: Please reduce your request rate$/ })
  s3.intercept = (_k, _i, next) => next()

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

t.test('a standard and a backfill digest of the same time are listed in key order', async (t) => {
  const s3 = fakeTrailBucket('trail')
  const end = D('2026-11-28T01:00:00Z')
  putDigest(s3, { end, files: [], backfill: true })
  putDigest(s3, { end, files: [] })
  const scope = { root: scopeRoot(LOC, SCOPE.account), ...SCOPE }
  const listed = await listDigestFiles(s3, 'trail', scope, { start: D('2026-11-28T00:00:00Z'), end: D('2026-11-29T00:00:00Z') })
  t.same(listed.map((d) => d.backfill), [true, false], 'ties are ordered by key')
})
