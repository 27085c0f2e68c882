/**
 * The case report's content, computed from the signed evidence only: the manifests (and
 * their signatures), the custody chain, and the CloudTrail slices' events and verdicts.
 * A pure function of its {@link ReportSource}: no clock, no locale, no environment — the
 * same case state gives the same model on any machine, which is what lets
 * `forensics verify` re-derive the report and compare bytes.
 */
import { createPublicKey, type KeyObject } from 'node:crypto'
import { verifyCustodyChain, type ChainFinding, type CustodyEntry } from '../custody.js'
import type { ArtifactRecord, Finding, Manifest } from '../manifest.js'
import { verifyDigestSignature } from '../signer.js'
import { SLICE_COLLECTOR, SLICE_INPUT_PATHS, type ReportInputs } from './report-inputs.js'
import { MAX_TIMELINE_EVENTS, readSliceView, type SliceView, type TrailEventView } from './slice-view.js'

/** Most artifact rows in the report (the full list is bundle.json). */
export const MAX_ARTIFACT_ROWS = 5000

/** Buckets of the timeline's overview histogram. */
export const HISTOGRAM_BUCKETS = 48

/** One committed capture as the report reads it. */
export interface ReportCapture {
  captureId: string
  manifest: Manifest
  manifestSha256: string
  /** the detached signature, when present */
  signature?: Buffer
  /** member name of the manifest in the bundle */
  manifestMember: string
  /** member name of each artifact, by artifact path */
  artifactMembers: ReadonlyMap<string, string>
}

/** Everything the report is rendered from. */
export interface ReportSource {
  caseId: string
  bucket: string
  tool: { name: string; version: string }
  publicKeyPem: string
  publicKey: { fingerprint: string; signerKeyId: string }
  custodyHead: { seq: number; hash: string; time: string } | null
  /** in capture id order */
  captures: readonly ReportCapture[]
  /** stored custody entries (key as in the evidence bucket, exact bytes) */
  custody: readonly { seq: number; key: string; bytes: Buffer }[]
  inputs: ReportInputs
  /** what `forensics verify` checks, by name */
  checks: readonly { name: string; description: string }[]
}

/** The kinds of timeline items, in the order items of the same instant are listed. */
export const TIMELINE_KINDS = ['event', 'capture', 'finding', 'containment', 'custody'] as const
/** A kind of timeline item. */
export type TimelineKind = (typeof TIMELINE_KINDS)[number]

/** One row of the timeline. */
export type TimelineItem =
  | { kind: 'event'; ms: number; time: string; event: TrailEventView }
  | { kind: 'capture'; ms: number; time: string; capture: CaptureView }
  | { kind: 'finding'; ms: number; time: string; finding: Finding; captureId: string }
  | { kind: 'containment' | 'custody'; ms: number; time: string; entry: CustodyEntry }

/** A capture with what the report derived for it. */
export interface CaptureView {
  captureId: string
  manifest: Manifest
  manifestMember: string
  manifestSha256: string
  signature: 'verified' | 'invalid' | 'missing'
  bytes: number
  slice?: SliceView
}

/** One artifact row. */
export interface ArtifactRow {
  captureId: string
  member: string
  artifact: ArtifactRecord
}

/** One histogram bucket `[from, to)`. */
export interface HistogramBucket {
  from: number
  to: number
  count: number
  errors: number
}

/** Severities, most severe first; anything else a manifest says is listed last as given. */
export const SEVERITIES = ['critical', 'high', 'medium', 'low', 'info'] as const

/** The report's content. */
export interface ReportModel {
  source: ReportSource
  captures: CaptureView[]
  timeline: TimelineItem[]
  events: { shown: number; total: number; deduplicated: number; capped: boolean }
  findings: { severity: string; items: { captureId: string; finding: Finding }[] }[]
  containment: CustodyEntry[]
  custody: { seq: number; member: string; entry?: CustodyEntry }[]
  chainFindings: ChainFinding[]
  artifacts: ArtifactRow[]
  artifactsTotal: number
  artifactBytes: number
  histogram: HistogramBucket[]
  span?: { from: number; to: number }
}

/** A custody action that records a containment step (a future `contained` action). */
export const CONTAINMENT_ACTION = 'contained'

