import t from 'tap'
import {
  S3Client,
  CreateBucketCommand,
  PutObjectLockConfigurationCommand,
  PutObjectCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  ListBucketsCommand,
} from '@aws-sdk/client-s3'
import { STSClient, AssumeRoleCommand } from '@aws-sdk/client-sts'
import { createHash, randomBytes } from 'node:crypto'
import { Agent, request, type IncomingHttpHeaders } from 'node:http'
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

  t.test("a session's access key is answered in its own account; an unknown key in the default one", async (t) => {
    // scripts/moto_runner.py looks keys up only in the IAM backends that exist
    const sts = new STSClient(emulator.clientConfig())
    t.teardown(() => sts.destroy())
    const { Credentials: c } = await sts.send(new AssumeRoleCommand({ RoleArn: 'arn:aws:iam::222222222222:role/investigator', RoleSessionName: 'case-1' }))
    const other = new S3Client({ ...emulator.clientConfig(), credentials: { accessKeyId: c!.AccessKeyId!, secretAccessKey: c!.SecretAccessKey!, sessionToken: c!.SessionToken } })
    t.teardown(() => other.destroy())
    await other.send(new CreateBucketCommand({ Bucket: 'in-222222222222' }))
    await s3.send(new CreateBucketCommand({ Bucket: 'in-default' }))
    const names = async (c: S3Client): Promise<string[]> => ((await c.send(new ListBucketsCommand({}))).Buckets ?? []).map((b) => b.Name!)
    t.same(await names(other), ['in-222222222222'], "the session's account holds its bucket only")
    t.same(await names(s3), ['in-default'], 'the default account holds the other')
  })

  t.test('state is reset between subtests', async (t) => {
    const { Buckets } = await s3.send(new ListBucketsCommand({}))
    t.same(Buckets ?? [], [])
  })
})

t.test('an HTTP-chunked aws-chunked upload (a streamed write with a trailing checksum) is stored whole', async (t) => {
  // scripts/moto_runner.py reads such a body a chunk at a time, decodes it in one pass and
  // takes the checksum from the trailer; these are the answers that must not change
  const emulator = await useEmulator(t)
  const s3 = new S3Client(emulator.clientConfig())
  t.teardown(() => s3.destroy())
  await s3.send(new CreateBucketCommand({ Bucket: 'chunked' }))
  const agent = new Agent({ keepAlive: true, maxSockets: 1 })
  t.teardown(() => agent.destroy())
  /** PUTs `pieces` as aws-chunked data, each piece one HTTP chunk, then `trailer`. */
  const put = (key: string, pieces: Buffer[], trailer: string): Promise<{ status: number; headers: IncomingHttpHeaders }> =>
    new Promise((resolve, reject) => {
      const req = request(`${emulator.endpoint}/chunked/${key}`, {
        method: 'PUT',
        agent,
        headers: {
          'x-amz-content-sha256': 'STREAMING-UNSIGNED-PAYLOAD-TRAILER',
          'content-encoding': 'aws-chunked',
          'x-amz-decoded-content-length': String(pieces.reduce((n, p) => n + p.length, 0)),
          'x-amz-sdk-checksum-algorithm': 'SHA256',
          'x-amz-trailer': 'x-amz-checksum-sha256',
        },
      })
      req.on('error', reject)
      req.on('response', (res) => {
        res.resume()
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers }))
      })
      for (const p of pieces) req.write(Buffer.concat([Buffer.from(`${p.length.toString(16)}\r\n`), p, Buffer.from('\r\n')]))
      req.end(`0\r\n${trailer}\r\n`)
    })
  const get = async (key: string): Promise<Buffer> => Buffer.from(await (await s3.send(new GetObjectCommand({ Bucket: 'chunked', Key: key }))).Body!.transformToByteArray())

  // a piece of data that looks like a trailer line: the checksum echoed is the trailer's
  const pieces = [randomBytes(70_000), Buffer.from('\r\nx-amz-checksum-sha256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\r\n'), randomBytes(3), randomBytes(1 << 20)]
  const whole = Buffer.concat(pieces)
  const sha = createHash('sha256').update(whole).digest('base64')
  const first = await put('a', pieces, `x-amz-checksum-sha256:${sha}\r\n`)
  t.equal(first.status, 200)
  t.equal(first.headers['x-amz-checksum-sha256'], sha, 'the trailer checksum is echoed')
  t.ok((await get('a')).equals(whole), 'the decoded bytes are stored, framing removed')
  // many small HTTP chunks
  const small = Array.from({ length: 300 }, (_v, i) => Buffer.from(`piece ${i};`))
  const second = await put('b', small, `x-amz-checksum-sha256:${createHash('sha256').update(Buffer.concat(small)).digest('base64')}\r\n`)
  t.equal(second.status, 200)
  t.equal((await get('b')).toString(), small.join(''))
  // the connection of both uploads still carries requests
  const third = await put('c', [], `x-amz-checksum-sha256:${createHash('sha256').update('').digest('base64')}\r\n`)
  t.equal(third.status, 200)
  t.equal((await get('c')).length, 0)
})
