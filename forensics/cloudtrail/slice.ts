/**
 * A CloudTrail slice: the events of a window that pass the filters, read from the S3
 * archive (every scope, files scanned on worker threads, digests validated) and/or from
 * LookupEvents, deduplicated by eventID and sorted by eventTime, plus everything needed
 * to prove them offline (files, digests, keys, verdicts). Bad files are recorded with
 * their error and the rest is still processed.
 */
import { mib, progressMeter } from '../progress-meter.js'
import { readdir, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { DEFAULT_MARGINS, deliveryRange, type ArchiveLocation, type DeliveryMargins, type TrailScope } from './archive-layout.js'
import { discoverScopes, getObject, listDigestFiles, listLogFiles, openObject, type ListedLogFile, type ReadCoordinates, type S3Port, type StoredObject } from './archive-source.js'
import { validateDigests, type ChainFinding, type DigestCheck, type LogFileVerdict, type PublicKeySource, type TrailPublicKey } from './digest-validation.js'
import { normalizeFilters, type SliceFilters, type TimeWindow } from './filters.js'
import type { FileScanResult, MatchedEvent } from './log-file-scan.js'
import { cloudTrailPublicKeys, lookupEvents, type CloudTrailPort, type LookupOptions, type LookupResult } from './lookup-source.js'
import { ScanPool } from './scan-pool.js'
import { ValidationError } from '../errors.js'

/** What to slice. */
export interface SliceRequest {
  window: TimeWindow
  filters: SliceFilters
  archive?: { location: ArchiveLocation; accounts?: string[]; regions?: string[] }
  lookup?: { regions: string[] }
  margins?: DeliveryMargins
}

/** The clients a slice uses. */
export interface SliceDeps {
  s3?: S3Port
  cloudTrailFor?: (region: string) => CloudTrailPort
  /** overrides ListPublicKeys (default: through cloudTrailFor) */
  publicKeys?: PublicKeySource
  /** worker threads scanning besides this thread (default: cores - 1; 0 = this thread only) */
  workers?: number
  lookupOptions?: Partial<Omit<LookupOptions, 'regions' | 'clientFor'>>
  /** progress lines */
  progress?: (line: string) => void
}

/** One scanned file and its verdict. */
export interface ScannedFile extends Omit<FileScanResult, 'matched'> {
  source: 'archive' | 'dir'
  bucket?: string
  key?: string
  path?: string
  versionId?: string
  etag?: string
  lastModified?: string
  matched: number
  verdict?: LogFileVerdict
  digest?: string
  verdictReason?: string
}

/** A problem that did not stop the slice. */
export interface SliceError {
  what: string
  code: string
  message: string
}

/** Everything a slice produced. */
export interface SliceOutcome {
  request: SliceRequest
  events: MatchedEvent[]
  duplicatesDropped: number
  files: ScannedFile[]
  scopes: TrailScope[]
  digests: DigestCheck[]
  chain: ChainFinding[]
  digestObjects: StoredObject[]
  publicKeys: TrailPublicKey[]
  lookup?: Omit<LookupResult, 'events'> & { regions: string[]; events: number }
  errors: SliceError[]
}

/** Sorts by time, then eventID, then text, and keeps the first event of each eventID. */
export function dedupeAndSort(events: MatchedEvent[]): { events: MatchedEvent[]; dropped: number } {
  const sorted = [...events].sort((a, b) => a.time - b.time || (a.id < b.id ? -1 : a.id > b.id ? 1 : a.json < b.json ? -1 : a.json > b.json ? 1 : 0))
  const seen = new Set<string>()
  const out: MatchedEvent[] = []
  for (const e of sorted) {
    if (seen.has(e.id)) continue
    seen.add(e.id)
    out.push(e)
  }
  return { events: out, dropped: events.length - out.length }
}

function fileError(where: string, r: FileScanResult): SliceError[] {
  const out: SliceError[] = []
  if (r.error) out.push({ what: where, code: 'BadLogFile', message: `${where}: ${r.error}; records read before the damage are kept` })
  if (r.badRecords) out.push({ what: where, code: 'BadRecords', message: `${where}: ${r.badRecords} record(s) are not JSON objects (${r.problems.slice(0, 3).join('; ')})` })
  return out
}

/** Runs a slice over the archive and/or LookupEvents. */
export async function runSlice(req: SliceRequest, deps: SliceDeps): Promise<SliceOutcome> {
  const filters = normalizeFilters(req.filters)
  const progress = deps.progress ?? (() => undefined)
  const out: SliceOutcome = { request: { ...req, filters }, events: [], duplicatesDropped: 0, files: [], scopes: [], digests: [], chain: [], digestObjects: [], publicKeys: [], errors: [] }
  const all: MatchedEvent[] = []

  if (req.archive) {
    if (!deps.s3) throw new TypeError('runSlice: an archive slice needs an S3 client')
    const { location } = req.archive
    const range = deliveryRange(req.window, req.margins ?? DEFAULT_MARGINS)
    out.scopes = await discoverScopes(deps.s3, location, { accounts: req.archive.accounts, regions: req.archive.regions })
    progress(`archive s3://${location.bucket}/${location.prefix}: ${out.scopes.length} account/region scope(s)`)
    const pool = new ScanPool(filters, req.window, { workers: deps.workers })
    const keys = deps.publicKeys ?? (deps.cloudTrailFor ? cloudTrailPublicKeys(deps.cloudTrailFor) : undefined)
    try {
      for (const scope of out.scopes) {
        const files = await listLogFiles(deps.s3, location.bucket, scope, range)
        progress(`${scope.root} ${scope.region}: ${files.length} log file(s)`)
        const meter = deps.progress ? scanMeter(deps.progress, `${scope.root} ${scope.region}`, files.length) : undefined
        const scanned = await Promise.all(files.map((f) => scanArchiveFile(pool, deps.s3!, f).then((r) => (meter?.add(r.result.size, r.result.matched.length), r))))
        for (const { file, result } of scanned) {
          all.push(...result.matched)
          out.files.push(file)
          out.errors.push(...fileError(`s3://${file.bucket}/${file.key}`, result))
        }
        // Digests are delivered about an hour after the files they list.
        const digestRange = { start: range.start, end: range.end + 3 * 3600_000 }
        const listed = await listDigestFiles(deps.s3, location.bucket, scope, digestRange)
        if (!keys) {
          out.errors.push({ what: `${scope.root} ${scope.region}`, code: 'DigestsNotValidated', message: 'no CloudTrail client to call ListPublicKeys; digests were not validated' })
          continue
        }
        const s3 = deps.s3
        const v = await validateDigests(listed, (b, k) => getObject(s3, b, k), keys)
        out.digests.push(...v.digests)
        out.chain.push(...v.chain)
        out.digestObjects.push(...v.objects.values())
        for (const k of v.keysUsed.values()) if (!out.publicKeys.some((p) => p.fingerprint === k.fingerprint)) out.publicKeys.push(k)
        for (const c of v.chain) if (c.kind !== 'chain-restart') out.errors.push({ what: `s3://${location.bucket}/${c.digest}`, code: c.kind, message: c.message })
        for (const { file, result, listed } of scanned) {
          const j = v.judge({ bucket: listed.bucket, key: listed.key, time: listed.time, uncompressedSha256: result.uncompressedSha256 })
          file.verdict = j.verdict
          file.digest = j.digest
          file.verdictReason = j.reason
        }
      }
    } finally {
      await pool.close()
    }
  }

  if (req.lookup) {
    if (!deps.cloudTrailFor) throw new TypeError('runSlice: a LookupEvents slice needs a CloudTrail client factory')
    const r = await lookupEvents(filters, req.window, { regions: req.lookup.regions, clientFor: deps.cloudTrailFor, ...deps.lookupOptions })
    all.push(...r.events)
    out.lookup = { ...r, events: r.events.length, regions: req.lookup.regions }
    for (const p of r.problems) out.errors.push({ what: 'LookupEvents', code: 'BadLookupEvent', message: p })
    progress(`LookupEvents: ${r.events.length} matching of ${r.returned} returned in ${r.calls} call(s) (${r.throttled} throttled)`)
  }

  const d = dedupeAndSort(all)
  out.events = d.events
  out.duplicatesDropped = d.dropped
  return out
}

/** Progress of a scan per scope: files scanned of total, MiB, events matched, MiB/s. */
export function scanMeter(progress: (line: string) => void, label: string, total: number, now?: () => number): { add(bytes: number, matched: number): void } {
  return progressMeter(progress, (s) => `${label}: scanned ${s.items}/${total} file(s), ${mib(s.bytes)}, ${s.extra} event(s) matched, ${s.mibPerSecond.toFixed(1)} MiB/s`, { total, now })
}

async function scanArchiveFile(pool: ScanPool, s3: S3Port, f: ListedLogFile): Promise<{ file: ScannedFile; result: FileScanResult; listed: ListedLogFile }> {
  const coords: ReadCoordinates = {}
  let result: FileScanResult
  try {
    result = await pool.scan({ kind: 'stream', open: () => openObject(s3, f.bucket, f.key, coords) })
  } catch (err) {
    result = emptyResult((err as Error).message)
  }
  const { matched, ...rest } = result
  const file: ScannedFile = { ...rest, source: 'archive', bucket: f.bucket, key: f.key, versionId: coords.versionId, etag: coords.etag ?? f.etag, lastModified: coords.lastModified ?? f.lastModified, matched: matched.length }
  return { file, result, listed: f }
}

function emptyResult(error: string): FileScanResult {
  return { sha256: '', size: 0, uncompressedSha256: '', uncompressedSize: 0, format: 'unknown', records: 0, matched: [], undated: 0, badRecords: 0, problems: [], error }
}

/** Log-like files under a folder: *.json, *.json.gz, *.jsonl, *.jsonl.gz, *.gz (sorted). */
export async function listLocalLogFiles(dir: string): Promise<string[]> {
  const out: string[] = []
  const walk = async (d: string): Promise<void> => {
    const entries = await readdir(d, { withFileTypes: true })
    for (const e of entries) {
      const p = join(d, e.name)
      if (e.isDirectory()) await walk(p)
      else if (/\.(json|jsonl|ndjson)(\.gz)?$|\.gz$/.test(e.name) && !/CloudTrail-Digest/.test(p)) out.push(p)
    }
  }
  await walk(dir)
  return out.sort()
}

/** Offline slice of a folder of log files (no digests, no S3). */
export async function sliceDirectory(dir: string, window: TimeWindow, input: SliceFilters, opts: { workers?: number } = {}): Promise<SliceOutcome> {
  const filters = normalizeFilters(input)
  let info
  try {
    info = await stat(dir)
  } catch (err) {
    throw new ValidationError(`--from-dir ${dir} does not exist or cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).name}); give the folder holding the CloudTrail log files`, { field: 'from-dir', cause: err })
  }
  if (!info.isDirectory()) throw new ValidationError(`--from-dir ${dir} is not a folder; give the folder holding the CloudTrail log files`, { field: 'from-dir' })
  const paths = await listLocalLogFiles(dir)
  if (paths.length === 0) throw new ValidationError(`--from-dir ${dir} holds no log files (*.json, *.json.gz, *.jsonl, *.jsonl.gz, *.gz); check the path`, { field: 'from-dir' })
  const pool = new ScanPool(filters, window, { workers: opts.workers })
  const out: SliceOutcome = { request: { window, filters }, events: [], duplicatesDropped: 0, files: [], scopes: [], digests: [], chain: [], digestObjects: [], publicKeys: [], errors: [] }
  const all: MatchedEvent[] = []
  try {
    const results = await Promise.all(paths.map((p) => pool.scan({ kind: 'path', path: p })))
    results.forEach((r, i) => {
      const { matched, ...rest } = r
      all.push(...matched)
      out.files.push({ ...rest, source: 'dir', path: paths[i], matched: matched.length })
      out.errors.push(...fileError(paths[i], r))
    })
  } finally {
    await pool.close()
  }
  const d = dedupeAndSort(all)
  out.events = d.events
  out.duplicatesDropped = d.dropped
  return out
}
