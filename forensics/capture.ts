/**
 * The capture transaction: artifacts first, then the manifest as the commit point, carrying
 * its signature in its metadata, then a detached copy of the signature. A capture
 * interrupted before the manifest leaves no manifest (its artifacts are locked but
 * referenced by nothing); a redelivered trigger finds the committed manifest and returns it
 * instead of capturing twice.
 */
import type { Readable } from 'node:stream'
import { canonicalBytes } from './canonical-json.js'
import { CustodyChain, recordCaptured, type CustodyEntry } from './custody.js'
import { IntegrityError, ValidationError } from './errors.js'
import { EvidenceExistsError, type EvidenceStore } from './evidence-store.js'
import { hexToBase64, sha256Hex } from './hash.js'
import { artifactKey, deriveCaptureId, manifestKey, manifestSignatureKey, validateArtifactPath, validateCaseId } from './keys.js'
import { MANIFEST_SCHEMA, parseManifest, type ArtifactRecord, type CaptureErrorRecord, type Finding, type Manifest } from './manifest.js'
import { SIGNATURE_ALGORITHM, type Signer } from './signer.js'
import { SIGNATURE_METADATA, signatureMetadata } from './manifest-signature.js'

/** What a capture needs. */
export interface CaptureDeps {
  store: EvidenceStore
  signer: Signer
  now?: () => Date
}

/** What is being captured, by whom and why. */
export interface CaptureSpec {
  caseId: string
  collector: { name: string; version: string }
  trigger: { source: string; id: string }
  actor?: { principalArn?: string; requestId?: string }
  target: Record<string, unknown>
  /** the committed capture of the same request this one refreshes */
  supersedes?: string
  /**
   * The caller knows no manifest is committed for this trigger: it minted the trigger id
   * itself for this run (e.g. `cli:<random UUID>`) or has just read that there is none. The
   * redelivery check is skipped (a duplicate would still be refused by the manifest's
   * `If-None-Match` write).
   */
  knownUncommitted?: boolean
}

/** Options of one artifact. */
export interface ArtifactOptions {
  source?: Record<string, unknown>
  contentType?: string
}

/** Handed to the collector's body while a capture runs. */
export interface CaptureContext {
  readonly caseId: string
  readonly captureId: string
  /** Streams bytes into the evidence bucket (hashed, locked, confirmed) and records them. */
  addArtifact(path: string, body: Buffer | Readable, opts?: ArtifactOptions): Promise<ArtifactRecord>
  /**
   * Records an artifact that is already stored under this capture's key for `path` (written
   * earlier, e.g. by a fan-out worker). The stored version is read back first: it must
   * exist with the given size and retention, and with the given SHA-256 unless it is a
   * multipart composite; otherwise an IntegrityError is thrown and nothing is committed.
   * `stored.confirmed: true` skips the read-back when the caller got the record from the
   * store's own `put`, which already read the version back.
   */
  adoptArtifact(path: string, stored: { versionId: string; sha256: string; size: number; confirmed?: boolean }, opts?: ArtifactOptions): Promise<ArtifactRecord>
  /** Records what could not be captured; the capture becomes `partial`. */
  recordError(error: CaptureErrorRecord): void
  /**
   * Records that something captured could not be proven (e.g. a log file without a valid
   * digest): the capture becomes `unverified` unless it is `partial` already.
   */
  markUnverified(reason: string): void
  /** Findings for the SIEM. */
  readonly findings: Finding[]
  /** Free-form summary stored in the manifest. */
  summary?: Record<string, unknown>
}

/** A committed capture. */
export interface CaptureResult {
  manifest: Manifest
  manifestKey: string
  manifestVersionId: string
  manifestSha256: string
  /** false when the capture had been committed before (redelivery) */
  created: boolean
  /** the signature committed in the manifest's metadata (absent on manifests from before) */
  embeddedSignature?: Buffer
}

/** Reads a committed capture (the manifest and the signature it carries, if any), or undefined. */
export async function readCommittedCapture(store: EvidenceStore, caseId: string, captureId: string): Promise<CaptureResult | undefined> {
  const key = manifestKey(caseId, captureId)
  const head = await store.head(key)
  if (!head) return undefined
  const { bytes, versionId } = await store.getBytes(key, head.versionId)
  const embedded = head.metadata[SIGNATURE_METADATA.signature]
  return {
    manifest: parseManifest(bytes, `s3://${store.bucket}/${key}`),
    manifestKey: key,
    manifestVersionId: versionId,
    manifestSha256: sha256Hex(bytes),
    created: false,
    ...(embedded ? { embeddedSignature: Buffer.from(embedded, 'base64') } : {}),
  }
}

