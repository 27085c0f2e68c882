/**
 * The case report (report.html) without the emulator or a browser: escaping, the slice
 * view, the model (timeline, findings, containment, custody, artifacts), the page's
 * self-containment and determinism, and `forensics verify` re-deriving it. The real
 * collectors, the CLI and Chromium are in report-cli.test.ts and report-browser.test.ts.
 */
import t from 'tap'
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'
import { MemoryStore } from './fixtures/memory-store.js'
import { seedCapture, testSignerWithPem } from './fixtures/bundle-case.js'
import { appendRawCustody, planCaseReport, seedSliceCapture, trailEvent } from './fixtures/report-case.js'
import { tempDir } from './fixtures/bundle-cli.js'
import { asText, attributeText, clip, html, Html, memberHref, text } from '../forensics/report/html.js'
import { eventView, MAX_EVENTS_TEXT_BYTES, readSliceView } from '../forensics/report/slice-view.js'
import { histogram, type TimelineItem } from '../forensics/report/report-model.js'
import { isReportInputMember, REPORT_INPUT_MAX_BYTES, SLICE_COLLECTOR } from '../forensics/report/report-inputs.js'
import { REPORT_CSP, REPORT_CSS, REPORT_SCRIPT } from '../forensics/report/report-assets.js'
import { humanBytes } from '../forensics/report/render-sections.js'
import { CLOUDTRAIL_COLLECTOR } from '../forensics/cloudtrail/capture-slice.js'
import { MAX_DOCUMENT_BYTES, readBundleMembers, type BundleMember } from '../forensics/bundle/bundle-reader.js'
import { buildBundle } from '../forensics/bundle/build-bundle.js'
import { formatSha256Sums, MEMBER, type BundleIndex } from '../forensics/bundle/bundle-layout.js'
import { verifyBundleMembers } from '../forensics/bundle/verify-bundle.js'
import { writeCaseReport } from '../forensics/report/write-report.js'
import { CustodyChain } from '../forensics/custody.js'

const sha = (b: Buffer | string): string => createHash('sha256').update(b).digest('hex')
const member = (name: string, bytes: Buffer): BundleMember => ({ name, bytes, size: bytes.length, sha256: sha(bytes) })

/** Rewrites bundle.json and SHA256SUMS to follow altered members (what an attacker would do). */
function reindex(members: BundleMember[]): BundleMember[] {
  const idx = members.find((m) => m.name === MEMBER.index)!
  const index = JSON.parse(idx.bytes!.toString()) as BundleIndex
  const byPath = new Map(index.files.map((f) => [f.path, f]))
  index.files = members
    .filter((m) => m.name !== MEMBER.index && m.name !== MEMBER.sums)
    .map((m) => ({ ...byPath.get(m.name)!, sha256: m.sha256, size: m.size }))
    .sort((a, b) => (a.path < b.path ? -1 : 1))
  const newIdx = member(MEMBER.index, Buffer.from(JSON.stringify(index, null, 2) + '\n'))
  const sums = member(MEMBER.sums, Buffer.from(formatSha256Sums([...index.files, { path: MEMBER.index, sha256: newIdx.sha256 }])))
  return members.map((m) => (m.name === MEMBER.index ? newIdx : m.name === MEMBER.sums ? sums : m))
}

