/**
 * Copying one version into evidence (forensics/object-versions/copy-version.ts): archived,
 * refused, redelivered and short copies, and reusing an earlier copy.
 */
import t from 'tap'
import { createHash } from 'node:crypto'
import { Readable } from 'node:stream'
import { S3Client, ListObjectVersionsCommand } from '@aws-sdk/client-s3'
import { copyVersion, existingArtifact, versionArtifactPath } from '../forensics/object-versions/copy-version.js'
import { EvidenceExistsError } from '../forensics/evidence-store.js'
import { artifactKey } from '../forensics/keys.js'
import { MemoryStore } from './fixtures/memory-store.js'
import { awsError, fakeClient } from './fixtures/fake-client.js'
import { overrideStore } from './fixtures/evidence.js'
import { fakeVersionsS3, versionEntry } from './fixtures/object-versions-source.js'
import { useEmulator } from './fixtures/emulator.js'
import { createLockedBucket } from './fixtures/evidence.js'
import { createVersionedBucket, putVersions, signingKeyFile } from './fixtures/collectors.js'
import { S3EvidenceStore } from '../forensics/s3-evidence-store.js'
import { captureObjectVersions } from '../forensics/object-versions/capture-object-versions.js'
import { INVENTORY_PATH, type InventoryEntry } from '../forensics/object-versions/inventory.js'
import { deriveCaptureId } from '../forensics/keys.js'

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

