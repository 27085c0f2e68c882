/**
 * The offline checks of a bundle, as data: each check is a named function over the
 * bundle's members that reports findings, each naming the member at fault. They need no
 * AWS access and no disk: a bundle read by bundle-reader.ts, or a member list built in
 * memory (the mutation tests), goes through exactly the same code.
 */
import { createPublicKey, type KeyObject } from 'node:crypto'
import { canonicalJson } from '../canonical-json.js'
import { verifyCustodyChain, type CustodyEntry } from '../custody.js'
import { sha256Hex } from '../hash.js'
import { custodyKey, custodySeqFromKey, manifestKey } from '../keys.js'
import { parseManifest, type Manifest } from '../manifest.js'
import { publicKeyFingerprint, SIGNATURE_ALGORITHM, verifyDigestSignature } from '../signer.js'
import { isSafeMemberName } from './archive-paths.js'
import { MEMBER, artifactMembers, custodyMember, formatSha256Sums, manifestMember, manifestSignatureMember, parseBundleIndex, parseSha256Sums, type BundleFile, type BundleIndex } from './bundle-layout.js'
import { renderBundleReport } from './bundle-report.js'
import type { BundleMember } from './bundle-reader.js'
import { renderReportHtml } from '../report/render-report.js'
import { reportSourceOfMembers } from './report-source.js'

/** One problem, naming the member (file inside the bundle) it is about. */
export interface BundleFinding {
  check: string
  member: string
  message: string
}

/** What the checks share: the members and what earlier checks parsed. */
export interface CheckContext {
  members: readonly BundleMember[]
  byName: Map<string, BundleMember>
  index?: BundleIndex
  publicKey?: KeyObject
  /** parsed manifests by capture id (only those whose member parsed) */
  manifests: Map<string, { manifest: Manifest; member: BundleMember }>
  custody: { seq: number; member: BundleMember; entry?: CustodyEntry }[]
  /** members some manifest, index or layout rule accounts for */
  expected: Set<string>
  /** manifest signatures that verified with the bundled key */
  verifiedSignatures: number
  report(member: string, message: string): void
}

/** A named check. */
export interface BundleCheck {
  name: string
  /** what it proves, in one line (listed in report.html) */
  description: string
  run(ctx: CheckContext): void
}

const MANIFEST_NAME = /^manifests\/([^/]+)\/manifest\.json$/
const CUSTODY_NAME = /^custody\/(\d{8})\.json$/
const SIGNATURE_NAME = /^manifests\/([^/]+)\/manifest\.json\.sig$/
const LAYOUT_DOCUMENTS: ReadonlySet<string> = new Set(Object.values(MEMBER))

/** Names a bundle's layout defines outside `artifacts/`. */
function isLayoutName(name: string): boolean {
  return LAYOUT_DOCUMENTS.has(name) || CUSTODY_NAME.test(name) || MANIFEST_NAME.test(name) || SIGNATURE_NAME.test(name)
}
const CASE_ID = /^[A-Za-z0-9._-]{1,64}$/

const text = (m: BundleMember | undefined): string | undefined => m?.bytes?.toString('utf8')

/**
 * A custody entry's `signature.keyId` and `algorithm` are outside its hash and its
 * signature, so they are checked against what is signed: a local key id names the
 * bundled key's fingerprint, a KMS key id must be one a (signed) manifest names.
 */
function checkSignatureLabel(ctx: CheckContext, name: string, sig: CustodyEntry['signature'] | undefined, keys: SigningKeyIds): void {
  if (sig?.algorithm !== SIGNATURE_ALGORITHM) {
    ctx.report(name, `${name}: signature algorithm ${JSON.stringify(sig?.algorithm)} is not ${SIGNATURE_ALGORITHM}`)
    return
  }
  if (!keys.known.has(sig.keyId)) ctx.report(name, `${name}: signature key id ${JSON.stringify(sig.keyId)} is neither the bundled key (${keys.fingerprint}) nor a key a manifest names`)
}

