/**
 * Copying one version into evidence (forensics/object-versions/copy-version.ts): archived,
 * refused, redelivered and short copies, and reusing an earlier copy.
 */
import t from 'tap'
import { createHash } from 'node:crypto'
import { Readable } from 'node:stream'
import type { S3Client } from '@aws-sdk/client-s3'
import { copyVersion, existingArtifact, versionArtifactPath } from '../forensics/object-versions/copy-version.js'
import { EvidenceExistsError } from '../forensics/evidence-store.js'
import { artifactKey } from '../forensics/keys.js'
import { MemoryStore } from './fixtures/memory-store.js'
import { awsError, fakeClient } from './fixtures/fake-client.js'
import { overrideStore } from './fixtures/evidence.js'
import { fakeVersionsS3, versionEntry } from './fixtures/object-versions-source.js'

const CAP1 = 'object-versions-00000000000000000001'
const CAP2 = 'object-versions-00000000000000000002'
const CAP3 = 'object-versions-00000000000000000003'
const sha = (b: string | Buffer): string => createHash('sha256').update(b).digest('hex')

t.test('copyVersion: markers and archived versions are not read, refusals and short copies fail, a redelivery reuses the copy', async (t) => {
  const store = new MemoryStore()
  const s3 = fakeVersionsS3([], {
    'k@v1': 'hello',
    'k@cold': awsError('InvalidObjectState', 403),
    'k@cold2': awsError('InvalidObjectState', 403),
    'k@denied': awsError('AccessDenied', 403),
    'k@short': 'abc',
  })
  const src = { s3, bucket: 'src' }
  t.same(await copyVersion(src, store, 'case-1', CAP1, { ...versionEntry('k', 'dm', ''), kind: 'delete-marker' }), { status: 'delete-marker' })
  t.same(await copyVersion(src, store, 'case-1', CAP1, versionEntry('k', 'g', '', { storageClass: 'DEEP_ARCHIVE' })), { status: 'restore-required', storageClass: 'DEEP_ARCHIVE' })
  t.equal(s3.calls.length, 0, 'neither a delete marker nor an archived version is read')
  // S3 says the object is archived although the listing did not (an intelligent-tiering archive tier)
  t.same(await copyVersion(src, store, 'case-1', CAP1, versionEntry('k', 'cold', '', { storageClass: 'INTELLIGENT_TIERING' })), { status: 'restore-required', storageClass: 'INTELLIGENT_TIERING' })
  t.same(await copyVersion(src, store, 'case-1', CAP1, versionEntry('k', 'cold2', '', { storageClass: undefined })), { status: 'restore-required', storageClass: 'UNKNOWN' })
  t.match(await copyVersion(src, store, 'case-1', CAP1, versionEntry('k', 'denied', '')), { status: 'failed', code: 'AccessDenied', message: /^GetObject s3:\/\/src\/k version denied: / })

  const stored = await copyVersion(src, store, 'case-1', CAP1, versionEntry('k', 'v1', 'hello', { size: undefined }))
  t.same(stored, { status: 'stored', artifact: { path: versionArtifactPath('k', 'v1'), versionId: 'v1', sha256: sha('hello'), size: 5 } })
  // a redelivered page: the artifact exists; its SHA-256 comes from the stored checksum
  const again = await copyVersion(src, store, 'case-1', CAP1, versionEntry('k', 'v1', 'hello'))
  t.same(again, stored, 'the earlier copy is reused')
  t.equal(store.objects.size, 1)

  // the listing said 10 bytes, S3 sent 3: the copy is recorded as failed
  const s3NoLength = fakeClient<S3Client>(() => ({ Body: Readable.from([Buffer.from('abc')]) }))
  t.match(await copyVersion({ s3: s3NoLength, bucket: 'src' }, store, 'case-1', CAP1, versionEntry('k', 'short', 'x'.repeat(10))), { status: 'failed', code: 'SizeMismatch', message: /copied 3 bytes, the source has 10/ })
  t.match(await copyVersion({ s3: s3NoLength, bucket: 'src' }, store, 'case-1', CAP2, versionEntry('k', 'nosize', '', { size: undefined })), { status: 'stored', artifact: { size: 3 } }, 'without any expected size the copy stands')

  // failures of the evidence store itself are thrown (and the source stream is released)
  const body = Readable.from([Buffer.from('zz')])
  const s3Tracked = fakeClient<S3Client>(() => ({ Body: body, ContentLength: 2 }))
  const broken = overrideStore(store, { put: async () => Promise.reject(new Error('disk on fire')) })
  await t.rejects(copyVersion({ s3: s3Tracked, bucket: 'src' }, broken, 'case-1', CAP3, versionEntry('k', 'z', 'zz')), { message: 'disk on fire' })
  t.ok(body.destroyed, 'the GetObject body is destroyed')
})

t.test('existingArtifact: from the checksum, by hashing again, or a lost key', async (t) => {
  const store = new MemoryStore()
  const key = artifactKey('case-1', CAP1, 'versions/a')
  await store.put({ key, body: Buffer.from('payload') })
  t.same(await existingArtifact(store, key), { versionId: 'v1', sha256: sha('payload'), size: 7 })
  // a multipart composite checksum cannot be used: the stored bytes are hashed again
  const composite = overrideStore(store, { head: async (k: string) => ({ ...(await store.head(k))!, checksumSHA256: 'abc-2' }) })
  t.same(await existingArtifact(composite, key), { versionId: 'v1', sha256: sha('payload'), size: 7 })
  const noChecksum = overrideStore(store, { head: async (k: string) => ({ ...(await store.head(k))!, checksumSHA256: undefined }) })
  t.same(await existingArtifact(noChecksum, key), { versionId: 'v1', sha256: sha('payload'), size: 7 })
  await t.rejects(existingArtifact(store, artifactKey('case-1', CAP1, 'versions/gone')), EvidenceExistsError)
})
