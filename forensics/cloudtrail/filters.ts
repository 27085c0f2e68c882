/**
 * Slice filters: which CloudTrail events belong to a slice. Kinds combine with AND, the
 * values of one kind with OR. Filters are plain data (they cross worker_threads and are
 * written into slice.json) and are compiled into a predicate once per worker.
 */
import { ValidationError } from '../errors.js'
import { compileIpMatcher, type IpMatcher } from './cidr.js'

/** A slice's filters as plain data. Absent or empty = no constraint of that kind. */
export interface SliceFilters {
  /**
   * principal ARNs; match `userIdentity.arn` or the assumed role's
   * `sessionContext.sessionIssuer.arn`: a role ARN matches every session of the role, and an
   * assumed-role ARN without its session name (`arn:aws:sts::A:assumed-role/R`) too
   */
  principals?: string[]
  /** IAM user names (`userIdentity.userName`, or the last segment of a `:user/` ARN) */
  userNames?: string[]
  /** access key ids (`userIdentity.accessKeyId`) */
  accessKeyIds?: string[]
  /** IP addresses or CIDR blocks matched against `sourceIPAddress` */
  sourceIps?: string[]
  eventNames?: string[]
  /** e.g. `s3.amazonaws.com` */
  eventSources?: string[]
  /** bucket names (an `arn:aws:s3:::B` ARN is taken as B), from `requestParameters.bucketName` or S3 resource ARNs */
  buckets?: string[]
  /** exact object keys, from `requestParameters.key` or S3 object ARNs */
  keys?: string[]
  /** object key prefixes (same sources as `keys`) */
  keyPrefixes?: string[]
  /** resource ARNs, from `resources[].ARN`, string values of `requestParameters`, and S3 ARNs built from bucketName/key */
  resourceArns?: string[]
  /** `any` = an errorCode is present, `none` = absent, otherwise the codes to match */
  errorCode?: 'any' | 'none' | string[]
  /** true = read-only events only, false = write events only (`readOnly` field) */
  readOnly?: boolean
}

/** A half-open window `[start, end)` in epoch milliseconds. */
export interface TimeWindow {
  start: number
  end: number
}

/** One CloudTrail record as parsed JSON. */
export type CloudTrailRecord = Record<string, unknown>

/** A compiled filter: the predicate plus literal needles for a cheap pre-check. */
export interface CompiledFilter {
  filters: SliceFilters
  window: TimeWindow
  /** True when the (parsed) record passes every filter kind (not the window). */
  matches(record: CloudTrailRecord): boolean
  /**
   * Groups of literal byte strings; a record without backslashes can only match when it
   * contains at least one needle of every group (every string value of a JSON text
   * without escapes appears verbatim in it).
   */
  needles: Buffer[][]
}

const S3_ARN = 'arn:aws:s3:::'

const ISO_INSTANT = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?(Z|[+-](\d{2}):?(\d{2})))?$/

/**
 * Parses a strict ISO 8601 instant (a date, or a date and time with `Z` or an offset);
 * throws a ValidationError naming the flag. Calendar fields are checked, not rolled over:
 * `2023-02-30` is refused rather than read as 2023-03-02.
 */
export function parseTime(text: string, field: string): number {
  const m = ISO_INSTANT.exec(text)
  const bad = (why: string): never => {
    throw new ValidationError(`${field} '${text}' is not an ISO 8601 time${why}; write e.g. 2026-11-29T10:00:00Z`, { field })
  }
  if (!m) return bad('')
  const [year, month, day, hour, minute, second, offH, offM] = [m[1], m[2], m[3], m[4], m[5], m[6], m[8], m[9]].map((x) => (x === undefined ? 0 : Number(x)))
  const daysInMonth = month >= 1 && month <= 12 ? new Date(Date.UTC(year, month, 0)).getUTCDate() : 0
  if (month < 1 || month > 12) bad(` (month ${m[2]} does not exist)`)
  if (day < 1 || day > daysInMonth) bad(` (${m[1]}-${m[2]} has no day ${m[3]})`)
  if (hour > 23 || minute > 59 || second > 59 || offH > 23 || offM > 59) bad(' (a time field is out of range)')
  const ms = Date.parse(text)
  if (!Number.isFinite(ms)) bad('')
  return ms
}

/** Builds and checks a window; `end` must be after `start`. */
export function makeWindow(start: string, end: string): TimeWindow {
  const w = { start: parseTime(start, 'start'), end: parseTime(end, 'end') }
  if (w.end <= w.start) throw new ValidationError(`window end ${end} is not after start ${start}; the window is [start, end)`, { field: 'end' })
  return w
}

