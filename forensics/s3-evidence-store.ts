/**
 * The evidence store on S3: Object-Locked, checksummed, never-overwriting writes, streamed
 * in constant memory, each confirmed: by S3's answer to a checksummed single write, or by
 * reading checksum, size and retention back (multipart writes, unproven answers).
 */
import { Readable, Transform, type TransformCallback } from 'node:stream'
import { createHash } from 'node:crypto'
import {
  S3Client,
  PutObjectCommand,
  HeadObjectCommand,
  GetObjectCommand,
  GetBucketVersioningCommand,
  GetObjectLockConfigurationCommand,
  CreateMultipartUploadCommand,
  UploadPartCommand,
  CompleteMultipartUploadCommand,
  AbortMultipartUploadCommand,
  DeleteObjectCommand,
  PutObjectRetentionCommand,
  ListObjectsV2Command,
  type CompletedPart,
} from '@aws-sdk/client-s3'
import {
  EvidenceBucketError,
  EvidenceExistsError,
  SourceChangedError,
  type EvidenceHead,
  type EvidenceStore,
  type ListedEvidence,
  type PutEvidenceInput,
  type RetentionPolicy,
  type StoredEvidence,
} from './evidence-store.js'
import { holdBody } from './aws/response-body.js'
import { IntegrityError, StorageError, ValidationError } from './errors.js'
import { hexToBase64 } from './hash.js'
import { RetriesExhaustedError, isTransientError, withRetry } from './retry.js'

/** Options for {@link S3EvidenceStore}. */
export interface S3EvidenceStoreOptions {
  client: S3Client
  bucket: string
  retention: RetentionPolicy
  /** Multipart part size in bytes (default 16 MiB; S3's minimum is 5 MiB). */
  partSize?: number
  /** Parts in flight at once (default 2): memory stays below partSize × (queue + 1). */
  partConcurrency?: number
  /**
   * Largest stream of known size sent as one streamed PutObject rather than in parts
   * (default and maximum: S3's single-PUT limit, 5 GiB).
   */
  singlePutLimit?: number
  /** Clock for retain-until dates (tests). */
  now?: () => Date
  /**
   * When a write is read back (HeadObject: checksum, size, retention): `when-unproven`
   * (default) reads back multipart writes and single writes whose response does not echo
   * the checksum S3 validated; `always` reads back every write.
   */
  readBack?: 'when-unproven' | 'always'
}

interface AwsErrorShape {
  name?: string
  $metadata?: { httpStatusCode?: number }
}

const statusOf = (e: unknown): number | undefined => (e as AwsErrorShape)?.$metadata?.httpStatusCode
const nameOf = (e: unknown): string => (e as AwsErrorShape)?.name ?? 'Error'
/** The service's own error behind an exhausted retry (what the user needs to see). */
const rootOf = (e: unknown): unknown => (e instanceof RetriesExhaustedError ? e.cause : e)
const attemptsOf = (e: unknown): string => (e instanceof RetriesExhaustedError ? ` after ${e.attempts} attempts` : '')

function isPreconditionFailed(e: unknown): boolean {
  return statusOf(e) === 412 || nameOf(e) === 'PreconditionFailed'
}
function isNotFound(e: unknown): boolean {
  return statusOf(e) === 404 || ['NotFound', 'NoSuchKey', 'NoSuchVersion'].includes(nameOf(e))
}
function isNoSuchUpload(e: unknown): boolean {
  return nameOf(e) === 'NoSuchUpload'
}

/**
 * Reads a stream into fixed-size parts. Chunks are gathered as they arrive; only once a
 * whole part's worth is there is it copied into a buffer from `acquire` (a small pool the
 * caller recycles), so memory stays constant however large the stream is, and a small
 * object costs its own size rather than a part buffer.
 */
async function* fixedParts(body: AsyncIterable<unknown>, partSize: number, acquire: () => Buffer): AsyncGenerator<Buffer> {
  let pending: Buffer[] = []
  let length = 0
  let parts = 0
  for await (const raw of body) {
    const chunk = Buffer.isBuffer(raw) ? raw : Buffer.from(raw as Uint8Array)
    pending.push(chunk)
    length += chunk.length
    while (length >= partSize) {
      const part = acquire()
      let filled = 0
      while (filled < partSize) {
        const head = pending[0]
        const n = head.copy(part, filled, 0, Math.min(head.length, partSize - filled))
        filled += n
        if (n === head.length) pending.shift()
        else pending[0] = head.subarray(n)
      }
      length -= partSize
      parts++
      yield part
    }
  }
  // the last part (or the only one of a small object, possibly empty) is exactly as long as it is
  if (length > 0 || parts === 0) yield pending.length === 1 ? pending[0] : Buffer.concat(pending, length)
  pending = []
}

