/**
 * How a slice's digest verdicts weigh on its capture: a capture is `complete` only when
 * every archive log file it scanned is digest-valid. Any other verdict makes it
 * `unverified` and raises a finding (routed to the SIEM like every finding): a file that
 * changed after delivery, whose digest signature fails, or that no digest lists is `high`;
 * a file without a digest covering it (or with digests not validated at all) is `medium`.
 */
import type { Finding } from '../manifest.js'
import type { ScannedFile } from './slice.js'

/** The verdict recorded for an archive file that was never judged (no keys to validate with). */
export const UNJUDGED = 'unvalidated'

const WEIGHT: Record<string, { severity: Finding['severity']; title: (n: number) => string }> = {
  'hash-mismatch': { severity: 'high', title: (n) => `${n} CloudTrail log file(s) changed after delivery (hash differs from the digest)` },
  'signature-invalid': { severity: 'high', title: (n) => `${n} CloudTrail log file(s) are listed by a digest whose signature does not verify` },
  'not-covered': { severity: 'high', title: (n) => `${n} CloudTrail log file(s) are not listed by the digest covering their delivery time (not delivered by CloudTrail)` },
  'digest-missing': { severity: 'medium', title: (n) => `${n} CloudTrail log file(s) have no digest covering their delivery time (cannot be proven)` },
  [UNJUDGED]: { severity: 'medium', title: (n) => `${n} CloudTrail log file(s) were not digest-validated (no public keys available)` },
}

/** Verdict counts of the archive files, with unjudged files counted as `unvalidated`. */
export function verdictCounts(files: readonly ScannedFile[]): Record<string, number> {
  const out: Record<string, number> = {}
  for (const f of files) {
    if (f.source !== 'archive') continue
    const v = f.verdict ?? UNJUDGED
    out[v] = (out[v] ?? 0) + 1
  }
  return Object.fromEntries(Object.entries(out).sort(([a], [b]) => (a < b ? -1 : 1)))
}

/** One finding per verdict other than `valid`, naming the first files. */
export function digestFindings(files: readonly ScannedFile[]): Finding[] {
  const byVerdict = new Map<string, ScannedFile[]>()
  for (const f of files) {
    if (f.source !== 'archive' || f.verdict === 'valid') continue
    const v = f.verdict ?? UNJUDGED
    byVerdict.set(v, [...(byVerdict.get(v) ?? []), f])
  }
  const out: Finding[] = []
  for (const [verdict, list] of [...byVerdict].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const w = WEIGHT[verdict] ?? { severity: 'medium' as const, title: (n: number) => `${n} CloudTrail log file(s) have digest verdict ${verdict}` }
    out.push({
      type: `cloudtrail-digest-${verdict}`,
      severity: w.severity,
      title: w.title(list.length),
      resource: `s3://${list[0].bucket}/${list[0].key}`,
      detail: { verdict, files: list.length, first: list.slice(0, 20).map((f) => ({ file: `s3://${f.bucket}/${f.key}`, digest: f.digest ?? null, reason: f.verdictReason ?? null })) },
    })
  }
  return out
}
