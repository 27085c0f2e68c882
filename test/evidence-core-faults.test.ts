/**
 * Fault paths of the evidence core: S3 answers that the emulator never gives on its own
 * (5xx, lost responses, lying read-backs) are injected with SDK middleware on a real
 * emulator client, so every error a user can meet is asserted with its message.
 */
import t from 'tap'
import { Readable } from 'node:stream'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { S3Client, PutObjectLockConfigurationCommand, CreateBucketCommand } from '@aws-sdk/client-s3'
import { S3EvidenceStore, openS3EvidenceStore } from '../forensics/s3-evidence-store.js'
import { runCapture } from '../forensics/capture.js'
import { verifyCapture } from '../forensics/verify-capture.js'
import { parseManifest } from '../forensics/manifest.js'
import { LocalSigner } from '../forensics/signer.js'
import { sdkSettingsFromEnv } from '../forensics/aws/sdk-config.js'
import { evidenceBucketName, retentionFromEnv, signerFromEnv, openEvidence } from '../cli/context.js'
import { IntegrityError } from '../forensics/errors.js'
import { setRetryPolicy } from '../forensics/retry.js'
import type { CommandIO } from '../cli/command.js'
import type { Emulator } from '../forensics/local/emulator.js'
import { useEmulator } from './fixtures/emulator.js'
import { createLockedBucket, overrideStore } from './fixtures/evidence.js'
import { runCli } from './fixtures/cli.js'

type Fault = (command: string, input: Record<string, unknown>) => unknown
type Edit = (command: string, output: Record<string, unknown>) => void

/** An emulator client whose calls can fail (`fault` returns an error to throw) or lie (`edit`). */
function faultyClient(emulator: Emulator, fault: Fault = () => undefined, edit: Edit = () => undefined): S3Client {
  const client = new S3Client(emulator.clientConfig())
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const err = fault(context.commandName ?? '', args.input as Record<string, unknown>)
      if (err) throw err
      const out = await next(args)
      edit(context.commandName ?? '', out.output as unknown as Record<string, unknown>)
      return out
    },
    { step: 'initialize', name: 'faults' },
  )
  return client
}

// persistent faults are injected here: retries give up quickly
setRetryPolicy({ baseDelayMs: 1, maxDelayMs: 5 })

const awsError = (name: string, status: number): Error => Object.assign(new Error(name), { name, $metadata: { httpStatusCode: status } })
const retention = { mode: 'COMPLIANCE' as const, days: 1 }
const keyDir = mkdtempSync(join(tmpdir(), 'faults-'))
const { signer } = LocalSigner.fromFile(join(keyDir, 'k.pem'), { create: true })