/** S3's largest single PutObject. */
export const SINGLE_PUT_LIMIT = 5 * 1024 ** 3

/**
 * The least bytes per aws-chunked chunk of a one-read streamed write (its SHA-256 goes as a
 * trailer). Gathering smaller source chunks costs a copy; 1 MiB keeps the chunk count of a
 * large body in the hundreds. (It was the part size, 16 MiB, while the emulator decoded
 * aws-chunked bodies in time quadratic in their chunks; scripts/moto_runner.py now decodes
 * them in one pass. With 1 MiB source chunks, nothing is copied: store.put read once went
 * from 1.11–1.38 s to 0.88–1.08 s for 128 MiB, against 0.83–1.05 s for a plain PutObject.)
 */
export const TRAILER_CHUNK_BYTES = 1024 * 1024

/**
 * The body of a streamed write, checked as it passes: it counts and hashes the bytes and
 * holds the last bytes back until the stream has ended, so a body of the wrong length (or,
 * when `expected` is given, other bytes than a first read hashed) fails the request before
 * its last byte is sent: the write is refused, and nothing is stored. Bytes go on in
 * chunks of at least `chunkBytes` ({@link TRAILER_CHUNK_BYTES}, for a trailer): each becomes
 * one aws-chunked chunk, so a source of tiny chunks does not make a body of thousands of
 * tiny chunks; a source chunk of that size or more goes on as it is, without a copy.
 * Memory stays below two chunks. A failed check is handed to `fail` (which
 * aborts the request) and the body stalls: it never emits an error, since the SDK
 * re-emits a body's error where nothing listens (its aws-chunked wrapper), which would
 * crash the process.
 */
