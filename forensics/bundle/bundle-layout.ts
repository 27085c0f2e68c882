/**
 * What is inside a bundle, and the two index documents: `bundle.json` (S3 coordinates of
 * every file) and `SHA256SUMS` (coreutils format, so `sha256sum -c SHA256SUMS` checks the
 * unpacked bundle).
 *
 *   REPORT.md                                 human-readable report
 *   SHA256SUMS                                hash of every other file
 *   artifacts/<captureId>/<safe path>         captured bytes
 *   bundle.json                               index
 *   custody/<seq>.json                        custody chain up to the head at build start
 *   manifests/<captureId>/manifest.json       manifest, exact stored bytes
 *   manifests/<captureId>/manifest.json.sig   its detached signature (DER)
 *   public-key.pem                            the key every signature verifies with
 *
 * There is deliberately no signature over the bundle itself: ECDSA signatures are
 * randomised (KMS offers no deterministic mode), which would make two bundles of one case
 * state differ. Authenticity comes from what is signed at capture time (manifests, custody
 * entries); the verifier re-derives bundle.json's claims and REPORT.md from those, and
 * the `bundled` custody entry in the evidence bucket records the bundle's SHA-256.
 */
import { ValidationError } from '../errors.js'
import { isSha256Hex } from '../hash.js'
import { mapArchivePaths } from './archive-paths.js'

/**
 * Schema id of `bundle.json`. v2: member names keep the percent-escapes already in artifact
 * paths (encoded once), and report.html is a member. A v1 bundle is refused by name: its
 * member names and reports are not what this version renders; `sha256sum -c` and openssl
 * (README) still check it, as does the version that wrote it.
 */
export const BUNDLE_SCHEMA = 'forensics.bundle/v2'

/** Fixed member names. */
export const MEMBER = {
  report: 'REPORT.md',
  /** the self-contained HTML case report (report/render-report.ts) */
  html: 'report.html',
  sums: 'SHA256SUMS',
  index: 'bundle.json',
  publicKey: 'public-key.pem',
} as const

/** Archive formats. */
export type BundleFormat = 'zip' | 'tar.gz'

/** Member name of a capture's manifest. */
export const manifestMember = (captureId: string): string => `manifests/${captureId}/manifest.json`
/** Member name of a manifest's signature. */
export const manifestSignatureMember = (captureId: string): string => `${manifestMember(captureId)}.sig`
/** Member name of custody entry `seq`. */
export const custodyMember = (seq: number): string => `custody/${String(seq).padStart(8, '0')}.json`

/**
 * Member names of a capture's artifacts, keyed by artifact path: `artifacts/<captureId>/`
 * plus the safe mapping of each path (see archive-paths.ts).
 */
export function artifactMembers(captureId: string, artifactPaths: Iterable<string>): Map<string, string> {
  const out = new Map<string, string>()
  for (const [path, safe] of mapArchivePaths(artifactPaths)) out.set(path, `artifacts/${captureId}/${safe}`)
  return out
}

/** What a file in the bundle is. */
export type BundleFileKind = 'artifact' | 'manifest' | 'manifest-signature' | 'custody' | 'report' | 'public-key'

/** One file of the bundle in `bundle.json`. */
export interface BundleFile {
  path: string
  kind: BundleFileKind
  sha256: string
  size: number
  /** S3 coordinates, for files copied from the evidence bucket */
  bucket?: string
  key?: string
  versionId?: string
  captureId?: string
  /** the artifact path the manifest records (the original name before mapping) */
  artifactPath?: string
}

/** `bundle.json`. */
export interface BundleIndex {
  schema: typeof BUNDLE_SCHEMA
  caseId: string
  bucket: string
  tool: { name: string; version: string }
  publicKey: { fingerprint: string; signerKeyId: string }
  captures: { captureId: string; collector: string; status: string; manifest: string; artifacts: number }[]
  /** the newest custody entry included (the chain's head when the build started) */
  custodyHead: { seq: number; hash: string; key: string; versionId: string; time: string } | null
  /** every file but bundle.json and SHA256SUMS, in path order */
  files: BundleFile[]
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)

/** Parses `bundle.json`; throws a ValidationError saying what is wrong. */
export function parseBundleIndex(bytes: Buffer): BundleIndex {
  let doc: unknown
  try {
    doc = JSON.parse(bytes.toString('utf8'))
  } catch (e) {
    throw new ValidationError(`${MEMBER.index} is not JSON: ${(e as Error).message}`, { cause: e })
  }
  if (isObj(doc) && doc.schema === 'forensics.bundle/v1') {
    throw new ValidationError(
      `${MEMBER.index} is forensics.bundle/v1, written by an earlier cdktf-forensics whose member names and reports this version does not re-render: ` +
        'check it with `sha256sum -c SHA256SUMS` and openssl (README, "Verify a bundle with only sha256sum and openssl") or with the version that wrote it',
    )
  }
  if (!isObj(doc) || doc.schema !== BUNDLE_SCHEMA) throw new ValidationError(`${MEMBER.index} is not a ${BUNDLE_SCHEMA} index`)
  if (typeof doc.caseId !== 'string' || !Array.isArray(doc.files) || !Array.isArray(doc.captures)) throw new ValidationError(`${MEMBER.index} lacks caseId, captures or files`)
  for (const [i, f] of (doc.files as unknown[]).entries()) {
    if (!isObj(f) || typeof f.path !== 'string' || !isSha256Hex(f.sha256) || typeof f.size !== 'number') throw new ValidationError(`${MEMBER.index} files[${i}] needs path, sha256 and size`)
  }
  for (const [i, c] of (doc.captures as unknown[]).entries()) {
    if (!isObj(c) || typeof c.captureId !== 'string') throw new ValidationError(`${MEMBER.index} captures[${i}] needs a captureId`)
  }
  const head = doc.custodyHead
  if (head !== null && (!isObj(head) || typeof head.seq !== 'number' || !isSha256Hex(head.hash))) throw new ValidationError(`${MEMBER.index} custodyHead must be null or {seq, hash}`)
  return doc as unknown as BundleIndex
}

/**
 * `SHA256SUMS` in coreutils text format: `<hex>  <path>` per line, sorted by path. Paths
 * are safe ASCII, so coreutils' backslash escaping never applies.
 */
export function formatSha256Sums(files: readonly { path: string; sha256: string }[]): string {
  return [...files]
    .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
    .map((f) => `${f.sha256}  ${f.path}\n`)
    .join('')
}

/** A parsed `SHA256SUMS`: path → hash, plus the lines that are not `<hex>  <path>`. */
export interface ParsedSums {
  entries: Map<string, string>
  invalidLines: number[]
  duplicates: string[]
}

/** Parses coreutils `sha256sum` output (text ` ` or binary `*` mode). */
export function parseSha256Sums(text: string): ParsedSums {
  const entries = new Map<string, string>()
  const invalidLines: number[] = []
  const duplicates: string[] = []
  const lines = text.split('\n')
  if (lines.at(-1) === '') lines.pop()
  for (const [i, line] of lines.entries()) {
    const m = /^([0-9a-f]{64}) [ *](.+)$/.exec(line)
    if (!m) {
      invalidLines.push(i + 1)
      continue
    }
    if (entries.has(m[2])) duplicates.push(m[2])
    entries.set(m[2], m[1])
  }
  return { entries, invalidLines, duplicates }
}
