/**
 * Captures a CloudTrail slice as evidence: runs the slice inside `runCapture` and stores
 * `events.jsonl.gz`, the original log files holding matches (re-read pinned to the
 * versionId/ETag that was scanned), their digest files with a `.metadata.json` sidecar
 * holding `x-amz-meta-signature`, `public-keys.json` and `slice.json`.
 */
import { Readable } from 'node:stream'
import { canonicalBytes } from '../canonical-json.js'
import { runCapture, type CaptureDeps, type CaptureResult } from '../capture.js'
import { sha256Hex } from '../hash.js'
import { encodeKeySegment } from '../keys.js'
import { openObject, type S3Port } from './archive-source.js'
import { publicKeyFromValue } from './digest-validation.js'
import { digestFindings, verdictCounts } from './digest-verdicts.js'
import { refreshTarget, sliceChanges, type SliceChanges } from './refresh.js'
import { buildSliceDocument, eventLinesGz, publicKeysDocument } from './slice-document.js'
import { dedupeAndSort, runSlice, type SliceDeps, type SliceOutcome, type SliceRequest } from './slice.js'

/** Name and version recorded in manifests. */
export const CLOUDTRAIL_COLLECTOR = { name: 'cloudtrail-slice', version: '1.0.0' }

/** A slice capture request. */
export interface SliceCaptureRequest extends SliceRequest {
  caseId: string
  /** what triggered it; default: a hash of the request, so the same slice is captured once */
  trigger?: { source: string; id: string }
  actor?: { principalArn?: string; requestId?: string }
  /** capture the request again even when it was captured before (late-delivered files); see refresh.ts */
  refresh?: boolean
}

/** The capture's result plus the slice's headline numbers. */
export interface SliceCaptureResult extends CaptureResult {
  events: number
  files: number
  verdicts: Record<string, number>
  /** set on a refresh: what changed since the capture it supersedes */
  changes?: SliceChanges
}

const keyPath = (bucket: string, key: string): string => `${encodeKeySegment(bucket)}/${key.split('/').map(encodeKeySegment).join('/')}`

/** Stable identity of a request (window, filters, sources). */
export function sliceRequestId(req: SliceRequest): string {
  return sha256Hex(canonicalBytes({ window: req.window, filters: req.filters, archive: req.archive ?? null, lookup: req.lookup ?? null })).slice(0, 32)
}

/**
 * Runs the slice; with both sources, a LookupEvents failure does not throw the archive part
 * away: the archive's events are kept and the failure is returned, to be recorded in the
 * capture (which becomes `partial`), as bucket-config records a refused call.
 */
async function sliceBothSources(req: SliceRequest, slice: SliceDeps): Promise<{ outcome: SliceOutcome; lookupFailure?: unknown }> {
  if (!req.archive || !req.lookup) return { outcome: await runSlice(req, slice) }
  const archive = await runSlice({ ...req, lookup: undefined }, slice)
  let lookup: SliceOutcome
  try {
    lookup = await runSlice({ window: req.window, filters: req.filters, lookup: req.lookup }, { ...slice, s3: undefined })
  } catch (err) {
    return { outcome: { ...archive, request: { ...archive.request, lookup: req.lookup } }, lookupFailure: err }
  }
  const merged = dedupeAndSort([...archive.events, ...lookup.events])
  return {
    outcome: {
      ...archive,
      request: { ...archive.request, lookup: req.lookup },
      events: merged.events,
      duplicatesDropped: archive.duplicatesDropped + lookup.duplicatesDropped + merged.dropped,
      lookup: lookup.lookup,
      errors: [...archive.errors, ...lookup.errors],
    },
  }
}