const cmp = (a: string, b: string): number => Number(a > b) - Number(a < b)
const msOf = (time: unknown): number => (typeof time === 'string' ? Date.parse(time) : NaN)

/** Orders timeline items: by time (unknown times last), then kind, then a stable key. */
function byTime(a: TimelineItem, b: TimelineItem): number {
  const at = Number.isFinite(a.ms) ? a.ms : Infinity
  const bt = Number.isFinite(b.ms) ? b.ms : Infinity
  if (at !== bt) return at < bt ? -1 : 1
  const k = TIMELINE_KINDS.indexOf(a.kind) - TIMELINE_KINDS.indexOf(b.kind)
  return k !== 0 ? k : cmp(itemKey(a), itemKey(b))
}

function itemKey(i: TimelineItem): string {
  if (i.kind === 'event') return `${i.event.eventId}\n${i.event.captureId}`
  if (i.kind === 'capture') return i.capture.captureId
  if (i.kind === 'finding') return `${i.captureId}\n${i.finding.severity}\n${i.finding.title}`
  return String(i.entry.seq).padStart(12, '0')
}

function parseEntry(bytes: Buffer): CustodyEntry | undefined {
  try {
    const e = JSON.parse(bytes.toString('utf8')) as unknown
    return typeof e === 'object' && e !== null && !Array.isArray(e) ? (e as CustodyEntry) : undefined
  } catch {
    return undefined
  }
}

/** The key parsed once (each signature then verifies ~4x faster); unparseable text stays text and verifies nothing. */
function publicKeyOf(pem: string): KeyObject | string {
  try {
    return createPublicKey(pem)
  } catch {
    return pem
  }
}

/** Counts items per bucket over `[from, to)`. */
export function histogram(items: readonly { ms: number; error: boolean }[], from: number, to: number, buckets = HISTOGRAM_BUCKETS): HistogramBucket[] {
  const width = Math.max(1, Math.ceil((to - from) / buckets))
  const out: HistogramBucket[] = []
  for (let b = from; b < to; b += width) out.push({ from: b, to: Math.min(to, b + width), count: 0, errors: 0 })
  for (const i of items) {
    if (!Number.isFinite(i.ms) || i.ms < from || i.ms >= to) continue
    const bucket = out[Math.floor((i.ms - from) / width)]
    bucket.count++
    if (i.error) bucket.errors++
  }
  return out
}

/** The events of every slice, deduplicated by eventID and cut to the first `limit` in time. */
function mergeEvents(slices: readonly SliceView[], limit: number): { events: TrailEventView[]; total: number; deduplicated: number; capped: boolean } {
  const seen = new Set<string>()
  const all: TrailEventView[] = []
  let deduplicated = 0
  for (const s of slices) {
    for (const e of s.events) {
      if (e.eventId && seen.has(e.eventId)) {
        deduplicated++
        continue
      }
      if (e.eventId) seen.add(e.eventId)
      all.push(e)
    }
  }
  const t = (e: TrailEventView): number => (Number.isFinite(e.ms) ? e.ms : Infinity)
  all.sort((a, b) => (t(a) !== t(b) ? (t(a) < t(b) ? -1 : 1) : cmp(a.eventId, b.eventId) || cmp(a.captureId, b.captureId)))
  // events beyond what each slice's file was read for are counted, not shown
  const unread = slices.reduce((n, s) => n + Math.max(0, (s.eventLines ?? s.eventsInSlice ?? s.events.length) - s.events.length - s.badLines), 0)
  return { events: all.slice(0, limit), total: all.length + unread, deduplicated, capped: all.length > limit || unread > 0 }
}

