/**
 * Runs YARA scans on a worker thread so each object gets a hard time budget: the
 * WebAssembly engine has no clock of its own (YARA-X's `setTimeoutMs` never fires in
 * WebAssembly), so a scan past its budget is stopped by terminating the worker; the next
 * scan starts a fresh worker with the same rules.
 */
import { Worker } from 'node:worker_threads'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { ForensicsError } from '../errors.js'
import { compileYaraModule, RuleLoadError, type RuleMatch, type RuleSource } from './yara-engine.js'
import type { FromScanWorker, ToScanWorker } from './scan-protocol.js'

/** File name of the worker in the Lambda bundle (next to `index.mjs`). */
export const BUNDLED_WORKER_FILE = 'inspection-worker.mjs'

/** A scan took longer than its budget; the object's verdict is `error`. */
export class ScanBudgetExceeded extends ForensicsError {
  constructor(message: string) {
    super(message)
    this.name = 'ScanBudgetExceeded'
  }
}

/** The worker entry: from source (tests, CLI), or the bundled file next to the handler. */
export function scanWorkerEntry(): URL {
  const ts = new URL('./scan-worker.ts', import.meta.url)
  if (import.meta.url.endsWith('.ts') && existsSync(fileURLToPath(ts))) return ts
  return new URL(`./${BUNDLED_WORKER_FILE}`, import.meta.url)
}

function startWorker(): Worker {
  const entry = scanWorkerEntry()
  // From source a worker does not inherit the TypeScript loader: register it first.
  return entry.pathname.endsWith('.ts')
    ? new Worker(`import(${JSON.stringify(new URL('../../scripts/ts-register.mjs', import.meta.url).href)}).then(() => import(${JSON.stringify(entry.href)}))`, { eval: true })
    : new Worker(entry)
}

/** Compiled rules on a worker thread; create with {@link YaraScanner.load}. */
export class YaraScanner {
  #worker?: Worker
  #nextId = 1
  #listener?: (m: FromScanWorker) => void
  #failure?: (e: Error) => void
  /** how many times a worker was stopped for exceeding a budget (tests, logs) */
  restarts = 0

  private constructor(private readonly sources: readonly RuleSource[]) {}

  /**
   * Compiles `sources` on a new worker. Throws {@link RuleLoadError} naming the first file
   * that does not compile: a scanner with part of the rules never exists.
   */
  static async load(sources: readonly RuleSource[]): Promise<YaraScanner> {
    const s = new YaraScanner(sources)
    await s.#start()
    return s
  }

  async #start(): Promise<void> {
    const worker = startWorker()
    worker.unref()
    this.#worker = worker
    // events of a worker stopped for its budget must not reach the next worker's request
    const mine = (): boolean => this.#worker === worker
    worker.on('message', (m: FromScanWorker) => mine() && this.#listener?.(m))
    worker.on('error', (e) => mine() && this.#failure?.(e))
    worker.on('exit', (code) => mine() && this.#failure?.(new ForensicsError(`the YARA scan worker exited (code ${code})`)))
    const module = await compileYaraModule()
    const reply = await this.#request({ type: 'load', sources: [...this.sources], module }, (m) => m.type === 'loaded' || m.type === 'load-failed', undefined)
    if (reply.type === 'load-failed') {
      await this.close()
      throw new RuleLoadError(reply.message, { field: reply.file })
    }
  }

  #request(msg: ToScanWorker, accept: (m: FromScanWorker) => boolean, budgetMs: number | undefined, transfer?: ArrayBuffer[]): Promise<FromScanWorker> {
    const worker = this.#worker as Worker
    return new Promise<FromScanWorker>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined
      const done = (): void => {
        if (timer) clearTimeout(timer)
        this.#listener = this.#failure = undefined
        worker.unref()
      }
      this.#listener = (m) => {
        if (!accept(m)) return
        done()
        resolve(m)
      }
      this.#failure = (e) => {
        done()
        this.#worker = undefined
        reject(e)
      }
      if (budgetMs !== undefined) {
        timer = setTimeout(() => {
          done()
          this.#worker = undefined
          this.restarts++
          void worker.terminate()
          reject(new ScanBudgetExceeded(`YARA scan exceeded its time budget of ${budgetMs} ms; the object is reported as an error (raise inspection.timeBudgetMs or simplify the rules)`))
        }, budgetMs)
      }
      worker.ref()
      worker.postMessage(msg, transfer)
    })
  }

  /**
   * Scans `data` (transferred to the worker: do not use it afterwards) within `budgetMs`.
   * Rejects with {@link ScanBudgetExceeded} past the budget.
   */
  async scan(data: Uint8Array, budgetMs: number): Promise<RuleMatch[]> {
    if (!this.#worker) await this.#start()
    const id = this.#nextId++
    const reply = await this.#request({ type: 'scan', id, data }, (m) => 'id' in m && m.id === id, budgetMs, [data.buffer as ArrayBuffer])
    /* c8 ignore next */
    if (reply.type !== 'matches') throw new ForensicsError(`YARA scan failed: ${(reply as { message?: string }).message}`)
    return reply.matches
  }

  /** Stops the worker. */
  async close(): Promise<void> {
    const w = this.#worker
    this.#worker = undefined
    this.#failure = undefined
    if (w) await w.terminate()
  }
}
