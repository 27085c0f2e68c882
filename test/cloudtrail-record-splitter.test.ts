/**
 * Splitting a CloudTrail log stream into records (forensics/cloudtrail/record-splitter.ts):
 * {"Records":[...]} documents and JSON lines, at any chunk boundary, with structural errors
 * and limits. Documents are scanned by record-scan.wat (WebAssembly): 16-byte blocks
 * without a backslash on a SIMD path, the rest byte by byte, in windows of 1 MiB with at
 * most 16384 records listed per call; the tests below cross each of those limits.
 */
import t from 'tap'
import fc from 'fast-check'
import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { RecordSplitter, SplitError } from '../forensics/cloudtrail/record-splitter.js'
import { buildRecordScan } from '../scripts/build-wasm.mjs'

function split(parts: Array<string | Buffer>, limits?: { maxRecordBytes?: number }): { records: string[]; where: number[]; s: RecordSplitter } {
  const records: string[] = []
  const where: number[] = []
  const s = new RecordSplitter((buf, start, end, w) => {
    records.push(buf.toString('utf8', start, end))
    where.push(w)
  }, limits)
  for (const p of parts) s.push(typeof p === 'string' ? Buffer.from(p) : p)
  s.end()
  return { records, where, s }
}

/** True when `doc`, cut into chunks of the sizes `cuts` (and the rest), splits into exactly `recs`. */
function splitsExactly(doc: Buffer, cuts: number[], recs: unknown[]): boolean {
  const parts: Buffer[] = []
  let at = 0
  for (const c of cuts) {
    parts.push(doc.subarray(at, Math.min(doc.length, at + c)))
    at = Math.min(doc.length, at + c)
  }
  parts.push(doc.subarray(at))
  return JSON.stringify(split(parts).records.map((r) => JSON.parse(r) as unknown)) === JSON.stringify(recs)
}

t.test('a Records document splits the same at every chunk boundary, escapes included', async (t) => {
  const recs = ['{"a":"x\\"}y","b":[1,{"c":"]"}]}', '{"k":"back\\\\"}', '{"e":"\\\\\\""}', '{}']
  const text = `{ "Records" : [ ${recs.join(' ,\n')} ] }`
  const whole = split([text])
  t.same(whole.records, recs)
  t.equal(whole.s.format, 'document')
  const bytes = [...Buffer.from(text)].map((b) => Buffer.from([b]))
  const one = split(bytes)
  t.same(one.records, recs, 'one byte at a time')
  t.same(one.where, [1, 2, 3, 4])
  // Split every way into two chunks.
  for (let i = 1; i < text.length; i++) t.same(split([text.slice(0, i), text.slice(i)]).records, recs, `split at ${i}`)
})

t.test('backslash runs across chunk ends keep strings intact', async (t) => {
  // A string ending in an escaped backslash, split inside the run, then more records.
  const parts = ['{"Records":[{"a":"x\\', '\\', '"},{"b":"q\\', '"', '"}]}']
  const r = split(parts)
  t.same(r.records, ['{"a":"x\\\\"}', '{"b":"q\\""}'])
  // A chunk made only of backslashes inside a string.
  const r2 = split(['{"Records":[{"a":"', '\\\\', '\\\\', '"}]}'])
  t.same(r2.records, ['{"a":"\\\\\\\\"}'])
})

t.test('JSON lines split too; the format is decided from the first bytes', async (t) => {
  const lines = split(['{"a":1}\r\n', '\n  \t\n{"b"', ':2}\n{"c":3}'])
  t.same(lines.records, ['{"a":1}', '{"b":2}', '{"c":3}'])
  t.same(lines.where, [1, 4, 5])
  t.equal(lines.s.format, 'lines')
  // An object that is not {"Records":...} is a JSON line.
  t.same(split(['{"foo":1}\n']).records, ['{"foo":1}'])
  // A short head that could still become {"Records": is held until decided.
  t.same(split(['{"Rec', 'ords": [{"x":1}', ']}']).records, ['{"x":1}'])
  t.equal(split(['{"Rec', 'ords": [{"x":1}', ']}']).s.format, 'document')
  // Undecided at end: treated as lines.
  const short = split(['{"Re'])
  t.equal(short.s.format, 'lines')
  t.same(short.records, ['{"Re'])
  const empty = split([])
  t.equal(empty.s.format, 'unknown')
  t.equal(empty.s.records, 0)
  t.equal(split(['  \n ']).s.format, 'unknown')
  // Trailing bytes after the closing bracket are ignored.
  t.same(split(['{"Records":[{"a":1}]}\n{"junk"']).records, ['{"a":1}'])
})

