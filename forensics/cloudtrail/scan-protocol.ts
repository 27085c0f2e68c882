/**
 * The messages between the ScanPool and its workers, and the worker side's handler
 * (kept here, not in the worker entry file, so it is testable in-process).
 */
import { createReadStream } from 'node:fs'
import { compileFilter, type SliceFilters, type TimeWindow } from './filters.js'
import { scanLogFile, type FileScanResult } from './log-file-scan.js'

/** Where a file's bytes come from. */
export type ScanSource = { kind: 'path'; path: string } | { kind: 'chunks' }

/** Pool → worker. */
export type ToWorker =
  | { type: 'start'; id: number; source: ScanSource; filters: SliceFilters; window: TimeWindow }
  | { type: 'chunk'; id: number; data: Uint8Array }
  | { type: 'end'; id: number }
  | { type: 'abort'; id: number; message: string }

/** Worker → pool. */
export type FromWorker = { type: 'ack'; id: number } | { type: 'result'; id: number; result: FileScanResult } | { type: 'failed'; id: number; message: string }

/** The part of a MessagePort the handler uses. */
export interface Port {
  on(event: 'message', listener: (msg: ToWorker) => void): unknown
  postMessage(msg: FromWorker): void
}

/** An async queue of chunks fed by messages; acknowledges each chunk as it is consumed. */
class ChunkQueue implements AsyncIterable<Uint8Array> {
  private items: Uint8Array[] = []
  private ended = false
  private failure?: Error
  private wake?: () => void
  constructor(private readonly onConsumed: () => void) {}
  push(c: Uint8Array): void {
    this.items.push(c)
    this.wake?.()
  }
  end(): void {
    this.ended = true
    this.wake?.()
  }
  fail(message: string): void {
    this.failure = new Error(message)
    this.wake?.()
  }
  async *[Symbol.asyncIterator](): AsyncGenerator<Uint8Array> {
    for (;;) {
      if (this.failure) throw this.failure
      const c = this.items.shift()
      if (c) {
        this.onConsumed()
        yield c
        continue
      }
      if (this.ended) return
      await new Promise<void>((res) => (this.wake = res))
      this.wake = undefined
    }
  }
}

async function* readPath(path: string): AsyncGenerator<Uint8Array> {
  for await (const c of createReadStream(path, { highWaterMark: 1024 * 1024 })) yield c as Buffer
}

/** Serves scan requests arriving on `port` (a worker's parentPort, or a test double). */
export function handleScanMessages(port: Port): void {
  const queues = new Map<number, ChunkQueue>()
  port.on('message', (msg) => {
    if (msg.type === 'start') {
      const filter = compileFilter(msg.filters, msg.window)
      let source: AsyncIterable<Uint8Array>
      if (msg.source.kind === 'path') source = readPath(msg.source.path)
      else {
        const q = new ChunkQueue(() => port.postMessage({ type: 'ack', id: msg.id }))
        queues.set(msg.id, q)
        source = q
      }
      scanLogFile(source, filter).then(
        (result) => {
          queues.delete(msg.id)
          port.postMessage({ type: 'result', id: msg.id, result })
        },
        /* c8 ignore next 4 */
        (err: Error) => {
          queues.delete(msg.id)
          port.postMessage({ type: 'failed', id: msg.id, message: err.message })
        },
      )
    } else if (msg.type === 'chunk') queues.get(msg.id)?.push(msg.data)
    else if (msg.type === 'end') queues.get(msg.id)?.end()
    else queues.get(msg.id)?.fail(msg.message)
  })
}
