/**
 * The drill report (`forensics.drill/v1`): one named check per line with its verdict and
 * evidence, and the time from the canary incident to committed evidence. Written as
 * canonical JSON to `drills/<drillId>/report.json` and published to the SIEM topic.
 */

/** Schema id of a drill report. */
export const DRILL_REPORT_SCHEMA = 'forensics.drill/v1'
/** Schema id of the drill function's result (what its OnSuccess destination receives). */
export const DRILL_RESULT_SCHEMA = 'forensics.drill-result/v1'

/** A check's verdict (cdk-nag style). */
export type Verdict = 'pass' | 'fail'

/** The outcome of one named check. */
export interface CheckResult {
  name: string
  verdict: Verdict
  /** one line of what was checked */
  summary: string
  /** what the verdict rests on: object keys, hashes, error names, counts */
  evidence: Record<string, unknown>
}

/** The deployment a drill ran on: the plan (or applied deployment) file, and where each function ran from. */
export interface DrillPlanReport {
  /** `plan`: a synthesized plan provisioned locally; `deployed`: read back from an applied deployment */
  kind: 'plan' | 'deployed'
  file: string
  /** SHA-256 (hex) of the file */
  sha256: string
  /** function key → the code asset it ran from (relative to the plan's stack directory), or how it ran otherwise */
  functions: Record<string, string>
}

/** A drill report. */
export interface DrillReport {
  schema: typeof DRILL_REPORT_SCHEMA
  drillId: string
  caseId: string
  mode: 'local' | 'deployed'
  canaryBucket: string
  evidenceBucket: string
  startedAt: string
  incidentAt: string
  endedAt: string
  /** ms from the last canary change to the last committed manifest of the incident captures */
  timeToEvidenceMs?: number
  /** ms from the last canary change to the last custody entry of the incident captures */
  timeToCustodyMs?: number
  passed: boolean
  checks: CheckResult[]
  captures: { collector: string; captureId: string; manifestKey: string; manifestSha256: string; status: string; artifacts: number; committedAt: string }[]
  bundle?: { path: string; sha256: string; files: number }
  cleanup: { ok: boolean; detail: string[] }
  /** the deployment the drill ran on (local drills run from the synthesized plan) */
  plan?: DrillPlanReport
}

/** What the drill function returns (its OnSuccess destination appends the `drill` custody entry). */
export interface DrillResult {
  schema: typeof DRILL_RESULT_SCHEMA
  drillId: string
  caseId: string
  passed: boolean
  failed: string[]
  reportKey: string
  reportVersionId: string
  reportSha256: string
}

/** A short text rendering: one line per check. */
export function renderDrillReport(report: DrillReport, extra: { reportLocation?: string } = {}): string[] {
  const lines = [`drill ${report.drillId} (${report.mode}) on canary bucket ${report.canaryBucket}`]
  if (report.plan) {
    lines.push(`  ${report.plan.kind === 'plan' ? 'plan' : 'deployment'}: ${report.plan.file} (sha256 ${report.plan.sha256})`)
    for (const [key, from] of Object.entries(report.plan.functions)) lines.push(`    ${key.padEnd(18)} ${from}`)
  }
  for (const c of report.checks) lines.push(`  ${c.verdict === 'pass' ? 'PASS' : 'FAIL'}  ${c.name.padEnd(30)} ${c.summary}`)
  if (report.timeToEvidenceMs !== undefined) lines.push(`  time from incident to committed manifest: ${(report.timeToEvidenceMs / 1000).toFixed(1)} s`)
  if (report.timeToCustodyMs !== undefined) lines.push(`  time from incident to custody entry:      ${(report.timeToCustodyMs / 1000).toFixed(1)} s`)
  if (report.bundle) lines.push(`  bundle: ${report.bundle.path} (sha256 ${report.bundle.sha256})`)
  if (extra.reportLocation) lines.push(`  report: ${extra.reportLocation}`)
  if (!report.cleanup.ok) lines.push(`  cleanup incomplete: ${report.cleanup.detail.join('; ')}`)
  const failed = report.checks.filter((c) => c.verdict === 'fail')
  lines.push(failed.length === 0 ? `drill passed: ${report.checks.length} of ${report.checks.length} checks` : `drill FAILED: ${failed.map((c) => c.name).join(', ')}`)
  return lines
}