/**
 * Writes the detached `.sig` copy of a committed manifest's signature when it is missing.
 * A manifest committed with its signature embedded (every manifest this version writes)
 * only gets the convenience copy, best effort: the capture is committed and verifiable, so
 * a failure here must not turn it into a failed invocation. A manifest from before
 * signatures were embedded is signed now, and that write must succeed.
 */
async function ensureDetachedSignature(store: EvidenceStore, signer: Signer, committed: { caseId: string; captureId: string; manifestSha256: string; embedded?: Buffer }): Promise<void> {
  const key = manifestSignatureKey(committed.caseId, committed.captureId)
  const write = async (signature: Buffer): Promise<void> => {
    try {
      await store.put({ key, body: signature, contentType: 'application/octet-stream', metadata: { 'signed-sha256': committed.manifestSha256, 'key-id': signer.keyId.slice(0, 200) } })
    } catch (e) {
      // a concurrent redelivery wrote it first: either signature verifies
      if (!(e instanceof EvidenceExistsError)) throw e
    }
  }
  if (committed.embedded) {
    // written straight away: an existing copy answers 412 (handled in write) and costs no
    // more than asking first would
    await write(committed.embedded).catch(() => undefined)
    return
  }
  if (await store.head(key)) return
  await write(await signer.signDigest(committed.manifestSha256))
}

/**
 * Runs `body` as one capture and commits it. Throws when the capture could not be
 * committed (so Lambda's retries and OnFailure destination take over); failures the
 * collector records with `recordError` make a `partial` capture instead.
 */
export async function runCapture(deps: CaptureDeps, spec: CaptureSpec, body: (ctx: CaptureContext) => Promise<void>): Promise<CaptureResult> {
  const { store, signer } = deps
  const now = deps.now ?? (() => new Date())
  const caseId = validateCaseId(spec.caseId)
  const captureId = deriveCaptureId(spec.collector.name, spec.trigger.id)
  await store.assertLocked()

  const existing = spec.knownUncommitted ? undefined : await readCommittedCapture(store, caseId, captureId)
  if (existing) {
    await ensureDetachedSignature(store, signer, { caseId, captureId, manifestSha256: existing.manifestSha256, embedded: existing.embeddedSignature })
    return existing
  }

  const startedAt = now().toISOString()
  const artifacts: ArtifactRecord[] = []
  const errors: CaptureErrorRecord[] = []
  const unverified: string[] = []
  const paths = new Set<string>()
  const claimPath = (path: string): void => {
    validateArtifactPath(path)
    if (paths.has(path)) throw new ValidationError(`artifact path ${path} used twice in capture ${captureId}`, { field: 'path' })
    paths.add(path)
  }
  const ctx: CaptureContext = {
    caseId,
    captureId,
    findings: [],
    summary: undefined,
    recordError: (e) => {
      errors.push({ what: String(e.what), code: String(e.code), message: String(e.message) })
    },
    markUnverified: (reason) => {
      unverified.push(reason)
    },
    addArtifact: async (path, data, opts = {}) => {
      claimPath(path)
      const stored = await putArtifact(store, caseId, captureId, path, data, opts.contentType)
      const record: ArtifactRecord = { path: stored.path, key: stored.key, versionId: stored.versionId, sha256: stored.sha256, size: stored.size, contentType: opts.contentType, source: opts.source }
      artifacts.push(record)
      return record
    },
    adoptArtifact: async (path, stored, opts = {}) => {
      claimPath(path)
      const key = artifactKey(caseId, captureId, path)
      const record: ArtifactRecord = { path, key, versionId: stored.versionId, sha256: stored.sha256, size: stored.size, contentType: opts.contentType, source: opts.source }
      if (stored.confirmed) {
        artifacts.push(record)
        return record
      }
      const head = await store.head(key, stored.versionId)
      const where = `s3://${store.bucket}/${key} version ${stored.versionId}`
      const problems: string[] = []
      if (!head) problems.push(`${where} does not exist`)
      else {
        if (head.size !== stored.size) problems.push(`${where} has ${head.size} bytes, not the recorded ${stored.size}`)
        // below S3's 5 MiB minimum part size an object is never a multipart composite
        const composite = head.checksumSHA256?.includes('-') || head.size > 5 * 1024 * 1024
        if (head.checksumSHA256 !== hexToBase64(stored.sha256) && !composite) problems.push(`${where} checksum ${head.checksumSHA256 ?? '(none)'} differs from the recorded SHA-256 ${stored.sha256}`)
        if (!head.retainUntil) problems.push(`${where} has no Object Lock retention`)
      }
      if (problems.length) throw new IntegrityError(`cannot adopt artifact ${path} into capture ${captureId}`, { findings: problems })
      artifacts.push(record)
      return record
    },
  }
  await body(ctx)

  const manifest: Manifest = {
    schema: MANIFEST_SCHEMA,
    caseId,
    captureId,
    collector: { ...spec.collector },
    trigger: { ...spec.trigger },
    actor: { ...(spec.actor ?? {}) },
    target: spec.target,
    ...(spec.supersedes ? { supersedes: spec.supersedes } : {}),
    startedAt,
    endedAt: now().toISOString(),
    artifacts: artifacts.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0)),
    errors,
    status: errors.length ? 'partial' : unverified.length ? 'unverified' : 'complete',
    findings: ctx.findings,
    summary: ctx.summary,
    signing: { keyId: signer.keyId, algorithm: SIGNATURE_ALGORITHM },
  }
  const bytes = canonicalBytes(manifest)
  const key = manifestKey(caseId, captureId)
  // the manifest's bytes are known before it is written: it is committed together with its
  // signature (in its metadata), so no committed capture ever lacks one
  const manifestSha256 = sha256Hex(bytes)
  const signature = await signer.signDigest(manifestSha256)
  let stored
  try {
    stored = await store.put({ key, body: bytes, contentType: 'application/json', metadata: signatureMetadata(signature, signer.keyId) })
  } catch (e) {
    if (e instanceof EvidenceExistsError) {
      // a concurrent delivery of the same trigger committed first: its manifest wins
      const winner = await readCommittedCapture(store, caseId, captureId)
      if (winner) {
        await ensureDetachedSignature(store, signer, { caseId, captureId, manifestSha256: winner.manifestSha256, embedded: winner.embeddedSignature })
        return winner
      }
    }
    throw e
  }
  await ensureDetachedSignature(store, signer, { caseId, captureId, manifestSha256: stored.sha256, embedded: signature })
  return { manifest, manifestKey: key, manifestVersionId: stored.versionId, manifestSha256: stored.sha256, created: true, embeddedSignature: signature }
}

