/**
 * `forensics verify`: checks a bundle file offline (no AWS access) — every file's hash
 * against SHA256SUMS and the manifests, the manifests' signatures with the bundled public
 * key, the custody chain, files no manifest lists and files missing.
 */
import { BUNDLE_CHECKS, runBundleChecks, type BundleFinding } from './bundle-checks.js'
import type { BundleFormat } from './bundle-layout.js'
import { readBundleMembers, type BundleMember } from './bundle-reader.js'

/** The outcome of a verification. */
export interface BundleVerification {
  ok: boolean
  caseId?: string
  members: number
  bytes: number
  captures: number
  custodyEntries: number
  custodyHead?: { seq: number; hash: string } | null
  /** every check with its number of findings */
  checks: { name: string; findings: number }[]
  findings: BundleFinding[]
}

/** Verifies a member list (a read bundle, or one built in memory). */
export function verifyBundleMembers(members: readonly BundleMember[]): BundleVerification {
  const { findings, ctx } = runBundleChecks(members)
  return {
    ok: findings.length === 0,
    caseId: ctx.index?.caseId,
    members: members.length,
    bytes: members.reduce((n, m) => n + m.size, 0),
    captures: ctx.manifests.size,
    custodyEntries: ctx.custody.length,
    custodyHead: ctx.index?.custodyHead ? { seq: ctx.index.custodyHead.seq, hash: ctx.index.custodyHead.hash } : ctx.index ? null : undefined,
    checks: BUNDLE_CHECKS.map((c) => ({ name: c.name, findings: findings.filter((f) => f.check === c.name).length })),
    findings,
  }
}

/**
 * Reads and verifies a bundle file. Throws a BundleFormatError when the file is not a
 * readable zip or tar.gz; every other problem is a finding.
 */
export async function verifyBundleFile(file: string): Promise<BundleVerification & { file: string; format: BundleFormat }> {
  const { format, members } = await readBundleMembers(file)
  return { file, format, ...verifyBundleMembers(members) }
}
