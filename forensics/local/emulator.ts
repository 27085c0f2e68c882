import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { createWriteStream, existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs'
import { createConnection, type Socket } from 'node:net'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createInterface } from 'node:readline'

/** Project root (two levels above this file). */
export const projectRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..')

/** Static credentials the emulator accepts; never valid anywhere else. */
export const EMULATOR_CREDENTIALS = {
  accessKeyId: 'testing',
  secretAccessKey: 'testing',
} as const

/** The AWS SDK v3 client settings that reach a running emulator. */
export interface EmulatorClientConfig {
  endpoint: string
  region: string
  forcePathStyle: boolean
  credentials: { accessKeyId: string; secretAccessKey: string }
}

/** Options for {@link startEmulator}. */
export interface EmulatorOptions {
  /** Region handed to clients. Default `us-east-1`. */
  region?: string
  /** Where the emulator log goes. Default `.forensics/logs/moto-<pid>-<n>.log`. */
  logFile?: string
  /** How long to wait for the emulator to answer. Default 30 s. */
  startTimeoutMs?: number
  /**
   * Give every account the AWS-managed IAM policies (`arn:aws:iam::aws:policy/…`), as AWS
   * has them; a deploy that attaches one (the functions' X-Ray policy) needs it. Off by
   * default: loading them costs the emulator time and memory per account.
   */
  awsManagedPolicies?: boolean
  /**
   * Unix socket of a running fork server (`startForkServer`) to take the emulator from.
   * Default: `FORENSICS_EMULATOR_FORK_SERVER` from the environment (`npm test` sets it);
   * `null` or unset starts a process of its own.
   */
  forkServer?: string | null
}

/** Environment variable naming the fork server's socket (set by `npm test`). */
export const FORK_SERVER_ENV = 'FORENSICS_EMULATOR_FORK_SERVER'

/** Raised when the emulator cannot be started or does not answer. */
export class EmulatorError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'EmulatorError'
  }
}

/** Which Python runs moto: the project virtualenv, else the machine's. */
export interface MotoInterpreter {
  python: string
  source: 'venv' | 'machine'
}

/**
 * Finds a Python that can import moto: the project `.venv` (pinned by
 * requirements-dev.txt) first, then the machine's `python3` (the fallback when pip could
 * not reach PyPI; reported as `source: 'machine'`).
 */
export function findMotoInterpreter(root = projectRoot): MotoInterpreter {
  const venvPython = join(root, '.venv', 'bin', 'python')
  // the pinned moto in .venv is found on disk: importing it to find out costs Python most of a second
  if (existsSync(venvPython) && venvHasMoto(join(root, '.venv'))) return { python: venvPython, source: 'venv' }
  const candidates: MotoInterpreter[] = [
    { python: venvPython, source: 'venv' },
    { python: process.env.PYTHON ?? 'python3', source: 'machine' },
  ]
  for (const c of candidates) {
    if (c.source === 'venv' && !existsSync(c.python)) continue
    const r = spawnSync(c.python, ['-c', 'import moto.server'], { stdio: 'ignore' })
    if (r.status === 0) return c
  }
  throw new EmulatorError(
    'moto is not installed: run `npm test` (or `node scripts/bootstrap.mjs setup`) to create .venv with the pinned moto[server], or install moto[server] for python3',
  )
}

/** True when the virtualenv holds moto's server package (`lib/python3.X/site-packages/moto/server.py`). */
function venvHasMoto(venv: string): boolean {
  const lib = join(venv, 'lib')
  if (!existsSync(lib)) return false
  return readdirSync(lib).some((d) => existsSync(join(lib, d, 'site-packages', 'moto', 'server.py')))
}

let counter = 0
const running = new Set<Emulator>()

function stopAllSync(): void {
  for (const e of running) e.kill()
}
let hooksInstalled = false
function installExitHooks(): void {
  if (hooksInstalled) return
  hooksInstalled = true
  process.once('exit', stopAllSync)
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(sig, () => {
      stopAllSync()
      process.kill(process.pid, sig)
    })
  }
}

/** The process behind an emulator: a child of ours, or a child of the fork server. */
interface EmulatorProcess {
  readonly pid: number | undefined
  readonly running: boolean
  /** Stops at once (exit hooks). */
  kill(): void
  /** Asks it to stop, waits for the exit; kills it after 3 s. */
  stop(): Promise<void>
}

/** A moto child process; it reads its stdin until EOF, so it also stops when we die. */
class ChildEmulatorProcess implements EmulatorProcess {
  constructor(readonly child: ChildProcess) {}
  get pid(): number | undefined {
    return this.child.pid
  }
  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null
  }
  kill(): void {
    if (this.running) this.child.kill('SIGKILL')
  }
  async stop(): Promise<void> {
    if (!this.running) return
    const exited = new Promise<void>((res) => this.child.once('exit', () => res()))
    this.child.stdin?.end()
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 3000)
    await exited
    clearTimeout(timer)
  }
}

/**
 * An emulator forked by the fork server: it serves until our end of its connection closes
 * (also when we die), and closes its end when it has stopped.
 */