t.test('structural errors and over-long records are SplitErrors naming the record', async (t) => {
  t.throws(() => split(['{"Records":[{"a":1} x {"b":2}]}']), { name: 'SplitError', message: /unexpected byte 'x' between records after record #1/ })
  t.throws(() => split(['{"Records":[{"a":1},{"b":']), { message: /unterminated record #2/ })
  t.throws(() => split(['{"Records":[{"a":1}']), { message: /Records array is not closed .* after 1 records/ })
  t.throws(() => split(['{"Records":[{"a":"', 'x'.repeat(40), '"}]}'], { maxRecordBytes: 16 }), { message: /record #1 is longer than 16 bytes/ })
  t.throws(() => split(['{"a":1}\n{"b":"', 'x'.repeat(40)], { maxRecordBytes: 16 }), { message: /line 2 is longer than 16 bytes/ })
  t.ok(new SplitError('m') instanceof Error)
  t.equal(new SplitError('m').name, 'SplitError')
  // A long line within the limit spanning chunks is fine.
  t.same(split(['{"a":"', 'x'.repeat(10), '"}'], { maxRecordBytes: 64 }).records, [`{"a":"${'x'.repeat(10)}"}`])
})

t.test('property: any records, any chunking: the splitter hands out exactly the records, in order', async (t) => {
  // Strings full of the bytes the splitter looks for: braces, brackets, quotes, backslash runs.
  const tricky = fc.constantFrom('{', '}', '[', ']', '"', '\\', '\\\\', '},{"eventVersion":"1.09"', '"]}', ',', ':', 'é', '😀', 'x')
  const text = fc.array(tricky, { maxLength: 6 }).map((xs) => xs.join(''))
  const value = fc.letrec((tie) => ({
    v: fc.oneof({ depthSize: 'small' }, text, fc.integer(), fc.constant(null), fc.boolean(), fc.array(tie('v'), { maxLength: 3 }), fc.dictionary(text, tie('v'), { maxKeys: 3 })),
  })).v
  const record = fc.dictionary(text, value, { maxKeys: 4 })
  fc.assert(
    fc.property(fc.array(record, { maxLength: 5 }), fc.constantFrom(undefined, 1, '\t'), fc.array(fc.integer({ min: 1, max: 400 }), { maxLength: 8 }), (recs, indent, cuts) => {
      const doc = Buffer.from(JSON.stringify({ Records: recs }, null, indent))
      return splitsExactly(doc, cuts, recs)
    }),
    { numRuns: 500 },
  )
  t.pass('500 generated documents split exactly')
})

t.test('the scanner module is the build of record-scan.wat (scripts/build-wasm.mjs)', async (t) => {
  t.equal(readFileSync(new URL('../forensics/cloudtrail/record-scan-wasm.ts', import.meta.url), 'utf8'), await buildRecordScan())
  const check = spawnSync(process.execPath, [fileURLToPath(new URL('../scripts/build-wasm.mjs', import.meta.url)), '--check'], { encoding: 'utf8' })
  t.equal(check.status, 0, check.stderr)
  t.match(check.stdout, /is the build of record-scan.wat/)
})

t.test('property: CloudTrail-sized records with escapes anywhere split exactly, at any alignment and chunking', async (t) => {
  // Long strings, so that whole 16-byte blocks go through the SIMD path, with the bytes it
  // must not mistake: quotes (escaped), backslash runs, braces and brackets inside strings.
  const piece = fc.constantFrom('abcdefghij', 'arn:aws:s3:::bucket/key', '"', '\\', '{', '}', '[', ']', '},{', 'é😀', ' ')
  const str = fc.array(piece, { maxLength: 12 }).map((xs) => xs.join(''))
  const value = fc.letrec((tie) => ({
    v: fc.oneof({ depthSize: 'small' }, str, fc.integer(), fc.constant(null), fc.boolean(), fc.array(tie('v'), { maxLength: 3 }), fc.dictionary(str, tie('v'), { maxKeys: 4 })),
  })).v
  const record = fc.dictionary(fc.constantFrom('eventVersion', 'userAgent', 'requestParameters', 'resources', 'k'), value, { maxKeys: 5 })
  fc.assert(
    fc.property(fc.array(record, { maxLength: 6 }), fc.nat({ max: 31 }), fc.array(fc.integer({ min: 1, max: 200 }), { maxLength: 6 }), (recs, pad, cuts) => {
      const doc = Buffer.from(`{"Records":[${' '.repeat(pad)}${recs.map((r) => JSON.stringify(r)).join(',' + ' '.repeat(pad % 5))}]}`)
      return splitsExactly(doc, cuts, recs)
    }),
    { numRuns: 500 },
  )
  t.pass('500 generated documents split exactly')
})

t.test('one chunk of several 1-MiB windows, with records across window ends and more records than one call lists', async (t) => {
  // 40,000 tiny records fill the 16,384-pair list more than twice in the first window; then
  // 2,000 records of 1,000+ bytes run across two more window ends.
  const tiny = Array.from({ length: 40_000 }, (_, i) => ({ i }))
  const big = Array.from({ length: 2_000 }, (_, i) => ({ i, userAgent: `agent \\"${i}\\" {` + 'x'.repeat(1000 + (i % 17)) }))
  const recs = [...tiny, ...big]
  const doc = Buffer.from(JSON.stringify({ Records: recs }))
  t.ok(doc.length > 2 * 1024 * 1024, `${doc.length} bytes in one chunk`)
  const whole = split([doc])
  t.equal(whole.records.length, recs.length)
  t.same(whole.where.slice(-1), [recs.length])
  t.ok(whole.records.every((r, k) => r === JSON.stringify(recs[k])), 'every record is its exact text')
  // the same bytes cut just after each window end
  const MiB = 1024 * 1024
  const cut = split([doc.subarray(0, MiB + 3), doc.subarray(MiB + 3, 2 * MiB + 5), doc.subarray(2 * MiB + 5)])
  t.ok(cut.records.length === recs.length && cut.records.every((r, k) => r === JSON.stringify(recs[k])), 'and in three chunks')
})

t.test('every byte that cannot stand between records is reported after a record closed mid-block', async (t) => {
  const long = `{"k":"${'v'.repeat(40)}","n":[1,{"m":2}]}`
  for (const [junk, shown] of [['x', 'x'], ['"', '"'], ['[', '['], ['}', '}']] as const) {
    t.throws(() => split([`{"Records":[${long},${long}${junk}]}`]), { name: 'SplitError', message: `unexpected byte '${shown}' between records after record #2` }, `${junk} after two records`)
  }
  // a ] at depth 0 ends the document; what follows is not read
  t.same(split([`{"Records":[${long}]x"`]).records, [long])
})

t.test('a sink that splits another document while it is called does not disturb the outer split', async (t) => {
  const long = (k: number): string => `{"k":"${'v'.repeat(40 + k)}","n":[1,{"m":${k}}]}`
  const outer = Array.from({ length: 5 }, (_, k) => long(k))
  const inner: string[][] = []
  const seen: string[] = []
  const s = new RecordSplitter((buf, start, end) => {
    seen.push(buf.toString('utf8', start, end))
    // a second document, split inside the first one's scan
    inner.push(split([`{"Records":[${long(100)},${long(101)}]}`]).records)
  })
  const doc = Buffer.from(`{"Records":[${outer.join(',')}]}`)
  s.push(doc.subarray(0, 100))
  s.push(doc.subarray(100))
  s.end()
  t.same(seen, outer, 'the outer records, whole and in order')
  t.ok(inner.length === 5 && inner.every((r) => r.length === 2 && r[0] === long(100) && r[1] === long(101)), 'each inner split whole too')
})
