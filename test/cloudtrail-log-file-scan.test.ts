/**
 * Scanning one log file (forensics/cloudtrail/log-file-scan.ts): plain and gzip bytes in
 * any chunking, damaged files, bad records, and the hashes of what was stored.
 */
import t from 'tap'
import { createHash } from 'node:crypto'
import { gzipSync } from 'node:zlib'
import { compileFilter, makeWindow, normalizeFilters } from '../forensics/cloudtrail/filters.js'
import { scanLogFile } from '../forensics/cloudtrail/log-file-scan.js'

const D = (s: string): number => Date.parse(s)
const W = makeWindow('2026-11-28T00:00:00Z', '2026-11-29T00:00:00Z')

async function* chunks(...parts: Array<Buffer | string>): AsyncGenerator<Uint8Array> {
  for (const p of parts) yield typeof p === 'string' ? Buffer.from(p) : p
}

t.test('plain and gzip files scan alike; truncated or corrupt gzip and bad records are reported, the stored bytes always hashed', async (t) => {
  const f = compileFilter(normalizeFilters({ eventNames: ['GetObject'] }), W)
  const ev = (i: number, extra: Record<string, unknown> = {}): Record<string, unknown> => ({ eventID: `e${i}`, eventTime: `2026-11-28T0${i}:00:00Z`, eventName: 'GetObject', ...extra })
  const doc = Buffer.from(JSON.stringify({ Records: [ev(1), ev(2, { eventName: 'PutObject' }), ev(3, { eventID: undefined }), { eventName: 'GetObject' }, ev(4, { eventTime: '2026-11-27T00:00:00Z' })] }))

  const plain = await scanLogFile(chunks(Buffer.alloc(0), doc), f)
  t.equal(plain.format, 'document')
  t.equal(plain.records, 5)
  t.equal(plain.undated, 1)
  t.equal(plain.size, doc.length)
  t.equal(plain.sha256, plain.uncompressedSha256, 'plain bytes hash the same stored and uncompressed')
  t.same(plain.matched.map((m) => m.id.slice(0, 7)), ['e1', 'sha256:'])
  t.equal(plain.oldestEventTime, D('2026-11-27T00:00:00Z'))
  t.equal(plain.newestEventTime, D('2026-11-28T03:00:00Z'))

  const gz = gzipSync(doc)
  const z = await scanLogFile(chunks(gz.subarray(0, 10), gz.subarray(10)), f)
  t.equal(z.error, undefined)
  t.equal(z.size, gz.length)
  t.equal(z.uncompressedSize, doc.length)
  t.equal(z.uncompressedSha256, createHash('sha256').update(doc).digest('hex'))
  t.equal(z.sha256, createHash('sha256').update(gz).digest('hex'))
  t.equal(z.matched.length, 2)

  const truncated = await scanLogFile(chunks(gz.subarray(0, gz.length - 20)), f)
  t.match(truncated.error, /truncated|not closed/)
  t.equal(truncated.sha256, createHash('sha256').update(gz.subarray(0, gz.length - 20)).digest('hex'))

  const corrupt = Buffer.from(gz)
  corrupt.fill(0x55, 12, 40)
  const bad = await scanLogFile(chunks(corrupt.subarray(0, 30), corrupt.subarray(30)), f)
  t.match(bad.error, /gzip data is corrupt/)
  t.equal(bad.size, corrupt.length, 'the stored bytes are hashed to the end')

  // A structural error inside a gzip member stops the scan with that error.
  const broken = await scanLogFile(chunks(gzipSync('{"Records":[{"eventName":"GetObject"} ! ]}')), f)
  t.match(broken.error, /unexpected byte '!'/)
  const brokenPlain = await scanLogFile(chunks('{"Records":[{"a":1} ! ]}'), f)
  t.match(brokenPlain.error, /unexpected byte '!'/)

  const empty = await scanLogFile(chunks(), f)
  t.equal(empty.records, 0)
  t.equal(empty.error, undefined)
  t.equal(empty.format, 'unknown')

  const lines = ['{"eventTime":"2026-11-28T01:00:00Z","eventName":"GetObject","eventID":"l1"}', '[1,2]', '{"eventName":"GetObject",}', 'null', '{"eventName":"Get\\u004fbject","eventTime":"2026-11-28T01:00:00Z"}', '{"eventName":"ListBuckets"}'].join('\n')
  const jl = await scanLogFile(chunks(lines), f)
  t.equal(jl.format, 'lines')
  t.equal(jl.records, 6)
  t.equal(jl.badRecords, 3)
  t.match(jl.problems.join('|'), /line 2: not a JSON object\|line 3: .*\|line 4: not a JSON object/)
  t.same(jl.matched.map((m) => m.id.slice(0, 7)), ['l1', 'sha256:'], 'an escaped value is parsed rather than skipped by the needles')

  // At most 10 problems are kept.
  const many = await scanLogFile(chunks(Array.from({ length: 15 }, () => 'x').join('\n')), compileFilter({}, W))
  t.equal(many.badRecords, 15)
  t.equal(many.problems.length, 10)
  const docBad = await scanLogFile(chunks('{"Records":[{"a":}]}'), compileFilter({}, W))
  t.match(docBad.problems[0], /^record 1: /)
})

