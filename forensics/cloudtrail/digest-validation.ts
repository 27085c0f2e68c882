/**
 * CloudTrail log file integrity validation, compatible with `aws cloudtrail validate-logs`:
 * each digest's SHA256withRSA signature over
 *   digestEndTime \n digestS3Bucket/digestS3Object \n hex(sha256(uncompressed digest)) \n previousDigestSignature|null
 * (signature hex in the object's `x-amz-meta-signature`), the public key chosen by
 * `digestPublicKeyFingerprint` among those ListPublicKeys returns, the `previousDigest*`
 * chain, and each log file's SHA-256 of its uncompressed bytes against `logFiles[].hashValue`.
 */
import { createHash, createPublicKey, verify, type KeyObject } from 'node:crypto'
import { gunzipSync } from 'node:zlib'
import type { ListedDigestFile, StoredObject } from './archive-source.js'

/** The verdict for one log file. */
export type LogFileVerdict = 'valid' | 'hash-mismatch' | 'not-covered' | 'digest-missing' | 'signature-invalid'

/** A public key as ListPublicKeys returns it. */
export interface TrailPublicKey {
  fingerprint: string
  /** PKCS#1 RSAPublicKey, DER */
  value: Buffer
  validityStart?: string
  validityEnd?: string
}

/** Where public keys come from (ListPublicKeys of the trail's home region). */
export interface PublicKeySource {
  listPublicKeys(region: string, start: Date, end: Date): Promise<TrailPublicKey[]>
}

/** Reads digest objects; undefined = the object does not exist. */
export type DigestReader = (bucket: string, key: string) => Promise<StoredObject | undefined>

/** The parts of a digest file we use. */
export interface DigestDocument {
  awsAccountId?: string
  digestStartTime: string
  digestEndTime: string
  digestS3Bucket: string
  digestS3Object: string
  digestPublicKeyFingerprint: string
  digestSignatureAlgorithm?: string
  previousDigestS3Bucket: string | null
  previousDigestS3Object: string | null
  previousDigestHashValue: string | null
  previousDigestHashAlgorithm?: string | null
  previousDigestSignature: string | null
  logFiles: Array<{ s3Bucket: string; s3Object: string; hashValue: string; hashAlgorithm?: string; oldestEventTime?: string; newestEventTime?: string }>
}

/** The outcome for one digest file. */
export interface DigestCheck {
  bucket: string
  key: string
  backfill: boolean
  versionId?: string
  /** SHA-256 of the stored (compressed) bytes and of the uncompressed digest */
  sha256?: string
  uncompressedSha256?: string
  status: 'valid' | 'signature-invalid' | 'unreadable'
  reason?: string
  fingerprint?: string
  startTime?: string
  endTime?: string
  /** log files listed */
  logFiles: number
}

/** A problem with the chain of digests. */
export interface ChainFinding {
  kind: 'previous-digest-missing' | 'previous-digest-hash-mismatch' | 'previous-signature-mismatch' | 'chain-restart'
  digest: string
  previous?: string
  message: string
}

/** A log file to judge. */
export interface LogFileToJudge {
  bucket: string
  key: string
  /** delivery time from the key, epoch ms */
  time: number
  /** SHA-256 hex of the uncompressed bytes */
  uncompressedSha256: string
}

/** A judged log file. */
export interface LogFileJudgement {
  verdict: LogFileVerdict
  digest?: string
  reason?: string
}

/** The result of validating the digests of one scope. */
export interface DigestValidation {
  digests: DigestCheck[]
  chain: ChainFinding[]
  /** the objects read (for the slice's artifacts), keyed by `bucket/key` */
  objects: Map<string, StoredObject>
  /** fingerprints of the keys that verified something */
  keysUsed: Map<string, TrailPublicKey>
  judge(file: LogFileToJudge): LogFileJudgement
}

const REQUIRED = ['digestStartTime', 'digestEndTime', 'digestS3Bucket', 'digestS3Object', 'digestPublicKeyFingerprint', 'previousDigestSignature', 'logFiles'] as const

/** The string CloudTrail signs for a digest. */
export function digestStringToSign(doc: DigestDocument, uncompressedSha256: string): string {
  return `${doc.digestEndTime}\n${doc.digestS3Bucket}/${doc.digestS3Object}\n${uncompressedSha256}\n${doc.previousDigestSignature ?? 'null'}`
}

/** Turns a ListPublicKeys value (DER, or base64 text of DER as some tools pass it) into a key. */
export function publicKeyFromValue(value: Buffer): KeyObject {
  let der = value
  const text = value.toString('latin1')
  if (/^[A-Za-z0-9+/=\s]+$/.test(text)) der = Buffer.from(text, 'base64')
  try {
    return createPublicKey({ key: der, format: 'der', type: 'pkcs1' })
  } catch {
    return createPublicKey({ key: der, format: 'der', type: 'spki' })
  }
}

