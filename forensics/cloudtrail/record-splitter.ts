/**
 * Splits decompressed CloudTrail bytes into records without building the whole document:
 * a CloudTrail log file is one JSON object `{"Records":[{...},{...}]}`, which may be
 * hundreds of MB, so we scan bytes, track strings and nesting, and hand out each record's
 * position as soon as it closes. Memory is bounded by the largest single record. Exports of
 * events as JSON lines (one event per line, as Logstash or Splunk write them) are split
 * by line instead; the format is decided from the first bytes.
 *
 * Speed (issue 17: a slice runs at decompression speed): a string is skipped with one
 * `indexOf` of its closing quote (native), never byte by byte in JS; a record is handed out
 * as a position in the decompressed chunk, not a copy, so a record that the prefilter
 * rules out costs no allocation. Only a record cut by a chunk boundary is copied.
 */

const QUOTE = 0x22
const BACKSLASH = 0x5c
const LBRACE = 0x7b
const RBRACE = 0x7d
const LBRACKET = 0x5b
const RBRACKET = 0x5d
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
   * The document scan. State lives in locals while a chunk is scanned (V8 keeps them in
   * registers) and goes back to the fields at the end: depth, whether we are inside a
   * string, and whether a backslash at the chunk's end escapes the next chunk's first byte.
   */
  private pushDocument(chunk: Buffer): void {
    const n = chunk.length
    let depth = this.depth
    let inString = this.inString
    // where the current record starts in this chunk (0 when it began in an earlier chunk)
    let recStart = depth > 0 ? 0 : -1
    let i = 0
    if (this.escaped && n > 0) {
      // the first byte is the escaped character
      this.escaped = false
      i = 1
    }
    while (i < n) {
      if (inString) {
        // The closing quote: the next quote not escaped by an odd run of backslashes. A run
        // that reaches back to i is whole: i is the string's start, a chunk start with no
        // pending escape, or right after an escaped quote.
        const q = chunk.indexOf(QUOTE, i)
        if (q < 0) {
          let j = n - 1
          while (j >= i && chunk[j] === BACKSLASH) j--
          this.escaped = ((n - 1 - j) & 1) === 1
          i = n
          break
        }
        let j = q - 1
        while (j >= i && chunk[j] === BACKSLASH) j--
        i = q + 1
        if (((q - 1 - j) & 1) === 0) inString = false
        continue
      }
      const c = chunk[i++]
      if (c === QUOTE) {
        if (depth === 0) throw new SplitError(`unexpected byte '"' between records after record #${this.records}`)
        inString = true
      } else if (c === LBRACE || c === LBRACKET) {
        if (depth++ === 0) {
          if (c === LBRACKET) throw new SplitError(`unexpected byte '[' between records after record #${this.records}`)
          recStart = i - 1
        }
      } else if (c === RBRACE || c === RBRACKET) {
        if (depth === 0) {
          if (c === RBRACKET) {
            this.mode = 'after'
            this.depth = 0
            return
          }
          throw new SplitError(`unexpected byte '}' between records after record #${this.records}`)
        }
        if (--depth === 0) {
          this.records++
          if (this.piecesLen) {
            const raw = Buffer.concat([...this.pieces, chunk.subarray(0, i)])
            this.pieces = []
            this.piecesLen = 0
            this.sink(raw, 0, raw.length, this.records)
          } else this.sink(chunk, recStart, i, this.records)
          recStart = -1
        }
      } else if (depth === 0 && c !== 0x2c && c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) {
        throw new SplitError(`unexpected byte '${String.fromCharCode(c)}' between records after record #${this.records}`)
      }
    }
    this.depth = depth
    this.inString = inString
    if (depth > 0 && recStart >= 0) {
      const rest = chunk.subarray(recStart)
      this.piecesLen += rest.length
      if (this.piecesLen > this.maxRecordBytes) throw new SplitError(`record #${this.records + 1} is longer than ${this.maxRecordBytes} bytes`)
      // Copy: the chunk's memory may be reused by the decompressor.
      this.pieces.push(Buffer.from(rest))
    }
  }
}
