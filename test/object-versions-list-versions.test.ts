/**
 * Listing a bucket's versions (forensics/object-versions/list-versions.ts) from stand-in
 * ListObjectVersions pages: mapping, markers, selection by key and time, ordering.
 */
import t from 'tap'
import { compareEntries, listVersionEntries } from '../forensics/object-versions/list-versions.js'
import { T1, T2, T3, fakeVersionsS3 } from './fixtures/object-versions-source.js'

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = []
  for await (const x of it) out.push(x)
  return out
}

t.test('listVersionEntries maps pages, follows markers and fills absent fields', async (t) => {
  const s3 = fakeVersionsS3([
    {
      IsTruncated: true,
      NextKeyMarker: 'b',
      NextVersionIdMarker: 'vb',
      Versions: [
        { Key: 'a', VersionId: 'v2', IsLatest: true, LastModified: T2, Size: 3, ETag: '"e"', StorageClass: 'GLACIER', Owner: { ID: 'o', DisplayName: 'd' }, ChecksumAlgorithm: ['SHA256'], ChecksumType: 'FULL_OBJECT' },
        { Key: 'a', VersionId: 'v1', LastModified: T1 },
        { VersionId: 'no-key' },
      ],
      DeleteMarkers: [{ Key: 'a', VersionId: 'd3', IsLatest: false, LastModified: T3, Owner: { ID: 'o' } }, { VersionId: 'no-key' }],
    },
    // an unversioned bucket's object: no version id, no time, no size
    { IsTruncated: false, Versions: [{ Key: 'b' }], DeleteMarkers: [{ Key: 'c' }] },
  ])
  const entries = await collect(listVersionEntries(s3, { bucket: 'bkt', prefix: 'p/' }, 2))
  t.same(
    entries.map((e) => `${e.kind}:${e.key}:${e.versionId}`),
    ['delete-marker:a:d3', 'version:a:v2', 'version:a:v1', 'version:b:null', 'delete-marker:c:null'],
    'sorted by key, newest first; entries without a key are skipped',
  )
  t.same(entries[0], { kind: 'delete-marker', key: 'a', versionId: 'd3', isLatest: false, lastModified: T3.toISOString(), owner: { id: 'o', displayName: undefined } })
  t.match(entries[1], { isLatest: true, size: 3, etag: '"e"', storageClass: 'GLACIER', owner: { id: 'o', displayName: 'd' }, checksumAlgorithm: ['SHA256'], checksumType: 'FULL_OBJECT' })
  t.match(entries[2], { isLatest: false, size: 0, storageClass: 'STANDARD', owner: undefined })
  t.same(entries[3], { kind: 'version', key: 'b', versionId: 'null', isLatest: false, lastModified: '', size: 0, etag: undefined, storageClass: 'STANDARD', owner: undefined, checksumAlgorithm: undefined, checksumType: undefined })
  t.same(entries[4].owner, undefined)
  t.match(s3.calls, [
    { input: { Bucket: 'bkt', Prefix: 'p/', MaxKeys: 2, KeyMarker: undefined, VersionIdMarker: undefined } },
    { input: { KeyMarker: 'b', VersionIdMarker: 'vb' } },
  ])

  // a page without Versions / DeleteMarkers, and a key-only marker, are followed too
  const s3b = fakeVersionsS3([{ IsTruncated: true, NextKeyMarker: 'k' }, { IsTruncated: false }])
  t.same(await collect(listVersionEntries(s3b, { bucket: 'bkt' })), [])
  t.match(s3b.calls, [{ input: { Prefix: '' } }, { input: { KeyMarker: 'k', VersionIdMarker: undefined } }])
})

t.test('a truncated page without a next marker is an error, not a silent short listing', async (t) => {
  const s3 = fakeVersionsS3([{ IsTruncated: true, Versions: [{ Key: 'a', VersionId: 'v', LastModified: T1 }] }])
  await t.rejects(collect(listVersionEntries(s3, { bucket: 'bkt', prefix: '' })), { name: 'StorageError', message: /truncated without a next marker/ })
})

t.test('exact keys and the time window select entries', async (t) => {
  const page = {
    Versions: [
      { Key: 'k', VersionId: 'v1', LastModified: T1 },
      { Key: 'k', VersionId: 'v2', LastModified: T2 },
      { Key: 'k', VersionId: 'v3', LastModified: T3 },
      { Key: 'k-sibling', VersionId: 'x', LastModified: T2 },
      { Key: 'k', VersionId: 'no-time' },
    ],
    DeleteMarkers: [
      { Key: 'k', VersionId: 'd2', LastModified: T2 },
      { Key: 'k-sibling', VersionId: 'dx', LastModified: T2 },
      { Key: 'k', VersionId: 'd3', LastModified: T3 },
    ],
  }
  const s3 = fakeVersionsS3(() => page)
  const all = await collect(listVersionEntries(s3, { bucket: 'bkt', keys: ['k'] }))
  t.same(all.map((e) => e.versionId), ['d3', 'v3', 'd2', 'v2', 'v1', 'no-time'], 'only the exact key; an entry without a time sorts last')
  const windowed = await collect(listVersionEntries(s3, { bucket: 'bkt', keys: ['k'], since: T2, until: T3 }))
  t.same(windowed.map((e) => e.versionId), ['d2', 'v2'], '[since, until): T3 and T1 and the timeless entry are out')
  const sinceOnly = await collect(listVersionEntries(s3, { bucket: 'bkt', prefix: 'k', since: T3 }))
  t.same(sinceOnly.map((e) => e.versionId), ['d3', 'v3'])
  t.match(s3.calls.at(-1), { input: { Prefix: 'k' } })
})

t.test('compareEntries: key, then newest first, then version id', async (t) => {
  const e = (key: string, lastModified: string, versionId: string) => ({ key, lastModified, versionId })
  t.equal(compareEntries(e('a', '1', 'x'), e('b', '1', 'x')), -1)
  t.equal(compareEntries(e('b', '1', 'x'), e('a', '1', 'x')), 1)
  t.equal(compareEntries(e('a', '2', 'x'), e('a', '1', 'x')), -1)
  t.equal(compareEntries(e('a', '1', 'x'), e('a', '2', 'x')), 1)
  t.equal(compareEntries(e('a', '1', 'x'), e('a', '1', 'y')), -1)
  t.equal(compareEntries(e('a', '1', 'y'), e('a', '1', 'x')), 1)
  t.equal(compareEntries(e('a', '1', 'x'), e('a', '1', 'x')), 0)
})