t.test('html: every evidence value is text, in bodies and attributes', async (t) => {
  const hostile = `<script>alert(1)</script>"'&`
  t.equal(text(hostile).value, '&lt;script&gt;alert(1)&lt;/script&gt;&quot;&#39;&amp;')
  const bidi = text('invoice\u202Etxt.exe\u200B\u0000')
  t.match(bidi.value, /invoice<span class="ctl" title="invisible character U\+202E">⟨U\+202E⟩<\/span>txt\.exe/, 'a bidi override is shown, not obeyed')
  t.notOk(['\u202E', '\u200B', '\u0000'].some((c) => bidi.value.includes(c)), 'no invisible character survives')
  t.equal(attributeText('a"b\u202Ec'), 'a&quot;b⟨U+202E⟩c', 'in attributes the marker is plain text')

  const a = html`<a title="${'"><img src=x onerror=alert(1)>\u202E'}" data-x="${1}">${hostile}</a>`
  t.equal(a.value, '<a title="&quot;&gt;&lt;img src=x onerror=alert(1)&gt;⟨U+202E⟩" data-x="1">&lt;script&gt;alert(1)&lt;/script&gt;&quot;&#39;&amp;</a>')
  t.throws(() => html`<a title="${html`<b>x</b>`}">`, TypeError, 'markup cannot be put into an attribute')
  t.throws(() => html`<a title="x ${['a']}">`, TypeError)
  t.equal(html`<p>${[html`<b>${'<i>'}</b>`, ' & ', 2]}${null}${undefined}${false}${true}</p>`.value, '<p><b>&lt;i&gt;</b> &amp; 2true</p>')
  t.equal(html`<a title="${null}${undefined}${false}">`.value, '<a title="">', 'empty values in attributes')
  t.equal(String(new Html('<b>')), '<b>')
  t.equal(html`<p class="a">x="${'q'}"</p>`.value, '<p class="a">x="q"</p>')

  t.equal(memberHref('artifacts/cap/a%2Fb/x.json'), 'artifacts/cap/a%252Fb/x.json', 'a percent in a member name stays literal')
  t.equal(memberHref('manifests/cap/manifest.json'), 'manifests/cap/manifest.json')
  for (const bad of ['javascript:alert(1)', 'https://evil.example/x', '//evil.example/x', 'artifacts/../../etc/passwd', 'artifacts//x', 'artifacts/a/./b', 'artifacts/<x>', 'REPORT.md']) {
    t.equal(memberHref(bad), undefined, `${bad}: no link`)
  }
  t.equal(clip('abcdef', 4), 'abc…')
  t.equal(clip('ab😀cd', 4), 'ab…', 'a surrogate pair is never cut in half')
  t.equal(clip('abc', 4), 'abc')
  t.equal(asText({ a: 1 }), '{"a":1}')
  t.equal(asText(null), '')
  t.equal(asText(undefined), '')
})

