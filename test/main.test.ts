import t from 'tap'
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { join, dirname } from 'node:path'
import { readFileSync } from 'node:fs'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { exitCodeFor, findCommand, nodeSupportNotice } from '../cli/main.js'
import { describeCause } from '../cli/error-cause.js'
import { UsageError } from '../cli/command.js'
import { IntegrityError, StorageError, ValidationError, ForensicsError } from '../forensics/errors.js'
import { commands } from '../cli/commands/index.js'
import { runCli } from './fixtures/cli.js'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')

t.test('--help lists every command; each command has --help', async (t) => {
  const top = await runCli(['--help'])
  t.equal(top.code, 0)
  t.match(top.stdout, /exit codes \(README "Exit codes"\): 0 success[\s\S]*1 verification\s+or drill failure[\s\S]*2 usage or validation error[\s\S]*3 AWS or I\/O failure/)
  for (const entry of commands) {
    const c = await entry.load()
    t.equal(c.name, entry.name, 'the registry names the module\'s command')
    t.equal(c.summary, entry.summary, `${c.name}: the registry's summary is the module's`)
    t.match(top.stdout, c.name)
    const h = await runCli([...c.name.split(' '), '--help'])
    t.equal(h.code, 0, `${c.name} --help`)
    t.match(h.stdout, `usage: forensics ${c.name}`)
  }
  t.equal((await runCli([])).code, 0)
})

t.test('usage errors exit 2 and say what to do', async (t) => {
  const unknown = await runCli(['frobnicate'])
  t.equal(unknown.code, 2)
  t.match(unknown.stderr, /unknown command 'frobnicate'/)
  const first = commands[0]
  const badFlag = await runCli([...first.name.split(' '), '--no-such-flag'])
  t.equal(badFlag.code, 2)
  t.match(badFlag.stderr, /no-such-flag/)
  const asJson = await runCli([...first.name.split(' '), '--no-such-flag', '--json'])
  t.equal(asJson.code, 2)
  t.match(JSON.parse(asJson.stdout), { ok: false, error: { name: 'UsageError' } })
})

t.test('exit codes per error kind', async (t) => {
  t.equal(exitCodeFor(new UsageError('x')), 2)
  t.equal(exitCodeFor(new ValidationError('x')), 2)
  t.equal(exitCodeFor(new IntegrityError('x')), 1)
  t.equal(exitCodeFor(new StorageError('x')), 3)
  t.equal(exitCodeFor(new ForensicsError('x')), 3)
  t.equal(exitCodeFor(Object.assign(new Error('x'), { name: 'ThrottlingException' })), 3)
  t.same(findCommand(['nope']).command, undefined)
})

t.test('the forensics bin runs without a build step', async (t) => {
  const r = spawnSync(process.execPath, [join(root, 'bin', 'forensics.mjs'), '--help'], { encoding: 'utf8' })
  t.equal(r.status, 0)
  t.match(r.stdout, /usage: forensics <command>/)
  const bad = spawnSync(process.execPath, [join(root, 'bin', 'forensics.mjs'), 'nope'], { encoding: 'utf8' })
  t.equal(bad.status, 2)
})

