/**
 * What the case report shows of one CloudTrail slice capture: its events (who did what,
 * from where, and whether it failed) from `events.jsonl.gz`, and the digest verdict of
 * every scanned log file from `slice.json`.
 *
 * Everything here must come out the same on any machine that reads the same bytes — the
 * report is re-derived by `forensics verify`, possibly on another Node version — so no
 * library error message (zlib, JSON.parse) ever reaches the output, only fixed wording.
 */
import { constants as zlibConstants, gunzipSync } from 'node:zlib'
import { asText } from './html.js'
import type { SliceInputs } from './report-inputs.js'

/** Most events the report shows (the whole case; the rest stay in the bundle). */
export const MAX_TIMELINE_EVENTS = 5000

/** Largest decompressed events file read whole. */
export const MAX_EVENTS_TEXT_BYTES = 64 * 1024 * 1024

/** How much of a larger events file is inflated for its first events (tried in order). */
const EVENTS_PREFIX_BYTES = [2 * 1024 * 1024, 32 * 1024]

/** One CloudTrail event as the report shows it. */
export interface TrailEventView {
  captureId: string
  /** epoch ms of eventTime; NaN when the event has no readable time */
  ms: number
  time: string
  eventId: string
  eventName: string
  eventSource: string
  region: string
  account: string
  /** the principal: ARN, else type and principal id, else the service that invoked */
  who: string
  userName: string
  accessKeyId: string
  /** the role an assumed-role session came from */
  issuer: string
  sourceIp: string
  userAgent: string
  /** bucket/key from the request, else the resources' ARNs */
  target: string
  readOnly?: boolean
  errorCode: string
  errorMessage: string
}

/** One scanned log or digest file and its verdict. */
export interface SliceFileView {
  where: string
  verdict: string
  reason: string
  matched: number
}

/** A slice capture as the report shows it. */
export interface SliceView {
  captureId: string
  window?: { start: string; end: string }
  eventsInSlice?: number
  verdicts: Record<string, number>
  files: SliceFileView[]
  chainFindings: number
  /** the first events in time order (at most {@link MAX_TIMELINE_EVENTS}) */
  events: TrailEventView[]
  /** events in events.jsonl.gz (non-empty lines), when it was read */
  eventLines?: number
  /** lines among those read that are not JSON objects */
  badLines: number
  /** why events or slice.json are not shown */
  notes: string[]
}

type Obj = Record<string, unknown>
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v)
const str = (v: unknown): string => asText(v)
const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0)

/** The who/what/where of one parsed CloudTrail record. */
export function eventView(captureId: string, r: Obj): TrailEventView {
  const u = isObj(r.userIdentity) ? r.userIdentity : {}
  const session = isObj(u.sessionContext) ? u.sessionContext : {}
  const issuer = isObj(session.sessionIssuer) ? session.sessionIssuer : {}
  const time = str(r.eventTime ?? r['@timestamp'])
  const p = isObj(r.requestParameters) ? r.requestParameters : {}
  const resources = Array.isArray(r.resources) ? r.resources.filter(isObj).map((x) => str(x.ARN)).filter(Boolean) : []
  const bucket = str(p.bucketName)
  const target = bucket ? (p.key !== undefined ? `${bucket}/${str(p.key)}` : bucket) : resources.join(', ')
  const principal = str(u.principalId)
  return {
    captureId,
    ms: time ? Date.parse(time) : NaN,
    time,
    eventId: str(r.eventID),
    eventName: str(r.eventName),
    eventSource: str(r.eventSource),
    region: str(r.awsRegion),
    account: str(r.recipientAccountId ?? u.accountId),
    who: str(u.arn) || (principal ? `${str(u.type) || 'principal'}:${principal}` : '') || str(u.invokedBy) || str(u.type),
    userName: str(u.userName),
    accessKeyId: str(u.accessKeyId),
    issuer: str(issuer.arn),
    sourceIp: str(r.sourceIPAddress),
    userAgent: str(r.userAgent),
    target,
    readOnly: typeof r.readOnly === 'boolean' ? r.readOnly : undefined,
    errorCode: str(r.errorCode),
    errorMessage: str(r.errorMessage),
  }
}

/**
 * Decompresses events.jsonl.gz: whole when it inflates to at most
 * {@link MAX_EVENTS_TEXT_BYTES}, else only a compressed prefix, enough for the first
 * events (a truncated stream inflates deterministically with a sync flush). A prefix of
 * very repetitive data can itself inflate past the limit, so a smaller one is tried next:
 * deflate expands at most ~1032:1, so 32 KiB always fits.
 */
