/**
 * Where CloudTrail writes in S3, as documented by AWS:
 *
 *   [prefix/]AWSLogs/[o-orgid/]<account>/CloudTrail/<region>/YYYY/MM/DD/
 *       <account>_CloudTrail_<region>_YYYYMMDDTHHmmZ_<unique>.json.gz
 *   [prefix/]AWSLogs/[o-orgid/]<account>/CloudTrail-Digest/<region>/YYYY/MM/DD/
 *       <account>_CloudTrail-Digest_<region>_<trail>_<homeRegion>_YYYYMMDDTHHmmssZ[_backfill].json.gz
 *
 * A log file's key time is its delivery time, so a window's files are found under the
 * day prefixes from a little before `start` to `end` plus a late-delivery margin.
 */
import { ValidationError } from '../errors.js'
import type { TimeWindow } from './filters.js'

/** One trail scope: the log folder of an account (in an org or not) and a region. */
export interface TrailScope {
  /** `[prefix/]AWSLogs/[org/]account` without a trailing slash */
  root: string
  account: string
  orgId?: string
  region: string
}

/** A parsed log file key. */
export interface LogFileKey {
  key: string
  account: string
  region: string
  orgId?: string
  /** delivery time from the file name, epoch ms */
  time: number
}

/** A parsed digest file key. */
export interface DigestFileKey {
  key: string
  account: string
  region: string
  orgId?: string
  trailName: string
  homeRegion: string
  /** digest end time from the file name, epoch ms */
  time: number
  backfill: boolean
}

/** An `s3://bucket/prefix` location. */
export interface ArchiveLocation {
  bucket: string
  /** empty, or a prefix without leading/trailing slashes */
  prefix: string
}

const ACCOUNT = '(\\d{12})'
const REGION = '([a-z]{2}(?:-[a-z]+)+-\\d+)'
const ORG = '(?:(o-[a-z0-9]{10,32})/)?'
const LOG_KEY = new RegExp(`(?:^|/)AWSLogs/${ORG}${ACCOUNT}/CloudTrail/${REGION}/\\d{4}/\\d{2}/\\d{2}/\\2_CloudTrail_\\3_(\\d{8}T\\d{4})Z_[A-Za-z0-9]+\\.json(?:\\.gz)?$`)
const DIGEST_KEY = new RegExp(`(?:^|/)AWSLogs/${ORG}${ACCOUNT}/CloudTrail-Digest/${REGION}/\\d{4}/\\d{2}/\\d{2}/\\2_CloudTrail-Digest_\\3_(.+)_${REGION}_(\\d{8}T\\d{6})Z(_backfill)?\\.json\\.gz$`)

function compactTime(s: string): number {
  const iso = `${s.slice(0, 4)}-${s.slice(4, 6)}-${s.slice(6, 8)}T${s.slice(9, 11)}:${s.slice(11, 13)}:${s.length > 13 ? s.slice(13, 15) : '00'}Z`
  return Date.parse(iso)
}

/** Parses a log file key; undefined when the key is not a CloudTrail log file. */
export function parseLogFileKey(key: string): LogFileKey | undefined {
  const m = LOG_KEY.exec(key)
  if (!m) return undefined
  const time = compactTime(m[4])
  if (!Number.isFinite(time)) return undefined
  return { key, orgId: m[1], account: m[2], region: m[3], time }
}

/** Parses a digest key (standard or `_backfill`); undefined when it is not one. */
export function parseDigestKey(key: string): DigestFileKey | undefined {
  const m = DIGEST_KEY.exec(key)
  if (!m) return undefined
  const time = compactTime(m[6])
  if (!Number.isFinite(time)) return undefined
  return { key, orgId: m[1], account: m[2], region: m[3], trailName: m[4], homeRegion: m[5], time, backfill: m[7] !== undefined }
}

/** Parses `s3://bucket[/prefix]`; throws a ValidationError with an example. */
export function parseArchiveUrl(url: string): ArchiveLocation {
  const m = /^s3:\/\/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(?:\/(.*))?$/.exec(url)
  if (!m) throw new ValidationError(`archive '${url}' is not an s3://BUCKET/PREFIX URL (e.g. s3://org-trail-logs/cloudtrail)`, { field: 'archive' })
  return { bucket: m[1], prefix: (m[2] ?? '').replace(/^\/+|\/+$/g, '') }
}