t.test('gzip input larger than the inflater buffer scans completely', async (t) => {
  const events = Array.from({ length: 3000 }, (_, i) => ({ eventID: createHash('sha256').update(String(i)).digest('hex'), eventTime: '2026-11-28T01:00:00Z', eventName: i % 2 ? 'GetObject' : 'PutObject' }))
  const plain = Buffer.from(JSON.stringify({ Records: events }))
  const gz = gzipSync(plain)
  t.ok(gz.length > 64 * 1024, `${gz.length} compressed bytes in one chunk`)
  const r = await scanLogFile(chunks(gz), compileFilter(normalizeFilters({ eventNames: ['GetObject'] }), W))
  t.equal(r.error, undefined)
  t.equal(r.records, 3000)
  t.equal(r.matched.length, 1500)
  t.equal(r.uncompressedSha256, createHash('sha256').update(plain).digest('hex'))
})

t.test('a structural error early in a multi-chunk gzip file stops the scan, the rest is still hashed', async (t) => {
  const padding = Array.from({ length: 2000 }, (_, i) => createHash('sha256').update(String(i)).digest('hex')).join('')
  const gz = gzipSync(`{"Records":[{"eventID":"a"} ! {"pad":"${padding}"}]}`)
  const parts = Array.from({ length: Math.ceil(gz.length / 1024) }, (_, i) => gz.subarray(i * 1024, i * 1024 + 1024))
  const r = await scanLogFile(chunks(...parts), compileFilter({}, W))
  t.match(r.error, /unexpected byte '!'/)
  t.equal(r.size, gz.length, 'the remaining stored bytes are still hashed')
  t.equal(r.sha256, createHash('sha256').update(gz).digest('hex'))
})

t.test('a record closed by a mismatched bracket is a bad record, the next one still matches', async (t) => {
  // The splitter counts brackets, not their kinds: `{"a":[1}]` closes at `]`.
  const r = await scanLogFile(chunks('{"Records":[{"a":[1}],{"eventID":"b","eventTime":"2026-11-28T01:00:00Z"}]}'), compileFilter({}, W))
  t.equal(r.badRecords, 1)
  t.same(r.problems, ['record 1: not a JSON object'])
  t.same(r.matched.map((m) => m.id), ['b'])
})

t.test('finding 5: matched records keep their exact bytes (exponents, big integers, unicode escapes, key order)', async (t) => {
  const rec1 = '{"eventVersion":"1.08","eventTime":"2026-11-28T01:00:00Z","eventID":"e1","additionalEventData":{"bytesTransferredOut":1.688560107857E9,"x":12345678901234567890},"zeta":1,"alpha":"caf\\u00e9 \\ud83d\\ude00"}'
  const rec2 = '{\n  "eventTime": "2026-11-28T02:00:00Z",\r\n  "eventID": "e2", "n": -0.0e+00\n}'
  const doc = `{"Records":[${rec1},${rec2}]}`
  const r = await scanLogFile(chunks(gzipSync(doc)), compileFilter({}, W))
  t.equal(r.matched[0].json, rec1, 'byte for byte as delivered')
  t.notMatch(r.matched[0].json, /1688560107\.857|12345678901234567000/)
  t.equal(r.matched[1].json, rec2.replace(/[\r\n]/g, ' '), 'a record over several lines keeps every token; only the line breaks between tokens become spaces')
  t.same(JSON.parse(r.matched[1].json), JSON.parse(rec2))
})
