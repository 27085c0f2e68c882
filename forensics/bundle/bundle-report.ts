/**
 * `REPORT.md`: the human-readable page of a bundle (case summary, captures, findings,
 * what could not be captured, custody timeline, how to verify). It depends only on the
 * bundled evidence, never on the clock, so the same case state renders the same bytes.
 */
import type { CustodyEntry } from '../custody.js'
import type { Manifest } from '../manifest.js'
import { MEMBER, type BundleIndex } from './bundle-layout.js'

/** Escapes text for one Markdown table cell (or inline text): no pipes, newlines or HTML. */
function cell(value: unknown): string {
  const s = value === undefined || value === null ? '' : typeof value === 'string' ? value : JSON.stringify(value)
  // eslint-disable-next-line no-control-regex
  return s.replace(/[\u0000-\u001f\u007f]+/g, ' ').replace(/([\\`*_[\]<>|#])/g, '\\$1').slice(0, 300)
}

function humanBytes(n: number): string {
  if (n < 1024) return `${n} B`
  const units = ['KiB', 'MiB', 'GiB', 'TiB']
  let v = n / 1024
  let i = 0
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024
    i++
  }
  return `${v.toFixed(1)} ${units[i]}`
}

function custodySubject(e: CustodyEntry): string {
  const s = e.subject ?? {}
  if (e.action === 'captured') return `capture ${s.captureId ?? s.key ?? ''} (manifest sha256 ${String(s.sha256 ?? '').slice(0, 16)}…)`
  if (e.action === 'bundled') return `bundle sha256 ${String(s.sha256 ?? '').slice(0, 16)}… (${s.format ?? ''}, ${Array.isArray(s.captureIds) ? s.captureIds.length : 0} captures)`
  return s.note ?? s.key ?? JSON.stringify(s)
}

/** Renders REPORT.md for a bundle. */
export function renderBundleReport(index: BundleIndex, manifests: readonly Manifest[], custody: readonly CustodyEntry[]): string {
  const out: string[] = []
  const artifacts = manifests.reduce((n, m) => n + m.artifacts.length, 0)
  const bytes = manifests.reduce((n, m) => n + m.artifacts.reduce((k, a) => k + a.size, 0), 0)
  const findings = manifests.flatMap((m) => (m.findings ?? []).map((f) => ({ captureId: m.captureId, ...f })))
  const errors = manifests.flatMap((m) => m.errors.map((e) => ({ captureId: m.captureId, ...e })))
  out.push(`# Evidence bundle: case ${cell(index.caseId)}`, '')
  out.push('## Summary', '')
  out.push(`- Evidence bucket: \`s3://${index.bucket}\``)
  out.push(`- Captures: ${manifests.length} (${manifests.filter((m) => m.status === 'complete').length} complete, ${manifests.filter((m) => m.status === 'unverified').length} unverified, ${manifests.filter((m) => m.status === 'partial').length} partial)`)
  // digest verdicts of the CloudTrail log files, summed over the slice captures
  const verdicts: Record<string, number> = {}
  for (const m of manifests) {
    const v = (m.summary as { verdicts?: Record<string, unknown> } | undefined)?.verdicts ?? {}
    for (const [k, n] of Object.entries(v)) if (typeof n === 'number') verdicts[k] = (verdicts[k] ?? 0) + n
  }
  if (Object.keys(verdicts).length) out.push(`- CloudTrail digest verdicts: ${Object.entries(verdicts).sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, n]) => `${k} ${n}`).join(', ')} (a capture is complete only when every log file is valid)`)
  out.push(`- Artifacts: ${artifacts} (${humanBytes(bytes)})`)
  out.push(`- Findings: ${findings.length}; items that could not be captured: ${errors.length}`)
  const head = index.custodyHead
  out.push(head ? `- Custody chain: entries 0–${head.seq}, head hash \`${head.hash}\` (${cell(head.time)})` : '- Custody chain: no entries yet')
  out.push(`- Signing key: \`${cell(index.publicKey.signerKeyId)}\` (fingerprint \`${index.publicKey.fingerprint}\`, in \`${MEMBER.publicKey}\`)`)
  out.push(`- Built by ${cell(index.tool.name)} ${cell(index.tool.version)} from the case state at the custody head above`, '')

  out.push('## Captures', '')
  if (manifests.length === 0) out.push('None.', '')
  else {
    out.push('| capture | collector | trigger | started | ended | status | artifacts | bytes |', '|---|---|---|---|---|---|---:|---:|')
    for (const m of manifests) {
      const size = m.artifacts.reduce((k, a) => k + a.size, 0)
      out.push(
        `| ${cell(m.captureId)} | ${cell(`${m.collector?.name}@${m.collector?.version}`)} | ${cell(`${m.trigger?.source}: ${m.trigger?.id}`)} | ${cell(m.startedAt)} | ${cell(m.endedAt)} | ${cell(m.status)} | ${m.artifacts.length} | ${size} |`,
      )
    }
    out.push('')
  }

  out.push('## Findings', '')
  if (findings.length === 0) out.push('None reported by the collectors.', '')
  else {
    out.push('| severity | finding | resource | capture |', '|---|---|---|---|')
    for (const f of findings) out.push(`| ${cell(f.severity)} | ${cell(f.title)} | ${cell(f.resource)} | ${cell(f.captureId)} |`)
    out.push('')
  }

  out.push('## Not captured', '')
  if (errors.length === 0) out.push('Nothing: every capture is complete.', '')
  else {
    out.push('| what | code | message | capture |', '|---|---|---|---|')
    for (const e of errors) out.push(`| ${cell(e.what)} | ${cell(e.code)} | ${cell(e.message)} | ${cell(e.captureId)} |`)
    out.push('')
  }

  out.push('## Custody timeline', '')
  if (custody.length === 0) out.push('No custody entries.', '')
  else {
    out.push('| # | time | action | actor | subject |', '|---:|---|---|---|---|')
    for (const e of custody) {
      out.push(`| ${e.seq} | ${cell(e.time)} | ${cell(e.action)} | ${cell(e.actor?.principalArn ?? e.actor?.tool ?? '')} | ${cell(custodySubject(e))} |`)
    }
    out.push('')
  }

  out.push('## Verify this bundle', '')
  out.push('With the toolkit (offline): `forensics verify <bundle file>`.', '')
  out.push('With only coreutils and OpenSSL, inside the unpacked bundle:', '')
  out.push('```sh')
  out.push('sha256sum -c SHA256SUMS')
  out.push('for m in manifests/*/manifest.json; do')
  out.push('  printf %s "$(sha256sum "$m" | cut -c1-64)" | openssl dgst -sha256 -verify public-key.pem -signature "$m.sig"')
  out.push('done')
  out.push('```', '')
  out.push('Each artifact\'s SHA-256 is also recorded in its (signed) manifest; `bundle.json` maps every file back to its S3 bucket, key and version.', '')
  return out.join('\n')
}
