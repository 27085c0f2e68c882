import t from 'tap'
import {
  S3Client,
  CreateBucketCommand,
  PutObjectLockConfigurationCommand,
  PutObjectCommand,
  DeleteObjectCommand,
  ListBucketsCommand,
} from '@aws-sdk/client-s3'
import { createServer } from 'node:net'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startEmulator, startForkServer, findMotoInterpreter, EmulatorError, FORK_SERVER_ENV } from '../forensics/local/emulator.js'
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

t.test('the fork server forks independent emulators, each with its own log, and stops', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'fork-server-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const server = await startForkServer(dir)
  t.teardown(() => server.stop())
  const [a, b] = await Promise.all([0, 1].map((i) => startEmulator({ forkServer: server.socketPath, logFile: join(dir, `e${i}.log`) })))
  t.teardown(() => Promise.all([a.stop(), b.stop()]))
  t.not(a.endpoint, b.endpoint)
  t.not(a.pid, b.pid)
  t.equal(a.motoVersion, '5.2.1')
  const [sa, sb] = [new S3Client(a.clientConfig()), new S3Client(b.clientConfig())]
  t.teardown(() => [sa, sb].forEach((c) => c.destroy()))
  await sa.send(new CreateBucketCommand({ Bucket: 'only-in-a' }))
  t.same((await sa.send(new ListBucketsCommand({}))).Buckets?.map((x) => x.Name), ['only-in-a'])
  t.same((await sb.send(new ListBucketsCommand({}))).Buckets ?? [], [], 'a fork starts empty: nothing of its sibling')
  t.match(readFileSync(join(dir, 'e0.log'), 'utf8'), /PUT \/only-in-a/, "the request is in a's log")
  t.notMatch(readFileSync(join(dir, 'e1.log'), 'utf8'), /only-in-a/, "and not in b's")
  await a.stop()
  t.notOk(a.running, 'stopped when asked')
  const res = await fetch(`${b.endpoint}/moto-api/data.json`)
  t.ok(res.ok, 'its sibling still answers')
})

t.test('an unreachable fork server is an error naming the socket and the way out', async (t) => {
  await t.rejects(startEmulator({ forkServer: '/nonexistent/moto.sock' }), { name: 'EmulatorError', message: new RegExp(`/nonexistent/moto.sock.*${FORK_SERVER_ENV}`) })
  const dir = mkdtempSync(join(tmpdir(), 'fork-server-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  // a server that hangs up without forking anything
  const hangUp = createServer((c) => c.end())
  await new Promise<void>((res) => hangUp.listen(join(dir, 'hang-up.sock'), res))
  t.teardown(() => hangUp.close())
  await t.rejects(startEmulator({ forkServer: join(dir, 'hang-up.sock'), logFile: join(dir, 'x.log') }), { name: 'EmulatorError', message: /closed the connection before an emulator answered/ })
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
