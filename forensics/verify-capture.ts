/**
 * Verifies a committed capture in the evidence bucket: the manifest and its signature,
 * and every artifact present at its recorded version, with matching size and SHA-256 on
 * re-read, and Object Lock retention no shorter than configured.
 *
 * Retention is judged per object from that object's own write time (S3's LastModified of
 * the version): a fanned-out capture writes pages and artifacts long before the worker
 * that commits the manifest starts, so the manifest's times say nothing about them.
 */
import { createHash } from 'node:crypto'
import type { EvidenceStore, RetentionPolicy } from './evidence-store.js'
import { sha256Hex } from './hash.js'
import { manifestKey, manifestSignatureKey } from './keys.js'
import { parseManifest, type Manifest } from './manifest.js'
import { verifyDigestSignature } from './signer.js'
import { readManifestSignature } from './manifest-signature.js'

/** One verification problem, naming the object. */
export interface VerificationFinding {
  code: 'manifest-missing' | 'manifest-invalid' | 'signature-missing' | 'signature-invalid' | 'artifact-missing' | 'size-mismatch' | 'hash-mismatch' | 'retention-missing' | 'retention-short'
  subject: string
  message: string
}

/** Options of {@link verifyCapture}. */
export interface VerifyCaptureOptions {
  publicKeyPem: string
  /** retention the deployment requires (default: the store's) */
  retention?: RetentionPolicy
  /** tolerance for clock skew between write and retain-until (default 5 minutes) */
  skewMs?: number
}

/** Verifies one capture; resolves to its findings (empty when everything holds). */
export async function verifyCapture(store: EvidenceStore, caseId: string, captureId: string, opts: VerifyCaptureOptions): Promise<{ manifest?: Manifest; findings: VerificationFinding[] }> {
  const findings: VerificationFinding[] = []
  const mKey = manifestKey(caseId, captureId)
  const where = (k: string): string => `s3://${store.bucket}/${k}`
  const mHead = await store.head(mKey)
  if (!mHead) return { findings: [{ code: 'manifest-missing', subject: mKey, message: `${where(mKey)} does not exist: the capture was never committed` }] }
  const { bytes } = await store.getBytes(mKey, mHead.versionId)
  let manifest: Manifest
  try {
    manifest = parseManifest(bytes, where(mKey))
  } catch (e) {
    return { findings: [{ code: 'manifest-invalid', subject: mKey, message: (e as Error).message }] }
  }
  const retention = opts.retention ?? store.retention
  const skew = opts.skewMs ?? 5 * 60_000
  /** `fallbackWrittenAt` only when the store reports no write time for the version */
  const checkRetention = (key: string, head: { retentionMode?: string; retainUntil?: Date; lastModified?: Date }, fallbackWrittenAt: string): void => {
    if (!head.retentionMode || !head.retainUntil) {
      findings.push({ code: 'retention-missing', subject: key, message: `${where(key)} has no Object Lock retention` })
      return
    }
    const writtenAt = head.lastModified?.getTime() ?? new Date(fallbackWrittenAt).getTime()
    const required = writtenAt + retention.days * 86_400_000 - skew
    if (head.retentionMode !== retention.mode || head.retainUntil.getTime() < required) {
      findings.push({ code: 'retention-short', subject: key, message: `${where(key)} is retained ${head.retentionMode} until ${head.retainUntil.toISOString()}, shorter than the required ${retention.mode} ${retention.days} days from its write at ${new Date(writtenAt).toISOString()}` })
    }
  }
  checkRetention(mKey, mHead, manifest.endedAt)

  const sig = await readManifestSignature(store, caseId, captureId, mHead)
  if (!sig) {
    const sKey = manifestSignatureKey(caseId, captureId)
    findings.push({ code: 'signature-missing', subject: sKey, message: `${where(sKey)} is missing and ${where(mKey)} carries no signature in its metadata` })
  } else if (!verifyDigestSignature(opts.publicKeyPem, sha256Hex(bytes), sig.bytes)) {
    const what = sig.source === 'object' ? where(sig.key) : `the signature in the metadata of ${where(mKey)}`
    findings.push({ code: 'signature-invalid', subject: sig.key, message: `${what} does not verify ${mKey} with the public key` })
  }

  for (const a of manifest.artifacts) {
    const head = await store.head(a.key, a.versionId)
    if (!head) {
      findings.push({ code: 'artifact-missing', subject: a.key, message: `${where(a.key)} version ${a.versionId} is missing` })
      continue
    }
    checkRetention(a.key, head, manifest.startedAt)
    if (head.size !== a.size) findings.push({ code: 'size-mismatch', subject: a.key, message: `${where(a.key)} has ${head.size} bytes, the manifest says ${a.size}` })
    const { body } = await store.get(a.key, a.versionId)
    const h = createHash('sha256')
    for await (const chunk of body) h.update(chunk as Buffer)
    const got = h.digest('hex')
    if (got !== a.sha256) findings.push({ code: 'hash-mismatch', subject: a.key, message: `${where(a.key)} SHA-256 ${got} differs from the manifest's ${a.sha256}` })
  }
  return { manifest, findings }
}