/** `prefix/AWSLogs/` (or `AWSLogs/`). */
export function awsLogsRoot(loc: ArchiveLocation): string {
  return loc.prefix ? `${loc.prefix}/AWSLogs/` : 'AWSLogs/'
}

/** Builds a scope's root folder. */
export function scopeRoot(loc: ArchiveLocation, account: string, orgId?: string): string {
  return `${awsLogsRoot(loc)}${orgId ? orgId + '/' : ''}${account}`
}

/** The margins used to pick log files by delivery time. */
export interface DeliveryMargins {
  /** files delivered this long before `start` may still hold events at `start` (clock skew), ms */
  beforeMs: number
  /** late delivery: files delivered up to this long after `end` are read, ms */
  afterMs: number
}

/** Defaults: 15 minutes before (skew), 2 hours after (AWS delivers within ~5-15 minutes, sometimes later). */
export const DEFAULT_MARGINS: DeliveryMargins = { beforeMs: 15 * 60_000, afterMs: 2 * 3600_000 }

/** The delivery-time range whose files can hold events of the window. */
export function deliveryRange(window: TimeWindow, margins: DeliveryMargins = DEFAULT_MARGINS): TimeWindow {
  return { start: window.start - margins.beforeMs, end: window.end + margins.afterMs }
}

/** The `YYYY/MM/DD/` day folders a range `[start, end)` touches (UTC). */
export function dayFolders(range: TimeWindow): string[] {
  const out: string[] = []
  const d = new Date(range.start)
  d.setUTCHours(0, 0, 0, 0)
  for (let t = d.getTime(); t < range.end; t += 86_400_000) {
    const x = new Date(t)
    out.push(`${x.getUTCFullYear()}/${String(x.getUTCMonth() + 1).padStart(2, '0')}/${String(x.getUTCDate()).padStart(2, '0')}/`)
  }
  return out
}

/** Prefixes to list for a scope's log files or digests over a delivery range. */
export function listPrefixes(scope: TrailScope, range: TimeWindow, kind: 'CloudTrail' | 'CloudTrail-Digest'): string[] {
  return dayFolders(range).map((day) => `${scope.root}/${kind}/${scope.region}/${day}`)
}

/** `YYYYMMDDTHHmmZ` / `YYYYMMDDTHHmmssZ` for file names. */
export function compactUtc(ms: number, seconds: boolean): string {
  const iso = new Date(ms).toISOString()
  const base = iso.slice(0, 4) + iso.slice(5, 7) + iso.slice(8, 10) + 'T' + iso.slice(11, 13) + iso.slice(14, 16)
  return base + (seconds ? iso.slice(17, 19) : '') + 'Z'
}

/** The key CloudTrail would give a log file (used by generators and tests). */
export function logFileKey(loc: ArchiveLocation, scope: Omit<TrailScope, 'root'>, deliveredAt: number, unique: string): string {
  const d = new Date(deliveredAt).toISOString()
  const day = `${d.slice(0, 4)}/${d.slice(5, 7)}/${d.slice(8, 10)}`
  return `${scopeRoot(loc, scope.account, scope.orgId)}/CloudTrail/${scope.region}/${day}/${scope.account}_CloudTrail_${scope.region}_${compactUtc(deliveredAt, false)}_${unique}.json.gz`
}

/** The key CloudTrail would give a digest file (used by generators and tests). */
export function digestFileKey(loc: ArchiveLocation, scope: Omit<TrailScope, 'root'>, trailName: string, homeRegion: string, endTime: number, backfill = false): string {
  const d = new Date(endTime).toISOString()
  const day = `${d.slice(0, 4)}/${d.slice(5, 7)}/${d.slice(8, 10)}`
  return `${scopeRoot(loc, scope.account, scope.orgId)}/CloudTrail-Digest/${scope.region}/${day}/${scope.account}_CloudTrail-Digest_${scope.region}_${trailName}_${homeRegion}_${compactUtc(endTime, true)}${backfill ? '_backfill' : ''}.json.gz`
}