/** Verifies a digest signature (hex) with SHA256withRSA. */
export function verifyDigestSignature(doc: DigestDocument, uncompressedSha256: string, signatureHex: string, key: TrailPublicKey): boolean {
  if (!/^([0-9a-fA-F]{2})+$/.test(signatureHex)) return false
  return verify('sha256', Buffer.from(digestStringToSign(doc, uncompressedSha256)), publicKeyFromValue(key.value), Buffer.from(signatureHex, 'hex'))
}

interface LoadedDigest {
  check: DigestCheck
  doc?: DigestDocument
  signature?: string
  start: number
  end: number
}

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex')
const loc = (bucket: string, key: string): string => `${bucket}/${key}`

/**
 * Validates the digests of one scope (listed in time order) and returns a judge for log
 * files. A link to a previous digest outside the listing is followed one step (to prove
 * it exists and matches). Key lookups are cached per region and period.
 */
export async function validateDigests(
  listed: ListedDigestFile[],
  read: DigestReader,
  keys: PublicKeySource,
  opts: { tolerateMs?: number } = {},
): Promise<DigestValidation> {
  const tolerate = opts.tolerateMs ?? 2 * 60_000
  const objects = new Map<string, StoredObject>()
  const keysUsed = new Map<string, TrailPublicKey>()
  const keyCache = new Map<string, Promise<TrailPublicKey[]>>()
  const keysFor = (region: string, start: Date, end: Date): Promise<TrailPublicKey[]> => {
    const id = `${region} ${start.toISOString()} ${end.toISOString()}`
    let p = keyCache.get(id)
    if (!p) keyCache.set(id, (p = keys.listPublicKeys(region, start, end)))
    return p
  }

  const load = async (bucket: string, key: string, homeRegion: string, backfill: boolean): Promise<LoadedDigest | undefined> => {
    const obj = await read(bucket, key)
    if (!obj) return undefined
    objects.set(loc(bucket, key), obj)
    const check: DigestCheck = { bucket, key, backfill, versionId: obj.versionId, sha256: sha256(obj.bytes), status: 'unreadable', logFiles: 0 }
    const out: LoadedDigest = { check, start: NaN, end: NaN }
    let inflated: Buffer
    let doc: DigestDocument
    try {
      inflated = gunzipSync(obj.bytes)
      doc = JSON.parse(inflated.toString('utf8')) as DigestDocument
      const missing = REQUIRED.filter((f) => !(f in doc))
      if (missing.length) throw new Error(`missing field(s) ${missing.join(', ')}`)
    } catch (err) {
      check.reason = `digest s3://${bucket}/${key} cannot be read: ${(err as Error).message}`
      return out
    }
    out.doc = doc
    check.uncompressedSha256 = sha256(inflated)
    check.fingerprint = doc.digestPublicKeyFingerprint
    check.startTime = doc.digestStartTime
    check.endTime = doc.digestEndTime
    check.logFiles = Array.isArray(doc.logFiles) ? doc.logFiles.length : 0
    out.start = Date.parse(doc.digestStartTime)
    out.end = Date.parse(doc.digestEndTime)
    check.status = 'signature-invalid'
    const signature = obj.metadata.signature
    out.signature = signature
    if (doc.digestS3Bucket !== bucket || doc.digestS3Object !== key) {
      check.reason = `digest s3://${bucket}/${key} says it belongs at s3://${doc.digestS3Bucket}/${doc.digestS3Object}: it has been moved`
      return out
    }
    if (!signature || !obj.metadata['signature-algorithm']) {
      check.reason = `digest s3://${bucket}/${key} has no x-amz-meta-signature / x-amz-meta-signature-algorithm metadata`
      return out
    }
    if (obj.metadata['signature-algorithm'] !== 'SHA256withRSA') {
      check.reason = `digest s3://${bucket}/${key} uses signature algorithm ${obj.metadata['signature-algorithm']}; only SHA256withRSA is known`
      return out
    }
    const end = new Date(out.end)
    let candidates = await keysFor(homeRegion, new Date(out.end - 86_400_000), new Date(out.end + 86_400_000))
    if (backfill && !candidates.some((k) => k.fingerprint === doc.digestPublicKeyFingerprint)) {
      const ts = Date.parse(obj.metadata['backfill-generation-timestamp'] ?? '')
      if (Number.isFinite(ts)) candidates = await keysFor(homeRegion, new Date(ts - 3600_000), new Date(ts + 3600_000))
    }
    const key0 = candidates.find((k) => k.fingerprint === doc.digestPublicKeyFingerprint)
    if (!key0) {
      check.reason = `no public key with fingerprint ${doc.digestPublicKeyFingerprint} in region ${homeRegion} around ${end.toISOString()} (ListPublicKeys); cannot verify s3://${bucket}/${key}`
      return out
    }
    let ok = false
    try {
      ok = verifyDigestSignature(doc, check.uncompressedSha256, signature, key0)
    } catch (err) {
      check.reason = `public key ${key0.fingerprint} cannot be loaded: ${(err as Error).message}`
      return out
    }
    if (!ok) {
      check.reason = `the SHA256withRSA signature of digest s3://${bucket}/${key} does not verify with key ${key0.fingerprint}: the digest or its signature was altered`
      return out
    }
    keysUsed.set(key0.fingerprint, key0)
    check.status = 'valid'
    return out
  }

  const loaded: LoadedDigest[] = []
  const byLoc = new Map<string, LoadedDigest>()
  for (const d of listed) {
    const x = await load(d.bucket, d.key, d.homeRegion, d.backfill)
    if (!x) continue
    loaded.push(x)
    byLoc.set(loc(d.bucket, d.key), x)
  }

  // Walk the chain of standard digests: every link must point at an existing digest whose
  // uncompressed hash and signature are the ones recorded.
  const chain: ChainFinding[] = []
  for (const d of loaded) {
    if (!d.doc || d.check.backfill) continue
    const { previousDigestS3Bucket: pb, previousDigestS3Object: pk } = d.doc
    if (!pb || !pk) {
      if (loaded.some((o) => !o.check.backfill && o.end < d.start)) {
        chain.push({ kind: 'chain-restart', digest: d.check.key, message: `digest ${d.check.key} starts a new chain (logging was stopped and restarted, or validation was turned off)` })
      }
      continue
    }
    let prev = byLoc.get(loc(pb, pk))
    if (!prev) {
      const parsed = /_(\d{8}T\d{6})Z(?:_backfill)?\.json\.gz$/.exec(pk)
      if (parsed) {
        const o = await read(pb, pk)
        if (o) {
          objects.set(loc(pb, pk), o)
          prev = { check: { bucket: pb, key: pk, backfill: false, status: 'valid', logFiles: 0, uncompressedSha256: safeInflatedHash(o.bytes) }, signature: o.metadata.signature, start: NaN, end: NaN }
        }
      }
      if (!prev) {
        chain.push({ kind: 'previous-digest-missing', digest: d.check.key, previous: pk, message: `digest ${d.check.key} points to previous digest s3://${pb}/${pk}, which does not exist: the chain is broken (a digest was deleted)` })
        continue
      }
    }
    if (d.doc.previousDigestHashValue && prev.check.uncompressedSha256 !== d.doc.previousDigestHashValue) {
      chain.push({ kind: 'previous-digest-hash-mismatch', digest: d.check.key, previous: pk, message: `previous digest s3://${pb}/${pk} hashes to ${prev.check.uncompressedSha256}, but ${d.check.key} recorded ${d.doc.previousDigestHashValue}: it was replaced` })
    }
    if (prev.signature !== d.doc.previousDigestSignature) {
      chain.push({ kind: 'previous-signature-mismatch', digest: d.check.key, previous: pk, message: `the signature of previous digest s3://${pb}/${pk} differs from the one ${d.check.key} recorded` })
    }
  }

  // Which log file is vouched for by which digest.
  const listedIn = new Map<string, { d: LoadedDigest; hash: string }>()
  for (const d of loaded) {
    for (const f of d.doc?.logFiles ?? []) {
      const id = loc(f.s3Bucket, f.s3Object)
      const have = listedIn.get(id)
      if (!have || (have.d.check.status !== 'valid' && d.check.status === 'valid')) listedIn.set(id, { d, hash: f.hashValue })
    }
  }
  const brokenLinks = new Set(chain.filter((c) => c.kind !== 'chain-restart').map((c) => c.digest))
  const periods = loaded.filter((d) => d.doc && !d.check.backfill && Number.isFinite(d.start) && Number.isFinite(d.end))

  return {
    digests: loaded.map((d) => d.check),
    chain,
    objects,
    keysUsed,
    judge(file: LogFileToJudge): LogFileJudgement {
      const hit = listedIn.get(loc(file.bucket, file.key))
      if (hit) {
        const digest = hit.d.check.key
        if (hit.d.check.status !== 'valid') return { verdict: 'signature-invalid', digest, reason: hit.d.check.reason }
        if (hit.hash !== file.uncompressedSha256) {
          return { verdict: 'hash-mismatch', digest, reason: `SHA-256 of the uncompressed file is ${file.uncompressedSha256}, digest ${digest} recorded ${hit.hash}: the file changed after delivery` }
        }
        if (brokenLinks.has(digest)) return { verdict: 'valid', digest, reason: 'hash and signature valid, but the chain before this digest is broken (see chain findings)' }
        return { verdict: 'valid', digest }
      }
      const inPeriod = periods.find((d) => file.time >= d.start - tolerate && file.time <= d.end + tolerate)
      if (inPeriod) {
        return { verdict: 'not-covered', digest: inPeriod.check.key, reason: `digest ${inPeriod.check.key} covers the delivery time of s3://${file.bucket}/${file.key} but does not list it: it was not delivered by CloudTrail` }
      }
      return { verdict: 'digest-missing', reason: `no digest covering the delivery time ${new Date(file.time).toISOString()} of s3://${file.bucket}/${file.key} was found (deleted, not yet delivered, or validation off)` }
    },
  }
}

function safeInflatedHash(bytes: Buffer): string | undefined {
  try {
    return sha256(gunzipSync(bytes))
  } catch {
    return undefined
  }
}