t.test('evidence store faults', async (t) => {
  const emulator = await useEmulator(t)
  const setup = async (): Promise<void> => {
    const s3 = new S3Client(emulator.clientConfig())
    await createLockedBucket(s3, 'evb')
    s3.destroy()
  }

  t.test('bucket checks that fail for other reasons say so', async (t) => {
    await setup()
    const versioningDown = new S3EvidenceStore({ client: faultyClient(emulator, (c) => (c === 'GetBucketVersioningCommand' ? awsError('InternalError', 500) : undefined)), bucket: 'evb', retention })
    await t.rejects(versioningDown.assertLocked(), { name: 'StorageError', message: /cannot read the versioning of evidence bucket s3:\/\/evb: InternalError/ })
    // the failed check is not cached: a later call checks again
    await t.rejects(versioningDown.assertLocked(), { name: 'StorageError' })
    const lockDenied = new S3EvidenceStore({ client: faultyClient(emulator, (c) => (c === 'GetObjectLockConfigurationCommand' ? awsError('AccessDenied', 403) : undefined)), bucket: 'evb', retention })
    await t.rejects(lockDenied.assertLocked(), { name: 'StorageError', message: /Object Lock configuration of evidence bucket s3:\/\/evb: AccessDenied/ })
    const gone = new S3EvidenceStore({ client: faultyClient(emulator, (c) => (c === 'GetBucketVersioningCommand' ? awsError('Unknown', 404) : undefined)), bucket: 'evb', retention })
    await t.rejects(gone.assertLocked(), { name: 'EvidenceBucketError', message: /does not exist/ })
  })

  t.test('a default retention in years counts as days', async (t) => {
    const s3 = new S3Client(emulator.clientConfig())
    t.teardown(() => s3.destroy())
    await s3.send(new CreateBucketCommand({ Bucket: 'years', ObjectLockEnabledForBucket: true }))
    await s3.send(new PutObjectLockConfigurationCommand({ Bucket: 'years', ObjectLockConfiguration: { ObjectLockEnabled: 'Enabled', Rule: { DefaultRetention: { Mode: 'GOVERNANCE', Years: 2 } } } }))
    t.same((await openS3EvidenceStore({ client: s3, bucket: 'years' })).retention, { mode: 'GOVERNANCE', days: 730 })
  })

  t.test('write failures name the object; read-backs that disagree are integrity errors', async (t) => {
    await setup()
    const down = new S3EvidenceStore({ client: faultyClient(emulator, (c) => (c === 'PutObjectCommand' ? awsError('SlowDown', 503) : undefined)), bucket: 'evb', retention })
    await t.rejects(down.put({ key: 'k1', body: Buffer.from('x') }), { name: 'StorageError', message: 'could not write s3://evb/k1: SlowDown (HTTP 503)' })
    const noBucket = new S3EvidenceStore({ client: faultyClient(emulator, (c) => (c === 'PutObjectCommand' ? awsError('NoSuchBucket', 404) : undefined)), bucket: 'evb', retention })
    await t.rejects(noBucket.put({ key: 'k2', body: Buffer.from('x') }), { name: 'EvidenceBucketError' })
    const lost = (field: string, value: unknown): S3EvidenceStore =>
      new S3EvidenceStore({ client: faultyClient(emulator, undefined, (c, out) => {
        if (c === 'PutObjectCommand' && field === 'VersionId') out.VersionId = value
        if (c === 'HeadObjectCommand') out[field] = value
      }), bucket: 'evb', retention, readBack: 'always' })
    await t.rejects(lost('VersionId', undefined).put({ key: 'k3', body: Buffer.from('x') }), { name: 'IntegrityError', message: /returned no version id/ })
    await t.rejects(lost('ContentLength', 99).put({ key: 'k4', body: Buffer.from('x') }), { name: 'IntegrityError', findings: [/stored size 99 differs from the 1 bytes sent/] })
    await t.rejects(lost('ObjectLockMode', undefined).put({ key: 'k5', body: Buffer.from('x') }), { name: 'IntegrityError', findings: [/has no COMPLIANCE retention after the write/] })
    const invisible = new S3EvidenceStore({ client: faultyClient(emulator, (c) => (c === 'HeadObjectCommand' ? awsError('NotFound', 404) : undefined)), bucket: 'evb', retention, readBack: 'always' })
    await t.rejects(invisible.put({ key: 'k6', body: Buffer.from('x') }), { name: 'IntegrityError', findings: [/is not readable after the write/] })
    // by default S3's answer is the proof: an answer echoing another checksum is an integrity error…
    const answer = (checksum: string | undefined): S3EvidenceStore =>
      new S3EvidenceStore({ client: faultyClient(emulator, undefined, (c, out) => {
        if (c === 'PutObjectCommand') out.ChecksumSHA256 = checksum
        if (c === 'HeadObjectCommand') out.ContentLength = 99
      }), bucket: 'evb', retention })
    await t.rejects(answer('AAAA').put({ key: 'k7', body: Buffer.from('x') }), { name: 'IntegrityError', findings: [/S3 answered with checksum AAAA for version .*, not the sent/] })
    // …and an answer without a checksum is read back (where the lying size is caught)
    await t.rejects(answer(undefined).put({ key: 'k8', body: Buffer.from('x') }), { name: 'IntegrityError', findings: [/stored size 99 differs/] })
  })

  t.test('a multipart upload that fails part-way is aborted and leaves nothing', async (t) => {
    await setup()
    let parts = 0
    const aborted: string[] = []
    const client = faultyClient(emulator, (c, input) => {
      // from the third part on, every attempt fails: the retries give up (retry.ts)
      if (c === 'UploadPartCommand' && ++parts >= 3) return awsError('InternalError', 500)
      if (c === 'AbortMultipartUploadCommand') aborted.push(String(input.Key))
      return undefined
    })
    const store = new S3EvidenceStore({ client, bucket: 'evb', retention, partSize: 5 * 1024 * 1024 })
    const chunk = Buffer.alloc(1024 * 1024, 3)
    const body = Readable.from((function* () {
      for (let i = 0; i < 20; i++) yield chunk
    })())
    await t.rejects(store.put({ key: 'mp', body }), { name: 'StorageError', message: /could not write s3:\/\/evb\/mp: InternalError/ })
    t.same(aborted, ['mp'], 'the upload was aborted')
    t.equal(await store.head('mp'), undefined, 'no object')
    const refused = new S3EvidenceStore({ client: faultyClient(emulator, (c) => (c === 'CreateMultipartUploadCommand' ? awsError('AccessDenied', 403) : undefined)), bucket: 'evb', retention, partSize: 5 * 1024 * 1024 })
    await t.rejects(refused.put({ key: 'mp2', body: Buffer.alloc(11 * 1024 * 1024) }), { name: 'StorageError', message: /start a multipart upload of s3:\/\/evb\/mp2: AccessDenied/ })
  })

  t.test('reads: missing versions, refused reads and listings', async (t) => {
    await setup()
    const store = new S3EvidenceStore({ client: new S3Client(emulator.clientConfig()), bucket: 'evb', retention })
    await t.rejects(store.get('nope'), { name: 'StorageError', message: /could not read s3:\/\/evb\/nope: NoSuchKey/ })
    const put = await store.put({ key: 'r', body: Readable.from(['text chunks ', 'are bytes too']) })
    t.equal((await store.getBytes('r', put.versionId)).bytes.toString(), 'text chunks are bytes too')
    const denied = new S3EvidenceStore({ client: faultyClient(emulator, (c) => (c === 'HeadObjectCommand' ? awsError('Forbidden', 403) : c === 'ListObjectsV2Command' ? awsError('AccessDenied', 403) : undefined)), bucket: 'evb', retention })
    await t.rejects(denied.head('r'), { name: 'StorageError', message: /read the head of s3:\/\/evb\/r: Forbidden/ })
    await t.rejects((async () => {
      for await (const _ of denied.list('x/')) void _
    })(), { name: 'StorageError', message: /could not list s3:\/\/evb\/x\/: AccessDenied/ })
    t.equal(await store.tryDelete('r', 'no-such-version'), undefined, 'deleting a version that does not exist is not refused')
  })
})

