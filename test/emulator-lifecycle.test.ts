import t from 'tap'
import { tsRegister } from './fixtures/ts.js'
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { join, dirname } from 'node:path'
import { createInterface } from 'node:readline'
import { tmpdir } from 'node:os'
import { FORK_SERVER_ENV, startForkServer } from '../forensics/local/emulator.js'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}
async function waitGone(pid: number, ms = 10_000): Promise<boolean> {
  const end = Date.now() + ms
  while (Date.now() < end) {
    if (!alive(pid)) return true
    await new Promise((r) => setTimeout(r, 100))
  }
  return !alive(pid)
}

/**
 * Starts a process that starts an emulator, prints its pid, then behaves as told; the
 * emulator is a child of the host, or forked by the fork server on `forkServer`.
 */
async function hostWith(behaviour: 'crash' | 'sigterm' | 'hang', forkServer: string | undefined): Promise<{ host: ReturnType<typeof spawn>; motoPid: number }> {
  const script = `
    import { startEmulator } from ${JSON.stringify(join(root, 'forensics', 'local', 'emulator.ts'))}
    const e = await startEmulator()
    console.log(e.pid)
    if (${JSON.stringify(behaviour)} === 'crash') setTimeout(() => { throw new Error('boom') }, 50)
    else setInterval(() => {}, 1000)
  `
  const env = { ...process.env }
  delete env[FORK_SERVER_ENV]
  if (forkServer) env[FORK_SERVER_ENV] = forkServer
  const host = spawn(process.execPath, ['--import', tsRegister, '--input-type=module', '-e', script], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] })
  const line = await new Promise<string>((res, rej) => {
    createInterface({ input: host.stdout! }).once('line', res)
    host.once('exit', (c) => rej(new Error(`host exited ${c}`)))
  })
  return { host, motoPid: Number(line) }
}

// a fork server of this file's own: the emulators it forks must stop with their requesters too
const forkServer = await startForkServer(tmpdir())
t.teardown(() => forkServer.stop())

for (const [mode, socket] of [['own process', undefined], ['forked by the fork server', forkServer.socketPath]] as const) {
  t.test(`emulator in its ${mode}`, async (t) => {
    t.test('no orphan emulator when the host crashes', async (t) => {
      const { host, motoPid } = await hostWith('crash', socket)
      t.ok(motoPid > 0)
      await new Promise((r) => host.once('exit', r))
      t.ok(await waitGone(motoPid), 'emulator stopped with its host')
    })

    t.test('no orphan emulator when the host is interrupted', async (t) => {
      const { host, motoPid } = await hostWith('sigterm', socket)
      host.kill('SIGTERM')
      await new Promise((r) => host.once('exit', r))
      t.ok(await waitGone(motoPid), 'SIGTERM stops the emulator')
    })

    t.test('no orphan emulator even when the host is SIGKILLed', async (t) => {
      const { host, motoPid } = await hostWith('hang', socket)
      host.kill('SIGKILL')
      await new Promise((r) => host.once('exit', r))
      t.ok(await waitGone(motoPid), 'the emulator notices its requester is gone')
    })
  })
}
