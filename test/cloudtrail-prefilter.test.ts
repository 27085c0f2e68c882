/**
 * The raw-byte prefilter (forensics/cloudtrail/prefilter.ts): it must never drop a record
 * the full filter matches, whatever escapes the JSON text uses (property tests against the
 * parsed filter), and it must actually skip records that cannot match.
 */
import t from 'tap'
import fc from 'fast-check'
import { gzipSync } from 'node:zlib'
import { compileFilter, makeWindow, normalizeFilters, type CloudTrailRecord, type SliceFilters } from '../forensics/cloudtrail/filters.js'
import { decodeEscapes, Prefilter } from '../forensics/cloudtrail/prefilter.js'
import { scanLogFile } from '../forensics/cloudtrail/log-file-scan.js'

async function* chunks(...parts: Buffer[]): AsyncGenerator<Uint8Array> {
  yield* parts
}

const W = makeWindow('2026-11-28T00:00:00Z', '2026-11-29T00:00:00Z')

/**
 * JSON text of `v` where each character of a string may be written escaped (`\uXXXX`,
 * `\/`, or the short escapes), chosen by `bits`: the same value, many texts.
 */
function serialize(v: unknown, bits: boolean[]): string {
  let k = 0
  const bit = (): boolean => (bits.length ? bits[k++ % bits.length] : false)
  const str = (s: string): string => {
    let out = '"'
    for (const ch of s) {
      const code = ch.codePointAt(0)!
      if (ch === '"' || ch === '\\') out += bit() ? `\\u${code.toString(16).padStart(4, '0')}` : `\\${ch}`
      else if (code < 0x20) out += `\\u${code.toString(16).padStart(4, '0')}`
      else if (ch === '/' && bit()) out += '\\/'
      else if (bit()) {
        // \uXXXX per UTF-16 unit (a surrogate pair for astral characters), hex in either case
        for (const unit of ch.split('')) {
          const hex = unit.charCodeAt(0).toString(16).padStart(4, '0')
          out += `\\u${bit() ? hex.toUpperCase() : hex}`
        }
      }
      else out += ch
    }
    return out + '"'
  }
  const walk = (x: unknown): string => {
    if (typeof x === 'string') return str(x)
    if (Array.isArray(x)) return `[${x.map(walk).join(',')}]`
    if (x !== null && typeof x === 'object') {
      return `{${Object.entries(x)
        .filter(([, y]) => y !== undefined)
        .map(([key, y]) => `${str(key)}:${walk(y)}`)
        .join(',')}}`
    }
    return JSON.stringify(x)
  }
  return walk(v)
}

// values chosen from a small pool so that filters built from the pool often match
const piece = fc.constantFrom('a', 'B', '/', '"', '\\', 'é', '\u2028', '\uFFFD', '😀', '-', ':', '0', 'GetObject', 's3.amazonaws.com')
const value = fc.array(piece, { minLength: 1, maxLength: 4 }).map((xs) => xs.join(''))
const arn = value.map((v) => `arn:aws:s3:::${v}`)
const ip = fc.constantFrom('10.0.0.1', '203.0.113.9', '192.0.2.1')

const record = fc.record(
  {
    eventID: fc.uuid(),
    eventTime: fc.constantFrom('2026-11-28T01:00:00Z', '2026-11-28T12:30:00Z'),
    eventName: value,
    eventSource: value,
    sourceIPAddress: ip,
    errorCode: value,
    readOnly: fc.boolean(),
    userIdentity: fc.record({ arn, accessKeyId: value, sessionContext: fc.record({ sessionIssuer: fc.record({ arn }) }) }, { requiredKeys: [] }),
    requestParameters: fc.record({ bucketName: value, key: value, policyArn: arn }, { requiredKeys: [] }),
    resources: fc.array(fc.record({ ARN: fc.oneof(arn, value.map((v) => `arn:aws:s3:::bkt/${v}`)) }), { maxLength: 2 }),
    userAgent: value,
  },
  { requiredKeys: ['eventID', 'eventTime'] },
)