t.test('capture and verification edge cases', async (t) => {
  const emulator = await useEmulator(t)
  const spec = { caseId: 'c', collector: { name: 'edge', version: '1' }, trigger: { source: 't', id: 'e1' }, target: {} }

  t.test('a lost manifest race that left no winner is an error, not a silent success', async (t) => {
    const s3 = new S3Client(emulator.clientConfig())
    await createLockedBucket(s3, 'evb')
    const real = new S3EvidenceStore({ client: s3, bucket: 'evb', retention })
    const racing = overrideStore(real, {
      put: async (input) => {
        if (input.key.endsWith('manifest.json')) {
          const { EvidenceExistsError } = await import('../forensics/evidence-store.js')
          throw new EvidenceExistsError('evb', input.key)
        }
        return real.put(input)
      },
    })
    await t.rejects(runCapture({ store: racing, signer }, spec, async (ctx) => {
      await ctx.addArtifact('a', Buffer.from('a'))
    }), { name: 'EvidenceExistsError' })
  })

  t.test('streams cannot be offered twice; 20 conflicting versions are refused', async (t) => {
    const s3 = new S3Client(emulator.clientConfig())
    await createLockedBucket(s3, 'evb')
    const real = new S3EvidenceStore({ client: s3, bucket: 'evb', retention })
    const { EvidenceExistsError } = await import('../forensics/evidence-store.js')
    const alwaysTaken = overrideStore(real, { put: async (input) => Promise.reject(new EvidenceExistsError('evb', input.key)) })
    await t.rejects(runCapture({ store: alwaysTaken, signer }, { ...spec, trigger: { source: 't', id: 's' } }, async (ctx) => {
      await ctx.addArtifact('stream', Readable.from([Buffer.from('s')]))
    }), { name: 'EvidenceExistsError' })
    await t.rejects(runCapture({ store: alwaysTaken, signer }, { ...spec, trigger: { source: 't', id: 'b' } }, async (ctx) => {
      await ctx.addArtifact('buf', Buffer.from('b'))
    }), { name: 'ValidationError', message: /exists in 20 different versions/ })
  })

  t.test('verification reports missing retention, missing signatures and unreadable manifests', async (t) => {
    const s3 = new S3Client(emulator.clientConfig())
    await createLockedBucket(s3, 'evb')
    const store = new S3EvidenceStore({ client: s3, bucket: 'evb', retention })
    const r = await runCapture({ store, signer }, { ...spec, trigger: { source: 't', id: 'v' } }, async (ctx) => {
      await ctx.addArtifact('a.txt', Buffer.from('alpha'))
    })
    const pem = await signer.publicKeyPem()
    const art = r.manifest.artifacts[0]
    const noLock = overrideStore(store, { head: async (k, v) => {
      const h = await store.head(k, v)
      return h && k === art.key ? { ...h, retentionMode: undefined, retainUntil: undefined } : h
    } })
    t.match((await verifyCapture(noLock, 'c', r.manifest.captureId, { publicKeyPem: pem })).findings, [{ code: 'retention-missing', subject: art.key }])
    const resized = overrideStore(store, { head: async (k, v) => {
      const h = await store.head(k, v)
      return h && k === art.key ? { ...h, size: 1 } : h
    } })
    t.match((await verifyCapture(resized, 'c', r.manifest.captureId, { publicKeyPem: pem })).findings, [{ code: 'size-mismatch', subject: art.key }])
    const detachedGone = overrideStore(store, { head: async (k, v) => (k.endsWith('.sig') ? undefined : store.head(k, v)) })
    t.same((await verifyCapture(detachedGone, 'c', r.manifest.captureId, { publicKeyPem: pem })).findings, [], 'the signature committed in the manifest metadata suffices')
    const unsigned = overrideStore(store, { head: async (k, v) => {
      if (k.endsWith('.sig')) return undefined
      const h = await store.head(k, v)
      return h && { ...h, metadata: {} }
    } })
    t.match((await verifyCapture(unsigned, 'c', r.manifest.captureId, { publicKeyPem: pem })).findings, [{ code: 'signature-missing' }])
    const garbled = overrideStore(store, { getBytes: async (k, v) => (k.endsWith('manifest.json') ? { bytes: Buffer.from('{oops'), versionId: 'x' } : store.getBytes(k, v)) })
    t.match((await verifyCapture(garbled, 'c', r.manifest.captureId, { publicKeyPem: pem })).findings, [{ code: 'manifest-invalid', message: /is not JSON/ }])
  })
})

