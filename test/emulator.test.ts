import t from 'tap'
import {
  S3Client,
  CreateBucketCommand,
  PutObjectLockConfigurationCommand,
  PutObjectCommand,
  DeleteObjectCommand,
  ListBucketsCommand,
} from '@aws-sdk/client-s3'
import { startEmulator, findMotoInterpreter, EmulatorError } from '../forensics/local/emulator.js'
import { useEmulator } from './fixtures/emulator.js'

t.test('the emulator runs the pinned moto from .venv', async (t) => {
  const interp = findMotoInterpreter()
  t.equal(interp.source, 'venv', 'npm test installs moto into .venv')
  const e = await startEmulator()
  t.equal(e.motoVersion, '5.2.1')
  t.ok(e.running)
  await e.stop()
  t.notOk(e.running, 'stopped')
  await e.stop() // idempotent
})

t.test('findMotoInterpreter names the fix when moto is missing', async (t) => {
  const saved = process.env.PYTHON
  process.env.PYTHON = '/nonexistent/python'
  t.teardown(() => {
    if (saved === undefined) delete process.env.PYTHON
    else process.env.PYTHON = saved
  })
  t.throws(() => findMotoInterpreter('/nonexistent-root'), { name: 'EmulatorError', message: /npm test/ })
  t.ok(new EmulatorError('x') instanceof Error)
})

t.test('object lock on the emulator', async (t) => {
  const emulator = await useEmulator(t)
  const s3 = new S3Client(emulator.clientConfig())
  t.teardown(() => s3.destroy())

  t.test('a COMPLIANCE-locked version cannot be deleted', async (t) => {
    await s3.send(new CreateBucketCommand({ Bucket: 'locked', ObjectLockEnabledForBucket: true }))
    await s3.send(
      new PutObjectLockConfigurationCommand({
        Bucket: 'locked',
        ObjectLockConfiguration: { ObjectLockEnabled: 'Enabled', Rule: { DefaultRetention: { Mode: 'COMPLIANCE', Days: 1 } } },
      }),
    )
    const put = await s3.send(new PutObjectCommand({ Bucket: 'locked', Key: 'evidence.txt', Body: 'bytes', ChecksumAlgorithm: 'SHA256' }))
    t.ok(put.VersionId, 'versioned write')
    await t.rejects(s3.send(new DeleteObjectCommand({ Bucket: 'locked', Key: 'evidence.txt', VersionId: put.VersionId })), { name: 'AccessDenied' })
  })

  t.test('concurrent If-None-Match writes of one key: exactly one wins, as on S3', async (t) => {
    // moto checks then writes without a lock; scripts/moto_runner.py serializes
    // conditional writes so the emulator keeps S3's guarantee (README "Emulator gaps")
    await s3.send(new CreateBucketCommand({ Bucket: 'race' }))
    for (let round = 0; round < 8; round++) {
      const results = await Promise.allSettled(
        Array.from({ length: 24 }, (_v, i) => s3.send(new PutObjectCommand({ Bucket: 'race', Key: `k${round}`, Body: `writer ${i}`, IfNoneMatch: '*' }))),
      )
      t.equal(results.filter((r) => r.status === 'fulfilled').length, 1, `round ${round}: one writer wins`)
      t.ok(results.filter((r) => r.status === 'rejected').every((r) => (r as PromiseRejectedResult).reason.name === 'PreconditionFailed'), 'the others get 412')
    }
  })

  t.test('state is reset between subtests', async (t) => {
    const { Buckets } = await s3.send(new ListBucketsCommand({}))
    t.same(Buckets ?? [], [])
  })
})
