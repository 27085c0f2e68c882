/**
 * The report's content (forensics/report/report-model.ts): the timeline of events,
 * captures, findings, containment and custody; findings by severity; the histogram; caps.
 */
import t from 'tap'
import { MemoryStore } from './fixtures/memory-store.js'
import { seedCapture, testSignerWithPem } from './fixtures/bundle-case.js'
import { appendRawCustody, planCaseReport, seedSliceCapture, trailEvent } from './fixtures/report-case.js'
import { histogram, type TimelineItem } from '../forensics/report/report-model.js'
import { CustodyChain } from '../forensics/custody.js'

t.test('histogram: buckets cover the span, items land once', async (t) => {
  const items = [0, 1, 50, 99, NaN, 100].map((ms, i) => ({ ms, error: i === 2 }))
  const h = histogram(items, 0, 100, 4)
  t.same(h.map((b) => [b.from, b.to, b.count, b.errors]), [[0, 25, 2, 0], [25, 50, 0, 0], [50, 75, 1, 1], [75, 100, 1, 0]], 'outside [from, to) and undated items are not counted')
  t.same(histogram([{ ms: 5, error: false }], 5, 6).map((b) => b.count), [1], 'a single instant is one bucket')
})

t.test('a case as the report shows it', async (t) => {
  const store = new MemoryStore()
  const { signer } = testSignerWithPem()
  const caseId = 'case-r'
  const at = (h: number): string => new Date(Date.UTC(2026, 10, 28, h)).toISOString()
  // two overlapping slices: e2 is in both
  await seedSliceCapture(store, signer, caseId, 'slice-1', [trailEvent('e1', at(1)), trailEvent('e2', at(2), { errorCode: 'AccessDenied', errorMessage: 'Access Denied', eventName: 'PutBucketPolicy', readOnly: false })], {
    files: [
      { source: 'archive', bucket: 'trail-archive', key: 'AWSLogs/1/a.json.gz', matched: 2, verdict: 'valid' },
      { source: 'archive', bucket: 'trail-archive', key: 'AWSLogs/1/b.json.gz', matched: 0, verdict: 'hash-mismatch', verdictReason: 'digest says otherwise' },
    ],
  })
  await seedSliceCapture(store, signer, caseId, 'slice-2', [trailEvent('e2', at(2)), trailEvent('e3', at(3)), { eventID: 'undated', eventName: 'Mystery' }], { at: '2026-11-29T11:00:00.000Z' })
  await seedCapture(store, signer, caseId, 'cfg', [{ path: 'bucket-config/victim.json', body: '{"Policy":"<script>"}' }], { findings: 2, errors: 1 })
  const chain = new CustodyChain(store, signer, caseId, { now: () => new Date('2026-11-29T12:00:00Z') })
  await chain.append({ action: 'note', actor: { tool: 'test' }, subject: { note: 'handed over' } })
  await appendRawCustody(store, signer, caseId, 'contained', { resource: 'arn:aws:s3:::victim', step: 'public access block enabled' }, '2026-11-29T13:00:00.000Z')

  const { plan, html: page } = await planCaseReport(store, signer, caseId)
  const m = plan.report
  t.equal(m.captures.length, 3)
  t.same(m.captures.map((c) => c.signature), ['verified', 'verified', 'verified'])
  t.match(m.events, { shown: 4, total: 4, deduplicated: 1, capped: false }, 'e2 is listed once')
  const kinds = m.timeline.map((i) => i.kind)
  t.equal(kinds.filter((k) => k === 'event').length, 4)
  t.equal(kinds.filter((k) => k === 'capture').length, 3)
  t.equal(kinds.filter((k) => k === 'finding').length, 2)
  t.equal(kinds.filter((k) => k === 'containment').length, 1, 'the contained entry is a containment step')
  t.equal(kinds.filter((k) => k === 'custody').length, 4, 'three captured entries and a note')
  const times = m.timeline.map((i) => i.ms).filter(Number.isFinite)
  t.same(times, [...times].sort((a, b) => a - b), 'ordered by time')
  t.equal((m.timeline.at(-1) as Extract<TimelineItem, { kind: 'event' }>).event.eventId, 'undated', 'items without a time come last')
  t.same(m.findings.map((g) => [g.severity, g.items.length]), [['high', 2]])
  t.equal(m.containment.length, 1)
  t.same(m.chainFindings, [], '`contained` is a custody action (containment): the chain verifies')
  t.equal(m.artifactsTotal, 5)
  t.equal(m.custody.length, 5)
  t.equal(m.histogram.reduce((n, b) => n + b.count, 0), times.length, 'every dated item is in the histogram')
  t.equal(m.histogram.reduce((n, b) => n + b.errors, 0), 2, 'the failed event and the partial capture')

  t.match(page, /<td class="time">2026-11-28T02:00:00.000Z<\/td><td class="kind">CloudTrail event<\/td><td><b>PutBucketPolicy<\/b>/)
  t.match(page, /class="k-event err" data-kind="event"/, 'a failed call is marked')
  t.match(page, /✗ AccessDenied<\/span>: Access Denied/)
  t.match(page, /1 hash-mismatch/, 'digest verdicts per capture')
  t.match(page, /public access block enabled/, 'the containment step is shown')
  t.match(page, /&lt;script&gt;|policy grants Principal/, 'findings are shown')
  t.match(page, /Links, hashes and signatures verify with <code>public-key.pem<\/code>/)
  t.equal(page.match(/<tr class="k-/g)?.length, m.timeline.length, 'one row per timeline item')

  // deterministic: the same state renders the same bytes
  t.equal((await planCaseReport(store, signer, caseId)).html, page)

  t.test('caps: the first events in time order, the rest counted', async (t) => {
    const { buildReportModel } = await import('../forensics/report/report-model.js')
    const small = buildReportModel(plan.report.source, { maxEvents: 2, maxArtifacts: 1 })
    t.match(small.events, { shown: 2, capped: true })
    t.ok(small.events.total >= 4)
    t.equal(small.artifacts.length, 1)
    const { renderReportPage } = await import('../forensics/report/render-report.js')
    const text = renderReportPage(small)
    t.match(text, /the first 2 in time order are shown/)
    t.match(text, /The first 1 are listed; <code>bundle.json<\/code> lists all/)
  })
})