/**
 * Seals a committed capture into its case's custody chain: the one `captured` entry every
 * committed capture gets, whichever path ran it (the CLI calls this right after the
 * commit; in AWS the custody recorder appends the same entry through `recordCaptured`).
 * Idempotent: a capture already in the chain keeps its entry.
 */
export async function sealCapture(deps: CaptureDeps, result: CaptureResult, actor: CustodyEntry['actor']): Promise<{ entry: CustodyEntry; created: boolean }> {
  // a capture this very call committed cannot have an entry yet: only the tail is read
  return recordCaptured(new CustodyChain(deps.store, deps.signer, result.manifest.caseId), { ...result, captureId: result.manifest.captureId }, actor, { justCommitted: result.created })
}

/**
 * Writes one artifact. When the key already holds bytes from an earlier, uncommitted
 * attempt, identical bytes are reused and different bytes go to `<path>~<n>`: evidence
 * is never overwritten, and the manifest names exactly the versions it commits. A buffer
 * is written without asking first (the conditional write answers); a stream, which can
 * be sent only once, goes to the first free name.
 */
async function putArtifact(
  store: EvidenceStore,
  caseId: string,
  captureId: string,
  path: string,
  data: Buffer | Readable,
  contentType: string | undefined,
): Promise<{ path: string; key: string; versionId: string; sha256: string; size: number }> {
  for (let attempt = 1; attempt <= 20; attempt++) {
    const p = attempt === 1 ? path : `${path}~${attempt}`
    const key = artifactKey(caseId, captureId, p)
    if (Buffer.isBuffer(data)) {
      // written straight away (If-None-Match): the store recognises identical bytes from an
      // earlier attempt as that write; different bytes answer EvidenceExistsError
      try {
        const s = await store.put({ key, body: data, contentType })
        return { path: p, ...s }
      } catch (e) {
        if (e instanceof EvidenceExistsError) continue
        throw e
      }
    }
    // a stream can be sent once: look before writing
    if (await store.head(key)) continue
    const s = await store.put({ key, body: data, contentType })
    return { path: p, ...s }
  }
  throw new ValidationError(`artifact ${path} of capture ${captureId} exists in 20 different versions already; refusing to write more`)
}
