/** Rendering a drill report as text lines (forensics/drill/drill-report.ts). */
import t from 'tap'
import { renderDrillReport, DRILL_REPORT_SCHEMA, type DrillReport } from '../forensics/drill/drill-report.js'

const baseReport = (over: Partial<DrillReport> = {}): DrillReport => ({
  schema: DRILL_REPORT_SCHEMA,
  drillId: 'drill-x',
  caseId: 'drill-x',
  mode: 'local',
  canaryBucket: 'canary',
  evidenceBucket: 'evidence',
  startedAt: '2026-11-29T10:00:00.000Z',
  incidentAt: '2026-11-29T10:00:01.000Z',
  endedAt: '2026-11-29T10:01:00.000Z',
  passed: true,
  checks: [{ name: 'a-check', verdict: 'pass', summary: 'fine', evidence: {} }],
  captures: [],
  cleanup: { ok: true, detail: [] },
  ...over,
})

t.test('a bare passing report: no timings, bundle, location or cleanup lines', async (t) => {
  const lines = renderDrillReport(baseReport())
  t.same(lines, ['drill drill-x (local) on canary bucket canary', `  PASS  ${'a-check'.padEnd(30)} fine`, 'drill passed: 1 of 1 checks'])
})

t.test('a failed report with every optional part', async (t) => {
  const lines = renderDrillReport(
    baseReport({
      mode: 'deployed',
      passed: false,
      timeToEvidenceMs: 1234,
      timeToCustodyMs: 5678,
      bundle: { path: '/tmp/b.zip', sha256: 'ab'.repeat(32), files: 3 },
      cleanup: { ok: false, detail: ['could not restore x', 'could not delete y'] },
      checks: [
        { name: 'one', verdict: 'pass', summary: 'ok', evidence: {} },
        { name: 'two', verdict: 'fail', summary: 'broken', evidence: {} },
        { name: 'three', verdict: 'fail', summary: 'also', evidence: {} },
      ],
    }),
    { reportLocation: 's3://evidence/drills/x/report.json' },
  )
  t.equal(lines[0], 'drill drill-x (deployed) on canary bucket canary')
  t.match(lines[2], /^ {2}FAIL {2}two +broken$/)
  t.ok(lines.includes('  time from incident to committed manifest: 1.2 s'))
  t.ok(lines.includes('  time from incident to custody entry:      5.7 s'))
  t.ok(lines.includes(`  bundle: /tmp/b.zip (sha256 ${'ab'.repeat(32)})`))
  t.ok(lines.includes('  report: s3://evidence/drills/x/report.json'))
  t.ok(lines.includes('  cleanup incomplete: could not restore x; could not delete y'))
  t.equal(lines.at(-1), 'drill FAILED: two, three')
})

t.test('the plan (or applied deployment) the drill ran on, and where each function ran from', async (t) => {
  const sha = 'cd'.repeat(32)
  const plan = renderDrillReport(baseReport({ plan: { kind: 'plan', file: '/x/cdk.tf.json', sha256: sha, functions: { 'bucket-config': 'assets/a/bucket-config.zip', drill: 'in process' } } }))
  t.same(plan.slice(1, 4), [`  plan: /x/cdk.tf.json (sha256 ${sha})`, `    ${'bucket-config'.padEnd(18)} assets/a/bucket-config.zip`, `    ${'drill'.padEnd(18)} in process`])
  const deployed = renderDrillReport(baseReport({ plan: { kind: 'deployed', file: '/x/terraform.tfstate', sha256: sha, functions: {} } }))
  t.equal(deployed[1], `  deployment: /x/terraform.tfstate (sha256 ${sha})`)
})
