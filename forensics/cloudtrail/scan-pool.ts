/**
 * Runs `scanLogFile` on every core (Lambda with >1,769 MB has 2 vCPUs; so do these
 * machines): this thread scans one file at a time itself, and each worker thread one more.
 * By default there is one worker per core besides this thread's, so the cores are busy
 * without threads competing for them, and this thread starts scanning at once while the
 * workers start (a worker that loads the TypeScript hooks takes a fifth of a second). The
 * workers start only when enough files wait for a scanner (`startAfter`): a slice of a
 * handful of files is scanned on this thread alone.
 * Decompression runs in zlib's thread pool, overlapping the scan of the previous chunk. A
 * worker's file is either read by the worker from a path or pumped to it chunk by chunk
 * with acknowledgements, so at most a few chunks per worker are in memory. With
 * `workers: 0`, or when no worker can start, files are scanned in this thread only.
 */
import { Worker } from 'node:worker_threads'
import { availableParallelism } from 'node:os'
import { createReadStream, existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { compileFilter, type CompiledFilter, type SliceFilters, type TimeWindow } from './filters.js'
import { scanLogFile, type FileScanResult } from './log-file-scan.js'
import type { FromWorker, ToWorker } from './scan-protocol.js'

/** A file to scan: a local path, or a function opening its bytes (e.g. an S3 GetObject body). */
export type ScanJob = { kind: 'path'; path: string } | { kind: 'stream'; open: () => Promise<AsyncIterable<Uint8Array>> }

/** Options of a pool. */
export interface ScanPoolOptions {
  /** worker threads besides this thread; default: available cores - 1 (at most 3); 0 = scan in this thread only */
  workers?: number
  /** chunks in flight per streamed file (default 4) */
  window?: number
  /**
   * Workers start only once this many scans wait for a scanner (default 4; 0 = start them
   * with the pool): a worker costs more to start than a few small log files take to scan on
   * this thread (from source, where each worker loads the TypeScript hooks again, about half
   * a second of CPU), so a slice of a handful of files never starts one.
   */
  startAfter?: number
}

/** A worker thread died (it could not load, or crashed). */
/* c8 ignore next 6: only a crashing worker makes one (see the worker's error handler) */
class WorkerFailure extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'WorkerFailure'
  }
}

interface Slot {
  worker: Worker
  busy: boolean
  id?: number
  resolve?: (r: FileScanResult) => void
  reject?: (e: Error) => void
  ack?: () => void
}

/** The worker file next to the handler in the cloudtrail-slice Lambda bundle (stacks/bundle.ts). */
export const BUNDLED_SCAN_WORKER_FILE = 'cloudtrail-scan-worker.mjs'

/** The worker entry: from source (tests, CLI), or the bundled file next to the handler. */
export function workerEntry(): URL {
  const ts = new URL('./scan-worker.ts', import.meta.url)
  return import.meta.url.endsWith('.ts') && existsSync(fileURLToPath(ts)) ? ts : new URL(`./${BUNDLED_SCAN_WORKER_FILE}`, import.meta.url)
}

/** A pool of scanners bound to one filter and window. */
export class ScanPool {
  private readonly compiled: CompiledFilter
  private readonly slots: Slot[] = []
  private readonly waiting: Array<() => void> = []
  /** this thread is scanning a file */
  private localBusy = false
  private nextId = 1
  private readonly inflight: number
  /** how many worker threads may scan besides this thread */
  private maxWorkers: number
  private readonly startAfter: number

  constructor(
    private readonly filters: SliceFilters,
    private readonly window: TimeWindow,
    opts: ScanPoolOptions = {},
  ) {
    this.compiled = compileFilter(filters, window)
    this.inflight = opts.window ?? 4
    this.maxWorkers = Math.max(0, opts.workers ?? Math.min(3, availableParallelism() - 1))
    this.startAfter = opts.startAfter ?? 4
    if (this.startAfter === 0) while (this.slots.length < this.maxWorkers && this.addWorker());
  }

  /** Worker threads started so far (at most the `workers` option). */
  get workers(): number {
    return this.slots.length
  }

  /** Starts one more worker; false (and no more attempts) when none can start. */
  private addWorker(): boolean {
    try {
      this.slots.push(this.startWorker())
      return true
    } catch {
      /* c8 ignore next 3 */
      this.maxWorkers = this.slots.length
      return false
    }
  }

