/**
 * Scans one log file: gunzip while streaming, SHA-256 of the stored and of the
 * uncompressed bytes (what CloudTrail digests list), split into records, pre-check the
 * filter's literal needles, parse only records that can match, apply filter and window.
 * A damaged file (truncated gzip, bad JSON) is reported with its error; the records read
 * before the damage are kept and flagged by the error.
 */
import { createHash } from 'node:crypto'
import { createGunzip } from 'node:zlib'
import { RecordSplitter } from './record-splitter.js'
import { recordLine } from './record-text.js'
import { eventTimeOf, type CloudTrailRecord, type CompiledFilter } from './filters.js'
import { Prefilter } from './prefilter.js'

/** A matching event, kept as its exact JSON text from the source (cheap to move between threads). */
export interface MatchedEvent {
  /** epoch ms from eventTime (or @timestamp) */
  time: number
  /** eventID, or `sha256:<hex of json>` when the event has none */
  id: string
  json: string
}

/** What scanning one file found. */
export interface FileScanResult {
  /** SHA-256 (hex) and size of the bytes as stored (compressed) */
  sha256: string
  size: number
  /** SHA-256 (hex) and size of the uncompressed bytes: what a digest's hashValue covers */
  uncompressedSha256: string
  uncompressedSize: number
  format: 'document' | 'lines' | 'unknown'
  records: number
  matched: MatchedEvent[]
  /** records without a usable eventTime/@timestamp (never in a windowed slice) */
  undated: number
  /** records that were not valid JSON objects */
  badRecords: number
  /** the first few record-level problems, each with its position */
  problems: string[]
  /** a file-level error (truncated gzip, unterminated document): the file is incomplete */
  error?: string
  oldestEventTime?: number
  newestEventTime?: number
}

const MAX_PROBLEMS = 10
/**
 * Decompressed bytes per chunk. Each chunk is one round trip to zlib's thread pool and one
 * pass of the splitter; 1 MiB chunks inflate about a third faster than 256 KiB ones.
 */
const GUNZIP_CHUNK = 1024 * 1024

/** Scans compressed (or plain) bytes of one log file against a compiled filter. */
export async function scanLogFile(source: AsyncIterable<Uint8Array>, filter: CompiledFilter): Promise<FileScanResult> {
  const stored = createHash('sha256')
  const inflated = createHash('sha256')
  const r: FileScanResult = {
    sha256: '',
    size: 0,
    uncompressedSha256: '',
    uncompressedSize: 0,
    format: 'unknown',
    records: 0,
    matched: [],
    undated: 0,
    badRecords: 0,
    problems: [],
  }
  const { start, end } = filter.window
  const prefilter = new Prefilter(filter.needles)
  const problem = (msg: string): void => {
    if (r.problems.length < MAX_PROBLEMS) r.problems.push(msg)
  }
  const splitter = new RecordSplitter((buf, from, to, where) => {
    // A JSON object starts with { and ends with }: anything else is reported even when the
    // needles would skip it.
    if (buf[from] !== 0x7b || buf[to - 1] !== 0x7d) {
      r.badRecords++
      problem(`${splitter.format === 'lines' ? 'line' : 'record'} ${where}: not a JSON object`)
      return
    }
    // Records that cannot match are not parsed (prefilter.ts: never drops a match).
    if (!prefilter.mayMatch(buf, from, to)) return
    let rec: CloudTrailRecord
    const text = buf.toString('utf8', from, to)
    try {
      // Text from { to } either fails to parse or is an object.
      rec = JSON.parse(text) as CloudTrailRecord
    } catch (err) {
      r.badRecords++
      problem(`${splitter.format === 'lines' ? 'line' : 'record'} ${where}: ${(err as Error).message}`)
      return
    }
    const t = eventTimeOf(rec)
    if (t === undefined) {
      r.undated++
      return
    }
    if (r.oldestEventTime === undefined || t < r.oldestEventTime) r.oldestEventTime = t
    if (r.newestEventTime === undefined || t > r.newestEventTime) r.newestEventTime = t
    if (t < start || t >= end || !filter.matches(rec)) return
    const json = recordLine(text)
    const id = typeof rec.eventID === 'string' && rec.eventID ? rec.eventID : 'sha256:' + createHash('sha256').update(json).digest('hex')
    r.matched.push({ time: t, id, json })
  })

  const onPlain = (chunk: Buffer): void => {
    inflated.update(chunk)
    r.uncompressedSize += chunk.length
    splitter.push(chunk)
  }
  try {
    const it = source[Symbol.asyncIterator]()
    let first = await it.next()
    while (!first.done && first.value.length === 0) first = await it.next()
    if (!first.done) {
      const firstChunk = Buffer.from(first.value.buffer, first.value.byteOffset, first.value.byteLength)
      const gz = firstChunk[0] === 0x1f && firstChunk[1] === 0x8b
      const rest = async function* (): AsyncGenerator<Buffer> {
        yield firstChunk
        for (let n = await it.next(); !n.done; n = await it.next()) yield Buffer.from(n.value.buffer, n.value.byteOffset, n.value.byteLength)
      }
      if (gz) await gunzipInto(rest(), stored, r, onPlain)
      else {
        for await (const c of rest()) {
          stored.update(c)
          r.size += c.length
          onPlain(c)
        }
      }
    }
    splitter.end()
  } catch (err) {
    r.error = (err as Error).message
  }
  r.records = splitter.records
  r.format = splitter.format
  r.sha256 = stored.digest('hex')
  r.uncompressedSha256 = inflated.digest('hex')
  return r
}

/** Streams gzip members through zlib with backpressure. */
async function gunzipInto(src: AsyncIterable<Buffer>, stored: ReturnType<typeof createHash>, r: FileScanResult, onPlain: (c: Buffer) => void): Promise<void> {
  const gunzip = createGunzip({ chunkSize: GUNZIP_CHUNK })
  let failure: Error | undefined
  let sinkError: Error | undefined
  gunzip.on('data', (c: Buffer) => {
    if (sinkError) return
    try {
      onPlain(c)
    } catch (err) {
      sinkError = err as Error
      gunzip.destroy()
    }
  })
  const done = new Promise<void>((resolve) => {
    gunzip.on('end', () => resolve())
    gunzip.on('error', (err) => {
      failure = err
      resolve()
    })
    gunzip.on('close', () => resolve())
  })
  for await (const c of src) {
    stored.update(c)
    r.size += c.length
    if (failure || sinkError) continue // keep hashing the stored bytes
    if (!gunzip.write(c)) await new Promise<void>((res) => {
      const go = (): void => {
        gunzip.off('drain', go)
        gunzip.off('close', go)
        res()
      }
      gunzip.on('drain', go)
      gunzip.on('close', go)
    })
  }
  if (!failure && !sinkError) gunzip.end()
  await done
  if (sinkError) throw sinkError
  if (failure) {
    const code = (failure as NodeJS.ErrnoException).code
    throw new Error(code === 'Z_BUF_ERROR' ? 'gzip data is truncated (unexpected end of file)' : `gzip data is corrupt: ${failure.message}`)
  }
}
