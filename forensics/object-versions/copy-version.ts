/**
 * Copies one object version into the evidence store: streamed from GetObject straight into
 * the store's put (hashed, locked, confirmed), never held in memory; of known size (its
 * Content-Length) it is one PutObject, and a source sending another number of bytes, or
 * other bytes at a second read, is refused with nothing stored and recorded as failed. Archived versions are
 * recorded as "restore required"; a refused or failed read of the source is recorded,
 * never thrown. Failures of the evidence store itself are thrown (nothing can be committed).
 */
import type { Readable } from 'node:stream'
import { createHash } from 'node:crypto'
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3'
import { holdBody } from '../aws/response-body.js'
import { classifyFailure } from '../bucket-config/snapshot.js'
import { EvidenceExistsError, SourceChangedError, type EvidenceStore } from '../evidence-store.js'
import { ValidationError } from '../errors.js'
import { base64ToHex } from '../hash.js'
import { artifactKey, encodeKeySegment } from '../keys.js'
import { isTransientError, RetriesExhaustedError, withRetry } from '../retry.js'
import type { VersionEntry } from './list-versions.js'

/** Storage classes whose bytes need a restore before they can be read. */
export const ARCHIVED_STORAGE_CLASSES: readonly string[] = ['GLACIER', 'DEEP_ARCHIVE']

/** What happened to one entry. */
export type EntryCapture =
  | { status: 'stored'; artifact: { path: string; versionId: string; sha256: string; size: number } }
  | { status: 'delete-marker' }
  | { status: 'restore-required'; storageClass: string }
  | { status: 'failed'; code: string; message: string }

/** Artifact path of a version's bytes: encoded source key, then encoded version id. */
export const versionArtifactPath = (key: string, versionId: string): string => `versions/${encodeKeySegment(key)}/${encodeKeySegment(versionId)}`

/** Where the version bytes come from. */
export interface VersionSource {
  s3: S3Client
  bucket: string
}

/**
 * An artifact some earlier attempt already stored: its SHA-256 comes from the stored
 * checksum when that is a whole-object one (single part, below 5 MiB), otherwise the stored
 * bytes are hashed again.
 */
export async function existingArtifact(store: EvidenceStore, key: string): Promise<{ versionId: string; sha256: string; size: number }> {
  const head = await store.head(key)
  if (!head) throw new EvidenceExistsError(store.bucket, key)
  if (head.checksumSHA256 && !head.checksumSHA256.includes('-') && head.size <= 5 * 1024 * 1024) {
    return { versionId: head.versionId, sha256: base64ToHex(head.checksumSHA256), size: head.size }
  }
  const { body, versionId } = await store.get(key, head.versionId)
  const hash = createHash('sha256')
  let size = 0
  for await (const chunk of body) {
    hash.update(chunk as Buffer)
    size += (chunk as Buffer).length
  }
  return { versionId, sha256: hash.digest('hex'), size }
}

/** Copies `entry` into capture `captureId` of `caseId`. */
export async function copyVersion(source: VersionSource, store: EvidenceStore, caseId: string, captureId: string, entry: VersionEntry): Promise<EntryCapture> {
  if (entry.kind === 'delete-marker') return { status: 'delete-marker' }
  if (entry.storageClass && ARCHIVED_STORAGE_CLASSES.includes(entry.storageClass)) return { status: 'restore-required', storageClass: entry.storageClass }
  const path = versionArtifactPath(entry.key, entry.versionId)
  const key = artifactKey(caseId, captureId, path)
  const where = `s3://${source.bucket}/${entry.key} version ${entry.versionId}`
  // One operation: open the source version and stream it into the store. When the source
  // body is cut mid-stream (or the store write fails transiently), the version is read
  // again from its first byte: nothing was stored (a put stores whole objects or nothing),
  // and a version never changes, so the repeat copies the same bytes.
  let sourceFailure: unknown
  try {
    return await withRetry(`copy of ${where}`, async () => {
      sourceFailure = undefined
      const getVersion = () => source.s3.send(new GetObjectCommand({ Bucket: source.bucket, Key: entry.key, VersionId: entry.versionId }))
      let reopenFailure: unknown
      // the same version again from its first byte (a version never changes; the store
      // refuses other bytes at the second read); a transient failure is the store's to repeat
      const reopen = async (): Promise<Readable> => {
        try {
          return holdBody((await getVersion()).Body as Readable)
        } catch (e) {
          if (!isTransientError(e)) reopenFailure = e
          throw e
        }
      }
      let body: Readable
      let length: number | undefined
      try {
        const out = await getVersion()
        body = holdBody(out.Body as Readable)
        length = out.ContentLength
      } catch (e) {
        if (isTransientError(e)) {
          sourceFailure = e
          throw e
        }
        const f = classifyFailure(e)
        if (f.code === 'InvalidObjectState') return { status: 'restore-required', storageClass: entry.storageClass ?? 'UNKNOWN' }
        return { status: 'failed', code: f.code, message: `GetObject ${where}: ${f.message}` }
      }
      let stored: { versionId: string; sha256: string; size: number }
      try {
        // of known size: one PutObject (up to S3's 5 GiB); above one part the store reads the
        // version twice, hashing it first and sending its SHA-256 up front (see the README)
        stored = await store.put({ key, body, contentType: 'application/octet-stream', ...(length !== undefined ? { size: length, reopen } : {}) })
      } catch (e) {
        body.destroy()
        // the second read was refused: recorded like a refused first read
        if (reopenFailure !== undefined) {
          const f = classifyFailure(reopenFailure)
          return { status: 'failed', code: f.code, message: `GetObject ${where} (second read): ${f.message}` }
        }
        // the source sent another number of bytes than its Content-Length, or other bytes at
        // a second read: refused by the store before anything was stored, recorded here
        if (e instanceof ValidationError && e.field === 'size') return { status: 'failed', code: 'SizeMismatch', message: `${where}: ${e.message}` }
        if (e instanceof SourceChangedError) return { status: 'failed', code: 'SourceChanged', message: `${where}: ${e.message}` }
        // an earlier attempt (a redelivered page) stored this version already: same bytes,
        // since a source version never changes
        if (!(e instanceof EvidenceExistsError)) throw e
        stored = await existingArtifact(store, key)
      }
      const expected = length ?? entry.size
      if (expected !== undefined && stored.size !== expected) {
        return { status: 'failed', code: 'SizeMismatch', message: `${where}: copied ${stored.size} bytes, the source has ${expected}` }
      }
      return { status: 'stored', artifact: { path, versionId: stored.versionId, sha256: stored.sha256, size: stored.size } }
    })
  } catch (e) {
    // the source kept failing: recorded (the capture is partial), like any refused read
    if (e instanceof RetriesExhaustedError && sourceFailure !== undefined) {
      const f = classifyFailure(e)
      return { status: 'failed', code: f.code, message: `GetObject ${where}: ${f.message}` }
    }
    throw e
  }
}
