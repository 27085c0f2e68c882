import t from 'tap'
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { join, dirname } from 'node:path'
import { exitCodeFor, findCommand } from '../cli/main.js'
import { UsageError } from '../cli/command.js'
import { IntegrityError, StorageError, ValidationError, ForensicsError } from '../forensics/errors.js'
import { commands } from '../cli/commands/index.js'
import { runCli } from './fixtures/cli.js'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')

t.test('--help lists every command; each command has --help', async (t) => {
  const top = await runCli(['--help'])
  t.equal(top.code, 0)
  t.match(top.stdout, /exit codes: 0 success, 1 verification or drill failure, 2 usage or validation error/)
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
