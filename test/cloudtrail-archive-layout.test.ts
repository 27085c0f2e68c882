/**
 * The CloudTrail archive's key layout (forensics/cloudtrail/archive-layout.ts): archive URLs,
 * log and digest keys both ways, delivery ranges and day folders.
 */
import t from 'tap'
import { ValidationError } from '../forensics/errors.js'
import { makeWindow } from '../forensics/cloudtrail/filters.js'
import { compactUtc, dayFolders, deliveryRange, digestFileKey, logFileKey, parseArchiveUrl, parseDigestKey, parseLogFileKey, scopeRoot } from '../forensics/cloudtrail/archive-layout.js'

const D = (s: string): number => Date.parse(s)
const W = makeWindow('2026-11-28T00:00:00Z', '2026-11-29T00:00:00Z')

t.test('archive URLs, log and digest keys round-trip; impossible times are rejected; delivery ranges and day folders', async (t) => {
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