/** Drops empty kinds and checks every value; throws a ValidationError naming the field. */
export function normalizeFilters(input: SliceFilters): SliceFilters {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) throw new ValidationError('filters must be an object of filter lists', { field: 'filters' })
  const out: SliceFilters = {}
  const lists = ['principals', 'userNames', 'accessKeyIds', 'sourceIps', 'eventNames', 'eventSources', 'buckets', 'keys', 'keyPrefixes', 'resourceArns'] as const
  for (const k of lists) {
    const v = input[k]
    if (v === undefined) continue
    // spread first: `some` skips the holes of a sparse array
    if (!Array.isArray(v) || [...(v as unknown[])].some((x) => typeof x !== 'string' || x === '')) {
      throw new ValidationError(`filter ${k} must be a list of non-empty strings`, { field: k })
    }
    if (v.length) out[k] = [...new Set(v)]
  }
  for (const ip of out.sourceIps ?? []) compileIpMatcher(ip)
  for (const p of out.principals ?? []) {
    if (!p.startsWith('arn:')) throw new ValidationError(`principal '${p}' is not an ARN (e.g. arn:aws:iam::123456789012:user/alice or arn:aws:iam::123456789012:role/R); for a user name use --user ${p}`, { field: 'principals' })
  }
  if (out.buckets) out.buckets = [...new Set(out.buckets.map(bucketOfArn))]
  const e = input.errorCode
  if (e !== undefined) {
    if (e === 'any' || e === 'none') out.errorCode = e
    else if (Array.isArray(e) && e.length && [...(e as unknown[])].every((x) => typeof x === 'string' && x)) out.errorCode = [...new Set(e)]
    else throw new ValidationError(`filter errorCode must be 'any', 'none' or a list of error codes`, { field: 'errorCode' })
  }
  if (input.readOnly !== undefined) {
    if (typeof input.readOnly !== 'boolean') throw new ValidationError('filter readOnly must be true or false', { field: 'readOnly' })
    out.readOnly = input.readOnly
  }
  return out
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined
}

function obj(v: unknown): Record<string, unknown> | undefined {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined
}

/** Resource ARNs of `resources[]`. */
function resourceArnsOf(r: CloudTrailRecord): string[] {
  const res = r.resources
  if (!Array.isArray(res)) return []
  const out: string[] = []
  for (const x of res) {
    const arn = str(obj(x)?.ARN)
    if (arn) out.push(arn)
  }
  return out
}

/** Bucket names an event touches: requestParameters.bucketName and S3 resource ARNs. */
export function bucketsOf(r: CloudTrailRecord): string[] {
  const out: string[] = []
  const b = str(obj(r.requestParameters)?.bucketName)
  if (b) out.push(b)
  for (const arn of resourceArnsOf(r)) {
    if (!arn.startsWith(S3_ARN)) continue
    const rest = arn.slice(S3_ARN.length)
    const slash = rest.indexOf('/')
    out.push(slash >= 0 ? rest.slice(0, slash) : rest)
  }
  return out
}

/** Object keys an event touches: requestParameters.key and S3 object ARNs. */
export function objectKeysOf(r: CloudTrailRecord): string[] {
  const out: string[] = []
  const k = str(obj(r.requestParameters)?.key)
  if (k !== undefined) out.push(k)
  for (const arn of resourceArnsOf(r)) {
    if (!arn.startsWith(S3_ARN)) continue
    const rest = arn.slice(S3_ARN.length)
    const slash = rest.indexOf('/')
    if (slash >= 0) out.push(rest.slice(slash + 1))
  }
  return out
}

function collectStrings(v: unknown, out: string[], depth = 0): void {
  if (depth > 32) return
  if (typeof v === 'string') out.push(v)
  else if (Array.isArray(v)) for (const x of v) collectStrings(x, out, depth + 1)
  else if (v !== null && typeof v === 'object') for (const x of Object.values(v)) collectStrings(x, out, depth + 1)
}

/** Resource ARNs: resources[].ARN, ARN-looking strings of requestParameters, S3 ARNs from bucketName/key. */
export function resourceArnsOfEvent(r: CloudTrailRecord): string[] {
  const out = resourceArnsOf(r)
  const params = obj(r.requestParameters)
  if (params) {
    const strings: string[] = []
    collectStrings(params, strings)
    for (const s of strings) if (s.startsWith('arn:')) out.push(s)
    const b = str(params.bucketName)
    if (b) {
      out.push(S3_ARN + b)
      const k = str(params.key)
      if (k !== undefined) out.push(`${S3_ARN}${b}/${k}`)
    }
  }
  return out
}

/** `arn:aws:s3:::B` (a bucket ARN) as `B`; anything else as it is. A key ARN is refused. */
function bucketOfArn(b: string): string {
  const m = /^arn:aws[a-z-]*:s3:::(.+)$/.exec(b)
  if (!m) return b
  if (m[1].includes('/')) throw new ValidationError(`bucket '${b}' is an object ARN; use --bucket ${m[1].slice(0, m[1].indexOf('/'))} with --key or --key-prefix`, { field: 'buckets' })
  return m[1]
}

/** The principal matchers: exact ARNs, plus `ARN/` prefixes for a role or an assumed role without session. */
function principalMatcher(principals: readonly string[]): (have: readonly string[]) => boolean {
  const exact = new Set(principals)
  // an assumed-role ARN without the session name names every session of the role
  const sessionPrefixes = principals.filter((p) => /^arn:aws[a-z-]*:sts::\d{12}:assumed-role\/[^/]+$/.test(p)).map((p) => p + '/')
  return (have) => have.some((h) => exact.has(h) || sessionPrefixes.some((p) => h.startsWith(p)))
}

