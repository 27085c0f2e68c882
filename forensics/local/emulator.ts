import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { createWriteStream, existsSync, mkdirSync, readFileSync } from 'node:fs'
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
}

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

/**
 * A moto server running in server mode on a free loopback port. The child process reads
 * its stdin until EOF, so it also stops when this process dies without running any hook.
 */
export class Emulator {
  readonly endpoint: string
  readonly region: string
  readonly logFile: string
  readonly motoVersion: string
  readonly interpreter: MotoInterpreter
  #child: ChildProcess

  /** @internal use {@link startEmulator} */
  constructor(child: ChildProcess, port: number, motoVersion: string, region: string, logFile: string, interpreter: MotoInterpreter) {
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
    return this.#child.exitCode === null && this.#child.signalCode === null
  }

  /** Process id of the emulator. */
  get pid(): number | undefined {
    return this.#child.pid
  }

  /** Stops synchronously (used by exit hooks). */
  kill(): void {
    running.delete(this)
    if (this.running) this.#child.kill('SIGKILL')
  }

  /** Stops the emulator and waits for the process to exit. */
  async stop(): Promise<void> {
    running.delete(this)
    if (!this.running) return
    const exited = new Promise<void>((res) => this.#child.once('exit', () => res()))
    this.#child.stdin?.end()
    const timer = setTimeout(() => this.#child.kill('SIGKILL'), 3000)
    await exited
    clearTimeout(timer)
  }
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
  const log = createWriteStream(logFile, { flags: 'a' })
  const child = spawn(interpreter.python, [join(projectRoot, 'scripts', 'moto_runner.py'), '0'], {
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...process.env, PYTHONUNBUFFERED: '1', ...(opts.awsManagedPolicies ? { MOTO_IAM_LOAD_MANAGED_POLICIES: 'true' } : {}) },
  })
  child.stderr!.pipe(log)
  installExitHooks()

  const first = await new Promise<string>((res, rej) => {
    const timer = setTimeout(() => rej(new EmulatorError(`emulator did not start within ${opts.startTimeoutMs ?? 30000} ms; see ${logFile}`)), opts.startTimeoutMs ?? 30000)
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
  const [portText, version] = first.trim().split(' ')
  const emulator = new Emulator(child, Number(portText), version ?? 'unknown', region, logFile, interpreter)
  running.add(emulator)
  // wait until HTTP answers (the server thread may still be binding)
  const deadline = Date.now() + (opts.startTimeoutMs ?? 30000)
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
