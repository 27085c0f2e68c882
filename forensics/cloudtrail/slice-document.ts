/**
 * The slice's written form: `slice.json` (schema `forensics.cloudtrail-slice/v1`) and the
 * matching events as JSON lines. slice.json names every file scanned (S3 coordinates,
 * versionId, SHA-256 stored and uncompressed, digest verdict), the digests and keys used,
 * and counts by event name, principal and source IP.
 */
import { createGzip } from 'node:zlib'
import { Readable } from 'node:stream'
import type { MatchedEvent } from './log-file-scan.js'
import type { SliceOutcome } from './slice.js'

/** The slice.json document. */
export interface SliceDocument {
  schema: 'forensics.cloudtrail-slice/v1'
  window: { start: string; end: string }
  filters: SliceOutcome['request']['filters']
  sources: {
    archive?: { bucket: string; prefix: string; scopes: Array<{ account: string; orgId?: string; region: string }> }
    lookup?: SliceOutcome['lookup']
  }
  counts: {
    events: number
    duplicatesDropped: number
    filesScanned: number
    filesWithMatches: number
    byEventName: Record<string, number>
    byPrincipal: Record<string, number>
    bySourceIp: Record<string, number>
    byVerdict: Record<string, number>
  }
  files: SliceOutcome['files']
  digests: SliceOutcome['digests']
  chain: SliceOutcome['chain']
  publicKeys: Array<{ fingerprint: string; validityStart?: string; validityEnd?: string }>
  errors: SliceOutcome['errors']
}

function bump(m: Record<string, number>, k: string): void {
  m[k] = (m[k] ?? 0) + 1
}

function sorted(m: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(m).sort(([a], [b]) => (a < b ? -1 : 1)))
}

/** Builds slice.json from an outcome. */
export function buildSliceDocument(o: SliceOutcome): SliceDocument {
  const byEventName: Record<string, number> = {}
  const byPrincipal: Record<string, number> = {}
  const bySourceIp: Record<string, number> = {}
  for (const e of o.events) {
    const r = JSON.parse(e.json) as { eventName?: string; sourceIPAddress?: string; userIdentity?: { arn?: string; principalId?: string; type?: string; invokedBy?: string } }
    bump(byEventName, r.eventName ?? '(none)')
    const u = r.userIdentity
    bump(byPrincipal, u?.arn ?? u?.invokedBy ?? (u?.principalId ? `${u.type ?? 'principal'}:${u.principalId}` : '(none)'))
    bump(bySourceIp, r.sourceIPAddress ?? '(none)')
  }
  const byVerdict: Record<string, number> = {}
  for (const f of o.files) if (f.verdict) bump(byVerdict, f.verdict)
  const a = o.request.archive
  return {
    schema: 'forensics.cloudtrail-slice/v1',
    window: { start: new Date(o.request.window.start).toISOString(), end: new Date(o.request.window.end).toISOString() },
    filters: o.request.filters,
    sources: {
      archive: a ? { bucket: a.location.bucket, prefix: a.location.prefix, scopes: o.scopes.map((s) => ({ account: s.account, orgId: s.orgId, region: s.region })) } : undefined,
      lookup: o.lookup,
    },
    counts: {
      events: o.events.length,
      duplicatesDropped: o.duplicatesDropped,
      filesScanned: o.files.length,
      filesWithMatches: o.files.filter((f) => f.matched > 0).length,
      byEventName: sorted(byEventName),
      byPrincipal: sorted(byPrincipal),
      bySourceIp: sorted(bySourceIp),
      byVerdict: sorted(byVerdict),
    },
    files: o.files,
    digests: o.digests,
    chain: o.chain,
    publicKeys: o.publicKeys.map((k) => ({ fingerprint: k.fingerprint, validityStart: k.validityStart, validityEnd: k.validityEnd })),
    errors: o.errors,
  }
}

/** The events as JSON lines (one compact event per line). */
export function eventLines(events: readonly MatchedEvent[]): Readable {
  return Readable.from((function* () {
    for (const e of events) yield e.json + '\n'
  })())
}

/** The events as gzip-compressed JSON lines, streamed. */
export function eventLinesGz(events: readonly MatchedEvent[]): Readable {
  return eventLines(events).pipe(createGzip())
}

/** Public keys as PEM (SPKI) with their fingerprints, for offline verification with openssl. */
export function publicKeysDocument(o: SliceOutcome, toPem: (value: Buffer) => string): Array<{ fingerprint: string; validityStart?: string; validityEnd?: string; valueBase64: string; pem: string }> {
  return o.publicKeys.map((k) => ({ fingerprint: k.fingerprint, validityStart: k.validityStart, validityEnd: k.validityEnd, valueBase64: k.value.toString('base64'), pem: toPem(k.value) }))
}
