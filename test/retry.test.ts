import t from 'tap'
import { PassThrough, Readable } from 'node:stream'
import { S3Client, PutObjectCommand } from '@aws-sdk/client-s3'
import { IntegrityError, StorageError, ValidationError } from '../forensics/errors.js'
import { EvidenceExistsError } from '../forensics/evidence-store.js'
import { isTransientError, RetriesExhaustedError, retryStats, setRetryPolicy, withRetry } from '../forensics/retry.js'
import { startFaultProxy } from '../forensics/local/fault-proxy.js'
import { S3EvidenceStore } from '../forensics/s3-evidence-store.js'
import { copyVersion } from '../forensics/object-versions/copy-version.js'
import { openObject } from '../forensics/cloudtrail/archive-source.js'
import { sha256Hex } from '../forensics/hash.js'
import { artifactKey, deriveCaptureId } from '../forensics/keys.js'
import { useEmulator } from './fixtures/emulator.js'
import { createLockedBucket } from './fixtures/evidence.js'
import { createVersionedBucket } from './fixtures/collectors.js'

const aws = (name: string, status?: number, extra: Record<string, unknown> = {}): Error =>
  Object.assign(new Error(`injected ${name}`), { name, ...(status ? { $metadata: { httpStatusCode: status } } : {}), ...extra })
const net = (code: string): Error => Object.assign(new Error('socket hang up'), { code })

t.test('transient errors are told by name, status and network code, never by message', async (t) => {
  for (const e of [aws('SlowDown', 503), aws('ThrottlingException', 400), aws('InternalError', 500), aws('Unknown', 502), aws('Whatever', 504), net('ECONNRESET'), net('EPIPE'), aws('TimeoutError'), aws('X', undefined, { $retryable: {} })]) {
    t.ok(isTransientError(e), `${e.name} ${(e as { code?: string }).code ?? ''} is transient`)
  }
  const permanent = [
    aws('AccessDenied', 403),
    aws('Forbidden'),
    aws('PreconditionFailed', 412),
    aws('NoSuchKey', 404),
    new EvidenceExistsError('b', 'k'),
    new IntegrityError('hash differs'),
    new ValidationError('bad case id'),
    new RetriesExhaustedError('op', 3, 10, aws('SlowDown', 503)),
    new StorageError('wraps a refusal', { cause: aws('AccessDenied', 403) }),
    Object.assign(new Error('SlowDown InternalError 503 ECONNRESET in the text only'), { name: 'Error' }),
    'a string',
    null,
  ]
  for (const e of permanent) t.notOk(isTransientError(e), `${String((e as Error)?.name ?? e)} is not transient`)
  t.ok(isTransientError(new StorageError('wraps a throttle', { cause: aws('SlowDown', 503) })), 'a StorageError is judged by its cause')
})

t.test('withRetry: retries transient failures with backoff, gives up within its bounds', async (t) => {
  const before = { ...retryStats }
  let calls = 0
  const out = await withRetry('flaky', async (attempt) => {
    calls++
    if (attempt < 3) throw aws('SlowDown', 503)
    return 'done'
  }, { policy: { baseDelayMs: 1 } })
  t.equal(out, 'done')
  t.equal(calls, 3)
  t.equal(retryStats.retries - before.retries, 2, 'two retries counted')

  const seen: number[] = []
  const err = await withRetry('always failing write of s3://b/k', async () => {
    throw aws('InternalError', 500)
  }, { policy: { baseDelayMs: 1, maxAttempts: 4 }, onRetry: (i) => seen.push(i.attempt) }).catch((e: unknown) => e)
  t.type(err, RetriesExhaustedError)
  t.match(err, { name: 'RetriesExhaustedError', attempts: 4, message: /always failing write of s3:\/\/b\/k still failed after 4 attempt\(s\).*InternalError HTTP 500/ })
  t.same(seen, [1, 2, 3])
  t.ok(err instanceof StorageError, 'an exhausted retry is an AWS/I-O failure (exit 3)')

  // bounded in time: a budget shorter than the backoff stops at once
  const started = Date.now()
  await t.rejects(withRetry('slow', async () => {
    throw net('ECONNRESET')
  }, { policy: { baseDelayMs: 10_000, maxDelayMs: 10_000, budgetMs: 50, maxAttempts: 100 } }), RetriesExhaustedError)
  t.ok(Date.now() - started < 10_000, 'never waits past the budget')

  // permanent errors go through untouched, after one attempt
  let once = 0
  const denied = aws('AccessDenied', 403)
  await t.rejects(withRetry('denied', async () => {
    once++
    throw denied
  }), denied)
  t.equal(once, 1)

  const previous = setRetryPolicy({ maxAttempts: 1 })
  t.teardown(() => void setRetryPolicy(previous))
  await t.rejects(withRetry('no retries', async () => {
    throw aws('SlowDown', 503)
  }), { name: 'RetriesExhaustedError', attempts: 1 })
})