/** Builds the report model. */
export function buildReportModel(source: ReportSource, opts: { maxEvents?: number; maxArtifacts?: number } = {}): ReportModel {
  const key = publicKeyOf(source.publicKeyPem)
  const captures: CaptureView[] = source.captures.map((c) => {
    const isSlice = c.manifest.collector?.name === SLICE_COLLECTOR
    const listed = (path: string): boolean => c.manifest.artifacts.some((a) => a.path === path)
    return {
      captureId: c.captureId,
      manifest: c.manifest,
      manifestMember: c.manifestMember,
      manifestSha256: c.manifestSha256,
      signature: !c.signature ? 'missing' : verifyDigestSignature(key, c.manifestSha256, c.signature) ? 'verified' : 'invalid',
      bytes: c.manifest.artifacts.reduce((n, a) => n + (typeof a.size === 'number' ? a.size : 0), 0),
      slice: isSlice ? readSliceView(c.captureId, source.inputs.get(c.captureId), { events: listed(SLICE_INPUT_PATHS.events), slice: listed(SLICE_INPUT_PATHS.slice) }, opts.maxEvents ?? MAX_TIMELINE_EVENTS) : undefined,
    }
  })
  const merged = mergeEvents(
    captures.flatMap((c) => (c.slice ? [c.slice] : [])),
    opts.maxEvents ?? MAX_TIMELINE_EVENTS,
  )

  const custody = source.custody.map((s) => ({ seq: s.seq, member: `custody/${String(s.seq).padStart(8, '0')}.json`, entry: parseEntry(s.bytes) }))
  const chainFindings = verifyCustodyChain(source.custody, key, source.caseId)
  const entries = custody.flatMap((c) => (c.entry ? [c.entry] : []))
  const containment = entries.filter((e) => (e.action as string) === CONTAINMENT_ACTION)

  const timeline: TimelineItem[] = [
    ...merged.events.map((event): TimelineItem => ({ kind: 'event', ms: event.ms, time: event.time, event })),
    ...captures.map((capture): TimelineItem => ({ kind: 'capture', ms: msOf(capture.manifest.startedAt), time: String(capture.manifest.startedAt), capture })),
    ...captures.flatMap((c) => (Array.isArray(c.manifest.findings) ? c.manifest.findings : []).map((finding): TimelineItem => ({ kind: 'finding', ms: msOf(c.manifest.endedAt), time: String(c.manifest.endedAt), finding, captureId: c.captureId }))),
    ...entries.map((entry): TimelineItem => ({ kind: (entry.action as string) === CONTAINMENT_ACTION ? 'containment' : 'custody', ms: msOf(entry.time), time: String(entry.time ?? ''), entry })),
  ].sort(byTime)

  const findingItems = captures.flatMap((c) => (Array.isArray(c.manifest.findings) ? c.manifest.findings : []).map((finding) => ({ captureId: c.captureId, finding })))
  const severities = [...SEVERITIES, ...[...new Set(findingItems.map((f) => String(f.finding.severity)))].filter((s) => !(SEVERITIES as readonly string[]).includes(s)).sort(cmp)]
  const findings = severities
    .map((severity) => ({ severity, items: findingItems.filter((f) => String(f.finding.severity) === severity) }))
    .filter((g) => g.items.length > 0)

  const allArtifacts = captures.flatMap((c) => {
    const members = source.captures.find((s) => s.captureId === c.captureId)!.artifactMembers
    return c.manifest.artifacts.map((artifact) => ({ captureId: c.captureId, member: members.get(artifact.path) ?? '', artifact }))
  })
  const maxArtifacts = opts.maxArtifacts ?? MAX_ARTIFACT_ROWS

  const times = timeline.map((i) => i.ms).filter((ms) => Number.isFinite(ms))
  const span = times.length ? { from: times.reduce((a, b) => Math.min(a, b)), to: times.reduce((a, b) => Math.max(a, b)) + 1 } : undefined
  const errorOf = (i: TimelineItem): boolean => (i.kind === 'event' && i.event.errorCode !== '') || (i.kind === 'capture' && i.capture.manifest.status !== 'complete')
  return {
    source,
    captures,
    timeline,
    events: { shown: merged.events.length, total: merged.total, deduplicated: merged.deduplicated, capped: merged.capped },
    findings,
    containment,
    custody,
    chainFindings,
    artifacts: allArtifacts.slice(0, maxArtifacts),
    artifactsTotal: allArtifacts.length,
    artifactBytes: captures.reduce((n, c) => n + c.bytes, 0),
    histogram: span ? histogram(timeline.map((i) => ({ ms: i.ms, error: errorOf(i) })), span.from, span.to) : [],
    span,
  }
}
