/**
 * Splits decompressed CloudTrail bytes into records without building the whole document:
 * a CloudTrail log file is one JSON object `{"Records":[{...},{...}]}`, which may be
 * hundreds of MB, so we scan bytes, track strings and nesting, and hand out each record's
 * bytes as soon as it closes. Memory is bounded by the largest single record. Exports of
 * events as JSON lines (one event per line, as Logstash or Splunk write them) are split
 * by line instead; the format is decided from the first bytes.
 */

const QUOTE = 0x22
const BACKSLASH = 0x5c
const LBRACE = 0x7b
const RBRACE = 0x7d
const LBRACKET = 0x5b
const RBRACKET = 0x5d
const NEWLINE = 0x0a

/** Receives each record's bytes (a fresh Buffer or a view valid only during the call). */
export type RecordSink = (raw: Buffer, where: number) => void

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
  private depth = 0
  private inString = false
  /** consecutive backslashes right before the current position inside a string */
  private backslashRun = 0
  private inRecord = false
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
      const text = Buffer.concat(this.head).toString('latin1', 0, Math.min(this.headLen, 256))
      const m = RECORDS_HEAD.exec(text)
      if (!m && this.headLen < 256 && /^\s*(\{\s*("R?e?c?o?r?d?s?"?\s*:?\s*)?)?$/.test(text)) return
      const all = Buffer.concat(this.head)
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
      if (this.piecesLen > 0) this.emitLine(Buffer.concat(this.pieces))
      this.pieces = []
      this.piecesLen = 0
      return
    }
    if (this.mode === 'document') {
      if (this.inRecord) throw new SplitError(`unterminated record #${this.records + 1} at end of data (truncated file?)`)
      throw new SplitError(`the Records array is not closed (truncated file?) after ${this.records} records`)
    }
  }

  private pushLines(chunk: Buffer): void {
    let start = 0
    for (;;) {
      const nl = chunk.indexOf(NEWLINE, start)
      if (nl < 0) break
      let line = chunk.subarray(start, nl)
      if (this.piecesLen) {
        line = Buffer.concat([...this.pieces, line])
        this.pieces = []
        this.piecesLen = 0
      }
      this.emitLine(line)
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

  private emitLine(line: Buffer): void {
    this.lineNo++
    let a = 0
    let b = line.length
    while (a < b && (line[a] === 0x20 || line[a] === 0x09 || line[a] === 0x0d)) a++
    while (b > a && (line[b - 1] === 0x20 || line[b - 1] === 0x09 || line[b - 1] === 0x0d)) b--
    if (a === b) return
    this.records++
    this.sink(line.subarray(a, b), this.lineNo)
  }

  private pushDocument(chunk: Buffer): void {
    const n = chunk.length
    let i = 0
    let recStart = this.inRecord ? 0 : -1
    while (i < n) {
      if (this.inString) {
        // Jump to the next quote; it closes the string unless an odd run of backslashes precedes it.
        const q = chunk.indexOf(QUOTE, i)
        if (q < 0) {
          let run = 0
          let j = n - 1
          while (j >= i && chunk[j] === BACKSLASH) {
            run++
            j--
          }
          this.backslashRun = j < i ? this.backslashRun + run : run
          i = n
          break
        }
        let run = 0
        let j = q - 1
        while (j >= i && chunk[j] === BACKSLASH) {
          run++
          j--
        }
        if (j < i) run += this.backslashRun
        this.backslashRun = 0
        i = q + 1
        if (run % 2 === 0) this.inString = false
        continue
      }
      const c = chunk[i]
      if (!this.inRecord) {
        if (c === LBRACE) {
          this.inRecord = true
          this.depth = 1
          recStart = i
        } else if (c === RBRACKET) {
          this.mode = 'after'
          return
        } else if (c !== 0x2c && c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) {
          throw new SplitError(`unexpected byte '${String.fromCharCode(c)}' between records after record #${this.records}`)
        }
        i++
        continue
      }
      if (c === QUOTE) {
        this.inString = true
        this.backslashRun = 0
      } else if (c === LBRACE || c === LBRACKET) this.depth++
      else if (c === RBRACE || c === RBRACKET) {
        this.depth--
        if (this.depth === 0) {
          let raw = chunk.subarray(recStart, i + 1)
          if (this.piecesLen) {
            raw = Buffer.concat([...this.pieces, raw])
            this.pieces = []
            this.piecesLen = 0
          }
          this.inRecord = false
          recStart = -1
          this.records++
          this.sink(raw, this.records)
        }
      }
      i++
    }
    if (this.inRecord && recStart >= 0) {
      const rest = chunk.subarray(recStart)
      this.piecesLen += rest.length
      if (this.piecesLen > this.maxRecordBytes) throw new SplitError(`record #${this.records + 1} is longer than ${this.maxRecordBytes} bytes`)
      // Copy: the chunk's memory may be reused by the decompressor.
      this.pieces.push(Buffer.from(rest))
    }
  }
}