/** The key ids a custody entry may name: the bundled key's (`local:<fingerprint>`) and those the manifests name. */
interface SigningKeyIds {
  fingerprint: string
  known: ReadonlySet<string | undefined>
}

/** Worked out once per bundle, not once per custody entry (a long chain and many manifests made it quadratic). */
function signingKeyIds(ctx: CheckContext, publicKey: KeyObject): SigningKeyIds {
  const fingerprint = `local:${publicKeyFingerprint(publicKey)}`
  return { fingerprint, known: new Set([fingerprint, ...[...ctx.manifests.values()].map((m) => m.manifest.signing?.keyId)]) }
}

/** The checks, in the order they run (later ones use what earlier ones parsed). */
export const BUNDLE_CHECKS: readonly BundleCheck[] = [
  {
    name: 'archive',
    description: 'every member is a regular file with a safe relative name, present once and readable',
    run(ctx) {
      const seen = new Set<string>()
      for (const m of ctx.members) {
        if (seen.has(m.name)) ctx.report(m.name, `${m.name} appears more than once in the archive`)
        seen.add(m.name)
        if (!isSafeMemberName(m.name)) ctx.report(m.name, `${JSON.stringify(m.name)} is not a safe relative path (absolute, "..", device name or unusual characters)`)
        if (m.type) ctx.report(m.name, `${m.name} is a ${m.type}, not a regular file`)
        if (m.readError) ctx.report(m.name, `${m.name} could not be read: ${m.readError}`)
      }
    },
  },
  {
    name: 'required',
    description: 'SHA256SUMS, bundle.json, public-key.pem, REPORT.md and report.html are present',
    run(ctx) {
      for (const name of Object.values(MEMBER)) {
        ctx.expected.add(name)
        const m = ctx.byName.get(name)
        if (!m) ctx.report(name, `${name} is missing from the bundle`)
        else if (!m.bytes) ctx.report(name, `${name} is too large to be a bundle document (${m.size} bytes)`)
      }
    },
  },
  {
    name: 'sha256sums',
    description: 'every file\'s SHA-256 matches SHA256SUMS, and every file is listed there',
    run(ctx) {
      const sums = text(ctx.byName.get(MEMBER.sums))
      if (sums === undefined) return
      const parsed = parseSha256Sums(sums)
      for (const line of parsed.invalidLines) ctx.report(MEMBER.sums, `${MEMBER.sums} line ${line} is not "<sha256>  <path>"`)
      for (const d of parsed.duplicates) ctx.report(d, `${d} is listed twice in ${MEMBER.sums}`)
      for (const [path, sha] of parsed.entries) {
        const m = ctx.byName.get(path)
        if (!m) ctx.report(path, `${path} is listed in ${MEMBER.sums} but missing from the bundle`)
        else if (m.sha256 !== sha) ctx.report(path, `${path}: SHA-256 ${m.sha256} differs from ${sha} in ${MEMBER.sums}`)
      }
      for (const m of ctx.byName.values()) {
        if (m.name !== MEMBER.sums && !parsed.entries.has(m.name)) ctx.report(m.name, `${m.name} is not listed in ${MEMBER.sums}`)
      }
    },
  },
  {
    name: 'public-key',
    description: 'public-key.pem is an EC P-256 public key',
    run(ctx) {
      const pem = text(ctx.byName.get(MEMBER.publicKey))
      if (pem === undefined) return
      try {
        const key = createPublicKey(pem)
        if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') throw new Error('not an EC P-256 key')
        ctx.publicKey = key
      } catch (e) {
        ctx.report(MEMBER.publicKey, `${MEMBER.publicKey} is not an EC P-256 public key in PEM: ${(e as Error).message}`)
      }
    },
  },
  {
    name: 'index',
    description: 'bundle.json lists every file with its SHA-256, size and S3 coordinates, and SHA256SUMS follows from it',
    run(ctx) {
      const m = ctx.byName.get(MEMBER.index)
      if (!m?.bytes) return
      try {
        ctx.index = parseBundleIndex(m.bytes)
      } catch (e) {
        ctx.report(MEMBER.index, (e as Error).message)
        return
      }
      const listed = new Set<string>()
      for (const f of ctx.index.files) {
        listed.add(f.path)
        // the index is not signed: it accounts only for names of the bundle's own layout
        // (each checked on its own: manifests by signature, custody by the chain); an
        // artifact is accounted for by a signed manifest, anything else by nothing (found
        // by fuzzing: an extra file listed in a rewritten index verified as OK)
        if (isLayoutName(f.path)) ctx.expected.add(f.path)
        const member = ctx.byName.get(f.path)
        if (!member) ctx.report(f.path, `${f.path} is listed in ${MEMBER.index} but missing from the bundle`)
        else if (member.sha256 !== f.sha256 || member.size !== f.size) ctx.report(f.path, `${f.path}: ${member.size} bytes with SHA-256 ${member.sha256}, ${MEMBER.index} says ${f.size} bytes with ${f.sha256}`)
      }
      for (const name of ctx.byName.keys()) {
        if (name !== MEMBER.index && name !== MEMBER.sums && !listed.has(name)) ctx.report(name, `${name} is not listed in ${MEMBER.index}`)
      }
      for (const c of ctx.index.captures) {
        if (!ctx.byName.has(manifestMember(c.captureId))) ctx.report(manifestMember(c.captureId), `manifest of capture ${c.captureId} (listed in ${MEMBER.index}) is missing`)
      }
      // SHA256SUMS is fully determined by bundle.json: an edit of either shows here
      const sums = text(ctx.byName.get(MEMBER.sums))
      if (sums !== undefined && sums !== formatSha256Sums([...ctx.index.files, { path: MEMBER.index, sha256: m.sha256 }])) {
        ctx.report(MEMBER.sums, `${MEMBER.sums} differs from the list ${MEMBER.index} implies`)
      }
    },
  },
  {
    name: 'manifests',
    description: 'every manifest parses, belongs to this case and its signature verifies with public-key.pem',
    run(ctx) {
      const caseId = ctx.index?.caseId
      for (const m of ctx.byName.values()) {
        const match = MANIFEST_NAME.exec(m.name)
        if (!match) continue
        const captureId = match[1]
        ctx.expected.add(m.name)
        const sigName = manifestSignatureMember(captureId)
        ctx.expected.add(sigName)
        if (!m.bytes) continue
        let manifest: Manifest
        try {
          manifest = parseManifest(m.bytes, m.name)
        } catch (e) {
          ctx.report(m.name, (e as Error).message)
          continue
        }
        if (manifest.captureId !== captureId) ctx.report(m.name, `${m.name} holds capture ${manifest.captureId}`)
        if (caseId !== undefined && manifest.caseId !== caseId) ctx.report(m.name, `${m.name} belongs to case ${manifest.caseId}, the bundle to ${caseId}`)
        if (ctx.index && !ctx.index.captures.some((c) => c.captureId === captureId)) ctx.report(m.name, `${m.name} is not a capture listed in ${MEMBER.index}`)
        ctx.manifests.set(captureId, { manifest, member: m })
        const sig = ctx.byName.get(sigName)
        if (!sig?.bytes) ctx.report(sigName, `${sigName} (the signature of ${m.name}) is missing`)
        else if (ctx.publicKey && !verifyDigestSignature(ctx.publicKey, sha256Hex(m.bytes), sig.bytes)) {
          // either file may be the altered one: name both
          ctx.report(m.name, `${m.name}: its signature ${sigName} does not verify with ${MEMBER.publicKey}`)
          ctx.report(sigName, `${sigName} does not verify ${m.name} with ${MEMBER.publicKey}`)
        } else if (ctx.publicKey) ctx.verifiedSignatures++
      }
    },
  },
  {
    name: 'artifacts',
    description: 'every artifact a signed manifest lists is present, with the SHA-256 and size the manifest records',
    run(ctx) {
      const indexed = new Map<string, BundleFile>((ctx.index?.files ?? []).map((f) => [f.path, f]))
      for (const [captureId, { manifest, member }] of ctx.manifests) {
        const names = artifactMembers(captureId, manifest.artifacts.map((a) => a.path))
        for (const a of manifest.artifacts) {
          const name = names.get(a.path)!
          ctx.expected.add(name)
          const got = ctx.byName.get(name)
          if (!got) {
            ctx.report(name, `${name} (artifact ${a.path} of ${member.name}) is missing`)
            continue
          }
          if (got.sha256 !== a.sha256 || got.size !== a.size) ctx.report(name, `${name}: ${got.size} bytes with SHA-256 ${got.sha256}, its manifest says ${a.size} bytes with ${a.sha256}`)
          const f = indexed.get(name)
          if (ctx.index && f && (f.key !== a.key || f.versionId !== a.versionId || f.captureId !== captureId || f.artifactPath !== a.path)) {
            ctx.report(name, `${MEMBER.index} maps ${name} to s3 key ${f.key} version ${f.versionId}, its manifest to ${a.key} version ${a.versionId}`)
          }
        }
      }
    },
  },
  {
    name: 'custody',
    description: 'the custody chain is complete, linked, unaltered and signed, and records every bundled manifest',
    run(ctx) {
      const caseId = ctx.index?.caseId ?? [...ctx.manifests.values()][0]?.manifest.caseId
      const validCase = typeof caseId === 'string' && CASE_ID.test(caseId) ? caseId : 'unknown'
      const keys = ctx.publicKey && signingKeyIds(ctx, ctx.publicKey)
      for (const m of ctx.byName.values()) {
        const match = CUSTODY_NAME.exec(m.name)
        if (!match) continue
        ctx.expected.add(m.name)
        let entry: CustodyEntry | undefined
        try {
          entry = m.bytes ? (JSON.parse(m.bytes.toString('utf8')) as CustodyEntry) : undefined
        } catch {
          entry = undefined
        }
        // entries are stored as canonical JSON: any other encoding of the same entry (a
        // re-encoded signature, added whitespace) is an alteration the hash cannot see
        if (entry && m.bytes && canonicalJson(entry) !== m.bytes.toString('utf8')) ctx.report(m.name, `${m.name} is not in the canonical form it was written in (altered)`)
        if (entry && keys) checkSignatureLabel(ctx, m.name, entry.signature, keys)
        ctx.custody.push({ seq: Number(match[1]), member: m, entry })
      }
      ctx.custody.sort((a, b) => a.seq - b.seq)
      const memberOf = (subject: string): string => {
        const seq = custodySeqFromKey(subject)
        return seq === undefined ? subject : custodyMember(seq)
      }
      if (ctx.publicKey) {
        const stored = ctx.custody.map((c) => ({ key: custodyKey(validCase, c.seq), bytes: c.member.bytes ?? Buffer.alloc(0) }))
        const chain = verifyCustodyChain(stored, ctx.publicKey, validCase)
        for (const f of chain) ctx.report(memberOf(f.subject), f.message)
        const badSigs = chain.filter((f) => f.code === 'signature-invalid').length
        if (ctx.verifiedSignatures === 0 && ctx.manifests.size + ctx.custody.length > 0 && badSigs === ctx.custody.length) {
          ctx.report(MEMBER.publicKey, `${MEMBER.publicKey} verifies none of the bundle's signatures: it is not the key the evidence was signed with`)
        }
      }
      const head = ctx.index?.custodyHead
      const last = ctx.custody.at(-1)
      if (ctx.index && head === null && last) ctx.report(last.member.name, `${last.member.name} is present but ${MEMBER.index} records no custody head`)
      if (head) {
        if (!last || last.seq < head.seq) ctx.report(custodyMember(head.seq), `${custodyMember(head.seq)} (the custody head in ${MEMBER.index}) is missing`)
        else if (last.seq > head.seq) ctx.report(last.member.name, `${last.member.name} is beyond the custody head (#${head.seq}) recorded in ${MEMBER.index}`)
        else if (last.entry?.hash !== head.hash) ctx.report(last.member.name, `${last.member.name} hash ${last.entry?.hash} differs from the custody head ${head.hash} in ${MEMBER.index}`)
      }
      for (const [captureId, { member }] of ctx.manifests) {
        const sha = member.sha256
        const key = CASE_ID.test(String(caseId)) ? manifestKey(caseId!, captureId) : undefined
        const recorded = ctx.custody.find((c) => c.entry?.action === 'captured' && c.entry.subject?.key === key)
        if (!recorded) ctx.report(member.name, `${member.name}: no \`captured\` custody entry records this manifest`)
        else if (recorded.entry!.subject.sha256 !== sha) ctx.report(member.name, `${member.name}: SHA-256 ${sha} differs from ${recorded.entry!.subject.sha256} recorded by ${recorded.member.name}`)
      }
    },
  },
  {
    name: 'listed',
    description: 'no file is present that no manifest or layout rule accounts for',
    run(ctx) {
      for (const name of ctx.byName.keys()) {
        if (ctx.expected.has(name)) continue
        if (name.startsWith('artifacts/')) ctx.report(name, `${name} is present but no manifest lists it`)
        else ctx.report(name, `${name} is not part of a bundle's layout`)
      }
    },
  },
  {
    name: 'report',
    description: 'REPORT.md and report.html are exactly what the bundled manifests, custody chain and CloudTrail slices render',
    run(ctx) {
      if (!ctx.index) return
      const index = ctx.index
      const manifests = [...ctx.manifests.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      // bytes, not text: an invalid UTF-8 sequence must not pass for the U+FFFD it decodes to
      const compare = (name: string, render: () => string, what: string): void => {
        const member = ctx.byName.get(name)
        if (!member?.bytes) return
        let expected: Buffer
        try {
          expected = Buffer.from(render(), 'utf8')
        } catch (e) {
          ctx.report(name, `${name} cannot be re-derived from the bundled evidence: ${(e as Error).message}`)
          return
        }
        if (!expected.equals(member.bytes)) ctx.report(name, `${name} does not match ${what}: it was edited, or generated from other evidence`)
      }
      compare(MEMBER.report, () => renderBundleReport(index, manifests.map(([, v]) => v.manifest), ctx.custody.flatMap((c) => (c.entry ? [c.entry] : []))), 'the bundled manifests and custody chain')
      compare(MEMBER.html, () => renderReportHtml(reportSourceOfMembers(ctx.byName, index, manifests, ctx.custody, BUNDLE_CHECKS)), 'what the bundled manifests, custody chain and CloudTrail slices render')
    },
  },
]

/** Runs every check over a member list; the findings are empty when the bundle holds. */
export function runBundleChecks(members: readonly BundleMember[]): { findings: BundleFinding[]; ctx: CheckContext } {
  const findings: BundleFinding[] = []
  let check = ''
  const byName = new Map<string, BundleMember>()
  for (const m of members) if (!byName.has(m.name)) byName.set(m.name, m)
  const ctx: CheckContext = {
    members,
    byName,
    manifests: new Map(),
    custody: [],
    expected: new Set(),
    verifiedSignatures: 0,
    report: (member, message) => findings.push({ check, member, message }),
  }
  for (const c of BUNDLE_CHECKS) {
    check = c.name
    try {
      c.run(ctx)
    } catch (e) {
      // a check must never crash on hostile input; if one does, that is a finding too
      ctx.report(MEMBER.index, `check ${c.name} could not complete: ${(e as Error).message}`)
    }
  }
  return { findings, ctx }
}
