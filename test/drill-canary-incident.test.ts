/**
 * The drill's canary incident (forensics/drill/canary-incident.ts) on a stand-in S3: the
 * changes it makes, and a clean-up that undoes them or reports what it could not undo.
 * The incident against the emulator runs in drill.test.ts.
 */
import t from 'tap'
import type { S3Client } from '@aws-sdk/client-s3'
import { CanaryIncident } from '../forensics/drill/canary-incident.js'
import { awsError, fakeClient } from './fixtures/fake-client.js'

const at = new Date('2026-11-29T10:00:00Z')

t.test('restores a previous bucket policy and deletes every version it created, newest first', async (t) => {
  let n = 0
  const client = fakeClient<S3Client>({
    PutObjectCommand: () => ({ VersionId: `v${++n}` }),
    DeleteObjectCommand: (i) => (i.VersionId ? {} : { VersionId: 'dm-1' }),
    GetBucketPolicyCommand: () => ({ Policy: '{"old":true}' }),
    PutBucketPolicyCommand: () => ({}),
  })
  const canary = new CanaryIncident(client, 'canary', 'd-1')
  const changes = await canary.run(() => at)
  t.same(changes.objectVersionIds, ['v1', 'v2'])
  t.equal(changes.deletedVersionId, 'v3')
  t.equal(changes.deleteMarkerVersionId, 'dm-1')
  t.equal(changes.prefix, 'drill/d-1/')
  t.same(JSON.parse(changes.policy).Statement[0].Resource, 'arn:aws:s3:::canary/drill/d-1/*')
  t.equal(changes.at, at)
  const cleanup = await canary.cleanUp()
  t.same(cleanup, { ok: true, detail: ['restored the previous bucket policy', 'deleted 4 canary object version(s) under drill/d-1/'] })
  const puts = client.calls.filter((s) => s.name === 'PutBucketPolicyCommand')
  t.equal(puts.at(-1)?.input.Policy, '{"old":true}', 'the old policy is put back')
  t.same(client.calls.filter((s) => s.name === 'DeleteObjectCommand' && s.input.VersionId).map((s) => s.input.VersionId), ['dm-1', 'v3', 'v2', 'v1'])
  t.same(await canary.cleanUp(), { ok: true, detail: [] }, 'a second clean-up has nothing left to do')
})

t.test('removes the policy when the bucket had none', async (t) => {
  let n = 0
  const client = fakeClient<S3Client>({
    PutObjectCommand: () => ({ VersionId: `v${++n}` }),
    DeleteObjectCommand: (i) => (i.VersionId ? {} : { VersionId: 'dm-1' }),
    GetBucketPolicyCommand: () => {
      throw awsError('NoSuchBucketPolicy', 404)
    },
    PutBucketPolicyCommand: () => ({}),
    DeleteBucketPolicyCommand: () => ({}),
  })
  const canary = new CanaryIncident(client, 'canary', 'd-2')
  await canary.run(() => at)
  const cleanup = await canary.cleanUp()
  t.equal(cleanup.ok, true)
  t.equal(cleanup.detail[0], 'removed the public-read bucket policy')
  t.ok(client.calls.some((s) => s.name === 'DeleteBucketPolicyCommand'))
})

t.test('an unversioned canary bucket fails naming the bucket; clean-up removes what was made', async (t) => {
  const client = fakeClient<S3Client>({ PutObjectCommand: () => ({}), DeleteObjectCommand: () => ({}) })
  const canary = new CanaryIncident(client, 'flat', 'd-3')
  await t.rejects(canary.run(), { name: 'StorageError', message: /canary incident on s3:\/\/flat failed: bucket flat returned no version id: enable versioning.*Block Public Access/ })
  t.same(await canary.cleanUp(), { ok: true, detail: [] }, 'nothing was created, no policy changed')
})

t.test('a refused GetBucketPolicy (not NoSuchBucketPolicy) fails the incident', async (t) => {
  let n = 0
  const client = fakeClient<S3Client>({
    PutObjectCommand: () => ({ VersionId: `v${++n}` }),
    DeleteObjectCommand: (i) => (i.VersionId ? {} : { VersionId: 'dm' }),
    GetBucketPolicyCommand: () => {
      throw awsError('AccessDenied', 403, 'no GetBucketPolicy for you')
    },
  })
  const canary = new CanaryIncident(client, 'canary', 'd-4')
  await t.rejects(canary.run(), { name: 'StorageError', message: /no GetBucketPolicy for you/ })
  const cleanup = await canary.cleanUp()
  t.equal(cleanup.ok, true, 'the objects it made are still deleted')
  t.same(cleanup.detail, ['deleted 4 canary object version(s) under drill/d-4/'])
})

t.test('clean-up failures are reported, not thrown', async (t) => {
  let n = 0
  let failCleanup = false
  const client = fakeClient<S3Client>({
    PutObjectCommand: () => ({ VersionId: `v${++n}` }),
    DeleteObjectCommand: (i) => {
      if (failCleanup && i.VersionId === 'v2') throw new Error('object locked')
      return i.VersionId ? {} : { VersionId: 'dm' }
    },
    GetBucketPolicyCommand: () => ({ Policy: undefined }),
    PutBucketPolicyCommand: () => ({}),
    DeleteBucketPolicyCommand: () => {
      throw new Error('policy delete denied')
    },
  })
  const canary = new CanaryIncident(client, 'canary', 'd-5')
  await canary.run(() => at)
  failCleanup = true
  const cleanup = await canary.cleanUp()
  t.equal(cleanup.ok, false)
  t.same(cleanup.detail, [
    'could not restore the bucket policy of canary: policy delete denied',
    'could not delete s3://canary/drill/d-5/canary.txt version v2: object locked',
    'deleted 3 canary object version(s) under drill/d-5/',
  ])
})
