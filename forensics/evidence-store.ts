/**
 * The evidence store port: what the domain needs from locked object storage. The domain
 * never sees SDK types; `S3EvidenceStore` adapts S3 and tests may adapt anything else.
 */
import type { Readable } from 'node:stream'
import { ForensicsError, IntegrityError, ValidationError } from './errors.js'

/** Object Lock retention applied to every evidence write. */
export interface RetentionPolicy {
  mode: 'COMPLIANCE' | 'GOVERNANCE'
  days: number
}

/** What to write. */
export interface PutEvidenceInput {
  key: string
  body: Buffer | Readable
  /**
   * The exact byte count of a stream body, when known (a source's Content-Length): a store
   * may then send it in one streamed write instead of parts. A body of another length is
   * refused and nothing is stored.
   */
  size?: number
  /**
   * Opens the same bytes again from the first byte (a stream body whose source can be read
   * twice): a store may read `body` once to hash it and send the reopened bytes with their
   * checksum up front, and may reopen again to repeat a failed write.
   */
  reopen?: () => Promise<Readable>
  contentType?: string
  /** user metadata (ASCII) */
  metadata?: Record<string, string>
}

/** A confirmed write: the stored version, and the SHA-256 and size of its exact bytes. */
export interface StoredEvidence {
  key: string
  versionId: string
  sha256: string
  size: number
}

/** What HeadObject tells about a stored version. */
export interface EvidenceHead {
  key: string
  versionId: string
  size: number
  /** the raw S3 checksum (base64, `-N` suffix for multipart composites) */
  checksumSHA256?: string
  retentionMode?: string
  retainUntil?: Date
  /** when S3 stored this version (its write time; retention is judged from it) */
  lastModified?: Date
  metadata: Record<string, string>
}

/** One listed key (latest version). */
export interface ListedEvidence {
  key: string
  size: number
}

/** Port to the evidence bucket. */
export interface EvidenceStore {
  readonly bucket: string
  readonly retention: RetentionPolicy
  /** Throws unless the bucket exists with versioning and Object Lock enabled. */
  assertLocked(): Promise<void>
  /** Writes new evidence (never overwrites): throws {@link EvidenceExistsError} when the key exists. */
  put(input: PutEvidenceInput): Promise<StoredEvidence>
  /** Streams a stored version (latest when versionId is omitted). */
  get(key: string, versionId?: string): Promise<{ body: Readable; versionId: string; size: number }>
  /** Reads a stored version into memory (small documents only). */
  getBytes(key: string, versionId?: string): Promise<{ bytes: Buffer; versionId: string }>
  /** HeadObject with checksum mode; undefined when the key or version does not exist. */
  head(key: string, versionId?: string): Promise<EvidenceHead | undefined>
  /** Lists keys under a prefix in key order. */
  list(prefix: string): AsyncIterable<ListedEvidence>
  /** Tries to delete a version; resolves to the refusal's error name, or undefined if it was deleted. */
  tryDelete(key: string, versionId: string): Promise<string | undefined>
}

/** A write hit an existing key (`If-None-Match: *` answered 412). */
export class EvidenceExistsError extends ForensicsError {
  readonly key: string
  constructor(bucket: string, key: string, options?: { cause?: unknown }) {
    super(`evidence s3://${bucket}/${key} already exists; evidence is never overwritten`, options)
    this.name = 'EvidenceExistsError'
    this.key = key
  }
}

/** The evidence bucket is missing or not locked: a configuration error (exit code 2). */
export class EvidenceBucketError extends ValidationError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, { ...options, field: 'evidenceBucket' })
    this.name = 'EvidenceBucketError'
  }
}

/**
 * A body read twice (`reopen`) gave other bytes the second time: refused, nothing stored.
 * The source is at fault, not the store (a version that changed under us, or a lying source).
 */
export class SourceChangedError extends IntegrityError {
  constructor(message: string, options?: { cause?: unknown; findings?: readonly string[] }) {
    super(message, options)
    this.name = 'SourceChangedError'
  }
}
