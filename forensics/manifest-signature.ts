/**
 * Where a manifest's signature lives. The commit point of a capture is one object: the
 * manifest, written with its signature in its own (Object-Locked, immutable) user metadata,
 * so a capture is never committed without what a verifier needs — even when the process
 * dies right after the write. A detached `manifest.json.sig` object is written next to it
 * for tools that read signatures as files (and was the only form before); readers take the
 * detached object when present and the metadata otherwise.
 */
import type { EvidenceHead, EvidenceStore } from './evidence-store.js'
import { manifestKey, manifestSignatureKey } from './keys.js'

/** User-metadata keys on the manifest object (S3 shows them as `x-amz-meta-…`). */
export const SIGNATURE_METADATA = {
  signature: 'forensics-signature',
  keyId: 'forensics-signing-key',
} as const

/** The metadata that carries a signature (DER bytes, base64). */
export function signatureMetadata(signature: Buffer, keyId: string): Record<string, string> {
  // S3 user metadata is ASCII and at most 2 KB in all; key ids are ARNs, aliases or fingerprints
  return { [SIGNATURE_METADATA.signature]: signature.toString('base64'), [SIGNATURE_METADATA.keyId]: keyId.slice(0, 512) }
}

/** A manifest signature and where it was read from. */
export interface ManifestSignature {
  bytes: Buffer
  /** the detached `.sig` object, or the manifest itself when read from its metadata */
  key: string
  versionId: string
  source: 'object' | 'metadata'
}

/**
 * Reads the signature of a committed manifest: the detached `.sig` object if it exists,
 * else the manifest's metadata; undefined when neither holds one.
 */
export async function readManifestSignature(store: EvidenceStore, caseId: string, captureId: string, manifestHead?: EvidenceHead): Promise<ManifestSignature | undefined> {
  const sKey = manifestSignatureKey(caseId, captureId)
  const sHead = await store.head(sKey)
  if (sHead) {
    const { bytes, versionId } = await store.getBytes(sKey, sHead.versionId)
    return { bytes, key: sKey, versionId, source: 'object' }
  }
  const mKey = manifestKey(caseId, captureId)
  const head = manifestHead ?? (await store.head(mKey))
  const b64 = head?.metadata[SIGNATURE_METADATA.signature]
  if (!head || !b64) return undefined
  return { bytes: Buffer.from(b64, 'base64'), key: mKey, versionId: head.versionId, source: 'metadata' }
}
