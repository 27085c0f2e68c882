/**
 * Bundled functions run as Lambda runs them between cold starts: a container (a child
 * process that imported the bundle's `index.mjs` once, with the function's environment)
 * serves one invocation at a time and is reused for the next while it lives; a second
 * concurrent invocation starts a second container. A container whose process dies (a module
 * missing from the bundle, a crash) fails the invocation it was serving and is replaced.
 * What a handler caches at module level survives between its invocations, as in Lambda.
 *
 * {@link runBundledHandler} (bundled-handler.ts) is the cold, one-process-per-event form.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { processScratchFile, unpackBundle, type BundledRun } from './bundled-handler.js'

const RUNNER = `const m = await import(process.env.BUNDLE_ENTRY);
process.on('message', async (msg) => {
  try { const r = await m.handler(msg.event, { awsRequestId: msg.requestId, functionName: process.env.AWS_LAMBDA_FUNCTION_NAME, getRemainingTimeInMillis: () => 900000 });
    process.send({ id: msg.id, ok: true, result: r ?? null }) }
  catch (e) { process.send({ id: msg.id, ok: false, error: e.name + ': ' + e.message, ...(e.field ? { field: e.field } : {}) }) }
});
process.send({ ready: true });`

let runnerFile: string | undefined
function runner(): string {
  if (!runnerFile || !existsSync(runnerFile)) runnerFile = processScratchFile('forensics-warm-', 'warm-runner.mjs', RUNNER)
  return runnerFile
}

interface Reply {
  id?: number
  ready?: boolean
  ok?: boolean
  result?: unknown
  error?: string
  field?: string
}

/** One container of one function. */
class Container {
  readonly child: ChildProcess
  readonly ready: Promise<void>
  #stderr = ''
  #pending?: { id: number; resolve: (r: BundledRun) => void }
  #exited = false

  constructor(zipPath: string, functionName: string, env: Record<string, string>) {
    const dir = unpackBundle(zipPath)
    this.child = spawn(process.execPath, [runner()], {
      cwd: dir,
      env: { PATH: process.env.PATH, ...env, AWS_LAMBDA_FUNCTION_NAME: functionName, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true', BUNDLE_ENTRY: pathToFileURL(join(dir, 'index.mjs')).href },
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    })
    this.child.stderr?.on('data', (c: Buffer) => (this.#stderr = (this.#stderr + c.toString()).slice(-4000)))
    let started: () => void = () => undefined
    let failedToStart: (e: Error) => void = () => undefined
    this.ready = new Promise<void>((res, rej) => {
      started = res
      failedToStart = rej
    })
    this.child.on('message', (m: Reply) => {
      if (m.ready) return started()
      const p = this.#pending
      if (!p || m.id !== p.id) return
      this.#pending = undefined
      p.resolve({ ok: m.ok === true, ...(m.ok ? { result: m.result } : { error: m.error, ...(m.field !== undefined ? { field: m.field } : {}) }), calls: [] })
    })
    this.child.once('exit', (code, signal) => {
      this.#exited = true
      const error = `${functionName} exited ${code ?? signal}: ${this.#stderr.slice(-2000)}`
      failedToStart(new Error(error))
      const p = this.#pending
      this.#pending = undefined
      p?.resolve({ ok: false, error, calls: [] })
    })
  }

  get alive(): boolean {
    return !this.#exited
  }

  invoke(id: number, event: unknown, requestId: string): Promise<BundledRun> {
    return new Promise((resolve) => {
      this.#pending = { id, resolve }
      this.child.send({ id, event: event ?? null, requestId })
    })
  }

  stop(): void {
    if (!this.#exited) this.child.kill('SIGKILL')
  }
}

/** Warm containers per function; {@link WarmContainers.close} stops them all. */
export class WarmContainers {
  readonly #idle = new Map<string, Container[]>()
  readonly #all = new Set<Container>()
  #next = 0
  #closed = false

  /** Runs `event` on an idle container of the function (or a new one); see the module comment. */
  async run(zipPath: string, event: unknown, o: { functionName: string; env: Record<string, string>; requestId?: string }): Promise<BundledRun> {
    if (this.#closed) return { ok: false, error: `${o.functionName}: the local runtime is closed`, calls: [] }
    const key = JSON.stringify([zipPath, o.functionName, o.env])
    const idle = this.#idle.get(key) ?? []
    this.#idle.set(key, idle)
    let container = idle.pop()
    while (container && !container.alive) container = idle.pop()
    if (!container) {
      container = new Container(zipPath, o.functionName, o.env)
      this.#all.add(container)
      try {
        await container.ready
      } catch (e) {
        this.#all.delete(container)
        return { ok: false, error: (e as Error).message, calls: [] }
      }
    }
    const out = await container.invoke(++this.#next, event, o.requestId ?? 'local')
    if (container.alive && !this.#closed) idle.push(container)
    else this.#all.delete(container)
    return out
  }

  /** Containers started so far that still run. */
  get size(): number {
    return [...this.#all].filter((c) => c.alive).length
  }

  /** Stops every container. */
  close(): void {
    this.#closed = true
    for (const c of this.#all) c.stop()
    this.#all.clear()
    this.#idle.clear()
  }
}