t.test('on the emulator: a version of known size is one PutObject; a source at odds with its Content-Length is refused, nothing stored', async (t) => {
  const emulator = await useEmulator(t)
  const MiB = 1024 * 1024
  const plain = new S3Client(emulator.clientConfig())
  t.teardown(() => plain.destroy())
  await createLockedBucket(plain, 'evidence')
  await createVersionedBucket(plain, 'src')
  // the store's requests, by command
  const sent: string[] = []
  const client = new S3Client(emulator.clientConfig())
  client.middlewareStack.add((next, context) => (args) => (sent.push(context.commandName ?? '?'), next(args)), { step: 'initialize', name: 'countRequests' })
  let changedReads = 0
  let goneReads = 0
  let flakyReads = 0
  let other = ''
  // the source's answers: GetObject of a key under short/ (long/) states one byte more (less) than it sends
  const source = new S3Client(emulator.clientConfig())
  source.middlewareStack.add(
    (next, context) => async (args) => {
      const input = args.input as { Key?: string; VersionId?: string }
      // the second read of changed/big gets the other version's bytes
      if (context.commandName === 'GetObjectCommand' && input.Key === 'changed/big' && changedReads++ === 1) input.VersionId = other
      // the second read of gone/big asks for a version that does not exist (a refused read)
      if (context.commandName === 'GetObjectCommand' && input.Key === 'gone/big' && goneReads++ === 1) input.VersionId = 'no-such-version'
      // the second read of flaky/big is throttled once (the store repeats it)
      if (context.commandName === 'GetObjectCommand' && input.Key === 'flaky/big' && flakyReads++ === 1) throw Object.assign(new Error('Please reduce your request rate.'), { name: 'SlowDown', $metadata: { httpStatusCode: 503 } })
      const out = await next(args)
      const key = input.Key ?? ''
      const o = out.output as { ContentLength?: number }
      if (context.commandName === 'GetObjectCommand' && o.ContentLength !== undefined) o.ContentLength += key.includes('short/') ? 1 : key.includes('long/') ? -1 : 0
      return out
    },
    { step: 'initialize', name: 'lieAboutLength' },
  )
  t.teardown(() => (client.destroy(), source.destroy()))
  // 5 MiB parts: a 6 MiB version is above one part (streamed), a 1 KiB one is not (buffered)
  const store = new S3EvidenceStore({ client, bucket: 'evidence', retention: { mode: 'COMPLIANCE', days: 1 }, partSize: 5 * MiB })
  await store.assertLocked()
  const big = Buffer.alloc(6 * MiB + 3, 7)
  const small = Buffer.alloc(1024, 8)
  const bodies: Record<string, Buffer> = {}
  for (const dir of ['ok/', 'short/', 'long/']) {
    bodies[`${dir}big`] = big
    bodies[`${dir}small`] = small
  }
  const ids: Record<string, string> = {}
  for (const [k, b] of Object.entries(bodies)) ids[k] = (await putVersions(plain, 'src', k, [b]))[0]
  const entry = (k: string) => ({ kind: 'version' as const, key: k, versionId: ids[k], isLatest: true, lastModified: new Date().toISOString(), size: bodies[k].length })

  for (const k of ['ok/big', 'ok/small']) {
    sent.length = 0
    const copied = await copyVersion({ s3: source, bucket: 'src' }, store, 'case-1', CAP1, entry(k))
    t.same(copied, { status: 'stored', artifact: { path: versionArtifactPath(k, ids[k]), versionId: (copied as { artifact: { versionId: string } }).artifact.versionId, sha256: sha(bodies[k]), size: bodies[k].length } })
    t.equal(sent.filter((c) => c === 'PutObjectCommand').length, 1, `${k}: one PutObject`)
    t.notOk(sent.some((c) => /Multipart|UploadPart/.test(c)), `${k}: no multipart upload`)
    const head = await store.head(artifactKey('case-1', CAP1, versionArtifactPath(k, ids[k])))
    t.equal(head?.checksumSHA256, createHash('sha256').update(bodies[k]).digest('base64'), `${k}: stored with its whole-object SHA-256`)
    t.equal(head?.retentionMode, 'COMPLIANCE')
  }

  const stored = async (k: string): Promise<number> => (await plain.send(new ListObjectVersionsCommand({ Bucket: 'evidence', Prefix: artifactKey('case-1', CAP1, versionArtifactPath(k, ids[k])) }))).Versions?.length ?? 0
  for (const k of ['short/big', 'short/small']) {
    t.match(await copyVersion({ s3: source, bucket: 'src' }, store, 'case-1', CAP1, entry(k)), { status: 'failed', code: 'SizeMismatch', message: new RegExp(`(ended after ${bodies[k].length} of its stated ${bodies[k].length + 1} bytes|has ${bodies[k].length} bytes, not its stated ${bodies[k].length + 1}): nothing was stored`) }, `${k}: refused`)
    t.equal(await stored(k), 0, `${k}: nothing stored`)
  }
  for (const k of ['long/big', 'long/small']) {
    t.match(await copyVersion({ s3: source, bucket: 'src' }, store, 'case-1', CAP1, entry(k)), { status: 'failed', code: 'SizeMismatch', message: new RegExp(`(longer than its stated size of ${bodies[k].length - 1} bytes|has ${bodies[k].length} bytes, not its stated ${bodies[k].length - 1}): nothing was stored`) }, `${k}: refused`)
    t.equal(await stored(k), 0, `${k}: nothing stored`)
  }
  // a second read of other bytes than the first (the store hashes the first read, sends the second)
  const changed = await putVersions(plain, 'src', 'changed/big', [big, Buffer.alloc(big.length, 9)])
  ids['changed/big'] = changed[0]
  other = changed[1]
  bodies['changed/big'] = big
  t.match(await copyVersion({ s3: source, bucket: 'src' }, store, 'case-1', CAP1, entry('changed/big')), { status: 'failed', code: 'SourceChanged', message: /changed between its two reads: nothing was stored/ })
  t.equal(changedReads, 2, 'read twice')
  t.equal(await stored('changed/big'), 0, 'changed/big: nothing stored')
  // a refused second read is recorded like a refused first one
  ids['gone/big'] = (await putVersions(plain, 'src', 'gone/big', [big]))[0]
  bodies['gone/big'] = big
  t.match(await copyVersion({ s3: source, bucket: 'src' }, store, 'case-1', CAP1, entry('gone/big')), { status: 'failed', code: 'NoSuchVersion', message: /^GetObject s3:\/\/src\/gone\/big version .* \(second read\): / })
  t.equal(await stored('gone/big'), 0, 'gone/big: nothing stored')
  // a throttled second read is repeated
  ids['flaky/big'] = (await putVersions(plain, 'src', 'flaky/big', [big]))[0]
  bodies['flaky/big'] = big
  sent.length = 0
  t.match(await copyVersion({ s3: source, bucket: 'src' }, store, 'case-1', CAP1, entry('flaky/big')), { status: 'stored', artifact: { sha256: sha(big), size: big.length } })
  t.equal(flakyReads, 3, 'one first read, a throttled second read, its repeat')
  t.equal(sent.filter((c) => c === 'PutObjectCommand').length, 1, 'one PutObject')
  t.notOk((await plain.send(new ListObjectVersionsCommand({ Bucket: 'evidence', Prefix: 'cases/case-1/' }))).Versions?.some((v) => /short|long|changed|gone/.test(v.Key ?? '')), 'nothing of the refused versions anywhere')

  // the capture records the refusals: partial, each refused version failed with SizeMismatch
  const signer = signingKeyFile().signer
  sent.length = 0
  const out = await captureObjectVersions({ store, signer }, source, { caseId: 'case-2', bucket: 'src', keys: ['ok/big', 'ok/small', 'short/big', 'short/small', 'long/big', 'long/small'], trigger: { source: 'test', id: 'lengths' } })
  if (out.kind !== 'committed') throw new Error('not committed')
  t.equal(out.result.manifest.status, 'partial')
  t.match(out.result.manifest.summary, { entries: 6, stored: 2, failed: 4 })
  const inv = out.result.manifest.artifacts.find((a) => a.path === INVENTORY_PATH)!
  const entries = (JSON.parse((await store.getBytes(inv.key, inv.versionId)).bytes.toString()) as { entries: InventoryEntry[] }).entries
  for (const e of entries) {
    if (e.key.startsWith('ok/')) t.match(e.capture, { status: 'stored', artifact: { sha256: sha(bodies[e.key]) } })
    else t.match(e.capture, { status: 'failed', code: 'SizeMismatch', message: /nothing was stored/ }, `${e.key} recorded as refused`)
  }
  const captureId = deriveCaptureId('object-versions', 'lengths')
  t.same(out.result.manifest.artifacts.filter((a) => a.path.startsWith('versions/')).map((a) => a.source?.key).sort(), ['ok/big', 'ok/small'])
  t.notOk((await plain.send(new ListObjectVersionsCommand({ Bucket: 'evidence', Prefix: `cases/case-2/` }))).Versions?.some((v) => v.Key?.includes(captureId) && /short|long/.test(v.Key)), 'nothing of the refused versions stored')
  t.notOk(sent.some((c) => /Multipart|UploadPart/.test(c)), 'no version went up in parts')
})
