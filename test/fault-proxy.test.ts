import t, { type Test } from 'tap'
import { CreateBucketCommand, GetBucketVersioningCommand, GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, ListObjectVersionsCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3'
import { CreateQueueCommand, SQSClient } from '@aws-sdk/client-sqs'
import { CreateTopicCommand, SNSClient } from '@aws-sdk/client-sns'
import { operationOf, startFaultProxy, type FaultKind } from '../forensics/local/fault-proxy.js'
import { useEmulator } from './fixtures/emulator.js'

t.test('fault and latency proxy in front of the emulator', async (t) => {
  const emulator = await useEmulator(t)
  const direct = new S3Client(emulator.clientConfig())
  t.teardown(() => direct.destroy())

  /** A proxy with one fault kind at rate 1 and clients through it that never retry. */
  const through = async (t: Test, faults: Partial<Record<FaultKind, number>>, latencyMs = 0) => {
    const proxy = await startFaultProxy({ target: emulator.endpoint, faults, latencyMs })
    const cfg = { ...emulator.clientConfig(), endpoint: proxy.endpoint, maxAttempts: 1 }
    const s3 = new S3Client(cfg)
    t.teardown(async () => {
      s3.destroy()
      await proxy.close()
    })
    return { proxy, s3, cfg }
  }
  const exists = async (bucket: string, key: string): Promise<boolean> =>
    direct.send(new HeadObjectCommand({ Bucket: bucket, Key: key })).then(() => true, () => false)

  t.beforeEach(async () => {
    await direct.send(new CreateBucketCommand({ Bucket: 'proxied' }))
  })

  t.test('latency to first byte is added to every request', async (t) => {
    const { s3, proxy } = await through(t, {}, 150)
    const started = Date.now()
    await s3.send(new PutObjectCommand({ Bucket: 'proxied', Key: 'k', Body: 'x' }))
    t.ok(Date.now() - started >= 150, 'at least the injected latency')
    t.equal(proxy.stats.requests, 1)
    t.equal(proxy.stats.forwarded, 1)
    t.ok(await exists('proxied', 'k'))
  })

  t.test('503 SlowDown is refused before the emulator sees the request', async (t) => {
    const { s3, proxy } = await through(t, { slowDown: 1 })
    await t.rejects(s3.send(new PutObjectCommand({ Bucket: 'proxied', Key: 'slow', Body: 'x' })), { name: 'SlowDown', $metadata: { httpStatusCode: 503 } })
    t.notOk(await exists('proxied', 'slow'), 'nothing written')
    t.equal(proxy.stats.faults.slowDown, 1)
    t.equal(proxy.stats.forwarded, 0)
  })

  t.test('a lost response: the write took effect, the client got a 500', async (t) => {
    const { s3, proxy } = await through(t, { lostResponse: 1 })
    await t.rejects(s3.send(new PutObjectCommand({ Bucket: 'proxied', Key: 'lost', Body: 'x' })), { name: 'InternalError', $metadata: { httpStatusCode: 500 } })
    t.ok(await exists('proxied', 'lost'), 'the emulator stored it')
    t.equal(proxy.stats.faults.lostResponse, 1)
  })

  t.test('a connection reset before any byte', async (t) => {
    const { s3 } = await through(t, { reset: 1 })
    await t.rejects(s3.send(new PutObjectCommand({ Bucket: 'proxied', Key: 'reset', Body: 'x' })))
    t.notOk(await exists('proxied', 'reset'))
  })

  t.test('a truncated or reset body fails the read, never returns short bytes', async (t) => {
    await direct.send(new PutObjectCommand({ Bucket: 'proxied', Key: 'big', Body: Buffer.alloc(64 * 1024, 7) }))
    for (const kind of ['truncated', 'resetMidBody'] as const) {
      const { s3 } = await through(t, { [kind]: 1 })
      const read = async () => {
        const out = await s3.send(new GetObjectCommand({ Bucket: 'proxied', Key: 'big' }))
        return (await out.Body!.transformToByteArray()).length
      }
      await t.rejects(read(), `${kind}: the read fails`)
    }
  })

  t.test('requests are counted by operation (S3 REST, JSON and query protocols)', async (t) => {
    const { s3, proxy, cfg } = await through(t, {})
    const sqs = new SQSClient(cfg)
    t.teardown(() => sqs.destroy())
    await s3.send(new PutObjectCommand({ Bucket: 'proxied', Key: 'a/b', Body: 'x' }))
    await s3.send(new PutObjectCommand({ Bucket: 'proxied', Key: 'a/c', Body: 'y' }))
    await s3.send(new HeadObjectCommand({ Bucket: 'proxied', Key: 'a/b' }))
    await (await s3.send(new GetObjectCommand({ Bucket: 'proxied', Key: 'a/b' }))).Body?.transformToString()
    await s3.send(new ListObjectsV2Command({ Bucket: 'proxied', Prefix: 'a/' }))
    await s3.send(new ListObjectVersionsCommand({ Bucket: 'proxied', Prefix: 'a/' }))
    await s3.send(new GetBucketVersioningCommand({ Bucket: 'proxied' }))
    await sqs.send(new CreateQueueCommand({ QueueName: 'counted' }))
    t.same(proxy.stats.byOperation, { PutObject: 2, HeadObject: 1, GetObject: 1, ListObjectsV2: 1, ListObjectVersions: 1, GetBucketVersioning: 1, CreateQueue: 1 })
    t.equal(proxy.stats.requests, 8)
    const op = (method: string, url: string): string => operationOf({ method, url, headers: {} })
    t.equal(op('PUT', '/b/k?retention'), 'PutObjectRetention')
    t.equal(op('DELETE', '/b/k?uploadId=1'), 'AbortMultipartUpload')
    t.equal(op('POST', '/b/k?uploads'), 'CreateMultipartUpload')
    t.equal(op('HEAD', '/b'), 'HeadBucket')
    t.equal(op('GET', '/b'), 'ListObjects')
    t.equal(operationOf({ method: 'POST', url: '/', headers: { 'content-type': 'application/x-www-form-urlencoded' } }), 'query')
  })

  t.test('JSON and query protocols get their own throttling errors', async (t) => {
    const { cfg } = await through(t, { throttle: 1 })
    const sqs = new SQSClient(cfg)
    const sns = new SNSClient(cfg)
    t.teardown(() => {
      sqs.destroy()
      sns.destroy()
    })
    await t.rejects(sqs.send(new CreateQueueCommand({ QueueName: 'q' })), { name: 'ThrottlingException' })
    await t.rejects(sns.send(new CreateTopicCommand({ Name: 'topic' })), { name: 'Throttling' })
    const { s3 } = await through(t, { throttle: 1 })
    await t.rejects(s3.send(new PutObjectCommand({ Bucket: 'proxied', Key: 'thr', Body: 'x' })), { name: 'SlowDown' })
  })

  t.test('same seed, same faults; only eligible requests fault; rates can change at run time', async (t) => {
    const sequence = async (seed: number) => {
      const proxy = await startFaultProxy({ target: emulator.endpoint, faults: { slowDown: 0.3, lostResponse: 0.2 }, seed })
      const s3 = new S3Client({ ...emulator.clientConfig(), endpoint: proxy.endpoint, maxAttempts: 1 })
      const out: string[] = []
      for (let i = 0; i < 30; i++) out.push(await s3.send(new PutObjectCommand({ Bucket: 'proxied', Key: `s${seed}-${i}`, Body: 'x' })).then(() => 'ok', (e: Error) => e.name))
      s3.destroy()
      await proxy.close()
      return out
    }
    const a = await sequence(7)
    t.same(await sequence(7), a, 'deterministic for a seed')
    t.ok(a.includes('SlowDown') && a.includes('InternalError') && a.includes('ok'), 'a mix at these rates')

    const proxy = await startFaultProxy({ target: emulator.endpoint, faults: { slowDown: 1 }, eligible: (r) => r.method !== 'PUT' })
    const s3 = new S3Client({ ...emulator.clientConfig(), endpoint: proxy.endpoint, maxAttempts: 1 })
    t.teardown(async () => {
      s3.destroy()
      await proxy.close()
    })
    await s3.send(new PutObjectCommand({ Bucket: 'proxied', Key: 'eligible', Body: 'x' }))
    await t.rejects(s3.send(new HeadObjectCommand({ Bucket: 'proxied', Key: 'eligible' })))
    proxy.configure({ faults: {} })
    await s3.send(new HeadObjectCommand({ Bucket: 'proxied', Key: 'eligible' }))
    t.equal(proxy.stats.faults.slowDown, 1)
  })

  t.test('the SDK\'s own retries ride out a 30% fault rate', async (t) => {
    const proxy = await startFaultProxy({ target: emulator.endpoint, faults: { slowDown: 0.15, reset: 0.15 }, seed: 3 })
    const s3 = new S3Client({ ...emulator.clientConfig(), endpoint: proxy.endpoint, maxAttempts: 8, retryMode: 'standard' })
    t.teardown(async () => {
      s3.destroy()
      await proxy.close()
    })
    for (let i = 0; i < 20; i++) await s3.send(new PutObjectCommand({ Bucket: 'proxied', Key: `r${i}`, Body: 'x' }))
    t.ok(proxy.stats.faults.slowDown + proxy.stats.faults.reset > 0, 'faults were injected')
    t.ok(await exists('proxied', 'r19'))
  })
})
