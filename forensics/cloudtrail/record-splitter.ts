/**
 * Splits decompressed CloudTrail bytes into records without building the whole document:
 * a CloudTrail log file is one JSON object `{"Records":[{...},{...}]}`, which may be
 * hundreds of MB, so we scan bytes, track strings and nesting, and hand out each record's
 * position as soon as it closes. Memory is bounded by the largest single record. Exports of
 * events as JSON lines (one event per line, as Logstash or Splunk write them) are split
 * by line instead; the format is decided from the first bytes.
 *
 * Speed (issue 17: a slice runs at decompression speed): documents are scanned by a small
 * WebAssembly module (record-scan.wat: SIMD on 16-byte blocks, about 0.9 µs per 650-byte
 * record against 2.9 µs for the JavaScript scan it replaced, which skipped strings with
 * `indexOf`); a record is handed out as a position in the decompressed chunk, not a copy,
 * so a record that the prefilter rules out costs no allocation. Only a record cut by a
 * chunk boundary is copied.
 */

import { RECORD_SCAN_WASM } from './record-scan-wasm.js'

const NEWLINE = 0x0a

/**
 * Receives each record: its bytes are `buf[start, end)`. `buf` is the decompressed chunk (or,
 * for a record cut by a chunk boundary, a fresh copy) and is valid only during the call:
 * copy what you keep. `where` is the record's number (documents) or line number (lines).
 */
export type RecordSink = (buf: Buffer, start: number, end: number, where: number) => void

/** Limits for one file. */
export interface SplitterLimits {
  /** a record longer than this is an error (default 64 MiB) */
  maxRecordBytes?: number
}

/** A structural problem found while splitting (the file keeps being processed where possible). */
export class SplitError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'SplitError'
  }
}

/** Bytes scanned per call: the input area of the scanner's memory (record-scan.wat) */
const WINDOW = 1024 * 1024
/** where the input area starts in the scanner's memory; below it, the (start, end) pairs */
const INPUT_AT = 131072
/** scan() results: the window is done; the pair list is full; ']' closed the Records array; an unexpected byte between records */
const SCAN_FULL = 1
const SCAN_END = 2
const SCAN_UNEXPECTED = 3

interface Scanner {
  scan(from: number, to: number): number
  depth: WebAssembly.Global
  instr: WebAssembly.Global
  esc: WebAssembly.Global
  open: WebAssembly.Global
  nout: WebAssembly.Global
  pos: WebAssembly.Global
  bytes: Uint8Array
  pairs: Int32Array
}

let compiled: WebAssembly.Module | undefined
/** Scanners of this thread not in use. */
const idle: Scanner[] = []
/**
 * A scanner for one chunk's scan, given back with {@link release}: usually the thread's
 * only one, but a sink that splits another document while it is called (a scan inside a
 * scan) gets a second, so the two never share memory or state.
 */
function acquire(): Scanner {
  const free = idle.pop()
  if (free) return free
  compiled ??= new WebAssembly.Module(Buffer.from(RECORD_SCAN_WASM, 'base64'))
  const e = new WebAssembly.Instance(compiled).exports as unknown as Omit<Scanner, 'bytes' | 'pairs'> & { memory: WebAssembly.Memory }
  return { ...e, scan: e.scan, bytes: new Uint8Array(e.memory.buffer), pairs: new Int32Array(e.memory.buffer, 0, INPUT_AT / 4) }
}
const release = (x: Scanner): void => void idle.push(x)

type Mode = 'detect' | 'document' | 'lines' | 'after'