function inflateEvents(gz: Buffer): { text: string; complete: boolean } | undefined {
  const tooLarge = (e: unknown): boolean => (e as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE'
  try {
    return { text: gunzipSync(gz, { maxOutputLength: MAX_EVENTS_TEXT_BYTES }).toString('utf8'), complete: true }
  } catch (e) {
    if (!tooLarge(e)) return undefined
  }
  for (const prefix of EVENTS_PREFIX_BYTES) {
    try {
      const head = gunzipSync(gz.subarray(0, prefix), { finishFlush: zlibConstants.Z_SYNC_FLUSH, maxOutputLength: MAX_EVENTS_TEXT_BYTES }).toString('utf8')
      // the last line may be cut: keep complete lines only
      return { text: head.slice(0, head.lastIndexOf('\n') + 1), complete: false }
    } catch (e) {
      if (!tooLarge(e)) return undefined
    }
  }
  /* c8 ignore next 2 -- unreachable: 32 KiB of deflate cannot exceed the limit */
  return undefined
}

/** Reads the events of a slice: the first `limit` lines are parsed, the rest only counted. */
function readEvents(view: SliceView, gz: Buffer, limit: number): void {
  const inflated = inflateEvents(gz)
  if (!inflated) {
    view.notes.push('events.jsonl.gz is not readable gzip (or inflates beyond any sensible size): its events are not shown here')
    return
  }
  if (!inflated.complete) view.notes.push(`events.jsonl.gz inflates to more than ${MAX_EVENTS_TEXT_BYTES / 1024 / 1024} MiB: only its first events were read for this report`)
  const { text } = inflated
  let lines = 0
  for (let at = 0; at < text.length; ) {
    let nl = text.indexOf('\n', at)
    if (nl < 0) nl = text.length
    const line = text.slice(at, nl)
    at = nl + 1
    if (line.trim() === '') continue
    lines++
    if (view.events.length + view.badLines >= limit) continue
    let record: unknown
    try {
      record = JSON.parse(line)
    } catch {
      record = undefined
    }
    if (isObj(record)) view.events.push(eventView(view.captureId, record))
    else view.badLines++
  }
  if (inflated.complete) view.eventLines = lines
}

/** Reads slice.json: window, counts, and each file's digest verdict. */
function readSliceDocument(view: SliceView, bytes: Buffer): void {
  let doc: unknown
  try {
    doc = JSON.parse(bytes.toString('utf8'))
  } catch {
    doc = undefined
  }
  if (!isObj(doc)) {
    view.notes.push('slice.json is not a JSON object: digest verdicts are not shown here')
    return
  }
  if (isObj(doc.window)) view.window = { start: str(doc.window.start), end: str(doc.window.end) }
  const counts = isObj(doc.counts) ? doc.counts : {}
  if (counts.events !== undefined) view.eventsInSlice = num(counts.events)
  const files = Array.isArray(doc.files) ? doc.files.filter(isObj) : []
  for (const f of files) {
    const where = f.bucket !== undefined ? `s3://${str(f.bucket)}/${str(f.key)}` : str(f.path ?? f.key)
    const verdict = f.verdict === undefined ? (f.source === 'lookup' ? 'lookup' : 'no verdict') : str(f.verdict)
    view.files.push({ where, verdict, reason: str(f.verdictReason), matched: num(f.matched) })
    view.verdicts[verdict] = (view.verdicts[verdict] ?? 0) + 1
  }
  view.chainFindings = Array.isArray(doc.chain) ? doc.chain.length : 0
}

/**
 * The report's view of one slice capture. `present` says which inputs the manifest
 * lists (a listed input that is absent here was too large or unreadable).
 */
export function readSliceView(captureId: string, inputs: SliceInputs | undefined, present: { events: boolean; slice: boolean }, limit = MAX_TIMELINE_EVENTS): SliceView {
  const view: SliceView = { captureId, verdicts: {}, files: [], chainFindings: 0, events: [], badLines: 0, notes: [] }
  if (inputs?.slice) readSliceDocument(view, inputs.slice)
  else view.notes.push(present.slice ? 'slice.json is too large to be read for this report' : 'the capture has no slice.json')
  if (inputs?.events) readEvents(view, inputs.events, limit)
  else view.notes.push(present.events ? 'events.jsonl.gz is too large to be read for this report: its events are not shown here' : 'the capture has no events.jsonl.gz')
  // a stable order for verdict counts, whatever order the files came in
  view.verdicts = Object.fromEntries(Object.entries(view.verdicts).sort(([a], [b]) => Number(a > b) - Number(a < b)))
  return view
}