class CheckedBody extends Transform {
  readonly #hash = createHash('sha256')
  #seen = 0
  #held?: Buffer
  #gathered: Buffer[] = []
  #gatheredBytes = 0
  sha256?: string
  constructor(
    readonly where: string,
    readonly size: number,
    readonly chunkBytes: number,
    readonly expected: string | undefined,
    readonly fail: (e: Error) => void,
  ) {
    super()
  }
  override _transform(raw: unknown, _encoding: BufferEncoding, done: TransformCallback): void {
    const chunk = Buffer.isBuffer(raw) ? raw : Buffer.from(raw as Uint8Array)
    this.#seen += chunk.length
    if (this.#seen > this.size) return this.fail(new ValidationError(`the body of ${this.where} is longer than its stated size of ${this.size} bytes: nothing was stored; state the exact size or none`, { field: 'size' }))
    this.#hash.update(chunk)
    this.#gathered.push(chunk)
    this.#gatheredBytes += chunk.length
    if (this.#gatheredBytes >= this.chunkBytes) {
      if (this.#held) this.push(this.#held)
      this.#held = this.#take()
    }
    done()
  }
  override _flush(done: TransformCallback): void {
    if (this.#seen !== this.size) return this.fail(new ValidationError(`the body of ${this.where} ended after ${this.#seen} of its stated ${this.size} bytes: nothing was stored; state the exact size or none`, { field: 'size' }))
    const sha256 = this.#hash.digest('hex')
    if (this.expected !== undefined && sha256 !== this.expected) {
      return this.fail(new SourceChangedError(`the source of ${this.where} changed between its two reads: nothing was stored`, { findings: [`first read SHA-256 ${this.expected}, second ${sha256}`] }))
    }
    this.sha256 = sha256
    if (this.#held) this.push(this.#held)
    if (this.#gatheredBytes) this.push(this.#take())
    this.#held = undefined
    done()
  }
  #take(): Buffer {
    const all = this.#gathered.length === 1 ? this.#gathered[0] : Buffer.concat(this.#gathered, this.#gatheredBytes)
    this.#gathered = []
    this.#gatheredBytes = 0
    return all
  }
}

/**
 * Passes a stream of stated size on, refusing it (a {@link ValidationError}, the stream
 * destroyed) as soon as it is longer than `size`, or when it ends short: the write that
 * reads it stops before anything is stored (a buffered write before its request, a
 * multipart write before its completion).
 */
async function* exactly(body: Readable, size: number, where: string): AsyncGenerator<Buffer> {
  let seen = 0
  for await (const raw of body) {
    const chunk = Buffer.isBuffer(raw) ? raw : Buffer.from(raw as Uint8Array)
    seen += chunk.length
    if (seen > size) {
      body.destroy()
      throw new ValidationError(`the body of ${where} is longer than its stated size of ${size} bytes: nothing was stored; state the exact size or none`, { field: 'size' })
    }
    yield chunk
  }
  if (seen !== size) throw new ValidationError(`the body of ${where} ended after ${seen} of its stated ${size} bytes: nothing was stored; state the exact size or none`, { field: 'size' })
}

/** Reads a stream to its end, hashing and counting it (the first read of a reopenable body). */
async function hashStream(body: Readable): Promise<{ sha256: string; size: number }> {
  const hash = createHash('sha256')
  let size = 0
  for await (const raw of body) {
    const chunk = Buffer.isBuffer(raw) ? raw : Buffer.from(raw as Uint8Array)
    hash.update(chunk)
    size += chunk.length
  }
  return { sha256: hash.digest('hex'), size }
}

/** Keeps part buffers for reuse: allocating a fresh 8 MiB buffer per part grows RSS. */
class PartPool {
  readonly #free: Buffer[] = []
  constructor(readonly partSize: number) {}
  acquire = (): Buffer => this.#free.pop() ?? Buffer.allocUnsafeSlow(this.partSize)
  release(part: Buffer): void {
    if (part.byteLength === this.partSize && part.byteOffset === 0) this.#free.push(part)
    else if (part.buffer.byteLength === this.partSize) this.#free.push(Buffer.from(part.buffer, 0, this.partSize))
  }
}

/**
 * Opens the store for a bucket, checking it is locked. Without an explicit retention the
 * bucket's default retention (its Object Lock rule) is used for every write.
 */
export async function openS3EvidenceStore(opts: Omit<S3EvidenceStoreOptions, 'retention'> & { retention?: RetentionPolicy }): Promise<S3EvidenceStore> {
  let retention = opts.retention
  if (!retention) {
    const probe = new S3EvidenceStore({ ...opts, retention: { mode: 'COMPLIANCE', days: 1 } })
    await probe.assertLocked()
    const rule = (await withRetry(`reading the Object Lock rule of s3://${opts.bucket}`, () => opts.client.send(new GetObjectLockConfigurationCommand({ Bucket: opts.bucket })))).ObjectLockConfiguration?.Rule?.DefaultRetention
    // S3 returns one of Days or Years; some S3-compatible stores send the other as 0
    const days = rule?.Days ? rule.Days : rule?.Years ? rule.Years * 365 : undefined
    if (!rule?.Mode || !days) {
      throw new EvidenceBucketError(`evidence bucket s3://${opts.bucket} has no default retention: set FORENSICS_RETENTION_DAYS (and FORENSICS_RETENTION_MODE) or give the bucket a default Object Lock rule`)
    }
    retention = { mode: rule.Mode as RetentionPolicy['mode'], days }
  }
  const store = new S3EvidenceStore({ ...opts, retention })
  await store.assertLocked()
  return store
}

/** {@link EvidenceStore} over an S3 bucket with versioning and Object Lock. */
export class S3EvidenceStore implements EvidenceStore {
  readonly bucket: string
  readonly retention: RetentionPolicy
  readonly #s3: S3Client
  readonly #partSize: number
  readonly #partConcurrency: number
  readonly #singlePutLimit: number
  readonly #now: () => Date
  readonly #readBack: 'when-unproven' | 'always'
  #locked?: Promise<void>

  constructor(opts: S3EvidenceStoreOptions) {
    this.#s3 = opts.client
    this.bucket = opts.bucket
    this.retention = opts.retention
    this.#partSize = opts.partSize ?? 16 * 1024 * 1024
    this.#partConcurrency = opts.partConcurrency ?? 2
    this.#singlePutLimit = Math.min(opts.singlePutLimit ?? SINGLE_PUT_LIMIT, SINGLE_PUT_LIMIT)
    this.#now = opts.now ?? (() => new Date())
    this.#readBack = opts.readBack ?? 'when-unproven'
  }

  /** Checks once per store that the bucket exists, is versioned and has Object Lock. */
  assertLocked(): Promise<void> {
    this.#locked ??= this.#checkLocked().catch((e: unknown) => {
      this.#locked = undefined
      throw e
    })
    return this.#locked
  }

  async #checkLocked(): Promise<void> {
    const where = `evidence bucket s3://${this.bucket}`
    let versioning: string | undefined
    try {
      versioning = (await withRetry(`reading the versioning of ${where}`, () => this.#s3.send(new GetBucketVersioningCommand({ Bucket: this.bucket })))).Status
    } catch (e) {
      if (nameOf(rootOf(e)) === 'NoSuchBucket' || statusOf(rootOf(e)) === 404) {
        throw new EvidenceBucketError(`${where} does not exist: deploy the evidence stack, or pass --evidence-bucket / FORENSICS_EVIDENCE_BUCKET naming an Object-Lock bucket`, { cause: e })
      }
      throw new StorageError(`cannot read the versioning of ${where}: ${nameOf(rootOf(e))}${attemptsOf(e)}`, { cause: e })
    }
    let lock: string | undefined
    try {
      lock = (await withRetry(`reading the Object Lock configuration of ${where}`, () => this.#s3.send(new GetObjectLockConfigurationCommand({ Bucket: this.bucket })))).ObjectLockConfiguration?.ObjectLockEnabled
    } catch (e) {
      if (nameOf(rootOf(e)) !== 'ObjectLockConfigurationNotFoundError') throw new StorageError(`cannot read the Object Lock configuration of ${where}: ${nameOf(rootOf(e))}${attemptsOf(e)}`, { cause: e })
    }
    const missing = [versioning !== 'Enabled' ? 'versioning' : '', lock !== 'Enabled' ? 'Object Lock' : ''].filter(Boolean)
    if (missing.length) {
      throw new EvidenceBucketError(`${where} has no ${missing.join(' and no ')}: evidence is only written to a bucket created with Object Lock enabled (which also enables versioning); refusing to write`)
    }
  }

  #lockParams(): { ObjectLockMode: RetentionPolicy['mode']; ObjectLockRetainUntilDate: Date } {
    const until = new Date(this.#now().getTime() + this.retention.days * 86_400_000)
    return { ObjectLockMode: this.retention.mode, ObjectLockRetainUntilDate: until }
  }

  async put(input: PutEvidenceInput): Promise<StoredEvidence> {
    if (input.size !== undefined && !(Number.isSafeInteger(input.size) && input.size >= 0)) {
      if (!Buffer.isBuffer(input.body)) input.body.destroy()
      throw new ValidationError(`the stated size of s3://${this.bucket}/${input.key} is ${input.size}, not a byte count: nothing was stored`, { field: 'size' })
    }
    if (Buffer.isBuffer(input.body) && input.size !== undefined && input.size !== input.body.length) {
      throw new ValidationError(`the body of s3://${this.bucket}/${input.key} has ${input.body.length} bytes, not its stated ${input.size}: nothing was stored; state the exact size or none`, { field: 'size' })
    }
    // a stream's errors before it is read (below, after awaiting the bucket's lock) are its
    // reader's, not the process's (aws/response-body.ts)
    if (!Buffer.isBuffer(input.body)) holdBody(input.body)
    // a stream of known size that is more than one part goes up as one streamed PutObject;
    // its errors are caught from now on (one before its bytes are read would be thrown
    // where nothing listens, or leave the request waiting for bytes that never come)
    if (!Buffer.isBuffer(input.body) && input.size !== undefined && input.size > this.#partSize && input.size <= this.#singlePutLimit) {
      const body = input.body
      const early: { error?: Error } = {}
      body.on('error', (e: Error) => (early.error ??= e))
      await this.assertLocked().catch((e: unknown) => {
        body.destroy()
        throw e
      })
      return this.#putStreamed(input, body, input.size, early)
    }
    await this.assertLocked()
    if (Buffer.isBuffer(input.body) && input.body.length <= this.#partSize) return this.#putSingle(input, input.body)
    // a stream of stated size that is not streamed (at most one part, or above the single-PUT
    // limit) is held to that size too
    const body = Buffer.isBuffer(input.body) ? Readable.from([input.body]) : input.size !== undefined ? exactly(input.body, input.size, `s3://${this.bucket}/${input.key}`) : input.body
    const pool = new PartPool(this.#partSize)
    const parts = fixedParts(body, this.#partSize, pool.acquire)
    const first = await parts.next()
    const firstPart = first.done ? Buffer.alloc(0) : first.value
    const second = first.done ? { done: true as const, value: undefined } : await parts.next()
    if (second.done) return this.#putSingle(input, firstPart)
    return this.#putMultipart(input, firstPart, second.value, parts, pool)
  }

  async #putSingle(input: PutEvidenceInput, bytes: Buffer): Promise<StoredEvidence> {
    const sha256 = createHash('sha256').update(bytes).digest('hex')
    // one operation = the write and its confirmation; a transient failure of either repeats
    // both (a repeated write that meets our own earlier object is recognised below)
    const write = withRetry(`write of s3://${this.bucket}/${input.key}`, async () => {
      let versionId: string | undefined
      try {
        const out = await this.#s3.send(
          new PutObjectCommand({
            Bucket: this.bucket,
            Key: input.key,
            Body: bytes,
            ContentLength: bytes.length,
            ContentType: input.contentType,
            Metadata: input.metadata,
            ChecksumAlgorithm: 'SHA256',
            ChecksumSHA256: hexToBase64(sha256),
            IfNoneMatch: '*',
            ...this.#lockParams(),
          }),
        )
        versionId = out.VersionId
        // S3 validates the sent SHA-256 against the bytes it received (BadDigest otherwise) and
        // applies the requested Object Lock retention or fails the request: a response naming
        // the version and echoing our checksum is the proof, and the read-back round trip is
        // skipped. Without that echo (some S3-compatible stores), or with readBack 'always',
        // the version is read back.
        if (versionId && out.ChecksumSHA256 !== undefined) {
          if (out.ChecksumSHA256 !== hexToBase64(sha256)) {
            throw new IntegrityError(`write of s3://${this.bucket}/${input.key} could not be confirmed`, { findings: [`S3 answered with checksum ${out.ChecksumSHA256} for version ${versionId}, not the sent ${hexToBase64(sha256)}`] })
          }
          if (this.#readBack === 'when-unproven') return { key: input.key, versionId, sha256, size: bytes.length }
        }
      } catch (e) {
        if (e instanceof IntegrityError) throw e
        const own = isPreconditionFailed(e) ? await this.#ownEarlierWrite(input.key, hexToBase64(sha256), sha256, bytes.length) : undefined
        if (own) return own
        throw e
      }
      return this.#confirm(input.key, versionId, sha256, bytes.length, hexToBase64(sha256))
    })
    return write.catch((e: unknown) => {
      throw e instanceof IntegrityError ? e : this.#translate(e, input.key, 'write')
    })
  }

  /**
   * One streamed PutObject of a body of known size, with the checksum S3 validates before it
   * stores anything: sent up front when the source can be read twice (`reopen`: a first read
   * hashes it; a failed write is repeated from a fresh read), else as a trailer of an
   * aws-chunked body, computed by the SDK as the bytes go out (one read, no repeat: the
   * bytes are gone). Either way our own hash of the bytes sent must equal the checksum S3
   * answers, and the answer must name the version (else the version is read back), as for
   * {@link #putSingle}. An existing key is refused up front (a HEAD), so no bytes are sent.
   */
  async #putStreamed(input: PutEvidenceInput, body: Readable, size: number, early: { error?: Error }): Promise<StoredEvidence> {
    const where = `s3://${this.bucket}/${input.key}`
    try {
      if (await this.head(input.key)) throw new EvidenceExistsError(this.bucket, input.key)
    } catch (e) {
      body.destroy()
      throw e
    }
    if (early.error || body.errored) throw new StorageError(`reading the body of ${where} failed before anything was sent: ${(early.error ?? body.errored)?.message}`, { cause: early.error ?? body.errored })
    let first: { sha256: string; size: number } | undefined
    if (input.reopen) {
      try {
        first = await hashStream(body)
      } catch (e) {
        throw new StorageError(`reading the body of ${where} failed before anything was sent: ${nameOf(e)}`, { cause: e })
      }
      if (first.size !== size) throw new ValidationError(`the body of ${where} has ${first.size} bytes, not its stated ${size}: nothing was stored; state the exact size or none`, { field: 'size' })
    }
    const send = async (source: Readable): Promise<StoredEvidence> => {
      // the SDK pipes the body without passing its errors on: a failed check or a failed
      // source aborts the request (before the last byte: nothing is stored)
      const abort = new AbortController()
      let fail: (e: Error) => void = () => undefined
      const failed = new Promise<never>((_, reject) => {
        fail = (e) => {
          abort.abort()
          reject(e)
        }
      })
      failed.catch(() => undefined)
      // (chunks are gathered only for the aws-chunked body: a body with its checksum up front goes as it comes)
      const checked = new CheckedBody(where, size, first ? 0 : TRAILER_CHUNK_BYTES, first?.sha256, fail)
      source.on('error', (e) => {
        fail(new StorageError(`reading the body of ${where} failed: ${e.message}; nothing was stored`, { cause: e }))
        checked.destroy()
      })
      source.pipe(checked)
      let versionId: string | undefined
      try {
        const out = await Promise.race([
          failed,
          this.#s3.send(
            new PutObjectCommand({
              Bucket: this.bucket,
              Key: input.key,
              Body: checked,
              ContentLength: size,
              ContentType: input.contentType,
              Metadata: input.metadata,
              ChecksumAlgorithm: 'SHA256',
              ...(first ? { ChecksumSHA256: hexToBase64(first.sha256) } : {}),
              IfNoneMatch: '*',
              ...this.#lockParams(),
            }),
            { abortSignal: abort.signal },
          ),
        ])
        versionId = out.VersionId
        const sha256 = checked.sha256
        if (sha256 === undefined) throw new StorageError(`write of ${where} was answered before its body was sent`)
        if (versionId && out.ChecksumSHA256 !== undefined) {
          if (out.ChecksumSHA256 !== hexToBase64(sha256)) {
            throw new IntegrityError(`write of ${where} could not be confirmed`, { findings: [`S3 answered with checksum ${out.ChecksumSHA256} for version ${versionId}, not the ${hexToBase64(sha256)} of the bytes sent`] })
          }
          if (this.#readBack === 'when-unproven') return { key: input.key, versionId, sha256, size }
        }
        return await this.#confirm(input.key, versionId, sha256, size, hexToBase64(sha256))
      } catch (e) {
        source.destroy()
        checked.destroy()
        if (e instanceof IntegrityError || e instanceof ValidationError) throw e
        // a lost answer to a write that took effect (a 5xx, or a repeat meeting our object):
        // once the whole body was sent, the key holding exactly those bytes is our write
        const sent = checked.sha256
        const own = sent && (isPreconditionFailed(e) || isTransientError(e)) ? await this.#ownEarlierWrite(input.key, hexToBase64(sent), sent, size) : undefined
        if (own) return own
        throw e
      }
    }
    const write = input.reopen ? withRetry(`write of ${where}`, async () => send(await input.reopen!())) : send(body)
    return write.catch((e: unknown) => {
      throw e instanceof IntegrityError || e instanceof ValidationError ? e : this.#translate(e, input.key, 'write')
    })
  }

  /**
   * After a 412: was the existing object written by this very write? When a response is
   * lost (a 5xx or a reset after S3 stored the object), a retry meets our own object. The
   * same checksum and size means the same bytes: the write succeeded. (A concurrent writer
   * of identical bytes is indistinguishable, and equally harmless: evidence is defined by
   * its bytes.) Different bytes stay a conflict. A failed read of the head is not a
   * verdict: it is thrown, so the operation is retried rather than called a conflict.
   */
  async #ownEarlierWrite(key: string, checksum: string, sha256: string, size: number): Promise<StoredEvidence | undefined> {
    const head = await this.head(key)
    const composite = checksum.includes('-')
    const same = head && head.size === size && (head.checksumSHA256 === checksum || (composite && head.checksumSHA256 === checksum.split('-')[0]))
    if (!head || !same) return undefined
    return this.#confirm(key, head.versionId, sha256, size, checksum)
  }

  async #putMultipart(input: PutEvidenceInput, p1: Buffer, p2: Buffer, rest: AsyncGenerator<Buffer>, pool: PartPool): Promise<StoredEvidence> {
    // If-None-Match is checked up front too: a multipart upload of an existing key would
    // otherwise only fail at completion, after all the bytes were sent.
    if (await this.head(input.key)) throw new EvidenceExistsError(this.bucket, input.key)
    const where = `s3://${this.bucket}/${input.key}`
    let uploadId: string | undefined
    try {
      // a lost response here leaves an upload nobody completes: harmless, S3 lists it for cleanup
      uploadId = (
        await withRetry(`start of a multipart upload of ${where}`, () =>
          this.#s3.send(
            new CreateMultipartUploadCommand({
              Bucket: this.bucket,
              Key: input.key,
              ContentType: input.contentType,
              Metadata: input.metadata,
              ChecksumAlgorithm: 'SHA256',
              ...this.#lockParams(),
            }),
          ),
        )
      ).UploadId
    } catch (e) {
      throw this.#translate(e, input.key, 'start a multipart upload of')
    }
    const whole = createHash('sha256')
    const partDigests: Buffer[] = []
    const completed: CompletedPart[] = []
    const inflight = new Set<Promise<void>>()
    let failure: { error: unknown } | undefined
    let size = 0
    let partNumber = 0
    const send = (bytes: Buffer): Promise<void> => {
      const n = ++partNumber
      whole.update(bytes)
      size += bytes.length
      const digest = createHash('sha256').update(bytes).digest()
      partDigests[n - 1] = digest
      // the part's bytes stay in memory until it is stored, so a part can be sent again
      const p = withRetry(`part ${n} of ${where}`, () =>
        this.#s3.send(new UploadPartCommand({ Bucket: this.bucket, Key: input.key, UploadId: uploadId, PartNumber: n, Body: bytes, ContentLength: bytes.length, ChecksumSHA256: digest.toString('base64') })),
      ).then((out) => {
          completed[n - 1] = { PartNumber: n, ETag: out.ETag, ChecksumSHA256: digest.toString('base64') }
          pool.release(bytes)
        })
      const tracked = p.finally(() => inflight.delete(tracked))
      // a failed part must not become an unhandled rejection while the stream is read:
      // remember the first failure and stop at the next part
      tracked.catch((e: unknown) => {
        failure ??= { error: e }
      })
      inflight.add(tracked)
      return tracked
    }
    try {
      const all: Promise<void>[] = []
      all.push(send(p1), send(p2))
      for await (const part of rest) {
        // back-pressure: never more than partConcurrency parts in memory
        while (inflight.size >= this.#partConcurrency && !failure) await Promise.race(inflight).catch(() => undefined)
        if (failure) throw failure.error
        all.push(send(part))
      }
      await Promise.all(all)
      const composite = `${createHash('sha256').update(Buffer.concat(partDigests)).digest('base64')}-${partDigests.length}`
      const sha256 = whole.digest('hex')
      const out = await withRetry(`completion of ${where}`, async (attempt) => {
        try {
          return await this.#s3.send(
            new CompleteMultipartUploadCommand({
              Bucket: this.bucket,
              Key: input.key,
              UploadId: uploadId,
              IfNoneMatch: '*',
              MultipartUpload: { Parts: completed },
            }),
          )
        } catch (e) {
          // a completion whose response was lost: the repeat finds the upload gone (or the
          // key taken); if the key holds exactly our bytes, the completion took effect
          if (attempt > 1 || isPreconditionFailed(e) || isNoSuchUpload(e)) {
            const own = isPreconditionFailed(e) || isNoSuchUpload(e) ? await this.#ownEarlierWrite(input.key, composite, sha256, size) : undefined
            if (own) return { VersionId: own.versionId }
          }
          throw e
        }
      })
      // Retention requested at CreateMultipartUpload is applied by S3 on completion; some
      // S3-compatible stores (the emulator among them) drop it, so it is set explicitly
      // when missing — #confirm still requires it to be there.
      // this head is also the read-back of the write, unless retention has to be set first
      const head = out.VersionId ? await this.head(input.key, out.VersionId) : undefined
      if (head && !head.retainUntil) {
        await withRetry(`retention of ${where}`, () =>
          this.#s3.send(
            new PutObjectRetentionCommand({
              Bucket: this.bucket,
              Key: input.key,
              VersionId: out.VersionId,
              Retention: { Mode: this.retention.mode, RetainUntilDate: this.#lockParams().ObjectLockRetainUntilDate },
            }),
          ),
        )
        return await this.#confirm(input.key, out.VersionId, sha256, size, composite)
      }
      return await this.#confirm(input.key, out.VersionId, sha256, size, composite, head)
    } catch (e) {
      await Promise.allSettled(inflight)
      await this.#s3.send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: input.key, UploadId: uploadId })).catch(() => undefined)
      if (e instanceof IntegrityError || e instanceof ValidationError) throw e
      throw this.#translate(e, input.key, 'write')
    }
  }

  /**
   * Reads the stored checksum, size and retention back (or takes `read`, a head of that very
   * version read after the write); any difference is an integrity error.
   */
  async #confirm(key: string, versionId: string | undefined, sha256: string, size: number, expectedChecksum: string, read?: EvidenceHead): Promise<StoredEvidence> {
    const where = `s3://${this.bucket}/${key}`
    if (!versionId) throw new IntegrityError(`write of ${where} returned no version id: is versioning enabled?`)
    const head = read ?? (await this.head(key, versionId))
    const problems: string[] = []
    if (!head) problems.push(`${where} version ${versionId} is not readable after the write`)
    else {
      // a multipart composite is `base64(sha256(part digests))-N`; some S3-compatible
      // stores omit the `-N` part count, the digest itself must still match
      const stored = head.checksumSHA256
      const same = stored === expectedChecksum || (expectedChecksum.includes('-') && stored === expectedChecksum.split('-')[0])
      if (!same) problems.push(`${where} stored checksum ${head.checksumSHA256 ?? '(none)'} differs from the sent ${expectedChecksum}`)
      if (head.size !== size) problems.push(`${where} stored size ${head.size} differs from the ${size} bytes sent`)
      if (head.retentionMode !== this.retention.mode || !head.retainUntil) problems.push(`${where} has no ${this.retention.mode} retention after the write`)
    }
    if (problems.length) throw new IntegrityError(`write of ${where} could not be confirmed`, { findings: problems })
    return { key, versionId, sha256, size }
  }

  #translate(e: unknown, key: string, what: string): Error {
    if (e instanceof StorageError && !(e instanceof RetriesExhaustedError)) return e
    const root = rootOf(e)
    if (isPreconditionFailed(root)) return new EvidenceExistsError(this.bucket, key, { cause: e })
    if (nameOf(root) === 'NoSuchBucket') return new EvidenceBucketError(`evidence bucket s3://${this.bucket} does not exist`, { cause: e })
    return new StorageError(`could not ${what} s3://${this.bucket}/${key}: ${nameOf(root)}${statusOf(root) ? ` (HTTP ${statusOf(root)})` : ''}${attemptsOf(e)}`, { cause: e })
  }

  async get(key: string, versionId?: string): Promise<{ body: Readable; versionId: string; size: number }> {
    try {
      const out = await withRetry(`read of s3://${this.bucket}/${key}`, () => this.#s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: key, VersionId: versionId })))
      return { body: holdBody(out.Body as Readable), versionId: out.VersionId ?? versionId ?? 'null', size: out.ContentLength ?? 0 }
    } catch (e) {
      throw this.#translate(e, key, 'read')
    }
  }

  async getBytes(key: string, versionId?: string): Promise<{ bytes: Buffer; versionId: string }> {
    // a body cut mid-stream is read again from the start (small documents only)
    return withRetry(`read of s3://${this.bucket}/${key}`, async () => {
      const { body, versionId: v } = await this.get(key, versionId)
      const chunks: Buffer[] = []
      try {
        for await (const c of body) chunks.push(c as Buffer)
      } catch (e) {
        throw new StorageError(`reading s3://${this.bucket}/${key} was cut off: ${nameOf(e)}`, { cause: e })
      }
      return { bytes: Buffer.concat(chunks), versionId: v }
    })
  }

  async head(key: string, versionId?: string): Promise<EvidenceHead | undefined> {
    try {
      const out = await withRetry(`head of s3://${this.bucket}/${key}`, () => this.#s3.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key, VersionId: versionId, ChecksumMode: 'ENABLED' })))
      const checksum = out.ChecksumSHA256
      return {
        key,
        versionId: out.VersionId ?? versionId ?? 'null',
        size: out.ContentLength ?? 0,
        checksumSHA256: checksum,
        retentionMode: out.ObjectLockMode,
        retainUntil: out.ObjectLockRetainUntilDate,
        lastModified: out.LastModified,
        metadata: out.Metadata ?? {},
      }
    } catch (e) {
      if (isNotFound(e) || nameOf(e) === 'MethodNotAllowed') return undefined
      throw this.#translate(e, key, 'read the head of')
    }
  }

  async *list(prefix: string): AsyncIterable<ListedEvidence> {
    let token: string | undefined
    do {
      let page
      try {
        // page by page, each page retried on its own: a fault late in a long listing
        // does not restart it
        page = await withRetry(`listing of s3://${this.bucket}/${prefix}`, () => this.#s3.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, ContinuationToken: token })))
      } catch (e) {
        throw this.#translate(e, prefix, 'list')
      }
      for (const o of page.Contents ?? []) if (o.Key) yield { key: o.Key, size: o.Size ?? 0 }
      token = page.IsTruncated ? page.NextContinuationToken : undefined
    } while (token)
  }

  async tryDelete(key: string, versionId: string): Promise<string | undefined> {
    try {
      await this.#s3.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key, VersionId: versionId }))
      return undefined
    } catch (e) {
      return nameOf(e)
    }
  }
}