const list = <T>(a: fc.Arbitrary<T>): fc.Arbitrary<T[] | undefined> => fc.option(fc.array(a, { minLength: 1, maxLength: 2 }), { nil: undefined })
const filters: fc.Arbitrary<SliceFilters> = fc.record(
  {
    principals: list(arn),
    accessKeyIds: list(value),
    sourceIps: list(ip),
    eventNames: list(value),
    eventSources: list(value),
    buckets: list(value),
    keys: list(value),
    keyPrefixes: list(value),
    resourceArns: list(arn),
    errorCode: fc.option(fc.oneof(fc.constant('any' as const), fc.constant('none' as const), fc.array(value, { minLength: 1, maxLength: 2 })), { nil: undefined }),
    readOnly: fc.option(fc.boolean(), { nil: undefined }),
  },
  { requiredKeys: [] },
)

/** Filters that take their values from the record, so that many cases match. */
const filtersOf = (r: CloudTrailRecord, f: SliceFilters, pick: number): SliceFilters => {
  const id = (r.userIdentity ?? {}) as { arn?: string; accessKeyId?: string }
  const params = (r.requestParameters ?? {}) as { bucketName?: string; key?: string }
  const own: SliceFilters = {
    ...(pick & 1 && typeof r.eventName === 'string' ? { eventNames: [r.eventName] } : {}),
    ...(pick & 2 && id.accessKeyId ? { accessKeyIds: [id.accessKeyId] } : {}),
    ...(pick & 4 && id.arn ? { principals: [id.arn] } : {}),
    ...(pick & 8 && params.bucketName ? { buckets: [params.bucketName] } : {}),
    ...(pick & 16 && params.key ? { keyPrefixes: [params.key.slice(0, 2) || params.key] } : {}),
    ...(pick & 32 && typeof r.errorCode === 'string' ? { errorCode: [r.errorCode] } : {}),
    ...(pick & 64 ? { errorCode: 'any' as const } : {}),
  }
  return pick & 128 ? { ...f, ...own } : own
}

t.test('property: a record the full filter matches is never dropped, however its JSON text is escaped', async (t) => {
  let matched = 0
  let skipped = 0
  fc.assert(
    fc.property(record, filters, fc.integer({ min: 0, max: 255 }), fc.array(fc.boolean(), { maxLength: 16 }), (r, f, pick, bits) => {
      const compiled = compileFilter(normalizeFilters(filtersOf(r, f, pick)), W)
      const raw = Buffer.from(serialize(r, bits))
      const parsed = JSON.parse(raw.toString('utf8')) as CloudTrailRecord
      const may = new Prefilter(compiled.needles).mayMatch(raw)
      if (compiled.matches(parsed)) {
        matched++
        return may
      }
      if (!may) skipped++
      return true
    }),
    { numRuns: 3000 },
  )
  // the property is only meaningful when both sides occur often
  t.ok(matched > 300, `${matched} of 3000 cases matched`)
  t.ok(skipped > 300, `${skipped} of 3000 non-matching cases were skipped without parsing`)
})

t.test('property: scanning a log file finds exactly what parsing every record and filtering finds', async (t) => {
  await fc.assert(
    fc.asyncProperty(fc.array(record, { minLength: 1, maxLength: 12 }), filters, fc.integer({ min: 0, max: 255 }), fc.array(fc.boolean(), { maxLength: 16 }), async (rs, f, pick, bits) => {
      const compiled = compileFilter(normalizeFilters(filtersOf(rs[0], f, pick)), W)
      const doc = Buffer.from(`{"Records":[${rs.map((r) => serialize(r, bits)).join(',')}]}`)
      const want = rs.filter((r) => compiled.matches(JSON.parse(JSON.stringify(r)) as CloudTrailRecord)).map((r) => r.eventID)
      const got = await scanLogFile(chunks(gzipSync(doc)), compiled)
      return got.error === undefined && JSON.stringify(got.matched.map((m) => m.id)) === JSON.stringify(want)
    }),
    { numRuns: 300 },
  )
  t.pass('300 generated files agree with the full filter')
})

