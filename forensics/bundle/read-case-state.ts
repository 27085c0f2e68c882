/**
 * Reads what a bundle is built from: the committed captures of a case (manifest bytes and
 * their detached signatures, at their stored versions) and its custody chain up to the
 * head at the moment of reading. Small documents only; artifacts are streamed later.
 */
import { IntegrityError, ValidationError } from '../errors.js'
import type { EvidenceStore } from '../evidence-store.js'
import { sha256Hex } from '../hash.js'
import { readManifestSignature } from '../manifest-signature.js'
import { casePrefix, custodyPrefix, custodySeqFromKey, manifestKey, manifestSignatureKey, validateCaptureId, validateCaseId } from '../keys.js'
import { parseManifest, type Manifest } from '../manifest.js'
import type { CustodyEntry } from '../custody.js'
import { verifyDigestSignature, type Signer } from '../signer.js'
import { loadReportInputs, type ReportInputs } from '../report/report-inputs.js'

/** One committed capture as stored. */
export interface StoredCapture {
  captureId: string
  manifest: Manifest
  manifestKey: string
  manifestVersionId: string
  manifestBytes: Buffer
  manifestSha256: string
  signatureKey: string
  signatureVersionId: string
  signatureBytes: Buffer
}

/** One custody entry as stored (the entry is undefined when the bytes are not JSON). */
export interface StoredCustody {
  seq: number
  key: string
  versionId: string
  bytes: Buffer
  entry?: CustodyEntry
}

/** The state of a case a bundle is built from. */
export interface CaseState {
  caseId: string
  bucket: string
  captures: StoredCapture[]
  custody: StoredCustody[]
}

/**
 * Reads the case: every committed capture (or the chosen ones) and the whole custody
 * chain. Throws a ValidationError when the case or a chosen capture does not exist, and
 * an IntegrityError when a manifest has no signature or does not parse.
 */
export async function readCaseState(store: EvidenceStore, caseIdIn: string, captureIds?: readonly string[]): Promise<CaseState> {
  const caseId = validateCaseId(caseIdIn)
  const chosen = captureIds?.length ? new Set(captureIds.map((c) => validateCaptureId(c))) : undefined
  const capturesPrefix = `${casePrefix(caseId)}captures/`
  const found: string[] = []
  const custodyKeys: string[] = []
  for await (const o of store.list(casePrefix(caseId))) {
    if (o.key.startsWith(capturesPrefix) && o.key.endsWith('/manifest.json')) {
      const id = o.key.slice(capturesPrefix.length, -'/manifest.json'.length)
      if (!id.includes('/') && (!chosen || chosen.has(id))) found.push(id)
    } else if (o.key.startsWith(custodyPrefix(caseId)) && custodySeqFromKey(o.key) !== undefined) {
      custodyKeys.push(o.key)
    }
  }
  if (chosen) {
    const missing = [...chosen].filter((c) => !found.includes(c))
    if (missing.length) throw new ValidationError(`case ${caseId} has no committed capture ${missing.join(', ')}: list them with \`forensics custody ${caseId}\``, { field: 'capture' })
  }
  if (found.length === 0 && custodyKeys.length === 0) {
    throw new ValidationError(`case ${caseId} has no committed captures in s3://${store.bucket}: check the case id (\`forensics cases\`) and the evidence bucket`, { field: 'caseId' })
  }

  const captures: StoredCapture[] = []
  for (const captureId of found.sort()) {
    const mKey = manifestKey(caseId, captureId)
    const { bytes, versionId } = await store.getBytes(mKey)
    let manifest: Manifest
    try {
      manifest = parseManifest(bytes, `s3://${store.bucket}/${mKey}`)
    } catch (e) {
      throw new IntegrityError(`manifest s3://${store.bucket}/${mKey} cannot be bundled: ${(e as Error).message}`, { cause: e })
    }
    if (manifest.caseId !== caseId || manifest.captureId !== captureId) {
      throw new IntegrityError(`manifest s3://${store.bucket}/${mKey} names case ${manifest.caseId} capture ${manifest.captureId}, not where it is stored`)
    }
    const sig = await readManifestSignature(store, caseId, captureId)
    if (!sig) {
      const sKey = manifestSignatureKey(caseId, captureId)
      throw new IntegrityError(`manifest signature s3://${store.bucket}/${sKey} is missing and the manifest carries none: re-run the capture (a redelivery signs a committed manifest) before bundling`)
    }
    captures.push({
      captureId,
      manifest,
      manifestKey: mKey,
      manifestVersionId: versionId,
      manifestBytes: bytes,
      manifestSha256: sha256Hex(bytes),
      signatureKey: sig.key,
      signatureVersionId: sig.versionId,
      signatureBytes: sig.bytes,
    })
  }

  const custody: StoredCustody[] = []
  for (const key of custodyKeys.sort()) {
    const { bytes, versionId } = await store.getBytes(key)
    let entry: CustodyEntry | undefined
    try {
      entry = JSON.parse(bytes.toString('utf8')) as CustodyEntry
    } catch {
      // bundled as stored; the verifier reports it
    }
    custody.push({ seq: custodySeqFromKey(key)!, key, versionId, bytes, entry })
  }
  return { caseId, bucket: store.bucket, captures, custody }
}

/** A case state whose manifests verify with the signer's key, plus the report's inputs. */
export interface SignedCaseState {
  state: CaseState
  publicKeyPem: string
  reportInputs: ReportInputs
}

/**
 * Reads the case state (see {@link readCaseState}), checks that every manifest's signature
 * verifies with the signer's public key, and loads the report inputs (checked against
 * their manifests). What a bundle and `forensics report` are both built from: nothing
 * unsigned gets into either. Throws an IntegrityError naming the manifest or artifact.
 */
export async function readSignedCaseState(store: EvidenceStore, signer: Signer, caseId: string, captureIds?: readonly string[]): Promise<SignedCaseState> {
  const state = await readCaseState(store, caseId, captureIds)
  const publicKeyPem = await signer.publicKeyPem()
  for (const c of state.captures) {
    if (!verifyDigestSignature(publicKeyPem, c.manifestSha256, c.signatureBytes)) {
      throw new IntegrityError(`manifest s3://${store.bucket}/${c.manifestKey} does not verify with signing key ${signer.keyId} (the manifest names ${c.manifest.signing?.keyId}): set FORENSICS_SIGNING_KEY to the key the captures were signed with`, {
        findings: [`s3://${store.bucket}/${c.signatureKey}: signature does not verify ${c.manifestKey} with ${signer.keyId}`],
      })
    }
  }
  const reportInputs = await loadReportInputs(store, state.captures)
  return { state, publicKeyPem, reportInputs }
}