t.test('slice view: who, what, from where, errors; unreadable inputs are named', async (t) => {
  const v = eventView('cap', {
    eventID: 'e1',
    '@timestamp': '2020-09-14T01:02:34.000Z',
    eventName: 'GetObject',
    eventSource: 's3.amazonaws.com',
    userIdentity: { type: 'AssumedRole', arn: 'arn:aws:sts::1:assumed-role/R/i-1', accessKeyId: 'ASIA1', sessionContext: { sessionIssuer: { arn: 'arn:aws:iam::1:role/R' } } },
    resources: [{ ARN: 'arn:aws:s3:::b/k' }, { ARN: 'arn:aws:s3:::b' }, 'junk'],
    errorCode: 'AccessDenied',
    errorMessage: { nested: true },
  })
  t.match(v, { ms: Date.parse('2020-09-14T01:02:34Z'), who: 'arn:aws:sts::1:assumed-role/R/i-1', issuer: 'arn:aws:iam::1:role/R', target: 'arn:aws:s3:::b/k, arn:aws:s3:::b', errorCode: 'AccessDenied', errorMessage: '{"nested":true}', readOnly: undefined })
  t.equal(eventView('c', { userIdentity: { type: 'AWSService', invokedBy: 'ec2.amazonaws.com' } }).who, 'ec2.amazonaws.com')
  t.equal(eventView('c', { userIdentity: { principalId: 'P1' } }).who, 'principal:P1')
  t.equal(eventView('c', { userIdentity: { type: 'Root' } }).who, 'Root')
  t.match(eventView('c', { requestParameters: { bucketName: 'b' } }), { target: 'b', ms: NaN, time: '' })

  const lines = [JSON.stringify(trailEvent('a', '2026-11-28T01:00:00Z')), '', 'not json', '[1]', JSON.stringify(trailEvent('b', '2026-11-28T02:00:00Z'))].join('\n') + '\n'
  const full = readSliceView('cap', { events: gzipSync(lines) }, { events: true, slice: false })
  t.equal(full.events.length, 2)
  t.equal(full.badLines, 2, 'lines that are not JSON objects are counted')
  t.equal(full.eventLines, 4, 'blank lines are not events')
  t.same(full.notes, ['the capture has no slice.json'])
  const capped = readSliceView('cap', { events: gzipSync(lines) }, { events: true, slice: true }, 1)
  t.equal(capped.events.length, 1, 'only the first events are parsed')
  t.equal(capped.eventLines, 4, 'the rest are counted')
  t.match(capped.notes, ['slice.json is too large to be read for this report'])

  t.match(readSliceView('cap', { events: Buffer.from('plain text') }, { events: true, slice: false }).notes, [/no slice.json/, /not readable gzip/])
  t.match(readSliceView('cap', undefined, { events: true, slice: false }).notes, [/no slice.json/, /events.jsonl.gz is too large/])
  t.match(readSliceView('cap', undefined, { events: false, slice: false }).notes, [/no slice.json/, /has no events.jsonl.gz/])
  t.match(readSliceView('cap', { slice: Buffer.from('[]') }, { events: false, slice: true }).notes, [/slice.json is not a JSON object/])
  const doc = readSliceView('cap', { slice: Buffer.from(JSON.stringify({ window: { start: 's', end: 'e' }, counts: { events: 7 }, chain: [{}], files: [{ bucket: 'b', key: 'k', verdict: 'valid', matched: 2 }, { path: '/x.json.gz', verdict: 'hash-mismatch', verdictReason: 'edited' }, { source: 'lookup' }, { source: 'archive', key: 'k2' }, 'junk'] })) }, { events: false, slice: true })
  t.same(doc.verdicts, { 'hash-mismatch': 1, lookup: 1, 'no verdict': 1, valid: 1 }, 'verdicts counted in a stable order')
  t.match(doc, { window: { start: 's', end: 'e' }, eventsInSlice: 7, chainFindings: 1 })
  t.match(doc.files, [{ where: 's3://b/k', matched: 2 }, { where: '/x.json.gz', reason: 'edited' }, { where: '' }, { where: 'k2' }])

  // a file inflating beyond the limit: its first events are still read, deterministically
  const one = JSON.stringify(trailEvent('x', '2026-11-28T01:00:00Z', { userAgent: 'x'.repeat(900) })) + '\n'
  const huge = gzipSync(Buffer.from(one.repeat(Math.ceil((MAX_EVENTS_TEXT_BYTES + 1) / one.length))))
  const big = readSliceView('cap', { events: huge }, { events: true, slice: false }, 50)
  t.equal(big.events.length, 50, 'the first events of a huge file are shown')
  t.equal(big.eventLines, undefined, 'its line count is not known')
  t.match(big.notes, [/no slice.json/, /inflates to more than 64 MiB: only its first events/])
  t.same(readSliceView('cap', { events: huge }, { events: true, slice: false }, 50), big, 'same bytes, same view')
})

t.test('report inputs: the names the reader keeps and the collector they belong to', async (t) => {
  t.equal(SLICE_COLLECTOR, CLOUDTRAIL_COLLECTOR.name, 'one collector name')
  t.ok(REPORT_INPUT_MAX_BYTES <= MAX_DOCUMENT_BYTES, 'the reader keeps every input the builder reads')
  for (const ok of ['artifacts/c/events.jsonl.gz', 'artifacts/c/slice.json', 'artifacts/c/events.jsonl~0123456789ab.gz', 'artifacts/c/slice~0123456789ab.json']) t.ok(isReportInputMember(ok), ok)
  for (const no of ['artifacts/c/logs/events.jsonl.gz', 'manifests/c/slice.json', 'artifacts/c/public-keys.json', 'artifacts/slice.json']) t.notOk(isReportInputMember(no), no)
  t.equal(humanBytes(512), '512 B')
  t.equal(humanBytes(5 * 1024 ** 5), '5120.0 TiB')
})

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
  t.match(m.chainFindings, [{ code: 'schema' }], 'the chain verifier does not know `contained` yet, and the page says so')
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
  t.match(page, /The chain does NOT verify \(1 problem\(s\)\)/)
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

