/**
 * The CloudTrail commands of the CLI (cli/commands/slice.ts, capture-cloudtrail.ts): filter
 * flags, usage errors, sources from the environment, and `forensics slice --from-dir`.
 * Captures through the CLI on the emulator are in cloudtrail-capture.test.ts.
 */
import t from 'tap'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { gzipSync } from 'node:zlib'
import { windowAndFilters } from '../cli/commands/slice.js'
import { main } from '../cli/main.js'
import { generateEvents } from './fixtures/cloudtrail/archive.js'

const D = (s: string): number => Date.parse(s)

function sink(): { stream: Writable; text: () => string } {
  let s = ''
  return { stream: new Writable({ write: (c, _e, cb) => ((s += String(c)), cb()) }), text: () => s }
}

t.test('filter flags become slice filters; conflicting flags are usage errors', async (t) => {
  const args = (values: Record<string, string | boolean | string[] | undefined>): { values: typeof values; positionals: string[] } => ({ values: { start: '2026-11-28T00:00:00Z', end: '2026-11-28T01:00:00Z', ...values }, positionals: [] })
  const all = windowAndFilters(args({ principal: ['arn:aws:iam::1:user/u'], 'access-key': 'AKIA1', 'source-ip': ['10.0.0.0/8'], 'event-name': ['A', 'B'], 'event-source': ['s3.amazonaws.com'], bucket: ['b'], 'key-prefix': ['p/'], 'resource-arn': ['arn:aws:s3:::b'], error: 'AccessDenied,,NoSuchKey', 'write-only': true }))
  t.same(all.filters, { principals: ['arn:aws:iam::1:user/u'], accessKeyIds: ['AKIA1'], sourceIps: ['10.0.0.0/8'], eventNames: ['A', 'B'], eventSources: ['s3.amazonaws.com'], buckets: ['b'], keyPrefixes: ['p/'], resourceArns: ['arn:aws:s3:::b'], errorCode: ['AccessDenied', 'NoSuchKey'], readOnly: false })
  t.same(all.window, { start: D('2026-11-28T00:00:00Z'), end: D('2026-11-28T01:00:00Z') })
  t.same(windowAndFilters(args({ error: 'any', 'read-only': true, key: ['k'] })).filters, { errorCode: 'any', readOnly: true, keys: ['k'] })
  t.same(windowAndFilters(args({ error: 'none' })).filters, { errorCode: 'none' })
  t.throws(() => windowAndFilters(args({ start: undefined })), { name: 'UsageError', message: /--start and --end are required/ })
  t.throws(() => windowAndFilters(args({ key: ['k'], 'key-prefix': ['p'] })), /--key or --key-prefix, not both/)
  t.throws(() => windowAndFilters(args({ 'read-only': true, 'write-only': true })), /--read-only or --write-only, not both/)
  t.throws(() => windowAndFilters(args({ error: ',' })), { name: 'ValidationError', field: 'errorCode' })
})

t.test('slice prints events and warnings; a missing --from-dir, --case, source or region is a usage error (exit 2)', async (t) => {
  const dir = t.testdir({})
  const e = (id: string): string => JSON.stringify({ eventID: id, eventTime: '2026-11-28T00:30:00Z', eventName: 'GetObject' })
  writeFileSync(join(dir, 'a.jsonl'), `${e('1')}\n${e('1')}\nbroken\n`)
  const base = ['--start', '2026-11-28T00:00:00Z', '--end', '2026-11-28T01:00:00Z']

  let out = sink()
  let err = sink()
  t.equal(await main(['slice', '--from-dir', dir, ...base], {}, out.stream, err.stream), 0)
  t.equal(out.text(), e('1') + '\n')
  t.match(err.text(), /warning: .*1 record\(s\) are not JSON objects[\s\S]*1 event\(s\) from 1 file\(s\), 1 duplicate\(s\) dropped/)

  out = sink()
  err = sink()
  t.equal(await main(['slice', '--from-dir', dir, ...base, '--json'], {}, out.stream, err.stream), 0)
  const doc = JSON.parse(out.text()) as { ok: boolean; slice: { counts: { events: number } }; events: unknown[] }
  t.equal(doc.slice.counts.events, 1)
  t.same(doc.events, [JSON.parse(e('1'))])

  out = sink()
  err = sink()
  t.equal(await main(['slice', ...base], {}, out.stream, err.stream), 2)
  t.match(err.text(), /--from-dir DIR is required/)

  const cap = async (argv: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; err: string }> => {
    const o = sink()
    const er = sink()
    const code = await main(['capture', 'cloudtrail', ...argv], env, o.stream, er.stream)
    return { code, err: er.text() }
  }
  t.match(await cap(base), { code: 2, err: /--case C is required/ })
  t.match(await cap(['--case', 'c', ...base]), { code: 2, err: /nothing to read: pass --archive/ })
  t.match(await cap(['--case', 'c', ...base, '--lookup']), { code: 2, err: /--lookup needs --region R or AWS_REGION/ })
  t.match(await cap(['--case', 'c', '--start', '2026-11-28T00:00:00Z']), { code: 2, err: /--start and --end are required/ })
})