/** The IAM user name of an event: `userIdentity.userName` of an IAMUser, or the ARN's last `:user/` segment. */
export function userNameOf(r: CloudTrailRecord): string | undefined {
  const id = obj(r.userIdentity)
  const arn = str(id?.arn)
  const fromArn = arn ? /:user\/(?:.*\/)?([^/]+)$/.exec(arn)?.[1] : undefined
  if (fromArn) return fromArn
  return str(id?.type) === 'IAMUser' ? str(id?.userName) : undefined
}

/** `userIdentity.arn` and the assumed role's session issuer ARN. */
export function principalsOf(r: CloudTrailRecord): string[] {
  const id = obj(r.userIdentity)
  const out: string[] = []
  const arn = str(id?.arn)
  if (arn) out.push(arn)
  const issuer = str(obj(obj(id?.sessionContext)?.sessionIssuer)?.arn)
  if (issuer) out.push(issuer)
  return out
}

/**
 * The event's time in epoch ms: `eventTime`, else the `@timestamp` of Logstash exports;
 * undefined when neither is a valid time.
 */
export function eventTimeOf(r: CloudTrailRecord): number | undefined {
  const t = str(r.eventTime) ?? str(r['@timestamp'])
  if (t === undefined) return undefined
  const ms = Date.parse(t)
  return Number.isFinite(ms) ? ms : undefined
}

const anyOf = (have: string[], want: Set<string>): boolean => have.some((h) => want.has(h))

/** Compiles filters (already normalized) and a window into a predicate plus needles. */
export function compileFilter(filters: SliceFilters, window: TimeWindow): CompiledFilter {
  const checks: Array<(r: CloudTrailRecord) => boolean> = []
  const needles: Buffer[][] = []
  const set = (v: string[] | undefined): Set<string> | undefined => (v && v.length ? new Set(v) : undefined)
  const addNeedles = (v: string[]): void => {
    needles.push(v.map((x) => Buffer.from(x)))
  }
  if (filters.principals?.length) {
    const match = principalMatcher(filters.principals)
    checks.push((r) => match(principalsOf(r)))
    addNeedles(filters.principals)
  }
  const users = set(filters.userNames)
  if (users) {
    checks.push((r) => users.has(userNameOf(r) ?? ''))
    addNeedles([...users])
  }
  const keys = set(filters.accessKeyIds)
  if (keys) {
    checks.push((r) => {
      const k = str(obj(r.userIdentity)?.accessKeyId)
      return k !== undefined && keys.has(k)
    })
    addNeedles([...keys])
  }
  if (filters.sourceIps?.length) {
    const ms: IpMatcher[] = filters.sourceIps.map(compileIpMatcher)
    checks.push((r) => {
      const ip = str(r.sourceIPAddress)
      return ip !== undefined && ms.some((m) => m.matches(ip) || m.source === ip)
    })
    // Only plain IPv4 addresses have one textual form.
    if (filters.sourceIps.every((x) => /^\d+\.\d+\.\d+\.\d+$/.test(x))) addNeedles(filters.sourceIps)
  }
  const names = set(filters.eventNames)
  if (names) {
    checks.push((r) => names.has(str(r.eventName) ?? ''))
    addNeedles([...names])
  }
  const sources = set(filters.eventSources)
  if (sources) {
    checks.push((r) => sources.has(str(r.eventSource) ?? ''))
    addNeedles([...sources])
  }
  const buckets = set(filters.buckets)
  if (buckets) {
    checks.push((r) => anyOf(bucketsOf(r), buckets))
    addNeedles([...buckets])
  }
  const exact = set(filters.keys)
  const prefixes = filters.keyPrefixes ?? []
  if (exact || prefixes.length) {
    checks.push((r) => objectKeysOf(r).some((k) => exact?.has(k) || prefixes.some((p) => k.startsWith(p))))
    addNeedles([...(exact ?? []), ...prefixes])
  }
  const arns = set(filters.resourceArns)
  if (arns) checks.push((r) => anyOf(resourceArnsOfEvent(r), arns))
  const err = filters.errorCode
  if (err === 'any') {
    checks.push((r) => r.errorCode !== undefined && r.errorCode !== null)
    addNeedles(['"errorCode"'])
  } else if (err === 'none') checks.push((r) => r.errorCode === undefined || r.errorCode === null)
  else if (err) {
    const codes = new Set(err)
    checks.push((r) => codes.has(str(r.errorCode) ?? ''))
    addNeedles(err)
  }
  if (filters.readOnly !== undefined) {
    const want = filters.readOnly
    checks.push((r) => r.readOnly === want)
  }
  return {
    filters,
    window,
    needles,
    matches: (r) => checks.every((c) => c(r)),
  }
}

/** True when a record's raw bytes (without backslashes) can still match the needles. */
export function passesNeedles(raw: Buffer, needles: Buffer[][]): boolean {
  for (const group of needles) {
    let found = false
    for (const n of group) {
      if (raw.indexOf(n) >= 0) {
        found = true
        break
      }
    }
    if (!found) return false
  }
  return true
}