class ForkedEmulatorProcess implements EmulatorProcess {
  #closed = false
  readonly #gone: Promise<void>
  constructor(readonly socket: Socket, readonly pid: number) {
    this.#gone = new Promise((res) => socket.once('close', () => {
      this.#closed = true
      res()
    }))
  }
  get running(): boolean {
    return !this.#closed
  }
  kill(): void {
    this.socket.destroy()
    try {
      process.kill(this.pid, 'SIGKILL')
    } catch {
      // already gone
    }
  }
  async stop(): Promise<void> {
    if (this.#closed) return
    this.socket.end()
    const timer = setTimeout(() => this.kill(), 3000)
    await this.#gone
    clearTimeout(timer)
  }
}

/**
 * A moto server running in server mode on a free loopback port, in a process of its own or
 * forked by the fork server; either way it stops when this process dies without running any hook.
 */
export class Emulator {
  readonly endpoint: string
  readonly region: string
  readonly logFile: string
  readonly motoVersion: string
  readonly interpreter: MotoInterpreter
  #child: EmulatorProcess

  /** @internal use {@link startEmulator} */
  constructor(child: EmulatorProcess, port: number, motoVersion: string, region: string, logFile: string, interpreter: MotoInterpreter) {
    this.#child = child
    this.endpoint = `http://127.0.0.1:${port}`
    this.region = region
    this.logFile = logFile
    this.motoVersion = motoVersion
    this.interpreter = interpreter
  }

  /** Settings for any AWS SDK v3 client: `new S3Client(emulator.clientConfig())`. */
  clientConfig(): EmulatorClientConfig {
    return {
      endpoint: this.endpoint,
      region: this.region,
      forcePathStyle: true,
      credentials: { ...EMULATOR_CREDENTIALS },
    }
  }

  /** Environment that points the CLI (or any SDK process) at this emulator. */
  env(): Record<string, string> {
    return {
      AWS_ENDPOINT_URL: this.endpoint,
      AWS_REGION: this.region,
      AWS_ACCESS_KEY_ID: EMULATOR_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: EMULATOR_CREDENTIALS.secretAccessKey,
    }
  }

  /** Drops every resource in the emulator (`POST /moto-api/reset`). */
  async reset(): Promise<void> {
    const res = await fetch(`${this.endpoint}/moto-api/reset`, { method: 'POST' })
    if (!res.ok) throw new EmulatorError(`emulator reset failed with HTTP ${res.status}; see ${this.logFile}`)
  }

  /** The emulator's log so far (for printing when a test fails). */
  readLog(): string {
    return existsSync(this.logFile) ? readFileSync(this.logFile, 'utf8') : ''
  }

  /** True while the process runs. */
  get running(): boolean {
    return this.#child.running
  }

  /** Process id of the emulator. */
  get pid(): number | undefined {
    return this.#child.pid
  }

  /** Stops synchronously (used by exit hooks). */
  kill(): void {
    running.delete(this)
    this.#child.kill()
  }

  /** Stops the emulator and waits for the process to exit. */
  async stop(): Promise<void> {
    running.delete(this)
    await this.#child.stop()
  }
}

/** What a started moto announced: its process, port and version. */
interface Started {
  process: EmulatorProcess
  port: number
  version: string
}

/** Starts moto on a free loopback port and resolves once it answers HTTP. */
export async function startEmulator(opts: EmulatorOptions = {}): Promise<Emulator> {
  const interpreter = findMotoInterpreter()
  if (interpreter.source === 'machine') {
    process.stderr.write('[emulator] .venv has no moto: falling back to the machine\'s moto (version not pinned)\n')
  }
  const region = opts.region ?? 'us-east-1'
  const logFile = opts.logFile ?? join(projectRoot, '.forensics', 'logs', `moto-${process.pid}-${counter++}.log`)
  mkdirSync(dirname(logFile), { recursive: true })
  const timeoutMs = opts.startTimeoutMs ?? 30000
  const env: Record<string, string> = opts.awsManagedPolicies ? { MOTO_IAM_LOAD_MANAGED_POLICIES: 'true' } : {}
  const forkServer = opts.forkServer === undefined ? process.env[FORK_SERVER_ENV] : opts.forkServer
  installExitHooks()
  const started = forkServer
    ? await forkEmulator(forkServer, logFile, env, timeoutMs)
    : await spawnEmulator(interpreter, logFile, env, timeoutMs)
  const emulator = new Emulator(started.process, started.port, started.version, region, logFile, interpreter)
  running.add(emulator)
  // wait until HTTP answers (the server thread may still be binding)
  const deadline = Date.now() + timeoutMs
  for (;;) {
    try {
      const r = await fetch(`${emulator.endpoint}/moto-api/data.json`)
      if (r.ok) break
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await emulator.stop()
      throw new EmulatorError(`emulator on ${emulator.endpoint} does not answer; see ${logFile}`)
    }
    await new Promise((r) => setTimeout(r, 50))
  }
  return emulator
}