t.test('capture cloudtrail reads its sources from the environment', async (t) => {
  const base = ['capture', 'cloudtrail', '--case', 'c', '--start', '2026-11-28T00:00:00Z', '--end', '2026-11-28T01:00:00Z', '--json']
  const run = async (argv: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; out: string }> => {
    const o = sink()
    const code = await main([...base, ...argv], env, o.stream, sink().stream)
    return { code, out: o.text() }
  }
  // Both get past the source checks and stop at the missing evidence bucket.
  const viaRegion = await run(['--lookup'], { AWS_DEFAULT_REGION: 'us-east-1' })
  const viaArchive = await run([], { FORENSICS_TRAIL_ARCHIVE: 's3://trail/ct' })
  for (const r of [viaRegion, viaArchive]) {
    t.equal(r.code, 2, r.out)
    t.notMatch(r.out, /nothing to read|--lookup needs/)
    t.match(r.out, /evidence|bucket/i)
  }
})

t.test('slice reports its count without a duplicates clause when none were dropped', async (t) => {
  const dir = t.testdir({})
  writeFileSync(join(dir, 'a.jsonl'), JSON.stringify({ eventID: '1', eventTime: '2026-11-28T00:30:00Z' }) + '\n')
  const out = sink()
  const err = sink()
  t.equal(await main(['slice', '--from-dir', dir, '--start', '2026-11-28T00:00:00Z', '--end', '2026-11-28T01:00:00Z'], {}, out.stream, err.stream), 0)
  t.equal(err.text(), '1 event(s) from 1 file(s)\n')
})

t.test('forensics slice --from-dir prints JSON lines', async (t) => {
  const dir = t.testdir({})
  const ev = generateEvents('111111111111', 'us-east-1', D('2026-11-28T00:00:00Z'), D('2026-11-28T01:00:00Z'), 100, 8)
  writeFileSync(join(dir, 'a.json.gz'), gzipSync(JSON.stringify({ Records: ev })))
  writeFileSync(join(dir, 'b.jsonl'), 'not json\n')
  const o = sink()
  const e = sink()
  t.equal(await main(['slice', '--from-dir', dir, '--start', '2026-11-28T00:00:00Z', '--end', '2026-11-28T01:00:00Z', '--event-name', 'PutObject', '--write-only', '--error', 'none'], process.env, o.stream, e.stream), 0)
  const lines = o.text().trim().split('\n').map((l) => JSON.parse(l) as { eventName: string; errorCode?: string })
  t.equal(lines.length, ev.filter((x) => x.eventName === 'PutObject' && !x.errorCode).length)
  t.match(e.text(), /warning: .*b\.jsonl/)
  const j = sink()
  t.equal(await main(['slice', '--from-dir', dir, '--start', '2026-11-28T00:00:00Z', '--end', '2026-11-28T01:00:00Z', '--error', 'AccessDenied,NoSuchKey', '--read-only', '--json'], process.env, j.stream, sink().stream), 0)
  const doc = JSON.parse(j.text()) as { slice: { counts: { events: number } }; events: unknown[] }
  t.equal(doc.events.length, doc.slice.counts.events)
  t.equal(await main(['slice', '--start', 'a', '--end', 'b'], process.env, sink().stream, sink().stream), 2)
  t.equal(await main(['slice', '--from-dir', dir, '--start', '2026-11-28T00:00:00Z', '--end', '2026-11-28T01:00:00Z', '--key', 'a', '--key-prefix', 'b'], process.env, sink().stream, sink().stream), 2)
  t.equal(await main(['slice', '--from-dir', dir, '--start', '2026-11-28T00:00:00Z', '--end', '2026-11-28T01:00:00Z', '--read-only', '--write-only'], process.env, sink().stream, sink().stream), 2)
  t.equal(await main(['slice', '--from-dir', dir, '--end', '2026-11-28T01:00:00Z'], process.env, sink().stream, sink().stream), 2)
})

t.test('finding 5: slice prints each record as its delivered bytes, in text and --json; --user and bucket ARNs from the CLI', async (t) => {
  const dir = t.testdir({})
  const rec = '{"eventTime":"2026-11-28T00:30:00Z","eventID":"x1","userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::111111111111:user/benjamin","userName":"benjamin"},"requestParameters":{"bucketName":"b1"},"v":1.688560107857E9,"big":9007199254740993,"s":"\\u00e9"}'
  const other = '{"eventTime":"2026-11-28T00:40:00Z","eventID":"x2","userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::111111111111:user/eve","userName":"eve"},"requestParameters":{"bucketName":"b2"}}'
  writeFileSync(join(dir, 'a.json.gz'), gzipSync(`{"Records":[${rec},${other}]}`))
  const base = ['--from-dir', dir, '--start', '2026-11-28T00:00:00Z', '--end', '2026-11-28T01:00:00Z']
  let out = sink()
  t.equal(await main(['slice', ...base, '--user', 'benjamin'], {}, out.stream, sink().stream), 0)
  t.equal(out.text(), rec + '\n')
  out = sink()
  t.equal(await main(['slice', ...base, '--bucket', 'arn:aws:s3:::b1', '--json'], {}, out.stream, sink().stream), 0)
  t.match(out.text(), `\n    ${rec}\n`, 'the --json document embeds the record bytes')
  const doc = JSON.parse(out.text()) as { ok: boolean; slice: { counts: { events: number } }; events: Array<{ eventID: string }> }
  t.equal(doc.slice.counts.events, 1)
  t.same(doc.events.map((e) => e.eventID), ['x1'])
  out = sink()
  t.equal(await main(['slice', ...base, '--event-name', 'None', '--json'], {}, out.stream, sink().stream), 0)
  t.same((JSON.parse(out.text()) as { events: unknown[] }).events, [], 'an empty slice is still one JSON document')
  const err = sink()
  t.equal(await main(['slice', ...base, '--start', '2023-02-30T00:00:00Z'], {}, sink().stream, err.stream), 2)
  t.match(err.text(), /2023-02 has no day 30/)
})