t.test('manifest parsing names what is wrong', async (t) => {
  t.throws(() => parseManifest('[1]', 'm'), { name: 'ValidationError', message: 'm is not a forensics.capture/v1 manifest: not an object' })
  const base = { schema: 'forensics.capture/v1', caseId: 'c', captureId: 'x', startedAt: 'a', endedAt: 'b', status: 'complete', artifacts: [], errors: [] }
  t.throws(() => parseManifest(JSON.stringify({ ...base, artifacts: undefined }), 'm'), { message: /artifacts missing/ })
  t.throws(() => parseManifest(JSON.stringify({ ...base, errors: 'none' }), 'm'), { message: /errors missing/ })
  t.throws(() => parseManifest(JSON.stringify({ ...base, status: 'done' }), 'm'), { message: /status must be/ })
  t.throws(() => parseManifest(JSON.stringify({ ...base, schema: 'v0' }), 'm'), { message: /schema is "v0"/ })
  t.throws(() => parseManifest(JSON.stringify({ ...base, caseId: 1 }), 'm'), { message: /caseId missing/ })
  t.throws(() => parseManifest(JSON.stringify({ ...base, artifacts: [{ key: 'k' }] }), 'm'), { message: /artifacts\[0\] needs/ })
  t.equal(parseManifest(JSON.stringify(base), 'm').caseId, 'c')
})