/** Runs the slice and commits it as one capture. */
export async function captureCloudTrailSlice(capture: CaptureDeps, slice: SliceDeps, req: SliceCaptureRequest): Promise<SliceCaptureResult> {
  let headline = { events: 0, files: 0, verdicts: {} as Record<string, number> }
  let changes: SliceChanges | undefined
  const base = req.trigger ?? { source: 'request', id: sliceRequestId(req) }
  const { trigger, previous } = req.refresh ? await refreshTarget(capture.store, req.caseId, CLOUDTRAIL_COLLECTOR.name, base) : { trigger: base, previous: undefined }
  const result = await runCapture(
    capture,
    {
      caseId: req.caseId,
      collector: CLOUDTRAIL_COLLECTOR,
      trigger,
      actor: req.actor,
      supersedes: previous?.manifest.captureId,
      target: {
        window: { start: new Date(req.window.start).toISOString(), end: new Date(req.window.end).toISOString() },
        filters: req.filters,
        archive: req.archive ? `s3://${req.archive.location.bucket}/${req.archive.location.prefix}` : null,
        lookupRegions: req.lookup?.regions ?? [],
      },
    },
    async (ctx) => {
      const { outcome: o, lookupFailure } = await sliceBothSources(req, slice)
      for (const e of o.errors) ctx.recordError(e)
      if (lookupFailure !== undefined) {
        // the service's error (e.g. AccessDeniedException) is the code, not our wrapper's
        const err = lookupFailure as Error & { cause?: Error }
        ctx.recordError({ what: `LookupEvents ${req.lookup?.regions.join(',')}`, code: err.cause?.name ?? err.name, message: `${err.message}; the archive part is committed, events only LookupEvents holds are missing: capture the window again once LookupEvents answers` })
      }
      await ctx.addArtifact('events.jsonl.gz', eventLinesGz(o.events), { contentType: 'application/gzip' })
      const s3 = slice.s3 as S3Port
      for (const f of o.files) {
        if (f.source !== 'archive' || f.matched === 0 || !f.bucket || !f.key) continue
        try {
          const body = await openObject(s3, f.bucket, f.key, {}, { versionId: f.versionId, etag: f.etag })
          const rec = await ctx.addArtifact(`logs/${keyPath(f.bucket, f.key)}`, Readable.from(body), {
            contentType: 'application/gzip',
            source: { bucket: f.bucket, key: f.key, versionId: f.versionId, etag: f.etag, lastModified: f.lastModified },
          })
          if (rec.sha256 !== f.sha256) ctx.recordError({ what: `s3://${f.bucket}/${f.key}`, code: 'ChangedDuringCapture', message: `the log file hashed ${f.sha256} when scanned but ${rec.sha256} when copied: it changed during the capture; capture the slice again` })
        } catch (err) {
          ctx.recordError({ what: `s3://${f.bucket}/${f.key}`, code: (err as Error).name, message: (err as Error).message })
        }
      }
      for (const d of o.digestObjects) {
        const path = `digests/${keyPath(d.bucket, d.key)}`
        await ctx.addArtifact(path, d.bytes, { contentType: 'application/gzip', source: { bucket: d.bucket, key: d.key, versionId: d.versionId, etag: d.etag, lastModified: d.lastModified } })
        await ctx.addArtifact(`${path}.metadata.json`, canonicalBytes({ bucket: d.bucket, key: d.key, versionId: d.versionId ?? null, metadata: d.metadata }), { contentType: 'application/json' })
      }
      const pem = (v: Buffer): string => publicKeyFromValue(v).export({ format: 'pem', type: 'spki' }).toString()
      await ctx.addArtifact('public-keys.json', canonicalBytes(publicKeysDocument(o, pem)), { contentType: 'application/json' })
      const doc = buildSliceDocument(o)
      await ctx.addArtifact('slice.json', canonicalBytes(doc), { contentType: 'application/json' })
      // a capture is complete only when every archive file it scanned is digest-valid
      const verdicts = verdictCounts(o.files)
      const findings = digestFindings(o.files)
      ctx.findings.push(...findings)
      if (findings.length) ctx.markUnverified(findings.map((f) => f.title).join('; '))
      if (previous) changes = await sliceChanges(capture.store, previous, { files: o.files, eventLines: o.events.map((e) => e.json) })
      headline = { events: doc.counts.events, files: doc.counts.filesScanned, verdicts }
      ctx.summary = { events: doc.counts.events, filesScanned: doc.counts.filesScanned, filesWithMatches: doc.counts.filesWithMatches, verdicts, chainFindings: o.chain.length, ...(changes ? { changes } : {}) }
    },
  )
  if (!result.created) {
    const s = (result.manifest.summary ?? {}) as { events?: number; filesScanned?: number; verdicts?: Record<string, number>; changes?: SliceChanges }
    headline = { events: s.events ?? 0, files: s.filesScanned ?? 0, verdicts: s.verdicts ?? {} }
    changes = s.changes
  }
  return { ...result, ...headline, ...(changes ? { changes } : {}) }
}