  private startWorker(): Slot {
    const entry = workerEntry()
    // Run from source (tests, CLI), a worker does not inherit the TypeScript loader:
    // register it inside the worker before importing the entry.
    const worker = entry.pathname.endsWith('.ts')
      ? new Worker(`import(${JSON.stringify(new URL('../../scripts/ts-register.mjs', import.meta.url).href)}).then(() => import(${JSON.stringify(entry.href)}))`, { eval: true })
      : new Worker(entry)
    const slot: Slot = { worker, busy: false }
    worker.on('message', (msg: FromWorker) => {
      if (msg.id !== slot.id) return
      if (msg.type === 'ack') slot.ack?.()
      else if (msg.type === 'result') this.finish(slot, () => slot.resolve?.(msg.result))
      /* c8 ignore next */ else this.finish(slot, () => slot.reject?.(new Error(msg.message)))
    })
    /* c8 ignore next 5 */
    worker.on('error', (err) => {
      // A dead worker leaves the pool; its file is scanned again by another scanner.
      this.slots.splice(this.slots.indexOf(slot), 1)
      this.finish(slot, () => slot.reject?.(new WorkerFailure(err.message)))
    })
    worker.unref()
    return slot
  }

  private finish(slot: Slot, settle: () => void): void {
    settle()
    slot.busy = false
    slot.worker.unref()
    slot.id = undefined
    slot.resolve = slot.reject = slot.ack = undefined
    this.waiting.shift()?.()
  }

  /** A free scanner: a worker, or this thread (`'here'`); waits for one in call order. */
  private async acquire(): Promise<Slot | 'here'> {
    for (;;) {
      // This thread first: it is ready now, a new worker is not.
      if (!this.localBusy) {
        this.localBusy = true
        return 'here'
      }
      // enough scans wait for this thread to pay for another worker's start
      if (!this.slots.some((s) => !s.busy) && this.slots.length < this.maxWorkers && this.waiting.length + 1 >= this.startAfter) this.addWorker()
      const free = this.slots.find((s) => !s.busy)
      if (free) {
        free.busy = true
        // Keep the process alive only while a worker has work.
        free.worker.ref()
        return free
      }
      await new Promise<void>((res) => this.waiting.push(res))
    }
  }

  private async scanHere(job: ScanJob): Promise<FileScanResult> {
    try {
      const source = job.kind === 'path' ? createReadStream(job.path, { highWaterMark: 1024 * 1024 }) : readFailures(await job.open())
      return await scanLogFile(source as AsyncIterable<Uint8Array>, this.compiled)
    } finally {
      this.localBusy = false
      this.waiting.shift()?.()
    }
  }

  /** Scans one file; never rejects for bad content (that is in the result), only for I/O failures of `open`. */
  async scan(job: ScanJob): Promise<FileScanResult> {
    const slot = await this.acquire()
    if (slot === 'here') return this.scanHere(job)
    try {
      return await this.scanOnWorker(slot, job)
    } catch (err) {
      /* c8 ignore next */
      if (err instanceof WorkerFailure) return this.scan(job)
      throw err
    }
  }

  private async scanOnWorker(slot: Slot, job: ScanJob): Promise<FileScanResult> {
    const id = this.nextId++
    slot.id = id
    const done = new Promise<FileScanResult>((resolve, reject) => {
      slot.resolve = resolve
      slot.reject = reject
    })
    const post = (m: ToWorker, transfer?: ArrayBuffer[]): void => slot.worker.postMessage(m, transfer)
    if (job.kind === 'path') {
      post({ type: 'start', id, source: { kind: 'path', path: job.path }, filters: this.filters, window: this.window })
      return done
    }
    let source: AsyncIterable<Uint8Array>
    try {
      source = await job.open()
    } catch (err) {
      this.finish(slot, () => undefined)
      throw err
    }
    post({ type: 'start', id, source: { kind: 'chunks' }, filters: this.filters, window: this.window })
    let pending = 0
    let wake: (() => void) | undefined
    slot.ack = () => {
      pending--
      wake?.()
    }
    try {
      for await (const c of source) {
        // Copy into a transferable buffer (S3 body chunks may share a pool).
        const copy = new Uint8Array(c)
        pending++
        post({ type: 'chunk', id, data: copy }, [copy.buffer as ArrayBuffer])
        while (pending >= this.inflight) await new Promise<void>((res) => (wake = res))
      }
      post({ type: 'end', id })
    } catch (err) {
      post({ type: 'abort', id, message: readFailure(err) })
    }
    return done
  }

  /** Stops the workers. */
  async close(): Promise<void> {
    await Promise.all(this.slots.map((s) => s.worker.terminate()))
    this.slots.length = 0
  }
}

/** How a failed read of a streamed file is reported, whichever thread scanned it. */
function readFailure(err: unknown): string {
  return `reading the file failed: ${(err as Error).message}`
}

/** The stream's chunks; a read failure is rethrown as {@link readFailure} says. */
async function* readFailures(source: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  try {
    yield* source
  } catch (err) {
    throw new Error(readFailure(err), { cause: err })
  }
}