t.test('escaped tokens are decoded; a backslash in an unrelated field no longer forces a parse', async (t) => {
  const p = new Prefilter(compileFilter(normalizeFilters({ accessKeyIds: ['AKIAX'], eventNames: ['GetObject'] }), W).needles)
  t.ok(p.mayMatch(Buffer.from('{"eventName":"GetObject","userIdentity":{"accessKeyId":"AKIAX"}}')))
  t.ok(p.mayMatch(Buffer.from('{"eventName":"Get\\u004fbject","userIdentity":{"accessKeyId":"AKI\\u0041X"}}')), '\\u escapes')
  t.notOk(p.mayMatch(Buffer.from('{"eventName":"GetObject","userAgent":"say \\"hi\\" \\\\ path","userIdentity":{"accessKeyId":"AKIAY"}}')), 'escapes elsewhere: skipped')
  t.notOk(p.mayMatch(Buffer.from('{"eventName":"GetObject","userIdentity":{"accessKeyId":"AKIA\\u0059"}}')), 'an escaped value that is not a needle')
  t.ok(p.mayMatch(Buffer.from('{"eventName":"GetObject","userIdentity":{"accessKeyId":"AKIA\\u005q"}}')), 'a bad escape where a needle could hide is left to the full parse, which reports it')
  t.notOk(p.mayMatch(Buffer.from('{"eventName":"GetObject","userIdentity":{"accessKeyId":"AKIA\\q"}}')), 'an escape that cannot write a needle character does not force decoding')

  const key = new Prefilter(compileFilter(normalizeFilters({ keyPrefixes: ['logs/'] }), W).needles)
  t.ok(key.mayMatch(Buffer.from('{"requestParameters":{"key":"logs\\/2026"}}')), '\\/ in a prefix')
  t.notOk(key.mayMatch(Buffer.from('{"requestParameters":{"key":"data\\/2026"}}')))

  const any = new Prefilter(compileFilter(normalizeFilters({ errorCode: 'any' }), W).needles)
  t.ok(any.mayMatch(Buffer.from('{"error\\u0043ode":"AccessDenied"}')), 'a quoted needle matches an escaped key exactly')
  t.ok(any.mayMatch(Buffer.from('{"note":"x\\/\\"errorCode\\""}')), 'or a decoded value holding it with its quotes')
  t.notOk(any.mayMatch(Buffer.from('{"note":"x\\/errorCodes"}')), 'but not without them')
  t.ok(new Prefilter([]).passesEverything)
})

t.test('needles holding U+FFFD are not used: invalid UTF-8 in a record decodes to it', async (t) => {
  const compiled = compileFilter(normalizeFilters({ eventNames: ['Get\uFFFD'] }), W)
  const raw = Buffer.concat([Buffer.from('{"eventTime":"2026-11-28T01:00:00Z","eventName":"Get'), Buffer.from([0xff]), Buffer.from('"}')])
  t.ok(compiled.matches(JSON.parse(raw.toString('utf8')) as CloudTrailRecord), 'the parsed record matches')
  const p = new Prefilter(compiled.needles)
  t.ok(p.passesEverything)
  t.ok(p.mayMatch(raw))
  const scanned = await scanLogFile(chunks(raw), compiled)
  t.equal(scanned.matched.length, 1)
})

t.test('decodeEscapes decodes every escape once, left to right; a bad escape is null', async (t) => {
  t.equal(decodeEscapes(Buffer.from('{"a":"plain","b\\/":"x\\"y","c":"\\\\u0041","d":"\\u0041\\n"}')), '{"a":"plain","b/":"x"y","c":"\\u0041","d":"A\n"}')
  t.equal(decodeEscapes(Buffer.from('{"a":1}')), '{"a":1}')
  t.equal(decodeEscapes(Buffer.from('{"a":"\\x"}')), null)
  t.equal(decodeEscapes(Buffer.from('{"a":"\\u00"}')), null)
})

t.test('property: records tested in place, in any order, get the answer their copies get', async (t) => {
  fc.assert(
    fc.property(fc.array(record, { minLength: 1, maxLength: 8 }), filters, fc.integer({ min: 0, max: 255 }), fc.array(fc.boolean(), { maxLength: 16 }), fc.array(fc.nat(), { maxLength: 12 }), (rs, f, pick, bits, order) => {
      const compiled = compileFilter(normalizeFilters(filtersOf(rs[0], f, pick)), W)
      const texts = rs.map((r) => Buffer.from(serialize(r, bits)))
      const buf = Buffer.concat(texts.flatMap((x) => [x, Buffer.from(',')]))
      const spans: Array<[number, number]> = []
      let at = 0
      for (const x of texts) {
        spans.push([at, at + x.length])
        at += x.length + 1
      }
      const inPlace = new Prefilter(compiled.needles)
      const copies = new Prefilter(compiled.needles)
      // front to back (the scan's order), then in the generated order (back and forth)
      const visits = [...spans.keys(), ...order.map((k) => k % spans.length)]
      return visits.every((k) => inPlace.mayMatch(buf, ...spans[k]) === copies.mayMatch(Buffer.from(texts[k])))
    }),
    { numRuns: 500 },
  )
  t.pass('500 buffers of records agree with their copies')
})
