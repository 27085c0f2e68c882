/**
 * Lists every version and delete marker of some keys or a prefix (paginated, streamed),
 * optionally limited to a last-modified window `[since, until)`.
 */
import { StorageError } from '../errors.js'
import { withRetry } from '../retry.js'
import { ListObjectVersionsCommand, type ListObjectVersionsCommandOutput, type S3Client } from '@aws-sdk/client-s3'

/** One listed version or delete marker, with the metadata S3 reports for it. */
export interface VersionEntry {
  kind: 'version' | 'delete-marker'
  /** the exact original key */
  key: string
  versionId: string
  isLatest: boolean
  lastModified: string
  size?: number
  etag?: string
  storageClass?: string
  owner?: { id?: string; displayName?: string }
  checksumAlgorithm?: string[]
  checksumType?: string
}

/** Which versions to capture. */
export interface VersionSelection {
  bucket: string
  /** exact keys (each listed with its own prefix query, then matched exactly) */
  keys?: string[]
  prefix?: string
  since?: Date
  until?: Date
}

function inWindow(lastModified: Date | undefined, sel: VersionSelection): boolean {
  const t = lastModified?.getTime() ?? 0
  return (!sel.since || t >= sel.since.getTime()) && (!sel.until || t < sel.until.getTime())
}

/** ListObjectVersions pages, following the key and version-id markers. */
async function* pages(s3: S3Client, bucket: string, prefix: string, pageSize: number): AsyncGenerator<ListObjectVersionsCommandOutput> {
  let keyMarker: string | undefined
  let versionIdMarker: string | undefined
  for (;;) {
    const [km, vm] = [keyMarker, versionIdMarker]
    // each page is retried on its own: a fault late in a long listing does not restart it
    const page = await withRetry(`ListObjectVersions page of s3://${bucket}/${prefix}`, () => s3.send(new ListObjectVersionsCommand({ Bucket: bucket, Prefix: prefix, MaxKeys: pageSize, KeyMarker: km, VersionIdMarker: vm })))
    yield page
    if (!page.IsTruncated) return
    keyMarker = page.NextKeyMarker
    versionIdMarker = page.NextVersionIdMarker
    // a truncated page without a marker would otherwise loop forever or end silently short
    if (keyMarker === undefined && versionIdMarker === undefined) throw new StorageError(`ListObjectVersions of s3://${bucket} was truncated without a next marker`)
  }
}

/** Streams the selected entries page by page (S3's order: key, then newest first). */
export async function* listVersionEntries(s3: S3Client, sel: VersionSelection, pageSize = 1000): AsyncGenerator<VersionEntry> {
  const queries = sel.keys ? sel.keys.map((k) => ({ prefix: k, exact: k })) : [{ prefix: sel.prefix ?? '', exact: undefined }]
  for (const q of queries) {
    for await (const page of pages(s3, sel.bucket, q.prefix, pageSize)) {
      const entries: VersionEntry[] = []
      for (const v of page.Versions ?? []) {
        if (v.Key === undefined || (q.exact !== undefined && v.Key !== q.exact) || !inWindow(v.LastModified, sel)) continue
        entries.push({
          kind: 'version',
          key: v.Key,
          versionId: v.VersionId ?? 'null',
          isLatest: v.IsLatest ?? false,
          lastModified: v.LastModified?.toISOString() ?? '',
          size: v.Size ?? 0,
          etag: v.ETag,
          storageClass: v.StorageClass ?? 'STANDARD',
          owner: v.Owner ? { id: v.Owner.ID, displayName: v.Owner.DisplayName } : undefined,
          checksumAlgorithm: v.ChecksumAlgorithm,
          checksumType: v.ChecksumType,
        })
      }
      for (const d of page.DeleteMarkers ?? []) {
        if (d.Key === undefined || (q.exact !== undefined && d.Key !== q.exact) || !inWindow(d.LastModified, sel)) continue
        entries.push({
          kind: 'delete-marker',
          key: d.Key,
          versionId: d.VersionId ?? 'null',
          isLatest: d.IsLatest ?? false,
          lastModified: d.LastModified?.toISOString() ?? '',
          owner: d.Owner ? { id: d.Owner.ID, displayName: d.Owner.DisplayName } : undefined,
        })
      }
      entries.sort(compareEntries)
      yield* entries
    }
  }
}

/** Order of entries in an inventory: key, then newest first, then version id. */
export function compareEntries(a: { key: string; lastModified: string; versionId: string }, b: { key: string; lastModified: string; versionId: string }): number {
  if (a.key !== b.key) return a.key < b.key ? -1 : 1
  if (a.lastModified !== b.lastModified) return a.lastModified > b.lastModified ? -1 : 1
  return a.versionId < b.versionId ? -1 : a.versionId > b.versionId ? 1 : 0
}
