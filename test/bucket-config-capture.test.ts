/**
 * A bucket-config capture against its previous snapshot
 * (forensics/bucket-config/capture-bucket-config.ts) on the in-memory store: which
 * snapshot counts as previous, missing buckets, and tampered or foreign snapshots.
 */
import t from 'tap'
import { createHash } from 'node:crypto'
import type { S3Client } from '@aws-sdk/client-s3'
import { captureBucketConfig, findPreviousSnapshot, snapshotPath } from '../forensics/bucket-config/capture-bucket-config.js'
import { committedResult } from '../forensics/bucket-config/collector-runtime.js'
import { MemoryStore } from './fixtures/memory-store.js'
import { awsError, fakeClient } from './fixtures/fake-client.js'
import { fakeBucketConfigS3 } from './fixtures/bucket-config.js'
import { testSigner } from './fixtures/bundle-case.js'

const OWNER = '123456789012'
const OTHER = '210987654321'

t.test('the previous snapshot is the latest of the same bucket and owner; missing buckets are recorded, foreign schemas skipped, tampered bytes refused', async (t) => {
  const store = new MemoryStore()
  const signer = testSigner()
  const deps = { store, signer }
  const publicPolicy = JSON.stringify({ Statement: [{ Effect: 'Allow', Principal: '*', Action: 's3:GetObject' }] })
  const sources = (policyText?: string) => ({ s3: fakeBucketConfigS3({ GetBucketPolicyCommand: policyText === undefined ? awsError('NoSuchBucketPolicy', 404) : { Policy: policyText } }) })
  const req = (id: string, over: Record<string, unknown> = {}) => ({ caseId: 'case-bc', bucket: 'bkt', trigger: { source: 't', id }, ...over })

  await t.rejects(captureBucketConfig(deps, sources(), req('bad', { bucket: 's3://bkt' })), { name: 'ValidationError', field: 'bucket', message: /invalid bucket name "s3:\/\/bkt"/ })
  t.equal(store.objects.size, 0, 'nothing written for an invalid bucket name')
  const first = await captureBucketConfig(deps, sources(), req('one'))
  t.equal(first.manifest.status, 'partial', 'the account-level block is unknown without an account')
  t.match(first.manifest.errors, [{ what: 'GetPublicAccessBlock (account) s3://bkt', code: 'AccountUnknown' }])
  t.same(first.manifest.target, { bucket: 'bkt' })
  t.match(first.manifest.summary, { exists: true, previousCaptureId: null, findings: 0 })
  const second = await captureBucketConfig(deps, sources(publicPolicy), req('two', { region: 'eu-west-1' }))
  t.match(second.manifest.findings, [{ type: 'public-grant-added', detail: { previousCaptureId: first.manifest.captureId } }])
  t.same(second.manifest.target, { bucket: 'bkt', region: 'eu-west-1' })
  t.match(second.manifest.summary, { previousCaptureId: first.manifest.captureId })

  // another account's snapshot of a same-named bucket is not "previous"
  const other = await captureBucketConfig(deps, { ...sources(), accountId: OTHER }, req('three'))
  t.same(other.manifest.target, { bucket: 'bkt', accountId: OTHER })
  t.equal((await findPreviousSnapshot(store, 'case-bc', 'bkt', OWNER))?.captureId, second.manifest.captureId, 'the latest of the owner (or of unknown account)')
  t.equal((await findPreviousSnapshot(store, 'case-bc', 'bkt', OTHER))?.captureId, other.manifest.captureId)
  t.equal((await findPreviousSnapshot(store, 'case-bc', 'other-bucket', undefined)), undefined)
  t.equal((await findPreviousSnapshot(store, 'case-none', 'bkt', undefined)), undefined)

  // a missing bucket: recorded, with the account when known
  const gone = await captureBucketConfig(deps, { s3: fakeClient<S3Client>(() => Promise.reject(awsError('NoSuchBucket', 404))) }, req('gone', { bucket: 'gone-bucket', accountId: OWNER }))
  t.match(gone.manifest.errors, [{ what: 'bucket s3://gone-bucket', code: 'NoSuchBucket', message: /does not exist in account 123456789012/ }])
  t.match(committedResult(gone), { ok: true, status: 'partial', created: true, summary: { exists: false } })
  const gone2 = await captureBucketConfig(deps, { s3: fakeClient<S3Client>(() => Promise.reject(awsError('NoSuchBucket', 404))) }, req('gone2', { bucket: 'gone-bucket' }))
  t.match(gone2.manifest.errors.find((e) => e.code === 'NoSuchBucket'), { message: /^bucket gone-bucket does not exist \(or is not visible/ })
  t.match(gone2.manifest.findings, [], 'no finding: the bucket was missing before too')

  // a snapshot of another schema is not compared against
  const artifact = second.manifest.artifacts.find((a) => a.path === snapshotPath('bkt'))!
  const foreign = await captureBucketConfig(deps, sources(), req('four', { bucket: 'bkt2' }))
  const a2 = foreign.manifest.artifacts.find((a) => a.path === snapshotPath('bkt2'))!
  const obj2 = store.objects.get(a2.key)!
  const doc = JSON.parse(obj2.bytes.toString()) as Record<string, unknown>
  const rewritten = Buffer.from(JSON.stringify({ ...doc, schema: 'forensics.bucket-config/v0' }))
  store.objects.set(a2.key, { ...obj2, bytes: rewritten })
  // keep the manifest consistent with the rewritten bytes, so only the schema differs
  const mKey = foreign.manifestKey
  const m = JSON.parse(store.objects.get(mKey)!.bytes.toString()) as { artifacts: { path: string; sha256: string }[] }
  m.artifacts.find((a) => a.path === snapshotPath('bkt2'))!.sha256 = createHash('sha256').update(rewritten).digest('hex')
  store.objects.set(mKey, { ...store.objects.get(mKey)!, bytes: Buffer.from(JSON.stringify(m)) })
  t.equal(await findPreviousSnapshot(store, 'case-bc', 'bkt2', undefined), undefined, 'an unknown schema is not a previous snapshot')

  // tampered bytes of the previous snapshot: refused, never silently compared
  const obj = store.objects.get(artifact.key)!
  store.objects.set(artifact.key, { ...obj, bytes: Buffer.from(obj.bytes.toString().replace('"ok"', '"denied"')) })
  await t.rejects(findPreviousSnapshot(store, 'case-bc', 'bkt', OWNER), { name: 'ValidationError', message: /does not match the SHA-256 in its manifest; run `forensics verify` on case case-bc/ })
  await t.rejects(captureBucketConfig(deps, sources(), req('five', { accountId: OWNER })), { name: 'ValidationError', message: /does not match the SHA-256/ })
})