t.test('the page is self-contained: strict CSP, no external reference, readable without script', async (t) => {
  const store = new MemoryStore()
  const { signer } = testSignerWithPem()
  await seedSliceCapture(store, signer, 'case-p', 'p', [trailEvent('e1', '2026-11-28T01:00:00Z')])
  const { html: page } = await planCaseReport(store, signer, 'case-p')
  const b64 = (s: string): string => createHash('sha256').update(s).digest('base64')
  t.ok(page.startsWith('<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<meta http-equiv="Content-Security-Policy"'), 'the policy comes before anything else')
  t.equal(REPORT_CSP, `default-src 'none'; style-src 'sha256-${b64(REPORT_CSS)}'; script-src 'sha256-${b64(REPORT_SCRIPT)}'; base-uri 'none'; form-action 'none'`)
  t.ok(page.includes(`<style>${REPORT_CSS}</style>`) && page.includes(`<script>${REPORT_SCRIPT}</script>`), 'the hashed style and script, byte for byte')
  t.equal(page.match(/<script/g)?.length, 1, 'one script')
  t.equal(page.match(/<style/g)?.length, 1, 'one style sheet')
  t.notMatch(page, /\b(src|srcset|action|formaction|background|poster)=/i, 'nothing to load')
  t.notMatch(page, /href="(?!#|artifacts\/|manifests\/|custody\/)/, 'links only inside the page or the bundle')
  t.notMatch(page, /url\(|@import|https?:\/\//i, 'no remote reference in style or text')
  t.notMatch(page, / style=/, 'no inline style attribute (the policy would refuse it)')
  t.notMatch(page, / on[a-z]+=/i, 'no inline event handler')
  t.match(page, /<form id="zoom" hidden/, 'the zoom controls stay hidden without script')
  t.notMatch(page, /<tr[^>]* hidden/, 'every row is visible without script')
  t.notMatch(REPORT_SCRIPT, /innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\(|Function\(/, 'the script never parses markup')
})

t.test('inputs are checked against their manifests; nothing is written otherwise', async (t) => {
  const store = new MemoryStore()
  const { signer } = testSignerWithPem()
  const r = await seedSliceCapture(store, signer, 'case-t', 't', [trailEvent('e1', '2026-11-28T01:00:00Z')])
  const events = r.manifest.artifacts.find((a) => a.path === 'events.jsonl.gz')!
  store.objects.get(events.key)!.bytes = gzipSync('{"eventID":"forged"}\n')
  const dir = tempDir(t, 'report-unit-')
  const out = join(dir, 'r.html')
  await t.rejects(writeCaseReport({ store, signer, caseId: 'case-t', output: { path: out } }), { name: 'IntegrityError', message: /events.jsonl.gz does not match its manifest; no report was written/ })
  t.throws(() => readFileSync(out), 'no file')
  await t.rejects(buildBundle({ store, signer, caseId: 'case-t', output: { path: join(dir, 'b.zip') } }), { name: 'IntegrityError' }, 'nor a bundle')
})

t.test('verify re-derives report.html from the bundle', async (t) => {
  const store = new MemoryStore()
  const { signer } = testSignerWithPem()
  await seedSliceCapture(store, signer, 'case-v', 'v', [trailEvent('e1', '2026-11-28T01:00:00Z'), trailEvent('e2', '2026-11-28T02:00:00Z', { eventName: 'DeleteObject', userAgent: 'agent \uFFFD' })])
  await seedCapture(store, signer, 'case-v', 'cfg', [{ path: 'a.json', body: '{}' }], { findings: 1 })
  const dir = tempDir(t, 'report-verify-')
  const file = join(dir, 'case-v.zip')
  await buildBundle({ store, signer, caseId: 'case-v', output: { path: file }, recordCustody: false })
  const { members } = await readBundleMembers(file, { keepAllBytes: true })
  const plain = (await readBundleMembers(file)).members
  t.ok(plain.find((m) => /events\.jsonl\.gz$/.test(m.name))?.bytes, 'the reader keeps the report inputs')
  t.notOk(plain.find((m) => m.name.endsWith('/a.json'))?.bytes, 'but no other artifact')
  t.equal(verifyBundleMembers(plain).ok, true, 'the bundle verifies without the artifacts kept')
  const page = members.find((m) => m.name === MEMBER.html)!
  t.match(page.bytes!.toString(), /DeleteObject/)
  const findingsOf = (ms: BundleMember[]): string[] => verifyBundleMembers(ms).findings.filter((f) => f.member === MEMBER.html).map((f) => `${f.check}: ${f.message}`)

  const edited = (edit: (s: string) => string): BundleMember[] => reindex(members.map((m) => (m.name === MEMBER.html ? member(m.name, Buffer.from(edit(m.bytes!.toString()))) : m)))
  t.match(findingsOf(edited((s) => s.replace('DeleteObject', 'GetObject'))), [/^report: report\.html does not match what the bundled manifests, custody chain and CloudTrail slices render/], 'a changed event name is caught')
  t.match(findingsOf(edited((s) => s.replace('</body>', '<script>fetch("https://x")</script></body>'))), [/^report: /], 'an added script is caught')
  t.match(findingsOf(edited((s) => s.replace(/\n/, '\r\n'))), [/^report: /], 'a single byte is caught')
  // an invalid UTF-8 byte decodes to the same U+FFFD the evidence holds: bytes are compared
  const fffd = Buffer.from('\uFFFD')
  const at = page.bytes!.indexOf(fffd)
  t.ok(at > 0, 'the page shows the U+FFFD from the evidence')
  const invalid = Buffer.concat([page.bytes!.subarray(0, at), Buffer.from([0xff]), page.bytes!.subarray(at + fffd.length)])
  t.equal(invalid.toString('utf8'), page.bytes!.toString('utf8'), 'same text once decoded')
  t.match(findingsOf(reindex(members.map((m) => (m === page ? member(m.name, invalid) : m)))), [/^report: /], 'different bytes are caught')
  t.match(findingsOf(members.filter((m) => m.name !== MEMBER.html)), [/^required: report\.html is missing/], 'a removed report is missing')

  // an edited slice (bundle.json and SHA256SUMS rewritten): the artifact and the report are named
  const ev = members.find((m) => /events\.jsonl\.gz$/.test(m.name))!
  const forged = verifyBundleMembers(reindex(members.map((m) => (m === ev ? member(m.name, gzipSync('{"eventID":"forged"}\n')) : m))))
  t.ok(forged.findings.some((f) => f.member === ev.name && f.check === 'artifacts'))
  t.ok(forged.findings.some((f) => f.member === MEMBER.html && f.check === 'report'), 'the page no longer follows from the signed slice')

  // an index that breaks rendering is a finding, not a crash
  const idx = members.find((m) => m.name === MEMBER.index)!
  const index = JSON.parse(idx.bytes!.toString()) as Record<string, unknown>
  delete index.tool
  const broken = verifyBundleMembers(members.map((m) => (m === idx ? member(m.name, Buffer.from(JSON.stringify(index))) : m)))
  t.ok(broken.findings.some((f) => f.member === MEMBER.html && /cannot be re-derived from the bundled evidence/.test(f.message)))
  const sumsHtml = formatSha256Sums([{ path: MEMBER.html, sha256: sha(page.bytes!) }])
  t.match(members.find((m) => m.name === MEMBER.sums)!.bytes!.toString(), sumsHtml.trim(), 'report.html is listed in SHA256SUMS')
})