/** `PORT VERSION [PID]`, the first line an emulator writes. */
function parseAnnouncement(line: string): { port: number; version: string; pid?: number } {
  const [portText, version, pidText] = line.trim().split(' ')
  return { port: Number(portText), version: version ?? 'unknown', pid: pidText ? Number(pidText) : undefined }
}

/** Runs `moto_runner.py` as a child of this process. */
async function spawnEmulator(interpreter: MotoInterpreter, logFile: string, env: Record<string, string>, timeoutMs: number): Promise<Started> {
  const log = createWriteStream(logFile, { flags: 'a' })
  const child = spawn(interpreter.python, [join(projectRoot, 'scripts', 'moto_runner.py'), '0'], {
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...process.env, PYTHONUNBUFFERED: '1', ...env },
  })
  child.stderr!.pipe(log)
  const first = await new Promise<string>((res, rej) => {
    const timer = setTimeout(() => rej(new EmulatorError(`emulator did not start within ${timeoutMs} ms; see ${logFile}`)), timeoutMs)
    const rl = createInterface({ input: child.stdout! })
    rl.once('line', (line) => {
      clearTimeout(timer)
      rl.close()
      child.stdout!.pipe(log)
      res(line)
    })
    child.once('exit', (code) => {
      clearTimeout(timer)
      rej(new EmulatorError(`emulator exited with code ${code} before it answered; see ${logFile}`))
    })
    child.once('error', (err) => {
      clearTimeout(timer)
      rej(new EmulatorError(`could not run ${interpreter.python}: ${err.message}`, { cause: err }))
    })
  }).catch((err: unknown) => {
    child.kill('SIGKILL')
    throw err
  })
  const { port, version } = parseAnnouncement(first)
  return { process: new ChildEmulatorProcess(child), port, version }
}

/** Asks the fork server on `socketPath` for a fresh emulator logging to `logFile`. */
async function forkEmulator(socketPath: string, logFile: string, env: Record<string, string>, timeoutMs: number): Promise<Started> {
  const socket = createConnection(socketPath)
  const first = await new Promise<string>((res, rej) => {
    let text = ''
    const fail = (message: string, cause?: unknown): void => {
      clearTimeout(timer)
      socket.destroy()
      rej(new EmulatorError(message, { cause }))
    }
    const timer = setTimeout(() => fail(`the emulator fork server (${socketPath}) did not answer within ${timeoutMs} ms; see ${logFile}`), timeoutMs)
    socket.on('error', (err) => fail(`cannot reach the emulator fork server at ${socketPath} (${err.message}): unset ${FORK_SERVER_ENV} or run the tests with \`npm test\``, err))
    socket.on('data', function onData(chunk: Buffer) {
      text += chunk.toString('utf8')
      if (!text.includes('\n')) return
      clearTimeout(timer)
      socket.off('data', onData)
      res(text.slice(0, text.indexOf('\n')))
    })
    socket.once('end', () => fail(`the emulator fork server closed the connection before an emulator answered; see ${logFile}`))
    socket.write(JSON.stringify({ log: resolve(logFile), env }) + '\n')
  })
  socket.removeAllListeners('end')
  // the emulator's end closes when it stops; nothing more is read
  socket.resume()
  const { port, version, pid } = parseAnnouncement(first)
  return { process: new ForkedEmulatorProcess(socket, pid ?? 0), port, version }
}

/** A fork server: one Python that has imported moto once and forks an emulator per request. */
export interface ForkServer {
  socketPath: string
  stop(): Promise<void>
}

/**
 * Starts `moto_runner.py --fork-server` on a Unix socket under `dir`. It stops when
 * {@link ForkServer.stop} closes its stdin or this process dies (emulators it forked stop
 * with their own requesters).
 */
export async function startForkServer(dir: string, opts: { startTimeoutMs?: number } = {}): Promise<ForkServer> {
  const interpreter = findMotoInterpreter()
  mkdirSync(dir, { recursive: true })
  const socketPath = join(dir, `moto-fork-${process.pid}-${counter++}.sock`)
  const child = spawn(interpreter.python, [join(projectRoot, 'scripts', 'moto_runner.py'), '--fork-server', socketPath], {
    stdio: ['pipe', 'pipe', 'inherit'],
    env: { ...process.env, PYTHONUNBUFFERED: '1' },
  })
  const timeoutMs = opts.startTimeoutMs ?? 60000
  await new Promise<void>((res, rej) => {
    const timer = setTimeout(() => rej(new EmulatorError(`the emulator fork server did not start within ${timeoutMs} ms`)), timeoutMs)
    createInterface({ input: child.stdout! }).once('line', () => {
      clearTimeout(timer)
      res()
    })
    child.once('exit', (code) => {
      clearTimeout(timer)
      rej(new EmulatorError(`the emulator fork server exited with code ${code} before it was ready`))
    })
  }).catch((err: unknown) => {
    child.kill('SIGKILL')
    throw err
  })
  const proc = new ChildEmulatorProcess(child)
  return { socketPath, stop: () => proc.stop() }
}
