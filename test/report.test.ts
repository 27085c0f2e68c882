/**
 * report.html end to end without the emulator or a browser: a bundle carries it, listed in
 * SHA256SUMS, and `forensics verify` re-derives it from the bundled evidence, catching an
 * edited page. The CLI is in cli-report.test.ts, Chromium in report-browser.test.ts, each
 * module in test/report-<module>.test.ts.
 */
import t from 'tap'
import { createHash } from 'node:crypto'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'
import { MemoryStore } from './fixtures/memory-store.js'
import { seedCapture, testSignerWithPem } from './fixtures/bundle-case.js'
import { seedSliceCapture, trailEvent } from './fixtures/report-case.js'
import { tempDir } from './fixtures/bundle-cli.js'
import { readBundleMembers, type BundleMember } from '../forensics/bundle/bundle-reader.js'
import { buildBundle } from '../forensics/bundle/build-bundle.js'
import { formatSha256Sums, MEMBER, type BundleIndex } from '../forensics/bundle/bundle-layout.js'
import { verifyBundleMembers } from '../forensics/bundle/verify-bundle.js'

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