t.test('SDK settings and CLI context from the environment', async (t) => {
  t.same(sdkSettingsFromEnv({}), { maxAttempts: 5 })
  t.same(sdkSettingsFromEnv({ AWS_DEFAULT_REGION: 'eu-west-1', AWS_ENDPOINT_URL_S3: 'http://x' }), { maxAttempts: 5, region: 'eu-west-1', forcePathStyle: true })
  t.same(sdkSettingsFromEnv({ AWS_REGION: 'us-west-2', AWS_ENDPOINT_URL: 'http://x' }), { maxAttempts: 5, region: 'us-west-2', forcePathStyle: true })
  const args = (values: Record<string, string>) => ({ values, positionals: [] })
  t.equal(evidenceBucketName(args({ 'evidence-bucket': 'flag' }), { FORENSICS_EVIDENCE_BUCKET: 'env' }), 'flag')
  t.equal(evidenceBucketName(args({}), { FORENSICS_EVIDENCE_BUCKET: 'env' }), 'env')
  t.throws(() => evidenceBucketName(args({}), {}), { name: 'UsageError', message: /--evidence-bucket/ })
  t.equal(retentionFromEnv({}), undefined)
  t.same(retentionFromEnv({ FORENSICS_RETENTION_DAYS: '30' }), { mode: 'COMPLIANCE', days: 30 })
  t.same(retentionFromEnv({ FORENSICS_RETENTION_DAYS: '7', FORENSICS_RETENTION_MODE: 'GOVERNANCE' }), { mode: 'GOVERNANCE', days: 7 })
  t.throws(() => retentionFromEnv({ FORENSICS_RETENTION_DAYS: '1.5' }), { name: 'ValidationError', field: 'FORENSICS_RETENTION_DAYS' })
  t.throws(() => retentionFromEnv({ FORENSICS_RETENTION_DAYS: '3', FORENSICS_RETENTION_MODE: 'LEGAL' }), { name: 'ValidationError', message: /COMPLIANCE\|GOVERNANCE/ })
  const home = mkdtempSync(join(tmpdir(), 'home-'))
  const said: string[] = []
  const io = { progress: (l: string) => said.push(l) }
  const created = signerFromEnv({ FORENSICS_HOME: home }, io)
  t.match(said, [/created a local P-256 signing key/])
  t.equal(signerFromEnv({ FORENSICS_HOME: home }, io).keyId, created.keyId, 'the same key next time, without a notice')
  t.equal(said.length, 1)
  t.equal(signerFromEnv({ FORENSICS_SIGNING_KEY: `file:${join(keyDir, 'k.pem')}` }).keyId, signer.keyId)
  t.match(signerFromEnv({ FORENSICS_SIGNING_KEY: 'kms:alias/evidence', AWS_REGION: 'us-east-1' }).keyId, 'alias/evidence')
  t.throws(() => signerFromEnv({ FORENSICS_SIGNING_KEY: 'vault:x' }), { name: 'ValidationError', message: /kms:<key id> or file:<pem path>/ })
  const emulator = await useEmulator(t, { reset: false })
  const s3 = new S3Client(emulator.clientConfig())
  t.teardown(() => s3.destroy())
  await createLockedBucket(s3, 'ctx', 2)
  // the SDK's credential chain and endpoint come from the process environment
  const saved = { ...process.env }
  Object.assign(process.env, emulator.env())
  t.teardown(() => {
    for (const k of Object.keys(emulator.env())) if (saved[k] === undefined) delete process.env[k]
    Object.assign(process.env, saved)
  })
  const cmdio = { env: { ...process.env, FORENSICS_HOME: home }, progress: () => undefined } as unknown as CommandIO
  const opened = await openEvidence(args({ 'evidence-bucket': 'ctx' }), cmdio)
  t.same(opened.store.retention, { mode: 'COMPLIANCE', days: 2 })
})

t.test('CLI error reporting', async (t) => {
  const { main } = await import('../cli/main.js')
  t.ok(main)
  // an integrity failure prints every finding and exits 1; JSON carries them too
  const { exitCodeFor } = await import('../cli/main.js')
  t.equal(exitCodeFor(new IntegrityError('bad', { findings: ['a', 'b'] })), 1)
  const r = await runCli(['verify', '/nonexistent/bundle.zip'])
  t.not(r.code, 0)
  t.match(r.stderr, /bundle\.zip/)
})