t.test('bodies cut mid-stream are read again (fault proxy on the emulator)', async (t) => {
  const emulator = await useEmulator(t)
  const direct = new S3Client(emulator.clientConfig())
  t.teardown(() => direct.destroy())
  for (const kind of ['resetMidBody', 'truncated'] as const) {
    t.test(kind, async (t) => {
      await createLockedBucket(direct, 'evidence')
      await createVersionedBucket(direct, 'src')
      const bytes = Buffer.alloc(200_000, 9)
      const v = (await direct.send(new PutObjectCommand({ Bucket: 'src', Key: 'big.bin', Body: bytes }))).VersionId!
      // only GETs fault, and only at first: the SDK cannot retry a body cut after the
      // headers, so the operation retry must
      const proxy = await startFaultProxy({ target: emulator.endpoint, faults: { [kind]: 1 }, eligible: (r) => r.method === 'GET' })
      const client = new S3Client({ ...emulator.clientConfig(), endpoint: proxy.endpoint, maxAttempts: 1 })
      t.teardown(async () => {
        client.destroy()
        await proxy.close()
      })
      let gets = 0
      proxy.configure({ eligible: (r) => r.method === 'GET' && ++gets <= 2 })
      const captureId = deriveCaptureId('object-versions', `retry-${kind}`)
      const store = new S3EvidenceStore({ client, bucket: 'evidence', retention: { mode: 'COMPLIANCE', days: 1 } })
      const copied = await copyVersion({ s3: client, bucket: 'src' }, store, 'case-1', captureId, { kind: 'version', key: 'big.bin', versionId: v, isLatest: true, lastModified: new Date().toISOString(), size: bytes.length })
      t.match(copied, { status: 'stored', artifact: { sha256: sha256Hex(bytes), size: bytes.length } }, 'the copy holds every byte')
      t.ok(proxy.stats.faults[kind] >= 1, `${proxy.stats.faults[kind]} ${kind} injected`)

      gets = 0
      const stored = (copied as { artifact: { path: string; versionId: string } }).artifact
      const back = await store.getBytes(artifactKey('case-1', captureId, stored.path), stored.versionId)
      t.equal(sha256Hex(back.bytes), sha256Hex(bytes), 'getBytes re-reads a cut body')
    })
  }
})

/**
 * Cuts the SDK's GetObject bodies of `client` (ECONNRESET, half their bytes delivered) while
 * their reader is still awaiting another request on the same client: the moment that request
 * goes out. Only as many GetObjects as `arm` asked for.
 */
function cutBodiesWhileReaderWaits(client: S3Client): { cut: number; arm(times: number): void } {
  let left = 0
  const stats = { cut: 0, arm: (times: number) => void (left = times) }
  let waiting: PassThrough | undefined
  client.middlewareStack.add(
    (next, context) => async (args) => {
      if (waiting) {
        waiting.destroy(Object.assign(new Error('aborted'), { code: 'ECONNRESET' }))
        waiting = undefined
        stats.cut++
      }
      const out = await next(args)
      if (context.commandName === 'GetObjectCommand' && left > 0) {
        left--
        const output = out.output as { Body?: { transformToByteArray(): Promise<Uint8Array> } | PassThrough }
        const bytes = await (output.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray()
        waiting = new PassThrough()
        waiting.write(bytes.subarray(0, bytes.length >> 1))
        output.Body = waiting
      }
      return out
    },
    { step: 'initialize', name: 'cutBodiesWhileReaderWaits' },
  )
  return stats
}

t.test('a body cut before it is read fails its read, not the process (Node 22, the Lambda runtime, throws unheard stream errors)', async (t) => {
  const emulator = await useEmulator(t)
  const client = new S3Client({ ...emulator.clientConfig(), maxAttempts: 1 })
  t.teardown(() => client.destroy())
  await createLockedBucket(client, 'evidence')
  await createVersionedBucket(client, 'src')
  const bytes = Buffer.alloc(300_000, 7)
  const v = (await client.send(new PutObjectCommand({ Bucket: 'src', Key: 'big.bin', Body: bytes }))).VersionId!

  // object versions: the copy's store awaits the bucket's lock before it reads the version
  const cuts = cutBodiesWhileReaderWaits(client)
  cuts.arm(1)
  const store = new S3EvidenceStore({ client, bucket: 'evidence', retention: { mode: 'COMPLIANCE', days: 1 } })
  const captureId = deriveCaptureId('object-versions', 'cut-before-read')
  const copied = await copyVersion({ s3: client, bucket: 'src' }, store, 'case-1', captureId, { kind: 'version', key: 'big.bin', versionId: v, isLatest: true, lastModified: new Date().toISOString(), size: bytes.length })
  t.equal(cuts.cut, 1, 'the body was cut while the store checked the bucket')
  t.match(copied, { status: 'stored', artifact: { sha256: sha256Hex(bytes), size: bytes.length } }, 'the version was read again and copied whole')

  // CloudTrail log files: opened, then handed to a store that has not checked its bucket yet
  cuts.arm(1)
  const coords = {}
  const body = await openObject(client, 'src', 'big.bin', coords)
  const fresh = new S3EvidenceStore({ client, bucket: 'evidence', retention: { mode: 'COMPLIANCE', days: 1 } })
  const key = artifactKey('case-1', deriveCaptureId('cloudtrail-slice', 'cut-before-read'), 'logs/big.bin')
  await t.rejects(fresh.put({ key, body: Readable.from(body), contentType: 'application/gzip' }), { code: 'ECONNRESET' }, 'the write fails with the read error')
  t.equal(cuts.cut, 2, 'the log file was cut while the store checked the bucket')
  t.equal(await fresh.head(key), undefined, 'nothing was stored')
})
