/**
 * The inventory of an object-versions capture: every listed version and delete marker with
 * its metadata and what became of it, recorded into the capture being committed.
 */
import { canonicalBytes } from '../canonical-json.js'
import type { CaptureContext } from '../capture.js'
import { forEachBounded } from './bounded.js'
import type { EntryCapture } from './copy-version.js'
import { compareEntries, type VersionEntry } from './list-versions.js'

/** Schema id of the inventory artifact. */
export const INVENTORY_SCHEMA = 'forensics.object-versions/v1'
/** Artifact path of the inventory. */
export const INVENTORY_PATH = 'inventory.json'

/** One inventory line: the listed entry and what the capture did with it. */
export interface InventoryEntry extends VersionEntry {
  capture: EntryCapture
}

/** What the versions were selected by. */
export interface SelectionRecord {
  bucket: string
  keys?: string[]
  prefix?: string
  since?: string
  until?: string
  accountId?: string
  region?: string
}

/**
 * Records the entries into `ctx`: adopts each stored version (with its source coordinates),
 * records failures as capture errors, writes the inventory artifact (deterministic bytes,
 * so a retried commit reuses it) and the summary.
 */
export async function recordInventory(
  ctx: CaptureContext,
  selection: SelectionRecord,
  entries: InventoryEntry[],
  opts: { confirmed: boolean; concurrency?: number; fanOut?: Record<string, unknown> },
): Promise<void> {
  const seen = new Set<string>()
  const unique = entries.filter((e) => {
    const id = `${e.key}\u0000${e.versionId}`
    if (seen.has(id)) return false
    seen.add(id)
    return true
  })
  unique.sort(compareEntries)
  await forEachBounded(unique, { concurrency: opts.concurrency ?? 16 }, async (e) => {
    if (e.capture.status === 'stored') {
      const a = e.capture.artifact
      await ctx.adoptArtifact(a.path, { ...a, confirmed: opts.confirmed }, {
        contentType: 'application/octet-stream',
        source: { bucket: selection.bucket, key: e.key, versionId: e.versionId, etag: e.etag, lastModified: e.lastModified, size: e.size, storageClass: e.storageClass, isLatest: e.isLatest },
      })
    } else if (e.capture.status === 'failed') {
      ctx.recordError({ what: `s3://${selection.bucket}/${e.key} version ${e.versionId}`, code: e.capture.code, message: e.capture.message })
    }
  })
  const count = (s: EntryCapture['status']): number => unique.filter((e) => e.capture.status === s).length
  const restore = count('restore-required')
  await ctx.addArtifact(INVENTORY_PATH, canonicalBytes({ schema: INVENTORY_SCHEMA, selection, entries: unique }), { contentType: 'application/json' })
  if (restore) {
    ctx.findings.push({ type: 'restore-required', severity: 'info', title: `${restore} archived version(s) need a restore before their bytes can be captured (s3://${selection.bucket})`, resource: `arn:aws:s3:::${selection.bucket}` })
  }
  ctx.summary = {
    bucket: selection.bucket,
    entries: unique.length,
    versions: unique.filter((e) => e.kind === 'version').length,
    deleteMarkers: count('delete-marker'),
    stored: count('stored'),
    restoreRequired: restore,
    failed: count('failed'),
    bytes: unique.reduce((n, e) => n + (e.capture.status === 'stored' ? e.capture.artifact.size : 0), 0),
    fanOut: opts.fanOut ?? null,
  }
}