t.test('finding 8: help for every group and via `help X`, --version, one own line instead of the SDK notice', async (t) => {
  const group = await runCli(['capture', '--help'])
  t.equal(group.code, 0)
  for (const kind of ['bucket-config', 'object-versions', 'cloudtrail']) t.match(group.stdout, `capture ${kind}`)
  const bare = await runCli(['capture'])
  t.equal(bare.code, 2)
  t.match(bare.stderr, /capture needs a kind/)
  const wrong = await runCli(['capture', 'nope'])
  t.equal(wrong.code, 2)
  t.match(wrong.stderr, /unknown capture kind 'nope'/)
  const help = await runCli(['help', 'slice'])
  t.equal(help.code, 0)
  t.match(help.stdout, /usage: forensics slice --from-dir DIR/)
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }
  t.same(await runCli(['--version']), { code: 0, stdout: `forensics ${pkg.version}\n`, stderr: '' })
  t.same(JSON.parse((await runCli(['--version', '--json'])).stdout), { version: pkg.version })

  const env: NodeJS.ProcessEnv = {}
  t.match(nodeSupportNotice('v20.20.2', env), /^forensics: note: Node\.js v20\.20\.2; the AWS SDK will require Node\.js >= 22/)
  t.equal(env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED, 'true', 'the SDK\'s own notice is switched off')
  t.equal(nodeSupportNotice('v20.20.2', env), undefined, 'said once')
  t.equal(nodeSupportNotice('v22.1.0', {}), undefined, 'nothing to say on Node 22')
  // the real bin on this Node: at most our one line, never the SDK's
  const r = spawnSync(process.execPath, [join(root, 'bin', 'forensics.mjs'), 'slice', '--from-dir', join(root, 'no-such-dir'), '--start', '2026-01-01T00:00:00Z', '--end', '2026-01-02T00:00:00Z'], { encoding: 'utf8', env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: '' } })
  t.equal(r.status, 2)
  t.notMatch(r.stderr, /NodeVersionSupportWarning|a\.co\//)
  t.ok(r.stderr.split('\n').filter((l) => /Node\.js/.test(l)).length <= 1)
  t.match(r.stderr, /--from-dir .*no-such-dir does not exist/)
  t.notMatch(r.stderr, /credentials/, 'a missing folder is not an AWS problem')
})

t.test('finding 8: an unreachable endpoint names its cause and the endpoint', async (t) => {
  const server = createServer()
  await new Promise<void>((res) => server.listen(0, '127.0.0.1', res))
  const port = (server.address() as AddressInfo).port
  await new Promise<void>((res) => server.close(() => res()))
  const endpoint = `http://127.0.0.1:${port}`
  // the SDK reads credentials and endpoints from process.env itself
  const aws = { AWS_ENDPOINT_URL: endpoint, AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: 'x', AWS_SECRET_ACCESS_KEY: 'y', AWS_MAX_ATTEMPTS: '1' }
  const saved = { ...process.env }
  delete process.env.AWS_ENDPOINT_URL_S3
  Object.assign(process.env, aws)
  t.teardown(() => {
    for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k]
    Object.assign(process.env, saved)
  })
  const r = await runCli(['cases', '--evidence-bucket', 'ev'], aws)
  t.equal(r.code, 3)
  t.match(r.stderr, new RegExp(`cause: connect ECONNREFUSED 127\\.0\\.0\\.1:${port}; endpoint ${endpoint} \\(AWS_ENDPOINT_URL\\)`))
  const j = await runCli(['cases', '--evidence-bucket', 'ev', '--json'], aws)
  t.match(JSON.parse(j.stdout), { ok: false, error: { cause: /ECONNREFUSED/ } })
  t.equal(describeCause(new Error('outer'), {}), undefined, 'nothing behind a plain error')
  t.equal(describeCause(new Error('outer', { cause: new Error('inner detail') }), {}), 'cause: Error: inner detail')
  const agg = new AggregateError([Object.assign(new Error('connect ECONNREFUSED ::1:9'), { code: 'ECONNREFUSED' })], '')
  t.equal(describeCause(new Error('x', { cause: agg }), { AWS_ENDPOINT_URL_S3: 'http://h:9' }), 'cause: connect ECONNREFUSED ::1:9; endpoint http://h:9 (AWS_ENDPOINT_URL_S3)')
})

t.test('finding 4: the source-bucket preflight refuses only a bucket that does not exist', async (t) => {
  const { S3Client } = await import('@aws-sdk/client-s3')
  const { preflightSourceBucket } = await import('../cli/preflight.js')
  // an unreachable endpoint is not a missing bucket: the capture runs and records what fails
  const server = createServer()
  await new Promise<void>((res) => server.listen(0, '127.0.0.1', res))
  const port = (server.address() as AddressInfo).port
  await new Promise<void>((res) => server.close(() => res()))
  const s3 = new S3Client({ region: 'us-east-1', endpoint: `http://127.0.0.1:${port}`, forcePathStyle: true, maxAttempts: 1, credentials: { accessKeyId: 'a', secretAccessKey: 'b' } })
  t.teardown(() => s3.destroy())
  await t.resolves(preflightSourceBucket(s3, 'any-bucket'))
})