const RECORDS_HEAD = /^\s*\{\s*"Records"\s*:\s*\[/

/**
 * Incremental splitter. Call `push(chunk)` for each decompressed chunk and `end()` once;
 * both may throw SplitError for unrecoverable structure (an unterminated record).
 */
export class RecordSplitter {
  /** records handed to the sink */
  records = 0
  /** 'document' for `{"Records":[...]}`, 'lines' for JSON lines */
  format: 'document' | 'lines' | 'unknown' = 'unknown'
  private mode: Mode = 'detect'
  private head: Buffer[] = []
  private headLen = 0
  private pieces: Buffer[] = []
  private piecesLen = 0
  /** nesting depth inside the current record (0 = between records) */
  private depth = 0
  private inString = false
  /** the previous chunk ended inside a string on a backslash that escapes this chunk's first byte */
  private escaped = false
  private lineNo = 0
  private readonly maxRecordBytes: number

  constructor(
    private readonly sink: RecordSink,
    limits: SplitterLimits = {},
  ) {
    this.maxRecordBytes = limits.maxRecordBytes ?? 64 * 1024 * 1024
  }

  /** Feeds decompressed bytes. */
  push(chunk: Buffer): void {
    if (this.mode === 'detect') {
      this.head.push(chunk)
      this.headLen += chunk.length
      // usually the first chunk alone decides: no copy
      const all = this.head.length === 1 ? chunk : Buffer.concat(this.head)
      const text = all.toString('latin1', 0, Math.min(this.headLen, 256))
      const m = RECORDS_HEAD.exec(text)
      if (!m && this.headLen < 256 && /^\s*(\{\s*("R?e?c?o?r?d?s?"?\s*:?\s*)?)?$/.test(text)) return
      this.head = []
      if (m) {
        this.mode = 'document'
        this.format = 'document'
        chunk = all.subarray(Buffer.byteLength(m[0], 'latin1'))
      } else {
        this.mode = 'lines'
        this.format = 'lines'
        chunk = all
      }
    }
    if (this.mode === 'document') this.pushDocument(chunk)
    else if (this.mode === 'lines') this.pushLines(chunk)
  }

  /** Signals the end of input; throws SplitError when a record or the document is unterminated. */
  end(): void {
    if (this.mode === 'detect') {
      const all = Buffer.concat(this.head)
      this.head = []
      if (all.toString('utf8').trim() === '') return
      this.mode = 'lines'
      this.format = 'lines'
      this.pushLines(all)
    }
    if (this.mode === 'lines') {
      if (this.piecesLen > 0) {
        const line = Buffer.concat(this.pieces)
        this.emitLine(line, 0, line.length)
      }
      this.pieces = []
      this.piecesLen = 0
      return
    }
    if (this.mode === 'document') {
      if (this.depth > 0) throw new SplitError(`unterminated record #${this.records + 1} at end of data (truncated file?)`)
      throw new SplitError(`the Records array is not closed (truncated file?) after ${this.records} records`)
    }
  }

  private pushLines(chunk: Buffer): void {
    let start = 0
    for (;;) {
      const nl = chunk.indexOf(NEWLINE, start)
      if (nl < 0) break
      if (this.piecesLen) {
        const line = Buffer.concat([...this.pieces, chunk.subarray(start, nl)])
        this.pieces = []
        this.piecesLen = 0
        this.emitLine(line, 0, line.length)
      } else this.emitLine(chunk, start, nl)
      start = nl + 1
    }
    if (start < chunk.length) {
      const rest = chunk.subarray(start)
      this.piecesLen += rest.length
      if (this.piecesLen > this.maxRecordBytes) {
        this.pieces = []
        this.piecesLen = 0
        throw new SplitError(`line ${this.lineNo + 1} is longer than ${this.maxRecordBytes} bytes`)
      }
      this.pieces.push(Buffer.from(rest))
    }
  }

  private emitLine(buf: Buffer, a: number, b: number): void {
    this.lineNo++
    while (a < b && (buf[a] === 0x20 || buf[a] === 0x09 || buf[a] === 0x0d)) a++
    while (b > a && (buf[b - 1] === 0x20 || buf[b - 1] === 0x09 || buf[b - 1] === 0x0d)) b--
    if (a === b) return
    this.records++
    this.sink(buf, a, b, this.lineNo)
  }

  /**
   * The document scan, in windows of at most WINDOW bytes copied into the scanner's memory
   * (record-scan.wat). The scanner keeps depth, string and escape state across windows and
   * chunks (they go back to this splitter's fields after each chunk, so splitters can take
   * turns on one scanner) and lists each record that closes as a pair of window offsets.
   */
  private pushDocument(chunk: Buffer): void {
    const x = acquire()
    try {
      this.scanDocument(chunk, x)
    } finally {
      release(x)
    }
  }

  private scanDocument(chunk: Buffer, x: Scanner): void {
    const n = chunk.length
    // where the current record starts in this chunk (0 when it began in an earlier chunk)
    let recStart = this.depth > 0 ? 0 : -1
    x.depth.value = this.depth
    x.instr.value = this.inString ? 1 : 0
    x.esc.value = this.escaped ? 1 : 0
    for (let base = 0; base < n; base += WINDOW) {
      const w = Math.min(WINDOW, n - base)
      x.bytes.set(chunk.subarray(base, base + w), INPUT_AT)
      x.open.value = -1
      let from = 0
      for (;;) {
        x.nout.value = 0
        const status = x.scan(from, w)
        const closed = x.nout.value
        for (let k = 0; k < closed; k++) {
          const s = x.pairs[2 * k]
          const e = base + x.pairs[2 * k + 1]
          this.records++
          if (s < 0 && this.piecesLen) {
            const raw = Buffer.concat([...this.pieces, chunk.subarray(0, e)])
            this.pieces = []
            this.piecesLen = 0
            this.sink(raw, 0, raw.length, this.records)
          } else this.sink(chunk, s < 0 ? recStart : base + s, e, this.records)
          recStart = -1
        }
        if (x.open.value >= 0) recStart = base + x.open.value
        if (status === SCAN_FULL) {
          from = x.pos.value
          continue
        }
        if (status === SCAN_END) {
          this.mode = 'after'
          this.depth = 0
          return
        }
        if (status === SCAN_UNEXPECTED) {
          const c = x.bytes[INPUT_AT + x.pos.value]
          throw new SplitError(`unexpected byte '${String.fromCharCode(c)}' between records after record #${this.records}`)
        }
        break
      }
    }
    this.depth = x.depth.value
    this.inString = x.instr.value === 1
    this.escaped = x.esc.value === 1
    if (this.depth > 0 && recStart >= 0) {
      const rest = chunk.subarray(recStart)
      this.piecesLen += rest.length
      if (this.piecesLen > this.maxRecordBytes) throw new SplitError(`record #${this.records + 1} is longer than ${this.maxRecordBytes} bytes`)
      // Copy: the chunk's memory may be reused by the decompressor.
      this.pieces.push(Buffer.from(rest))
    }
  }
}
