/**
 * Where report.html comes from, on both sides of a bundle: the case state a bundle is
 * built from, and the members of a bundle being verified. Both give the report the same
 * source (the signed manifests with their signatures, the custody chain, the public key,
 * the CloudTrail slices' inputs), so the verifier renders the page the builder rendered.
 */
import type { Manifest } from '../manifest.js'
import { custodyKey } from '../keys.js'
import { reportInputArtifacts, type ReportInputs, type SliceInputs } from '../report/report-inputs.js'
import type { ReportSource } from '../report/report-model.js'
import { artifactMembers, manifestMember, manifestSignatureMember, MEMBER, type BundleIndex } from './bundle-layout.js'
import type { BundleMember } from './bundle-reader.js'
import type { CaseState } from './read-case-state.js'

/** What `forensics verify` checks, as the page lists it. */
export type CheckList = ReportSource['checks']

/** The report source of a case state being bundled (`publicKeyPem` as bundled). */
export function reportSourceOfState(state: CaseState, index: BundleIndex, publicKeyPem: string, inputs: ReportInputs, checks: CheckList): ReportSource {
  return {
    caseId: index.caseId,
    bucket: index.bucket,
    tool: index.tool,
    publicKeyPem,
    publicKey: index.publicKey,
    custodyHead: index.custodyHead,
    captures: state.captures.map((c) => ({
      captureId: c.captureId,
      manifest: c.manifest,
      manifestSha256: c.manifestSha256,
      signature: c.signatureBytes,
      manifestMember: manifestMember(c.captureId),
      artifactMembers: artifactMembers(c.captureId, c.manifest.artifacts.map((a) => a.path)),
    })),
    custody: state.custody.map((s) => ({ seq: s.seq, key: s.key, bytes: s.bytes })),
    inputs,
    checks,
  }
}

/**
 * The report source of a bundle's members: the parsed manifests (in capture id order)
 * with their signatures, the custody members, the public key, and the slices' inputs where
 * the bundled copy is the one the manifest vouches for. Anything else renders as
 * unreadable, so the page differs from the bundled one and the check names it.
 */
export function reportSourceOfMembers(
  byName: ReadonlyMap<string, BundleMember>,
  index: BundleIndex,
  manifests: readonly [string, { manifest: Manifest; member: BundleMember }][],
  custody: readonly { seq: number; member: BundleMember }[],
  checks: CheckList,
): ReportSource {
  const inputs = new Map<string, SliceInputs>()
  const captures = manifests.map(([captureId, { manifest, member }]) => {
    const names = artifactMembers(captureId, manifest.artifacts.map((a) => a.path))
    const wanted = reportInputArtifacts(manifest)
    const got: SliceInputs = {}
    for (const role of ['events', 'slice'] as const) {
      const a = wanted[role]
      const m = a && byName.get(names.get(a.path)!)
      if (a && m?.bytes && m.sha256 === a.sha256 && m.bytes.length === a.size) got[role] = m.bytes
    }
    if (got.events || got.slice) inputs.set(captureId, got)
    return { captureId, manifest, manifestSha256: member.sha256, signature: byName.get(manifestSignatureMember(captureId))?.bytes, manifestMember: member.name, artifactMembers: names }
  })
  return {
    caseId: index.caseId,
    bucket: index.bucket,
    tool: index.tool,
    publicKeyPem: byName.get(MEMBER.publicKey)?.bytes?.toString('utf8') ?? '',
    publicKey: index.publicKey,
    custodyHead: index.custodyHead,
    captures,
    custody: custody.map((c) => ({ seq: c.seq, key: custodyKey(index.caseId, c.seq), bytes: c.member.bytes ?? Buffer.alloc(0) })),
    inputs,
    checks,
  }
}
