import t from 'tap'
import { Readable } from 'node:stream'
import { createHash } from 'node:crypto'
import { S3Client, CreateBucketCommand, PutBucketVersioningCommand, ListObjectVersionsCommand, PutObjectRetentionCommand } from '@aws-sdk/client-s3'
import { S3EvidenceStore, openS3EvidenceStore } from '../forensics/s3-evidence-store.js'
import { useEmulator } from './fixtures/emulator.js'
import { lockedStore, createLockedBucket } from './fixtures/evidence.js'
import { startFaultProxy } from '../forensics/local/fault-proxy.js'

t.test('evidence store on the emulator', async (t) => {
  const emulator = await useEmulator(t)

  t.test('writes locked, checksummed evidence and never overwrites', async (t) => {
    const { store, s3 } = await lockedStore(emulator)
    const put = await store.put({ key: 'cases/c/x.json', body: Buffer.from('{"a":1}'), contentType: 'application/json' })
    t.equal(put.sha256, createHash('sha256').update('{"a":1}').digest('hex'))
    t.equal(put.size, 7)
    const head = await store.head('cases/c/x.json', put.versionId)
    t.equal(head?.retentionMode, 'COMPLIANCE')
    t.ok(head!.retainUntil!.getTime() > Date.now() + 23 * 3600_000, 'retained for the configured day')
    await t.rejects(store.put({ key: 'cases/c/x.json', body: Buffer.from('other') }), { name: 'EvidenceExistsError', key: 'cases/c/x.json' })
    const versions = await s3.send(new ListObjectVersionsCommand({ Bucket: 'evidence', Prefix: 'cases/c/x.json' }))
    t.equal(versions.Versions?.length, 1, 'the refused write left no version')
    t.equal((await store.getBytes('cases/c/x.json')).bytes.toString(), '{"a":1}')
    t.equal(await store.tryDelete('cases/c/x.json', put.versionId), 'AccessDenied', 'a locked version cannot be deleted')
    t.equal(await store.head('cases/c/missing'), undefined)
    const listed = []
    for await (const o of store.list('cases/')) listed.push(o.key)
    t.same(listed, ['cases/c/x.json'])
  })

  t.test('streams large evidence as multipart with constant memory and confirms it', async (t) => {
    const { store } = await lockedStore(emulator, { partSize: 5 * 1024 * 1024 })
    const chunk = Buffer.alloc(1024 * 1024, 1)
    const parts = 13
    const hash = createHash('sha256')
    for (let i = 0; i < parts; i++) hash.update(chunk)
    const body = Readable.from((function* () {
      for (let i = 0; i < parts; i++) yield chunk
    })())
    const put = await store.put({ key: 'big/blob', body })
    t.equal(put.size, parts * chunk.length)
    t.equal(put.sha256, hash.digest('hex'))
    const head = await store.head('big/blob', put.versionId)
    t.equal(head?.retentionMode, 'COMPLIANCE', 'multipart evidence is locked too')
    await t.rejects(store.put({ key: 'big/blob', body: Readable.from([Buffer.alloc(12 * 1024 * 1024)]) }), { name: 'EvidenceExistsError' })
    // an empty stream is stored as an empty object
    const empty = await store.put({ key: 'empty', body: Readable.from([]) })
    t.equal(empty.size, 0)
    // exactly two parts: two parts, no empty third; odd chunk sizes straddle part boundaries
    const odd = Buffer.alloc(3 * 1024 * 1024 + 7, 9)
    const exact = Buffer.concat([odd, odd, odd, Buffer.alloc(10 * 1024 * 1024 - 3 * odd.length, 9)])
    const two = await store.put({ key: 'two-parts', body: Readable.from([odd, odd, odd, exact.subarray(3 * odd.length)]) })
    t.equal(two.sha256, createHash('sha256').update(exact).digest('hex'))
    const partDigest = (b: Buffer) => createHash('sha256').update(b).digest()
    const composite = createHash('sha256').update(Buffer.concat([partDigest(exact.subarray(0, 5 * 1024 * 1024)), partDigest(exact.subarray(5 * 1024 * 1024))])).digest('base64')
    // S3 appends "-2"; the emulator stores the digest without the part count
    t.equal((await store.head('two-parts', two.versionId))?.checksumSHA256?.split('-')[0], composite, 'a composite of exactly two parts')
    // a small stream costs no part buffer and goes up in one request
    const small = await store.put({ key: 'small', body: Readable.from([Buffer.from('a'), Buffer.from('b')]) })
    t.equal((await store.getBytes('small', small.versionId)).bytes.toString(), 'ab')
  })

  t.test('a stream of known size goes up as one streamed PutObject, checked as it passes', async (t) => {
    const { s3 } = await lockedStore(emulator, { bucket: 'ev-streamed' })
    const sent: string[] = []
    const client = new S3Client(emulator.clientConfig())
    client.middlewareStack.add((next, context) => (args) => (sent.push(context.commandName ?? '?'), next(args)), { step: 'initialize', name: 'countRequests' })
    t.teardown(() => client.destroy())
    const MiB = 1024 * 1024
    const store = new S3EvidenceStore({ client, bucket: 'ev-streamed', retention: { mode: 'COMPLIANCE', days: 1 }, partSize: 5 * MiB })
    await store.assertLocked()
    const chunks = (n: number, fill = 3): Buffer[] => Array.from({ length: n }, (_, i) => Buffer.alloc(MiB + 1, fill + i))
    const bytes = Buffer.concat(chunks(12))
    const versions = async (key: string): Promise<number> => (await s3.send(new ListObjectVersionsCommand({ Bucket: 'ev-streamed', Prefix: key }))).Versions?.length ?? 0

    // one read (no reopen): the SHA-256 goes as a trailer of an aws-chunked body
    sent.length = 0
    const once = await store.put({ key: 'once', body: Readable.from(chunks(12)), size: bytes.length })
    t.same(sent, ['HeadObjectCommand', 'PutObjectCommand'], 'a head (nothing there), then one PutObject: no parts, no read-back')
    t.equal(once.sha256, createHash('sha256').update(bytes).digest('hex'))
    t.equal(once.size, bytes.length)
    const head = await store.head('once', once.versionId)
    t.equal(head?.checksumSHA256, createHash('sha256').update(bytes).digest('base64'), 'stored with its whole-object SHA-256')
    t.equal(head?.retentionMode, 'COMPLIANCE')
    t.ok((await store.getBytes('once', once.versionId)).bytes.equals(bytes))
    // a source of tiny chunks: gathered into aws-chunks of at least TRAILER_CHUNK_BYTES on the way
    const tiny = Array.from({ length: 3000 }, (_, i) => Buffer.alloc(1000, i % 251))
    const gathered = await store.put({ key: 'tiny-chunks', body: Readable.from(tiny), size: 3_000_000 })
    t.equal(gathered.sha256, createHash('sha256').update(Buffer.concat(tiny)).digest('hex'))
    t.ok((await store.getBytes('tiny-chunks', gathered.versionId)).bytes.equals(Buffer.concat(tiny)), 'stored whole, in order')

    // two reads (reopen): hashed first, the checksum sent up front
    let opened = 0
    sent.length = 0
    const twice = await store.put({ key: 'twice', body: Readable.from(chunks(12)), size: bytes.length, reopen: async () => (opened++, Readable.from(chunks(12))) })
    t.equal(opened, 1)
    t.same(sent, ['HeadObjectCommand', 'PutObjectCommand'])
    t.equal(twice.sha256, once.sha256)
    t.equal((await store.head('twice', twice.versionId))?.checksumSHA256, head?.checksumSHA256)

    // an existing key is refused before any byte is sent
    sent.length = 0
    await t.rejects(store.put({ key: 'once', body: Readable.from(chunks(12)), size: bytes.length }), { name: 'EvidenceExistsError' })
    t.same(sent, ['HeadObjectCommand'])

    // a body of another length than stated, or a source that changed between its reads: refused, nothing stored
    await t.rejects(store.put({ key: 'short', body: Readable.from(chunks(11)), size: bytes.length }), { name: 'ValidationError', message: /ended after 11534347 of its stated 12582924 bytes/ })
    await t.rejects(store.put({ key: 'long', body: Readable.from(chunks(13)), size: bytes.length }), { name: 'ValidationError', message: /longer than its stated size/ })
    await t.rejects(store.put({ key: 'long2', body: Readable.from(chunks(13)), size: bytes.length, reopen: async () => Readable.from(chunks(13)) }), { name: 'ValidationError', message: /has 13631501 bytes, not its stated 12582924/ })
    await t.rejects(store.put({ key: 'changed', body: Readable.from(chunks(12)), size: bytes.length, reopen: async () => Readable.from(chunks(12, 4)) }), { name: 'SourceChangedError', message: /changed between its two reads/ })
    let reads = 0
    const broken = new Readable({
      read() {
        if (reads++ === 0) this.push(Buffer.alloc(6 * MiB))
        else this.destroy(new Error('source cut'))
      },
    })
    await t.rejects(store.put({ key: 'cut', body: broken, size: bytes.length }), { name: 'StorageError', message: /reading the body of s3:\/\/ev-streamed\/cut failed: source cut/ })
    for (const key of ['short', 'long', 'long2', 'changed', 'cut']) t.equal(await versions(key), 0, `${key}: no version stored`)
    await t.rejects(store.put({ key: 'bad', body: Readable.from(chunks(1)), size: -1 }), { name: 'ValidationError', message: /stated size .* is -1, not a byte count/ })

    // a source that fails on its first read: refused before anything is sent
    const failing = new Readable({
      read() {
        this.destroy(new Error('first read cut'))
      },
    })
    await t.rejects(store.put({ key: 'first-cut', body: failing, size: bytes.length, reopen: async () => Readable.from(chunks(12)) }), { name: 'StorageError', message: /reading the body of s3:\/\/ev-streamed\/first-cut failed before anything was sent: Error/ })
    // a body that fails before the store reads it: refused, no crash, no request left waiting
    const dead = new Readable({ read() {} }).destroy(new Error('gone'))
    await t.rejects(store.put({ key: 'dead', body: dead, size: bytes.length }), { name: 'StorageError', message: /reading the body of s3:\/\/ev-streamed\/dead failed before anything was sent: gone/ })
    for (const key of ['first-cut', 'dead']) t.equal(await versions(key), 0)

    // at or below one part, or above the single-PUT limit, the size changes nothing
    const limited = new S3EvidenceStore({ client, bucket: 'ev-streamed', retention: { mode: 'COMPLIANCE', days: 1 }, partSize: 5 * MiB, singlePutLimit: 10 * MiB })
    sent.length = 0
    await limited.put({ key: 'parts', body: Readable.from(chunks(12)), size: bytes.length })
    t.ok(sent.includes('UploadPartCommand'), 'above the single-PUT limit: multipart')
    // ... but a body of another length is refused there too, nothing stored
    sent.length = 0
    await t.rejects(limited.put({ key: 'parts-short', body: Readable.from(chunks(12)), size: bytes.length + 1 }), { name: 'ValidationError', message: /ended after 12582924 of its stated 12582925 bytes/ })
    t.ok(sent.includes('AbortMultipartUploadCommand') && !sent.includes('CompleteMultipartUploadCommand'), 'the upload is aborted, never completed')
    await t.rejects(limited.put({ key: 'parts-long', body: Readable.from(chunks(12)), size: bytes.length - 1 }), { name: 'ValidationError', message: /longer than its stated size of 12582923 bytes/ })
    // at or below one part: a stream or buffer of another length is refused before any request
    sent.length = 0
    await t.rejects(store.put({ key: 'small-short', body: Readable.from([Buffer.alloc(10)]), size: 11 }), { name: 'ValidationError', message: /ended after 10 of its stated 11 bytes/ })
    const longer = Readable.from([Buffer.alloc(10), Buffer.alloc(10)])
    await t.rejects(store.put({ key: 'small-long', body: longer, size: 15 }), { name: 'ValidationError', message: /longer than its stated size of 15 bytes/ })
    t.ok(longer.destroyed, 'the longer body is released')
    await t.rejects(store.put({ key: 'small-buffer', body: Buffer.alloc(10), size: 11 }), { name: 'ValidationError', message: /has 10 bytes, not its stated 11/ })
    t.same(sent, [], 'no request')
    const exact = await store.put({ key: 'small-exact', body: Readable.from([Buffer.alloc(10, 1)]), size: 10 })
    t.equal(exact.size, 10)
    for (const key of ['parts-short', 'parts-long', 'small-short', 'small-long', 'small-buffer']) t.equal(await versions(key), 0, `${key}: no version stored`)
  })

  t.test('a streamed write whose answer is lost is repeated from a fresh read and recognised as ours', async (t) => {
    const { s3 } = await lockedStore(emulator, { bucket: 'ev-lost' })
    const seen = new Set<string>()
    const proxy = await startFaultProxy({ target: emulator.endpoint, faults: { lostResponse: 1 }, eligible: (r) => r.method === 'PUT' && !seen.has(r.url) && Boolean(seen.add(r.url)) })
    const client = new S3Client({ ...emulator.clientConfig(), endpoint: proxy.endpoint })
    t.teardown(async () => {
      client.destroy()
      await proxy.close()
    })
    const store = new S3EvidenceStore({ client, bucket: 'ev-lost', retention: { mode: 'COMPLIANCE', days: 1 }, partSize: 5 * 1024 * 1024 })
    await store.assertLocked()
    const bytes = Buffer.alloc(6 * 1024 * 1024, 7)
    let opened = 0
    const put = await store.put({ key: 'big', body: Readable.from([bytes]), size: bytes.length, reopen: async () => (opened++, Readable.from([bytes])) })
    t.equal(proxy.stats.faults.lostResponse, 1, 'the answer was lost')
    t.equal(opened, 1, 'sent once: the key holds exactly the bytes sent, so the write took effect')
    t.equal(put.sha256, createHash('sha256').update(bytes).digest('hex'))
    const versions = await s3.send(new ListObjectVersionsCommand({ Bucket: 'ev-lost', Prefix: 'big' }))
    t.same(versions.Versions?.map((v) => v.VersionId), [put.versionId], 'one version, the one reported')
    // without a way to read it again too
    const once = await store.put({ key: 'big-once', body: Readable.from([bytes]), size: bytes.length })
    t.equal(once.sha256, put.sha256)
    t.equal(proxy.stats.faults.lostResponse, 2)
    // a transient failure before the write took effect is repeated from a fresh read
    proxy.configure({ faults: { reset: 1 }, eligible: (r) => r.method === 'PUT' && !seen.has(r.url) && Boolean(seen.add(r.url)) })
    let reopened = 0
    const again = await store.put({ key: 'big-again', body: Readable.from([bytes]), size: bytes.length, reopen: async () => (reopened++, Readable.from([bytes])) })
    t.equal(reopened, 2, 'the reset write was sent again from a fresh read')
    t.equal(again.sha256, put.sha256)
    // and without one, it fails naming the key; nothing is stored
    await t.rejects(store.put({ key: 'big-reset', body: Readable.from([bytes]), size: bytes.length }), { name: 'StorageError', message: /could not write s3:\/\/ev-lost\/big-reset/ })
    t.notOk((await s3.send(new ListObjectVersionsCommand({ Bucket: 'ev-lost', Prefix: 'big-reset' }))).Versions?.length)
  })

  t.test('refuses buckets without Object Lock or that do not exist', async (t) => {
    const s3 = new S3Client(emulator.clientConfig())
    t.teardown(() => s3.destroy())
    await s3.send(new CreateBucketCommand({ Bucket: 'plain' }))
    const plain = new S3EvidenceStore({ client: s3, bucket: 'plain', retention: { mode: 'COMPLIANCE', days: 1 } })
    await t.rejects(plain.put({ key: 'k', body: Buffer.from('x') }), { name: 'EvidenceBucketError', message: /s3:\/\/plain has no versioning and no Object Lock/ })
    await s3.send(new PutBucketVersioningCommand({ Bucket: 'plain', VersioningConfiguration: { Status: 'Enabled' } }))
    await t.rejects(plain.assertLocked(), { name: 'EvidenceBucketError', message: /has no Object Lock/ })
    const missing = new S3EvidenceStore({ client: s3, bucket: 'nope', retention: { mode: 'COMPLIANCE', days: 1 } })
    await t.rejects(missing.put({ key: 'k', body: Buffer.from('x') }), { name: 'EvidenceBucketError', message: /s3:\/\/nope does not exist/ })
    const { Versions } = await s3.send(new ListObjectVersionsCommand({ Bucket: 'plain' }))
    t.same(Versions ?? [], [], 'nothing written')
  })

  t.test('openS3EvidenceStore takes the bucket default retention', async (t) => {
    const s3 = new S3Client(emulator.clientConfig())
    t.teardown(() => s3.destroy())
    await createLockedBucket(s3, 'ev2', 3)
    const store = await openS3EvidenceStore({ client: s3, bucket: 'ev2' })
    t.same(store.retention, { mode: 'COMPLIANCE', days: 3 })
    const explicit = await openS3EvidenceStore({ client: s3, bucket: 'ev2', retention: { mode: 'GOVERNANCE', days: 9 } })
    t.same(explicit.retention, { mode: 'GOVERNANCE', days: 9 })
    await s3.send(new CreateBucketCommand({ Bucket: 'nodefault', ObjectLockEnabledForBucket: true }))
    await t.rejects(openS3EvidenceStore({ client: s3, bucket: 'nodefault' }), { name: 'EvidenceBucketError', message: /FORENSICS_RETENTION_DAYS/ })
  })

  /** A client that reports checksum AAAA in every answer to `commandName` (the store must notice). */
  const lyingClient = (commandName: string): S3Client => {
    const lying = new S3Client(emulator.clientConfig())
    lying.middlewareStack.add(
      (next, context) => async (args) => {
        const out = await next(args)
        if (context.commandName === commandName) (out.output as { ChecksumSHA256?: string }).ChecksumSHA256 = 'AAAA'
        return out
      },
      { step: 'initialize', name: 'lieAboutChecksum' },
    )
    return lying
  }

  t.test('a store whose writes are not confirmed by the read-back fails loudly', async (t) => {
    const s3 = new S3Client(emulator.clientConfig())
    t.teardown(() => s3.destroy())
    await createLockedBucket(s3, 'ev3')
    // a client that corrupts the checksum it reports back: the read-back must notice
    const lying = lyingClient('HeadObjectCommand')
    t.teardown(() => lying.destroy())
    const store = new S3EvidenceStore({ client: lying, bucket: 'ev3', retention: { mode: 'COMPLIANCE', days: 1 }, readBack: 'always' })
    await t.rejects(store.put({ key: 'k', body: Buffer.from('x') }), { name: 'IntegrityError', findings: [/stored checksum AAAA differs/] })
    // multipart writes are always read back (S3's answer to a completion proves less)
    const multipart = new S3EvidenceStore({ client: lying, bucket: 'ev3', retention: { mode: 'COMPLIANCE', days: 1 }, partSize: 5 * 1024 * 1024 })
    await t.rejects(multipart.put({ key: 'mp', body: Readable.from([Buffer.alloc(6 * 1024 * 1024, 1), Buffer.alloc(6 * 1024 * 1024, 2)]) }), { name: 'IntegrityError', findings: [/stored checksum AAAA differs/] })
  })
  t.test('a streamed write whose answer names another checksum than the bytes sent fails loudly', async (t) => {
    const plain = new S3Client(emulator.clientConfig())
    t.teardown(() => plain.destroy())
    await createLockedBucket(plain, 'ev-echo')
    const lying = lyingClient('PutObjectCommand')
    t.teardown(() => lying.destroy())
    const store = new S3EvidenceStore({ client: lying, bucket: 'ev-echo', retention: { mode: 'COMPLIANCE', days: 1 }, partSize: 5 * 1024 * 1024 })
    const bytes = Buffer.alloc(6 * 1024 * 1024, 5)
    await t.rejects(store.put({ key: 'k', body: Readable.from([bytes]), size: bytes.length }), { name: 'IntegrityError', findings: [/S3 answered with checksum AAAA for version .*, not the .* of the bytes sent/] })
    // read back always: the head of the version is the proof (the emulator stored the sent checksum)
    const readBack = new S3EvidenceStore({ client: plain, bucket: 'ev-echo', retention: { mode: 'COMPLIANCE', days: 1 }, partSize: 5 * 1024 * 1024, readBack: 'always' })
    const put = await readBack.put({ key: 'k2', body: Readable.from([bytes]), size: bytes.length })
    t.equal(put.sha256, createHash('sha256').update(bytes).digest('hex'))
  })
  t.test('a multipart write whose completion applied the retention (as S3 does) is confirmed by the one head after it', async (t) => {
    const plain = new S3Client(emulator.clientConfig())
    t.teardown(() => plain.destroy())
    await createLockedBucket(plain, 'ev-mp')
    // the emulator drops retention requested at CreateMultipartUpload; S3 applies it at
    // completion: this client does what S3 would, and counts what the store sends
    const asS3 = (lie: boolean): { client: S3Client; sent: string[] } => {
      const sent: string[] = []
      const client = new S3Client(emulator.clientConfig())
      client.middlewareStack.add(
        (next, context) => async (args) => {
          sent.push(context.commandName ?? '?')
          const out = await next(args)
          if (context.commandName === 'CompleteMultipartUploadCommand') {
            const input = args.input as { Bucket: string; Key: string }
            const until = new Date(Date.now() + 86_400_000)
            await plain.send(new PutObjectRetentionCommand({ Bucket: input.Bucket, Key: input.Key, VersionId: (out.output as { VersionId?: string }).VersionId, Retention: { Mode: 'COMPLIANCE', RetainUntilDate: until } }))
          }
          if (lie && context.commandName === 'HeadObjectCommand') (out.output as { ChecksumSHA256?: string }).ChecksumSHA256 = 'AAAA'
          return out
        },
        { step: 'initialize', name: 'actLikeS3' },
      )
      t.teardown(() => client.destroy())
      return { client, sent }
    }
    const body = (): Readable => Readable.from([Buffer.alloc(6 * 1024 * 1024, 1), Buffer.alloc(6 * 1024 * 1024, 2)])
    const ok = asS3(false)
    const store = new S3EvidenceStore({ client: ok.client, bucket: 'ev-mp', retention: { mode: 'COMPLIANCE', days: 1 }, partSize: 5 * 1024 * 1024 })
    await store.assertLocked()
    ok.sent.length = 0
    const put = await store.put({ key: 'mp', body: body() })
    t.equal(put.size, 12 * 1024 * 1024)
    t.same(ok.sent.filter((c) => c === 'HeadObjectCommand').length, 2, 'one head before (nothing there), one after: no third read-back')
    t.notOk(ok.sent.includes('PutObjectRetentionCommand'), 'retention was there already')
    // that one head is the confirmation: a wrong checksum in it fails the write
    const lying = asS3(true)
    const strict = new S3EvidenceStore({ client: lying.client, bucket: 'ev-mp', retention: { mode: 'COMPLIANCE', days: 1 }, partSize: 5 * 1024 * 1024 })
    await t.rejects(strict.put({ key: 'mp2', body: body() }), { name: 'IntegrityError', findings: [/stored checksum AAAA differs/] })
  })
  t.test('a lost response to our write is recognised as our write; other bytes stay a conflict', async (t) => {
    const { s3 } = await lockedStore(emulator)
    // the first PUT of each key reaches the emulator, then its response is lost (500); the
    // SDK retries and meets our own object with a 412
    const seen = new Set<string>()
    const proxy = await startFaultProxy({ target: emulator.endpoint, faults: { lostResponse: 1 }, eligible: (r) => r.method === 'PUT' && !seen.has(r.url) && Boolean(seen.add(r.url)) })
    const client = new S3Client({ ...emulator.clientConfig(), endpoint: proxy.endpoint, maxAttempts: 3 })
    t.teardown(async () => {
      client.destroy()
      await proxy.close()
    })
    const store = new S3EvidenceStore({ client, bucket: 'evidence', retention: { mode: 'COMPLIANCE', days: 1 } })
    const put = await store.put({ key: 'cases/c/custody/000001.json', body: Buffer.from('{"seq":1}') })
    t.equal(proxy.stats.faults.lostResponse, 1, 'the response was lost once')
    t.equal(put.sha256, createHash('sha256').update('{"seq":1}').digest('hex'))
    const versions = await s3.send(new ListObjectVersionsCommand({ Bucket: 'evidence', Prefix: 'cases/c/custody/000001.json' }))
    t.equal(versions.Versions?.length, 1, 'one version: the retry wrote nothing')
    t.equal(versions.Versions?.[0].VersionId, put.versionId, 'and it is the one reported')
    // a different writer's bytes under the same key are still a conflict
    await t.rejects(store.put({ key: 'cases/c/custody/000001.json', body: Buffer.from('{"seq":1,"fork":true}') }), { name: 'EvidenceExistsError' })
  })
})
